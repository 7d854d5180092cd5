from django.urls import include, path

from . import views

urlpatterns = [
    path("api/devices", views.Devices.as_view()),
    path("api/policies", views.Policies.as_view()),
    path("api/fleet", views.Fleet.as_view()),
    path("api/both", views.Both.as_view()),
    path("api/any", views.AnyToken.as_view()),
    path("api/staff", views.StaffOnly.as_view()),
    path("api/logged-in", views.LoggedIn.as_view()),
    path("plain/devices", views.plain_devices),
    path("plain/any/<int:item>", views.plain_any),
    path("plain/fleet", views.plain_fleet),
    path("plain/async", views.plain_async),
    path("profile/", include("tokenkeep.django.urls")),  # the Profile and Access Token tabs
    path("oauth/", include("tokenkeep.django.oauth_urls")),  # RFC 7662 / RFC 7009
]

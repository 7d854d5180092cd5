"""``path("profile/", include("tokenkeep.django.urls"))``: the Profile and Access Token tabs.

Under that prefix: ``""`` the Profile tab (``tokenkeep:profile``), ``access-tokens`` the
Access Token tab (``tokenkeep:access_tokens``; POST creates; ``access-tokens/`` redirects
to it), ``access-tokens/<id>/scopes``,
``…/revoke`` and ``…/rotate`` (POST), and ``static/<file>`` the page's CSS, script and icon.
Every page needs a signed-in user (``login_required``: ``settings.LOGIN_URL``) and Django's
CSRF middleware (or at least ``csrf_protect``, which the views carry). See
:mod:`tokenkeep.django.page`.
"""

from django.urls import path
from django.views.generic import RedirectView

from . import page

app_name = "tokenkeep"

urlpatterns = [
    path("", page.profile, name="profile"),
    path("access-tokens", page.access_tokens, name="access_tokens"),
    # Django's usual trailing slash: to the tab, with its query (a GET; forms post without it)
    path(
        "access-tokens/",
        RedirectView.as_view(pattern_name="tokenkeep:access_tokens", query_string=True),
    ),
    path("access-tokens/revoke-all", page.revoke_all_tokens, name="revoke_all"),
    path("access-tokens/<str:token_id>/<str:action>", page.token_action, name="token_action"),
    path("static/<str:name>", page.static, name="static"),
]

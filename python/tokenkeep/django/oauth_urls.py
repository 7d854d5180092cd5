"""``path("oauth/", include("tokenkeep.django.oauth_urls"))``: RFC 7662 and RFC 7009.

Under that prefix: ``introspect`` (``tokenkeep_oauth:introspect``) and ``revoke``
(``tokenkeep_oauth:revoke``), POST only, for services that authenticate with a service token
(``get_store().create_service_token(name)`` or ``manage.py tokenkeep service create NAME``).
See :mod:`tokenkeep.web.oauth` for the answers.
"""

from django.urls import path

from . import oauth

app_name = "tokenkeep_oauth"

urlpatterns = [
    path("introspect", oauth.introspect, name="introspect"),
    path("revoke", oauth.revoke, name="revoke"),
]

"""The Django site of benchmarks/django_bench.py: one small DRF view behind each scheme.

Every view runs the same handler (``{"owner": ..., "devices": []}``) and differs only in its
authentication and permission classes:

- ``/tokenkeep``  tokenkeep.django.TokenAuthentication + HasScopes("device:read");
- ``/tokenkeep-tokenuser``  the same with ``owner_to_user = TokenUser`` (no user query);
- ``/drf``        DRF's TokenAuthentication (``rest_framework.authtoken``) + IsAuthenticated;
- ``/knox``       django-rest-knox's TokenAuthentication + IsAuthenticated;
- ``/apikey``     djangorestframework-api-key's HasAPIKey (a key, no user);
- ``/none``       no authentication at all: the floor of a DRF request on this machine.

Configured from the environment on import (so gunicorn can load it): TOKENKEEP_BENCH_DIR
holds ``site.db`` (Django's SQLite database) and ``tokens.db`` (tokenkeep's).
"""

from __future__ import annotations

import logging
import os

import django
from django.conf import settings

BENCH_DIR = os.environ["TOKENKEEP_BENCH_DIR"]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only-not-a-secret",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        ROOT_URLCONF=__name__,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "rest_framework.authtoken",
            "knox",
            "rest_framework_api_key",
            "tokenkeep.django",
        ],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.path.join(BENCH_DIR, "site.db"),
            }
        },
        TOKENKEEP={"DB": os.path.join(BENCH_DIR, "tokens.db")},
        REST_FRAMEWORK={
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
            "EXCEPTION_HANDLER": "tokenkeep.django.exception_handler",
            "UNAUTHENTICATED_USER": None,
        },
        LOGGING_CONFIG=None,
    )
    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the refusals the bench checks

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from knox.auth import TokenAuthentication as KnoxAuthentication  # noqa: E402
from rest_framework.authentication import TokenAuthentication as DrfAuthentication  # noqa: E402
from rest_framework.permissions import AllowAny, IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_api_key.permissions import HasAPIKey  # noqa: E402
from tokenkeep.django import HasScopes, TokenAuthentication, TokenUser  # noqa: E402
from tokenkeep.django.identity import user_for_owner  # noqa: E402


class Devices(APIView):
    def get(self, request):
        user = request.user
        return Response({"owner": user.get_username() if user is not None else None, "devices": []})


class TokenkeepDevices(Devices):
    authentication_classes = [TokenAuthentication]
    permission_classes = [HasScopes("device:read")]


class TokenUserAuthentication(TokenAuthentication):
    owner_to_user = TokenUser


class TokenkeepTokenUserDevices(Devices):
    authentication_classes = [TokenUserAuthentication]
    permission_classes = [HasScopes("device:read")]


class UserQueryAuthentication(TokenAuthentication):
    """The default mapping called through owner_to_user, which is never cached: one user
    query per request, as every request made before the user cache (issue 23)."""

    owner_to_user = staticmethod(user_for_owner)


class TokenkeepUserQueryDevices(Devices):
    authentication_classes = [UserQueryAuthentication]
    permission_classes = [HasScopes("device:read")]


class DrfDevices(Devices):
    authentication_classes = [DrfAuthentication]
    permission_classes = [IsAuthenticated]


class KnoxDevices(Devices):
    authentication_classes = [KnoxAuthentication]
    permission_classes = [IsAuthenticated]


class ApiKeyDevices(Devices):
    authentication_classes = []
    permission_classes = [HasAPIKey]


class OpenDevices(Devices):
    authentication_classes = []
    permission_classes = [AllowAny]


VIEWS = {
    "tokenkeep": TokenkeepDevices,
    "tokenkeep-tokenuser": TokenkeepTokenUserDevices,
    "tokenkeep-query": TokenkeepUserQueryDevices,
    "drf": DrfDevices,
    "knox": KnoxDevices,
    "apikey": ApiKeyDevices,
    "none": OpenDevices,
}
urlpatterns = [path(name, view.as_view()) for name, view in VIEWS.items()]
application = get_wsgi_application()


def make_credentials() -> dict:
    """Migrate, create the user "alice" and one credential per scheme; returns
    ``{scheme: Authorization header value}`` (secrets: keep them out of argv and logs)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from knox.models import AuthToken
    from rest_framework.authtoken.models import Token
    from rest_framework_api_key.models import APIKey
    from tokenkeep.django import get_store

    call_command("migrate", verbosity=0, interactive=False)
    alice = get_user_model().objects.create_user("alice")
    _, knox_token = AuthToken.objects.create(user=alice)
    _, api_key = APIKey.objects.create_key(name="alice")
    tokenkeep = (
        "Bearer " + get_store().create(owner="alice", name="bench", scopes={"device:read"}).secret
    )
    return {
        "tokenkeep": tokenkeep,
        "tokenkeep-tokenuser": tokenkeep,
        "tokenkeep-query": tokenkeep,
        "drf": "Token " + Token.objects.create(user=alice).key,
        "knox": "Token " + knox_token,
        "apikey": "Api-Key " + api_key,
        "none": "",
    }

"""A minimal Django site configured as a tokenkeep user would (issue 12).

The tests (tests/python/django_tests/conftest.py) configure Django from this module and give each
test its own token database; ``manage.py`` reads the database from TOKENKEEP_TEST_DB.
"""

import os

SECRET_KEY = "django-test-site-only"  # not a secret: this site never runs outside the tests
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "testsite.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "tokenkeep.django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TOKENKEEP_TEST_SITE_DB", ":memory:"),
    }
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
LOGIN_URL = "/accounts/login/"
STATIC_URL = "/static/"  # the live server of the browser test wants one; the tab serves its own
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test logins

TOKENKEEP = {"DB": os.environ.get("TOKENKEEP_TEST_DB", ":memory:")}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tokenkeep.django.TokenAuthentication"],
    "EXCEPTION_HANDLER": "tokenkeep.django.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

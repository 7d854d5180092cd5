"""WSGI entry of the test site, for gunicorn. It opens the token store at import, as a site
may: under ``gunicorn --preload`` that happens in the master, before the workers fork."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testsite.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

from tokenkeep.django import get_store  # noqa: E402

get_store()

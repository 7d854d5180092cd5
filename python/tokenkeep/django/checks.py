"""System checks (``manage.py check``, and before runserver and migrate):

- ``tokenkeep.E001``: ``settings.TOKENKEEP`` is missing or wrong (the message says why);
- ``tokenkeep.W001``: DRF is installed but its ``EXCEPTION_HANDLER`` is not tokenkeep's, so
  refused requests lack ``Cache-Control: no-store`` (silence it if your handler adds it).
"""

from __future__ import annotations

from typing import Any, List

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import tokenkeep_settings

HANDLER = "tokenkeep.django.exception_handler"


@checks.register("tokenkeep")
def check_settings(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    try:
        tokenkeep_settings()
    except ImproperlyConfigured as e:
        return [checks.Error(str(e), id="tokenkeep.E001")]
    return []


@checks.register("tokenkeep")
def check_exception_handler(app_configs: Any = None, **_: Any) -> List[checks.CheckMessage]:
    if not apps.is_installed("rest_framework"):
        return []
    handler = getattr(settings, "REST_FRAMEWORK", {}).get("EXCEPTION_HANDLER")
    if handler in (HANDLER, "tokenkeep.django.exceptions.exception_handler"):
        return []
    return [
        checks.Warning(
            "DRF's EXCEPTION_HANDLER is not tokenkeep's: refused requests will lack "
            "Cache-Control: no-store",
            hint=f'REST_FRAMEWORK["EXCEPTION_HANDLER"] = "{HANDLER}" (or call it from yours)',
            id="tokenkeep.W001",
        )
    ]

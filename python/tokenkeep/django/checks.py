"""System checks (``manage.py check``, and before runserver and migrate):

- ``tokenkeep.E001``: ``settings.TOKENKEEP`` is missing or wrong (the message says why);
- ``tokenkeep.E002``: a HasScopes or require_token names a scope the store's vocabulary
  does not know (a typo would otherwise be a 500 on every request); this opens the store;
- ``tokenkeep.W002``: a HasScopes or require_token that names scopes but lets an unsafe
  method (POST, PUT, PATCH, DELETE) through with any valid token (an empty entry such as
  ``DELETE=()``); silence it where that is meant;
- ``tokenkeep.W001``: DRF is installed but its ``EXCEPTION_HANDLER`` is not tokenkeep's, so
  refused requests lack ``Cache-Control: no-store`` (silence it if your handler adds it).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from ..errors import StoreError, UnknownScope
from .conf import tokenkeep_settings
from .scopes import rules_in_use

HANDLER = "tokenkeep.django.exception_handler"


@checks.register("tokenkeep")
def check_settings(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    try:
        tokenkeep_settings()
    except ImproperlyConfigured as e:
        return [checks.Error(str(e), id="tokenkeep.E001")]
    return []


@checks.register("tokenkeep")
def check_scope_names(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    rules = [r for r in rules_in_use() if r.all_scopes()]
    if not rules:
        return []
    from .store import get_store

    try:
        store = get_store()
    except (ImproperlyConfigured, StoreError):
        return []  # E001 reports the settings; a store that cannot open answers 503 at run time
    out = []
    for rule in sorted(rules, key=lambda r: r.where):
        try:
            store.check(
                "", *rule.all_scopes()
            )  # raises UnknownScope for a name not in the vocabulary
        except UnknownScope as e:
            out.append(checks.Error(f"{rule.where}: {e}", id="tokenkeep.E002"))
    return out


@checks.register("tokenkeep")
def check_exception_handler(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
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


@checks.register("tokenkeep")
def check_unguarded_methods(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    out = []
    for rule in sorted(rules_in_use(), key=lambda r: r.where):
        methods = rule.unguarded_unsafe_methods()
        if methods:
            out.append(
                checks.Warning(
                    f"{rule.where}: {', '.join(methods)} pass with any valid token",
                    hint="name the scope these methods need, or leave them out to refuse them",
                    id="tokenkeep.W002",
                )
            )
    return out

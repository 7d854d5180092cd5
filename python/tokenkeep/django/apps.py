"""The Django app: ``INSTALLED_APPS += ["tokenkeep.django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class TokenkeepConfig(AppConfig):
    name = "tokenkeep.django"
    label = "tokenkeep"
    verbose_name = "tokenkeep access tokens"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

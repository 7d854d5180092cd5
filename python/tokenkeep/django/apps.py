"""The Django app: ``INSTALLED_APPS += ["tokenkeep.django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class TokenkeepConfig(AppConfig):
    name = "tokenkeep.django"
    label = "tokenkeep"
    verbose_name = "tokenkeep access tokens"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete

        from . import checks  # noqa: F401  (registers the system checks)
        from .lifecycle import revoke_tokens_of_deleted_user

        post_delete.connect(
            revoke_tokens_of_deleted_user,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="tokenkeep.revoke_tokens_of_deleted_user",
        )

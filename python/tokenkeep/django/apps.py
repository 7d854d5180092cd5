"""The Django app: ``INSTALLED_APPS += ["tokenkeep.django"]``."""

from __future__ import annotations

from django.apps import AppConfig


class TokenkeepConfig(AppConfig):
    name = "tokenkeep.django"
    label = "tokenkeep"
    verbose_name = "tokenkeep access tokens"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save, pre_save

        from . import checks  # noqa: F401  (registers the system checks)
        from .lifecycle import (
            announce_saved_user,
            note_username_before_save,
            revoke_tokens_of_deleted_user,
        )

        for signal, receiver in (
            (post_delete, revoke_tokens_of_deleted_user),
            (pre_save, note_username_before_save),
            (post_save, announce_saved_user),
        ):
            signal.connect(
                receiver,
                sender=settings.AUTH_USER_MODEL,
                dispatch_uid=f"tokenkeep.{receiver.__name__}",
            )

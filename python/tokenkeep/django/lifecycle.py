"""A user's tokens follow the user, in every process.

- Deleting a Django user revokes every live token whose owner is that user's name (one
  ``revoke_many``, audited with the user's primary key as the actor's detail), so that a later
  account of the same name cannot inherit them. ``post_delete`` is sent inside the deletion's
  transaction: if the store cannot revoke, the exception undoes the deletion (a user is never
  gone while their tokens still work).
- Saving a user (deactivated, renamed, or any other change but a ``last_login``-only save)
  announces the user's tokens under their old and new username
  (:meth:`~tokenkeep.TokenStore.owner_changed`) on ``post_save``, and again once the save's
  transaction commits: every process's next verification of those tokens reloads them, which
  is what empties :mod:`~tokenkeep.django.user_cache` of that user everywhere. If the store
  cannot announce, the exception reaches the code that saved (and undoes the save inside a
  transaction).
- :func:`user_changed` announces the same for a change Django sent no signal for.

Connected in ``TokenkeepConfig.ready`` to ``AUTH_USER_MODEL``'s signals; only with the default
owner mapping (``TOKENKEEP["USER"]`` unset), where an owner is a username.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .conf import tokenkeep_settings
from .store import get_store

__all__ = [
    "announce_saved_user",
    "note_username_before_save",
    "revoke_tokens_of_deleted_user",
    "user_changed",
]

_BEFORE = "_tokenkeep_username_before_save"


def revoke_tokens_of_deleted_user(sender: Any, instance: Any, **_: Any) -> None:
    """``post_delete`` receiver: revokes the deleted user's live tokens (see module)."""
    if tokenkeep_settings().user is not None:
        return  # owners are not usernames: the site's mapping decides what a deletion means
    owner = instance.get_username()
    if not owner:
        return
    store = get_store()
    ids = [info.id for info in store.list(owner, state="live")]  # expired ones too
    if ids:
        store.revoke_many(owner, ids, actor=f"django: user deleted (pk {instance.pk})")


def _announces(instance: Any, update_fields: Any) -> bool:
    if tokenkeep_settings().user is not None or instance.pk is None:
        return False  # not usernames; or a new account: nothing of it is cached anywhere
    return not (update_fields is not None and set(update_fields) <= {"last_login"})


def note_username_before_save(
    sender: Any, instance: Any, using: str | None = None, update_fields: Any = None, **_: Any
) -> None:
    """``pre_save`` receiver: remembers the username in the database (a rename's old name)."""
    if not _announces(instance, update_fields):
        return
    field = sender.USERNAME_FIELD
    old = sender._default_manager.using(using).filter(pk=instance.pk).values_list(field, flat=True)
    setattr(instance, _BEFORE, next(iter(old), None))


def user_changed(user_or_username: Any) -> int:
    """Announce that a user changed (see module), for a change Django sent no signal for:
    ``User.objects.filter(...).update(is_active=False)``, raw SQL, another program. Takes a
    user or a username; for a rename, call it with the old username. Returns how many tokens
    were announced.

    >>> User.objects.filter(username="bob").update(is_active=False)  # doctest: +SKIP
    >>> user_changed("bob")  # doctest: +SKIP
    2
    """
    owner = user_or_username
    if not isinstance(owner, str):
        owner = owner.get_username()
    return get_store().owner_changed(owner) if owner else 0


def announce_saved_user(
    sender: Any,
    instance: Any,
    created: bool = False,
    update_fields: Any = None,
    using: str | None = None,
    **_: Any,
) -> None:
    """``post_save`` receiver: announces the user's tokens now and after the commit."""
    if created or not _announces(instance, update_fields):
        return
    owners = {instance.get_username(), getattr(instance, _BEFORE, None)} - {None, ""}
    instance.__dict__.pop(_BEFORE, None)

    def announce() -> None:
        for owner in sorted(owners):
            user_changed(owner)

    announce()  # a save that cannot be announced fails (and rolls back inside a transaction)
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(announce, using=using)  # a reload in between read the old row

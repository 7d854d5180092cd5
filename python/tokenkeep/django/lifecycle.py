"""A user's tokens end with the user: deleting a Django user revokes every live token whose
owner is that user's name (one ``revoke_many``, audited with the user's primary key as the
actor's detail), so that a later account of the same name cannot inherit them.

Connected in ``TokenkeepConfig.ready`` to ``post_delete`` of ``AUTH_USER_MODEL``, which Django
sends inside the deletion's transaction: if the store cannot revoke, the exception undoes the
deletion (a user is never gone while their tokens still work). Only with the default owner
mapping (``TOKENKEEP["USER"]`` unset), where an owner is a username.
"""

from __future__ import annotations

from typing import Any

from .conf import tokenkeep_settings
from .store import get_store

__all__ = ["revoke_tokens_of_deleted_user"]


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

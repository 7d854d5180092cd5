"""``TokenUser``: a user that is only the token's owner, for sites whose users live elsewhere.

>>> TOKENKEEP = {"DB": BASE_DIR / "tokens.db", "USER": "tokenkeep.django.TokenUser"}

``request.user`` is then ``TokenUser(owner)``: authenticated, active, not staff, with no
permissions and no database row, so a request costs no user query. The token store is
then the only authority: a token is refused when it is revoked or expired, not because an
account was disabled elsewhere. (The default mapping, the Django user whose username is
the owner, refuses owners without an active user.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["TokenUser"]


class TokenUser:
    """The owner of a verified token, as a read-only stand-in for a Django user."""

    is_active = True
    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    __slots__ = ("username",)

    def __init__(self, owner: str) -> None:
        self.username = owner

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        return False

    def has_module_perms(self, module: str) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.username == self.username

    def __hash__(self) -> int:
        return hash(("TokenUser", self.username))

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"TokenUser({self.username!r})"

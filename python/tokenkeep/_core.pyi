"""Type stubs for tokenkeep._core, the native engine (private: use the tokenkeep package).

Records cross as tuples in TokenInfo's field order, built as tokenkeep.TokenInfo and
tokenkeep.IssuedToken once record_types() registered them (tokenkeep.store does, on import):
(id, owner, name, scopes, created_at, expires_at, last_used_at, revoked_at,
description, networks) with aware UTC datetimes.
So these stubs name the record types themselves.
"""

import builtins
import ipaddress
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from tokenkeep.errors import TokenkeepError
from tokenkeep.models import IssuedToken, TokenInfo

SCHEMA_VERSION: int
TOKEN_BODY_LENGTH: int
# Every engine ErrorCode's name (errors.h error_code_name); tokenkeep.errors.BY_CODE has one
# class for each.
ERROR_CODES: tuple[str, ...]

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RecordTuple = TokenInfo  # built natively as TokenInfo (record_types)
AuditTuple = tuple[
    int, datetime, str, str, str | None, str, str, frozenset[str], frozenset[str], str
]

class ExpiryKind:
    """How a create or rotate chooses the expiry (engine.h, Expiry::Kind)."""

    DEFAULT: ClassVar[ExpiryKind]
    IN: ClassVar[ExpiryKind]
    AT: ClassVar[ExpiryKind]
    NEVER: ClassVar[ExpiryKind]
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class Clock:
    def now_us(self) -> int: ...

class ManualClock(Clock):
    def __init__(self, now_us: int) -> None: ...
    def set_us(self, now_us: int) -> None: ...
    def advance_us(self, delta_us: int) -> None: ...

class Verified:
    """A verified token's snapshot in the engine's cache (opaque)."""

    def info(self) -> RecordTuple: ...

class Verifier:
    """The verification fast path of one TokenStore."""

    def verify(
        self, token: str | bytes, *scopes: str, client: str | _IPAddress | None = None
    ) -> TokenInfo: ...
    def check(
        self, token: str | bytes, *scopes: str, client: str | _IPAddress | None = None
    ) -> bool: ...
    def close(self) -> None: ...
    def info_count(self) -> int: ...

def verifier_new(engine: Engine, max_infos: int) -> Verifier: ...
def record_types(token_info: type, issued: type) -> None: ...
def store_location_kind(spec: str) -> str: ...
def token_id_valid(token_id: str) -> bool: ...

class Engine:
    def __init__(
        self,
        path: str,
        *,
        prefix: str | None = None,
        vocabulary: Sequence[tuple[str, Sequence[str]]] | None = None,
        default_lifetime_us: int,
        max_lifetime_us: int,
        allow_never_expire: bool,
        busy_timeout_ms: int,
        read_only: bool,
        pepper_hex: str | None = None,
        previous_peppers_hex: Sequence[str] = ...,
        clock: Clock | None = None,
        cache_capacity: int = 100000,
        create_dirs: bool = False,
        strict: bool = True,
        lease_seconds: float = 2.0,
        relay: bool = True,
        runtime_dir: str | None = None,
        pool_size: int = 4,
        pool_idle_seconds: float = 5.0,
        listen_conninfo: str = "",
        prepared_statements: bool = True,
        warm_start: bool = True,
    ) -> None: ...
    @property
    def prefix(self) -> str: ...
    @property
    def vocabulary(self) -> builtins.list[tuple[str, builtins.list[str]]]: ...
    def now_us(self) -> int: ...
    def create_many(
        self,
        owner: str,
        items: Sequence[Sequence[object]],
        expiry_kind: ExpiryKind,
        expiry_us: int,
        actor: str,
    ) -> builtins.list[IssuedToken]: ...
    def get(self, owner: str, token_id: str) -> RecordTuple: ...
    def create_problems(
        self,
        owner: str,
        name: str,
        scopes: list[str],
        expiry_kind: ExpiryKind,
        expiry_us: int,
        description: str = "",
        networks: Sequence[str] = ...,
    ) -> list[TokenkeepError]: ...
    def query(
        self,
        owner: str | None,
        state: str,
        search: str,
        scopes: builtins.list[str],
        sort: str,
        descending: bool,
        limit: int | None,
        offset: int,
    ) -> tuple[builtins.list[RecordTuple], int]: ...
    def update_scopes(
        self, owner: str, token_id: str, scopes: Sequence[str], actor: str
    ) -> RecordTuple: ...
    def update_description(
        self, owner: str, token_id: str, description: str, actor: str
    ) -> RecordTuple: ...
    def update_networks(
        self, owner: str, token_id: str, networks: Sequence[str], actor: str
    ) -> RecordTuple: ...
    def recent_clients(self, owner: str, token_id: str) -> builtins.list[tuple[str, datetime]]: ...
    def recent_clients_many(
        self, owner: str, token_ids: builtins.list[str]
    ) -> dict[str, builtins.list[tuple[str, datetime]]]: ...
    def revoke(self, owner: str, token_id: str, actor: str) -> None: ...
    def revoke_many(self, owner: str, token_ids: Sequence[str], actor: str) -> None: ...
    def owner_changed(self, owner: str) -> int: ...
    def rotate(
        self,
        owner: str,
        token_id: str,
        actor: str,
        expiry_kind: ExpiryKind | None = None,
        expiry_us: int = 0,
    ) -> IssuedToken: ...
    def required_mask(self, scopes: Sequence[str]) -> int: ...
    def verify(self, token: str | bytes, required_mask: int) -> Verified: ...
    def check(self, token: str | bytes, required_mask: int) -> bool: ...
    def uses_flush(self) -> None: ...
    def cache_size(self) -> int: ...
    def warm_wait(self, timeout: float) -> tuple[bool, int, int]: ...
    def expiring_within(self, within_us: int, owner: str | None) -> builtins.list[RecordTuple]: ...
    def purge(self, older_than_us: int, actor: str) -> int: ...
    def purge_count(self, older_than_us: int) -> int: ...
    def subkey(self, context: str) -> bytes: ...
    def audit(self, owner: str | None, limit: int) -> builtins.list[AuditTuple]: ...
    # Leak response and scope usage (bindings/extras.cc).
    def revoke_leaked(
        self,
        text: bytes,
        actor: str,
        source: str,
        dry_run: bool,
        max_bytes: int,
        max_tokens: int,
        first_line: int = 1,
        first_offset: int = 0,
    ) -> list[tuple[str, str, int, int, RecordTuple | None]]: ...
    def leaked_notices(self, owner: str, since_us: int, limit: int) -> list[AuditTuple]: ...
    def scope_usage(
        self, owner: str, token_ids: Sequence[str], within_us: int
    ) -> builtins.list[tuple[RecordTuple, frozenset[str], frozenset[str], dict[str, datetime]]]: ...

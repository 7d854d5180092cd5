"""Shared fixtures: a fresh store on a temporary database, and a controllable clock."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

import tokenkeep

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _no_ambient_pepper(monkeypatch):
    """Tests choose their pepper explicitly; an exported TOKENKEEP_PEPPER must not leak in."""
    monkeypatch.delenv("TOKENKEEP_PEPPER", raising=False)
    monkeypatch.delenv("TOKENKEEP_PEPPER_PREVIOUS", raising=False)


@pytest.fixture
def db_path(tmp_path) -> str:
    return os.path.join(tmp_path, "tokens.db")


@pytest.fixture
def clock() -> tokenkeep.ManualClock:
    return tokenkeep.ManualClock(T0)


@pytest.fixture
def store(db_path, clock):
    with tokenkeep.TokenStore(db_path, clock=clock) as s:
        yield s

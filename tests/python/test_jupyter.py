"""Jupyter rendering: tokens, token lists and audit events as escaped HTML tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tokenkeep import AuditEvent, ManualClock, TokenInfo, TokenStore
from tokenkeep.jupyter import audit_html, relative_time, token_html, tokens_html

EVIL = "<script>alert('x')</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


@pytest.fixture
def store():
    with TokenStore(":memory:") as s:
        yield s


def test_a_token_named_script_renders_as_text_everywhere(store):
    issued = store.create('<b>"owner"</b> & co', EVIL, {"device"})
    owner = issued.info.owner
    store.update_scopes(owner, issued.info.id, {"policy"})
    pages = [
        issued.info._repr_html_(),
        store.list(owner)._repr_html_(),
        store.expiring_within(timedelta(days=60), owner)._repr_html_(),
        store.audit(owner)._repr_html_(),
        store.audit(owner)[0]._repr_html_(),
    ]
    for html in pages:
        assert "<script>" not in html and "<b>" not in html
        assert EVIL_ESCAPED in html
        assert "&lt;b&gt;&quot;owner&quot;&lt;/b&gt; &amp; co" in html


def test_lists_stay_lists_and_render_one_row_per_item(store):
    for n in ("a", "b", "c"):
        store.create("alice", n, {"device"})
    tokens = store.list("alice")
    assert isinstance(tokens, list) and tokens == list(tokens)
    assert all(isinstance(t, TokenInfo) for t in tokens)
    html = tokens._repr_html_()
    assert html.count("<tr>") == 4  # header + 3
    for header in ("Name", "ID", "Owner", "Scopes", "Created", "Expires", "Last used"):
        assert f"<th>{header}</th>" in html
    assert "3 tokens" in html and "in 30 days" in html
    events = store.audit("alice")
    assert isinstance(events, list) and all(isinstance(e, AuditEvent) for e in events)
    assert events._repr_html_().count("<tr>") == 4
    assert store.list("nobody")._repr_html_() == "<p><em>No tokens.</em></p>"
    assert "No audit events" in store.audit("nobody")._repr_html_()


def test_expired_tokens_are_marked_and_unused_ones_say_never():
    clock = ManualClock(datetime.now(UTC) - timedelta(days=3))
    with TokenStore(":memory:", clock=clock) as s:
        issued = s.create("alice", "old", {"device"}, expires_in=timedelta(days=1))
    html = token_html(issued.info)
    assert 'class="tk-expired"' in html and "2 days ago" in html
    assert "<td>Last used</td><td>never</td>" in html
    assert 'class="tk-expired"' in tokens_html([issued.info])


def test_ipython_picks_the_html_representation(store):
    from IPython.core import formatters  # ipykernel (the [jupyter] extra) brings IPython

    store.create("alice", EVIL, {"device"})
    data, _ = formatters.DisplayFormatter().format(store.list("alice"))
    assert "text/html" in data and EVIL_ESCAPED in data["text/html"]
    assert data["text/plain"].startswith("[TokenInfo(")


def test_relative_time_reads_like_a_person_would_say_it():
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert (
        relative_time(now + timedelta(days=29, hours=23), now) == "in 30 days"
    )  # rounded, not floored
    assert relative_time(now + timedelta(days=29, hours=11), now) == "in 29 days"
    assert relative_time(now - timedelta(days=29, hours=23), now) == "29 days ago"
    assert relative_time(now + timedelta(days=1), now) == "in 1 day"
    assert relative_time(now - timedelta(hours=3, minutes=5), now) == "3 hours ago"
    assert relative_time(now - timedelta(minutes=1), now) == "1 minute ago"
    assert relative_time(now - timedelta(seconds=5), now) == "just now"
    assert relative_time(now + timedelta(seconds=5), now) == "in under a minute"
    assert relative_time(None, now) == "never"
    assert audit_html([]) == "<p><em>No audit events.</em></p>"


def test_to_dataframe_of_tokens_has_dates_expiry_and_every_owner(store):
    import pandas as pd
    from tokenkeep.jupyter import TOKEN_COLUMNS, to_dataframe

    soon = store.create("alice", "soon", {"device:read"}, expires_in=timedelta(days=2))
    store.create("bob", "later", {"policy", "device"}, expires_in=timedelta(days=60))
    df = store.list(all_owners=True).to_dataframe()
    assert list(df.columns) == [*TOKEN_COLUMNS, "expires_in", "expired"]
    assert sorted(df["owner"]) == ["alice", "bob"]
    row = df.set_index("name").loc["soon"]
    assert row["id"] == soon.info.id and row["scopes"] == ("device:read",)
    assert row["expires_at"] == pd.Timestamp(soon.info.expires_at) and pd.isna(row["last_used_at"])
    assert pd.Timedelta(days=1) < row["expires_in"] <= pd.Timedelta(days=2) and not row["expired"]
    assert str(df["created_at"].dt.tz) == "UTC"
    assert df.set_index("name").loc["later", "scopes"] == ("device", "policy")
    # a plain list works too, and an empty one has the columns
    assert len(to_dataframe([soon.info])) == 1
    assert list(to_dataframe([]).columns)[: len(TOKEN_COLUMNS)] == list(TOKEN_COLUMNS)


def test_revoked_tokens_show_when_in_the_tables_and_the_dataframe(store):
    import pandas as pd
    from tokenkeep.jupyter import to_dataframe

    gone = store.create("alice", "gone", {"device"})
    kept = store.create("alice", "kept", {"device"})
    assert "Revoked" not in tokens_html(store.list("alice"))
    store.revoke("alice", gone.info.id)
    tokens = store.list("alice", state="all")
    revoked = next(t for t in tokens if t.id == gone.info.id)
    assert revoked.revoked_at is not None
    table = tokens_html(tokens)
    assert "<th>Revoked</th>" in table and revoked.revoked_at.isoformat() in table
    assert revoked.revoked_at.isoformat() in token_html(revoked)
    assert "Revoked" not in token_html(kept.info)
    df = to_dataframe(tokens).set_index("name")
    assert df.loc["gone", "revoked_at"] == pd.Timestamp(revoked.revoked_at)
    assert pd.isna(df.loc["kept", "revoked_at"]) and str(df["revoked_at"].dt.tz) == "UTC"


def test_to_dataframe_of_audit_events(store):
    from tokenkeep.jupyter import EVENT_COLUMNS

    t = store.create("alice", "ci", {"device"})
    store.update_scopes("alice", t.info.id, {"device:read"})
    df = store.audit("alice").to_dataframe()
    assert list(df.columns) == list(EVENT_COLUMNS)
    assert list(df["action"]) == ["update_scopes", "create"]  # newest first
    change = df.iloc[0]
    assert change["old_scopes"] == ("device",) and change["new_scopes"] == ("device:read",)
    assert str(df["at"].dt.tz) == "UTC"
    # no secret in any cell
    assert not df.astype(str).apply(lambda col: col.str.contains(t.secret)).any().any()


def test_networks_and_recent_clients_render_as_tables(store):
    bound = store.create("alice", "bound", {"device"}, networks={"2001:db8::/32", "10.0.0.0/8"})
    free = store.create("alice", "free", {"device"})
    html = bound.info._repr_html_()
    assert "<td>Networks</td><td>10.0.0.0/8, 2001:db8::/32</td>" in html
    assert "<td>Networks</td><td>any</td>" in free.info._repr_html_()
    listing = store.list("alice")._repr_html_()
    assert "<th>Networks</th>" in listing and "10.0.0.0/8, 2001:db8::/32" in listing
    assert "<th>Networks</th>" not in store.list("alice", search="free")._repr_html_()
    store.verify(bound.secret, client="10.1.2.3")
    store.verify(bound.secret, client="2001:db8::7")
    clients = store.recent_clients("alice", bound.info.id)
    assert isinstance(clients, list) and {c.address for c in clients} == {"10.1.2.3", "2001:db8::7"}
    table = clients._repr_html_()
    assert table.count("<tr>") == 3 and "<code>10.1.2.3</code>" in table and "just now" in table
    assert "No recorded client" in store.recent_clients("alice", free.info.id)._repr_html_()

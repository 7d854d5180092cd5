"""The Access Token page at size, over HTTP (no browser): 10,000 tokens of one user paged by
50 with a count, search, the scope filter, the inactive view, sorting, one dialog of each kind,
gzip, regenerate, and rendering off the event loop."""

import gzip
import html
import re
import threading
import warnings
from datetime import UTC, datetime, timedelta

import pytest
import tokenkeep

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tokenkeep.web import view
from tokenkeep.web.admin import create_app

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
N = 10_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """10,000 tokens for alice (one create_many), a few of them special."""
    clock = tokenkeep.ManualClock(START)
    path = tmp_path_factory.mktemp("listing") / "tokens.db"
    with tokenkeep.TokenStore(str(path), clock=clock) as s:
        items = [(f"tok-{i:05d}", {"device:read"} if i % 2 else {"policy"}) for i in range(N - 2)]
        s.create_many("alice", items)
        s.create("alice", "100%_literal", {"collection"})
        s.create("alice", "soon-one", {"collection"}, expires_in=timedelta(hours=20))
        s.create("bob", "bobs-token", {"device"})
        yield s


@pytest.fixture(scope="module")
def client(big):
    c = TestClient(
        create_app(big, current_user=lambda request: "alice"), base_url="http://127.0.0.1:8000"
    )
    c.headers["Accept-Encoding"] = "gzip"
    return c


def names_of(text: str):
    return [html.unescape(n) for n in re.findall(r'<span class="token-name">([^<]*)</span>', text)]


def test_first_page_is_50_rows_with_the_count_and_one_dialog_of_each_kind(client):
    r = client.get("/profile/access-tokens")
    assert r.status_code == 200
    assert len(names_of(r.text)) == view.PAGE_SIZE
    assert re.search(r'id="token-count">10,000<', r.text)
    assert "1–50 of 10,000" in r.text and "Page 1 of 200" in r.text
    dialogs = (
        "create-dialog",
        "edit-dialog",
        "revoke-dialog",
        "revoke-all-dialog",
        "rotate-dialog",
    )
    for dialog in dialogs:
        assert r.text.count(f'id="{dialog}"') == 1
    assert r.text.count("<dialog") == len(dialogs)
    assert 'Revoke all <strong id="revoke-all-count">10,000</strong>' in r.text
    assert r.text.count('type="checkbox"') == 2 * 9  # two scope pickers, nothing per row
    assert len(r.content) < 200_000


def test_the_answer_is_gzipped(client):
    r = client.get("/profile/access-tokens")
    assert r.headers["content-encoding"] == "gzip"
    raw = client.get("/profile/access-tokens", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content) / 5


def test_a_request_without_the_csrf_cookie_gets_a_new_token_each_time(big):
    """Compression and reflected input (BREACH): a cross-site request carries no SameSite=Strict
    cookie, so each answer holds a fresh random CSRF token, nothing a length oracle could
    converge on; the page's own requests (with the cookie) keep one token."""
    app = create_app(big, current_user=lambda request: "alice")
    token = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
    tokens = set()
    for _ in range(3):
        stranger = TestClient(app, base_url="http://127.0.0.1:8000")
        tokens.add(token.search(stranger.get("/profile/access-tokens", params={"q": "a"}).text)[1])
    assert len(tokens) == 3
    same = TestClient(app, base_url="http://127.0.0.1:8000")
    seen = {token.search(same.get("/profile/access-tokens").text)[1] for _ in range(3)}
    assert len(seen) == 1


def test_paging_reaches_the_last_row_and_clamps_past_the_end(client, big):
    last = client.get("/profile/access-tokens?page=200")
    assert "9,951–10,000 of 10,000" in last.text and 'rel="next"' not in last.text
    oldest = big.list("alice", sort="created", descending=False, limit=1)[0]
    assert oldest.name in names_of(last.text)
    past = client.get("/profile/access-tokens?page=999")
    assert "Page 200 of 200" in past.text
    second = client.get("/profile/access-tokens?page=2")
    assert set(names_of(second.text)).isdisjoint(
        names_of(client.get("/profile/access-tokens").text)
    )
    assert 'rel="prev" href="/profile/access-tokens"' in second.text


def test_search_is_literal_and_filters_the_count(client):
    r = client.get("/profile/access-tokens", params={"q": "TOK-0001"})
    assert names_of(r.text)[:3] == ["tok-00019", "tok-00018", "tok-00017"]
    assert re.search(r'id="token-count">10<', r.text)
    assert names_of(client.get("/profile/access-tokens", params={"q": "%_"}).text) == [
        "100%_literal"
    ]
    assert (
        "No access token matches."
        in client.get("/profile/access-tokens", params={"q": "nothing"}).text
    )
    assert 'value="TOK-0001"' in r.text  # the search box keeps it


def test_a_search_the_engine_refuses_is_marked_on_the_field(client):
    r = client.get("/profile/access-tokens", params={"q": "x" * 1001})
    assert r.status_code == 200
    assert re.search(r'id="search"[^>]*aria-invalid="true" aria-describedby="search-error"', r.text)
    assert re.search(r'id="search-error">.*Search is longer than 1000 bytes', r.text)
    assert len(names_of(r.text)) == view.PAGE_SIZE  # the listing without it
    unknown = client.get("/profile/access-tokens", params={"scope": "devices"})
    assert re.search(r'id="scope-filter"[^>]*aria-invalid="true"', unknown.text)
    assert re.search(r'id="scope-filter-error">.*[Uu]nknown scope', unknown.text)


def test_scope_filter_and_inactive_view(client, big):
    r = client.get("/profile/access-tokens", params={"scope": "collection"})
    assert sorted(names_of(r.text)) == ["100%_literal", "soon-one"]
    assert re.search(r'<option value="collection" selected>', r.text)
    reads = client.get("/profile/access-tokens", params={"scope": "device:read"})
    assert re.search(r'id="token-count">4,999<', reads.text)
    assert "bobs-token" not in reads.text
    gone = big.create("alice", "to-revoke", {"device"})
    big.revoke("alice", gone.info.id)
    inactive = client.get("/profile/access-tokens", params={"view": "inactive"})
    assert names_of(inactive.text) == ["to-revoke"]
    assert ">Revoked</span>" in inactive.text and 'data-action="' not in inactive.text
    assert 'aria-current="page">Inactive' in inactive.text


def test_columns_sort_both_ways_and_say_so(client):
    r = client.get("/profile/access-tokens", params={"sort": "name", "dir": "asc"})
    assert names_of(r.text)[:3] == ["100%_literal", "soon-one", "tok-00000"]  # bytewise
    # the sorted column says so, and its link reverses it (descending is the default: omitted)
    assert (
        'aria-sort="ascending"><a href="/profile/access-tokens?sort=name" '
        'class="sort sorted-ascending"' in r.text
    )
    assert 'aria-sort="none"><a href="/profile/access-tokens?sort=expires" class="sort"' in r.text
    desc = client.get("/profile/access-tokens", params={"sort": "name", "dir": "desc"})
    assert names_of(desc.text)[0] == "tok-09997"
    expiring = client.get("/profile/access-tokens", params={"sort": "expires", "dir": "asc"})
    assert names_of(expiring.text)[0] == "soon-one"
    bad = client.get("/profile/access-tokens", params={"sort": "size"})
    assert "Sort must be one of created, name, expires, last_used." in bad.text


def test_expires_soon_badge_and_regenerate_shows_the_new_secret_once(client, big):
    r = client.get("/profile/access-tokens", params={"q": "soon-one"})
    assert ">Expires soon</span>" in r.text
    info = big.list("alice", search="soon-one")[0]
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text).group(1)
    rotated = client.post(
        f"/profile/access-tokens/{info.id}/rotate",
        data={"csrf_token": token, "back_q": "soon-one", "expiry": "30"},
    )
    assert rotated.status_code == 200 and "Access token regenerated" in rotated.text
    secret = html.unescape(
        re.search(r'<code id="new-token" class="secret"[^>]*>([^<]+)</code>', rotated.text).group(1)
    )
    assert rotated.text.count(secret) == 1
    assert rotated.headers["cache-control"].startswith("no-store")
    new = big.verify(secret)
    assert new.name == "soon-one" and new.id != info.id
    assert new.expires_at == START + timedelta(days=30)  # renewed: 30 days from now
    assert (
        'data-leave-to="/profile/access-tokens?q=soon-one"' in rotated.text
    )  # back to the same listing
    assert secret not in client.get("/profile/access-tokens").text


def test_regenerate_keeps_the_date_unless_asked_and_refuses_a_bad_choice(client, big):
    old = big.create("alice", "keep-date", {"device"}, expires_in=timedelta(days=12))
    token = re.search(
        r'name="csrf_token" value="([0-9a-f]+)"', client.get("/profile/access-tokens").text
    ).group(1)
    kept = client.post(
        f"/profile/access-tokens/{old.info.id}/rotate", data={"csrf_token": token, "expiry": "keep"}
    )
    assert kept.status_code == 200
    assert big.list("alice", search="keep-date")[0].expires_at == old.info.expires_at
    current = big.list("alice", search="keep-date")[0]
    bad = client.post(
        f"/profile/access-tokens/{current.id}/rotate", data={"csrf_token": token, "expiry": "9999"}
    )
    assert bad.status_code == 400 and "Choose when the token expires." in bad.text
    assert big.list("alice", search="keep-date")[0].id == current.id  # not rotated


def test_without_script_a_row_link_opens_its_dialog_filled(client, big):
    info = big.list("alice", limit=1)[0]
    r = client.get("/profile/access-tokens", params={"edit": info.id})
    edit = re.search(r'<dialog id="edit-dialog".*?</dialog>', r.text, re.DOTALL).group(0)
    assert (
        "open data-autoshow" in edit and f'action="/profile/access-tokens/{info.id}/scopes"' in edit
    )
    assert f'data-fill="name">{info.name}<' in edit
    revoke = client.get("/profile/access-tokens", params={"revoke": info.id}).text
    assert re.search(
        rf'<dialog id="revoke-dialog"[^>]*open data-autoshow>\s*'
        rf'<form method="post" action="/profile/access-tokens/{info.id}/revoke"',
        revoke,
    )
    assert (
        "open data-autoshow"
        not in client.get("/profile/access-tokens", params={"edit": "nope"}).text
    )


def test_rendering_runs_off_the_event_loop(client, monkeypatch):
    threads = []
    real = view.token_page

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(view, "token_page", spy)
    client.get("/profile/access-tokens")
    assert threads and all(name != threading.main_thread().name for name in threads)
    assert threads[0].startswith("AnyIO worker thread")


def test_the_page_pages_and_searches_on_postgresql_too(pg_url):
    with tokenkeep.TokenStore(pg_url, pepper="cd" * 32) as s:
        s.create_many("alice", [(f"pg-{i:03d}", {"device"}) for i in range(120)])
        s.create("alice", "50%_off", {"policy"})
        c = TestClient(create_app(s, current_user=lambda request: "alice"))
        r = c.get("/profile/access-tokens", params={"page": "3"})
        assert "101–121 of 121" in r.text and len(names_of(r.text)) == 21
        assert names_of(c.get("/profile/access-tokens", params={"q": "%_"}).text) == ["50%_off"]
        by_name = c.get("/profile/access-tokens", params={"sort": "name", "dir": "asc"})
        assert names_of(by_name.text)[:2] == ["50%_off", "pg-000"]

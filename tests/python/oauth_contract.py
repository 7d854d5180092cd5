"""RFC 7662 / RFC 7009 checks that every adapter of tokenkeep.web.oauth must pass: one class,
run against FastAPI (test_oauth_fastapi.py) and Django (django_tests/test_django_oauth.py),
the way re2 runs one test class against two implementations.

A subclass provides the fixtures ``store`` (the store the endpoints use, on a ManualClock
``clock``) and ``call``: ``call(path, body=b"", *, bearer=None, content_type=FORM,
query="", method="POST") -> Reply``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote_plus, urlencode

FORM = "application/x-www-form-urlencoded"
INTROSPECT = "/oauth/introspect"
REVOKE = "/oauth/revoke"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


class OAuthContract:
    """The endpoints' answers, per RFC. Subclasses are collected (``Test...``); this is not."""

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _no_leak(reply: Reply, *secrets: str) -> Reply:
        text = reply.body.decode("latin-1") + repr(reply.headers)
        for s in secrets:
            assert s not in text, "an answer echoed a token"
        assert reply.headers.get("cache-control") == "no-store"
        return reply

    def _service(self, store) -> str:
        return store.create_service_token("gateway").secret

    # -- caller authentication --------------------------------------------------------------

    def test_no_caller_token_is_401_with_a_bearer_challenge(self, store, call):
        user = store.create("alice", "ci", {"device"}).secret
        for path in (INTROSPECT, REVOKE):
            r = self._no_leak(call(path, form(token=user)), user)
            assert r.status == 401
            assert r.headers["www-authenticate"] == "Bearer"
        assert store.get("alice", store.list("alice")[0].id).revoked_at is None

    def test_a_users_token_cannot_call_the_endpoints(self, store, call):
        user = store.create("alice", "ci", {"device", "policy", "collection"})
        victim = store.create("bob", "deploy", {"device"}).secret
        for path in (INTROSPECT, REVOKE):
            r = self._no_leak(
                call(path, form(token=victim), bearer=user.secret), victim, user.secret
            )
            assert r.status == 401
            assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
            assert r.json["error"] == "invalid_token"
        assert [t.name for t in store.list("bob")] == ["deploy"]  # not revoked

    def test_revoked_expired_and_malformed_service_tokens_are_401(self, store, call, clock):
        user = store.create("alice", "ci", {"device"}).secret
        revoked = store.create_service_token("old")
        store.revoke_service_token(revoked.info.id)
        expiring = store.create_service_token("short", expires_in=timedelta(hours=1))
        clock.advance(timedelta(hours=2))
        for caller in (revoked.secret, expiring.secret, "tk_nope", "Digest x"):
            r = self._no_leak(call(INTROSPECT, form(token=user), bearer=caller), user, caller)
            assert r.status == 401, caller
            # Another scheme is no credential at all: a bare challenge (RFC 6750 §3.1).
            assert r.json.get("error") == (None if caller == "Digest x" else "invalid_token")

    def test_http_basic_client_authentication(self, store, call):
        """RFC 6749 §2.3.1: client_id = the service token's id, client_secret = its secret."""
        svc = store.create_service_token("spring")
        user = store.create("alice", "ci", {"device"})

        def basic(client_id: str, secret: str) -> str:
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
            return "Basic " + base64.b64encode(pair).decode()

        good = basic(svc.info.id, svc.secret)
        r = self._no_leak(call(INTROSPECT, form(token=user.secret), bearer=good), svc.secret)
        assert r.json["username"] == "alice"
        refused = [
            basic(user.info.id, svc.secret),  # the id must be the service token's own
            basic(user.info.id, user.secret),  # a user's token, as Basic too
            basic(svc.info.id, "tk_nope"),
            "Basic !!not-base64!!",
            "Basic " + base64.b64encode(b"no-colon").decode(),
        ]
        for header in refused:
            for path in (INTROSPECT, REVOKE):
                r = self._no_leak(
                    call(path, form(token=user.secret), bearer=header), user.secret, svc.secret
                )
                assert r.status == 401, header
                assert r.headers["www-authenticate"] == 'Basic realm="tokenkeep"'
                assert r.json["error"] == "invalid_client"
        assert store.list("alice")[0].revoked_at is None
        r = call(REVOKE, form(token=user.secret), bearer=good)
        assert (r.status, store.list("alice")) == (200, [])

    def test_token_in_the_query_string_is_400(self, store, call):
        svc = self._service(store)
        user = store.create("alice", "ci", {"device"}).secret
        r = self._no_leak(call(INTROSPECT, b"", bearer=svc, query="token=" + user), user, svc)
        assert r.status == 400 and r.json["error"] == "invalid_request"

    # -- introspection ----------------------------------------------------------------------

    def test_introspect_active_token_answers_rfc7662_members(self, store, call):
        svc = self._service(store)
        issued = store.create(
            "alice", "ci", {"device", "policy:read"}, expires_in=timedelta(days=7)
        )
        r = self._no_leak(
            call(INTROSPECT, form(token=issued.secret), bearer=svc), issued.secret, svc
        )
        assert r.status == 200
        assert r.headers["content-type"].startswith("application/json")
        info = issued.info
        assert r.json == {
            "active": True,
            "scope": "device:read device:write policy:read",
            "username": "alice",
            "sub": "alice",
            "token_type": "bearer",
            "iat": int(info.created_at.timestamp()),
            "exp": int(info.expires_at.timestamp()),
            "jti": info.id,
        }
        assert store.get("alice", info.id).last_used_at is not None  # a gateway's check is a use

    def test_introspect_inactive_is_exactly_active_false(self, store, call, clock):
        svc = self._service(store)
        live = store.create("alice", "live", {"device"}).secret
        revoked = store.create("alice", "revoked", {"device"})
        store.revoke("alice", revoked.info.id)
        expired = store.create("alice", "expired", {"device"}, expires_in=timedelta(hours=1))
        other_service = store.create_service_token("other").secret
        clock.advance(timedelta(hours=2))
        wrong_secret = live[:-12] + ("A" if live[-12] != "A" else "B") + live[-11:]
        cases = [
            "tk_" + "0" * 60,  # well-shaped, unknown
            "not a token",
            wrong_secret,  # bad checksum or wrong secret
            revoked.secret,
            expired.secret,
            other_service,  # a service token is no token a resource server accepts
            svc,  # nor is the caller's own
            "x" * 4000,
            "tk_\x00\u00e9\U0001f600",  # NUL and non-ASCII after percent-decoding
        ]
        for token in cases:
            for hint in (None, "access_token", "refresh_token", "nonsense"):
                fields = (
                    {"token": token} if hint is None else {"token": token, "token_type_hint": hint}
                )
                r = self._no_leak(call(INTROSPECT, form(**fields), bearer=svc), token, svc)
                assert r.status == 200, token[:10]
                assert r.body in (b'{"active":false}', b'{"active": false}')
                assert r.json == {"active": False}
        assert call(INTROSPECT, form(token=live), bearer=svc).json["active"] is True

    def test_introspect_sees_a_revoke_at_once(self, store, call):
        svc = self._service(store)
        issued = store.create("alice", "ci", {"device"})
        assert call(INTROSPECT, form(token=issued.secret), bearer=svc).json["active"] is True
        store.revoke("alice", issued.info.id)
        assert call(INTROSPECT, form(token=issued.secret), bearer=svc).json == {"active": False}

    # -- revocation -------------------------------------------------------------------------

    def test_revoke_unknown_or_invalid_token_is_200_empty(self, store, call):
        svc = self._service(store)
        for token in ("tk_" + "0" * 60, "garbage", "x" * 1000):
            r = self._no_leak(call(REVOKE, form(token=token), bearer=svc), token, svc)
            assert (r.status, r.body) == (200, b"")

    def test_revoke_revokes_and_audits_with_the_service_as_actor(self, store, call):
        svc = store.create_service_token("kong")
        issued = store.create("alice", "ci", {"device"})
        r = self._no_leak(call(REVOKE, form(token=issued.secret), bearer=svc.secret), issued.secret)
        assert (r.status, r.body) == (200, b"")
        assert store.list("alice") == []
        event = store.audit("alice", limit=1)[0]
        assert (event.action, event.token_id) == ("revoke", issued.info.id)
        assert event.actor == f"service:kong ({svc.info.id})"
        assert issued.secret not in repr(store.audit(limit=100))
        again = call(REVOKE, form(token=issued.secret), bearer=svc.secret)  # already revoked
        assert (again.status, again.body) == (200, b"")
        assert call(INTROSPECT, form(token=issued.secret), bearer=svc.secret).json == {
            "active": False
        }

    def test_revoke_takes_the_token_exactly_and_records_no_use(self, store, call):
        svc = self._service(store)
        issued = store.create("alice", "ci", {"device"})
        for text in ("x " + issued.secret, issued.secret + "x", "x" + issued.secret, "a,b"):
            r = call(REVOKE, form(token=text), bearer=svc)
            assert (r.status, r.body) == (200, b"")
        assert [t.name for t in store.list("alice")] == ["ci"]  # a token inside text: no
        r = call(REVOKE, form(token=issued.secret), bearer=svc)
        assert (r.status, r.body) == (200, b"")
        (row,) = store.list("alice", state="all")
        assert row.revoked_at is not None and row.last_used_at is None

    def test_revoke_token_type_hints(self, store, call):
        svc = self._service(store)
        unknown = "tk_" + "0" * 60
        for hint in ("access_token", "nonsense"):  # ours, and an invalid value (ignored, §2.2)
            r = call(REVOKE, form(token=unknown, token_type_hint=hint), bearer=svc)
            assert (r.status, r.body) == (200, b"")
        r = self._no_leak(
            call(REVOKE, form(token=unknown, token_type_hint="refresh_token"), bearer=svc), unknown
        )
        assert r.status == 400 and r.json["error"] == "unsupported_token_type"
        # A live access token sent with the refresh_token hint is still found (§2.1) and revoked.
        issued = store.create("alice", "ci", {"device"})
        r = call(REVOKE, form(token=issued.secret, token_type_hint="refresh_token"), bearer=svc)
        assert (r.status, r.body) == (200, b"")
        assert store.list("alice") == []

    def test_revoke_leaves_service_tokens_alone(self, store, call):
        svc = self._service(store)
        other = store.create_service_token("other")
        r = call(REVOKE, form(token=other.secret), bearer=svc)
        assert (r.status, r.body) == (200, b"")
        assert {t.name for t in store.list_service_tokens()} == {"other", "gateway"}

    # -- the request's shape ----------------------------------------------------------------

    def test_body_must_be_one_url_encoded_form(self, store, call):
        svc = self._service(store)
        user = store.create("alice", "ci", {"device"}).secret
        bad = [
            (json.dumps({"token": user}).encode(), "application/json"),
            (form(token=user), "text/plain"),
            (form(token=user), None),
            (b"", FORM),
            (form(token_type_hint="access_token"), FORM),
            (form(token=""), FORM),
            (form(token=" \r\n"), FORM),
            (form(token=user) + b"&" + form(token=user), FORM),
            (b"token=%FF%FE", FORM),
        ]
        for path in (INTROSPECT, REVOKE):
            for body, ctype in bad:
                r = self._no_leak(call(path, body, bearer=svc, content_type=ctype), user, svc)
                assert r.status == 400, (path, body[:20], ctype)
                assert r.json["error"] == "invalid_request"
        big = form(token=user) + b"&pad=" + b"a" * 9000
        r = call(INTROSPECT, big, bearer=svc)
        assert r.status == 413
        charset = call(
            INTROSPECT, form(token=user), bearer=svc, content_type=FORM + "; charset=UTF-8"
        )
        assert charset.json["active"] is True
        newline = call(INTROSPECT, form(token=user + "\n"), bearer=svc)  # curl token@file
        assert newline.json["active"] is True
        assert store.list("alice")[0].revoked_at is None

    def test_only_post(self, store, call):
        svc = self._service(store)
        for path in (INTROSPECT, REVOKE):
            for method in ("GET", "PUT", "DELETE"):
                assert call(path, b"", bearer=svc, method=method).status == 405, (path, method)

"""The requests every guard (FastAPI, Flask, Django) must answer alike for a token bound to
198.51.100.0/24: the peer decides, unless it is a trusted proxy (10.0.0.0/8), whose
X-Forwarded-For is read from the right; a header from anyone else is never believed."""

from __future__ import annotations

BOUND_TO = ["198.51.100.0/24"]
PROXIES = ["10.0.0.0/8"]
INSIDE = "198.51.100.7"
OUTSIDE = "203.0.113.5"
PROXY = "10.0.0.2"

# (what, peer, X-Forwarded-For or None, trusted proxies configured?, status for the bound token)
CASES = [
    ("peer inside", INSIDE, None, False, 200),
    ("peer outside", OUTSIDE, None, False, 403),
    ("forged header, no proxy configured", OUTSIDE, INSIDE, False, 403),
    ("forged header from an untrusted peer", OUTSIDE, INSIDE, True, 403),
    ("peer inside, proxies configured, no header", INSIDE, None, True, 200),
    ("peer inside, its own header ignored", INSIDE, OUTSIDE, True, 200),
    ("trusted proxy reports inside", PROXY, INSIDE, True, 200),
    ("two trusted proxies report inside", PROXY, f"{INSIDE}, 10.0.0.9", True, 200),
    ("client forged the left of a proxied header", PROXY, f"{INSIDE}, {OUTSIDE}", True, 403),
    ("trusted proxy reports outside", PROXY, OUTSIDE, True, 403),
    ("trusted proxy, no header: the proxy itself", PROXY, None, True, 403),
    ("trusted proxy, garbage header", PROXY, "unknown", True, 403),
    ("trusted proxy header, proxies not configured", PROXY, INSIDE, False, 403),
    ("ipv4-mapped peer inside", "::ffff:" + INSIDE, None, False, 200),
]
IDS = [c[0] for c in CASES]

NETWORK_BODY = {
    "error": "insufficient_scope",
    "error_description": "The access token may not be used from this network",
}

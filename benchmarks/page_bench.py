"""How big and how slow is the Access Token page at size? 10,000 vs 100,000 tokens of one user.

Two SQLite stores on files in a temporary folder, one with 10,000 and one with 100,000 tokens
of the same user (each made by one ``create_many``), each served by ``create_app``. Every
request goes straight into the ASGI application (no socket, no client library), so the time
is the server's: from the request to the last byte of the answer, routing, the listing
query, rendering in the threadpool and gzip included. Rounds alternate between the two
stores (side by side in one process) and the medians are compared as a ratio.

Pages measured: the default page (newest first, 50 rows) — the one with the targets
(< 200 KB, < 150 ms p50 at 10,000 tokens; 100,000 no worse than 2x) — seen again (the store
reuses a count while nothing changed) and just after a write (another owner's token created
first, so the count is taken again), plus a search, the last page, and a sort by expiry.
Prints a table and writes ``benchmarks/results_page.json``.

    .venv/bin/python benchmarks/page_bench.py               # 30 rounds, ~1 min
    .venv/bin/python benchmarks/page_bench.py --rounds 5    # a quick look
"""

import argparse
import asyncio
import datetime
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results_page.json")
USER = "alice"
SIZES = (10_000, 100_000)
TARGET_BYTES = 200 * 1024
TARGET_MS = 150.0
TARGET_RATIO = 2.0

warnings.simplefilter("ignore", DeprecationWarning)
import tokenkeep  # noqa: E402 - after the filter: importing warns
from tokenkeep.web.admin import create_app  # noqa: E402


def pages(n: int) -> dict[str, str]:
    return {
        "default (newest first)": "",
        "default, after a write": "",  # another owner's token created first: nothing reused
        "search 'tok-0012'": "q=tok-0012",
        "last page": f"page={n // 50}",
        "sort by expiry": "sort=expires&dir=asc",
    }


def write_first(label: str) -> bool:
    return label.endswith("after a write")


def seed(path: str, n: int) -> tokenkeep.TokenStore:
    store = tokenkeep.TokenStore(path)
    week = datetime.timedelta(days=7)
    items = [
        (
            f"tok-{i:06d}",
            {"device:read"} if i % 3 else {"policy", "collection:read"},
            week * (1 + i % 40),
        )
        for i in range(n)
    ]
    store.create_many(USER, items)
    return store


async def request(app, query: str, gzipped: bool) -> tuple[float, bytes, dict[str, str]]:
    """One GET of the page through the ASGI interface: (seconds, body, headers)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/profile/access-tokens",
        "raw_path": b"/profile/access-tokens",
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000")]
        + ([(b"accept-encoding", b"gzip")] if gzipped else []),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    body: list[bytes] = []
    headers: dict[str, str] = {}
    done = asyncio.Event()

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message["status"]
            headers.update({k.decode(): v.decode() for k, v in message["headers"]})
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    start = time.perf_counter()
    await app(scope, receive, send)
    await done.wait()
    return time.perf_counter() - start, b"".join(body), headers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tokenkeep-page-bench-") as tmp:
        apps, stores = {}, {}
        for n in SIZES:
            t = time.perf_counter()
            stores[n] = seed(os.path.join(tmp, f"{n}.db"), n)
            print(f"seeded {n:,} tokens in {time.perf_counter() - t:.1f} s", flush=True)
            apps[n] = create_app(stores[n], current_user=lambda request: USER)

        async def run() -> dict[int, dict[str, dict[str, float]]]:
            out: dict[int, dict[str, dict[str, float]]] = {n: {} for n in SIZES}
            for n in SIZES:  # warm-up: templates compiled, statements prepared, pages cached
                for q in pages(n).values():
                    await request(apps[n], q, True)
            times: dict[tuple[int, str], list[float]] = {}
            for _ in range(args.rounds):
                for n in SIZES:  # alternating: both sizes see the same machine
                    for label, q in pages(n).items():
                        if write_first(label):
                            stores[n].create(
                                "bob", f"w-{len(times.get((n, label), []))}", {"device"}
                            )
                        dt, _, _ = await request(apps[n], q, True)
                        times.setdefault((n, label), []).append(dt)
            for n in SIZES:
                for label, q in pages(n).items():
                    _, zipped, headers = await request(apps[n], q, True)
                    _, raw, _ = await request(apps[n], q, False)
                    # the same page (but for its fresh CSRF token), compressed
                    assert headers.get("content-encoding") == "gzip"
                    assert abs(len(gzip.decompress(zipped)) - len(raw)) < 8
                    ts = sorted(times[(n, label)])
                    out[n][label] = {
                        "p50_ms": statistics.median(ts) * 1000,
                        "p90_ms": ts[int(len(ts) * 0.9) - 1] * 1000
                        if len(ts) >= 10
                        else ts[-1] * 1000,
                        "raw_bytes": len(raw),
                        "gzip_bytes": len(zipped),
                    }
            return out

        results = asyncio.run(run())
        for s in stores.values():
            s.close()

    small, large = SIZES
    print()
    print(
        f"Access Token page, one user, {args.rounds} rounds alternating; "
        "server time from the ASGI call to the last byte"
    )
    head = (
        f"{'page':<24} {'tokens':>8} {'raw KB':>8} {'gzip KB':>8} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p50 vs 10k':>11}"
    )
    print(head)
    print("-" * len(head))
    for label in pages(small):
        for n in SIZES:
            r = results[n][label]
            ratio = r["p50_ms"] / results[small][label]["p50_ms"]
            print(
                f"{label:<24} {n:>8,} {r['raw_bytes'] / 1024:>8.1f} {r['gzip_bytes'] / 1024:>8.1f} "
                f"{r['p50_ms']:>8.1f} {r['p90_ms']:>8.1f} {ratio:>10.2f}x"
            )
    d_small = results[small]["default (newest first)"]
    d_large = results[large]["default (newest first)"]
    ratio = d_large["p50_ms"] / d_small["p50_ms"]
    w_small = results[small]["default, after a write"]
    w_large = results[large]["default, after a write"]
    ratio_write = w_large["p50_ms"] / w_small["p50_ms"]
    slowest_large = max(d_large["p50_ms"], w_large["p50_ms"])
    checks = {
        f"10,000 tokens: page < {TARGET_BYTES // 1024} KB (raw)": (
            d_small["raw_bytes"] < TARGET_BYTES
        ),
        f"10,000 tokens: server time p50 < {TARGET_MS:.0f} ms": d_small["p50_ms"] < TARGET_MS,
        f"100,000 tokens: p50 no worse than {TARGET_RATIO:.0f}x 10,000": ratio <= TARGET_RATIO,
        f"100,000 tokens just after a write: p50 no worse than {TARGET_RATIO:.0f}x": (
            ratio_write <= TARGET_RATIO
        ),
        f"100,000 tokens: p50 < {TARGET_RATIO * TARGET_MS:.0f} ms, also after a write": (
            slowest_large < TARGET_RATIO * TARGET_MS
        ),
        f"100,000 tokens: page bytes no worse than {TARGET_RATIO:.0f}x": (
            d_large["raw_bytes"] <= TARGET_RATIO * d_small["raw_bytes"]
        ),
    }
    print()
    for what, ok in checks.items():
        print(f"{'ok  ' if ok else 'MISS'} {what}")
    with open(RESULTS, "w") as f:
        json.dump(
            {
                "benchmark": "page_bench",
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "what": "GET /profile/access-tokens through the ASGI app, "
                "one user with 10,000 and 100,000 tokens",
                "rounds": args.rounds,
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "results": {str(n): results[n] for n in SIZES},
                "default_p50_ratio_100k_vs_10k": ratio,
                "after_write_p50_ratio_100k_vs_10k": ratio_write,
                "targets_met": checks,
            },
            f,
            indent=2,
        )
        f.write("\n")
    print(f"\nwrote {os.path.relpath(RESULTS)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

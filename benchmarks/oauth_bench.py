"""Introspection (RFC 7662) vs the FastAPI guard: requests/s under wrk, side by side.

One uvicorn process (1 worker, no access log, 127.0.0.1) serves ``examples/edge_api.py`` with
``tokenkeep.fastapi.oauth_router(store)`` included, and wrk (Debian package ``wrk``) loads, in
alternating rounds:

- ``guard``:      ``GET /api/devices``, the example's guarded endpoint (``device:read``);
- ``introspect``: ``POST /oauth/introspect`` with a service token and ``token=<the same user
  token>``: what a gateway asks instead of verifying locally.

Tokens reach wrk's Lua scripts through the environment, never argv. Prints the medians, the
ratio introspect/guard per adjacent pair of runs, the load average before and after, and
writes ``benchmarks/results_oauth.json``.

    .venv/bin/python benchmarks/oauth_bench.py                       # 5 rounds x 3 s, ~40 s
    .venv/bin/python benchmarks/oauth_bench.py --rounds 1 --duration 2
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from guard_bench import free_port, run_wrk, wait_ready  # noqa: E402

RESULTS = os.path.join(HERE, "results_oauth.json")
USER_ENV, SERVICE_ENV = "TOKENKEEP_BENCH_TOKEN", "TOKENKEEP_BENCH_SERVICE"
PATHS = {"guard": "/api/devices", "introspect": "/oauth/introspect"}

LUA = {
    "guard": f"""\
wrk.headers["Authorization"] = "Bearer " .. os.getenv("{USER_ENV}")
""",
    "introspect": f"""\
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("{SERVICE_ENV}")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "token=" .. os.getenv("{USER_ENV}")
""",
}


def serve(db: str, port: int) -> None:
    import tokenkeep
    import uvicorn
    from tokenkeep.fastapi import oauth_router

    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import edge_api

    store = tokenkeep.TokenStore(db)
    app = edge_api.create_app(store)
    for i in range(10):
        app.state.inventory.add("devices", f"gateway-{i}", "bench")
    app.include_router(oauth_router(store))
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def check(base: str, name: str, user: str, service: str) -> None:
    """Each endpoint answers 200, and introspection says active (not a cheap 'false')."""
    if name == "guard":
        req = urllib.request.Request(
            base + PATHS[name], headers={"Authorization": "Bearer " + user}
        )
    else:
        req = urllib.request.Request(
            base + PATHS[name],
            data=f"token={user}".encode(),
            headers={
                "Authorization": "Bearer " + service,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
        if r.status != 200 or (name == "introspect" and json.loads(body).get("active") is not True):
            raise SystemExit(f"{name}: unexpected answer {r.status}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=3, help="seconds per endpoint per round")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    ap.add_argument("--output", default=RESULTS)
    ap.add_argument("--serve", nargs=2, metavar=("DB", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    if not os.path.exists(args.wrk):
        raise SystemExit("wrk not found: apt-get install wrk (make setup does)")

    import tokenkeep

    ncpu = os.cpu_count() or 1
    pin = shutil.which("taskset") and ncpu >= 2
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tokenkeep-oauth-bench-") as tmp:
        db = os.path.join(tmp, "tokens.db")
        with tokenkeep.TokenStore(db) as store:
            user = store.create(owner="bench", name="oauth-bench", scopes={"device:read"}).secret
            service = store.create_service_token("bench-gateway").secret
        lua = {}
        for name, text in LUA.items():
            lua[name] = os.path.join(tmp, f"{name}.lua")
            with open(os.open(lua[name], os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(text)
        env = dict(os.environ, **{USER_ENV: user, SERVICE_ENV: service})
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_cmd = [sys.executable, os.path.abspath(__file__), "--serve", db, str(port)]
        if pin:
            server_cmd = ["taskset", "-c", "0"] + server_cmd
        server_env = {k: v for k, v in env.items() if k not in (USER_ENV, SERVICE_ENV)}
        server = subprocess.Popen(server_cmd, env=server_env)
        threads = max(1, min(2, ncpu - 1))

        def wrk_cmd(seconds: int, name: str) -> list[str]:
            cmd = [args.wrk, f"-t{threads}", f"-c{args.connections}", f"-d{seconds}s"]
            cmd += ["-s", lua[name]]
            return ["taskset", "-c", f"1-{ncpu - 1}"] + cmd if pin else cmd

        samples: dict[str, list[dict]] = {name: [] for name in PATHS}
        try:
            wait_ready(base + "/healthz", server)
            for name in PATHS:
                check(base, name, user, service)
                run_wrk(wrk_cmd(1, name), base + PATHS[name], env, server.pid)  # warm-up
            for r in range(args.rounds):
                for name, path in PATHS.items():
                    res = run_wrk(wrk_cmd(args.duration, name), base + path, env, server.pid)
                    if res["non_2xx"]:
                        raise SystemExit(f"{name}: {res['non_2xx']} non-2xx responses")
                    samples[name].append(res)
                    print(
                        f"round {r + 1}/{args.rounds}  {name:<11} {res['requests_per_s']:>8.0f} req/s"
                        f"  {res['server_cpu_us_per_request'] or 0:>7.1f} us CPU/request",
                        flush=True,
                    )
            check(base, "introspect", user, service)  # still active after the load
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    load_after = os.getloadavg()

    median = {
        n: statistics.median(s["requests_per_s"] for s in runs) for n, runs in samples.items()
    }
    cpu = {
        n: statistics.median(s["server_cpu_us_per_request"] or 0 for s in runs)
        for n, runs in samples.items()
    }
    ratios = [
        i["requests_per_s"] / g["requests_per_s"]
        for i, g in zip(samples["introspect"], samples["guard"], strict=True)
    ]
    ratio = statistics.median(ratios)
    print()
    print(f"{'endpoint':<12}{'req/s (median)':>16}{'CPU us/req':>12}")
    for name in PATHS:
        print(f"{name:<12}{median[name]:>16.0f}{cpu[name]:>12.1f}")
    print(
        f"\nintrospect / guard, requests/s: {ratio:.2f} (paired rounds {min(ratios):.2f} .. {max(ratios):.2f})"
    )
    cpu_ratio = cpu["introspect"] / cpu["guard"] if cpu["guard"] else None
    if cpu_ratio:
        print(f"introspect / guard, server CPU per request: {cpu_ratio:.2f}")
    print(
        "load average (1, 5, 15 min): before "
        + " ".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + " ".join(f"{x:.2f}" for x in load_after)
    )

    import fastapi
    import uvicorn

    result = {
        "benchmark": "oauth_bench",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "what": "requests/s of POST /oauth/introspect vs the guarded GET /api/devices "
        "(examples/edge_api.py), one uvicorn worker",
        "paths": PATHS,
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": threads,
            "cpu_pinning": "server CPU 0, wrk the rest" if pin else "none",
        },
        "machine": {
            "cpus": ncpu,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": {
            "tokenkeep": tokenkeep.__version__,
            "fastapi": fastapi.__version__,
            "uvicorn": uvicorn.__version__,
        },
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "requests_per_s_median": {k: round(v, 1) for k, v in median.items()},
        "server_cpu_us_per_request_median": {k: round(v, 1) for k, v in cpu.items()},
        "introspect_over_guard": round(ratio, 3),
        "introspect_over_guard_paired": [round(x, 3) for x in ratios],
        "introspect_over_guard_server_cpu": round(cpu_ratio, 3) if cpu_ratio else None,
        "samples": samples,
    }
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.relpath(args.output, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What does the tokenkeep FastAPI guard cost? requests/s of a guarded vs an unguarded endpoint.

Runs ``examples/edge_api.py`` under uvicorn on 127.0.0.1 (a free port, one worker, no access
log) and loads it with ``wrk`` (Debian package ``wrk``), alternating between endpoints that
run the same handler and differ only in the guard:

- ``/bench/unguarded/devices``  the handler of ``GET /api/devices``, without the guard;
- ``/api/devices``              the example as shipped (guard ``device:read`` on the event loop);
- ``/bench/threadpool/devices`` the same guard with ``threadpool=True`` (verify in a thread).

Every request carries the same ``Authorization`` header, which wrk reads from a Lua script
that takes the token from the environment (never from argv). Prints requests/s per endpoint
(median of the rounds) and the guard's overhead, and writes ``benchmarks/results_guard.json``.

    .venv/bin/python benchmarks/guard_bench.py                 # 5 rounds x 3 s per endpoint, ~50 s
    .venv/bin/python benchmarks/guard_bench.py --rounds 1 --duration 2   # a quick look
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results_guard.json")

ENDPOINTS = {
    "unguarded": "/bench/unguarded/devices",
    "guarded": "/api/devices",
    "guarded_threadpool": "/bench/threadpool/devices",
    # The same handler behind a dependency that does nothing: FastAPI's own Depends() cost,
    # the floor for any guard written as a dependency.
    "noop_dependency": "/bench/noop/devices",
}
SCOPE = "device:read"
TOKEN_ENV = "TOKENKEEP_BENCH_TOKEN"

LUA = f"""\
local token = os.getenv("{TOKEN_ENV}")
wrk.headers["Authorization"] = "Bearer " .. token
"""


# -- the server (a child process) ---------------------------------------------------------


def serve(db: str, port: int) -> None:
    import fastapi
    import tokenkeep
    import uvicorn
    from tokenkeep.fastapi import TokenGuard

    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import edge_api

    store = tokenkeep.TokenStore(db)
    app = edge_api.create_app(store)
    inventory = app.state.inventory
    for i in range(10):
        inventory.add("devices", f"gateway-{i}", "bench")
    threadpool_guard = TokenGuard(store, threadpool=True).require(SCOPE)

    # The body of edge_api's GET /api/devices, with no guard and with the threadpool guard.
    @app.get(ENDPOINTS["unguarded"])
    async def unguarded() -> list[edge_api.Item]:
        return inventory.list("devices")

    @app.get(ENDPOINTS["guarded_threadpool"])
    async def guarded_threadpool(
        token: tokenkeep.TokenInfo = fastapi.Depends(threadpool_guard),
    ) -> list[edge_api.Item]:
        return inventory.list("devices")

    async def no_auth(request: fastapi.Request) -> None:
        return None

    @app.get(ENDPOINTS["noop_dependency"])
    async def noop_dependency(token: None = fastapi.Depends(no_auth)) -> list[edge_api.Item]:
        return inventory.list("devices")

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


# -- the driver ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start in time")


def check_status(base: str, path: str, token: str) -> int:
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def cpu_ns(pid: int) -> int:
    """CPU time the process has run, in ns (Linux schedstat); 0 where unavailable."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except OSError:
        return 0


def run_wrk(wrk_cmd: list[str], url: str, env: dict[str, str], server_pid: int) -> dict[str, float]:
    c0 = cpu_ns(server_pid)
    out = subprocess.run(
        wrk_cmd + [url], env=env, capture_output=True, text=True, check=True
    ).stdout
    c1 = cpu_ns(server_pid)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    lat = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    return {
        "requests_per_s": rps,
        "latency_avg_ms": float(lat.group(1)) * scale[lat.group(2)] if lat else None,
        "server_cpu_us_per_request": round((c1 - c0) / 1000 / requests, 1)
        if c0 and requests
        else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


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
        raise SystemExit("wrk not found: apt-get install wrk")

    import tokenkeep

    ncpu = os.cpu_count() or 1
    pin = shutil.which("taskset") and ncpu >= 2  # server on CPU 0, wrk on the others
    with tempfile.TemporaryDirectory(prefix="tokenkeep-bench-") as tmp:
        db = os.path.join(tmp, "tokens.db")
        with tokenkeep.TokenStore(db) as store:
            token = store.create(owner="bench", name="guard-bench", scopes={SCOPE}).secret
        lua = os.path.join(tmp, "auth.lua")
        with open(os.open(lua, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(LUA)
        env = dict(os.environ, **{TOKEN_ENV: token})
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_cmd = [sys.executable, os.path.abspath(__file__), "--serve", db, str(port)]
        if pin:
            server_cmd = ["taskset", "-c", "0"] + server_cmd
        server = subprocess.Popen(server_cmd, env={k: v for k, v in env.items() if k != TOKEN_ENV})
        try:
            wait_ready(base + "/healthz", server)
            for name, path in ENDPOINTS.items():
                status = check_status(base, path, token)
                if status != 200:
                    raise SystemExit(f"{name} answered {status}, expected 200")
            threads = max(1, min(2, ncpu - 1))

            def wrk_cmd(seconds: int) -> list[str]:
                cmd = [
                    args.wrk,
                    f"-t{threads}",
                    f"-c{args.connections}",
                    f"-d{seconds}s",
                    "-s",
                    lua,
                ]
                return ["taskset", "-c", f"1-{ncpu - 1}"] + cmd if pin else cmd

            for path in ENDPOINTS.values():  # warm-up
                run_wrk(wrk_cmd(1), base + path, env, server.pid)
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in ENDPOINTS}
            for r in range(args.rounds):
                for name, path in ENDPOINTS.items():
                    res = run_wrk(wrk_cmd(args.duration), base + path, env, server.pid)
                    if res["non_2xx"]:
                        raise SystemExit(f"{name}: {res['non_2xx']} non-2xx responses")
                    samples[name].append(res)
                    print(
                        f"round {r + 1}/{args.rounds}  {name:<20} {res['requests_per_s']:>8.0f} req/s"
                        f"  {res['server_cpu_us_per_request'] or 0:>7.1f} us CPU/request",
                        flush=True,
                    )
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()

    # The machine's speed drifts between rounds, so each round's guarded run is compared with
    # the unguarded run next to it, and the overhead is the median of those paired ratios.
    median = {
        name: statistics.median(s["requests_per_s"] for s in runs) for name, runs in samples.items()
    }
    cpu = {
        name: statistics.median(s["server_cpu_us_per_request"] or 0 for s in runs)
        for name, runs in samples.items()
    }
    overhead = {
        name: 100.0
        * statistics.median(
            1.0 - g["requests_per_s"] / u["requests_per_s"]
            for g, u in zip(samples[name], samples["unguarded"], strict=True)
        )
        for name in ENDPOINTS
        if name != "unguarded"
    }
    print()
    print(f"{'endpoint':<22}{'req/s (median)':>16}{'CPU us/req':>12}{'overhead':>10}")
    for name in ENDPOINTS:
        ov = f"{overhead[name]:+.1f}%" if name in overhead else ""
        print(f"{name:<22}{median[name]:>16.0f}{cpu[name]:>12.1f}{ov:>10}")
    # Server CPU time per request is steadier than requests/s on a shared machine; its
    # throughput equivalent is 1 - cpu(unguarded) / cpu(guarded).
    cpu_overhead = {
        name: 100.0
        * statistics.median(
            1.0 - u["server_cpu_us_per_request"] / g["server_cpu_us_per_request"]
            for g, u in zip(samples[name], samples["unguarded"], strict=True)
            if g["server_cpu_us_per_request"] and u["server_cpu_us_per_request"]
        )
        for name in overhead
        if all(s["server_cpu_us_per_request"] for s in samples[name] + samples["unguarded"])
    }
    ratios = [
        100.0 * (1.0 - g["requests_per_s"] / u["requests_per_s"])
        for g, u in zip(samples["guarded"], samples["unguarded"], strict=True)
    ]
    spread = max(ratios) - min(ratios)
    guard_cpu_us = cpu["guarded"] - cpu["unguarded"]
    target = 5.0
    measures = [overhead["guarded"]] + (
        [cpu_overhead["guarded"]] if "guarded" in cpu_overhead else []
    )
    if all(m < target for m in measures):
        verdict = "PASS"
    elif all(m >= target for m in measures):
        verdict = "FAIL"
    else:
        verdict = "INCONCLUSIVE"
    print(
        f"\nguard overhead, requests/s:       {overhead['guarded']:+.1f}%  (paired rounds ranged {min(ratios):+.1f}% .. {max(ratios):+.1f}%)"
    )
    if "guarded" in cpu_overhead:
        print(
            f"guard overhead, server CPU time:  {cpu_overhead['guarded']:+.1f}%  (~{guard_cpu_us:.0f} us per request)"
        )
    print(f"target < {target:.0f}%: {verdict}")
    if "noop_dependency" in overhead:
        floor = overhead["noop_dependency"]
        print(
            f"of which FastAPI's Depends() itself (a dependency that does nothing): {floor:+.1f}%; "
            f"tokenkeep's own work (header, RFC 6750 checks, verify): {overhead['guarded'] - floor:+.1f}%"
        )

    import fastapi
    import uvicorn

    result = {
        "benchmark": "guard_bench",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "what": "requests/s of examples/edge_api.py GET /api/devices with and without the tokenkeep guard",
        "endpoints": ENDPOINTS,
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": threads,
            "server": "uvicorn, 1 worker, no access log, 127.0.0.1",
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
        "requests_per_s_median": {k: round(v, 1) for k, v in median.items()},
        "server_cpu_us_per_request_median": {k: round(v, 1) for k, v in cpu.items()},
        "overhead_percent": {k: round(v, 2) for k, v in overhead.items()},
        "overhead_method": "median over rounds of 1 - guarded/unguarded requests/s, adjacent runs paired",
        "overhead_percent_from_server_cpu": {k: round(v, 2) for k, v in cpu_overhead.items()},
        "overhead_spread_percent_points": round(spread, 2),
        "guard_cpu_us_per_request": round(guard_cpu_us, 1),
        "target_overhead_percent": target,
        "verdict": verdict,
        "samples": samples,
    }
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"wrote {os.path.relpath(args.output, ROOT)}")
    return 1 if verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())

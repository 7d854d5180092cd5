"""tokenkeep vs DRF TokenAuthentication vs django-rest-knox vs djangorestframework-api-key,
side by side in one run, through one small DRF view (benchmarks/django_bench_site.py).

Three measurements, each alternating between the schemes round by round (medians shown):

1. the authentication step alone: the scheme's DRF class called on a ready request
   (tokenkeep: TokenAuthentication.authenticate + HasScopes, i.e. verify, the Django user
   query and the scope check; also its bare ``TokenStore.verify``), in µs per call;
2. whole requests in-process through Django's test client (same number for every scheme),
   requests per second of wall time and per second of the process's CPU time (steadier on
   a machine other work loads); ``none`` is the same view with no authentication, the
   floor, and ``tokenkeep-query`` the default mapping with a user query per request (what
   every request cost before the user cache, ``tokenkeep.django.user_cache``);
3. whole requests under gunicorn (``--preload``, one sync worker) loaded by wrk on
   127.0.0.1, requests/s.

Django's database and tokenkeep's are SQLite files in a temporary folder. ``tokenkeep-tokenuser`` is
tokenkeep with ``TokenUser`` as the owner's user (no user query). The credentials
reach wrk through the environment and a Lua script, never argv. Writes
benchmarks/results_django.json and prints a Markdown table (the README's).

    .venv/bin/python benchmarks/django_bench.py                      # about 2 minutes
    .venv/bin/python benchmarks/django_bench.py --rounds 1 --requests 300 --duration 1
"""

from __future__ import annotations

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
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results_django.json")
SCHEMES = ["tokenkeep", "tokenkeep-tokenuser", "tokenkeep-query", "drf", "knox", "apikey", "none"]
LABELS = {
    "tokenkeep": "tokenkeep (TokenAuthentication + HasScopes; user cache)",
    "tokenkeep-tokenuser": "tokenkeep, owner_to_user = TokenUser (no user query)",
    "tokenkeep-query": "tokenkeep, a user query per request (the default before the cache)",
    "drf": "DRF TokenAuthentication",
    "knox": "django-rest-knox",
    "apikey": "djangorestframework-api-key (HasAPIKey, no user)",
    "none": "no authentication (floor)",
}
AUTH_ENV = "TOKENKEEP_BENCH_AUTH"
LUA = f'wrk.headers["Authorization"] = os.getenv("{AUTH_ENV}")\n'


def rotated(items: list[str], shift: int) -> list[str]:
    shift %= len(items)
    return items[shift:] + items[:shift]


def auth_steps(site, credentials: dict[str, str]) -> dict[str, Callable[[], object]]:
    """One call of each scheme's authentication step on a ready DRF request."""
    from django.test import RequestFactory
    from knox.auth import TokenAuthentication as Knox
    from rest_framework.authentication import TokenAuthentication as Drf
    from rest_framework.request import Request
    from rest_framework_api_key.permissions import HasAPIKey
    from tokenkeep.django import HasScopes, TokenAuthentication, get_store

    def request(scheme: str) -> Request:
        return Request(RequestFactory().get("/x", HTTP_AUTHORIZATION=credentials[scheme]))

    tk_permission = HasScopes("device:read")()

    def tokenkeep_step(auth) -> Callable[[], object]:
        tk_request = request("tokenkeep")

        def step():
            tk_request.user, tk_request.auth = auth.authenticate(tk_request)
            return tk_permission.has_permission(tk_request, None)

        return step

    verify, secret = get_store().verify, credentials["tokenkeep"].split()[1]
    drf_request, knox_request, key_request = request("drf"), request("knox"), request("apikey")
    drf, knox, has_key = Drf(), Knox(), HasAPIKey()
    steps = {
        "tokenkeep": tokenkeep_step(TokenAuthentication()),
        "tokenkeep-tokenuser": tokenkeep_step(site.TokenUserAuthentication()),
        "tokenkeep-query": tokenkeep_step(site.UserQueryAuthentication()),
        "tokenkeep_verify": lambda: verify(secret, "device:read"),
        "drf": lambda: drf.authenticate(drf_request),
        "knox": lambda: knox.authenticate(knox_request),
        "apikey": lambda: has_key.has_permission(key_request, None),
    }
    for name, step in steps.items():  # every step really accepts its credential
        assert step(), name
    return steps


def time_auth(steps, calls: int, rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(rounds):
        for name in rotated(list(steps), r):
            step = steps[name]
            t0 = time.perf_counter()
            for _ in range(calls):
                step()
            samples[name].append((time.perf_counter() - t0) / calls * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


def time_in_process(
    credentials: dict[str, str], requests: int, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Requests per second of wall time, and per second of this process's CPU time (which
    other processes on a loaded machine do not inflate): medians over the rounds."""
    from django.test import Client

    client = Client()
    for scheme in SCHEMES:  # each view answers 200 with its credential, and refuses without
        ok = client.get("/" + scheme, HTTP_AUTHORIZATION=credentials[scheme])
        assert ok.status_code == 200, (scheme, ok.content)
        if scheme != "none":
            assert client.get("/" + scheme).status_code in (401, 403), scheme
    wall: dict[str, list[float]] = {s: [] for s in SCHEMES}
    cpu: dict[str, list[float]] = {s: [] for s in SCHEMES}
    for r in range(rounds):
        for scheme in rotated(SCHEMES, r):
            path, header = "/" + scheme, credentials[scheme]
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(requests):
                client.get(path, HTTP_AUTHORIZATION=header)
            wall[scheme].append(requests / (time.perf_counter() - t0))
            cpu[scheme].append(requests / (time.process_time() - c0))
    return (
        {s: statistics.median(v) for s, v in wall.items()},
        {s: statistics.median(v) for s, v in cpu.items()},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_gunicorn(
    credentials: dict[str, str], bench_dir: str, duration: int, rounds: int
) -> dict[str, float]:
    wrk, gunicorn = shutil.which("wrk"), [sys.executable, "-m", "gunicorn"]
    if wrk is None:
        raise SystemExit("wrk is not installed (Debian package wrk; make setup installs it)")
    port = free_port()
    env = {**os.environ, "TOKENKEEP_BENCH_DIR": bench_dir}
    server = subprocess.Popen(
        [
            *gunicorn,
            "--chdir",
            HERE,
            "--preload",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "django_bench_site:application",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    script = os.path.join(bench_dir, "auth.lua")
    with open(script, "w") as f:
        f.write(LUA)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/none", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        samples: dict[str, list[float]] = {s: [] for s in SCHEMES}
        for r in range(rounds):
            for scheme in rotated(SCHEMES, r):
                run = subprocess.run(
                    [wrk, "-t1", "-c2", f"-d{duration}s", "-s", script, base + "/" + scheme],
                    env={**os.environ, AUTH_ENV: credentials[scheme]},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                if "Non-2xx" in run.stdout:
                    raise SystemExit(f"{scheme}: wrk saw refused requests:\n{run.stdout}")
                samples[scheme].append(
                    float(re.search(r"Requests/sec:\s+([\d.]+)", run.stdout).group(1))
                )
        return {s: statistics.median(v) for s, v in samples.items()}
    finally:
        server.terminate()
        server.wait(timeout=30)


def table(
    auth: dict[str, float], local: dict[str, float], cpu: dict[str, float], served: dict[str, float]
) -> str:
    rows = [
        "| scheme | auth step (µs) | in-process req/s | vs floor | req/CPU-s | vs floor "
        "| vs tokenkeep | gunicorn + wrk req/s | vs tokenkeep |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in SCHEMES:
        step = f"{auth[s]:.1f}" if s in auth else "—"
        if s == "tokenkeep":
            step += f" (verify alone {auth['tokenkeep_verify']:.2f})"
        wsgi = (
            f"| {served[s]:,.0f} | {served[s] / served['tokenkeep']:.2f}× |"
            if served
            else "| — | — |"
        )
        rows.append(
            f"| {LABELS[s]} | {step} | {local[s]:,.0f} | {local[s] / local['none']:.0%} "
            f"| {cpu[s]:,.0f} | {cpu[s] / cpu['none']:.0%} "
            f"| {local[s] / local['tokenkeep']:.2f}× {wsgi}"
        )
    return "\n".join(rows)


def summary(
    local: dict[str, float], cpu: dict[str, float], load: tuple[float, float, float]
) -> str:
    """The figures issue 23 asks for: the default against the floor and against DRF."""

    def ratios(v: dict[str, float], how: str) -> str:
        return (
            f"{how}: {v['tokenkeep'] / v['none']:.0%} of the no-authentication floor (a user "
            f"query per request: {v['tokenkeep-query'] / v['none']:.0%}), "
            f"{v['tokenkeep'] / v['drf']:.2f}× DRF's TokenAuthentication"
        )

    return (
        "default TokenAuthentication + HasScopes, in process, "
        f"{ratios(local, 'wall time')}; {ratios(cpu, 'CPU time')}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--requests", type=int, default=2000, help="in-process requests per scheme and round"
    )
    parser.add_argument(
        "--auth-calls", type=int, default=5000, help="authentication steps per scheme and round"
    )
    parser.add_argument(
        "--duration", type=int, default=3, help="seconds of wrk per scheme and round"
    )
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn + wrk part")
    args = parser.parse_args()

    bench_dir = tempfile.mkdtemp(prefix="tokenkeep-django-bench-")
    try:
        os.environ["TOKENKEEP_BENCH_DIR"] = bench_dir
        sys.path.insert(0, HERE)
        import django_bench_site as site

        credentials = site.make_credentials()
        auth = time_auth(auth_steps(site, credentials), args.auth_calls, args.rounds)
        local, local_cpu = time_in_process(credentials, args.requests, args.rounds)
        served = (
            {}
            if args.no_server
            else time_gunicorn(credentials, bench_dir, args.duration, max(1, args.rounds // 2 + 1))
        )
    finally:
        shutil.rmtree(bench_dir, ignore_errors=True)

    import django

    load = os.getloadavg()
    print(table(auth, local, local_cpu, served))
    print("\n" + summary(local, local_cpu, load))
    with open(RESULTS, "w") as f:
        json.dump(
            {
                "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "django": django.__version__,
                },
                "settings": vars(args),
                "load_average": load,
                "auth_step_us": auth,
                "in_process_requests_per_s": local,
                "in_process_requests_per_cpu_s": local_cpu,
                "gunicorn_wrk_requests_per_s": served,
            },
            f,
            indent=2,
        )
        f.write("\n")
    print(f"\nwrote {os.path.relpath(RESULTS)}")


if __name__ == "__main__":
    main()

"""The first steps of the README: ``./setup``, ``make setup``, ``make run``.

./setup: on a machine without make (a minimal Debian root has none; build-essential, which
brings it, is installed *by* the Makefile) it installs make with apt-get, then runs make;
where make exists it runs make at once. apt-get and make are stand-ins here that record how
they were called; the rest of PATH holds only what the script needs.

make setup installs every Debian package a test runs a tool of, and pins every Python package
of the test environment (constraints.txt); make run serves where PORT= and HOST= say."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
{extra}
"""


def _bin(tmp_path: Path, with_make: bool) -> tuple[Path, Path]:
    bindir, log = tmp_path / "bin", tmp_path / "calls.log"
    bindir.mkdir()
    for tool in ("dirname", "id", "basename", "chmod"):
        (bindir / tool).symlink_to(shutil.which(tool))
    make = RECORDER.format(log=log, extra="")
    # apt-get install make: puts a make on PATH, as the real one does
    installs_make = f'case "$*" in *install*make*) printf \'%s\' \'{make}\' > "{bindir}/make"; chmod +x "{bindir}/make";; esac'
    apt = RECORDER.format(log=log, extra=installs_make)
    (bindir / "apt-get").write_text(apt)
    (bindir / "apt-get").chmod(0o755)
    (bindir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')  # as root the script needs no sudo
    (bindir / "sudo").chmod(0o755)
    if with_make:
        (bindir / "make").write_text(make)
        (bindir / "make").chmod(0o755)
    return bindir, log


def _run(bindir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(bindir), "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run(
        [str(ROOT / "setup"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_without_make_it_installs_make_then_runs_make_setup(tmp_path):
    bindir, log = _bin(tmp_path, with_make=False)
    assert shutil.which("make", path=str(bindir)) is None
    p = _run(bindir)
    assert p.returncode == 0, p.stderr
    assert log.read_text().splitlines() == [
        "apt-get -o DPkg::Lock::Timeout=900 update -qq",
        "apt-get -o DPkg::Lock::Timeout=900 install -y -qq make",
        "make setup",
    ]


def test_with_make_it_runs_the_targets_given_and_installs_nothing(tmp_path):
    bindir, log = _bin(tmp_path, with_make=True)
    p = _run(bindir, "run", "PORT=8001")
    assert p.returncode == 0, p.stderr
    assert log.read_text().splitlines() == ["make run PORT=8001"]


def test_the_readme_starts_with_it():
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    assert first_block.splitlines()[0].startswith("./setup")
    assert os.access(ROOT / "setup", os.X_OK)


def _make(*args: str) -> str:
    p = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_make_run_serves_where_port_and_host_say():
    default = _make("-n", "run")
    assert "serve --host 127.0.0.1 --port 8000 " in default
    moved = _make("-n", "run", "PORT=8123", "HOST=0.0.0.0")
    assert "serve --host 0.0.0.0 --port 8123 " in moved
    assert "http://0.0.0.0:8123/" in moved


def test_every_tool_a_test_runs_comes_from_a_debian_package_make_setup_installs():
    packages = set(_make("-s", "--eval=print-apt: ; @echo $(APT_PACKAGES)", "print-apt").split())
    # tool -> the Debian package that ships it (dpkg -S)
    for tool, package in {
        "systemd-analyze": "systemd",  # test_cli_expiring_exec.py
        "chromium": "chromium",  # the browser tests
        "curl": "curl",  # the README's edge_api example
        "clang-format": "clang-format",  # make lint
    }.items():
        assert package in packages, (tool, package, sorted(packages))
        path = shutil.which(tool)
        assert path, f"{tool} is not installed"
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
        assert owner.startswith(package + ":"), (tool, owner)
    assert "postgresql" in packages  # psql and the throwaway cluster (tests/pg/cluster.sh)


def test_the_test_environment_is_pinned_and_the_package_requirements_are_ranges():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not name==version"
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    assert "tokenkeep" not in pins
    installed = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    unpinned = []
    for line in installed:
        name, _, version = line.partition("==")
        if not line or line.startswith("#") or not version:
            continue
        if pins.get(re.sub(r"[-_.]+", "-", name.lower())) != version:
            unpinned.append(line)
    assert unpinned == [], "make constraints, after make setup, pins these"
    makefile = (ROOT / "Makefile").read_text()
    assert "PIP_CONSTRAINTS := -c constraints.txt" in makefile
    assert makefile.count("$(PIP_CONSTRAINTS)") >= 2  # the build tools and the package
    pyproject = (ROOT / "pyproject.toml").read_text()
    deps = re.findall(r'"([A-Za-z][\w.-]*(?:\[[\w,]+\])?)([<>=!~]=?[^"]*)"', pyproject)
    exact = [f"{n}{v}" for n, v in deps if v.startswith("==") and n not in ("ruff", "mypy")]
    assert exact == []  # ranges, except the pinned style tools of the lint extra

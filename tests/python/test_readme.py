"""The README's examples, run as a reader would follow them (issue 11: "The README is tested").

Every fenced ```python, ```bash, ```sh and ```console block runs, in README order, in one
temporary directory (with ``.venv`` and ``examples`` linked from the checkout, ``HOME`` and
``TOKENKEEP_DB`` pointing inside it, the venv's bin first on PATH):

- python: a script in a subprocess, which must exit 0; a block of ``>>>`` lines is a doctest,
  with ``store`` (a fresh TokenStore), ``tokenkeep`` and ``timedelta`` at hand;
- bash / sh: ``bash -e -o pipefail``;
- console: each ``$ command`` (continued by ``> `` lines) runs in one bash on a pseudo-terminal,
  as typed; each must exit 0, and the lines shown under it must be what it printed, line for
  line (blank lines aside; ids, dates and times may differ; ``…`` within a line stands for
  anything, a line that is only ``…`` for any number of lines).

As in a reader's shell, a block sees what earlier blocks set up: ``.venv`` is on PATH only
after a block that activates it (``. .venv/bin/activate``), and an ``export NAME=...`` line
holds for every block after it. Nothing else is preset: not the venv, not TOKENKEEP_DB (the CLI
uses its default path under the temporary HOME).

A block that cannot run here is preceded by ``<!-- test: skip-reason WHY -->``: few, and each
with its reason (asserted below).
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUN = ("python", "bash", "sh", "console")
SKIP = re.compile(r"^<!-- test: skip-reason (?P<why>\S.*\S) -->$")


@dataclass
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the opening fence
    skip: str | None


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        skip = SKIP.match(before.strip())
        out.append(
            Block(
                m.group(1), "\n".join(body) + "\n", start + 1, skip.group("why") if skip else None
            )
        )
        i += 1
    return out


ALL = blocks(README.read_text())
RUNNABLE = [b for b in ALL if b.lang in RUN]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    for name in (".venv", "examples"):
        (d / name).symlink_to(ROOT / name)
    return d


VENV_BINS = {str(ROOT / ".venv" / "bin"), str(Path(sys.executable).parent)}
CARRIED = re.compile(r"^(?:\$ )?(?:(?:\.|source) \.venv/bin/activate|export \w+=\S.*)$")


def _env(workdir: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TOKENKEEP_") and k not in ("COLUMNS", "VIRTUAL_ENV")
    }
    path = [d for d in env.get("PATH", "").split(os.pathsep) if d and d not in VENV_BINS]
    env.update(
        HOME=str(workdir / "home"),
        PATH=os.pathsep.join(path),
        TERM="xterm",
        COLUMNS="100",
        NO_COLOR="1",
    )
    (workdir / "home").mkdir(exist_ok=True)
    return env


def preamble(block: Block) -> str:
    """What earlier blocks left in the reader's shell: the venv activated, variables exported."""
    carried = []
    for earlier in RUNNABLE:
        if earlier.line >= block.line:
            break
        if earlier.skip is None and earlier.lang in ("bash", "sh", "console"):
            carried += [
                ln.removeprefix("$ ") for ln in earlier.text.splitlines() if CARRIED.match(ln)
            ]
    return "\n".join(carried)


# -- python ---------------------------------------------------------------------------------

DOCTEST_RUNNER = textwrap.dedent(
    """
    import doctest, sys, tempfile, os
    from datetime import timedelta
    import tokenkeep
    store = tokenkeep.TokenStore(os.path.join(tempfile.mkdtemp(), "doc.db"))
    text = sys.stdin.read()
    test = doctest.DocTestParser().get_doctest(
        text, {"store": store, "tokenkeep": tokenkeep, "timedelta": timedelta}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    sys.exit(1 if runner.failures else 0)
    """
)


def run_python(block: Block, workdir: Path) -> None:
    doctest = block.text.lstrip().startswith(">>>")
    # `python` as the reader's shell finds it at this point of the README
    run = 'exec python -c "$RUNNER"' if doctest else "exec python -"
    env = dict(_env(workdir), RUNNER=DOCTEST_RUNNER)
    p = subprocess.run(
        ["bash", "-c", preamble(block) + "\n" + run],
        input=block.text,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, f"README.md:{block.line}\n{p.stdout}\n{p.stderr}"


# -- shell and console ------------------------------------------------------------------------


def run_shell(block: Block, workdir: Path) -> None:
    p = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", preamble(block) + "\n" + block.text],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=_env(workdir),
        timeout=300,
    )
    assert p.returncode == 0, f"README.md:{block.line}\n{p.stdout}\n{p.stderr}"


def transcript(text: str) -> list[tuple[str, list[str]]]:
    """(command, lines shown after it) for each ``$ `` line; ``> `` lines continue a command."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif line.startswith("> ") and steps and not steps[-1][1]:
            steps[-1] = (steps[-1][0] + "\n" + line[2:], [])
        elif line.strip() and steps:
            steps[-1][1].append(line)
    return steps


_VARIABLE = [
    (
        re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00"),
        r"\d{4}-\d\d-\d\dT[0-9:.]+\+00:00",
    ),
    (re.compile(r"\d{4}-\d\d-\d\d"), r"\d{4}-\d\d-\d\d"),
    (re.compile(r"\b\d\d:\d\d\b"), r"\d\d:\d\d"),
    # a token id: 11 base62 characters with a digit and a capital (no word of the README is one)
    (re.compile(r"(?<![\w-])(?=\w*\d)(?=\w*[A-Z])[0-9A-Za-z]{11}(?![\w-])"), r"[0-9A-Za-z]{11}"),
]


def pattern(expected: str) -> re.Pattern[str]:
    """A regex for one shown line: literal, except ids, dates, times and ``…`` (anything)."""
    parts = []
    for piece in re.split(r"…(?:\(secret elided\)…)?", expected.strip()):
        subs: list[str] = []

        def hole(regex: str, subs: list[str] = subs) -> str:
            subs.append(regex)
            return f"\0{len(subs) - 1}\0"

        for rx, regex in _VARIABLE:
            piece = rx.sub(lambda m, regex=regex: hole(regex), piece)
        lit = re.sub(r"(?:\\\s)+", r"\\s+", re.escape(piece))
        parts.append(re.sub(r"\x00(\d+)\x00", lambda m, subs=subs: subs[int(m.group(1))], lit))
    return re.compile(".*".join(parts))


def lines_match(shown: list[str], printed: list[str]) -> bool:
    """Whether ``printed`` is ``shown`` line for line (blank lines aside): each shown line
    matches its printed line whole (``pattern``), and a shown line that is only ``…`` stands
    for any number of printed lines."""
    shown = [ln for ln in shown if ln.strip()]
    printed = [ln.rstrip() for ln in printed if ln.strip()]
    memo: dict = {}

    def match(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(shown):
                memo[i, j] = j == len(printed)
            elif shown[i].strip() == "…":
                memo[i, j] = any(match(i + 1, k) for k in range(j, len(printed) + 1))
            else:
                memo[i, j] = (
                    j < len(printed)
                    and pattern(shown[i]).fullmatch(printed[j].strip()) is not None
                    and match(i + 1, j + 1)
                )
        return memo[i, j]

    return match(0, 0)


def run_console(block: Block, workdir: Path) -> None:
    steps = transcript(block.text)
    assert steps, f"README.md:{block.line}: a console block with no $ command"
    script = ["set +e", preamble(block)]
    for n, (command, _) in enumerate(steps):
        script += [f"printf '\\n@@step {n}@@\\n'", command, f"printf '\\n@@status {n} %s@@\\n' $?"]
    master, slave = pty.openpty()
    p = subprocess.Popen(
        ["bash", "-c", "\n".join(script)],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        cwd=workdir,
        env=_env(workdir),
        close_fds=True,
    )
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        raw += chunk
    p.wait(timeout=300)
    os.close(master)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode(errors="replace")).replace("\r\n", "\n")
    for n, (command, shown) in enumerate(steps):
        m = re.search(rf"@@step {n}@@\n(.*?)\n@@status {n} (\d+)@@", out, re.S)
        assert m, f"README.md:{block.line}: `{command}` did not finish\n{out}"
        printed, status = m.group(1).splitlines(), int(m.group(2))
        where = f"README.md:{block.line}: `{command}`"
        assert status == 0, f"{where} exited {status}\n" + "\n".join(printed)
        assert lines_match(shown, printed), (
            f"{where}: shown\n  " + "\n  ".join(shown) + "\nprinted\n  " + "\n  ".join(printed)
        )


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"line{b.line}-{b.lang}" for b in RUNNABLE])
def test_readme_example(block: Block, workdir: Path) -> None:
    if block.skip is not None:
        # not run here; the reason is in the README (checked by the test below)
        assert len(block.skip.split()) >= 4
        return
    {"python": run_python, "bash": run_shell, "sh": run_shell, "console": run_console}[block.lang](
        block, workdir
    )


def test_the_readme_runs_its_examples_and_explains_the_few_it_does_not():
    skipped = [b for b in RUNNABLE if b.skip is not None]
    # A block that another test runs in its own setting (a Django project) names that test;
    # the others are the few that cannot run anywhere in `make test`.
    delegated = [b for b in skipped if re.search(r"tests/\S+\.py", b.skip)]
    for b in delegated:
        test = ROOT / re.search(r"tests/\S+\.py", b.skip).group(0)
        assert test.exists(), f"README.md:{b.line}: {test} does not exist"
    assert len(RUNNABLE) >= 8 and len(skipped) - len(delegated) <= 4, [
        (b.line, b.skip) for b in skipped
    ]
    for b in skipped:
        assert len(b.skip.split()) >= 4, f"README.md:{b.line}: say why it is not run"
    # a marker always sits right above a block it explains
    text = README.read_text().splitlines()
    for i, line in enumerate(text):
        if line.startswith("<!-- test:"):
            assert SKIP.match(line) and text[i + 1].startswith("```"), f"README.md:{i + 1}: {line}"


def test_the_runner_matches_ids_and_dates_loosely_and_everything_else_exactly():
    shown = "Created token 'ci' (id 1fbEssbDpxW), expires 2026-12-28 05:15 UTC (in 30 days)."
    assert pattern(shown).search(
        "Created token 'ci' (id 9QbEssbDpxz), expires 2027-01-01 16:04 UTC (in 30 days)."
    )
    assert not pattern(shown).search(
        "Created token 'ci' (id 9QbEssbDpxz), expires 2027-01-01 16:04 UTC (in 29 days)."
    )
    assert pattern("tk_…(secret elided)…").search("tk_" + "a" * 60)
    # line for line: a printed line the README does not show fails, and so does a missing one
    shown = ["Created token 'x' (id 1fbEssbDpxW).", "tk_…"]
    assert lines_match(shown, ["Created token 'x' (id 9QbEssbDpxz).", "", "tk_abc"])
    assert not lines_match(shown, ["Created token 'x' (id 9QbEssbDpxz).", "Copy it.", "tk_abc"])
    assert not lines_match(shown, ["Created token 'x' (id 9QbEssbDpxz)."])
    assert not lines_match(["Name  x"], ["Name  x (and more)"])  # whole lines
    assert lines_match(["a", "…", "z"], ["a", "b", "c", "z"])
    assert transcript("$ cat > f <<'EOF'\n> a\n> EOF\nout\n$ ls\n") == [
        ("cat > f <<'EOF'\na\nEOF", ["out"]),
        ("ls", []),
    ]


def test_doctest_blocks_run_with_a_store_and_fail_when_wrong(workdir):
    end = len(README.read_text().splitlines()) + 1  # after every block: the venv is active
    good = Block(
        "python", '>>> store.create("alice", "x", {"device"}).info.name\n\'x\'\n', end, None
    )
    run_python(good, workdir)
    bad = Block("python", ">>> 1 + 1\n3\n", end, None)
    with pytest.raises(AssertionError):
        run_python(bad, workdir)

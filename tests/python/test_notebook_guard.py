"""tokenkeep.jupyter.guard() in a real kernel (nbclient runs the notebook, nbformat saves it):
no token reaches a saved .ipynb through any kind of output; the same notebook without the
guard saves every one of them (the control). And `tokenkeep leak notebook.ipynb` (issue 21,
part 5) revokes a token found in an output, saying which cell held it."""

from __future__ import annotations

import json
import re

import nbclient
import nbformat
import pytest
import tokenkeep
from nbformat.v4 import new_code_cell, new_notebook, new_output
from test_cli import tk
from test_notebook import kernel_name  # noqa: F401  (the fixture: this interpreter's kernel)

pytestmark = pytest.mark.server

SHAPE = re.compile(r"tk_[0-9A-Za-z]{60}")

# Every way a cell's output can carry the secret; `secret` is read from a file in the cell.
LEAKS = [
    "print(secret)",  # stdout
    "secret",  # execute_result, text/plain
    "from IPython.display import HTML, display\ndisplay(HTML(f'<b>{secret}</b>'))",
    "display({'text/plain': f'key={secret}', 'application/json': {'k': secret}}, raw=True)",
    "import sys\nfor c in secret: sys.stdout.write(c)",  # one character per write
    "import sys\nprint('Bearer' + secret, file=sys.stderr)",  # glued to a word
    "import logging\nlogging.getLogger('x').warning('token %s', secret)",
    "import subprocess\nsubprocess.run(['echo', secret])",  # the kernel's fd 1, not sys.stdout
    "h = display(f'v1 {secret[:8]}', display_id=True)\nh.update(f'v2 {secret}')",
    "raise ValueError(f'bad token {secret}')",  # the error's message and traceback
]


def _notebook(secret_file: str, guarded: bool) -> nbformat.NotebookNode:
    head = f"secret = open({secret_file!r}).read()\nimport tokenkeep.jupyter\n"
    if guarded:
        head += "tokenkeep.jupyter.guard()\n"
    return new_notebook(cells=[new_code_cell(head), *(new_code_cell(c) for c in LEAKS)])


def _run_and_save(nb, kernel, tmp_path, name: str) -> str:
    nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path.read_text()


def test_guard_keeps_every_token_out_of_a_saved_notebook(kernel_name, tmp_path):  # noqa: F811
    with tokenkeep.TokenStore(str(tmp_path / "tokens.db")) as store:
        secret = store.create("alice", "nb", {"device:read"}).secret
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret)

    control = _run_and_save(_notebook(str(secret_file), False), kernel_name, tmp_path, "c.ipynb")
    leaked_cells = [
        i for i, c in enumerate(json.loads(control)["cells"][1:]) if secret in json.dumps(c)
    ]
    assert leaked_cells == list(range(len(LEAKS)))  # unguarded, every cell leaks it

    saved = _run_and_save(_notebook(str(secret_file), True), kernel_name, tmp_path, "g.ipynb")
    assert secret not in saved
    assert SHAPE.findall(saved) == []
    assert secret[3:20] not in saved  # not even the secret's body (the one-character writes)
    cells = json.loads(saved)["cells"]
    masked = [i for i, c in enumerate(cells[1:]) if "tk_[masked by tokenkeep]" in json.dumps(c)]
    assert masked == list(range(len(LEAKS)))  # each output still shows where a token was
    assert "masking tk_ tokens in this notebook's outputs" in json.dumps(cells[0])
    notices = [
        i for i, c in enumerate(cells[1:]) if "masked in this cell's output" in json.dumps(c)
    ]
    assert len(notices) >= len(LEAKS) - 1  # the subprocess's output may land after the notice
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "ValueError"


def _leaky_notebook(secrets: list[str]) -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_code_cell("x = 1"),
            new_code_cell(
                "print(token)",
                outputs=[new_output("stream", name="stdout", text=f"hello\n{secrets[0]}\n")],
            ),
            new_code_cell(
                "boom()",
                outputs=[
                    new_output(
                        "error",
                        ename="RuntimeError",
                        evalue="failed",
                        traceback=[
                            "\x1b[0;31mRuntimeError\x1b[0m: failed",
                            f"\x1b[0;32m{secrets[1]}\x1b[0m",  # colour codes glued to it
                        ],
                    )
                ],
            ),
            new_code_cell(
                "show()",
                outputs=[
                    new_output("display_data", data={"text/html": f"<pre>key: {secrets[2]}</pre>"})
                ],
            ),
        ]
    )


def test_leak_reads_a_notebook_cell_by_cell_and_revokes_tokens_in_outputs(tmp_path):
    db = str(tmp_path / "tokens.db")
    with tokenkeep.TokenStore(db) as store:
        issued = [store.create("alice", f"t{i}", {"device:read"}) for i in range(3)]
        path = tmp_path / "analysis.ipynb"
        nbformat.write(_leaky_notebook([t.secret for t in issued]), str(path))
        # The raw JSON hides the traceback's token behind its colour code ("32mtk_..."):
        raw = store.scan_leaked(path.read_bytes(), dry_run=True)
        assert issued[1].info.id not in {f.token_id for f in raw.findings}
    r = tk(db, "leak", str(path))
    assert r.code == 0, r.err
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [(row[0], row[1], row[3]) for row in rows] == [
        ("revoked", issued[0].info.id, "cell 2 output 1 (stream stdout), line 2"),
        ("revoked", issued[1].info.id, "cell 3 output 1 (error), line 4"),
        ("revoked", issued[2].info.id, "cell 4 output 1 (text/html), line 1"),
    ]
    with tokenkeep.TokenStore(db) as store:
        assert [store.check(t.secret) for t in issued] == [False, False, False]
        details = sorted(e.detail for e in store.audit(limit=20) if e.action == "leaked")
        assert details == sorted(
            f"{path} {where}"
            for where in (
                "cell 2 output 1 (stream stdout), line 2",
                "cell 3 output 1 (error), line 4",
                "cell 4 output 1 (text/html), line 1",
            )
        )
    assert all(t.secret not in r.out + r.err for t in issued)


def test_leak_json_names_the_cell_and_a_broken_notebook_is_scanned_as_text(tmp_path):
    db = str(tmp_path / "tokens.db")
    with tokenkeep.TokenStore(db) as store:
        a, b = (store.create("alice", f"t{i}", {"device:read"}) for i in range(2))
    good = tmp_path / "a.ipynb"
    nbformat.write(_leaky_notebook([a.secret, "x", "y"]), str(good))
    r = tk(db, "--json", "leak", "--dry-run", str(good))
    assert r.code == 0, r.err
    (finding,) = json.loads(r.out)["findings"]
    assert (
        finding["token_id"] == a.info.id and finding["where"] == "cell 2 output 1 (stream stdout)"
    )
    broken = tmp_path / "b.ipynb"
    broken.write_text('{"cells": [ {"source": "' + b.secret + '"')  # cut short
    r = tk(db, "leak", str(broken))
    assert r.code == 0 and "is not a notebook" in r.err and "scanning it as text" in r.err
    assert r.out.split("\t")[:2] == ["revoked", b.info.id]


def test_what_the_guard_masks_and_holds_back_between_writes():
    from tokenkeep.notebook_guard import _held_back, mask_tokens, token_pattern

    body = "A1" * 30
    pattern = token_pattern(["tk", "acme"])
    text = f"x tk_{body} Bearertk_{body}y acme_{body} tk_{body[:59]} tk_{body}"
    masked, n = mask_tokens(text, pattern)
    assert n == 4 and body not in masked and f"tk_{body[:59]}" in masked  # 59: not a token
    assert masked.count("[masked by tokenkeep]") == 4 and "acme_[masked" in masked
    prefixes = ("tk",)
    assert _held_back("print t", prefixes) == 1 and _held_back("x tk", prefixes) == 2
    assert _held_back(f"x tk_{body[:10]}", prefixes) == 13
    assert _held_back(f"x tk_{body}", prefixes) == 0  # whole: masked at once
    assert _held_back(f"tk_{body[:10]} done", prefixes) == 0

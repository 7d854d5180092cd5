"""notebooks/admin.ipynb runs top to bottom, unattended, without a cell error."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import ipykernel  # noqa: F401  (the [jupyter] extra installs all of these: missing = a failure)
import matplotlib  # noqa: F401
import nbclient
import nbformat
import pandas  # noqa: F401
import pytest
import tokenkeep

pytestmark = pytest.mark.server

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "admin.ipynb"
KERNEL = "tokenkeep-test-python"


@pytest.fixture
def kernel_name(tmp_path, monkeypatch) -> str:
    """A kernel spec that runs *this* interpreter (the venv with tokenkeep installed), found
    first on JUPYTER_PATH, so no kernel installed elsewhere on the machine is picked."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "tokenkeep test",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("TOKENKEEP_DB", raising=False)
    return KERNEL


def test_admin_notebook_runs_top_to_bottom(kernel_name, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<th>Name</th>" in h and "ci-deploy" in h for h in html), "token list table missing"
    assert any("<th>Action</th>" in h and "revoke" in h for h in html), "audit table missing"
    assert any("&lt;script&gt;" in h for h in html) and not any("<script>alert" in h for h in html)
    assert any("image/png" in o.get("data", {}) for o in outputs), "chart missing"
    # every owner from store.list(all_owners=True), expiring rows highlighted in the DataFrame
    styled = [h for h in html if "fde2e1" in h]
    assert styled and all(o in styled[0] for o in ("alice", "bob", "carol")), "owner table missing"
    source = "".join("".join(c.source) for c in nb.cells if c.cell_type == "code")
    assert "all_owners=True" in source and '"alice", "bob"' not in source
    text = "".join(o.get("text", "") for o in outputs) + "".join(
        o.get("data", {}).get("text/plain", "") for o in outputs
    )
    assert "RevokedToken" in text and "policy:write -> False" in text
    assert "secret=<hidden>" in text
    assert not re.search(r"tk_[A-Za-z0-9]{40,}", text + "".join(html)), "a secret was displayed"
    # issue 22: leaks and unused scopes, the CLI's output under its command, no store of yours
    assert re.search(r"^revoked \w{11} alice/ci-deploy line 1$", text, re.M), text
    assert re.search(r"^ci-deploy +used \['device:read'\], unused \[", text, re.M)
    assert "$ tokenkeep --owner alice list\n" in text
    assert "$ tokenkeep expiring --within 3d --all-owners\n" in text
    assert "TOKENKEEP_DB is not set" in text


def _run(nb, kernel_name, tmp_path):
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    return "".join(o.get("text", "") for o in outputs) + "".join(
        o.get("data", {}).get("text/plain", "") + o.get("data", {}).get("text/html", "")
        for o in outputs
    )


def test_the_notebook_looks_at_your_store_read_only(kernel_name, tmp_path, monkeypatch):
    """With TOKENKEEP_DB set, section 9 shows that store's tokens, leak notices and
    over-privileged tokens, and leaves it exactly as it was."""
    db = str(tmp_path / "mine.db")
    with tokenkeep.TokenStore(db) as mine:
        kept = mine.create("dora", "dora-deploy", {"device", "policy"})
        mine.verify(kept.secret, "device:read")
        leaked = mine.create("dora", "dora-old", {"device:read"})
        mine.revoke_leaked(f"Authorization: Bearer {leaked.secret}", source="chat")
        before = (mine.list(all_owners=True, state="all"), mine.audit(limit=1000))
    monkeypatch.setenv("TOKENKEEP_DB", db)
    text = _run(nbformat.read(NOTEBOOK, as_version=4), kernel_name, tmp_path)
    assert "1 live tokens" in text
    assert "leaked: dora dora-old" in text
    assert "over-privileged: dora/dora-deploy unused ['device:write', 'policy']" in text
    assert "dora-deploy" in text
    with tokenkeep.TokenStore(db) as mine:
        assert (mine.list(all_owners=True, state="all"), mine.audit(limit=1000)) == before

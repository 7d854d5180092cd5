"""Smoke test of an installed wheel: run by check_wheel.sh with libsodium hidden.

    smoke.py SOURCE_TREE

Fails (non-zero exit, one line saying why) unless tokenkeep is imported from outside
SOURCE_TREE, its version agrees everywhere, and a token goes through create, verify, revoke.
"""

import importlib.metadata
import os
import subprocess
import sys
import tempfile

source_tree = os.path.realpath(sys.argv[1])

import tokenkeep  # noqa: E402
from tokenkeep import _core  # noqa: E402

for module in (tokenkeep, _core):
    where = os.path.realpath(module.__file__)
    if where.startswith(source_tree + os.sep):
        sys.exit(f"{module.__name__} was imported from the source tree: {where}")
print(f"ok: tokenkeep imported from {os.path.dirname(os.path.realpath(tokenkeep.__file__))}")

metadata_version = importlib.metadata.version("tokenkeep")
if metadata_version != tokenkeep.__version__:
    sys.exit(
        f"metadata says {metadata_version}, tokenkeep.__version__ says {tokenkeep.__version__}"
    )
cli = os.path.join(os.path.dirname(sys.executable), "tokenkeep")
shown = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True).stdout
if tokenkeep.__version__ not in shown:
    sys.exit(f"tokenkeep --version printed {shown!r}, not {tokenkeep.__version__}")
print(f"ok: version {tokenkeep.__version__} (metadata, __version__, tokenkeep --version)")

with tempfile.TemporaryDirectory() as tmp, tokenkeep.TokenStore(os.path.join(tmp, "t.db")) as store:
    issued = store.create(owner="alice", name="smoke", scopes={"device"})
    info = store.verify(issued.secret, "device:read")
    if info.id != issued.info.id:
        sys.exit("verify returned another token")
    store.revoke("alice", issued.info.id, actor="alice")
    try:
        store.verify(issued.secret, "device:read")
    except tokenkeep.RevokedToken:
        pass
    else:
        sys.exit("a revoked token still verified")
print("ok: create, verify, revoke with the wheel's statically linked libsodium")

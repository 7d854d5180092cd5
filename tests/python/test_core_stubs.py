"""python/tokenkeep/_core.pyi must describe the native module that is actually built."""

from __future__ import annotations

import ast
import os

from tokenkeep import _core

PYI = os.path.join(os.path.dirname(_core.__file__), "_core.pyi")
if not os.path.exists(PYI):  # editable installs keep the .pyi beside the sources
    PYI = os.path.join(os.path.dirname(__file__), "..", "..", "python", "tokenkeep", "_core.pyi")


def stub_names():
    with open(PYI) as f:
        tree = ast.parse(f.read())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            members[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | {
                n.target.id
                for n in node.body
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
            }  # methods, properties, and an enum's members
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top.add(node.target.id)
    return top, members


def test_every_native_name_is_in_the_stub_and_back():
    top, members = stub_names()
    native = {n for n in dir(_core) if not n.startswith("_")}
    aliases = {"RecordTuple", "AuditTuple"}
    assert native == top - aliases
    for cls, names in members.items():
        public = {n for n in vars(getattr(_core, cls)) if not n.startswith("_")}
        assert {n for n in names if not n.startswith("_")} == public, cls

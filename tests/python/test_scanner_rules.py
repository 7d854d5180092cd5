"""Scanner rules (tokenkeep.scanner_rules): each rendering run over the mixed leak text finds
what the engine's own scan finds. detect-secrets runs for real with the generated plugin (its
checksum check included); gitleaks and trufflehog are not installable here (neither Debian 12
nor PyPI ships them), so their files are parsed and their pattern applied with Python's re,
which reads that pattern (ASCII \\b, a class, a count) as RE2 does."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib

import pytest
import yaml
from leak_corpus import bad_checksum, make_world, one_char_changed
from tokenkeep.errors import InvalidArgument
from tokenkeep.scanner_rules import CHECKSUM_RULE, FORMATS, render, token_regex

DETECT_SECRETS = os.path.join(os.path.dirname(sys.executable), "detect-secrets")  # test extra


@pytest.fixture
def world(tmp_path):
    store, t, text, clock = make_world(tmp_path)
    # What the engine calls a token: every well-formed string, whatever the store says of it.
    raw, width = text.encode(), len(t["log"].secret)
    found = store.scan_leaked(text, dry_run=True).findings
    engine_found = [raw[f.offset : f.offset + width].decode() for f in found]
    yield store, t, text, engine_found
    store.close()


def pattern_matches(pattern: str, text: str):
    return re.findall(pattern, text, re.ASCII)


def test_regex_finds_the_token_shape_and_the_checksum_rule_is_stated(world):
    store, t, text, engine_found = world
    out = render(store.prefix, "regex")
    assert CHECKSUM_RULE in out
    pattern = [line for line in out.splitlines() if not line.startswith("#")][-1]
    assert pattern == token_regex("tk")
    found = pattern_matches(pattern, text)
    near = t["near"].secret
    # The shape alone: the engine's tokens plus the two look-alikes only a checksum rejects;
    # never the glued, truncated or foreign-prefix strings.
    look_alikes = {bad_checksum(near), one_char_changed(near)}
    assert sorted(set(found)) == sorted(set(engine_found) | look_alikes)
    assert near not in found


def test_gitleaks_config_parses_and_its_rule_matches_like_the_regex(world):
    store, _, text, engine_found = world
    config = tomllib.loads(render(store.prefix, "gitleaks"))
    assert config["extend"] == {"useDefault": True}
    (rule,) = config["rules"]
    assert rule["id"] == "tokenkeep-tk" and rule["keywords"] == ["tk_"]
    assert rule["regex"] == token_regex("tk")
    assert set(engine_found) <= set(pattern_matches(rule["regex"], text))
    assert all(k in text for k in rule["keywords"])


def test_trufflehog_detector_parses_and_its_pattern_matches_like_the_regex(world):
    store, _, text, engine_found = world
    config = yaml.safe_load(render(store.prefix, "trufflehog"))
    (detector,) = config["detectors"]
    assert detector["name"] == "tokenkeep-tk" and detector["keywords"] == ["tk_"]
    assert detector["regex"]["token"] == token_regex("tk")
    assert set(engine_found) <= set(pattern_matches(detector["regex"]["token"], text))


@pytest.mark.slow
def test_detect_secrets_with_the_plugin_reports_exactly_the_well_formed_tokens(world, tmp_path):
    store, t, text, engine_found = world
    plugin = tmp_path / "tokenkeep_plugin.py"
    plugin.write_text(render(store.prefix, "detect-secrets"))
    leaked = tmp_path / "incident.txt"
    leaked.write_text(text)
    run = subprocess.run(
        [DETECT_SECRETS, "scan", "--plugin", str(plugin), leaked.name],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    results = json.loads(run.stdout)["results"][leaked.name]  # keyed by the path as given
    ours = [r for r in results if r["type"] == "tokenkeep token (tk)"]

    def sha1(s: str) -> str:  # detect-secrets' hashed_secret
        return hashlib.sha1(s.encode()).hexdigest()

    assert sorted(r["hashed_secret"] for r in ours) == sorted({sha1(s) for s in engine_found})
    lines = {r["hashed_secret"]: r["line_number"] for r in ours}
    assert lines[sha1(t["log"].secret)] == 1 and lines[sha1(t["url"].secret)] == 10
    for look_alike in (bad_checksum(t["near"].secret), one_char_changed(t["near"].secret)):
        assert sha1(look_alike) not in lines  # the plugin checks the checksum
    assert t["log"].secret not in run.stdout + run.stderr  # detect-secrets stores hashes only


def test_every_format_names_the_prefix_and_an_unknown_one_is_refused(world):
    store = world[0]
    for fmt in FORMATS:
        assert "tk_" in render(store.prefix, fmt)
    with pytest.raises(InvalidArgument):
        render(store.prefix, "snort")

#!/usr/bin/env bash
# The wheel stands on its own: installed into a fresh venv outside the source tree, it imports,
# creates, verifies and revokes a token with libsodium hidden from the loader.
#   check_wheel.sh DIST_DIR PYTHON
# Prints one line per check; exit status 1 on the first failure. Needs root (unshare -m).
set -euo pipefail
dist=$(cd "$1" && pwd) python=$(realpath -s "$2")
here=$(cd "$(dirname "$0")" && pwd)
wheel=$(ls "$dist"/tokenkeep-*.whl)
# (check_wheel.sh on a wheel built with TOKENKEEP_SODIUM_STATIC=OFF fails at step 1.)
work=$(mktemp -d /tmp/tokenkeep-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. The extension's dynamic section: SQLite needed, libsodium not, no sodium_* exported.
mkdir "$work/unpacked"
"$python" -m zipfile -e "$wheel" "$work/unpacked"
module=$(ls "$work"/unpacked/tokenkeep/_core*.so)
needed=$(readelf -d "$module" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "extension NEEDED: $needed"
grep -q 'libsqlite3\.so' <<<"$needed" || fail "the extension does not link the system SQLite"
grep -q 'libsodium' <<<"$needed" && fail "the extension still needs libsodium"
exported=$(readelf --dyn-syms -W "$module" | awk '$5 != "LOCAL" && $7 != "UND" {print $8}' | grep -c '^sodium_' || true)
[ "$exported" = 0 ] || fail "the extension exports $exported sodium_* symbols"
echo "ok: libsodium linked in, not needed, not exported"

# 2. A fresh venv outside the tree, the wheel and its dependencies from the index.
base_python=$("$python" -c 'import sys; print(sys.base_prefix)')/bin/python3
"$base_python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel"
echo "ok: installed $(basename "$wheel") into $work/venv"

# 3. Inside a mount namespace where libsodium.so.23 is an empty file.
sodium=$(readlink -f "$(ldconfig -p | sed -n 's/.*libsodium\.so\.23 .*=> //p' | head -1)")
[ -f "$sodium" ] || fail "no libsodium.so.23 on this machine to hide (the test would prove nothing)"
cd "$work"
unshare -m bash -euo pipefail -c '
  mount --bind /dev/null "$1"
  "$2/venv/bin/python" -c "
import ctypes, sys
try:
    ctypes.CDLL(\"libsodium.so.23\")
except OSError:
    sys.exit(0)
sys.exit(\"libsodium.so.23 is still loadable: nothing is hidden\")"
  echo "ok: libsodium.so.23 hidden from the loader ($1 is empty)"
  "$2/venv/bin/python" "$3/smoke.py" "$4"
' hide "$sodium" "$work" "$here" "$(cd "$here/../.." && pwd)"

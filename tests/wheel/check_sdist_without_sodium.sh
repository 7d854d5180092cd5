#!/usr/bin/env bash
# On a machine without libsodium's development files, building the sdist stops at CMake's
# configure step with one line naming the Debian package to install.
#   check_sdist_without_sodium.sh DIST_DIR PYTHON
# libsodium-dev's files (sodium.h, sodium/, libsodium.pc, libsodium.a, libsodium.so) are hidden
# in a mount namespace: each is covered by an empty file or directory. Needs root (unshare -m).
set -euo pipefail
dist=$(cd "$1" && pwd) python=$(realpath -s "$2")
sdist=$(ls "$dist"/tokenkeep-*.tar.gz)
work=$(mktemp -d /tmp/tokenkeep-sdist.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

hidden=$(dpkg -L libsodium-dev | while read -r f; do [ -f "$f" ] || [ -L "$f" ] && echo "$f"; done \
  | grep -E '/sodium\.h$|\.pc$|\.a$|\.so$' | tr '\n' ' ')
[ -n "$hidden" ] || fail "libsodium-dev is not installed here (the test would prove nothing)"
mkdir "$work/empty" "$work/out"
set +e
unshare -m bash -c '
  work=$1 python=$2 sdist=$3; shift 3
  mount --bind "$work/empty" /usr/include/sodium || exit 90
  for f in "$@"; do mount --bind /dev/null "$(readlink -f "$f")" || exit 90; done
  cd "$work" && "$python" -m pip wheel --no-build-isolation --no-deps -w "$work/out" "$sdist"
' hide "$work" "$python" "$sdist" $hidden >"$work/log" 2>&1
rc=$?
set -e
[ "$rc" != 90 ] || fail "could not hide libsodium-dev's files: $(cat "$work/log")"
[ "$rc" != 0 ] || fail "the sdist built without libsodium's headers"
lines=$(grep -c 'libsodium' "$work/log" || true)
message=$(grep 'libsodium' "$work/log" || true)
expected="libsodium not found: install the Debian package libsodium-dev"
if [ "$lines" != 1 ] || ! grep -qF "$expected" <<<"$message"; then
  cat "$work/log" >&2
  fail "expected one line naming libsodium-dev, got $lines lines mentioning libsodium"
fi
echo "ok: sdist without libsodium-dev fails with: $(sed 's/^ *//' <<<"$message")"

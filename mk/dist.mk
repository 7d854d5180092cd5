# Distribution (issue 13): an sdist and a wheel whose extension carries libsodium statically.
#   make dist        dist/tokenkeep-X.Y.Z.tar.gz and dist/tokenkeep-X.Y.Z-<tag>.whl
#   make test-wheel  the wheel installed into a fresh venv outside the tree, run with
#                    libsodium hidden from the loader; the sdist refused on a machine without
#                    libsodium's headers (one line naming the Debian package). Part of `make test`.
# The wheel is built in the editable install's own build tree (build/<wheel tag>): the engine's
# objects do not depend on how libsodium is linked, so a dist build after `make install` only
# relinks the module (and `make install` relinks it back, TOKENKEEP_SODIUM_STATIC=OFF).
DIST := dist
EXTRA_TESTS += test-wheel

.PHONY: dist test-wheel

dist: apt venv
	@rm -rf $(DIST) && mkdir -p $(DIST)
	$(PY) -m build --sdist --no-isolation --outdir $(DIST) . >$(DIST)/sdist.log 2>&1 || { cat $(DIST)/sdist.log; exit 1; }
	$(PY) -m build --wheel --no-isolation --outdir $(DIST) -C cmake.define.TOKENKEEP_SODIUM_STATIC=ON . \
	  >$(DIST)/wheel.log 2>&1 || { cat $(DIST)/wheel.log; exit 1; }
	@ls -1 $(DIST)/*.tar.gz $(DIST)/*.whl

test-wheel: dist
	tests/wheel/check_wheel.sh $(DIST) $(PY)
	tests/wheel/check_sdist_without_sodium.sh $(DIST) $(PY)

"""The one place tokenkeep's version is written.

pyproject.toml reads it (scikit-build-core's regex provider) and so does CMakeLists.txt; keep the
line in exactly this form: __version__ = "X.Y.Z".
"""

__version__ = "0.1.0"

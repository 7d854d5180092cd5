"""The version is written once (python/tokenkeep/_version.py) and read everywhere."""

import importlib.metadata
import re
from pathlib import Path

import tokenkeep

ROOT = Path(__file__).resolve().parents[2]


def test_version_agrees_with_the_installed_metadata():
    assert importlib.metadata.version("tokenkeep") == tokenkeep.__version__


def test_version_is_read_by_pyproject_and_cmake_not_written_again():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'input = "python/tokenkeep/_version.py"' in pyproject
    assert not re.search(r"(?m)^version\s*=", pyproject)
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert "project(tokenkeep LANGUAGES CXX VERSION ${TOKENKEEP_VERSION})" in cmake
    written = re.findall(
        r'(?m)^__version__ = "(\d+\.\d+\.\d+)"$',
        (ROOT / "python/tokenkeep/_version.py").read_text(),
    )
    assert written == [tokenkeep.__version__]

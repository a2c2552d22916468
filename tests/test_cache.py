"""The JIT cache works where users install: a second process loads kernels instead of compiling."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastlr

FIT_AND_REPORT = """
import json
import fastlr
from fastlr import _kernels as kernels
X, y, _ = fastlr.make_regression(500, 3, random_state=0)
fastlr.LinearRegression(learning_rate=0.5, max_iter=3, tol=None, solver="fused").fit(X, y)
stats = kernels.fused_pass_serial.stats
print(json.dumps({"file": fastlr.__file__, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def fit_in_fresh_process(package_parent: Path, **env: str) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(package_parent), **env}
    environment.pop("NUMBA_CACHE_DIR", None)
    environment.update(env)
    result = subprocess.run(  # cwd: python -c puts the working directory first on sys.path
        [sys.executable, "-c", FIT_AND_REPORT],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        cwd=package_parent.parent,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def installed(tmp_path):
    """A copy of the package, laid out as an installer would, with no cache yet."""
    site_packages = tmp_path / "site-packages"
    shutil.copytree(
        Path(fastlr.__file__).parent,
        site_packages / "fastlr",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return site_packages


@pytest.mark.slow
def test_unwritable_package_directory_falls_back_to_the_user_cache(tmp_path, installed):
    # numba caches beside the source in __pycache__; a plain file there makes that unusable,
    # as a read-only install would (chmod cannot stop root, which CI runs as).
    (installed / "fastlr" / "__pycache__").write_text("not a directory")
    user_cache = tmp_path / "user-cache"
    first = fit_in_fresh_process(installed, XDG_CACHE_HOME=str(user_cache))
    second = fit_in_fresh_process(installed, XDG_CACHE_HOME=str(user_cache))
    assert first["file"].startswith(str(installed))
    assert (first["hits"], first["misses"]) == (0, 1)  # compiled, and saved ...
    assert (second["hits"], second["misses"]) == (1, 0)  # ... where the next process finds it
    assert any(user_cache.rglob("*.nbi"))


@pytest.mark.slow
def test_numba_cache_dir_chooses_the_location(tmp_path, installed):
    chosen = tmp_path / "chosen"
    first = fit_in_fresh_process(installed, NUMBA_CACHE_DIR=str(chosen))
    second = fit_in_fresh_process(installed, NUMBA_CACHE_DIR=str(chosen))
    assert first["file"].startswith(str(installed))
    assert (second["hits"], second["misses"]) == (1, 0)
    assert any(chosen.rglob("*.nbi"))
    assert not (installed / "fastlr" / "__pycache__").exists() or not any(
        (installed / "fastlr" / "__pycache__").glob("*.nbi")
    )

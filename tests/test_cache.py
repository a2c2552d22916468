"""The JIT cache works where users install: a second process loads kernels instead of compiling."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import pytest

import fastlr

FIT_AND_REPORT = """
import json
import fastlr
from fastlr import kernels
X, y, _ = fastlr.make_regression(500, 3, random_state=0)
fastlr.LinearRegression(learning_rate=0.5, max_iter=3, tol=None, solver="fused").fit(X, y)
stats = kernels.row_passes(X.dtype, X.shape[1]).pass_serial.stats  # the kernel the fit ran
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


def jit_files(folder: Path) -> list[Path]:
    return [*folder.rglob("*.nbi"), *folder.rglob("*.nbc")]


@pytest.mark.slow
@pytest.mark.packaging
def test_kernels_are_cached_per_user_and_never_inside_the_package(tmp_path, installed):
    user_cache = tmp_path / "user-cache"
    first = fit_in_fresh_process(installed, XDG_CACHE_HOME=str(user_cache))
    second = fit_in_fresh_process(installed, XDG_CACHE_HOME=str(user_cache))
    assert first["file"].startswith(str(installed))
    assert (first["hits"], first["misses"]) == (0, 1)  # compiled, and saved ...
    assert (second["hits"], second["misses"]) == (1, 0)  # ... where the next process finds it
    assert not jit_files(installed)  # nothing an uninstaller would leave behind
    (version_folder,) = (user_cache / "fastlr" / "jit").iterdir()
    assert version_folder.name.startswith(f"fastlr{fastlr.__version__}-numba{numba.__version__}-")
    assert jit_files(version_folder)


@pytest.mark.slow
@pytest.mark.packaging
def test_an_unwritable_user_cache_falls_back_to_the_temporary_directory(tmp_path, installed):
    # chmod cannot stop root (CI runs as root): a plain file where the folder would go can.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {"XDG_CACHE_HOME": str(blocked), "TMPDIR": str(temporary)}
    first = fit_in_fresh_process(installed, **env)
    second = fit_in_fresh_process(installed, **env)
    assert (first["misses"], second["hits"]) == (1, 1)
    assert not jit_files(installed)
    assert jit_files(temporary)


@pytest.mark.slow
@pytest.mark.packaging
def test_numba_cache_dir_chooses_the_location(tmp_path, installed):
    chosen = tmp_path / "chosen"
    user_cache = tmp_path / "user-cache"
    env = {"NUMBA_CACHE_DIR": str(chosen), "XDG_CACHE_HOME": str(user_cache)}
    first = fit_in_fresh_process(installed, **env)
    second = fit_in_fresh_process(installed, **env)
    assert first["file"].startswith(str(installed))
    assert (second["hits"], second["misses"]) == (1, 0)
    assert jit_files(chosen)
    assert not jit_files(installed)
    assert not user_cache.exists()


def run_cache_command(package_parent: Path, args: list[str], **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    result = subprocess.run(
        [sys.executable, "-m", "fastlr", "cache", *args],
        env={**environment, "PYTHONPATH": str(package_parent), **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=package_parent.parent,
    )
    return result.stdout


@pytest.mark.slow
@pytest.mark.packaging
def test_fastlr_cache_shows_the_folder_and_clear_removes_it(tmp_path, installed):
    user_cache = tmp_path / "user-cache"
    fit_in_fresh_process(installed, XDG_CACHE_HOME=str(user_cache))
    shown = run_cache_command(installed, [], XDG_CACHE_HOME=str(user_cache))
    folder = Path(shown.splitlines()[0])
    assert folder.is_relative_to(user_cache / "fastlr" / "jit")
    n_files = int(shown.splitlines()[1].split()[0])
    assert n_files == len([p for p in folder.rglob("*") if p.is_file()]) > 0
    cleared = run_cache_command(installed, ["--clear"], XDG_CACHE_HOME=str(user_cache))
    assert cleared.splitlines() == [f"removed {user_cache / 'fastlr' / 'jit'}"]
    assert not (user_cache / "fastlr" / "jit").exists()
    again = run_cache_command(installed, ["--clear"], XDG_CACHE_HOME=str(user_cache))
    assert again.startswith("nothing to remove")


def test_editing_any_module_starts_a_fresh_cache_folder(tmp_path, monkeypatch):
    # numba checks a cached kernel against its own file only: the functional kernels, which
    # inline the fused pass of another module, kept the old bits after an edit of that module.
    from fastlr.kernels import cache as _jitcache

    (tmp_path / "kernels").mkdir()
    for name in ("kernels/passes.py", "kernels/functional.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(_jitcache, "PACKAGE_DIR", tmp_path)
    stamp = _jitcache._sources_stamp.__wrapped__
    before = stamp()
    assert stamp() == before
    (tmp_path / "kernels" / "passes.py").write_text("x = 22\n")
    assert stamp() != before
    stale = tmp_path / "cache" / "fastlr_abc-111"
    stale.mkdir(parents=True)
    other_install = tmp_path / "cache" / "fastlr_def-111"
    other_install.mkdir()
    _jitcache._remove_stale_siblings(tmp_path / "cache" / "fastlr_abc-222")
    assert not stale.exists()
    assert other_install.exists()

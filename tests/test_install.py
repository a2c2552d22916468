"""Installing, running, uninstalling and reinstalling leave a working package and nothing behind.

The regression this guards: numba used to write the JIT cache into ``site-packages/fastlr``, so
``pip uninstall`` (or switching to an editable install) left a ``fastlr/`` folder that Python then
imported as an empty namespace package (``fastlr.__version__`` missing, ``fastlr train`` broken).
The test drives the real pip on a copy of the source tree into a fresh virtual environment;
numpy, numba and llvmlite are linked in from this one, so only fastlr itself is installed.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import llvmlite
import numba
import numpy as np
import pytest

import fastlr

SOURCE = Path(fastlr.__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.packaging,
    pytest.mark.skipif(
        not (SOURCE / "pyproject.toml").is_file(), reason="needs fastlr's source tree"
    ),
]

FIT = """
import fastlr
X, y, _ = fastlr.make_regression(300, 3, random_state=0)
fastlr.LinearRegression(max_iter=5, tol=None, solver="fused").fit(X, y)
print(fastlr.__version__, fastlr.__file__)
"""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def venv(tmp_path):
    """A virtual environment without fastlr; this environment's numpy and numba are linked in."""
    folder = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The links live outside site-packages (a .pth file names their folder): pip takes a
    # site-packages that holds nothing but links and what it uninstalls for removable whole.
    dependencies = tmp_path / "dependencies"
    dependencies.mkdir()
    for module in (np, numba, llvmlite):
        package = Path(module.__file__).parent
        for path in package.parent.glob(f"{package.name}*"):
            if path.name == package.name or path.name.endswith(".libs"):
                (dependencies / path.name).symlink_to(path)
    (site_packages / "dependencies.pth").write_text(f"{dependencies}\n")
    return python, site_packages


def test_install_run_uninstall_reinstall_editable_then_regular(tmp_path, venv):
    python, site_packages = venv
    source = tmp_path / "source"  # a copy: the editable install writes its metadata there
    shutil.copytree(
        SOURCE,
        source,
        ignore=shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "dist"),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "-q", "--no-input"]
    installed = site_packages / "fastlr"

    run([*pip, "install", "--no-deps", str(source)], elsewhere, env)
    version, where = run([str(python), "-c", FIT], elsewhere, env).split()
    assert (version, Path(where).parent) == (fastlr.__version__, installed)
    assert not [*installed.rglob("*.nbi"), *installed.rglob("*.nbc")]  # the cache is elsewhere
    assert any((tmp_path / "user-cache" / "fastlr").rglob("*.nbi"))

    run([*pip, "uninstall", "-y", "fastlr"], elsewhere, env)
    assert not installed.exists()  # nothing left to shadow the next install

    run([*pip, "install", "--no-deps", "-e", str(source)], elsewhere, env)
    version, where = run([str(python), "-c", FIT], elsewhere, env).split()
    assert (version, Path(where).parent) == (fastlr.__version__, source / "fastlr")
    assert "usage: fastlr" in run([str(python.parent / "fastlr"), "--help"], elsewhere, env)

    run([*pip, "install", "--no-deps", str(source)], elsewhere, env)  # the other order
    version, where = run([str(python), "-c", FIT], elsewhere, env).split()
    assert (version, Path(where).parent) == (fastlr.__version__, installed)

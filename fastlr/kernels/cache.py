"""Where numba keeps fastlr's compiled kernels: a per-user directory, never inside the package.

Numba's default for ``cache=True`` is ``__pycache__`` beside the source. For an installed package
that is ``site-packages/fastlr/__pycache__``: files no installer owns, so ``pip uninstall`` (and
the uninstall step of every upgrade or switch to an editable install) leaves a ``fastlr/`` folder
behind, which Python then imports as an empty namespace package ahead of the real one.

So fastlr registers one numba cache locator, first in numba's list, that answers for fastlr's own
source files only (every other library keeps numba's defaults):

- ``NUMBA_CACHE_DIR`` set: the locator steps aside and numba's own rule applies (that directory).
- otherwise: :func:`jit_cache_dir`, the user's cache directory (``$XDG_CACHE_HOME/fastlr`` or
  ``~/.cache/fastlr`` on Linux, ``~/Library/Caches/fastlr`` on macOS, ``%LOCALAPPDATA%``
  on Windows), in a folder named for fastlr's version, numba's version, Python's version and the
  CPU the kernels are compiled for, so that an upgrade starts a fresh folder and
  ``fastlr cache --clear`` can remove them all;
- that directory not writable: a folder of the temporary directory, per user;
- neither writable: numba's own list decides (it may then compile on every run).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numba
from llvmlite import binding as llvm
from numba.core import caching as _numba_caching
from numba.core import config as _numba_config
from numba.misc import appdirs as _numba_appdirs

from fastlr._version import __version__

#: The folder of fastlr's source files: the only files (in it and below) this locator answers for.
PACKAGE_DIR = Path(__file__).resolve().parent.parent

# numba's modules are partly typed; the members used here are not in its stubs.
caching: Any = _numba_caching
config: Any = _numba_config
AppDirs: Any = _numba_appdirs.AppDirs
_Locator: Any = caching._CacheLocator
_SourceBacked: Any = caching._SourceFileBackedLocatorMixin
# Newer numba releases name it without the leading underscore.
_CacheImpl: Any = getattr(caching, "CacheImpl", None) or caching._CacheImpl


def _cpu_name() -> str:
    """The CPU the kernels are compiled for (``NUMBA_CPU_NAME`` when the user set one)."""
    return str(config.CPU_NAME or llvm.get_host_cpu_name())


def cache_root() -> Path:
    """The per-user folder that holds every fastlr version's JIT cache."""
    return Path(AppDirs(appname="fastlr", appauthor=False).user_cache_dir) / "jit"


def _folder_name() -> str:
    python = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return f"fastlr{__version__}-numba{numba.__version__}-{python}-{_cpu_name()}"


def _temporary_root() -> Path:
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"fastlr-{user}" / "jit"


def jit_cache_dir() -> Path | None:
    """The folder numba reads and writes fastlr's compiled kernels in, or None when there is none.

    ``NUMBA_CACHE_DIR`` wins when set (numba then keeps fastlr's files in a subfolder of it).

    Examples
    --------
    >>> from fastlr.kernels.cache import jit_cache_dir
    >>> jit_cache_dir() is None or jit_cache_dir().is_absolute()
    True
    """
    if config.CACHE_DIR:
        return Path(config.CACHE_DIR) / _numba_subpath()
    return _writable_dir()


def _numba_subpath() -> str:
    """Numba's name for the folder of fastlr's sources (a hash of their path: installs differ)."""
    return str(_Locator.get_suitable_cache_subpath(str(PACKAGE_DIR / "kernels" / "jit.py")))


def _subpath() -> str:
    """:func:`_numba_subpath` and a stamp of the sources themselves (:func:`_sources_stamp`)."""
    return f"{_numba_subpath()}-{_sources_stamp()}"


@functools.cache
def _sources_stamp() -> str:
    """A hash of the name, size and modification time of every module of the package.

    Numba checks a cached kernel against its own source file only; a kernel of one module that
    inlines another's (the functional kernels inline the fused pass) would keep the old bits
    after an edit of the other. With the stamp in the folder name, editing any module (a
    development install) or installing other files starts a fresh folder.
    """
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        stat = path.stat()
        digest.update(
            f"{path.relative_to(PACKAGE_DIR)}:{stat.st_size}:{stat.st_mtime_ns};".encode()
        )
    return digest.hexdigest()


def _remove_stale_siblings(folder: Path) -> None:
    """Remove the folders of earlier sources at the same path beside ``folder`` (best effort)."""
    prefix = folder.name.rsplit("-", 1)[0] + "-"
    if not folder.parent.is_dir():
        return
    for sibling in folder.parent.iterdir():
        if sibling.name.startswith(prefix) and sibling != folder:
            shutil.rmtree(sibling, ignore_errors=True)


def _can_create(folder: Path) -> bool:
    """Whether ``folder`` exists as a writable directory or could be made (nothing is created:
    numba makes the folder when it first saves a kernel)."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            return False
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


@functools.cache
def _writable_dir() -> Path | None:
    """The first of the user's and the temporary cache folders that can be written (checked
    once per process; :func:`clear` forgets it)."""
    folders = (root / _folder_name() / _subpath() for root in (cache_root(), _temporary_root()))
    chosen = next((folder for folder in folders if _can_create(folder)), None)
    if chosen is not None and not chosen.exists():
        _remove_stale_siblings(chosen)
    return chosen


class FastlrCacheLocator(_SourceBacked, _Locator):  # type: ignore[misc]
    """Numba cache locator for fastlr's own source files (see the module docstring)."""

    def __init__(self, py_func: Any, py_file: str, folder: Path) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = str(folder)

    def get_cache_path(self) -> str:
        return self._cache_path

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> FastlrCacheLocator | None:
        if config.CACHE_DIR or not _is_package_file(py_file):
            return None
        folder = _writable_dir()
        return None if folder is None else cls(py_func, py_file, folder)


@functools.lru_cache(maxsize=64)
def _is_package_file(py_file: str) -> bool:
    """Whether ``py_file`` is one of fastlr's modules (asked once per file, not per kernel: a
    path's ``resolve`` costs a few system calls, and ``import fastlr`` makes ~60 kernels)."""
    return PACKAGE_DIR in Path(py_file).resolve().parents


def install() -> None:
    """Put :class:`FastlrCacheLocator` first in numba's locator list (idempotent)."""
    locators = _CacheImpl._locator_classes
    if FastlrCacheLocator not in locators:
        locators.insert(0, FastlrCacheLocator)


def describe() -> tuple[Path | None, int, int]:
    """The cache folder in use, and the number and total bytes of the files in it."""
    folder = jit_cache_dir()
    files = [p for p in folder.rglob("*") if p.is_file()] if folder and folder.is_dir() else []
    return folder, len(files), sum(p.stat().st_size for p in files)


def clear() -> list[Path]:
    """Remove fastlr's JIT caches: every version's per-user and temporary folders, and fastlr's
    subfolder of ``NUMBA_CACHE_DIR`` when it is set. Returns the folders removed."""
    removed = []
    candidates = [cache_root(), _temporary_root()]
    if config.CACHE_DIR:
        candidates.append(Path(config.CACHE_DIR) / _numba_subpath())
    for folder in candidates:
        if folder.is_dir():
            shutil.rmtree(folder)
            removed.append(folder)
    _writable_dir.cache_clear()
    return removed

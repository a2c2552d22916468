"""Giving back the pages of a file-backed array once a pass has read them.

A file mapped into memory (``np.memmap``, ``np.load(path, mmap_mode="r")``) is read through the
page cache: each page a kernel touches is mapped into the process and counts in its resident
memory (RSS) until it is unmapped, so one pass over a mapped file would grow the process to the
size of the file. ``madvise(MADV_DONTNEED)`` on a shared file mapping unmaps pages without
touching the data: they stay in the page cache (the next pass reads them without disk I/O while
memory lasts; the kernel evicts them when it needs the room) and a later access maps them again.
A pass that releases each block of rows after reading it holds one block, not the file.

Only shared mappings are released (memmap modes ``"r"``, ``"r+"``, ``"w+"``; dirty pages of a
writable one are kept for writing back). A copy-on-write map (``mode="c"``) may hold changes that
exist only in its pages, so it is never released. Arrays in ordinary memory are left alone.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> folder = tempfile.TemporaryDirectory()
>>> path = os.path.join(folder.name, "X.npy")
>>> np.save(path, np.arange(12.0).reshape(6, 2))
>>> X = np.load(path, mmap_mode="r")
>>> float(X[:3].sum())
15.0
>>> release(X, 0, 3)  # rows 0-2 leave the process; X still reads them
>>> float(X[:3].sum())
15.0
>>> release(np.ones((6, 2)), 0, 3)  # ordinary memory: nothing to do
>>> del X
>>> folder.cleanup()
"""

from __future__ import annotations

import mmap

import numpy as np

#: Released ranges are widened to this alignment (in the process's addresses), so a page cache
#: mapped with 2 MiB pages is unmapped whole instead of being split into small pages.
ALIGNMENT = 2 << 20
#: Windows has no madvise: there the pages of a mapped file stay until the map is closed.
_CAN_RELEASE = hasattr(mmap, "MADV_DONTNEED") and hasattr(mmap.mmap, "madvise")


class FilePages:
    """The shared file mapping under an array, and where the array's rows lie in it."""

    def __init__(self, mapping: mmap.mmap, offset: int, row_bytes: int) -> None:
        self.mapping = mapping
        self.offset = offset  # byte offset of the array's first row in the mapping
        self.row_bytes = row_bytes
        self.address = int(np.frombuffer(mapping, dtype=np.uint8).ctypes.data)

    @classmethod
    def of(cls, array: np.ndarray) -> FilePages | None:
        """The pages of ``array`` when its memory is a shared file mapping, else None."""
        if not _CAN_RELEASE or array.ndim == 0 or array.size == 0:
            return None
        if not array.flags.c_contiguous:
            return None
        owner: object = array
        while isinstance(owner, np.ndarray):
            if isinstance(owner, np.memmap) and getattr(owner, "mode", None) == "c":
                return None  # copy-on-write: its pages may hold the only copy of changes
            owner = owner.base
        if not isinstance(owner, mmap.mmap) or owner.closed:
            return None
        start = int(np.frombuffer(owner, dtype=np.uint8).ctypes.data)
        return cls(owner, int(array.ctypes.data) - start, int(array.strides[0]))

    def release(self, start_row: int, stop_row: int) -> None:
        """Unmap the pages holding rows [start_row, stop_row), widened to ALIGNMENT."""
        if stop_row <= start_row:
            return
        first = self.address + self.offset + start_row * self.row_bytes
        last = self.address + self.offset + stop_row * self.row_bytes
        lo = max(first // ALIGNMENT * ALIGNMENT - self.address, 0)
        hi = min(-(-last // ALIGNMENT) * ALIGNMENT - self.address, len(self.mapping))
        if hi > lo:
            self.mapping.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def release(array: np.ndarray | None, start_row: int, stop_row: int) -> None:
    """Give back the pages of rows [start_row, stop_row) of ``array`` if it is a shared file
    mapping (see the module); a no-op for arrays in ordinary memory and for None."""
    if array is None:
        return
    pages = FilePages.of(array)
    if pages is not None:
        pages.release(start_row, stop_row)

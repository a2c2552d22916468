"""What ``verbose`` prints during a fit: progress lines, or a bar redrawn in place on a terminal.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> progress = progress_printer(100, 1, out)
>>> for epoch in (1, 10, 50, 100):
...     progress(epoch, 1.0 / epoch, 0.5)
>>> for line in out.getvalue().splitlines():
...     print(line[:32])
epoch   1/100  loss 1.000000e+00
epoch  10/100  loss 1.000000e-01
epoch  50/100  loss 2.000000e-02
epoch 100/100  loss 1.000000e-02
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from fastlr.training.loop import Progress

#: Characters of the bar.
BAR_WIDTH = 30
#: A bar is redrawn at most this often (seconds): a terminal is slow next to a kernel.
BAR_INTERVAL = 0.1


def progress_printer(
    max_iter: int | None, verbose: int, stream: TextIO | None = None
) -> Progress | None:
    """``verbose=1``: a bar on a terminal, else about ten lines per fit; ``verbose>=2``: a line
    per epoch. ``max_iter`` None: the total is not known in advance (no percentage). Call
    :func:`finish` on the result when the fit ends."""
    if verbose == 0:
        return None
    if stream is None:
        stream = sys.stderr if verbose == 1 and sys.stderr.isatty() else sys.stdout
    if verbose == 1 and stream.isatty():
        return _Bar(max_iter, stream)
    return _Lines(max_iter, verbose, stream)


class _Lines:
    """Progress lines like the first seed's: about ten per fit, or one per epoch
    (``per_epoch``: then the sufficient-statistics loop reports every epoch, not blocks)."""

    def __init__(self, max_iter: int | None, verbose: int, stream: TextIO) -> None:
        self.max_iter = max_iter
        self.per_epoch = verbose >= 2
        total = max_iter if max_iter is not None else 1000
        self.every = 1 if self.per_epoch else max(1, total // 10)
        self.of = f"/{max_iter}" if max_iter is not None else ""
        self.width = len(str(total))
        self.stream = stream
        self.start = time.perf_counter()
        self.last = 0

    def __call__(self, epoch: int, loss: float, learning_rate: float) -> None:
        # Epochs may arrive in blocks (the sufficient-statistics loop): print on crossing a mark.
        every, last = self.every, self.last
        if last == 0 or epoch // every > last // every or epoch == self.max_iter:
            print(
                f"epoch {epoch:>{self.width}}{self.of}  loss {loss:.6e}  step "
                f"{learning_rate:.3e}  elapsed {time.perf_counter() - self.start:.2f} s",
                file=self.stream,
                flush=True,
            )
        self.last = epoch


class _Bar:
    """A progress bar redrawn in place (``\r``) at most every BAR_INTERVAL seconds; ``close``
    ends its line."""

    def __init__(self, max_iter: int | None, stream: TextIO) -> None:
        self.per_epoch = False
        self.max_iter = max_iter
        self.stream = stream
        self.start = time.perf_counter()
        self.drawn = -BAR_INTERVAL
        self.open = False

    def __call__(self, epoch: int, loss: float, learning_rate: float) -> None:
        now = time.perf_counter() - self.start
        if now - self.drawn < BAR_INTERVAL and epoch != self.max_iter:
            return
        self.drawn = now
        if self.max_iter is not None:
            filled = BAR_WIDTH * min(epoch, self.max_iter) // self.max_iter
            bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {epoch}/{self.max_iter}"
        else:
            bar = f"epoch {epoch}"
        self.stream.write(f"\r{bar}  loss {loss:.4e}  {now:.1f} s\x1b[K")
        self.stream.flush()
        self.open = True

    def close(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


class Amount:
    """Progress of a job measured in bytes (writing a data file): ``amount(done)``.

    On a terminal a bar is redrawn in place, at most every BAR_INTERVAL seconds; elsewhere a
    line is printed each time another tenth is done. ``close`` ends the bar's line.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> amount = Amount(4 << 20, "data.npy", out)
    >>> for done in (1 << 20, 2 << 20, 4 << 20):
    ...     amount(done)
    >>> [line.split("  ")[0] for line in out.getvalue().splitlines()]
    ['data.npy: 1.0/4.0 MiB (25%)', 'data.npy: 2.0/4.0 MiB (50%)', 'data.npy: 4.0/4.0 MiB (100%)']
    """

    def __init__(self, total: int, what: str, stream: TextIO) -> None:
        self.total = max(1, total)
        self.what = what
        self.stream = stream
        self.bar = stream.isatty()
        self.start = time.perf_counter()
        self.drawn = -BAR_INTERVAL
        self.tenths = 0
        self.open = False

    def __call__(self, done: int) -> None:
        now = time.perf_counter() - self.start
        finished = done >= self.total
        share = f"{_size(done, self.total)} ({100 * done // self.total}%)"
        if self.bar:
            if now - self.drawn < BAR_INTERVAL and not finished:
                return
            self.drawn = now
            filled = BAR_WIDTH * min(done, self.total) // self.total
            bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
            self.stream.write(f"\r{self.what} {bar} {share}  {now:.1f} s\x1b[K")
            self.open = True
        else:
            tenths = 10 * done // self.total
            if tenths == self.tenths and not finished:
                return
            self.tenths = tenths
            self.stream.write(f"{self.what}: {share}  {now:.1f} s\n")
        self.stream.flush()

    def close(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


def amount_printer(
    total: int, verbose: int, what: str, stream: TextIO | None = None
) -> Amount | None:
    """An :class:`Amount` on stderr for ``verbose >= 1`` (None for 0); :func:`finish` ends it."""
    if verbose == 0:
        return None
    return Amount(total, what, sys.stderr if stream is None else stream)


def _size(done: int, total: int) -> str:
    """``done/total`` in the unit of ``total`` (MiB or GiB)."""
    unit, name = (1 << 30, "GiB") if total >= 1 << 30 else (1 << 20, "MiB")
    return f"{done / unit:.1f}/{total / unit:.1f} {name}"


def finish(progress: Progress | Amount | None) -> None:
    """End a progress display (the bar's line)."""
    close = getattr(progress, "close", None)
    if close is not None:
        close()

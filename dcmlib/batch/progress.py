"""Progress on stderr: a tqdm bar on a terminal, else a plain line at most every few seconds.

Nothing is printed when progress is off; the caller prints the summary line.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

__all__ = ["Progress", "progress_mode", "LINE_INTERVAL"]

#: Seconds between two plain progress lines.
LINE_INTERVAL = 5.0


def progress_mode(enabled: bool, stream: TextIO | None) -> str:
    """``bar`` on a terminal (or in Jupyter), ``line`` elsewhere, ``none`` when disabled."""
    if not enabled:
        return "none"
    interactive = getattr(stream, "isatty", lambda: False)() or "ipykernel" in sys.modules
    return "bar" if interactive else "line"


def _size(stream: TextIO) -> tuple[int, int]:
    """The terminal's (columns, lines); 80 x 24 where it reports none, as a fresh pseudo-terminal does
    (tqdm draws nothing on a terminal of 0 lines)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return 80, 24
    return size.columns or 80, size.lines or 24


class Progress:
    """Files done of ``total``: files/s and ETA, as a bar or as lines (see :func:`progress_mode`)."""

    def __init__(
        self,
        total: int,
        mode: str,
        stream: TextIO | None = None,
        *,
        interval: float = LINE_INTERVAL,
        prog: str = "dcmview",
    ):
        self.total, self.mode, self.done = total, mode, 0
        self.stream = stream if stream is not None else sys.stderr
        self.interval, self.prog = interval, prog
        self._start = self._last = time.monotonic()
        self._bar = None
        if mode == "bar":
            from tqdm import tqdm

            class _Bar(tqdm):  # no monitor thread: the pool forks only from a single-threaded parent
                monitor_interval = 0

            columns, lines = _size(self.stream)
            self._bar = _Bar(total=total, unit="file", file=self.stream, desc=prog, ncols=columns, nrows=lines)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "line":
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self.stream.write(self.line(now) + "\n")
                self.stream.flush()

    def line(self, now: float | None = None) -> str:
        """``dcmview: 120/300 files, 45.2 files/s, about 4 s left``."""
        elapsed = max((now if now is not None else time.monotonic()) - self._start, 1e-9)
        rate = self.done / elapsed
        left = f", about {(self.total - self.done) / rate:.0f} s left" if rate > 0 and self.total else ""
        return f"{self.prog}: {self.done}/{self.total} files, {rate:.1f} files/s{left}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

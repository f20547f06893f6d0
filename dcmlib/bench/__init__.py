"""Benchmarks: ``python -m dcmlib.bench [render|viewer|series|convert|mpr ...]``.

Each section measures ours and the alternative side by side in one run and
prints the ratios.  Nothing here is asserted: timings on shared machines are
noisy, so they are shown, not tested.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["measure", "SECTIONS"]

#: Section name -> module under dcmlib.bench with a ``main()``.
SECTIONS = ("render", "viewer", "series", "convert", "mpr")


def measure(fn: Callable[[int], object], repeat: int, warmup: int = 2) -> float:
    """Median wall time of ``fn(i)`` in milliseconds over ``repeat`` calls (after ``warmup`` calls)."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1000.0 * times[len(times) // 2]

"""A byte-budget LRU cache for decoded frames and their modality values.

One place decides what stays in memory: every decoded frame (stored values)
and every float32 modality frame goes through :class:`FrameCache`, which
evicts the least recently used arrays once their total exceeds the budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

__all__ = ["FrameCache", "DEFAULT_CACHE_MB"]

#: Default budget in MiB (``--cache-mb``): enough for a 512 x 512 x 300 CT's
#: decoded slices, or a 4096 x 3328 mammogram's stored and float32 frames.
DEFAULT_CACHE_MB = 256


class FrameCache:
    """Least-recently-used arrays, bounded by their total ``nbytes``.

    An array larger than the whole budget is still returned to the caller but
    only kept until the next insertion.
    """

    def __init__(self, budget_mb: float = DEFAULT_CACHE_MB):
        if budget_mb <= 0:
            raise ValueError(f"cache budget must be > 0 MiB, got {budget_mb}")
        self.budget = int(budget_mb * 1024 * 1024)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: Hashable, arr: np.ndarray) -> np.ndarray:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = arr
            self._bytes += arr.nbytes
            while self._bytes > self.budget and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
        return arr

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

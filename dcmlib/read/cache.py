"""A byte-budget LRU cache for decoded frames and their modality values, and read-ahead.

One place decides what stays in memory: every decoded frame (stored values)
and every float32 modality frame goes through :class:`FrameCache`, which
evicts the least recently used arrays once their total exceeds the budget.
Arrays that are cheap to recompute from another cached array (the float32
modality values of a stored frame) can be put as *derived*: they share a
small part of the budget (:data:`DERIVED_SHARE`) and go first, so scrolling a long series keeps the
decoded slices rather than a few float32 copies.

:class:`ReadAhead` decodes the next frames in the scroll direction on one
background thread, so holding a key down finds each slice already decoded;
:meth:`FrameCache.get_or_load` makes sure a frame is decoded once even when the
viewer asks for it while the read-ahead is decoding it.

Threads and locks (the one discipline): each :class:`FrameCache` has one lock
that guards its dictionaries and byte counts, and nothing else; loaders run
*outside* it, so a slow decode never blocks other keys, and a per-key event
makes a second caller wait for the first load instead of repeating it.  Each
:class:`ReadAhead` has one condition variable that guards its queue, direction
and thread handle.  No code holds both at once, so there is no lock order to
get wrong.  Counters (``loads``, ``fetched``) are updated under their object's
lock.  Arrays handed out are never written again (callers mark them read-only).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable

import numpy as np

__all__ = ["FrameCache", "ReadAhead", "DEFAULT_CACHE_MB", "read_ahead_depth"]

#: Default budget in MiB (``--cache-mb``): enough for a 512 x 512 x 600 CT's
#: int16 volume (300 MiB, multiplanar reformation) beside its decoded slices, or
#: a 4096 x 3328 mammogram's stored and float32 frames.  It bounds what is kept,
#: not what is allocated: a single image never fills it.
DEFAULT_CACHE_MB = 512

#: Share of the budget that derived arrays (recomputable from cached ones) may hold:
#: 64 MiB of the default, 64 float32 frames of 512 x 512.
DERIVED_SHARE = 0.125


class FrameCache:
    """Least-recently-used arrays, bounded by their total ``nbytes``.

    An array larger than the whole budget is still returned to the caller but
    only kept until the next insertion. Derived arrays (``derived=True``) are
    also bounded by ``derived_share`` of the budget and are evicted first.
    Thread-safe.
    """

    def __init__(self, budget_mb: float = DEFAULT_CACHE_MB, *, derived_share: float = DERIVED_SHARE):
        if budget_mb <= 0:
            raise ValueError(f"cache budget must be > 0 MiB, got {budget_mb}")
        if not 0 < derived_share <= 1:
            raise ValueError(f"derived_share must be in (0, 1], got {derived_share}")
        self.budget = int(budget_mb * 1024 * 1024)
        self.derived_budget = int(self.budget * derived_share)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._derived: OrderedDict[Hashable, None] = OrderedDict()  # keys of derived items, LRU order
        self._bytes = 0
        self._derived_bytes = 0
        self._loading: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.loads = 0  #: calls of a ``get_or_load`` loader (each one a decode or computation)

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
            return self._touch(key)

    def _touch(self, key: Hashable) -> np.ndarray | None:
        """The array for ``key``, marked most recently used (caller holds the lock)."""
        arr = self._items.get(key)
        if arr is not None:
            self._items.move_to_end(key)
            if key in self._derived:
                self._derived.move_to_end(key)
        return arr

    def put(self, key: Hashable, arr: np.ndarray, *, derived: bool = False) -> np.ndarray:
        with self._lock:
            self._pop(key)
            self._items[key] = arr
            self._bytes += arr.nbytes
            if derived:
                self._derived[key] = None
                self._derived_bytes += arr.nbytes
                while self._derived_bytes > self.derived_budget and len(self._derived) > 1:
                    self._pop(next(iter(self._derived)))
            while self._bytes > self.budget and len(self._items) > 1:
                self._pop(next(iter(self._items)))
        return arr

    def _pop(self, key: Hashable) -> None:
        old = self._items.pop(key, None)
        if old is None:
            return
        self._bytes -= old.nbytes
        if key in self._derived:
            del self._derived[key]
            self._derived_bytes -= old.nbytes

    def get_or_load(self, key: Hashable, load: Callable[[], np.ndarray], *, derived: bool = False) -> np.ndarray:
        """The cached array for ``key``, else ``load()``'s result, cached; one load per key at a time.

        When another thread is already loading ``key`` (the read-ahead), wait for
        it instead of loading twice. If that load fails, this caller loads
        itself, so the error surfaces in the thread that needs the frame.
        """
        while True:
            with self._lock:
                arr = self._touch(key)
                if arr is not None:
                    return arr
                loading = self._loading.get(key)
                if loading is None:
                    event = self._loading[key] = threading.Event()
            if loading is not None:
                loading.wait()
                continue
            try:
                with self._lock:
                    self.loads += 1
                arr = load()
                self.put(key, arr, derived=derived)
                return arr
            finally:
                with self._lock:
                    del self._loading[key]
                event.set()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._derived.clear()
            self._bytes = 0
            self._derived_bytes = 0


def read_ahead_depth(budget_bytes: int, frame_bytes: int, *, limit: int = 8) -> int:
    """How many frames to decode ahead: at most ``limit``, within a quarter of the budget.

    Read-ahead must not evict the frames just shown; 0 means no read-ahead.
    """
    if frame_bytes <= 0:
        return 0
    return max(0, min(limit, budget_bytes // (4 * frame_bytes)))


class ReadAhead:
    """Fetch the next frames in the scroll direction on one background (daemon) thread.

    ``fetch(i)`` loads frame ``i`` into the cache (typically
    ``cache.get_or_load(("stored", i), ...)``); it must be safe to call from
    another thread. Call :meth:`hint` with each frame the user is shown: the
    direction is the sign of the step from the previous hint, and the queue is
    replaced by the ``depth`` frames that follow in that direction, so a
    reversal or a jump drops stale work. The thread starts ``delay`` seconds
    after the latest hint, so it does not compete (for the GIL) with the render
    of the frame just hinted. Errors in the background are ignored:
    the frame is fetched again, and the error raised, when it is shown.

    The thread ends after ``idle_exit`` seconds without work and starts again
    on the next hint, so an image that is dropped does not leave a thread
    behind; give ``fetch`` a weak reference to its image so the image itself
    can be collected.
    """

    def __init__(
        self,
        fetch: Callable[[int], object],
        count: int,
        *,
        depth: int = 4,
        delay: float = 0.01,
        idle_exit: float = 2.0,
    ):
        self._fetch = fetch
        self._count = int(count)
        self.depth = max(0, int(depth))
        self._last: int | None = None
        self._direction = 1
        self._pending: deque[int] = deque()
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._idle_exit = idle_exit
        self._delay = max(0.0, delay)
        self._hinted = 0.0
        self.fetched = 0  #: frames fetched in the background

    def hint(self, frame: int) -> None:
        """The user now sees ``frame``: queue the next ``depth`` frames in the scroll direction."""
        with self._cond:
            if self.depth == 0 or self._closed:
                return
            if self._last is not None and frame != self._last:
                self._direction = 1 if frame > self._last else -1
            self._last = frame
            ahead = [frame + k * self._direction for k in range(1, self.depth + 1)]
            self._hinted = time.monotonic()
            self._pending = deque(i for i in ahead if 0 <= i < self._count)
            if self._pending and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dcmlib-read-ahead", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._busy = False
                    self._cond.notify_all()
                    if not self._cond.wait(self._idle_exit) and not self._pending:
                        self._thread = None  # idle: end; the next hint starts a new thread
                        return
                if self._closed:
                    self._busy = False
                    self._thread = None
                    self._cond.notify_all()
                    return
                wait = self._hinted + self._delay - time.monotonic()
                if wait > 0:  # let the frame just hinted finish rendering first
                    self._busy = True
                    self._cond.wait(wait)
                    continue
                frame = self._pending.popleft()
                self._busy = True
            try:
                self._fetch(frame)
                with self._cond:
                    self.fetched += 1
            except Exception:  # noqa: BLE001 - reported by the foreground fetch of the same frame
                pass

    @property
    def running(self) -> bool:
        """Whether the background thread is alive now (it ends after ``idle_exit`` s without work)."""
        with self._cond:
            return self._thread is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty and the thread idle (for tests and benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        """Stop the thread (after the frame it is fetching)."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

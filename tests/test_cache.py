"""The frame cache (byte budget, derived share, one load per key) and the read-ahead thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dcmlib.read.cache import FrameCache, ReadAhead, read_ahead_depth

KIB = 1024
MIB = 1024 * KIB


def block(kib: int) -> np.ndarray:
    return np.zeros(kib * KIB, dtype=np.uint8)


class TestFrameCache:
    def test_evicts_least_recently_used_by_bytes(self):
        cache = FrameCache(40 / 1024)  # 40 KiB
        for k in "abcd":
            cache.put(k, block(10))
        assert cache.nbytes == 40 * KIB and len(cache) == 4
        cache.get("a")  # a becomes the most recent; b is now the oldest
        cache.put("e", block(10))
        assert "b" not in cache and all(k in cache for k in "acde")
        assert cache.nbytes == 40 * KIB

    def test_oversize_array_is_returned_and_kept_alone(self):
        cache = FrameCache(10 / 1024)
        cache.put("small", block(4))
        big = cache.put("big", block(50))
        assert big.nbytes == 50 * KIB and "big" in cache and "small" not in cache
        cache.put("next", block(4))
        assert "big" not in cache and "next" in cache

    def test_replacing_a_key_does_not_double_count(self):
        cache = FrameCache(1)
        cache.put("a", block(10))
        cache.put("a", block(20))
        assert cache.nbytes == 20 * KIB and len(cache) == 1

    def test_derived_arrays_share_a_part_of_the_budget(self):
        cache = FrameCache(100 / 1024, derived_share=0.25)  # 100 KiB, 25 KiB for derived arrays
        for i in range(5):
            cache.put(("stored", i), block(10))
            cache.put(("values", i), block(10), derived=True)
        # Only 2 derived arrays (20 KiB <= 25 KiB) remain: the latest ones.
        assert [i for i in range(5) if ("values", i) in cache] == [3, 4]
        # The stored frames fill the rest: 100 - 20 = 80 KiB -> the last 5 stored fit (50 KiB).
        assert all(("stored", i) in cache for i in range(5))
        assert cache.nbytes == 70 * KIB

    def test_clear(self):
        cache = FrameCache(1)
        cache.put("a", block(1), derived=True)
        cache.clear()
        assert len(cache) == 0 and cache.nbytes == 0
        cache.put("b", block(1), derived=True)
        assert cache.nbytes == KIB

    @pytest.mark.parametrize("budget", [0, -1])
    def test_budget_must_be_positive(self, budget):
        with pytest.raises(ValueError):
            FrameCache(budget)


class TestGetOrLoad:
    def test_loads_once_then_hits(self):
        cache = FrameCache(1)
        calls = []
        for _ in range(3):
            arr = cache.get_or_load("k", lambda: calls.append(1) or block(1))
        assert len(calls) == 1 and cache.loads == 1 and arr.nbytes == KIB

    def test_a_second_caller_waits_for_the_first_load(self):
        cache = FrameCache(1)
        started, release = threading.Event(), threading.Event()
        calls = []

        def slow():
            calls.append("slow")
            started.set()
            release.wait(5)
            return block(1)

        results = {}
        t = threading.Thread(target=lambda: results.setdefault("bg", cache.get_or_load("k", slow)))
        t.start()
        assert started.wait(5)
        waiter = threading.Thread(
            target=lambda: results.setdefault("fg", cache.get_or_load("k", lambda: calls.append("fg") or block(1)))
        )
        waiter.start()
        release.set()
        t.join(5)
        waiter.join(5)
        assert calls == ["slow"]  # the waiter did not load again
        assert results["fg"] is results["bg"]

    def test_a_failed_load_is_retried_by_the_waiter(self):
        cache = FrameCache(1)
        started, release = threading.Event(), threading.Event()

        def failing():
            started.set()
            release.wait(5)
            raise OSError("disk gone")

        errors = []

        def background():
            try:
                cache.get_or_load("k", failing)
            except OSError as exc:
                errors.append(exc)

        t = threading.Thread(target=background)
        t.start()
        assert started.wait(5)
        got = []
        waiter = threading.Thread(target=lambda: got.append(cache.get_or_load("k", lambda: block(2))))
        waiter.start()
        release.set()
        t.join(5)
        waiter.join(5)
        assert len(errors) == 1 and got[0].nbytes == 2 * KIB and "k" in cache

    def test_error_propagates_and_nothing_is_cached(self):
        cache = FrameCache(1)
        with pytest.raises(ZeroDivisionError):
            cache.get_or_load("k", lambda: 1 / 0)
        assert "k" not in cache
        assert cache.get_or_load("k", lambda: block(1)).nbytes == KIB


def read_ahead_threads() -> set[threading.Thread]:
    """The live background threads of every ReadAhead in this process (they all carry this name)."""
    return {t for t in threading.enumerate() if t.name == "dcmlib-read-ahead"}


class TestReadAhead:
    def make(self, count=20, depth=3):
        seen: list[int] = []
        lock = threading.Lock()

        def fetch(i):
            with lock:
                seen.append(i)

        return ReadAhead(fetch, count, depth=depth), seen

    def test_reads_ahead_forward_then_backward(self):
        ra, seen = self.make()
        with ra:
            ra.hint(5)  # no direction yet: forward
            assert ra.wait(5)
            assert seen == [6, 7, 8]
            seen.clear()
            ra.hint(4)  # moved back: read behind
            assert ra.wait(5)
            assert seen == [3, 2, 1]

    def test_stops_at_the_ends(self):
        ra, seen = self.make(count=10, depth=4)
        with ra:
            ra.hint(7)
            ra.hint(8)
            assert ra.wait(5)
            assert set(seen) <= {8, 9} and 9 in seen and max(seen) == 9
            seen.clear()
            ra.hint(1)
            ra.hint(0)
            assert ra.wait(5)
            assert seen == []

    def test_depth_zero_starts_no_thread(self):
        before = read_ahead_threads()
        ra, seen = self.make(depth=0)
        ra.hint(1)
        ra.hint(2)
        assert ra.wait(1) and seen == [] and not ra.running
        assert read_ahead_threads() <= before
        ra.close()

    def test_background_errors_are_ignored(self):
        def fetch(i):
            raise ValueError(f"bad frame {i}")

        with ReadAhead(fetch, 10, depth=2) as ra:
            ra.hint(0)
            assert ra.wait(5)
            assert ra.fetched == 0

    def test_close_stops_the_thread(self):
        before = read_ahead_threads()
        ra, _ = self.make()
        ra.hint(0)
        assert ra.running
        (thread,) = read_ahead_threads() - before  # the one thread this hint started
        ra.close()
        assert not thread.is_alive() and not ra.running
        ra.hint(5)  # after close: ignored
        assert ra.wait(1) and not ra.running
        assert thread not in read_ahead_threads()

    def test_idle_thread_ends_and_restarts(self):
        seen = []  # (frame, the thread that fetched it)
        ra = ReadAhead(lambda i: seen.append((i, threading.current_thread())), 10, depth=1, idle_exit=0.05)
        ra.hint(0)
        assert ra.wait(5)
        ((frame, first),) = seen
        assert frame == 1 and first.name == "dcmlib-read-ahead"
        first.join(5)  # ends on its own once idle
        assert not first.is_alive() and not ra.running
        ra.hint(1)
        assert ra.wait(5) and [f for f, _ in seen] == [1, 2]
        second = seen[1][1]
        assert second is not first and second.name == "dcmlib-read-ahead"  # a new thread did the work
        ra.close()


@pytest.mark.parametrize(
    "budget, frame, expected",
    [(256 * MIB, 512 * 512 * 2, 8), (4 * MIB, MIB, 1), (3 * MIB, MIB, 0), (MIB, 0, 0), (64 * MIB, 512 * 512 * 2, 8)],
)
def test_read_ahead_depth(budget, frame, expected):
    assert read_ahead_depth(budget, frame) == expected

"""The local process pool: :func:`~dcmlib.batch.dispatch.run_job` on N worker processes, crash-isolated.

``concurrent.futures.ProcessPoolExecutor`` cannot do this: one worker killed
by a signal breaks the whole executor and every pending future with it.
Here each worker is a ``multiprocessing.Process`` with its own pipe and takes
one file at a time, so the parent always knows which file a worker holds:

- a worker that dies (a decoder's abort or segfault, the kernel's OOM kill)
  fails only that file, ``decoder crashed (signal 6)``;
- a file that runs past ``timeout`` seconds has its worker killed,
  ``timed out after 120 s``;
- either way a fresh worker takes the slot, the temporary file the dead one
  may have left (``.dcmview-<pid>-...``) is removed, and the run goes on.

Workers start with ``fork`` where there is one (Linux; Python's own default
there before 3.14): a fresh worker costs milliseconds instead of a second
import of OpenCV, NumPy and pydicom (~0.5 s), which matters when a crash
replaces one.  The CLI parent's only threads are OpenBLAS's and OpenCV's
pools, which a forked child survives (checked: forked children ran OpenCV
and BLAS work after the parent's pools had been busy); the progress bar
starts no monitor thread.  Elsewhere, ``spawn`` (``start_method`` chooses).
Workers ignore SIGINT: the parent decides how a Ctrl-C ends, and
:meth:`LocalPool.close` stops them with SIGTERM (which unwinds an atomic
write, removing its temporary file) before SIGKILL.  A result a stopped
worker had already sent is kept (:attr:`LocalPool.late`); a file it left
without a result is in :attr:`LocalPool.unfinished`, whose outputs the
caller removes with :func:`remove_unfinished` (a frame renamed into place
just before the stop would otherwise stay without a manifest row).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from dcmlib.batch.dispatch import run_job
from dcmlib.batch.job import COLUMNS, FileResult, Job, internal_error
from dcmlib.batch.options import ConvertOptions
from dcmlib.render.output import temp_prefix

__all__ = ["LocalPool", "crash_message", "failed_result", "sweep_temp_files", "output_folders", "remove_unfinished"]

#: Seconds a worker gets to leave after SIGTERM before SIGKILL.
STOP_GRACE = 2.0

#: Workers that die before finishing any file, in a row, before the pool gives up.
MAX_START_FAILURES = 8


def crash_message(exitcode: int | None) -> str:
    """The manifest's text for a worker that died while converting a file."""
    if exitcode is not None and exitcode < 0:
        sig = -exitcode
        if sig == signal.SIGKILL:
            return f"decoder crashed (signal {sig}; killed, perhaps out of memory)"
        return f"decoder crashed (signal {sig})"
    if exitcode:
        return f"decoder crashed (exit status {exitcode})"
    return "decoder crashed (the worker stopped)"


def failed_result(job: Job, error: str) -> FileResult:
    """A failed row for a file whose worker gave no result."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        source=job.source,
        status="failed",
        error=error,
        source_size=str(job.size),
        source_mtime_ns=str(job.mtime_ns),
        series_instance_uid=job.series,
    )
    return FileResult(job.source, "failed", (row,))


def output_folders(job: Job) -> set[str]:
    """The folders a job writes its outputs in."""
    if job.numbers or job.files:  # series layout, or --plane: the job's own folder
        return {os.path.join(job.out, job.name)}
    return {os.path.dirname(os.path.join(job.out, job.name))}


def sweep_temp_files(folders: Iterable[str], prefix: str) -> int:
    """Remove the temporary files starting with ``prefix`` in ``folders``; how many were removed."""
    removed = 0
    for folder in folders:
        try:
            names = [n for n in os.listdir(folder) if n.startswith(prefix)]
        except OSError:
            continue
        for name in names:
            try:
                os.unlink(os.path.join(folder, name))
                removed += 1
            except OSError:
                pass
    return removed


def remove_unfinished(jobs: Iterable[Job], suffix: str, recorded: set[str]) -> int:
    """Remove the outputs of ``jobs`` (stopped before their result came) that no manifest row lists.

    ``recorded`` holds the outputs the manifest lists, relative to the
    output folder; names follow :func:`~dcmlib.batch.job.output_name`.
    """
    removed = 0
    for job in jobs:
        if job.numbers:
            names = {f"{job.name}/{n:04d}{suffix}" for n in job.numbers}
        elif job.files:  # --plane: NNNN<suffix> in the job's folder
            pattern = re.compile(r"\d{4,}" + re.escape(suffix))
            try:
                found = os.listdir(os.path.join(job.out, job.name))
            except OSError:
                found = []
            names = {f"{job.name}/{n}" for n in found if pattern.fullmatch(n)}
        else:
            folder, base = os.path.split(job.name)
            pattern = re.compile(re.escape(base) + r"(_f\d{4,})?" + re.escape(suffix))
            try:
                found = os.listdir(os.path.join(job.out, folder))
            except OSError:
                found = []
            names = {f"{folder}/{n}" if folder else n for n in found if pattern.fullmatch(n)}
        for name in names - recorded:
            try:
                os.unlink(os.path.join(job.out, name))
                removed += 1
            except OSError:
                pass
    return removed


def _worker_main(conn: Connection, options: ConvertOptions, quiet: bool) -> None:
    """A worker: take a job, convert it, send the result; until told to stop or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)
    if quiet:  # what C decoders print on fd 2 would tear the parent's progress bar
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
    parent = os.getppid()
    while True:
        try:
            while not conn.poll(1.0):
                if os.getppid() != parent:  # the parent was killed outright: nobody wants the result
                    return
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            result = run_job(job, options)
        except Exception as exc:  # noqa: BLE001 - run_job catches; this is the last guard
            result = failed_result(job, internal_error(exc))
        conn.send(result)


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@dataclass
class _Slot:
    process: BaseProcess
    conn: Connection
    job: Job | None = None
    started: float = 0.0
    finished: int = 0


class LocalPool:
    """``workers`` processes running :func:`~dcmlib.batch.dispatch.run_job` with ``options``; see the module docstring.

    ``run(jobs)`` yields one :class:`FileResult` per job, in completion order.
    ``close()`` stops every worker (also after Ctrl-C) and removes what an
    interrupted write left.
    """

    def __init__(
        self,
        workers: int,
        options: ConvertOptions,
        *,
        timeout: float | None = 120.0,
        start_method: str | None = None,
        quiet: bool = True,
    ):
        self.workers, self.options, self.timeout = max(1, int(workers)), options, timeout
        self._start_method, self._quiet = start_method, quiet
        self._slots: list[_Slot] = []
        self._start_failures = 0
        self.crashes = 0  #: workers replaced after a crash or a timeout
        self.late: list[FileResult] = []  #: results sent by workers that :meth:`close` stopped
        self.unfinished: list[Job] = []  #: jobs :meth:`close` stopped before their result came

    def _context(self) -> mp.context.BaseContext:
        if self._start_method:
            return mp.get_context(self._start_method)
        return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")

    def _start(self) -> _Slot:
        ctx = self._context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(  # type: ignore[attr-defined]  # typeshed's BaseContext lacks it; every start method's has
            target=_worker_main, args=(child, self.options, self._quiet), daemon=True, name="dcmview-convert"
        )
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def run(self, jobs: Iterable[Job]) -> Iterator[FileResult]:
        """Convert every job; yield each result as it arrives (a crash or timeout as a failed result)."""
        pending = deque(jobs)
        while len(self._slots) < min(self.workers, max(len(pending), 1)):
            self._slots.append(self._start())
        while pending or any(s.job is not None for s in self._slots):
            for slot in self._slots:
                if slot.job is None and pending:
                    self._assign(slot, pending)
            ready = wait(
                [s.conn for s in self._slots if s.job is not None] + [s.process.sentinel for s in self._slots],
                self._wait_time(),
            )
            for i, slot in enumerate(self._slots):
                result = self._collect(i, slot, ready)
                if result is not None:
                    yield result

    def submit(self, job: Job) -> Callable[[float], bool]:
        """Give ``job`` to an idle worker (started if none is) without waiting for it, as :meth:`run` does
        for each job; returns ``sent(timeout)``, which tells whether the worker has sent its result. A
        result sent but not read when :meth:`close` stops the pool is kept in :attr:`late`."""
        slot = next((s for s in self._slots if s.job is None), None)
        if slot is None:
            slot = self._start()
            self._slots.append(slot)
        self._assign(slot, deque([job]))
        return slot.conn.poll

    def _assign(self, slot: _Slot, pending: deque[Job]) -> None:
        job = pending.popleft()
        try:
            slot.conn.send(job)
        except (OSError, ValueError):  # the worker is already gone: its sentinel reports it
            pending.appendleft(job)
            return
        slot.job, slot.started = job, time.monotonic()

    def _wait_time(self) -> float:
        """Until the next timeout, at most 0.5 s (so Ctrl-C and progress stay responsive)."""
        if not self.timeout:
            return 0.5
        starts = [s.started for s in self._slots if s.job is not None]
        if not starts:
            return 0.5
        return max(0.0, min(0.5, min(starts) + self.timeout - time.monotonic()))

    def _collect(self, i: int, slot: _Slot, ready: list) -> FileResult | None:
        """The slot's result, or a failed one when its worker died or ran out of time (the slot restarted)."""
        if slot.job is not None and slot.conn in ready:
            try:
                result = slot.conn.recv()
            except (EOFError, OSError):
                result = None
            if isinstance(result, FileResult):
                slot.job, slot.finished = None, slot.finished + 1
                self._start_failures = 0
                return result
        if slot.process.sentinel in ready or not slot.process.is_alive():
            slot.process.join()
            return self._replace(i, slot, crash_message(slot.process.exitcode))
        if slot.job is not None and self.timeout and time.monotonic() - slot.started > self.timeout:
            slot.process.kill()
            slot.process.join()
            return self._replace(i, slot, f"timed out after {self.timeout:g} s")
        return None

    def _replace(self, i: int, slot: _Slot, message: str) -> FileResult | None:
        job = slot.job
        slot.conn.close()
        if job is None and slot.finished == 0:
            self._start_failures += 1
            if self._start_failures > MAX_START_FAILURES:
                raise RuntimeError(f"worker processes die on start ({message})")
        if job is not None:
            self.crashes += 1
            sweep_temp_files(output_folders(job), temp_prefix(slot.process.pid))
        self._slots[i] = self._start()
        return failed_result(job, message) if job is not None else None

    def close(self) -> None:
        """Stop every worker: a stop message to idle ones, SIGTERM to busy ones, SIGKILL after a grace period.

        A busy worker's result that arrives anyway goes to :attr:`late`; its
        job otherwise to :attr:`unfinished`.
        """
        for slot in self._slots:
            try:
                if slot.job is None:
                    slot.conn.send(None)
                elif slot.process.is_alive():
                    slot.process.terminate()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + STOP_GRACE
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
            if slot.job is not None:
                sweep_temp_files(output_folders(slot.job), temp_prefix(slot.process.pid))
                result = self._late_result(slot)
                if result is None:
                    self.unfinished.append(slot.job)
                else:
                    self.late.append(result)
            slot.conn.close()
        self._slots = []

    @staticmethod
    def _late_result(slot: _Slot) -> FileResult | None:
        """The result a stopped worker sent before it left, if whole."""
        try:
            if slot.conn.poll():
                result = slot.conn.recv()
                return result if isinstance(result, FileResult) else None
        except Exception:  # noqa: BLE001 - a send cut short by the stop: nothing whole to keep
            return None
        return None

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""One conversion run: plan, keep or redo (``--resume``), run the per-file task, record, summarise.

:func:`run_conversion` is what ``dcmview.py convert`` and :func:`dcmlib.convert`
call.  It returns a :class:`ConvertReport`, also after Ctrl-C (then
``interrupted`` is set, finished outputs and rows are kept, and no worker is
left running).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from dcmlib.batch.cluster import dask_results, sweep_all
from dcmlib.batch.job import NO_PIXELS, NOT_DICOM, FileResult, Job, Row
from dcmlib.batch.manifest import (
    MANIFEST,
    RECORD,
    ManifestWriter,
    check_same_run,
    plan_resume,
    read_record,
    read_rows,
    read_table,
    sorted_rows,
    write_record,
    write_rows,
)
from dcmlib.batch.options import ConvertOptions
from dcmlib.batch.plan import find_files, plan_mirror, plan_planes, plan_series
from dcmlib.batch.pool import LocalPool, remove_unfinished
from dcmlib.batch.progress import Progress, progress_mode
from dcmlib.errors import DcmviewError, InvalidArgumentError, NotDicomError, OutputError

__all__ = ["ConvertReport", "run_conversion", "default_workers", "DEFAULT_TIMEOUT"]

#: Seconds one file may take before its worker is killed (``--timeout``).
DEFAULT_TIMEOUT = 120.0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class ConvertReport:
    """What a conversion did.

    ``converted`` and ``failed`` count source images (a file with any failed
    row is failed); ``images`` counts outputs written; ``skipped`` maps a
    reason (``not DICOM``, ``no pixel data``) to a count; ``kept`` counts
    sources ``--resume`` kept from the previous run (they are in
    ``converted``); ``failures`` holds (source, error) pairs.
    """

    found: int
    converted: int
    failed: int
    images: int
    skipped: dict[str, int]
    kept: int
    elapsed: float
    manifest: str
    failures: tuple[tuple[str, str], ...] = ()
    interrupted: bool = False
    not_started: int = 0
    unit: str = "file"  #: what ``converted`` and ``failed`` count: ``file``, or ``series`` (``--plane``)

    @property
    def files(self) -> int:
        """Source images: converted plus failed."""
        return self.converted + self.failed

    @property
    def exit_status(self) -> int:
        """0 when every image was written, 1 when some source failed, 130 after Ctrl-C."""
        return 130 if self.interrupted else 1 if self.failed else 0

    def read_manifest(self):
        """``DIR/manifest.csv`` as a pandas DataFrame, its whole-number columns as integers (pandas' nullable
        ``Int64``, ``<NA>`` where a failed or skipped row has none): :data:`dcmlib.batch.manifest.DTYPES`."""
        return read_table(self.manifest)

    def summary(self, prog: str = "dcmview") -> str:
        """``dcmview: converted 298 of 300 files (312 images) in 4.1 s, 2 failed, 5 skipped (see DIR/manifest.csv)``."""
        skipped = sum(self.skipped.values())
        unit = _plural(self.files, self.unit) if self.unit != "series" else f"{self.files} series"
        text = (
            f"converted {self.converted} of {unit} ({_plural(self.images, 'image')}) "
            f"in {self.elapsed:.1f} s, {self.failed} failed, {skipped} skipped"
        )
        if self.kept:
            text += f", {self.kept} kept from the previous run"
        if self.interrupted:
            text = f"interrupted: {text}, {self.not_started} not done; run again with --resume to finish"
        return f"{prog}: {text} (see {self.manifest})"


@dataclass
class _Tally:
    """Counts as results arrive."""

    converted: int = 0
    failed: int = 0
    images: int = 0
    done: int = 0
    skipped: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def add(self, result: FileResult) -> None:
        self.done += 1
        if result.status == "skipped":
            self.skipped[result.reason] += 1
            return
        self.images += result.images
        if result.status == "ok":
            self.converted += 1
        else:
            self.failed += 1
            self.failures.append((result.source, next(r["error"] for r in result.rows if r["status"] != "ok")))


def default_workers() -> int:
    """All the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_conversion(
    sources: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    options: ConvertOptions,
    *,
    workers: int | None = None,
    dask: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT,
    progress: bool = True,
    stream: TextIO | None = None,
    start_method: str | None = None,
) -> ConvertReport:
    """Convert ``sources`` into ``out``; see :func:`dcmlib.convert` for the arguments.

    Raises :class:`~dcmlib.errors.DcmviewError` for what stops a run before
    it starts (bad options, a missing source, an unwritable or already used
    ``out``, nothing to convert).
    """
    start = time.monotonic()
    options = options.checked()
    workers = _check_run(sources, workers, timeout, resume, overwrite)
    root = os.path.abspath(os.fspath(out))
    created = not os.path.exists(root)
    previous = _prepare_out(root, resume, overwrite)
    abs_sources = [os.path.abspath(os.fspath(s)) for s in sources]
    files = find_files(abs_sources, root)
    if options.plane is not None:
        jobs = plan_planes(files, root, options.plane, options.layout)
    else:
        jobs = (plan_series if options.layout == "series" else plan_mirror)(files, root)
    planned = len(jobs)
    jobs, kept = _keep_or_clear(jobs, previous, root, options, abs_sources, resume)
    write_record(root, options.describe(), abs_sources)
    manifest = os.path.join(os.fspath(out), MANIFEST)
    try:
        tally, interrupted = _execute(
            jobs,
            kept,
            root,
            options,
            workers,
            dask,
            timeout,
            start_method,
            Progress(planned, progress_mode(progress, stream), stream),
            planned - len(jobs),
        )
    except DcmviewError:  # the Dask scheduler cannot be reached: no run happened
        _forget_run(root, previous, created)
        raise
    kept_sources = {(r["source"], r["series_instance_uid"] if options.plane else "") for r in kept}
    if not os.path.isdir(root):
        raise OutputError("the output folder was deleted during the run", root)
    if not interrupted:
        path = os.path.join(root, MANIFEST)
        write_rows(path, sorted_rows(read_rows(path)))
        if tally.converted + tally.failed + len(kept_sources) == 0:
            _forget_run(root, previous, created)
            raise NotDicomError(
                f"no DICOM images found ({_skip_text(tally.skipped, len(files))})",
                abs_sources[0] if len(abs_sources) == 1 else None,
            )
    return ConvertReport(
        found=len(files),
        converted=tally.converted + len(kept_sources),
        failed=tally.failed,
        images=tally.images + sum(r["status"] == "ok" for r in kept),
        skipped=dict(tally.skipped),
        kept=len(kept_sources),
        elapsed=time.monotonic() - start,
        manifest=manifest,
        failures=tuple(tally.failures),
        interrupted=interrupted,
        not_started=len(jobs) - tally.done,
        unit="series" if options.plane else "file",
    )


def _check_run(
    sources: Sequence[str | os.PathLike[str]], workers: int | None, timeout: float | None, resume: bool, overwrite: bool
) -> int:
    if not sources:
        raise InvalidArgumentError("no source given")
    for source in sources:
        if not os.path.exists(source):  # before DIR is created
            raise NotDicomError("no such file or directory", os.fspath(source))
    if resume and overwrite:
        raise InvalidArgumentError("--resume and --overwrite cannot be combined")
    if timeout is not None and not timeout > 0:
        raise InvalidArgumentError(f"--timeout must be > 0 seconds, got {timeout:g}")
    if workers is None:
        return default_workers()
    if int(workers) < 1:
        raise InvalidArgumentError(f"--workers must be at least 1, got {workers}")
    return int(workers)


def _prepare_out(out: str, resume: bool, overwrite: bool) -> list[Row] | None:
    """Create ``out``; return the previous run's rows (None when there is none). A previous run needs
    ``--resume`` or ``--overwrite``; a folder with other files needs ``--overwrite``."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputError("exists and is not a folder", out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder ({exc.strerror or 'error'})", out) from None
    manifest = os.path.join(out, MANIFEST)
    if os.path.exists(manifest):
        if not (resume or overwrite):
            raise OutputError(
                f"holds a previous run ({MANIFEST}); use --resume to finish it or --overwrite to replace it", out
            )
        try:
            return read_rows(manifest)
        except (OSError, ValueError) as exc:
            raise OutputError(f"{MANIFEST} cannot be read ({exc})", out) from None
    if os.listdir(out) and not overwrite:
        raise OutputError("is not empty and holds no previous run; use --overwrite to write into it", out)
    if not os.access(out, os.W_OK):
        raise OutputError("the output folder cannot be written", out)
    return None


def _keep_or_clear(
    jobs: list[Job], previous: list[Row] | None, out: str, options: ConvertOptions, sources: list[str], resume: bool
) -> tuple[list[Job], list[Row]]:
    """``--resume``: the jobs still to do and the rows kept; ``--overwrite``: every job, the old outputs deleted."""
    if previous is None:
        return jobs, []
    if resume:
        check_same_run(read_record(out), options.describe(), sources, out)
        plan = plan_resume(jobs, previous, out)
        _delete_outputs(out, plan.stale)
        return plan.jobs, plan.kept
    _delete_outputs(out, [r["output"] for r in previous if r["output"]])
    return jobs, []


def _delete_outputs(out: str, names: Sequence[str]) -> None:
    """Delete outputs a manifest lists (only inside ``out``)."""
    for name in names:
        path = os.path.normpath(os.path.join(out, name))
        if path.startswith(out + os.sep):
            try:
                os.unlink(path)
            except OSError:
                pass


def _execute(
    jobs: list[Job],
    kept: list[Row],
    out: str,
    options: ConvertOptions,
    workers: int,
    dask: str | None,
    timeout: float | None,
    start_method: str | None,
    bar: Progress,
    done: int,
) -> tuple[_Tally, bool]:
    """Run the jobs on the local pool or Dask, writing rows as they come; (tally, interrupted)."""
    tally = _Tally()
    writer = ManifestWriter(os.path.join(out, MANIFEST), sorted_rows(kept))
    bar.update(done)
    pool: LocalPool | None = None
    results: Iterator[FileResult] | None = None
    dask_run: Generator[FileResult, None, None] | None = None  # closing it cancels the cluster's work
    interrupted = False
    try:
        if dask:
            results = dask_run = dask_results(jobs, options, dask, workers)
        else:
            pool = LocalPool(min(workers, max(len(jobs), 1)), options, timeout=timeout, start_method=start_method)
            results = pool.run(jobs)
        for result in results:
            writer.write(result.rows)
            tally.add(result)
            bar.update()
        if dask:
            sweep_all(jobs)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pool is not None:
            pool.close()
            for result in pool.late:
                writer.write(result.rows)
                tally.add(result)
            remove_unfinished(pool.unfinished, options.suffix, writer.outputs)
        if dask_run is not None and interrupted:
            dask_run.close()  # cancels what has not run
        bar.close()
        writer.close()
    return tally, interrupted


def _skip_text(skipped: Counter, found: int) -> str:
    parts = ", ".join(f"{skipped[r]} {r}" for r in (NOT_DICOM, NO_PIXELS) if skipped[r])
    return f"{_plural(found, 'file')}: {parts}" if parts else _plural(found, "file")


def _forget_run(out: str, previous: list[Row] | None, created: bool) -> None:
    """After a run that found nothing to convert, leave ``out`` as it was (no manifest of a non-run)."""
    if previous is not None:
        return
    for name in (MANIFEST, RECORD):
        try:
            os.unlink(os.path.join(out, name))
        except OSError:
            pass
    if created:
        try:
            os.rmdir(out)
        except OSError:
            pass

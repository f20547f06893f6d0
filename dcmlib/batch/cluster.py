"""Running the per-file task on a dask.distributed cluster: an existing one by address, or a LocalCluster.

The task is :func:`~dcmlib.batch.dispatch.run_job`, the same function the
local pool runs (applied to a few files per Dask task), so the outputs and
rows are the same.  Workers read the
sources and write the outputs themselves: they must see the same paths (a
shared filesystem).  A worker lost mid-run makes the scheduler run its files
again elsewhere; each file's result reaches the parent once, so the manifest
holds one row per output, and the outputs (written atomically under fixed
names) are replaced, never duplicated.  A file that kills every worker it
runs on ends, after the scheduler's ``allowed-failures``, as one failed row.
"""

from __future__ import annotations

import logging
import uuid
import warnings
from collections.abc import Generator, Sequence

from dcmlib.batch.dispatch import run_jobs
from dcmlib.batch.job import FileResult, Job, internal_error
from dcmlib.batch.options import ConvertOptions
from dcmlib.batch.pool import failed_result, output_folders, sweep_temp_files
from dcmlib.errors import InvalidArgumentError
from dcmlib.render.output import TEMP_PREFIX

__all__ = ["dask_results", "sweep_all", "LOCAL"]

#: ``--dask local``: start a LocalCluster of worker processes for this run.
LOCAL = "local"

#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 10


def dask_results(
    jobs: Sequence[Job], options: ConvertOptions, address: str, workers: int
) -> Generator[FileResult, None, None]:
    """Yield one result per job, in completion order, computed on the cluster at ``address`` (or ``local``).

    Files go to the workers in small batches (:func:`batch_size`), which keeps
    the scheduler's cost per file low.  A batch that fails (its workers died)
    is retried at the end file by file, each file alone on the cluster, so a
    failure is the file's own: only a file that kills its worker when nothing
    else runs is a failed row.  Raises :class:`~dcmlib.errors.InvalidArgumentError`
    when dask.distributed is not installed or the scheduler cannot be reached.
    Closing the generator (Ctrl-C) cancels what has not run.
    """
    from distributed import as_completed, wait

    client, cluster = _connect(address, workers)
    run = uuid.uuid4().hex[:12]
    size = batch_size(len(jobs), max(1, len(client.scheduler_info().get("workers", {})) or workers))
    batches = {f"dcmview-convert-{run}-{i}": list(jobs[i : i + size]) for i in range(0, len(jobs), size)}
    futures = client.map(convert_quietly, list(batches.values()), options=options, key=list(batches), pure=False)
    suspects: list[Job] = []
    try:
        for future in as_completed(futures):
            if future.status == "finished":
                yield from future.result()
            else:
                suspects.extend(batches[future.key])
            future.release()
        for i, job in enumerate(suspects):  # alone on the cluster: a failure now is the file's own
            future = client.submit(convert_quietly, [job], options, key=f"dcmview-convert-{run}-alone-{i}", pure=False)
            futures.append(future)
            wait([future])
            yield (
                future.result()[0]
                if future.status == "finished"
                else failed_result(job, _task_error(future.exception()))
            )
            future.release()
    finally:
        client.cancel([f for f in futures if not f.done()])
        client.close()
        if cluster is not None:
            cluster.close()


def convert_quietly(jobs: list[Job], options: ConvertOptions) -> list[FileResult]:
    """:func:`~dcmlib.batch.dispatch.run_jobs` on a Dask worker, with the local pool's warnings policy:
    pydicom's UserWarnings on lenient reads are not printed (what matters is in the rows' warnings)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
        return run_jobs(jobs, options)


def batch_size(files: int, workers: int) -> int:
    """Files per Dask task: about eight tasks per worker, 1 to 16 files each."""
    return max(1, min(16, files // (8 * max(1, workers))))


def _connect(address: str, workers: int):
    """A Client of the scheduler at ``address``, or of a new LocalCluster (returned too, to be closed)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InvalidArgumentError("--dask needs dask.distributed (pip install 'dcmview[dask]')") from None
    cluster = None
    try:
        if address == LOCAL:
            import dask

            # Worker processes a nanny starts again after a crash configure their logging from the
            # environment when they import distributed; silence_logs reaches only the first ones.
            environ = {
                **dask.config.get("distributed.nanny.pre-spawn-environ", {}),
                "DASK_LOGGING__DISTRIBUTED": "critical",
            }
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                cluster = LocalCluster(
                    n_workers=max(1, workers),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.CRITICAL,
                )
            return Client(cluster), cluster
        return Client(address, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise InvalidArgumentError(f"cannot reach the Dask scheduler at {address} ({exc})") from None


def _task_error(exc: BaseException | None) -> str:
    """A failed task's row text: a worker lost each time it ran the file is a crash."""
    if type(exc).__name__ == "KilledWorker":
        return "decoder crashed (every Dask worker that ran it died)"
    return internal_error(exc) if exc is not None else "the Dask task was lost"


def sweep_all(jobs: Sequence[Job]) -> int:
    """Remove the temporary files any writer left in the jobs' folders (a lost Dask worker's pid is unknown)."""
    folders: set[str] = set()
    for job in jobs:
        folders |= output_folders(job)
    return sweep_temp_files(folders, TEMP_PREFIX)

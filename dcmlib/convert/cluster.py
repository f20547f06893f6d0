"""Running the per-file task on a dask.distributed cluster: an existing one by address, or a LocalCluster.

The task is :func:`~dcmlib.convert.task.convert_file`, the same function the
local pool runs, so the outputs and rows are the same.  Workers read the
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
from collections.abc import Iterator, Sequence

from ..errors import InvalidArgumentError
from ..output import TEMP_PREFIX
from .options import ConvertOptions
from .pool import failed_result, output_folders, sweep_temp_files
from .task import FileResult, Job, convert_file, internal_error

__all__ = ["dask_results", "sweep_all", "LOCAL"]

#: ``--dask local``: start a LocalCluster of worker processes for this run.
LOCAL = "local"


def dask_results(jobs: Sequence[Job], options: ConvertOptions, address: str, workers: int) -> Iterator[FileResult]:
    """Yield one result per job, in completion order, computed on the cluster at ``address`` (or ``local``).

    Raises :class:`~dcmlib.errors.InvalidArgumentError` when dask.distributed
    is not installed or the scheduler cannot be reached.  Closing the
    generator (Ctrl-C) cancels what has not run.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InvalidArgumentError("--dask needs dask.distributed (pip install 'dcmview[dask]')") from None
    cluster = None
    try:
        if address == LOCAL:
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise InvalidArgumentError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    run = uuid.uuid4().hex[:12]
    futures = client.map(convert_file, list(jobs), options=options, key=[f"dcmview-convert-{run}-{i}"
                                                                        for i in range(len(jobs))], pure=False)
    by_key = {f.key: job for f, job in zip(futures, jobs)}
    try:
        for future in as_completed(futures):
            job = by_key[future.key]
            if future.status == "finished":
                yield future.result()
            else:
                yield failed_result(job, _task_error(future.exception()))
            future.release()
    finally:
        client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


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

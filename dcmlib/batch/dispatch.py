"""Running a job: the per-file task (:func:`~dcmlib.batch.task.convert_file`) or, with ``--plane``, the
per-series task (:func:`~dcmlib.batch.planes.convert_series`), for the local pool and for Dask alike."""

from __future__ import annotations

from dcmlib.batch.job import FileResult, Job
from dcmlib.batch.options import ConvertOptions
from dcmlib.batch.planes import convert_series
from dcmlib.batch.task import convert_file

__all__ = ["run_job", "run_jobs"]


def run_job(job: Job, options: ConvertOptions) -> FileResult:
    """Convert one job: a file, or with ``options.plane`` a series through that plane."""
    return convert_series(job, options) if options.plane is not None else convert_file(job, options)


def run_jobs(jobs: list[Job], options: ConvertOptions) -> list[FileResult]:
    """:func:`run_job` on each job, in order (a Dask task holds a few)."""
    return [run_job(job, options) for job in jobs]

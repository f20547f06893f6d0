"""The run's record: ``DIR/manifest.csv`` (one row per output or failed source) and ``DIR/manifest.json``.

Rows are appended and flushed as each file finishes, so an interrupted run
keeps what it did; a finished run rewrites the file sorted by source and frame
(atomically), so the local pool, Dask and a resumed run leave the same bytes.
``manifest.json`` records the options and sources that decide the outputs;
``--resume`` refuses to continue a run made with others.  The CSV is plain
RFC 4180 text with a header line: ``pandas.read_csv`` reads it as it is.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dcmlib.batch.job import COLUMNS, Job, Row
from dcmlib.errors import InvalidArgumentError, OutputError
from dcmlib.render import output

__all__ = [
    "MANIFEST",
    "RECORD",
    "DTYPES",
    "read_table",
    "ManifestWriter",
    "read_rows",
    "sorted_rows",
    "write_rows",
    "read_record",
    "write_record",
    "Resume",
    "plan_resume",
]

MANIFEST = "manifest.csv"
RECORD = "manifest.json"
_VERSION = 1

#: The pandas dtypes of the manifest's columns that hold whole numbers, for ``pandas.read_csv(path,
#: dtype=DTYPES)``: failed and skipped rows leave them empty, which plain ``read_csv`` turns into floats
#: (1.0, 456.0); pandas' nullable ``Int64`` keeps them integers, the empty ones ``<NA>``.
DTYPES: dict[str, str] = {
    "frame": "Int64",
    "rows": "Int64",
    "columns": "Int64",
    "value_offset": "Int64",
    "source_size": "Int64",
    "source_mtime_ns": "Int64",
}


def read_table(path: str | os.PathLike[str]):
    """The manifest as a pandas DataFrame with :data:`DTYPES` (pandas is not a dependency of dcmview)."""
    import pandas

    return pandas.read_csv(path, dtype=DTYPES)


def _frame_key(row: Row) -> tuple[str, int, str]:
    return row["source"], int(row["frame"]) if row["frame"].isdigit() else 0, row["output"]


def sorted_rows(rows: Iterable[Row]) -> list[Row]:
    """Rows in the finished manifest's order: by source, then frame."""
    return sorted(rows, key=_frame_key)


def _csv_text(rows: Iterable[Row], header: bool) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_rows(path: str, rows: Iterable[Row]) -> None:
    """Write a whole manifest atomically (header and rows as given)."""
    output.write_bytes(path, _csv_text(rows, True).encode())


def read_rows(path: str) -> list[Row]:
    """The rows of a manifest; missing columns read as empty."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [{c: (r.get(c) or "") for c in COLUMNS} for r in csv.DictReader(fh)]


class ManifestWriter:
    """Appends rows to ``manifest.csv`` and flushes after each file's rows."""

    def __init__(self, path: str, existing: Sequence[Row] = ()):
        write_rows(path, existing)
        self.outputs = {r["output"] for r in existing if r["output"]}  #: every output the rows list
        try:
            self._fh = open(path, "a", newline="", encoding="utf-8")
        except OSError as exc:
            raise OutputError(exc.strerror or "cannot write", path) from None
        self.path = path

    def write(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        self.outputs.update(r["output"] for r in rows if r["output"])
        text = _csv_text(rows, False)
        if text:
            self._fh.write(text)
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def write_record(out: str, options: dict[str, object], sources: Sequence[str]) -> None:
    """``manifest.json``: what decides the outputs (options and sources), for ``--resume``."""
    record = {"version": _VERSION, "options": options, "sources": list(sources)}
    output.write_bytes(os.path.join(out, RECORD), (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())


def read_record(out: str) -> dict[str, Any] | None:  # a JSON object
    try:
        with open(os.path.join(out, RECORD), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def check_same_run(
    previous: dict[str, Any] | None, options: dict[str, object], sources: Sequence[str], out: str
) -> None:
    """Refuse ``--resume`` when the previous run's options or sources differ (naming the first difference)."""
    if previous is None:
        raise InvalidArgumentError(
            f"{RECORD} is missing or damaged; cannot tell how the previous run was made (use --overwrite)", out
        )
    old: dict = previous.get("options") or {}
    for key, value in options.items():
        if old.get(key) != value:
            raise InvalidArgumentError(
                f"--resume with other options than the previous run ({key}: "
                f"{old.get(key)!r} then, {value!r} now); use --overwrite",
                out,
            )
    if list(previous.get("sources") or []) != list(sources):
        raise InvalidArgumentError("--resume with other sources than the previous run; use --overwrite", out)


@dataclass(frozen=True)
class Resume:
    """What ``--resume`` keeps and redoes: ``jobs`` to run, ``kept`` rows, ``stale`` outputs to delete."""

    jobs: list[Job]
    kept: list[Row]
    stale: list[str]
    done: int  #: sources kept as they were


def plan_resume(jobs: Sequence[Job], rows: Sequence[Row], out: str) -> Resume:
    """Keep a source's rows when all are ``ok``, every output exists and the source has its recorded size
    and mtime; redo every other source (missing or failed outputs, a changed source, a new one).

    Outputs of sources redone or gone are stale: they are deleted, so the
    result equals a clean run.
    """
    planes = any(j.files for j in jobs)  # --plane: several series may share a folder, told apart by UID

    def key(source: str, series: str) -> tuple[str, str]:
        return (source, series) if planes else (source, "")

    by_source: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        by_source.setdefault(key(r["source"], r["series_instance_uid"]), []).append(r)
    todo: list[Job] = []
    kept: list[Row] = []
    stale: list[str] = []
    done = 0
    current = {key(j.source, j.series) for j in jobs}
    for job in jobs:
        old = by_source.get(key(job.source, job.series), [])
        if old and all(_intact(r, job, out) for r in old):
            kept.extend(old)
            done += 1
            continue
        todo.append(job)
        stale.extend(r["output"] for r in old if r["output"])
    for source, old in by_source.items():
        if source not in current:
            stale.extend(r["output"] for r in old if r["output"])
    return Resume(todo, kept, stale, done)


def _intact(row: Row, job: Job, out: str) -> bool:
    return (
        row["status"] == "ok"
        and bool(row["output"])
        and os.path.isfile(os.path.join(out, row["output"]))
        and row["source_size"] == str(job.size)
        and row["source_mtime_ns"] == str(job.mtime_ns)
    )

"""The batch job's values and the one output writer: what a job is (:class:`Job`), what it gave
(:class:`FileResult`, the manifest's :data:`COLUMNS`), how outputs are named and written.

Both the per-file task (:mod:`.task`) and the per-series task (:mod:`.planes`) build on this;
it imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from dcmlib.errors import DcmviewError, OutputError
from dcmlib.read.io import starts_as_dicom
from dcmlib.render import output

__all__ = [
    "COLUMNS",
    "Row",
    "Job",
    "FileResult",
    "NOT_DICOM",
    "NO_PIXELS",
    "SEG_SOURCE",
    "FOLDER_GONE",
    "output_name",
    "selected_frames",
    "is_dicom_file",
    "skipped",
    "internal_error",
    "make_row",
    "strip_where",
    "write_output",
]

#: The manifest's columns, in order.
COLUMNS = (
    "output",
    "source",
    "frame",
    "status",
    "error",
    "sop_instance_uid",
    "series_instance_uid",
    "modality",
    "rows",
    "columns",
    "photometric",
    "center",
    "width",
    "voi_function",
    "window_source",
    "rescale_slope",
    "rescale_intercept",
    "value_offset",
    "pixel_spacing",
    "slice_position",
    "pixel_values",
    "warnings",
    "source_size",
    "source_mtime_ns",
)

#: A row's error when DIR does not exist (the run creates it; deleted while the run went on).
FOLDER_GONE = "the output folder no longer exists"

# Why a source is skipped (not converted, not failed).
NOT_DICOM = "not DICOM"
NO_PIXELS = "no pixel data"
SEG_SOURCE = "the --seg segmentation"

Row = dict[str, str]


@dataclass(frozen=True)
class Job:
    """One source file and where its outputs go.

    ``name`` is, for the mirror layout, the output path relative to ``out``
    without extension (``a/b/IM1``); for the series layout, the series folder
    (``<study>/<series>``) and ``numbers`` the 1-based slice number of each
    frame of the file, in the viewer's order.  ``size`` and ``mtime_ns`` are
    the source's when the run was planned (``--resume`` compares them).
    """

    source: str
    out: str
    name: str
    numbers: tuple[int, ...] = ()
    size: int = -1
    mtime_ns: int = -1
    #: ``--plane``: the Series Instance UID and every file of the series as (path, size, mtime_ns); ``source`` is
    #: then the series' folder (or its one file), ``name`` the outputs' folder, ``size`` the files' total bytes
    #: and ``mtime_ns`` the newest file's (see :mod:`dcmlib.batch.planes`)
    series: str = ""
    files: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class FileResult:
    """What one source gave: ``status`` ``ok``, ``failed`` or ``skipped`` (``reason`` says why), and its rows."""

    source: str
    status: str
    rows: tuple[Row, ...] = ()
    reason: str = ""

    @property
    def images(self) -> int:
        return sum(1 for r in self.rows if r["status"] == "ok")


def output_name(job: Job, frame: int, frames: int, suffix: str) -> str:
    """The output's path relative to DIR: ``a/b/IM1.png``, ``a/b/IM1_f0002.png`` (a multi-frame
    file, frames from 1) or ``<study>/<series>/0007.png`` (series layout, slices from 1)."""
    if job.numbers:
        return f"{job.name}/{job.numbers[frame]:04d}{suffix}"
    return f"{job.name}_f{frame + 1:04d}{suffix}" if frames > 1 else f"{job.name}{suffix}"


def selected_frames(choice: str | int, frames: int) -> list[int]:
    """The 0-based frames ``--frames`` picks: ``all``, ``first`` or frame N (from 1)."""
    if choice == "all":
        return list(range(frames))
    if choice == "first":
        return [0]
    return [int(choice) - 1]


def is_dicom_file(path: str) -> bool:
    """Whether the file begins as DICOM (:func:`dcmlib.read.io.starts_as_dicom`: the preamble and ``DICM``, or a
    data set written without them), as folder scanning requires; what then fails to read is a failed row."""
    try:
        with open(path, "rb", buffering=0) as fh:
            head = fh.read(132)
    except OSError:
        return True  # let the reader say what is wrong with it
    return starts_as_dicom(head)


def skipped(job: Job, reason: str) -> FileResult:
    """A source that is not converted, with its one row saying why (status ``skipped``, ``error`` the reason)."""
    entry = make_row(
        {"source": job.source, "source_size": str(job.size), "source_mtime_ns": str(job.mtime_ns)},
        status="skipped",
        error=reason,
    )
    return FileResult(job.source, "skipped", (entry,), reason)


def internal_error(exc: BaseException) -> str:
    """The row text for a bug (an exception that is not a DcmviewError)."""
    return f"internal error ({type(exc).__name__}); run dcmview.py FILE --export OUT.png --debug and report it"


def make_row(base: Row, **fields: str) -> Row:
    row = dict.fromkeys(COLUMNS, "")
    row.update(base)
    row.update(fields)
    return row


def write_output(out: str, encode: Callable[[], tuple[str, bytes]], fields: Row, what: str) -> None:
    """Write what ``encode`` gives (the output's path relative to ``out``, its bytes) atomically;
    ``fields`` gets ``output`` and ``status`` ok, or status failed and the problem (``what``: frame, slice)."""
    try:
        rel, data = encode()
        path = os.path.join(out, rel)
        if not os.path.isdir(out):  # deleted during the run: do not create it again for one file
            raise OutputError(FOLDER_GONE, out)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        output.write_bytes(path, data)
        fields.update(output=rel, status="ok")
    except DcmviewError as exc:
        fields.update(status="failed", error=exc.problem)
    except OSError as exc:
        fields.update(status="failed", error=exc.strerror or "cannot write")
    except MemoryError:
        fields.update(status="failed", error=f"not enough memory to convert the {what}")
    except Exception as exc:  # noqa: BLE001 - a bug must fail this frame, not the run
        fields.update(status="failed", error=internal_error(exc))


def strip_where(note: str, path: str | None) -> str:
    prefix = f"{path}: "
    return note[len(prefix) :] if path and note.startswith(prefix) else note


# ----------------------------------------------------------------------------- what a frame becomes

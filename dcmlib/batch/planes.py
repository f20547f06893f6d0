"""``convert --plane NAME``: the per-series task, a series' volume written as slices through one plane.

:func:`convert_series` is what :func:`~dcmlib.batch.dispatch.run_job` runs
when the options name a plane, so the local pool and Dask run it alike.  One
job is one series (:func:`~dcmlib.batch.plan.plan_planes`): its files are
grouped again here exactly as ``dcmlib.load(folder)`` groups a folder
(:func:`dcmlib.read.series.group_files`), the volume is built once
(:mod:`dcmlib.images.reformat`, PS3.3 C.7.6.2.1.1) and each selected slice of the
plane is rendered with the calls ``dcmview.py SERIESDIR --export OUT --plane
NAME --frame N`` makes, so a lossless output equals that export byte for
byte.  One manifest row per output; the row's ``frame`` counts through the
plane (from 1) and ``slice_position`` is the slice's coordinate (mm) along
the plane's patient axis.  A source that is no volume (one slice, a
multi-frame file without per-frame geometry, colour) is one failed row
saying why, in the library's words.
"""

from __future__ import annotations

import os

from dcmlib.batch.job import (
    NO_PIXELS,
    NOT_DICOM,
    FileResult,
    Job,
    Row,
    internal_error,
    is_dicom_file,
    make_row,
    selected_frames,
    skipped,
    strip_where,
    write_output,
)
from dcmlib.batch.options import ConvertOptions
from dcmlib.batch.task import display_image
from dcmlib.errors import DcmviewError, InvalidArgumentError, NoPixelDataError
from dcmlib.images.image import DicomImage, load
from dcmlib.read.series import group_files
from dcmlib.render import output

__all__ = ["convert_series", "plane_output_name"]


def plane_output_name(job: Job, frame: int, suffix: str) -> str:
    """``<job.name>/0007.png``: slice 7 of the plane (``--export --plane --frame 7``)."""
    return f"{job.name}/{frame + 1:04d}{suffix}"


def _open(job: Job, notes: list[str], cache_mb: float | None = None) -> DicomImage:
    """The series as ``dcmlib.load`` opens it: its one file, or its files grouped as a folder scan groups them."""
    if len(job.files) <= 1:
        return load(job.source, read_ahead=False, on_warning=notes.append, cache_mb=cache_mb)
    series_list, _ = group_files([f[0] for f in job.files], job.source)
    chosen = next((s for s in series_list if s.uid == job.series), None)
    if chosen is None:
        raise InvalidArgumentError("the series' files no longer form the series planned", job.source)
    for note in chosen.notes:
        notes.append(f"{job.source}: {note}")
    return DicomImage(
        chosen.frames,
        name=os.path.basename(job.source),
        path=job.source,
        read_ahead=False,
        on_warning=notes.append,
        cache_mb=cache_mb,
    )


def convert_series(job: Job, options: ConvertOptions) -> FileResult:
    """Write the selected slices of ``options.plane`` of the job's series, one manifest row each.

    A lone file that is not DICOM or has no pixel data is skipped (as
    per file); a source that cannot be read or reformatted is one failed row.
    """
    if len(job.files) <= 1 and not is_dicom_file(job.source):
        return skipped(job, NOT_DICOM)
    notes: list[str] = []
    base: Row = {
        "source": job.source,
        "series_instance_uid": job.series,
        "source_size": str(job.size),
        "source_mtime_ns": str(job.mtime_ns),
    }

    def failed(problem: str) -> FileResult:
        warnings = "; ".join(strip_where(n, job.source) for n in dict.fromkeys(notes))
        return FileResult(job.source, "failed", (make_row(base, status="failed", error=problem, warnings=warnings),))

    try:
        img = _open(job, notes, options.cache_mb)
    except NoPixelDataError:
        return skipped(job, NO_PIXELS)
    except DcmviewError as exc:
        return failed(exc.problem)
    except Exception as exc:  # noqa: BLE001 - a bug must fail this series, not the run
        return failed(internal_error(exc))
    with img:
        base.update(modality=img.modality, photometric=img.photometric)
        try:
            assert options.plane is not None  # run_job sends only --plane runs here
            view = img.reformat(options.plane)
            frames = selected_frames(options.frames, len(view))
            if frames[-1] >= len(view):
                raise InvalidArgumentError(f"frame {frames[-1] + 1} out of range (1..{len(view)})", job.source)
        except DcmviewError as exc:
            return failed(exc.problem)
        except MemoryError:
            return failed("not enough memory to build the volume")
        except Exception as exc:  # noqa: BLE001 - a bug must fail this series, not the run
            return failed(internal_error(exc))
        spacing = view.pixel_spacing(0)
        base.update(
            rows=str(view.rows),
            columns=str(view.columns),
            pixel_spacing=f"{spacing.row!r}\\{spacing.column!r}" if spacing else "",
        )
        rows = tuple(_convert_slice(view, job, options, f, base, notes) for f in frames)
    status = "ok" if all(r["status"] == "ok" for r in rows) else "failed"
    return FileResult(job.source, status, rows)


def _convert_slice(view, job: Job, options: ConvertOptions, frame: int, base: Row, notes: list[str]) -> Row:
    """Render, encode and write one slice of the plane; its manifest row (failed with the problem on error)."""
    fields: Row = {"frame": str(frame + 1)}

    def encode() -> tuple[str, bytes]:
        fields["slice_position"] = repr(float(view.position(frame)))
        if options.format == "npy":
            data, more = output.encode_npy(view.values(frame)), {"pixel_values": "modality"}
        else:
            image, window = display_image(view, frame, options, notes=notes)
            data, more = output.encode_image(image, options.suffix, job.source), {**window, "pixel_values": "display"}
        fields.update(more)
        return plane_output_name(job, frame, options.suffix), data

    try:
        write_output(job.out, encode, fields, "slice")
    finally:
        view.close()  # one slice's arrays at a time; the volume stays until the series is done
    fields["warnings"] = "; ".join(strip_where(n, job.source) for n in dict.fromkeys(notes))
    return make_row(base, **fields)

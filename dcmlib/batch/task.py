"""The per-file task: ``convert_file(job, options) -> FileResult``, pure apart from the files it writes.

The local process pool and Dask both run exactly this function, so their
outputs and manifest rows are identical by construction.  It goes through the
library's error boundary: a :class:`~dcmlib.errors.DcmviewError` becomes a
failed row with the error's problem text; a frame that fails leaves the
file's other frames written.  Each output is rendered with the same calls
``dcmview.py FILE --export OUT --frame N`` makes (``img.render``,
``img.resolve_voi``) and written by :mod:`dcmlib.render.output`, so a lossless output
equals ``--export`` byte for byte.  The image's caches are dropped after each
frame: a worker holds one file and one frame's arrays at a time.
"""

from __future__ import annotations

import functools
import os
from dataclasses import replace

import numpy as np
from pydicom.dataset import Dataset

from dcmlib.batch.job import (
    NO_PIXELS,
    NOT_DICOM,
    SEG_SOURCE,
    FileResult,
    Job,
    Row,
    internal_error,
    is_dicom_file,
    make_row,
    output_name,
    selected_frames,
    skipped,
    strip_where,
    write_output,
)
from dcmlib.batch.options import ConvertOptions
from dcmlib.displayable import RenderOptions
from dcmlib.errors import (
    DcmviewError,
    InvalidArgumentError,
    NoPixelDataError,
    NotDicomError,
    SegmentationError,
    UnsupportedError,
)
from dcmlib.images.image import DicomImage, load
from dcmlib.objects.pstate import PresentationState, load_pstate
from dcmlib.objects.segmentation import NotReferencedError, Segmentation, load_segmentation
from dcmlib.read.header import frame_params, functional_item, layout, text_value, vector
from dcmlib.read.io import NOT_A_DICOM_FILE, pixel_element
from dcmlib.read.series import slice_normal
from dcmlib.render import output
from dcmlib.render.pipeline import VoiSelection, apply_modality
from dcmlib.values.lut import Modality, VoiLut
from dcmlib.values.presets import preset_for_image

__all__ = ["convert_file", "display_image", "render_arguments", "values16"]


def convert_file(job: Job, options: ConvertOptions) -> FileResult:
    """Convert one source file: every selected frame written under ``job.out``, one manifest row each.

    Files without the DICOM preamble and files without pixel data (DICOMDIR,
    reports) are skipped.  A file that cannot be read is one failed row; a
    frame that cannot be rendered or written is a failed row for that frame.
    """
    if not is_dicom_file(job.source):
        return skipped(job, NOT_DICOM)
    if options.seg is not None and _same_file(job.source, options.seg):
        return skipped(job, SEG_SOURCE)
    notes: list[str] = []
    base = {"source": job.source, "source_size": str(job.size), "source_mtime_ns": str(job.mtime_ns)}
    try:
        img = load(job.source, read_ahead=False, on_warning=notes.append)
    except NoPixelDataError:
        return skipped(job, NO_PIXELS)
    except NotDicomError as exc:
        if exc.problem == NOT_A_DICOM_FILE:
            return skipped(job, NOT_DICOM)
        return FileResult(job.source, "failed", (make_row(base, status="failed", error=exc.problem),))
    except DcmviewError as exc:
        return FileResult(job.source, "failed", (make_row(base, status="failed", error=exc.problem),))
    except Exception as exc:  # noqa: BLE001 - a bug must fail this file, not the run
        return FileResult(job.source, "failed", (make_row(base, status="failed", error=internal_error(exc)),))
    with img:
        base.update(_describe(img))
        try:
            frames = selected_frames(options.frames, len(img))
            if frames[-1] >= len(img):
                raise InvalidArgumentError(f"frame {frames[-1] + 1} out of range (1..{len(img)})", job.source)
            seg = _segmentation(img, options, notes)
        except DcmviewError as exc:
            problem = f"--seg {exc}" if isinstance(exc, SegmentationError) else exc.problem
            return FileResult(job.source, "failed", (make_row(base, status="failed", error=problem),))
        rows = tuple(_convert_frame(img, job, options, f, base, notes, seg) for f in frames)
    status = "ok" if all(r["status"] == "ok" for r in rows) else "failed"
    return FileResult(job.source, status, rows)


def _describe(img: DicomImage) -> Row:
    """The file-level columns: identity (UIDs, no patient identifier), modality, size, photometric."""
    ds = img.header
    return {
        "sop_instance_uid": text_value(ds, "SOPInstanceUID"),
        "series_instance_uid": text_value(ds, "SeriesInstanceUID"),
        "modality": img.modality,
        "rows": str(img.rows),
        "columns": str(img.columns),
        "photometric": img.photometric,
    }


def _segmentation(img: DicomImage, options: ConvertOptions, notes: list[str]) -> Segmentation | None:
    """``--seg`` mapped onto this file, or None; a SEG that references another image is a note, not a failure
    (a folder holds other series too)."""
    if options.seg is None:
        return None
    try:
        return load_segmentation(options.seg, img)
    except NotReferencedError as exc:
        notes.append(f"no segmentation drawn: {exc}")
        return None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _convert_frame(
    img: DicomImage,
    job: Job,
    options: ConvertOptions,
    frame: int,
    base: Row,
    notes: list[str],
    seg: Segmentation | None = None,
) -> Row:
    """Render, encode and write one frame; its manifest row (failed with the problem on error)."""
    fields: Row = {"frame": str(frame + 1)}

    def encode() -> tuple[str, bytes]:
        fields.update(_geometry(img.header, frame))
        modality = _modality(img, frame)
        if modality is not None:
            fields.update(_rescale(modality))
        data, more = _encode(img, frame, options, modality, seg, notes)
        fields.update(more)
        return output_name(job, frame, len(img), options.suffix), data

    try:
        write_output(job.out, encode, fields, "frame")
    finally:
        img.close()  # one frame's arrays at a time
    fields["warnings"] = "; ".join(strip_where(n, img.path) for n in dict.fromkeys(notes))
    return make_row(base, **fields)


def _encode(
    img: DicomImage,
    frame: int,
    options: ConvertOptions,
    modality: Modality | None,
    seg: Segmentation | None = None,
    notes: list[str] | None = None,
) -> tuple[bytes, Row]:
    """The output bytes of one frame in ``options.format`` and the columns saying what they hold."""
    where = img.path
    if options.format == "npy":
        return output.encode_npy(img.values(frame)), {"pixel_values": "rgb" if img.is_color else "modality"}
    if options.format in ("png16", "tif16"):
        values, offset, meaning = values16(img, frame, modality)
        return output.encode_image(values, options.suffix, where), {
            "value_offset": str(offset),
            "pixel_values": meaning,
        }
    image, window = display_image(img, frame, options, seg, notes)
    return output.encode_image(image, options.suffix, where), {**window, "pixel_values": "display"}


def display_image(
    img: DicomImage,
    frame: int,
    options: ConvertOptions,
    seg: Segmentation | None = None,
    notes: list[str] | None = None,
) -> tuple[np.ndarray, Row]:
    """The 8-bit display image (``render``, as ``--export``) or the three ``--channels`` windows as one
    BGR image whose first channel, as PNG readers see it (red), is the first window; and its window columns.
    ``seg`` is blended as ``--export --seg`` blends it (the output then BGR); ``notes`` gets the warnings."""
    opts = RenderOptions(
        invert=options.invert,
        overlays=options.overlays,
        shutters=options.shutters,  # C.9.2, C.7.6.11
        segmentation=seg,
        seg_alpha=options.seg_alpha,
        seg_outline=options.seg_outline,
    )
    if options.pstate is not None and (state := _pstate(options.pstate)).references(*img.pstate_ref(frame)):
        opts = replace(opts, pstate=state, annotations=options.annotations)  # PS3.3 A.33.1, as --export --pstate
    if img.is_color:
        return img.render(frame=frame, options=opts), {}
    if options.channels is not None:
        planes, sels = [], []
        for ch in options.channels:
            one = replace(
                opts,
                mode=options.mode,
                **(_preset_argument(img, ch.preset, options, notes) if ch.preset else ch.resolve()),
            )
            sels.append(img.resolve_voi(frame, **one.window))
            planes.append(img.render(frame=frame, options=one))
        bgr = np.dstack(planes[::-1])  # OpenCV writes BGR: the first window lands in red
        return bgr, _window_columns(sels, [None if c.preset else "user" for c in options.channels])
    opts = replace(opts, **render_arguments(img, frame, options, notes))
    sel = img.resolve_voi(frame, **opts.window)
    return img.render(frame=frame, options=opts), _window_columns([sel], ["auto" if options.auto else None])


@functools.lru_cache(maxsize=4)
def _pstate(path: str) -> PresentationState:
    """The ``--pstate`` file, read once per worker process (checked before the run started)."""
    return load_pstate(path)


def render_arguments(img: DicomImage, frame: int, options: ConvertOptions, notes: list[str] | None = None) -> dict:
    """``render``'s window arguments for ``options``: as ``--export`` passes them; ``auto`` as a window.
    A preset for other modalities than the image's is left out, and ``notes`` gets why."""
    kwargs: dict = {"mode": options.mode}
    if options.window is not None:
        kwargs.update(center=options.window[0], width=options.window[1])
    elif options.auto:
        auto = img.auto_window(frame)
        kwargs.update(center=auto.center, width=auto.width)
    elif options.preset is not None:
        kwargs.update(_preset_argument(img, options.preset, options, notes))
    elif options.voi is not None:
        kwargs["voi"] = options.voi
    return kwargs


def _preset_argument(img: DicomImage, name: str, options: ConvertOptions, notes: list[str] | None) -> dict:
    """``{"preset": Preset}`` when the preset applies to the image (:func:`dcmlib.values.presets.preset_for_image`),
    else ``{}`` (the file's own window) with the reason in ``notes``."""
    preset, note = preset_for_image(name, img.modality, img.unit, options.presets)
    if preset is None and notes is not None:
        notes.append(note or "")
    return {} if preset is None else {"preset": preset}


def _window_columns(sels: list[VoiSelection], sources: list[str | None]) -> Row:
    """center, width, voi_function and window_source (``;`` between ``--channels`` windows)."""
    return {
        "center": ";".join(repr(float(s.window.center)) for s in sels),
        "width": ";".join(repr(float(s.window.width)) for s in sels),
        "voi_function": ";".join("LUT" if isinstance(s.voi, VoiLut) else s.voi.function.value for s in sels),
        "window_source": ";".join(_source(s, hint) for s, hint in zip(sels, sources)),
    }


def _source(sel: VoiSelection, hint: str | None) -> str:
    if hint == "auto":
        return "auto"
    if sel.source == "stored":
        return f"file VOI {sel.index}"
    if sel.source == "preset" and sel.preset is not None:
        return f"preset {sel.preset.name}"
    return {"minmax": "min-max"}.get(sel.source, sel.source)


def values16(img: DicomImage, frame: int, modality: Modality | None) -> tuple[np.ndarray, int, str]:
    """16-bit unsigned values and ``value_offset``, so that ``pixel + value_offset`` is the value.

    ``modality``: the frame's modality values (HU for CT, PS3.3 C.11.1;
    per frame in enhanced files, C.7.6.16.2.9) when they are whole numbers
    and the range its stored bits can express spans at most 65536 values; the
    offset is that range's low end.  ``stored``: otherwise the stored values,
    and modality value = Rescale Slope x (pixel + value_offset) + Rescale
    Intercept.  Colour: the RGB samples (``rgb``), in OpenCV's BGR order.
    """
    if img.is_color:
        return np.ascontiguousarray(img.values(frame)[..., ::-1]).astype(np.uint16), 0, "rgb"
    stored = img.stored(frame)
    if stored.dtype.kind not in "iu" or stored.dtype.itemsize > 2 or modality is None:
        raise UnsupportedError(
            "png16 and tif16 hold 16-bit whole numbers; this image's values are real numbers "
            "or wider than 16 bits (use --format npy)",
            img.path,
        )
    lo, hi = _expressible(img, modality)
    whole = modality.lut is not None or (float(modality.slope).is_integer() and float(modality.intercept).is_integer())
    if whole and hi - lo <= 65535:
        values, offset, meaning = img.values(frame), int(np.floor(lo)), "modality"
    else:
        info = np.iinfo(stored.dtype)
        offset = int(info.min) if info.min < 0 else 0
        values, meaning = stored, "stored"
    shifted = values.astype(np.int64) - offset
    if shifted.size and (shifted.min() < 0 or shifted.max() > 65535):
        raise UnsupportedError("the values do not fit 16 bits (stored values beyond Bits Stored)", img.path)
    return shifted.astype(np.uint16), offset, meaning


def _expressible(img: DicomImage, modality: Modality) -> tuple[float, float]:
    """The modality values the stored bits can express (PS3.3 C.7.6.3.1: Bits Stored, Pixel Representation)."""
    if modality.lut is not None:
        return float(modality.lut.entries.min()), float(modality.lut.entries.max())
    ds = img.header
    lay = layout(ds, pixel_element(ds), img.path)
    bits = min(lay.bits_stored, lay.bits_allocated)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if lay.signed else (0, (1 << bits) - 1)
    ends = apply_modality(np.array([lo, hi], dtype=np.int64), modality)
    return float(ends.min()), float(ends.max())


# ----------------------------------------------------------------------------- header columns


def _modality(img: DicomImage, frame: int) -> Modality | None:
    """The frame's Modality LUT / rescale (PS3.3 C.11.1, C.7.6.16.2.9); None for colour."""
    if img.is_color:
        return None
    ds = img.header
    return frame_params(ds, frame, layout(ds, pixel_element(ds), img.path)).modality


def _rescale(m: Modality) -> Row:
    if m.lut is not None:
        return {"rescale_slope": "", "rescale_intercept": ""}
    return {"rescale_slope": repr(float(m.slope)), "rescale_intercept": repr(float(m.intercept))}


def _geometry(ds: Dataset, frame: int) -> Row:
    """Pixel Spacing (PS3.3 C.7.6.2.1.1, per frame C.7.6.16.2.1) and the slice position: Image Position
    (Patient) projected on the normal of Image Orientation (Patient), as the viewer orders slices."""
    measures = functional_item(ds, frame, "PixelMeasuresSequence")
    spacing = vector((measures if measures is not None and "PixelSpacing" in measures else ds).get("PixelSpacing"), 2)
    if "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds:
        o_item = functional_item(ds, frame, "PlaneOrientationSequence")
        p_item = functional_item(ds, frame, "PlanePositionSequence")
        orient = None if o_item is None else o_item.get("ImageOrientationPatient")
        pos = None if p_item is None else p_item.get("ImagePositionPatient")
    else:  # a classic multi-frame file has one position: its first frame's
        orient = ds.get("ImageOrientationPatient")
        pos = ds.get("ImagePositionPatient") if frame == 0 else None
    normal = slice_normal(vector(orient, 6) or ())
    p = vector(pos, 3)
    position = "" if normal is None or p is None else repr(float(np.dot(np.asarray(p), normal)))
    return {"pixel_spacing": "\\".join(repr(x) for x in spacing) if spacing else "", "slice_position": position}

"""Segmentations and masks: a DICOM SEG, a NumPy ``.npy`` or a PNG/TIFF label image over an image.

A pure stage after the grey (or colour) pipeline and the overlays and
shutter: :func:`blend` mixes each segment's colour into the 8-bit display
image, ``colour * a + pixel * (1 - a)`` with ``a = alpha * coverage``, and the
output is BGR.  ``img.render(..., segmentation=seg)`` calls
``Segmentation.apply`` (``--export``, the ``s`` snapshot, ``convert``; through
a presentation state before its rotation, flip and displayed area), and the
viewer's canvas goes through :func:`blend` too.

- **DICOM SEG** (PS3.3 A.51, C.8.20), read with highdicom: BINARY,
  FRACTIONAL (PROBABILITY or OCCUPANCY, the fraction scaling alpha) and
  LABELMAP.  A SEG frame lands on the image frame its Derivation Image /
  Source Image Sequence names (Referenced SOP Instance UID, and Referenced
  Frame Number for a multi-frame source), else on the slice whose Image
  Position (Patient) equals its Plane Position Sequence's within
  :data:`POSITION_TOLERANCE_MM` (same Frame of Reference).  Each segment is
  drawn in its Recommended Display CIELab Value (C.8.20.2, scaled as
  C.10.7.1.1, see :func:`dcmlib.values.color.dicom_lab_to_rgb`), else in :data:`COLORS`.
- **Masks**: an array of the image's size, (rows, cols) for one frame or
  (frames, rows, cols) in the viewer's slice order; label values 1..N are
  segments, 0 background; a boolean mask is one segment.

:func:`load_segmentation` reads and maps one file onto an image; everything
that can be wrong with it is a :class:`~dcmlib.errors.SegmentationError`
naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dcmlib.displayable import DEFAULT_ALPHA
from dcmlib.errors import DcmviewError, InvalidArgumentError, SegmentationError, exception_text
from dcmlib.read.header import functional_item, text_value, vector
from dcmlib.values.color import dicom_lab_to_rgb

__all__ = [
    "Segment",
    "Segmentation",
    "load_segmentation",
    "blend",
    "outline",
    "find_segmentations",
    "describe_found",
    "COLORS",
    "DEFAULT_ALPHA",
    "POSITION_TOLERANCE_MM",
    "SEG_STORAGE",
    "SEG_CLASSES",
    "check_alpha",
    "NotReferencedError",
]

#: Segmentation Storage SOP Class (PS3.4 B.5).
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
#: Segmentation Storage and Label Map Segmentation Storage.
SEG_CLASSES = (SEG_STORAGE, "1.2.840.10008.5.1.4.1.1.66.7")
#: A SEG frame's Image Position (Patient) matches a slice's within this distance (mm).
POSITION_TOLERANCE_MM = 0.05
#: Segment colours (RGB) when the SEG recommends none, or for mask labels: label k gets entry (k - 1) mod 10.
COLORS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (255, 225, 25),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
)
_MASK_SUFFIXES = (".npy", ".png", ".tif", ".tiff")


def check_alpha(alpha: float, where: str | None = None) -> float:
    """``--seg-alpha`` as a float in 0..1, else :class:`~dcmlib.errors.InvalidArgumentError`."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"--seg-alpha must be a number from 0 to 1, got {alpha!r}", where) from None
    if not 0.0 <= a <= 1.0:
        raise InvalidArgumentError(f"--seg-alpha must be from 0 to 1, got {a:g}", where)
    return a


# ----------------------------------------------------------------------------- colour


class NotReferencedError(SegmentationError):
    """A DICOM SEG none of whose frames lies on the image (``convert`` then writes the image without it)."""


# ----------------------------------------------------------------------------- the blend


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def outline(coverage: np.ndarray) -> np.ndarray:
    """The contour of a coverage plane (uint8, inside where >= 128): the inside pixels with a 4-neighbour
    outside, 255, else 0.  One pixel wide; beyond the array's edge counts as inside (a mask cut by the
    viewport shows no edge there), so an image edge shows only where the canvas shows it."""
    inside = (np.asarray(coverage) >= 128).astype(np.uint8)
    return (inside - cv2.erode(inside, _CROSS)) * np.uint8(255)


def blend(
    image: np.ndarray, coverage: np.ndarray | None, colours: np.ndarray | None, alpha: float, outline_only: bool = False
) -> np.ndarray:
    """Each segment's colour mixed into an 8-bit grey or BGR image; a new BGR uint8 image.

    ``coverage`` is uint8 (segments, rows, cols), 0..255 (a binary segment
    255 inside; a fractional one its fraction times 255); ``colours`` is
    (segments, 3) BGR.  Segment by segment, in order, each pixel it covers
    becomes ``colour * a + pixel * (1 - a)`` with ``a = alpha * coverage /
    255``, rounded to the nearest level.  ``outline_only`` colours only the
    contour (:func:`outline`) of each segment, at ``alpha``.  With no
    ``coverage`` (None or no segment) the image comes back as BGR.

    Fully covered pixels go through a 256-entry table per channel
    (``cv2.LUT``), inside the segment's bounding box only; partly covered
    ones (fractional segments) are mixed one by one.
    """
    img = np.asarray(image)
    bgr = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else np.array(img, copy=True)
    if coverage is None or len(coverage) == 0 or colours is None or alpha <= 0:
        return bgr
    levels = np.arange(256, dtype=np.float64)[:, None]
    for plane, colour in zip(coverage, np.asarray(colours, np.float64)):
        if outline_only:
            plane = outline(plane)
        x, y, w, h = cv2.boundingRect(plane)
        if w == 0 or h == 0:
            continue
        cover = plane[y : y + h, x : x + w]
        sub = bgr[y : y + h, x : x + w]  # a view: written in place
        table = np.floor(colour[None, :] * alpha + levels * (1.0 - alpha) + 0.5).astype(np.uint8)
        full = cover == 255
        np.copyto(sub, cv2.LUT(sub, table.reshape(1, 256, 3)), where=full[..., None])
        part = (cover > 0) & ~full
        if part.any():
            ys, xs = np.nonzero(part)
            a = cover[ys, xs].astype(np.float64)[:, None] * (alpha / 255.0)
            px = sub[ys, xs].astype(np.float64)
            sub[ys, xs] = np.floor(px + (colour[None, :] - px) * a + 0.5).clip(0, 255).astype(np.uint8)
    return bgr


# ----------------------------------------------------------------------------- the object


@dataclass(frozen=True)
class Segment:
    """One segment: its number (SEG Segment Number, or the mask label), label and display colour (RGB)."""

    number: int
    label: str
    rgb: tuple[int, int, int]

    @property
    def bgr(self) -> tuple[int, int, int]:
        return self.rgb[2], self.rgb[1], self.rgb[0]


class Segmentation:
    """A segmentation mapped onto an image's frames; make one with :func:`load_segmentation`.

    ``kind`` is ``binary``, ``fractional`` or ``labelmap`` for a DICOM SEG,
    ``mask`` for an array or label image; ``segments`` its segments in
    drawing order; ``frames`` the image frames (0-based) it covers.
    :meth:`coverage` gives a frame's planes, :meth:`apply` blends them.
    """

    def __init__(
        self,
        path: str,
        kind: str,
        segments: tuple[Segment, ...],
        rows: int,
        columns: int,
        sources: dict[int, list[tuple[int, int | None]]] | None = None,
        frames: _SegFrames | None = None,
        labels: np.ndarray | None = None,
    ):
        self.path, self.kind, self.segments = path, kind, segments
        self.rows, self.columns = rows, columns
        self._sources = sources  # image frame -> [(SEG frame, segment number; None: a LABELMAP frame)]
        self._seg_frames = frames  # decodes SEG frames on demand
        self._labels = labels
        self._index = {s.number: i for i, s in enumerate(segments)}

    def __repr__(self) -> str:
        return f"<Segmentation {Path(self.path).name!r} {self.kind} {len(self.segments)} segments>"

    @property
    def frames(self) -> list[int]:
        """The image frames (0-based) the segmentation covers: a SEG's mapped frames, a mask's non-empty ones."""
        if self._sources is not None:
            return sorted(self._sources)
        assert self._labels is not None
        return [i for i in range(len(self._labels)) if cv2.countNonZero(self._labels[i])]

    def coverage(self, frame: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The frame's segments as (colours (k, 3) BGR uint8, coverage (k, rows, cols) uint8 0..255), or None."""
        numbers: list[int]
        planes: list[np.ndarray]
        if self._sources is not None:
            assert self._seg_frames is not None
            found: dict[int, np.ndarray] = {}
            for i, number in self._sources.get(frame, ()):
                for n, cover in self._seg_frames.planes(i, number):
                    if n in self._index:
                        found[n] = cover if n not in found else np.maximum(found[n], cover)
            if not found:
                return None
            numbers = sorted(found, key=lambda n: self._index[n])
            planes = [found[n] for n in numbers]
        else:
            assert self._labels is not None
            if not 0 <= frame < len(self._labels):
                return None
            lab = self._labels[frame]
            counts = np.bincount(lab.ravel(), minlength=1)  # uint8 / uint16 labels: which are present
            numbers = [int(n) for n in np.flatnonzero(counts[1:]) + 1]
            if not numbers:
                return None
            planes = [cv2.compare(lab, n, cv2.CMP_EQ) for n in numbers]  # type: ignore[call-overload]  # a scalar src2: OpenCV takes it, its stubs don't say so
        colours = np.array([self.segments[self._index[n]].bgr for n in numbers], np.uint8)
        return colours, np.stack(planes)

    def apply(self, image: np.ndarray, frame: int, alpha: float = DEFAULT_ALPHA, outline: bool = False) -> np.ndarray:
        """``image`` (frame ``frame``'s 8-bit display image, ``render``'s output) with the frame's segments
        blended at ``alpha`` (only their contours with ``outline``): a new BGR uint8 image, also where the
        frame has no segment."""
        alpha = check_alpha(alpha, self.path)
        if np.asarray(image).shape[:2] != (self.rows, self.columns):
            raise SegmentationError(
                f"the segmentation is {self.columns} x {self.rows}, the image drawn "
                f"{image.shape[1]} x {image.shape[0]}",
                self.path,
            )
        found = self.coverage(frame)
        if found is None:
            return blend(image, None, None, alpha)
        return blend(image, found[1], found[0], alpha, outline)

    def describe(self) -> str:
        """One line: file, kind, segments (number and label), image frames covered."""
        segs = ", ".join(f"{s.number} {s.label}".rstrip() for s in self.segments[:12])
        more = f" and {len(self.segments) - 12} more" if len(self.segments) > 12 else ""
        frames = self.frames
        span = _frames_text(frames)
        return (
            f"segmentation {Path(self.path).name}: {self.kind}, {len(self.segments)} segment"
            f"{'s' if len(self.segments) != 1 else ''} ({segs}{more}), {span}"
        )


def _frames_text(frames: list[int]) -> str:
    if not frames:
        return "no frames"
    if len(frames) == 1:
        return f"frame {frames[0] + 1}"
    if frames == list(range(frames[0], frames[-1] + 1)):
        return f"frames {frames[0] + 1}-{frames[-1] + 1}"
    return f"{len(frames)} frames"


# ----------------------------------------------------------------------------- loading


def load_segmentation(path: str | os.PathLike[str], image) -> Segmentation:
    """Read a DICOM SEG, ``.npy`` or PNG/TIFF label image and map it onto ``image``'s frames.

    Raises :class:`~dcmlib.errors.SegmentationError` (one line naming the
    file) for a file that cannot be read, a size that is not the image's (both
    sizes named), or a SEG that references none of the image's instances.
    """
    where = os.fspath(path)
    p = Path(where)
    if not p.is_file():
        raise SegmentationError("no such file" if not p.exists() else "not a file", where)
    refs = _image_refs(image, where)
    if p.suffix.lower() in _MASK_SUFFIXES:
        return _mask_segmentation(_cached(p, where, _read_mask), image, where)
    return _seg_segmentation(p, image, refs, where)


#: The last file read (``convert`` maps one segmentation onto many files): (path, size, mtime) -> what was read.
_LAST: dict[tuple[str, int, int], object] = {}


def _cached(p: Path, where: str, read):
    """``read(p, where)``, kept for the next call while the file is unchanged (one entry)."""
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _LAST:
        value = read(p, where)
        _LAST.clear()
        _LAST[key] = value
    return _LAST[key]


def _image_refs(image, where: str) -> list:
    if not hasattr(image, "frame_ref"):  # a reformatted plane has no acquired frames
        raise SegmentationError("a segmentation is shown on the acquired slices, not on a reformatted plane", where)
    return [image.frame_ref(k) for k in range(len(image))]


def _read_mask(p: Path, where: str) -> np.ndarray:
    """The label array of a ``.npy``, PNG or TIFF file (all pages of a multi-page TIFF)."""
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise SegmentationError(f"not a readable NumPy .npy file ({exception_text(exc, 80)})", where) from None
        except MemoryError:
            raise SegmentationError("the mask does not fit in memory", where) from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
            raise SegmentationError("a mask must be an array of booleans or whole numbers", where)
        return arr
    try:
        ok, pages = cv2.imreadmulti(where, flags=cv2.IMREAD_UNCHANGED) if p.suffix.lower() != ".png" else (True, [])
        if p.suffix.lower() == ".png" or not ok:
            one = cv2.imread(where, cv2.IMREAD_UNCHANGED)
            pages = [] if one is None else [one]
    except cv2.error:  # a damaged TIFF directory, an absurd size
        pages = []
    except MemoryError:
        raise SegmentationError("the label image does not fit in memory", where) from None
    if not pages:
        raise SegmentationError(f"not a readable {p.suffix.lower().lstrip('.').upper()} image", where)
    out = []
    for page in pages:
        if page.ndim == 3:
            if page.shape[2] == 4:
                page = page[..., :3]
            if not all(np.array_equal(page[..., 0], page[..., c]) for c in range(1, page.shape[2])):
                raise SegmentationError(
                    "a label image has one channel (grey levels 1..N are the segments); this one has colours", where
                )
            page = page[..., 0]
        out.append(page)
    if len({pg.shape for pg in out}) > 1:
        raise SegmentationError("the pages of the label image differ in size", where)
    return out[0] if len(out) == 1 else np.stack(out)


def _size(frames: int, rows: int, cols: int) -> str:
    return f"{cols} x {rows}" + (f" x {frames} frames" if frames != 1 else "")


def _mask_segmentation(arr: np.ndarray, image, where: str) -> Segmentation:
    n, rows, cols = len(image), image.rows, image.columns
    shape = arr.shape
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape != (n, rows, cols):
        got = (
            f"{shape[1]} x {shape[0]}"
            if len(shape) == 2
            else (f"{shape[2]} x {shape[1]} x {shape[0]} frames" if len(shape) == 3 else f"shape {shape}")
        )
        raise SegmentationError(
            f"the mask is {got}, the image {_size(n, rows, cols)} "
            "(columns x rows; a mask is (rows, cols) or (frames, rows, cols))",
            where,
        )
    if arr.dtype.kind == "b":
        labels = arr.astype(np.uint8)
    else:
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.floor(arr))):
            raise SegmentationError("mask values must be whole numbers (labels 1..N, 0 background) or booleans", where)
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if lo < 0 or hi > 65535:
            raise SegmentationError(f"mask labels must be 0..65535, got {lo:g}..{hi:g}", where)
        labels = arr.astype(np.uint8 if hi < 256 else np.uint16)
    numbers = [int(v) for v in np.unique(labels) if v != 0]
    segments = tuple(Segment(k, f"label {k}", COLORS[(k - 1) % len(COLORS)]) for k in numbers)
    return Segmentation(where, "mask", segments, rows, cols, labels=np.ascontiguousarray(labels))


# -- DICOM SEG


def _read_seg(p: Path, where: str):
    """The SEG read and checked by highdicom, its pixel data not decoded (frames are decoded when shown)."""
    from dcmlib.read import io

    try:
        ds, _notes = io.read_file(p)
    except DcmviewError as exc:
        raise SegmentationError(exc.problem, where) from None
    if text_value(ds, "SOPClassUID") not in SEG_CLASSES:
        sop = ds.get("SOPClassUID")
        raise SegmentationError(
            f"not a DICOM Segmentation (SOP Class {getattr(sop, 'name', '') or sop or 'none'}); "
            "--seg takes a SEG, a .npy or a PNG/TIFF label image",
            where,
        )
    try:
        import highdicom as hd
    except ImportError:
        raise SegmentationError("reading a DICOM SEG needs highdicom (pip install highdicom)", where) from None
    try:
        seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
        frames = int(seg.get("NumberOfFrames") or 1)
        rows, cols, bits = int(seg.Rows), int(seg.Columns), int(seg.BitsAllocated)
        syntax = seg.file_meta.TransferSyntaxUID
        data = seg.get("PixelData")
    except MemoryError:
        raise SegmentationError("the segmentation does not fit in memory", where) from None
    except Exception as exc:  # highdicom and pydicom raise ValueError, AttributeError, KeyError ...
        raise SegmentationError(f"damaged DICOM Segmentation ({exception_text(exc, 100)})", where) from None
    if data is None:
        raise SegmentationError("damaged DICOM Segmentation (no Pixel Data)", where)
    if not syntax.is_compressed:
        need = (rows * cols * frames * bits + 7) // 8
        if len(data) < need:
            raise SegmentationError(
                f"damaged DICOM Segmentation: Pixel Data holds {len(data)} bytes, {frames} "
                f"frames of {cols} x {rows} at {bits} bits need {need}",
                where,
            )
    return seg, frames


class _SegFrames:
    """A SEG's frames decoded one at a time (pydicom), the last few kept, as coverage planes (255 inside;
    a fractional frame its fraction times 255) or, for a LABELMAP frame, one plane per segment number."""

    def __init__(self, seg: Dataset, kind: str, scale: float, where: str, keep: int = 16):
        self._seg, self._kind, self._scale, self._where, self._keep = seg, kind, scale, where, keep
        self._decoded: dict[int, np.ndarray] = {}

    def _frame(self, i: int) -> np.ndarray:
        if i not in self._decoded:
            from pydicom.pixels import pixel_array

            try:
                frame = np.asarray(pixel_array(self._seg, index=i))
            except MemoryError:
                raise SegmentationError("a segmentation frame does not fit in memory", self._where) from None
            except Exception as exc:  # the decoders' own errors
                raise SegmentationError(
                    f"frame {i + 1} cannot be decoded ({exception_text(exc, 100)})", self._where
                ) from None
            if len(self._decoded) >= self._keep:
                self._decoded.pop(next(iter(self._decoded)))
            self._decoded[i] = frame
        return self._decoded[i]

    def planes(self, i: int, number: int | None) -> list[tuple[int, np.ndarray]]:
        frame = self._frame(i)
        if number is None:  # LABELMAP: pixel values are segment numbers
            values = [int(v) for v in np.unique(frame) if v != 0]
            return [(v, np.where(frame == v, np.uint8(255), np.uint8(0))) for v in values]
        if self._kind == "binary":
            return [(number, np.where(frame > 0, np.uint8(255), np.uint8(0)))]
        return [(number, np.floor(frame.astype(np.float32) * self._scale + 0.5).clip(0, 255).astype(np.uint8))]


def _ref_keys(refs: list) -> tuple[dict[tuple[str, int], int], dict[str, int], list]:
    """(SOP Instance UID, frame number from 1) -> image frame; UID -> frames in that file; each frame's IPP."""
    keys: dict[tuple[str, int], int] = {}
    counts: dict[str, int] = {}
    positions = []
    for k, ref in enumerate(refs):
        uid = text_value(ref.header, "SOPInstanceUID")
        keys[(uid, ref.index + 1)] = k
        counts[uid] = counts.get(uid, 0) + 1
        item = functional_item(ref.header, ref.index, "PlanePositionSequence")
        pos = (
            vector(item.get("ImagePositionPatient"), 3)
            if item is not None
            else (vector(ref.header.get("ImagePositionPatient"), 3) if ref.index == 0 else None)
        )
        positions.append(None if pos is None else np.array(pos))
    return keys, counts, positions


def _seg_frame_targets(seg: Dataset, i: int, keys, counts, positions, same_frame_of_reference: bool) -> set[int]:
    """The image frames SEG frame ``i`` lies on: by referenced instance (and frame), else by plane position."""
    found: set[int] = set()
    derivations: list = []
    for groups, j in (("PerFrameFunctionalGroupsSequence", i), ("SharedFunctionalGroupsSequence", 0)):
        seq = seg.get(groups)
        if seq and j < len(seq) and seq[j].get("DerivationImageSequence"):
            derivations = list(seq[j].DerivationImageSequence)
            break
    for der in derivations:
        for src in der.get("SourceImageSequence") or []:
            uid = text_value(src, "ReferencedSOPInstanceUID")
            if uid not in counts:
                continue
            numbers = src.get("ReferencedFrameNumber")
            if numbers is None or numbers == "":
                if counts[uid] == 1:
                    found.add(keys[(uid, 1)])
                continue
            for n in list(numbers) if isinstance(numbers, (list, tuple, MultiValue)) else [numbers]:
                k = keys.get((uid, int(n)))
                if k is not None:
                    found.add(k)
    if found or not same_frame_of_reference:
        return found
    plane = functional_item(seg, i, "PlanePositionSequence")
    pos = vector(plane.get("ImagePositionPatient"), 3) if plane is not None else None
    if pos is not None:
        p = np.array(pos)
        for k, q in enumerate(positions):
            if q is not None and float(np.linalg.norm(q - p)) <= POSITION_TOLERANCE_MM:
                found.add(k)
    return found


def _seg_segmentation(p: Path, image, refs: list, where: str) -> Segmentation:
    seg, frames = _cached(p, where, _read_seg)
    try:
        return _map_seg(seg, frames, image, refs, where)
    except DcmviewError:
        raise
    except Exception as exc:  # a damaged sequence highdicom let through
        raise SegmentationError(f"damaged DICOM Segmentation ({exception_text(exc, 100)})", where) from None


def _map_seg(seg, count: int, image, refs: list, where: str) -> Segmentation:
    rows, cols = int(seg.Rows), int(seg.Columns)
    if (rows, cols) != (image.rows, image.columns):
        raise SegmentationError(
            f"the segmentation's frames are {cols} x {rows}, the image {image.columns} x "
            f"{image.rows} ({image.path or image.name})",
            where,
        )
    kind = str(seg.segmentation_type.value).lower()
    scale = 255.0
    if kind == "fractional":
        top = float(seg.get("MaximumFractionalValue") or 255)
        scale = 255.0 / top if top > 0 else 255.0
    segments = []
    for item in seg.get("SegmentSequence") or []:
        segment = int(item.SegmentNumber)
        lab = item.get("RecommendedDisplayCIELabValue")
        rgb = (
            dicom_lab_to_rgb((int(lab[0]), int(lab[1]), int(lab[2])))
            if lab is not None and len(lab) == 3
            else COLORS[(segment - 1) % len(COLORS)]
        )
        segments.append(Segment(segment, text_value(item, "SegmentLabel"), rgb))
    segments.sort(key=lambda s: s.number)
    known = {s.number for s in segments}
    keys, counts, positions = _ref_keys(refs)
    image_for = text_value(refs[0].header, "FrameOfReferenceUID")
    seg_for = text_value(seg, "FrameOfReferenceUID")
    same_for = bool(image_for) and image_for == seg_for
    sources: dict[int, list[tuple[int, int | None]]] = {}
    for i in range(count):
        targets = _seg_frame_targets(seg, i, keys, counts, positions, same_for)
        if not targets:
            continue
        number: int | None = None
        if kind != "labelmap":
            ident = functional_item(seg, i, "SegmentIdentificationSequence")
            number = int(ident.ReferencedSegmentNumber) if ident is not None else 1
            if number not in known:
                known.add(number)
                segments.append(Segment(number, "", COLORS[(number - 1) % len(COLORS)]))
        for t in targets:
            sources.setdefault(t, []).append((i, number))
    if not sources and not set(counts) & _referenced_uids(seg):
        raise NotReferencedError(
            f"references none of the instances of {image.path or image.name} "
            "(no SEG frame names one of its SOP Instance UIDs or lies at one of its slice "
            "positions)",
            where,
        )
    segments.sort(key=lambda s: s.number)
    return Segmentation(
        where, kind, tuple(segments), rows, cols, sources=sources, frames=_SegFrames(seg, kind, scale, where)
    )


# ----------------------------------------------------------------------------- --info: what lies next to an image


def find_segmentations(image, limit: int = 2000) -> list[tuple[str, Dataset]]:
    """The DICOM SEG files in the image's folder (a series folder: searched recursively) that reference one
    of its SOP Instance UIDs: (path, header).  At most ``limit`` files are looked at."""
    import pydicom

    path = getattr(image, "path", None)
    if not path or not hasattr(image, "frame_ref"):
        return []
    root = Path(path)
    if root.is_dir():
        files = sorted(str(f) for f in root.rglob("*") if f.is_file())
    else:
        root = root.parent
        files = sorted(str(f) for f in root.iterdir() if f.is_file())
    uids = {text_value(image.frame_ref(k).header, "SOPInstanceUID") for k in range(len(image))}
    found: list[tuple[str, Dataset]] = []
    for f in files[:limit]:
        try:
            head = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SOPClassUID"])
            if text_value(head, "SOPClassUID") not in SEG_CLASSES:
                continue
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            if uids & _referenced_uids(ds):
                found.append((f, ds))
        except Exception:  # not DICOM, or damaged: not a segmentation of this image
            continue
    return found


def _referenced_uids(ds: Dataset) -> set[str]:
    """SOP Instance UIDs a SEG header names: Referenced Series Sequence (C.12.2) and per-frame Source Images."""
    out: set[str] = set()
    for series in ds.get("ReferencedSeriesSequence") or []:
        for inst in series.get("ReferencedInstanceSequence") or []:
            out.add(text_value(inst, "ReferencedSOPInstanceUID"))
    for group in ds.get("PerFrameFunctionalGroupsSequence") or []:
        for der in group.get("DerivationImageSequence") or []:
            for src in der.get("SourceImageSequence") or []:
                out.add(text_value(src, "ReferencedSOPInstanceUID"))
    return out


def describe_found(image) -> list[str]:
    """``--info`` lines for the segmentations next to the image: file, type, segments, frames (no patient data)."""
    lines = []
    for f, ds in find_segmentations(image):
        kind = text_value(ds, "SegmentationType").lower() or "?"
        if kind == "fractional":
            kind += f" ({text_value(ds, 'SegmentationFractionalType').lower()})"
        segs = [
            f"{text_value(s, 'SegmentNumber')} {text_value(s, 'SegmentLabel')}".rstrip()
            for s in ds.get("SegmentSequence") or []
        ]
        frames = text_value(ds, "NumberOfFrames") or "1"
        lines.append(
            f"segmentation {Path(f).name}: {kind}, {len(segs)} segment{'s' if len(segs) != 1 else ''} "
            f"({', '.join(segs[:12])}{' ...' if len(segs) > 12 else ''}), {frames} frames"
        )
    return lines

"""Series folders: scan a folder of DICOM files, group them by series, order the slices.

A CT or MR study arrives as a folder (often nested) of single-frame files. This
module turns it into one ordered list of :class:`~dcmlib.frames.FrameRef` per
series, reading headers only (``stop_before_pixels``); the pixel data are
decoded later, lazily, by the image object.

- Grouping is by Series Instance UID (0020,000E), PS3.3 C.7.3.1.
- Order is by the slice position along the normal of the image plane: Image
  Position (Patient) projected on ``cross(row, column)`` of Image Orientation
  (Patient), PS3.3 C.7.6.2.1.1; enhanced multi-frame files carry the same
  attributes per frame in the Plane Position / Plane Orientation functional
  groups, PS3.3 C.7.6.16.2.3 and C.7.6.16.2.4. When a series has no usable
  geometry the order falls back to Instance Number (0020,0013), C.7.6.1, and
  then to the file name. Frames inside a multi-frame file keep their order.

All messages meant for the user go through an ``on_warning(str)`` callback
(the CLI prints them on stderr); nothing here prints. No message contains a
patient identifier.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from .errors import InvalidArgumentError, NotDicomError
from .frames import PIXEL_KEYWORDS, FrameRef

__all__ = [
    "Series",
    "scan_folder",
    "select_series",
    "describe_series",
    "load_folder",
    "read_header",
    "slice_normal",
]

Warn = Callable[[str], None] | None

#: Bytes read from the start of a file for the fast header parse. A CT or MR
#: header is 2-8 KiB; a longer header falls back to reading the file itself.
HEAD_BYTES = 16 * 1024

#: Slice positions closer than this (mm) count as the same position.
POSITION_TOLERANCE_MM = 1e-3

# (7FE0,0010) Pixel Data, (7FE0,0008) Float Pixel Data, (7FE0,0009) Double Float
# Pixel Data: the tags ``stop_before_pixels`` stops at (PS3.3 C.7.6.3.1.4), as the
# 4 bytes of the element's tag in little- and big-endian transfer syntaxes.
_PIXEL_TAG_BYTES = frozenset(
    b
    for elem in (0x0010, 0x0008, 0x0009)
    for b in (
        (0x7FE0).to_bytes(2, "little") + elem.to_bytes(2, "little"),
        (0x7FE0).to_bytes(2, "big") + elem.to_bytes(2, "big"),
    )
)

# Reasons a file is skipped, in the order the summary lists them.
NOT_DICOM = "not DICOM"
UNREADABLE = "unreadable"
NO_PIXELS = "no pixel data"
_REASONS = (NOT_DICOM, UNREADABLE, NO_PIXELS)


@dataclass(frozen=True, eq=False)
class Series:
    """One series of a folder: its identity and its frames in display order.

    ``uid`` is the Series Instance UID (0020,000E), ``description`` the Series
    Description (0008,103E), ``number`` the Series Number (0020,0011), PS3.3
    C.7.3.1. ``frames`` are ordered (see :func:`order_images`); ``notes`` are the
    ordering remarks (duplicate positions, fallbacks) that :func:`select_series`
    reports for the series it picks.
    """

    uid: str
    description: str
    modality: str
    number: int | None
    frames: tuple[FrameRef, ...]
    files: int = 0
    notes: tuple[str, ...] = field(default=())
    folder: str = ""  #: the scanned folder, named in errors

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def rows(self) -> int:
        """Rows (0028,0010) of the series' images."""
        return int(getattr(self.frames[0].header, "Rows", 0) or 0) if self.frames else 0

    @property
    def columns(self) -> int:
        """Columns (0028,0011) of the series' images."""
        return int(getattr(self.frames[0].header, "Columns", 0) or 0) if self.frames else 0

    def label(self) -> str:
        """``CT "AXIAL 5mm" (300 images)``: modality, description, size; no PHI."""
        parts = [self.modality or "?", f'"{self.description}"' if self.description else "(no description)"]
        return " ".join(parts) + f" ({_count(len(self), 'image')})"


# --------------------------------------------------------------------------- reading


# Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


def _pixel_placeholder(ds: FileDataset, fp: io.IOBase) -> bool:
    """Add the pixel data element at ``fp`` to ``ds`` as a *deferred* element.

    ``fp`` stands where ``stop_before_pixels`` stopped. The element header (tag,
    VR, length; PS3.5 7.1) is parsed and stored as a
    :class:`~pydicom.dataelem.RawDataElement` with no value, which is how
    pydicom itself represents a deferred element (``dcmread(defer_size=...)``):
    ``"PixelData" in header`` and its length are known, the bytes stay on disk,
    and accessing the value reads them from ``header.filename``. Encapsulated
    pixel data have the undefined length 0xFFFFFFFF. Returns False when no
    pixel data element starts at ``fp``.
    """
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8 or head[:4] not in _PIXEL_TAG_BYTES:
        return False
    implicit, little = ds.original_encoding
    order = "little" if little else "big"
    group, elem = int.from_bytes(head[:2], order), int.from_bytes(head[2:4], order)
    if implicit:
        vr, length, header_len = None, int.from_bytes(head[4:8], order), 8
    else:
        vr = head[4:6].decode("ascii", "replace")
        if vr in _LONG_VRS:
            if len(head) < 12:
                return False
            length, header_len = int.from_bytes(head[8:12], order), 12
        else:
            length, header_len = int.from_bytes(head[6:8], order), 8
    tag = BaseTag(group << 16 | elem)
    ds[tag] = RawDataElement(tag, vr, length, None, start + header_len, bool(implicit), bool(little))
    return True


# Tags read while scanning, parsed straight from the raw element bytes (pydicom's
# general conversion costs ~20 us per element, a third of the scan time).
_SERIES_UID = 0x0020000E  # UI
_IPP = 0x00200032  # DS, 3 values
_IOP = 0x00200037  # DS, 6 values
_INSTANCE = 0x00200013  # IS
_FRAMES = 0x00280008  # IS
_ROWS, _COLUMNS, _SAMPLES = 0x00280010, 0x00280011, 0x00280002  # US
_SHARED_FG, _PER_FRAME_FG = 0x52009229, 0x52009230


def _peek(ds: Dataset, tag: int, kind: str) -> object:
    """The value of a header element as ``str`` / ``int`` / ``list[float]`` / US ``int``.

    Parses the raw bytes for the few fixed-VR tags the scan needs (UI, IS, DS, US
    per PS3.5 6.2) and defers to pydicom's conversion for anything unusual.
    Returns None when the element is absent or empty.
    """
    elem = ds.get_item(tag)
    if elem is None:
        return None
    if isinstance(elem, RawDataElement) and elem.value is not None:
        raw = elem.value
        try:
            if kind == "us":
                if len(raw) == 2:
                    return int.from_bytes(raw, "little" if elem.is_little_endian else "big")
            else:
                text = raw.decode("ascii").strip(" \0")
                if not text:
                    return None
                if kind == "str":
                    return text
                if kind == "int":
                    return int(text)
                return [float(x) for x in text.split("\\")]
        except (UnicodeDecodeError, ValueError):
            pass
    try:
        value = ds[tag].value
        if value is None or value == "":
            return None
        if kind == "str":
            return str(value)
        if kind in ("int", "us"):
            return int(value)
        values = [value] if isinstance(value, (str, int, float)) else list(value)
        return [float(x) for x in values]
    except (TypeError, ValueError, KeyError):
        return None


def _finish(ds: FileDataset, path: str) -> FileDataset:
    """Point a header parsed from an in-memory head back at its file."""
    ds.filename = path
    ds.buffer = None
    ds.fileobj_type = open
    return ds


def read_header(path: str | os.PathLike[str]) -> tuple[FileDataset | None, str | None]:
    """Read one file's header (everything before the pixel data) and check it holds an image.

    Returns ``(header, None)`` for a DICOM file with Pixel Data, Float Pixel Data
    or Double Float Pixel Data (7FE0,0010/0008/0009), else ``(None, reason)``
    with reason one of ``"not DICOM"``, ``"unreadable"``, ``"no pixel data"``.
    The header holds the pixel data element *deferred* (tag, VR and length known,
    value left on disk; see :func:`_pixel_placeholder`), so ``"PixelData" in
    header`` tells which pixel element the file has without reading it.

    How the pixel data are detected: ``pydicom.dcmread(fp, stop_before_pixels=True)``
    stops *at* the pixel data element and leaves the file positioned at its tag,
    so the next bytes are that element's header; a file without pixel data ends
    (or continues with other elements) there instead. This is exact, costs a
    dozen bytes, and needs no knowledge of SOP classes. Deflated transfer
    syntaxes (the stream is inflated in memory) are read whole, pixel data included.

    The first :data:`HEAD_BYTES` are parsed from memory (about 20 % faster than
    through a buffered file); when the header is longer than that, the check
    fails and the file itself is parsed.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb", buffering=0) as fp:
            head = fp.read(HEAD_BYTES)
            size = os.fstat(fp.fileno()).st_size
    except OSError:
        return None, UNREADABLE
    # PS3.10 7.1: 128-byte preamble then "DICM". pydicom (force=False) requires it too.
    if len(head) < 132 or head[128:132] != b"DICM":
        return None, NOT_DICOM

    # Fast path: parse the head from memory. Any surprise sends us to the exact path.
    whole = len(head) >= size
    bio = io.BytesIO(head)
    try:
        ds = pydicom.dcmread(bio, stop_before_pixels=True)
        deflated = ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    except Exception:  # noqa: BLE001 - a truncated head can fail in many ways; retry below
        ds, deflated = None, False
    if ds is not None and not deflated:
        if _pixel_placeholder(ds, bio):
            return _finish(ds, path), None
        if whole:
            return None, NO_PIXELS

    # Exact path: the file itself (long header, deflate, or a damaged head).
    try:
        with open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
            if ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
                # The inflated stream has no file offsets to defer to: keep the pixel data.
                fp.seek(0)
                full = pydicom.dcmread(fp)
                if not any(k in full for k in PIXEL_KEYWORDS):
                    return None, NO_PIXELS
                full.filename = path
                return full, None
            if not _pixel_placeholder(ds, fp):
                return None, NO_PIXELS
            ds.filename = path
            return ds, None
    except InvalidDicomError:
        return None, NOT_DICOM
    except Exception:  # noqa: BLE001 - pydicom raises many types on damaged files
        return None, UNREADABLE


def _walk(root: str) -> list[str]:
    """Every file under root, recursively, in a stable (sorted) order."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        dirnames.sort()
        out.extend(os.path.join(dirpath, name) for name in sorted(filenames))
    return out


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while headers are parsed.

    Parsing creates tens of thousands of small, acyclic objects that all stay
    alive; the collector's full passes over them cost 10-15 % of the scan and
    free nothing. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _skip_summary(skipped: Counter[str], total: int) -> str:
    n = sum(skipped.values())
    detail = ", ".join(f"{skipped[r]} {r}" for r in _REASONS if skipped[r])
    return f"skipped {n} of {_count(total, 'file')}: {detail}"


def scan_folder(path: str | os.PathLike[str], *, on_warning: Warn = None) -> list[Series]:
    """Scan a folder recursively and return its image series, each in display order.

    Reads headers only. Files that are not DICOM, cannot be read, or hold no
    pixel data are skipped, with one summary line through ``on_warning``
    (``skipped 3 of 512 files: 2 not DICOM, 1 no pixel data``). Series are
    grouped by Series Instance UID (PS3.3 C.7.3.1) and listed by Series Number,
    then UID; each one's frames are ordered by :func:`order_images`.

    Raises
    ------
    NotDicomError
        The path is not a folder, or the folder holds no DICOM image.
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise NotDicomError("no such folder" if not os.path.exists(root) else "not a folder", root)
    files = _walk(root)
    if not files:
        raise NotDicomError("no DICOM images found (the folder is empty)", root)

    skipped: Counter[str] = Counter()
    groups: dict[str, list[tuple[str, FileDataset]]] = {}
    with _gc_paused():
        for f in files:
            ds, reason = read_header(f)
            if ds is None:
                skipped[reason or UNREADABLE] += 1
                continue
            uid = str(_peek(ds, _SERIES_UID, "str") or "")
            groups.setdefault(uid, []).append((os.path.relpath(f, root), ds))

    if not groups:
        raise NotDicomError(f"no DICOM images found ({_skip_summary(skipped, len(files))})", root)
    if skipped and on_warning is not None:
        on_warning(_skip_summary(skipped, len(files)))

    series = [_build_series(uid, items, root) for uid, items in groups.items()]
    series.sort(key=lambda s: (s.number is None, s.number if s.number is not None else 0, s.uid))
    return series


# --------------------------------------------------------------------------- geometry


def slice_normal(orientation: Sequence[float]) -> np.ndarray | None:
    """Unit normal ``cross(row, column)`` of Image Orientation (Patient), PS3.3 C.7.6.2.1.1.

    ``orientation`` is the six direction cosines (row x, y, z, column x, y, z).
    Returns None when they are missing, not six numbers, or degenerate.
    """
    try:
        v = np.asarray([float(x) for x in orientation], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if v.shape != (6,) or not np.all(np.isfinite(v)):
        return None
    n = np.cross(v[:3], v[3:])
    norm = float(np.linalg.norm(n))
    if norm < 1e-6:
        return None
    return n / norm


def _vec3(value: object) -> np.ndarray | None:
    try:
        v = np.asarray([float(x) for x in value], dtype=np.float64)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return v if v.shape == (3,) and np.all(np.isfinite(v)) else None


def _first_item(ds: Dataset | None, keyword: str) -> Dataset | None:
    seq = None if ds is None else ds.get(keyword)
    return seq[0] if seq else None


def _frame_geometry(ds: Dataset, nframes: int) -> tuple[list[tuple[float, ...] | None], list[np.ndarray | None]]:
    """Per-frame Image Orientation and Image Position (Patient) of one file.

    Single-frame (and classic multi-frame) images: the top-level attributes of
    the Image Plane Module, C.7.6.2; enhanced multi-frame: the Plane Orientation
    and Plane Position functional groups, C.7.6.16.2.3-4 (per-frame wins over shared).
    """
    if _SHARED_FG not in ds and _PER_FRAME_FG not in ds:
        iop = _peek(ds, _IOP, "floats")
        ipp = _vec3(_peek(ds, _IPP, "floats"))
        o = tuple(iop) if isinstance(iop, list) and len(iop) == 6 else None
        # A classic multi-frame file has one position: it belongs to the first frame only.
        return [o] * nframes, [ipp] + [None] * (nframes - 1)
    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    s_orient = _first_item(shared, "PlaneOrientationSequence")
    s_pos = _first_item(shared, "PlanePositionSequence")
    orients: list[tuple[float, ...] | None] = []
    positions: list[np.ndarray | None] = []
    for i in range(nframes):
        item = per_frame[i] if per_frame and i < len(per_frame) else None
        o_item = _first_item(item, "PlaneOrientationSequence") or s_orient
        p_item = _first_item(item, "PlanePositionSequence") or s_pos
        iop = None if o_item is None else o_item.get("ImageOrientationPatient")
        orients.append(tuple(float(x) for x in iop) if iop is not None and len(iop) == 6 else None)
        positions.append(None if p_item is None else _vec3(p_item.get("ImagePositionPatient")))
    return orients, positions


def _number_of_frames(ds: Dataset) -> int:
    n = _peek(ds, _FRAMES, "int")
    return max(n, 1) if isinstance(n, int) else 1


def _instance_number(ds: Dataset) -> int | None:
    v = _peek(ds, _INSTANCE, "int")
    return v if isinstance(v, int) else None


_DIGITS = re.compile(r"(\d+)")


def _natural_key(name: str) -> tuple[object, ...]:
    """``IM2`` before ``IM10``: digit runs compare as numbers."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in _DIGITS.split(name))


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class _Image:
    """One file of a series while it is being ordered."""

    name: str  # path relative to the scanned folder
    header: FileDataset
    nframes: int
    instance: int | None
    orients: list[tuple[float, ...] | None]
    positions: list[np.ndarray | None]
    shape: tuple[int, int, int]


def order_images(images: Sequence[_Image]) -> tuple[list[_Image], list[list[float | None]], list[str]]:
    """Order a series' files; return them, each frame's position (mm), and notes.

    The slice position is Image Position (Patient) projected on the normal
    ``cross(row, column)`` of the series' Image Orientation (Patient), PS3.3
    C.7.6.2.1.1; this orders axial, sagittal, coronal and oblique stacks alike,
    ascending along the normal. A file's key is its first frame's position;
    frames in a file keep their order. When some file lacks a usable position
    the whole series falls back to Instance Number (C.7.6.1.1), and when some
    lacks that too, to the file name (digit runs compared as numbers). Ties are
    broken by Instance Number, then name. Equal positions are reported once.
    """
    notes: list[str] = []
    # The reference normal: the most common orientation (a stray localizer must not rule).
    # Orientations are compared rounded; the normal comes from an unrounded one.
    exact: dict[tuple[float, ...], tuple[float, ...]] = {}
    counts: Counter[tuple[float, ...]] = Counter()
    for o in (im.orients[0] for im in images if im.orients and im.orients[0] is not None):
        key = _round_orient(o)
        exact.setdefault(key, o)
        counts[key] += 1
    normal = None
    if counts:
        ref, n_ref = counts.most_common(1)[0]
        normal = slice_normal(exact[ref])
        if n_ref < sum(counts.values()):
            notes.append(
                f"{_count(sum(counts.values()) - n_ref, 'image')} with a different orientation; "
                "ordered along the normal of the others"
            )

    nx, ny, nz = (float(c) for c in normal) if normal is not None else (0.0, 0.0, 0.0)

    def project(p: np.ndarray | None) -> float | None:
        # plain floats: np.dot on 3-vectors costs ~50x more per call than the arithmetic
        return None if p is None or normal is None else float(p[0]) * nx + float(p[1]) * ny + float(p[2]) * nz

    positions = {id(im): [project(p) for p in im.positions] for im in images}
    by_name = lambda im: _natural_key(im.name)  # noqa: E731
    inst = lambda im: (im.instance is None, im.instance if im.instance is not None else 0)  # noqa: E731

    has_pos = [positions[id(im)][0] is not None for im in images]
    if images and all(has_pos):
        ordered = sorted(images, key=lambda im: (positions[id(im)][0], inst(im), by_name(im)))
        firsts = [positions[id(im)][0] for im in ordered]
        dups = sum(1 for a, b in zip(firsts, firsts[1:]) if abs(b - a) < POSITION_TOLERANCE_MM)  # type: ignore[operator]
        if dups:
            first_dup = next(a for a, b in zip(firsts, firsts[1:]) if abs(b - a) < POSITION_TOLERANCE_MM)  # type: ignore[operator]
            notes.append(
                f"{_count(dups, 'image')} repeat a slice position (first at {first_dup:.2f} mm); "
                "kept in Instance Number order"
            )
    else:
        missing = sum(1 for h in has_pos if not h)
        why = (
            "no Image Orientation (Patient)"
            if normal is None
            else f"no Image Position (Patient) in {missing} of {_count(len(images), 'image')}"
        )
        if all(im.instance is not None for im in images):
            ordered = sorted(images, key=lambda im: (inst(im), by_name(im)))
            if len(images) > 1:
                notes.append(f"{why}; ordered by Instance Number")
        else:
            ordered = sorted(images, key=by_name)
            if len(images) > 1:
                notes.append(f"{why} and no Instance Number; ordered by file name")
    return ordered, [positions[id(im)] for im in ordered], notes


def _round_orient(o: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(x, 4) for x in o)


def _build_series(uid: str, items: list[tuple[str, FileDataset]], folder: str = "") -> Series:
    """Order one group of headers into a :class:`Series`."""
    images = []
    for name, ds in items:
        n = _number_of_frames(ds)
        orients, positions = _frame_geometry(ds, n)
        images.append(_Image(name, ds, n, _instance_number(ds), orients, positions, _shape(ds)))

    notes: list[str] = []
    # One stack has one frame size: keep the commonest (a scout or a secondary capture
    # stored in the same series would otherwise break the stack).
    shapes = Counter(im.shape for im in images)
    if len(shapes) > 1:
        (keep, _), = shapes.most_common(1)
        dropped = [im for im in images if im.shape != keep]
        images = [im for im in images if im.shape == keep]
        notes.append(
            f"left out {_count(len(dropped), 'image')} of a different size than {keep[1]}x{keep[0]}"
        )

    ordered, positions, order_notes = order_images(images)
    notes.extend(order_notes)
    frames = tuple(
        FrameRef(source=im.header.filename, header=im.header, index=i, position=pos[i])
        for im, pos in zip(ordered, positions)
        for i in range(im.nframes)
    )
    first = ordered[0].header
    number = first.get("SeriesNumber")
    try:
        number = None if number is None or number == "" else int(number)
    except (TypeError, ValueError):
        number = None
    return Series(
        uid=uid,
        description=str(first.get("SeriesDescription", "") or "").strip(),
        modality=str(first.get("Modality", "") or "").strip(),
        number=number,
        frames=frames,
        files=len(ordered),
        notes=tuple(notes),
        folder=folder,
    )


def _shape(ds: Dataset) -> tuple[int, int, int]:
    """(Rows, Columns, Samples per Pixel), PS3.3 C.7.6.3."""
    rows, cols, spp = (_peek(ds, t, "us") for t in (_ROWS, _COLUMNS, _SAMPLES))
    return (rows or 0), (cols or 0), (spp or 1)  # type: ignore[return-value]


# --------------------------------------------------------------------------- choosing


def select_series(
    series_list: Sequence[Series], choice: str | int | None = None, on_warning: Warn = None
) -> Series:
    """Pick one series: ``choice`` is a 1-based index (``2`` or ``"#2"``) or a Series Instance UID.

    Without a choice, the series with the most images (the first of equals);
    when the folder holds several, ``on_warning`` says which one is shown. The
    chosen series' ordering notes (duplicate positions, fallbacks) follow.

    Raises
    ------
    InvalidArgumentError
        ``choice`` matches no series; the message lists the valid ones.
    """
    if not series_list:
        raise InvalidArgumentError("no series to choose from")
    if choice is None or (isinstance(choice, str) and not choice.strip()):
        index = max(range(len(series_list)), key=lambda i: (len(series_list[i]), -i))
        picked = series_list[index]
        if len(series_list) > 1 and on_warning is not None:
            on_warning(
                f"{len(series_list)} series in folder; showing #{index + 1} {picked.label()}; "
                "use --series to pick another"
            )
    else:
        picked = _match(series_list, choice)
    if on_warning is not None:
        for note in picked.notes:
            on_warning(f"series {series_list.index(picked) + 1}: {note}" if len(series_list) > 1 else note)
    return picked


def _match(series_list: Sequence[Series], choice: str | int) -> Series:
    text = str(choice).strip()
    if text.startswith("#") and text[1:].isdigit():  # as --info lists them
        text = text[1:]
    if isinstance(choice, int) or text.isdigit():
        i = int(text)
        if 1 <= i <= len(series_list):
            return series_list[i - 1]
    for s in series_list:
        if s.uid and s.uid == text:
            return s
    valid = "; ".join(f"{i}: {s.uid or '(no UID)'}" for i, s in enumerate(series_list, 1))
    raise InvalidArgumentError(
        f"unknown series {text!r}; choose an index 1-{len(series_list)} or a Series Instance UID ({valid})",
        series_list[0].folder or None,
    )


def describe_series(series_list: Sequence[Series]) -> str:
    """One line per series for ``--info FOLDER``: index, modality, description, size, UID.

    Only series-level attributes (PS3.3 C.7.3.1) and image size; never a patient
    identifier.
    """
    lines = []
    for i, s in enumerate(series_list, 1):
        desc = f'"{s.description}"' if s.description else "(no description)"
        files = f" in {_count(s.files, 'file')}" if s.files != len(s) else ""
        number = f"series {s.number}" if s.number is not None else "series -"
        lines.append(
            f"#{i}  {s.modality or '?':<3} {desc}  {_count(len(s), 'image')}{files}  "
            f"{s.columns}x{s.rows}  {number}  UID {s.uid or '(none)'}"
        )
    return "\n".join(lines)


def load_folder(
    path: str | os.PathLike[str], series: str | int | None = None, *, on_warning: Warn = None
) -> Series:
    """Scan ``path`` and select one series: what ``dcmlib.load(folder)`` builds its stack from."""
    return select_series(scan_folder(path, on_warning=on_warning), series, on_warning)


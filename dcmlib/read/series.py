"""Series folders: scan a folder of DICOM files, group them by series, order the slices.

A CT or MR study arrives as a folder (often nested) of single-frame files. This
module turns it into one ordered list of :class:`~dcmlib.values.frames.FrameRef` per
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

import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from dcmlib.errors import InvalidArgumentError, NotDicomError
from dcmlib.read.header import frame_geometry, int_value, text_value
from dcmlib.read.io import NO_PIXELS, NOT_DICOM, UNREADABLE, read_header
from dcmlib.values.frames import UNDEFINED_LENGTH, FrameRef, PixelElement

__all__ = [
    "Series",
    "scan_folder",
    "select_series",
    "open_folder",
    "group_files",
    "describe_series",
    "slice_normal",
    "order_images",
]

Warn = Callable[[str], None] | None

#: Slice positions closer than this (mm) count as the same position.
POSITION_TOLERANCE_MM = 1e-3

# Reasons a file is skipped, in the order the summary lists them.
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


def _walk(root: str) -> list[str]:
    """Every file under root, recursively, in a stable (sorted) order."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        dirnames.sort()
        out.extend(os.path.join(dirpath, name) for name in sorted(filenames))
    return out


def _skip_summary(skipped: dict[str, str], total: int) -> str:
    counts = Counter(skipped.values())
    n = len(skipped)
    detail = ", ".join(f"{counts[r]} {r}" for r in _REASONS if counts[r])
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

    series, skipped = group_files(files, root)
    if not series:
        raise NotDicomError(f"no DICOM images found ({_skip_summary(skipped, len(files))})", root)
    if skipped and on_warning is not None:
        on_warning(_skip_summary(skipped, len(files)))
    return series


def group_files(files: Sequence[str], root: str = "") -> tuple[list[Series], dict[str, str]]:
    """Read the headers of ``files`` and group them into ordered series (what :func:`scan_folder` does).

    Returns the series, listed by Series Number then UID, and the files left
    out with the reason (``not DICOM``, ``unreadable``, ``no pixel data``).
    Names in messages are relative to ``root``.
    """
    skipped: dict[str, str] = {}
    groups: dict[str, list[_Image]] = {}
    for f in files:
        header = read_header(f)
        if header[0] is None:
            skipped[f] = header[1]
            continue
        ds, found = header
        try:
            image = _Image.of(os.path.relpath(f, root) if root else f, f, ds, found)
            uid = text_value(ds, "SeriesInstanceUID")
        except Exception:  # noqa: BLE001 - a damaged header element (pydicom converts lazily)
            skipped[f] = UNREADABLE
            continue
        groups.setdefault(uid, []).append(image)
    try:
        series = [_build_series(uid, items, root) for uid, items in groups.items()]
    except Exception as exc:
        raise NotDicomError("a series header is damaged (an element cannot be read)", root or None) from exc
    series.sort(key=lambda s: (s.number is None, s.number if s.number is not None else 0, s.uid))
    return series, skipped


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


def _max_frames(ds: Dataset, pixels: PixelElement, path: str) -> int:
    """The most frames the pixel data can hold: native data by their length (PS3.5 8.1.1),
    encapsulated data one 8-byte item header per frame at least (A.4), bounded by the file size."""
    if pixels.length != UNDEFINED_LENGTH:
        # one sample per pixel: a lower bound on a frame's bits whatever the photometric (YBR_FULL_422 stores 2)
        per_frame = (
            max(int_value(ds, "Rows", 1) or 1, 1)
            * max(int_value(ds, "Columns", 1) or 1, 1)
            * max(int_value(ds, "BitsAllocated", 1) or 1, 1)
        )
        return max(1, pixels.length * 8 // per_frame)
    return max(1, os.path.getsize(path) // 8)


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
    path: str
    header: Dataset
    pixels: PixelElement
    nframes: int
    instance: int | None
    orients: list[tuple[float, ...] | None]
    positions: list[np.ndarray | None]
    shape: tuple[int, int, int]

    @classmethod
    def of(cls, name: str, path: str, ds: Dataset, pixels: PixelElement) -> _Image:
        """Read what ordering needs from a header: frames, Instance Number (C.7.6.1), geometry, size (C.7.6.3)."""
        n = max(int_value(ds, "NumberOfFrames", 1), 1)
        if n > _max_frames(ds, pixels, path):
            raise ValueError("Number of Frames exceeds what the pixel data can hold")
        orients, positions = frame_geometry(ds, n)
        shape = (int_value(ds, "Rows", 0), int_value(ds, "Columns", 0), int_value(ds, "SamplesPerPixel", 1))
        return cls(name, path, ds, pixels, n, int_value(ds, "InstanceNumber", None), orients, positions, shape)


def _reference_normal(images: Sequence[_Image]) -> tuple[np.ndarray | None, list[str]]:
    """The series' slice normal: that of the most common orientation, so a stray localizer does not rule.

    Orientations are compared rounded; the normal comes from an unrounded one.
    """
    notes: list[str] = []
    exact: dict[tuple[float, ...], tuple[float, ...]] = {}
    counts: Counter[tuple[float, ...]] = Counter()
    for o in (im.orients[0] for im in images if im.orients and im.orients[0] is not None):
        key = _round_orient(o)
        exact.setdefault(key, o)
        counts[key] += 1
    if not counts:
        return None, notes
    ref, n_ref = counts.most_common(1)[0]
    if n_ref < sum(counts.values()):
        notes.append(
            f"{_count(sum(counts.values()) - n_ref, 'image')} with a different orientation; "
            "ordered along the normal of the others"
        )
    return slice_normal(exact[ref]), notes


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
    normal, notes = _reference_normal(images)
    nx, ny, nz = (float(c) for c in normal) if normal is not None else (0.0, 0.0, 0.0)

    def project(p: np.ndarray | None) -> float | None:
        # plain floats: np.dot on 3-vectors costs ~50x more per call than the arithmetic
        return None if p is None or normal is None else float(p[0]) * nx + float(p[1]) * ny + float(p[2]) * nz

    positions = {id(im): [project(p) for p in im.positions] for im in images}
    by_name = lambda im: _natural_key(im.name)
    inst = lambda im: (im.instance is None, im.instance if im.instance is not None else 0)

    has_pos = [positions[id(im)][0] is not None for im in images]
    if images and all(has_pos):
        ordered = sorted(images, key=lambda im: (positions[id(im)][0], inst(im), by_name(im)))
        firsts = [p for p in (positions[id(im)][0] for im in ordered) if p is not None]  # all of them: has_pos
        dups = sum(1 for a, b in zip(firsts, firsts[1:]) if abs(b - a) < POSITION_TOLERANCE_MM)
        if dups:
            first_dup = next(a for a, b in zip(firsts, firsts[1:]) if abs(b - a) < POSITION_TOLERANCE_MM)
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


def _build_series(uid: str, images: list[_Image], folder: str = "") -> Series:
    """Order one group of headers into a :class:`Series`."""
    notes: list[str] = []
    # One stack has one frame size: keep the commonest (a scout or a secondary capture
    # stored in the same series would otherwise break the stack).
    shapes = Counter(im.shape for im in images)
    if len(shapes) > 1:
        ((keep, _),) = shapes.most_common(1)
        dropped = [im for im in images if im.shape != keep]
        images = [im for im in images if im.shape == keep]
        notes.append(f"left out {_count(len(dropped), 'image')} of a different size than {keep[1]}x{keep[0]}")

    ordered, positions, order_notes = order_images(images)
    notes.extend(order_notes)
    frames = tuple(
        FrameRef(source=im.path, header=im.header, pixels=im.pixels, index=i, position=pos[i])
        for im, pos in zip(ordered, positions)
        for i in range(im.nframes)
    )
    first = ordered[0].header
    return Series(
        uid=uid,
        description=text_value(first, "SeriesDescription"),
        modality=text_value(first, "Modality"),
        number=int_value(first, "SeriesNumber", None),
        frames=frames,
        files=len(ordered),
        notes=tuple(notes),
        folder=folder,
    )


# --------------------------------------------------------------------------- choosing


def select_series(series_list: Sequence[Series], choice: str | int | None = None, on_warning: Warn = None) -> Series:
    """Pick one series: ``choice`` is a 1-based index (``2`` or ``"#2"``) or a Series Instance UID.

    Without a choice, the series with the most images (the first of equals), a segmentation (Modality SEG)
    only when there is nothing else: it is drawn over its images (``--seg``), not shown as one;
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
        index = max(range(len(series_list)), key=lambda i: (series_list[i].modality != "SEG", len(series_list[i]), -i))
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


def open_folder(
    path: str | os.PathLike[str], series: str | int | None = None, *, on_warning: Warn = None
) -> tuple[list[Series], Series]:
    """Scan ``path`` and select one series: every series found, and the one ``dcmlib.load(folder)`` shows."""
    found = scan_folder(path, on_warning=on_warning)
    return found, select_series(found, series, on_warning)

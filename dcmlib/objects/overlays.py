"""Overlay planes (PS3.3 C.9.2) and how the display objects are drawn on a rendered frame.

:func:`parse_overlays` turns the groups 6000-601E of a header into frozen
:class:`Overlay` values once: Overlay Data (60xx,3000) in OB or OW (bits packed
from the least significant bit, padded to a whole word), multi-frame overlays
(Number of Frames in Overlay, Image Frame Origin), and the retired overlays
embedded in the unused high bits of native Pixel Data (their bits are already
masked out of the stored values by the decoder; here they are read back as a
plane).  :func:`display_objects` adds the display shutter
(:mod:`dcmlib.objects.shutters`) and :func:`layers` / :func:`apply_layers` draw both on
the uint8 output of the grey (or colour) pipeline, as DCMTK's ``dcm2pnm`` does
by default (``+O 0``):

- type G (graphics): the overlay's 1 bits are set to white (DCMTK's Replace);
- type R (ROI): inside the plane's rectangle, its 0 bits are darkened by a
  shift of half the output bits (DCMTK's Region Of Interest), its 1 bits kept;
- then the shutter: outside the shutter's opening the Shutter Presentation
  Value (C.7.6.11), else black.

A plane that a Bitmap Display Shutter names (C.7.6.15) is the shutter, not a
drawing.  Origins are 1-based (row, column) and may lie partly or wholly
outside the image; what falls outside is not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dcmlib.objects.shutters import Shutter, describe_shutter, fill_bgr, fill_gray, parse_shutter, shutter_mask
from dcmlib.read.header import multi

__all__ = [
    "Overlay",
    "DisplayObjects",
    "parse_overlays",
    "display_objects",
    "overlay_bits",
    "layers",
    "apply_layers",
    "describe_objects",
    "fill_value",
]

#: The repeating overlay groups, 6000-601E (even), PS3.3 C.9.2.
GROUPS = tuple(range(0x6000, 0x6020, 2))


@dataclass(frozen=True)
class Overlay:
    """One overlay plane (PS3.3 C.9.2), its bits packed from the least significant bit (LSB first).

    ``origin`` is Overlay Origin (row, column), 1-based; ``first_frame`` Image
    Frame Origin, 1-based; ``frames`` Number of Frames in Overlay.  A plane
    without Number of Frames in Overlay is drawn on every frame
    (``every_frame``), as DCMTK does.
    """

    group: int
    rows: int
    columns: int
    kind: str  #: "G" graphics or "R" ROI
    origin: tuple[int, int]
    frames: int
    first_frame: int
    description: str
    label: str
    embedded: bool  #: retired: the plane is a bit of the Pixel Data words
    data: bytes  #: the bit stream of all its frames, packed LSB first
    every_frame: bool = False

    def applies_to(self, frame: int) -> int | None:
        """The overlay frame (0-based) drawn on image frame ``frame`` (0-based), or None."""
        if self.every_frame:
            return 0
        k = frame - (self.first_frame - 1)
        return k if 0 <= k < self.frames else None


@dataclass(frozen=True)
class DisplayObjects:
    """What a header says to draw on its frames: overlay planes and a display shutter (or none)."""

    overlays: tuple[Overlay, ...] = ()
    shutter: Shutter | None = None
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.overlays) or self.shutter is not None


def _value(ds: Dataset, group: int, element: int, default: object = None) -> Any:  # the element's value, any VR
    tag = (group << 16) | element
    if tag not in ds:
        return default
    value = ds[tag].value
    return default if value is None or value == "" else value


def _little_endian(ds: Dataset) -> bool:
    enc = getattr(ds, "original_encoding", None)
    if enc is not None and enc[1] is not None:
        return bool(enc[1])
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return ts != "1.2.840.10008.1.2.2"


def _overlay_data(ds: Dataset, group: int, bits_needed: int) -> bytes | None:
    """(60xx,3000) as bytes in stream order: OW words of a big endian file swapped back."""
    tag = (group << 16) | 0x3000
    if tag not in ds:
        return None
    elem = ds[tag]
    raw = bytes(elem.value or b"")
    if elem.VR == "OW" and not _little_endian(ds) and len(raw) % 2 == 0:
        raw = np.frombuffer(raw, ">u2").astype("<u2").tobytes()
    return raw if len(raw) * 8 >= bits_needed else None


def _embedded_data(ds: Dataset, bit: int, rows: int, cols: int) -> bytes | None:
    """A retired overlay held in bit ``bit`` of native Pixel Data words, as a packed bit stream."""
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    raw = ds.get("PixelData")
    allocated = ds.get("BitsAllocated")
    if raw is None or not isinstance(raw, bytes) or allocated not in (8, 16) or bit >= allocated:
        return None
    if ts is not None and UID(ts).is_compressed:
        return None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    dtype = np.dtype(f"{'<' if _little_endian(ds) else '>'}u{allocated // 8}")
    n = rows * cols * frames
    if len(raw) < n * dtype.itemsize:
        return None
    words = np.frombuffer(raw, dtype, count=n)
    return np.packbits(((words >> bit) & 1).astype(np.uint8), bitorder="little").tobytes()


def _overlay(ds: Dataset, group: int) -> Overlay | None:
    """One group's plane, or None when it has no usable size or data."""
    rows, cols = int(_value(ds, group, 0x0010, 0)), int(_value(ds, group, 0x0011, 0))
    if rows <= 0 or cols <= 0:
        return None
    origin = ([int(v) for v in multi(_value(ds, group, 0x0050, [1, 1]))] + [1, 1])[:2]
    every_frame = (group << 16 | 0x0015) not in ds
    frames = max(int(_value(ds, group, 0x0015, 1)), 1)
    bits_allocated = int(_value(ds, group, 0x0100, 1))
    data = _overlay_data(ds, group, rows * cols * frames)
    embedded = data is None and (group << 16 | 0x3000) not in ds and bits_allocated > 1
    if embedded:
        if rows != ds.get("Rows") or cols != ds.get("Columns"):
            return None
        frames, every_frame = int(ds.get("NumberOfFrames", 1) or 1), False
        data = _embedded_data(ds, int(_value(ds, group, 0x0102, 0)), rows, cols)
    if data is None:
        return None
    kind = str(_value(ds, group, 0x0040, "G")).strip().upper()
    return Overlay(
        group=group,
        rows=rows,
        columns=cols,
        kind="R" if kind == "R" else "G",
        origin=(origin[0], origin[1]),
        frames=frames,
        first_frame=1 if embedded else max(int(_value(ds, group, 0x0051, 1)), 1),
        description=str(_value(ds, group, 0x0022, "")).strip(),
        label=str(_value(ds, group, 0x1500, "")).strip(),
        embedded=embedded,
        data=data,
        every_frame=every_frame,
    )


def parse_overlays(ds: Dataset) -> tuple[tuple[Overlay, ...], tuple[str, ...]]:
    """Every usable overlay plane of a header, by group (PS3.3 C.9.2), and notes on the ones left out."""
    found, notes = [], []
    for group in GROUPS:
        if (group << 16 | 0x0010) not in ds:
            continue
        try:
            plane = _overlay(ds, group)
        except Exception:  # noqa: BLE001 - a damaged overlay element must not stop the image
            plane = None
        if plane is None:
            notes.append(f"overlay {group:04X} has no usable size or data; not drawn")
        else:
            found.append(plane)
    return tuple(found), tuple(notes)


def display_objects(ds: Dataset) -> DisplayObjects:
    """The overlays and display shutter of a header, parsed once (PS3.3 C.9.2, C.7.6.11)."""
    planes, notes = parse_overlays(ds)
    try:
        shutter = parse_shutter(ds)
    except Exception:  # noqa: BLE001 - a damaged shutter element must not stop the image
        shutter, notes = None, notes + ("the display shutter cannot be read; not applied",)
    return DisplayObjects(planes, shutter, notes)


def overlay_bits(ov: Overlay, k: int) -> np.ndarray:
    """Overlay frame ``k`` (0-based) as a (rows, columns) bool array (bits LSB first, PS3.5 8.1.2)."""
    n = ov.rows * ov.columns
    start = k * n
    chunk = np.frombuffer(ov.data, np.uint8)[start // 8 : (start + n + 7) // 8 + 1]
    bits = np.unpackbits(chunk, bitorder="little")[start % 8 : start % 8 + n]
    if bits.size < n:
        bits = np.concatenate([bits, np.zeros(n - bits.size, np.uint8)])
    return bits.reshape(ov.rows, ov.columns).astype(bool)


def _place(bits: np.ndarray, origin: tuple[int, int], rows: int, cols: int) -> tuple[slice, slice, np.ndarray] | None:
    """Where a plane whose 1-based ``origin`` is (row, column) lands on a rows x columns image, clipped."""
    r0, c0 = origin[0] - 1, origin[1] - 1
    ya, yb = max(r0, 0), min(r0 + bits.shape[0], rows)
    xa, xb = max(c0, 0), min(c0 + bits.shape[1], cols)
    if yb <= ya or xb <= xa:
        return None
    return slice(ya, yb), slice(xa, xb), bits[ya - r0 : yb - r0, xa - c0 : xb - c0]


def layers(
    objects: DisplayObjects, frame: int, rows: int, cols: int, *, overlays: bool = True, shutters: bool = True
) -> np.ndarray | None:
    """The frame's display objects as uint8 (rows, cols, 3) planes in image pixels, or None when none apply.

    Plane 0: set white (G overlays); plane 1: darkened (R overlays' 0 bits
    inside their rectangle); plane 2: shuttered.  Values are coverage 0..255,
    so a viewport resampled with area averaging keeps thin lines (see
    :func:`apply_layers`).
    """
    bitmap = objects.shutter.bitmap_group if objects.shutter is not None else None
    planes = [ov for ov in objects.overlays if overlays and ov.group != bitmap and ov.applies_to(frame) is not None]
    shutter = objects.shutter if shutters else None
    if not planes and shutter is None:
        return None
    out = np.zeros((rows, cols, 3), np.uint8)
    for ov in planes:
        k = ov.applies_to(frame)
        placed = None if k is None else _place(overlay_bits(ov, k), ov.origin, rows, cols)
        if placed is None:
            continue
        ys, xs, bits = placed
        if ov.kind == "G":
            out[ys, xs, 0][bits] = 255
        else:
            out[ys, xs, 1][~bits] = 255
    if shutter is not None:
        bitmap_bits = None
        plane = next((ov for ov in objects.overlays if ov.group == bitmap), None)
        k = None if plane is None else plane.applies_to(frame)
        if plane is not None and k is not None:
            placed = _place(overlay_bits(plane, k), plane.origin, rows, cols)
            bitmap_bits = np.zeros((rows, cols), bool)
            if placed is not None:
                bitmap_bits[placed[0], placed[1]] = placed[2]
        out[..., 2] = shutter_mask(shutter, rows, cols, bitmap_bits)
    return out


def apply_layers(image: np.ndarray, planes: np.ndarray, fill: tuple[int, int, int] | int) -> np.ndarray:
    """Draw :func:`layers` (or their resampled view) on a uint8 grey or BGR image, in place; returns it.

    White where plane 0 covers any part of a pixel; shifted right by 4 bits
    (half of 8, as DCMTK's ROI mode) where plane 1 covers most of it; ``fill``
    where plane 2 (the shutter) covers most of it.
    """
    white, dark, shut = cv2.split(planes)  # contiguous planes; empty ones are skipped
    if dark.any():
        image[dark >= 128] >>= 4
    if white.any():
        image[white > 0] = 255
    if shut.any():
        if image.ndim == 3 and not isinstance(fill, int):
            image[shut >= 128] = np.array(fill, np.uint8)
        else:
            image[shut >= 128] = fill if isinstance(fill, int) else int(round(float(np.mean(fill))))
    return image


def describe_objects(objects: DisplayObjects) -> list[str]:
    """``--info`` lines: each overlay (group, type, rows x columns, origin, description) and the shutter."""
    lines = []
    for ov in objects.overlays:
        what = "graphics" if ov.kind == "G" else "ROI"
        frames = f", frames {ov.first_frame}-{ov.first_frame + ov.frames - 1}" if ov.frames > 1 else ""
        where = " (in the pixel data's high bits)" if ov.embedded else ""
        text = " ".join(t for t in (ov.description, ov.label) if t)
        lines.append(
            f"overlay {ov.group:04X}: {ov.kind} ({what}), {ov.columns} x {ov.rows} at row {ov.origin[0]}, "
            f"column {ov.origin[1]}{frames}{where}" + (f": {text}" if text else "")
        )
    if objects.shutter is not None:
        lines.append(describe_shutter(objects.shutter))
    lines += [f"note: {n}" for n in objects.notes]
    return lines


def fill_value(objects: DisplayObjects, color: bool) -> tuple[int, int, int] | int:
    """The shutter's fill on an 8-bit output: grey level, or a BGR triple for colour output (C.7.6.11)."""
    if objects.shutter is None:
        return 0
    return fill_bgr(objects.shutter) if color else fill_gray(objects.shutter)

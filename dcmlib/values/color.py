"""Colour images to BGR uint8 (PS3.3 C.7.6.3.1.2, C.7.6.3.1.5 / C.7.9 Palette Color).

pydicom decodes and converts YBR_FULL / YBR_FULL_422 to RGB (its ``as_rgb``);
JPEG 2000 YBR_ICT / YBR_RCT come out of the decoder as RGB.  Palette colour
goes through the Red/Green/Blue Palette Color LUTs, segmented or not.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dcmlib.errors import UnsupportedError

__all__ = [
    "COLOR_PHOTOMETRICS",
    "to_uint8_rgb",
    "palette_to_rgb",
    "palette_tables",
    "rgb_to_bgr",
    "dicom_lab_to_rgb",
    "lab_bgr",
]

#: Photometric interpretations shown in colour.
COLOR_PHOTOMETRICS = frozenset({"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR"})


def to_uint8_rgb(rgb: np.ndarray, bits_stored: int) -> np.ndarray:
    """Scale colour samples of ``bits_stored`` bits to uint8 by rounding, never truncating.

    ``v * 255 / (2**bits - 1)``, so 16-bit white 65535 stays 255 and mid-grey stays mid-grey.
    """
    if rgb.dtype == np.uint8 and bits_stored <= 8:
        return rgb
    top = float((1 << int(bits_stored)) - 1)
    tmp = rgb.astype(np.float32) * np.float32(255.0 / top)
    tmp += np.float32(0.5)
    np.clip(tmp, 0.0, 255.0, out=tmp)
    return tmp.astype(np.uint8)


_COLOURS = (("Red", 1), ("Green", 2), ("Blue", 3))


def palette_to_rgb(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR indices to RGB uint8 through the dataset's palette LUTs (PS3.3 C.7.6.3.1.5-6, C.7.9).

    Indices below the first mapped value take the first entry, above the last
    the last.  16-bit entries are read in the data set's byte order (pydicom
    3.0's ``apply_color_lut`` reads them in the machine's) and scaled to 8
    bits.  Segmented palettes are expanded by pydicom.
    """
    tables, first = palette_tables(ds)
    idx = indices.astype(np.int64) - first
    np.clip(idx, 0, len(tables[0]) - 1, out=idx)
    rgb = np.stack([t[idx] for t in tables], axis=-1)
    return to_uint8_rgb(rgb, 16 if rgb.dtype.itemsize > 1 else 8)


def palette_tables(ds: Dataset) -> tuple[list[np.ndarray], int]:
    """The red, green and blue Palette Color LUTs and their first mapped index (PS3.3 C.7.6.3.1.5-6).

    Each descriptor (0028,1101-1103) gives entries (0 means 65536), first
    mapped value and bits.  The data (0028,1201-1203) hold one 8-bit entry per
    byte or one 16-bit entry per word, in the data set's byte order; segmented
    data (0028,1221-1223) are expanded (C.7.9.2).
    """
    little = ds.original_encoding[1] is not False
    tables, firsts = [], set()
    for colour, n in _COLOURS:
        desc = ds.get(f"{colour}PaletteColorLookupTableDescriptor")
        desc = list(desc) if isinstance(desc, (list, tuple, MultiValue)) else []
        if len(desc) != 3 or not all(isinstance(v, int) for v in desc) or desc[2] not in (8, 16):
            raise UnsupportedError(
                f"{colour} Palette Color Lookup Table Descriptor (0028,110{n}) must be "
                "entries, first value and 8 or 16 bits"
            )
        entries, first, bits = desc[0] or 65536, desc[1], desc[2]
        data = ds.get(f"{colour}PaletteColorLookupTableData")
        segmented = ds.get(f"Segmented{colour}PaletteColorLookupTableData")
        if isinstance(data, (bytes, bytearray)) and data:
            table = _plain_table(
                bytes(data), entries, bits, little, f"{colour} Palette Color Lookup Table Data (0028,120{n})"
            )
        elif isinstance(segmented, (bytes, bytearray)) and segmented:
            table = _segmented_table(
                bytes(segmented),
                entries,
                bits,
                little,
                f"Segmented {colour} Palette Color Lookup Table Data (0028,122{n})",
            )
        else:
            raise UnsupportedError(f"{colour} Palette Color Lookup Table Data (0028,120{n}) is missing or empty")
        tables.append(table)
        firsts.add(first)
    if len({len(t) for t in tables}) > 1 or len({t.dtype.itemsize for t in tables}) > 1 or len(firsts) > 1:
        raise UnsupportedError("the red, green and blue Palette Color LUTs differ in size or first mapped value")
    return tables, firsts.pop()


def _plain_table(data: bytes, entries: int, bits: int, little: bool, name: str) -> np.ndarray:
    if len(data) in (entries, entries + 1) and bits == 8:
        return np.frombuffer(data, dtype=np.uint8, count=entries)
    if len(data) >= 2 * entries:
        return np.frombuffer(data, dtype="<u2" if little else ">u2", count=entries)
    raise UnsupportedError(f"{name} holds {len(data)} bytes for {entries} entries")


def _segmented_table(data: bytes, entries: int, bits: int, little: bool, name: str) -> np.ndarray:
    """Expand segmented LUT data (PS3.3 C.7.9.2): discrete (0), linear (1) and indirect (2) segments.

    Bounded: at most ``entries`` values, indirect segments may not nest, every
    segment must lie inside the data.
    """
    words = (
        np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2" if little else ">u2")
        if bits == 16
        else np.frombuffer(data, dtype=np.uint8)
    )
    out: list[int] = []
    try:
        _expand(words.tolist(), 0, None, out, entries, bits, little, nested=False)
    except (IndexError, ValueError) as exc:
        raise UnsupportedError(f"{name} is damaged ({exc})") from None
    if len(out) < entries:
        raise UnsupportedError(f"{name} expands to {len(out)} entries, the descriptor says {entries}")
    return np.asarray(out[:entries], dtype=np.uint16 if bits == 16 else np.uint8)


def _expand(
    v: list[int], i: int, count: int | None, out: list[int], limit: int, bits: int, little: bool, nested: bool
) -> None:
    """Append the values of the segments from index ``i`` (all, or ``count`` of them) to ``out``."""
    done = 0
    while i + 1 < len(v) and (count is None or done < count) and len(out) <= limit:
        op, n = v[i], v[i + 1]
        if op == 0:
            if i + 2 + n > len(v):
                raise ValueError("a discrete segment runs past the data")
            out.extend(v[i + 2 : i + 2 + n])
            i += 2 + n
        elif op == 1:
            if not out:
                raise ValueError("the first segment is linear")
            y0, y1 = out[-1], v[i + 2]
            out.extend(int(round(y0 + (y1 - y0) * (k + 1) / n)) for k in range(n))
            i += 3
        elif op == 2:
            if nested or not out:
                raise ValueError("an indirect segment is nested or first")
            if bits == 16:
                offset = (v[i + 3] << 16 | v[i + 2]) // 2
                i += 4
            else:
                b = v[i + 2 : i + 6]
                offset = (
                    (b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0])
                    if little
                    else (b[2] << 24 | b[3] << 16 | b[0] << 8 | b[1])
                )
                i += 6
            if offset >= len(v):
                raise ValueError("an indirect segment points past the data")
            _expand(v, offset, n, out, limit, bits, little, nested=True)
        else:
            raise ValueError(f"unknown segment type {op}")
        done += 1
    if len(out) > limit:
        del out[limit:]


def rgb_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """RGB (…, 3) to a contiguous BGR array, OpenCV's channel order."""
    return np.ascontiguousarray(rgb[..., ::-1])


def dicom_lab_to_rgb(value: tuple[int, int, int]) -> tuple[int, int, int]:
    """A DICOM scaled CIELab triple as 8-bit sRGB (R, G, B).

    PS3.3 C.10.7.1.1: L* = L * 100 / 65535, a* = a * 255 / 65535 - 128,
    b* = b * 255 / 65535 - 128, relative to the D65 white point (PS3.3 says
    CIELab under D65).  CIE 1976 L*a*b* to XYZ (Xn 0.95047, Yn 1, Zn 1.08883;
    f^-1(t) = t^3 above 6/29, else 3 (6/29)^2 (t - 4/29)), XYZ to linear sRGB
    with the IEC 61966-2-1 matrix, then the sRGB transfer function
    (12.92 c up to 0.0031308, else 1.055 c^(1/2.4) - 0.055), clipped to 0..1
    and rounded to 0..255.
    """
    ls, as_, bs = (float(v) for v in value)
    lstar, astar, bstar = ls * 100.0 / 65535.0, as_ * 255.0 / 65535.0 - 128.0, bs * 255.0 / 65535.0 - 128.0
    fy = (lstar + 16.0) / 116.0
    fx, fz = fy + astar / 500.0, fy - bstar / 200.0
    d = 6.0 / 29.0

    def finv(t: float) -> float:
        return t**3 if t > d else 3.0 * d * d * (t - 4.0 / 29.0)

    x, y, z = 0.95047 * finv(fx), 1.0 * finv(fy), 1.08883 * finv(fz)
    linear = (
        3.2406 * x - 1.5372 * y - 0.4986 * z,
        -0.9689 * x + 1.8758 * y + 0.0415 * z,
        0.0557 * x - 0.2040 * y + 1.0570 * z,
    )

    def encode(c: float) -> int:
        c = min(max(c, 0.0), 1.0)
        s = 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1.0 / 2.4) - 0.055
        return int(np.floor(min(max(s, 0.0), 1.0) * 255.0 + 0.5))

    r, g, b = (encode(c) for c in linear)
    return r, g, b


def lab_bgr(lab: tuple[int, int, int]) -> tuple[int, int, int]:
    """:func:`dicom_lab_to_rgb` in OpenCV's channel order (shutter fill, graphic layers, segments)."""
    r, g, b = dicom_lab_to_rgb(lab)
    return b, g, r

"""The pixel data's length checks and codestream inspection, on bytes already read: a Pixel Data element
that cannot hold the frames its header says (PS3.5 8.1.1, A.4) is refused before anything large is
allocated; JPEG, JPEG-LS and JPEG 2000 codestream headers are read for their sizes (ITU-T T.81, T.87, T.800).
"""

from __future__ import annotations

import struct

import pydicom
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.uid import UID, RLELossless

from dcmlib.errors import ErrorPath, PixelDataError
from dcmlib.read.header import Layout
from dcmlib.read.io import declared_syntax, transfer_syntax
from dcmlib.values.frames import PixelElement

__all__ = [
    "MAX_FRAME_BYTES",
    "FAMILY_OF",
    "FAMILY_NAMES",
    "check_pixel_data",
    "codestream_kind",
    "codestream_size",
    "frame_header",
]

#: The codestream family each compressed transfer syntax announces (checked against the data, PS3.5 A.4).
FAMILY_OF: dict[str, str] = {
    uid.JPEGBaseline8Bit: "jpeg8",
    uid.JPEGExtended12Bit: "jpeg8",
    uid.JPEGLossless: "jpeg8",
    uid.JPEGLosslessSV1: "jpeg8",
    uid.JPEGLSLossless: "jpegls",
    uid.JPEGLSNearLossless: "jpegls",
    uid.JPEG2000Lossless: "jpeg2k",
    uid.JPEG2000: "jpeg2k",
    uid.HTJ2KLossless: "jpeg2k",
    uid.HTJ2KLosslessRPCL: "jpeg2k",
    uid.HTJ2K: "jpeg2k",
    uid.RLELossless: "rle",
}

#: What a stream of each family is, for messages.
FAMILY_NAMES = {"jpeg8": "JPEG", "jpegls": "JPEG-LS", "jpeg2k": "JPEG 2000", "rle": "RLE"}


#: The largest decoded frame accepted (bytes): far above any real image (a 64k x 64k RGB 16-bit frame is 24 GiB
#: and is refused), far below what a damaged header can claim.
MAX_FRAME_BYTES = 4 << 30


def check_pixel_data(
    ds: Dataset, lay: Layout, pixels: PixelElement, path: ErrorPath, file_size: int | None = None
) -> None:
    """Fail fast when the header's sizes disagree with the pixel data, before any large allocation.

    - The Transfer Syntax UID (0002,0010) must be one (PS3.5 10).
    - One frame may not exceed :data:`MAX_FRAME_BYTES`.
    - Native data must hold every frame (PS3.5 8.1.1; YBR_FULL_422 stores two
      samples per pixel, 8.2.3).
    - Encapsulated data (PS3.5 A.4) hold at least one fragment per frame; the
      first frame's codestream must be of the transfer syntax's family and at
      least the header's size; RLE cannot expand more than 64-fold (G.3.1).
      Left on disk, the frame count is bounded by the file size instead.
    """
    declared = declared_syntax(ds)
    ts = transfer_syntax(ds)
    if declared and ts is None:
        raise PixelDataError(f"Transfer Syntax UID (0002,0010) {declared!r} is not a transfer syntax", path)
    if lay.frame_bytes > MAX_FRAME_BYTES:
        raise PixelDataError(
            f"Rows x Columns x Samples x Bits Allocated ({lay.rows} x {lay.columns} x {lay.samples} x "
            f"{lay.bits_allocated}) is {lay.frame_bytes / 2**30:.0f} GiB per frame, larger than any image",
            path,
        )
    if ts is None or not ts.is_encapsulated:
        samples = 2 if lay.photometric == "YBR_FULL_422" and ts is not None and not ts.is_compressed else lay.samples
        need = (lay.rows * lay.columns * samples * lay.frames * lay.bits_allocated + 7) // 8
        if pixels.length < need:
            raise PixelDataError(
                f"pixel data has {pixels.length} bytes but the header needs {need} "
                f"({lay.frames} x {lay.rows} x {lay.columns} x {samples} x {lay.bits_allocated} bits)",
                path,
            )
        return
    raw = pixels.value
    if raw is None:
        if file_size is not None and lay.frames * 8 > file_size:
            raise PixelDataError(f"Number of Frames is {lay.frames} but the file holds {file_size} bytes", path)
        return  # left on disk (very large file, series slice): the decoder checks each frame
    _check_encapsulated(raw, ts, lay, path)


def _check_encapsulated(raw: bytes, ts: UID, lay: Layout, path: ErrorPath) -> None:
    """Fragments, codestream family and size of encapsulated pixel data (PS3.5 A.4)."""
    try:
        fragment = _first_fragment(raw)
        count = pydicom.encaps.parse_fragments(raw[8 + struct.unpack("<I", raw[4:8])[0] :])[0]
    except (ValueError, StopIteration, struct.error, EOFError):
        raise PixelDataError("encapsulated pixel data are damaged (their items do not parse)", path) from None
    if not fragment:
        raise PixelDataError("encapsulated pixel data hold no frame", path)
    if lay.frames > count:
        raise PixelDataError(
            f"Number of Frames is {lay.frames} but the pixel data hold {count} fragment{'s' if count != 1 else ''}",
            path,
        )
    family, dims = codestream_kind(fragment), codestream_size(fragment)
    expected = FAMILY_OF.get(ts)
    if (
        family is not None
        and expected is not None
        and family != expected
        and not (family == "jpeg8" and expected == "jpegls")
    ):
        raise PixelDataError(
            f"the pixel data are {FAMILY_NAMES.get(family, 'RLE')} but the Transfer Syntax UID says {ts.name}", path
        )
    if dims is not None and lay.rows * lay.columns > dims[0] * dims[1]:
        raise PixelDataError(
            f"compressed frame is {dims[1]} x {dims[0]} but the header says {lay.columns} x {lay.rows}", path
        )
    if ts == RLELossless and lay.frame_bytes > 64 * len(raw) + 64:
        raise PixelDataError(f"RLE data ({len(raw)} bytes) are too small for a {lay.columns} x {lay.rows} frame", path)
    if expected == "jpegls" and count == lay.frames and b"\xff\xd9" not in fragment[-16:]:
        # One fragment per frame, so this one is the whole frame; it must end with EOI (ISO 14495-1 C.1.1).
        # CharLS spends seconds on a stream cut short before failing.
        raise PixelDataError("the JPEG-LS stream is cut short (no end-of-image marker)", path)


def codestream_kind(data: bytes) -> str | None:
    """The family a frame's first bytes announce: ``jpeg8`` (JPEG, ISO 10918-1), ``jpegls``
    (a JPEG-LS SOF55 marker, ISO 14495-1), ``jpeg2k`` (J2K codestream or JP2 file, ISO 15444-1),
    or None when unknown (RLE has no signature)."""
    if data[:4] == b"\xff\x4f\xff\x51" or data[4:8] == b"jP  ":
        return "jpeg2k"
    if data[:2] == b"\xff\xd8":
        return "jpegls" if b"\xff\xf7" in data[:2048] else "jpeg8"
    return None


def _first_fragment(raw: bytes) -> bytes:
    """The first fragment after the Basic Offset Table item (PS3.5 A.4)."""
    if len(raw) < 8 or raw[:4] != b"\xfe\xff\x00\xe0":
        raise ValueError("no Basic Offset Table item at the start of the encapsulated pixel data")
    bot_length = struct.unpack("<I", raw[4:8])[0]
    return next(pydicom.encaps.generate_fragments(raw[8 + bot_length :]), b"")


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7})


def codestream_size(data: bytes) -> tuple[int, int] | None:
    """(rows, columns) from a JPEG, JPEG-LS or JPEG 2000 frame header, or None if unknown.

    JP2 files: the ``ihdr`` box; J2K codestreams: the SIZ marker (ISO 15444-1
    A.5.1); JPEG and JPEG-LS: the start-of-frame marker (ISO 10918-1 B.2.2).
    """
    if data[:4] == b"\x00\x00\x00\x0c" and data[4:8] == b"jP  ":
        i = data.find(b"ihdr")
        if i >= 0 and len(data) >= i + 12:
            h, w = struct.unpack(">II", data[i + 4 : i + 12])
            return h, w
        return None
    found = frame_header(data)
    if found is None:
        return None
    kind, i = found
    if kind == "j2k":
        if len(data) < i + 22:
            return None
        xs, ys, xo, yo = struct.unpack(">IIII", data[i + 6 : i + 22])
        return ys - yo, xs - xo
    if i + 9 > len(data):
        return None
    h, w = struct.unpack(">HH", data[i + 5 : i + 9])
    return (h, w) if h and w else None


def frame_header(data: bytes) -> tuple[str, int] | None:
    """Where a frame's size is declared: ``("j2k", offset of the SIZ marker)`` in a J2K codestream
    (bare or in a JP2 ``jp2c`` box, ISO 15444-1 A.5.1), or ``("jpeg", offset of the SOF marker)``
    in JPEG and JPEG-LS (ISO 10918-1 B.2.2, 14495-1 C.2.2); None when neither is found."""
    if data[:4] == b"\xff\x4f\xff\x51":
        return "j2k", 2
    i = data.find(b"jp2c")
    if i >= 0 and data[i + 4 : i + 8] == b"\xff\x4f\xff\x51":
        return "j2k", i + 6
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte (B.1.1.2)
            i += 1
            continue
        if marker in _SOF_MARKERS:
            return "jpeg", i
        if marker == 0xDA:
            return None
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None

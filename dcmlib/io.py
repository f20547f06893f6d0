"""Reading: files and headers, the pixel data element, its length checks, and frame decoding.

This is the error boundary's first half: whatever a damaged file does while it
is read or decoded becomes a :class:`~dcmlib.errors.DcmviewError` naming the
file, before anything large is allocated.  It is also the only module that
knows how pydicom reads, defers and decodes, so that a pydicom upgrade touches
one file; it uses pydicom's public API only.

Nothing here writes to stderr or changes process state; C decoders that print
on fd 2 are left alone (the CLI contains them on its single-threaded export
path).
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pixel_array
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, JPEGExtended12Bit, RLELossless

from .errors import DcmviewError, NotDicomError, PixelDataError, exception_text
from .frames import PIXEL_KEYWORDS, FrameRef, PixelElement
from .header import Layout

__all__ = [
    "FULL_READ_LIMIT",
    "HEAD_BYTES",
    "NOT_DICOM",
    "UNREADABLE",
    "NO_PIXELS",
    "read_file",
    "read_header",
    "pixel_element",
    "transfer_syntax",
    "check_pixel_length",
    "codestream_size",
    "decode_frame",
]

#: Files larger than this keep their pixel data on disk and decode frame by frame (bytes).
FULL_READ_LIMIT = 256 * 1024 * 1024

#: Bytes read from the start of a file for the fast header parse. A CT or MR
#: header is 2-8 KiB; a longer header falls back to reading the file itself.
HEAD_BYTES = 16 * 1024

# Reasons :func:`read_header` gives for a file that is no image.
NOT_DICOM = "not DICOM"
UNREADABLE = "unreadable"
NO_PIXELS = "no pixel data"

# (7FE0,0010) Pixel Data, (7FE0,0008) Float Pixel Data, (7FE0,0009) Double Float Pixel Data,
# keyed by the 4 bytes of the tag in little- and big-endian transfer syntaxes (PS3.5 7.1).
_PIXEL_TAGS = {
    (0x7FE0).to_bytes(2, order) + elem.to_bytes(2, order): keyword
    for elem, keyword in zip((0x0010, 0x0008, 0x0009), PIXEL_KEYWORDS)
    for order in ("little", "big")
}
# Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})


# ----------------------------------------------------------------------------- files


def read_file(path: Path) -> Dataset:
    """Read a whole DICOM file (pixel data over :data:`FULL_READ_LIMIT` stay on disk).

    Anything that is not a readable DICOM file becomes :class:`NotDicomError`.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotDicomError(exc.strerror or "cannot read", path) from None
    if size == 0:
        raise NotDicomError("empty file", path)
    try:
        try:
            ds = pydicom.dcmread(path, defer_size=FULL_READ_LIMIT)
        except InvalidDicomError:
            # No preamble/meta: accept only what parses as an image header.
            ds = pydicom.dcmread(path, force=True, defer_size=FULL_READ_LIMIT)
            if "Rows" not in ds and "SOPClassUID" not in ds:
                raise NotDicomError("not a DICOM file", path) from None
    except NotDicomError:
        raise
    except IsADirectoryError:
        raise NotDicomError("is a directory", path) from None
    except PermissionError:
        raise NotDicomError("permission denied", path) from None
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, struct.error, OverflowError) as exc:
        raise NotDicomError(f"not a readable DICOM file ({exception_text(exc)})", path) from None
    except OSError as exc:
        raise NotDicomError(f"cannot read ({exception_text(exc)})", path) from None
    return ds


def pixel_element(ds: Dataset) -> PixelElement | None:
    """The pixel data element of a Dataset read whole, without reading a deferred value."""
    keyword = next((k for k in PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        return None
    item = ds.get_item(keyword, keep_deferred=True)
    value = getattr(item, "value", None)
    if isinstance(value, (bytes, bytearray)):
        return PixelElement(keyword, len(value), bytes(value))
    return PixelElement(keyword, int(getattr(item, "length", 0) or 0), None)


def transfer_syntax(ds: Dataset) -> UID | None:
    """The file's Transfer Syntax UID (0002,0010), or None when absent or not a transfer syntax."""
    meta = getattr(ds, "file_meta", None)
    ts = None if meta is None else meta.get("TransferSyntaxUID")
    if ts is None:
        return None
    ts = UID(str(ts))
    return ts if ts.is_transfer_syntax else None


def _pixel_header_at(fp: io.IOBase, ds: Dataset) -> PixelElement | None:
    """The pixel data element whose header starts at ``fp`` (where ``stop_before_pixels`` stopped).

    Parses tag, VR and length (PS3.5 7.1.1-7.1.3) and leaves the value on disk;
    encapsulated data have the undefined length 0xFFFFFFFF.  None when no
    pixel data element starts there.
    """
    head = fp.read(12)
    keyword = _PIXEL_TAGS.get(head[:4]) if len(head) >= 8 else None
    if keyword is None:
        return None
    implicit, little = ds.original_encoding
    order = "little" if little else "big"
    if implicit:
        length = int.from_bytes(head[4:8], order)
    elif head[4:6] in _LONG_VRS:
        if len(head) < 12:
            return None
        length = int.from_bytes(head[8:12], order)
    else:
        length = int.from_bytes(head[6:8], order)
    return PixelElement(keyword, length, None)


def read_header(path: str | os.PathLike[str]) -> tuple[Dataset | None, PixelElement | str]:
    """Read one file's header (everything before the pixel data) and check it holds an image.

    Returns ``(header, pixel element)`` for a DICOM file with Pixel Data, Float
    Pixel Data or Double Float Pixel Data (7FE0,0010/0008/0009), else
    ``(None, reason)`` with reason :data:`NOT_DICOM`, :data:`UNREADABLE` or
    :data:`NO_PIXELS`.

    ``pydicom.dcmread(fp, stop_before_pixels=True)`` stops *at* the pixel data
    element, so the next bytes are that element's header: exact, a dozen bytes,
    and no knowledge of SOP classes needed.  The first :data:`HEAD_BYTES` are
    parsed from memory (about 20 % faster than a buffered file); a longer
    header, a damaged head or a deflated file is read from the file itself
    (deflated files whole: the inflated stream has no file offsets).
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
    bio = io.BytesIO(head)
    try:
        ds = pydicom.dcmread(bio, stop_before_pixels=True)
        deflated = ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    except Exception:  # noqa: BLE001 - a truncated head can fail in many ways; the exact path decides
        ds, deflated = None, False
    if ds is not None and not deflated:
        pixels = _pixel_header_at(bio, ds)
        if pixels is not None:
            return ds, pixels
        if len(head) >= size:
            return None, NO_PIXELS
    try:
        with open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True)
            if ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
                fp.seek(0)
                ds = pydicom.dcmread(fp)
                pixels = pixel_element(ds)
            else:
                pixels = _pixel_header_at(fp, ds)
    except InvalidDicomError:
        return None, NOT_DICOM
    except Exception:  # noqa: BLE001 - pydicom raises many types on damaged files
        return None, UNREADABLE
    return (ds, pixels) if pixels is not None else (None, NO_PIXELS)


# ----------------------------------------------------------------------------- pixel length


def check_pixel_length(ds: Dataset, lay: Layout, pixels: PixelElement, path: object) -> None:
    """Fail fast when the header's sizes disagree with the pixel data (before any large allocation).

    Native data must hold every frame (PS3.5 8.1.1; YBR_FULL_422 stores two
    samples per pixel, 8.2.3); an encapsulated first frame must be at least the
    header's size (its codestream header says), and RLE cannot expand more than
    64-fold (PS3.5 G.3.1).
    """
    ts = transfer_syntax(ds)
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
        return  # left on disk (very large file, series slice): the decoder checks each frame
    try:
        fragment = _first_fragment(raw)
    except (ValueError, StopIteration, struct.error) as exc:
        raise PixelDataError(f"broken encapsulated pixel data ({exception_text(exc)})", path) from None
    if not fragment:
        raise PixelDataError("encapsulated pixel data holds no frame", path)
    dims = codestream_size(fragment)
    if dims is not None and lay.rows * lay.columns > dims[0] * dims[1]:
        raise PixelDataError(
            f"compressed frame is {dims[1]} x {dims[0]} but the header says {lay.columns} x {lay.rows}", path
        )
    if ts == RLELossless and lay.frame_bytes > 64 * len(raw) + 64:
        raise PixelDataError(f"RLE data ({len(raw)} bytes) is too small for a {lay.columns} x {lay.rows} frame", path)


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
    if data[:4] == b"\xff\x4f\xff\x51" and len(data) >= 24:
        xs, ys, xo, yo = struct.unpack(">IIII", data[8:24])
        return ys - yo, xs - xo
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                return None
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return (h, w) if h and w else None
        if marker == 0xDA:
            return None
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


# ----------------------------------------------------------------------------- decoding

_DECODE_ERRORS = (ValueError, RuntimeError, NotImplementedError, KeyError, TypeError, AttributeError,
                  IndexError, OSError, EOFError, struct.error, AssertionError)


def decode_frame(ref: FrameRef, lay: Layout, where: object) -> np.ndarray:
    """Decode one frame's stored values with pydicom's decoders (C-contiguous; float64 as float32).

    12-bit JPEG Extended, which pydicom's permissively licensed plugins lack,
    goes through imagecodecs.  Any decoder failure becomes :class:`PixelDataError`.
    """
    ts = transfer_syntax(ref.header)
    try:
        try:
            arr = pixel_array(ref.source, index=ref.index)
        except (RuntimeError, ValueError, NotImplementedError):
            arr = _decode_jpeg12(ref, lay, ts)
            if arr is None:
                raise
    except DcmviewError:
        raise
    except MemoryError:
        raise PixelDataError("not enough memory to decode the frame", where) from None
    except _DECODE_ERRORS as exc:
        tsn = f" ({ts.name})" if ts is not None else ""
        raise PixelDataError(f"cannot decode pixel data{tsn}: {exception_text(exc)}", where) from None
    want = lay.shape
    if arr.shape != want:
        if arr.ndim == len(want) + 1 and arr.shape[1:] == want and arr.shape[0] >= 1:
            arr = arr[0]
        else:
            raise PixelDataError(f"decoded frame has shape {arr.shape}, header says {want}", where)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def _decode_jpeg12(ref: FrameRef, lay: Layout, ts: UID | None) -> np.ndarray | None:
    """12-bit JPEG Extended through imagecodecs (libjpeg-turbo, BSD); None for any other data."""
    if ts != JPEGExtended12Bit or lay.bits_stored <= 8 or lay.samples != 1:
        return None
    import imagecodecs  # noqa: PLC0415  (only for this rare syntax)

    ds = ref.source if isinstance(ref.source, Dataset) else pydicom.dcmread(ref.source)
    frame = pydicom.encaps.get_frame(ds.PixelData, ref.index, number_of_frames=lay.frames)
    arr = imagecodecs.jpeg8_decode(frame)
    return arr.view(np.int16) if lay.signed else arr

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
import re
import struct
import zlib
from pathlib import Path
from typing import Literal

import numpy as np
import pydicom
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pixel_array
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from dcmlib.errors import DcmviewError, ErrorPath, NotDicomError, PixelDataError
from dcmlib.read.header import Layout, text_value
from dcmlib.values.frames import PIXEL_KEYWORDS, FrameRef, PixelElement

__all__ = [
    "FULL_READ_LIMIT",
    "HEAD_BYTES",
    "NOT_DICOM",
    "UNREADABLE",
    "NO_PIXELS",
    "read_file",
    "read_header",
    "has_preamble",
    "starts_as_dicom",
    "pixel_element",
    "transfer_syntax",
    "declared_syntax",
    "check_pixel_data",
    "codestream_kind",
    "frame_header",
    "sanitize",
    "prune_damaged",
    "DECODERS",
    "MAX_FRAME_BYTES",
    "codestream_size",
    "decode_frame",
]

#: Files larger than this keep their pixel data on disk and decode frame by frame (bytes).
FULL_READ_LIMIT = 256 * 1024 * 1024

#: Bytes read from the start of a file for the fast header parse. A CT or MR
#: header is 2-8 KiB; a longer header falls back to reading the file itself.
HEAD_BYTES = 16 * 1024

#: The problem of a file that does not read as DICOM at all (no preamble, and no image header when forced).
NOT_A_DICOM_FILE = "not a DICOM file"

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


def read_file(path: Path) -> tuple[Dataset, list[str]]:
    """Read a whole DICOM file; return it and the notes on what was repaired while reading.

    Files up to :data:`FULL_READ_LIMIT` are read into memory first, so a
    damaged element length cannot make the reader allocate more than the
    file; larger files keep their pixel data on disk.  Every header element is
    converted now, so a damaged one (unknown VR, a length its VR cannot have)
    is dropped here with a note rather than failing later; a file without
    file meta gets the transfer syntax its data set was read with (PS3.10 7.1).
    Anything that is not a readable DICOM file becomes :class:`NotDicomError`.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotDicomError(exc.strerror or "cannot read", path) from None
    if size == 0:
        raise NotDicomError("empty file", path)
    data = None
    try:
        data = None if size > FULL_READ_LIMIT else path.read_bytes()  # read once: parsed, then checked
        ds = _dcmread(path, data)
    except NotDicomError:
        raise
    except IsADirectoryError:
        raise NotDicomError("is a directory", path) from None
    except PermissionError:
        raise NotDicomError("permission denied", path) from None
    except MemoryError:
        raise NotDicomError("a header element claims more bytes than the file holds", path) from None
    except zlib.error:
        raise NotDicomError("the deflated data set cannot be inflated (damaged, or not deflated)", path) from None
    except OSError as exc:
        raise NotDicomError(f"cannot read ({exc.strerror or 'input/output error'})", path) from None
    except Exception as exc:  # pydicom's reader fails in many ways on damaged files
        raise NotDicomError(f"not a readable DICOM file ({_read_problem(exc)})", path) from None
    _check_cut_element(ds, path)
    notes = sanitize(ds)
    if data is not None and ("Rows" in ds or not len(ds)) and not any(k in ds for k in PIXEL_KEYWORDS):
        _check_cut_pixels(data, path)
    if "TransferSyntaxUID" not in (getattr(ds, "file_meta", None) or ()):
        implicit, little = ds.original_encoding
        ts = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
        if not isinstance(getattr(ds, "file_meta", None), FileMetaDataset):
            ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ts
        notes.append(f"no Transfer Syntax UID (0002,0010); read as {ts.name}")
    return ds, notes


#: The Pixel Data tag (7FE0,0010) as it is written, little and big endian.
_PIXEL_TAG_BYTES = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")


def _check_cut_element(ds: Dataset, path: Path) -> None:
    """A header cut short: pydicom reads the last element's value with fewer bytes than its length
    says (PS3.5 7.1) and no error.  Pixel data are checked against the image's size instead."""
    tags = list(ds.keys())
    if not tags or tags[-1].group == 0x7FE0:
        return
    try:
        raw = ds.get_item(tags[-1], keep_deferred=True)  # as read: no conversion
    except Exception:  # a damaged element; sanitize() names or drops it
        return
    length, value = getattr(raw, "length", None), getattr(raw, "value", None)
    if isinstance(value, bytes) and isinstance(length, int) and length != 0xFFFFFFFF and len(value) < length:
        name = (
            pydicom.datadict.dictionary_description(tags[-1])
            if pydicom.datadict.dictionary_has_tag(tags[-1])
            else "an element"
        )
        raise NotDicomError(
            f"the file ends inside {name} ({tags[-1].group:04X},{tags[-1].element:04X}): "
            "cut short, or its length is damaged",
            path,
        )


def _check_cut_pixels(data: bytes, path: Path) -> None:
    """An image header whose Pixel Data element was started but cut off by the end of the file.

    pydicom drops an encapsulated element that the end of the file cuts
    short (sometimes with the whole data set before it), which would
    otherwise read as "no pixel data" (not an image).
    """
    if any(tag in data for tag in _PIXEL_TAG_BYTES):
        raise PixelDataError(
            "the file ends inside its pixel data (7FE0,0010): cut short, or its length is damaged", path
        )


def _dcmread(path: Path, data: bytes | None) -> Dataset:
    """pydicom's reader over the file's bytes ``data`` (or the file itself when large, ``data`` None); no
    preamble tolerated only when what follows parses as an image header."""
    big = data is None
    src: Path | io.BytesIO = path if data is None else io.BytesIO(data)
    defer = FULL_READ_LIMIT if big else None
    try:
        return pydicom.dcmread(src, defer_size=defer)
    except InvalidDicomError:
        if isinstance(src, io.BytesIO):
            src.seek(0)
        ds = pydicom.dcmread(src, force=True, defer_size=defer)
        if "Rows" not in ds and "SOPClassUID" not in ds:
            raise NotDicomError(NOT_A_DICOM_FILE, path) from None
        return ds


def _read_problem(exc: BaseException) -> str:
    """What a reader failure means, in DICOM's words."""
    if isinstance(exc, (EOFError, struct.error)):
        return "the file ends inside an element"
    if isinstance(exc, NotImplementedError):
        return "an element has an unknown Value Representation"
    if isinstance(exc, InvalidDicomError):
        return "no DICOM header"
    return "the header is damaged"


def declared_syntax(ds: Dataset) -> str:
    """The Transfer Syntax UID (0002,0010) as written in the file meta, valid or not; ``""`` when absent."""
    return text_value(getattr(ds, "file_meta", None), "TransferSyntaxUID")


#: Value Representations with a fixed value size (PS3.5 6.2): a value length must be a multiple of it.
_FIXED_SIZE = {
    "US": 2,
    "SS": 2,
    "UL": 4,
    "SL": 4,
    "FL": 4,
    "FD": 8,
    "AT": 4,
    "SV": 8,
    "UV": 8,
    "OW": 2,
    "OL": 4,
    "OF": 4,
    "OD": 8,
    "OV": 8,
}
_KNOWN_VRS = frozenset(vr.value for vr in pydicom.valuerep.VR)


def prune_damaged(ds: Dataset) -> int:
    """Drop header elements pydicom could not convert, without converting the others; return how many.

    The cheap half of :func:`sanitize`, for series headers: an explicit VR that
    is no VR, or a value length that is not a multiple of its VR's value size
    (PS3.5 6.2, 7.1), would fail on first access, wherever that is.  Reads each
    element's raw VR and length only (``Dataset.items()``, about 60 us for 250 elements).
    """
    dropped = 0
    for tag, item in list(ds.items()):  # raw elements as read: nothing is converted here
        vr = getattr(item, "VR", None)
        if vr is None or tag.group == 0x7FE0:
            continue
        length = getattr(item, "length", 0) or 0
        size = _FIXED_SIZE.get(vr)
        if vr not in _KNOWN_VRS or (size and length != 0xFFFFFFFF and length % size):
            del ds[tag]
            dropped += 1
        elif vr == "SQ":
            try:
                for child in ds[tag].value or ():
                    dropped += prune_damaged(child)
            except Exception:  # a sequence that does not parse goes too
                del ds[tag]
                dropped += 1
    return dropped


_INT = re.compile(r"^\s*([+-]?\d+)")


def sanitize(ds: Dataset) -> list[str]:
    """Convert every header element now; drop the damaged ones and repair integer strings, with notes.

    pydicom converts elements lazily, so a damaged one (an unknown VR, a value
    length its VR cannot have) would fail wherever it is first read.  An
    Integer String with trailing garbage (``"1A"``, PS3.5 6.2 IS) is read as
    its leading integer.  Pixel data elements are left as they are.
    """
    notes: list[str] = []
    for tag in list(ds.keys()):
        if tag.group == 0x7FE0:
            continue
        try:
            elem = ds[tag]
        except Exception as exc:  # pydicom's conversion raises many types
            del ds[tag]
            what = "unknown Value Representation" if isinstance(exc, NotImplementedError) else "unreadable value"
            notes.append(f"header element {tag} ignored ({what})")
            continue
        if elem.VR == "SQ":
            for item in elem.value or ():
                notes += sanitize(item)
        elif elem.VR == "IS" and isinstance(elem.value, str) and elem.value.strip():
            m = _INT.match(elem.value)
            name = elem.name if elem.name != "Unknown" else "value"
            if m:
                notes.append(f"{name} {tag} {elem.value!r} is not an integer; read as {int(m.group(1))}")
                elem.value = int(m.group(1))
            else:
                notes.append(f"{name} {tag} {elem.value!r} is not an integer; ignored")
                del ds[tag]
    return notes


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
    ts = declared_syntax(ds)
    if not ts:
        return None
    ts = UID(ts)
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
    order: Literal["little", "big"] = "little" if little else "big"
    if implicit:
        length = int.from_bytes(head[4:8], order)
    elif head[4:6] in _LONG_VRS:
        if len(head) < 12:
            return None
        length = int.from_bytes(head[8:12], order)
    else:
        length = int.from_bytes(head[6:8], order)
    return PixelElement(keyword, length, None)


def read_header(path: str | os.PathLike[str]) -> tuple[Dataset, PixelElement] | tuple[None, str]:
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
    if not starts_as_dicom(head):
        return None, NOT_DICOM
    force = not has_preamble(head)  # a bare data set: pydicom reads it only when forced
    bio = io.BytesIO(head)
    try:
        ds = pydicom.dcmread(bio, stop_before_pixels=True, force=force)
        deflated = ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    except Exception:  # a truncated head can fail in many ways; the exact path decides
        ds, deflated = None, False
    if ds is not None and force and "SOPClassUID" not in ds and "Rows" not in ds:
        return None, NOT_DICOM  # bytes that only began like a data set
    if ds is not None and not deflated:
        pixels = _pixel_header_at(bio, ds)
        if pixels is not None:
            prune_damaged(ds)
            return ds, pixels
        if len(head) >= size:
            return None, NO_PIXELS
    try:
        with open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=force)
            if ds.file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
                fp.seek(0)
                ds = pydicom.dcmread(fp, force=force)
                pixels = pixel_element(ds)
            else:
                pixels = _pixel_header_at(fp, ds)
        if pixels is not None:
            prune_damaged(ds)
    except InvalidDicomError:
        return None, NOT_DICOM
    except Exception:  # pydicom raises many types on damaged files
        return None, NOT_DICOM if force else UNREADABLE
    return (ds, pixels) if pixels is not None else (None, NO_PIXELS)


def has_preamble(head: bytes) -> bool:
    """The 128-byte preamble and ``DICM`` of a DICOM file (PS3.10 7.1)."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def starts_as_dicom(head: bytes) -> bool:
    """A file's first bytes say DICOM: the preamble and ``DICM``, or a data set written without them whose
    first element is in group 0002 (File Meta) or 0008 (Identifying; either byte order), as older systems
    and some archives write them; ``dcmview.py FILE`` opens those, so folders and ``convert`` do too."""
    return has_preamble(head) or (len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x08"))


# ----------------------------------------------------------------------------- pixel length


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
    expected = _FAMILY_OF.get(ts)
    if (
        family is not None
        and expected is not None
        and family != expected
        and not (family == "jpeg8" and expected == "jpegls")
    ):
        raise PixelDataError(
            f"the pixel data are {_FAMILY.get(family, 'RLE')} but the Transfer Syntax UID says {ts.name}", path
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


# ----------------------------------------------------------------------------- decoding

#: pydicom decoding plugins tried for each compressed transfer syntax, in order (PS3.5 A.4, 8.2).
#: Only plugins that raise on bad data: GDCM aborts the process on corrupt JPEG and JPEG 2000
#: streams (an uncaught C++ exception), so it is never used, even when installed.  One library
#: per codec: a second wrapper of the same C library (Pillow's or imagecodecs' OpenJPEG, imagecodecs'
#: CharLS) would only fail again, as slowly.
DECODERS: dict[str, tuple[str, ...]] = {
    uid.RLELossless: ("pylibjpeg", "pydicom"),
    uid.JPEGBaseline8Bit: ("pillow",),
    uid.JPEGExtended12Bit: ("pillow",),
    uid.JPEGLossless: (),
    uid.JPEGLosslessSV1: (),
    uid.JPEGLSLossless: ("pyjpegls",),
    uid.JPEGLSNearLossless: ("pyjpegls",),
    uid.JPEG2000Lossless: ("pylibjpeg",),
    uid.JPEG2000: ("pylibjpeg",),
    uid.HTJ2KLossless: ("pylibjpeg",),
    uid.HTJ2KLosslessRPCL: ("pylibjpeg",),
    uid.HTJ2K: ("pylibjpeg",),
}

#: Transfer syntaxes with an imagecodecs (libjpeg-turbo) fallback after the plugins above: Pillow
#: refuses 12-bit and lossless JPEG, which pydicom's permissive plugins do not cover otherwise.
_CODECS = {
    uid.JPEGBaseline8Bit: "jpeg8",
    uid.JPEGExtended12Bit: "jpeg8",
    uid.JPEGLossless: "jpeg8",
    uid.JPEGLosslessSV1: "jpeg8",
}

#: The codestream family each compressed transfer syntax announces (checked against the data).
_FAMILY_OF = {
    **_CODECS,
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
_FAMILY = {"jpeg8": "JPEG", "jpegls": "JPEG-LS", "jpeg2k": "JPEG 2000", "rle": "RLE"}

_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit, DcmviewError)


def decode_frame(ref: FrameRef, lay: Layout, where: ErrorPath, *, threads: bool = False) -> np.ndarray:
    """Decode one frame's stored values (C-contiguous; float64 as float32), or raise :class:`PixelDataError`.

    Native and deflated data go through pydicom; compressed data through the
    plugins of :data:`DECODERS`, then imagecodecs.  Whatever a decoder raises,
    a Rust panic included, ends here as one message in DICOM's words; the
    decoder's own error stays on the exception's ``__cause__`` (``--debug``).

    ``threads``: the caller decodes frames on several threads (a volume's
    slices).  JPEG 2000 lossless frames then go through imagecodecs' OpenJPEG,
    which releases the GIL (pylibjpeg-openjpeg holds it: it reads the stream
    through Python callbacks), when the codestream's sign and precision let
    both give the same samples (:func:`_decode_j2k_threaded`); else as usual.
    """
    ts = transfer_syntax(ref.header)
    if ts is None:
        raise PixelDataError("no valid Transfer Syntax UID (0002,0010): the pixel data cannot be decoded", where)
    source = ref.source
    if ts.is_encapsulated and not isinstance(source, Dataset) and lay.frames == 1:
        source = _with_pixels(source, lay, where)
    if threads and ts == uid.JPEG2000Lossless and isinstance(source, Dataset):
        arr = _decode_j2k_threaded(source, ref.index, lay)
        if arr is not None:
            return _check_decoded(arr, lay, where)
    plugins = DECODERS.get(ts, ("",)) if ts.is_compressed else ("",)
    failure: BaseException | None = None
    arr = None
    for plugin in plugins:
        try:
            arr = pixel_array(source, index=ref.index, decoding_plugin=plugin)
            break
        except _PASS_THROUGH:
            raise
        except MemoryError:
            raise PixelDataError("not enough memory to decode the frame", where) from None
        except BaseException as exc:  # decoders raise anything, Rust panics included
            failure = exc
    if arr is None and ts in _CODECS:
        try:
            arr = _decode_codec(ref, lay, _CODECS[ts])
        except _PASS_THROUGH:
            raise
        except MemoryError:
            raise PixelDataError("not enough memory to decode the frame", where) from None
        except BaseException as exc:
            failure = exc
    if arr is None:
        raise PixelDataError(_decode_problem(ts), where) from failure
    return _check_decoded(arr, lay, where)


def _decode_j2k_threaded(ds: Dataset, index: int, lay: Layout) -> np.ndarray | None:
    """A lossless JPEG 2000 frame through imagecodecs (the GIL released while it decodes), or None.

    Only a single-component codestream whose sign (SIZ Ssiz bit 7, ISO 15444-1
    A.5.1) is the header's Pixel Representation, decoded to the header's Bits
    Allocated: pydicom then corrects nothing either (it changes JPEG 2000
    samples only when their sign disagrees with the header), so the samples
    equal the plugin's.  Anything else, or any failure, is None: the usual
    decoders decide, and say what is wrong.
    """
    if lay.samples != 1 or lay.bits_allocated not in (8, 16):
        return None
    try:
        import imagecodecs

        frame = pydicom.encaps.get_frame(ds[lay.keyword].value, index, number_of_frames=lay.frames)
        if len(frame) < 43 or frame[:4] != b"\xff\x4f\xff\x51" or struct.unpack(">H", frame[40:42])[0] != 1:
            return None
        if bool(frame[42] & 0x80) != lay.signed:
            return None
        arr = imagecodecs.jpeg2k_decode(frame)
    except Exception:  # the usual decoders decide and word the error
        return None
    want = np.dtype(f"{'i' if lay.signed else 'u'}{lay.bits_allocated // 8}")
    if arr.dtype != want or arr.shape != lay.shape:
        return None
    return arr


def _with_pixels(path: str | os.PathLike[str], lay: Layout, where: ErrorPath) -> str | os.PathLike[str] | Dataset:
    """A single-frame compressed file read whole, its encapsulated data checked like a file opened alone.

    Series slices keep their pixel data on disk until shown; this gives them the
    fragment, codestream and cut-short checks of :func:`check_pixel_data` before
    a decoder sees the stream.  Files over :data:`FULL_READ_LIMIT` stay on disk.
    """
    try:
        size = os.path.getsize(path)
        if size > FULL_READ_LIMIT:
            return path
        ds = _dcmread(Path(path), Path(path).read_bytes())
        pixels = pixel_element(ds)
    except (OSError, MemoryError):
        raise PixelDataError("the pixel data cannot be read (the file is unreadable)", where) from None
    except Exception:  # pydicom's reader fails in many ways on damaged files
        raise PixelDataError("the pixel data cannot be read (the file is cut short or damaged)", where) from None
    if pixels is None:
        raise PixelDataError("the pixel data element is gone from the file", where)
    check_pixel_data(ds, lay, pixels, where)
    return ds


def _decode_problem(ts: UID) -> str:
    if not ts.is_compressed:
        return f"pixel data could not be read as {ts.name} (the data are shorter than the header says or damaged)"
    family = _FAMILY.get(_FAMILY_OF.get(ts, ""), ts.name)
    return f"pixel data could not be decoded as {ts.name} (the stream is damaged or is not {family})"


def _check_decoded(arr: np.ndarray, lay: Layout, where: ErrorPath) -> np.ndarray:
    """A decoded frame must have the header's shape; a decoder that returns another one is an error."""
    want = lay.shape
    if arr.shape != want:
        if arr.ndim == len(want) + 1 and arr.shape[1:] == want and arr.shape[0] >= 1:
            arr = arr[0]
        else:
            got = " x ".join(str(n) for n in arr.shape)
            raise PixelDataError(f"decoded frame is {got}, the header says {' x '.join(map(str, want))}", where)
    if arr.dtype == np.float64:
        # Double Float Pixel Data beyond float32's range become +-inf (shown at the window's ends)
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def _decode_codec(ref: FrameRef, lay: Layout, codec: str) -> np.ndarray:
    """One encapsulated frame through imagecodecs; samples to the header's Bits Allocated and sign (PS3.5 8.2)."""
    import imagecodecs

    ds = ref.source if isinstance(ref.source, Dataset) else pydicom.dcmread(ref.source)
    frame = pydicom.encaps.get_frame(ds[lay.keyword].value, ref.index, number_of_frames=lay.frames)
    arr = getattr(imagecodecs, f"{codec}_decode")(frame)
    kind = "i" if lay.signed else "u"
    arr = arr.astype(f"{kind}{max(lay.bits_allocated // 8, 1)}", copy=False)
    if lay.signed and 0 < lay.bits_stored < 8 * arr.itemsize:
        shift = 8 * arr.itemsize - lay.bits_stored  # two's complement in Bits Stored bits (PS3.5 8.1.1)
        arr = np.left_shift(arr, shift) >> shift
    return arr

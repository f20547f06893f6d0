"""Reading files and headers: the preamble, the header parsed once, the pixel data element found, damaged
elements named (the pixel data's length checks are in :mod:`dcmlib.read.pixeldata`, decoding in
:mod:`dcmlib.read.decode`).

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

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from dcmlib.errors import NotDicomError, PixelDataError
from dcmlib.read.header import text_value
from dcmlib.values.frames import PIXEL_KEYWORDS, PixelElement

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
    "read_dataset",
    "sanitize",
    "prune_damaged",
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
        ds = read_dataset(path, data)
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


def read_dataset(path: Path, data: bytes | None) -> Dataset:
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

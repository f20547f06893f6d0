"""Deterministic, seeded damage to pydicom's bundled image files.

``cases(seed, n)`` yields ``n`` :class:`Case` objects; case ``i`` depends only on
``(seed, i)``, so a case is reproduced from its name alone (:func:`case`,
:func:`case_by_name`) and a longer run starts with the same cases as a shorter one.

The bases are about forty small images: a fixed list of files bundled with
pydicom (``get_testdata_file(name, download=False)``, never downloaded) and a few
derived from them in memory for what pydicom does not bundle (MONOCHROME1, a
Modality LUT, VOI LUTs, float pixel data, signed 8-bit, a big-endian and a
segmented palette, an enhanced-style multi-frame).

Mutation kinds (:data:`KINDS`) work at two levels:

- on the encoded bytes: bit flips, overwritten runs, truncation, splices,
  element VRs, lengths and tags, preamble / file meta, the Transfer Syntax
  UID, encapsulated items (offset table, fragments, delimiters) and the
  compressed codestream inside the first fragment;
- on the Dataset (read with pydicom, edited as raw element bytes so that no
  value is validated or normalised, written back with ``dcmwrite``): image
  geometry, photometric interpretation, rescale / window numbers (NaN, inf,
  1e308, 5e-324, text), Modality and VOI LUTs, palettes (plain and segmented),
  deleted attributes, pixel data lengths, wrong VRs, functional groups; and
  ``combo`` (a Dataset mutation, then a byte mutation).
"""

from __future__ import annotations

import contextlib
import functools
import io
import random
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom import config as _config
from pydicom.data import get_testdata_file
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from ..io import frame_header

__all__ = ["Case", "Base", "KINDS", "BUNDLED", "DERIVED", "cases", "case", "case_by_name", "bases", "series_files"]

# ----------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One damaged file: ``name`` is ``"<base>#<kind>-<index>"``; ``note`` says what was changed."""

    name: str
    kind: str
    data: bytes
    base: str = ""
    note: str = ""
    seed: int = 0
    index: int = 0

    @property
    def filename(self) -> str:
        """A file name for the case (letters, digits and ``._+-`` only)."""
        return re.sub(r"[^A-Za-z0-9._+-]", "_", self.name) + ("" if self.name.endswith(".dcm") else ".dcm")


# ----------------------------------------------------------------------------- bases

#: pydicom's bundled files used as bases (all small; none is downloaded).
BUNDLED = (
    "CT_small.dcm",                    # 16-bit signed, rescale, pixel padding
    "MR_small.dcm",                    # 16-bit signed, window
    "MR_small_implicit.dcm",           # implicit VR little endian
    "MR_small_bigendian.dcm",          # explicit VR big endian
    "MR_small_RLE.dcm",                # RLE lossless
    "MR_small_jp2klossless.dcm",       # JPEG 2000 lossless
    "MR_small_jpeg_ls_lossless.dcm",   # JPEG-LS lossless
    "JPEGLSNearLossless_08.dcm",       # JPEG-LS near-lossless, 8-bit
    "JPGExtended.dcm",                 # JPEG extended, 12-bit
    "JPEG2000.dcm",                    # JPEG 2000, 16-bit
    "693_J2KI.dcm",                    # JPEG 2000 with window and padding
    "J2K_pixelrep_mismatch.dcm",       # JPEG 2000, signedness mismatch with the header
    "SC_rgb_jpeg_gdcm.dcm",            # JPEG lossless RGB
    "SC_rgb_jpeg_dcmtk.dcm",           # JPEG baseline YBR_FULL
    "SC_rgb_dcmtk_+eb+cy+s2.dcm",      # JPEG baseline YBR_FULL_422
    "SC_jpeg_no_color_transform.dcm",  # JPEG baseline RGB without colour transform
    "SC_rgb_small_odd.dcm",            # native RGB, odd size
    "SC_rgb_small_odd_big_endian.dcm", # native RGB, big endian
    "SC_ybr_full_422_uncompressed.dcm",# native YBR_FULL_422
    "SC_rgb_rle_16bit_2frame.dcm",     # RLE 16-bit RGB, 2 frames
    "SC_rgb_rle_32bit.dcm",            # RLE 32-bit RGB
    "SC_rgb_gdcm_KY.dcm",              # JPEG 2000 RGB
    "SC_rgb_jls_lossy_line.dcm",       # JPEG-LS RGB, line interleaved
    "ExplVR_BigEnd.dcm",               # native RGB, big endian
    "image_dfl.dcm",                   # deflated explicit VR little endian
    "liver_1frame.dcm",                # 1-bit
    "rtdose.dcm",                      # 32-bit unsigned, 15 frames, implicit VR
    "rtdose_expb_1frame.dcm",          # 32-bit big endian
    "rtdose_rle.dcm",                  # RLE 32-bit, 15 frames
    "examples_palette.dcm",            # PALETTE COLOR, 16-bit entries
    "examples_ybr_color.dcm",          # JPEG baseline YBR_FULL_422, 30 frames
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pydicom without warnings and without value validation, restored afterwards."""
    settings = _config.settings
    saved = settings.reading_validation_mode, settings.writing_validation_mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        settings.reading_validation_mode = _config.IGNORE
        settings.writing_validation_mode = _config.IGNORE
        try:
            yield
        finally:
            settings.reading_validation_mode, settings.writing_validation_mode = saved


def _bundled_path(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:
        raise FileNotFoundError(f"{name} is not bundled with the installed pydicom")
    return str(path)


def _read(data: bytes) -> Dataset:
    with _quiet():
        return pydicom.dcmread(io.BytesIO(data), force=True)


def _full(ds: Dataset) -> Dataset:
    """Convert every raw element (so that a change of encoding re-encodes them)."""
    for _ in ds.iterall():
        pass
    return ds


def _save(ds: Dataset, *, big_endian: bool = False) -> bytes:
    buf = io.BytesIO()
    with _quiet():
        if big_endian:
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRBigEndian
            pydicom.dcmwrite(buf, ds, implicit_vr=False, little_endian=False, force_encoding=True)
        else:
            pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def _bundled_ds(name: str) -> Dataset:
    with _quiet():
        return _full(pydicom.dcmread(_bundled_path(name)))


def _ow(values: np.ndarray, big: bool = False) -> bytes:
    return np.asarray(values).astype(">u2" if big else "<u2").tobytes()


def _derive_mono1() -> bytes:
    ds = _bundled_ds("CT_small.dcm")
    ds.PhotometricInterpretation = "MONOCHROME1"
    return _save(ds)


def _derive_modality_lut() -> bytes:
    ds = _bundled_ds("CT_small.dcm")
    for k in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
        if k in ds:
            delattr(ds, k)
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 16])            # LUT Descriptor: 4096 entries from 0, 16 bits
    item.ModalityLUTType = "HU"
    item.LUTExplanation = "fuzz modality LUT"
    item.add_new(0x00283006, "OW", _ow(np.clip(np.arange(4096) * 2, 0, 65535)))
    ds.ModalityLUTSequence = Sequence([item])
    return _save(ds)


def _derive_voi_lut() -> bytes:
    ds = _bundled_ds("MR_small.dcm")
    items = []
    for n, first, top in ((2048, 0, 4095), (512, 100, 255)):
        item = Dataset()
        item.add_new(0x00283002, "US", [n, first, 12 if top > 255 else 8])
        item.LUTExplanation = f"fuzz VOI LUT {n}"
        item.add_new(0x00283006, "OW", _ow(np.linspace(0, top, n).round()))
        items.append(item)
    ds.VOILUTSequence = Sequence(items)
    ds.VOILUTFunction = "SIGMOID"
    return _save(ds)


def _derive_float(bits: int) -> Callable[[], bytes]:
    def build() -> bytes:
        ds = _bundled_ds("CT_small.dcm")
        values = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        for k in ("PixelData", "BitsStored", "HighBit", "PixelRepresentation", "PixelPaddingValue",
                  "RescaleSlope", "RescaleIntercept", "RescaleType"):
            if k in ds:
                delattr(ds, k)
        ds.BitsAllocated = bits
        if bits == 32:
            ds.add_new(0x7FE00008, "OF", values.astype("<f4").tobytes())
        else:
            ds.add_new(0x7FE00009, "OD", values.astype("<f8").tobytes())
        ds.WindowCenter, ds.WindowWidth = 40, 400
        return _save(ds)

    return build


def _derive_int8() -> bytes:
    ds = _bundled_ds("MR_small.dcm")
    arr = ds.pixel_array.astype(np.int32)
    arr8 = ((arr - arr.min()) * 250 // max(int(arr.max() - arr.min()), 1) - 125).astype(np.int8)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 1
    ds.PixelData = arr8.tobytes()
    ds["PixelData"].VR = "OB"
    ds.WindowCenter, ds.WindowWidth = 0, 200
    return _save(ds)


def _palette_crop() -> Dataset:
    ds = _bundled_ds("examples_palette.dcm")
    arr = ds.pixel_array[150:198, 300:364]
    ds.Rows, ds.Columns = arr.shape
    ds.PixelData = np.ascontiguousarray(arr).tobytes()
    ds["PixelData"].VR = "OB"
    return ds


def _derive_palette_big_endian() -> bytes:
    ds = _palette_crop()
    for color in ("Red", "Green", "Blue"):
        key = f"{color}PaletteColorLookupTableData"
        ds[key].value = np.frombuffer(ds[key].value, "<u2").astype(">u2").tobytes()
    return _save(ds, big_endian=True)


def _segments(lut: np.ndarray) -> np.ndarray:
    """A segmented palette (PS3.3 C.7.9.2) equal to ``lut``: a discrete start, linear steps, an indirect copy."""
    words = [0, 1, int(lut[0])]                # discrete segment: 1 value
    half = len(lut) // 2
    for v in lut[1:half]:
        words += [1, 1, int(v)]                # linear segment of length 1: the next value
    offset = len(words)                        # the second half re-uses nothing: plain linear steps,
    for v in lut[half:]:
        words += [1, 1, int(v)]
    words += [2, 1, offset & 0xFFFF, offset >> 16]  # indirect segment: repeat the segment at ``offset``
    return np.array(words, dtype=np.uint16)


def _derive_palette_segmented() -> bytes:
    ds = _palette_crop()
    for color, tag in (("Red", 0x00281221), ("Green", 0x00281222), ("Blue", 0x00281223)):
        lut = np.frombuffer(ds[f"{color}PaletteColorLookupTableData"].value, "<u2")
        seg = _segments(lut)
        delattr(ds, f"{color}PaletteColorLookupTableData")
        ds.add_new(tag, "OW", _ow(seg))
        ds[f"{color}PaletteColorLookupTableDescriptor"].value = [len(lut) + 1, 0, 16]
    return _save(ds)


def _derive_enhanced() -> bytes:
    ds = _bundled_ds("MR_small.dcm")
    arr = ds.pixel_array
    frames = np.stack([arr, arr[::-1], (arr.max() - arr).astype(arr.dtype)])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.astype("<i2").tobytes()
    shared = Dataset()
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = 2, -100, "US"
    shared.PixelValueTransformationSequence = Sequence([pvt])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for i in range(3):
        item, voi = Dataset(), Dataset()
        voi.WindowCenter, voi.WindowWidth = 1000 + 500 * i, 2000 + 100 * i
        item.FrameVOILUTSequence = Sequence([voi])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    return _save(ds)


#: Bases derived in memory from bundled files: name -> builder (deterministic).
DERIVED: dict[str, Callable[[], bytes]] = {
    "CT_small.dcm+mono1": _derive_mono1,
    "CT_small.dcm+modality-lut": _derive_modality_lut,
    "MR_small.dcm+voi-lut": _derive_voi_lut,
    "CT_small.dcm+float32": _derive_float(32),
    "CT_small.dcm+float64": _derive_float(64),
    "MR_small.dcm+int8": _derive_int8,
    "examples_palette.dcm+bigendian": _derive_palette_big_endian,
    "examples_palette.dcm+segmented": _derive_palette_segmented,
    "MR_small.dcm+enhanced": _derive_enhanced,
}

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


@dataclass(frozen=True)
class Elem:
    """A top-level element in the encoded file: tag, VR (None when implicit), header start and size, value length."""

    tag: int
    vr: str | None
    start: int
    header: int
    length: int

    @property
    def value_start(self) -> int:
        return self.start + self.header


@dataclass(frozen=True)
class Base:
    """An undamaged file and what the mutators need to know of its encoding."""

    name: str
    data: bytes
    implicit: bool
    little: bool
    deflated: bool
    meta_end: int | None          #: offset of the first dataset byte after preamble + meta, if any
    elements: tuple[Elem, ...]    #: top-level elements (empty for a deflated file)
    pixel: Elem | None
    encapsulated: bool
    photometric: str
    frames: int
    signed: bool

    @property
    def header_end(self) -> int:
        """Where the pixel data element starts (the end of the file when unknown)."""
        return self.pixel.start if self.pixel is not None else len(self.data)

    @property
    def gray(self) -> bool:
        return self.photometric in ("MONOCHROME1", "MONOCHROME2")

    @property
    def palette(self) -> bool:
        return self.photometric == "PALETTE COLOR"


def _meta_end(data: bytes) -> int | None:
    """End of the File Meta Information (group 0002, explicit VR little endian) after "DICM"."""
    if data[128:132] != b"DICM":
        return None
    pos = 132
    while pos + 8 <= len(data):
        group = struct.unpack("<H", data[pos : pos + 2])[0]
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6].decode("latin-1")
        if vr in _LONG_VRS:
            if pos + 12 > len(data):
                break
            pos += 12 + struct.unpack("<I", data[pos + 8 : pos + 12])[0]
        else:
            pos += 8 + struct.unpack("<H", data[pos + 6 : pos + 8])[0]
    return min(pos, len(data))


def analyse(name: str, data: bytes) -> Base:
    """A :class:`Base` for ``data`` (raises when pydicom cannot read it at all)."""
    ds = _read(data)
    implicit, little = ds.original_encoding
    implicit, little = bool(implicit), little is not False
    meta = getattr(ds, "file_meta", None)
    ts = None if meta is None else meta.get("TransferSyntaxUID")
    deflated = ts == pydicom.uid.DeflatedExplicitVRLittleEndian
    elements: list[Elem] = []
    pixel = None
    if not deflated:
        for tag in ds.keys():
            raw = ds.get_item(tag, keep_deferred=True)
            tell = getattr(raw, "value_tell", None)
            if not getattr(raw, "is_raw", False) or tell is None:
                continue
            vr = None if implicit else raw.VR
            header = 8 if implicit or vr not in _LONG_VRS else 12
            el = Elem(int(tag), vr, tell - header, header, int(raw.length))
            elements.append(el)
            if int(tag) in _PIXEL_TAGS:
                pixel = el
    with _quiet():
        photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
        try:
            frames = int(ds.get("NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            frames = 1
        signed = ds.get("PixelRepresentation", 0) == 1
    return Base(
        name=name,
        data=data,
        implicit=implicit,
        little=little,
        deflated=deflated,
        meta_end=_meta_end(data),
        elements=tuple(elements),
        pixel=pixel,
        encapsulated=bool(ts is not None and ts.is_transfer_syntax and ts.is_encapsulated),
        photometric=photometric,
        frames=frames,
        signed=signed,
    )


@functools.lru_cache(maxsize=1)
def bases() -> tuple[Base, ...]:
    """The bases, in a fixed order: :data:`BUNDLED` then :data:`DERIVED`."""
    out = []
    for name in BUNDLED:
        with open(_bundled_path(name), "rb") as fh:
            out.append(analyse(name, fh.read()))
    for name, build in DERIVED.items():
        out.append(analyse(name, build()))
    return tuple(out)


# ----------------------------------------------------------------------------- encoding helpers

_INT_FORMATS = {"US": "H", "SS": "H", "UL": "I", "SL": "I", "OW": "H", "SV": "Q", "UV": "Q", "AT": "H"}
_FLOAT_FORMATS = {"FL": "f", "FD": "d", "OF": "f", "OD": "d"}


def _encode(vr: str, value: object, little: bool) -> bytes:
    """Value bytes for ``vr``: bytes as given, numbers packed (wrapped to the width), text padded to even."""
    order = "<" if little else ">"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if vr in _INT_FORMATS:
        fmt = _INT_FORMATS[vr]
        bits = struct.calcsize(fmt) * 8
        return b"".join(struct.pack(order + fmt, int(v) % (1 << bits)) for v in values)
    if vr in _FLOAT_FORMATS:
        return b"".join(struct.pack(order + _FLOAT_FORMATS[vr], float(v)) for v in values)
    text = "\\".join(str(v) for v in values).encode("latin-1", "replace")
    if len(text) % 2:
        text += b"\0" if vr == "UI" else b" "
    return text


def _tag(key: str | int) -> Tag:
    if isinstance(key, str):
        t = tag_for_keyword(key)
        if t is None:
            raise KeyError(key)
        return Tag(t)
    return Tag(key)


def _put(ds: Dataset, b: Base, key: str | int, vr: str, value: object) -> None:
    """Set an element as raw bytes in the base's encoding (no validation, no normalisation)."""
    tag = _tag(key)
    raw = _encode(vr, value, b.little)
    ds[tag] = RawDataElement(tag, vr, len(raw), raw, 0, b.implicit, b.little)


def _item(b: Base, *elements: tuple[str | int, str, object]) -> Dataset:
    item = Dataset()
    for key, vr, value in elements:
        if value is not None:
            _put(item, b, key, vr, value)
    return item


def _seq(ds: Dataset, key: str, items: list[Dataset]) -> None:
    tag = _tag(key)
    ds[tag] = DataElement(tag, "SQ", Sequence(items))


def _delete(ds: Dataset, key: str | int) -> bool:
    tag = _tag(key)
    if tag in ds:
        del ds[tag]
        return True
    return False


def _dump(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    with _quiet():
        pydicom.dcmwrite(buf, ds, enforce_file_format=False)
    return buf.getvalue()


def _u16(b: Base) -> str:
    return "<H" if b.little else ">H"


def _u32(b: Base) -> str:
    return "<I" if b.little else ">I"


# ----------------------------------------------------------------------------- mutators

Result = tuple[bytes, str]
Mutator = Callable[[random.Random, Base], "Result | None"]

#: Mutation kind -> (weight, mutator). A mutator returns (bytes, note), or None when it does not apply.
KINDS: dict[str, tuple[int, Mutator]] = {}


def _kind(name: str, weight: int):
    def register(fn: Mutator) -> Mutator:
        KINDS[name] = (weight, fn)
        return fn

    return register


def _offset(rng: random.Random, b: Base, header_bias: float = 0.6) -> int:
    limit = b.header_end if rng.random() < header_bias else len(b.data)
    return rng.randrange(max(limit, 1))


@_kind("flip", 10)
def _flip(rng: random.Random, b: Base) -> Result:
    d = bytearray(b.data)
    n = rng.choice((1, 1, 2, 3, 4, 8, 16))
    offsets = sorted(_offset(rng, b) for _ in range(n))
    for off in offsets:
        d[off] ^= 1 << rng.randrange(8)
    return bytes(d), f"bit flips at {offsets}"


_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff", b"\x00\x80", b"\xff\x7f", b"\xff\xff\xff\xff",
                b"\x00\x00\x00\x80", b"\xff\xff\xff\x7f", b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0")


@_kind("bytes", 5)
def _bytes(rng: random.Random, b: Base) -> Result:
    d = bytearray(b.data)
    off = _offset(rng, b, 0.7)
    how = rng.choice(("zeros", "ones", "random", "interesting"))
    k = rng.choice((1, 2, 4, 8, 16, 64))
    if how == "zeros":
        chunk = b"\x00" * k
    elif how == "ones":
        chunk = b"\xff" * k
    elif how == "random":
        chunk = bytes(rng.randrange(256) for _ in range(k))
    else:
        chunk = rng.choice(_INTERESTING)
    d[off : off + len(chunk)] = chunk
    return bytes(d[: len(b.data)]) if len(d) > len(b.data) else bytes(d), f"{how} {len(chunk)} bytes at {off}"


@_kind("truncate", 8)
def _truncate(rng: random.Random, b: Base) -> Result:
    n = len(b.data)
    choices = ["random", "random", "last-byte", "header-only", "in-element-header", "preamble", "half"]
    if b.pixel is not None:
        choices += ["in-pixel-data", "in-pixel-data", "at-pixel-data"]
    how = rng.choice(choices)
    if how == "random":
        at = rng.randrange(n)
    elif how == "last-byte":
        at = n - rng.choice((1, 2, 3, 8))
    elif how == "header-only":
        at = b.meta_end or 132
    elif how == "in-element-header" and b.elements:
        el = rng.choice(b.elements)
        at = el.start + rng.randrange(1, el.header)
    elif how == "preamble":
        at = rng.choice((0, 1, 128, 131, 132, 140))
    elif how == "in-pixel-data":
        at = b.pixel.value_start + rng.randrange(max(n - b.pixel.value_start, 1))  # type: ignore[union-attr]
    elif how == "at-pixel-data":
        at = b.pixel.start + rng.choice((0, 4, 8, b.pixel.header))  # type: ignore[union-attr]
    else:
        at = n // 2
    at = max(0, min(at, n - 1))
    return b.data[:at], f"truncated to {at} of {n} bytes ({how})"


@_kind("splice", 4)
def _splice(rng: random.Random, b: Base) -> Result:
    d = bytearray(b.data)
    off = _offset(rng, b)
    how = rng.choice(("insert", "delete", "duplicate"))
    k = rng.choice((1, 2, 3, 4, 8, 13, 64, 512))
    if how == "insert":
        d[off:off] = bytes(rng.randrange(256) for _ in range(k))
    elif how == "delete":
        del d[off : off + k]
    else:
        d[off:off] = d[off : off + k]
    return bytes(d), f"{how} {k} bytes at {off}"


_ALL_VRS = ("AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL",
            "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US",
            "UT", "UV")


def _pick_element(rng: random.Random, b: Base, *, pixel_ok: bool = True) -> Elem | None:
    choices = [e for e in b.elements if pixel_ok or e.tag not in _PIXEL_TAGS]
    if not choices:
        return None
    # Half the time an element of the image pixel module (0028,xxxx), where damage matters most.
    image = [e for e in choices if e.tag >> 16 == 0x0028]
    return rng.choice(image if image and rng.random() < 0.5 else choices)


@_kind("vr", 5)
def _vr(rng: random.Random, b: Base) -> Result | None:
    if b.implicit or b.deflated:
        return None
    el = _pick_element(rng, b)
    if el is None:
        return None
    new = rng.choice(_ALL_VRS + ("UN", "OB", "SQ", "ZZ", "\0\0", "  ", (el.vr or "US").lower()))
    d = bytearray(b.data)
    d[el.start + 4 : el.start + 6] = new.encode("latin-1")[:2].ljust(2, b" ")
    return bytes(d), f"VR of ({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) {el.vr} -> {new!r}"


@_kind("length", 7)
def _length(rng: random.Random, b: Base) -> Result | None:
    if b.deflated:
        return None
    el = _pick_element(rng, b)
    if el is None:
        return None
    short = not b.implicit and el.header == 8
    at = el.start + (6 if short else (8 if el.header == 12 else 4))
    top = 0xFFFF if short else 0xFFFFFFFF
    old = el.length
    rest = len(b.data) - el.value_start
    new = rng.choice((0, 1, old + 1, max(old - 1, 0), old + 2, max(old - 2, 0), old * 2, top, top - 1,
                      0x7FFFFFFF if not short else 0x7FFF, rest + 2, rest - 1, 0x10000 if not short else 0x100))
    new = new % (top + 1)
    d = bytearray(b.data)
    d[at : at + (2 if short else 4)] = struct.pack(_u16(b) if short else _u32(b), new)
    return bytes(d), f"length of ({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) {old} -> {new}"


@_kind("tag", 3)
def _tagmut(rng: random.Random, b: Base) -> Result | None:
    if b.deflated or len(b.elements) < 2:
        return None
    i = rng.randrange(len(b.elements))
    el = b.elements[i]
    prev = b.elements[i - 1].tag if i else 0x00080005
    new = rng.choice((0x7FE00010, 0xFFFEE000, 0xFFFEE0DD, 0xFFFEE00D, prev, 0x00020010, 0x00090010, 0x00280010,
                      0x00280100, el.tag + 1, 0x00000000, 0xFFFFFFFF))
    d = bytearray(b.data)
    fmt = _u16(b)
    d[el.start : el.start + 4] = struct.pack(fmt, new >> 16) + struct.pack(fmt, new & 0xFFFF)
    return bytes(d), f"tag ({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) -> ({new >> 16:04X},{new & 0xFFFF:04X})"


def _meta_elements(data: bytes, end: int) -> list[tuple[int, str, bytes]]:
    out, pos = [], 132
    while pos + 8 <= end:
        group, elem = struct.unpack("<HH", data[pos : pos + 4])
        vr = data[pos + 4 : pos + 6].decode("latin-1")
        if vr in _LONG_VRS:
            length = struct.unpack("<I", data[pos + 8 : pos + 12])[0]
            value = data[pos + 12 : pos + 12 + length]
            pos += 12 + length
        else:
            length = struct.unpack("<H", data[pos + 6 : pos + 8])[0]
            value = data[pos + 8 : pos + 8 + length]
            pos += 8 + length
        out.append(((group << 16) | elem, vr, value))
    return out


def _meta_bytes(elements: list[tuple[int, str, bytes]], group_length: int | None = None) -> bytes:
    body = b""
    for tag, vr, value in elements:
        if tag == 0x00020000:
            continue
        head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode("latin-1")
        if vr in _LONG_VRS:
            body += head + b"\0\0" + struct.pack("<I", len(value)) + value
        else:
            body += head + struct.pack("<H", len(value)) + value
    gl = len(body) if group_length is None else group_length
    return struct.pack("<HH", 2, 0) + b"UL" + struct.pack("<HI", 4, gl) + body


def _uid_bytes(uid: str) -> bytes:
    raw = uid.encode("latin-1")
    return raw + b"\0" if len(raw) % 2 else raw


#: Transfer syntaxes and other UIDs a file's (0002,0010) is swapped to.
SWAP_UIDS = (
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.1.98", "1.2.840.10008.1.2.4.52",
    "1.2.840.10008.1.2.7.1",
    # not transfer syntaxes
    "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.1", "1.2.3.4", "", "not-a-uid", "1.2.840.10008.1.2.999",
    "9" * 64, "1.2.840.10008.1.2.1\\1.2.840.10008.1.2",
)


@_kind("ts", 8)
def _ts(rng: random.Random, b: Base) -> Result | None:
    if b.meta_end is None:
        return None
    meta = _meta_elements(b.data, b.meta_end)
    old = next((v for t, _, v in meta if t == 0x00020010), b"").rstrip(b"\0 ").decode("latin-1")
    new = rng.choice([u for u in SWAP_UIDS if u != old])
    meta = [(t, vr, _uid_bytes(new) if t == 0x00020010 else v) for t, vr, v in meta]
    if not any(t == 0x00020010 for t, _, _ in meta):
        meta.append((0x00020010, "UI", _uid_bytes(new)))
    return b.data[:132] + _meta_bytes(meta) + b.data[b.meta_end :], f"transfer syntax {old} -> {new!r}"


@_kind("meta", 5)
def _meta(rng: random.Random, b: Base) -> Result | None:
    if b.meta_end is None:
        return None
    d, end = b.data, b.meta_end
    meta = _meta_elements(d, end)
    how = rng.choice(("no-preamble", "no-magic", "no-preamble-no-magic", "no-meta", "preamble-no-meta",
                      "meta-only", "group-length", "no-ts", "garbage-meta", "double-meta", "ts-only"))
    if how == "no-preamble":
        out = d[128:]
    elif how == "no-magic":
        out = d[:128] + d[132:]
    elif how == "no-preamble-no-magic":
        out = d[132:]
    elif how == "no-meta":
        out = d[end:]
    elif how == "preamble-no-meta":
        out = d[:132] + d[end:]
    elif how == "meta-only":
        out = d[:end]
    elif how == "group-length":
        gl = rng.choice((0, 1, 4, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, end - 132 + 100))
        out = d[:132] + _meta_bytes(meta, gl) + d[end:]
        how += f"={gl}"
    elif how == "no-ts":
        out = d[:132] + _meta_bytes([m for m in meta if m[0] != 0x00020010]) + d[end:]
    elif how == "garbage-meta":
        out = d[:140] + bytes(rng.randrange(256) for _ in range(end - 140)) + d[end:]
    elif how == "double-meta":
        out = d[:end] + d[132:end] + d[end:]
    else:
        out = d[:132] + _meta_bytes([m for m in meta if m[0] == 0x00020010]) + d[end:]
    return out, how


def _items(b: Base) -> list[tuple[int, int, int]]:
    """Encapsulated items in the pixel data value: (offset of the item header, tag, length)."""
    if b.pixel is None:
        return []
    d, pos, out = b.data, b.pixel.value_start, []
    while pos + 8 <= len(d):
        group, elem, length = struct.unpack("<HHI", d[pos : pos + 8])
        tag = (group << 16) | elem
        out.append((pos, tag, length))
        if tag != 0xFFFEE000 or length == 0xFFFFFFFF:
            break
        pos += 8 + length
    return out


def _item_bytes(value: bytes, tag: int = 0xFFFEE000) -> bytes:
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


@_kind("encaps", 8)
def _encaps(rng: random.Random, b: Base) -> Result | None:
    """Mutations of encapsulated pixel data (PS3.5 A.4).

    Long because it is a table of mutation kinds, each a few lines, chosen by one random draw.
    """
    if not b.encapsulated or b.deflated:
        return None
    items = _items(b)
    frags = [it for it in items[1:] if it[1] == 0xFFFEE000]
    if not items or not frags:
        return None
    d = bytearray(b.data)
    bot_pos, _, bot_len = items[0]
    first = frags[0]
    how = rng.choice(("bot-length-huge", "bot-offsets", "bot-more-frames", "fragment-length", "fragment-tag",
                      "no-delimiter", "delimiter-length", "empty-fragment", "truncate-fragment", "extra-fragments",
                      "drop-fragment", "no-items", "swap-fragments", "pixel-length-defined"))
    if how == "bot-length-huge":
        d[bot_pos + 4 : bot_pos + 8] = struct.pack("<I", rng.choice((0xFFFFFFF0, 0x7FFFFFFF, 4, 2, 1)))
    elif how == "bot-offsets":
        n = max(bot_len // 4, rng.choice((1, 2, 4)))
        offs = [rng.choice((0, 1, 3, 0xFFFFFF00, 0x7FFFFFFF, rng.randrange(1 << 20))) for _ in range(n)]
        d[bot_pos : bot_pos + 8 + bot_len] = _item_bytes(struct.pack(f"<{n}I", *offs))
        how += f"={offs}"
    elif how == "bot-more-frames":
        n = b.frames + rng.choice((1, 5, 1000))
        d[bot_pos : bot_pos + 8 + bot_len] = _item_bytes(struct.pack(f"<{n}I", *([0] * n)))
        how += f"={n}"
    elif how == "fragment-length":
        pos, _, length = rng.choice(frags)
        new = rng.choice((0, 1, length + 1, length + 8, max(length - 8, 0), 0xFFFFFFFF, 0xFFFFFFF0, 0x7FFFFFFF))
        d[pos + 4 : pos + 8] = struct.pack("<I", new)
        how += f" {length}->{new}"
    elif how == "fragment-tag":
        pos = rng.choice(frags)[0]
        new = rng.choice((0xFFFEE00D, 0xFFFEE0DD, 0x7FE00010, 0x00000000, 0xE000FFFE))
        d[pos : pos + 4] = struct.pack("<HH", new >> 16, new & 0xFFFF)
    elif how == "no-delimiter":
        if items[-1][1] == 0xFFFEE0DD:
            del d[items[-1][0] :]
    elif how == "delimiter-length":
        if items[-1][1] == 0xFFFEE0DD:
            d[items[-1][0] + 4 : items[-1][0] + 8] = struct.pack("<I", rng.choice((4, 0xFFFFFFFF)))
    elif how == "empty-fragment":
        pos, _, length = first
        d[pos : pos + 8 + length] = _item_bytes(b"")
    elif how == "truncate-fragment":
        pos, _, length = first
        keep = rng.choice((2, 16, length // 2 // 2 * 2, max(length - 2, 0)))
        d[pos : pos + 8 + length] = _item_bytes(bytes(d[pos + 8 : pos + 8 + keep]))
        how += f" {length}->{keep}"
    elif how == "extra-fragments":
        end = items[-1][0] if items[-1][1] == 0xFFFEE0DD else len(d)
        k = rng.choice((1, 3, 50))
        junk = rng.choice((b"", b"\xff\xd8\xff\xd9", bytes(rng.randrange(256) for _ in range(16))))
        d[end:end] = _item_bytes(junk) * k
        how += f" {k}x{len(junk)}"
    elif how == "drop-fragment":
        pos, _, length = rng.choice(frags)
        del d[pos : pos + 8 + length]
    elif how == "no-items":
        end = items[-1][0] if items[-1][1] == 0xFFFEE0DD else len(d)
        del d[bot_pos:end]
    elif how == "swap-fragments" and len(frags) > 1:
        (p1, _, l1), (p2, _, l2) = frags[0], frags[-1]
        a, c = bytes(d[p1 : p1 + 8 + l1]), bytes(d[p2 : p2 + 8 + l2])
        d[p2 : p2 + 8 + l2] = a
        d[p1 : p1 + 8 + l1] = c
    else:  # pixel-length-defined: the encapsulated bytes with a defined length (read as native data)
        el = b.pixel
        assert el is not None
        at = el.start + (4 if b.implicit else 8)
        d[at : at + 4] = struct.pack("<I", (len(d) - el.value_start) // 2 * 2)
        how = "pixel-length-defined"
    return bytes(d), how


@_kind("codestream", 5)
def _codestream(rng: random.Random, b: Base) -> Result | None:
    """Mutations of a compressed frame's codestream header.

    Long because it is a table of mutation kinds, each a few lines, chosen by one random draw.
    """
    if not b.encapsulated or b.deflated:
        return None
    frags = [it for it in _items(b)[1:] if it[1] == 0xFFFEE000 and it[2] not in (0, 0xFFFFFFFF)]
    if not frags:
        return None
    pos, _, length = frags[0]
    start = pos + 8
    frag = b.data[start : start + length]
    d = bytearray(b.data)
    how = rng.choice(("flip-header", "flip-body", "zero-tail", "dims", "dims", "precision", "marker", "rle-header"))
    sof = frame_header(frag)
    if how == "dims" and sof is not None:
        kind, at = sof
        if kind == "jpeg":   # SOF: FF Cn Lf(2) P(1) Y(2) X(2) Nf(1)
            y, x = rng.choice(((0, None), (None, 0), (65535, 65535), (1, 1), (None, 1)))
            if y is not None:
                d[start + at + 5 : start + at + 7] = struct.pack(">H", y)
            if x is not None:
                d[start + at + 7 : start + at + 9] = struct.pack(">H", x)
        else:                # SIZ: FF51 Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4)
            xs, ys = rng.choice(((0, 0), (0xFFFFFF00, 0xFFFFFF00), (1, 1), (0x10000, 0x10000), (8, 0xFFFFFFFF)))
            d[start + at + 6 : start + at + 14] = struct.pack(">II", xs, ys)
        how += f" {kind}"
    elif how == "precision" and sof is not None:
        kind, at = sof
        if kind == "jpeg":   # P and Nf
            field = rng.choice((4, 9))
            d[start + at + field] = rng.choice((0, 1, 2, 4, 16, 17, 255))
        else:                # Csiz, then Ssiz of component 0
            field = rng.choice((38, 40))
            if field == 38:
                d[start + at + 38 : start + at + 40] = struct.pack(">H", rng.choice((0, 2, 4, 16384)))
            else:
                d[start + at + 40] = rng.choice((0x0F, 0x1F, 0x25, 0x7F, 0xFF))
    elif how == "marker":
        at = rng.choice((0, 2, max(len(frag) - 2, 0)))
        d[start + at : start + at + 2] = rng.choice((b"\x00\x00", b"\xff\xd9", b"\xff\xd8", b"\xff\xff"))
    elif how == "rle-header" and not frag.startswith((b"\xff\xd8", b"\xff\x4f")) and len(frag) >= 64:
        field = rng.randrange(16)
        value = rng.choice((0, 1, 3, 15, 16, 255, 0xFFFFFFFF, len(frag) + 100, 64, 63))
        d[start + 4 * field : start + 4 * field + 4] = struct.pack("<I", value)
        how += f" word {field}={value}"
    elif how == "zero-tail":
        q = max(length // 4, 1)
        d[start + length - q : start + length] = b"\0" * q
    elif how == "flip-body":
        for _ in range(rng.choice((1, 4, 32))):
            d[start + rng.randrange(length)] ^= 1 << rng.randrange(8)
    else:
        how = "flip-header"
        for _ in range(rng.choice((1, 2, 4))):
            d[start + rng.randrange(min(length, 96))] ^= 1 << rng.randrange(8)
    return bytes(d), how


# --- Dataset-level ------------------------------------------------------------

_US_VALUES = (0, 1, 2, 3, 7, 8, 12, 15, 16, 17, 24, 31, 32, 33, 48, 64, 128, 255, 256, 4096, 32767, 32768, 65535)
_IS_VALUES = ("0", "-1", "1", "2", "3", "1000", "2147483647", "2147483648", "99999999999", "1.5", "abc", "",
              "1e3", " 7", "-2147483648", "65536")


@_kind("geometry", 12)
def _geometry(rng: random.Random, b: Base) -> Result:
    ds = _read(b.data)
    notes = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        key = rng.choice(("Rows", "Columns", "NumberOfFrames", "BitsAllocated", "BitsStored", "HighBit",
                          "SamplesPerPixel", "PixelRepresentation", "PlanarConfiguration", "Rows+Columns"))
        if key == "NumberOfFrames":
            value = rng.choice(_IS_VALUES + (str(b.frames + 1), str(b.frames * 2), str(max(b.frames - 1, 0))))
            _put(ds, b, key, "IS", value)
        elif key == "Rows+Columns":
            r, c = rng.choice(((65535, 65535), (1, 65535), (65535, 1), (0, 0), (46341, 46341)))
            _put(ds, b, "Rows", "US", r)
            _put(ds, b, "Columns", "US", c)
            value = f"{r}x{c}"
        else:
            with _quiet():
                cur = ds.get(key)
            try:
                cur = int(cur) if cur is not None else 1
            except (TypeError, ValueError):
                cur = 1
            value = rng.choice(_US_VALUES + (cur + 1, max(cur - 1, 0), cur * 2, cur // 2))
            _put(ds, b, key, "US", value)
        notes.append(f"{key}={value!r}")
    return _dump(ds), ", ".join(notes)


_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422", "YBR_ICT",
                 "YBR_RCT", "YBR_PARTIAL_420", "YBR_PARTIAL_422", "HSV", "ARGB", "CMYK", "", "monochrome2",
                 "MONOCHROME2\\RGB", "XYZ", " RGB", "PALETTE  COLOR", "\0\0")


@_kind("photometric", 5)
def _photometric(rng: random.Random, b: Base) -> Result:
    ds = _read(b.data)
    value = rng.choice([p for p in _PHOTOMETRICS if p != b.photometric])
    _put(ds, b, "PhotometricInterpretation", "CS", value)
    note = f"PhotometricInterpretation={value!r}"
    if rng.random() < 0.3:
        spp = rng.choice((1, 3, 4))
        _put(ds, b, "SamplesPerPixel", "US", spp)
        note += f", SamplesPerPixel={spp}"
    return _dump(ds), note


_DS_VALUES = ("NaN", "nan", "inf", "-inf", "Infinity", "-Infinity", "1e308", "-1e308", "1.7976931348623157e308",
              "5e-324", "-5e-324", "1e-320", "0", "-0", "", "abc", "1\\2\\3", "1e999", "-1e999", "0x10", "1,5",
              "9999999999999999", "  ", "+", ".", "-1", "3e38", "1e-30")


@_kind("number", 10)
def _number(rng: random.Random, b: Base) -> Result:
    ds = _read(b.data)
    notes = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        key = rng.choice(("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth", "WindowCenter",
                          "WindowWidth", "VOILUTFunction", "PixelPaddingValue", "PixelPaddingRangeLimit",
                          "WindowCenterWidthExplanation", "RescaleType", "PresentationLUTShape"))
        if key == "VOILUTFunction":
            value = rng.choice(("SIGMOID", "LINEAR_EXACT", "LINEAR", "garbage", "", "sigmoid", "SIGMOID\\LINEAR"))
            _put(ds, b, key, "CS", value)
        elif key == "PresentationLUTShape":
            value = rng.choice(("INVERSE", "IDENTITY", "", "inverse", "LIN OD", "INVERSE\\IDENTITY"))
            _put(ds, b, key, "CS", value)
        elif key in ("PixelPaddingValue", "PixelPaddingRangeLimit"):
            value = rng.choice((0, 65535, 32768, -32768, -1, 1, 2**31, -(2**31)))
            vr = rng.choice(("SS", "US", "UL", "SL"))
            _put(ds, b, key, vr, value)
            key += f"({vr})"
        elif key in ("WindowCenterWidthExplanation", "RescaleType"):
            value = rng.choice(("", "a\\b\\c\\d\\e", "x" * 64, "\u00e9\u00e8", "%s%n"))
            _put(ds, b, key, "LO", value)
        else:
            value = rng.choice(_DS_VALUES)
            if key.startswith("Window") and rng.random() < 0.3:
                value = "\\".join(rng.choice(_DS_VALUES[:14] + ("40", "400")) for _ in range(rng.choice((2, 3))))
            _put(ds, b, key, "DS", value)
        notes.append(f"{key}={value!r}")
    return _dump(ds), ", ".join(notes)


_DESCRIPTORS = ((0, 0, 16), (4096, 0, 16), (4096, 64512, 16), (1, 0, 16), (2, 0, 8), (256, 0, 8), (65535, 0, 16),
                (4096, 0, 0), (4096, 0, 1), (4096, 0, 40), (4096, 0, 65535), (4096, 65535, 16), (4096,), (4096, 0),
                (4096, 0, 16, 7), (), (256, 32768, 16), (3, 0, 12))


def _lut_data(rng: random.Random, n: int) -> tuple[str, bytes | None, str]:
    n = n or 65536
    how = rng.choice(("ramp", "ramp", "empty", "one-byte", "odd", "half", "double", "bytes-per-entry", "max",
                      "zeros", "random", "missing"))
    if how == "ramp":
        data = _ow(np.linspace(0, 4095, n).round())
    elif how == "empty":
        data = b""
    elif how == "one-byte":
        data = b"\x07"
    elif how == "odd":
        data = b"\x01\x02\x03"
    elif how == "half":
        data = _ow(np.arange(n // 2) % 65536)
    elif how == "double":
        data = _ow(np.arange(2 * n) % 65536)
    elif how == "bytes-per-entry":
        data = bytes(i % 256 for i in range(n))
    elif how == "max":
        data = b"\xff\xff" * n
    elif how == "zeros":
        data = b"\0\0" * n
    elif how == "random":
        data = bytes(rng.randrange(256) for _ in range(2 * min(n, 4096)))
    else:
        data = None
    return rng.choice(("OW", "OW", "US", "OB")), data, how


@_kind("lut", 7)
def _lut(rng: random.Random, b: Base) -> Result:
    ds = _read(b.data)
    seq = rng.choice(("ModalityLUTSequence", "VOILUTSequence", "VOILUTSequence"))
    items, notes = [], []
    for _ in range(rng.choice((1, 1, 2, 3, 0))):
        desc = rng.choice(_DESCRIPTORS)
        dvr = rng.choice(("US", "US", "SS", "OW"))
        vr, data, how = _lut_data(rng, desc[0] if desc else 4096)
        if not b.little and data and vr != "OB":   # the data are 16-bit words in the file's byte order
            data = np.frombuffer(data[: len(data) // 2 * 2], "<u2").astype(">u2").tobytes() + data[len(data) // 2 * 2 :]
        item = _item(b, (0x00283002, dvr, list(desc) if desc else b""), (0x00283006, vr, data),
                     ("LUTExplanation", "LO", "fuzz"), ("ModalityLUTType", "LO", "HU") if seq[0] == "M" else
                     ("LUTExplanation", "LO", "fuzz"))
        if rng.random() < 0.1:
            item = Dataset()
            how = "empty-item"
        items.append(item)
        notes.append(f"desc={list(desc)}({dvr}) data={how}({vr})")
    _seq(ds, seq, items)
    if seq == "ModalityLUTSequence" and rng.random() < 0.7:
        _delete(ds, "RescaleSlope")
        _delete(ds, "RescaleIntercept")
    return _dump(ds), f"{seq}: " + "; ".join(notes) if notes else f"{seq}: no items"


_SEGMENTS = (
    ("self-indirect", [2, 1, 0, 0]),
    ("indirect-loop", [0, 1, 7, 2, 2, 0, 0]),
    ("indirect-far", [0, 1, 7, 2, 1, 0xFFFF, 0xFFFF]),
    ("linear-first", [1, 5, 100]),
    ("unknown-opcode", [0, 1, 7, 3, 2, 1, 2]),
    ("long-discrete", [0, 65535, 1]),
    ("truncated", [0, 4]),
    ("zero-length", [0, 0, 1, 0, 0]),
    ("huge-linear", [0, 1, 0, 1, 65535, 65535]),
    ("indirect-huge-count", [0, 1, 5, 2, 65535, 0, 0]),
)


@_kind("palette", 6)
def _palette(rng: random.Random, b: Base) -> Result:
    ds = _read(b.data)
    notes = []
    if not b.palette:
        _put(ds, b, "PhotometricInterpretation", "CS", "PALETTE COLOR")
        notes.append("PhotometricInterpretation='PALETTE COLOR'")
        if rng.random() < 0.5:     # with a plausible palette
            for i, color in enumerate(("Red", "Green", "Blue")):
                _put(ds, b, f"{color}PaletteColorLookupTableDescriptor", "US", [256, 0, 16])
                _put(ds, b, f"{color}PaletteColorLookupTableData", "OW", [(v * 257 + i) % 65536 for v in range(256)])
            notes.append("256-entry palette")
        return _dump(ds), ", ".join(notes)
    color = rng.choice(("Red", "Green", "Blue"))
    how = rng.choice(("descriptor", "data", "missing-data", "missing-descriptor", "segmented", "segmented",
                      "mixed-bits"))
    desc_key, data_key = f"{color}PaletteColorLookupTableDescriptor", f"{color}PaletteColorLookupTableData"
    seg_key = {"Red": 0x00281221, "Green": 0x00281222, "Blue": 0x00281223}[color]
    if how == "descriptor":
        desc = rng.choice(((0, 0, 16), (65535, 0, 16), (256, 255, 16), (256, 0, 8), (256, 0, 0), (256, 0, 12),
                           (256, 0), (), (1, 0, 16), (256, 65535, 16), (257, 0, 16), (4096, 0, 16)))
        _put(ds, b, desc_key, rng.choice(("US", "SS")), list(desc) if desc else b"")
        how += f"={list(desc)}"
    elif how == "data":
        vr, data, what = _lut_data(rng, 256)
        if data is None:
            _delete(ds, data_key)
        else:
            _put(ds, b, data_key, vr, data)
        how += f"={what}"
    elif how == "missing-data":
        _delete(ds, data_key)
        _delete(ds, seg_key)
    elif how == "missing-descriptor":
        _delete(ds, desc_key)
    elif how == "segmented":
        name, words = rng.choice(_SEGMENTS)
        for c, tag in (("Red", 0x00281221), ("Green", 0x00281222), ("Blue", 0x00281223)):
            if c == color or rng.random() < 0.3:
                _delete(ds, f"{c}PaletteColorLookupTableData")
                _put(ds, b, tag, "OW", words)
        how += f"={name}"
    else:
        _put(ds, b, desc_key, "US", [256, 0, 8])
        _put(ds, b, data_key, "OW", bytes(range(256)))
    notes.append(f"{color} {how}")
    return _dump(ds), ", ".join(notes)


_REQUIRED = ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "SamplesPerPixel",
             "PhotometricInterpretation", "PixelData", "NumberOfFrames", "PlanarConfiguration", "SOPClassUID",
             "RescaleSlope", "WindowWidth", "RedPaletteColorLookupTableDescriptor", "Modality",
             "FloatPixelData", "DoubleFloatPixelData", "SharedFunctionalGroupsSequence")


@_kind("delete", 6)
def _delete_kind(rng: random.Random, b: Base) -> Result | None:
    ds = _read(b.data)
    how = rng.random()
    if how < 0.1:
        pixel_keys = [k for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if _tag(k) in ds]
        for tag in list(ds.keys()):
            if ds[tag].keyword not in pixel_keys:
                del ds[tag]
        note = "everything but the pixel data"
    elif how < 0.2 and getattr(ds, "file_meta", None) is not None and "TransferSyntaxUID" in ds.file_meta:
        del ds.file_meta.TransferSyntaxUID
        note = "TransferSyntaxUID"
        try:
            return _dump(ds), note
        except Exception:  # noqa: BLE001 - pydicom needs a syntax to write: do it on the bytes
            return None
    else:
        present = [k for k in _REQUIRED if _tag(k) in ds]
        if not present:
            return None
        gone = rng.sample(present, k=min(len(present), rng.choice((1, 1, 1, 2, 3))))
        for k in gone:
            _delete(ds, k)
        note = ", ".join(gone)
    return _dump(ds), f"deleted {note}"


@_kind("pixels", 6)
def _pixels(rng: random.Random, b: Base) -> Result | None:
    if b.pixel is None or b.encapsulated:
        return None
    ds = _read(b.data)
    el = ds.get_item(b.pixel.tag)
    value = bytes(el.value)
    vr = el.VR if el.VR in ("OB", "OW", "OF", "OD", "OL", "OV") else ("OW" if b.pixel.tag == 0x7FE00010 else "OF")
    how = rng.choice(("short-1", "short-2", "half", "empty", "one-byte", "odd", "double", "extra", "as-float",
                      "both", "vr", "un"))
    key: int = b.pixel.tag
    if how == "short-1":
        value = value[:-1]
    elif how == "short-2":
        value = value[:-2]
    elif how == "half":
        value = value[: len(value) // 2]
    elif how == "empty":
        value = b""
    elif how == "one-byte":
        value = value[:1]
    elif how == "odd":
        value = value + b"\0"
    elif how == "double":
        value = value * 2
    elif how == "extra":
        value = value + bytes(rng.randrange(256) for _ in range(rng.choice((2, 100, 4096))))
    elif how == "as-float":
        _delete(ds, key)
        key, vr = rng.choice(((0x7FE00008, "OF"), (0x7FE00009, "OD"), (0x7FE00010, "OW")))
    elif how == "both":
        other = 0x7FE00008 if key != 0x7FE00008 else 0x7FE00010
        _put(ds, b, other, "OF" if other == 0x7FE00008 else "OW", value[: len(value) // 4 * 4])
    elif how == "vr":
        vr = rng.choice(("OB", "OW", "OF", "OD", "OL", "UN", "UT", "US"))
    else:
        vr = "UN"
    _put(ds, b, key, vr, value)
    return _dump(ds), f"pixel data {how} ({len(value)} bytes, {vr})"


_WRONG_VRS = (("UL", [2**32 - 1]), ("SS", [-1]), ("SL", [-5]), ("FL", [1.5]), ("FD", [float("nan")]),
              ("OB", b"\x01\x02\x03\x00"), ("UN", b"\x10"), ("UN", b""), ("US", [512, 512]), ("DS", "512"),
              ("IS", "512"), ("LO", "abc"), ("AT", b"\x28\x00\x10\x00"), ("US", b""), ("US", b"\x01"),
              ("SQ", b""), ("FD", [1e308]), ("UL", [65536]))


@_kind("vr-ds", 4)
def _vr_ds(rng: random.Random, b: Base) -> Result:
    ds = _read(b.data)
    key = rng.choice(("Rows", "Columns", "BitsAllocated", "BitsStored", "SamplesPerPixel", "NumberOfFrames",
                      "PixelRepresentation", "WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept",
                      "PhotometricInterpretation", "HighBit", "PlanarConfiguration"))
    vr, value = rng.choice(_WRONG_VRS)
    _put(ds, b, key, vr, value)
    return _dump(ds), f"{key} as {vr} {value!r}"


@_kind("functional", 4)
def _functional(rng: random.Random, b: Base) -> Result:
    ds = _read(b.data)
    notes = []
    if rng.random() < 0.6:
        pvt = _item(b, ("RescaleSlope", "DS", rng.choice(_DS_VALUES)), ("RescaleIntercept", "DS", rng.choice(_DS_VALUES)),
                    ("RescaleType", "LO", rng.choice(("HU", "", "US", "x" * 40))))
        inner = rng.choice(([pvt], [], [Dataset()]))
        shared = Dataset()
        _seq(shared, "PixelValueTransformationSequence", inner)
        _seq(ds, "SharedFunctionalGroupsSequence", rng.choice(([shared], [], [Dataset(), shared])))
        notes.append(f"shared PVT ({len(inner)} items)")
    if rng.random() < 0.6:
        k = rng.choice((0, 1, max(b.frames - 1, 0), b.frames, b.frames + 5))
        items = []
        for _ in range(k):
            voi = _item(b, ("WindowCenter", "DS", rng.choice(_DS_VALUES + ("40",))),
                        ("WindowWidth", "DS", rng.choice(_DS_VALUES + ("400",))))
            if rng.random() < 0.3:
                desc = rng.choice(_DESCRIPTORS)
                _, data, _ = _lut_data(rng, desc[0] if desc else 4096)
                _seq(voi, "VOILUTSequence", [_item(b, (0x00283002, "US", list(desc) if desc else b""),
                                                   (0x00283006, "OW", data))])
            item = Dataset()
            _seq(item, "FrameVOILUTSequence", rng.choice(([voi], [], [Dataset()])))
            items.append(item)
        _seq(ds, "PerFrameFunctionalGroupsSequence", items)
        notes.append(f"per-frame VOI ({k} items for {b.frames} frames)")
    if not notes:
        _seq(ds, "PerFrameFunctionalGroupsSequence", [Dataset()])
        notes.append("one empty per-frame item")
    return _dump(ds), ", ".join(notes)


@_kind("huge", 4)
def _huge(rng: random.Random, b: Base) -> Result | None:
    """A small file that claims a huge image: Rows/Columns and, when compressed, the codestream's size too."""
    if b.deflated or b.pixel is None:
        return None
    rows, cols = rng.choice(((20000, 20000), (46341, 46341), (65535, 65535), (65535, 1), (1, 65535), (30000, 40000)))
    ds = _read(b.data)
    _put(ds, b, "Rows", "US", rows)
    _put(ds, b, "Columns", "US", cols)
    note = f"Rows={rows}, Columns={cols}"
    if rng.random() < 0.3:
        frames = rng.choice((2, 100, 65535))
        _put(ds, b, "NumberOfFrames", "IS", str(frames))
        note += f", NumberOfFrames={frames}"
    data = _dump(ds)
    if not b.encapsulated:
        return data, note
    mid = analyse(b.name, data)
    frags = [it for it in _items(mid)[1:] if it[1] == 0xFFFEE000 and it[2] not in (0, 0xFFFFFFFF)]
    if not frags:
        return data, note
    d = bytearray(data)
    for pos, _, length in frags[: rng.choice((1, len(frags)))]:
        start = pos + 8
        sof = frame_header(bytes(d[start : start + length]))
        if sof is None:
            continue
        kind, at = sof
        if kind == "jpeg":
            d[start + at + 5 : start + at + 9] = struct.pack(">HH", rows, cols)
        else:   # Xsiz, Ysiz, then XOsiz, YOsiz = 0; tiles as large as the image half the time
            d[start + at + 6 : start + at + 22] = struct.pack(">IIII", cols, rows, 0, 0)
            if rng.random() < 0.5:
                d[start + at + 22 : start + at + 30] = struct.pack(">II", cols, rows)
        note += f", {kind} header too"
    return bytes(d), note


_DATASET_KINDS = ("geometry", "photometric", "number", "lut", "palette", "delete", "pixels", "vr-ds", "functional")
_BYTE_KINDS = ("flip", "bytes", "truncate", "splice", "vr", "length", "tag", "ts", "meta", "encaps", "codestream")


@_kind("combo", 5)
def _combo(rng: random.Random, b: Base) -> Result | None:
    first = KINDS[rng.choice(_DATASET_KINDS)][1](rng, b)
    if first is None:
        return None
    try:
        mid = analyse(b.name, first[0])
    except Exception:  # noqa: BLE001 - the first damage may leave nothing pydicom can read
        return first
    second = KINDS[rng.choice(_BYTE_KINDS)][1](rng, mid)
    if second is None:
        return first
    return second[0], f"{first[1]}; then {second[1]}"


# ----------------------------------------------------------------------------- generation


def _choose_kind(rng: random.Random) -> str:
    names = list(KINDS)
    return rng.choices(names, weights=[KINDS[k][0] for k in names])[0]


def case(seed: int, index: int) -> Case:
    """Case ``index`` of the run seeded ``seed`` (independent of the other cases)."""
    rng = random.Random(f"dcmlib.fuzz/{int(seed)}/{int(index)}")
    all_bases = bases()
    for _ in range(50):
        base = rng.choice(all_bases)
        kind = _choose_kind(rng)
        try:
            with _quiet():
                out = KINDS[kind][1](rng, base)
        except Exception:  # noqa: BLE001 - a mutation pydicom cannot write: draw another
            continue
        if out is not None and out[0] != base.data:
            data, note = out
            return Case(f"{base.name}#{kind}-{index}", kind, data, base.name, note, int(seed), int(index))
    base = all_bases[0]
    data, note = _flip(rng, base)
    return Case(f"{base.name}#flip-{index}", "flip", data, base.name, note, int(seed), int(index))


def cases(seed: int, n: int, start: int = 0) -> Iterator[Case]:
    """``n`` damaged files, cases ``start`` .. ``start + n - 1`` of the run seeded ``seed``."""
    for i in range(start, start + n):
        yield case(seed, i)


def case_by_name(seed: int, name: str) -> Case:
    """The case named ``name`` (``"<base>#<kind>-<index>"``) in the run seeded ``seed``."""
    m = re.search(r"-(\d+)$", name)
    if not m:
        raise ValueError(f"not a case name: {name!r}")
    c = case(seed, int(m.group(1)))
    if c.name != name:
        raise ValueError(f"case {m.group(1)} of seed {seed} is {c.name!r}, not {name!r}")
    return c


# ----------------------------------------------------------------------------- series


@functools.lru_cache(maxsize=None)
def _neighbours(name: str) -> tuple[bytes, ...]:
    """Two undamaged slices of the series of base ``name``: new SOP Instance UIDs, later instance numbers
    and, when the base has one, positions 5 and 10 mm further along the slice normal."""
    b = next(x for x in bases() if x.name == name)
    out = []
    for k in (1, 2):
        ds = _read(b.data)
        with _quiet():
            uid = str(ds.get("SOPInstanceUID", "") or "1.2.826.0.1.3680043.10.1")
            number = ds.get("InstanceNumber")
            position = ds.get("ImagePositionPatient")
        _put(ds, b, "SOPInstanceUID", "UI", f"{uid[:58]}.{900 + k}")
        try:
            _put(ds, b, "InstanceNumber", "IS", str(int(number or 0) + k))
        except (TypeError, ValueError):
            _put(ds, b, "InstanceNumber", "IS", str(k))
        try:
            x, y, z = (float(v) for v in position)
            orientation = ds.get("ImageOrientationPatient")
            r, c = np.asarray([float(v) for v in orientation[:3]]), np.asarray([float(v) for v in orientation[3:]])
            n = np.cross(r, c)
            shift = n / (np.linalg.norm(n) or 1.0) * 5.0 * k
            _put(ds, b, "ImagePositionPatient", "DS", [f"{v:.4f}" for v in (x + shift[0], y + shift[1], z + shift[2])])
        except (TypeError, ValueError, IndexError):
            pass
        out.append(_dump(ds))
    return tuple(out)


def series_files(c: Case) -> list[tuple[str, bytes]]:
    """A series folder around case ``c``: two undamaged slices of its base and the damaged file, (name, bytes)."""
    good = _neighbours(c.base) if c.base in {b.name for b in bases()} else ()
    return [(f"slice-{k + 1}.dcm", data) for k, data in enumerate(good)] + [(c.filename, c.data)]

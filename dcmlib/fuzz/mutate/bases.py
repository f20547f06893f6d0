"""The undamaged files the cases start from: pydicom's bundled files, a few derived from them, and
:func:`analyse` (a :class:`Base`: what the mutators need to know of a file's encoding)."""

from __future__ import annotations

import contextlib
import functools
import io
import struct
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom import config as _config
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

#: pydicom's bundled files used as bases (all small; none is downloaded).
BUNDLED = (
    "CT_small.dcm",  # 16-bit signed, rescale, pixel padding
    "MR_small.dcm",  # 16-bit signed, window
    "MR_small_implicit.dcm",  # implicit VR little endian
    "MR_small_bigendian.dcm",  # explicit VR big endian
    "MR_small_RLE.dcm",  # RLE lossless
    "MR_small_jp2klossless.dcm",  # JPEG 2000 lossless
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless
    "JPEGLSNearLossless_08.dcm",  # JPEG-LS near-lossless, 8-bit
    "JPGExtended.dcm",  # JPEG extended, 12-bit
    "JPEG2000.dcm",  # JPEG 2000, 16-bit
    "693_J2KI.dcm",  # JPEG 2000 with window and padding
    "J2K_pixelrep_mismatch.dcm",  # JPEG 2000, signedness mismatch with the header
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless RGB
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline YBR_FULL
    "SC_rgb_dcmtk_+eb+cy+s2.dcm",  # JPEG baseline YBR_FULL_422
    "SC_jpeg_no_color_transform.dcm",  # JPEG baseline RGB without colour transform
    "SC_rgb_small_odd.dcm",  # native RGB, odd size
    "SC_rgb_small_odd_big_endian.dcm",  # native RGB, big endian
    "SC_ybr_full_422_uncompressed.dcm",  # native YBR_FULL_422
    "SC_rgb_rle_16bit_2frame.dcm",  # RLE 16-bit RGB, 2 frames
    "SC_rgb_rle_32bit.dcm",  # RLE 32-bit RGB
    "SC_rgb_gdcm_KY.dcm",  # JPEG 2000 RGB
    "SC_rgb_jls_lossy_line.dcm",  # JPEG-LS RGB, line interleaved
    "ExplVR_BigEnd.dcm",  # native RGB, big endian
    "image_dfl.dcm",  # deflated explicit VR little endian
    "liver_1frame.dcm",  # 1-bit
    "rtdose.dcm",  # 32-bit unsigned, 15 frames, implicit VR
    "rtdose_expb_1frame.dcm",  # 32-bit big endian
    "rtdose_rle.dcm",  # RLE 32-bit, 15 frames
    "examples_palette.dcm",  # PALETTE COLOR, 16-bit entries
    "examples_ybr_color.dcm",  # JPEG baseline YBR_FULL_422, 30 frames
)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
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


def read(data: bytes) -> Dataset:
    with quiet():
        return pydicom.dcmread(io.BytesIO(data), force=True)


def _full(ds: Dataset) -> Dataset:
    """Convert every raw element (so that a change of encoding re-encodes them)."""
    for _ in ds.iterall():
        pass
    return ds


def _save(ds: Dataset, *, big_endian: bool = False) -> bytes:
    buf = io.BytesIO()
    with quiet():
        if big_endian:
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRBigEndian
            pydicom.dcmwrite(buf, ds, implicit_vr=False, little_endian=False, force_encoding=True)
        else:
            pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def _bundled_ds(name: str) -> Dataset:
    with quiet():
        return _full(pydicom.dcmread(_bundled_path(name)))


def ow(values: np.ndarray, big: bool = False) -> bytes:
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
    item.add_new(0x00283002, "US", [4096, 0, 16])  # LUT Descriptor: 4096 entries from 0, 16 bits
    item.ModalityLUTType = "HU"
    item.LUTExplanation = "fuzz modality LUT"
    item.add_new(0x00283006, "OW", ow(np.clip(np.arange(4096) * 2, 0, 65535)))
    ds.ModalityLUTSequence = Sequence([item])
    return _save(ds)


def _derive_voi_lut() -> bytes:
    ds = _bundled_ds("MR_small.dcm")
    items = []
    for n, first, top in ((2048, 0, 4095), (512, 100, 255)):
        item = Dataset()
        item.add_new(0x00283002, "US", [n, first, 12 if top > 255 else 8])
        item.LUTExplanation = f"fuzz VOI LUT {n}"
        item.add_new(0x00283006, "OW", ow(np.linspace(0, top, n).round()))
        items.append(item)
    ds.VOILUTSequence = Sequence(items)
    ds.VOILUTFunction = "SIGMOID"
    return _save(ds)


def _derive_float(bits: int) -> Callable[[], bytes]:
    def build() -> bytes:
        ds = _bundled_ds("CT_small.dcm")
        values = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        for k in (
            "PixelData",
            "BitsStored",
            "HighBit",
            "PixelRepresentation",
            "PixelPaddingValue",
            "RescaleSlope",
            "RescaleIntercept",
            "RescaleType",
        ):
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
    words = [0, 1, int(lut[0])]  # discrete segment: 1 value
    half = len(lut) // 2
    for v in lut[1:half]:
        words += [1, 1, int(v)]  # linear segment of length 1: the next value
    offset = len(words)  # the second half re-uses nothing: plain linear steps,
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
        ds.add_new(tag, "OW", ow(seg))
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

LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


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
    meta_end: int | None  #: offset of the first dataset byte after preamble + meta, if any
    elements: tuple[Elem, ...]  #: top-level elements (empty for a deflated file)
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
        if vr in LONG_VRS:
            if pos + 12 > len(data):
                break
            pos += 12 + struct.unpack("<I", data[pos + 8 : pos + 12])[0]
        else:
            pos += 8 + struct.unpack("<H", data[pos + 6 : pos + 8])[0]
    return min(pos, len(data))


def analyse(name: str, data: bytes) -> Base:
    """A :class:`Base` for ``data`` (raises when pydicom cannot read it at all)."""
    ds = read(data)
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
            if not isinstance(raw, RawDataElement) or not raw.is_raw or tell is None:
                continue
            vr = None if implicit else raw.VR
            header = 8 if implicit or vr not in LONG_VRS else 12
            el = Elem(int(tag), vr, tell - header, header, int(raw.length))
            elements.append(el)
            if int(tag) in PIXEL_TAGS:
                pixel = el
    with quiet():
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

"""Mutators of the Dataset (read with pydicom, edited as raw elements, written back), and ``combo``."""

from __future__ import annotations

import random
import struct

import numpy as np
from pydicom.dataset import Dataset

from dcmlib.fuzz.mutate.bases import Base, analyse, ow, quiet, read
from dcmlib.fuzz.mutate.encapsulated import pixel_items
from dcmlib.fuzz.mutate.encoding import delete, dump, make_item, put, put_seq, tag_of
from dcmlib.fuzz.mutate.kinds import KINDS, Result, register_kind
from dcmlib.read.pixeldata import frame_header

_US_VALUES = (0, 1, 2, 3, 7, 8, 12, 15, 16, 17, 24, 31, 32, 33, 48, 64, 128, 255, 256, 4096, 32767, 32768, 65535)
_IS_VALUES = (
    "0",
    "-1",
    "1",
    "2",
    "3",
    "1000",
    "2147483647",
    "2147483648",
    "99999999999",
    "1.5",
    "abc",
    "",
    "1e3",
    " 7",
    "-2147483648",
    "65536",
)


@register_kind("geometry", 12)
def _geometry(rng: random.Random, b: Base) -> Result:
    ds = read(b.data)
    notes = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        key = rng.choice(
            (
                "Rows",
                "Columns",
                "NumberOfFrames",
                "BitsAllocated",
                "BitsStored",
                "HighBit",
                "SamplesPerPixel",
                "PixelRepresentation",
                "PlanarConfiguration",
                "Rows+Columns",
            )
        )
        if key == "NumberOfFrames":
            value: str | int = rng.choice(
                _IS_VALUES + (str(b.frames + 1), str(b.frames * 2), str(max(b.frames - 1, 0)))
            )
            put(ds, b, key, "IS", value)
        elif key == "Rows+Columns":
            r, c = rng.choice(((65535, 65535), (1, 65535), (65535, 1), (0, 0), (46341, 46341)))
            put(ds, b, "Rows", "US", r)
            put(ds, b, "Columns", "US", c)
            value = f"{r}x{c}"
        else:
            with quiet():
                cur = ds.get(key)
            try:
                cur = int(cur) if cur is not None else 1
            except (TypeError, ValueError):
                cur = 1
            value = rng.choice(_US_VALUES + (cur + 1, max(cur - 1, 0), cur * 2, cur // 2))
            put(ds, b, key, "US", value)
        notes.append(f"{key}={value!r}")
    return dump(ds), ", ".join(notes)


_PHOTOMETRICS = (
    "MONOCHROME1",
    "MONOCHROME2",
    "RGB",
    "PALETTE COLOR",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
    "YBR_PARTIAL_420",
    "YBR_PARTIAL_422",
    "HSV",
    "ARGB",
    "CMYK",
    "",
    "monochrome2",
    "MONOCHROME2\\RGB",
    "XYZ",
    " RGB",
    "PALETTE  COLOR",
    "\0\0",
)


@register_kind("photometric", 5)
def _photometric(rng: random.Random, b: Base) -> Result:
    ds = read(b.data)
    value = rng.choice([p for p in _PHOTOMETRICS if p != b.photometric])
    put(ds, b, "PhotometricInterpretation", "CS", value)
    note = f"PhotometricInterpretation={value!r}"
    if rng.random() < 0.3:
        spp = rng.choice((1, 3, 4))
        put(ds, b, "SamplesPerPixel", "US", spp)
        note += f", SamplesPerPixel={spp}"
    return dump(ds), note


_DS_VALUES = (
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "-Infinity",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "5e-324",
    "-5e-324",
    "1e-320",
    "0",
    "-0",
    "",
    "abc",
    "1\\2\\3",
    "1e999",
    "-1e999",
    "0x10",
    "1,5",
    "9999999999999999",
    "  ",
    "+",
    ".",
    "-1",
    "3e38",
    "1e-30",
)


@register_kind("number", 10)
def _number(rng: random.Random, b: Base) -> Result:
    ds = read(b.data)
    notes = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        key = rng.choice(
            (
                "RescaleSlope",
                "RescaleIntercept",
                "WindowCenter",
                "WindowWidth",
                "WindowCenter",
                "WindowWidth",
                "VOILUTFunction",
                "PixelPaddingValue",
                "PixelPaddingRangeLimit",
                "WindowCenterWidthExplanation",
                "RescaleType",
                "PresentationLUTShape",
            )
        )
        if key == "VOILUTFunction":
            value: str | int = rng.choice(
                ("SIGMOID", "LINEAR_EXACT", "LINEAR", "garbage", "", "sigmoid", "SIGMOID\\LINEAR")
            )
            put(ds, b, key, "CS", value)
        elif key == "PresentationLUTShape":
            value = rng.choice(("INVERSE", "IDENTITY", "", "inverse", "LIN OD", "INVERSE\\IDENTITY"))
            put(ds, b, key, "CS", value)
        elif key in ("PixelPaddingValue", "PixelPaddingRangeLimit"):
            value = rng.choice((0, 65535, 32768, -32768, -1, 1, 2**31, -(2**31)))
            vr = rng.choice(("SS", "US", "UL", "SL"))
            put(ds, b, key, vr, value)
            key += f"({vr})"
        elif key in ("WindowCenterWidthExplanation", "RescaleType"):
            value = rng.choice(("", "a\\b\\c\\d\\e", "x" * 64, "\u00e9\u00e8", "%s%n"))
            put(ds, b, key, "LO", value)
        else:
            value = rng.choice(_DS_VALUES)
            if key.startswith("Window") and rng.random() < 0.3:
                value = "\\".join(rng.choice(_DS_VALUES[:14] + ("40", "400")) for _ in range(rng.choice((2, 3))))
            put(ds, b, key, "DS", value)
        notes.append(f"{key}={value!r}")
    return dump(ds), ", ".join(notes)


_DESCRIPTORS = (
    (0, 0, 16),
    (4096, 0, 16),
    (4096, 64512, 16),
    (1, 0, 16),
    (2, 0, 8),
    (256, 0, 8),
    (65535, 0, 16),
    (4096, 0, 0),
    (4096, 0, 1),
    (4096, 0, 40),
    (4096, 0, 65535),
    (4096, 65535, 16),
    (4096,),
    (4096, 0),
    (4096, 0, 16, 7),
    (),
    (256, 32768, 16),
    (3, 0, 12),
)


def _lut_data(rng: random.Random, n: int) -> tuple[str, bytes | None, str]:
    n = n or 65536
    how = rng.choice(
        (
            "ramp",
            "ramp",
            "empty",
            "one-byte",
            "odd",
            "half",
            "double",
            "bytes-per-entry",
            "max",
            "zeros",
            "random",
            "missing",
        )
    )
    if how == "ramp":
        data = ow(np.linspace(0, 4095, n).round())
    elif how == "empty":
        data = b""
    elif how == "one-byte":
        data = b"\x07"
    elif how == "odd":
        data = b"\x01\x02\x03"
    elif how == "half":
        data = ow(np.arange(n // 2) % 65536)
    elif how == "double":
        data = ow(np.arange(2 * n) % 65536)
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


@register_kind("lut", 7)
def _lut(rng: random.Random, b: Base) -> Result:
    ds = read(b.data)
    seq = rng.choice(("ModalityLUTSequence", "VOILUTSequence", "VOILUTSequence"))
    items, notes = [], []
    for _ in range(rng.choice((1, 1, 2, 3, 0))):
        desc = rng.choice(_DESCRIPTORS)
        dvr = rng.choice(("US", "US", "SS", "OW"))
        vr, data, how = _lut_data(rng, desc[0] if desc else 4096)
        if not b.little and data and vr != "OB":  # the data are 16-bit words in the file's byte order
            data = np.frombuffer(data[: len(data) // 2 * 2], "<u2").astype(">u2").tobytes() + data[len(data) // 2 * 2 :]
        item = make_item(
            b,
            (0x00283002, dvr, list(desc) if desc else b""),
            (0x00283006, vr, data),
            ("LUTExplanation", "LO", "fuzz"),
            ("ModalityLUTType", "LO", "HU") if seq[0] == "M" else ("LUTExplanation", "LO", "fuzz"),
        )
        if rng.random() < 0.1:
            item = Dataset()
            how = "empty-item"
        items.append(item)
        notes.append(f"desc={list(desc)}({dvr}) data={how}({vr})")
    put_seq(ds, seq, items)
    if seq == "ModalityLUTSequence" and rng.random() < 0.7:
        delete(ds, "RescaleSlope")
        delete(ds, "RescaleIntercept")
    return dump(ds), f"{seq}: " + "; ".join(notes) if notes else f"{seq}: no items"


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


@register_kind("palette", 6)
def _palette(rng: random.Random, b: Base) -> Result:
    ds = read(b.data)
    notes = []
    if not b.palette:
        put(ds, b, "PhotometricInterpretation", "CS", "PALETTE COLOR")
        notes.append("PhotometricInterpretation='PALETTE COLOR'")
        if rng.random() < 0.5:  # with a plausible palette
            for i, color in enumerate(("Red", "Green", "Blue")):
                put(ds, b, f"{color}PaletteColorLookupTableDescriptor", "US", [256, 0, 16])
                put(ds, b, f"{color}PaletteColorLookupTableData", "OW", [(v * 257 + i) % 65536 for v in range(256)])
            notes.append("256-entry palette")
        return dump(ds), ", ".join(notes)
    color = rng.choice(("Red", "Green", "Blue"))
    how = rng.choice(
        ("descriptor", "data", "missing-data", "missing-descriptor", "segmented", "segmented", "mixed-bits")
    )
    desc_key, data_key = f"{color}PaletteColorLookupTableDescriptor", f"{color}PaletteColorLookupTableData"
    seg_key = {"Red": 0x00281221, "Green": 0x00281222, "Blue": 0x00281223}[color]
    if how == "descriptor":
        desc = rng.choice(
            (
                (0, 0, 16),
                (65535, 0, 16),
                (256, 255, 16),
                (256, 0, 8),
                (256, 0, 0),
                (256, 0, 12),
                (256, 0),
                (),
                (1, 0, 16),
                (256, 65535, 16),
                (257, 0, 16),
                (4096, 0, 16),
            )
        )
        put(ds, b, desc_key, rng.choice(("US", "SS")), list(desc) if desc else b"")
        how += f"={list(desc)}"
    elif how == "data":
        vr, data, what = _lut_data(rng, 256)
        if data is None:
            delete(ds, data_key)
        else:
            put(ds, b, data_key, vr, data)
        how += f"={what}"
    elif how == "missing-data":
        delete(ds, data_key)
        delete(ds, seg_key)
    elif how == "missing-descriptor":
        delete(ds, desc_key)
    elif how == "segmented":
        name, words = rng.choice(_SEGMENTS)
        for c, tag in (("Red", 0x00281221), ("Green", 0x00281222), ("Blue", 0x00281223)):
            if c == color or rng.random() < 0.3:
                delete(ds, f"{c}PaletteColorLookupTableData")
                put(ds, b, tag, "OW", words)
        how += f"={name}"
    else:
        put(ds, b, desc_key, "US", [256, 0, 8])
        put(ds, b, data_key, "OW", bytes(range(256)))
    notes.append(f"{color} {how}")
    return dump(ds), ", ".join(notes)


_REQUIRED = (
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PixelData",
    "NumberOfFrames",
    "PlanarConfiguration",
    "SOPClassUID",
    "RescaleSlope",
    "WindowWidth",
    "RedPaletteColorLookupTableDescriptor",
    "Modality",
    "FloatPixelData",
    "DoubleFloatPixelData",
    "SharedFunctionalGroupsSequence",
)


@register_kind("delete", 6)
def _delete_kind(rng: random.Random, b: Base) -> Result | None:
    ds = read(b.data)
    how = rng.random()
    if how < 0.1:
        pixel_keys = [k for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData") if tag_of(k) in ds]
        for tag in list(ds.keys()):
            if ds[tag].keyword not in pixel_keys:
                del ds[tag]
        note = "everything but the pixel data"
    elif how < 0.2 and getattr(ds, "file_meta", None) is not None and "TransferSyntaxUID" in ds.file_meta:
        del ds.file_meta.TransferSyntaxUID
        note = "TransferSyntaxUID"
        try:
            return dump(ds), note
        except Exception:  # pydicom needs a syntax to write: do it on the bytes
            return None
    else:
        present = [k for k in _REQUIRED if tag_of(k) in ds]
        if not present:
            return None
        gone = rng.sample(present, k=min(len(present), rng.choice((1, 1, 1, 2, 3))))
        for k in gone:
            delete(ds, k)
        note = ", ".join(gone)
    return dump(ds), f"deleted {note}"


@register_kind("pixels", 6)
def _pixels(rng: random.Random, b: Base) -> Result | None:
    if b.pixel is None or b.encapsulated:
        return None
    ds = read(b.data)
    el = ds.get_item(b.pixel.tag)
    value = bytes(el.value)
    vr = el.VR if el.VR in ("OB", "OW", "OF", "OD", "OL", "OV") else ("OW" if b.pixel.tag == 0x7FE00010 else "OF")
    how = rng.choice(
        ("short-1", "short-2", "half", "empty", "one-byte", "odd", "double", "extra", "as-float", "both", "vr", "un")
    )
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
        delete(ds, key)
        key, vr = rng.choice(((0x7FE00008, "OF"), (0x7FE00009, "OD"), (0x7FE00010, "OW")))
    elif how == "both":
        other = 0x7FE00008 if key != 0x7FE00008 else 0x7FE00010
        put(ds, b, other, "OF" if other == 0x7FE00008 else "OW", value[: len(value) // 4 * 4])
    elif how == "vr":
        vr = rng.choice(("OB", "OW", "OF", "OD", "OL", "UN", "UT", "US"))
    else:
        vr = "UN"
    put(ds, b, key, vr, value)
    return dump(ds), f"pixel data {how} ({len(value)} bytes, {vr})"


_WRONG_VRS = (
    ("UL", [2**32 - 1]),
    ("SS", [-1]),
    ("SL", [-5]),
    ("FL", [1.5]),
    ("FD", [float("nan")]),
    ("OB", b"\x01\x02\x03\x00"),
    ("UN", b"\x10"),
    ("UN", b""),
    ("US", [512, 512]),
    ("DS", "512"),
    ("IS", "512"),
    ("LO", "abc"),
    ("AT", b"\x28\x00\x10\x00"),
    ("US", b""),
    ("US", b"\x01"),
    ("SQ", b""),
    ("FD", [1e308]),
    ("UL", [65536]),
)


@register_kind("vr-ds", 4)
def _vr_ds(rng: random.Random, b: Base) -> Result:
    ds = read(b.data)
    key = rng.choice(
        (
            "Rows",
            "Columns",
            "BitsAllocated",
            "BitsStored",
            "SamplesPerPixel",
            "NumberOfFrames",
            "PixelRepresentation",
            "WindowCenter",
            "WindowWidth",
            "RescaleSlope",
            "RescaleIntercept",
            "PhotometricInterpretation",
            "HighBit",
            "PlanarConfiguration",
        )
    )
    vr, value = rng.choice(_WRONG_VRS)
    put(ds, b, key, vr, value)
    return dump(ds), f"{key} as {vr} {value!r}"


@register_kind("functional", 4)
def _functional(rng: random.Random, b: Base) -> Result:
    ds = read(b.data)
    notes = []
    if rng.random() < 0.6:
        pvt = make_item(
            b,
            ("RescaleSlope", "DS", rng.choice(_DS_VALUES)),
            ("RescaleIntercept", "DS", rng.choice(_DS_VALUES)),
            ("RescaleType", "LO", rng.choice(("HU", "", "US", "x" * 40))),
        )
        inner = rng.choice(([pvt], [], [Dataset()]))
        shared = Dataset()
        put_seq(shared, "PixelValueTransformationSequence", inner)
        put_seq(ds, "SharedFunctionalGroupsSequence", rng.choice(([shared], [], [Dataset(), shared])))
        notes.append(f"shared PVT ({len(inner)} items)")
    if rng.random() < 0.6:
        k = rng.choice((0, 1, max(b.frames - 1, 0), b.frames, b.frames + 5))
        items = []
        for _ in range(k):
            voi = make_item(
                b,
                ("WindowCenter", "DS", rng.choice(_DS_VALUES + ("40",))),
                ("WindowWidth", "DS", rng.choice(_DS_VALUES + ("400",))),
            )
            if rng.random() < 0.3:
                desc = rng.choice(_DESCRIPTORS)
                _, data, _ = _lut_data(rng, desc[0] if desc else 4096)
                put_seq(
                    voi,
                    "VOILUTSequence",
                    [make_item(b, (0x00283002, "US", list(desc) if desc else b""), (0x00283006, "OW", data))],
                )
            item = Dataset()
            put_seq(item, "FrameVOILUTSequence", rng.choice(([voi], [], [Dataset()])))
            items.append(item)
        put_seq(ds, "PerFrameFunctionalGroupsSequence", items)
        notes.append(f"per-frame VOI ({k} items for {b.frames} frames)")
    if not notes:
        put_seq(ds, "PerFrameFunctionalGroupsSequence", [Dataset()])
        notes.append("one empty per-frame item")
    return dump(ds), ", ".join(notes)


@register_kind("huge", 4)
def _huge(rng: random.Random, b: Base) -> Result | None:
    """A small file that claims a huge image: Rows/Columns and, when compressed, the codestream's size too."""
    if b.deflated or b.pixel is None:
        return None
    rows, cols = rng.choice(((20000, 20000), (46341, 46341), (65535, 65535), (65535, 1), (1, 65535), (30000, 40000)))
    ds = read(b.data)
    put(ds, b, "Rows", "US", rows)
    put(ds, b, "Columns", "US", cols)
    note = f"Rows={rows}, Columns={cols}"
    if rng.random() < 0.3:
        frames = rng.choice((2, 100, 65535))
        put(ds, b, "NumberOfFrames", "IS", str(frames))
        note += f", NumberOfFrames={frames}"
    data = dump(ds)
    if not b.encapsulated:
        return data, note
    mid = analyse(b.name, data)
    frags = [it for it in pixel_items(mid)[1:] if it[1] == 0xFFFEE000 and it[2] not in (0, 0xFFFFFFFF)]
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
        else:  # Xsiz, Ysiz, then XOsiz, YOsiz = 0; tiles as large as the image half the time
            d[start + at + 6 : start + at + 22] = struct.pack(">IIII", cols, rows, 0, 0)
            if rng.random() < 0.5:
                d[start + at + 22 : start + at + 30] = struct.pack(">II", cols, rows)
        note += f", {kind} header too"
    return bytes(d), note


_DATASET_KINDS = ("geometry", "photometric", "number", "lut", "palette", "delete", "pixels", "vr-ds", "functional")
_BYTE_KINDS = ("flip", "bytes", "truncate", "splice", "vr", "length", "tag", "ts", "meta", "encaps", "codestream")


@register_kind("combo", 5)
def _combo(rng: random.Random, b: Base) -> Result | None:
    first = KINDS[rng.choice(_DATASET_KINDS)][1](rng, b)
    if first is None:
        return None
    try:
        mid = analyse(b.name, first[0])
    except Exception:  # the first damage may leave nothing pydicom can read
        return first
    second = KINDS[rng.choice(_BYTE_KINDS)][1](rng, mid)
    if second is None:
        return first
    return second[0], f"{first[1]}; then {second[1]}"

"""Mutators of the encoded bytes: bit flips, overwritten runs, truncation, splices, element VRs, lengths and tags."""

from __future__ import annotations

import random
import struct

from dcmlib.fuzz.mutate.bases import PIXEL_TAGS, Base, Elem
from dcmlib.fuzz.mutate.encoding import u16, u32
from dcmlib.fuzz.mutate.kinds import Result, register_kind


def _offset(rng: random.Random, b: Base, header_bias: float = 0.6) -> int:
    limit = b.header_end if rng.random() < header_bias else len(b.data)
    return rng.randrange(max(limit, 1))


@register_kind("flip", 10)
def flip(rng: random.Random, b: Base) -> Result:
    d = bytearray(b.data)
    n = rng.choice((1, 1, 2, 3, 4, 8, 16))
    offsets = sorted(_offset(rng, b) for _ in range(n))
    for off in offsets:
        d[off] ^= 1 << rng.randrange(8)
    return bytes(d), f"bit flips at {offsets}"


_INTERESTING = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\xff\xff",
    b"\x00\x80",
    b"\xff\x7f",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x80",
    b"\xff\xff\xff\x7f",
    b"\xfe\xff\x00\xe0",
    b"\xfe\xff\xdd\xe0",
)


@register_kind("bytes", 5)
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


@register_kind("truncate", 8)
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
    elif how == "in-pixel-data" and b.pixel is not None:  # offered only with pixel data
        at = b.pixel.value_start + rng.randrange(max(n - b.pixel.value_start, 1))
    elif how == "at-pixel-data" and b.pixel is not None:
        at = b.pixel.start + rng.choice((0, 4, 8, b.pixel.header))
    else:
        at = n // 2
    at = max(0, min(at, n - 1))
    return b.data[:at], f"truncated to {at} of {n} bytes ({how})"


@register_kind("splice", 4)
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


_ALL_VRS = (
    "AE",
    "AS",
    "AT",
    "CS",
    "DA",
    "DS",
    "DT",
    "FL",
    "FD",
    "IS",
    "LO",
    "LT",
    "OB",
    "OD",
    "OF",
    "OL",
    "OV",
    "OW",
    "PN",
    "SH",
    "SL",
    "SQ",
    "SS",
    "ST",
    "SV",
    "TM",
    "UC",
    "UI",
    "UL",
    "UN",
    "UR",
    "US",
    "UT",
    "UV",
)


def _pick_element(rng: random.Random, b: Base, *, pixel_ok: bool = True) -> Elem | None:
    choices = [e for e in b.elements if pixel_ok or e.tag not in PIXEL_TAGS]
    if not choices:
        return None
    # Half the time an element of the image pixel module (0028,xxxx), where damage matters most.
    image = [e for e in choices if e.tag >> 16 == 0x0028]
    return rng.choice(image if image and rng.random() < 0.5 else choices)


@register_kind("vr", 5)
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


@register_kind("length", 7)
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
    new = rng.choice(
        (
            0,
            1,
            old + 1,
            max(old - 1, 0),
            old + 2,
            max(old - 2, 0),
            old * 2,
            top,
            top - 1,
            0x7FFFFFFF if not short else 0x7FFF,
            rest + 2,
            rest - 1,
            0x10000 if not short else 0x100,
        )
    )
    new = new % (top + 1)
    d = bytearray(b.data)
    d[at : at + (2 if short else 4)] = struct.pack(u16(b) if short else u32(b), new)
    return bytes(d), f"length of ({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) {old} -> {new}"


@register_kind("tag", 3)
def _tagmut(rng: random.Random, b: Base) -> Result | None:
    if b.deflated or len(b.elements) < 2:
        return None
    i = rng.randrange(len(b.elements))
    el = b.elements[i]
    prev = b.elements[i - 1].tag if i else 0x00080005
    new = rng.choice(
        (
            0x7FE00010,
            0xFFFEE000,
            0xFFFEE0DD,
            0xFFFEE00D,
            prev,
            0x00020010,
            0x00090010,
            0x00280010,
            0x00280100,
            el.tag + 1,
            0x00000000,
            0xFFFFFFFF,
        )
    )
    d = bytearray(b.data)
    fmt = u16(b)
    d[el.start : el.start + 4] = struct.pack(fmt, new >> 16) + struct.pack(fmt, new & 0xFFFF)
    return bytes(d), f"tag ({el.tag >> 16:04X},{el.tag & 0xFFFF:04X}) -> ({new >> 16:04X},{new & 0xFFFF:04X})"

"""Mutators of encapsulated pixel data: items (offset table, fragments, delimiters) and the first frame's codestream."""

from __future__ import annotations

import random
import struct

from dcmlib.fuzz.mutate.bases import Base
from dcmlib.fuzz.mutate.kinds import Result, register_kind
from dcmlib.read.pixeldata import frame_header


def pixel_items(b: Base) -> list[tuple[int, int, int]]:
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


@register_kind("encaps", 8)
def _encaps(rng: random.Random, b: Base) -> Result | None:
    """Mutations of encapsulated pixel data (PS3.5 A.4)."""
    if not b.encapsulated or b.deflated:
        return None
    items = pixel_items(b)
    frags = [it for it in items[1:] if it[1] == 0xFFFEE000]
    if not items or not frags:
        return None
    d = bytearray(b.data)
    bot_pos, _, bot_len = items[0]
    first = frags[0]
    how = rng.choice(
        (
            "bot-length-huge",
            "bot-offsets",
            "bot-more-frames",
            "fragment-length",
            "fragment-tag",
            "no-delimiter",
            "delimiter-length",
            "empty-fragment",
            "truncate-fragment",
            "extra-fragments",
            "drop-fragment",
            "no-items",
            "swap-fragments",
            "pixel-length-defined",
        )
    )
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


@register_kind("codestream", 5)
def _codestream(rng: random.Random, b: Base) -> Result | None:
    """Mutations of a compressed frame's codestream header."""
    if not b.encapsulated or b.deflated:
        return None
    frags = [it for it in pixel_items(b)[1:] if it[1] == 0xFFFEE000 and it[2] not in (0, 0xFFFFFFFF)]
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
        if kind == "jpeg":  # SOF: FF Cn Lf(2) P(1) Y(2) X(2) Nf(1)
            y, x = rng.choice(((0, None), (None, 0), (65535, 65535), (1, 1), (None, 1)))
            if y is not None:
                d[start + at + 5 : start + at + 7] = struct.pack(">H", y)
            if x is not None:
                d[start + at + 7 : start + at + 9] = struct.pack(">H", x)
        else:  # SIZ: FF51 Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4)
            xs, ys = rng.choice(((0, 0), (0xFFFFFF00, 0xFFFFFF00), (1, 1), (0x10000, 0x10000), (8, 0xFFFFFFFF)))
            d[start + at + 6 : start + at + 14] = struct.pack(">II", xs, ys)
        how += f" {kind}"
    elif how == "precision" and sof is not None:
        kind, at = sof
        if kind == "jpeg":  # P and Nf
            field = rng.choice((4, 9))
            d[start + at + field] = rng.choice((0, 1, 2, 4, 16, 17, 255))
        else:  # Csiz, then Ssiz of component 0
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

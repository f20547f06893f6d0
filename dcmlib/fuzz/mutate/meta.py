"""Mutators of the preamble and File Meta Information, and of the Transfer Syntax UID in it."""

from __future__ import annotations

import random
import struct

from dcmlib.fuzz.mutate.bases import LONG_VRS, Base
from dcmlib.fuzz.mutate.kinds import Result, register_kind


def _meta_elements(data: bytes, end: int) -> list[tuple[int, str, bytes]]:
    out, pos = [], 132
    while pos + 8 <= end:
        group, elem = struct.unpack("<HH", data[pos : pos + 4])
        vr = data[pos + 4 : pos + 6].decode("latin-1")
        if vr in LONG_VRS:
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
        if vr in LONG_VRS:
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
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.94",
    "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.1.98",
    "1.2.840.10008.1.2.4.52",
    "1.2.840.10008.1.2.7.1",
    # not transfer syntaxes
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.1.1",
    "1.2.3.4",
    "",
    "not-a-uid",
    "1.2.840.10008.1.2.999",
    "9" * 64,
    "1.2.840.10008.1.2.1\\1.2.840.10008.1.2",
)


@register_kind("ts", 8)
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


@register_kind("meta", 5)
def _meta(rng: random.Random, b: Base) -> Result | None:
    if b.meta_end is None:
        return None
    d, end = b.data, b.meta_end
    meta = _meta_elements(d, end)
    how = rng.choice(
        (
            "no-preamble",
            "no-magic",
            "no-preamble-no-magic",
            "no-meta",
            "preamble-no-meta",
            "meta-only",
            "group-length",
            "no-ts",
            "garbage-meta",
            "double-meta",
            "ts-only",
        )
    )
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

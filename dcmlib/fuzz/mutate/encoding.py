"""Elements written as raw bytes in a base's encoding (no validation, no normalisation) and the Dataset written back."""

from __future__ import annotations

import io
import struct
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from dcmlib.fuzz.mutate.bases import Base, quiet

_INT_FORMATS = {"US": "H", "SS": "H", "UL": "I", "SL": "I", "OW": "H", "SV": "Q", "UV": "Q", "AT": "H"}
_FLOAT_FORMATS = {"FL": "f", "FD": "d", "OF": "f", "OD": "d"}


def _encode(vr: str, value: object, little: bool) -> bytes:
    """Value bytes for ``vr``: bytes as given, numbers packed (wrapped to the width), text padded to even."""
    order = "<" if little else ">"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    # a mutation's values are anything (that is the point): int() and float() refuse what is no number
    values: list[Any] = list(value) if isinstance(value, (list, tuple)) else [value]
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


def tag_of(key: str | int) -> BaseTag:
    if isinstance(key, str):
        t = tag_for_keyword(key)
        if t is None:
            raise KeyError(key)
        return Tag(t)
    return Tag(key)


def put(ds: Dataset, b: Base, key: str | int, vr: str, value: object) -> None:
    """Set an element as raw bytes in the base's encoding (no validation, no normalisation)."""
    tag = tag_of(key)
    raw = _encode(vr, value, b.little)
    ds[tag] = RawDataElement(tag, vr, len(raw), raw, 0, b.implicit, b.little)


def make_item(b: Base, *elements: tuple[str | int, str, object]) -> Dataset:
    item = Dataset()
    for key, vr, value in elements:
        if value is not None:
            put(item, b, key, vr, value)
    return item


def put_seq(ds: Dataset, key: str, items: list[Dataset]) -> None:
    tag = tag_of(key)
    ds[tag] = DataElement(tag, "SQ", Sequence(items))


def delete(ds: Dataset, key: str | int) -> bool:
    tag = tag_of(key)
    if tag in ds:
        del ds[tag]
        return True
    return False


def dump(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    with quiet():
        pydicom.dcmwrite(buf, ds, enforce_file_format=False)
    return buf.getvalue()


def u16(b: Base) -> str:
    return "<H" if b.little else ">H"


def u32(b: Base) -> str:
    return "<I" if b.little else ">I"

"""Where each displayed frame comes from: one file's frames or a series' slices."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pydicom.dataset import Dataset

__all__ = ["FrameRef", "PixelElement", "PIXEL_KEYWORDS", "UNDEFINED_LENGTH"]

#: The pixel data elements an image may carry (7FE0,0010 / 0008 / 0009), PS3.3 C.7.6.3.
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

#: Value length of encapsulated (compressed) pixel data, PS3.5 7.1.2 / A.4.
UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True, eq=False)
class PixelElement:
    """A file's pixel data element as its header describes it, PS3.5 7.1.

    ``keyword`` names the element (Pixel Data, Float Pixel Data or Double Float
    Pixel Data); ``length`` is its value length in bytes
    (:data:`UNDEFINED_LENGTH` for encapsulated data read from a file header);
    ``value`` holds the bytes when they are in memory and is None when they
    were left on disk.
    """

    keyword: str
    length: int
    value: bytes | None = None


@dataclass(frozen=True, eq=False)
class FrameRef:
    """One frame of an image or stack.

    ``source`` is a file path or an in-memory Dataset that holds the pixel data;
    ``header`` is that file's Dataset (read with ``stop_before_pixels`` for series
    files); ``pixels`` describes its pixel data element; ``index`` is the 0-based
    frame inside the source; ``position`` is the slice position in mm along the
    series' normal (PS3.3 C.7.6.2.1.1), when known.
    """

    source: str | os.PathLike[str] | Dataset
    header: Dataset
    pixels: PixelElement
    index: int = 0
    position: float | None = None

"""Where each displayed frame comes from: one file's frames or a series' slices."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pydicom.dataset import Dataset

__all__ = ["FrameRef", "PIXEL_KEYWORDS"]

#: The pixel data elements an image may carry (7FE0,0010 / 0008 / 0009), PS3.3 C.7.6.3.
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True, eq=False)
class FrameRef:
    """One frame of an image or stack.

    ``source`` is a file path or an in-memory Dataset that holds the pixel data;
    ``header`` is that file's Dataset (read with ``stop_before_pixels`` for series
    files); ``index`` is the 0-based frame inside the source; ``position`` is the
    slice position in mm along the series' normal (PS3.3 C.7.6.2.1.1), when known.
    """

    source: str | os.PathLike[str] | Dataset
    header: Dataset
    index: int = 0
    position: float | None = None

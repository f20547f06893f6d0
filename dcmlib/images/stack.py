"""The frame store: a file's frames or a series' slices, decoded once and cached.

:class:`FrameStore` owns what an image holds in memory: the frame references,
each file's checked :class:`~dcmlib.read.header.Layout`, each frame's parsed
:class:`~dcmlib.read.header.FrameParams`, and one byte-budget
:class:`~dcmlib.read.cache.FrameCache` of decoded stored values and derived float32
modality values.  A series decodes ahead in the scroll direction on one
background thread (:class:`~dcmlib.read.cache.ReadAhead`); see :mod:`dcmlib.read.cache`
for the lock discipline.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset

from dcmlib.errors import DcmviewError, InvalidArgumentError, NotDicomError
from dcmlib.objects import overlays
from dcmlib.read.cache import DEFAULT_CACHE_MB, FrameCache, ReadAhead, read_ahead_depth
from dcmlib.read.decode import decode_frame
from dcmlib.read.header import FrameParams, Layout, frame_params, header_errors, layout
from dcmlib.read.pixeldata import check_pixel_data
from dcmlib.render import pipeline
from dcmlib.values import color
from dcmlib.values.frames import FrameRef

__all__ = ["FrameStore"]


class FrameStore:
    """Frames by 0-based index: stored values, modality values, padding, parameters; all cached.

    Every file's layout and pixel-length check is done at construction, on
    the calling thread; afterwards the read-ahead thread only reads them.  A
    file whose check failed keeps its error, raised when one of its frames is
    used, so one damaged slice does not stop a series.
    """

    def __init__(
        self,
        refs: Sequence[FrameRef],
        *,
        path: str | None = None,
        cache_mb: float | None = None,
        read_ahead: bool = True,
    ):
        if not refs:
            raise NotDicomError("no images", path)
        self.refs = tuple(refs)
        self.path = path
        with header_errors(self.where(self.refs[0])):
            self.layout = layout(self.refs[0].header, self.refs[0].pixels, self.where(self.refs[0]))
        self._layouts: dict[int, Layout | DcmviewError] = {}
        for ref in self.refs:
            if id(ref.header) not in self._layouts:
                self._layouts[id(ref.header)] = self._check(ref)
        self.cache = FrameCache(cache_mb if cache_mb is not None else DEFAULT_CACHE_MB)
        self._params: dict[int, FrameParams] = {}
        self._objects: dict[int, overlays.DisplayObjects] = {}  # per file header: overlays and shutter
        self._lock = threading.Lock()
        self.decodes = 0  #: frames decoded so far (decoding is lazy)
        self.is_series = len(self._layouts) > 1
        self._ahead: ReadAhead | None = None
        depth = read_ahead_depth(self.cache.budget, self.layout.frame_bytes) if self.is_series else 0
        if read_ahead and depth:
            me = weakref.ref(self)  # the thread must not keep a dropped store alive

            def fetch(i: int) -> None:
                store = me()
                if store is not None:
                    store._stored(i)

            self._ahead = ReadAhead(fetch, len(self.refs), depth=depth)

    def _check(self, ref: FrameRef) -> Layout | DcmviewError:
        where = self.where(ref)
        try:
            with header_errors(where):
                lay = self.layout if ref.header is self.refs[0].header else layout(ref.header, ref.pixels, where)
                check_pixel_data(ref.header, lay, ref.pixels, where)
            return lay
        except DcmviewError as exc:
            return exc

    def __len__(self) -> int:
        return len(self.refs)

    def close(self) -> None:
        """Stop the read-ahead thread and drop the cached frames; later calls decode again."""
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None
        self.cache.clear()

    def index(self, frame: int, where: str | None) -> int:
        """``frame`` as a checked 0-based index."""
        try:
            f = int(frame)  # checked: API callers may pass anything
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"frame must be an integer, got {frame!r}", where) from None
        if not 0 <= f < len(self.refs):
            raise InvalidArgumentError(f"frame index {frame} out of range (0..{len(self.refs) - 1})", where)
        return f

    def where(self, ref: FrameRef) -> str | None:
        """The file a frame comes from, for messages."""
        return os.fspath(ref.source) if not isinstance(ref.source, Dataset) else self.path

    def layout_of(self, frame: int) -> Layout:
        lay = self._layouts[id(self.refs[frame].header)]
        if isinstance(lay, DcmviewError):
            raise lay
        return lay

    def display_objects(self, frame: int) -> tuple[overlays.DisplayObjects, bool]:
        """The overlays and shutter of the frame's file, parsed once per file; and whether just now."""
        ref = self.refs[frame]
        objects = self._objects.get(id(ref.header))
        if objects is not None:
            return objects, False
        with header_errors(self.where(ref)):
            objects = self._objects[id(ref.header)] = overlays.display_objects(ref.header)
        return objects, True

    def params(self, frame: int) -> FrameParams:
        """The frame's grey-pipeline parameters, parsed once."""
        p = self._params.get(frame)
        if p is None:
            ref = self.refs[frame]
            with header_errors(self.where(ref)):
                p = self._params[frame] = frame_params(ref.header, ref.index, self.layout_of(frame))
        return p

    def stored(self, frame: int, *, threads: bool = False) -> np.ndarray:
        """Decoded stored values (read-only); tells the read-ahead which frame the user sees.

        ``threads``: the caller decodes on several threads (see :func:`dcmlib.read.decode.decode_frame`).
        """
        arr = self._stored(frame, threads)
        if self._ahead is not None:
            self._ahead.hint(frame)
        return arr

    def _stored(self, f: int, threads: bool = False) -> np.ndarray:
        def decode() -> np.ndarray:
            ref = self.refs[f]
            arr = decode_frame(ref, self.layout_of(f), self.where(ref), threads=threads)
            arr.flags.writeable = False
            with self._lock:
                self.decodes += 1
            return arr

        return self.cache.get_or_load(("stored", f), decode)

    def is_cached(self, frame: int) -> bool:
        return ("stored", frame) in self.cache

    def values(self, frame: int) -> np.ndarray:
        """Modality values as float32 (PS3.3 C.11.1); colour: RGB uint8. Cached as derived, read-only."""

        def compute() -> np.ndarray:
            if self.layout.is_color:
                arr = self._rgb(frame)
            else:
                arr = pipeline.apply_modality(self.stored(frame), self.params(frame).modality)
            arr.flags.writeable = False
            return arr

        key = ("rgb" if self.layout.is_color else "values", frame)
        return self.cache.get_or_load(key, compute, derived=True)

    def _rgb(self, frame: int) -> np.ndarray:
        """Colour samples to RGB uint8 (PS3.3 C.7.6.3.1.2); palette indices through the palette (C.7.9)."""
        arr = self.stored(frame)
        if self.layout.photometric != "PALETTE COLOR":
            return color.to_uint8_rgb(arr, self.layout.bits_stored)
        with header_errors(self.where(self.refs[frame])):  # color.py knows no file: errors get it here
            return color.palette_to_rgb(arr, self.refs[frame].header)

    def padding_mask(self, frame: int) -> np.ndarray | None:
        """Where the frame holds Pixel Padding (PS3.3 C.7.5.1.1.2); None for colour or when none is declared."""
        if self.layout.is_color:
            return None
        return pipeline.padding_mask(self.stored(frame), self.params(frame).padding)

    def data_range(self, frame: int) -> tuple[float, float]:
        """(min, max) of the modality values, padding and NaN excluded; cached."""
        lo, hi = self.cache.get_or_load(
            ("range", frame), lambda: np.array(pipeline.data_range(self.values(frame), self.padding_mask(frame)))
        )
        return float(lo), float(hi)

    def stored_range(self, frame: int) -> tuple[int, int]:
        """(min, max) stored value of the frame (the display table's extent); cached."""
        lo, hi = self.cache.get_or_load(
            ("srange", frame), lambda: np.array(pipeline.data_range(self.stored(frame), None))
        )
        return int(lo), int(hi)

"""The image object: a facade over reading, header parsing, caching and the display pipeline.

:func:`load` reads a file, a folder (a series) or a Dataset and returns a
:class:`DicomImage`.  The image owns the caches (decoded stored values, the
float32 modality values) through one byte-budget
:class:`~dcmlib.read.cache.FrameCache`; every DICOM rule it applies lives in
:mod:`~dcmlib.read.io`, :mod:`~dcmlib.read.header` and :mod:`~dcmlib.render.pipeline`.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import cv2
import numpy as np
from pydicom.dataset import Dataset

from dcmlib.displayable import RenderOptions
from dcmlib.errors import DcmviewWarning, InvalidArgumentError, NotDicomError, PixelDataError
from dcmlib.images.presented import image_slices, render_with_state
from dcmlib.images.stack import FrameStore
from dcmlib.images.summary import summary
from dcmlib.objects.overlays import DisplayObjects, apply_layers, describe_objects, fill_value, layers
from dcmlib.objects.pstate import PresentationState, describe_pstate, find_pstates
from dcmlib.read import io
from dcmlib.read.header import (
    FrameParams,
    PixelSpacing,
    cine_rate,
    frame_geometry,
    header_errors,
    int_value,
    layout,
    pixel_spacing,
    text_value,
)
from dcmlib.read.pixeldata import check_pixel_data
from dcmlib.render import pipeline
from dcmlib.render.imagebase import ImageBase
from dcmlib.render.pipeline import VoiSelection
from dcmlib.values.frames import FrameRef
from dcmlib.values.lut import PairWindow, VoiLut, Window
from dcmlib.values.presentation import needs_inversion
from dcmlib.values.presets import PRESETS, Preset

if TYPE_CHECKING:
    from dcmlib.images.reformat import ReformattedImage

__all__ = ["DicomImage", "load"]

Warn = Callable[[str], None]
P = ParamSpec("P")
R = TypeVar("R")


def _memory_bounded(method: Callable[Concatenate[DicomImage, P], R]) -> Callable[Concatenate[DicomImage, P], R]:
    """Running out of memory for a frame (NumPy's MemoryError, OpenCV's Insufficient memory) is a clean error."""

    @functools.wraps(method)
    def guarded(self: DicomImage, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except MemoryError:
            pass
        except cv2.error as exc:
            if "Insufficient memory" not in str(exc):
                raise
        raise PixelDataError(f"not enough memory for a {self.columns} x {self.rows} frame", self.path) from None

    return guarded


class DicomImage(ImageBase):
    """A DICOM image or stack: headers parsed once, frames decoded lazily and cached.

    Use :func:`load` to make one.  ``len(img)`` is the number of frames (slices
    for a series); frame numbers in the API are 0-based.  ``with load(p) as img:``
    or :meth:`close` stops its read-ahead thread and drops its caches.
    """

    def __init__(
        self,
        refs: Sequence[FrameRef],
        *,
        name: str = "",
        path: str | None = None,
        cache_mb: float | None = None,
        on_warning: Warn | None = None,
        read_ahead: bool = True,
        listing: str = "",
        series_label: str = "",
    ):
        self._frames = FrameStore(refs, path=path, cache_mb=cache_mb, read_ahead=read_ahead)
        self._layout = self._frames.layout
        self.path = path
        self.name = name or (Path(path).name if path else "dataset")
        self.header: Dataset = self._frames.refs[0].header
        self._warn_fn: Warn | None = on_warning
        self._warned: set[str] = set()
        self._listing = listing
        self._geometry: dict[int, tuple[list, list]] = {}  # per file header: orientations, positions
        #: Which series of a folder holding several this is (``#2 of 3: CT "AXIAL 5mm" (300 images)``), else "".
        self.series_label = series_label

    # -- description ----------------------------------------------------------
    def __len__(self) -> int:
        return len(self._frames)

    def __repr__(self) -> str:
        lay = self._layout
        return (
            f"<DicomImage {self.name!r} {self.modality or '?'} {lay.columns}x{lay.rows} x{len(self)} {lay.photometric}>"
        )

    def __enter__(self) -> DicomImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the read-ahead thread and drop the cached frames; later calls decode again."""
        self._frames.close()

    rows = property(lambda self: self._layout.rows, doc="Rows (0028,0010).")
    columns = property(lambda self: self._layout.columns, doc="Columns (0028,0011).")
    photometric = property(
        lambda self: self._layout.photometric,
        doc="Photometric Interpretation (0028,0004) as stored, e.g. ``MONOCHROME2``.",
    )
    is_color = property(lambda self: self._layout.is_color, doc="True unless MONOCHROME1/2.")
    is_series = property(
        lambda self: self._frames.is_series, doc="True for a stack of several files (a series folder)."
    )
    presets = property(lambda self: PRESETS, doc="The window presets, name -> Preset.")
    cache = property(lambda self: self._frames.cache, doc="The frame cache (its ``nbytes``, ``budget``, ``len``).")
    decodes = property(lambda self: self._frames.decodes, doc="Frames decoded so far (decoding is lazy).")

    @property
    def modality(self) -> str:
        """Modality (0008,0060), e.g. ``CT``; empty when absent or unreadable."""
        try:
            return text_value(self.header, "Modality")
        except Exception:  # noqa: BLE001 - a damaged element (pydicom converts lazily) is no modality
            return ""

    @property
    def unit(self) -> str:
        """Unit of the modality values: Rescale Type, ``HU`` for CT, else empty."""
        if self.is_color:
            return "RGB"
        rt = self._frames.params(0).modality.rescale_type
        if rt and rt.upper() not in ("US", "UNSPECIFIED"):
            return rt
        return "HU" if self.modality == "CT" else ""

    @property
    def cine_rate(self) -> tuple[float, str] | None:
        """Frames per second the file asks to be played at and the attribute saying so (PS3.3 C.7.6.5), or None."""
        with header_errors(self.path):
            return cine_rate(self.header)

    def pixel_spacing(self, frame: int = 0) -> PixelSpacing | None:
        """The frame's pixel spacing for measurements (Pixel Spacing, else Imager Pixel Spacing), or None."""
        ref = self._frames.refs[self._check_frame(frame)]
        with header_errors(self.path):
            return pixel_spacing(ref.header, ref.index)

    def position(self, frame: int) -> float | None:
        """Slice position in mm along the series normal, when known."""
        return self._frames.refs[self._check_frame(frame)].position

    def info(self) -> str:
        """A short human summary without patient identifiers (a folder's lists its series first)."""
        first, last = self._frames.refs[0].position, self._frames.refs[-1].position
        with header_errors(self.path):
            text = summary(
                self.header,
                self._layout,
                None if self.is_color else self._frames.params(0),
                name=self.name,
                count=len(self),
                is_series=self.is_series,
                unit=self.unit,
                span=None if first is None or last is None else (first, last),
            )
        text = "\n".join([text, *describe_objects(self.display_objects(0))])
        slices = image_slices(self) if self.is_series else None
        text = "\n".join([text, *(describe_pstate(s, slices) for s in self.pstates())])
        from dcmlib.objects.segmentation import describe_found

        text = "\n".join([text, *describe_found(self)])
        return f"{self._listing}\n\n{text}" if self._listing else text

    # -- per-frame parameters -------------------------------------------------
    def warn(self, message: str) -> None:
        """Report a recoverable problem once, naming the image: to ``on_warning``, else as a DcmviewWarning."""
        if message not in self._warned:
            self._warned.add(message)
            text = f"{self.path or self.name}: {message}"
            if self._warn_fn is not None:
                self._warn_fn(text)
            else:
                warnings.warn(text, DcmviewWarning, stacklevel=3)

    def _check_frame(self, frame: int) -> int:
        return self._frames.index(frame, self.path)

    layout = property(
        lambda self: self._layout,
        doc="Frame size, samples, bits and photometric, parsed once (:class:`dcmlib.read.header.Layout`).",
    )

    def frame_ref(self, frame: int = 0) -> FrameRef:
        """Where a frame comes from (:class:`dcmlib.values.frames.FrameRef`): its file's header, its index there."""
        return self._frames.refs[self._check_frame(frame)]

    def frame_params(self, frame: int = 0) -> FrameParams:
        """A frame's parameters (:class:`dcmlib.read.header.FrameParams`): Modality LUT, VOIs, padding, LUT shape."""
        return self._frames.params(self._check_frame(frame))

    def stored_range(self, frame: int = 0) -> tuple[int, int]:
        """The (min, max) of a frame's stored values (the extent of its display table); cached."""
        return self._frames.stored_range(self._check_frame(frame))

    def vois(self, frame: int = 0) -> list[Window | VoiLut]:
        """Stored VOIs of a frame: windows first, then VOI LUTs (PS3.3 C.11.2); invalid ones left out."""
        return list(self._frames.params(self._check_frame(frame)).vois)

    # -- pixels -----------------------------------------------------------------
    @_memory_bounded
    def stored(self, frame: int = 0, *, threads: bool = False) -> np.ndarray:
        """Decoded stored values of a frame (colour: RGB or palette indices); cached, read-only.

        ``threads``: called from several threads at once (building a volume), so a decoder
        that releases the GIL is preferred where the transfer syntax has one.
        """
        return self._frames.stored(self._check_frame(frame), threads=threads)

    def frame_geometry(self, frame: int = 0) -> tuple[tuple[float, ...] | None, np.ndarray | None]:
        """A frame's Image Orientation and Image Position (Patient), each None when absent (PS3.3 C.7.6.2.1.1;
        enhanced files: the Plane Orientation and Plane Position functional groups, C.7.6.16.2.3-4)."""
        ref = self.frame_ref(frame)
        key = id(ref.header)
        if key not in self._geometry:
            with header_errors(self.path):
                self._geometry[key] = frame_geometry(ref.header, max(int_value(ref.header, "NumberOfFrames", 1), 1))
        orients, positions = self._geometry[key]
        return orients[ref.index], positions[ref.index]

    def is_cached(self, frame: int) -> bool:
        """Whether the frame's decoded stored values are in memory now."""
        return self._frames.is_cached(self._check_frame(frame))

    @_memory_bounded
    def values(self, frame: int = 0) -> np.ndarray:
        """Modality values of a frame (HU for CT) as float32; colour: RGB uint8. Cached, read-only."""
        return self._frames.values(self._check_frame(frame))

    @_memory_bounded
    def padding_mask(self, frame: int = 0) -> np.ndarray | None:
        """Where a frame holds Pixel Padding (PS3.3 C.7.5.1.1.2), or None when the file declares none.

        Padding is left out of min-max and auto windows and rendered as 0 (background).
        """
        return self._frames.padding_mask(self._check_frame(frame))

    # -- windows ------------------------------------------------------------------
    @_memory_bounded
    def frame_range(self, frame: int = 0) -> tuple[float, float]:
        """(min, max) of a frame's modality values, padding and NaN excluded."""
        f = self._check_frame(frame)
        return (0.0, 255.0) if self.is_color else self._frames.data_range(f)

    @property
    def value_range(self) -> tuple[float, float]:
        """Range of modality values the stored bits can express (trackbar limits)."""
        if self.is_color:
            return 0.0, 255.0
        ends = pipeline.expressible_range(self._layout, self._frames.params(0).modality)
        return ends if ends is not None else self.frame_range(0)

    @_memory_bounded
    def resolve_voi(
        self,
        frame: int = 0,
        *,
        center: float | None = None,
        width: float | None = None,
        mode: str | None = None,
        voi: int | None = None,
        preset: str | Preset | None = None,
    ) -> VoiSelection:
        """The VOI :meth:`render` applies for these arguments, and where it comes from (see render)."""
        f = self._check_frame(frame)
        p = self._frames.params(f)
        if p.first_window_invalid and preset is None and voi is None and (center is None or width is None):
            instead = "the next stored VOI" if p.vois else "a min-max window"
            self.warn(f"{p.first_window_invalid}; using {instead}")
        return pipeline.resolve_voi(
            p.vois,
            lambda: pipeline.minmax_window(*self.frame_range(f)),
            p.function,
            center=center,
            width=width,
            mode=mode,
            voi=voi,
            preset=preset,
            where=self.path,
        )

    @_memory_bounded
    def default_window(self, frame: int = 0) -> Window:
        """The file's own first VOI as a Window (a VOI LUT's linear equivalent), or the min-max window.

        Unpacks as ``center, width, mode``.
        """
        if self.is_color:
            self._check_frame(frame)
            return Window(127.5, 256.0)
        return super().default_window(frame)

    @_memory_bounded
    def auto_window(self, frame: int = 0, low: float = 0.5, high: float = 99.5) -> PairWindow:
        """The window spanning the ``low``..``high`` percentiles of the frame, padding excluded.

        Unpacks as ``center, width``.
        """
        f = self._check_frame(frame)
        if self.is_color:
            return PairWindow(127.5, 256.0, explanation="auto")
        return super().auto_window(f, low, high)

    # -- rendering ---------------------------------------------------------------
    @_memory_bounded
    def render(
        self,
        center: float | None = None,
        width: float | None = None,
        *,
        frame: int = 0,
        options: RenderOptions | None = None,
        **changes: Any,
    ) -> np.ndarray:
        """The display image of a frame: ``uint8`` (rows, columns), or BGR (rows, columns, 3) for colour.

        ``options`` (a :class:`~dcmlib.displayable.RenderOptions`) says how; keywords
        change it (``mode``, ``invert``, ``voi``, ``preset``, ``overlays``, ``shutters``,
        ``pstate``, ``annotations``, ``segmentation``, ``seg_alpha``, ``seg_outline``),
        and ``center``/``width`` set the window.  The VOI is, in this order:
        ``center``/``width`` (a missing one taken from the file's window), ``preset``,
        the ``voi``-th stored VOI (1-based), else the file's first VOI or a min-max
        window; ``mode`` overrides the VOI LUT Function.  MONOCHROME1 and
        Presentation LUT Shape INVERSE are honoured; ``invert`` flips the result.
        Colour images ignore the window.  Then ``overlays`` draws the overlay planes
        (PS3.3 C.9.2) and ``shutters`` applies the display shutter (C.7.6.11).

        ``pstate`` (see :func:`dcmlib.load_pstate`) renders the frame as the state
        says: its Modality LUT, VOI and Presentation LUT, its shutter instead of the
        image's, the overlays it activates, rotation, flip and displayed area, and
        (unless ``annotations`` is False) its graphic and text annotations; a state
        made for another image raises :class:`~dcmlib.objects.pstate.PresentationStateError`.
        A window given here overrides the state's VOI.

        ``segmentation`` (see :func:`dcmlib.load_segmentation`) is blended over the
        frame at ``seg_alpha`` (its contours only with ``seg_outline``), after the
        overlays and shutter and before a state's spatial stages and annotations;
        the output is then BGR.
        """
        opts = RenderOptions.of(options, center=center, width=width, **changes)
        if opts.pstate is not None:
            return render_with_state(self, opts.pstate, frame, opts)
        out = self._render(frame, opts)
        planes = self.object_layers(frame, overlays=opts.overlays, shutters=opts.shutters)
        if planes is not None:
            out = apply_layers(np.array(out), planes, self.shutter_fill(frame))
        seg = opts.seg
        return out if seg is None else seg[0].apply(out, frame, seg[1], seg[2])

    def pstate_ref(self, frame: int = 0) -> tuple[str, int]:
        """(SOP Instance UID, 1-based frame number in its file) of a frame: what a presentation state references."""
        ref = self._frames.refs[self._check_frame(frame)]
        with header_errors(self.path):
            return str(ref.header.get("SOPInstanceUID", "") or ""), ref.index + 1

    def pstates(self) -> list[PresentationState]:
        """The presentation states next to the image (its folder, or the series folder) that reference it,
        found and parsed once (unreadable ones are skipped)."""
        return list(self._found_pstates)

    @functools.cached_property
    def _found_pstates(self) -> tuple[PresentationState, ...]:
        return tuple(find_pstates(self.path, set(image_slices(self))))

    def display_objects(self, frame: int = 0) -> DisplayObjects:
        """The overlay planes and display shutter of the frame's file (PS3.3 C.9.2, C.7.6.11), parsed once."""
        objects, new = self._frames.display_objects(self._check_frame(frame))
        for note in objects.notes if new else ():
            self.warn(note)
        return objects

    def object_layers(self, frame: int = 0, *, overlays: bool = True, shutters: bool = True) -> np.ndarray | None:
        """The frame's overlays and shutter as :func:`~dcmlib.objects.overlays.layers` planes, or None (none apply)."""
        if not (overlays or shutters):
            return None
        ref = self._frames.refs[self._check_frame(frame)]
        return layers(
            self.display_objects(frame), ref.index, self.rows, self.columns, overlays=overlays, shutters=shutters
        )

    def shutter_fill(self, frame: int = 0) -> tuple[int, int, int] | int:
        """What the shutter shows on this image's 8-bit output: a grey level, or BGR for colour (C.7.6.11)."""
        return fill_value(self.display_objects(frame), self.is_color)

    def _render(self, frame: int, opts: RenderOptions) -> np.ndarray:
        """:meth:`render` without the display objects: the grey or colour pipeline alone."""
        f = self._check_frame(frame)
        if self.is_color:
            return pipeline.color_display(self.values(f), opts.invert)
        sel = self.resolve_voi(f, **opts.window)
        p, stored = self._frames.params(f), self._frames.stored(f)
        inverted = needs_inversion(self.photometric, p.lut_shape, opts.invert)
        if stored.dtype in (np.uint8, np.int8, np.uint16, np.int16):
            lo, hi = self._frames.stored_range(f)
            table = pipeline.display_table(
                lo, hi, 256 if stored.dtype.itemsize == 1 else 65536, p.modality, sel.voi, inverted, p.padding
            )
            return pipeline.apply_table(stored, table)
        out = pipeline.to_display(self.values(f), sel.voi, inverted)
        mask = self.padding_mask(f)
        if mask is not None:
            out[mask] = 0
        return out

    @_memory_bounded
    def render_values(
        self,
        values: np.ndarray,
        center: float | None = None,
        width: float | None = None,
        *,
        frame: int = 0,
        options: RenderOptions | None = None,
        **changes: Any,
    ) -> np.ndarray:
        """Window any array of modality values (e.g. a resized viewport) with this image's pipeline.

        Same VOI resolution and polarity as :meth:`render`; grayscale only.
        """
        if self.is_color:
            raise InvalidArgumentError("render_values is for grayscale images", self.path)
        return super().render_values(values, center, width, frame=self._check_frame(frame), options=options, **changes)

    def reformat(self, plane: str, progress: Callable[[int, int], None] | None = None) -> ReformattedImage:
        """The series as slices through ``plane``: ``axial``, ``coronal`` or ``sagittal`` (see reformat).

        Returns a :class:`~dcmlib.images.reformat.ReformattedImage` with this class's
        interface; the volume (PS3.3 C.7.6.2.1.1 geometry) lives in this image's
        frame cache. ``progress(done, total)`` is called while it is built.
        """
        from dcmlib.images.reformat import reformat

        return reformat(self, plane, progress)

    def inverted(self, frame: int = 0, invert: bool = False) -> bool:
        """Whether the frame is shown with reversed grey levels: MONOCHROME1, INVERSE (C.11.6), ``invert``."""
        f = self._check_frame(frame)
        return (
            bool(invert)
            if self.is_color
            else needs_inversion(self.photometric, self._frames.params(f).lut_shape, invert)
        )


def load(
    source: str | os.PathLike[str] | Dataset,
    *,
    series: str | int | None = None,
    cache_mb: float | None = None,
    on_warning: Warn | None = None,
    read_ahead: bool = True,
) -> DicomImage:
    """Open a DICOM file, a folder (one series as a stack) or a Dataset.

    Headers are read now; pixel data are decoded on first use and cached.
    ``series`` picks a series in a folder (UID or 1-based index); ``cache_mb``
    bounds the frame cache; ``on_warning`` receives recoverable problems (by
    default they become :class:`~dcmlib.errors.DcmviewWarning`). A series
    decodes the next slices in the scroll direction on a background thread
    unless ``read_ahead`` is False.

    Raises :class:`~dcmlib.errors.DcmviewError` subclasses on bad input.
    """
    if isinstance(source, Dataset):
        return DicomImage(_file_frames(source, source, None), name="dataset", cache_mb=cache_mb, on_warning=on_warning)
    path = Path(source)
    if not path.exists():
        raise NotDicomError("no such file or directory", path)
    if path.is_dir():
        from dcmlib.read.series import describe_series, open_folder

        found, chosen = open_folder(path, series, on_warning=on_warning)
        listing = f"{len(found)} series in {path.name or path}:\n{describe_series(found)}"
        label = f"#{found.index(chosen) + 1} of {len(found)}: {chosen.label()}" if len(found) > 1 else ""
        return DicomImage(
            chosen.frames,
            name=path.name or str(path),
            path=str(path),
            read_ahead=read_ahead,
            listing=listing,
            series_label=label,
            cache_mb=cache_mb,
            on_warning=on_warning,
        )
    ds, notes = io.read_file(path)
    img = DicomImage(
        _file_frames(ds, path, path), name=path.name, path=str(path), cache_mb=cache_mb, on_warning=on_warning
    )
    for note in notes:
        img.warn(note)
    return img


def _file_frames(ds: Dataset, source: Path | Dataset, path: Path | None) -> list[FrameRef]:
    """One file's frames, its pixel data checked before one reference per claimed frame is built.

    Pixel data left on disk (a very large file) decode frame by frame from the path.
    """
    with header_errors(path):
        pixels = io.pixel_element(ds)
        lay = layout(ds, pixels, path)
        assert pixels is not None  # layout raised NoPixelDataError otherwise
        check_pixel_data(ds, lay, pixels, path, path.stat().st_size if path is not None else None)
    src = str(source) if pixels.value is None and path is not None else ds
    return [FrameRef(src, ds, pixels, i) for i in range(lay.frames)]

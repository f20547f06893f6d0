"""The viewer state as plain immutable values: :class:`ViewerState` and its parts (trackbar scale, window
choices, measurements, drag origin), and :class:`VoiSource`, what the state logic reads from an image."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from dcmlib.displayable import DEFAULT_ALPHA
from dcmlib.values.lut import VoiFunction, VoiLut, Window
from dcmlib.viewer.labels import format_number
from dcmlib.viewer.viewport import Viewport

if TYPE_CHECKING:  # pipeline pulls in OpenCV; the state logic only names its types
    from dcmlib.render.pipeline import VoiSelection
    from dcmlib.values.presets import Preset

__all__ = [
    "VoiSource",
    "ViewerState",
    "TrackbarScale",
    "trackbar_step",
    "DragOrigin",
    "Choice",
    "Measurement",
]

#: The fewest trackbar positions a window's range gets: a finer step than 1 only when the range is narrower.
MIN_POSITIONS = 100


def trackbar_step(span: float) -> float:
    """The trackbar step for a value range ``span`` units wide: 1, or the power of ten below 1 that
    still gives :data:`MIN_POSITIONS` positions (a range of 0..1 steps by 0.01).

    >>> trackbar_step(255.0), trackbar_step(100.0), trackbar_step(4.095), trackbar_step(1.0)
    (1.0, 1.0, 0.01, 0.01)
    """
    if not math.isfinite(span) or span <= 0:
        return 1.0
    return min(1.0, 10.0 ** math.floor(math.log10(span / MIN_POSITIONS)))


@dataclass(frozen=True)
class TrackbarScale:
    """Integer trackbar positions for a range of modality values.

    ``value = pos * step``.  The step is fixed for the life of a window (the
    trackbars' names say it, see :meth:`name`); the range only ever widens to
    hold the window shown (:meth:`including`).
    """

    lo: float
    hi: float
    step: float

    @classmethod
    def for_range(cls, lo: float, hi: float, step: float | None = None) -> TrackbarScale:
        """A scale over ``lo``..``hi``; ``step`` by default :func:`trackbar_step` of its span."""
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            hi = lo + 1.0 if math.isfinite(lo) else 1.0
            lo = lo if math.isfinite(lo) else 0.0
        return cls(lo, hi, float(step) if step else trackbar_step(hi - lo))

    @property
    def span(self) -> float:
        return self.hi - self.lo

    def name(self, what: str) -> str:
        """The trackbar's name: ``center`` (step 1) or ``center x0.01`` (value = position x 0.01)."""
        return what if self.step == 1.0 else f"{what} x{format_number(self.step)}"

    def to_pos(self, value: float) -> int:
        return int(round(value / self.step))

    def to_value(self, pos: int) -> float:
        # round to the step's decimals so 0.1 * 3 reads 0.3, not 0.30000000000000004
        digits = max(0, -int(math.floor(math.log10(self.step))))
        return round(pos * self.step, digits)

    def center_range(self) -> tuple[int, int]:
        return int(math.floor(self.lo / self.step)), int(math.ceil(self.hi / self.step))

    def width_range(self) -> tuple[int, int]:
        return 1, max(2, int(math.ceil(2 * self.span / self.step)))

    def including(self, center: float, width: float, whole: bool = False) -> TrackbarScale:
        """This scale widened (never narrowed, same step) so a window's center and width have positions.

        ``whole``: a center not strictly inside the range widens it to the window's both ends, so a
        stored window or a preset never sits pinned at an end; else (a user's window: a trackbar moved
        to its end must not push the end on) the range just reaches the center.
        """
        if not (math.isfinite(center) and math.isfinite(width)):
            return self
        lo, hi = self.lo, self.hi
        if whole and not lo < center < hi:
            lo, hi = min(lo, center - width / 2), max(hi, center + width / 2)
        lo, hi = min(lo, center), max(hi, center)
        if width > 2 * (hi - lo):
            hi = lo + width / 2
        return self if (lo, hi) == (self.lo, self.hi) else TrackbarScale(lo, hi, self.step)


class VoiSource(Protocol):
    """What the state logic reads from an image: the part of :class:`dcmlib.displayable.DisplayImage` it uses,
    so any image is one (and so is the viewer's image with its auto windows remembered).

    The VOI precedence is the image's (:meth:`~dcmlib.images.image.DicomImage.resolve_voi`,
    PS3.3 C.11.2); the state logic only maps its answer to a state.
    """

    @property
    def is_color(self) -> bool: ...

    @property
    def unit(self) -> str: ...

    @property
    def is_series(self) -> bool: ...

    @property
    def cine_rate(self) -> tuple[float, str] | None: ...

    @property
    def value_range(self) -> tuple[float, float]: ...

    def __len__(self) -> int: ...

    def frame_range(self, frame: int = 0) -> tuple[float, float]: ...

    def vois(self, frame: int = 0) -> list[Window | VoiLut]: ...

    def resolve_voi(
        self,
        frame: int = 0,
        *,
        center: float | None = None,
        width: float | None = None,
        mode: str | None = None,
        voi: int | None = None,
        preset: str | Preset | None = None,
    ) -> VoiSelection: ...

    def default_window(self, frame: int = 0) -> Window: ...

    def auto_window(self, frame: int = 0, low: float = 0.5, high: float = 99.5) -> Window: ...


#: A pixel probe: image column, row and the modality value (colour: the RGB triple).
Probe = tuple[int, int, "float | tuple[int, ...]"]

#: The auto window of ``a`` and the first auto entry of the cycle: percentiles of the frame.
AUTO = (0.5, 99.5)


@dataclass(frozen=True)
class Choice:
    """One window of the ``p`` / ``1``-``9`` cycle.

    ``kind`` is ``"preset"`` (``preset`` set), ``"voi"`` (the ``voi``-th stored
    VOI, 1-based), ``"auto"`` (the ``low``..``high`` percentiles of the frame) or
    ``"range"`` (the frame's whole data range).
    """

    kind: str
    label: str
    preset: Preset | None = None
    voi: int | None = None
    low: float = 0.0
    high: float = 100.0


@dataclass(frozen=True)
class Measurement:
    """A ruler (``"ruler"``) or an ellipse ROI (``"ellipse"``, its bounding box) on one frame.

    The points are image coordinates (continuous: pixel i covers ``[i, i+1)``),
    so a measurement moves with zoom and pan; the numbers are
    :mod:`dcmlib.viewer.measure`'s.
    """

    kind: str
    frame: int
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def empty(self) -> bool:
        """A click without a drag: no length (ruler) or no area (ellipse)."""
        if self.kind == "ruler":
            return (self.x0, self.y0) == (self.x1, self.y1)
        return self.x0 == self.x1 or self.y0 == self.y1


@dataclass(frozen=True)
class DragOrigin:
    """Where a drag started: the pointer (view pixels) and what it changes from.

    ``kind`` ``"window"`` (left drag): ``center``/``width`` at button-down and
    the value ``span`` the drag covers; ``"pan"`` (right or middle drag): the
    image point ``(cx, cy)`` at the canvas centre at button-down.
    """

    x: int
    y: int
    center: float
    width: float
    kind: str = "window"
    span: float = 0.0
    cx: float = 0.0
    cy: float = 0.0


@dataclass(frozen=True)
class ViewerState:
    """Everything the window shows, as plain values.

    ``frame`` is 0-based (the shell and file names show it 1-based, like
    ``--frame``).  ``mode`` is the VOI LUT Function applied to ``center`` /
    ``width`` (PS3.3 C.11.2.1.3); ``file_mode`` the one the file's own window
    uses.  Where the window comes from: ``preset`` (a preset's name), ``voi``
    (the 1-based index of the stored VOI; ``lut`` when that is a VOI LUT,
    rendered with ``voi=``, center and width then its equivalent linear window),
    ``minmax`` (the file stores no VOI, the window spans the data), ``auto``
    (the percentiles of an auto window); else a user window.  ``choices`` is the
    ``p`` cycle for this image and ``choice`` the entry shown.

    ``viewport`` is what part of the image the canvas shows (zoom and pan);
    ``smooth`` is bicubic magnification (``x`` toggles nearest neighbour).
    ``pointer`` is the last pointer position over the image.  Cine: ``playing``
    at ``fps``, paced from ``cine_clock`` (time, frame), ``shown_at`` the times
    the last frames were shown.  Measurements: ``tool`` armed for the next left
    drag, ``drawing`` the one being drawn, ``measurements`` the finished ones.
    ``drag`` is the drag in progress.  ``request`` is a one-shot order for the
    shell (``'snapshot'``, ``'snapshot-shown'``, ``'measured'``, ``'quit'``)
    that it clears with ``replace(state, request=None)`` once done.
    """

    center: float
    width: float
    scale: TrackbarScale
    mode: VoiFunction = VoiFunction.LINEAR
    preset: str | None = None
    voi: int | None = None
    lut: bool = False
    minmax: bool = False
    auto: tuple[float, float] | None = None
    frame: int = 0
    n_frames: int = 1
    n_vois: int = 0
    invert: bool = False
    annotations: bool = True
    help: bool = False
    viewport: Viewport | None = None
    smooth: bool = True
    overlays: bool = True  #: draw the overlay planes (PS3.3 C.9.2); ``l`` toggles
    shutters: bool = True  #: apply the display shutter (C.7.6.11)
    segmentation: bool | None = None  #: blend the ``--seg`` segmentation (None: none loaded); ``k`` toggles
    seg_alpha: float = DEFAULT_ALPHA  #: its opacity; ``K`` steps it (:data:`~dcmlib.viewer.controls.SEG_ALPHAS`)
    seg_outline: bool = False  #: only the segments' contours
    pstate: bool | None = None  #: show the image through its presentation state (None: none found); ``g`` toggles
    probe: Probe | None = None
    pointer: tuple[int, int] | None = None
    is_color: bool = False
    unit: str = ""
    file_mode: VoiFunction = VoiFunction.LINEAR
    choices: tuple[Choice, ...] = ()
    choice: int | None = None
    playing: bool = False
    fps: float = 10.0
    cine_clock: tuple[float, int] | None = None
    shown_at: tuple[float, ...] = ()
    tool: str | None = None
    drawing: Measurement | None = None
    measurements: tuple[Measurement, ...] = ()
    drag: DragOrigin | None = None
    request: str | None = None
    message: str | None = field(default=None, compare=False)

    @property
    def min_width(self) -> float:
        """LINEAR needs width >= 1 (PS3.3 C.11.2.1.2.1); the other modes one trackbar step."""
        return max(self.scale.step, 1.0) if self.mode is VoiFunction.LINEAR else self.scale.step

    @property
    def zoom(self) -> float:
        """View pixels per image pixel."""
        return self.viewport.zoom if self.viewport is not None else 1.0

    @property
    def cycles_to_file(self) -> bool:
        """Whether ``p`` steps from the last choice to the file's window (the CT presets), rather than
        around the cycle (which then holds the file's window itself)."""
        return not any(c.kind in ("voi", "range") for c in self.choices)

    @property
    def file_window(self) -> bool:
        """Whether the window is the file's own (a stored VOI or the min-max window), not one the user
        chose (a drag, the trackbars, a preset, an auto window): each frame of a file then shows its own."""
        return not self.is_color and self.preset is None and self.auto is None and (self.voi is not None or self.minmax)

"""Viewer state and what each key, drag, wheel step, trackbar move or clock tick does.

Plain Python, no OpenCV: ``dcmview.py`` translates HighGUI events into the
functions below, :class:`dcmlib.viewer.view.View` draws the result, and the tests
drive them without a display.  A :class:`ViewerState` is immutable; every handler returns a new
state (or the same object when nothing changed, so the shell can skip a
re-render).

Handlers that need numbers from the image (the file's own window, the stored
VOIs, the auto window) take the image as ``image``: a :class:`VoiSource`, the
part of :class:`dcmlib.displayable.DisplayImage` they read.  Which VOI applies is the
image's decision (``image.resolve_voi``, the library's one VOI precedence);
this module maps its :class:`~dcmlib.render.pipeline.VoiSelection` to a state.

Key codes: ``cv2.waitKeyEx`` returns different numbers for the same key on
different HighGUI back ends.  :data:`KEY_CODES` maps every code we know to a
symbolic name, and :class:`KeyDecoder` turns a raw code into that name:

* Qt on X11 (opencv-python's wheels): printable keys come back as *lower
  case* ASCII (``QTest::keyToAscii``), so ``P`` and ``p`` are both 0x70; the
  other keys are the X keysym (``nativeVirtualKey``): Left 0xff51, Home 0xff50,
  Page Up 0xff55, and Shift itself 0xffe1.  The decoder reads a letter as
  upper case when a Shift press came just before it (:data:`SHIFT_HOLD_S`).
  Qt platforms without native key codes return the ``Qt::Key`` enum
  (Left 0x01000012).
* GTK: the GDK keysym (Left 0xff51, ``P`` 0x50) OR-ed with the modifier state
  shifted left by 16 (Shift 0x10000, Num Lock 0x100000).
* Win32: the virtual-key code shifted left by 16 (Left 0x250000).
* Cocoa: the Unicode function-key character (Left 0xf702).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dcmlib.displayable import DEFAULT_ALPHA
from dcmlib.errors import InvalidArgumentError
from dcmlib.values.lut import VoiFunction, VoiLut, Window
from dcmlib.values.presets import PRESETS, applies_hu
from dcmlib.viewer.viewport import Viewport

if TYPE_CHECKING:  # pipeline pulls in OpenCV; the state logic only names its types
    from dcmlib.render.pipeline import VoiSelection
    from dcmlib.values.presets import Preset

__all__ = [
    "VoiSource",
    "ViewerState",
    "TrackbarScale",
    "trackbar_step",
    "KEY_CODES",
    "KeyDecoder",
    "decode_key",
    "HELP",
    "HELP_LINES",
    "initial_state",
    "display_range",
    "on_key",
    "DragOrigin",
    "on_button_down",
    "on_drag",
    "on_button_up",
    "on_wheel",
    "on_hover",
    "on_trackbar",
    "set_window",
    "trackbar_positions",
    "trackbar_ranges",
    "format_number",
    "snapshot_name",
    "annotation_lines",
    "window_label",
    "view_lines",
    "help_rows",
    "Choice",
    "choices_for",
    "Measurement",
    "zoom_key",
    "on_tick",
    "next_tick",
    "achieved_fps",
    "cine_fps",
]

#: Display mode names in the order ``m`` cycles them; the ``mode`` trackbar position is the index.
_FUNCTIONS: tuple[VoiFunction, ...] = tuple(VoiFunction)  #: the mode trackbar's positions, in lut.MODES' order

# --------------------------------------------------------------------------- keys

_NAMED = ("Left", "Right", "Up", "Down", "PageUp", "PageDown", "Home", "End")

#: waitKeyEx code -> symbolic key name, for every HighGUI back end we know.
KEY_CODES: dict[int, str] = {
    27: "Esc",
    # X11 keysyms: GTK, and Qt on X11 (nativeVirtualKey)
    0xFF1B: "Esc",
    0xFF50: "Home",
    0xFF51: "Left",
    0xFF52: "Up",
    0xFF53: "Right",
    0xFF54: "Down",
    0xFF55: "PageUp",
    0xFF56: "PageDown",
    0xFF57: "End",
    # X11 keypad keysyms (Num Lock off)
    0xFF95: "Home",
    0xFF96: "Left",
    0xFF97: "Up",
    0xFF98: "Right",
    0xFF99: "Down",
    0xFF9A: "PageUp",
    0xFF9B: "PageDown",
    0xFF9C: "End",
    # X11 modifier keysyms
    0xFFE1: "Shift",
    0xFFE2: "Shift",
    0xFFE3: "Ctrl",
    0xFFE4: "Ctrl",
    0xFFE5: "CapsLock",
    0xFFE7: "Meta",
    0xFFE8: "Meta",
    0xFFE9: "Alt",
    0xFFEA: "Alt",
    0xFFEB: "Super",
    0xFFEC: "Super",
    0xFE03: "AltGr",
    # Qt::Key enum (Qt platforms without native virtual keys)
    0x01000000: "Esc",
    0x01000010: "Home",
    0x01000011: "End",
    0x01000012: "Left",
    0x01000013: "Up",
    0x01000014: "Right",
    0x01000015: "Down",
    0x01000016: "PageUp",
    0x01000017: "PageDown",
    0x01000020: "Shift",
    0x01000021: "Ctrl",
    0x01000022: "Meta",
    0x01000023: "Alt",
    0x01000024: "CapsLock",
    # Win32: virtual-key code << 16
    0x210000: "PageUp",
    0x220000: "PageDown",
    0x230000: "End",
    0x240000: "Home",
    0x250000: "Left",
    0x260000: "Up",
    0x270000: "Right",
    0x280000: "Down",
    # Cocoa: NS*FunctionKey characters
    0xF700: "Up",
    0xF701: "Down",
    0xF702: "Left",
    0xF703: "Right",
    0xF729: "Home",
    0xF72B: "End",
    0xF72C: "PageUp",
    0xF72D: "PageDown",
    # the space bar (every back end: ASCII, X11 keysym) and the keypad's + and - (X11 keysyms)
    0x20: "space",
    0xFF80: "space",
    0xFFAB: "+",
    0xFFAD: "-",
}

_MODIFIERS = frozenset({"Shift", "Ctrl", "Meta", "Alt", "CapsLock", "Super", "AltGr"})

#: Seconds after a Shift press (Qt reports it as a key of its own) during which the
#: next letter counts as upper case.  Qt reports no key releases, so one Shift press
#: shifts one key: a later ``s`` is never mistaken for ``S``, and stepping back
#: through presets takes Shift+P for each step.
SHIFT_HOLD_S = 1.0


def decode_key(code: int) -> str | None:
    """Symbolic name of a ``cv2.waitKeyEx`` code, or None for no key / an unknown one.

    Printable ASCII comes back as the character itself (``'p'``, ``'P'``, ``'1'``);
    other keys as ``'Left'``, ``'PageDown'``, ``'Esc'``, ``'Shift'`` ...
    GTK's modifier bits (``state << 16``) are dropped: GDK already gives the
    shifted keysym (``P`` is 0x50).
    """
    if code is None or code < 0:
        return None
    if code in KEY_CODES:
        return KEY_CODES[code]
    if code < 0x01000000 and code > 0xFFFF:  # GTK: keyval | state << 16
        low = code & 0xFFFF
        if low in KEY_CODES:
            return KEY_CODES[low]
        code = low
    if 0x20 <= code <= 0x7E:
        return chr(code)
    return None


class KeyDecoder:
    """Stateful :func:`decode_key` that restores upper case on Qt builds.

    opencv-python's Qt back end returns ``p`` for both ``p`` and ``Shift+p``
    but reports the Shift press itself (0xffe1) just before.  Feed every
    waitKeyEx result with the current time; modifiers return None.
    """

    def __init__(self, hold_s: float = SHIFT_HOLD_S):
        self.hold_s = hold_s
        self._shift_at: float | None = None

    def __call__(self, code: int, now: float) -> str | None:
        key = decode_key(code)
        if key is None:
            return None
        if key == "Shift":
            self._shift_at = now
            return None
        if key in _MODIFIERS:
            return None
        shifted = self._shift_at is not None and now - self._shift_at <= self.hold_s
        self._shift_at = None  # one Shift press shifts one key
        if shifted and len(key) == 1 and key.isalpha():
            return key.upper()
        return key


# --------------------------------------------------------------------------- help

#: The key list as (keys, action) rows, shown by ``h`` and copied into the README.  The ``1 - 9``
#: rows are a CT's; :func:`help_rows` lists the cycle of the image that is open.
HELP: tuple[tuple[str, str], ...] = (
    ("p / P", "next / previous preset, then the file's window"),
    ("1 - 9", "1 lung  2 bone  3 brain  4 soft tissue"),
    ("", "5 mediastinum  6 liver  7 stroke"),
    ("", "8 subdural  9 temporal bone"),
    ("0 / r", "the file's own window"),
    ("v", "next VOI stored in the file"),
    ("a", "auto window (0.5 - 99.5 % of the frame)"),
    ("m", "mode: linear, linear-exact, sigmoid"),
    ("i", "invert"),
    ("o", "annotations on / off"),
    ("t", "plane: axial, coronal, sagittal (a series)"),
    ("l", "overlays (60xx) on / off"),
    ("k / K", "segmentation (--seg) on / off; its opacity"),
    ("g", "presentation state (GSPS) on / off"),
    ("h", "this help on / off"),
    ("n Right Down PageDown", "next frame"),
    ("b Left Up PageUp", "previous frame"),
    ("Home / End", "first / last frame"),
    ("mouse wheel", "next (down) / previous (up) frame"),
    ("left drag", "right: wider window, down: higher center"),
    ("+ = / -", "zoom in / out (around the pointer); also Ctrl+wheel"),
    ("f / z", "fit to the window / actual pixels (1:1)"),
    ("right or middle drag", "pan"),
    ("x", "nearest neighbour (see the pixels) / smooth"),
    ("space", "play / pause the frames (cine)"),
    ("[ / ]", "half / double the cine rate"),
    ("d", "ruler: the next left drag measures a length"),
    ("e", "ellipse: the next left drag measures a region"),
    ("c", "clear the measurements"),
    ("s", "snapshot, full resolution (= --export)"),
    ("S", "save the window as shown"),
    ("q / Esc", "quit"),
)

#: The same as plain text lines.
HELP_LINES: tuple[str, ...] = tuple(f"{k:<22}{a}" for k, a in HELP)


# --------------------------------------------------------------------------- state


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
    PS3.3 C.11.2); this module only maps its answer to a state.
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
    seg_alpha: float = DEFAULT_ALPHA  #: its opacity; ``K`` steps it (:data:`SEG_ALPHAS`)
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


# --------------------------------------------------------------------------- windows


def _selected(state: ViewerState, sel: VoiSelection, n_vois: int, choice: int | None = None) -> ViewerState:
    """The state showing a :class:`~dcmlib.render.pipeline.VoiSelection`: its window and where it came from.

    A VOI LUT keeps its index (``lut``) and shows its equivalent linear window
    on the trackbars; a preset is kept by its name.
    """
    w = sel.window
    st = replace(
        state,
        center=float(w.center),
        width=float(w.width),
        mode=w.function,
        preset=None if sel.preset is None else sel.preset.name,
        voi=sel.index,
        lut=sel.is_lut,
        minmax=sel.source == "minmax",
        auto=None,
        n_vois=n_vois,
        choice=choice,
    )
    if st.width < st.min_width:  # a preset narrower than LINEAR allows (none is, today)
        st = replace(st, width=st.min_width)
    return _in_scale(st, whole=True)


def _in_scale(state: ViewerState, whole: bool = False) -> ViewerState:
    """The trackbar range widened to hold the window shown (see :meth:`TrackbarScale.including`)."""
    scale = state.scale.including(state.center, state.width, whole)
    return state if scale is state.scale else replace(state, scale=scale)


def _file_window(state: ViewerState, image: VoiSource) -> ViewerState:
    """The file's own window: its first stored VOI, else min-max (the image's default selection)."""
    sel = image.resolve_voi(state.frame)
    st = _selected(state, sel, len(image.vois(state.frame)))
    return replace(st, file_mode=st.mode, choice=_choice_of(st))


def _choice_of(state: ViewerState) -> int | None:
    """The cycle entry the state's window is, when the cycle holds the file's own window."""
    for i, c in enumerate(state.choices):
        if (c.kind == "voi" and c.voi == state.voi) or (c.kind == "range" and state.minmax):
            return i
    return None


def set_window(state: ViewerState, center: float, width: float) -> ViewerState:
    """A user window: clamps width to at least one trackbar step, forgets preset/VOI/auto."""
    width = max(float(width), state.min_width)
    return _in_scale(
        replace(
            state,
            center=float(center),
            width=width,
            preset=None,
            voi=None,
            auto=None,
            lut=False,
            minmax=False,
            choice=None,
        )
    )


def display_range(image: VoiSource, frame: int = 0) -> tuple[float, float]:
    """The value range the trackbars and the drag speed span.

    The frame's data range (``image.frame_range``) widened to hold the file's
    own window, within ``image.value_range`` (what the stored bits can express).
    A 16-bit CT whose bits allow -32768..32767 HU but whose data lie in
    -1024..3071 gets trackbars over the data, not over 65536 useless steps.
    """
    vlo, vhi = (float(v) for v in image.value_range)
    if image.is_color:
        return vlo, vhi
    lo, hi = (float(v) for v in image.frame_range(frame))
    w = image.default_window(frame)
    lo, hi = min(lo, w.center - w.width / 2), max(hi, w.center + w.width / 2)
    lo, hi = max(lo, vlo), min(hi, vhi)
    return (lo, hi) if hi > lo else (vlo, vhi)


def value_step(image: VoiSource) -> float:
    """The trackbar step for an image: :func:`trackbar_step` of the range its stored bits can express
    through its rescale (``image.value_range``; float data: the first frame's range), so an 8-bit image,
    a CT or an MR with Rescale Slope 2.1 step by 1 and only a genuinely fractional range by less."""
    lo, hi = (float(v) for v in image.value_range)
    return 1.0 if image.is_color else trackbar_step(hi - lo)


def choices_for(image: VoiSource, user: Sequence[Preset] = (), frame: int = 0) -> tuple[Choice, ...]:
    """The ``p`` / ``1``-``9`` cycle that fits the image.

    Images whose modality values are HU (CT, and PET/CT-like data with Rescale
    Type HU): the CT presets, then the user's presets for the modality.  Any
    other image: its stored windows and VOI LUTs, the auto windows (0.5-99.5 %,
    2-98 %) and the full data range, then the user's presets.  Colour: none.
    """
    if image.is_color:
        return ()
    own = tuple(Choice("preset", p.name, preset=p) for p in user)
    if applies_hu(image.unit):
        return tuple(Choice("preset", p.name, preset=p) for p in PRESETS.values()) + own
    stored = []
    for i, v in enumerate(image.vois(frame), 1):
        what = "VOI LUT" if isinstance(v, VoiLut) else "VOI"
        stored.append(Choice("voi", f"file {what} {i}", voi=i))
    autos = (
        Choice("auto", "auto 0.5-99.5 %", low=AUTO[0], high=AUTO[1]),
        Choice("auto", "auto 2-98 %", low=2.0, high=98.0),
        Choice("range", "full range"),
    )
    return tuple(stored) + autos + own


def initial_state(
    image: VoiSource,
    *,
    center: float | None = None,
    width: float | None = None,
    preset: str | Preset | None = None,
    voi: int | None = None,
    mode: str | VoiFunction | None = None,
    frame: int = 0,
    invert: bool = False,
    user_presets: Sequence[Preset] = (),
    fps: float | None = None,
    step: float | None = None,
) -> ViewerState:
    """The start state from the image and the command line (same flags as export).

    ``frame`` is 0-based, ``voi`` 1-based.  The window is the image's own
    choice for these flags (:meth:`~dcmlib.images.image.DicomImage.resolve_voi`), so
    the viewer opens on what ``--export`` writes; it raises on flags the CLI
    would refuse.  ``user_presets`` are the user's presets for this image's
    modality (:func:`choices_for`); ``fps`` the cine rate, by default
    :func:`cine_fps`; ``step`` the trackbar step, by default :func:`value_step` (pass the old
    state's when the same window shows another image: the trackbars keep their names).
    """
    lo, hi = display_range(image, frame)
    st = ViewerState(
        center=0.0,
        width=1.0,
        scale=TrackbarScale.for_range(lo, hi, step or value_step(image)),
        frame=int(frame),
        n_frames=len(image),
        invert=bool(invert),
        is_color=image.is_color,
        unit=image.unit or "",
        fps=float(fps) if fps else cine_fps(image),
        choices=choices_for(image, user_presets, frame),
    )
    if st.is_color:
        return st
    st = replace(st, file_mode=image.default_window(frame).function)
    sel = image.resolve_voi(frame, center=center, width=width, mode=mode, voi=voi, preset=preset)
    st = _selected(st, sel, len(image.vois(frame)))
    if sel.preset is not None:
        index = next((i for i, c in enumerate(st.choices) if c.preset == sel.preset), None)
        return replace(st, choice=index)
    return replace(st, choice=None if sel.source == "user" else _choice_of(st))


def _apply_choice(state: ViewerState, index: int | None, image: VoiSource) -> ViewerState:
    """Entry ``index`` of the cycle in the current mode (presets, auto) or its own (stored VOIs);
    the file's window for None."""
    if index is None:
        return _file_window(state, image)
    c = state.choices[index]
    if c.kind == "preset" and c.preset is not None:  # a "preset" entry has one
        sel = image.resolve_voi(state.frame, preset=c.preset, mode=state.mode if c.preset.function is None else None)
        return _selected(state, sel, state.n_vois, index)
    if c.kind == "voi" and c.voi is not None:  # a "voi" entry has one
        n = len(image.vois(state.frame))
        if c.voi > n:  # a series slice storing fewer VOIs than the first
            return replace(state, message=f"this frame stores {n} VOI{'s' if n != 1 else ''}, not {c.voi}")
        return _selected(state, image.resolve_voi(state.frame, voi=c.voi), n, index)
    if c.kind == "auto":
        w = image.auto_window(state.frame, c.low, c.high)
        center, width = w.center, w.width
    else:  # "range": the frame's data
        lo, hi = image.frame_range(state.frame)
        center, width = (lo + hi) / 2.0, hi - lo
    st = set_window(state, center, width)
    return replace(st, auto=(c.low, c.high), choice=index)


def _step_choice(state: ViewerState, step: int, image: VoiSource) -> ViewerState:
    """``p`` (+1) / ``P`` (-1): the next / previous entry of the cycle.

    The CT presets step on to the file's window after the last one; a cycle
    that holds the file's window (stored VOIs, full range) goes around.
    """
    n, cur = len(state.choices), state.choice
    if n == 0:
        return _file_window(state, image)
    if state.cycles_to_file:
        first, last = (0, n - 1) if step > 0 else (n - 1, 0)
        nxt = first if cur is None else None if cur == last else cur + step
    else:
        nxt = (0 if step > 0 else n - 1) if cur is None else (cur + step) % n
    return _apply_choice(state, nxt, image)


def _select_voi(state: ViewerState, index: int, image: VoiSource) -> ViewerState:
    """The ``index``-th stored VOI (1-based, wrapping around), in its own VOI LUT Function."""
    n = len(image.vois(state.frame))
    if not n:
        return replace(state, message="no VOI stored in the file")
    st = _selected(state, image.resolve_voi(state.frame, voi=(index - 1) % n + 1), n)
    return replace(st, choice=_choice_of(st))


def _set_mode(state: ViewerState, mode: VoiFunction) -> ViewerState:
    st = replace(state, mode=mode)
    if st.width < st.min_width:  # LINEAR cannot show a window narrower than 1
        st = replace(st, width=st.min_width)
    return st


def _next_mode(state: ViewerState) -> ViewerState:
    return _set_mode(state, _FUNCTIONS[(_FUNCTIONS.index(state.mode) + 1) % len(_FUNCTIONS)])


def _window_key(state: ViewerState, key: str, image: VoiSource) -> ViewerState:
    """``p``/``P`` step through the cycle, ``1``-``9`` pick an entry of it, ``0``/``r`` the file's
    window, ``v`` the next stored VOI, ``a`` the auto window, ``m`` the next mode."""
    if key == "m":
        return _next_mode(state)
    if key in "pP":
        return _step_choice(state, 1 if key == "p" else -1, image)
    if key in "123456789":
        k = int(key) - 1
        if k >= len(state.choices):
            return replace(state, message=f"no window {key} for this image (h lists them)")
        return _apply_choice(state, k, image)
    if key in "0r":
        return _file_window(state, image)
    if key == "v":
        return _select_voi(state, 1 if state.voi is None else state.voi + 1, image)
    auto = image.auto_window(state.frame, *AUTO)  # "a"
    return replace(set_window(state, auto.center, auto.width), auto=AUTO)


# --------------------------------------------------------------------------- frames and cine

#: Cine rates when the file gives none (frames per second): a multi-frame file, a series.
CINE_FPS_FILE = 10.0
CINE_FPS_SERIES = 20.0
#: ``[`` / ``]`` keep the rate within these.
CINE_FPS_RANGE = (0.5, 240.0)
#: The achieved rate is measured over the last this many frames shown.
CINE_WINDOW = 32


def cine_fps(image: VoiSource) -> float:
    """The rate to play at: the file's (Cine Rate, Frame Time, Frame Time Vector, Recommended
    Display Frame Rate, PS3.3 C.7.6.5), else 10 frames/s for a file and 20 slices/s for a series."""
    rate = image.cine_rate
    if rate is not None:
        return min(max(rate[0], CINE_FPS_RANGE[0]), CINE_FPS_RANGE[1])
    return CINE_FPS_SERIES if image.is_series else CINE_FPS_FILE


def _goto_frame(state: ViewerState, frame: int, image: VoiSource | None = None) -> ViewerState:
    """Frame ``frame`` (clamped), with its own window when the state shows the file's (:func:`_frame_window`)."""
    frame = min(max(int(frame), 0), state.n_frames - 1)
    if frame == state.frame:
        return state
    return _frame_window(replace(state, frame=frame, probe=None), image)


def _frame_window(state: ViewerState, image: VoiSource | None) -> ViewerState:
    """The frame's own window (its stored VOI of the same number, else its min-max window), as
    ``--export --frame N`` renders it, while the state shows the file's window (PS3.3 C.7.6.16.2.10:
    an enhanced multi-frame file may store a window per frame).  A series keeps the window it has (its
    slices are one volume), and so does a user's window; a mode chosen with ``m`` stays.
    """
    if image is None or image.is_series or not state.file_window:
        return state
    n = len(image.vois(state.frame))
    if state.voi is not None and state.voi > n:
        return state  # this frame stores fewer VOIs: keep the one shown
    mode = None if state.mode is state.file_mode else state.mode
    try:
        sel = image.resolve_voi(state.frame, voi=state.voi, mode=mode)
    except InvalidArgumentError:  # the frame's window is too narrow for the mode chosen
        sel = image.resolve_voi(state.frame, voi=state.voi)
    st = _selected(replace(state, file_mode=image.default_window(state.frame).function), sel, n)
    return replace(st, choice=_choice_of(st))


def _pause(state: ViewerState) -> ViewerState:
    return replace(state, playing=False, cine_clock=None) if state.playing else state


def _toggle_play(state: ViewerState) -> ViewerState:
    if state.n_frames < 2:
        return replace(state, message="one frame: nothing to play")
    if state.playing:
        return _pause(state)
    return replace(state, playing=True, cine_clock=None, shown_at=())


def _set_fps(state: ViewerState, fps: float) -> ViewerState:
    """A new cine rate; playback re-paces from the frame shown now."""
    fps = min(max(fps, CINE_FPS_RANGE[0]), CINE_FPS_RANGE[1])
    return replace(state, fps=fps, cine_clock=None, shown_at=())


def on_tick(state: ViewerState, now: float, image: VoiSource | None = None) -> ViewerState:
    """The clock read ``now`` (seconds) while playing: the frame due now, paced by the clock.

    Frame ``f0 + floor((now - t0) * fps)`` (looping) is shown, counted from the
    frame and time playback started (``cine_clock``).  When rendering cannot
    keep up, the frames in between are skipped, so the rate holds and
    :func:`achieved_fps` is lower.  Not playing: no change.  ``image`` gives each frame its own
    window, as :func:`on_key`'s frame keys do.
    """
    if not state.playing:
        return state
    if state.cine_clock is None:
        return replace(state, cine_clock=(now, state.frame), shown_at=(now,))
    t0, f0 = state.cine_clock
    frame = (f0 + _frames_due(now - t0, state.fps)) % state.n_frames
    if frame == state.frame:
        return state
    return _frame_window(
        replace(state, frame=frame, probe=None, shown_at=(state.shown_at + (now,))[-CINE_WINDOW:]), image
    )


def next_tick(state: ViewerState, now: float) -> float | None:
    """Seconds from ``now`` until the next frame is due (0 when one is), None when not playing."""
    if not state.playing:
        return None
    if state.cine_clock is None:
        return 0.0
    t0, _ = state.cine_clock
    done = _frames_due(now - t0, state.fps) + 1
    return max(0.0, t0 + done / state.fps - now)


def _frames_due(elapsed: float, fps: float) -> int:
    """Whole frame periods in ``elapsed`` seconds; a period ending within a microsecond counts (float
    clocks: 0.1 s at 10 fps is 0.9999999999 periods)."""
    return int(math.floor(elapsed * fps + 1e-6))


def achieved_fps(state: ViewerState) -> float | None:
    """Frames shown per second over the last :data:`CINE_WINDOW` frames, None before two."""
    t = state.shown_at
    if len(t) < 2 or t[-1] <= t[0]:
        return None
    return (len(t) - 1) / (t[-1] - t[0])


# --------------------------------------------------------------------------- zoom and pan


def _view_point(state: ViewerState, x: float | None = None, y: float | None = None) -> tuple[float, float] | None:
    """Where to zoom around: (x, y) when given, else the pointer when it is over the image, else the centre."""
    if x is not None and y is not None:
        return float(x) + 0.5, float(y) + 0.5
    if state.pointer is not None and state.probe is not None:
        return state.pointer[0] + 0.5, state.pointer[1] + 0.5
    return None


def _set_viewport(state: ViewerState, vp: Viewport) -> ViewerState:
    return state if vp == state.viewport else replace(state, viewport=vp)


def zoom_key(state: ViewerState, key: str) -> ViewerState:
    """``+``/``=`` and ``-`` (a sqrt(2) step around the pointer), ``f`` (fit), ``z`` (1:1)."""
    vp = state.viewport
    if vp is None:
        return state
    if key == "f":
        return _set_viewport(state, vp.fit_view())
    anchor = _view_point(state)
    if key == "z":
        return _set_viewport(state, vp.zoomed(1.0, anchor))
    return _set_viewport(state, vp.stepped(1 if key in "+=" else -1, anchor))


# --------------------------------------------------------------------------- keys

#: Keys that choose a window; colour images have none, so these do nothing there.
_WINDOW_KEYS = frozenset("pP1234567890rvam")

_TOGGLES: dict[str, Callable[[ViewerState], ViewerState]] = {
    "i": lambda s: replace(s, invert=not s.invert),
    "o": lambda s: replace(s, annotations=not s.annotations),
    "h": lambda s: replace(s, help=not s.help),
    "x": lambda s: replace(s, smooth=not s.smooth),
    "l": lambda s: replace(s, overlays=not s.overlays),
}
_FRAME_STEPS = {"Right": 1, "Down": 1, "PageDown": 1, "n": 1, "Left": -1, "Up": -1, "PageUp": -1, "b": -1}
_REQUESTS = {"s": "snapshot", "S": "snapshot-shown", "q": "quit", "Esc": "quit", "t": "plane"}
_ZOOM_KEYS = frozenset({"+", "=", "-", "f", "z"})
_TOOLS = {"d": "ruler", "e": "ellipse"}


#: The opacities ``K`` steps through, in turn.
SEG_ALPHAS = (0.2, 0.4, 0.6, 0.8, 1.0)


def _segmentation_key(state: ViewerState, key: str) -> ViewerState:
    """``k``: the segmentation on / off; ``K``: the next opacity of :data:`SEG_ALPHAS` (after the last, the first)."""
    if state.segmentation is None:
        return replace(state, message="no segmentation: open one with --seg FILE")
    if key == "k":
        return replace(state, segmentation=not state.segmentation)
    alpha = next((a for a in SEG_ALPHAS if a > state.seg_alpha + 1e-9), SEG_ALPHAS[0])
    return replace(state, seg_alpha=alpha, segmentation=True)


def on_key(state: ViewerState, key: str | None, image: VoiSource | None = None) -> ViewerState:
    """Apply one symbolic key (from :class:`KeyDecoder`); unknown keys change nothing.

    The window keys (the cycle, ``0``/``r``, ``v``, ``a``) read ``image``.  A
    frame key pauses the cine; on a multi-frame file whose window is the file's own
    (:attr:`ViewerState.file_window`) the new frame shows its own stored window, as
    ``--export --frame N`` does (without ``image``, the window stays).
    """
    if key is None:
        return state
    if state.message is not None:
        state = replace(state, message=None)
    if key in _WINDOW_KEYS:
        if state.is_color:
            return state
        if image is None:
            if key != "m":
                raise ValueError(f"key {key!r} needs the image")
            return _next_mode(state)
        return _window_key(state, key, image)
    if key in ("k", "K"):
        return _segmentation_key(state, key)
    if key == "g":
        if state.pstate is None:
            return replace(state, message="no presentation state: none found next to the image (--pstate FILE)")
        return replace(state, pstate=not state.pstate)
    if key in _TOGGLES:
        return _TOGGLES[key](state)
    if key in _FRAME_STEPS:
        return _goto_frame(_pause(state), state.frame + _FRAME_STEPS[key], image)
    if key in ("Home", "End"):
        return _goto_frame(_pause(state), 0 if key == "Home" else state.n_frames - 1, image)
    if key in _ZOOM_KEYS:
        return zoom_key(state, key)
    if key == "space":
        return _toggle_play(state)
    if key in ("[", "]"):
        return _set_fps(state, state.fps * (0.5 if key == "[" else 2.0))
    if key in _TOOLS:
        tool = None if state.tool == _TOOLS[key] else _TOOLS[key]
        return replace(state, tool=tool, drawing=None)
    if key == "c":
        return replace(state, measurements=(), drawing=None, tool=None)
    if key in _REQUESTS:
        return replace(state, request=_REQUESTS[key])
    return state


# --------------------------------------------------------------------------- mouse


def _round_to(value: float, step: float) -> float:
    digits = max(0, -int(math.floor(math.log10(step))))
    return round(round(value / step) * step, digits)


def _image_point(state: ViewerState, x: float, y: float) -> tuple[float, float]:
    """The image point under view position (x, y) (the pixel centre's point; identity without a viewport)."""
    if state.viewport is None:
        return float(x) + 0.5, float(y) + 0.5
    return state.viewport.to_image(x, y)


def on_button_down(state: ViewerState, x: int, y: int, button: str = "left") -> ViewerState:
    """A button went down at view position (x, y).

    ``left``: a measurement starts when a tool is armed (``d``, ``e``), else a
    window drag (grey images).  ``right`` or ``middle``: a pan.
    """
    if button in ("right", "middle"):
        vp = state.viewport
        if vp is None:
            return state
        return replace(state, drag=DragOrigin(int(x), int(y), state.center, state.width, "pan", cx=vp.cx, cy=vp.cy))
    if state.tool is not None:
        px, py = _image_point(state, x, y)
        return replace(state, drawing=Measurement(state.tool, state.frame, px, py, px, py), drag=None)
    if state.is_color:
        return state
    return replace(state, drag=DragOrigin(int(x), int(y), state.center, state.width, "window", span=state.scale.span))


def on_drag(state: ViewerState, x: int, y: int, view_w: int, view_h: int) -> ViewerState:
    """The pointer moved to view position (x, y) with a button down.

    A measurement being drawn follows the pointer; a pan moves the image with
    the pointer (:meth:`~dcmlib.viewer.viewport.Viewport.panned_from`); a window drag
    sets the window from the one at button-down (``state.drag``) moved by the
    total displacement since then.  A drag across the whole view (``view_w`` x
    ``view_h`` display pixels) changes the value by the full value range:

    * right = wider window (less contrast), left = narrower;
    * down = higher center (darker image), up = lower center (brighter).

    This is the convention of common radiology viewers (horizontal = width,
    vertical = level).  Results are rounded to the trackbar step, so they read
    cleanly in annotations and snapshot names, and width stays >= one step.
    Everything else in the state (frame, mode, invert, ...) is the current
    state's, so a key pressed mid-drag stays.  No drag in progress: no change.
    """
    if state.drawing is not None:
        px, py = _image_point(state, x, y)
        m = state.drawing
        return state if (px, py) == (m.x1, m.y1) else replace(state, drawing=replace(m, x1=px, y1=py))
    origin = state.drag
    if origin is None:
        return state
    if origin.kind == "pan":
        vp = state.viewport
        return (
            state
            if vp is None
            else _set_viewport(state, vp.panned_from((origin.cx, origin.cy), x - origin.x, y - origin.y))
        )
    if state.is_color:
        return state
    dx, dy = x - origin.x, y - origin.y
    if dx == 0 and dy == 0:
        center, width = origin.center, origin.width
    else:
        span, step = origin.span or state.scale.span, state.scale.step
        width = _round_to(origin.width + dx * span / max(int(view_w), 1), step)
        center = _round_to(origin.center + dy * span / max(int(view_h), 1), step)
    if (center, width) == (state.center, state.width):
        return state
    return set_window(state, center, width)


def on_button_up(state: ViewerState) -> ViewerState:
    """The drag ends (button released, or a move reported without the button).

    A measurement with a length or an area is kept (the tool is then disarmed)
    and the shell asked to report it (``request='measured'``); a click alone
    leaves the tool armed.
    """
    if state.drawing is not None:
        m = state.drawing
        if m.empty:
            return replace(state, drawing=None, drag=None)
        return replace(
            state, drawing=None, drag=None, tool=None, measurements=state.measurements + (m,), request="measured"
        )
    return state if state.drag is None else replace(state, drag=None)


def on_wheel(
    state: ViewerState,
    delta: int,
    ctrl: bool = False,
    x: int | None = None,
    y: int | None = None,
    image: VoiSource | None = None,
) -> ViewerState:
    """Mouse wheel: towards the user (delta < 0, 'scroll down') = next frame, away = previous
    (pausing the cine; ``image`` gives the frame its own window, see :func:`on_key`); with Ctrl,
    zoom out / in around view position (x, y)."""
    if delta == 0:
        return state
    if ctrl:
        vp = state.viewport
        return (
            state if vp is None else _set_viewport(state, vp.stepped(1 if delta > 0 else -1, _view_point(state, x, y)))
        )
    return _goto_frame(_pause(state), state.frame + (1 if delta < 0 else -1), image)


def on_hover(
    state: ViewerState,
    x: int | None,
    y: int | None,
    value: float | tuple[int, ...] | None = None,
    at: tuple[int, int] | None = None,
) -> ViewerState:
    """Pixel probe at image pixel (x, y) with its modality value (or RGB tuple); None clears it.

    ``at`` is the pointer's view position (kept to zoom around).
    """
    probe = None if x is None or y is None or value is None else (int(x), int(y), value)
    pointer = state.pointer if at is None else (int(at[0]), int(at[1]))
    if probe == state.probe and pointer == state.pointer:
        return state
    return replace(state, probe=probe, pointer=pointer)


# --------------------------------------------------------------------------- trackbars


def trackbar_ranges(state: ViewerState) -> dict[str, tuple[int, int]]:
    """(min, max) position of each trackbar the shell should create, by name.

    The window's trackbars read in the image's units: ``center`` and ``width``, or, where the
    step is finer than 1, ``center x0.01`` and ``width x0.01`` (value = position x 0.01).
    """
    ranges = {}
    if not state.is_color:
        ranges[state.scale.name("center")] = state.scale.center_range()
        ranges[state.scale.name("width")] = state.scale.width_range()
        ranges["mode"] = (0, len(_FUNCTIONS) - 1)
    if state.n_frames > 1:
        ranges["frame"] = (1, state.n_frames)
    return ranges


def trackbar_positions(state: ViewerState) -> dict[str, int]:
    """Where each trackbar should sit for this state (clamped to its range).

    The shell sets these after every change; :func:`on_trackbar` returns the
    state unchanged when a trackbar reports the position it was just given,
    so setting a trackbar never feeds back into the state.
    """
    ranges = trackbar_ranges(state)
    pos = {}
    if "mode" in ranges:
        pos[state.scale.name("center")] = state.scale.to_pos(state.center)
        pos[state.scale.name("width")] = state.scale.to_pos(state.width)
        pos["mode"] = _FUNCTIONS.index(state.mode)
    if "frame" in ranges:
        pos["frame"] = state.frame + 1
    return {k: min(max(v, ranges[k][0]), ranges[k][1]) for k, v in pos.items()}


def on_trackbar(state: ViewerState, name: str, pos: int, image: VoiSource | None = None) -> ViewerState:
    """The trackbar ``name`` (a :func:`trackbar_ranges` name) moved to ``pos``; the position
    :func:`trackbar_positions` gave it = no change.  ``frame`` reads ``image`` like :func:`on_key`."""
    pos = int(pos)
    if trackbar_positions(state).get(name) == pos:
        return state
    if name == "frame":
        return _goto_frame(_pause(state), pos - 1, image)
    if state.is_color:
        return state
    what = name.split(" x")[0]  # "center x0.01" is the center at step 0.01
    if what == "center":
        return set_window(state, state.scale.to_value(pos), state.width)
    if what == "width":
        return set_window(state, state.center, state.scale.to_value(max(pos, 1)))
    if name == "mode":
        return _set_mode(state, _FUNCTIONS[min(max(pos, 0), len(_FUNCTIONS) - 1)])
    raise ValueError(f"unknown trackbar {name!r}")


# --------------------------------------------------------------------------- text


def format_number(x: float) -> str:
    """Shortest positional decimal that parses back to exactly ``x`` (no exponent, no trailing zeros).

    >>> format_number(-600.0), format_number(0.1), format_number(1e-05), format_number(2.5e20)
    ('-600', '0.1', '0.00001', '250000000000000000000')
    """
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"cannot format {x!r}")
    if x == 0:
        return "0"
    text = format(Decimal(repr(x)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def window_label(state: ViewerState) -> str:
    """Where the current window comes from: preset name, stored VOI, auto or user."""
    if state.preset is not None:
        return f"preset {state.preset}"
    if state.voi is not None:
        source = "state" if state.pstate else "file"  # a presentation state's Softcopy VOI LUT (C.11.8)
        return f"{source} {'VOI LUT' if state.lut else 'VOI'} {state.voi}/{state.n_vois}"
    if state.auto == (0.0, 100.0):
        return "full range"
    if state.auto is not None:
        return f"auto window {format_number(state.auto[0])}-{format_number(state.auto[1])} %"
    if state.minmax:
        return "min-max window (file has none)"
    return "user window"


def help_rows(state: ViewerState) -> list[tuple[str, str]]:
    """:data:`HELP` for the image that is open: its own ``p`` cycle in place of the CT presets."""
    if not state.choices or [c.preset for c in state.choices] == list(PRESETS.values()):
        return list(HELP)
    names = [f"{i} {c.label}" for i, c in enumerate(state.choices[:9], 1)]
    lines, line = [], ""
    for n in names:
        if line and len(line) + 2 + len(n) > 42:
            lines.append(line)
            line = n
        else:
            line = f"{line}  {n}" if line else n
    lines.append(line)
    then = "then the file's window" if state.cycles_to_file else "around"
    rows = [("p / P", f"next / previous window, {then}")]
    rows += [("1 - 9" if i == 0 else "", text) for i, text in enumerate(lines)]
    if len(state.choices) > 9:
        rows.append(("", f"(p for the other {len(state.choices) - 9})"))
    return rows + [r for r in HELP if r[0] not in ("p / P", "1 - 9", "")]


def snapshot_name(
    stem: str, state: ViewerState, folder: str | Path = ".", suffix: str = ".png", shown: bool = False
) -> Path:
    """A new file name ``<stem>_f<frame>_c<center>_w<width>[_<mode>][_inv].png`` in ``folder``.

    ``frame`` is 1-based like ``--frame``; center and width are written by
    :func:`format_number` so ``--window C W`` reproduces them exactly.  The
    mode appears only when it differs from the file's own VOI LUT Function
    (export without ``--mode`` uses the file's).  A colour image has no window
    part; a segmentation shown adds ``_seg<alpha>`` (and ``_outline``:
    ``--seg-alpha``, ``--seg-outline``), a frame seen through a presentation
    state ``_pstate`` (``--pstate FILE``); ``shown=True`` (the ``S`` key) adds
    ``_shown``.  Never returns an existing path: ``_2``, ``_3`` ... are
    appended instead.  A stored VOI LUT is named ``_voi<N>`` (``--voi N``)
    instead of a window.
    """
    parts = [stem, f"f{state.frame + 1}"]
    if state.lut:
        parts.append(f"voi{state.voi}")
    elif not state.is_color:
        parts += [f"c{format_number(state.center)}", f"w{format_number(state.width)}"]
        if state.mode is not state.file_mode:
            parts.append(state.mode.mode)
    if state.invert:
        parts.append("inv")
    if state.segmentation:  # --seg F --seg-alpha A [--seg-outline]
        parts.append(f"seg{format_number(state.seg_alpha)}" + ("_outline" if state.seg_outline else ""))
    if state.pstate:  # --pstate FILE
        parts.append("pstate")
    if shown:
        parts.append("shown")
    base = "_".join(parts)
    folder = Path(folder)
    path = folder / f"{base}{suffix}"
    n = 2
    while path.exists():
        path = folder / f"{base}_{n}{suffix}"
        n += 1
    return path


def _format_value(value: float | tuple[int, ...] | None, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Iterable) and not isinstance(value, str):  # RGB: a tuple, list or array
        vals = [int(v) for v in value]
        return "RGB " + " ".join(str(v) for v in vals)
    v = float(value)
    text = format_number(round(v, 2)) if math.isfinite(v) else str(v)
    return f"{text} {unit}".rstrip()


def view_lines(state: ViewerState) -> list[str]:
    """The zoom line (zoom %, nearest neighbour, inverted) and, when part of the image is hidden,
    the visible region's pixel bounds; then the cine line while playing."""
    extras = [f"zoom {format_number(round(state.zoom * 100, 1))}%"]
    if not state.smooth:
        extras.append("nearest")
    if state.invert:
        extras.append("inverted")
    lines = ["  ".join(extras)]
    vp = state.viewport
    if vp is not None and not vp.shows_all():
        x0, y0, x1, y1 = vp.region()
        lines.append(f"view x {math.floor(x0)}-{math.ceil(x1) - 1}  y {math.floor(y0)}-{math.ceil(y1) - 1}")
    if state.playing:
        got = achieved_fps(state)
        shown = f"  achieved {got:.1f} fps" if got is not None else ""
        lines.append(f"play {format_number(round(state.fps, 2))} fps{shown}")
    return lines


def annotation_lines(
    state: ViewerState,
    name: str = "",
    extra: Sequence[str] = (),
    *,
    frame_word: str = "frame",
    position: float | None = None,
    axis: str = "",
) -> list[str]:
    """The overlay text, top to bottom.

    No patient identifiers: the caller passes the file name and any ``extra``
    lines (the patient only with ``--show-patient``). A series says ``slice i/N``
    with the slice ``position`` in mm along its normal; a reformatted plane
    ``coronal 211/512  y -12.5 mm`` (``frame_word`` the plane, ``axis`` the patient axis).
    """
    lines = []
    if name:
        lines.append(name)
    lines.extend(extra)
    if not state.is_color:
        lines.append(f"C {format_number(state.center)}  W {format_number(state.width)}  {state.mode.mode}")
        lines.append(window_label(state))
    if state.n_frames > 1:
        where = f"  {axis + ' ' if axis else ''}{format_number(round(position, 2))} mm" if position is not None else ""
        lines.append(f"{frame_word} {state.frame + 1}/{state.n_frames}{where}")
    lines.extend(view_lines(state))
    if state.segmentation is not None:
        lines.append(
            f"seg on  alpha {format_number(state.seg_alpha)}{'  outline' if state.seg_outline else ''}"
            if state.segmentation
            else "seg off"
        )
    if state.probe is not None:
        x, y, value = state.probe
        lines.append(f"x {x}  y {y}  {_format_value(value, state.unit)}".rstrip())
    if state.tool is not None:
        lines.append(f"{state.tool}: drag with the left button")
    if state.message:
        lines.append(state.message)
    lines.append("h: help")
    return lines

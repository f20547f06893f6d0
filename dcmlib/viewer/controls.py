"""The viewer's events: the start state, and what each key, drag, wheel step, trackbar move or clock tick
does to it.

Plain Python, no OpenCV: ``dcmview.py`` translates HighGUI events into the
functions below, :class:`dcmlib.viewer.view.View` draws the result, and the tests
drive them without a display.  A :class:`~dcmlib.viewer.state.ViewerState` is immutable; every handler returns a new
state (or the same object when nothing changed, so the shell can skip a
re-render).

Handlers that need numbers from the image (the file's own window, the stored
VOIs, the auto window) take the image as ``image``: a :class:`~dcmlib.viewer.state.VoiSource`, the
part of :class:`dcmlib.displayable.DisplayImage` they read.  Which VOI applies is the
image's decision (``image.resolve_voi``, the library's one VOI precedence);
:mod:`dcmlib.viewer.windows` maps its :class:`~dcmlib.render.pipeline.VoiSelection` to a state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from dcmlib.errors import InvalidArgumentError
from dcmlib.values.lut import VoiFunction
from dcmlib.viewer.state import DragOrigin, Measurement, TrackbarScale, ViewerState, VoiSource
from dcmlib.viewer.viewport import Viewport
from dcmlib.viewer.windows import (
    FUNCTIONS,
    choice_of,
    choices_for,
    display_range,
    next_mode,
    selected,
    set_mode,
    set_window,
    value_step,
    window_key,
)

if TYPE_CHECKING:
    from dcmlib.values.presets import Preset

__all__ = [
    "initial_state",
    "on_key",
    "on_button_down",
    "on_drag",
    "on_button_up",
    "on_wheel",
    "on_hover",
    "on_trackbar",
    "trackbar_positions",
    "trackbar_ranges",
    "zoom_key",
    "on_tick",
    "next_tick",
    "cine_fps",
]


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
    modality (:func:`~dcmlib.viewer.windows.choices_for`); ``fps`` the cine rate, by default
    :func:`cine_fps`; ``step`` the trackbar step, by default :func:`~dcmlib.viewer.windows.value_step` (pass the old
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
    st = selected(st, sel, len(image.vois(frame)))
    if sel.preset is not None:
        index = next((i for i, c in enumerate(st.choices) if c.preset == sel.preset), None)
        return replace(st, choice=index)
    return replace(st, choice=None if sel.source == "user" else choice_of(st))


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
    st = selected(replace(state, file_mode=image.default_window(state.frame).function), sel, n)
    return replace(st, choice=choice_of(st))


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
    :func:`~dcmlib.viewer.labels.achieved_fps` is lower.  Not playing: no change.  ``image`` gives each frame its own
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
    """Apply one symbolic key (from :class:`~dcmlib.viewer.keys.KeyDecoder`); unknown keys change nothing.

    The window keys (the cycle, ``0``/``r``, ``v``, ``a``) read ``image``.  A
    frame key pauses the cine; on a multi-frame file whose window is the file's own
    (:attr:`~dcmlib.viewer.state.ViewerState.file_window`) the new frame shows its own stored window, as
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
            return next_mode(state)
        return window_key(state, key, image)
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
        ranges["mode"] = (0, len(FUNCTIONS) - 1)
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
        pos["mode"] = FUNCTIONS.index(state.mode)
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
        return set_mode(state, FUNCTIONS[min(max(pos, 0), len(FUNCTIONS) - 1)])
    raise ValueError(f"unknown trackbar {name!r}")

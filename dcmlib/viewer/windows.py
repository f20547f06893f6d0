"""The window (VOI) the state shows: the file's own, a stored VOI, a preset, an auto or a user window, the
``p`` / ``1``-``9`` cycle and the mode; the image's :class:`~dcmlib.render.pipeline.VoiSelection` as a state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from dcmlib.values.lut import VoiFunction, VoiLut
from dcmlib.values.presets import PRESETS, applies_hu
from dcmlib.viewer.state import AUTO, Choice, ViewerState, VoiSource, trackbar_step

if TYPE_CHECKING:  # pipeline pulls in OpenCV; the state logic only names its types
    from dcmlib.render.pipeline import VoiSelection
    from dcmlib.values.presets import Preset

__all__ = [
    "FUNCTIONS",
    "selected",
    "choice_of",
    "set_window",
    "display_range",
    "value_step",
    "choices_for",
    "set_mode",
    "next_mode",
    "window_key",
]

#: Display mode names in the order ``m`` cycles them; the ``mode`` trackbar position is the index.
FUNCTIONS: tuple[VoiFunction, ...] = tuple(VoiFunction)  #: the mode trackbar's positions, in lut.MODES' order


def selected(state: ViewerState, sel: VoiSelection, n_vois: int, choice: int | None = None) -> ViewerState:
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
    st = selected(state, sel, len(image.vois(state.frame)))
    return replace(st, file_mode=st.mode, choice=choice_of(st))


def choice_of(state: ViewerState) -> int | None:
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


def _apply_choice(state: ViewerState, index: int | None, image: VoiSource) -> ViewerState:
    """Entry ``index`` of the cycle in the current mode (presets, auto) or its own (stored VOIs);
    the file's window for None."""
    if index is None:
        return _file_window(state, image)
    c = state.choices[index]
    if c.kind == "preset" and c.preset is not None:  # a "preset" entry has one
        sel = image.resolve_voi(state.frame, preset=c.preset, mode=state.mode if c.preset.function is None else None)
        return selected(state, sel, state.n_vois, index)
    if c.kind == "voi" and c.voi is not None:  # a "voi" entry has one
        n = len(image.vois(state.frame))
        if c.voi > n:  # a series slice storing fewer VOIs than the first
            return replace(state, message=f"this frame stores {n} VOI{'s' if n != 1 else ''}, not {c.voi}")
        return selected(state, image.resolve_voi(state.frame, voi=c.voi), n, index)
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
    st = selected(state, image.resolve_voi(state.frame, voi=(index - 1) % n + 1), n)
    return replace(st, choice=choice_of(st))


def set_mode(state: ViewerState, mode: VoiFunction) -> ViewerState:
    st = replace(state, mode=mode)
    if st.width < st.min_width:  # LINEAR cannot show a window narrower than 1
        st = replace(st, width=st.min_width)
    return st


def next_mode(state: ViewerState) -> ViewerState:
    return set_mode(state, FUNCTIONS[(FUNCTIONS.index(state.mode) + 1) % len(FUNCTIONS)])


def window_key(state: ViewerState, key: str, image: VoiSource) -> ViewerState:
    """``p``/``P`` step through the cycle, ``1``-``9`` pick an entry of it, ``0``/``r`` the file's
    window, ``v`` the next stored VOI, ``a`` the auto window, ``m`` the next mode."""
    if key == "m":
        return next_mode(state)
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

"""The text the viewer shows and writes: numbers, where the window comes from, the annotation and help
lines, the cine rate achieved, snapshot file names."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from dcmlib.values.presets import PRESETS
from dcmlib.viewer.keys import HELP

if TYPE_CHECKING:  # the state's module writes its trackbar names with format_number
    from dcmlib.viewer.state import ViewerState

__all__ = [
    "format_number",
    "window_label",
    "help_rows",
    "snapshot_name",
    "achieved_fps",
    "view_lines",
    "annotation_lines",
]


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
    """:data:`~dcmlib.viewer.keys.HELP` for the image that is open: its own ``p`` cycle in place of the CT presets."""
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


def achieved_fps(state: ViewerState) -> float | None:
    """Frames shown per second over the last :data:`~dcmlib.viewer.controls.CINE_WINDOW` frames, None before two."""
    t = state.shown_at
    if len(t) < 2 or t[-1] <= t[0]:
        return None
    return (len(t) - 1) / (t[-1] - t[0])


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

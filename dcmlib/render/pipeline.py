"""The display pipeline's policies, written once: which VOI applies, the display table, padding, viewports.

The stage functions (:mod:`dcmlib.values.lut`, :mod:`dcmlib.values.presentation`,
:mod:`dcmlib.values.color`) do the arithmetic; this module decides how they combine,
for the library's ``render``, ``--export``, the viewer and the benchmarks alike:

- :func:`resolve_voi`: the one VOI precedence (a user window, a preset, a stored
  VOI by number, else the file's first VOI or a min-max window) with its
  validation and messages (PS3.3 C.11.2);
- :func:`display_table`: the whole grey pipeline as one table over the stored
  codes, applied with ``cv2.LUT`` (:func:`apply_table`);
- :func:`to_display`: the same pipeline on any array of modality values;
- padding (PS3.3 C.7.5.1.1.2) is background: left out of min-max and auto
  windows, shown as 0 whatever the polarity;
- :func:`pyramid` / :func:`resample_region`, then :func:`window_viewport`: the
  one place where the viewer's visible region is resampled and windowed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from dcmlib.errors import ErrorPath, InvalidArgumentError
from dcmlib.read.header import Layout
from dcmlib.values.lut import (
    LutData,
    Modality,
    VoiFunction,
    VoiLut,
    Window,
    check_window,
    lut_lookup,
    modality_lut,
    voi_lut,
    voi_window,
)
from dcmlib.values.presentation import invert_unit, presentation_lut, to_uint8
from dcmlib.values.presets import Preset, get_preset

__all__ = [
    "VoiSelection",
    "expressible_range",
    "resolve_voi",
    "minmax_window",
    "percentile_window",
    "apply_modality",
    "to_display",
    "display_table",
    "apply_table",
    "color_display",
    "padding_mask",
    "data_range",
    "window_viewport",
    "pyramid",
    "resample_region",
]


# ----------------------------------------------------------------------------- VOI


@dataclass(frozen=True)
class VoiSelection:
    """The VOI a render applies and where it came from.

    ``voi`` is a :class:`~dcmlib.values.lut.Window` or a stored
    :class:`~dcmlib.values.lut.VoiLut`; ``source`` is ``"user"``, ``"preset"``,
    ``"stored"`` (``index`` is then its 1-based number) or ``"minmax"`` (the
    file stores no usable VOI).
    """

    voi: Window | VoiLut
    source: str
    index: int | None = None
    preset: Preset | None = None

    @property
    def window(self) -> Window:
        """The window, or a VOI LUT's equivalent linear window (what sliders start from)."""
        if isinstance(self.voi, Window):
            return self.voi
        c, w = self.voi.equivalent_window()
        return Window(c, w, VoiFunction.LINEAR, self.voi.explanation)

    @property
    def is_lut(self) -> bool:
        return isinstance(self.voi, VoiLut)


def minmax_window(lo: float, hi: float) -> Window:
    """The window that maps the data range ``lo..hi`` onto the full output range.

    Integer data: LINEAR maps ``[c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2]`` to
    0..1 (PS3.3 C.11.2.1.2.1), so ``c = (lo + hi + 1) / 2`` and ``w = hi - lo + 1``.
    Real-valued data: LINEAR_EXACT over ``lo..hi`` (C.11.2.1.3.2).
    """
    if float(lo).is_integer() and float(hi).is_integer():
        return Window((lo + hi + 1) / 2.0, hi - lo + 1.0, VoiFunction.LINEAR, "min-max")
    return Window((lo + hi) / 2.0, max(hi - lo, 1e-6), VoiFunction.LINEAR_EXACT, "min-max")


def expressible_range(lay: Layout, modality: Modality) -> tuple[float, float] | None:
    """The modality values the stored bits can express (C.7.6.3.1.4, C.11.1): the Modality LUT's output
    range, or both ends of the stored range rescaled; None for float or 32-bit data (use the data range)."""
    if lay.keyword != "PixelData" or lay.bits_allocated > 16:
        return None
    if modality.lut is not None:
        return float(modality.lut.entries.min()), float(modality.lut.entries.max())
    bits = min(lay.bits_stored, lay.bits_allocated)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if lay.signed else (0, (1 << bits) - 1)
    ends = apply_modality(np.array([lo, hi], dtype=np.int64), modality)
    return float(ends.min()), float(ends.max())


def percentile_window(values: np.ndarray, mask: np.ndarray | None, low: float, high: float) -> tuple[float, float]:
    """(center, width) spanning the ``low``..``high`` percentiles of the values outside ``mask``.

    Sampled to about a million values; NaN ignored; width at least 1.
    """
    sel = values[~mask] if mask is not None else values.reshape(-1)
    sample = sel.reshape(-1)[:: max(1, sel.size // 1_000_000)]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = (float(x) for x in np.percentile(sample, [low, high]))
    return (lo + hi) / 2.0, max(hi - lo, 1.0)


def resolve_voi(
    vois: Sequence[Window | VoiLut],
    fallback: Callable[[], Window],
    function: VoiFunction,
    *,
    center: float | None = None,
    width: float | None = None,
    mode: str | VoiFunction | None = None,
    voi: int | None = None,
    preset: str | Preset | None = None,
    where: ErrorPath = None,
) -> VoiSelection:
    """The VOI to apply, by the one precedence every caller uses (PS3.3 C.11.2).

    In this order: ``center``/``width`` (a missing one taken from the default
    VOI), ``preset``, the ``voi``-th stored VOI (1-based), else the default: the
    first stored VOI, or ``fallback()`` (a min-max window) when there is none.
    ``mode`` overrides the VOI LUT Function (``function`` is the file's); a
    user window takes ``function`` unless ``mode`` is given, a preset its own
    function (a user preset may name one), else ``function``.  Raises
    :class:`~dcmlib.errors.InvalidArgumentError` (naming ``where``) for a window
    the function cannot show (LINEAR needs width >= 1, the others > 0), an
    unknown preset or mode, or a VOI number out of range.
    """
    try:
        fn = VoiFunction.parse(mode) if mode is not None else None
        if center is not None or width is not None:
            if center is None or width is None:
                default = _default(vois, fallback).window
                center = default.center if center is None else center
                width = default.width if width is None else width
            fn = fn or function
            check_window(center, width, fn)
            return VoiSelection(Window(float(center), float(width), fn, "user"), "user")
        if preset is not None:
            pr = preset if isinstance(preset, Preset) else get_preset(str(preset))
            return VoiSelection(
                Window(pr.center, pr.width, fn or pr.function or function, pr.name), "preset", preset=pr
            )
        chosen = _stored(vois, voi) if voi is not None else _default(vois, fallback)
        if fn is not None and isinstance(chosen.voi, Window) and fn is not chosen.voi.function:
            w = chosen.voi
            check_window(w.center, w.width, fn)
            chosen = VoiSelection(Window(w.center, w.width, fn, w.explanation), chosen.source, chosen.index)
        return chosen
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(exc.problem, where) from None


def _stored(vois: Sequence[Window | VoiLut], voi: int) -> VoiSelection:
    try:
        n = int(voi)  # checked: API callers may pass anything
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"VOI number must be an integer, got {voi!r}") from None
    if not 1 <= n <= len(vois):
        have = f"1..{len(vois)}" if vois else "the file stores none"
        raise InvalidArgumentError(f"VOI {voi} out of range ({have})")
    return VoiSelection(vois[n - 1], "stored", n)


def _default(vois: Sequence[Window | VoiLut], fallback: Callable[[], Window]) -> VoiSelection:
    return VoiSelection(vois[0], "stored", 1) if vois else VoiSelection(fallback(), "minmax")


# ----------------------------------------------------------------------------- grey pipeline


def apply_modality(stored: np.ndarray, modality: Modality) -> np.ndarray:
    """Stored values to modality values (float32): the Modality LUT, else the rescale (PS3.3 C.11.1)."""
    if modality.lut is not None and stored.dtype.kind in "iub":
        return lut_lookup(stored, modality.lut).astype(np.float32)
    return modality_lut(stored, modality.slope, modality.intercept)


def to_display(values: np.ndarray, voi: Window | VoiLut, inverted: bool, plut: LutData | None = None) -> np.ndarray:
    """Modality values to uint8 grey levels: the VOI (C.11.2), a presentation state's Presentation LUT
    (``plut``, C.11.6.1), then polarity (C.11.6), then 8 bits."""
    if isinstance(voi, VoiLut):
        y = voi_lut(values, voi.lut)
    else:
        y = voi_window(values, voi.center, voi.width, voi.function)
    if plut is not None:
        y = presentation_lut(y, plut)
    if inverted:
        invert_unit(y, out=y)
    return to_uint8(y)


def display_table(
    lo: int,
    hi: int,
    entries: int,
    modality: Modality,
    voi: Window | VoiLut,
    inverted: bool,
    padding: tuple[float, float] | None = None,
    plut: LutData | None = None,
) -> np.ndarray:
    """The whole grey pipeline as one uint8 table indexed by stored code (256 or 65536 ``entries``).

    Only codes ``lo..hi`` (the frame's stored range) are computed; the others
    never occur.  Padding codes are 0 (background).  The table is indexed by
    the code's unsigned bit pattern, as ``cv2.LUT`` reads signed input.  ``plut`` is a presentation
    state's Presentation LUT (C.11.6.1).
    """
    codes = np.arange(lo, hi + 1, dtype=np.int32)
    part = to_display(apply_modality(codes, modality), voi, inverted, plut)
    if padding is not None:
        part[(codes >= padding[0]) & (codes <= padding[1])] = 0
    table = np.zeros(entries, dtype=np.uint8)
    if lo >= 0:
        table[lo : hi + 1] = part
    else:
        table[codes & (entries - 1)] = part
    return table


def apply_table(stored: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Look 8- or 16-bit stored codes up in a :func:`display_table` with ``cv2.LUT``."""
    src = stored.view(np.uint8) if stored.dtype == np.int8 else stored
    return cv2.LUT(src, table).reshape(stored.shape)


def color_display(rgb: np.ndarray, invert: bool = False) -> np.ndarray:
    """RGB uint8 to OpenCV's BGR, optionally inverted (a new array)."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    return cv2.bitwise_not(bgr, dst=bgr) if invert else bgr


def padding_mask(stored: np.ndarray, padding: tuple[float, float] | None) -> np.ndarray | None:
    """Where stored values are Pixel Padding (PS3.3 C.7.5.1.1.2), or None when none is declared."""
    if padding is None:
        return None
    return (stored >= padding[0]) & (stored <= padding[1])


def data_range(values: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    """(min, max) of the values outside ``mask``, NaN excluded; (0, 0) when nothing is left."""
    sel = values[~mask] if mask is not None else values
    if sel.dtype.kind == "f" and not np.isfinite(sel).all():
        sel = sel[np.isfinite(sel)]
    if sel.size == 0:
        return 0.0, 0.0
    return float(sel.min()), float(sel.max())


# ----------------------------------------------------------------------------- viewports


def window_viewport(
    view: np.ndarray,
    mask: np.ndarray | None,
    voi: Window | VoiLut | None,
    inverted: bool,
    plut: LutData | None = None,
) -> np.ndarray:
    """Window a resampled viewport: grey to uint8 with padding as 0; colour (``voi`` None) to BGR.
    ``plut`` is a presentation state's Presentation LUT (C.11.6.1)."""
    if voi is None:
        return color_display(view, inverted)
    out = to_display(np.asarray(view, dtype=np.float32), voi, inverted, plut)
    if mask is not None:
        out[mask] = 0
    return out


# ----------------------------------------------------------------------------- zoom and pan


Level = tuple[np.ndarray, "np.ndarray | None"]


def pyramid(
    values: np.ndarray, mask: np.ndarray | None = None, background: float = 0.0, smallest: int = 128
) -> list[Level]:
    """A frame and its halvings, for resampling any zoom from a level at most twice its size.

    Level 0 is ``values`` with padding (``mask``) set to ``background``, so
    padding does not bleed into averaged pixels; each next level halves the
    previous one with ``INTER_AREA`` (odd sizes round down) while both sides
    stay at least ``smallest``.  Each level's padding is where most of its area
    is padding (a uint8 mask, 255 = padding).
    """
    if mask is not None and not mask.any():
        mask = None
    if mask is not None:
        values = np.where(mask, np.asarray(background, dtype=values.dtype), values)
    levels: list[Level] = [(values, None if mask is None else mask.astype(np.uint8) * 255)]
    while min(levels[-1][0].shape[:2]) // 2 >= smallest:
        v, m = levels[-1]
        size = (v.shape[1] // 2, v.shape[0] // 2)
        levels.append(
            (
                cv2.resize(v, size, interpolation=cv2.INTER_AREA),
                None if m is None else cv2.resize(m, size, interpolation=cv2.INTER_AREA),
            )
        )
    return levels


def resample_region(
    values: np.ndarray,
    canvas: tuple[int, int],
    scale: tuple[float, float],
    offset: tuple[float, float],
    *,
    mask: np.ndarray | None = None,
    smooth: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """The part of ``values`` that lands on a ``canvas`` (width, height) under a zoom and pan.

    Source point (x, y) lands on view point ``(x * scale[0] + offset[0], y *
    scale[1] + offset[1])``, in continuous coordinates (pixel i covers
    ``[i, i+1)``).  Returns the resampled pixels, their padding (``mask``: a
    uint8 mask, 255 = padding, as :func:`pyramid` makes), and the canvas
    position (u0, v0) of their top-left pixel; an empty array when nothing
    lands on the canvas.  Only what is visible is resampled: ``INTER_AREA``
    when minifying (from the whole source pixels visible, placed to the
    nearest view pixel), bicubic when magnifying, nearest neighbour at 1:1 or
    when not ``smooth``.
    """
    if scale[0] < 1.0 or scale[1] < 1.0:
        return _minify(values, mask, canvas, scale, offset)
    w, h = canvas
    rows, cols = values.shape[:2]
    (sx, sy), (ox, oy) = scale, offset
    # view pixels whose centres fall inside the source: 0 <= (u + 0.5 - ox) / sx < cols
    u0, u1 = max(0, math.ceil(ox - 0.5)), min(w, math.ceil(cols * sx + ox - 0.5))
    v0, v1 = max(0, math.ceil(oy - 0.5)), min(h, math.ceil(rows * sy + oy - 0.5))
    if u1 <= u0 or v1 <= v0:
        return values[:0, :0], None, (0, 0)
    # the source pixels they read, with a margin for the bicubic kernel
    xa = max(0, math.floor((u0 + 0.5 - ox) / sx - 0.5) - 2)
    xb = min(cols, math.ceil((u1 - 0.5 - ox) / sx - 0.5) + 3)
    ya = max(0, math.floor((v0 + 0.5 - oy) / sy - 0.5) - 2)
    yb = min(rows, math.ceil((v1 - 0.5 - oy) / sy - 0.5) + 3)
    # inverse map: view pixel centre -> source pixel centre, in the crop's coordinates
    m = np.array([[1.0 / sx, 0.0, (u0 + 0.5 - ox) / sx - 0.5 - xa], [0.0, 1.0 / sy, (v0 + 0.5 - oy) / sy - 0.5 - ya]])
    out_size = (u1 - u0, v1 - v0)
    crop = values[ya:yb, xa:xb]
    if smooth and (sx, sy) != (1.0, 1.0):
        view = _bicubic(crop, (sx, sy), (round(ox + xa * sx) - u0, round(oy + ya * sy) - v0), out_size)
    else:
        view = cv2.warpAffine(
            crop, m, out_size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
        )
    view_mask = None
    if mask is not None:
        view_mask = cv2.warpAffine(
            mask[ya:yb, xa:xb],
            m,
            out_size,
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return view, view_mask, (u0, v0)


def _bicubic(crop: np.ndarray, scale: tuple[float, float], at: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """The crop magnified by ``scale`` with bicubic ``cv2.resize`` (several times faster than a bicubic
    warp), then the ``size`` window whose top-left is output pixel ``-at`` of it; the pan is rounded to
    whole view pixels (under 1/2 view pixel off)."""
    big = cv2.resize(crop, None, fx=scale[0], fy=scale[1], interpolation=cv2.INTER_CUBIC)
    k0, j0 = -at[0], -at[1]
    view = big[max(j0, 0) : j0 + size[1], max(k0, 0) : k0 + size[0]]
    if view.shape[:2] != (size[1], size[0]):  # the rounding left a view pixel uncovered: repeat the edge
        pad = (
            (max(-j0, 0), size[1] - view.shape[0] - max(-j0, 0)),
            (max(-k0, 0), size[0] - view.shape[1] - max(-k0, 0)),
        )
        view = np.pad(view, pad + ((0, 0),) * (view.ndim - 2), mode="edge")
    return view


def _minify(
    values: np.ndarray,
    mask: np.ndarray | None,
    canvas: tuple[int, int],
    scale: tuple[float, float],
    offset: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """:func:`resample_region` below 1:1: the whole source pixels on the canvas, INTER_AREA, clipped."""
    w, h = canvas
    rows, cols = values.shape[:2]
    (sx, sy), (ox, oy) = scale, offset
    xa, xb = max(0, math.floor(-ox / sx)), min(cols, math.ceil((w - ox) / sx))
    ya, yb = max(0, math.floor(-oy / sy)), min(rows, math.ceil((h - oy) / sy))
    if xb <= xa or yb <= ya:
        return values[:0, :0], None, (0, 0)
    ua, ub = round(xa * sx + ox), round(xb * sx + ox)
    va, vb = round(ya * sy + oy), round(yb * sy + oy)
    ub, vb = max(ub, ua + 1), max(vb, va + 1)
    size = (ub - ua, vb - va)
    view = cv2.resize(values[ya:yb, xa:xb], size, interpolation=cv2.INTER_AREA)
    view_mask = None if mask is None else cv2.resize(mask[ya:yb, xa:xb], size, interpolation=cv2.INTER_AREA)
    cu0, cu1, cv0, cv1 = max(ua, 0), min(ub, w), max(va, 0), min(vb, h)
    if cu1 <= cu0 or cv1 <= cv0:
        return values[:0, :0], None, (0, 0)
    crop = (slice(cv0 - va, cv1 - va), slice(cu0 - ua, cu1 - ua))
    return view[crop], None if view_mask is None else view_mask[crop], (cu0, cv0)

"""Drawing on the viewer's BGR frame with OpenCV: outlined text on a translucent dark backing, the help
panel, rulers and ellipses with their numbers, orientation labels and the overview's frame."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

__all__ = [
    "TEXT",
    "SHADOW",
    "MEASURE",
    "OVERVIEW",
    "FONT",
    "BACKING",
    "PANEL",
    "BACKING_PAD",
    "Draw",
    "text_scale",
    "put_text",
    "text_size",
    "backing",
    "text_block",
    "help_panel",
    "measurement_shape",
    "edge_labels",
    "overview",
]

TEXT = (235, 235, 235)
SHADOW = (0, 0, 0)
MEASURE = (0, 215, 255)  # BGR amber: measurements
OVERVIEW = (0, 215, 255)  # the visible region in the overview
FONT = cv2.FONT_HERSHEY_SIMPLEX
#: How much of the image a text block's dark backing hides: white reads as grey 89 behind the text.
BACKING = 0.65
#: How much of the image the help panel hides: white reads as grey 38, so the panel stays dark on any image.
PANEL = 0.85
#: View pixels a backing reaches beyond its text.
BACKING_PAD = 4

_SHIFT = 4  # sub-pixel bits for cv2 drawing


def _fixed(p: tuple[float, float]) -> tuple[int, int]:
    """A continuous view point as cv2's fixed-point pixel coordinates (pixel centres at i + 0.5)."""
    k = 1 << _SHIFT
    return int(round((p[0] - 0.5) * k)), int(round((p[1] - 0.5) * k))


#: Draws a shape in a colour (BGR) and a thickness; what it returns (cv2's image) is not used.
Draw = Callable[[tuple[int, int, int], int], object]


def _outlined(draw: Draw) -> None:
    """Draw a shape dark and 3 px wide, then amber and 1 px wide: visible on any grey."""
    draw(SHADOW, 3)
    draw(MEASURE, 1)


def _draw_ruler(out: np.ndarray, p0: tuple[float, float], p1: tuple[float, float]) -> None:
    a, b = _fixed(p0), _fixed(p1)
    _outlined(lambda c, t: cv2.line(out, a, b, c, t, cv2.LINE_AA, _SHIFT))
    for p in (a, b):
        _outlined(_end_mark(out, p))


def _end_mark(out: np.ndarray, p: tuple[int, int]) -> Draw:
    """A ruler's end: a small circle at fixed-point ``p``."""
    return lambda c, t: cv2.circle(out, p, 3 << _SHIFT, c, t, cv2.LINE_AA, _SHIFT)


def _draw_ellipse(out: np.ndarray, p0: tuple[float, float], p1: tuple[float, float]) -> None:
    k = 1 << _SHIFT
    centre = _fixed(((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2))
    axes = (int(round(abs(p1[0] - p0[0]) / 2 * k)), int(round(abs(p1[1] - p0[1]) / 2 * k)))
    _outlined(lambda c, t: cv2.ellipse(out, centre, axes, 0, 0, 360, c, t, cv2.LINE_AA, _SHIFT))


def measurement_shape(
    out: np.ndarray,
    kind: str,
    p0: tuple[float, float],
    p1: tuple[float, float],
    lines: Sequence[str],
    scale: float,
) -> None:
    """A ruler (``kind`` "ruler") or an ellipse between view points ``p0`` and ``p1``, outlined, and its
    text ``lines`` beside it: right of a ruler's middle, below an ellipse."""
    (u0, v0), (u1, v1) = p0, p1
    if kind == "ruler":
        _draw_ruler(out, p0, p1)
        at = (max(u0, u1) + 8, (v0 + v1) / 2)
    else:
        _draw_ellipse(out, p0, p1)
        at = (min(u0, u1), max(v0, v1) + 18)
    _label(out, lines, at, scale)


def _label(out: np.ndarray, lines: Sequence[str], at: tuple[float, float], scale: float) -> None:
    """Measurement text beside a shape, kept inside the view."""
    if not lines:
        return
    th = text_size("Ag", scale)[1]
    width = max(text_size(t, scale)[0] for t in lines)
    h, w = out.shape[:2]
    x = int(min(max(at[0], 4), w - width - 4))
    y = int(min(max(at[1], th + 4), h - (th + 6) * (len(lines) - 1) - 6))
    text_block(out, lines, x, y - th, scale, MEASURE)


def edge_labels(out: np.ndarray, labels: dict[str, str], scale: float) -> None:
    """Orientation labels (A/P, R/L, H/F) at the middle of the edges named by ``labels``' keys
    ("left", "right", "top", "bottom")."""
    h, w = out.shape[:2]
    for edge, text in labels.items():
        tw, th = text_size(text, scale)
        x = {"left": 6, "right": w - tw - 6}.get(edge, (w - tw) // 2)
        y = {"top": th + 6, "bottom": h - 6}.get(edge, (h + th) // 2)
        text_block(out, [text], x, y - th, scale)


def overview(
    out: np.ndarray, thumb: np.ndarray, region: tuple[float, float, float, float], columns: int, rows: int
) -> None:
    """``thumb`` (the whole frame, BGR) at the bottom right, framed, and the visible ``region`` (x0, y0, x1,
    y1 in the image's ``columns`` x ``rows`` pixels) outlined on it; nothing when the view is too small."""
    th, tw = thumb.shape[:2]
    h, w = out.shape[:2]
    if tw + 16 > w or th + 16 > h:
        return
    x0, y0 = w - tw - 8, h - th - 8
    out[y0 : y0 + th, x0 : x0 + tw] = thumb
    cv2.rectangle(out, (x0 - 1, y0 - 1), (x0 + tw, y0 + th), (160, 160, 160), 1)
    rx0, ry0, rx1, ry1 = region
    sx, sy = tw / columns, th / rows
    p0 = (x0 + int(math.floor(rx0 * sx)), y0 + int(math.floor(ry0 * sy)))
    p1 = (x0 + min(tw - 1, int(math.ceil(rx1 * sx)) - 1), y0 + min(th - 1, int(math.ceil(ry1 * sy)) - 1))
    cv2.rectangle(out, p0, (max(p1[0], p0[0] + 1), max(p1[1], p0[1] + 1)), OVERVIEW, 1)


# ----------------------------------------------------------------------------- text


def text_scale(img: np.ndarray) -> float:
    """The font scale for a view this wide: smaller below 700 pixels."""
    return 0.45 if img.shape[1] < 700 else 0.55


def put_text(
    img: np.ndarray, text: str, org: tuple[int, int], scale: float, color: tuple[int, int, int] = TEXT
) -> None:
    """Light text with a dark outline: readable on any grey.

    The outline is the same text drawn one pixel off in each of the eight
    directions (the diagonals alone leave gaps that look hollow on white): a
    thicker stroke would also be wider (OpenCV 5 fonts advance by thickness).
    """
    x, y = org
    for dx, dy in ((-1, -1), (1, -1), (-1, 1), (1, 1), (-1, 0), (1, 0), (0, -1), (0, 1)):
        cv2.putText(img, text, (x + dx, y + dy), FONT, scale, SHADOW, 1, cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, color, 1, cv2.LINE_AA)


def text_size(text: str, scale: float) -> tuple[int, int]:
    """A line's width and height (baseline included) in view pixels."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    return w, h + base


def backing(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, opacity: float = BACKING) -> None:
    """Darken the box (x0, y0)-(x1, y1) (clipped to the view) by ``opacity``: a translucent dark
    backing, so light text reads over bright or burned-in text and the image still shows through."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))
    if x1 > x0 and y1 > y0:
        img[y0:y1, x0:x1] = cv2.convertScaleAbs(img[y0:y1, x0:x1], alpha=1.0 - opacity)


def text_block(
    img: np.ndarray, lines: Sequence[str], x: int, y: int, scale: float, color: tuple[int, int, int] = TEXT
) -> None:
    """Text lines from (x, y) down, on a translucent dark backing (:func:`backing`)."""
    if not lines:
        return
    th = text_size("Ag", scale)[1]
    width = max(text_size(t, scale)[0] for t in lines)
    backing(img, x - BACKING_PAD, y - BACKING_PAD, x + width + BACKING_PAD, y + len(lines) * (th + 6) + BACKING_PAD)
    for i, text in enumerate(lines):
        put_text(img, text, (x, y + th + i * (th + 6)), scale, color)


def help_panel(img: np.ndarray, rows: Sequence[tuple[str, str]], scale: float) -> None:
    """The key list in two columns on a dark panel (:data:`PANEL`), shrunk to fit the view."""
    key_w = max(text_size(k, scale)[0] for k, _ in rows) + 14
    need = key_w + max(text_size(a, scale)[0] for _, a in rows) + 24
    if need > img.shape[1]:
        scale *= img.shape[1] / need
        key_w = max(text_size(k, scale)[0] for k, _ in rows) + 14
        need = img.shape[1]
    th = text_size("Ag", scale)[1]
    step = th + max(3, int(6 * scale / 0.5))
    while step * len(rows) + 16 > img.shape[0] and scale > 0.25:  # too many rows for the height: smaller text
        f = max(0.8, min(0.97, img.shape[0] / (step * len(rows) + 16)))
        scale, key_w = scale * f, int(key_w * f)
        th = text_size("Ag", scale)[1]
        step = th + max(2, int(6 * scale / 0.5))
    if step * len(rows) + 16 > img.shape[0]:  # still too many at the smallest legible text: what fits
        fit = max(1, (img.shape[0] - 16) // step - 2)  # a row to spare below the panel
        rows = [*rows[:fit], ("...", "more keys: a larger window, or the README")]
    backing(img, 0, 0, need, step * len(rows) + 16, PANEL)
    for i, (keys, action) in enumerate(rows):
        y = 8 + th + i * step
        put_text(img, keys, (10, y), scale)
        put_text(img, action, (10 + key_w, y), scale)

"""Graphic and text annotations of a presentation state (PS3.3 C.10.5) in its Graphic Layers' colours (C.10.7),
drawn on a rendered frame after the state's spatial transformation (C.10.6) and displayed area (C.10.4)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from dcmlib.objects.pstate import (
    Annotation,
    GraphicLayer,
    GraphicType,
    PresentationState,
    TextObject,
    area_transform,
    displayed_area,
    spatial,
)
from dcmlib.values.color import lab_bgr

__all__ = ["layer_color", "needs_color", "draw_annotations", "present"]


def layer_color(layer: GraphicLayer, colour: bool) -> int | tuple[int, int, int]:
    """A layer's recommended grey (16-bit P-value scaled to 8 bits) or CIELab colour as BGR; white by default."""
    if colour and layer.lab is not None:
        return lab_bgr(layer.lab)
    if layer.gray is not None:
        return int(round(min(max(layer.gray, 0), 65535) * 255 / 65535))
    if layer.lab is not None:
        return int(round(layer.lab[0] * 255 / 65535))
    return 255


def needs_color(state: PresentationState, annotations: tuple[Annotation, ...]) -> bool:
    """Whether the annotations ask for colour: a drawn layer with a recommended CIELab value and no grey."""
    return any(state.layer(a.layer).lab is not None and state.layer(a.layer).gray is None for a in annotations)


_SHIFT = 4  # sub-pixel bits for cv2 drawing
#: Objects with an output coordinate beyond +-this (pixels) are not drawn: far off any image, where cv2's
#: fixed-point integers (with the sub-pixel bits, and a radius between two such points) would overflow.
_FAR = float(1 << 20)


def draw_annotations(
    out: np.ndarray,
    state: PresentationState,
    annotations: tuple[Annotation, ...],
    to_output: np.ndarray,
    display: np.ndarray | None = None,
) -> np.ndarray:
    """Draw text and graphic objects (C.10.5) on the output image, in place; returns it.

    PIXEL points go through ``to_output`` (from :func:`area_transform`);
    DISPLAY points are fractions of the displayed area: of the output, or
    through ``display`` (a 2x3 affine from 0..1 to the output).  Lines
    are 1 output pixel wide; CIRCLE is centre and a point on it, ELLIPSE the
    major then the minor axis end points; INTERPOLATED is drawn through its
    points as a polyline.
    """
    h, w = out.shape[:2]

    def place(pts: tuple[tuple[float, float], ...], units: str) -> np.ndarray:
        a = np.asarray(pts, np.float64).reshape(-1, 2)
        if units == "DISPLAY":
            a = a * np.array([w, h]) if display is None else a @ display[:, :2].T + display[:, 2]
        else:
            a = a @ to_output[:, :2].T + to_output[:, 2]
        return a

    for ann in annotations:
        colour = layer_color(state.layer(ann.layer), out.ndim == 3)
        c = colour if isinstance(colour, tuple) else (colour,) * (3 if out.ndim == 3 else 1)
        for g in ann.graphics:
            p = place(g.points, g.units)
            if _drawable(p):
                _draw_graphic(out, g.kind, p, g.filled, c)
        for t in ann.texts:
            _draw_text(out, t, place, c)
    return out


def _drawable(p: np.ndarray) -> bool:
    """Whether output points can be drawn: finite and within :data:`_FAR` (a damaged state's 1e12 is not)."""
    return bool(np.isfinite(p).all() and (np.abs(p) <= _FAR).all())


def _fixed(p: np.ndarray) -> np.ndarray:
    """Continuous coordinates (pixel i covers [i, i+1)) to cv2's fixed-point pixel centres."""
    return np.round((p - 0.5) * (1 << _SHIFT)).astype(np.int32)


def _draw_graphic(out: np.ndarray, kind: GraphicType | None, p: np.ndarray, filled: bool, c: tuple) -> None:
    if len(p) == 0:
        return
    if kind is GraphicType.POINT:
        x, y = _fixed(p[:1])[0]
        cv2.circle(out, (int(x), int(y)), 2 << _SHIFT, c, -1, cv2.LINE_8, _SHIFT)
    elif kind in (GraphicType.POLYLINE, GraphicType.INTERPOLATED):
        pts = _fixed(p)
        closed = len(p) > 2 and np.allclose(p[0], p[-1])
        if filled and len(p) > 2:
            cv2.fillPoly(out, [pts], c, cv2.LINE_8, _SHIFT)
        else:
            cv2.polylines(out, [pts], closed, c, 1, cv2.LINE_8, _SHIFT)
    elif kind is GraphicType.CIRCLE and len(p) >= 2:
        r = float(np.hypot(*(p[1] - p[0])))
        ((x, y),) = _fixed(p[:1])
        cv2.circle(out, (int(x), int(y)), int(round(r * (1 << _SHIFT))), c, -1 if filled else 1, cv2.LINE_8, _SHIFT)
    elif kind is GraphicType.ELLIPSE and len(p) >= 4:
        centre = (p[0] + p[1]) / 2
        major, minor = float(np.hypot(*(p[1] - p[0]))) / 2, float(np.hypot(*(p[3] - p[2]))) / 2
        angle = math.degrees(math.atan2(p[1][1] - p[0][1], p[1][0] - p[0][0]))
        ((x, y),) = _fixed(centre[None])
        axes = (int(round(major * (1 << _SHIFT))), int(round(minor * (1 << _SHIFT))))
        cv2.ellipse(out, (int(x), int(y)), axes, angle, 0, 360, c, -1 if filled else 1, cv2.LINE_8, _SHIFT)


def _draw_text(out: np.ndarray, t: TextObject, place, c: tuple) -> None:
    if not t.text:
        return
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
    lines = t.text.splitlines() or [t.text]
    (tw, th), base = cv2.getTextSize(max(lines, key=len), font, scale, thick)
    right = None
    if t.box is not None:
        corners = place(((t.box[0], t.box[1]), (t.box[2], t.box[3])), t.box_units)
        if not _drawable(corners):
            return
        (x0, y0), (x1, y1) = corners
        x, y, right = min(x0, x1), min(y0, y1), max(x0, x1)
    elif t.anchor is not None:
        anchor = place((t.anchor,), t.anchor_units)
        if not _drawable(anchor):
            return
        ((x, y),) = anchor
        y -= (th + base) * len(lines)
    else:
        return
    for i, line in enumerate(lines):
        lx = x
        if right is not None and t.justify in ("RIGHT", "CENTER"):  # C.10.5.1.1: within the bounding box
            free = right - x - cv2.getTextSize(line, font, scale, thick)[0][0]
            lx = x + (free if t.justify == "RIGHT" else free / 2)
        cv2.putText(
            out, line, (int(round(lx)), int(round(y)) + th + i * (th + base)), font, scale, c, thick, cv2.LINE_AA
        )
    if (
        t.anchor is not None
        and t.anchor_visible
        and t.box is not None
        and _drawable(place((t.anchor,), t.anchor_units))
    ):
        ((ax, ay),) = place((t.anchor,), t.anchor_units)
        cv2.line(out, (int(round(ax)), int(round(ay))), (int(round(x)), int(round(y))), c, 1, cv2.LINE_AA)


def present(
    image: np.ndarray, state: PresentationState, sop_uid: str, frame: int, annotations: bool = True
) -> np.ndarray:
    """The spatial stages and annotations of a state on a rendered frame (``frame`` 1-based): rotation and
    flip (C.10.6), the displayed area (C.10.4), then the graphic and text annotations (C.10.5) unless
    ``annotations`` is False.  A layer with only a CIELab colour makes the output BGR."""
    rows, cols = image.shape[:2]
    m, box, scale = area_transform(state, state.area(sop_uid, frame), rows, cols)
    out = displayed_area(spatial(image, state.rotation, state.flip), box, scale)
    found = state.annotations_for(sop_uid, frame) if annotations else ()
    if found:
        if out.ndim == 2 and needs_color(state, found):
            out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
        draw_annotations(out, state, found, m)
    return out

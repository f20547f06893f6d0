"""Where the image sits in the viewer's canvas: zoom, pan, and the mapping between the two.

Plain Python, no OpenCV or NumPy: :mod:`dcmlib.viewer.state` keeps a
:class:`Viewport` in the viewer state and :mod:`dcmlib.viewer.view` renders it.

Coordinates are continuous.  Image pixel (column i, row j) covers
``[i, i+1) x [j, j+1)``, so its centre is ``(i + 0.5, j + 0.5)``; view pixel
(u, v) of the canvas likewise covers ``[u, u+1) x [v, v+1)``.  ``zoom`` is view
pixels per image pixel and ``(cx, cy)`` is the image point at the centre of the
canvas, so

    u + 0.5 = (x - cx) * zoom + width / 2

The canvas is the window's image area: the size at which the whole image fits
the screen (:attr:`Viewport.fit`), fixed for the session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["Viewport", "ZOOM_STEP", "MIN_ZOOM", "MAX_ZOOM", "PAN_MARGIN"]

#: One ``+`` / ``-`` step.
ZOOM_STEP = math.sqrt(2.0)
#: The zoom range: down to 1/16 (or the fit, when that is smaller) and up to 32x (or the fit).
MIN_ZOOM = 1.0 / 16.0
MAX_ZOOM = 32.0
#: Panning stops when an image edge is this fraction of the canvas inside the canvas.
PAN_MARGIN = 0.1


def _snap(zoom: float) -> float:
    """A zoom within 1e-9 of a power of sqrt(2) becomes exactly that power (1:1, 2x, 8x read exactly)."""
    k = round(math.log(zoom, ZOOM_STEP))
    exact = ZOOM_STEP**k if k % 2 else 2.0 ** (k // 2)
    return exact if abs(zoom - exact) <= 1e-9 * exact else zoom


@dataclass(frozen=True)
class Viewport:
    """The canvas (``width`` x ``height`` view pixels) showing ``columns`` x ``rows`` image pixels.

    ``fit`` is the zoom at which the image fills the canvas; ``zoom`` and the
    image point ``(cx, cy)`` at the canvas centre say what is shown now.
    Every method returns a new viewport, pan kept within :meth:`clamped`.
    """

    width: int
    height: int
    columns: int
    rows: int
    fit: float
    zoom: float
    cx: float
    cy: float

    @classmethod
    def fitted(cls, width: int, height: int, columns: int, rows: int) -> Viewport:
        """The whole image in a ``width`` x ``height`` canvas, centred; the fit is the canvas width per column."""
        fit = width / columns
        return cls(int(width), int(height), int(columns), int(rows), fit, fit, columns / 2.0, rows / 2.0)

    # -- limits ------------------------------------------------------------------------------
    @property
    def min_zoom(self) -> float:
        return min(self.fit, MIN_ZOOM)

    @property
    def max_zoom(self) -> float:
        return max(self.fit, MAX_ZOOM)

    @property
    def is_fit(self) -> bool:
        return self.zoom == self.fit and (self.cx, self.cy) == (self.columns / 2.0, self.rows / 2.0)

    def _axis(self, centre: float, size: int, canvas: int) -> float:
        """One axis of :meth:`clamped`: centred when the image fits, else edges at most the margin inside."""
        extent = size * self.zoom
        if extent <= canvas + 1.0:  # fits (within a rounding pixel): centred, no pan
            return size / 2.0
        half = canvas / (2.0 * self.zoom)
        margin = PAN_MARGIN * canvas / self.zoom
        return min(max(centre, half - margin), size - half + margin)

    def clamped(self) -> Viewport:
        """This viewport with the pan limited: an image that fits the canvas is centred; a larger one
        pans until an edge is :data:`PAN_MARGIN` of the canvas inside it."""
        cx = self._axis(self.cx, self.columns, self.width)
        cy = self._axis(self.cy, self.rows, self.height)
        return self if (cx, cy) == (self.cx, self.cy) else replace(self, cx=cx, cy=cy)

    # -- mapping -----------------------------------------------------------------------------
    def to_image(self, u: float, v: float) -> tuple[float, float]:
        """The image point under the centre of view pixel (u, v)."""
        return (self.cx + (u + 0.5 - self.width / 2.0) / self.zoom, self.cy + (v + 0.5 - self.height / 2.0) / self.zoom)

    def to_view(self, x: float, y: float) -> tuple[float, float]:
        """The view position (continuous) of image point (x, y)."""
        return ((x - self.cx) * self.zoom + self.width / 2.0, (y - self.cy) * self.zoom + self.height / 2.0)

    def pixel_at(self, u: float, v: float) -> tuple[int, int] | None:
        """The image pixel (column, row) under view pixel (u, v), or None outside the image."""
        x, y = self.to_image(u, v)
        i, j = math.floor(x), math.floor(y)
        return (i, j) if 0 <= i < self.columns and 0 <= j < self.rows else None

    def region(self) -> tuple[float, float, float, float]:
        """The visible part of the image, ``(x0, y0, x1, y1)`` in image coordinates, clipped to the image."""
        hw, hh = self.width / (2.0 * self.zoom), self.height / (2.0 * self.zoom)
        return (
            max(0.0, self.cx - hw),
            max(0.0, self.cy - hh),
            min(float(self.columns), self.cx + hw),
            min(float(self.rows), self.cy + hh),
        )

    def shows_all(self) -> bool:
        """Whether the whole image is on the canvas (no overview needed)."""
        x0, y0, x1, y1 = self.region()
        tol = 0.5 / self.zoom  # the fit's rounding to whole view pixels
        return x0 <= tol and y0 <= tol and x1 >= self.columns - tol and y1 >= self.rows - tol

    # -- changes ------------------------------------------------------------------------------
    def zoomed(self, zoom: float, anchor: tuple[float, float] | None = None) -> Viewport:
        """Zoom to ``zoom`` (limited to the range) keeping the image point under view position
        ``anchor`` (continuous, e.g. the pointer) where it is; the canvas centre when None."""
        zoom = _snap(min(max(float(zoom), self.min_zoom), self.max_zoom))
        if zoom == self.zoom:
            return self
        if anchor is None:
            anchor = (self.width / 2.0, self.height / 2.0)
        au, av = anchor
        x = self.cx + (au - self.width / 2.0) / self.zoom
        y = self.cy + (av - self.height / 2.0) / self.zoom
        cx = x - (au - self.width / 2.0) / zoom
        cy = y - (av - self.height / 2.0) / zoom
        return replace(self, zoom=zoom, cx=cx, cy=cy).clamped()

    def stepped(self, steps: int, anchor: tuple[float, float] | None = None) -> Viewport:
        """``steps`` zoom steps of sqrt(2): in when positive, out when negative."""
        return self.zoomed(self.zoom * ZOOM_STEP**steps, anchor)

    def panned_from(self, origin: tuple[float, float], du: float, dv: float) -> Viewport:
        """The view dragged by (du, dv) view pixels from centre ``origin``: the image follows the pointer."""
        return replace(self, cx=origin[0] - du / self.zoom, cy=origin[1] - dv / self.zoom).clamped()

    def fit_view(self) -> Viewport:
        """``f``: the whole image, centred."""
        return replace(self, zoom=self.fit, cx=self.columns / 2.0, cy=self.rows / 2.0)

"""Multiplanar reformation: a series as a volume, shown as axial, coronal or sagittal slices.

The geometry is that of the Image Plane Module, PS3.3 C.7.6.2.1.1: voxel
``(i, j)`` of a slice lies at ``IPP + j * dc * row_cosine + i * dr * column_cosine``
where Pixel Spacing is ``(dr, dc)`` (between rows, between columns) and the
slice normal is ``cross(row_cosine, column_cosine)``.

- The volume is built in the acquisition frame (slice normal, column cosine,
  row cosine) from each slice's stored values through that slice's own
  Modality LUT (C.11.1): int16 when those are whole numbers that fit (most
  CT), else float32 with padding (C.7.5.1.1.2) and no-data as NaN.
- Uneven spacing or missing slices: resampled to the median spacing along the
  normal (linear). Sheared stacks (gantry tilt, IPP off the normal): each
  source slice is shifted in its plane so the volume is orthogonal.
- The slices are decoded ahead on a few threads (:class:`ReadAheadPool`,
  :func:`decode_workers`), JPEG 2000 lossless through a decoder that
  releases the GIL; whole-number rescales go straight from the stored
  values to int16.  A slice that cannot be decoded is its own error.
- A plane is a permutation and flips of the volume's axes onto the patient
  axes (LPS), shown the way radiology viewers do: axial A up, R left;
  coronal and sagittal H up; each slice resized so a pixel is square in mm.

:class:`ReformattedImage` has the interface of a loaded image, so the viewer,
``--export`` and ``convert`` use it unchanged.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from dcmlib.displayable import RenderOptions
from dcmlib.errors import InvalidArgumentError
from dcmlib.images.image import DicomImage
from dcmlib.read.cache import FrameCache
from dcmlib.read.header import PixelSpacing
from dcmlib.render import pipeline
from dcmlib.render.imagebase import ImageBase
from dcmlib.render.pipeline import VoiSelection
from dcmlib.values.lut import VoiLut, Window
from dcmlib.values.presentation import needs_inversion
from dcmlib.values.presets import PRESETS, Preset

if TYPE_CHECKING:
    from dcmlib.displayable import DisplayImage

__all__ = [
    "PLANES",
    "StackGeometry",
    "ReformattedImage",
    "stack_geometry",
    "resample_stack",
    "plane_axes",
    "orientation_labels",
    "acquisition_plane",
    "current_plane",
    "next_plane",
    "image_labels",
    "switch_plane",
    "reformat",
    "build_volume",
    "ReadAheadPool",
    "decode_workers",
    "ObliqueReformattedImage",
    "ObliqueGrid",
    "oblique_grid",
    "is_oblique",
    "sample_trilinear",
]

PLANES = ("axial", "coronal", "sagittal")
AXIS_NAMES = "xyz"
#: Patient axis (LPS: x to the left, y to the back, z to the head) normal to each plane.
PLANE_NORMAL = {"axial": 2, "coronal": 1, "sagittal": 0}
#: Each plane's (down, right) screen directions as (patient axis, sign), the radiological convention.
PLANE_SCREEN = {"axial": ((1, 1), (0, 1)), "coronal": ((2, -1), (0, 1)), "sagittal": ((2, -1), (1, 1))}
_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))  # (negative, positive) end of x, y, z

#: Relative spread of slice spacings tolerated before the stack is resampled.
SPACING_TOLERANCE = 0.01
#: In-plane shift (pixels) per stack tolerated before the stack counts as sheared.
SHEAR_TOLERANCE_PX = 0.01


# --------------------------------------------------------------------------- pure geometry


@dataclass(frozen=True)
class StackGeometry:
    """Where the slices of a stack lie, in the acquisition frame (PS3.3 C.7.6.2.1.1).

    ``axes`` rows are unit vectors of the volume axes (normal, column cosine,
    row cosine); ``spacing`` the mm between samples along them after
    resampling; ``depths`` each source slice's distance from the first along
    the normal; ``shifts`` its in-plane offset (rows, columns) in pixels.
    """

    origin: np.ndarray
    axes: np.ndarray
    spacing: tuple[float, float, float]
    depths: np.ndarray
    shifts: np.ndarray
    count: int
    notes: tuple[str, ...]

    @property
    def regular(self) -> bool:
        """True when the source slices already form the grid (no resampling)."""
        return not self.notes


def stack_geometry(
    positions: np.ndarray, orientation: Sequence[float], pixel_spacing: tuple[float, float]
) -> StackGeometry:
    """The volume grid of slices at ``positions`` (N x 3 IPP, ascending along the normal), C.7.6.2.1.1.

    The slice step is the median spacing along the normal; the notes say when
    the stack is resampled (uneven spacing, missing slices, shear).
    """
    o = np.asarray(orientation, dtype=np.float64)
    row, col = o[:3] / np.linalg.norm(o[:3]), o[3:] / np.linalg.norm(o[3:])
    normal = np.cross(row, col)
    normal /= np.linalg.norm(normal)
    pos = np.asarray(positions, dtype=np.float64)
    rel = pos - pos[0]
    depths = rel @ normal
    dr, dc = float(pixel_spacing[0]), float(pixel_spacing[1])
    shifts = np.stack([rel @ col / dr, rel @ row / dc], axis=1)
    gaps = np.diff(depths)
    gaps = gaps[gaps > 1e-3]
    if gaps.size == 0:
        raise InvalidArgumentError("reformatting needs slices at two or more positions along the normal")
    step = float(np.median(gaps))
    notes = []
    if gaps.max() - gaps.min() > SPACING_TOLERANCE * step or gaps.size < len(depths) - 1:
        notes.append(f"slice spacing varies {gaps.min():.2f}-{gaps.max():.2f} mm; resampled to {step:.2f} mm")
    drift = np.abs(shifts).max()
    if drift > SHEAR_TOLERANCE_PX:
        inplane = np.hypot(rel[-1] @ col, rel[-1] @ row)
        tilt = math.degrees(math.atan2(inplane, depths[-1]))
        notes.append(f"slices are sheared (tilt {tilt:.1f} degrees); resampled onto an orthogonal grid")
    count = int(round(depths[-1] / step)) + 1
    return StackGeometry(pos[0], np.stack([normal, col, row]), (step, dr, dc), depths, shifts, count, tuple(notes))


def resample_stack(
    slice_at: Callable[[int], np.ndarray], geom: StackGeometry, store: Callable[[int, np.ndarray], None]
) -> None:
    """``store(t, slice)`` each target slice (float32) of the stack on the orthogonal grid of ``geom``.

    Each target slice blends the two source slices around it along the normal
    (linear), each shifted in its plane by its shear offset; outside the
    source is NaN.  ``slice_at(k)`` gives source slice k as float32.
    """
    near: dict[int, np.ndarray] = {}
    depths = geom.depths

    def shifted(k: int) -> np.ndarray:
        if k not in near:
            if len(near) > 2:
                near.pop(min(near))
            src = slice_at(k)
            di, dj = geom.shifts[k]
            if abs(di) > SHEAR_TOLERANCE_PX or abs(dj) > SHEAR_TOLERANCE_PX:
                src = _translate(src, di, dj)
            near[k] = src
        return near[k]

    for t in range(geom.count):
        if geom.regular:
            store(t, slice_at(t))
            continue
        d = min(t * geom.spacing[0], depths[-1])
        b = int(np.searchsorted(depths, d, side="left"))
        if b < len(depths) and abs(depths[b] - d) < 1e-6:
            store(t, shifted(b))
            continue
        a = b - 1
        while a > 0 and depths[b] - depths[a] < 1e-6:
            a -= 1
        w = float((d - depths[a]) / (depths[b] - depths[a]))
        below, above = shifted(a), shifted(b)
        if below.dtype != above.dtype:  # a slice before the volume turned float32
            below, above = below.astype(np.float32), above.astype(np.float32)
        store(t, cv2.addWeighted(below, 1.0 - w, above, w, 0.0, dtype=cv2.CV_32F))


def _translate(src: np.ndarray, di: float, dj: float) -> np.ndarray:
    """``src`` sampled at (row - di, column - dj), bilinear; NaN where that lies outside ``src``."""
    rows, cols = src.shape
    m = np.array([[1, 0, -dj], [0, 1, -di]], dtype=np.float64)
    # replicate, not a NaN border: OpenCV's bilinear reads the neighbour past the edge even at weight 0
    out = cv2.warpAffine(
        src, m, (cols, rows), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    eps = 1e-6
    r, c = np.arange(rows) - di, np.arange(cols) - dj
    out[(r < -eps) | (r > rows - 1 + eps)] = np.nan
    out[:, (c < -eps) | (c > cols - 1 + eps)] = np.nan
    return out


def _assignment(axes: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Each volume axis's nearest patient axis (a permutation) and its sign along it."""
    best = max(itertools.permutations(range(3)), key=lambda p: sum(abs(axes[v, p[v]]) for v in range(3)))
    signs = tuple(1 if axes[v, best[v]] >= 0 else -1 for v in range(3))
    return best, signs


def acquisition_plane(orientation: Sequence[float]) -> str:
    """The plane nearest to the acquisition: the patient axis the slice normal is closest to."""
    o = np.asarray(orientation, dtype=np.float64)
    n = np.cross(o[:3], o[3:])
    return {2: "axial", 1: "coronal", 0: "sagittal"}[int(np.argmax(np.abs(n)))]


@dataclass(frozen=True)
class PlaneAxes:
    """How to cut a plane from the volume: which volume axes are slice, down and right, and their flips."""

    slice_axis: int
    down_axis: int
    right_axis: int
    flips: tuple[bool, bool, bool]  #: reverse along (slice, down, right)
    patient_axis: int  #: the patient axis (0 x, 1 y, 2 z) the slices step along


def plane_axes(axes: np.ndarray, plane: str) -> PlaneAxes:
    """Volume axes for ``plane``: slices ascending along the patient axis, screen as in PLANE_SCREEN."""
    perm, signs = _assignment(axes)
    volume_axis = {p: v for v, p in enumerate(perm)}
    a = PLANE_NORMAL[plane]
    (pd, sd), (pr, sr) = PLANE_SCREEN[plane]
    vs, vd, vr = volume_axis[a], volume_axis[pd], volume_axis[pr]
    return PlaneAxes(vs, vd, vr, (signs[vs] < 0, signs[vd] != sd, signs[vr] != sr), a)


def orientation_labels(
    row_cosine: Sequence[float] | np.ndarray, column_cosine: Sequence[float] | np.ndarray
) -> dict[str, str]:
    """Patient directions (PS3.3 C.7.6.1.1.1: A/P, R/L, H/F) at the image edges: top, bottom, left, right.

    Each edge is named by the dominant component of the direction pointing to it.
    """

    def letter(v: np.ndarray) -> str:
        k = int(np.argmax(np.abs(v)))
        return _LETTERS[k][1 if v[k] > 0 else 0]

    r, c = np.asarray(row_cosine, dtype=np.float64), np.asarray(column_cosine, dtype=np.float64)
    return {"top": letter(-c), "bottom": letter(c), "left": letter(-r), "right": letter(r)}


def current_plane(img: DisplayImage) -> str:
    """The plane an image shows: a reformat's own, else the one nearest to its acquisition."""
    plane = getattr(img, "plane", None)
    if plane:
        return plane
    orientation = _orientation(img, 0)
    return acquisition_plane(orientation) if orientation is not None else "axial"


def next_plane(img: DisplayImage) -> str:
    """The plane after the one ``img`` shows, in the order axial, coronal, sagittal (the viewer's ``t``)."""
    return PLANES[(PLANES.index(current_plane(img)) + 1) % len(PLANES)]


def image_labels(img: DisplayImage, frame: int = 0) -> dict[str, str] | None:
    """Orientation labels of any image's frame (see :func:`orientation_labels`), or None without geometry."""
    if isinstance(img, ReformattedImage):
        return img.orientation_labels()
    o = _orientation(img, frame)
    return None if o is None else orientation_labels(o[:3], o[3:])


def _orientation(img: DisplayImage, frame: int) -> tuple[float, ...] | None:
    """Image Orientation (Patient) of a frame (C.7.6.2.1.1; enhanced files: C.7.6.16.2.4), or None."""
    if not isinstance(img, DicomImage):  # only a file or series has its frames' geometry
        return None
    try:
        o = img.frame_geometry(frame)[0]
    except Exception:  # noqa: BLE001 - a damaged element (pydicom converts lazily) is no orientation
        return None
    if o is None or np.linalg.norm(np.cross(o[:3], o[3:])) < 1e-6:
        return None
    return tuple(o)


def switch_plane(
    img: DisplayImage,
    frame: int,
    point: tuple[float, float] | None = None,
    plane: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ReformattedImage, int]:
    """``img`` in ``plane`` (default: :func:`next_plane`) and its frame through the same point.

    ``point`` is the image point (x, y) of ``frame`` to keep (the pointer), by default the centre.
    """
    if isinstance(img, ReformattedImage):
        base = img.source
    elif isinstance(img, DicomImage):
        base = img
    else:  # a picture through a presentation state, say: not a series' volume
        raise InvalidArgumentError("only a series can be shown in another plane", img.path)
    new = base.reformat(plane or next_plane(img), progress)
    x, y = point if point is not None else (img.columns / 2, img.rows / 2)
    at = img.volume_point(frame, x, y) if isinstance(img, ReformattedImage) else new.acquired_point(frame, x, y)
    return new, new.frame_through(at)


# --------------------------------------------------------------------------- the image object


class ReformattedImage(ImageBase):
    """One plane of a series' volume, with the interface of :class:`~dcmlib.images.image.DicomImage`.

    Frames are slices through the plane, ascending along its patient axis
    (``axis``); ``position(frame)`` is that coordinate in mm. Values are
    modality values (float32, NaN where no data); windows are the acquired
    slices' (PS3.3 C.11.2).
    """

    def __init__(self, source: DicomImage, plane: str, volume: np.ndarray, geom: StackGeometry, cut: PlaneAxes):
        self.source, self.plane, self._volume, self._geom, self._cut = source, plane, volume, geom, cut
        self.path, self.header = source.path, source.header
        self.name = f"{source.name} ({plane})"
        self.axis = AXIS_NAMES[cut.patient_axis]
        sp = geom.spacing
        self._pixel = min(sp[cut.down_axis], sp[cut.right_axis])
        n_down, n_right = volume.shape[cut.down_axis], volume.shape[cut.right_axis]
        self.rows = max(1, int(round(n_down * sp[cut.down_axis] / self._pixel)))
        self.columns = max(1, int(round(n_right * sp[cut.right_axis] / self._pixel)))
        self._ref = len(source) // 2  # windows and polarity come from the middle acquired slice
        self._params = source.frame_params(self._ref)
        self.cache = FrameCache(64)
        self.decodes = 0

    def __len__(self) -> int:
        return self._volume.shape[self._cut.slice_axis]

    def __repr__(self) -> str:
        return f"<ReformattedImage {self.name!r} {self.columns}x{self.rows} x{len(self)}>"

    def __enter__(self) -> ReformattedImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the cached slices (the volume stays in the series' cache)."""
        self.cache.clear()

    photometric = property(lambda self: self.source.photometric)
    is_color = property(lambda self: False)
    is_series = property(lambda self: True)
    presets = property(lambda self: PRESETS)
    modality = property(lambda self: self.source.modality)
    unit = property(lambda self: self.source.unit)
    cine_rate = property(lambda self: None)
    value_range = property(lambda self: self.source.value_range)

    def _check_frame(self, frame: int) -> int:
        try:
            f = int(frame)  # checked: API callers may pass anything
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"frame must be an integer, got {frame!r}", self.path) from None
        if not 0 <= f < len(self):
            raise InvalidArgumentError(f"frame index {frame} out of range (0..{len(self) - 1})", self.path)
        return f

    def _direction(self, axis: int, flip: bool) -> np.ndarray:
        return -self._geom.axes[axis] if flip else self._geom.axes[axis]

    @property
    def row_cosine(self) -> np.ndarray:
        """Patient direction of increasing column index (C.7.6.2.1.1)."""
        return self._direction(self._cut.right_axis, self._cut.flips[2])

    @property
    def column_cosine(self) -> np.ndarray:
        """Patient direction of increasing row index (C.7.6.2.1.1)."""
        return self._direction(self._cut.down_axis, self._cut.flips[1])

    def orientation_labels(self) -> dict[str, str]:
        """A/P, R/L, H/F at the top, bottom, left and right edges."""
        return orientation_labels(self.row_cosine, self.column_cosine)

    def _index(self, frame: int) -> int:
        n = len(self)
        return n - 1 - frame if self._cut.flips[0] else frame

    def position(self, frame: int) -> float | None:
        """The slice's coordinate (mm) along the plane's patient axis (x, y or z of LPS)."""
        k = self._index(self._check_frame(frame))
        g = self._geom
        point = g.origin + k * g.spacing[self._cut.slice_axis] * g.axes[self._cut.slice_axis]
        return float(point[self._cut.patient_axis])

    def pixel_spacing(self, frame: int = 0) -> PixelSpacing | None:
        """Square pixels: the finer of the two in-plane spacings, mm."""
        self._check_frame(frame)
        return PixelSpacing(self._pixel, self._pixel)

    def info(self) -> str:
        """The series' summary and this plane."""
        lo, hi = self.position(0), self.position(len(self) - 1)
        return (
            f"{self.source.info()}\n\nreformatted {self.plane}: {self.columns}x{self.rows} x{len(self)} "
            f"slices, {self.axis} {lo:.1f} to {hi:.1f} mm, {self._pixel:.3g} mm pixels"
        )

    def values(self, frame: int = 0) -> np.ndarray:
        """Modality values of the slice, float32, square pixels; NaN outside the data. Cached, read-only."""
        f = self._check_frame(frame)

        def cut() -> np.ndarray:
            c = self._cut
            arr = np.take(self._volume, self._index(f), axis=c.slice_axis)
            rest = [a for a in range(3) if a != c.slice_axis]
            if rest.index(c.down_axis) != 0:
                arr = arr.T
            if c.flips[1]:
                arr = arr[::-1]
            if c.flips[2]:
                arr = arr[:, ::-1]
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            if arr.shape != (self.rows, self.columns):
                arr = cv2.resize(arr, (self.columns, self.rows), interpolation=cv2.INTER_LINEAR)
            arr.flags.writeable = False
            self.decodes += 1
            return arr

        return self.cache.get_or_load(("values", f), cut)

    stored = values

    def is_cached(self, frame: int) -> bool:
        return ("values", self._check_frame(frame)) in self.cache

    def padding_mask(self, frame: int = 0) -> np.ndarray | None:
        """Where the slice has no data (padding, or outside a resampled stack), or None."""
        v = self.values(frame)
        mask = np.isnan(v)
        return mask if mask.any() else None

    def vois(self, frame: int = 0) -> list[Window | VoiLut]:
        """The acquired slices' stored VOIs (the middle slice's), C.11.2."""
        self._check_frame(frame)
        return list(self._params.vois)

    def frame_range(self, frame: int = 0) -> tuple[float, float]:
        """(min, max) of the slice's values, NaN excluded."""
        v = self.values(frame)
        if np.isnan(v).all():
            return 0.0, 0.0
        return float(np.nanmin(v)), float(np.nanmax(v))

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
        """The VOI :meth:`render` applies (as :meth:`DicomImage.resolve_voi`)."""
        f = self._check_frame(frame)
        p = self._params
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

    def inverted(self, frame: int = 0, invert: bool = False) -> bool:
        self._check_frame(frame)
        return needs_inversion(self.photometric, self._params.lut_shape, invert)

    def render(
        self,
        center: float | None = None,
        width: float | None = None,
        *,
        frame: int = 0,
        options: RenderOptions | None = None,
        **changes: Any,
    ) -> np.ndarray:
        """The slice as uint8 (rows, columns), windowed as the acquired slices (C.11.2, C.11.6).

        Overlays and shutters belong to the acquired frames: a reformatted slice has
        neither, so those options change nothing; a presentation state or a
        segmentation (made for the acquired images) is refused.
        """
        opts = RenderOptions.of(options, center=center, width=width, **changes)
        if opts.pstate is not None or opts.segmentation is not None:
            what = "a presentation state" if opts.pstate is not None else "a segmentation"
            raise InvalidArgumentError(f"{what} applies to the acquired images, not to a reformatted plane", self.path)
        f = self._check_frame(frame)
        sel = self.resolve_voi(f, **opts.window)
        out = pipeline.to_display(self.values(f), sel.voi, self.inverted(f, opts.invert))
        mask = self.padding_mask(f)
        if mask is not None:
            out[mask] = 0
        return out

    def reformat(self, plane: str, progress: Callable[[int, int], None] | None = None) -> ReformattedImage:
        """Another plane of the same volume."""
        return self.source.reformat(plane, progress)

    def object_layers(self, frame: int = 0, *, overlays: bool = True, shutters: bool = True) -> None:
        """None: overlays and shutters belong to the acquired frames, not to a reformatted slice."""
        return None

    def shutter_fill(self, frame: int = 0) -> int:
        return 0

    # -- the same point in another plane ------------------------------------------------
    def volume_point(self, frame: int, x: float, y: float) -> np.ndarray:
        """Volume index coordinates of image point (x, y) of ``frame`` (pixel edges: a centre is +0.5)."""
        c, shape = self._cut, self._volume.shape
        point = np.zeros(3)
        point[c.slice_axis] = self._index(self._check_frame(frame))
        for axis, along, size, flip in (
            (c.down_axis, y, self.rows, c.flips[1]),
            (c.right_axis, x, self.columns, c.flips[2]),
        ):
            u = along * shape[axis] / size - 0.5
            point[axis] = shape[axis] - 1 - u if flip else u
        return point

    def frame_through(self, point: np.ndarray) -> int:
        """The frame of this plane nearest to a volume point."""
        k = int(np.clip(round(float(point[self._cut.slice_axis])), 0, len(self) - 1))
        return len(self) - 1 - k if self._cut.flips[0] else k

    def acquired_point(self, frame: int, x: float, y: float) -> np.ndarray:
        """Volume index coordinates of image point (x, y) of acquired slice ``frame`` of the source."""
        g = self._geom
        di, dj = g.shifts[frame]
        return np.array([g.depths[frame] / g.spacing[0], y - 0.5 + di, x - 0.5 + dj])


# --------------------------------------------------------------------------- oblique stacks

#: Largest deviation (1 - |cosine|) of a volume axis from its nearest patient axis that counts as aligned.
OBLIQUE_TOLERANCE = 1e-4


def is_oblique(axes: np.ndarray) -> bool:
    """Whether the volume's axes (rows: unit vectors in LPS) lie off the patient axes (an oblique acquisition)."""
    perm, _ = _assignment(axes)
    return any(1.0 - abs(float(axes[v, perm[v]])) > OBLIQUE_TOLERANCE for v in range(3))


@dataclass(frozen=True)
class ObliqueGrid:
    """A plane's slices on the patient axes (LPS) through an oblique volume (C.7.6.2.1.1).

    Slice k lies at ``lo[axis] + k * step`` along ``axis``; pixel (r, c) of a
    slice at ``down`` and ``right`` (patient axis, sign) ``pixel`` mm apart
    from the bounding box's edge on the sign's side, so the picture is
    oriented as PLANE_SCREEN says.
    """

    axis: int
    down: tuple[int, int]
    right: tuple[int, int]
    lo: np.ndarray
    hi: np.ndarray
    step: float
    pixel: float
    count: int
    rows: int
    columns: int

    def point(self, k: float, r: float | np.ndarray, c: float | np.ndarray) -> np.ndarray:
        """Patient coordinates (..., 3) of slice k, row r, column c (pixel centres at whole r, c)."""
        r, c = np.broadcast_arrays(np.asarray(r, dtype=np.float64), np.asarray(c, dtype=np.float64))
        p = np.empty(r.shape + (3,))
        p[..., self.axis] = self.lo[self.axis] + k * self.step
        for (a, sign), along in ((self.down, r), (self.right, c)):
            p[..., a] = self.lo[a] + along * self.pixel if sign > 0 else self.hi[a] - along * self.pixel
        return p

    def frame_of(self, p: np.ndarray) -> int:
        """The slice nearest to patient point ``p``."""
        return int(np.clip(round((float(p[self.axis]) - self.lo[self.axis]) / self.step), 0, self.count - 1))


def oblique_grid(geom: StackGeometry, shape: tuple[int, int, int], plane: str) -> ObliqueGrid:
    """The patient-axis grid of ``plane`` that holds every voxel of an oblique volume of ``shape``.

    Along the plane's axis the step is the volume spacing nearest to that
    axis; in the plane, square pixels of the finer of the other two spacings.
    """
    perm, _ = _assignment(geom.axes)
    spacing_along = {perm[v]: geom.spacing[v] for v in range(3)}
    ends = np.array(list(itertools.product(*[(0, n - 1) for n in shape])), dtype=np.float64)
    corners = geom.origin + (ends * np.asarray(geom.spacing)) @ geom.axes
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    a = PLANE_NORMAL[plane]
    down, right = PLANE_SCREEN[plane]
    pixel = min(spacing_along[down[0]], spacing_along[right[0]])
    step = spacing_along[a]

    def n(axis: int, d: float) -> int:
        return int(math.floor((hi[axis] - lo[axis]) / d + 1e-6)) + 1

    return ObliqueGrid(a, down, right, lo, hi, step, pixel, n(a, step), n(down[0], pixel), n(right[0], pixel))


def sample_trilinear(volume: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``volume`` at fractional indices ``q`` (..., 3), trilinear; NaN outside the volume (float32)."""
    shape = np.asarray(volume.shape)
    inside = np.all((q >= -1e-6) & (q <= shape - 1 + 1e-6), axis=-1)
    qc = np.clip(q, 0, shape - 1)
    base = np.minimum(np.floor(qc).astype(np.intp), np.maximum(shape - 2, 0))
    frac = (qc - base).astype(np.float32)
    flat = volume.reshape(-1)
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.intp)
    index = base @ strides
    out = np.zeros(q.shape[:-1], dtype=np.float32)
    for corner in itertools.product((0, 1), repeat=3):
        step = [min(d, int(shape[i]) - 1) for i, d in enumerate(corner)]
        w = np.ones(q.shape[:-1], dtype=np.float32)
        for i, d in enumerate(corner):
            w *= frac[..., i] if d else 1.0 - frac[..., i]
        out += w * flat.take(index + int(np.dot(step, strides))).astype(np.float32)
    out[~inside] = np.nan
    return out


class ObliqueReformattedImage(ReformattedImage):
    """A plane of an oblique series on the patient axes: each slice sampled from the volume, trilinear.

    The volume stays in the acquisition frame; a slice of the plane is the
    volume at the points of :class:`ObliqueGrid` (NaN outside the acquired
    box), computed when first asked for and cached like any slice.
    """

    def __init__(self, source, plane: str, volume: np.ndarray, geom: StackGeometry, grid: ObliqueGrid):
        super().__init__(source, plane, volume, geom, plane_axes(geom.axes, plane))
        self._grid = grid
        self.rows, self.columns, self._pixel = grid.rows, grid.columns, grid.pixel
        self.axis = AXIS_NAMES[grid.axis]

    def __len__(self) -> int:
        return self._grid.count

    @staticmethod
    def _unit(axis: int, sign: int) -> np.ndarray:
        v = np.zeros(3)
        v[axis] = sign
        return v

    @property
    def row_cosine(self) -> np.ndarray:
        return self._unit(*self._grid.right)

    @property
    def column_cosine(self) -> np.ndarray:
        return self._unit(*self._grid.down)

    def position(self, frame: int) -> float | None:
        g = self._grid
        return float(g.lo[g.axis] + self._check_frame(frame) * g.step)

    def _to_volume(self, p: np.ndarray) -> np.ndarray:
        """Volume index coordinates of patient points (..., 3)."""
        g = self._geom
        return ((p - g.origin) @ g.axes.T) / np.asarray(g.spacing)

    def values(self, frame: int = 0) -> np.ndarray:
        """Modality values of the slice sampled from the volume (float32, NaN outside it). Cached, read-only."""
        f = self._check_frame(frame)

        def sample() -> np.ndarray:
            r, c = np.mgrid[0 : self.rows, 0 : self.columns]
            arr = sample_trilinear(self._volume, self._to_volume(self._grid.point(f, r, c)))
            arr.flags.writeable = False
            self.decodes += 1
            return arr

        return self.cache.get_or_load(("values", f), sample)

    stored = values

    def volume_point(self, frame: int, x: float, y: float) -> np.ndarray:
        return self._to_volume(self._grid.point(self._check_frame(frame), y - 0.5, x - 0.5))

    def frame_through(self, point: np.ndarray) -> int:
        g = self._geom
        return self._grid.frame_of(g.origin + (np.asarray(point) * np.asarray(g.spacing)) @ g.axes)

    def info(self) -> str:
        return super().info() + " (resampled onto the patient axes from oblique slices)"


# --------------------------------------------------------------------------- building from a series


def _slice_geometry(img: DicomImage) -> tuple[np.ndarray, tuple[float, ...], tuple[float, float]]:
    """Each frame's Image Position (Patient), the stack's Image Orientation (Patient) and Pixel Spacing."""
    geometry = [img.frame_geometry(k) for k in range(len(img))]
    orients = [o for o, _ in geometry if o is not None]
    positions = [p for _, p in geometry if p is not None]
    if len(orients) < len(geometry) or len(positions) < len(geometry):
        raise InvalidArgumentError(
            "reformatting needs Image Position and Orientation (Patient) on every slice", img.path
        )
    if len({tuple(round(x, 4) for x in o) for o in orients}) > 1:
        raise InvalidArgumentError("reformatting needs parallel slices (one Image Orientation (Patient))", img.path)
    spacing = img.pixel_spacing(0)
    if spacing is None:
        raise InvalidArgumentError("reformatting needs Pixel Spacing", img.path)
    return np.asarray(positions, dtype=np.float64), tuple(orients[0]), (spacing.row, spacing.column)


def _source_slice(img: DicomImage, k: int, threads: bool = False) -> np.ndarray:
    """Slice k's modality values through its own rescale (C.11.1), float32, padding as NaN."""
    values = pipeline.apply_modality(img.stored(k, threads=threads), img.frame_params(k).modality)
    values = np.array(values, dtype=np.float32, copy=True)
    mask = img.padding_mask(k)
    if mask is not None:
        values[mask] = np.nan
    return values


def _source_slice_int16(img: DicomImage, k: int, threads: bool = False) -> np.ndarray | None:
    """Slice k's modality values as int16 straight from its stored values and integral rescale (C.11.1),
    or None when they leave int16's range.  Only for slices :func:`_compact` admits (no LUT, no padding)."""
    stored, m = img.stored(k, threads=threads), img.frame_params(k).modality
    slope, intercept = int(m.slope), int(m.intercept)
    if stored.dtype.kind not in "iu" or stored.dtype.itemsize > 2:
        return None
    wide = stored.astype(np.int32) if slope != 1 else np.add(stored, np.int32(intercept), dtype=np.int32)
    if slope != 1:
        wide *= slope
        wide += intercept
    if wide.size and (wide.min() < -32768 or wide.max() > 32767):
        return None
    return wide.astype(np.int16)


def _compact(img: DicomImage, geom: StackGeometry) -> bool:
    """Whether the volume can be int16: every slice's rescale integral, no LUT, no padding, no shear (C.11.1)."""
    if any(abs(di) > SHEAR_TOLERANCE_PX or abs(dj) > SHEAR_TOLERANCE_PX for di, dj in geom.shifts):
        return False
    for k in range(len(img)):
        p = img.frame_params(k)
        m = p.modality
        if (
            m.lut is not None
            or p.padding is not None
            or not (float(m.slope).is_integer() and float(m.intercept).is_integer())
        ):
            return False
    return True


def _int16_exact(arr: np.ndarray) -> bool:
    """Whether float32 values are whole numbers in int16's range (no NaN)."""
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    return -32768 <= lo and hi <= 32767 and bool(np.array_equal(arr, np.rint(arr)))


def _check_budget(img: DicomImage, geom: StackGeometry, dtype: type) -> None:
    """The clear error when the volume cannot live in the frame cache: the size needed and the flag."""
    need = geom.count * img.rows * img.columns * np.dtype(dtype).itemsize
    budget = img.cache.budget
    if need > budget:
        mib = 1024 * 1024
        raise InvalidArgumentError(
            f"the volume needs {math.ceil(need / mib)} MB ({img.columns}x{img.rows}x{geom.count} "
            f"{np.dtype(dtype).name}) but the frame cache holds {budget // mib} MB; "
            f"use --cache-mb {math.ceil(need / mib * 1.25)}",
            img.path,
        )


def decode_workers() -> int:
    """Threads that decode a volume's slices: the cores this process may use, at most 8.

    The decoders (pydicom's native reads, pylibjpeg-openjpeg, imagecodecs) and
    the NumPy / OpenCV rescale release the GIL, so slices decode in parallel.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


class ReadAheadPool:
    """``get(k)``: ``fn(k)``, computed ahead in ascending k on ``workers`` threads.

    At most ``2 * workers`` results wait at any time (a few slices of memory);
    a result no longer wanted (below the one asked for) is dropped.  ``fn``'s
    exception is raised by ``get`` of that k, in the caller's thread.  With
    one worker nothing runs ahead: ``get`` calls ``fn`` itself.
    """

    def __init__(self, fn: Callable[[int], object], count: int, workers: int):
        self.fn, self.count, self.workers = fn, count, workers
        self.depth = 2 * workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dcmview-volume") if workers > 1 else None
        self._futures: dict[int, Future] = {}
        self._next = 0

    def get(self, k: int):
        if self._pool is None:
            return self.fn(k)
        for old in [i for i in self._futures if i < k]:
            self._futures.pop(old).cancel()
        self._next = max(self._next, k)
        while self._next < min(self.count, k + self.depth):
            self._futures[self._next] = self._pool.submit(self.fn, self._next)
            self._next += 1
        future = self._futures.pop(k, None) or self._pool.submit(self.fn, k)
        return future.result()

    def close(self) -> None:
        if self._pool is not None:
            for f in self._futures.values():
                f.cancel()
            self._futures.clear()
            self._pool.shutdown(wait=True)

    def __enter__(self) -> ReadAheadPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_volume(
    img: DicomImage, progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, StackGeometry]:
    """The series' volume on an orthogonal grid, kept in the series' byte-budget cache.

    int16 when every acquired slice's modality values are whole numbers in its
    range (most CT; interpolated voxels are then rounded), else float32 with
    NaN where there are no data.  Raises InvalidArgumentError naming the size
    needed and ``--cache-mb`` when it does not fit.
    """
    if img.is_color:
        raise InvalidArgumentError("reformatting needs a grayscale series", img.path)
    if len(img) < 2:
        raise InvalidArgumentError("reformatting needs a series of two or more slices", img.path)
    positions, orientation, spacing = _slice_geometry(img)
    geom = stack_geometry(positions, orientation, spacing)
    for note in geom.notes:
        img.warn(note)
    dtype = np.int16 if _compact(img, geom) else np.float32
    _check_budget(img, geom, dtype)
    for k in range(len(img)):  # parse every slice's header here, on this thread; the decoders only read them
        img.frame_params(k)

    def load() -> np.ndarray:
        vol = [np.empty((geom.count, img.rows, img.columns), dtype=dtype)]

        def decode(k: int) -> np.ndarray:  # on the decoding threads
            if dtype == np.int16:
                arr = _source_slice_int16(img, k, threads)
                if arr is not None:
                    return arr
            arr = _source_slice(img, k, threads)
            return arr.astype(np.int16) if dtype == np.int16 and _int16_exact(arr) else arr

        def source(k: int) -> np.ndarray:
            arr = slices.get(k)
            if vol[0].dtype == np.int16 and arr.dtype != np.int16:  # a slice beyond int16: float32 from here
                _check_budget(img, geom, np.float32)
                vol[0] = vol[0].astype(np.float32)
            return arr if vol[0].dtype == arr.dtype else arr.astype(vol[0].dtype)

        def store(t: int, arr: np.ndarray) -> None:
            vol[0][t] = np.rint(arr) if vol[0].dtype == np.int16 and arr.dtype != np.int16 else arr
            if progress is not None:
                progress(t + 1, geom.count)

        workers = decode_workers()
        threads = workers > 1
        with ReadAheadPool(decode, len(img), workers) as slices:
            resample_stack(source, geom, store)
        vol[0].flags.writeable = False
        return vol[0]

    return img.cache.get_or_load(("volume",), load), geom


def reformat(img: DicomImage, plane: str, progress: Callable[[int, int], None] | None = None) -> ReformattedImage:
    """``img`` (a series) as slices through ``plane`` (``axial``, ``coronal``, ``sagittal``)."""
    name = str(plane).strip().lower()
    if name not in PLANES:
        raise InvalidArgumentError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}", img.path)
    volume, geom = build_volume(img, progress)
    if is_oblique(geom.axes):
        perm, _ = _assignment(geom.axes)
        tilt = max(math.degrees(math.acos(min(1.0, abs(float(geom.axes[v, perm[v]]))))) for v in range(3))
        img.warn(f"slices are oblique ({tilt:.1f} degrees off the patient axes); planes resampled onto them")
        return ObliqueReformattedImage(img, name, volume, geom, oblique_grid(geom, volume.shape, name))
    return ReformattedImage(img, name, volume, geom, plane_axes(geom.axes, name))

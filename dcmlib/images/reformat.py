"""Multiplanar reformation: a series' volume shown as axial, coronal or sagittal slices
(PS3.3 C.7.6.2.1.1), ReformattedImage, and switching the plane an image shows.

The geometry is that of the Image Plane Module, PS3.3 C.7.6.2.1.1: voxel
``(i, j)`` of a slice lies at ``IPP + j * dc * row_cosine + i * dr * column_cosine``
where Pixel Spacing is ``(dr, dc)`` (between rows, between columns) and the
slice normal is ``cross(row_cosine, column_cosine)``.  The volume is built by
:mod:`dcmlib.images.volume`; the planes are cut as :mod:`dcmlib.images.planes` says.

:class:`ReformattedImage` has the interface of a loaded image, so the viewer,
``--export`` and ``convert`` use it unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from dcmlib.displayable import RenderOptions
from dcmlib.errors import InvalidArgumentError
from dcmlib.images.image import DicomImage
from dcmlib.images.planes import (
    AXIS_NAMES,
    PLANES,
    ObliqueGrid,
    PlaneAxes,
    acquisition_plane,
    axis_assignment,
    is_oblique,
    oblique_grid,
    orientation_labels,
    plane_axes,
    sample_trilinear,
)
from dcmlib.images.volume import StackGeometry, build_volume
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
    "ReformattedImage",
    "ObliqueReformattedImage",
    "current_plane",
    "next_plane",
    "image_labels",
    "switch_plane",
    "reformat",
]


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


def reformat(img: DicomImage, plane: str, progress: Callable[[int, int], None] | None = None) -> ReformattedImage:
    """``img`` (a series) as slices through ``plane`` (``axial``, ``coronal``, ``sagittal``)."""
    name = str(plane).strip().lower()
    if name not in PLANES:
        raise InvalidArgumentError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}", img.path)
    volume, geom = build_volume(img, progress)
    if is_oblique(geom.axes):
        perm, _ = axis_assignment(geom.axes)
        tilt = max(math.degrees(math.acos(min(1.0, abs(float(geom.axes[v, perm[v]]))))) for v in range(3))
        img.warn(f"slices are oblique ({tilt:.1f} degrees off the patient axes); planes resampled onto them")
        return ObliqueReformattedImage(img, name, volume, geom, oblique_grid(geom, volume.shape, name))
    return ReformattedImage(img, name, volume, geom, plane_axes(geom.axes, name))

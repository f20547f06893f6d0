"""The planes of a volume: which volume axes and flips show a plane the radiological way, the patient
directions at its edges, and the patient-axis grid of an oblique volume (PS3.3 C.7.6.2.1.1).

A plane is a permutation and flips of the volume's axes onto the patient
axes (LPS), shown the way radiology viewers do: axial A up, R left;
coronal and sagittal H up; each slice resized so a pixel is square in mm.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dcmlib.images.volume import StackGeometry

__all__ = [
    "PLANES",
    "AXIS_NAMES",
    "axis_assignment",
    "acquisition_plane",
    "PlaneAxes",
    "plane_axes",
    "orientation_labels",
    "is_oblique",
    "ObliqueGrid",
    "oblique_grid",
    "sample_trilinear",
]

PLANES = ("axial", "coronal", "sagittal")
AXIS_NAMES = "xyz"
#: Patient axis (LPS: x to the left, y to the back, z to the head) normal to each plane.
PLANE_NORMAL = {"axial": 2, "coronal": 1, "sagittal": 0}
#: Each plane's (down, right) screen directions as (patient axis, sign), the radiological convention.
PLANE_SCREEN = {"axial": ((1, 1), (0, 1)), "coronal": ((2, -1), (0, 1)), "sagittal": ((2, -1), (1, 1))}
_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))  # (negative, positive) end of x, y, z


def axis_assignment(axes: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
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
    perm, signs = axis_assignment(axes)
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


# --------------------------------------------------------------------------- oblique stacks

#: Largest deviation (1 - |cosine|) of a volume axis from its nearest patient axis that counts as aligned.
OBLIQUE_TOLERANCE = 1e-4


def is_oblique(axes: np.ndarray) -> bool:
    """Whether the volume's axes (rows: unit vectors in LPS) lie off the patient axes (an oblique acquisition)."""
    perm, _ = axis_assignment(axes)
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
    perm, _ = axis_assignment(geom.axes)
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

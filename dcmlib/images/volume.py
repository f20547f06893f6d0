"""The volume of a series: where its slices lie (PS3.3 C.7.6.2.1.1), resampled onto an orthogonal grid
and built, slices decoded ahead on a few threads, into the series' frame cache.

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
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from dcmlib.errors import InvalidArgumentError
from dcmlib.images.image import DicomImage
from dcmlib.render import pipeline

__all__ = [
    "StackGeometry",
    "stack_geometry",
    "resample_stack",
    "build_volume",
    "ReadAheadPool",
    "decode_workers",
]


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

"""Series benchmark: open, scroll and memory of a generated 512 x 512 CT series folder.

Run alone with ``python -m dcmlib.bench.series [--slices N] [--long N]``; ``python -m
dcmlib.bench`` runs it as one section. Everything is measured side by side in
one run on series written to a temporary folder (deleted afterwards):

- open: ``dcmlib.load(folder)`` (headers only) plus rendering the first slice,
  against ``pydicom.dcmread`` of every file (kept, as a reader of whole files
  would) and against ``dcmread(...).pixel_array`` of every file (what a viewer
  that loads the whole volume does). "warm" reads from the page cache as just
  written; "cold" first evicts the files from the page cache with
  ``posix_fadvise(DONTNEED)`` (Linux), as on a first open after a reboot.
- scroll: ``render(frame=i)`` of every slice with a fixed window, a first pass
  (decoding) and a second pass (after it, what holding a key down costs).
- hold a key: render the first slices at 30 Hz from a fresh load, idle in
  between (as the viewer waits in ``cv2.waitKey``), with and without
  :class:`~dcmlib.read.cache.ReadAhead`, for plain and JPEG 2000 slices: latency per slice.
- memory: the peak resident set (VmHWM, reset through ``/proc/self/clear_refs``)
  of a fresh process while it loads and scrolls once, against the
  raw pixel bytes of the series, for the default cache and a small one, and for
  a longer series: the peak follows the cache budget, not the series length.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

import dcmlib
from dcmlib.read.cache import DEFAULT_CACHE_MB, ReadAhead, read_ahead_depth

__all__ = ["main", "run", "write_ct_series"]

Report = Callable[[str], None]
MIB = 1024 * 1024


def write_ct_series(folder: str | os.PathLike[str], slices: int, size: int = 512, *, j2k: bool = False) -> list[Path]:
    """Write an axial CT series (16-bit, 12 bits stored, 1 mm apart) as one file per slice.

    File names run in reverse anatomical order, so ordering is exercised too.
    ``j2k`` stores the slices as JPEG 2000 lossless (encoded with imagecodecs).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    yy, xx = np.mgrid[0:size, 0:size]
    r2 = (yy - size / 2.0) ** 2 + (xx - size / 2.0) ** 2
    body = np.where(r2 < (0.45 * size) ** 2, 1024 + 40, 24).astype(np.int16)  # water-ish disc in air
    bone = r2 < (0.08 * size) ** 2
    paths = []
    for i in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.PatientName, ds.PatientID = "Bench^Phantom", "BENCH"
        ds.Modality, ds.SeriesDescription, ds.SeriesNumber = "CT", "BENCH AXIAL 1mm", 1
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [-250.0, -250.0, -0.5 * slices + i]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.9765625, 0.9765625], 1.0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, -1024, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        px = body + np.int16(i % 64)
        px[bone] = 1024 + 700 + (i % 200)
        if j2k:
            import imagecodecs

            meta.TransferSyntaxUID = JPEG2000Lossless
            ds.PixelRepresentation = 0
            ds.PixelData = encapsulate(
                [bytes(imagecodecs.jpeg2k_encode(px.astype(np.uint16), level=0, codecformat="J2K"))]
            )
        else:
            ds.PixelData = px.tobytes()
        path = folder / f"IM{slices - 1 - i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- measuring


def _evict(paths: list[Path]) -> bool:
    """Drop the files' clean pages from the page cache; False where that is not possible."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def _rss_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _timed(fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> float:
    """Median wall time in ms; ``before`` runs untimed ahead of each repetition."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        gc.collect()
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000.0)
        del result
    return statistics.median(times)


def _open_ours(folder: Path) -> object:
    img = dcmlib.load(folder, on_warning=lambda _m: None)
    img.render(frame=0)
    return img


def _read_all(paths: list[Path]) -> object:
    return [pydicom.dcmread(p) for p in paths]


def _read_all_pixels(paths: list[Path]) -> object:
    return [pydicom.dcmread(p).pixel_array for p in paths]


def _scroll(img, center: float, width: float, values: bool = False) -> float:
    """Render every slice once with a fixed window; slices per second.

    ``values`` also asks for each slice's float32 modality values, as the viewer
    does for its pixel probe and resized viewport.
    """
    t = time.perf_counter()
    for i in range(len(img)):
        img.render(center, width, frame=i)
        if values:
            img.values(i)
    return len(img) / (time.perf_counter() - t)


def _hold_key(folder: Path, frames: int, rate_hz: float, read_ahead: bool) -> tuple[list[float], int]:
    """Hold the "next slice" key from a fresh load: render at ``rate_hz``, idle in between.

    Returns each render's latency (ms: what the user waits for) and the decode count.
    The idle time stands for ``cv2.waitKey``, which releases the GIL as ``sleep`` does.
    """
    try:  # the image's own read-ahead, where load() has it
        img = dcmlib.load(folder, read_ahead=read_ahead, on_warning=lambda _m: None)
        builtin = True
    except TypeError:
        img = dcmlib.load(folder, on_warning=lambda _m: None)
        builtin = False
    ahead = None
    if read_ahead and not builtin:  # drive a ReadAhead from outside
        frame_bytes = img.rows * img.columns * 2
        ahead = ReadAhead(img.stored, len(img), depth=read_ahead_depth(DEFAULT_CACHE_MB * MIB, frame_bytes))
    period = 1.0 / rate_hz
    latencies = []
    try:
        for i in range(min(frames, len(img))):
            t = time.perf_counter()
            img.render(40.0, 400.0, frame=i)
            latencies.append((time.perf_counter() - t) * 1000.0)
            if ahead is not None:
                ahead.hint(i)
            time.sleep(max(0.0, period - (time.perf_counter() - t)))
    finally:
        if ahead is not None:
            ahead.close()
    return latencies, img.decodes


def _latency_line(label: str, lat: list[float], decodes: int) -> str:
    q = np.percentile(lat, [50, 95])
    return f"  {label:<38} {q[0]:7.1f} {q[1]:7.1f} {max(lat):7.1f} {decodes:8d}"


_PEAK_CHILD = r"""
import gc, json, sys
import dcmlib
folder, cache_mb, values = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"

def kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

gc.collect()
base = kib("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
img = dcmlib.load(folder, cache_mb=cache_mb, on_warning=lambda _m: None)
for i in range(len(img)):
    img.render(40.0, 400.0, frame=i)
    if values:
        img.values(i)
print(json.dumps({"peak_mib": (kib("VmHWM") - base) / 1024.0, "decodes": getattr(img, "decodes", -1)}))
"""


def _peak_scroll(folder: Path, cache_mb: float, values: bool = False) -> tuple[float, int]:
    """Peak RSS growth (MiB) while loading and scrolling once, in a fresh process; decodes.

    A fresh process, because memory freed by an earlier image may stay in the
    allocator's heap and hide a later peak. ``values`` also asks for each
    slice's float32 modality values, as the viewer does.
    """
    import json
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_CHILD, str(folder), repr(cache_mb), "1" if values else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(result["peak_mib"]), int(result["decodes"])


def run(report: Report = print, *, slices: int = 300, long: int = 600, size: int = 512, repeat: int = 5) -> None:
    """Generate the series, measure, and report the table line by line through ``report``."""
    with tempfile.TemporaryDirectory(prefix="dcmview-bench-") as tmp:
        t = time.perf_counter()
        folder = Path(tmp) / "ct"
        paths = write_ct_series(folder, slices, size)
        os.sync()  # written pages must be clean for the cold runs to evict them
        raw = slices * size * size * 2 / MIB
        report(
            f"series: generated {size} x {size} x {slices} CT ({raw:.0f} MiB of pixel data) "
            f"in {time.perf_counter() - t:.1f} s; cache default {DEFAULT_CACHE_MB} MiB"
        )
        pydicom.dcmread(paths[0], stop_before_pixels=True)  # import and dictionary warm-up for everyone

        # -- open -------------------------------------------------------------------
        rows = [
            ("dcmlib.load(folder) + render(frame=0)", lambda: _open_ours(folder)),
            ("pydicom.dcmread, every file", lambda: _read_all(paths)),
            ("pydicom.dcmread + .pixel_array, every file", lambda: _read_all_pixels(paths)),
        ]
        can_evict = _evict(paths)
        warm = {name: _timed(fn, repeat) for name, fn in rows}
        cold = {name: _timed(fn, repeat, lambda: _evict(paths)) for name, fn in rows} if can_evict else {}
        ours = rows[0][0]
        report("series open (headers + first slice)      warm ms   ratio   cold ms   ratio")
        for name, _fn in rows:
            w = warm[name]
            line = f"  {name:<42} {w:7.0f} {w / warm[ours]:6.1f}x"
            if cold:
                line += f" {cold[name]:8.0f} {cold[name] / cold[ours]:6.1f}x"
            report(line)
        report("  (ratio = time / ours; target: ours < 3000 ms and >= 2x faster than reading every file)")

        # -- scroll -----------------------------------------------------------------
        img = dcmlib.load(folder, on_warning=lambda _m: None)
        first = _scroll(img, 40.0, 400.0)
        second = _scroll(img, 40.0, 400.0)
        third = _scroll(img, 40.0, 400.0)
        report(
            f"series scroll, window 40/400, {slices} slices: first pass {first:.0f} slices/s, "
            f"then {second:.0f} and {third:.0f} slices/s (target >= 60); "
            f"{img.decodes} decodes for {3 * slices} renders"
        )
        del img
        gc.collect()

        # -- holding a key down: read-ahead ------------------------------------------
        hold = min(slices, 60)
        j2k_folder = Path(tmp) / "ct-j2k"
        write_ct_series(j2k_folder, hold, size, j2k=True)
        report(
            f"series hold a key at 30 Hz, first {hold} slices, fresh load   ms per slice: p50     p95     max  decodes"
        )
        for label, where in (("uncompressed", folder), ("JPEG 2000 lossless", j2k_folder)):
            for ra in (False, True):
                lat, decodes = _hold_key(where, hold, 30.0, ra)
                report(_latency_line(f"{label}, read-ahead {'on' if ra else 'off'}", lat, decodes))

        # -- memory -----------------------------------------------------------------
        if not _rss_reset():
            report("series memory: /proc/self/clear_refs unavailable; skipped")
            return
        long_folder = Path(tmp) / "ct-long"
        if long > 0:
            write_ct_series(long_folder, long, size)
        report("series memory while scrolling once   slices  cache MiB  peak MiB  raw MiB  peak/raw  decodes")
        runs = [
            (n, where, mb, False)
            for n, where in ((slices, folder), (long, long_folder))
            if n > 0
            for mb in (DEFAULT_CACHE_MB, 64)
        ]
        runs.append((slices, folder, DEFAULT_CACHE_MB, True))
        for n, where, cache_mb, values in runs:
            peak, decodes = _peak_scroll(where, cache_mb, values)
            raw_n = n * size * size * 2 / MIB
            label = "render + values() (viewer)" if values else "render"
            report(f"  {label:<35}{n:6d} {cache_mb:10g} {peak:9.0f} {raw_n:8.0f} {peak / raw_n:8.2f}x {decodes:8d}")
        report("  (target: peak < 1.5x raw for the default cache; peak follows the cache, not the length)")


def main(argv: list[str] | None = None) -> None:
    """Print the series section of the benchmark (``argv``: this module's options, default none)."""
    p = argparse.ArgumentParser(prog="python -m dcmlib.bench.series", description=__doc__.splitlines()[0])
    p.add_argument("--slices", type=int, default=300)
    p.add_argument("--long", type=int, default=600, help="slices of the longer series for the memory bound")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args([] if argv is None else argv)  # python -m dcmlib.bench calls main() with its own argv
    run(lambda line: print(line, flush=True), slices=args.slices, long=args.long, size=args.size, repeat=args.repeat)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Multiplanar reformation benchmark: building a series' volume and rendering coronal and sagittal slices.

Run alone with ``python -m dcmlib.bench.mpr [--slices N] [--size S] [--repeat R]``;
``python -m dcmlib.bench`` runs it as one section.  A CT series (512 x 512,
16-bit, 12 bits stored, 1 mm apart) is written uncompressed and as JPEG 2000
lossless into a temporary folder (deleted afterwards), and on the same folder,
side by side, in one run, with the page cache warm:

- build, ours: ``dcmlib.load(folder)`` (headers) and ``img.reformat("coronal")``
  (every slice decoded, its rescale applied, stacked into the volume), timed
  from a fresh load each time;
- build, SimpleITK: ``ImageSeriesReader.GetGDCMSeriesFileNames(folder)`` and
  ``ImageSeriesReader.Execute()`` (GDCM reads and sorts the files and stacks
  the volume), when SimpleITK is installed (``pip install -e '.[bench]'``);
  the section says so plainly when it is not;
- render: ``render(frame=k)`` of coronal and sagittal slices from the built
  volume with a fixed window, every slice a first render (nothing cached but
  the volume), p50 and p99 in ms.  Target: under 16 ms on 512 x 512 x 300.

Nothing is asserted: timings on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dcmlib
from dcmlib.bench.series import write_ct_series

__all__ = ["main", "run", "build_ours", "build_simpleitk", "render_times", "simpleitk"]

Report = Callable[[str], None]


def simpleitk():
    """The SimpleITK module, or None when it is not installed."""
    try:
        import SimpleITK
    except ImportError:
        return None
    return SimpleITK


def build_ours(folder: Path, plane: str = "coronal"):
    """A fresh load of the folder and its volume (the reformatted image in ``plane``)."""
    img = dcmlib.load(folder, read_ahead=False, on_warning=lambda _msg: None)
    return img.reformat(plane)


def build_simpleitk(folder: Path):
    """SimpleITK's reading of the same series into a volume (GDCM sorts the files)."""
    sitk = simpleitk()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def _best_and_median(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(1000.0 * (time.perf_counter() - t0))
        del result
    return min(times), statistics.median(times)


def percentile(ms: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(ms)
    return s[max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))]


def render_times(view, count: int, center: float = 40.0, width: float = 400.0) -> list[float]:
    """ms of ``render(frame=k)`` for ``count`` slices spread over the plane, each rendered once (uncached)."""
    n = len(view)
    frames = sorted({int(i * (n - 1) / max(1, count - 1)) for i in range(count)})
    out = []
    for k in frames:
        t0 = time.perf_counter()
        view.render(center, width, frame=k)
        out.append(1000.0 * (time.perf_counter() - t0))
    return out


def run(report: Report = print, *, slices: int = 300, size: int = 512, repeat: int = 3, renders: int = 60) -> None:
    """Generate the series, measure and print every line of the section."""
    sitk = simpleitk()
    report(
        f"mpr: {size} x {size} x {slices} CT series, cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}"
        if hasattr(os, "getloadavg")
        else ""
    )
    if sitk is None:
        report("mpr: SimpleITK is not installed (pip install -e '.[bench]'); measuring ours alone")
    with tempfile.TemporaryDirectory(prefix="dcmview-bench-mpr-") as tmp:
        report("volume build (load + every slice into the volume)   best ms  median ms   SimpleITK best  median  ratio")
        built = None
        for label, j2k in (("uncompressed", False), ("JPEG 2000 lossless", True)):
            folder = Path(tmp) / ("j2k" if j2k else "raw")
            write_ct_series(folder, slices, size, j2k=j2k)
            build_ours(folder)  # warm the page cache and the imports, untimed
            ours = _best_and_median(functools.partial(build_ours, folder), repeat)
            line = f"  {label:<48} {ours[0]:8.0f} {ours[1]:10.0f}"
            if sitk is not None:
                build_simpleitk(folder)
                theirs = _best_and_median(functools.partial(build_simpleitk, folder), repeat)
                line += f"   {theirs[0]:14.0f} {theirs[1]:7.0f}  {theirs[1] / ours[1]:5.2f}x"
            report(line)
            if not j2k:
                built = folder
        report("  (ratio = SimpleITK median / ours; target: ours at least as fast, ratio >= 1)")
        assert built is not None  # the uncompressed series is written first
        report("render a slice from the volume (window 40/400, each slice once)   p50 ms   p99 ms  slices")
        base = dcmlib.load(built, read_ahead=False, on_warning=lambda _msg: None)
        for plane in ("coronal", "sagittal"):
            view = base.reformat(plane)
            ms = render_times(view, renders)
            report(
                f"  {plane:<8} {view.columns} x {view.rows}{'':<44} {percentile(ms, 50):7.2f}  "
                f"{percentile(ms, 99):7.2f}  {len(ms):6d}"
            )
        report("  (target: under 16 ms)")
        base.close()


def main(argv: list[str] | None = None) -> None:
    """Print the mpr section of the benchmark (``argv``: this module's options, default none)."""
    p = argparse.ArgumentParser(prog="python -m dcmlib.bench.mpr", description=__doc__.splitlines()[0])
    p.add_argument("--slices", type=int, default=300)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args([] if argv is None else argv)  # python -m dcmlib.bench calls main() with its own argv
    run(lambda line: print(line, flush=True), slices=args.slices, size=args.size, repeat=args.repeat)


if __name__ == "__main__":
    main(sys.argv[1:])

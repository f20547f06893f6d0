"""Batch conversion benchmark: ``dcmview.py convert`` against the other ways to turn a series into PNGs.

Run alone with ``python -m dcmlib.bench.convert [--files N] [--size S] [--export-sample K]``;
``python -m dcmlib.bench`` runs it as one section.  A CT series (16-bit, 12 bits stored)
is written uncompressed and as JPEG 2000 lossless into a temporary folder, and
each way is measured on it in one run, side by side, each in a fresh
interpreter (imports not timed, the page cache warm, the best of two runs):

- ``dcmlib.convert`` with 1 worker and with all cores (the local process pool);
- the same through ``--dask`` on a LocalCluster started beforehand (its start
  is shown apart), for the per-file overhead of the Dask path;
- the status quo: ``python -m dcmview FILE --export OUT`` once per file, on a
  sample of the files (interpreter start included, as a user pays it), scaled
  to the series;
- ``dicom2jpg.dicom2png`` (its own multiprocessing), when installed
  (``pip install -e '.[bench]'``);
- a ``dcm2pnm +on`` loop when DCMTK is installed (not for JPEG 2000, which
  DCMTK's free toolkit does not decode);
- the floor: one process looping ``load``, ``render`` and ``cv2.imwrite``.

Peak memory per worker is the largest resident set of the run's child
processes (``RUSAGE_CHILDREN``; forked workers count the pages they share with
their parent).  The targets of the batch-conversion issue are checked and
printed, never asserted: timings on shared machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["main", "run", "child"]

Report = Callable[[str], None]


def child(spec: dict) -> dict:
    """One measurement inside a fresh interpreter; seconds and peak resident sets (KiB)."""
    import resource

    kind, src, out = spec["kind"], spec["src"], spec["out"]
    extra: dict = {}
    if kind == "ours":
        import dcmlib

        t0 = time.perf_counter()
        report = dcmlib.convert(src, out, workers=spec["workers"], progress=False)
        seconds = time.perf_counter() - t0
        extra["images"] = report.images
    elif kind == "dask":
        import importlib
        import logging

        from distributed import Client, LocalCluster

        import dcmlib

        t0 = time.perf_counter()
        cluster = LocalCluster(
            n_workers=spec["workers"],
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        with Client(cluster) as client:  # workers import dcmlib once, like the pool's forked workers had it
            client.run(importlib.import_module, "dcmlib.batch.dispatch")
        extra["start"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        dcmlib.convert(src, out, dask=cluster.scheduler_address, progress=False)
        seconds = time.perf_counter() - t0
        cluster.close()
    elif kind == "dicom2jpg":
        import dicom2jpg

        t0 = time.perf_counter()
        dicom2jpg.dicom2png(src, out)
        seconds = time.perf_counter() - t0
    else:  # the floor: one process, load + render + imwrite
        import cv2

        import dcmlib

        files = sorted(Path(src).iterdir())
        os.makedirs(out, exist_ok=True)
        t0 = time.perf_counter()
        for f in files:
            with dcmlib.load(f, read_ahead=False) as img:
                cv2.imwrite(os.path.join(out, f.stem + ".png"), img.render())
        seconds = time.perf_counter() - t0
    usage = resource.getrusage
    return {
        "seconds": seconds,
        "children_kib": usage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "self_kib": usage(resource.RUSAGE_SELF).ru_maxrss,
        **extra,
    }


def _measure(kind: str, src: Path, out: Path, repeat: int = 2, **kw) -> dict:
    """:func:`child` in a fresh interpreter, the fastest of ``repeat`` runs; ``{"error": ...}`` when it cannot run."""
    code = "import json, sys; from dcmlib.bench.convert import child; print(json.dumps(child(json.loads(sys.argv[1]))))"
    spec = json.dumps({"kind": kind, "src": str(src), "out": str(out), **kw})
    best: dict = {}
    for _ in range(repeat):
        proc = subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True)
        shutil.rmtree(out, ignore_errors=True)
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if not best or result["seconds"] < best["seconds"]:
            best = result
    return best


def _settle(folder: Path) -> None:
    """Write the new files out and read them once, so every way finds them in the page cache and no
    writeback of the series competes with the first measurement."""
    os.sync()
    for f in folder.iterdir():
        f.read_bytes()


def _loop(command: Callable[[Path, Path], list[str]], files: list[Path], out: Path) -> float:
    """Seconds per file of running ``command(file, output)`` once per file."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for f in files:
        subprocess.run(command(f, out / (f.stem + ".png")), check=True, capture_output=True)
    seconds = (time.perf_counter() - t0) / len(files)
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def _row(report: Report, name: str, seconds: float | None, n: int, mib: float | None = None, note: str = "") -> None:
    if seconds is None:
        report(f"  {name:<44} {'n/a':>8}  {note}")
        return
    mem = f"{mib:8.0f}" if mib is not None else f"{'':8}"
    report(f"  {name:<44} {seconds:8.2f} {n / seconds:9.1f} {1000 * seconds / n:9.2f} {mem}  {note}")


def run_set(
    report: Report, label: str, src: Path, work: Path, *, workers: int, sample: int, dask: bool, repeat: int = 2
) -> dict[str, float | None]:
    """Every way on one folder; returns seconds by way (None where it could not run)."""
    files = sorted(src.iterdir())
    n = len(files)
    _settle(src)
    report(f"[{label}: {n} files; the best of {repeat} runs, the --export loop and dcm2pnm once]")
    report(f"  {'':<44} {'s':>8} {'files/s':>9} {'ms/file':>9} {'MiB/wkr':>8}")
    seconds: dict[str, float | None] = {}
    for w in sorted({1, workers}):
        r = _measure("ours", src, work / "ours", repeat, workers=w)
        seconds[f"ours{w}"] = r.get("seconds")
        _row(
            report,
            f"dcmview convert, {w} worker{'s' if w > 1 else ''}",
            r.get("seconds"),
            n,
            r.get("children_kib", 0) / 1024 if "seconds" in r else None,
            r.get("error", ""),
        )
    if dask:
        r = _measure("dask", src, work / "dask", repeat, workers=workers)
        seconds["dask"] = r.get("seconds")
        note = f"cluster start and imports ({r['start']:.1f} s) not included" if "start" in r else r.get("error", "")
        _row(report, f"dcmview convert --dask (LocalCluster, {workers})", r.get("seconds"), n, None, note)
    status_quo = _loop(
        lambda f, o: [sys.executable, "-m", "dcmview", str(f), "--export", str(o)], files[:sample], work / "export"
    )
    seconds["export"] = status_quo * n
    _row(report, "dcmview.py --export per file", status_quo * n, n, None, f"{sample} files timed, scaled to {n}")
    r = _measure("dicom2jpg", src, work / "d2j", repeat)
    seconds["dicom2jpg"] = r.get("seconds")
    _row(
        report,
        "dicom2jpg.dicom2png (multiprocessing)",
        r.get("seconds"),
        n,
        r.get("children_kib", 0) / 1024 if "seconds" in r else None,
        ""
        if "seconds" in r
        else "not installed (pip install -e '.[bench]')"
        if "dicom2jpg" in r.get("error", "")
        else r.get("error", ""),
    )
    dcm2pnm = shutil.which("dcm2pnm")
    if dcm2pnm and "JPEG 2000" not in label:
        per = _loop(lambda f, o: [dcm2pnm, "+on", "+Wi", "1", str(f), str(o)], files, work / "dcm2pnm")
        seconds["dcm2pnm"] = per * n
        _row(report, "dcm2pnm +on loop", per * n, n)
    else:
        seconds["dcm2pnm"] = None
        _row(
            report,
            "dcm2pnm +on loop",
            None,
            n,
            note="DCMTK not installed" if not dcm2pnm else "DCMTK's free toolkit has no JPEG 2000 decoder",
        )
    r = _measure("floor", src, work / "floor", repeat)
    seconds["floor"] = r.get("seconds")
    _row(report, "floor: load + render + imwrite, 1 process", r.get("seconds"), n, None, r.get("error", ""))
    return seconds


def check_targets(report: Report, s: dict[str, float | None], workers: int, n: int) -> None:
    """The issue's targets on the uncompressed series, as ratios; 'ok' or 'MISSED' (printed, not asserted)."""
    ours = s.get(f"ours{workers}")

    def line(text: str, value: float | None, ok: Callable[[float], bool]) -> None:
        if value is None or ours is None:
            report(f"  {text}: n/a")
        else:
            report(f"  {text}: {value:.2f} {'ok' if ok(value) else 'MISSED'}")

    ratio = lambda other: None if other is None or ours is None else other / ours
    line("files/s vs dicom2jpg (target >= 2)", ratio(s.get("dicom2jpg")), lambda v: v >= 2)
    line("files/s vs a dcm2pnm loop (target >= 10)", ratio(s.get("dcm2pnm")), lambda v: v >= 10)
    floor = s.get("floor")
    line(
        f"time vs floor / {workers} cores (target <= 1.3)",
        None if floor is None or ours is None else ours / (floor / workers),
        lambda v: v <= 1.3,
    )
    line(f"{workers} workers vs 1 (target >= 1.6 on 2 cores)", ratio(s.get("ours1")), lambda v: v >= 1.6)
    dask = s.get("dask")
    line(
        "--dask overhead per file vs the local pool, ms (target < 2)",
        None if dask is None or ours is None else 1000 * (dask - ours) / n,
        lambda v: v < 2,
    )
    line("status quo (--export per file) vs ours", ratio(s.get("export")), lambda v: True)
    ours1 = s.get("ours1")
    if ours1 is not None and floor is not None:
        report(f"  per-file overhead of the pool (1 worker vs the floor): {1000 * (ours1 - floor) / n:.2f} ms")


def run(
    report: Report = print,
    *,
    files: int = 300,
    size: int = 512,
    sample: int = 20,
    dask: bool = True,
    workers: int | None = None,
) -> None:
    """Write the two series into a temporary folder and measure every way on each."""
    from dcmlib.batch.run import default_workers
    from dcmlib.bench.series import write_ct_series

    workers = workers or default_workers()
    try:
        import distributed  # noqa: F401 - only whether Dask is installed
    except ImportError:
        if dask:
            report("(--dask not measured: dask.distributed is not installed; pip install -e '.[dask]')")
        dask = False
    with tempfile.TemporaryDirectory(prefix="dcmview-bench-convert-") as tmp:
        root = Path(tmp)
        plain = root / "plain"
        write_ct_series(plain, files, size)
        results = run_set(
            report,
            f"CT {size}x{size} uncompressed, {workers} cores",
            plain,
            root / "work",
            workers=workers,
            sample=min(sample, files),
            dask=dask,
        )
        report(f"targets (uncompressed, {workers} workers):")
        check_targets(report, results, workers, files)
        j2k = root / "j2k"
        write_ct_series(j2k, files, size, j2k=True)
        run_set(
            report,
            f"CT {size}x{size} JPEG 2000 lossless, {workers} cores",
            j2k,
            root / "work",
            workers=workers,
            sample=min(sample, files),
            dask=dask,
        )


def main(argv: list[str] | None = None) -> None:
    """Print the convert section of the benchmark (``argv``: this module's options, default none)."""
    p = argparse.ArgumentParser(prog="python -m dcmlib.bench.convert", description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=300)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--export-sample", type=int, default=20, help="files timed for the --export loop")
    p.add_argument("--workers", type=int, help="default: all cores")
    p.add_argument("--no-dask", action="store_true")
    args = p.parse_args([] if argv is None else argv)  # python -m dcmlib.bench calls main() with its own argv
    run(
        lambda line: print(line, flush=True),
        files=args.files,
        size=args.size,
        sample=args.export_sample,
        dask=not args.no_dask,
        workers=args.workers,
    )


if __name__ == "__main__":
    main(sys.argv[1:])

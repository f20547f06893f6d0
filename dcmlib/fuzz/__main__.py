"""Fuzz dcmlib's error boundary: ``python -m dcmlib.fuzz [--seed S] [--cases N] [--out DIR] [--save DIR]``.

Each seeded case is written to a temporary file and, in a forked child, goes
through the library as an application uses it: ``dcmlib.load(path)``,
``img.info()``, ``img.render()`` of the first and the last frame (every frame
of a short stack) and ``cv2.imencode('.png', ...)``.  A
:class:`~dcmlib.DcmviewError` is a clean error; any other exception, a signal,
a hang, or a message in Python's words is a failure.  Each case also runs as a
series: a folder holding the damaged file and two undamaged slices of its base.

Prints a table of outcomes per mutation kind and the failing cases; ``--save
DIR`` writes the failing cases as files for reproduction, ``--case NAME`` runs
(and with ``--save`` writes) one case, ``--out DIR`` keeps the report and every
run's outcome (``report.txt``, ``results.json``).  Exit status 1 when a case
failed.

``--atheris --minutes M`` instead runs a coverage-guided Atheris fuzz of the
same boundary, seeded with the undamaged bases (``pip install dcmview[fuzz]``);
one input per new failure (exception type and place) is written to ``--out
DIR`` (default ``fuzz-artifacts``), as are libFuzzer's crash, timeout and
out-of-memory artifacts and the grown corpus (``DIR/corpus``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable

from dcmlib.fuzz import mutate, runner

DEFAULT_SEED = 20261129


def _warn_on_stderr(message: str) -> None:
    sys.stderr.write(f"{runner.WARNING_PREFIX}{message}\n")


def boundary(path: str, *, on_warning: Callable[[str], None] | None = None, quiet: bool = False) -> int:
    """The library boundary on one file, in this process: 0 (rendered), 2 (DcmviewError) or :data:`runner.BAD_OUTPUT`.

    Anything else (an exception that is no DcmviewError, a signal) escapes to the caller.
    """
    import cv2
    import numpy as np

    import dcmlib

    warn = on_warning or _warn_on_stderr
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
        try:
            img = dcmlib.load(path, on_warning=warn, read_ahead=False)
            try:
                info = img.info()
                if not isinstance(info, str) or not info.strip():
                    sys.stderr.write(f"bad output: info() returned {info!r}\n")
                    return runner.BAD_OUTPUT
                frames = range(len(img)) if len(img) <= 4 else (0, len(img) - 1)
                for frame in frames:
                    out = img.render(frame=frame)
                    want = (img.rows, img.columns) + ((3,) if img.is_color else ())
                    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != want:
                        shape = getattr(out, "shape", None)
                        sys.stderr.write(
                            f"bad output: frame {frame} rendered as {getattr(out, 'dtype', type(out))} "
                            f"{shape}, expected uint8 {want}\n"
                        )
                        return runner.BAD_OUTPUT
                    ok, _ = cv2.imencode(".png", out)
                    if not ok:
                        sys.stderr.write(f"bad output: cv2.imencode failed on frame {frame}\n")
                        return runner.BAD_OUTPUT
            finally:
                img.close()
        except dcmlib.DcmviewError as exc:
            if not quiet:
                sys.stderr.write(f"{runner.ERROR_PREFIX}{exc}\n")
            return 2
    return 0


def library_jobs(selected, workdir: str, modes: tuple[str, ...] = ("file", "series")):
    """(case, mode, Job) per case and mode, the files written to ``workdir/<n>-<mode>/`` just before they run.

    ``file``: the damaged file alone; ``series``: a folder holding it and two undamaged
    slices of its base (:func:`mutate.series_files`), loaded as a series.
    """
    for n, case in enumerate(selected):
        for mode in modes:
            folder = os.path.join(workdir, f"{n}-{mode}")
            os.makedirs(folder, exist_ok=True)
            if mode == "series":
                path = os.path.join(folder, "series")
                os.makedirs(path)
                for name, data in mutate.series_files(case):
                    with open(os.path.join(path, name), "wb") as fh:
                        fh.write(data)
                keep = ("series",)
            else:
                path = os.path.join(folder, case.filename)
                with open(path, "wb") as fh:
                    fh.write(case.data)
                keep = (case.filename,)
            yield (
                case,
                mode,
                runner.Job(
                    functools.partial(boundary, path),
                    file=path,
                    workdir=folder,
                    keep=keep,
                    strict_stderr=False,
                    inside=mode == "series",
                ),
            )


def save_cases(selected, names: set[str], folder: str) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    written = []
    for case in selected:
        if case.name in names:
            path = os.path.join(folder, case.filename)
            with open(path, "wb") as fh:
                fh.write(case.data)
            written.append(path)
    return written


def run_batch(args: argparse.Namespace) -> int:
    if args.case:
        selected = [mutate.case_by_name(args.seed, name) for name in args.case]
    else:
        selected = list(mutate.cases(args.seed, args.cases, start=args.start))
    t0 = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="dcmfuzz-")
    try:
        results = runner.run_jobs(
            library_jobs(selected, workdir, tuple(args.modes.split(","))), jobs=args.jobs, timeout=args.timeout
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - t0
    print(f"dcmlib.fuzz: seed {args.seed}, {len(selected)} cases, {elapsed:.1f} s")
    print(runner.report(results, full=args.verbose_failures))
    bad = {r.name for r in results if r.failed}
    if args.save and (bad or args.case):
        written = save_cases(selected, bad or {c.name for c in selected}, args.save)
        print(f"\nwrote {len(written)} case file(s) to {args.save}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "report.txt"), "w") as fh:
            fh.write(runner.report(results, full=len(results)) + "\n")
        with open(os.path.join(args.out, "results.json"), "w") as fh:
            json.dump(
                {
                    "seed": args.seed,
                    "cases": len(selected),
                    "results": [
                        {
                            "name": r.name,
                            "kind": r.kind,
                            "mode": r.mode,
                            "class": r.klass,
                            "detail": r.detail,
                            "status": r.status,
                            "signal": r.signal,
                            "elapsed": round(r.elapsed, 3),
                            "note": r.note,
                            "stderr": r.stderr if r.failed else "",
                        }
                        for r in results
                    ],
                },
                fh,
                indent=1,
            )
        print(f"wrote {args.out}/report.txt and results.json")
    return 1 if bad else 0


# ----------------------------------------------------------------------------- Atheris


def run_atheris(args: argparse.Namespace) -> int:
    """Run a coverage-guided Atheris session over the library boundary."""
    try:
        import atheris
    except ImportError:
        sys.stderr.write("dcmlib.fuzz: atheris is not installed (pip install 'dcmview[fuzz]')\n")
        return 2
    # ``python -m dcmlib.fuzz`` has imported dcmlib (and with it pydicom) already: drop them so that
    # they are imported again, instrumented (the C extensions - numpy, cv2, decoders - stay loaded).
    bases = mutate.bases()
    for name in [m for m in sys.modules if m.split(".")[0] in ("dcmlib", "pydicom")]:
        if not name.startswith("dcmlib.fuzz"):
            del sys.modules[name]
    with atheris.instrument_imports(include=["dcmlib", "pydicom"]):
        import pydicom  # noqa: F401 - imported again, now instrumented for Atheris's coverage

        import dcmlib  # noqa: F401 - the same
    warnings.simplefilter("ignore")
    out = os.path.abspath(args.out or "fuzz-artifacts")
    corpus = os.path.join(out, "corpus")  # libFuzzer adds the inputs that reach new code here
    os.makedirs(corpus, exist_ok=True)
    if not os.listdir(corpus):
        for base in bases:
            if len(base.data) <= args.max_len:
                with open(os.path.join(corpus, base.name), "wb") as fh:
                    fh.write(base.data)
    target = os.path.join(out, "input.dcm")
    seen: set[str] = set()

    def test_one_input(data: bytes) -> None:
        with open(target, "wb") as fh:
            fh.write(data)
        try:
            status = boundary(target, on_warning=lambda message: None, quiet=True)
        except Exception as exc:
            if not args.keep_going:
                raise
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
            signature = f"{type(exc).__name__} at {where}"
            if signature not in seen:
                seen.add(signature)
                name = f"failure-{type(exc).__name__}-{hashlib.sha1(data).hexdigest()[:12]}.dcm"
                with open(os.path.join(out, name), "wb") as fh:
                    fh.write(data)
                print(f"dcmlib.fuzz: new failure {signature}: {runner.exception_line(exc)} -> {name}", flush=True)
            return
        if status == runner.BAD_OUTPUT:
            raise AssertionError("the library rendered a wrong image for this input")

    libfuzzer_args = [
        sys.argv[0],
        f"-max_total_time={max(int(args.minutes * 60), 1)}",
        f"-seed={args.seed & 0x7FFFFFFF or 1}",
        f"-timeout={int(args.timeout)}",
        "-rss_limit_mb=3072",
        f"-max_len={args.max_len}",
        f"-artifact_prefix={os.path.join(out, '')}",
        corpus,
    ]
    # libFuzzer ends the process itself (exit()) when the time is up or on a crash, a hang or an
    # out-of-memory: the artifacts and the grown corpus stay in ``out``.
    atheris.Setup(libfuzzer_args, test_one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dcmlib.fuzz", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"run seed (default {DEFAULT_SEED})")
    p.add_argument("--cases", type=int, default=300, help="number of cases (default 300)")
    p.add_argument("--start", type=int, default=0, help="first case index (default 0)")
    p.add_argument("--case", action="append", metavar="NAME", help="run only this case (repeatable)")
    p.add_argument(
        "--modes",
        default="file,series",
        help="file: load the damaged file; series: load a folder of it and two good slices (default: both)",
    )
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="children at once (default: CPUs)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds before a case counts as a hang")
    p.add_argument("--save", metavar="DIR", help="write failing cases (or the --case cases) as files to DIR")
    p.add_argument(
        "--verbose-failures",
        type=int,
        default=30,
        metavar="K",
        help="show the stderr of the first K failing cases (default 30)",
    )
    p.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing with Atheris instead")
    p.add_argument("--minutes", type=float, default=10.0, help="Atheris run time (default 10)")
    p.add_argument(
        "--out",
        help="batch: write report.txt and results.json here; Atheris: crash artifacts, "
        "failing inputs and the grown corpus OUT/corpus (default fuzz-artifacts)",
    )
    p.add_argument(
        "--stop-on-failure",
        dest="keep_going",
        action="store_false",
        help="Atheris: stop at the first exception (default: save one input per new failure and go on)",
    )
    p.add_argument("--max-len", type=int, default=64 * 1024, help="Atheris input size limit (bytes)")
    args = p.parse_args(argv)
    return run_atheris(args) if args.atheris else run_batch(args)


if __name__ == "__main__":
    raise SystemExit(main())

"""Damaged files never crash, hang or confuse: the command line's error contract on seeded fuzz cases.

A few hundred damaged files from :mod:`dcmlib.fuzz.mutate` (seeded, so every
run checks the same files) each go through ``dcmview.main([path, "--export",
out.png])`` and ``dcmview.main([path, "--info"])``, and as one slice of a
series folder (``dcmview.main([folder, "--export", out.png])``), in a forked
child with a memory limit and a hang limit.  Every run must either exit 0 with a valid
result (a PNG OpenCV reads; a summary on stdout) or exit 2 with exactly one
stderr line ``dcmview: error: <file>: <problem>`` in DICOM words (for a series:
the folder or a file in it), and leave no
output file behind: no traceback, no signal, no hang.

A failure lists every broken run with its stderr.  To reproduce one case:
``python -m dcmlib.fuzz --seed 20261129 --case NAME --save DIR`` writes it to
DIR; ``DCMVIEW_FUZZ_SAVE=DIR`` makes this test write all failing cases there.
"""

from __future__ import annotations

import os
import signal
import sys

import cv2
import numpy as np
import pytest

import dcmview
from dcmlib.fuzz import mutate, runner

SEED = int(os.environ.get("DCMVIEW_FUZZ_SEED", "20261129"))
CASES = int(os.environ.get("DCMVIEW_FUZZ_CASES", "300"))
HANG_SECONDS = 20.0
JOBS = max(os.cpu_count() or 1, 2)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fuzz runner forks (Linux)")


def png_problem(path: str) -> str | None:
    """None when ``path`` is an 8-bit grey or BGR image OpenCV reads, else what is wrong."""
    if not os.path.exists(path):
        return "exit 0 but no output file"
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        return "exit 0 but the output is not an image OpenCV reads"
    if img.dtype != np.uint8 or not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)) or 0 in img.shape:
        return f"exit 0 but the output is {img.dtype} {img.shape}"
    return None


def cli_jobs(cases, root, modes=("export", "info", "series"), argvs=None):
    """Runs per case, each in its own folder: ``--export`` and ``--info`` on a copy of the damaged
    file, and ``--export`` of a series folder holding it and two undamaged slices of its base."""
    for n, case in enumerate(cases):
        for mode in modes:
            folder = root / f"{n:04d}-{mode}"
            folder.mkdir()
            out = folder / "out.png"
            if mode == "series":
                path = folder / "series"
                path.mkdir()
                for name, data in mutate.series_files(case):
                    (path / name).write_bytes(data)
                keep = ("series",)
            else:
                path = folder / case.filename
                path.write_bytes(case.data)
                keep = (case.filename,)
            argv = [str(path), "--info"] if mode == "info" else [str(path), "--export", str(out)]
            if argvs is not None:
                argvs[case.name, mode] = argv
            if mode == "info":
                job = runner.Job(
                    runner.cli_target(dcmview.main, argv),
                    file=str(path),
                    workdir=str(folder),
                    keep=keep,
                    expect_stdout=True,
                )
            else:
                job = runner.Job(
                    runner.cli_target(dcmview.main, argv),
                    file=str(path),
                    output=str(out),
                    check_output=png_problem,
                    workdir=str(folder),
                    keep=keep,
                    inside=mode == "series",
                )
            yield case, mode, job


def explain_internal_errors(results, argvs) -> None:
    """Run each "internal error" again with --debug: the report then shows the exception behind it."""
    for r in results:
        if r.klass == "internal-error":
            again = runner.run_forked(
                runner.cli_target(dcmview.main, [*argvs[r.name, r.mode], "--debug"]), timeout=HANG_SECONDS
            )
            cause = runner.last_exception_line(again.stderr)
            if cause:
                r.detail = f"{r.detail} <- {cause}"
                r.stderr = again.stderr


def save_failing(cases, results, folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    bad = {r.name for r in results if r.failed}
    for case in cases:
        if case.name in bad:
            with open(os.path.join(folder, case.filename), "wb") as fh:
                fh.write(case.data)


def test_damaged_files_keep_the_cli_contract(tmp_path):
    cases = list(mutate.cases(SEED, CASES))
    argvs: dict = {}
    results = runner.run_jobs(cli_jobs(cases, tmp_path, argvs=argvs), jobs=JOBS, timeout=HANG_SECONDS)
    assert len(results) == 3 * len(cases)
    bad = runner.failures(results)
    explain_internal_errors(bad, argvs)
    if bad and os.environ.get("DCMVIEW_FUZZ_SAVE"):
        save_failing(cases, results, os.environ["DCMVIEW_FUZZ_SAVE"])
    assert not bad, (
        f"{len(bad)} of {len(results)} runs broke the error contract (seed {SEED}, {CASES} cases; "
        f"reproduce one with: python -m dcmlib.fuzz --seed {SEED} --case NAME --save DIR)\n\n"
        + runner.report(results, full=len(bad))
    )


def test_undamaged_bases_render_through_the_cli(tmp_path):
    """The fuzzer's starting points are good files: each exports a PNG and prints a summary."""
    cases = [mutate.Case(b.name, "base", b.data, b.name) for b in mutate.bases()]
    results = runner.run_jobs(cli_jobs(cases, tmp_path, ("export", "info")), jobs=JOBS, timeout=HANG_SECONDS)
    wrong = [r for r in results if r.klass != "ok"]
    assert not wrong, runner.report(wrong, full=len(wrong))


# ----------------------------------------------------------------------------- the fuzzer itself


def test_cases_are_deterministic_and_independent_of_the_count():
    first = list(mutate.cases(SEED, 12))
    again = list(mutate.cases(SEED, 30))[:12]
    assert [(c.name, c.data) for c in first] == [(c.name, c.data) for c in again]
    assert [c.name for c in mutate.cases(SEED + 1, 12)] != [c.name for c in first]
    one = mutate.case_by_name(SEED, first[7].name)
    assert one.data == first[7].data and one.note == first[7].note


def test_cases_damage_every_base_with_every_kind_over_a_long_run():
    many = list(mutate.cases(SEED, 1500))
    assert {c.kind for c in many} == set(mutate.KINDS)
    assert {c.base for c in many} == {b.name for b in mutate.bases()}
    bases = {b.name: b.data for b in mutate.bases()}
    assert all(c.data != bases[c.base] for c in many)


def _traceback():
    raise ValueError("boom")


def _segfault():
    os.kill(os.getpid(), signal.SIGSEGV)


def _hang():
    while True:
        pass


def _words(path):
    def run():
        sys.stderr.write(f"dcmview: error: {path}: list index out of range\n")
        return 2

    return run


def _clean(path):
    def run():
        sys.stderr.write(f"dcmview: error: {path}: pixel data are truncated\n")
        return 2

    return run


def _internal(path):
    def run():
        sys.stderr.write(f"dcmview: error: {path}: internal error (ZeroDivisionError); run again with --debug\n")
        return 2

    return run


def _partial(path, out):
    def run():
        with open(out, "wb") as fh:
            fh.write(b"half")
        sys.stderr.write(f"dcmview: error: {path}: cannot decode\n")
        return 2

    return run


def _memory():
    return [0] * (1 << 40)


def _numpy_warning():
    np.float32(1e308)  # RuntimeWarning: overflow encountered in cast (pytest records warnings: not here)
    return 0


def test_runner_classifies_each_way_a_child_can_end(tmp_path):
    path, out = str(tmp_path / "x.dcm"), str(tmp_path / "out.png")
    (tmp_path / "x.dcm").write_bytes(b"x")
    case = mutate.Case("x#none-0", "none", b"x")
    targets = {
        "traceback": runner.Job(_traceback, file=path),
        "signal": runner.Job(_segfault, file=path),
        "hang": runner.Job(_hang, file=path),
        "python-words": runner.Job(_words(path), file=path),
        "clean-error": runner.Job(_clean(path), file=path),
        "unnamed-file": runner.Job(_clean("other.dcm"), file=path),
        "internal-error": runner.Job(_internal(path), file=path),
        "partial-file-left": runner.Job(_partial(path, out), file=path, output=out),
        "memory-error": runner.Job(_memory, file=path),
        "bad-exit": runner.Job(lambda: 5, file=path),
        "python-warning": runner.Job(_numpy_warning, file=path),
        "ok": runner.Job(lambda: 0, file=path),
    }
    results = runner.run_jobs([(case, name, job) for name, job in targets.items()], jobs=JOBS, timeout=2.0)
    assert {r.mode: r.klass for r in results} == {name: name for name in targets}

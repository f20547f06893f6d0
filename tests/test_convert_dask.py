"""``dcmview.py convert --dask``: the same per-file task on a real dask.distributed cluster.

A scheduler and two workers are started here as separate processes with the
``distributed`` command-line tools (``dask scheduler``, ``dask worker``), on
127.0.0.1, sharing this machine's filesystem.  Contract under test:

- the outputs and the manifest equal the local pool's, byte for byte;
- a worker killed mid-run loses and duplicates nothing: every source has its
  rows once, every output is there and equal, no temporary file is left;
- ``--dask local`` starts its own LocalCluster and gives the same result.

The workers run with ``tests/faults`` on their path, so that slow files (see
``dcmview_faults``) keep them busy long enough to kill one mid-run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_convert import (
    assert_clean,
    colour_us,
    convert,
    ct_series,
    dcmview_faults,
    enhanced_mr,
    files_under,
    gated_tree,
    j2k_ct,
    rows_of,
    run_convert,
    subprocess_env,
)

from helpers import DCMVIEW, ON_CI, ROOT

try:
    import distributed
except ImportError:  # the test extra installs it; on CI its absence is a failure
    if ON_CI:
        raise
    pytest.skip("dask.distributed not installed (pip install -e '.[test]')", allow_module_level=True)

DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
SLOW = "0.3"  # seconds per slow file on the workers


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers (no nanny: killing one loses it), as processes."""
    if DASK is None:
        pytest.fail("the dask command-line tool is missing (dask[distributed] installs it)")
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    (folder / "held").mkdir()
    env = subprocess_env(
        True,
        {
            "DCMVIEW_TEST_SLOW": SLOW,
            "DCMVIEW_TEST_GATE": str(folder / "gate"),
            "DCMVIEW_TEST_HELD_DIR": str(folder / "held"),
        },
    )
    procs = []

    def start(*args: str, log: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [DASK, *args], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=open(folder / log, "wb")
        )
        procs.append(proc)
        return proc

    try:
        start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(info),
            log="scheduler.log",
        )
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        workers = [
            start(
                "worker",
                "--scheduler-file",
                str(info),
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--name",
                f"w{i}",
                "--death-timeout",
                "60",
                log=f"worker{i}.log",
            )
            for i in (1, 2)
        ]
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers, folder
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def same_tree(a: Path, b: Path) -> None:
    """The same files with the same bytes (manifest.json holds no path of DIR, so it is compared too)."""
    assert files_under(a) == files_under(b)
    for name in files_under(a):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_dask_outputs_equal_the_local_pool(tmp_path, cluster):
    address, _, _ = cluster
    src = tmp_path / "src"
    ct_series(src / "ct")
    enhanced_mr(src / "mr.dcm")
    colour_us(src / "us.dcm")
    bad = src / "ct" / "IM2.dcm"
    bad.write_bytes(bad.read_bytes()[:-500])  # one failed source: the same row both ways
    proc = run_convert(src, "--out", tmp_path / "dask", "--dask", address, "--no-progress")
    assert proc.returncode == 1, proc.stderr
    assert "converted 5 of 6 files (7 images)" in proc.stderr
    report = convert([src], tmp_path / "local")
    assert (report.converted, report.failed, report.images) == (5, 1, 7)
    same_tree(tmp_path / "dask", tmp_path / "local")


def test_dask_local_starts_its_own_cluster(tmp_path):
    src = tmp_path / "src"
    ct_series(src, zs=(0.0, 1.0, 2.0))
    report = convert([src], tmp_path / "dask", dask="local", workers=2)
    assert (report.converted, report.images) == (3, 3)
    convert([src], tmp_path / "local")
    same_tree(tmp_path / "dask", tmp_path / "local")


def test_a_file_that_kills_its_dask_worker_fails_alone(tmp_path):
    """--dask local (workers behind nannies, which restart them): a real abort inside a batch of files;
    the batch is retried file by file, so only the aborting file fails."""
    src = tmp_path / "src"
    sources = ct_series(src, zs=tuple(float(z) for z in range(15)))
    crash = j2k_ct(src / "IM7b.dcm", comment=dcmview_faults.ABORT)
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}  # the first death is final for a task
    proc = run_convert(
        src, "--out", tmp_path / "out", "--dask", "local", "--workers", "1", "--no-progress", faults=True, env=env
    )
    assert proc.returncode == 1, proc.stderr
    ours = [line for line in proc.stderr.splitlines() if line.startswith("dcmview:")]
    assert len(ours) == 1 and ours[0].startswith("dcmview: converted 15 of 16 files (15 images)"), proc.stderr
    assert "Traceback" not in proc.stderr
    # A worker the nanny restarts just as the run closes may still log a line of Dask's own (seen once on CI,
    # before its logging was set from the environment too); the summary is the one line dcmview writes.
    rows = {r["source"]: r for r in rows_of(tmp_path / "out")}
    assert rows[crash]["error"] == "decoder crashed (every Dask worker that ran it died)"
    assert all(rows[p]["status"] == "ok" for p in sources) and len(rows) == 16
    assert_clean(tmp_path / "out")


def test_a_worker_lost_mid_run_loses_and_duplicates_nothing(tmp_path, cluster):
    """Worker 1 is killed while it holds a file (the workers' decoder waits at a gate, and says which
    process waits): the scheduler runs its file again elsewhere; the gate then opens. Runs last: it
    leaves the cluster with one worker."""
    address, workers, folder = cluster
    src = tmp_path / "src"
    sources = gated_tree(src, n=12, free=0)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, str(DCMVIEW), "convert", str(src), "--out", str(out), "--dask", address, "--no-progress"],
        cwd=ROOT,
        env=subprocess_env(False),
        stderr=subprocess.PIPE,
        text=True,
    )
    holding = folder / "held" / str(workers[0].pid)
    deadline = time.monotonic() + 60
    while not holding.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert holding.exists(), "worker 1 never took a file"
    os.kill(workers[0].pid, signal.SIGKILL)  # mid-run: it holds a file being converted
    workers[0].wait(10)
    (folder / "gate").touch()
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 0, stderr
    assert "converted 12 of 12 files (12 images)" in stderr
    rows = rows_of(out)
    assert sorted(r["source"] for r in rows) == sorted(sources)  # each source once
    assert all(r["status"] == "ok" for r in rows)
    assert_clean(out)
    convert([src], tmp_path / "local")
    same_tree(out, tmp_path / "local")


def test_dask_local_keeps_pydicoms_warnings_quiet_as_the_local_pool_does(tmp_path):
    """A file pydicom warns about (an invalid UI value in pydicom's rtdose.dcm): the local pool prints none
    of pydicom's UserWarnings, and --dask local prints none either; the summary is dcmview's one line."""
    import shutil

    from helpers import pydicom_file

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(pydicom_file("rtdose.dcm"), src)
    for extra in ((), ("--dask", "local")):
        out = tmp_path / ("dask" if extra else "local")
        proc = run_convert(src, "--out", out, "--workers", "1", "--no-progress", *extra)
        assert proc.returncode == 0, proc.stderr
        assert "UserWarning" not in proc.stderr and "warn" not in proc.stderr.lower(), proc.stderr
        assert [line for line in proc.stderr.splitlines() if line.startswith("dcmview:")] == [
            line for line in proc.stderr.splitlines() if line.strip()
        ], proc.stderr

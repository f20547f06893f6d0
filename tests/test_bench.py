"""``python -m dcmlib.bench`` on tiny images: the sections run, time what they say they time,
and compare like with like. No measured time is asserted (shared machines are noisy);
where a duration matters, the clock is a fake one."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from dcmlib import load
from dcmlib.bench import measure
from dcmlib.bench import render as bench_render
from dcmlib.bench import viewer as bench_viewer
from dcmlib.bench.__main__ import main as bench_main
from helpers import assert_within_one, make_ds, ramp


def tiny_ct():
    """A 32 x 48 CT: signed stored values, HU = stored - 1024, window 40/400."""
    return make_ds(
        ramp(32, 48, 0, 2000), RescaleSlope=1.0, RescaleIntercept=-1024.0, WindowCenter=40.0, WindowWidth=400.0
    )


def tiny_12_bit():
    """A 32 x 48 projection image: 12 of 16 bits stored, unsigned, no rescale, window 2048/4096."""
    return make_ds(
        ramp(32, 48, 0, 4095, np.uint16),
        BitsStored=12,
        HighBit=11,
        Modality="MG",
        WindowCenter=2048.0,
        WindowWidth=4096.0,
    )


def test_measure_is_the_median_of_the_timed_calls(monkeypatch):
    """``measure(fn, repeat, warmup)``: ``warmup`` untimed calls, then ``repeat`` timed ones; the
    median duration in ms. A fake clock moves only inside ``fn``, by a chosen duration per call."""
    now = [0.0]
    durations = iter([100.0, 100.0, 0.004, 0.001, 0.005, 0.002, 0.003])  # s: two slow warm-ups, then 1..5 ms
    calls = []

    def fn(i):
        calls.append(i)
        now[0] += next(durations)

    monkeypatch.setattr(time, "perf_counter", lambda: now[0])
    ms = measure(fn, repeat=5, warmup=2)
    assert len(calls) == 7 and all(0 <= i < 5 for i in calls)
    assert ms == pytest.approx(3.0)  # the median of 4, 1, 5, 2, 3 ms; the warm-ups are not timed


def test_render_section_measures_three_paths():
    rows = bench_render.run_case("tiny CT", tiny_ct(), repeat=3)
    assert [r[:2] for r in rows] == [("tiny CT", "linear"), ("tiny CT", "sigmoid")]
    assert all(t > 0 for r in rows for t in r[2:])  # ours, pydicom, floor: each one measured


@pytest.mark.parametrize(
    "center, width, function, mode",
    [
        (2048.0, 4096.0, "LINEAR", "linear"),  # the file's window
        (1500.0, 700.0, "LINEAR", "linear"),
        (1500.0, 700.0, "SIGMOID", "sigmoid"),
    ],
)
def test_pydicom_reference_path_agrees_with_ours(center, width, function, mode):
    """The render section's pydicom path (``apply_voi_lut(apply_modality_lut(...))`` scaled to
    8 bits) shows the same picture as ``render()`` with the same window and function, within
    one grey level (pydicom's path truncates, ours rounds): it times the same work."""
    ds = tiny_12_bit()
    img = load(ds)
    ours = img.render(center, width, mode=mode)
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = center, width, function  # as the bench sets them
    theirs = bench_render.pydicom_render(img.stored(0), ds)
    assert theirs.shape == ours.shape and theirs.dtype == np.uint8
    assert_within_one(theirs, ours)
    assert len(np.unique(ours)) > 100, "the ramp must span many grey levels for the comparison to mean much"


#: The callbacks the viewer section times (dcmlib/bench/viewer.py): a centre and a width
#: trackbar move, a drag step, a preset key and a hover over the image.
VIEWER_CALLBACKS = ("center", "width", "drag", "preset", "hover")


def test_viewer_section_reports_each_callback(capsys):
    """The viewer section times every callback kind and prints its time in ms on a line of its own."""
    bench_viewer.run_case("tiny CT", tiny_ct(), repeat=2)
    out = capsys.readouterr().out
    timed = [ln for ln in out.splitlines() if re.search(r"\d(\.\d+)?\s*ms\b", ln)]  # lines with a time in ms

    def kinds(line):
        return [k for k in VIEWER_CALLBACKS if re.search(rf"\b{k}", line, re.I)]

    for kind in VIEWER_CALLBACKS:
        assert any(kinds(ln) == [kind] for ln in timed), f"no line times the {kind} callback alone:\n{out}"


def test_unknown_section_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        bench_main(["nonsense"])
    assert exc.value.code == 2
    assert "unknown section" in capsys.readouterr().err


def test_viewer_section_times_zoom_and_pan_at_each_zoom(capsys):
    """On the large image the viewer section runs at the fit, 1:1 and 8x, with a pan and a zoom step
    among the callbacks, each line a p50 and a p99."""
    bench_viewer.run_case("tiny 12-bit", tiny_12_bit(), repeat=2, zooms=("fit", "1:1", "8x"))
    out = capsys.readouterr().out
    sections = re.findall(r"^  at (\S+) \(zoom ([\d.]+)%\)$", out, re.M)
    assert [w for w, _ in sections] == ["fit", "1:1", "8x"] and [z for _, z in sections][1:] == ["100", "800"]
    for kind in ("pan step", "zoom step", "center trackbar"):
        lines = [ln for ln in out.splitlines() if ln.strip().startswith(kind)]
        assert len(lines) == 3 and all(re.search(r"p50 +[\d.]+ ms +p99 +[\d.]+ ms", ln) for ln in lines), out


def test_percentile_is_the_nearest_rank():
    ms = [float(i) for i in range(1, 101)]
    assert (bench_viewer.percentile(ms, 50), bench_viewer.percentile(ms, 99)) == (50.0, 99.0)
    assert bench_viewer.percentile([3.0], 99) == 3.0


def test_cine_case_is_a_jpeg_ybr_multi_frame_that_plays():
    """The generated cine file decodes as JPEG baseline YBR_FULL_422, frame by frame, and playing it
    for a moment shows frames at a positive rate (the rate itself is not asserted)."""
    from dcmlib.viewer.view import View

    ds = bench_viewer.jpeg_cine(frames=4, rows=32, cols=48, fps=50.0)
    img = load(ds)
    assert (len(img), img.photometric, ds.file_meta.TransferSyntaxUID) == (4, "YBR_FULL_422", "1.2.840.10008.1.2.4.50")
    assert img.cine_rate[0] == pytest.approx(50.0, rel=1e-3)
    rgb = img.values(1)
    assert rgb.shape == (32, 48, 3) and rgb[:, 14:26].mean() > 200  # frame 1's white bar: x 12..27
    assert rgb[:, 32:].mean() < 200  # and the colour ramp beside it
    result = bench_viewer.play(View(img), 0.3)
    assert result["target"] == pytest.approx(50.0, rel=1e-3) and result["achieved"] > 0


def test_mpr_section_builds_both_ways_and_times_both_planes(tmp_path, monkeypatch):
    """python -m dcmlib.bench mpr on a tiny series: a build line per transfer syntax with ours (and
    SimpleITK's when installed, on the same folder: the same volume), then coronal and sagittal render
    lines with a p50 and a p99; without SimpleITK it says so plainly."""
    from dcmlib.bench import mpr as bench_mpr
    from dcmlib.bench.series import write_ct_series

    lines: list[str] = []
    bench_mpr.run(lines.append, slices=6, size=16, repeat=1, renders=4)
    out = "\n".join(lines)
    builds = [ln for ln in lines if ln.strip().startswith(("uncompressed", "JPEG 2000"))]
    assert len(builds) == 2, out
    for plane in ("coronal", "sagittal"):
        (line,) = [ln for ln in lines if ln.strip().startswith(plane)]
        assert re.search(r"\s[\d.]+\s+[\d.]+\s+\d+$", line), line
    sitk = bench_mpr.simpleitk()
    if sitk is not None:
        assert all(re.search(r"[\d.]+x$", ln) for ln in builds), out
        write_ct_series(tmp_path / "s", 6, 16)
        ours = bench_mpr.build_ours(tmp_path / "s", "axial")
        theirs = sitk.GetArrayFromImage(bench_mpr.build_simpleitk(tmp_path / "s"))  # z, y, x in HU
        assert theirs.shape == (6, 16, 16)
        for k in range(6):  # the same voxels: SimpleITK applies the rescale too
            np.testing.assert_array_equal(ours.values(k), theirs[k].astype(np.float32))
    monkeypatch.setattr(bench_mpr, "simpleitk", lambda: None)
    lines.clear()
    bench_mpr.run(lines.append, slices=4, size=16, repeat=1, renders=2)
    assert any("SimpleITK is not installed" in ln for ln in lines)
    assert not any(ln.rstrip().endswith("x") for ln in lines if ln.strip().startswith("uncompressed"))

"""Smoke tests of ``python -m dcmlib.bench`` sections on tiny images: they run and compare
like with like. Nothing timed is asserted (shared machines are noisy)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from dcmlib import load
from dcmlib.bench import render as bench_render
from dcmlib.bench import viewer as bench_viewer
from dcmlib.bench.__main__ import main as bench_main


def test_render_section_measures_three_paths():
    rows = bench_render.run_case("tiny CT", bench_render.synthetic(32, 48, ct=True), repeat=3)
    assert [r[1] for r in rows] == ["linear", "sigmoid"]
    assert all(t > 0 for r in rows for t in r[2:])


def test_pydicom_reference_path_agrees_with_ours():
    """The benchmark's pydicom path renders the same picture as ours (within 1 grey level)."""
    ds = bench_render.synthetic(32, 48, ct=False)
    img = load(ds)
    ours = img.render()
    theirs = bench_render._pydicom_render(img.stored(0), ds)
    # pydicom's own pipeline, scaled to 8 bits the same way: the two must show the same image
    assert theirs.shape == ours.shape and theirs.dtype == np.uint8
    assert np.abs(theirs.astype(int) - ours.astype(int)).max() <= 1
    assert apply_voi_lut(apply_modality_lut(img.stored(0), ds), ds).shape == ours.shape


def test_viewer_section_runs(capsys):
    bench_viewer.run_case("tiny CT", bench_render.synthetic(32, 48, ct=True), repeat=2)
    assert "ms per callback" in capsys.readouterr().out


def test_unknown_section_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        bench_main(["nonsense"])
    assert exc.value.code == 2
    assert "unknown section" in capsys.readouterr().err

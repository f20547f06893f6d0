"""Modality LUT and VOI LUT stages (dcmlib.values.lut) against the standard's formulas worked by hand.

Every expected value below is derived in the test from the text of DICOM PS3.3:
C.11.1 (Modality LUT), C.11.2.1.2.1 (LINEAR), C.11.2.1.3.1 (SIGMOID),
C.11.2.1.3.2 (LINEAR_EXACT), C.11.2.1.1 (VOI LUT Sequence) -- not from dcmlib.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from dcmlib import InvalidArgumentError
from dcmlib.values.lut import (
    MODES,
    LutData,
    VoiFunction,
    VoiLut,
    Window,
    check_window,
    lut_lookup,
    modality_lut,
    voi_lut,
    voi_window,
)
from dcmlib.values.presentation import to_uint8
from helpers import assert_within_one, lut_item, make_ds


def f32(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float32)


def linear_by_hand(x: float, c: float, w: float) -> float:
    """PS3.3 C.11.2.1.2.1 with y_min 0, y_max 1, written out as the standard's pseudo-code."""
    if w == 1:  # the standard's special case: a threshold at c - 0.5
        return 0.0 if x <= c - 0.5 else 1.0
    if x <= c - 0.5 - (w - 1) / 2:
        return 0.0
    if x > c - 0.5 + (w - 1) / 2:
        return 1.0
    return (x - (c - 0.5)) / (w - 1) + 0.5


# ----------------------------------------------------------------------------- LINEAR


class TestLinear:
    """C.11.2.1.2.1, the default VOI LUT Function."""

    def test_ct_soft_tissue_window_worked_by_hand(self):
        # c = 40, w = 400: c - 0.5 = 39.5, (w - 1) / 2 = 199.5
        # lower edge x = 39.5 - 199.5 = -160 -> 0; upper edge x = 39.5 + 199.5 = 239 -> 1
        c, w = 40, 400
        x = f32(-1000, -160, -159.9, -159, 39.5, 40, 239, 239.1, 240, 3000)
        y = voi_window(x, c, w)
        assert y.dtype == np.float32
        expected = [0, 0, 0.1 / 399, 1 / 399, 0.5, 0.5 / 399 + 0.5, 1, 1, 1, 1]
        np.testing.assert_allclose(y, expected, atol=2e-6)
        assert y[1] == 0.0  # exactly the lower edge is still the minimum
        assert y[2] > 0.0  # just above it is not
        assert y[6] == pytest.approx(1.0, abs=1e-6)  # exactly the upper edge already reaches the maximum

    def test_ct_soft_tissue_window_in_grey_levels(self):
        # 0..255 output: round(255 * y) with y from the formula; the midpoint 39.5 is 127.5 -> 128.
        x = f32(-160, -159, 39.5, 238, 239)
        got = to_uint8(voi_window(x, 40, 400))
        assert got.tolist() == [0, 1, 128, 254, 255]  # 255/399 = 0.64 -> 1 ; 255 * 398/399 = 254.4 -> 254

    @pytest.mark.parametrize("c", [0, 10, -3.25, 1000])
    def test_width_one_is_a_threshold_at_c_minus_half(self, c):
        x = f32(c - 10, c - 1, c - 0.5, c - 0.49, c, c + 10)
        y = voi_window(x, c, 1)
        assert y.tolist() == [0, 0, 0, 1, 1, 1]

    def test_width_two_edges(self):
        # w = 2: edges at c - 0.5 -+ 0.5 = c - 1, c; between them slope 1/(w-1) = 1
        y = voi_window(f32(9, 9.25, 9.5, 10, 10.5), 10, 2)
        np.testing.assert_allclose(y, [0, 0.25, 0.5, 1, 1], atol=1e-6)

    @pytest.mark.parametrize(
        "c,w", [(40, 400), (-600, 1500), (300, 1500), (40, 80), (0.5, 1.5), (2047.5, 4096), (127, 3)]
    )
    def test_matches_hand_formula_on_a_dense_ramp(self, c, w):
        lo, hi = c - w, c + w
        x = np.linspace(lo, hi, 1001, dtype=np.float32)
        expected = np.array([linear_by_hand(float(v), c, w) for v in x])
        np.testing.assert_allclose(voi_window(x, c, w), expected, atol=2e-5)

    def test_integer_input(self):
        x = np.array([-160, -159, 239], dtype=np.int16)
        np.testing.assert_allclose(voi_window(x, 40, 400), [0, 1 / 399, 1], atol=1e-6)

    def test_out_argument(self):
        x = f32(-160, 39.5, 239)
        out = np.empty(3, dtype=np.float32)
        res = voi_window(x, 40, 400, out=out)
        assert res is out
        np.testing.assert_allclose(out, [0, 0.5, 1], atol=1e-6)

    def test_float_center_and_width_are_not_truncated(self):
        # c = 40.7, w = 10.6: a truncating implementation (c=40, w=10) gives 0.5 at x = 39.5 instead.
        y = voi_window(f32(40.2), 40.7, 10.6)
        assert float(y[0]) == pytest.approx(0.5, abs=1e-6)


class TestLinearExact:
    """C.11.2.1.3.2: y = ((x - c) / w + 0.5), clipped; no 0.5 / 1 offsets."""

    def test_edges_worked_by_hand(self):
        # c = 40, w = 400: x <= c - w/2 = -160 -> 0, x > c + w/2 = 240 -> 1
        x = f32(-1000, -160, -159, 40, 239, 240, 241)
        y = voi_window(x, 40, 400, "LINEAR_EXACT")
        np.testing.assert_allclose(y, [0, 0, 1 / 400, 0.5, 399 / 400, 1, 1], atol=2e-6)
        assert y[1] == pytest.approx(0.0, abs=1e-7) and y[2] > 1e-3  # float32 a*x+b: the edge is 0 to 3e-8
        assert to_uint8(y).tolist() == [0, 0, 1, 128, 254, 255, 255]  # 255/400 = 0.64 -> 1

    def test_differs_from_linear(self):
        # The same c/w: LINEAR reaches its midpoint at 39.5, LINEAR_EXACT at 40.
        x = f32(39.5, 40)
        assert voi_window(x, 40, 400, "LINEAR")[0] == pytest.approx(0.5, abs=1e-6)
        assert voi_window(x, 40, 400, "LINEAR_EXACT")[1] == pytest.approx(0.5, abs=1e-6)

    def test_width_below_one_is_allowed(self):
        y = voi_window(f32(-1, 0, 0.1, 1), 0, 0.5, "linear-exact")
        np.testing.assert_allclose(y, [0, 0.5, 0.7, 1], atol=1e-6)


class TestSigmoid:
    """C.11.2.1.3.1: y = 1 / (1 + exp(-4 (x - c) / w))."""

    def test_midpoint_is_half(self):
        y = voi_window(f32(40), 40, 400, "SIGMOID")
        assert float(y[0]) == pytest.approx(0.5, abs=1e-7)
        assert to_uint8(y)[0] == 128

    @pytest.mark.parametrize("d", [1, 10, 50, 100, 200, 400, 1000])
    def test_symmetric_about_the_center(self, d):
        c, w = 40, 400
        y = voi_window(f32(c - d, c + d), c, w, "SIGMOID")
        assert float(y[0] + y[1]) == pytest.approx(1.0, abs=1e-6)
        by_hand = 1.0 / (1.0 + math.exp(-4.0 * d / w))
        assert float(y[1]) == pytest.approx(by_hand, rel=1e-5)

    def test_values_worked_by_hand(self):
        # x = c + w/2: 1 / (1 + e^-2) = 0.8807970779778823
        c, w = 100, 50
        y = voi_window(f32(c + w / 2, c - w / 2, c + w, -1e6, 1e6), c, w, "sigmoid")
        np.testing.assert_allclose(y[:3], [0.8807970779778823, 0.11920292202211755, 0.9820137900379085], rtol=1e-5)
        assert y[3] == pytest.approx(0.0, abs=1e-7) and y[4] == pytest.approx(1.0, abs=1e-7)
        assert np.isfinite(y).all()

    def test_width_below_one_is_allowed(self):
        y = voi_window(f32(0), 0, 0.25, "SIGMOID")
        assert float(y[0]) == pytest.approx(0.5)


class TestInvalidWindows:
    @pytest.mark.parametrize("fn", list(VoiFunction))
    @pytest.mark.parametrize("w", [0, -1, -400])
    def test_width_not_positive_raises(self, fn, w):
        with pytest.raises(InvalidArgumentError):
            voi_window(f32(1), 40, w, fn)
        with pytest.raises(InvalidArgumentError):
            check_window(40, w, fn)

    @pytest.mark.parametrize("w", [0.5, 0.999])
    def test_linear_width_below_one_raises(self, w):
        with pytest.raises(InvalidArgumentError):
            voi_window(f32(1), 40, w, "LINEAR")
        check_window(40, w, VoiFunction.LINEAR_EXACT)  # fine for the others
        check_window(40, w, VoiFunction.SIGMOID)

    @pytest.mark.parametrize("c,w", [("abc", 10), (10, "wide"), (None, 10), (float("nan"), 10), (10, float("inf"))])
    def test_non_numeric_or_non_finite_raises(self, c, w):
        with pytest.raises(InvalidArgumentError):
            check_window(c, w)

    def test_invalid_argument_error_is_a_value_error(self):
        with pytest.raises(ValueError):
            voi_window(f32(1), 0, 0)

    def test_unknown_function(self):
        with pytest.raises(InvalidArgumentError, match="unknown mode"):
            voi_window(f32(1), 0, 10, "GAMMA")


class TestNaN:
    @pytest.mark.parametrize("fn", list(VoiFunction))
    def test_nan_shows_as_minimum(self, fn):
        y = voi_window(f32(np.nan, -1e9, 1e9), 0, 100, fn)
        assert y[0] == 0.0
        assert y[1] == pytest.approx(0.0, abs=1e-7)
        assert y[2] == pytest.approx(1.0)
        assert to_uint8(y).tolist() == [0, 0, 255]


class TestVoiFunctionNames:
    def test_parse_accepts_mode_and_dicom_names(self):
        assert VoiFunction.parse("linear-exact") is VoiFunction.LINEAR_EXACT
        assert VoiFunction.parse("LINEAR_EXACT") is VoiFunction.LINEAR_EXACT
        assert VoiFunction.parse(" sigmoid ") is VoiFunction.SIGMOID
        assert VoiFunction.parse(None) is VoiFunction.LINEAR

    def test_modes_in_cycle_order(self):
        assert list(MODES) == ["linear", "linear-exact", "sigmoid"]


# ----------------------------------------------------------------------------- Modality LUT


class TestModalityRescale:
    """C.11.1.2: output = stored * slope + intercept, floats never truncated."""

    def test_fractional_slope_and_intercept(self):
        stored = np.array([0, 1, 2, 3, 2048, 4095], dtype=np.uint16)
        got = modality_lut(stored, 0.5, -1024.5)
        assert got.dtype == np.float32
        # by hand: 0 -> -1024.5, 1 -> -1024.0, 2 -> -1023.5, 3 -> -1023.0, 2048 -> -0.5, 4095 -> 1023.0
        assert got.tolist() == [-1024.5, -1024.0, -1023.5, -1023.0, -0.5, 1023.0]

    def test_signed_ct(self):
        stored = np.array([-2000, -1, 0, 1, 3071], dtype=np.int16)
        assert modality_lut(stored, 1.0, -1024.0).tolist() == [-3024, -1025, -1024, -1023, 2047]

    def test_small_slope(self):
        # PET-like slope 0.0123: 1000 * 0.0123 = 12.3 (a truncating int slope would give 0)
        got = modality_lut(np.array([1000], dtype=np.uint16), 0.0123, 0.0)
        assert float(got[0]) == pytest.approx(12.3, rel=1e-6)

    def test_matches_pydicom_apply_modality_lut(self):
        arr = np.array([[0, 100], [1000, 4095]], dtype=np.uint16)
        ds = make_ds(arr, RescaleSlope=0.37, RescaleIntercept=-12.25, BitsStored=12, HighBit=11)
        np.testing.assert_allclose(modality_lut(arr, 0.37, -12.25), apply_modality_lut(arr, ds), rtol=1e-6)

    def test_out_argument(self):
        out = np.empty(2, dtype=np.float32)
        assert modality_lut(np.array([1, 2], dtype=np.int16), 2.0, 1.0, out=out) is out
        assert out.tolist() == [3.0, 5.0]


class TestLutLookup:
    """C.11.1.1: first entry below the first mapped value, last entry past the end."""

    def test_clamps_both_ends(self):
        lut = LutData(first_mapped=10, bits=16, entries=np.array([100, 200, 300, 400]))
        x = np.array([-5, 9, 10, 11, 12, 13, 14, 1000], dtype=np.int32)
        assert lut_lookup(x, lut).tolist() == [100, 100, 100, 200, 300, 400, 400, 400]

    def test_negative_first_mapped(self):
        lut = LutData(first_mapped=-2, bits=8, entries=np.array([0, 50, 100, 150, 200]))
        x = np.array([-3, -2, -1, 0, 1, 2, 3], dtype=np.int16)
        assert lut_lookup(x, lut).tolist() == [0, 0, 50, 100, 150, 200, 200]

    def test_float_input_rounds_to_nearest_entry(self):
        lut = LutData(first_mapped=0, bits=8, entries=np.array([0, 10, 20, 30]))
        assert lut_lookup(f32(0.4, 0.6, 1.4, 2.6), lut).tolist() == [0, 10, 10, 30]

    def test_matches_pydicom_modality_lut_sequence(self):
        entries = [0, 7, 30, 90, 200, 500, 1000, 4000]
        item = lut_item([len(entries), 4, 16], entries, ModalityLUTType="HU")
        arr = np.arange(0, 16, dtype=np.uint16).reshape(4, 4)
        ds = make_ds(arr, ModalityLUTSequence=[item])
        theirs = apply_modality_lut(arr, ds)
        ours = lut_lookup(arr, LutData(first_mapped=4, bits=16, entries=np.array(entries)))
        np.testing.assert_array_equal(ours, theirs)


class TestVoiLutFunction:
    """C.11.2.1.1: VOI LUT entries scaled by the entry bits to the output range."""

    def test_entry_bits_scale_the_output(self):
        lut = LutData(first_mapped=0, bits=12, entries=np.array([0, 1000, 2048, 4095]))
        y = voi_lut(np.array([0, 1, 2, 3, 99], dtype=np.int16), lut)
        np.testing.assert_allclose(y, [0, 1000 / 4095, 2048 / 4095, 1, 1], rtol=1e-6)
        assert to_uint8(y).tolist() == [0, 62, 128, 255, 255]  # 62.27 -> 62, 127.53 -> 128

    def test_eight_bit_entries(self):
        lut = LutData(first_mapped=-1, bits=8, entries=np.array([255, 128, 0]))
        assert to_uint8(voi_lut(np.array([-5, -1, 0, 1, 5]), lut)).tolist() == [255, 255, 128, 0, 0]

    def test_label_and_equivalent_window(self):
        v = VoiLut(LutData(first_mapped=-100, bits=16, entries=np.zeros(200, dtype=np.int64)), "BRAIN")
        assert "BRAIN" in v.label and "200" in v.label and "-100" in v.label
        c, w = v.equivalent_window()
        # LINEAR edges of (c, w) are exactly the LUT's first and last inputs: -100 and 99
        assert c - 0.5 - (w - 1) / 2 == -100
        assert c - 0.5 + (w - 1) / 2 == 99

    def test_window_label(self):
        assert Window(40, 400, explanation="SOFT").label == "SOFT (C 40 W 400)"
        assert Window(-600, 1500).label == "window (C -600 W 1500)"


# ----------------------------------------------------------------------------- pydicom as an oracle


def _pydicom_unit(ds, arr) -> np.ndarray:
    """pydicom's apply_voi_lut(apply_modality_lut()) scaled to 0..1 by the output range it uses."""
    out = apply_voi_lut(apply_modality_lut(arr, ds), ds)
    bits = int(ds.BitsStored)
    lo, hi = (0, 2**bits - 1) if ds.PixelRepresentation == 0 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    ymin, ymax = lo * slope + intercept, hi * slope + intercept
    return (out - ymin) / (ymax - ymin)


@pytest.mark.parametrize(
    "c,w,fn",
    [(40, 400, "LINEAR"), (-600, 1500, "LINEAR"), (35.5, 1, "LINEAR"), (40, 80, "LINEAR_EXACT"), (40, 350, "SIGMOID")],
)
def test_matches_pydicom_apply_voi_lut(c, w, fn):
    rng = np.random.default_rng(7)
    arr = rng.integers(-1200, 1500, size=(32, 32), dtype=np.int16)
    arr[0, :6] = [-1024, -161, -160, -159, 239, 240]  # include the hand-worked edges (after rescale: -1024 -> ...)
    ds = make_ds(
        arr,
        RescaleSlope=1.0,
        RescaleIntercept=-24.0,
        WindowCenter=c,
        WindowWidth=w,
        VOILUTFunction=fn,
        BitsStored=16,
        HighBit=15,
    )
    theirs = np.rint(_pydicom_unit(ds, arr) * 255)
    ours = to_uint8(voi_window(modality_lut(arr, 1.0, -24.0), c, w, fn)).astype(float)
    assert_within_one(ours, theirs)

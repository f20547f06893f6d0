"""dcmlib.render.pipeline: the VOI precedence, the one display table, padding and viewports.

Expected grey levels are worked in the tests from PS3.3: the LINEAR window
(C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5), clipped to 0..1), the
rescale (C.11.1: slope x stored + intercept), padding shown as background
(C.7.5.1.1.2); 8 bits by rounding, floor(255 y + 0.5).
"""

from __future__ import annotations

import numpy as np
import pytest

from dcmlib.errors import InvalidArgumentError
from dcmlib.read.header import Layout
from dcmlib.render import pipeline as P
from dcmlib.values.lut import LutData, Modality, VoiFunction, VoiLut, Window
from helpers import assert_within_one


def linear(x, c, w) -> np.ndarray:
    """C.11.2.1.2.1 by hand, then 8 bits."""
    x = np.asarray(x, np.float64)
    y = np.clip((x - (c - 0.5)) / (w - 1) + 0.5, 0, 1)
    y[x <= c - 0.5 - (w - 1) / 2] = 0
    y[x > c - 0.5 + (w - 1) / 2] = 1
    return np.floor(y * 255 + 0.5).astype(np.uint8)


def lay(bits_stored=12, signed=False, bits_allocated=16, keyword="PixelData") -> Layout:
    return Layout(
        rows=2,
        columns=2,
        samples=1,
        bits_allocated=bits_allocated,
        bits_stored=bits_stored,
        signed=signed,
        frames=1,
        photometric="MONOCHROME2",
        keyword=keyword,
    )


def never() -> Window:
    raise AssertionError("the fallback must not be computed here")


class TestMinmaxWindow:
    def test_integer_range_maps_both_ends_exactly(self):
        w = P.minmax_window(-100, 300)
        assert (w.center, w.width, w.function) == (100.5, 401.0, VoiFunction.LINEAR)
        assert linear([-100, 300], w.center, w.width).tolist() == [0, 255]

    def test_real_range_is_linear_exact(self):
        w = P.minmax_window(0.25, 0.75)
        assert (w.center, w.width, w.function) == (0.5, 0.5, VoiFunction.LINEAR_EXACT)

    def test_a_constant_real_image_gets_a_tiny_width(self):
        assert P.minmax_window(0.5, 0.5).width == 1e-6


class TestExpressibleRange:
    def test_unsigned_12_bits_through_the_rescale(self):
        assert P.expressible_range(lay(12), Modality(slope=2.0, intercept=-1024.0)) == (-1024.0, 4095 * 2 - 1024.0)

    def test_signed_16_bits(self):
        assert P.expressible_range(lay(16, signed=True), Modality()) == (-32768.0, 32767.0)

    def test_a_negative_slope_swaps_the_ends(self):
        assert P.expressible_range(lay(8, bits_allocated=8), Modality(slope=-1.0)) == (-255.0, 0.0)

    def test_a_modality_lut_is_its_output_range(self):
        m = Modality(lut=LutData(first_mapped=0, bits=16, entries=np.array([5, 900, 30])))
        assert P.expressible_range(lay(), m) == (5.0, 900.0)

    def test_float_and_32_bit_data_have_none(self):
        assert P.expressible_range(lay(keyword="FloatPixelData", bits_allocated=32), Modality()) is None
        assert P.expressible_range(lay(32, bits_allocated=32), Modality()) is None


class TestPercentileWindow:
    def test_the_percentiles_of_a_ramp(self):
        c, w = P.percentile_window(np.arange(101, dtype=np.float32), None, 10, 90)
        assert (c, w) == (50.0, 80.0)

    def test_masked_and_nan_values_are_left_out(self):
        v = np.array([0, 10, 20, np.nan, 1000], np.float32)
        c, w = P.percentile_window(v, np.array([False, False, False, False, True]), 0, 100)
        assert (c, w) == (10.0, 20.0)

    def test_empty_and_constant(self):
        assert P.percentile_window(np.array([np.nan], np.float32), None, 0, 100) == (0.0, 1.0)
        assert P.percentile_window(np.full(5, 7.0), None, 0, 100) == (7.0, 1.0)  # width at least 1


STORED = [Window(40.0, 400.0, VoiFunction.LINEAR, "SOFT"), Window(-600.0, 1500.0, VoiFunction.LINEAR, "LUNG")]


class TestResolveVoi:
    def test_default_is_the_first_stored(self):
        sel = P.resolve_voi(STORED, never, VoiFunction.LINEAR)
        assert (sel.voi, sel.source, sel.index) == (STORED[0], "stored", 1)

    def test_no_stored_voi_is_the_fallback(self):
        sel = P.resolve_voi([], lambda: P.minmax_window(0, 99), VoiFunction.LINEAR)
        assert sel.source == "minmax" and (sel.window.center, sel.window.width) == (50.0, 100.0)

    def test_the_user_window_wins_and_takes_the_files_function(self):
        sel = P.resolve_voi(STORED, never, VoiFunction.SIGMOID, center=10, width=20, preset="lung", voi=2)
        assert sel.source == "user" and sel.voi == Window(10.0, 20.0, VoiFunction.SIGMOID, "user")

    def test_half_a_user_window_takes_the_rest_from_the_default(self):
        assert P.resolve_voi(STORED, never, VoiFunction.LINEAR, width=80).voi.center == 40.0
        assert P.resolve_voi(STORED, never, VoiFunction.LINEAR, center=-5).voi.width == 400.0

    def test_a_preset_before_a_stored_number(self):
        sel = P.resolve_voi(STORED, never, VoiFunction.LINEAR, preset="lung", voi=1)
        assert sel.source == "preset" and (sel.voi.center, sel.voi.width) == (-600.0, 1500.0)
        assert sel.preset is not None and sel.preset.name == "lung"

    def test_a_stored_number(self):
        sel = P.resolve_voi(STORED, never, VoiFunction.LINEAR, voi=2)
        assert (sel.voi, sel.index) == (STORED[1], 2)

    def test_mode_overrides_a_stored_windows_function(self):
        sel = P.resolve_voi(STORED, never, VoiFunction.LINEAR, mode="sigmoid")
        assert sel.voi == Window(40.0, 400.0, VoiFunction.SIGMOID, "SOFT") and sel.index == 1

    def test_a_voi_lut_window_is_its_equivalent_window(self):
        lut = VoiLut(LutData(first_mapped=100, bits=8, entries=np.arange(256)))
        sel = P.resolve_voi([lut], never, VoiFunction.LINEAR)
        assert sel.is_lut and sel.window.function is VoiFunction.LINEAR

    @pytest.mark.parametrize(
        "kw, problem",
        [
            ({"center": 40, "width": 0}, "width"),
            ({"center": 40, "width": 0.5}, "width"),  # LINEAR needs width >= 1 (C.11.2.1.2.1)
            ({"preset": "kidney"}, "kidney"),
            ({"voi": 3}, r"VOI 3 out of range \(1\.\.2\)"),
            ({"voi": 0}, r"VOI 0 out of range \(1\.\.2\)"),
            ({"voi": "two"}, "VOI number must be an integer"),
            ({"mode": "gamma"}, "gamma"),
        ],
        ids=["width-0", "width-half", "preset", "voi-3", "voi-0", "voi-text", "mode"],
    )
    def test_bad_choices_are_invalid_arguments_naming_where(self, kw, problem):
        with pytest.raises(InvalidArgumentError, match=problem) as info:
            P.resolve_voi(STORED, never, VoiFunction.LINEAR, where="a.dcm", **kw)
        assert info.value.path == "a.dcm"

    def test_linear_exact_takes_a_width_below_one(self):
        sel = P.resolve_voi(STORED, never, VoiFunction.LINEAR, center=0.5, width=0.5, mode="linear-exact")
        assert sel.voi.width == 0.5 and sel.voi.function is VoiFunction.LINEAR_EXACT

    def test_no_stored_voi_to_number(self):
        with pytest.raises(InvalidArgumentError, match="the file stores none"):
            P.resolve_voi([], never, VoiFunction.LINEAR, voi=1)


class TestGreyPipeline:
    def test_apply_modality_is_the_rescale_in_float32(self):
        out = P.apply_modality(np.array([0, 1, 4095], np.uint16), Modality(slope=2.0, intercept=-1024.0))
        assert out.dtype == np.float32 and out.tolist() == [-1024.0, -1022.0, 7166.0]

    def test_apply_modality_through_a_modality_lut(self):
        m = Modality(lut=LutData(first_mapped=10, bits=16, entries=np.array([100, 200, 300])))
        # C.11.1: below the first mapped value the first entry, above the last the last
        assert P.apply_modality(np.array([0, 10, 11, 12, 99], np.uint16), m).tolist() == [100, 100, 200, 300, 300]

    def test_to_display_is_the_linear_window(self):
        x = np.arange(-300, 400, 7, dtype=np.float32)
        np.testing.assert_array_equal(P.to_display(x, Window(40.0, 400.0), False), linear(x, 40, 400))

    def test_inverted_is_255_minus(self):
        x = np.arange(-300, 400, 7, dtype=np.float32)
        np.testing.assert_array_equal(P.to_display(x, Window(40.0, 400.0), True), 255 - linear(x, 40, 400))

    def test_a_voi_lut_scales_its_entries_to_8_bits(self):
        lut = VoiLut(LutData(first_mapped=0, bits=8, entries=np.array([0, 51, 255])))
        assert P.to_display(np.array([0, 1, 2, 9], np.float32), lut, False).tolist() == [0, 51, 255, 255]

    def test_display_table_equals_the_pipeline_per_code(self):
        m, w = Modality(slope=1.0, intercept=-1024.0), Window(40.0, 400.0)
        table = P.display_table(0, 4095, 65536, m, w, False)
        codes = np.arange(4096)
        np.testing.assert_array_equal(table[:4096], linear(codes - 1024, 40, 400))
        assert not table[4096:].any()  # codes that never occur stay 0

    def test_display_table_of_signed_codes_is_indexed_by_their_bit_pattern(self):
        table = P.display_table(-2, 1, 65536, Modality(), Window(0.3, 6.0), False)  # no level half-way
        stored = np.array([-2, -1, 0, 1], np.int16)
        np.testing.assert_array_equal(P.apply_table(stored, table), linear(stored, 0.3, 6.0))
        assert linear(stored, 0.3, 6.0).tolist() == [36, 87, 138, 189]  # e.g. -2: (-2 + 0.2) / 5 + 0.5 = 0.14
        assert table[65534] == 36 and table[65535] == 87  # -2 and -1 as unsigned 16-bit patterns

    def test_padding_codes_are_black_even_inverted(self):
        table = P.display_table(0, 255, 256, Modality(), Window(128.0, 256.0), True, padding=(0, 9))
        assert not table[:10].any() and table[10] == 255 - linear([10], 128, 256)[0]

    def test_apply_table_on_8_bit_signed(self):
        table = P.display_table(-128, 127, 256, Modality(), Window(0.0, 256.0), False)
        stored = np.array([[-128, 0, 127]], np.int8)
        np.testing.assert_array_equal(P.apply_table(stored, table), linear(stored, 0.0, 256.0))

    def test_color_display_is_bgr(self):
        rgb = np.array([[[255, 10, 0]]], np.uint8)
        assert P.color_display(rgb).tolist() == [[[0, 10, 255]]]
        assert P.color_display(rgb, invert=True).tolist() == [[[255, 245, 0]]]
        assert rgb.tolist() == [[[255, 10, 0]]]  # a new array


class TestPaddingAndRange:
    def test_padding_mask_is_inclusive(self):
        mask = P.padding_mask(np.array([-2000, -1001, -1000, 0]), (-2000.0, -1001.0))
        assert mask.tolist() == [True, True, False, False]
        assert P.padding_mask(np.zeros(3), None) is None

    def test_data_range_leaves_out_padding_and_nan(self):
        v = np.array([np.nan, -5, 3, 100], np.float32)
        assert P.data_range(v, np.array([False, False, False, True])) == (-5.0, 3.0)

    def test_data_range_of_nothing(self):
        assert P.data_range(np.array([np.nan], np.float32), None) == (0.0, 0.0)
        assert P.data_range(np.zeros(0), None) == (0.0, 0.0)


class TestViewports:
    def test_window_viewport_grey_with_padding_black(self):
        view = np.array([[0, 100], [200, 300]], np.float32)
        mask = np.array([[False, False], [False, True]])
        out = P.window_viewport(view, mask, Window(150.0, 300.0), False)
        want = linear(view, 150, 300)
        want[1, 1] = 0
        np.testing.assert_array_equal(out, want)

    def test_window_viewport_colour_is_bgr(self):
        assert P.window_viewport(np.array([[[1, 2, 3]]], np.uint8), None, None, False).tolist() == [[[3, 2, 1]]]

    def test_pyramid_halves_while_both_sides_stay_at_least_smallest(self):
        levels = P.pyramid(np.zeros((1000, 600), np.float32), smallest=128)
        assert [lv[0].shape for lv in levels] == [(1000, 600), (500, 300), (250, 150)]
        assert all(m is None for _, m in levels)

    def test_pyramid_sets_padding_to_the_background(self):
        v = np.full((4, 4), 7.0, np.float32)
        mask = np.zeros((4, 4), bool)
        mask[0, 0] = True
        ((level0, m0),) = P.pyramid(v, mask, background=-1.0, smallest=4)
        assert level0[0, 0] == -1.0 and level0[1, 1] == 7.0 and m0[0, 0] == 255 and m0[1, 1] == 0

    def test_one_to_one_is_the_pixels_themselves(self):
        v = np.arange(12, dtype=np.float32).reshape(3, 4)
        view, mask, at = P.resample_region(v, (10, 10), (1.0, 1.0), (2.0, 3.0))
        np.testing.assert_array_equal(view, v)
        assert at == (2, 3) and mask is None

    def test_nearest_magnification_repeats_each_pixel(self):
        v = np.arange(4, dtype=np.float32).reshape(2, 2)
        view, _, at = P.resample_region(v, (4, 4), (2.0, 2.0), (0.0, 0.0), smooth=False)
        np.testing.assert_array_equal(view, np.repeat(np.repeat(v, 2, 0), 2, 1))
        assert at == (0, 0)

    def test_minifying_by_two_averages_blocks(self):
        v = np.arange(16, dtype=np.float32).reshape(4, 4)
        view, _, at = P.resample_region(v, (2, 2), (0.5, 0.5), (0.0, 0.0))
        want = v.reshape(2, 2, 2, 2).mean(axis=(1, 3))
        assert at == (0, 0)
        np.testing.assert_allclose(view, want, atol=1e-5)

    def test_nothing_on_the_canvas(self):
        view, mask, at = P.resample_region(np.ones((4, 4), np.float32), (10, 10), (1.0, 1.0), (50.0, 50.0))
        assert view.size == 0 and mask is None and at == (0, 0)

    def test_a_displayed_ramp_is_the_window_of_the_ramp(self):
        """resample at 1:1 then window_viewport: the grey levels of the formula, within one grey level."""
        v = np.linspace(-200, 300, 64, dtype=np.float32).reshape(8, 8)
        view, mask, _ = P.resample_region(v, (8, 8), (1.0, 1.0), (0.0, 0.0))
        assert_within_one(P.window_viewport(view, mask, Window(50.0, 500.0), False), linear(v, 50, 500))

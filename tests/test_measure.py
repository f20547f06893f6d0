"""Measurements (dcmlib.viewer.measure, dcmlib.read.header.pixel_spacing): lengths and regions against hand-made
images whose spacing and values are known, worked by hand from PS3.3's definitions.

Pixel Spacing is "row spacing \\ column spacing" (PS3.3 10.7.1.3): the first value is the vertical
distance between rows, the second the horizontal distance between columns, so a horizontal ruler is
measured with the *second* value.  The tests use anisotropic pixels so a swap cannot pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import dcmlib
from dcmlib.read.header import PixelSpacing, cine_rate, pixel_spacing
from dcmlib.viewer.measure import Distance, distance, ellipse_mask, format_value, luminance, roi_stats
from helpers import make_ds

ANISO = PixelSpacing(row=0.5, column=0.25)  # rows 0.5 mm apart, columns 0.25 mm apart


class TestDistance:
    def test_horizontal_uses_the_column_spacing(self):
        d = distance(10.0, 7.0, 110.0, 7.0, ANISO)  # 100 columns
        assert (d.pixels, d.mm) == (100.0, 25.0)

    def test_vertical_uses_the_row_spacing(self):
        d = distance(3.0, 0.0, 3.0, 100.0, ANISO)  # 100 rows
        assert (d.pixels, d.mm) == (100.0, 50.0)

    def test_diagonal(self):
        # 30 columns and 40 rows: 50 px; 7.5 mm across and 20 mm down
        d = distance(0.0, 0.0, 30.0, 40.0, ANISO)
        assert d.pixels == 50.0 and d.mm == pytest.approx(math.sqrt(7.5**2 + 20**2))

    def test_lines(self):
        assert distance(0, 0, 100, 0, ANISO).line() == "distance 25.00 mm (100.0 px)"
        assert (
            distance(0, 0, 100, 0, PixelSpacing(0.5, 0.5, source="imager")).line()
            == "distance 50.00 mm (detector) (100.0 px)"
        )
        assert distance(0, 0, 3, 4).line() == "distance 5.0 px"
        assert distance(0, 0, 3, 4).short() == "5.0 px" and distance(0, 0, 100, 0, ANISO).short() == "25.00 mm"
        assert distance(0, 0, 100, 0, PixelSpacing(0.5, 0.5, source="imager")).short() == "50.00 mm (detector)"

    def test_the_issue_example_format(self):
        assert Distance(128.4, 42.31).line() == "distance 42.31 mm (128.4 px)"


class TestEllipseMask:
    def test_a_circle_in_4x4_leaves_out_the_corners(self):
        # box (0,0)-(4,4): centre (2,2), radius 2. Corner pixel centre (0.5,0.5) is sqrt(4.5) > 2 away: out.
        # Edge pixel (1.5, 0.5): (0.25^2 + 0.75^2) = 0.625 of the radius squared: in.
        rs, cs, inside = ellipse_mask(0, 0, 4, 4, 10, 10)
        assert (rs, cs) == (slice(0, 4), slice(0, 4))
        expected = np.ones((4, 4), bool)
        expected[[0, 0, 3, 3], [0, 3, 0, 3]] = False
        assert np.array_equal(inside, expected)

    def test_corners_in_any_order_and_clipped(self):
        a = ellipse_mask(4, 4, 0, 0, 10, 10)
        b = ellipse_mask(0, 0, 4, 4, 10, 10)
        assert a[0] == b[0] and a[1] == b[1] and np.array_equal(a[2], b[2])
        rs, cs, inside = ellipse_mask(-2, -2, 2, 2, 10, 10)  # a quarter is inside the image
        # centre (0, 0), radius 2: pixel (1, 1)'s centre (1.5, 1.5) is sqrt(4.5) away, outside
        assert (rs, cs) == (slice(0, 2), slice(0, 2))
        assert inside.tolist() == [[True, True], [True, False]]

    def test_outside_or_flat_is_empty(self):
        assert ellipse_mask(20, 20, 30, 30, 10, 10)[2].size == 0
        assert ellipse_mask(1, 1, 5, 1, 10, 10)[2].size == 0


def _by_hand(values, x0, y0, x1, y1, skip=None):
    """The pixels whose centres lie in the ellipse, listed one by one (the definition, no vectorising)."""
    cx, cy, a, b = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
    out = []
    for j in range(values.shape[0]):
        for i in range(values.shape[1]):
            if ((i + 0.5 - cx) / a) ** 2 + ((j + 0.5 - cy) / b) ** 2 <= 1 and not (skip is not None and skip[j, i]):
                out.append(float(values[j, i]))
    return np.array(out)


class TestRoiStats:
    def test_against_the_definition(self):
        values = (np.arange(20)[None, :] * 10 + np.arange(16)[:, None]).astype(np.float32)  # 16 x 20
        got = roi_stats(values, 2.0, 3.0, 15.0, 12.0, spacing=ANISO, unit="HU")
        sel = _by_hand(values, 2.0, 3.0, 15.0, 12.0)
        assert got.n == sel.size > 50
        assert got.mean == pytest.approx(sel.mean()) and got.sd == pytest.approx(sel.std(ddof=1))
        assert (got.min, got.max) == (sel.min(), sel.max())
        # the drawn ellipse: semi-axes 6.5 columns (1.625 mm) and 4.5 rows (2.25 mm)
        assert got.area_px == pytest.approx(math.pi * 6.5 * 4.5)
        assert got.area_mm2 == pytest.approx(math.pi * 1.625 * 2.25)

    def test_constant_region(self):
        values = np.full((10, 10), 41.0, np.float32)
        got = roi_stats(values, 0, 0, 10, 10)
        assert (got.mean, got.sd, got.min, got.max) == (41.0, 0.0, 41.0, 41.0) and got.area_mm2 is None

    def test_padding_and_nan_are_left_out(self):
        values = np.full((8, 8), 100.0, np.float32)
        values[:, :4] = -2000.0  # padding (the background of a round FOV)
        values[6, 6] = np.nan
        pad = values == -2000.0
        got = roi_stats(values, 0, 0, 8, 8, padding=pad)
        sel = _by_hand(values, 0, 0, 8, 8, skip=pad | np.isnan(values))
        assert got.n == sel.size and (got.mean, got.min, got.max) == (100.0, 100.0, 100.0)

    def test_colour_measures_luminance(self):
        rgb = np.zeros((6, 6, 3), np.uint8)
        rgb[..., 0] = 255  # pure red
        got = roi_stats(rgb, 0, 0, 6, 6, unit="luminance")
        assert got.mean == pytest.approx(0.299 * 255, abs=1e-3)
        assert luminance(np.array([[0, 0, 255]], np.uint8))[0] == pytest.approx(0.114 * 255)

    def test_lines(self):
        values = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
        got = roi_stats(values, 0, 0, 2, 2, spacing=PixelSpacing(1.0, 1.0), unit="HU")
        # all four centres are sqrt(0.5) of the radius from the centre: inside. sd(1,2,3,4) = 1.29
        assert got.line() == f"roi mean 2.5 sd 1.3 min 1 max 4 HU n 4 area {math.pi:.1f} mm2"
        assert roi_stats(values, 5, 5, 9, 9).line().startswith("roi n 0")

    @pytest.mark.parametrize(
        "x,text", [(97.0, "97"), (-12.0, "-12"), (-12.25, "-12.25"), (0.004, "0"), (-0.001, "0"), (3.10, "3.1")]
    )
    def test_format_value(self, x, text):
        assert format_value(x, 2) == text


class TestPixelSpacing:
    def test_value_order(self):
        ps = pixel_spacing(make_ds(PixelSpacing=[0.5, 0.25]))
        assert (ps.row, ps.column, ps.source, ps.label) == (0.5, 0.25, "pixel", "")

    def test_imager_only_is_the_detectors(self):
        ps = pixel_spacing(make_ds(Modality="CR", ImagerPixelSpacing=[0.2, 0.2]))
        assert (ps.row, ps.source, ps.label) == (0.2, "imager", "(detector)")

    def test_pixel_equal_to_imager_is_uncorrected(self):
        ps = pixel_spacing(make_ds(Modality="DX", PixelSpacing=[0.2, 0.2], ImagerPixelSpacing=[0.2, 0.2]))
        assert ps.label == "(detector)"

    def test_pixel_different_from_imager_is_corrected(self):
        ps = pixel_spacing(make_ds(Modality="DX", PixelSpacing=[0.18, 0.18], ImagerPixelSpacing=[0.2, 0.2]))
        assert (ps.row, ps.label) == (0.18, "(calibrated)")

    @pytest.mark.parametrize("kind", ["FIDUCIAL", "GEOMETRY"])
    def test_calibration_type(self, kind):
        ps = pixel_spacing(
            make_ds(
                Modality="DX", PixelSpacing=[0.2, 0.2], ImagerPixelSpacing=[0.2, 0.2], PixelSpacingCalibrationType=kind
            )
        )
        assert ps.label == f"(calibrated: {kind.lower()})"

    @pytest.mark.parametrize("value", [[0.0, 0.5], [-1.0, 1.0], [0.5], [0.5, 0.5, 0.5]])
    def test_unusable_values_are_none(self, value):
        assert pixel_spacing(make_ds(PixelSpacing=value)) is None

    def test_enhanced_per_frame_measures(self):
        def measures(spacing):
            pm = Dataset()
            pm.PixelSpacing = spacing
            item = Dataset()
            item.PixelMeasuresSequence = Sequence([pm])
            return item

        ds = make_ds(np.zeros((2, 4, 4), np.uint16))
        ds.PerFrameFunctionalGroupsSequence = Sequence([measures([0.1, 0.2]), measures([0.3, 0.4])])
        assert (pixel_spacing(ds, 1).row, pixel_spacing(ds, 1).column) == (0.3, 0.4)
        img = dcmlib.load(ds)
        assert img.pixel_spacing(0).column == 0.2


class TestCineRate:
    @pytest.mark.parametrize(
        "tags,rate,source",
        [
            ({"CineRate": 30, "FrameTime": 100.0}, 30.0, "CineRate"),
            ({"FrameTime": 33.3333}, 1000 / 33.3333, "FrameTime"),
            ({"FrameTimeVector": [0, 40, 40, 40]}, 25.0, "FrameTimeVector"),
            ({"RecommendedDisplayFrameRate": 15}, 15.0, "RecommendedDisplayFrameRate"),
            ({"FrameTime": 0, "RecommendedDisplayFrameRate": 12}, 12.0, "RecommendedDisplayFrameRate"),
        ],
    )
    def test_order(self, tags, rate, source):
        got = cine_rate(make_ds(np.zeros((3, 4, 4), np.uint8), **tags))
        assert got[0] == pytest.approx(rate) and got[1] == source

    def test_none(self):
        img = dcmlib.load(make_ds(np.zeros((3, 4, 4), np.uint8)))
        assert img.cine_rate is None

"""Presentation stage: MONOCHROME1, Presentation LUT Shape INVERSE, user invert, 8-bit output.

PS3.3 C.7.6.3.1.2 (MONOCHROME1: minimum shown white), C.11.6.1 (INVERSE: inverted
against the output range), and the DX Image Module's rule that INVERSE is what
MONOCHROME1 images carry (so the two together invert once).
"""

from __future__ import annotations

import numpy as np
import pytest

import dcmlib
from dcmlib.values.presentation import invert_unit, needs_inversion, to_uint8
from helpers import make_ds


class TestToUint8:
    def test_rounds_half_up_and_saturates(self):
        y = np.array([-0.5, 0.0, 0.5 / 255, 0.49 / 255, 0.5, 1.0, 1.5], dtype=np.float32)
        assert to_uint8(y).tolist() == [0, 0, 1, 0, 128, 255, 255]

    def test_dtype_shape_and_out(self):
        y = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
        out = np.empty((3, 4), dtype=np.uint8)
        assert to_uint8(y, out=out) is out
        assert out.dtype == np.uint8 and out.shape == (3, 4)
        assert out[0, 0] == 0 and out[-1, -1] == 255

    def test_every_grey_level_is_reachable(self):
        y = np.arange(256, dtype=np.float32) / 255
        assert to_uint8(y).tolist() == list(range(256))


class TestInvertUnit:
    def test_against_output_range(self):
        y = np.array([0, 0.25, 1], dtype=np.float32)
        assert invert_unit(y).tolist() == [1, 0.75, 0]

    def test_involution(self):
        y = np.random.default_rng(1).random(100, dtype=np.float32)
        np.testing.assert_allclose(invert_unit(invert_unit(y)), y, atol=1e-7)

    def test_in_place(self):
        y = np.array([0.2], dtype=np.float32)
        invert_unit(y, out=y)
        assert float(y[0]) == pytest.approx(0.8)


class TestNeedsInversion:
    @pytest.mark.parametrize(
        "photometric,shape,user,expected",
        [
            ("MONOCHROME2", "", False, False),
            ("MONOCHROME2", "IDENTITY", False, False),
            ("MONOCHROME1", "", False, True),
            ("MONOCHROME1", "IDENTITY", False, True),
            ("MONOCHROME2", "INVERSE", False, True),
            ("MONOCHROME1", "INVERSE", False, True),  # once, not twice
            ("MONOCHROME2", "", True, True),
            ("MONOCHROME1", "", True, False),
            ("MONOCHROME1", "INVERSE", True, False),
            ("monochrome1 ", "inverse", False, True),
        ],
    )
    def test_table(self, photometric, shape, user, expected):
        from dcmlib.values.presentation import PresentationLutShape

        assert needs_inversion(photometric, PresentationLutShape.parse(shape), user) is expected


# ----------------------------------------------------------------------------- through the image


# 4 pixels; window c = 1000, w = 2001 (edges -0.5 .. 1999.5): y = (x + 0.5) / 2000 by C.11.2.1.2.1.
PIXELS = np.array([[0, 100], [200, 300]], dtype=np.uint16)
WINDOW = dict(WindowCenter=1000, WindowWidth=2001)
# 255 * (x + 0.5) / 2000 rounded: 0.06 -> 0, 12.81 -> 13, 25.56 -> 26, 38.31 -> 38
NORMAL = [[0, 13], [26, 38]]
# 255 * (1 - (x + 0.5) / 2000): 254.94 -> 255, 242.19 -> 242, 229.44 -> 229, 216.69 -> 217
INVERTED = [[255, 242], [229, 217]]


def render(**tags) -> np.ndarray:
    return dcmlib.load(make_ds(PIXELS, **WINDOW, **tags)).render()


class TestPolarityThroughRender:
    def test_monochrome2(self):
        assert render().tolist() == NORMAL

    def test_monochrome1_inverted_after_voi(self):
        # An inversion of the data before the window (max - x) would give a different picture entirely.
        assert render(PhotometricInterpretation="MONOCHROME1").tolist() == INVERTED

    def test_inverse_against_output_range_not_data_max(self):
        # Inverting against the data maximum (300 - x) and then windowing would give ~[38 .. 0].
        assert render(PresentationLUTShape="INVERSE").tolist() == INVERTED

    def test_identity_shape_changes_nothing(self):
        assert render(PresentationLUTShape="IDENTITY").tolist() == NORMAL

    def test_monochrome1_with_inverse_inverts_once(self):
        assert render(PhotometricInterpretation="MONOCHROME1", PresentationLUTShape="INVERSE").tolist() == INVERTED

    @pytest.mark.parametrize(
        "tags", [{}, {"PhotometricInterpretation": "MONOCHROME1"}, {"PresentationLUTShape": "INVERSE"}]
    )
    def test_user_invert_flips_and_is_an_involution(self, tags):
        img = dcmlib.load(make_ds(PIXELS, **WINDOW, **tags))
        plain, flipped = img.render(), img.render(invert=True)
        assert {tuple(map(tuple, plain.tolist())), tuple(map(tuple, flipped.tolist()))} == {
            tuple(map(tuple, NORMAL)),
            tuple(map(tuple, INVERTED)),
        }
        # invert twice (through render_values on the inverted output's source values) comes back
        v = img.values()
        once = img.render_values(v, 1000, 2001, invert=True)
        np.testing.assert_array_equal(once, flipped)
        assert np.abs(img.render_values(v, 1000, 2001).astype(int) - plain).max() == 0

    def test_monochrome1_with_user_window(self):
        # The user window replaces the VOI; MONOCHROME1 still inverts after it. c=150.5 w=301: edges -0.5..300.5
        # y = (x + 0.5) / 300 -> inverted 255 * (1 - y): 254.58 -> 255, 169.58 -> 170, 84.58 -> 85, -0.42 -> 0
        img = dcmlib.load(make_ds(PIXELS, PhotometricInterpretation="MONOCHROME1"))
        assert img.render(150.5, 301).tolist() == [[255, 170], [85, 0]]

    def test_monochrome1_sigmoid_midpoint(self):
        img = dcmlib.load(make_ds(np.array([[100]], dtype=np.uint16), PhotometricInterpretation="MONOCHROME1"))
        assert img.render(100, 50, mode="sigmoid")[0, 0] in (127, 128)  # 1 - 0.5 = 0.5 -> 127.5 -> 128

    def test_render_values_follows_file_polarity(self):
        img = dcmlib.load(make_ds(PIXELS, PhotometricInterpretation="MONOCHROME1"))
        vals = np.array([0, 300], dtype=np.float32)
        assert img.render_values(vals, 1000, 2001).tolist() == [255, 217]
        assert img.render_values(vals, 1000, 2001, invert=True).tolist() == [0, 38]


def test_the_presentation_lut_shape_is_read_as_the_standards_coded_values():
    """Presentation LUT Shape (2050,0020), C.11.6.1.2: IDENTITY, INVERSE and LIN OD, case and padding aside;
    anything else is no shape; INVERSE (or MONOCHROME1) inverts once, and a user invert toggles that."""
    from dcmlib.values.presentation import PresentationLutShape as S
    from dcmlib.values.presentation import needs_inversion

    assert [S.parse(t) for t in ("IDENTITY", "inverse ", "LIN OD", "", "LINEAR")] == [
        S.IDENTITY,
        S.INVERSE,
        S.LIN_OD,
        None,
        None,
    ]
    assert needs_inversion("MONOCHROME2", S.INVERSE) and needs_inversion("MONOCHROME1", None)
    assert needs_inversion("MONOCHROME1", S.INVERSE)  # C.8.11.3: the same inversion, applied once
    assert not needs_inversion("MONOCHROME2", S.INVERSE, user_invert=True)
    assert not needs_inversion("MONOCHROME2", S.IDENTITY) and needs_inversion("MONOCHROME2", S.LIN_OD, True)

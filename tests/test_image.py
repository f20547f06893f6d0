"""DicomImage and load(): Datasets parsed into the pipeline, checked against the standard worked by hand.

Modality LUT Sequence and enhanced functional groups (PS3.3 C.11.1, C.7.6.16.2.9/10),
VOI LUT Sequence descriptors (C.11.2.1.1), multiple windows, padding (C.7.5.1.1.2),
float pixel data, multi-frame caching, and the documented exceptions on bad input.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut

import dcmlib
from dcmlib import (
    DcmviewWarning,
    InvalidArgumentError,
    NoPixelDataError,
    NotDicomError,
    PixelDataError,
    UnsupportedError,
)
from helpers import assert_within_one, lut_item, make_ds, pydicom_file, write_ds

ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def linear_u8(x, c, w) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 by hand, output 0..255 rounded half up."""
    x = np.asarray(x, dtype=np.float64)
    if w == 1:
        y = (x > c - 0.5).astype(float)
    else:
        y = np.where(
            x <= c - 0.5 - (w - 1) / 2, 0.0, np.where(x > c - 0.5 + (w - 1) / 2, 1.0, (x - (c - 0.5)) / (w - 1) + 0.5)
        )
    return np.floor(y * 255 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------- modality


class TestModality:
    def test_fractional_rescale_never_truncated(self):
        arr = np.array([[0, 1], [2, 2049]], dtype=np.uint16)
        img = dcmlib.load(make_ds(arr, RescaleSlope=0.5, RescaleIntercept=-1024.5))
        # by hand: 0 -> -1024.5, 1 -> -1024, 2 -> -1023.5, 2049 -> 0
        assert img.values().tolist() == [[-1024.5, -1024.0], [-1023.5, 0.0]]
        assert img.values().dtype == np.float32
        # render with a window on those values: c = -1024, w = 2 -> edges -1025..-1024 (C.11.2.1.2.1)
        assert img.render(-1024, 2).tolist() == linear_u8([[-1024.5, -1024], [-1023.5, 0]], -1024, 2).tolist()

    def test_linear_edges_through_the_display_table(self):
        # CT stored + intercept -1024; c = 40, w = 400: -160 -> 0, -159 -> 1 (0.64), 39.5 n/a, 238 -> 254, 239 -> 255
        hu = np.array([[-1000, -160, -159, 40, 238, 239, 240]])
        img = dcmlib.load(
            make_ds(
                (hu + 1024).astype(np.int16), RescaleIntercept=-1024, RescaleSlope=1, WindowCenter=40, WindowWidth=400
            )
        )
        # x = 40: (40 - 39.5) / 399 + 0.5 = 0.50125 -> 127.82 -> 128
        assert img.render().tolist() == [[0, 0, 1, 128, 254, 255, 255]]
        assert img.render(invert=True).tolist() == [[255, 255, 254, 127, 1, 0, 0]]

    def test_rescale_as_strings_from_a_file(self, tmp_path):
        arr = np.array([[0, 10]], dtype=np.int16)
        path = write_ds(make_ds(arr, RescaleSlope="0.25", RescaleIntercept="-3.75"), tmp_path / "r.dcm")
        assert dcmlib.load(path).values().tolist() == [[-3.75, -1.25]]

    def test_modality_lut_sequence(self):
        # 6 entries from first mapped 10: stored 10..15 -> entries; below 10 -> first, above 15 -> last (C.11.1.1)
        entries = [100, 200, 400, 800, 1600, 3200]
        arr = np.array([[0, 9, 10, 11], [13, 15, 16, 4000]], dtype=np.uint16)
        item = lut_item([6, 10, 16], entries, "HU table")
        item.ModalityLUTType = "HU"
        img = dcmlib.load(make_ds(arr, ModalityLUTSequence=[item]))
        assert img.values().tolist() == [[100, 100, 100, 200], [800, 3200, 3200, 3200]]
        np.testing.assert_array_equal(img.values(), apply_modality_lut(arr, make_ds(arr, ModalityLUTSequence=[item])))
        # and it feeds the VOI: window c = 1650.5 w = 3101 has edges 100 .. 3200
        got = img.render(1650.5, 3101)
        assert got.tolist() == linear_u8(img.values(), 1650.5, 3101).tolist()
        assert got[0, 0] == 0 and got[1, 1] == 255
        assert "HU table" in img.info()

    def test_modality_lut_sequence_signed_first_value(self, tmp_path):
        # first mapped stored as 65526 means -10 when Pixel Representation is 1
        arr = np.array([[-20, -10, -9, -8, 0]], dtype=np.int16)
        ds = make_ds(arr, ModalityLUTSequence=[lut_item([3, 65526, 16], [5, 6, 7])])
        assert dcmlib.load(ds).values().tolist() == [[5, 5, 6, 7, 7]]
        # the same through a file, written as SS -10 (the descriptor's ambiguous VR resolved by pydicom)
        ds.ModalityLUTSequence[0].LUTDescriptor = [3, -10, 16]
        ds.ModalityLUTSequence[0].LUTData = np.array([5, 6, 7], "<u2").tobytes()  # OW on disk
        assert dcmlib.load(write_ds(ds, tmp_path / "m.dcm")).values().tolist() == [[5, 5, 6, 7, 7]]

    def test_enhanced_per_frame_groups(self):
        # Two frames: frame 1 slope 1 / intercept -1024 / window 40,400 ; frame 2 slope 2 / intercept -1000 /
        # window -600,1500 (PS3.3 C.7.6.16.2.9 Pixel Value Transformation, C.7.6.16.2.10 Frame VOI LUT).
        stored = np.array([[[800, 1000], [1064, 1300]], [[100, 200], [300, 600]]], dtype=np.uint16)
        groups = []
        for slope, intercept, c, w in ((1, -1024, 40, 400), (2, -1000, -600, 1500)):
            pvt = Dataset()
            pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, intercept, "HU"
            voi = Dataset()
            voi.WindowCenter, voi.WindowWidth = c, w
            item = Dataset()
            item.PixelValueTransformationSequence = [pvt]
            item.FrameVOILUTSequence = [voi]
            groups.append(item)
        img = dcmlib.load(make_ds(stored, SOPClassUID=ENHANCED_CT, PerFrameFunctionalGroupsSequence=groups))
        assert len(img) == 2
        hu0 = stored[0].astype(float) - 1024
        hu1 = stored[1].astype(float) * 2 - 1000
        assert img.values(0).tolist() == hu0.tolist()
        assert img.values(1).tolist() == hu1.tolist()
        assert tuple(img.default_window(0)) == (40, 400, "linear")
        assert tuple(img.default_window(1)) == (-600, 1500, "linear")
        assert img.render(frame=0).tolist() == linear_u8(hu0, 40, 400).tolist()
        assert img.render(frame=1).tolist() == linear_u8(hu1, -600, 1500).tolist()
        assert img.unit == "HU"

    def test_enhanced_shared_groups_and_per_frame_override(self):
        stored = np.array([[[0, 100]], [[0, 100]], [[0, 100]]], dtype=np.uint16)
        shared_pvt = Dataset()
        shared_pvt.RescaleSlope, shared_pvt.RescaleIntercept = 0.5, -10.5
        shared_voi = Dataset()
        shared_voi.WindowCenter, shared_voi.WindowWidth = 20, 41
        shared = Dataset()
        shared.PixelValueTransformationSequence = [shared_pvt]
        shared.FrameVOILUTSequence = [shared_voi]
        own_voi = Dataset()
        own_voi.WindowCenter, own_voi.WindowWidth = 0, 10
        per_frame = [Dataset(), Dataset(), Dataset()]
        per_frame[2].FrameVOILUTSequence = [own_voi]
        img = dcmlib.load(
            make_ds(
                stored,
                SOPClassUID=ENHANCED_CT,
                SharedFunctionalGroupsSequence=[shared],
                PerFrameFunctionalGroupsSequence=per_frame,
            )
        )
        for f in range(3):
            assert img.values(f).tolist() == [[-10.5, 39.5]]
        assert img.default_window(0)[:2] == (20, 41)
        assert img.default_window(2)[:2] == (0, 10)
        assert img.render(frame=0).tolist() == linear_u8([[-10.5, 39.5]], 20, 41).tolist()
        assert img.render(frame=2).tolist() == linear_u8([[-10.5, 39.5]], 0, 10).tolist()


# ----------------------------------------------------------------------------- VOI


class TestVoiLutSequence:
    def test_zero_entries_means_65536(self):
        # descriptor [0, 0, 16]: 65536 entries for every 16-bit input; entry = 65535 - x (an inverting LUT)
        entries = (65535 - np.arange(65536)).astype("<u2")
        arr = np.array([[0, 1, 32768, 65535]], dtype=np.uint16)
        img = dcmlib.load(make_ds(arr, VOILUTSequence=[lut_item([0, 0, 16], entries.tobytes())]))
        lut = img.vois()[0]
        assert len(lut.lut.entries) == 65536
        # 255 * (65535 - x) / 65535: 255, 254.996 -> 255, 127.498 -> 127, 0
        assert img.render().tolist() == [[255, 255, 127, 0]]

    def test_signed_first_mapped_value(self):
        # Pixel Representation 1: descriptor second value 65436 is -100 (C.11.2.1.1)
        arr = np.array([[-200, -100, -99, 0, 99, 100, 500]], dtype=np.int16)
        entries = np.arange(200) * 255 // 199  # -100 -> 0 ... 99 -> 255
        ds = make_ds(arr, VOILUTSequence=[lut_item([200, 65436, 8], [int(v) for v in entries])])
        img = dcmlib.load(ds)
        assert img.vois()[0].lut.first_mapped == -100
        assert img.render().tolist() == [[0, 0, entries[1], entries[100], 255, 255, 255]]

    def test_signed_first_mapped_value_through_a_file(self, tmp_path):
        arr = np.array([[-101, -100, -99, 99, 100]], dtype=np.int16)
        item = lut_item([200, -100, 16], (np.arange(200) * 4095 // 199).astype("<u2").tobytes())
        ds = make_ds(arr, BitsStored=16, VOILUTSequence=[item])
        img = dcmlib.load(write_ds(ds, tmp_path / "v.dcm"))
        assert img.vois()[0].lut.first_mapped == -100
        assert img.vois()[0].lut.bits == 16
        # 16-bit entries of at most 4095: scaled by 65535, not by the largest entry (C.11.2.1.1)
        assert img.render().tolist() == [[0, 0, 0, 16, 16]]  # 4095 * 255 / 65535 = 15.93 -> 16

    def test_unsigned_first_mapped_value_stays_unsigned(self):
        # Pixel Representation 0: 40000 is 40000, not -25536
        arr = np.array([[39999, 40000, 40001, 40002]], dtype=np.uint16)
        img = dcmlib.load(make_ds(arr, VOILUTSequence=[lut_item([2, 40000, 8], [10, 250])]))
        assert img.vois()[0].lut.first_mapped == 40000
        assert img.render().tolist() == [[10, 10, 250, 250]]

    def test_entry_bits_scale_the_output(self):
        # 12-bit entries: 4095 is white, 2048 mid-grey (127.53 -> 128), 0 black
        arr = np.array([[0, 1, 2, 3]], dtype=np.uint16)
        img = dcmlib.load(make_ds(arr, VOILUTSequence=[lut_item([4, 0, 12], [0, 1000, 2048, 4095])]))
        assert img.render().tolist() == [[0, 62, 128, 255]]  # 1000 * 255 / 4095 = 62.27

    def test_eight_bit_entries_in_sixteen_bit_words(self):
        # OW LUT Data with 8-bit entries, one per 16-bit word
        item = lut_item([4, 0, 8], np.array([0, 100, 200, 255], "<u2").tobytes())
        img = dcmlib.load(make_ds(np.array([[0, 1, 2, 3]], dtype=np.uint16), VOILUTSequence=[item]))
        assert img.render().tolist() == [[0, 100, 200, 255]]

    def test_voi_lut_against_pydicom(self):
        arr = np.array([[0, 5, 10, 15, 20, 25]], dtype=np.uint16)
        entries = [0, 300, 700, 1500, 2500, 4095, 4095, 100, 50, 4000, 3000]
        ds = make_ds(arr, BitsStored=12, HighBit=11, VOILUTSequence=[lut_item([11, 5, 12], entries)])
        theirs = apply_voi_lut(arr, ds).astype(np.float64) * 255 / 4095
        assert np.abs(dcmlib.load(ds).render().astype(int) - np.floor(theirs + 0.5)).max() == 0

    def test_voi_lut_after_rescale(self):
        # The VOI LUT's input is the modality output: stored 10 * 2 - 5 = 15 is the first mapped value
        arr = np.array([[9, 10, 11, 12]], dtype=np.uint16)
        img = dcmlib.load(
            make_ds(
                arr, RescaleSlope=2, RescaleIntercept=-5, VOILUTSequence=[lut_item([5, 15, 8], [0, 60, 120, 180, 255])]
            )
        )
        # values 13, 15, 17, 19 -> 0 (below), 0, 120, 255
        assert img.render().tolist() == [[0, 0, 120, 255]]


class TestStoredVois:
    def ds(self):
        arr = np.array([[-1000, -600, 0, 40, 240, 1000]], dtype=np.int16)
        return make_ds(
            arr,
            WindowCenter=[40, -600],
            WindowWidth=[400, 1500],
            WindowCenterWidthExplanation=["SOFT TISSUE", "LUNG"],
            VOILUTSequence=[lut_item([2, 0, 8], [0, 255], "THRESHOLD")],
        )

    def test_windows_first_then_luts(self):
        img = dcmlib.load(self.ds())
        vois = img.vois()
        assert len(vois) == 3
        assert [v.explanation for v in vois] == ["SOFT TISSUE", "LUNG", "THRESHOLD"]
        assert "SOFT TISSUE" in vois[0].label and "40" in vois[0].label and "400" in vois[0].label
        assert "LUNG" in vois[1].label
        assert "THRESHOLD" in vois[2].label

    def test_default_is_the_first(self):
        img = dcmlib.load(self.ds())
        assert tuple(img.default_window()) == (40, 400, "linear")
        np.testing.assert_array_equal(img.render(), img.render(voi=1))

    def test_voi_index_selects(self):
        img = dcmlib.load(self.ds())
        x = img.values()
        assert img.render(voi=1).tolist() == linear_u8(x, 40, 400).tolist()
        assert img.render(voi=2).tolist() == linear_u8(x, -600, 1500).tolist()
        # LUT: 2 entries from 0: < 0 -> 0, 0 -> 0, >= 1 -> 255
        assert img.render(voi=3).tolist() == [[0, 0, 0, 255, 255, 255]]

    @pytest.mark.parametrize("bad", [0, 4, -1, "x"])
    def test_voi_index_out_of_range(self, bad):
        with pytest.raises(InvalidArgumentError):
            dcmlib.load(self.ds()).render(voi=bad)

    def test_user_window_overrides_the_file(self):
        img = dcmlib.load(self.ds())
        assert img.render(-600, 1500).tolist() == img.render(voi=2).tolist()
        assert img.render(0, 1).tolist() == [[0, 0, 255, 255, 255, 255]]  # w = 1: threshold at -0.5
        assert img.render(1, 1).tolist() == [[0, 0, 0, 255, 255, 255]]  # 0 <= 0.5 is still below

    def test_preset(self):
        img = dcmlib.load(self.ds())
        assert img.render(preset="lung").tolist() == linear_u8(img.values(), -600, 1500).tolist()
        assert img.render(preset="bone").tolist() == linear_u8(img.values(), 300, 1500).tolist()
        with pytest.raises(InvalidArgumentError):
            img.render(preset="kidney")

    def test_mode_overrides_function(self):
        img = dcmlib.load(self.ds())
        out = img.render(40, 400, mode="sigmoid")
        x = img.values().astype(float)
        expected = np.floor(255 / (1 + np.exp(-4 * (x - 40) / 400)) + 0.5)
        assert_within_one(out, expected)
        assert img.render(40, 400, mode="linear-exact")[0, 3] == 128  # x = c -> 0.5

    def test_file_voi_lut_function(self):
        arr = np.array([[40, 140]], dtype=np.int16)
        img = dcmlib.load(make_ds(arr, WindowCenter=40, WindowWidth=400, VOILUTFunction="SIGMOID"))
        assert img.default_window()[2] == "sigmoid"
        assert img.render()[0, 0] == 128  # sigmoid midpoint
        # 1 / (1 + e^-1) = 0.7311 -> 186.4 -> 186
        assert img.render()[0, 1] == 186

    @pytest.mark.parametrize("w", [0, -5, float("nan")])
    def test_bad_user_width_raises(self, w):
        with pytest.raises(InvalidArgumentError):
            dcmlib.load(self.ds()).render(40, w)


class TestMinMaxAndStoredWidthZero:
    def test_no_voi_uses_min_max(self):
        arr = np.arange(16, dtype=np.uint16).reshape(4, 4) + 100
        img = dcmlib.load(make_ds(arr))
        assert img.frame_range() == (100, 115)
        # min-max LINEAR c = 108, w = 16: edges 100 .. 115, y = (x - 100) / 15 -> 17 grey levels per step
        assert img.render().tolist() == ((arr - 100) * 17).tolist()

    def test_auto_window_percentiles(self):
        # values 0..999: the 0.5th and 99.5th percentiles (linear interpolation) are 4.995 and 994.005
        img = dcmlib.load(make_ds(np.arange(1000, dtype=np.uint16).reshape(10, 100)))
        c, w = img.auto_window()
        assert c == pytest.approx(499.5) and w == pytest.approx(989.01)

    def test_fewer_explanations_than_windows(self):
        img = dcmlib.load(
            make_ds(
                np.array([[0, 1]], np.uint16), WindowCenter=[1, 2], WindowWidth=[3, 4], WindowCenterWidthExplanation="A"
            )
        )
        assert [v.explanation for v in img.vois()] == ["A", ""]

    def test_constant_image(self):
        img = dcmlib.load(make_ds(np.full((3, 3), 7, dtype=np.uint16)))
        out = img.render()
        assert out.dtype == np.uint8 and len(np.unique(out)) == 1

    def test_stored_width_zero_falls_back_and_warns_once(self):
        arr = np.arange(16, dtype=np.uint16).reshape(4, 4)
        messages: list[str] = []
        img = dcmlib.load(make_ds(arr, WindowCenter=40, WindowWidth=0), on_warning=messages.append)
        first = img.render()
        for _ in range(3):
            np.testing.assert_array_equal(img.render(), first)
        img.default_window()
        assert first.tolist() == (arr * 17).tolist()  # min-max over 0..15
        assert len(messages) == 1
        assert "width" in messages[0] and "0" in messages[0]

    def test_stored_width_zero_without_callback_is_a_warning(self):
        arr = np.arange(4, dtype=np.uint16).reshape(2, 2)
        img = dcmlib.load(make_ds(arr, WindowCenter=40, WindowWidth=0))
        with pytest.warns(DcmviewWarning):
            img.render()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            img.render()  # once only

    def test_invalid_first_window_uses_the_next(self):
        arr = np.array([[0, 40, 300]], dtype=np.int16)
        msgs: list[str] = []
        img = dcmlib.load(make_ds(arr, WindowCenter=[40, 40], WindowWidth=[0, 400]), on_warning=msgs.append)
        assert img.default_window()[:2] == (40, 400)
        assert img.render().tolist() == linear_u8(arr, 40, 400).tolist()
        assert len(msgs) == 1


# ----------------------------------------------------------------------------- padding


class TestPadding:
    def ct(self, **tags):
        arr = np.full((8, 8), -2000, dtype=np.int16)
        arr[2:6, 2:6] = np.arange(16, dtype=np.int16).reshape(4, 4) * 100 - 800  # -800 .. 700
        return arr, make_ds(arr, PixelPaddingValue=-2000, **tags)

    def test_excluded_from_min_max(self):
        arr, ds = self.ct()
        img = dcmlib.load(ds)
        assert img.frame_range() == (-800, 700)
        c, w, _ = img.default_window()
        assert c - 0.5 - (w - 1) / 2 == -800 and c - 0.5 + (w - 1) / 2 == 700

    def test_excluded_from_auto_window(self):
        arr, ds = self.ct()
        c, w = dcmlib.load(ds).auto_window(low=0, high=100)
        assert (c - w / 2, c + w / 2) == (-800, 700)

    def test_shown_as_background(self):
        arr, ds = self.ct()
        img = dcmlib.load(ds)
        # A window far below the tissue would show -2000 bright: padding stays 0 regardless.
        out = img.render(-2500, 1000)
        assert (out[arr == -2000] == 0).all()
        assert (out[arr != -2000] == 255).all()
        # and under the min-max window the tissue spans 0..255
        out = img.render()
        assert out[2, 2] == 0 and out[5, 5] == 255

    def test_padding_with_rescale(self):
        arr, ds = self.ct(RescaleSlope=1, RescaleIntercept=-1024)  # padding is a stored value
        img = dcmlib.load(ds)
        assert img.frame_range() == (-1824, -324)

    def test_padding_range_limit(self):
        arr = np.array([[-2000, -1700, -1500, -1499, 0, 100]], dtype=np.int16)
        img = dcmlib.load(make_ds(arr, PixelPaddingValue=-2000, PixelPaddingRangeLimit=-1500))
        assert img.frame_range() == (-1499, 100)
        out = img.render(-3000, 10)  # everything above the window: 255 unless padding
        assert out.tolist() == [[0, 0, 0, 255, 255, 255]]

    def test_unsigned_padding_above_32767(self):
        arr = np.array([[65535, 0, 100, 200]], dtype=np.uint16)
        img = dcmlib.load(make_ds(arr, PixelPaddingValue=65535))
        assert img.frame_range() == (0, 200)
        assert img.render().tolist() == [[0, 0, 128, 255]]  # min-max 0..200: 100 -> 127.5 -> 128

    def test_signed_8_bit_padding(self):
        arr = np.array([[-128, -1, 0, 127]], dtype=np.int8)
        img = dcmlib.load(make_ds(arr, PixelPaddingValue=-128))
        assert img.frame_range() == (-1, 127)
        # min-max -1..127: y = (x + 1) / 128 -> 0, 1.99 -> 2, 255
        assert img.render().tolist() == [[0, 0, 2, 255]]

    def test_padding_on_the_float_path(self):
        # 32-bit stored values take the float path (no 65536-entry table): same padding rule.
        arr = np.array([[-2000, 0, 100, 200]], dtype=np.int32)
        img = dcmlib.load(make_ds(arr, PixelPaddingValue=-2000))
        assert img.frame_range() == (0, 200)
        assert img.render(-3000, 10).tolist() == [[0, 255, 255, 255]]

    @pytest.mark.parametrize("dtype,prefix", [(np.float32, "Float"), (np.float64, "DoubleFloat")])
    def test_float_pixel_padding_value(self, dtype, prefix):
        # Float Pixel Data pad with (0028,0122) / Double Float with (0028,0123), not Pixel Padding Value
        arr = np.array([[-3.0e38, 0.5, 50.5, 100.5]], dtype=dtype)
        img = dcmlib.load(make_ds(arr, **{f"{prefix}PixelPaddingValue": -3.0e38}))
        assert img.frame_range() == (0.5, 100.5)
        assert img.render().tolist() == [[0, 0, 128, 255]]
        assert img.render(invert=True).tolist() == [[0, 255, 128, 0]]  # padding stays background

    def test_float_pixel_padding_range_limit(self):
        arr = np.array([[-1000.0, -900.0, -899.5, 0.0]], dtype=np.float32)
        img = dcmlib.load(make_ds(arr, FloatPixelPaddingValue=-1000.0, FloatPixelPaddingRangeLimit=-900.0))
        assert img.frame_range() == (-899.5, 0.0)

    def test_bundled_ct_small_padding(self):
        img = dcmlib.load(pydicom_file("CT_small.dcm"))  # Pixel Padding Value -2000, intercept -1024
        ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
        hu = apply_modality_lut(ds.pixel_array, ds)
        real = hu[ds.pixel_array != -2000]
        assert img.frame_range() == (float(real.min()), float(real.max()))


# ----------------------------------------------------------------------------- float data


class TestFloatPixelData:
    def test_float32_min_max_default(self):
        arr = np.array([[0.5, 20.5], [60.5, 100.5]], dtype=np.float32)
        img = dcmlib.load(make_ds(arr))
        assert img.frame_range() == (0.5, 100.5)
        # min-max over 0.5 .. 100.5: y = (x - 0.5) / 100 -> 0, 51, 153, 255
        assert img.render().tolist() == [[0, 51], [153, 255]]

    def test_double_float(self):
        arr = np.array([[-1.0, 0.0], [1.0, 3.0]], dtype=np.float64)
        ds = make_ds(arr)
        assert "DoubleFloatPixelData" in ds
        img = dcmlib.load(ds)
        assert img.values().dtype == np.float32
        assert img.render().tolist() == [[0, 64], [128, 255]]  # (x + 1) / 4: 63.75 -> 64, 127.5 -> 128

    def test_float_with_user_window(self):
        arr = np.array([[-160.0, 39.5, 239.0]], dtype=np.float32)
        assert dcmlib.load(make_ds(arr)).render(40, 400).tolist() == [[0, 128, 255]]

    def test_nan_shows_as_minimum(self):
        arr = np.array([[np.nan, 0.5, 50.5, 100.5]], dtype=np.float32)
        img = dcmlib.load(make_ds(arr))
        assert img.frame_range() == (0.5, 100.5)
        assert img.render().tolist() == [[0, 0, 128, 255]]
        assert img.render(invert=True)[0, 0] == 255  # the minimum, inverted
        inf = dcmlib.load(make_ds(np.array([[np.nan, np.inf, 0, 1]], dtype=np.float32)))
        lo, hi = inf.frame_range()
        assert np.isfinite([lo, hi]).all()

    def test_float_file_round_trip(self, tmp_path):
        arr = np.array([[0.5, 20.5], [60.5, 100.5]], dtype=np.float32)
        path = write_ds(make_ds(arr), tmp_path / "f.dcm")
        assert dcmlib.load(path).render().tolist() == [[0, 51], [153, 255]]


# ----------------------------------------------------------------------------- stored types, fast path


class TestFastPathAgreesWithFloatPath:
    @pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
    @pytest.mark.parametrize("mode", ["linear", "linear-exact", "sigmoid"])
    def test_table_equals_formula(self, dtype, mode):
        info = np.iinfo(dtype)
        rng = np.random.default_rng(3)
        arr = rng.integers(info.min, info.max, size=(16, 16), endpoint=True).astype(dtype)
        arr[0, :2] = [info.min, info.max]
        img = dcmlib.load(make_ds(arr, RescaleSlope=1.5, RescaleIntercept=-7.25))
        c, w = float(info.min + info.max) * 0.75 / 2 + 3, (info.max - info.min) / 3
        out = img.render(c, w, mode=mode)
        # The same data as 32-bit values go through the float path
        wide = dcmlib.load(make_ds(arr.astype(np.int32), RescaleSlope=1.5, RescaleIntercept=-7.25))
        np.testing.assert_array_equal(out, wide.render(c, w, mode=mode))
        if mode == "linear":
            assert_within_one(out, linear_u8(arr * 1.5 - 7.25, c, w))


# ----------------------------------------------------------------------------- bundled files vs pydicom


@pytest.mark.parametrize("name", ["MR_small.dcm", "693_J2KI.dcm"])
def test_bundled_window_matches_pydicom(name):
    path = pydicom_file(name)
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    out = apply_voi_lut(apply_modality_lut(arr, ds), ds)
    bits = int(ds.BitsStored)
    lo, hi = (0, 2**bits - 1) if ds.PixelRepresentation == 0 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    slope, intercept = float(ds.get("RescaleSlope", 1)), float(ds.get("RescaleIntercept", 0))
    ymin, ymax = lo * slope + intercept, hi * slope + intercept
    theirs = np.floor((out - ymin) / (ymax - ymin) * 255 + 0.5)
    ours = dcmlib.load(path).render().astype(int)
    pad = ds.get("PixelPaddingValue")
    keep = arr != pad if pad is not None else np.ones(arr.shape, bool)
    assert_within_one(ours[keep], theirs[keep])


# ----------------------------------------------------------------------------- multi-frame


class TestMultiFrame:
    def frames(self, n=5, rows=4, cols=6):
        return np.arange(n, dtype=np.uint16)[:, None, None] * 10 + np.zeros((1, rows, cols), np.uint16)

    def test_frame_k_renders_frame_k(self):
        arr = self.frames()
        img = dcmlib.load(make_ds(arr, WindowCenter=20.5, WindowWidth=41))  # edges 0 .. 40: 255 x / 40
        assert len(img) == 5
        for k in range(5):
            assert img.values(k)[0, 0] == 10 * k
            assert (img.render(frame=k) == np.floor(255 * 10 * k / 40 + 0.5)).all()
            assert img.render(frame=k).shape == (4, 6)

    def test_frame_out_of_range(self):
        img = dcmlib.load(make_ds(self.frames()))
        for bad in (-1, 5, "two"):
            with pytest.raises(InvalidArgumentError):
                img.render(frame=bad)

    def test_decoded_once(self):
        img = dcmlib.load(make_ds(self.frames()))
        assert img.decodes == 0  # lazy
        for _ in range(5):
            img.render(frame=2)
            img.render(40, 400, frame=2, mode="sigmoid")
            img.values(2)
            img.frame_range(2)
            img.auto_window(2)
        assert img.decodes == 1
        img.render(frame=3)
        assert img.decodes == 2

    def test_cache_is_bounded(self):
        n, rows, cols = 40, 64, 64
        arr = np.arange(n, dtype=np.int16)[:, None, None] + np.zeros((1, rows, cols), np.int16)
        budget_mb = 0.1  # 104857 bytes; one frame is 8 KiB stored + 16 KiB float32
        img = dcmlib.load(make_ds(arr), cache_mb=budget_mb)
        for k in range(n):
            img.render(frame=k)
            img.values(k)
            assert img.cache.nbytes <= budget_mb * 1024 * 1024
        assert len(img.cache) < n
        # still correct after eviction
        assert img.values(0)[0, 0] == 0 and img.values(n - 1)[0, 0] == n - 1

    def test_default_cache_holds_a_small_file(self):
        img = dcmlib.load(make_ds(self.frames()))
        for k in range(5):
            img.render(frame=k)
        for k in range(5):
            img.render(frame=k)
        assert img.decodes == 5


# ----------------------------------------------------------------------------- bad input


class TestBadInput:
    def test_missing_path(self, tmp_path):
        with pytest.raises(NotDicomError) as err:
            dcmlib.load(tmp_path / "nope.dcm")
        assert "nope.dcm" in str(err.value)

    def test_text_file(self, tmp_path):
        p = tmp_path / "notes.txt"
        p.write_text("This is not a DICOM file.\n" * 50)
        with pytest.raises(NotDicomError) as err:
            dcmlib.load(p)
        assert str(err.value).startswith(str(p))

    def test_empty_file(self, tmp_path):
        p = tmp_path / "empty.dcm"
        p.write_bytes(b"")
        with pytest.raises(NotDicomError, match="empty"):
            dcmlib.load(p)

    def test_no_pixel_data(self, tmp_path):
        ds = make_ds(PixelData=None)
        with pytest.raises(NoPixelDataError):
            dcmlib.load(ds)
        with pytest.raises(NoPixelDataError):
            dcmlib.load(write_ds(ds, tmp_path / "sr.dcm"))

    @pytest.mark.parametrize("to_file", [False, True])
    def test_huge_header_over_small_data_fails_fast(self, tmp_path, to_file):
        ds = make_ds(np.zeros((32, 32), np.uint16))  # 2 KiB of pixel data
        ds.Rows = ds.Columns = 65535
        src = write_ds(ds, tmp_path / "huge.dcm") if to_file else ds
        tracemalloc.start()  # NumPy allocations are traced: the promised frame would be 8 GiB
        try:
            with pytest.raises(PixelDataError) as err:
                dcmlib.load(src).render()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 2**20
        assert "65535" in str(err.value)

    def test_too_many_frames_for_the_data(self):
        ds = make_ds(np.zeros((2, 4, 4), np.uint16), NumberOfFrames=1000)
        with pytest.raises(PixelDataError):
            dcmlib.load(ds).render(frame=999)

    def test_unknown_photometric(self):
        ds = make_ds(np.zeros((2, 2, 3), np.uint8), SamplesPerPixel=3, PhotometricInterpretation="HSV")
        with pytest.raises(UnsupportedError, match="HSV"):
            dcmlib.load(ds)

    def test_errors_are_dcmview_errors(self):
        for cls in (NotDicomError, NoPixelDataError, PixelDataError, UnsupportedError, InvalidArgumentError):
            assert issubclass(cls, dcmlib.DcmviewError)


# ----------------------------------------------------------------------------- description


class TestDescription:
    def test_basic_properties(self):
        arr = np.zeros((3, 5), dtype=np.int16)
        img = dcmlib.load(
            make_ds(
                arr,
                RescaleSlope=1,
                RescaleIntercept=-1024,
                WindowCenter=40,
                WindowWidth=400,
                WindowCenterWidthExplanation="SOFT",
            )
        )
        assert (img.rows, img.columns, len(img)) == (3, 5, 1)
        assert img.photometric == "MONOCHROME2" and not img.is_color
        assert img.modality == "CT" and img.unit == "HU"
        assert img.presets is dcmlib.PRESETS
        assert img.render().shape == (3, 5) and img.render().dtype == np.uint8

    def test_info_has_no_patient_identifiers(self):
        img = dcmlib.load(
            make_ds(
                np.zeros((3, 5), np.int16),
                WindowCenter=[40, -600],
                WindowWidth=[400, 1500],
                WindowCenterWidthExplanation=["SOFT", "LUNG"],
                RescaleIntercept=-1024,
                RescaleSlope=1,
            )
        )
        text = img.info()
        assert "Doe" not in text and "Jane" not in text and "PID-12345" not in text
        assert "SOFT" in text and "LUNG" in text and "-1024" in text and "5 x 3" in text

    def test_value_range_from_bits_and_rescale(self):
        arr = np.zeros((2, 2), np.uint16)
        img = dcmlib.load(make_ds(arr, BitsStored=12, HighBit=11, RescaleSlope=0.5, RescaleIntercept=-1024))
        assert img.value_range == (-1024, 4095 * 0.5 - 1024)

    def test_values_read_only(self):
        img = dcmlib.load(make_ds())
        with pytest.raises(ValueError):
            img.values()[0, 0] = 1

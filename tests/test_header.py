"""dcmlib.read.header: a Dataset becomes frozen values once (Layout, FrameParams, PixelSpacing, cine rate).

Expected values are read off the tiny Datasets built here (``helpers.make_ds``)
or pydicom's bundled files, and worked from PS3.3 by hand: the 0-means-65536
LUT Descriptor (C.11.1.1), per-frame before shared functional groups
(C.7.6.16), the Pixel Spacing order row then column (10.7.1.3), frame rates
from Frame Time in ms (C.7.6.5).
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from dcmlib.errors import InvalidValueError, NoPixelDataError, NotDicomError, PixelDataError, UnsupportedError
from dcmlib.read import header as H
from dcmlib.read import io
from dcmlib.values.lut import VoiFunction, VoiLut, Window
from helpers import lut_item, make_ds, per_frame_windows, pydicom_file


def lay_of(ds: Dataset) -> H.Layout:
    return H.layout(ds, io.pixel_element(ds), "x.dcm")


class TestValues:
    @pytest.mark.parametrize("value, want", [("12", 12), (7, 7), ("", None), (None, None), ("abc", None)])
    def test_int_value(self, value, want):
        ds = Dataset()
        if value is not None:
            ds.add_new(0x00280010, "IS" if isinstance(value, str) else "US", value) if value != "abc" else ds.add_new(
                0x00080050, "SH", value
            )
        keyword = "AccessionNumber" if value == "abc" else "Rows"
        assert H.int_value(ds, keyword, None) == want

    def test_int_value_of_no_dataset_is_the_default(self):
        assert H.int_value(None, "Rows", 5) == 5

    @pytest.mark.parametrize(
        "value, want",
        [("1.5", 1.5), ("-2e3", -2000.0), ("", 9.0), (None, 9.0), ("x", 9.0), (float("inf"), float("inf"))],
    )
    def test_float_value(self, value, want):
        assert H.float_value(value, 9.0) == want

    def test_text_value_strips_padding_and_joins_several_values(self):
        ds = Dataset()
        ds.PatientName = "Doe^Jane "
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        assert H.text_value(ds, "PatientName") == "Doe^Jane"
        assert H.text_value(ds, "ImageType") == "ORIGINAL\\PRIMARY"  # as stored: the value delimiter
        assert H.text_value(ds, "Modality") == "" and H.text_value(None, "Modality") == ""

    @pytest.mark.parametrize("value, want", [(None, []), ("", []), (3, [3]), ([1, 2], [1, 2]), ((4,), [4])])
    def test_multi(self, value, want):
        assert H.multi(value) == want

    def test_vector_needs_n_finite_numbers(self):
        assert H.vector(["1", "0", "0"], 3) == (1.0, 0.0, 0.0)
        assert H.vector(["1", "0"], 3) is None
        assert H.vector(["1", "nan", "0"], 3) is None
        assert H.vector(["1", "x", "0"], 3) is None
        assert H.vector(None, 2) is None


class TestFunctionalItem:
    def enhanced(self) -> Dataset:
        ds = Dataset()
        shared, per0, per1, a, b, c = (Dataset() for _ in range(6))
        a.RescaleSlope, b.RescaleSlope, c.WindowCenter = 2, 3, 40
        shared.PixelValueTransformationSequence = [a]
        per0.PixelValueTransformationSequence = [b]
        per1.FrameVOILUTSequence = [c]
        ds.SharedFunctionalGroupsSequence = [shared]
        ds.PerFrameFunctionalGroupsSequence = [per0, per1]
        return ds

    def test_per_frame_before_shared(self):
        ds = self.enhanced()
        assert H.functional_item(ds, 0, "PixelValueTransformationSequence").RescaleSlope == 3
        assert H.functional_item(ds, 1, "PixelValueTransformationSequence").RescaleSlope == 2  # shared
        assert H.functional_item(ds, 1, "FrameVOILUTSequence").WindowCenter == 40

    def test_missing_everywhere_is_none(self):
        ds = self.enhanced()
        assert H.functional_item(ds, 0, "FrameVOILUTSequence") is None
        assert H.functional_item(ds, 5, "PixelMeasuresSequence") is None
        assert H.functional_item(Dataset(), 0, "PixelMeasuresSequence") is None


class TestHeaderErrors:
    def test_an_error_without_a_file_gets_the_file(self):
        with pytest.raises(InvalidValueError) as info, H.header_errors("a.dcm"):
            raise InvalidValueError("Rescale Slope (0028,1053) is nan")
        assert str(info.value) == "a.dcm: Rescale Slope (0028,1053) is nan"

    def test_an_error_naming_its_file_is_kept(self):
        with pytest.raises(PixelDataError, match=r"^b\.dcm: x$"), H.header_errors("a.dcm"):
            raise PixelDataError("x", "b.dcm")

    def test_anything_else_becomes_a_damaged_header(self):
        with pytest.raises(NotDicomError, match=r"^a\.dcm: the header is damaged \(an element cannot be read\)$"):
            with H.header_errors("a.dcm"):
                raise NotImplementedError("Unknown Value Representation 'Sh'")

    def test_memory_error_says_so(self):
        with pytest.raises(NotDicomError, match="claims more memory than there is"), H.header_errors("a.dcm"):
            raise MemoryError


class TestLayout:
    def test_from_the_image_pixel_module(self):
        lay = lay_of(make_ds(np.zeros((3, 5, 7), np.int16), BitsStored=12, HighBit=11))
        assert (lay.rows, lay.columns, lay.frames, lay.samples) == (5, 7, 3, 1)
        assert (lay.bits_allocated, lay.bits_stored, lay.signed) == (16, 12, True)
        assert lay.photometric == "MONOCHROME2" and lay.keyword == "PixelData"
        assert lay.shape == (5, 7) and lay.frame_bytes == 5 * 7 * 2 and not lay.is_color

    def test_colour(self):
        lay = lay_of(make_ds(np.zeros((4, 6, 3), np.uint8), SamplesPerPixel=3))
        assert lay.shape == (4, 6, 3) and lay.frame_bytes == 72 and lay.is_color and lay.frames == 1

    def test_float_pixel_data_is_32_bits_whatever_bits_allocated_says(self):
        lay = lay_of(make_ds(np.zeros((2, 2), np.float32), BitsAllocated=16))
        assert lay.keyword == "FloatPixelData" and lay.bits_allocated == 32

    def test_one_bit_data_counts_bytes(self):
        ds = make_ds(np.zeros((8, 8), np.uint8), BitsAllocated=1, BitsStored=1, HighBit=0)
        assert lay_of(ds).frame_bytes == 64

    def test_missing_photometric_is_monochrome2_and_bits_stored_defaults_to_allocated(self):
        lay = lay_of(make_ds(np.zeros((2, 2), np.uint16), PhotometricInterpretation=None, BitsStored=None))
        assert lay.photometric == "MONOCHROME2" and lay.bits_stored == 16

    def test_number_of_frames_zero_is_one(self):
        assert lay_of(make_ds(np.zeros((2, 2), np.uint16), NumberOfFrames=0)).frames == 1

    def test_no_pixel_data(self):
        with pytest.raises(NoPixelDataError, match=r"^x\.dcm: no pixel data \(not an image\)$"):
            lay_of(make_ds(PixelData=None))

    @pytest.mark.parametrize(
        "tags, error, problem",
        [
            ({"Rows": 0}, PixelDataError, "invalid image size Rows=0 Columns=4"),
            ({"Columns": None}, PixelDataError, "invalid image size Rows=4 Columns=0"),
            ({"BitsAllocated": 12}, PixelDataError, "unsupported Bits Allocated 12"),
            (
                {"PhotometricInterpretation": "ZEBRA"},
                UnsupportedError,
                "unsupported photometric interpretation 'ZEBRA'",
            ),
            ({"BitsStored": 17}, InvalidValueError, "Bits Stored (0028,0101) 17 is not within 1..16 (Bits Allocated)"),
            ({"SamplesPerPixel": 3}, UnsupportedError, "MONOCHROME2 needs Samples per Pixel (0028,0002) 1, not 3"),
            (
                {"PhotometricInterpretation": "RGB"},
                UnsupportedError,
                "RGB needs Samples per Pixel (0028,0002) 3, not 1",
            ),
        ],
        ids=["rows-0", "no-columns", "bits-12", "zebra", "stored-17", "mono-3", "rgb-1"],
    )
    def test_what_makes_no_displayable_image(self, tags, error, problem):
        ds = make_ds(np.zeros((4, 4), np.uint16))
        for key, value in tags.items():
            if value is None:
                delattr(ds, key)
            else:
                setattr(ds, key, value)
        with pytest.raises(error) as info:
            lay_of(ds)
        assert type(info.value) is error and info.value.problem == problem and info.value.path == "x.dcm"

    def test_a_bundled_file(self):
        ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
        lay = lay_of(ds)
        assert (lay.rows, lay.columns, lay.bits_allocated, lay.bits_stored) == (128, 128, 16, 16)
        assert lay.signed == (ds.PixelRepresentation == 1) and lay.frames == 1


class TestLutData:
    def test_zero_entries_means_65536(self):
        lut = H.lut_data(lut_item([0, 0, 16], np.arange(65536)), signed_input=False)
        assert len(lut.entries) == 65536 and lut.first_mapped == 0 and lut.bits == 16

    def test_first_mapped_is_signed_for_signed_input(self):
        # C.11.1.1: the second descriptor value is read as signed when the input is; 65535 means -1
        assert H.lut_data(lut_item([4, 65535, 16], [0, 1, 2, 3]), signed_input=True).first_mapped == -1
        assert H.lut_data(lut_item([4, 65535, 16], [0, 1, 2, 3]), signed_input=False).first_mapped == 65535

    def test_8_bit_entries_in_bytes(self):
        lut = H.lut_data(lut_item([4, 0, 8], bytes([0, 10, 20, 255])), signed_input=False)
        assert lut.entries.tolist() == [0, 10, 20, 255] and lut.bits == 8

    def test_entries_wider_than_the_descriptor_are_trusted(self):
        lut = H.lut_data(lut_item([3, 0, 8], np.array([0, 1000, 4095])), signed_input=False)
        assert lut.entries.tolist() == [0, 1000, 4095] and lut.bits == 12  # 4095 needs 12 bits

    def test_extra_entries_are_cut_to_the_descriptor(self):
        assert H.lut_data(lut_item([2, 0, 16], np.arange(5)), signed_input=False).entries.tolist() == [0, 1]

    @pytest.mark.parametrize("item", [lut_item([4, 0], [1, 2]), lut_item([4, 0, 16], b"")], ids=["2-values", "empty"])
    def test_bad_descriptor_or_no_data(self, item):
        with pytest.raises(ValueError):
            H.lut_data(item, signed_input=False)


class TestFrameParams:
    def test_rescale_windows_and_explanations(self):
        ds = make_ds(
            np.zeros((4, 4), np.int16),
            RescaleSlope="2",
            RescaleIntercept="-1024",
            RescaleType="HU",
            WindowCenter=[40, -600],
            WindowWidth=[400, 1500],
            VOILUTFunction="SIGMOID",
            WindowCenterWidthExplanation=["SOFT", "LUNG"],
        )
        p = H.frame_params(ds, 0, lay_of(ds))
        assert (p.modality.slope, p.modality.intercept, p.modality.rescale_type) == (2.0, -1024.0, "HU")
        assert p.function is VoiFunction.SIGMOID
        assert p.vois == (
            Window(40.0, 400.0, VoiFunction.SIGMOID, "SOFT"),
            Window(-600.0, 1500.0, VoiFunction.SIGMOID, "LUNG"),
        )
        assert p.padding is None and p.invalid_windows == () and p.first_window_invalid == ""

    def test_no_rescale_is_identity_and_no_window_is_no_voi(self):
        ds = make_ds(np.zeros((4, 4), np.uint16))
        p = H.frame_params(ds, 0, lay_of(ds))
        assert (p.modality.slope, p.modality.intercept, p.modality.lut) == (1.0, 0.0, None)
        assert p.vois == () and p.function is VoiFunction.LINEAR and p.lut_shape is None

    def test_an_invalid_first_window_is_reported_and_left_out(self):
        ds = make_ds(np.zeros((4, 4), np.uint16), WindowCenter=["40", "50"], WindowWidth=["0", "100"])
        p = H.frame_params(ds, 0, lay_of(ds))
        assert p.vois == (Window(50.0, 100.0),)
        assert p.invalid_windows == ("stored window 1 (center 40, width 0) is invalid",)
        assert p.first_window_invalid == "stored window 1 (center 40, width 0) is invalid"

    def test_voi_luts_come_after_the_windows(self):
        ds = make_ds(
            np.zeros((4, 4), np.uint16),
            WindowCenter=40,
            WindowWidth=400,
            VOILUTSequence=[lut_item([4, 0, 8], bytes([0, 50, 100, 255]), "TABLE")],
        )
        p = H.frame_params(ds, 0, lay_of(ds))
        assert isinstance(p.vois[0], Window) and isinstance(p.vois[1], VoiLut)
        assert p.vois[1].explanation == "TABLE" and p.vois[1].lut.entries.tolist() == [0, 50, 100, 255]

    def test_an_unreadable_voi_lut_is_reported(self):
        ds = make_ds(np.zeros((4, 4), np.uint16), VOILUTSequence=[lut_item([4, 0], [1, 2])])
        p = H.frame_params(ds, 0, lay_of(ds))
        assert p.vois == () and len(p.invalid_windows) == 1 and p.invalid_windows[0].startswith("VOI LUT ignored (")

    def test_modality_lut_replaces_the_rescale_check(self):
        ds = make_ds(
            np.zeros((4, 4), np.uint16),
            RescaleSlope="nan",
            ModalityLUTSequence=[lut_item([4, 0, 16], [10, 20, 30, 40], "HU TABLE")],
        )
        p = H.frame_params(ds, 0, lay_of(ds))
        assert p.modality.lut.entries.tolist() == [10, 20, 30, 40] and p.modality.lut_explanation == "HU TABLE"

    @pytest.mark.parametrize(
        "tags, problem",
        [
            ({"RescaleSlope": "nan"}, "Rescale Slope (0028,1053) is nan"),
            ({"RescaleIntercept": "inf"}, "Rescale Intercept (0028,1052) is inf"),
            ({"RescaleSlope": "1e-40"}, "Rescale Slope (0028,1053) 1e-40 is too small to scale stored values"),
            # 16 stored bits, unsigned: 65536 x 2e25 > 1e30 (the largest modality value, lut.MAX_VALUE)
            (
                {"RescaleSlope": "2e25"},
                "Rescale Slope 2e+25 and Intercept 0 (0028,1053 / 0028,1052) give modality values beyond +-1e+30",
            ),
        ],
        ids=["nan", "inf", "tiny", "overflow"],
    )
    def test_rescale_no_display_can_use(self, tags, problem):
        ds = make_ds(np.zeros((4, 4), np.uint16), **tags)
        with pytest.raises(InvalidValueError) as info:
            H.frame_params(ds, 0, lay_of(ds))
        assert info.value.problem == problem

    def test_a_slope_that_just_fits(self):
        ds = make_ds(np.zeros((4, 4), np.uint16), RescaleSlope="1e25")  # 65536e25 = 6.6e29 < 1e30
        assert H.frame_params(ds, 0, lay_of(ds)).modality.slope == 1e25

    def test_padding_of_signed_data_given_as_us(self):
        # C.7.5.1.1.2: Pixel Padding Value has the VR of the pixels; 65535 written as US is -1 for signed data
        ds = make_ds(np.zeros((4, 4), np.int16))
        ds.add_new(0x00280120, "US", 65535)
        ds.add_new(0x00280121, "US", 65533)
        assert H.frame_params(ds, 0, lay_of(ds)).padding == (-3.0, -1.0)

    def test_float_padding(self):
        ds = make_ds(np.zeros((2, 2), np.float32), FloatPixelPaddingValue=-1.5)
        assert H.frame_params(ds, 0, lay_of(ds)).padding == (-1.5, -1.5)

    def test_enhanced_frames_each_with_their_window_and_the_shared_rescale(self):
        stored = np.zeros((3, 4, 4), np.uint16)
        ds = per_frame_windows(stored, [(100, 200), (300, 50), (7, 3)], slope=2.0, intercept=-5.0)
        lay = lay_of(ds)
        for i, (c, w) in enumerate([(100, 200), (300, 50), (7, 3)]):
            p = H.frame_params(ds, i, lay)
            assert (p.modality.slope, p.modality.intercept, p.modality.rescale_type) == (2.0, -5.0, "US")
            assert p.vois == (Window(float(c), float(w)),)


class TestPixelSpacing:
    def test_pixel_spacing_is_row_then_column(self):
        ps = H.pixel_spacing(make_ds(PixelSpacing=[0.5, 0.25]))
        assert (ps.row, ps.column, ps.source, ps.label) == (0.5, 0.25, "pixel", "")

    def test_equal_to_imager_spacing_is_the_detectors(self):
        ps = H.pixel_spacing(make_ds(PixelSpacing=[0.2, 0.2], ImagerPixelSpacing=[0.2, 0.2]))
        assert ps.source == "imager" and ps.label == "(detector)"

    def test_different_from_imager_spacing_is_calibrated(self):
        ps = H.pixel_spacing(make_ds(PixelSpacing=[0.18, 0.18], ImagerPixelSpacing=[0.2, 0.2]))
        assert ps.source == "pixel" and ps.calibrated and ps.label == "(calibrated)"

    def test_calibration_type(self):
        ps = H.pixel_spacing(make_ds(PixelSpacing=[0.18, 0.18], PixelSpacingCalibrationType="FIDUCIAL"))
        assert ps.calibration == "FIDUCIAL" and ps.label == "(calibrated: fiducial)"

    def test_only_imager_spacing(self):
        ps = H.pixel_spacing(make_ds(ImagerPixelSpacing=[0.1, 0.3]))
        assert (ps.row, ps.column, ps.source) == (0.1, 0.3, "imager")

    @pytest.mark.parametrize("value", [[0, 1], [-1, 1], [1], ["nan", 1]], ids=["zero", "negative", "one", "nan"])
    def test_values_that_are_not_two_positive_numbers_are_ignored(self, value):
        assert H.pixel_spacing(make_ds(PixelSpacing=value)) is None

    def test_none_given(self):
        assert H.pixel_spacing(make_ds()) is None

    def test_enhanced_pixel_measures_per_frame(self):
        ds = make_ds(np.zeros((2, 4, 4), np.uint16), PixelSpacing=[9, 9])
        shared, per0, per1, m0, m1 = (Dataset() for _ in range(5))
        m0.PixelSpacing, m1.PixelSpacing = [0.5, 0.6], [0.7, 0.8]
        per0.PixelMeasuresSequence, shared.PixelMeasuresSequence = [m0], [m1]
        ds.PerFrameFunctionalGroupsSequence = [per0, per1]
        ds.SharedFunctionalGroupsSequence = [shared]
        assert (H.pixel_spacing(ds, 0).row, H.pixel_spacing(ds, 0).column) == (0.5, 0.6)
        assert (H.pixel_spacing(ds, 1).row, H.pixel_spacing(ds, 1).column) == (0.7, 0.8)


class TestCineRate:
    def test_cine_rate_first(self):
        assert H.cine_rate(make_ds(CineRate=25, FrameTime=100)) == (25.0, "CineRate")

    def test_frame_time_in_ms(self):
        assert H.cine_rate(make_ds(FrameTime=40)) == (25.0, "FrameTime")  # 1000 / 40 ms

    def test_frame_time_vector_mean_of_non_zero_steps(self):
        rate, source = H.cine_rate(make_ds(FrameTimeVector=[0, 20, 30, 50]))
        assert source == "FrameTimeVector" and rate == pytest.approx(1000 / (100 / 3))

    def test_recommended_display_frame_rate_last(self):
        assert H.cine_rate(make_ds(RecommendedDisplayFrameRate=12)) == (12.0, "RecommendedDisplayFrameRate")

    @pytest.mark.parametrize("tags", [{}, {"CineRate": 0, "FrameTime": -5}, {"FrameTimeVector": [0, 0]}])
    def test_nothing_usable(self, tags):
        assert H.cine_rate(make_ds(**tags)) is None

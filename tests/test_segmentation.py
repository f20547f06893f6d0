"""Segmentations and masks (issue 12): DICOM SEG through highdicom, .npy and PNG masks, the blend, the
outline, the CLI (--seg, --seg-alpha, --seg-outline, convert --seg), the viewer's k / K and --info.

Expected pixels are worked by hand: ``colour * a + grey * (1 - a)`` rounded to the nearest level, and the
CIELab colours from PS3.3 C.10.7.1.1's scaling with the CIE formula (D65) and sRGB companding.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

import dcmlib
from dcmlib.objects.segmentation import COLORS, blend, load_segmentation, outline
from dcmlib.values.color import dicom_lab_to_rgb
from dcmlib.viewer import controls
from dcmlib.viewer.keys import HELP, KeyDecoder
from dcmlib.viewer.labels import annotation_lines, snapshot_name
from dcmlib.viewer.view import View
from helpers import assert_one_error_line, make_ds, run_cli, series_datasets, write_ds, write_series

hd = pytest.importorskip("highdicom")
from pydicom.sr.codedict import codes  # noqa: E402 - after the highdicom skip, which needs it

ROWS, COLS = 16, 20
GREY = 100  # every source pixel, shown as grey 100: ((100 - 127.5) / 255 + 0.5) x 255 (C.11.2.1.2.1, window 128 / 256)


# --------------------------------------------------------------------------- builders


def _common(**extra) -> dict:
    """The attributes highdicom needs from a source image (study, series, frame of reference, geometry)."""
    tags = dict(
        StudyInstanceUID=generate_uid(),
        SeriesInstanceUID=generate_uid(),
        FrameOfReferenceUID=generate_uid(),
        PixelSpacing=[1.0, 1.0],
        SliceThickness=1.0,
        ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
        SeriesNumber=1,
        StudyDate="20260101",
        StudyTime="120000",
        AccessionNumber="1",
        ReferringPhysicianName="",
        StudyID="1",
        PatientBirthDate="",
        PatientSex="O",
        WindowCenter=128,
        WindowWidth=256,
        RescaleSlope=1,
        RescaleIntercept=0,
    )
    tags.update(extra)
    return tags


def _slices(n: int, **extra) -> list[Dataset]:
    """``n`` axial 20 x 16 slices 1 mm apart, every pixel 100 (shown as grey 100)."""
    return series_datasets([np.full((ROWS, COLS), GREY, np.uint16)] * n, **_common(**extra))


def _description(number: int, label: str, lab: tuple[int, int, int] | None = None):
    d = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=label,
        segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    if lab is not None:
        d.RecommendedDisplayCIELabValue = list(lab)
    return d


def _seg(sources: list[Dataset], pixels: np.ndarray, *, fractional: bool = False, labs=(None, None), **kw):
    """A highdicom Segmentation of ``sources``; ``pixels`` (frames, rows, cols, segments)."""
    n = pixels.shape[-1]
    descs = [_description(k + 1, f"organ {k + 1}", labs[k] if k < len(labs) else None) for k in range(n)]
    kind = hd.seg.SegmentationTypeValues.FRACTIONAL if fractional else hd.seg.SegmentationTypeValues.BINARY
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixels,
        segmentation_type=kind,
        segment_descriptions=descs,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
        **kw,
    )


def _slice_with_seg(folder: Path, rows: slice, cols: slice, **seg_kw) -> tuple[str, str]:
    """One slice (ct.dcm) and a binary SEG (seg.dcm) of it whose one segment covers ``[rows, cols]``."""
    src = _slices(1)[0]
    mask = np.zeros((1, ROWS, COLS, 1), bool)
    mask[0, rows, cols, 0] = True
    return write_ds(src, folder / "ct.dcm"), write_ds(_seg([src], mask, **seg_kw), folder / "seg.dcm")


def _series(folder: Path, n: int = 3) -> tuple[Path, list[Dataset]]:
    paths = write_series(folder, [np.full((ROWS, COLS), GREY, np.uint16)] * n, **_common())
    return folder, [pydicom.dcmread(p) for p in paths]


def _mixed(a: float, grey: float, colour: float) -> int:
    """One channel of the blend worked by hand: colour * a + grey * (1 - a), to the nearest level."""
    return int(math.floor(colour * a + grey * (1 - a) + 0.5))


def _expected_bgr(rgb: tuple[int, int, int], a: float, grey: int = GREY) -> list[int]:
    return [_mixed(a, grey, rgb[2]), _mixed(a, grey, rgb[1]), _mixed(a, grey, rgb[0])]


# --------------------------------------------------------------------------- colour


class TestCielab:
    # PS3.3 C.10.7.1.1: L = L* x 65535 / 100, a = (a* + 128) x 65535 / 255, b likewise.
    def test_white_and_black(self):
        # L* 100, a* = b* = 32896 * 255 / 65535 - 128 = 0.0002: XYZ = the D65 white, linear RGB 1, 1, 1.
        assert dicom_lab_to_rgb((65535, 32896, 32896)) == (255, 255, 255)
        # L* 0: fy = 16/116 = 4/29, f^-1 = 0, so X = Y = Z = 0.
        assert dicom_lab_to_rgb((0, 32896, 32896)) == (0, 0, 0)

    def test_srgb_red(self):
        # sRGB red is L* 53.2408, a* 80.0925, b* 67.2032 (D65): scaled 34891, 53480, 50167.
        # Back: fy = (53.2408 + 16) / 116 = 0.59690, fx = fy + 80.09 / 500 = 0.75708, fz = fy - 67.20 / 200 = 0.26088
        # X = 0.95047 x 0.75708^3 = 0.41246, Y = 0.59690^3 = 0.21267, Z = 1.08883 x 0.26088^3 = 0.01933
        # R = 3.2406 X - 1.5372 Y - 0.4986 Z = 1.0000, G = -0.9689 X + 1.8758 Y + 0.0415 Z = 0.0000,
        # B = 0.0557 X - 0.2040 Y + 1.0570 Z = 0.0000 -> (255, 0, 0) after companding.
        assert dicom_lab_to_rgb((34891, 53480, 50167)) == (255, 0, 0)

    def test_mid_grey(self):
        # L* 50 (scaled 32768), neutral: Y = ((50 + 16) / 116)^3 = 0.18419; sRGB 1.055 x 0.18419^(1/2.4) - 0.055
        # = 0.46631 -> 118.9 -> 119 in each channel.
        assert dicom_lab_to_rgb((32768, 32896, 32896)) == (119, 119, 119)


# --------------------------------------------------------------------------- blend and outline


class TestBlend:
    def test_binary_pixels_by_hand(self):
        grey = np.full((4, 4), 100, np.uint8)
        cover = np.zeros((1, 4, 4), np.uint8)
        cover[0, 1, 2] = 255
        colours = np.array([[75, 25, 230]], np.uint8)  # BGR of RGB (230, 25, 75)
        out = blend(grey, cover, colours, 0.4)
        assert out.shape == (4, 4, 3) and out.dtype == np.uint8
        # B 75 x 0.4 + 100 x 0.6 = 90; G 25 x 0.4 + 60 = 70; R 230 x 0.4 + 60 = 152
        assert out[1, 2].tolist() == [90, 70, 152]
        assert out[0, 0].tolist() == [100, 100, 100]

    def test_fraction_scales_alpha(self):
        grey = np.full((2, 2), 100, np.uint8)
        cover = np.array([[[128, 0], [255, 64]]], np.uint8)
        out = blend(grey, cover, np.array([[0, 0, 250]], np.uint8), 0.5)
        # a = 0.5 x 128 / 255 = 0.25098: R = 250 a + 100 (1 - a) = 137.65 -> 138; B = G = 100 (1 - a) = 74.9 -> 75
        assert out[0, 0].tolist() == [75, 75, 138]
        assert out[1, 0].tolist() == [50, 50, 175]  # a = 0.5: 250 x 0.5 + 50 = 175
        # a = 0.5 x 64 / 255 = 0.12549: R = 100 + 150 a = 118.8 -> 119; B = 100 (1 - a) = 87.45 -> 87
        assert out[1, 1].tolist() == [87, 87, 119]

    def test_two_segments_in_order_on_bgr(self):
        img = np.zeros((1, 1, 3), np.uint8)
        cover = np.full((2, 1, 1), 255, np.uint8)
        out = blend(img, cover, np.array([[200, 0, 0], [0, 0, 200]], np.uint8), 0.5)
        # first: B 100; then the second over it: B 100 x 0.5 = 50, R 200 x 0.5 = 100
        assert out[0, 0].tolist() == [50, 0, 100]

    def test_alpha_zero_and_no_coverage_give_the_grey_as_bgr(self):
        grey = np.arange(16, dtype=np.uint8).reshape(4, 4)
        expect = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        assert np.array_equal(blend(grey, None, None, 0.4), expect)
        assert np.array_equal(
            blend(grey, np.full((1, 4, 4), 255, np.uint8), np.array([[9, 9, 9]], np.uint8), 0.0), expect
        )

    def test_outline_is_the_inner_contour(self):
        cover = np.zeros((8, 8), np.uint8)
        cover[2:6, 1:7] = 255
        edge = outline(cover) > 0
        want = np.zeros((8, 8), bool)
        want[2:6, 1:7] = True
        want[3:5, 2:6] = False
        assert np.array_equal(edge, want)

    def test_outline_at_the_array_edge_draws_no_border(self):
        cover = np.full((5, 5), 255, np.uint8)
        assert not outline(cover).any()


# --------------------------------------------------------------------------- DICOM SEG


class TestDicomSeg:
    def test_binary_single_file(self, tmp_path):
        path, seg_path = _slice_with_seg(tmp_path, slice(4, 8), slice(5, 10))
        img = dcmlib.load(path)
        seg = load_segmentation(seg_path, img)
        assert seg.kind == "binary" and [s.label for s in seg.segments] == ["organ 1"] and seg.frames == [0]
        out = seg.apply(img.render(), 0, 0.4)
        assert out[5, 6].tolist() == _expected_bgr(COLORS[0], 0.4)
        assert out[0, 0].tolist() == [GREY] * 3

    def test_recommended_cielab_colour(self, tmp_path):
        path, seg_path = _slice_with_seg(tmp_path, slice(1, 3), slice(1, 3), labs=[(34891, 53480, 50167)])  # sRGB red
        img = dcmlib.load(path)
        out = load_segmentation(seg_path, img).apply(img.render(), 0, 1.0)
        assert out[1, 1].tolist() == [0, 0, 255]

    def test_fractional(self, tmp_path):
        src = _slices(1)[0]
        path = write_ds(src, tmp_path / "ct.dcm")
        probs = np.zeros((1, ROWS, COLS, 1), np.float32)
        probs[0, 2, 3, 0] = 1.0
        probs[0, 2, 4, 0] = 0.5
        seg_path = write_ds(_seg([src], probs, fractional=True, max_fractional_value=200), tmp_path / "seg.dcm")
        img = dcmlib.load(path)
        seg = load_segmentation(seg_path, img)
        assert seg.kind == "fractional"
        out = seg.apply(img.render(), 0, 0.4)
        assert out[2, 3].tolist() == _expected_bgr(COLORS[0], 0.4)
        # 0.5 is stored as 100 of 200, kept as coverage round(100 x 255 / 200) = 128: a = 0.4 x 128 / 255
        assert out[2, 4].tolist() == _expected_bgr(COLORS[0], 0.4 * 128 / 255)

    def test_series_by_referenced_instance(self, tmp_path):
        folder, slices = _series(tmp_path / "series")
        mask = np.zeros((3, ROWS, COLS, 2), bool)
        mask[1, 4:8, 5:10, 0] = True
        mask[2, 2:4, 2:4, 1] = True
        seg_path = write_ds(_seg(slices, mask), tmp_path / "seg.dcm")
        img = dcmlib.load(folder)
        seg = load_segmentation(seg_path, img)
        assert seg.frames == [1, 2]
        assert seg.coverage(0) is None
        assert seg.apply(img.render(frame=1), 1)[5, 6].tolist() == _expected_bgr(COLORS[0], 0.4)
        assert seg.apply(img.render(frame=2), 2)[3, 3].tolist() == _expected_bgr(COLORS[1], 0.4)
        assert seg.apply(img.render(frame=2), 2)[5, 6].tolist() == [GREY] * 3

    def test_series_by_plane_position(self, tmp_path):
        folder, slices = _series(tmp_path / "series")
        mask = np.zeros((3, ROWS, COLS, 1), bool)
        mask[2, 2:4, 2:4, 0] = True
        seg = _seg(slices, mask)
        for item in seg.PerFrameFunctionalGroupsSequence:  # no references: positions alone
            del item.DerivationImageSequence
        del seg.ReferencedSeriesSequence
        seg_path = write_ds(seg, tmp_path / "seg.dcm")
        img = dcmlib.load(folder)
        got = load_segmentation(seg_path, img)
        assert got.frames == [2]
        assert got.apply(img.render(frame=2), 2)[3, 3].tolist() == _expected_bgr(COLORS[0], 0.4)

    def test_multiframe_source_by_frame_number(self, tmp_path):
        src = make_ds(np.full((3, ROWS, COLS), GREY, np.uint16), ImagePositionPatient=[0.0, 0.0, 0.0], **_common())
        path = write_ds(src, tmp_path / "mf.dcm")
        mask = np.zeros((3, ROWS, COLS, 1), bool)
        mask[2, 1:3, 1:3, 0] = True
        positions = [hd.PlanePositionSequence(hd.CoordinateSystemNames.PATIENT, [0.0, 0.0, float(i)]) for i in range(3)]
        seg = _seg([src], mask, plane_positions=positions)
        group = seg.PerFrameFunctionalGroupsSequence[0]  # the one stored frame: the source's frame 3
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = src.SOPClassUID, src.SOPInstanceUID
        ref.ReferencedFrameNumber = 3
        der = Dataset()
        der.SourceImageSequence = DicomSequence([ref])
        group.DerivationImageSequence = DicomSequence([der])
        # its Plane Position (0, 0, 2) lies on no frame of the source: a classic multi-frame file gives only
        # its first frame's position, so only the referenced frame number can place it
        seg_path = write_ds(seg, tmp_path / "seg.dcm")
        img = dcmlib.load(path)
        got = load_segmentation(seg_path, img)
        assert got.frames == [2]
        assert got.apply(img.render(frame=2), 2)[2, 2].tolist() == _expected_bgr(COLORS[0], 0.4)

    def test_labelmap(self, tmp_path):
        if not hasattr(hd.seg.SegmentationTypeValues, "LABELMAP"):
            pytest.skip("this highdicom writes no LABELMAP segmentations")
        folder, slices = _series(tmp_path / "series", 2)
        labels = np.zeros((2, ROWS, COLS), np.uint8)
        labels[1, 2, 3] = 2
        labels[1, 5, 6] = 1
        descs = [_description(k, f"organ {k}") for k in (1, 2)]
        seg = hd.seg.Segmentation(
            source_images=slices,
            pixel_array=labels,
            segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP,
            segment_descriptions=descs,
            series_instance_uid=generate_uid(),
            series_number=2,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer="test",
            manufacturer_model_name="test",
            software_versions="1",
            device_serial_number="1",
        )
        img = dcmlib.load(folder)
        got = load_segmentation(write_ds(seg, tmp_path / "seg.dcm"), img)
        assert got.kind == "labelmap"
        out = got.apply(img.render(frame=1), 1)
        assert out[2, 3].tolist() == _expected_bgr(COLORS[1], 0.4)
        assert out[5, 6].tolist() == _expected_bgr(COLORS[0], 0.4)
        assert out[0, 0].tolist() == [GREY] * 3

    def test_pixel_data_cut_short(self, tmp_path):
        src = _slices(1)[0]
        path = write_ds(src, tmp_path / "ct.dcm")
        mask = np.ones((1, ROWS, COLS, 1), bool)
        seg = _seg([src], mask)
        seg.PixelData = seg.PixelData[:10]  # 40 bytes needed: 20 x 16 bits
        bad = write_ds(seg, tmp_path / "cut.dcm")
        with pytest.raises(dcmlib.SegmentationError, match="Pixel Data holds 10 bytes"):
            load_segmentation(bad, dcmlib.load(path))

    def test_seg_of_another_image_names_both(self, tmp_path):
        src = _slices(1)[0]
        other = _slices(1)[0]
        path = write_ds(src, tmp_path / "ct.dcm")
        mask = np.zeros((1, ROWS, COLS, 1), bool)
        mask[0, 1, 1, 0] = True
        seg_path = write_ds(_seg([other], mask), tmp_path / "seg.dcm")
        with pytest.raises(dcmlib.SegmentationError) as err:
            load_segmentation(seg_path, dcmlib.load(path))
        assert "seg.dcm" in str(err.value) and "ct.dcm" in str(err.value)

    def test_not_a_seg_and_damaged(self, tmp_path):
        src = _slices(1)[0]
        path = write_ds(src, tmp_path / "ct.dcm")
        img = dcmlib.load(path)
        with pytest.raises(dcmlib.SegmentationError, match="not a DICOM Segmentation"):
            load_segmentation(path, img)
        mask = np.zeros((1, ROWS, COLS, 1), bool)
        mask[0, 1, 1, 0] = True
        seg = _seg([src], mask)
        del seg.SegmentSequence[0].SegmentNumber
        bad = write_ds(seg, tmp_path / "bad.dcm")
        with pytest.raises(dcmlib.SegmentationError, match="bad.dcm"):
            load_segmentation(bad, img)


# --------------------------------------------------------------------------- masks


class TestMasks:
    def test_npy_labels_series_order(self, tmp_path):
        folder, _ = _series(tmp_path / "series")
        labels = np.zeros((3, ROWS, COLS), np.int64)
        labels[0, 1, 1] = 1
        labels[2, 5, 5] = 3
        np.save(tmp_path / "m.npy", labels)
        img = dcmlib.load(folder)
        seg = load_segmentation(tmp_path / "m.npy", img)
        assert seg.kind == "mask" and [s.number for s in seg.segments] == [1, 3] and seg.frames == [0, 2]
        assert seg.apply(img.render(frame=0), 0)[1, 1].tolist() == _expected_bgr(COLORS[0], 0.4)
        assert seg.apply(img.render(frame=2), 2)[5, 5].tolist() == _expected_bgr(COLORS[2], 0.4)
        assert seg.apply(img.render(frame=1), 1)[1, 1].tolist() == [GREY] * 3

    def test_bool_npy_is_one_segment(self, tmp_path):
        path = write_ds(_slices(1)[0], tmp_path / "ct.dcm")
        m = np.zeros((ROWS, COLS), bool)
        m[3, 4] = True
        np.save(tmp_path / "m.npy", m)
        img = dcmlib.load(path)
        seg = load_segmentation(tmp_path / "m.npy", img)
        assert len(seg.segments) == 1
        assert seg.apply(img.render(), 0, 1.0)[3, 4].tolist() == list(COLORS[0][::-1])

    def test_png_labels(self, tmp_path):
        path = write_ds(_slices(1)[0], tmp_path / "ct.dcm")
        m = np.zeros((ROWS, COLS), np.uint8)
        m[6, 7] = 2
        cv2.imwrite(str(tmp_path / "m.png"), m)
        img = dcmlib.load(path)
        out = load_segmentation(tmp_path / "m.png", img).apply(img.render(), 0, 0.4)
        assert out[6, 7].tolist() == _expected_bgr(COLORS[1], 0.4)

    def test_tiff_pages_on_a_colour_multiframe_image(self, tmp_path):
        rgb = np.zeros((2, ROWS, COLS, 3), np.uint8)
        rgb[..., 1] = 200  # green everywhere
        path = write_ds(make_ds(rgb, SamplesPerPixel=3), tmp_path / "rgb.dcm")
        pages = [np.zeros((ROWS, COLS), np.uint8), np.zeros((ROWS, COLS), np.uint8)]
        pages[1][3, 4] = 1
        assert cv2.imwritemulti(str(tmp_path / "m.tif"), pages)
        img = dcmlib.load(path)
        seg = load_segmentation(tmp_path / "m.tif", img)
        assert seg.frames == [1]
        out = seg.apply(img.render(frame=1), 1, 0.5)
        r, g, b = COLORS[0]
        assert out[3, 4].tolist() == [_mixed(0.5, 0, b), _mixed(0.5, 200, g), _mixed(0.5, 0, r)]
        assert out[0, 0].tolist() == [0, 200, 0]

    def test_size_mismatch_names_both_sizes(self, tmp_path):
        path = write_ds(_slices(1)[0], tmp_path / "ct.dcm")
        np.save(tmp_path / "m.npy", np.zeros((ROWS + 1, COLS), np.uint8))
        with pytest.raises(dcmlib.SegmentationError) as err:
            load_segmentation(tmp_path / "m.npy", dcmlib.load(path))
        assert "20 x 17" in str(err.value) and "20 x 16" in str(err.value) and "m.npy" in str(err.value)

    def test_bad_values(self, tmp_path):
        path = write_ds(_slices(1)[0], tmp_path / "ct.dcm")
        np.save(tmp_path / "m.npy", np.full((ROWS, COLS), 0.5, np.float32))
        with pytest.raises(dcmlib.SegmentationError, match="whole numbers"):
            load_segmentation(tmp_path / "m.npy", dcmlib.load(path))
        (tmp_path / "junk.png").write_bytes(b"not a png")
        with pytest.raises(dcmlib.SegmentationError, match="not a readable PNG"):
            load_segmentation(tmp_path / "junk.png", dcmlib.load(path))


# --------------------------------------------------------------------------- viewer


def _viewer_setup(tmp_path, outline_only: bool):
    path = write_ds(_slices(1)[0], tmp_path / "ct.dcm")
    m = np.zeros((ROWS, COLS), np.uint8)
    m[4:10, 5:13] = 1
    np.save(tmp_path / "m.npy", m)
    img = dcmlib.load(path)
    seg = load_segmentation(tmp_path / "m.npy", img)
    state = replace(controls.initial_state(img), segmentation=True, seg_alpha=1.0, seg_outline=outline_only)
    return img, seg, state


class TestViewer:
    def test_outline_is_one_screen_pixel_at_zoom_4(self, tmp_path):
        img, seg, state = _viewer_setup(tmp_path, True)
        view = View(img, state, screen=(1280, 1024), segmentation=seg)
        vp = view.state.viewport
        view.set_state(replace(view.state, viewport=vp.zoomed(4.0, (vp.width / 2, vp.height / 2))))
        assert view.state.viewport.zoom == pytest.approx(4.0)
        canvas = view.render_view()
        red = np.all(canvas == np.array(COLORS[0][::-1], np.uint8), axis=2)
        assert red.any()
        # every row crossing the region has exactly two contour pixels (left and right edge), 1 px each
        rows = np.nonzero(red.any(axis=1))[0]
        inner = rows[1:-1]
        assert all(red[r].sum() == 2 for r in inner)
        cols = np.nonzero(red.any(axis=0))[0]
        assert all(red[:, c].sum() == 2 for c in cols[1:-1])
        # the filled mask covers 4 x 4 screen pixels per image pixel: its outline is far thinner
        view.set_state(replace(view.state, seg_outline=False))
        filled = np.all(view.render_view() == np.array(COLORS[0][::-1], np.uint8), axis=2)
        assert filled.sum() == 6 * 8 * 16

    def test_snapshot_equals_export(self, tmp_path):
        img, seg, state = _viewer_setup(tmp_path, False)
        state = replace(state, seg_alpha=0.6)
        view = View(img, state, screen=(1280, 1024), segmentation=seg)
        out = tmp_path / "e.png"
        r = run_cli(tmp_path / "ct.dcm", "--export", out, "--seg", tmp_path / "m.npy", "--seg-alpha", "0.6")
        assert r.returncode == 0, r.stderr
        assert np.array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), view.full_resolution())

    def test_keys(self, tmp_path):
        img, _seg, state = _viewer_setup(tmp_path, False)
        state = replace(state, seg_alpha=0.4)
        off = controls.on_key(state, "k")
        assert off.segmentation is False and "seg off" in annotation_lines(off)
        assert controls.on_key(off, "k").segmentation is True
        stepped = controls.on_key(state, "K")
        assert stepped.seg_alpha == 0.6 and "seg on  alpha 0.6" in annotation_lines(stepped)
        assert controls.on_key(replace(state, seg_alpha=1.0), "K").seg_alpha == 0.2
        none = controls.on_key(controls.initial_state(img), "k")
        assert none.segmentation is None and "--seg" in none.message
        assert not any(line.startswith("seg") for line in annotation_lines(controls.initial_state(img)))
        assert ("k / K", "segmentation (--seg) on / off; its opacity") in HELP

    def test_snapshot_name_says_seg(self, tmp_path):
        img, _seg, state = _viewer_setup(tmp_path, True)
        name = snapshot_name("ct", replace(state, seg_alpha=0.6), tmp_path).name
        assert name.endswith("_seg0.6_outline.png")
        assert "seg" not in snapshot_name("ct", replace(state, segmentation=False), tmp_path).name
        assert "seg" not in snapshot_name("ct", controls.initial_state(img), tmp_path).name

    def test_key_shift_k_decodes_upper(self):
        keys = KeyDecoder()
        assert keys(0xFFE1, 0.0) is None and keys(ord("k"), 0.1) == "K"


# --------------------------------------------------------------------------- command line


def _one_error_line(r, *words: str) -> None:
    line = assert_one_error_line(r)
    for w in words:
        assert w in line, line


@pytest.mark.parametrize(
    "keyword, words",
    [
        ("SharedFunctionalGroupsSequence", "Shared Functional Groups Sequence (5200,9229) is missing"),
        ("SegmentSequence", "Segment Sequence (0062,0002) is missing"),
    ],
)
def test_a_seg_without_a_required_element_names_it(tmp_path, keyword, words):
    """What highdicom raises for a missing element is said in DICOM's words, not Python's."""
    path, seg_path = _slice_with_seg(tmp_path, slice(1, 3), slice(1, 3))
    ds = pydicom.dcmread(seg_path)
    delattr(ds, keyword)
    ds.save_as(seg_path)
    r = run_cli(path, "--export", tmp_path / "o.png", "--seg", seg_path)
    _one_error_line(r, seg_path, words)
    assert "attribute" not in r.stderr and not (tmp_path / "o.png").exists()


class TestCli:
    def test_export_seg_alpha_outline(self, tmp_path):
        path, seg_path = _slice_with_seg(tmp_path, slice(4, 8), slice(5, 10))
        out = tmp_path / "a.png"
        r = run_cli(path, "--export", out, "--seg", seg_path, "--seg-alpha", "0.5")
        assert r.returncode == 0, r.stderr
        got = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        assert got.shape == (ROWS, COLS, 3)
        assert got[5, 6].tolist() == _expected_bgr(COLORS[0], 0.5)
        assert got[0, 0].tolist() == [GREY] * 3
        r = run_cli(path, "--export", tmp_path / "o.png", "--seg", seg_path, "--seg-outline", "--seg-alpha", "1")
        assert r.returncode == 0, r.stderr
        edge = np.all(cv2.imread(str(tmp_path / "o.png")) == np.array(COLORS[0][::-1]), axis=2)
        want = np.zeros((ROWS, COLS), bool)
        want[4:8, 5:10] = True
        want[5:7, 6:9] = False
        assert np.array_equal(edge, want)

    def test_without_seg_the_export_is_unchanged(self, tmp_path):
        path = write_ds(_slices(1)[0], tmp_path / "ct.dcm")
        r = run_cli(path, "--export", tmp_path / "a.png")
        assert r.returncode == 0, r.stderr
        got = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
        assert got.ndim == 2 and np.array_equal(got, dcmlib.load(path).render())

    @pytest.mark.parametrize("case", ["damaged", "size", "alpha", "other"])
    def test_bad_input_is_one_line_and_no_file(self, tmp_path, case):
        src = _slices(1)[0]
        path = write_ds(src, tmp_path / "ct.dcm")
        mask = np.zeros((1, ROWS, COLS, 1), bool)
        mask[0, 1, 1, 0] = True
        args: list = ["--seg"]
        if case == "damaged":
            data = Path(write_ds(_seg([src], mask), tmp_path / "seg.dcm")).read_bytes()
            (tmp_path / "seg.dcm").write_bytes(data[: len(data) // 2])
            args += [tmp_path / "seg.dcm"]
            words = ["seg.dcm"]
        elif case == "size":
            np.save(tmp_path / "m.npy", np.zeros((3, 3), np.uint8))
            args += [tmp_path / "m.npy"]
            words = ["m.npy", "3 x 3", "20 x 16"]
        elif case == "alpha":
            np.save(tmp_path / "m.npy", np.zeros((ROWS, COLS), np.uint8))
            args += [tmp_path / "m.npy", "--seg-alpha", "2"]
            words = ["--seg-alpha", "2"]
        else:
            args += [write_ds(_seg([_slices(1)[0]], mask), tmp_path / "seg.dcm")]
            words = ["seg.dcm", "ct.dcm"]
        out = tmp_path / "out.png"
        r = run_cli(path, "--export", out, *args)
        _one_error_line(r, *words)
        assert not out.exists() and not list(tmp_path.glob("out*"))

    def test_info_lists_segmentations_without_patient(self, tmp_path):
        folder, slices = _series(tmp_path / "series")
        mask = np.zeros((3, ROWS, COLS, 2), bool)
        mask[1, 1, 1, 0] = True
        mask[2, 1, 1, 1] = True
        write_ds(_seg(slices, mask), folder / "seg.dcm")
        r = run_cli(folder, "--info")
        assert r.returncode == 0, r.stderr
        line = next(x for x in r.stdout.splitlines() if x.startswith("segmentation "))
        assert "seg.dcm" in line and "binary" in line and "1 organ 1" in line and "2 organ 2" in line
        assert "2 frames" in line
        assert "Doe" not in r.stdout and "PID-12345" not in r.stdout

    def test_convert_seg_writes_blended_images(self, tmp_path):
        folder, slices = _series(tmp_path / "series")
        mask = np.zeros((3, ROWS, COLS, 1), bool)
        mask[1, 4:8, 5:10, 0] = True
        seg_path = write_ds(_seg(slices, mask), tmp_path / "seg.dcm")
        out = tmp_path / "out"
        r = run_cli(
            "convert", folder, "--out", out, "--seg", seg_path, "--seg-alpha", "0.5", "--workers", "1", "--no-progress"
        )
        assert r.returncode == 0, r.stderr
        pngs = sorted(out.glob("*.png"))
        assert [p.name for p in pngs] == ["0.png", "1.png", "2.png"]
        one = cv2.imread(str(out / "1.png"), cv2.IMREAD_UNCHANGED)
        assert one[5, 6].tolist() == _expected_bgr(COLORS[0], 0.5)
        assert cv2.imread(str(out / "0.png"), cv2.IMREAD_UNCHANGED).shape == (ROWS, COLS, 3)
        r2 = run_cli(folder / "1.dcm", "--export", tmp_path / "e.png", "--seg", seg_path, "--seg-alpha", "0.5")
        assert r2.returncode == 0, r2.stderr
        assert (tmp_path / "e.png").read_bytes() == (out / "1.png").read_bytes()

    def test_convert_seg_bad_alpha_is_refused(self, tmp_path):
        folder, _ = _series(tmp_path / "series", 1)
        np.save(tmp_path / "m.npy", np.zeros((ROWS, COLS), np.uint8))
        r = run_cli(
            "convert",
            folder,
            "--out",
            tmp_path / "out",
            "--seg",
            tmp_path / "m.npy",
            "--seg-alpha",
            "2",
            "--workers",
            "1",
            "--no-progress",
        )
        _one_error_line(r, "--seg-alpha")
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.png"))


def test_a_folder_with_a_larger_seg_opens_the_slices(tmp_path):
    folder, slices = _series(tmp_path / "series", 2)
    mask = np.ones((2, ROWS, COLS, 3), bool)  # 6 SEG frames, 2 slices
    write_ds(_seg(slices, mask), folder / "seg.dcm")
    img = dcmlib.load(folder, on_warning=lambda _m: None)
    assert len(img) == 2 and img.modality == "CT"
    seg = load_segmentation(folder / "seg.dcm", img)
    assert [s.number for s in seg.segments] == [1, 2, 3] and seg.frames == [0, 1]


def test_highgui_k_toggles_and_s_equals_export(tmp_path, request):
    """The HighGUI shell with --seg: k hides and shows it, the snapshot equals --export --seg."""
    request.getfixturevalue("display")
    import dcmview

    img, seg, state = _viewer_setup(tmp_path, True)
    dcmview.ensure_qt_fonts()
    v = dcmview.Viewer(img, replace(state, seg_alpha=0.8), snapshot_dir=tmp_path, screen=(1280, 1024), segmentation=seg)
    try:
        red = np.array(COLORS[0][::-1], np.uint8)
        shown = v.shown.copy()
        v.on_key(ord("k"))
        assert v.state.segmentation is False and "seg off" in v.view.annotation_lines()
        assert not np.array_equal(v.shown, shown)
        v.on_key(ord("k"))
        snap = v.snapshot()
        r = run_cli(
            tmp_path / "ct.dcm",
            "--export",
            tmp_path / "e.png",
            "--seg",
            tmp_path / "m.npy",
            "--seg-alpha",
            "0.8",
            "--seg-outline",
        )
        assert r.returncode == 0, r.stderr
        assert snap.read_bytes() == (tmp_path / "e.png").read_bytes()
        assert not np.all(cv2.imread(str(snap)) == red, axis=2).any()  # 0.8, not 1: mixed with the grey
    finally:
        cv2.destroyWindow(v.title)
        cv2.waitKey(1)


@pytest.mark.parametrize("seed", [3, 11])
def test_damaged_seg_files_are_clean_errors(tmp_path, seed):
    """Seeded mutations of a SEG (byte flips, truncation, lengths set to 0 or FFFFFFFF): each one loads and
    draws, or is one DcmviewError; never another exception."""
    import random
    import warnings

    folder, slices = _series(tmp_path / "s", 3)
    mask = np.zeros((3, ROWS, COLS, 2), bool)
    mask[1, 2:6, 3:9, 0] = True
    mask[2, 1:3, 1:3, 1] = True
    data = Path(write_ds(_seg(slices, mask), tmp_path / "seg.dcm")).read_bytes()
    img = dcmlib.load(folder)
    rng = random.Random(seed)
    outcomes = {"ok": 0, "clean": 0}
    for case in range(40):
        b = bytearray(data)
        kind = case % 3
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(132, len(b))] = rng.randrange(256)
        elif kind == 1:
            b = b[: rng.randrange(132, len(b))]
        else:
            i = rng.randrange(132, len(b) - 4)
            b[i : i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x00\x00\x01\x00"])
        p = tmp_path / f"m{case}.dcm"
        p.write_bytes(bytes(b))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's lenient-read warnings (the CLI filters them)
            try:
                s = load_segmentation(p, img)
                for f in range(3):
                    s.apply(img.render(frame=f), f, 0.4, case % 2 == 0)
                outcomes["ok"] += 1
            except dcmlib.DcmviewError as exc:
                assert str(exc).startswith(str(p)) and "\n" not in str(exc)
                outcomes["clean"] += 1
    assert outcomes["clean"] > 0


def test_convert_with_the_seg_inside_the_folder_and_a_wrong_size_mask(tmp_path):
    import csv

    folder, slices = _series(tmp_path / "series", 2)
    mask = np.zeros((2, ROWS, COLS, 1), bool)
    mask[0, 1:3, 1:3, 0] = True
    seg_path = write_ds(_seg(slices, mask), folder / "seg.dcm")
    out = tmp_path / "out"
    r = run_cli("convert", folder, "--out", out, "--seg", seg_path, "--workers", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png"]  # the SEG itself is skipped
    assert cv2.imread(str(out / "0.png"))[1, 1].tolist() == _expected_bgr(COLORS[0], 0.4)
    np.save(tmp_path / "m.npy", np.zeros((3, 3), np.uint8))
    out2 = tmp_path / "out2"
    r = run_cli(
        "convert", folder / "0.dcm", "--out", out2, "--seg", tmp_path / "m.npy", "--workers", "1", "--no-progress"
    )
    assert r.returncode == 1
    rows = list(csv.DictReader(open(out2 / "manifest.csv", newline="")))
    assert rows[0]["status"] == "failed" and "m.npy" in rows[0]["error"] and "3 x 3" in rows[0]["error"]
    assert not list(out2.glob("*.png"))


def test_drawn_through_a_presentation_state(tmp_path):
    """A segmentation is in the image's pixels: through a state it turns with the image (PS3.3 C.10.6),
    in --export --pstate --seg, in convert, in the viewer's canvas and in its snapshot alike."""
    from test_pstate import make_pstate

    img_ds = _slices(1)[0]
    path = write_ds(img_ds, tmp_path / "ct.dcm")
    state_path = write_ds(make_pstate(img_ds, ImageRotation=90), tmp_path / "ps.dcm")
    m = np.zeros((ROWS, COLS), np.uint8)
    m[4:10, 5:13] = 1  # rows 4-9, columns 5-12 of the 20 x 16 image
    np.save(tmp_path / "m.npy", m)
    red = np.array(COLORS[0][::-1], np.uint8)
    r = run_cli(
        path, "--export", tmp_path / "o.png", "--seg", tmp_path / "m.npy", "--seg-alpha", "1", "--pstate", state_path
    )
    assert r.returncode == 0, r.stderr
    out = cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED)
    # a quarter turn clockwise: image pixel (row r, column c) shows at (row c, column ROWS - 1 - r)
    expected = np.zeros((COLS, ROWS), bool)
    expected[5:13, ROWS - 10 : ROWS - 4] = True
    assert out.shape == (COLS, ROWS, 3) and np.array_equal(np.all(out == red, axis=2), expected)

    conv = run_cli(
        "convert",
        path,
        "--out",
        tmp_path / "conv",
        "--seg",
        tmp_path / "m.npy",
        "--seg-alpha",
        "1",
        "--pstate",
        state_path,
        "--workers",
        "1",
        "--no-progress",
    )
    assert conv.returncode == 0, conv.stderr
    assert np.array_equal(cv2.imread(str(tmp_path / "conv" / "ct.png"), cv2.IMREAD_UNCHANGED), out)

    img = dcmlib.load(path)
    seg = load_segmentation(tmp_path / "m.npy", img)
    state = replace(controls.initial_state(img), segmentation=True, seg_alpha=1.0, pstate=True)
    view = View(img, state, screen=(1280, 1024), segmentation=seg, pstates=[dcmlib.load_pstate(state_path)])
    assert view.image is not view.base and np.array_equal(view.full_resolution(), out)
    canvas = view.render_view()
    vp = view.state.viewport
    shown = np.all(canvas == red, axis=2)
    ys, xs = np.nonzero(shown)
    (x0, y0), (x1, y1) = vp.pixel_at(int(xs.min()), int(ys.min())), vp.pixel_at(int(xs.max()), int(ys.max()))
    assert (y0, y1, x0, x1) == (5, 12, ROWS - 10, ROWS - 5)  # the same pixels of the state's picture

"""Series folders: scanning, grouping, ordering, choosing (dcmlib.read.series).

Every expected order below comes from the geometry the test writes (positions
chosen by hand along a normal computed by hand), never from running the code.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    EnhancedCTImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

import dcmlib
from dcmlib.bench import series as bench
from dcmlib.errors import InvalidArgumentError, NotDicomError
from dcmlib.images.image import DicomImage
from dcmlib.read.cache import ReadAhead
from dcmlib.read.io import HEAD_BYTES, read_header
from dcmlib.read.series import (
    Series,
    describe_series,
    scan_folder,
    select_series,
    slice_normal,
)
from helpers import make_ds, write_ds, write_series

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
_UNSET = object()


#: write_ct's header: a small CT Image Storage file (PS3.3 A.3), 12 bits stored, HU = stored - 1024.
CT_TAGS = {
    "SOPClassUID": CTImageStorage,
    "PatientID": "SECRET123",
    "PatientBirthDate": "19700101",
    "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1",
    "PixelSpacing": [0.5, 0.5],
    "BitsStored": 12,
    "HighBit": 11,
    "RescaleSlope": 1,
    "RescaleIntercept": -1024,
    "WindowCenter": 40,
    "WindowWidth": 400,
}


def ct_slices(n: int, rows: int = 16, columns: int = 16) -> list[np.ndarray]:
    """``n`` slices as write_ct writes them: every pixel 1000."""
    return [np.full((rows, columns), 1000, dtype=np.int16)] * n


def write_ct(
    path: Path,
    *,
    series_uid: str,
    position: tuple[float, float, float] | None = (0.0, 0.0, 0.0),
    orientation: tuple[float, ...] | None = AXIAL,
    instance: int | None = 1,
    rows: int = 16,
    columns: int = 16,
    description: str = "AXIAL 5mm",
    series_number: int | None = 1,
    frames: int = 1,
    pixels: bool = True,
    transfer_syntax: str = ExplicitVRLittleEndian,
    extra: dict | None = None,
) -> Path:
    """Write a small valid CT Image Storage file (PS3.3 A.3): 16-bit signed, 12 bits stored, every pixel 1000.

    ``None`` leaves an attribute out; ``pixels=False`` writes no Pixel Data; ``extra`` sets more attributes.
    """
    tags = {
        **CT_TAGS,
        "SeriesInstanceUID": series_uid,
        "SeriesDescription": description,
        "SeriesNumber": series_number,
        "InstanceNumber": instance,
        "ImagePositionPatient": None if position is None else [f"{v:.6f}" for v in position],
        "ImageOrientationPatient": None if orientation is None else [f"{v:.7f}" for v in orientation],
        **({} if pixels else {"PixelData": None}),
        **(extra or {}),
    }
    shape = (frames, rows, columns) if frames > 1 else (rows, columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_ds(make_ds(np.full(shape, 1000, dtype=np.int16), transfer_syntax=transfer_syntax, **tags), path)
    return path


def names(series: Series) -> list[str]:
    return [os.path.basename(os.fspath(f.source)) for f in series.frames]


def positions(series: Series) -> list[float | None]:
    return [f.position for f in series.frames]


class Collect(list):
    def __call__(self, message: str) -> None:
        self.append(message)


# --------------------------------------------------------------------------- geometry


class TestSliceNormal:
    def test_axial_normal_is_z(self):
        assert slice_normal(AXIAL) == pytest.approx([0, 0, 1])

    def test_coronal_and_sagittal(self):
        # Coronal: rows along +x, columns along -z -> normal = x cross -z = +y.
        assert slice_normal((1, 0, 0, 0, 0, -1)) == pytest.approx([0, 1, 0])
        # Sagittal: rows along +y, columns along -z -> normal = y cross -z = -x.
        assert slice_normal((0, 1, 0, 0, 0, -1)) == pytest.approx([-1, 0, 0])

    @pytest.mark.parametrize("bad", [None, (), (1, 0, 0), (1, 0, 0, 1, 0, 0), ("a",) * 6])
    def test_missing_or_degenerate(self, bad):
        assert slice_normal(bad) is None


class TestOrdering:
    def test_geometry_wins_over_names_and_instance_numbers(self, tmp_path):
        uid = generate_uid()
        z = [10.0, -5.0, 0.0, 7.5, 2.5]
        # File names and instance numbers both run in the order written, which is not
        # the anatomical order; instance numbers even run backwards.
        for i, zi in enumerate(z):
            write_ct(tmp_path / f"IM{i}.dcm", series_uid=uid, position=(-4.0, -4.0, zi), instance=10 - i)
        (series,) = scan_folder(tmp_path)
        # Ascending along the normal (0, 0, 1): z = -5, 0, 2.5, 7.5, 10.
        assert positions(series) == [-5.0, 0.0, 2.5, 7.5, 10.0]
        assert names(series) == ["IM1.dcm", "IM2.dcm", "IM4.dcm", "IM3.dcm", "IM0.dcm"]
        assert series.notes == ()

    def test_oblique_series(self, tmp_path):
        uid = generate_uid()
        a = math.radians(30)
        row = (math.cos(a), math.sin(a), 0.0)
        col = (0.0, 0.0, 1.0)
        # normal = row x col = (sin a, -cos a, 0), worked by hand.
        normal = np.array([math.sin(a), -math.cos(a), 0.0])
        origin = np.array([12.0, -30.0, 5.0])
        offsets = [6.0, -3.0, 0.0, 3.0, -6.0]  # mm along the normal, written in this order
        shifts = [-9.0, 4.0, 7.0, -2.0, 1.0]  # in-plane shifts along the row direction
        for i, (d, s) in enumerate(zip(offsets, shifts)):
            p = origin + d * normal + s * np.array(row)
            write_ct(tmp_path / f"s{i}.dcm", series_uid=uid, position=tuple(p), orientation=row + col, instance=i + 1)
        (series,) = scan_folder(tmp_path)
        assert names(series) == ["s4.dcm", "s1.dcm", "s2.dcm", "s3.dcm", "s0.dcm"]
        base = float(origin @ normal)  # 12 sin30 + 30 cos30
        assert base == pytest.approx(6.0 + 15.0 * math.sqrt(3))
        assert positions(series) == pytest.approx([base - 6, base - 3, base, base + 3, base + 6], abs=1e-4)

    def test_sagittal_orders_along_minus_x(self, tmp_path):
        uid = generate_uid()
        # normal of (0,1,0 / 0,0,-1) is (-1, 0, 0): larger x comes first.
        for i, x in enumerate([-20.0, 30.0, 5.0]):
            write_ct(tmp_path / f"{i}.dcm", series_uid=uid, position=(x, 0, 0), orientation=(0, 1, 0, 0, 0, -1))
        (series,) = scan_folder(tmp_path)
        assert names(series) == ["1.dcm", "2.dcm", "0.dcm"]
        assert positions(series) == [-30.0, -5.0, 20.0]

    def test_duplicate_position_warned_once(self, tmp_path):
        uid = generate_uid()
        for name, z, inst in [("a", 10.0, 4), ("b", 5.0, 3), ("c", 5.0, 2), ("d", 0.0, 1), ("e", 10.0, 5)]:
            write_ct(tmp_path / f"{name}.dcm", series_uid=uid, position=(0, 0, z), instance=inst)
        warnings = Collect()
        series = select_series(scan_folder(tmp_path, on_warning=warnings), on_warning=warnings)
        # Equal positions keep Instance Number order: c(2) before b(3), a(4) before e(5).
        assert names(series) == ["d.dcm", "c.dcm", "b.dcm", "a.dcm", "e.dcm"]
        assert len(warnings) == 1
        assert "repeat a slice position" in warnings[0] and "5.00 mm" in warnings[0]

    def test_no_position_falls_back_to_instance_number(self, tmp_path):
        uid = generate_uid()
        for name, inst in [("x1", 3), ("x2", 1), ("x3", 2)]:
            write_ct(tmp_path / f"{name}.dcm", series_uid=uid, position=None, instance=inst)
        warnings = Collect()
        series = select_series(scan_folder(tmp_path), on_warning=warnings)
        assert names(series) == ["x2.dcm", "x3.dcm", "x1.dcm"]
        assert positions(series) == [None, None, None]
        assert warnings == ["no Image Position (Patient) in 3 of 3 images; ordered by Instance Number"]

    def test_one_missing_position_falls_back_for_the_whole_series(self, tmp_path):
        uid = generate_uid()
        write_ct(tmp_path / "a.dcm", series_uid=uid, position=(0, 0, 9.0), instance=1)
        write_ct(tmp_path / "b.dcm", series_uid=uid, position=None, instance=2)
        write_ct(tmp_path / "c.dcm", series_uid=uid, position=(0, 0, 1.0), instance=3)
        (series,) = scan_folder(tmp_path)
        assert names(series) == ["a.dcm", "b.dcm", "c.dcm"]
        assert positions(series) == [9.0, None, 1.0]  # positions kept where known
        assert "no Image Position (Patient) in 1 of 3 images" in series.notes[0]

    def test_no_orientation_falls_back_to_instance_number(self, tmp_path):
        uid = generate_uid()
        for name, z, inst in [("a", 0.0, 2), ("b", 5.0, 1)]:
            write_ct(tmp_path / f"{name}.dcm", series_uid=uid, position=(0, 0, z), orientation=None, instance=inst)
        (series,) = scan_folder(tmp_path)
        assert names(series) == ["b.dcm", "a.dcm"]
        assert series.notes == ("no Image Orientation (Patient); ordered by Instance Number",)

    def test_no_position_no_instance_falls_back_to_natural_name_order(self, tmp_path):
        uid = generate_uid()
        for name in ["IM10", "IM2", "IM1", "im3"]:
            write_ct(tmp_path / f"{name}.dcm", series_uid=uid, position=None, instance=None)
        (series,) = scan_folder(tmp_path)
        assert names(series) == ["IM1.dcm", "IM2.dcm", "im3.dcm", "IM10.dcm"]
        assert "ordered by file name" in series.notes[0]

    def test_multiframe_files_keep_their_frames_in_order(self, tmp_path):
        uid = generate_uid()
        # Two classic multi-frame files; the file at z=-20 comes first, frames stay 0, 1, 2.
        write_ct(tmp_path / "late.dcm", series_uid=uid, position=(0, 0, 40.0), frames=3, instance=1)
        write_ct(tmp_path / "early.dcm", series_uid=uid, position=(0, 0, -20.0), frames=3, instance=2)
        (series,) = scan_folder(tmp_path)
        assert len(series) == 6 and series.files == 2
        assert names(series) == ["early.dcm"] * 3 + ["late.dcm"] * 3
        assert [f.index for f in series.frames] == [0, 1, 2, 0, 1, 2]
        assert positions(series) == [-20.0, None, None, 40.0, None, None]

    def test_enhanced_multiframe_per_frame_positions(self, tmp_path):
        uid = generate_uid()
        shared = Dataset()
        orient = Dataset()
        orient.ImageOrientationPatient = list(AXIAL)
        shared.PlaneOrientationSequence = Sequence([orient])
        per_frame = []
        for z in (30.0, 20.0, 10.0):  # stored head to feet: the frame order is kept as stored
            item, pos = Dataset(), Dataset()
            pos.ImagePositionPatient = [0.0, 0.0, z]
            item.PlanePositionSequence = Sequence([pos])
            per_frame.append(item)
        write_ct(
            tmp_path / "enh.dcm",
            series_uid=uid,
            position=None,
            orientation=None,
            frames=3,
            extra={
                "SOPClassUID": EnhancedCTImageStorage,
                "SharedFunctionalGroupsSequence": Sequence([shared]),
                "PerFrameFunctionalGroupsSequence": Sequence(per_frame),
            },
        )
        (series,) = scan_folder(tmp_path)
        assert [f.index for f in series.frames] == [0, 1, 2]
        assert positions(series) == [30.0, 20.0, 10.0]

    def test_stray_orientation_does_not_rule(self, tmp_path):
        uid = generate_uid()
        for i, z in enumerate([4.0, 0.0, 8.0]):
            write_ct(tmp_path / f"ax{i}.dcm", series_uid=uid, position=(0, 0, z), instance=i + 1)
        # A coronal image (normal +y) at y = -100: projected on the axial normal it sits at z = 2.
        write_ct(tmp_path / "cor.dcm", series_uid=uid, position=(0, -100, 2.0), orientation=(1, 0, 0, 0, 0, -1))
        (series,) = scan_folder(tmp_path)
        assert names(series) == ["ax1.dcm", "cor.dcm", "ax0.dcm", "ax2.dcm"]
        assert series.notes == ("1 image with a different orientation; ordered along the normal of the others",)

    def test_other_size_left_out(self, tmp_path):
        uid = generate_uid()
        for i in range(3):
            write_ct(tmp_path / f"{i}.dcm", series_uid=uid, position=(0, 0, float(i)), instance=i + 1)
        write_ct(tmp_path / "scout.dcm", series_uid=uid, position=(0, 0, 0.5), rows=8, columns=12, instance=9)
        (series,) = scan_folder(tmp_path)
        assert names(series) == ["0.dcm", "1.dcm", "2.dcm"]
        assert series.notes == ("left out 1 image of a different size than 16x16",)


# --------------------------------------------------------------------------- folders


def mixed_folder(root: Path) -> tuple[str, str]:
    """Two series (3 and 5 slices), two junk files and a DICOM file without pixel data."""
    small, big = "1.2.826.0.1.3680043.8.498.100", "1.2.826.0.1.3680043.8.498.200"
    write_series(
        root / "a",
        ct_slices(3),
        [float(i) for i in range(3)],
        SeriesInstanceUID=small,
        SeriesNumber=1,
        SeriesDescription="SCOUT",
        InstanceNumber=1,
        **CT_TAGS,
    )
    write_series(
        root / "b" / "deeper",
        ct_slices(5),
        [float(-i) for i in range(5)],
        SeriesInstanceUID=big,
        SeriesNumber=2,
        SeriesDescription="AXIAL 5mm",
        InstanceNumber=1,
        **CT_TAGS,
    )
    (root / "notes.txt").write_text("not an image\n")
    (root / "a" / "empty.dcm").write_bytes(b"")
    write_ct(root / "b" / "report.dcm", series_uid=generate_uid(), pixels=False)
    return small, big


class TestFolders:
    def test_mixed_folder_picks_the_bigger_series_and_summarises_skips(self, tmp_path):
        small, big = mixed_folder(tmp_path)
        warnings = Collect()
        series_list = scan_folder(tmp_path, on_warning=warnings)
        assert [s.uid for s in series_list] == [small, big]  # by Series Number
        assert warnings == ["skipped 3 of 11 files: 2 not DICOM, 1 no pixel data"]
        picked = select_series(series_list, on_warning=warnings)
        assert picked.uid == big and len(picked) == 5
        assert warnings[1] == ('2 series in folder; showing #2 CT "AXIAL 5mm" (5 images); use --series to pick another')
        assert positions(picked) == [-4.0, -3.0, -2.0, -1.0, 0.0]

    def test_frames_carry_header_only_datasets(self, tmp_path):
        mixed_folder(tmp_path)
        series = select_series(scan_folder(tmp_path))
        for f in series.frames:
            assert os.path.isfile(f.source) and "PixelData" not in f.header
            assert f.header.Rows == 16 and float(f.header.RescaleIntercept) == -1024.0
            assert_deferred(f.pixels, 16 * 16 * 2)

    @pytest.mark.parametrize("choice, expected", [(1, 0), ("1", 0), (" 2 ", 1), (2, 1), ("#2", 1)])
    def test_select_by_index(self, tmp_path, choice, expected):
        mixed_folder(tmp_path)
        series_list = scan_folder(tmp_path)
        warnings = Collect()
        assert select_series(series_list, choice, on_warning=warnings) is series_list[expected]
        assert warnings == []  # an explicit choice needs no "showing #..." line

    def test_select_by_uid(self, tmp_path):
        small, _ = mixed_folder(tmp_path)
        assert select_series(scan_folder(tmp_path), small).uid == small

    @pytest.mark.parametrize("choice", [0, "0", 3, "7", "1.2.3.4", "AXIAL 5mm", -1])
    def test_unknown_choice_lists_the_valid_ones(self, tmp_path, choice):
        small, big = mixed_folder(tmp_path)
        with pytest.raises(InvalidArgumentError) as err:
            select_series(scan_folder(tmp_path), choice)
        message = str(err.value)
        assert "1-2" in message and small in message and big in message
        assert isinstance(err.value, ValueError)
        assert err.value.path == os.fspath(tmp_path)  # the CLI names the folder

    def test_describe_has_no_patient_identifiers(self, tmp_path):
        small, big = mixed_folder(tmp_path)
        text = describe_series(scan_folder(tmp_path))
        lines = text.splitlines()
        assert len(lines) == 2
        assert lines[0].startswith("#1") and '"SCOUT"' in lines[0] and "3 images" in lines[0] and small in lines[0]
        assert lines[1].startswith("#2") and "CT" in lines[1] and "5 images" in lines[1] and big in lines[1]
        for secret in ("Doe", "Jane", "SECRET123", "19700101"):
            assert secret not in text

    def test_empty_folder(self, tmp_path):
        with pytest.raises(NotDicomError, match="no DICOM images found") as err:
            scan_folder(tmp_path)
        assert err.value.path == os.fspath(tmp_path)

    def test_folder_without_images(self, tmp_path):
        (tmp_path / "readme.txt").write_text("hello")
        write_ct(tmp_path / "sr.dcm", series_uid=generate_uid(), pixels=False)
        with pytest.raises(NotDicomError) as err:
            scan_folder(tmp_path, on_warning=pytest.fail)
        assert str(err.value) == (
            f"{tmp_path}: no DICOM images found (skipped 2 of 2 files: 1 not DICOM, 1 no pixel data)"
        )

    def test_missing_folder(self, tmp_path):
        with pytest.raises(NotDicomError, match="no such folder"):
            scan_folder(tmp_path / "nope")

    def test_single_series_says_nothing(self, tmp_path):
        uid = generate_uid()
        for i in range(3):
            write_ct(tmp_path / f"{i}.dcm", series_uid=uid, position=(0, 0, float(i)))
        warnings = Collect()
        select_series(scan_folder(tmp_path, on_warning=warnings), on_warning=warnings)
        assert warnings == []


def assert_deferred(pixels, length: int, keyword: str = "PixelData") -> None:
    """The header names its pixel data element and its length but has not read the bytes."""
    assert pixels.keyword == keyword and pixels.value is None and pixels.length == length


class TestReadHeader:
    def test_plain(self, tmp_path):
        p = write_ct(tmp_path / "a.dcm", series_uid="1.2.3")
        ds, pixels = read_header(p)
        assert ds.SeriesInstanceUID == "1.2.3" and "PixelData" not in ds
        assert_deferred(pixels, 16 * 16 * 2)

    @pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian])
    def test_other_uncompressed_syntaxes(self, tmp_path, syntax):
        p = write_ct(tmp_path / "a.dcm", series_uid="1.2.3", frames=2, transfer_syntax=syntax)
        ds, pixels = read_header(p)
        assert ds.Rows == 16
        assert_deferred(pixels, 2 * 16 * 16 * 2)

    def test_encapsulated(self, tmp_path):
        p = write_ct(tmp_path / "a.dcm", series_uid="1.2.3")
        ds = pydicom.dcmread(p)
        ds.compress(RLELossless)
        ds.save_as(p, enforce_file_format=True)
        header, pixels = read_header(p)
        assert header is not None
        assert_deferred(pixels, 0xFFFFFFFF)  # undefined length: PS3.5 A.4

    def test_icon_pixel_data_is_not_the_image(self, tmp_path):
        # An undefined-length Icon Image Sequence (0088,0200) nests its own Pixel Data.
        p = write_ct(tmp_path / "icon.dcm", series_uid="1.2.3")
        ds = pydicom.dcmread(p)
        icon = Dataset()
        icon.Rows = icon.Columns = 4
        icon.BitsAllocated = icon.BitsStored = 8
        icon.HighBit, icon.PixelRepresentation, icon.SamplesPerPixel = 7, 0, 1
        icon.PhotometricInterpretation = "MONOCHROME2"
        icon.PixelData = bytes(16)
        icon.is_undefined_length_sequence_item = True
        ds.IconImageSequence = Sequence([icon])
        ds["IconImageSequence"].is_undefined_length = True
        ds.save_as(p, enforce_file_format=True)
        header, pixels = read_header(p)
        assert header is not None
        assert_deferred(pixels, 16 * 16 * 2)  # the image's own, not the icon's 16 bytes

    def test_header_longer_than_the_fast_read(self, tmp_path):
        # A 3-frame file whose header is padded past HEAD_BYTES with a private OB element.
        p = write_ct(tmp_path / "long.dcm", series_uid="1.2.3", frames=3, extra={"ImageComments": "x" * 100})
        ds = pydicom.dcmread(p)
        block = ds.private_block(0x0009, "DCMVIEW TEST", create=True)
        block.add_new(0x01, "OB", b"\0" * (HEAD_BYTES + 1000))
        ds.save_as(p, enforce_file_format=True)
        header, pixels = read_header(p)
        assert header.NumberOfFrames == 3
        assert_deferred(pixels, 3 * 16 * 16 * 2)

    def test_no_pixel_data_longer_than_the_fast_read(self, tmp_path):
        p = write_ct(
            tmp_path / "big.dcm",
            series_uid="1.2.3",
            pixels=False,
            extra={"ImageComments": "y" * 10000, "StudyDescription": "z" * 60},
        )
        ds = pydicom.dcmread(p)
        ds.add_new(0x00091001, "OB", b"\0" * (HEAD_BYTES + 1000))
        ds.save_as(p, enforce_file_format=True)
        assert read_header(p) == (None, "no pixel data")

    def test_deflated(self, tmp_path):
        p = write_ct(tmp_path / "d.dcm", series_uid="1.2.3", transfer_syntax=DeflatedExplicitVRLittleEndian)
        header, pixels = read_header(p)
        assert header.Rows == 16
        assert len(pixels.value) == pixels.length == 16 * 16 * 2  # no file offsets to defer to: kept
        assert read_header(
            write_ct(
                tmp_path / "e.dcm", series_uid="1.2.3", pixels=False, transfer_syntax=DeflatedExplicitVRLittleEndian
            )
        ) == (None, "no pixel data")

    @pytest.mark.parametrize("content", [b"", b"hello", b"\0" * 200, b"\0" * 128 + b"DICX" + b"\0" * 100])
    def test_not_dicom(self, tmp_path, content):
        p = tmp_path / "x"
        p.write_bytes(content)
        assert read_header(p) == (None, "not DICOM")

    def test_truncated_meta_is_not_an_image(self, tmp_path):
        p = write_ct(tmp_path / "t.dcm", series_uid="1.2.3")
        p.write_bytes(p.read_bytes()[:150])
        header, reason = read_header(p)
        assert header is None and reason in ("unreadable", "not DICOM", "no pixel data")

    def test_unreadable(self, tmp_path):
        assert read_header(tmp_path / "missing.dcm") == (None, "unreadable")


# --------------------------------------------------------------------------- a folder as one stack


def axial_folder(root: Path, slices: int, size: int = 64) -> list[float]:
    """Slices 2.5 mm apart, file names and instance numbers against the anatomy; the z order."""
    zs = [2.5 * ((7 * i) % slices) for i in range(slices)]  # 7 is coprime to the counts used
    write_series(
        root,
        ct_slices(slices, size, size),
        zs,
        names="{k:03d}.dcm",
        each=lambda k: {"InstanceNumber": slices - k},
        SeriesDescription="AXIAL 5mm",
        SeriesNumber=1,
        **CT_TAGS,
    )
    return sorted(zs)


class TestStack:
    def test_load_folder_is_one_ordered_stack_decoded_lazily(self, tmp_path):
        zs = axial_folder(tmp_path, 12)
        img = dcmlib.load(tmp_path)
        assert len(img) == 12 and img.decodes == 0  # headers only so far
        assert [img.position(i) for i in range(12)] == zs
        for i in range(12):
            img.render(40, 400, frame=i)
        assert img.decodes == 12
        for i in reversed(range(12)):
            img.render(40, 400, frame=i)
            img.values(i)
        assert img.decodes == 12  # the default cache holds the whole small series

    def test_cache_bound_while_scrolling(self, tmp_path):
        axial_folder(tmp_path, 20)
        frame_bytes = 64 * 64 * 2
        # Room for 4 decoded slices and a little more (small per-frame bookkeeping).
        img = dcmlib.load(tmp_path, cache_mb=(4.5 * frame_bytes) / (1024 * 1024))
        for i in range(20):
            img.render(40, 400, frame=i)
        assert img.decodes == 20
        for i in (19, 18, 17):  # the most recent slices are still cached
            img.render(40, 400, frame=i)
        assert img.decodes == 20
        img.render(40, 400, frame=0)  # long evicted: decoded again
        assert img.decodes == 21
        for i in range(20):  # a second pass through a cache smaller than the series decodes again
            img.render(40, 400, frame=i)
        assert 21 + 20 - 4 <= img.decodes <= 21 + 20

    def test_scrolling_never_loads_pixel_data_into_the_headers(self, tmp_path):
        axial_folder(tmp_path, 6)
        series = select_series(scan_folder(tmp_path))
        img = DicomImage(series.frames, path=str(tmp_path))
        for i in range(len(img)):
            img.render(frame=i)
            img.values(i)
        for f in series.frames:
            assert "PixelData" not in f.header
            assert_deferred(f.pixels, 64 * 64 * 2)

    def test_series_choice_and_errors_through_load(self, tmp_path):
        small, _big = mixed_folder(tmp_path)
        warnings = Collect()
        img = dcmlib.load(tmp_path, series=small, on_warning=warnings)
        assert len(img) == 3
        assert warnings == ["skipped 3 of 11 files: 2 not DICOM, 1 no pixel data"]
        with pytest.raises(InvalidArgumentError):
            dcmlib.load(tmp_path, series=9)
        (tmp_path / "empty").mkdir()
        with pytest.raises(NotDicomError, match="no DICOM images found"):
            dcmlib.load(tmp_path / "empty")

    def test_read_ahead_decodes_the_next_slices_in_the_background(self, tmp_path):
        axial_folder(tmp_path, 10)
        img = dcmlib.load(tmp_path, read_ahead=False)  # this test drives its own read-ahead
        with ReadAhead(img.stored, len(img), depth=3) as ahead:
            img.render(frame=4)
            ahead.hint(4)
            assert ahead.wait(10)
            assert img.decodes == 4  # 4 shown, 5-7 read ahead
            for i in (5, 6, 7):
                img.render(frame=i)
            assert img.decodes == 4  # nothing decoded while showing them
            img.render(frame=3)
            ahead.hint(3)  # scrolling back: 2, 1, 0 come next
            assert ahead.wait(10)
            before = img.decodes
            for i in (2, 1, 0):
                img.render(frame=i)
            assert img.decodes == before

    def test_builtin_read_ahead_follows_the_scroll_direction(self, tmp_path):
        axial_folder(tmp_path, 30)
        img = dcmlib.load(tmp_path, read_ahead=True)

        def settle(count: int) -> int:
            # Wait (up to 5 s, no timing asserted) for the background decodes to reach count.
            for _ in range(500):
                if img.decodes >= count:
                    break
                time.sleep(0.01)
            time.sleep(0.05)
            return img.decodes

        img.render(frame=20)
        img.render(frame=19)  # scrolling towards the feet: 18, 17, ... come next
        after = settle(10)
        assert 10 <= after <= 30  # 2 shown, the next ones decoded without being shown
        # The slices below 19 are the ones waiting (those above may be too, by a race).
        assert all(img.is_cached(i) for i in range(18, 10, -1))


def test_series_benchmark_runs_small():
    """Smoke test of ``python -m dcmlib.bench series`` on a tiny series (nothing timed is asserted)."""
    lines: list[str] = []
    bench.run(lines.append, slices=4, long=0, size=32, repeat=1)
    text = "\n".join(lines)
    assert "series open" in text and "slices/s" in text and "peak/raw" in text


def test_absurd_frame_count_is_skipped_while_scanning(tmp_path):
    """Number of Frames 2147483647 over 8 KiB of pixel data: skipped at once, not 2^31 frame references."""
    import dcmlib
    from helpers import make_ds, write_ds

    uid = generate_uid()
    for i in range(2):
        write_ds(
            make_ds(np.zeros((8, 8), np.int16), SeriesInstanceUID=uid, InstanceNumber=i + 1), tmp_path / f"ok{i}.dcm"
        )
    write_ds(
        make_ds(np.zeros((8, 8, 8), np.int16), SeriesInstanceUID=uid, NumberOfFrames=2147483647),
        tmp_path / "absurd.dcm",
    )
    notes = []
    img = dcmlib.load(tmp_path, on_warning=notes.append)
    assert len(img) == 2
    assert any("skipped 1 of 3 files: 1 unreadable" in n for n in notes)


def test_the_window_title_names_the_series_shown_of_a_folder_holding_several(tmp_path, viewer_of):
    """The '2 series in folder' notice goes to stderr, which a user launching from a file manager never
    sees: the HighGUI window's title names the series too (no patient identifier: modality, description)."""
    import cv2

    mixed_folder(tmp_path)
    img = dcmlib.load(tmp_path, on_warning=Collect())
    assert img.series_label == '#2 of 2: CT "AXIAL 5mm" (5 images)'
    v = viewer_of(img)
    assert v.title == f'dcmview - {tmp_path.name} - series #2 of 2: CT "AXIAL 5mm" (5 images)'
    assert cv2.getWindowProperty(v.title, cv2.WND_PROP_VISIBLE) >= 1
    assert dcmlib.load(tmp_path, series=1).series_label == '#1 of 2: CT "SCOUT" (3 images)'
    one = dcmlib.load(tmp_path / "a")
    assert one.series_label == "" and viewer_of(one).title == "dcmview - a"

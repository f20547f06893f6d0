"""Regression corpus for the fuzzer's findings: one small damaged file per distinct problem.

Each test also pins the outcome that is right for its file: :func:`assert_refused` (the
library raises this :class:`~dcmlib.DcmviewError` subclass in these words, and the CLI
prints exactly that line) or :func:`assert_renders` (the picture equals one worked out in
the test from the standard's formulas).

Each test builds a file with :func:`helpers.make_ds` (the smallest header that
shows the problem, named after the fuzz case it came from) and runs
``dcmview.py PATH --export OUT.png`` and ``dcmview.py PATH --info`` as a user
would.  The CLI contract (classified exactly as :mod:`dcmlib.fuzz.runner`
classifies the fuzz runs): exit 0 with a valid PNG (8-bit, the header's size;
grey for MONOCHROME1/2) or a summary on stdout, or exit 2 with exactly one
stderr line ``dcmview: error: <file>: <problem>`` in DICOM words, no traceback,
no Python warning, no output file left behind.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import dcmlib
from dcmlib.errors import InvalidValueError, PixelDataError, UnsupportedError
from dcmlib.fuzz import runner
from helpers import assert_one_error_line, make_ds, pydicom_file, run_cli, write_ds, write_series

RGB = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
GRAY = np.arange(16, dtype=np.int16).reshape(4, 4) * 100
FLOAT = np.linspace(-100, 100, 16, dtype=np.float32).reshape(4, 4)
INDICES = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16


def png_check(shape: tuple[int, ...] | None):
    """A check_output for runner.Job: an 8-bit PNG OpenCV reads, of ``shape`` when given."""

    def check(path: str) -> str | None:
        if not os.path.exists(path):
            return "exit 0 but no output file"
        img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if img is None or img.dtype != np.uint8:
            return "exit 0 but the output is not an 8-bit image OpenCV reads"
        if shape is not None and img.shape != shape:
            return f"exit 0 but the output is {img.shape}, the header describes {shape}"
        return None

    return check


def assert_contract(path: str | os.PathLike[str], *, shape: tuple[int, ...] | None = None, timeout: float = 60) -> None:
    """``--export`` and ``--info`` on ``path`` each end ok or in one clean error line.

    ``path`` may be a series folder: the error line may then name it or a file in it.
    A run longer than ``timeout`` seconds is a hang.
    """
    path = os.fspath(path).rstrip(os.sep)
    folder = os.path.dirname(path)
    problems = []
    for mode in ("export", "info"):
        out = os.path.join(folder, "out.png")
        args = [path, "--export", out] if mode == "export" else [path, "--info"]
        try:
            proc = run_cli(*args, timeout=timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"--{mode}: hang: still running after {timeout:g} s")
            continue
        job = runner.Job(
            lambda: 0,
            file=path,
            output=out if mode == "export" else None,
            check_output=png_check(shape),
            workdir=folder,
            keep=(os.path.basename(path),),
            expect_stdout=mode == "info",
            inside=os.path.isdir(path),
        )
        klass, detail = runner.classify_exit(proc.returncode, proc.stdout, proc.stderr, job)
        if os.path.exists(out):
            os.unlink(out)
        if klass == "internal-error":  # show the exception behind the last-resort line
            proc = run_cli(*args, "--debug", timeout=60)
            detail += f" <- {runner.last_exception_line(proc.stderr)}"
        if klass not in ("ok", "clean-error"):
            problems.append(
                f"--{mode}: {klass}: {detail}\n  stderr:\n    " + "\n    ".join(proc.stderr.strip().splitlines()[-8:])
            )
    assert not problems, "\n".join(problems)


def assert_refused(path: str | os.PathLike[str], error: type[dcmlib.DcmviewError], problem: str) -> None:
    """``load(path).render()`` raises exactly ``error`` whose text is ``<path>: <problem>`` (a regular
    expression, matched in full), and ``--export`` prints that text as its one error line."""
    path = os.fspath(path).rstrip(os.sep)
    with pytest.raises(dcmlib.DcmviewError) as info:
        with dcmlib.load(path) as img:
            img.render()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert info.value.path is not None and info.value.path.startswith(path), str(info.value)
    assert re.fullmatch(problem, info.value.problem), info.value.problem
    out = os.path.join(os.path.dirname(path), "pinned.png")
    line = assert_one_error_line(run_cli(path, "--export", out), path, absent=[out])
    assert line == f"dcmview: error: {info.value}"


def assert_renders(path: str | os.PathLike[str], expected: np.ndarray, warning: str | None = None) -> None:
    """``load(path).render()`` equals ``expected`` (BGR for colour) exactly; ``--export`` writes the same
    picture, and its stderr is empty or the one line ``dcmview: warning: <path>: <warning>``."""
    path = os.fspath(path).rstrip(os.sep)
    with dcmlib.load(path) as img:
        np.testing.assert_array_equal(img.render(), expected)
    out = os.path.join(os.path.dirname(path), "pinned.png")
    proc = run_cli(path, "--export", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ("" if warning is None else f"dcmview: warning: {path}: {warning}\n")
    np.testing.assert_array_equal(cv2.imread(out, cv2.IMREAD_UNCHANGED), expected)
    os.unlink(out)


def linear_minmax(x: np.ndarray) -> np.ndarray:
    """Integer values through the min-max LINEAR window (PS3.3 C.11.2.1.2.1, c = (lo + hi + 1) / 2,
    w = hi - lo + 1), to 8 bits by rounding."""
    lo, hi = float(x.min()), float(x.max())
    c, w = (lo + hi + 1) / 2, hi - lo + 1
    y = np.clip((x.astype(np.float64) - (c - 0.5)) / (w - 1) + 0.5, 0, 1)
    return np.floor(y * 255 + 0.5).astype(np.uint8)


def palette(ds: Dataset, entries: int = 256, bits: int = 16) -> Dataset:
    """Add a grey ramp Red/Green/Blue Palette Color LUT (PS3.3 C.7.9) to ``ds``."""
    ds.PhotometricInterpretation = "PALETTE COLOR"
    lut = np.linspace(0, (1 << bits) - 1, entries).round().astype("<u2").tobytes()
    for _color, desc_tag, data_tag in (
        ("Red", 0x00281101, 0x00281201),
        ("Green", 0x00281102, 0x00281202),
        ("Blue", 0x00281103, 0x00281203),
    ):
        ds.add_new(desc_tag, "US", [entries, 0, bits])
        ds.add_new(data_tag, "OW", lut)
    return ds


def palette_image(**tags) -> Dataset:
    return palette(make_ds(INDICES, SOPClassUID="1.2.840.10008.5.1.4.1.1.7", Modality="OT", **tags))


def set_transfer_syntax(path: str, uid: str) -> None:
    """Rewrite (0002,0010) of a file written by pydicom (group length first, at offset 132)."""
    data = Path(path).read_bytes()
    i = data.index(b"\x02\x00\x10\x00UI")
    old = struct.unpack("<H", data[i + 6 : i + 8])[0]
    value = uid.encode("ascii") + (b"\0" if len(uid) % 2 else b"")
    data = data[: i + 6] + struct.pack("<H", len(value)) + value + data[i + 8 + old :]
    group_length = struct.unpack("<I", data[140:144])[0] + len(value) - old
    Path(path).write_bytes(data[:140] + struct.pack("<I", group_length) + data[144:])


# ----------------------------------------------------------------------------- words


def test_multi_valued_transfer_syntax_uid_is_named_in_dicom_words(tmp_path):
    """CT_small.dcm+float64#ts-9: the UID was printed as a Python list "['1.2...', '1.2...']"."""
    path = write_ds(make_ds(GRAY), tmp_path / "ts.dcm")
    set_transfer_syntax(path, "1.2.840.10008.1.2.1\\1.2.840.10008.1.2")
    assert_contract(path)
    assert_refused(
        path,
        PixelDataError,
        re.escape(r"Transfer Syntax UID (0002,0010) '1.2.840.10008.1.2.1\\1.2.840.10008.1.2' is not a transfer syntax"),
    )  # repr()'s \\


def test_multi_valued_photometric_interpretation_is_named_in_dicom_words(tmp_path):
    """SC_rgb_gdcm_KY.dcm#photometric-388: "unsupported photometric interpretation "['MONOCHROME2', 'RGB']"."""
    path = write_ds(make_ds(GRAY, PhotometricInterpretation="MONOCHROME2\\RGB"), tmp_path / "pi.dcm")
    assert_contract(path)
    assert_refused(
        path, UnsupportedError, re.escape(r"unsupported photometric interpretation 'MONOCHROME2\\RGB'")
    )  # repr()'s \\


# ----------------------------------------------------------------------------- palettes


def test_palette_color_with_three_samples_per_pixel(tmp_path):
    """SC_jpeg_no_color_transform.dcm#palette-67: cv2.error 'dims <= 2' (palette applied to RGB samples)."""
    ds = palette(make_ds(RGB, SamplesPerPixel=3))
    path = write_ds(ds, tmp_path / "palette3.dcm")
    assert_contract(path, shape=(4, 4, 3))
    # PS3.3 C.7.6.3.1.1: PALETTE COLOR has one sample per pixel
    assert_refused(path, UnsupportedError, re.escape("PALETTE COLOR needs Samples per Pixel (0028,0002) 1, not 3"))


@pytest.mark.parametrize("color", ["Green", "Blue"])
def test_palette_without_one_colours_data(tmp_path, color):
    """examples_palette.dcm#palette-2402: "'FileDataset' object has no attribute 'GreenPaletteColorLookupTableData'"."""
    ds = palette_image()
    delattr(ds, f"{color}PaletteColorLookupTableData")
    path = write_ds(ds, tmp_path / "nodata.dcm")
    assert_contract(path, shape=(4, 4, 3))
    tag = {"Green": "(0028,1202)", "Blue": "(0028,1203)"}[color]
    assert_refused(
        path, UnsupportedError, re.escape(f"{color} Palette Color Lookup Table Data {tag} is missing or empty")
    )


def test_palette_descriptor_with_zero_bits(tmp_path):
    """examples_palette.dcm+bigendian#palette-3972: "Alias 'uint0' was removed in NumPy 2.0"."""
    ds = palette_image()
    ds.RedPaletteColorLookupTableDescriptor = [256, 0, 0]
    path = write_ds(ds, tmp_path / "bits0.dcm")
    assert_contract(path, shape=(4, 4, 3))
    # C.7.6.3.1.5: the descriptor's third value is 8 or 16
    assert_refused(
        path,
        UnsupportedError,
        re.escape(
            "Red Palette Color Lookup Table Descriptor (0028,1101) must be entries, first value and 8 or 16 bits"
        ),
    )


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "empty: object of type 'NoneType' has no len() (examples_palette.dcm#palette-4739)"),
        (b"\x07", "one byte: buffer size must be a multiple of element size (examples_palette.dcm#palette-4336)"),
    ],
    ids=["empty", "one-byte"],
)
def test_palette_data_of_the_wrong_length(tmp_path, data, why):
    ds = palette_image()
    ds["RedPaletteColorLookupTableData"].value = data
    path = write_ds(ds, tmp_path / "short.dcm")
    assert_contract(path, shape=(4, 4, 3))
    # one byte is written padded to an even length (PS3.5 7.1.1): 2 bytes for 256 16-bit entries
    problem = "is missing or empty" if not data else "holds 2 bytes for 256 entries"
    assert_refused(path, UnsupportedError, re.escape(f"Red Palette Color Lookup Table Data (0028,1201) {problem}"))


@pytest.mark.parametrize(
    "vr, value, why",
    [
        (
            "US",
            [65535] * 256,
            "a bytes-like object is required, not 'list' (examples_palette.dcm+bigendian#palette-858)",
        ),
        ("UR", "http://x", "a bytes-like object is required, not 'str' (examples_palette.dcm+segmented#vr-1052)"),
    ],
    ids=["US", "UR"],
)
def test_palette_data_with_a_wrong_vr(tmp_path, vr, value, why):
    ds = palette_image()
    ds[0x00281203] = DataElement(0x00281203, vr, value)
    path = write_ds(ds, tmp_path / "vr.dcm")
    assert_contract(path, shape=(4, 4, 3))
    # today: refused as "missing or empty" although the element is there (see the xfail below)
    assert_refused(
        path, UnsupportedError, re.escape("Blue Palette Color Lookup Table Data (0028,1203) is missing or empty")
    )


@pytest.mark.xfail(
    strict=True,
    reason="suspected bug: Blue Palette Color LUT Data written with VR US (256 values "
    "65535, the same 512 bytes as OW) is refused as 'missing or empty'; its words are the LUT's entries, "
    "as lut_data() accepts for VOI/Modality LUT Data",
)
def test_palette_data_with_vr_us_is_read_as_its_words(tmp_path):
    ds = palette_image()
    ds[0x00281203] = DataElement(0x00281203, "US", [65535] * 256)
    path = write_ds(ds, tmp_path / "vr.dcm")
    grey = INDICES.astype(np.uint8)  # the grey ramp palette: entry i = i * 257, 8 bits: i
    assert_renders(path, np.dstack([np.full_like(grey, 255), grey, grey]))  # BGR: blue 255 everywhere


def segmented(words: list[int]) -> Dataset:
    """A segmented palette image (PS3.3 C.7.9.2): red is ``words``, green and blue one valid discrete segment."""
    ds = palette_image()
    good = [0, 256, *range(0, 65536, 256)]
    for color, tag, value in (("Red", 0x00281221, words), ("Green", 0x00281222, good), ("Blue", 0x00281223, good)):
        delattr(ds, f"{color}PaletteColorLookupTableData")
        ds.add_new(tag, "OW", np.asarray(value, "<u2").tobytes())
    return ds


def test_segmented_palette_with_a_zero_length_linear_segment(tmp_path):
    """examples_palette.dcm+segmented#bytes-3714: ZeroDivisionError in pydicom's _expand_segmented_lut."""
    path = write_ds(segmented([0, 1, 0, 1, 0, 65535, 1, 255, 65535]), tmp_path / "seg0.dcm")
    assert_contract(path, shape=(4, 4, 3))
    # C.7.9.2: discrete [0]; a linear segment of length 0 adds no entry; a linear one of 255 entries from the
    # last entry (0) to 65535: entry i = 65535 i / 255 = 257 i. Green and blue: entry i = 256 i.
    # 16-bit entries to 8 bits: round(v * 255 / 65535) (C.7.6.3.1.6).
    i = INDICES.astype(np.float64)
    red = np.floor(257 * i * 255 / 65535 + 0.5)
    other = np.floor(256 * i * 255 / 65535 + 0.5)
    assert_renders(path, np.dstack([other, other, red]).astype(np.uint8))


@pytest.mark.parametrize("words", [[2, 1, 0, 0], [0, 1, 5, 2, 65535, 0, 0]], ids=["self", "huge-count"])
def test_segmented_palette_with_an_indirect_segment_that_refers_to_itself(tmp_path, words):
    """examples_palette.dcm+bigendian#palette-4162: RecursionError (pydicom follows the indirection forever)."""
    path = write_ds(segmented(words), tmp_path / "segloop.dcm")
    assert_contract(path, shape=(4, 4, 3))
    assert_refused(
        path,
        UnsupportedError,
        re.escape(
            "Segmented Red Palette Color Lookup Table Data (0028,1221) is damaged "
            "(an indirect segment is nested or first)"
        ),
    )


# ----------------------------------------------------------------------------- header numbers


def jpeg_rgb() -> Dataset:
    """pydicom's 100 x 100 JPEG baseline YBR_FULL sample (decoded by a plugin that ignores Bits Stored)."""
    return pydicom.dcmread(pydicom_file("SC_rgb_jpeg_dcmtk.dcm"))


@pytest.mark.parametrize("bits_stored", [255, 32767], ids=str)
def test_compressed_colour_image_with_absurd_bits_stored(tmp_path, bits_stored):
    """examples_ybr_color.dcm#geometry-2516: OverflowError 'int too large to convert to float' (float(1 << bits))."""
    ds = jpeg_rgb()
    ds.BitsStored = bits_stored
    path = write_ds(ds, tmp_path / "bits.dcm")
    assert_contract(path, shape=(100, 100, 3))
    assert_refused(
        path, InvalidValueError, re.escape(f"Bits Stored (0028,0101) {bits_stored} is not within 1..8 (Bits Allocated)")
    )


def test_compressed_colour_image_with_bits_stored_as_a_huge_float(tmp_path):
    """SC_rgb_jpeg_gdcm.dcm#vr-ds-3991: OverflowError 'too many digits in integer' (Bits Stored FD 1e308)."""
    ds = jpeg_rgb()
    ds[0x00280101] = DataElement(0x00280101, "FD", 1e308)
    path = write_ds(ds, tmp_path / "bitsfd.dcm")
    assert_contract(path, shape=(100, 100, 3))
    # the value is printed as int(1e308), all 309 digits of it: right, if long
    assert_refused(
        path, InvalidValueError, r"Bits Stored \(0028,0101\) 1\d{308} is not within 1\.\.8 \(Bits Allocated\)"
    )


def test_monochrome_image_with_three_samples_is_refused(tmp_path):
    """SC_rgb_dcmtk_+eb+cy+s2.dcm#combo-30: MONOCHROME2 with Samples per Pixel 3 exported as a 3-channel picture.

    PS3.3 C.7.6.3.1.1: MONOCHROME2 has one sample per pixel; which of three to show is not ours to guess."""
    path = write_ds(make_ds(RGB, SamplesPerPixel=3, PhotometricInterpretation="MONOCHROME2"), tmp_path / "m3.dcm")
    assert_contract(path, shape=(4, 4))
    assert_refused(path, UnsupportedError, re.escape("MONOCHROME2 needs Samples per Pixel (0028,0002) 1, not 3"))


# ----------------------------------------------------------------------------- numbers that overflow float32


@pytest.mark.parametrize(
    "pixels, tags, case",
    [
        (
            FLOAT,
            {"WindowCenter": "1e308", "WindowWidth": "400"},
            "CT_small.dcm+float32#number-97: lut.py 'overflow encountered in cast' (window offset to float32)",
        ),
        (
            GRAY,
            {"RescaleSlope": "3e38"},
            "MR_small_jpeg_ls_lossless.dcm#number-3403: lut.py 'overflow encountered in multiply' (slope x stored)",
        ),
        (
            GRAY,
            {"RescaleIntercept": "1e308"},
            "rtdose_expb_1frame.dcm#number-516: lut.py 'overflow encountered in cast' (intercept to float32)",
        ),
    ],
    ids=["window-1e308", "slope-3e38", "intercept-1e308"],
)
def test_huge_rescale_and_window_values_print_no_numpy_warning(tmp_path, pixels, tags, case):
    path = write_ds(make_ds(pixels, **tags), tmp_path / "huge.dcm")
    assert_contract(path, shape=(4, 4))
    if "WindowCenter" in tags:
        # the stored window is unusable: min-max over the real values, LINEAR_EXACT (C.11.2.1.3.2)
        x = pixels.astype(np.float64)
        want = np.floor((x - x.min()) / (x.max() - x.min()) * 255 + 0.5).astype(np.uint8)
        assert_renders(path, want, "stored window 1 (center 1e308, width 400) is invalid; using a min-max window")
    else:
        # 16 stored bits through the rescale (C.11.1) go beyond any float32 display
        slope, intercept = ("3e+38", "0") if "RescaleSlope" in tags else ("1", "1e+308")
        assert_refused(
            path,
            InvalidValueError,
            re.escape(
                f"Rescale Slope {slope} and Intercept {intercept} (0028,1053 / 0028,1052) "
                "give modality values beyond +-1e+30"
            ),
        )


def test_sigmoid_window_of_a_denormal_width_prints_no_numpy_warning(tmp_path):
    """MR_small.dcm+voi-lut#number-1974: lut.py 'invalid value encountered in add' (SIGMOID, width 5e-324)."""
    ds = make_ds(GRAY, VOILUTFunction="SIGMOID", WindowCenter="40", WindowWidth="5e-324")
    path = write_ds(ds, tmp_path / "sigmoid.dcm")
    assert_contract(path, shape=(4, 4))
    assert_renders(
        path, linear_minmax(GRAY), "stored window 1 (center 40, width 5e-324) is invalid; using a min-max window"
    )


def test_huge_slope_with_a_voi_lut_prints_no_numpy_warning(tmp_path):
    """MR_small.dcm+voi-lut#number-223: lut.py 'invalid value encountered in cast' (values past int64 index a LUT)."""
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 12])
    item.add_new(0x00283006, "OW", np.arange(4096, dtype="<u2").tobytes())
    ds = make_ds(GRAY, VOILUTSequence=Sequence([item]), RescaleSlope="9999999999999999")
    path = write_ds(ds, tmp_path / "hugelut.dcm")
    assert_contract(path, shape=(4, 4))
    # C.11.2.1.1: values below the first mapped one take the first entry, above the last the last one;
    # 0 -> entry 0 -> black, every other value (>= 1e18) -> entry 4095 of 12 bits -> white
    want = np.where(GRAY == 0, 0, 255).astype(np.uint8)
    assert_renders(path, want)


def test_double_float_pixels_beyond_float32_print_no_numpy_warning(tmp_path):
    """CT_small.dcm+float64#splice-723: io.py 'overflow encountered in cast' (float64 frame to float32)."""
    pixels = np.zeros((4, 4), np.float64)
    pixels[0, 0], pixels[0, 1] = 1e300, -1e300
    path = write_ds(make_ds(pixels), tmp_path / "double.dcm")
    assert_contract(path, shape=(4, 4))
    with dcmlib.load(path) as img:  # today: +-1e300 become +-inf in float32 and drop out of the min-max
        np.testing.assert_array_equal(img.render(), np.where(pixels > 0, 255, 0).astype(np.uint8))


@pytest.mark.xfail(
    strict=True,
    reason="suspected bug: Double Float Pixel Data beyond float32 become +-inf and drop "
    "out of the min-max window, so the zeros between -1e300 and 1e300 show black, not mid-grey",
)
def test_double_float_pixels_beyond_float32_keep_their_order_in_the_min_max_window(tmp_path):
    pixels = np.zeros((4, 4), np.float64)
    pixels[0, 0], pixels[0, 1] = 1e300, -1e300
    path = write_ds(make_ds(pixels), tmp_path / "double.dcm")
    # min-max LINEAR_EXACT over -1e300..1e300 (C.11.2.1.3.2): 0 is halfway, round(127.5) = 128
    want = np.full((4, 4), 128, np.uint8)
    want[0, 0], want[0, 1] = 255, 0
    assert_renders(path, want)


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")  # the damage is the point
def test_infinite_rescale_in_functional_groups_prints_no_numpy_warning(tmp_path):
    """CT_small.dcm+float64#functional-631: lut.py 'invalid value encountered in multiply' (slope 1e999 x 0)."""
    ds = make_ds(GRAY)
    pvt = Dataset()
    pvt.add_new(0x00281053, "DS", "1e999")  # Rescale Slope: infinite
    pvt.add_new(0x00281052, "DS", "NaN")  # Rescale Intercept
    shared = Dataset()
    shared.PixelValueTransformationSequence = Sequence([pvt])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    path = write_ds(ds, tmp_path / "nan.dcm")
    assert_contract(path, shape=(4, 4))
    assert_refused(path, InvalidValueError, re.escape("Rescale Slope (0028,1053) is inf"))


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")  # the damage is the point
def test_nan_intercept_with_a_voi_lut_prints_no_numpy_warning(tmp_path):
    """MR_small.dcm+voi-lut#number-2389: lut.py 'invalid value encountered in cast' (NaN values index a VOI LUT)."""
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 12])
    item.add_new(0x00283006, "OW", np.arange(4096, dtype="<u2").tobytes())
    ds = make_ds(GRAY, VOILUTSequence=Sequence([item]))
    ds.add_new(0x00281052, "DS", "NaN")
    ds.add_new(0x00281053, "DS", "1")
    path = write_ds(ds, tmp_path / "nanlut.dcm")
    assert_contract(path, shape=(4, 4))
    assert_refused(path, InvalidValueError, re.escape("Rescale Intercept (0028,1052) is nan"))


def test_tiny_rescale_slope_error_names_the_file(tmp_path):
    """693_J2KI.dcm#number-100: "dcmview: error: Rescale Slope (0028,1053) 4.94066e-324 is too small..." (no file)."""
    path = write_ds(make_ds(GRAY, RescaleSlope="5e-324"), tmp_path / "slope.dcm")
    assert_contract(path, shape=(4, 4))
    assert_refused(
        path, InvalidValueError, re.escape("Rescale Slope (0028,1053) 4.94066e-324 is too small to scale stored values")
    )


# ----------------------------------------------------------------------------- series


@pytest.mark.parametrize("vr", ["UL", "FD"])
def test_series_slice_with_an_element_shorter_than_its_vr(tmp_path, vr):
    """MR_small.dcm+enhanced#vr-185, SC_rgb_jpeg_dcmtk.dcm#vr-1806 (series): pydicom BytesLengthException.

    Bits Allocated (0028,0100) written with VR UL or FD but 2 bytes: a single file reports it
    cleanly, a folder holding the file did not (the series scan reads headers another way).
    """
    folder = tmp_path / "series"
    path = Path(write_series(folder, [GRAY] * 3, [5.0 * k for k in range(3)], names="slice-{k}.dcm")[0])
    data = path.read_bytes()  # (0028,0100) US 2 bytes -> UL 2 bytes
    path.write_bytes(data.replace(b"\x28\x00\x00\x01US\x02\x00", b"\x28\x00\x00\x01" + vr.encode() + b"\x02\x00", 1))
    assert_contract(folder, shape=(4, 4))
    # the damaged slice is the first (z = 0): the series is refused naming it, as the file alone is
    assert_refused(folder, PixelDataError, "unsupported Bits Allocated 0")
    with pytest.raises(PixelDataError) as alone:
        dcmlib.load(path).render()
    assert alone.value.problem == "unsupported Bits Allocated 0" and alone.value.path == os.fspath(path)


@pytest.mark.xfail(
    strict=True,
    reason="suspected wording bug: Bits Allocated (0028,0100) written with VR UL/FD and "
    "2 bytes cannot be read, but the message says 'unsupported Bits Allocated 0', a value the file "
    "does not hold, and names no tag",
)
@pytest.mark.parametrize("vr", ["UL", "FD"])
def test_an_unreadable_bits_allocated_is_named_as_unreadable(tmp_path, vr):
    path = Path(write_ds(make_ds(GRAY), tmp_path / "one.dcm"))
    data = path.read_bytes()
    path.write_bytes(data.replace(b"\x28\x00\x00\x01US\x02\x00", b"\x28\x00\x00\x01" + vr.encode() + b"\x02\x00", 1))
    with pytest.raises(dcmlib.DcmviewError, match=r"Bits Allocated \(0028,0100\)") as info:
        dcmlib.load(path).render()
    assert " 0" not in info.value.problem


def test_series_slice_with_an_unknown_vr(tmp_path):
    """SC_rgb_gdcm_KY.dcm#flip-295 (series): internal error (NotImplementedError: Unknown Value Representation 'Sh').

    An empty Accession Number (0008,0050) with VR bytes 'Sh' (a flipped bit): pydicom converts an
    empty raw element on ``get_item`` and meets an unknown VR in the series scan's header read.
    """
    folder = tmp_path / "series"
    path = Path(
        write_series(folder, [GRAY] * 3, [5.0 * k for k in range(3)], names="slice-{k}.dcm", AccessionNumber="")[0]
    )
    data = path.read_bytes()
    path.write_bytes(data.replace(b"\x08\x00\x50\x00SH\x00\x00", b"\x08\x00\x50\x00Sh\x00\x00", 1))
    assert_contract(folder, shape=(4, 4))
    # an empty element of an unknown VR holds nothing to misread: the series shows, min-max windowed
    assert_renders(folder, linear_minmax(GRAY))
    with dcmlib.load(folder) as img:
        assert len(img) == 3


def test_series_palette_slice_with_a_descriptor_shorter_than_its_vr(tmp_path):
    """examples_palette.dcm+bigendian#vr-291 (series): internal error (BytesLengthException) from the palette.

    Green Palette Color LUT Descriptor (0028,1102) written with VR FD but 6 bytes: the single file
    is refused in DICOM words, the series read the descriptor lazily, at render time.
    """
    folder = tmp_path / "series"
    path = Path(
        write_series(
            folder,
            [INDICES] * 3,
            [5.0 * k for k in range(3)],
            names="slice-{k}.dcm",
            edit=lambda k, ds: palette(ds),
            SOPClassUID="1.2.840.10008.5.1.4.1.1.7",
            Modality="OT",
        )[0]
    )
    data = path.read_bytes()
    path.write_bytes(data.replace(b"\x28\x00\x02\x11US\x06\x00", b"\x28\x00\x02\x11FD\x06\x00", 1))
    assert_contract(folder, shape=(4, 4, 3))
    assert_refused(
        folder,
        UnsupportedError,
        re.escape(
            "Green Palette Color Lookup Table Descriptor (0028,1102) must be entries, first value and 8 or 16 bits"
        ),
    )


# ----------------------------------------------------------------------------- hangs


def test_truncated_jpeg_ls_fragment_ends_within_the_hang_limit(tmp_path):
    """MR_small_jpeg_ls_lossless.dcm#encaps-954 (seed 2): killed as a hang after 20 s (19 s alone, on a busy machine).

    CharLS spends seconds on a JPEG-LS stream cut in half (2 KB of a 64 x 64 frame) before it
    gives up, and the frame goes through it twice (pydicom's pyjpegls, then imagecodecs' jpegls).
    The contract allows 20 s; each run here is given that much.
    """
    ds = pydicom.dcmread(pydicom_file("MR_small_jpeg_ls_lossless.dcm"))
    frame = next(pydicom.encaps.generate_fragments(ds.PixelData[8 + int.from_bytes(ds.PixelData[4:8], "little") :]))
    ds.PixelData = pydicom.encaps.encapsulate([frame[: len(frame) // 4 * 2]])
    path = write_ds(ds, tmp_path / "jls.dcm")
    assert_contract(path, shape=(64, 64), timeout=20)
    assert_refused(path, PixelDataError, re.escape("the JPEG-LS stream is cut short (no end-of-image marker)"))


# ----------------------------------------------------------------------------- stderr


def test_rle_decoder_panic_stays_off_stderr_when_the_window_comes_from_the_frame(tmp_path):
    """rtdose_rle.dcm#geometry-535 (seed 7): exit 0, but pylibjpeg-rle's Rust panic message on stderr.

    Columns 7 instead of 10 makes the RLE segments too long for a row: the Rust decoder panics
    (index out of bounds), pydicom's own RLE decoder then succeeds.  With no stored window the
    default is the frame's min-max, so the frame is first decoded while the CLI works out the
    window, before --export quiets the decoders' stderr.
    """
    ds = pydicom.dcmread(pydicom_file("rtdose_rle_1frame.dcm"))
    ds.Columns = 7
    assert "WindowCenter" not in ds
    path = write_ds(ds, tmp_path / "rle.dcm")
    assert_contract(path, shape=(10, 7))
    # shown as pydicom's own RLE decoder reads the segments (the Rust one panics), min-max windowed
    theirs = pydicom.pixels.pixel_array(path, decoding_plugin="pydicom")
    with dcmlib.load(path) as img:
        np.testing.assert_array_equal(img.stored(0), theirs)
    assert_renders(path, linear_minmax(theirs))


# ----------------------------------------------------------------------------- truncation


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "CT_small.dcm"])
def test_a_file_cut_inside_its_pixel_data_says_so(tmp_path, name):
    """A transfer cut short inside (7FE0,0010) is a damaged image, not "no pixel data (not an image)".

    pydicom drops an encapsulated Pixel Data element that the end of the file cuts off
    (for MR_small_RLE cut here, the whole data set comes back empty).
    """
    data = Path(pydicom_file(name)).read_bytes()
    start = data.index(b"\xe0\x7f\x10\x00")
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: start + (len(data) - start) // 2 + 3])
    proc = run_cli(path, "--export", tmp_path / "out.png")
    line = assert_one_error_line(proc, path, absent=[tmp_path / "out.png"])
    assert line.startswith(f"dcmview: error: {path}: ")
    assert "not an image" not in proc.stderr
    if name != "CT_small.dcm":  # native data cut short: the length check names the bytes missing
        assert "the file ends inside its pixel data" in proc.stderr, proc.stderr


def test_a_file_cut_inside_a_header_element_says_so(tmp_path):
    """pydicom reads the last element of a file cut mid-value with the bytes that are there and no error
    (Study Instance UID '1.3.' here); the file is refused naming the element, not shown as if whole."""
    data = Path(pydicom_file("CT_small.dcm")).read_bytes()
    i = data.index(b"\x20\x00\x0d\x00UI")  # (0020,000D) Study Instance UID, explicit VR
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: i + 8 + 4])  # its 8-byte header and 4 bytes of its value
    proc = run_cli(path, "--export", tmp_path / "out.png")
    assert_one_error_line(proc, path, absent=[tmp_path / "out.png"])
    assert (
        proc.stderr == f"dcmview: error: {path}: the file ends inside Study Instance UID (0020,000D): "
        "cut short, or its length is damaged\n"
    )


def test_a_stray_delimiter_at_the_end_of_a_cut_file_stays_a_clean_error(tmp_path):
    """SC_rgb_rle_32bit.dcm#flip-495 (seed 77): bit flips leave a top-level (FFFE,E0DD) with no VR as the
    last element; looking at it to see whether the file was cut short must not convert it (pydicom's
    NotImplementedError, an internal error line)."""
    from dcmlib.fuzz import mutate

    case = mutate.case_by_name(77, "SC_rgb_rle_32bit.dcm#flip-495")
    path = tmp_path / "flip.dcm"
    path.write_bytes(case.data)
    assert_contract(path)
    assert_refused(
        path,
        PixelDataError,
        re.escape("the file ends inside its pixel data (7FE0,0010): cut short, or its length is damaged"),
    )

"""Colour images to BGR uint8: RGB order, YBR (PS3.3 C.7.6.3.1.2), palettes (C.7.9), 16-bit scaling.

Expected values come from the standard's equations worked in the test, from
pydicom's own ``convert_color_space`` / ``apply_color_lut``, and from pydicom's
bundled files (local only, never downloaded).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_color_lut, convert_color_space, pixel_array

import dcmlib
from dcmlib.values.color import COLOR_PHOTOMETRICS, palette_to_rgb, rgb_to_bgr, to_uint8_rgb
from helpers import assert_within_one, make_ds, pydicom_file, write_ds

PYDICOM_DATA = Path(pydicom.data.__file__).parent


# ----------------------------------------------------------------------------- pure functions


class TestToUint8Rgb:
    def test_sixteen_bit_is_scaled_not_truncated(self):
        # v * 255 / 65535, rounded: 65535 -> 255, 32768 -> 127.502 -> 128, 257 -> 1, 128 -> 0.498 -> 0
        arr = np.array([0, 128, 257, 32767, 32768, 65535], dtype=np.uint16)
        assert to_uint8_rgb(arr, 16).tolist() == [0, 0, 1, 127, 128, 255]

    def test_twelve_bit(self):
        # 4095 -> 255, 2048 -> 127.53 -> 128, 16 -> 0.996 -> 1
        assert to_uint8_rgb(np.array([0, 16, 2048, 4095], dtype=np.uint16), 12).tolist() == [0, 1, 128, 255]

    def test_eight_bit_unchanged(self):
        arr = np.arange(256, dtype=np.uint8)
        assert to_uint8_rgb(arr, 8) is arr

    def test_rgb_to_bgr(self):
        rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
        bgr = rgb_to_bgr(rgb)
        assert bgr.tolist() == [[[0, 0, 255], [0, 255, 0], [255, 0, 0]]]
        assert bgr.flags.c_contiguous

    def test_photometrics(self):
        assert {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR"} <= COLOR_PHOTOMETRICS


# ----------------------------------------------------------------------------- RGB through the image


def rgb_ds(pixels, **tags):
    return make_ds(pixels, SamplesPerPixel=3, **tags)


class TestRgb:
    def test_red_pixel_is_bgr_0_0_255(self):
        px = np.zeros((2, 3, 3), dtype=np.uint8)
        px[0, 0] = [255, 0, 0]
        px[0, 1] = [0, 255, 0]
        px[0, 2] = [0, 0, 255]
        px[1, 0] = [10, 20, 30]
        img = dcmlib.load(rgb_ds(px))
        assert img.is_color and img.photometric == "RGB"
        out = img.render()
        assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
        assert out[0, 0].tolist() == [0, 0, 255]
        assert out[0, 1].tolist() == [0, 255, 0]
        assert out[0, 2].tolist() == [255, 0, 0]
        assert out[1, 0].tolist() == [30, 20, 10]
        assert img.values()[0, 0].tolist() == [255, 0, 0]  # values() stays RGB

    def test_planar_configuration_one(self):
        px = np.zeros((2, 2, 3), dtype=np.uint8)
        px[..., 0] = 200  # red plane
        px[..., 2] = 7
        planes = np.ascontiguousarray(px.transpose(2, 0, 1))  # R plane, G plane, B plane
        ds = rgb_ds(px, PlanarConfiguration=1)
        ds.PixelData = planes.tobytes()
        assert dcmlib.load(ds).render()[1, 1].tolist() == [7, 0, 200]

    def test_sixteen_bit_rgb_scaled(self):
        px = np.array([[[65535, 32768, 0], [257, 128, 65535]]], dtype=np.uint16)
        out = dcmlib.load(rgb_ds(px)).render()
        assert out[0, 0].tolist() == [0, 128, 255]  # BGR of (255, 128, 0)
        assert out[0, 1].tolist() == [255, 0, 1]

    def test_twelve_bits_stored_rgb(self):
        px = np.array([[[4095, 2048, 0]]], dtype=np.uint16)
        out = dcmlib.load(rgb_ds(px, BitsStored=12, HighBit=11)).render()
        assert out[0, 0].tolist() == [0, 128, 255]

    def test_invert(self):
        px = np.array([[[255, 0, 10], [1, 2, 3]]], dtype=np.uint8)
        img = dcmlib.load(rgb_ds(px))
        inv = img.render(invert=True)
        assert inv.tolist() == (255 - img.render()).tolist()
        assert inv[0, 0].tolist() == [245, 255, 0]

    def test_window_is_ignored_for_colour(self):
        px = np.array([[[255, 0, 10]]], dtype=np.uint8)
        img = dcmlib.load(rgb_ds(px))
        assert img.render(40, 400).tolist() == img.render().tolist()

    def test_render_values_refuses_colour(self):
        img = dcmlib.load(rgb_ds(np.zeros((1, 1, 3), dtype=np.uint8)))
        with pytest.raises(dcmlib.InvalidArgumentError):
            img.render_values(np.zeros((1, 1), np.float32), 0, 10)

    def test_bundled_rle_8_16_32_bit_agree(self):
        # The same picture stored with 8, 16 and 32 bits per sample: scaling (not truncating) makes them equal.
        eight = dcmlib.load(pydicom_file("SC_rgb_rle.dcm")).render()
        for name in ("SC_rgb_rle_16bit.dcm", "SC_rgb_rle_32bit.dcm"):
            np.testing.assert_array_equal(dcmlib.load(pydicom_file(name)).render(), eight)
        assert eight[0, 0].tolist() == [0, 0, 255]  # the file's top stripe is red
        assert eight[-1, -1].tolist() == [255, 255, 255]

    def test_bundled_two_frame_rgb(self):
        img = dcmlib.load(pydicom_file("SC_rgb_rle_16bit_2frame.dcm"))
        assert len(img) == 2
        first, second = img.render(frame=0), img.render(frame=1)
        arr = pixel_array(pydicom_file("SC_rgb_rle_16bit_2frame.dcm"), index=1)
        expected = np.floor(arr.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)[..., ::-1]
        np.testing.assert_array_equal(second, expected)
        assert first.shape == second.shape


# ----------------------------------------------------------------------------- YBR


def ybr_full_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """PS3.3 C.7.6.3.1.2 forward equations (YBR_FULL), rounded to 8 bits."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = 0.2990 * r + 0.5870 * g + 0.1140 * b
    cb = -0.1687 * r - 0.3313 * g + 0.5000 * b + 128
    cr = 0.5000 * r - 0.4187 * g - 0.0813 * b + 128
    return np.clip(np.rint(np.stack([y, cb, cr], axis=-1)), 0, 255).astype(np.uint8)


def rgb_from_ybr_full(ybr: np.ndarray) -> np.ndarray:
    """The inverse of the standard's forward matrix, computed here (not copied from any library)."""
    fwd = np.array([[0.2990, 0.5870, 0.1140], [-0.1687, -0.3313, 0.5000], [0.5000, -0.4187, -0.0813]])
    inv = np.linalg.inv(fwd)
    x = ybr.astype(np.float64) - [0, 128, 128]
    return np.clip(np.rint(x @ inv.T), 0, 255)


class TestYbr:
    def test_ybr_full_worked_by_hand(self):
        rgb = np.array(
            [[[255, 0, 0], [0, 255, 0], [0, 0, 255]], [[128, 128, 128], [200, 150, 100], [10, 250, 30]]], dtype=np.uint8
        )
        ybr = ybr_full_from_rgb(rgb)
        # e.g. pure red: Y = 0.299 * 255 = 76.2 -> 76, Cb = 128 - 43.0 = 85, Cr = 128 + 127.5 = 255.5 -> 255
        assert ybr[0, 0].tolist() == [76, 85, 255]
        img = dcmlib.load(rgb_ds(ybr, PhotometricInterpretation="YBR_FULL"))
        out = img.render()
        expected_rgb = rgb_from_ybr_full(ybr)
        assert_within_one(out[..., ::-1], expected_rgb)
        # and close to the original colours (8-bit YBR quantisation costs a couple of levels)
        assert np.abs(out[..., ::-1].astype(int) - rgb).max() <= 3
        assert np.abs(out[0, 0].astype(int) - [0, 0, 255]).max() <= 3  # red stays red, in BGR order

    def test_ybr_full_grey_axis(self):
        # Cb = Cr = 128 is grey: R = G = B = Y exactly.
        ybr = np.array([[[0, 128, 128], [77, 128, 128], [255, 128, 128]]], dtype=np.uint8)
        out = dcmlib.load(rgb_ds(ybr, PhotometricInterpretation="YBR_FULL")).render()
        assert out.tolist() == [[[0, 0, 0], [77, 77, 77], [255, 255, 255]]]

    def test_bundled_ybr_full_422_matches_pydicom(self):
        path = pydicom_file("SC_ybr_full_422_uncompressed.dcm")
        raw = pixel_array(path, as_rgb=False)  # 4:2:2 upsampled to full YBR by pydicom
        theirs = convert_color_space(raw, "YBR_FULL", "RGB")
        img = dcmlib.load(path)
        assert img.photometric == "YBR_FULL_422" and img.is_color
        out = img.render()
        assert out.shape == theirs.shape
        assert_within_one(out[..., ::-1], theirs)
        # and against the standard's inverse equations
        assert_within_one(out[..., ::-1], rgb_from_ybr_full(raw))

    def test_bundled_ybr_rct_jpeg2000_is_lossless_rgb(self):
        path = pydicom_file("GDCMJ2K_TextGBR.dcm")
        img = dcmlib.load(path)
        assert img.photometric == "YBR_RCT"
        out = img.render()
        theirs = pixel_array(path)  # RCT is reversible: the decoder's RGB is the truth
        np.testing.assert_array_equal(out, theirs[..., ::-1])


# ----------------------------------------------------------------------------- palette colour


def seg16(*parts) -> bytes:
    return np.array([v for p in parts for v in p], dtype="<u2").tobytes()


class TestPalette:
    def test_bundled_16_bit_palette_matches_pydicom(self):
        path = pydicom_file("examples_palette.dcm")
        ds = pydicom.dcmread(path)
        assert ds.RedPaletteColorLookupTableDescriptor[2] == 16
        rgb16 = apply_color_lut(ds.pixel_array, ds)
        expected = np.floor(rgb16.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)[..., ::-1]
        out = dcmlib.load(path).render()
        assert out.dtype == np.uint8 and out.shape == expected.shape
        assert_within_one(out, expected)  # float32 vs float64 rounding at most
        assert (out == expected).mean() > 0.999
        # and the test can tell scaling from truncation: >> 8 gives a different picture
        assert ((rgb16 >> 8).astype(np.uint8)[..., ::-1] != out).any()

    def test_segmented_16_bit_palette_worked_by_hand(self):
        # PS3.3 C.7.9.2: opcode 0 = discrete (n, values...), opcode 1 = linear (n, end value).
        idx = np.arange(256, dtype=np.uint8).reshape(16, 16)
        tags = dict(
            PhotometricInterpretation="PALETTE COLOR",
            RedPaletteColorLookupTableDescriptor=[256, 0, 16],
            GreenPaletteColorLookupTableDescriptor=[256, 0, 16],
            BluePaletteColorLookupTableDescriptor=[256, 0, 16],
        )
        ds = make_ds(idx, **tags)
        ds.SegmentedRedPaletteColorLookupTableData = seg16([0, 1, 0], [1, 255, 65535])  # 0 then ramp to 65535
        ds.SegmentedGreenPaletteColorLookupTableData = seg16([0, 1, 65535], [1, 255, 0])  # ramp down
        ds.SegmentedBluePaletteColorLookupTableData = seg16([0, 256] + [32768] * 256)  # one discrete segment
        out = dcmlib.load(ds).render()
        # by hand: red(i) = 65535 * i / 255 = 257 i -> 8 bits: i ; green = 65535 - 257 i -> 255 - i ; blue 32768 -> 128
        i = idx.astype(int)
        expected = np.stack([np.full_like(i, 128), 255 - i, i], axis=-1)
        np.testing.assert_array_equal(out, expected)
        # pydicom agrees
        theirs = apply_color_lut(idx, ds)
        np.testing.assert_array_equal(to_uint8_rgb(theirs, 16)[..., ::-1], out)

    def test_segmented_8_bit_palette_from_pydicom_palettes(self):
        spring = pydicom.dcmread(PYDICOM_DATA / "palettes" / "spring.dcm", force=True)
        assert "SegmentedRedPaletteColorLookupTableData" in spring
        idx = np.arange(256, dtype=np.uint8).reshape(16, 16)
        ds = make_ds(idx, PhotometricInterpretation="PALETTE COLOR")
        for colour in ("Red", "Green", "Blue"):
            for kw in (f"{colour}PaletteColorLookupTableDescriptor", f"Segmented{colour}PaletteColorLookupTableData"):
                ds[kw] = spring[kw]
        out = dcmlib.load(ds).render()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom checks the name as if it were a UID
            theirs = apply_color_lut(idx, palette="SPRING")  # pydicom's own reading of the well-known palette
        assert theirs.dtype == np.uint8
        np.testing.assert_array_equal(out, theirs[..., ::-1])
        # SPRING runs magenta (255, 0, 255) to yellow (255, 255, 0)
        assert out[0, 0].tolist() == [255, 0, 255] and out[-1, -1].tolist() == [0, 255, 255]

    def test_palette_indices_outside_the_table_clamp(self):
        # first mapped value 2, 4 entries: indices 0, 1 take the first entry, 9 the last (C.7.6.3.1.5)
        idx = np.array([[0, 1, 2, 3, 4, 5, 9]], dtype=np.uint8)
        tags = {}
        for colour in ("Red", "Green", "Blue"):
            tags[f"{colour}PaletteColorLookupTableDescriptor"] = [4, 2, 8]
        ds = make_ds(idx, PhotometricInterpretation="PALETTE COLOR", **tags)
        ds.RedPaletteColorLookupTableData = bytes([10, 20, 30, 40])  # 8-bit entries
        ds.GreenPaletteColorLookupTableData = bytes([0, 0, 0, 0])
        ds.BluePaletteColorLookupTableData = bytes([255, 128, 0, 1])
        out = dcmlib.load(ds).render()
        assert out[0, :, 2].tolist() == [10, 10, 10, 20, 30, 40, 40]  # red channel is BGR index 2
        assert out[0, :, 0].tolist() == [255, 255, 255, 128, 0, 1, 1]

    def test_odd_length_8_bit_palette_renders_or_raises_our_error(self):
        # 3 8-bit entries padded to an even 4 bytes (OW): pydicom's apply_color_lut cannot size it
        idx = np.array([[0, 1, 2]], dtype=np.uint8)
        tags = {f"{c}PaletteColorLookupTableDescriptor": [3, 0, 8] for c in ("Red", "Green", "Blue")}
        ds = make_ds(idx, PhotometricInterpretation="PALETTE COLOR", **tags)
        for c in ("Red", "Green", "Blue"):
            ds[f"{c}PaletteColorLookupTableData"] = pydicom.DataElement(
                f"{c}PaletteColorLookupTableData", "OW", bytes([10, 20, 30, 0])
            )
        try:
            out = dcmlib.load(ds).render()
        except dcmlib.DcmviewError:
            return
        assert out[0, :, 2].tolist() == [10, 20, 30]

    def test_palette_to_rgb_bad_palette_is_our_error(self):
        ds = make_ds(np.zeros((2, 2), np.uint8), PhotometricInterpretation="PALETTE COLOR")
        with pytest.raises(dcmlib.UnsupportedError):
            palette_to_rgb(np.zeros((2, 2), np.uint8), ds)

    def test_missing_palette_names_the_file(self, tmp_path):
        ds = make_ds(np.zeros((2, 2), np.uint8), PhotometricInterpretation="PALETTE COLOR")
        path = write_ds(ds, tmp_path / "palette.dcm")
        with pytest.raises(dcmlib.UnsupportedError) as err:
            dcmlib.load(path).render()
        assert str(err.value).startswith(str(path) + ": ")

    def test_palette_invert(self):
        path = pydicom_file("examples_palette.dcm")
        img = dcmlib.load(path)
        np.testing.assert_array_equal(img.render(invert=True), 255 - img.render())


class TestPaletteByteOrder:
    """16-bit palette entries are read in the data set's byte order (PS3.5 7.3), checked against DCMTK."""

    @pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ExplicitVRBigEndian])
    def test_16_bit_palette_matches_dcm2pnm(self, tmp_path, syntax):
        from helpers import dcm2pnm

        indices = np.arange(256, dtype=np.uint8).reshape(16, 16)
        ds = make_ds(
            indices,
            transfer_syntax=syntax,
            PhotometricInterpretation="PALETTE COLOR",
            SOPClassUID="1.2.840.10008.5.1.4.1.1.7",
            Modality="OT",
        )
        order = "<u2" if syntax == pydicom.uid.ExplicitVRLittleEndian else ">u2"
        i = np.arange(256)
        words = {"Red": i * 256 + (i * 37) % 256, "Green": (255 - i) * 256 + 7, "Blue": (i * 97 % 256) * 256 + 255 - i}
        for colour, n in (("Red", 1), ("Green", 2), ("Blue", 3)):  # low and high bytes differ: a swap shows
            ds.add_new(0x00281100 + n, "US", [256, 0, 16])
            ds.add_new(0x00281200 + n, "OW", words[colour].astype(order).tobytes())
        path = write_ds(ds, tmp_path / "palette.dcm")
        ours = dcmlib.load(path).render()
        theirs = dcm2pnm(path)
        assert ours.shape == theirs.shape == (16, 16, 3)
        # DCMTK keeps the high byte (w >> 8), we round (w * 255 / 65535): within one grey level; a byte swap
        # would differ by up to 255
        assert_within_one(ours, theirs)
        # by hand: 16-bit entry w shows as round(w * 255 / 65535) (C.7.6.3.1.6), in OpenCV's BGR order
        idx = indices.astype(int)
        for channel, colour in ((2, "Red"), (1, "Green"), (0, "Blue")):
            want = np.floor(words[colour][idx] * 255 / 65535 + 0.5).astype(np.uint8)
            assert np.array_equal(ours[..., channel], want), colour

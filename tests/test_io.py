"""dcmlib.read.io: reading, the pixel data element, length checks and decoding, with no process-wide effects."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pydicom
import pytest
from pydicom.uid import RLELossless

import dcmlib
from dcmlib import PixelDataError
from dcmlib.read import io
from dcmlib.read.header import layout
from dcmlib.read.pixeldata import check_pixel_data, codestream_size
from helpers import assert_within_one, make_ds, write_series

AXIAL = [1, 0, 0, 0, 1, 0]


def rle_series(folder, n=12, size=128):
    """``n`` RLE-compressed axial CT slices of one series, 1 mm apart."""
    rng = np.random.default_rng(1)
    write_series(
        folder,
        [rng.integers(0, 4000, (size, size), dtype=np.uint16) for _ in range(n)],
        orientation=AXIAL,
        names="{k:03d}.dcm",
        edit=lambda k, ds: ds.compress(RLELossless),
    )
    return folder


class TestPixelElement:
    def test_in_memory_native(self):
        ds = make_ds(np.zeros((4, 6), np.uint16))
        pix = io.pixel_element(ds)
        assert (pix.keyword, pix.length, len(pix.value)) == ("PixelData", 48, 48)

    def test_float_pixel_data(self):
        pix = io.pixel_element(make_ds(np.zeros((2, 3), np.float32)))
        assert pix.keyword == "FloatPixelData" and pix.length == 24

    def test_none_without_pixels(self):
        ds = make_ds()
        del ds.PixelData
        assert io.pixel_element(ds) is None

    def test_transfer_syntax_that_is_not_one(self):
        ds = make_ds()
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.5.1.4.1.1.2"  # a SOP Class UID, not a syntax
        assert io.transfer_syntax(ds) is None


class TestPixelLength:
    def test_short_native_data_fail_before_decoding(self):
        ds = make_ds(np.zeros((4, 4), np.uint16))
        ds.NumberOfFrames = 1000  # claims 1000 frames of 32 bytes in 32 bytes
        pix = io.pixel_element(ds)
        with pytest.raises(PixelDataError, match="pixel data has 32 bytes but the header needs 32000"):
            check_pixel_data(ds, layout(ds, pix, None), pix, "x.dcm")

    def test_jpeg_frame_header_names_its_size(self):
        # JPEG SOF0 (ISO 10918-1 B.2.2): length, precision, height 0x0010, width 0x0020
        sof = b"\xff\xd8" + b"\xff\xc0\x00\x0b\x08\x00\x10\x00\x20\x01\x01\x11\x00"
        assert codestream_size(sof) == (16, 32)
        # J2K SIZ (ISO 15444-1 A.5.1): Xsiz 640, Ysiz 480, no offsets
        siz = b"\xff\x4f\xff\x51" + b"\x00\x29\x00\x00" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + bytes(8)
        assert codestream_size(siz) == (480, 640)
        assert codestream_size(b"not a codestream") is None


def test_stderr_of_other_threads_survives_background_decodes(tmp_path):
    """While the read-ahead thread decodes compressed slices, whatever the main thread writes to
    fd 2 reaches it: the library never redirects the process's stderr."""
    rle_series(tmp_path)
    script = textwrap.dedent(f"""
        import os, sys, time, dcmlib
        img = dcmlib.load({str(tmp_path)!r}, on_warning=lambda m: None)
        img.stored(0)                       # starts the read-ahead on slices 1..
        for i in range(300):
            os.write(2, b"marker %d\\n" % i)
            sys.stderr.write("text %d\\n" % i)
            sys.stderr.flush()
            time.sleep(0.0005)
        img.close()
        print(img.decodes)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 1, "the read-ahead decoded nothing: the test proves nothing"
    for i in range(300):
        assert f"marker {i}\n" in proc.stderr and f"text {i}\n" in proc.stderr


def test_close_stops_the_read_ahead_thread(tmp_path):
    rle_series(tmp_path)

    def alive():
        return [t for t in threading.enumerate() if t.name == "dcmlib-read-ahead" and t.is_alive()]

    before = set(alive())  # other tests' images may still have an idle thread
    with dcmlib.load(tmp_path) as img:
        img.stored(0)
        img.stored(1)
        assert img.decodes >= 2
        assert set(alive()) - before, "no read-ahead thread started: the test proves nothing"
    assert not set(alive()) - before
    assert len(img.cache) == 0
    # a closed image still answers, decoding again, without a thread
    assert img.stored(3).shape == (128, 128) and not set(alive()) - before


class TestLenientFiles:
    """Standard-breaking files DCMTK renders: read them too, saying once what was assumed."""

    def test_no_preamble_and_no_file_meta(self, tmp_path):
        from helpers import dcm2pnm

        ds = make_ds((np.arange(64, dtype=np.uint16).reshape(8, 8) * 60), WindowCenter=1900, WindowWidth=3800)
        del ds.file_meta
        path = tmp_path / "bare.dcm"
        pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
        assert path.read_bytes()[128:132] != b"DICM"
        notes = []
        img = dcmlib.load(path, on_warning=notes.append)
        assert any("no Transfer Syntax UID (0002,0010); read as Implicit VR Little Endian" in n for n in notes)
        assert_within_one(
            img.render(), dcm2pnm(path, "+Wi", "1")
        )  # the stored window (DCMTK rounds some the other way)

    def test_integer_string_with_trailing_garbage(self, tmp_path):
        """pydicom's badVR.dcm: Number of Frames '1A' is read as 1, as DCMTK does."""
        from helpers import dcm2pnm, pydicom_file

        notes = []
        img = dcmlib.load(pydicom_file("badVR.dcm"), on_warning=notes.append)
        assert len(img) == 1
        assert any("Number of Frames (0028,0008) '1A' is not an integer; read as 1" in n for n in notes)
        assert_within_one(img.render(), dcm2pnm(pydicom_file("badVR.dcm"), "+Wm"))  # no window: min-max

    def test_damaged_element_is_dropped_with_a_note(self):
        ds = make_ds(np.zeros((4, 4), np.uint16))
        ds.add_new(0x00091010, "OB", b"\x10\x00")
        data = pydicom.filebase.DicomBytesIO()
        pydicom.dcmwrite(data, ds, enforce_file_format=True)
        raw = data.getvalue()
        i = raw.index(b"\x09\x00\x10\x10OB")  # relabel as UL with a 2-byte value (UL needs 4): PS3.5 7.1.2
        raw = raw[:i] + b"\x09\x00\x10\x10UL\x02\x00\x10\x00" + raw[i + 14 :]
        back = pydicom.dcmread(pydicom.filebase.DicomBytesIO(raw))
        notes = io.sanitize(back)
        assert notes == ["header element (0009,1010) ignored (unreadable value)"]
        assert 0x00091010 not in back and back.Rows == 4

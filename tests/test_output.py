"""dcmlib.render.output: encode by extension, write atomically, leave nothing behind on a failure.

Expected bytes come from outside the module: OpenCV's own decoder reads the
images back, NumPy's ``np.load`` the ``.npy`` bytes, and the file modes are
worked out from the umask by hand (0666 & ~umask, as POSIX ``open`` does).
"""

from __future__ import annotations

import io
import os
import stat
import sys

import cv2
import numpy as np
import pytest

from dcmlib.errors import DcmviewError, OutputError
from dcmlib.render import output

GREY = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
BGR = np.dstack([GREY, 255 - GREY, np.full_like(GREY, 7)])


def leftovers(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(output.TEMP_PREFIX))


@pytest.fixture
def umask():
    """Set a umask for one test and restore the old one."""
    old = os.umask(0o022)
    os.umask(old)

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(old)


class TestEncodeImage:
    @pytest.mark.parametrize("image", [GREY, BGR, GREY.astype(np.uint16) * 1000], ids=["grey", "bgr", "16-bit"])
    @pytest.mark.parametrize("suffix", [".png", ".PNG", ".tif", ".tiff", ".bmp"])
    def test_lossless_formats_read_back_exactly(self, image, suffix):
        if suffix == ".bmp" and image.dtype != np.uint8:
            pytest.skip("BMP holds 8-bit samples only")
        data = output.encode_image(image, suffix)
        back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(back, image)

    @pytest.mark.parametrize(
        "suffix, magic",
        [
            (".png", b"\x89PNG\r\n\x1a\n"),  # PNG signature (ISO/IEC 15948 5.2)
            (".jpg", b"\xff\xd8\xff"),  # JPEG SOI marker then a marker
            (".jpeg", b"\xff\xd8\xff"),
            (".bmp", b"BM"),
            (".tif", b"II*\x00"),  # little-endian TIFF header (TIFF 6.0 section 2)
        ],
    )
    def test_the_format_follows_the_extension(self, suffix, magic):
        assert output.encode_image(GREY, suffix).startswith(magic)

    def test_jpeg_is_close_to_the_image(self):
        smooth = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
        back = cv2.imdecode(np.frombuffer(output.encode_image(smooth, ".jpg"), np.uint8), cv2.IMREAD_UNCHANGED)
        assert back.shape == smooth.shape and np.abs(back.astype(int) - smooth).max() <= 8  # lossy, but close

    @pytest.mark.parametrize("suffix", [".xyz", "", ".dcm"])
    def test_an_extension_no_encoder_knows_is_an_output_error(self, suffix):
        with pytest.raises(OutputError, match=r"^out: could not encode the image$"):
            output.encode_image(GREY, suffix, "out")

    def test_an_empty_image_is_an_output_error(self):
        with pytest.raises(OutputError, match="could not encode"):
            output.encode_image(np.zeros((0, 0), np.uint8), ".png")

    def test_every_listed_extension_encodes(self):
        for suffix in output.IMAGE_EXTENSIONS:
            assert output.encode_image(GREY, suffix), suffix


class TestEncodeNpy:
    @pytest.mark.parametrize(
        "array",
        [GREY, GREY.astype(np.float32) / 3, np.zeros((0, 3), np.int16), np.asfortranarray(BGR)],
        ids=["uint8", "float32", "empty", "fortran"],
    )
    def test_np_load_reads_the_same_array(self, array):
        back = np.load(io.BytesIO(output.encode_npy(array)), allow_pickle=False)
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)

    def test_the_bytes_are_the_npy_format(self):
        assert output.encode_npy(GREY).startswith(b"\x93NUMPY")  # NumPy's .npy magic string

    def test_an_object_array_is_refused(self):
        with pytest.raises(ValueError):
            output.encode_npy(np.array([{"a": 1}], dtype=object))


class TestWriteBytes:
    def test_writes_the_bytes_and_leaves_no_temporary_file(self, tmp_path):
        target = tmp_path / "a.bin"
        output.write_bytes(target, b"hello")
        assert target.read_bytes() == b"hello"
        assert os.listdir(tmp_path) == ["a.bin"]

    def test_replaces_an_existing_file_whole(self, tmp_path):
        target = tmp_path / "a.bin"
        target.write_bytes(b"x" * 1000)
        output.write_bytes(target, b"short")
        assert target.read_bytes() == b"short" and os.listdir(tmp_path) == ["a.bin"]

    def test_the_new_file_is_a_new_inode(self, tmp_path):
        """Atomic replacement (rename into place): a reader holding the old file keeps the old bytes."""
        target = tmp_path / "a.bin"
        target.write_bytes(b"old")
        with open(target, "rb") as held:
            output.write_bytes(target, b"new")
            assert held.read() == b"old"
        assert target.read_bytes() == b"new"

    def test_a_relative_name_writes_in_the_current_folder(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        output.write_bytes("plain.bin", b"1")
        assert (tmp_path / "plain.bin").read_bytes() == b"1" and leftovers(tmp_path) == []

    def test_a_missing_folder_is_an_output_error_naming_the_file(self, tmp_path):
        target = tmp_path / "gone" / "a.bin"
        with pytest.raises(OutputError) as info:
            output.write_bytes(target, b"x")
        assert info.value.path is not None and os.fspath(info.value.path) == os.fspath(target)
        assert str(info.value) == f"{target}: the output folder no longer exists"
        assert isinstance(info.value, DcmviewError) and os.listdir(tmp_path) == []

    @pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
    def test_a_read_only_folder_is_an_output_error_in_the_os_words(self, tmp_path):
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        try:
            with pytest.raises(OutputError, match=r"a\.bin: Permission denied$"):
                output.write_bytes(folder / "a.bin", b"x")
            assert os.listdir(folder) == []
        finally:
            folder.chmod(0o700)

    def test_a_failure_while_writing_removes_the_temporary_file(self, tmp_path, monkeypatch):
        """The bytes cannot be written (a full disk): the error names the file, no temporary is left and an
        existing file keeps its contents."""
        target = tmp_path / "a.bin"
        target.write_bytes(b"precious")

        def full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", full)
        with pytest.raises(OutputError, match=r"a\.bin: No space left on device$"):
            output.write_bytes(target, b"new")
        assert target.read_bytes() == b"precious" and leftovers(tmp_path) == []

    def test_an_interrupt_removes_the_temporary_file_and_is_not_wrapped(self, tmp_path, monkeypatch):
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "replace", interrupted)
        with pytest.raises(KeyboardInterrupt):
            output.write_bytes(tmp_path / "a.bin", b"new")
        assert os.listdir(tmp_path) == []

    @pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
    @pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000])
    def test_the_file_mode_follows_the_umask(self, tmp_path, umask, mask):
        """Like any file the user creates: 0666 & ~umask (mkstemp's 0600 would hide exports from the group)."""
        umask(mask)
        target = tmp_path / "a.bin"
        output.write_bytes(target, b"x")
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask

    def test_the_temporary_name_says_which_process(self, tmp_path, monkeypatch):
        """While the bytes are written, the only other name in the folder starts with .dcmview-<pid>-."""
        seen = []
        real = os.replace

        def spy(src, dst):
            seen.append(os.path.basename(src))
            return real(src, dst)

        monkeypatch.setattr(os, "replace", spy)
        output.write_bytes(tmp_path / "a.png", b"x")
        assert len(seen) == 1 and seen[0].startswith(f".dcmview-{os.getpid()}-") and seen[0].endswith(".png")


class TestTempPrefix:
    def test_this_process_and_another(self):
        assert output.temp_prefix() == f".dcmview-{os.getpid()}-"
        assert output.temp_prefix(12345) == ".dcmview-12345-"
        assert output.temp_prefix().startswith(output.TEMP_PREFIX)


class TestWriteImage:
    @pytest.mark.parametrize("name", ["out.png", "out.tif", "out.bmp"])
    def test_writes_what_imread_reads_back(self, tmp_path, name):
        target = tmp_path / name
        output.write_image(target, BGR)
        np.testing.assert_array_equal(cv2.imread(os.fspath(target), cv2.IMREAD_UNCHANGED), BGR)
        assert os.listdir(tmp_path) == [name]

    def test_equals_imencode_byte_for_byte(self, tmp_path):
        """One encoder call for --export, snapshots and convert: the file is cv2.imencode's bytes."""
        target = tmp_path / "x.png"
        output.write_image(target, GREY)
        ok, buf = cv2.imencode(".png", GREY)
        assert ok and target.read_bytes() == buf.tobytes()

    def test_an_unknown_extension_writes_nothing(self, tmp_path):
        target = tmp_path / "out.xyz"
        with pytest.raises(OutputError, match=r"out\.xyz: could not encode the image$"):
            output.write_image(target, GREY)
        assert os.listdir(tmp_path) == []

    def test_an_existing_file_survives_a_failed_encode(self, tmp_path):
        target = tmp_path / "out.xyz"
        target.write_bytes(b"precious")
        with pytest.raises(OutputError):
            output.write_image(target, GREY)
        assert target.read_bytes() == b"precious" and os.listdir(tmp_path) == ["out.xyz"]

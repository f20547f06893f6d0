"""The command line, run as a user runs it: ``python dcmview.py ...`` in a subprocess.

Contract under test (the headless export, ``--list-presets``, ``--info`` and bad input):

- ``dcmview.py PATH --export OUT [--window C W | --preset NAME | --voi N] [--mode M]
  [--frame N] [--invert]`` writes exactly ``dcmlib.load(PATH).render(...)`` of that
  frame; ``--frame`` is 1-based on the CLI and 0-based in the API; the format follows
  the extension (PNG, JPEG, TIFF, BMP).
- ``--list-presets`` lists the nine presets in the viewer's order with width/level.
- ``--info`` summarises modality, size, frames, photometric, bits, stored windows with
  explanations, rescale and transfer syntax, without patient identifiers.
- Every bad input ends with exit status 2, exactly one stderr line
  ``dcmview: error: <file>: <problem>``, no traceback, and no output file.
- A window width of 0 stored in a file is not fatal: min-max, one warning line, exit 0.
"""

from __future__ import annotations

import os
import re
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_fragmented_frames
from pydicom.sequence import Sequence

import dcmlib
from helpers import assert_one_error_line, assert_within_one, lut_item, pydicom_file, ramp, run_cli, write_mono

PRESET_ORDER = [
    ("lung", -600, 1500),
    ("bone", 300, 1500),
    ("brain", 40, 80),
    ("soft tissue", 40, 400),
    ("mediastinum", 50, 350),
    ("liver", 30, 150),
    ("stroke", 40, 40),
    ("subdural", 75, 200),
    ("temporal bone", 600, 2800),
]


def read_back(path: Path) -> np.ndarray:
    img = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f"{path} was not written or cannot be read back"
    return img


def assert_ok(proc) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- export

EXPORT_CASES = [
    # (test id, file, CLI args, render kwargs)
    ("default-window", "MR_small.dcm", [], {}),
    ("default-minmax", "CT_small.dcm", [], {}),
    ("window", "CT_small.dcm", ["--window", "40", "400"], {"center": 40, "width": 400}),
    ("negative-center", "CT_small.dcm", ["--window", "-600", "1500"], {"center": -600, "width": 1500}),
    ("fractional", "CT_small.dcm", ["--window", "40.5", "399.25"], {"center": 40.5, "width": 399.25}),
    ("preset", "CT_small.dcm", ["--preset", "lung"], {"preset": "lung"}),
    ("preset-two-words", "CT_small.dcm", ["--preset", "soft tissue"], {"preset": "soft tissue"}),
    ("voi-1", "examples_overlay.dcm", ["--voi", "1"], {"voi": 1}),
    ("voi-2", "examples_overlay.dcm", ["--voi", "2"], {"voi": 2}),
    (
        "sigmoid",
        "MR_small.dcm",
        ["--window", "600", "1600", "--mode", "sigmoid"],
        {"center": 600, "width": 1600, "mode": "sigmoid"},
    ),
    (
        "linear-exact",
        "MR_small.dcm",
        ["--window", "600", "16", "--mode", "linear-exact"],
        {"center": 600, "width": 16, "mode": "linear-exact"},
    ),
    (
        "linear",
        "MR_small.dcm",
        ["--window", "600", "16", "--mode", "linear"],
        {"center": 600, "width": 16, "mode": "linear"},
    ),
    ("invert", "MR_small.dcm", ["--invert"], {"invert": True}),
    ("monochrome1", "6154", [], {}),
    ("frame-1", "rtdose.dcm", ["--frame", "1"], {"frame": 0}),
    ("frame-3", "rtdose.dcm", ["--frame", "3"], {"frame": 2}),
    ("frame-last", "rtdose.dcm", ["--frame", "15"], {"frame": 14}),
    (
        "frame-window-invert",
        "rtdose.dcm",
        ["--frame", "7", "--window", "1000000", "300000", "--invert"],
        {"frame": 6, "center": 1000000, "width": 300000, "invert": True},
    ),
    ("colour-rgb", "examples_rgb_color.dcm", [], {}),
    ("colour-ybr-jpeg", "SC_rgb_jpeg_dcmtk.dcm", [], {}),
]


@pytest.mark.parametrize("name, args, kwargs", [c[1:] for c in EXPORT_CASES], ids=[c[0] for c in EXPORT_CASES])
def test_png_export_is_exactly_render(tmp_path, name, args, kwargs):
    """The PNG written by the CLI is exactly ``render(...)`` of that frame (frame 1-based -> 0-based)."""
    src = pydicom_file(name)
    out = tmp_path / "out" / "image.png"
    out.parent.mkdir()
    proc = run_cli(src, "--export", out, *args)
    assert_ok(proc)
    assert proc.stdout == "" and proc.stderr == "", "a clean export is silent"
    assert os.listdir(out.parent) == ["image.png"], "temporary files left next to the output"
    got = read_back(out)
    want = dcmlib.load(src).render(**kwargs)
    assert want.dtype == np.uint8
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff", ".bmp", ".PNG"])
@pytest.mark.parametrize("name", ["MR_small.dcm", "examples_rgb_color.dcm"])
def test_lossless_formats_hold_the_render(tmp_path, name, ext):
    """TIFF and BMP are lossless too: what they hold equals render(); the extension is case-insensitive."""
    src = pydicom_file(name)
    out = tmp_path / f"image{ext}"
    assert_ok(run_cli(src, "--export", out, "--window", "600", "1600"))
    np.testing.assert_array_equal(read_back(out), dcmlib.load(src).render(600, 1600))


@pytest.mark.parametrize("ext", [".jpg", ".jpeg"])
def test_jpeg_export_is_close_to_render(tmp_path, ext):
    """JPEG is lossy: same shape, pixels close on average."""
    src = pydicom_file("MR_small.dcm")
    out = tmp_path / f"image{ext}"
    assert_ok(run_cli(src, "--export", out))
    got = read_back(out)
    want = dcmlib.load(src).render()
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 4


def test_export_of_window_matches_standard_formula(tmp_path):
    """Independent of render(): the LINEAR formula of PS3.3 C.11.2.1.2.1 worked out here by hand.

    A signed ramp -1000..3000 through window c=500, w=1001: x <= c-0.5-(w-1)/2 = -0.5 -> 0,
    x > c-0.5+(w-1)/2 = 999.5 -> 255, else ((x-(c-0.5))/(w-1)+0.5)*255 (rounding or truncation,
    so within one grey level).
    """
    px = ramp(64, 64, -1000, 3000)
    src = write_mono(tmp_path / "ramp.dcm", px)
    out = tmp_path / "out.png"
    assert_ok(run_cli(src, "--export", out, "--window", "500", "1001"))
    x = px.astype(np.float64)
    y = np.clip((x - 499.5) / 1000 + 0.5, 0, 1) * 255
    y[x <= -0.5] = 0
    y[x > 999.5] = 255
    assert_within_one(read_back(out), y)


def test_invert_of_monochrome2_is_255_minus(tmp_path):
    """``--invert`` on MONOCHROME2 is the negative of the plain export (independent of render())."""
    src = pydicom_file("MR_small.dcm")
    plain, inv = tmp_path / "plain.png", tmp_path / "inv.png"
    assert_ok(run_cli(src, "--export", plain))
    assert_ok(run_cli(src, "--export", inv, "--invert"))
    np.testing.assert_array_equal(read_back(inv), 255 - read_back(plain))


def test_preset_equals_its_window(tmp_path):
    """``--preset lung`` exports exactly what ``--window -600 1500`` does: the lung preset's centre and width."""
    src = pydicom_file("CT_small.dcm")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert_ok(run_cli(src, "--export", a, "--preset", "lung"))
    assert_ok(run_cli(src, "--export", b, "--window", "-600", "1500"))
    np.testing.assert_array_equal(read_back(a), read_back(b))


def test_voi_equals_stored_window(tmp_path):
    """``--voi 2`` on examples_overlay.dcm is its second stored window, 200/443."""
    src = pydicom_file("examples_overlay.dcm")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert_ok(run_cli(src, "--export", a, "--voi", "2"))
    assert_ok(run_cli(src, "--export", b, "--window", "200", "443"))
    np.testing.assert_array_equal(read_back(a), read_back(b))


def test_frames_differ(tmp_path):
    """``--frame`` really selects a frame: two frames of rtdose.dcm with one window differ."""
    src = pydicom_file("rtdose.dcm")
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    win = ["--window", "1000000", "600000"]
    assert_ok(run_cli(src, "--export", a, "--frame", "1", *win))
    assert_ok(run_cli(src, "--export", b, "--frame", "15", *win))
    assert not np.array_equal(read_back(a), read_back(b))


def test_stored_width_zero_falls_back_to_minmax(tmp_path):
    """A stored Window Width of 0 is not fatal: min-max window, one stderr line, exit 0."""
    px = ramp(32, 32, 0, 1000, np.uint16)
    src = write_mono(tmp_path / "w0.dcm", px, WindowCenter=500, WindowWidth=0)
    out = tmp_path / "out.png"
    proc = run_cli(src, "--export", out)
    assert_ok(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one warning line, got: {proc.stderr!r}"
    assert not lines[0].startswith("dcmview: error")
    img = read_back(out)
    assert img.min() == 0 and img.max() == 255, "min-max window must span the whole output range"
    assert np.all(np.diff(img.ravel().astype(int)) >= 0), "a ramp stays monotonic"


# --------------------------------------------------------------------------- --list-presets / --info


def test_list_presets():
    """All nine presets in the viewer's order, each with its width and level."""
    proc = run_cli("--list-presets")
    assert_ok(proc)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    found = []
    for name, center, width in PRESET_ORDER:
        pat = re.compile(r"\b" + name.replace(" ", r"[ _-]") + r"\b", re.I)
        hits = [
            i
            for i, ln in enumerate(lines)
            if pat.search(ln) and (name == "temporal bone" or not re.search("temporal", ln, re.I))
        ]
        assert hits, f"preset {name!r} missing from:\n{proc.stdout}"
        i = hits[0]
        numbers = {float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", lines[i])}
        assert {float(center), float(width)} <= numbers, f"{name}: want {width}/{center} in {lines[i]!r}"
        found.append(i)
    assert found == sorted(found), f"presets not in the viewer's order:\n{proc.stdout}"


@pytest.fixture
def info_file(tmp_path):
    px = np.stack([ramp(48, 64, 0, 4000, np.uint16)] * 3)
    return write_mono(
        tmp_path / "info.dcm",
        px,
        bits_stored=12,
        Modality="CT",
        PatientName="Secretname^Jane",
        PatientID="PID-4242-XYZ",
        PatientBirthDate="19561231",
        WindowCenter=[40, -600],
        WindowWidth=[400, 1500],
        WindowCenterWidthExplanation=["EXPLSOFT", "EXPLLUNG"],
        RescaleSlope=0.5,
        RescaleIntercept=-1024,
        RescaleType="HU",
    )


def test_info_summary(info_file):
    """``--info``: modality, size, frames, photometric, bits, windows + explanations, rescale, syntax."""
    proc = run_cli(info_file, "--info")
    assert_ok(proc)
    out = proc.stdout
    assert re.search(r"\bCT\b", out), out
    assert re.search(r"64\s*[x×X]\s*48|48\s*[x×X]\s*64", out), f"size 64 x 48 missing:\n{out}"
    assert re.search(r"frames?\D{0,20}\b3\b|\b3\b\D{0,20}frames?", out, re.I), f"3 frames missing:\n{out}"
    assert "MONOCHROME2" in out
    assert re.search(r"\b12\b", out), f"bits stored (12) missing:\n{out}"
    for expl in ("EXPLSOFT", "EXPLLUNG"):
        assert expl in out, f"window explanation {expl} missing:\n{out}"
    assert re.search(r"-600", out) and re.search(r"1500", out) and re.search(r"\b400\b", out)
    assert "0.5" in out and "-1024" in out, f"rescale missing:\n{out}"
    assert re.search(r"Explicit VR Little Endian|1\.2\.840\.10008\.1\.2\.1\b", out, re.I), out


@pytest.mark.parametrize("name", ["info", "CT_small.dcm", "examples_overlay.dcm"])
def test_info_has_no_patient_identifiers(info_file, name):
    """``--info`` never shows Patient's Name, Patient ID or Birth Date."""
    src = info_file if name == "info" else pydicom_file(name)
    ds = pydicom.dcmread(src, stop_before_pixels=True)
    proc = run_cli(src, "--info")
    assert_ok(proc)
    text = proc.stdout + proc.stderr
    secrets = [str(ds.PatientName), str(ds.PatientID)]
    secrets += [part for part in str(ds.PatientName).split("^") if len(part) > 2]
    if ds.get("PatientBirthDate"):
        secrets.append(str(ds.PatientBirthDate))
    for secret in secrets:
        assert secret not in text, f"patient identifier {secret!r} leaked by --info:\n{text}"


# --------------------------------------------------------------------------- errors


def _mr_bytes() -> bytes:
    return Path(pydicom_file("MR_small.dcm")).read_bytes()


def _corrupt_stream(name: str):
    def make(tmp: Path) -> Path:
        ds = pydicom.dcmread(pydicom_file(name))
        frags = [b"".join(f) for f in generate_fragmented_frames(ds.PixelData, number_of_frames=1)]
        # same length, but not a codestream: no SOI / SOC marker, nothing a decoder can read
        ds.PixelData = encapsulate([bytes([0xAB]) * len(frags[0])])
        out = tmp / f"corrupt_{name}"
        ds.save_as(out)
        return out

    return make


def _dataset_file(tmp: Path, fname: str, **tags) -> Path:
    px = ramp(16, 16, 0, 1000, np.uint16)
    return Path(write_mono(tmp / fname, px, **tags))


def _no_pixels(tmp: Path) -> Path:
    return _dataset_file(tmp, "nopixels.dcm", PixelData=None)


def _huge_header(tmp: Path) -> Path:
    return _dataset_file(tmp, "huge.dcm", Rows=65535, Columns=65535, PixelData=bytes(4096))


def _short_pixels(tmp: Path) -> Path:
    return _dataset_file(tmp, "short.dcm", PixelData=bytes(100))  # 16 x 16 x 2 bytes are expected


def _truncated_pixels(tmp: Path) -> Path:
    path = tmp / "truncated_pixels.dcm"
    data = _mr_bytes()
    path.write_bytes(data[: len(data) - 4000])  # cut inside Pixel Data
    return path


def _truncated_header(tmp: Path) -> Path:
    path = tmp / "truncated_header.dcm"
    path.write_bytes(_mr_bytes()[:300])  # preamble, DICM, part of the meta group
    return path


def _write(name: str, data: bytes):
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return make


def _folder(tmp: Path, name: str, files: dict[str, bytes]) -> Path:
    folder = tmp / name
    folder.mkdir()
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    return folder


BAD_FILES = {
    "missing-path": lambda tmp: tmp / "does_not_exist.dcm",
    "text-file": _write("notes.dcm", b"this is not a DICOM file\n" * 20),
    "png-file": _write("picture.dcm", cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()),
    "empty-file": _write("empty.dcm", b""),
    "truncated-header": _truncated_header,
    "truncated-pixels": _truncated_pixels,
    "pydicom-MR_truncated": lambda tmp: Path(pydicom_file("MR_truncated.dcm")),
    "no-pixel-data": _no_pixels,
    "huge-header": _huge_header,
    "short-pixel-data": _short_pixels,
    "corrupt-jpeg": _corrupt_stream("SC_rgb_jpeg_dcmtk.dcm"),
    "corrupt-jpeg2000": _corrupt_stream("JPEG2000.dcm"),
    "unknown-photometric": lambda tmp: _dataset_file(tmp, "photometric.dcm", PhotometricInterpretation="ZEBRA"),
    "empty-folder": lambda tmp: _folder(tmp, "empty_folder", {}),
    "folder-without-dicom": lambda tmp: _folder(tmp, "text_folder", {"a.txt": b"hello\n", "b.dcm": b"no"}),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_input_file(tmp_path, case):
    """Each bad input file: exit 2, one error line naming the file, no output left, fast.
    The library reports the same problem in the same words: ``load(...).render()`` raises a
    DcmviewError whose text is exactly what the CLI prints after ``dcmview: error: ``."""
    src = Path(BAD_FILES[case](tmp_path))
    outdir = tmp_path / "out"
    outdir.mkdir()
    proc = run_cli(src, "--export", outdir / "image.png", timeout=120)  # a hang guard, not a speed test
    line = assert_one_error_line(proc, src.name)
    assert os.listdir(outdir) == [], f"output left behind: {os.listdir(outdir)}"

    with pytest.raises(dcmlib.DcmviewError) as info:
        dcmlib.load(os.fspath(src)).render()
    assert line == f"dcmview: error: {info.value}"


@pytest.mark.parametrize("case", ["missing-path", "text-file", "empty-file", "no-pixel-data", "huge-header"])
def test_bad_input_file_info(tmp_path, case):
    """``--info`` on a bad file fails the same way (exit 2, one line), except no-pixel-data may be summarised."""
    src = Path(BAD_FILES[case](tmp_path))
    proc = run_cli(src, "--info")
    if case in ("no-pixel-data", "huge-header") and proc.returncode == 0:
        return  # a header summary of a file without usable pixels is acceptable
    assert_one_error_line(proc, src.name)


ARG_ERRORS = [
    # (id, file, args)
    ("width-zero", "CT_small.dcm", ["--window", "40", "0"]),
    ("width-negative", "CT_small.dcm", ["--window", "40", "-5"]),
    ("center-not-number", "CT_small.dcm", ["--window", "abc", "400"]),
    ("width-not-number", "CT_small.dcm", ["--window", "40", "wide"]),
    ("width-nan", "CT_small.dcm", ["--window", "40", "nan"]),
    ("unknown-preset", "CT_small.dcm", ["--preset", "kidney"]),
    ("frame-zero", "MR_small.dcm", ["--frame", "0"]),
    ("frame-past-end-single", "MR_small.dcm", ["--frame", "2"]),
    ("frame-past-end-multi", "rtdose.dcm", ["--frame", "16"]),
    ("frame-negative", "rtdose.dcm", ["--frame", "-1"]),
    ("frame-not-number", "rtdose.dcm", ["--frame", "two"]),
    ("voi-past-end", "MR_small.dcm", ["--voi", "2"]),
    ("voi-none-stored", "CT_small.dcm", ["--voi", "1"]),
    ("voi-zero", "examples_overlay.dcm", ["--voi", "0"]),
    ("voi-past-end-two", "examples_overlay.dcm", ["--voi", "3"]),
]


@pytest.mark.parametrize("name, args", [a[1:] for a in ARG_ERRORS], ids=[a[0] for a in ARG_ERRORS])
def test_bad_arguments(tmp_path, name, args):
    """Bad window, preset, frame, VOI or mode: exit 2, one line naming the file, nothing written."""
    src = pydicom_file(name)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "image.png"
    proc = run_cli(src, "--export", out, *args)
    line = assert_one_error_line(proc, os.path.basename(src), out.name)
    assert os.listdir(outdir) == [], f"output left behind: {os.listdir(outdir)}"
    if "--preset" in args:
        for pname, _, _ in PRESET_ORDER:
            assert re.search(pname.replace(" ", r"[ _-]"), line), f"valid preset {pname!r} not listed: {line}"


def test_unknown_mode_is_a_usage_error(tmp_path):
    """``--mode gamma`` (not linear, linear-exact or sigmoid: a usage error): still exit 2 and one line,
    nothing written."""
    proc = run_cli(pydicom_file("MR_small.dcm"), "--export", tmp_path / "x.png", "--mode", "gamma")
    assert_one_error_line(proc, problem="gamma")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "target",
    ["missing-folder", "missing-folder-deep", "unknown-ext", "no-ext", "folder-as-output"],
)
def test_bad_output(tmp_path, target):
    """Output folder missing, unknown extension, or a folder as output: exit 2, nothing created."""
    src = pydicom_file("MR_small.dcm")
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = {
        "missing-folder": outdir / "nope" / "image.png",
        "missing-folder-deep": outdir / "a" / "b" / "image.png",
        "unknown-ext": outdir / "image.xyz",
        "no-ext": outdir / "image",
        "folder-as-output": outdir,
    }[target]
    proc = run_cli(src, "--export", out)
    assert_one_error_line(proc, out.name)
    assert os.listdir(outdir) == [], f"output left behind: {os.listdir(outdir)}"


def test_existing_output_survives_a_failed_export(tmp_path):
    """A failing export must not clobber the file that was already at OUT."""
    out = tmp_path / "image.png"
    out.write_bytes(b"precious")
    px = ramp(16, 16, 0, 1000, np.uint16)
    src = write_mono(tmp_path / "bad.dcm", px)
    proc = run_cli(src, "--export", out, "--window", "40", "0")
    assert proc.returncode == 2
    assert out.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["bad.dcm", "image.png"]


# --------------------------------------------------------------------------- malformed headers


def _malformed(name: str, *, delete=(), patch=None, raw=None, **tags):
    """A 16 x 16 ramp file with ``tags`` set; ``raw`` sets header values pydicom's writer
    would otherwise reject; ``patch`` = (old, new) replaces equal-length bytes in the file
    (to store text where a number belongs)."""

    def make(tmp: Path) -> Path:
        path = Path(write_mono(tmp / f"{name}.dcm", ramp(16, 16, 0, 1000, np.uint16), **tags))
        if raw or delete:
            ds = pydicom.dcmread(path)
            for keyword, value in (raw or {}).items():
                setattr(ds, keyword, value)
            for keyword in delete:
                delattr(ds, keyword)
            ds.save_as(path)
        if patch:
            data = path.read_bytes()
            assert patch[0] in data and len(patch[0]) == len(patch[1])
            path.write_bytes(data.replace(patch[0], patch[1]))
        return path

    return make


MALFORMED = {
    "no-rows": _malformed("no-rows", delete=["Rows"]),
    "bits-allocated-0": _malformed("bits0", raw={"BitsAllocated": 0}),
    "bits-allocated-13": _malformed("bits13", raw={"BitsAllocated": 13}),
    "bits-stored-gt-allocated": _malformed("bits20", raw={"BitsStored": 20}),
    "high-bit-0": _malformed("highbit0", raw={"HighBit": 0}),
    "samples-2": _malformed("samples2", SamplesPerPixel=2),
    "frames-0": _malformed("frames0", NumberOfFrames=0),
    "frames-huge": _malformed("frameshuge", NumberOfFrames=2**31 - 1),
    "frames-text": _malformed("framestext", NumberOfFrames=12345678, patch=(b"12345678", b"1A      ")),
    "slope-0": _malformed("slope0", RescaleSlope=0, RescaleIntercept=0),
    "slope-text": _malformed("slopetext", RescaleSlope="1234.5678", patch=(b"1234.5678 ", b"abc       ")),
    "center-text": _malformed(
        "centertext", WindowCenter="1234.5678", WindowWidth=100, patch=(b"1234.5678 ", b"abc       ")
    ),
    "width-negative": _malformed("wneg", WindowCenter=500, WindowWidth=-10),
    "centers-widths-mismatch": _malformed("cwmismatch", WindowCenter=[500, 400, 300], WindowWidth=[100]),
    "voi-function-unknown": _malformed("fn", WindowCenter=500, WindowWidth=100, VOILUTFunction="CUBIC"),
    "voi-lut-empty": _malformed("lutempty", VOILUTSequence=Sequence([lut_item([10, 0, 16], np.array([], np.uint16))])),
    "voi-lut-short": _malformed("lutshort", VOILUTSequence=Sequence([lut_item([100, 0, 16], range(10))])),
    "voi-lut-bits-0": _malformed("lutbits0", VOILUTSequence=Sequence([lut_item([10, 0, 0], range(10))])),
    "modality-lut-short": _malformed("mlutshort", ModalityLUTSequence=Sequence([lut_item([4096, 0, 16], range(10))])),
    "palette-without-lut": _malformed("palette", PhotometricInterpretation="PALETTE COLOR"),
    "ybr-one-sample": _malformed("ybr1", PhotometricInterpretation="YBR_FULL"),
    "presentation-shape-unknown": _malformed("pls", PresentationLUTShape="WEIRD"),
    "pydicom-badVR": lambda tmp: Path(pydicom_file("badVR.dcm")),
    "pydicom-SC_rgb_jpeg": lambda tmp: Path(pydicom_file("SC_rgb_jpeg.dcm")),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_header_exports_or_fails_cleanly(tmp_path, case):
    """Odd or broken headers: either an export (exit 0) or exit 2 with one error line naming
    the file. Either way stderr holds only dcmview's own lines (no Python warnings, no
    traceback) and a failure leaves nothing behind."""
    src = Path(MALFORMED[case](tmp_path))
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "image.png"
    proc = run_cli(src, "--export", out)
    assert proc.returncode in (0, 2), proc.stderr
    foreign = [ln for ln in proc.stderr.splitlines() if not ln.startswith("dcmview: ")]
    assert not foreign, f"stderr lines that are not dcmview's own: {foreign}"
    if proc.returncode == 2:
        assert_one_error_line(proc, src.name)
        assert os.listdir(outdir) == []
    else:
        assert len(proc.stderr.splitlines()) <= 1, f"more than one warning: {proc.stderr!r}"
        assert read_back(out).dtype == np.uint8


def test_successful_export_replaces_existing_output(tmp_path):
    """Exporting over an existing file replaces it (atomically: no temporary file left)."""
    out = tmp_path / "image.png"
    out.write_bytes(b"old")
    assert_ok(run_cli(pydicom_file("MR_small.dcm"), "--export", out))
    np.testing.assert_array_equal(read_back(out), dcmlib.load(pydicom_file("MR_small.dcm")).render())
    assert os.listdir(tmp_path) == ["image.png"]


@pytest.mark.parametrize(
    "name",
    [
        "JPEG2000.dcm",
        "MR_small_RLE.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPGExtended.dcm",
        "rtdose.dcm",
    ],
)
def test_huge_header_over_small_data_fails_fast_in_library(tmp_path, name):
    """Rows = Columns = 65535 over a small (compressed or multi-frame) payload: a DcmviewError
    naming the file, without allocating the frame the header promises (NumPy allocations
    are traced: 65535 x 65535 x 2 bytes would be 8 GiB; the limit is 64 MiB)."""
    ds = pydicom.dcmread(pydicom_file(name))
    ds.Rows = ds.Columns = 65535
    path = tmp_path / f"huge_{name}"
    ds.save_as(path)
    tracemalloc.start()
    try:
        with pytest.raises(dcmlib.DcmviewError) as info:
            dcmlib.load(os.fspath(path)).render()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"allocated {peak / 2**20:.0f} MiB before failing"
    assert path.name in str(info.value)


def test_paths_with_spaces_and_non_ascii(tmp_path):
    """Input and output names with spaces and non-ASCII letters work (the temporary name keeps
    the extension the encoder is chosen by)."""
    src = tmp_path / "in dir" / "Ümlaut scan.dcm"
    src.parent.mkdir()
    src.write_bytes(Path(pydicom_file("MR_small.dcm")).read_bytes())
    outdir = tmp_path / "out dir"
    outdir.mkdir()
    for name in ("bild ü.png", "bild ü.TIFF"):
        assert_ok(run_cli(src, "--export", outdir / name))
        np.testing.assert_array_equal(read_back(outdir / name), dcmlib.load(os.fspath(src)).render())
    assert sorted(os.listdir(outdir)) == ["bild ü.TIFF", "bild ü.png"]


# --------------------------------------------------------------------------- found in use (issue 22): ends of a run

FAULTS = Path(__file__).resolve().parent / "faults"


def _default_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # whatever the suite inherited (& or nohup ignore it)


def test_a_closed_stdout_is_a_quiet_normal_end(tmp_path):
    """``dcmview.py FILE --info | head -2``: the reader closes the pipe before dcmview writes; no
    'internal error', no 'Exception ignored', status 0. The pipe is closed before the interpreter has
    even finished importing, so the write always meets a closed pipe."""
    import subprocess
    import sys

    from helpers import DCMVIEW, ROOT

    for args in ([pydicom_file("CT_small.dcm"), "--info"], ["--list-presets"], ["--help"]):
        proc = subprocess.Popen(
            [sys.executable, str(DCMVIEW), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(60) == 0 and err == "", (args, err)


def test_ctrl_c_while_the_imports_run_is_one_line_and_130(tmp_path):
    """Ctrl-C in the first second (while cv2 is being imported: the import is held there by tests/faults
    until the test has sent the signal) ends with one line and status 130, not a traceback."""
    import signal
    import subprocess
    import sys
    import time

    from helpers import DCMVIEW, ROOT

    held = tmp_path / "held"
    env = dict(
        os.environ,
        PYTHONPATH=str(FAULTS),
        DCMVIEW_TEST_HOLD_IMPORT="cv2",
        DCMVIEW_TEST_HELD=str(held),
        DCMVIEW_TEST_GATE=str(tmp_path / "never"),
    )
    for args in (
        [pydicom_file("CT_small.dcm"), "--export", str(tmp_path / "x.png")],
        ["convert", pydicom_file("CT_small.dcm"), "--out", str(tmp_path / "out")],
    ):
        held.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, str(DCMVIEW), *args],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + 60
        while not held.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert held.exists(), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
        assert proc.returncode == 130 and err == "dcmview: interrupted\n", (args, err)
        assert not (tmp_path / "x.png").exists() and not (tmp_path / "out").exists()


def test_without_opencv_one_line_names_both_extras(tmp_path):
    """No cv2 importable (an ML image with neither wheel): dcmview says which extra to install, in one line."""
    import subprocess
    import sys

    from helpers import DCMVIEW, ROOT

    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoCv2:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'cv2':\n"
        "            raise ModuleNotFoundError(\"No module named 'cv2'\", name='cv2')\n"
        "sys.meta_path.insert(0, _NoCv2())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    for args in ([pydicom_file("CT_small.dcm"), "--export", str(tmp_path / "x.png")], ["--info"]):
        proc = subprocess.run(
            [sys.executable, str(DCMVIEW), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert_one_error_line(proc, problem=r"dcmview\[gui\].*dcmview\[headless\]|dcmview\[headless\].*dcmview\[gui\]")
    lib = subprocess.run([sys.executable, "-c", "import dcmlib"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert lib.returncode == 1 and "ImportError" in lib.stderr and "dcmview[headless]" in lib.stderr


def test_the_package_depends_on_no_particular_opencv_wheel():
    """The installed distribution's requirements: no OpenCV wheel in the base ones (pip would then add
    opencv-python beside an ML image's opencv-python-headless, two wheels in one cv2 folder); the gui
    extra brings opencv-python, the headless extra opencv-python-headless."""
    from importlib.metadata import requires

    reqs = requires("dcmview") or []
    base = [r for r in reqs if "extra ==" not in r]
    assert not [r for r in base if r.lower().startswith("opencv")], base

    def extra(name: str) -> list[str]:
        return [r.split(";")[0].strip().lower() for r in reqs if f'extra == "{name}"' in r]

    assert any(r.startswith("opencv-python-headless") for r in extra("headless"))
    assert any(r.startswith("opencv-python") and "headless" not in r for r in extra("gui"))
    assert any(r.startswith("opencv-python") and "headless" not in r for r in extra("test"))


def test_help_names_the_convert_subcommand():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "dcmview.py convert SRC... --out DIR" in " ".join(proc.stdout.split())


# --------------------------------------------------------------------------- one command line (issue 16)


SHARED_FLAGS = (
    "--window",
    "--preset",
    "--voi",
    "--mode",
    "--invert",
    "--no-overlays",
    "--no-shutters",
    "--pstate",
    "--no-annotations",
    "--presets",
    "--plane",
    "--cache-mb",
    "--seg",
    "--seg-alpha",
    "--seg-outline",
    "--debug",
)


def _flags(parser) -> dict[str, tuple]:
    return {
        opt: (a.help, a.default, a.choices, a.nargs, a.metavar)
        for a in parser._actions  # argparse's table
        for opt in a.option_strings
    }


def test_the_shared_flags_mean_the_same_in_the_viewer_and_convert():
    """One declaration per flag: the same help, default, choices and arity in both parsers; the default
    segmentation opacity is the library's, everywhere."""
    import dcmview
    from dcmlib.app import convert
    from dcmlib.batch.options import ConvertOptions
    from dcmlib.objects import segmentation
    from dcmlib.viewer.state import TrackbarScale, ViewerState

    viewer, conv = _flags(dcmview.build_parser()), _flags(convert.build_parser())
    for flag in SHARED_FLAGS:
        assert viewer[flag] == conv[flag], flag
    assert (
        float(viewer["--seg-alpha"][1])
        == segmentation.DEFAULT_ALPHA
        == ConvertOptions().seg_alpha
        == ViewerState(center=0, width=1, scale=TrackbarScale.for_range(0, 1)).seg_alpha
    )
    import inspect

    assert inspect.signature(dcmlib.convert).parameters["seg_alpha"].default == segmentation.DEFAULT_ALPHA


@pytest.mark.parametrize("cmd", [["--export", "OUT"], ["convert", "--out", "OUT"]])
def test_a_named_presets_file_that_cannot_be_used_is_the_same_error_in_both(tmp_path, cmd):
    """``--presets FILE`` the user named but that cannot be used: one error line, status 2, no output, in the
    viewer's export and in convert alike (a default presets file falls back with a line, as before)."""
    src = write_mono(tmp_path / "ct.dcm", ramp(16, 16, 0, 2000))
    bad = tmp_path / "bad.toml"
    bad.write_text("[CT]\nlung = { center = -600 }\n")
    out = tmp_path / ("x.png" if cmd[0] == "--export" else "out")
    args = [a if a != "OUT" else str(out) for a in cmd]
    proc = run_cli(*(args[:1] + [src] + args[1:] if cmd[0] == "convert" else [src] + args), "--presets", bad)
    assert proc.returncode == 2 and not out.exists(), proc.stderr
    assert proc.stderr.splitlines() == [f"dcmview: error: {bad}: [CT] preset 'lung': width must be a number, got None"]

"""Batch conversion: ``dcmview.py convert`` and ``dcmlib.convert`` (dcmlib.batch).

Contract under test:

- every written image equals ``dcmview.py FILE --export OUT --frame N`` with the same
  options, byte for byte (the export is the reference, run as the CLI runs it);
- ``png16`` / ``npy`` values and ``--channels`` against pydicom's ``apply_modality_lut``
  and the window formula worked here; ``--layout series`` order against geometry chosen here;
- ``DIR/manifest.csv``: one row per output or failed source, the columns the README names,
  readable by ``pandas.read_csv``; no patient name or ID in it or in any path;
- a worker that dies by a real signal (SIGABRT from a decoder, SIGKILL from outside) or
  runs past ``--timeout`` fails only its file; a fresh worker carries on;
- exit status 0 / 1 / 2 / 130, the summary line, never a partial file, Ctrl-C and
  ``--resume`` (only what is missing is redone; the result equals a clean run).

The crash cases use ``tests/faults`` (a test-only decoder wrapper that really aborts,
hangs or slows down on marked pixel data; see its docstring).  Images are 64 x 64 or
smaller and trees hold a dozen files at most, so the module stays fast.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import imagecodecs
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut
from pydicom.sequence import Sequence
from pydicom.uid import JPEG2000Lossless, generate_uid

import dcmlib
import dcmlib.read.decode
import dcmview
from dcmlib.batch.job import COLUMNS, Job
from dcmlib.batch.manifest import read_rows
from dcmlib.batch.options import ConvertOptions
from dcmlib.batch.pool import LocalPool, remove_unfinished
from dcmlib.batch.progress import Progress
from dcmlib.batch.task import convert_file
from helpers import DCMVIEW, ROOT, assert_one_error_line, make_ds, ramp, write_ds, write_series

FAULTS = ROOT / "tests" / "faults"
sys.path.insert(0, str(FAULTS))
import dcmview_faults  # noqa: E402  (test-only, from tests/faults)

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
ULTRASOUND = "1.2.840.10008.5.1.4.1.1.6.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
PHI = ("Doe", "Jane", "PID-12345")  # make_ds's patient name and ID
REQUIRED_COLUMNS = (
    "output, source, frame, status, error, sop_instance_uid, series_instance_uid, modality, rows, "
    "columns, photometric, center, width, voi_function, window_source, rescale_slope, "
    "rescale_intercept, value_offset, pixel_spacing, slice_position"
).split(", ")
SUMMARY = re.compile(
    r"^dcmview: converted (\d+) of (\d+) files? \((\d+) images?\) in \d+\.\d s, (\d+) failed, "
    r"(\d+) skipped(, \d+ kept from the previous run)? \(see (.+)\)$"
)


@pytest.fixture(autouse=True)
def no_user_presets(tmp_path_factory, monkeypatch):
    """No developer's presets file reaches --export or convert here (both read $XDG_CONFIG_HOME's)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("no-config")))


# --------------------------------------------------------------------------- building the sources


def put(ds: Dataset, path: Path) -> str:
    """write_ds, creating the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_ds(ds, path)


#: The CT slices' header: HU = stored - 1024, window 40/400, 0.5 mm pixels.
CT_TAGS = dict(
    RescaleSlope=1.0,
    RescaleIntercept=-1024.0,
    WindowCenter=40.0,
    WindowWidth=400.0,
    SeriesNumber=3,
    PixelSpacing=[0.5, 0.5],
)


def ct_pixels(z: float) -> np.ndarray:
    """A 64 x 64 axial CT slice's stored values at z (mm): 0..2000 (+ z)."""
    return ramp(64, 64, 0, 2000) + np.int16(round(z))


def marked(markers) -> object:
    """An ``edit`` for :func:`helpers.write_series`: slice k's pixel data begins with ``markers(k)`` (tests/faults)."""

    def edit(k: int, ds: Dataset) -> None:
        marker = markers(k)
        raw = bytearray(ds.PixelData)
        raw[: len(marker)] = marker
        ds.PixelData = bytes(raw)

    return edit


def ct_ipp(z: float) -> list[float]:
    return [-32.0, -32.0, z]


def ct_slice(path: Path, z: float, *, series: str, study: str, marker: bytes = b"", **tags) -> str:
    """A 64 x 64 axial CT slice at z (mm): stored 0..2000, HU = stored - 1024, window 40/400."""
    (written,) = write_series(
        Path(path).parent,
        [ct_pixels(z)],
        [ct_ipp(z)],
        names=lambda k: Path(path).name,
        orientation=AXIAL,
        edit=marked(lambda k: marker),
        StudyInstanceUID=study,
        SeriesInstanceUID=series,
        **{**CT_TAGS, "InstanceNumber": None, **tags},
    )
    return written


def ct_series(folder: Path, zs=(10.0, -5.0, 2.5, 0.0), marker=b"") -> list[str]:
    """Slices at ``zs`` written as IM0, IM1, ... (file order is not slice order); ``marker`` (bytes, or a
    function of the slice index) begins each slice's pixel data (tests/faults)."""
    return write_series(
        folder,
        [ct_pixels(z) for z in zs],
        [ct_ipp(z) for z in zs],
        names="IM{k}.dcm",
        orientation=AXIAL,
        edit=marked(marker if callable(marker) else lambda k: marker),
        **CT_TAGS,
    )


#: Enhanced MR frames: (rescale slope, intercept, window center, width, z position) per frame.
MR_FRAMES = [(1.0, 0.0, 500.0, 1000.0, 0.0), (2.0, -100.0, 900.0, 600.0, 4.0), (1.0, 50.0, 300.0, 200.0, 8.0)]


def enhanced_mr(path: Path) -> str:
    """A 3-frame enhanced MR: per-frame rescale (Pixel Value Transformation), window and position."""
    frames = np.stack([ramp(48, 64, 10 * i, 1000 + 300 * i, np.uint16) for i in range(3)])
    shared, measures, orient = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing = [0.8, 0.7]
    orient.ImageOrientationPatient = AXIAL
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = Sequence([measures]), Sequence([orient])
    items = []
    for slope, intercept, center, width, z in MR_FRAMES:
        item, pvt, voi, pos = Dataset(), Dataset(), Dataset(), Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, intercept, "US"
        voi.WindowCenter, voi.WindowWidth = center, width
        pos.ImagePositionPatient = [0.0, 0.0, z]
        item.PixelValueTransformationSequence = Sequence([pvt])
        item.FrameVOILUTSequence = Sequence([voi])
        item.PlanePositionSequence = Sequence([pos])
        items.append(item)
    return put(
        make_ds(
            frames,
            SOPClassUID=ENHANCED_MR,
            Modality="MR",
            BitsStored=12,
            HighBit=11,
            SharedFunctionalGroupsSequence=Sequence([shared]),
            PerFrameFunctionalGroupsSequence=Sequence(items),
        ),
        path,
    )


def colour_us(path: Path) -> str:
    rgb = np.zeros((40, 64, 3), np.uint8)
    rgb[..., 0] = np.arange(64, dtype=np.uint8) * 4
    rgb[..., 1] = 128
    rgb[:20, :, 2] = 255
    return put(make_ds(rgb, SamplesPerPixel=3, SOPClassUID=ULTRASOUND, Modality="US"), path)


def j2k_ct(path: Path, comment: bytes = b"") -> str:
    """A JPEG 2000 lossless CT slice; ``comment`` goes into a COM segment of the codestream (ISO 15444-1 A.9.2)."""
    px = ramp(64, 64, 0, 3000, np.uint16)
    stream = imagecodecs.jpeg2k_encode(px, level=0, codecformat="J2K")
    if comment:
        siz_end = 4 + struct.unpack(">H", stream[4:6])[0]
        stream = stream[:siz_end] + b"\xff\x64" + struct.pack(">HH", 4 + len(comment), 1) + comment + stream[siz_end:]
    ds = make_ds(
        px, transfer_syntax=JPEG2000Lossless, BitsStored=12, HighBit=11, RescaleSlope=1.0, RescaleIntercept=-1024.0
    )
    ds.PixelData = encapsulate([stream])
    return put(ds, path)


def mixed_tree(root: Path) -> dict[str, str]:
    """The issue's mixed tree: CT series, enhanced MR, colour US, JPEG 2000, a truncated file, a text file,
    a corrupt JPEG 2000 stream that crashes its decoder, and a DICOM file without pixel data."""
    files = {f"ct{i}": p for i, p in enumerate(ct_series(root / "ct"))}
    files["mr"] = enhanced_mr(root / "mr" / "enhanced.dcm")
    files["us"] = colour_us(root / "us.dcm")
    files["j2k"] = j2k_ct(root / "j2k.dcm")
    files["crash"] = j2k_ct(root / "corrupt_j2k.dcm", comment=dcmview_faults.ABORT)
    good = ct_slice(root / "truncated.dcm", 0.0, series=generate_uid(), study=generate_uid())
    data = Path(good).read_bytes()
    Path(good).write_bytes(data[: len(data) - 3000])
    files["truncated"] = good
    (root / "notes.txt").write_text("not an image\n")
    files["sr"] = put(make_ds(PixelData=None, SOPClassUID=BASIC_TEXT_SR, Modality="SR"), root / "report.dcm")
    return files


# --------------------------------------------------------------------------- running it


def run_convert(
    *args, faults: bool = False, env: dict | None = None, timeout: float = 120, **popen
) -> subprocess.CompletedProcess[str]:
    """``python dcmview.py convert ARGS`` as a user runs it; ``faults`` puts tests/faults on PYTHONPATH."""
    return subprocess.run(
        [sys.executable, os.fspath(DCMVIEW), "convert", *map(os.fspath, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(faults, env),
        **popen,
    )


def subprocess_env(faults: bool, extra: dict | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra or {}))
    if faults:
        env["PYTHONPATH"] = os.pathsep.join([str(FAULTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def export(src: str, frame: int, *options: str, suffix: str = ".png", tmp: Path) -> bytes:
    """The bytes ``dcmview.py SRC --export OUT --frame N OPTIONS`` writes (dcmview.main, in this process)."""
    out = tmp / f"export-{os.getpid()}-{time.monotonic_ns()}{suffix}"
    assert dcmview.main([src, "--export", str(out), "--frame", str(frame), *options]) == 0
    data = out.read_bytes()
    out.unlink()
    return data


def rows_of(out: Path) -> list[dict[str, str]]:
    return read_rows(str(out / "manifest.csv"))


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def assert_clean(out: Path) -> None:
    """No temporary file, and nothing under DIR but the manifest and the outputs it lists."""
    listed = {r["output"] for r in rows_of(out) if r["output"]}
    assert files_under(out) == listed | {"manifest.csv", "manifest.json"}


def assert_no_phi(out: Path) -> None:
    text = (out / "manifest.csv").read_text() + (out / "manifest.json").read_text() + "\n".join(files_under(out))
    for word in PHI:
        assert word not in text


def cli(*args: str | Path) -> int:
    """``dcmview.main(["convert", ...])`` in this process: its exit status (argparse exits with 2)."""
    try:
        return dcmview.main(["convert", *map(str, args)])
    except SystemExit as exc:
        return int(exc.code)


def convert(sources, out, **kw) -> dcmlib.ConvertReport:
    """dcmlib.convert with 2 workers and no progress output (the tests' default)."""
    kw.setdefault("workers", 2)
    kw.setdefault("progress", False)
    return dcmlib.convert(sources, out, **kw)


# --------------------------------------------------------------------------- the mixed tree, end to end


def test_mixed_tree_converts_what_it_can_and_fails_the_rest_with_reasons(tmp_path):
    """Right outputs, rows, counts and exit status 1; a real decoder abort fails only its file; every
    image equals --export; no partial file; the summary line; no patient identifier anywhere."""
    files = mixed_tree(tmp_path / "src")
    out = tmp_path / "out"
    proc = run_convert(tmp_path / "src", "--out", out, "--no-progress", "--workers", "2", faults=True)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    assert m.groups()[:5] == ("7", "9", "9", "2", "2") and m.group(7) == f"{out}/manifest.csv"

    rows = rows_of(out)
    by_source = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
    assert set(by_source) == set(files.values()) | {str(tmp_path / "src" / "notes.txt")}
    skips = {
        s: (rs[0]["status"], rs[0]["error"], rs[0]["output"])
        for s, rs in by_source.items()
        if rs[0]["status"] == "skipped"
    }
    assert skips == {
        files["sr"]: ("skipped", "no pixel data", ""),
        str(tmp_path / "src" / "notes.txt"): ("skipped", "not DICOM", ""),
    }
    assert by_source[files["crash"]][0]["error"] == "decoder crashed (signal 6)"
    truncated = by_source[files["truncated"]]
    assert [r["status"] for r in truncated] == ["failed"] and "pixel data" in truncated[0]["error"]
    assert not re.search(r"Error|Traceback|object|None", truncated[0]["error"])
    assert sorted(r["output"] for r in by_source[files["mr"]]) == [f"mr/enhanced_f000{i}.png" for i in (1, 2, 3)]

    for r in rows:
        if r["status"] == "ok":
            assert (out / r["output"]).read_bytes() == export(r["source"], int(r["frame"]), tmp=tmp_path), r
    assert_clean(out)
    assert_no_phi(out)


def test_an_output_equals_the_export_of_the_cli_itself(tmp_path):
    """The byte-for-byte reference run as a user runs it: python dcmview.py FILE --export OUT."""
    src = ct_series(tmp_path / "src", zs=(0.0,))[0]
    report = convert([src], tmp_path / "out", preset="lung", invert=True, workers=1)
    proc = subprocess.run(
        [sys.executable, str(DCMVIEW), src, "--export", str(tmp_path / "ref.png"), "--preset", "lung", "--invert"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert report.images == 1 and (tmp_path / "out" / "IM0.png").read_bytes() == (tmp_path / "ref.png").read_bytes()


def test_manifest_columns_and_pandas(tmp_path):
    import pandas  # the test extra has it: a broken install fails here, it does not skip

    files = {"mr": enhanced_mr(tmp_path / "src" / "mr.dcm"), "ct": ct_series(tmp_path / "src" / "ct")[1]}
    convert([tmp_path / "src"], tmp_path / "out")
    table = pandas.read_csv(tmp_path / "out" / "manifest.csv")
    assert list(table.columns[: len(REQUIRED_COLUMNS)]) == REQUIRED_COLUMNS and list(table.columns) == list(COLUMNS)
    assert len(table) == 7 and set(table["status"]) == {"ok"}
    mr = table[table["source"] == files["mr"]].sort_values("frame")
    assert list(mr["frame"]) == [1, 2, 3]
    assert list(mr["center"]) == [f[2] for f in MR_FRAMES] and list(mr["width"]) == [f[3] for f in MR_FRAMES]
    assert list(mr["rescale_slope"]) == [f[0] for f in MR_FRAMES]
    assert list(mr["rescale_intercept"]) == [f[1] for f in MR_FRAMES]
    assert list(mr["slice_position"]) == [f[4] for f in MR_FRAMES]
    assert set(mr["pixel_spacing"]) == {"0.8\\0.7"} and set(mr["window_source"]) == {"file VOI 1"}
    ct = table[table["source"] == files["ct"]].iloc[0]
    assert (ct["modality"], ct["rows"], ct["columns"], ct["photometric"]) == ("CT", 64, 64, "MONOCHROME2")
    assert ct["slice_position"] == -5.0 and ct["voi_function"] == "LINEAR"
    assert ct["sop_instance_uid"] == pydicom.dcmread(files["ct"]).SOPInstanceUID


# --------------------------------------------------------------------------- windows and formats


@pytest.mark.parametrize(
    "options, cli, source",
    [
        ({}, [], "file VOI 1"),
        ({"window": (-600, 1500)}, ["--window", "-600", "1500"], "user"),
        (
            {"preset": "Soft-Tissue", "mode": "sigmoid"},
            ["--preset", "soft tissue", "--mode", "sigmoid"],
            "preset soft tissue",
        ),
        ({"voi": 1, "invert": True}, ["--voi", "1", "--invert"], "file VOI 1"),
        ({"format": "tif", "mode": "linear-exact"}, ["--mode", "linear-exact"], "file VOI 1"),
        ({"format": "jpg"}, [], "file VOI 1"),
    ],
)
def test_windows_mean_what_they_mean_for_export(tmp_path, options, cli, source):
    src = ct_series(tmp_path / "src", zs=(0.0,))[0]
    convert([src], tmp_path / "out", **options)
    (row,) = rows_of(tmp_path / "out")
    suffix = {"tif": ".tif", "jpg": ".jpg"}.get(options.get("format", "png"), ".png")
    assert row["output"] == f"IM0{suffix}" and row["window_source"] == source
    assert (tmp_path / "out" / row["output"]).read_bytes() == export(src, 1, *cli, suffix=suffix, tmp=tmp_path)


def test_min_max_and_auto_windows_are_recorded_and_reproducible(tmp_path):
    """No stored window: min-max; --auto: the viewer's percentile window, written in full precision so
    --export --window C W reproduces the image."""
    src = put(make_ds(ramp(32, 48, -300, 1700)), tmp_path / "plain.dcm")
    convert([src], tmp_path / "mm")
    (row,) = rows_of(tmp_path / "mm")
    assert row["window_source"] == "min-max" and (row["center"], row["width"]) == ("700.5", "2001.0")
    convert([src], tmp_path / "auto", auto=True)
    (row,) = rows_of(tmp_path / "auto")
    c, w = dcmlib.load(src).auto_window(0)
    assert row["window_source"] == "auto" and (float(row["center"]), float(row["width"])) == (c, w)
    expected = export(src, 1, "--window", row["center"], row["width"], tmp=tmp_path)
    assert (tmp_path / "auto" / "plain.png").read_bytes() == expected


USER_PRESETS = """[CT]
lung = { center = -500, width = 1400, function = "sigmoid" }
[MR]
lung = { center = 400, width = 700 }
"""


def test_user_presets_mean_what_they_mean_for_export(tmp_path):
    """A presets file's 'lung' for CT and for MR, looked up per file by modality, as --export --presets does;
    without --presets the CLI reads the default file ($XDG_CONFIG_HOME/dcmview/presets.toml) as --export does."""
    ct = ct_series(tmp_path / "src", zs=(0.0,))[0]
    mr = enhanced_mr(tmp_path / "src" / "mr.dcm")
    presets = tmp_path / "config" / "dcmview" / "presets.toml"
    presets.parent.mkdir(parents=True)
    presets.write_text(USER_PRESETS)
    convert([tmp_path / "src"], tmp_path / "out", preset="lung", presets=presets)
    rows = {(r["source"], r["frame"]): r for r in rows_of(tmp_path / "out")}
    assert (rows[(ct, "1")]["center"], rows[(ct, "1")]["voi_function"]) == ("-500.0", "SIGMOID")
    assert rows[(mr, "2")]["center"] == "400.0" and rows[(mr, "2")]["window_source"] == "preset lung"
    assert (tmp_path / "out" / "IM0.png").read_bytes() == export(
        ct, 1, "--preset", "lung", "--presets", str(presets), tmp=tmp_path
    )
    assert (tmp_path / "out" / "mr_f0002.png").read_bytes() == export(
        mr, 2, "--preset", "lung", "--presets", str(presets), tmp=tmp_path
    )
    proc = run_convert(
        tmp_path / "src",
        "--out",
        tmp_path / "cli",
        "--preset",
        "lung",
        "--no-progress",
        env={"XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cli" / "manifest.csv").read_bytes() == (tmp_path / "out" / "manifest.csv").read_bytes()
    with pytest.raises(dcmlib.InvalidArgumentError, match="other options"):  # the presets decide the outputs
        convert([tmp_path / "src"], tmp_path / "out", preset="lung", resume=True)


def linear_window(x: np.ndarray, c: float, w: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 LINEAR, worked here: 0..255."""
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    return np.clip(y, 0, 255)


def test_channels_put_the_first_window_in_red(tmp_path):
    src = ct_series(tmp_path / "src", zs=(0.0,))[0]
    convert([src], tmp_path / "out", channels="lung,mediastinum,-50/300")
    image = cv2.imread(str(tmp_path / "out" / "IM0.png"), cv2.IMREAD_UNCHANGED)
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # as readers other than OpenCV see the file
    ds = pydicom.dcmread(src)
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    for channel, (c, w) in enumerate([(-600, 1500), (50, 350), (-50, 300)]):
        assert np.abs(rgb[..., channel].astype(float) - linear_window(hu, c, w)).max() <= 0.5 + 1e-9
    for channel, flags in enumerate([["--preset", "lung"], ["--preset", "mediastinum"], ["--window", "-50", "300"]]):
        ref = cv2.imdecode(np.frombuffer(export(src, 1, *flags, tmp=tmp_path), np.uint8), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(rgb[..., channel], ref)
    (row,) = rows_of(tmp_path / "out")
    assert row["window_source"] == "preset lung;preset mediastinum;user"
    assert row["center"] == "-600.0;50.0;-50.0" and row["width"] == "1500.0;350.0;300.0"


@pytest.mark.parametrize("fmt, suffix", [("png16", ".png"), ("tif16", ".tif")])
def test_16_bit_outputs_hold_modality_values_with_an_offset(tmp_path, fmt, suffix):
    """pixel + value_offset == pydicom's apply_modality_lut, per frame (enhanced MR: per-frame rescale)."""
    ct = ct_series(tmp_path / "src" / "ct", zs=(0.0,))[0]
    mr = enhanced_mr(tmp_path / "src" / "mr.dcm")
    convert([tmp_path / "src"], tmp_path / "out", format=fmt)
    rows = {(r["source"], r["frame"]): r for r in rows_of(tmp_path / "out")}
    ds = pydicom.dcmread(ct)
    row = rows[(ct, "1")]
    pixel = cv2.imread(str(tmp_path / "out" / row["output"]), cv2.IMREAD_UNCHANGED)
    assert pixel.dtype == np.uint16 and row["pixel_values"] == "modality"
    assert int(row["value_offset"]) == -1024 - 32768  # the lowest value 16 signed bits can express, in HU
    assert np.array_equal(pixel.astype(np.int64) + int(row["value_offset"]), apply_modality_lut(ds.pixel_array, ds))
    mr_ds = pydicom.dcmread(mr)
    for f, (slope, intercept, *_) in enumerate(MR_FRAMES):
        row = rows[(mr, str(f + 1))]
        assert row["output"] == f"mr_f000{f + 1}{suffix}"
        pixel = cv2.imread(str(tmp_path / "out" / row["output"]), cv2.IMREAD_UNCHANGED).astype(np.int64)
        expected = mr_ds.pixel_array[f].astype(np.int64) * int(slope) + int(intercept)  # C.7.6.16.2.9, by hand
        assert np.array_equal(pixel + int(row["value_offset"]), expected)


def test_16_bit_outputs_of_a_fractional_rescale_hold_stored_values(tmp_path):
    px = ramp(16, 16, -2000, 2000)
    src = put(make_ds(px, RescaleSlope=0.25, RescaleIntercept=3.0, BitsStored=12, HighBit=11), tmp_path / "f.dcm")
    convert([src], tmp_path / "out", format="png16")
    (row,) = rows_of(tmp_path / "out")
    pixel = cv2.imread(str(tmp_path / "out" / "f.png"), cv2.IMREAD_UNCHANGED).astype(np.int64)
    assert row["pixel_values"] == "stored" and (row["rescale_slope"], row["rescale_intercept"]) == ("0.25", "3.0")
    ds = pydicom.dcmread(src)
    assert np.array_equal((pixel + int(row["value_offset"])) * 0.25 + 3.0, apply_modality_lut(ds.pixel_array, ds))


def test_npy_holds_float32_modality_values_and_colour_stays_colour(tmp_path):
    ct = ct_series(tmp_path / "src", zs=(0.0,))[0]
    us = colour_us(tmp_path / "src" / "us.dcm")
    convert([tmp_path / "src"], tmp_path / "out", format="npy")
    values = np.load(tmp_path / "out" / "IM0.npy")
    ds = pydicom.dcmread(ct)
    assert values.dtype == np.float32 and np.array_equal(values, apply_modality_lut(ds.pixel_array, ds))
    assert np.array_equal(np.load(tmp_path / "out" / "us.npy"), pydicom.dcmread(us).pixel_array)
    convert([tmp_path / "src"], tmp_path / "png")
    bgr = cv2.imread(str(tmp_path / "png" / "us.png"), cv2.IMREAD_UNCHANGED)
    assert bgr.shape == (40, 64, 3) and np.array_equal(bgr[..., ::-1], pydicom.dcmread(us).pixel_array)


def test_frames_first_and_n(tmp_path):
    mr = enhanced_mr(tmp_path / "src" / "mr.dcm")
    ct = ct_series(tmp_path / "src", zs=(0.0,))[0]
    convert([tmp_path / "src"], tmp_path / "first", frames="first")
    assert files_under(tmp_path / "first") == {"mr_f0001.png", "IM0.png", "manifest.csv", "manifest.json"}
    report = convert([tmp_path / "src"], tmp_path / "two", frames=2)
    assert report.failed == 1 and report.converted == 1 and report.exit_status == 1
    rows = {r["source"]: r for r in rows_of(tmp_path / "two")}
    assert rows[mr]["output"] == "mr_f0002.png" and rows[mr]["frame"] == "2"
    assert rows[ct]["status"] == "failed" and rows[ct]["error"] == "frame 2 out of range (1..1)"
    assert (tmp_path / "two" / "mr_f0002.png").read_bytes() == export(mr, 2, tmp=tmp_path)


# --------------------------------------------------------------------------- layouts


def test_series_layout_orders_slices_along_the_normal_and_names_no_patient(tmp_path):
    """Oblique slices: the normal cross(row, column) is worked here; slice k is the k-th along it."""
    row_dir = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    col_dir = np.array([0.0, 0.0, -1.0])
    normal = np.cross(row_dir, col_dir)  # (-0.707, 0.707, 0)
    steps = [3.0, -6.0, 0.0, 9.0, -3.0]  # mm along the normal, in file order
    series, study = generate_uid(), generate_uid()
    paths = []
    for i, s in enumerate(steps):
        ds = make_ds(
            ramp(16, 16, 0, 100 + 10 * i),
            StudyInstanceUID=study,
            SeriesInstanceUID=series,
            SeriesNumber=7,
            Modality="CT",
            ImageOrientationPatient=[*row_dir, *col_dir],
            ImagePositionPatient=list(np.array([5.0, 5.0, 5.0]) + s * normal),
            InstanceNumber=i + 1,
        )
        paths.append(put(ds, tmp_path / "src" / "Doe_Jane" / f"x{i}.dcm"))
    convert([tmp_path / "src"], tmp_path / "out", layout="series")
    rows = rows_of(tmp_path / "out")
    (folder,) = {os.path.dirname(r["output"]) for r in rows}
    study_dir, series_dir = folder.split("/")
    assert re.fullmatch(r"[0-9a-f]{12}", study_dir) and re.fullmatch(r"7-CT-[0-9a-f]{8}", series_dir)
    expected = [paths[i] for i in np.argsort(steps)]
    got = [r["source"] for r in sorted(rows, key=lambda r: r["output"])]
    assert got == expected
    assert [r["output"] for r in sorted(rows, key=lambda r: r["output"])] == [
        f"{folder}/{k:04d}.png" for k in range(1, 6)
    ]
    positions = [float(r["slice_position"]) for r in sorted(rows, key=lambda r: r["output"])]
    assert positions == pytest.approx(sorted(np.array(steps) + np.dot([5.0, 5.0, 5.0], normal)))
    for word in (*PHI, series, study):
        assert all(word not in p for p in files_under(tmp_path / "out"))


def test_mirror_layout_names(tmp_path):
    a = put(make_ds(), tmp_path / "src" / "a" / "IM1.dcm")
    b = put(make_ds(), tmp_path / "src" / "a" / "IM1")  # would be IM1.png too: keeps its full name
    c = put(make_ds(), tmp_path / "src" / "b" / "1.2.840.5")
    convert([tmp_path / "src"], tmp_path / "out")
    names = {r["source"]: r["output"] for r in rows_of(tmp_path / "out")}
    assert {names[b], names[a]} == {"a/IM1.png", "a/IM1.dcm.png"} and names[c] == "b/1.2.840.5.png"
    convert([tmp_path / "src" / "a", tmp_path / "src" / "b" / "1.2.840.5"], tmp_path / "two")
    assert {r["output"] for r in rows_of(tmp_path / "two")} == {"a/IM1.png", "a/IM1.dcm.png", "b/1.2.840.5.png"}


# --------------------------------------------------------------------------- crash isolation


def _kill_worker_after(delay: float, sig: int) -> threading.Thread:
    """Kill, from outside, the first conversion worker this process starts, ``delay`` seconds after it starts."""

    def kill() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = [p for p in multiprocessing.active_children() if p.name == "dcmview-convert"]
            if workers:
                time.sleep(delay)
                os.kill(workers[0].pid, sig)
                return
            time.sleep(0.02)

    t = threading.Thread(target=kill, daemon=True)
    t.start()
    return t


def test_a_worker_killed_from_outside_fails_only_its_file(tmp_path, monkeypatch):
    """SIGKILL (what the kernel's OOM killer sends) on the worker of a hanging file: that file fails,
    a fresh worker converts the next one."""
    monkeypatch.setattr(dcmlib.read.decode, "pixel_array", dcmview_faults.faulty(dcmlib.read.decode.pixel_array))
    ct_series(tmp_path / "src", zs=(0.0,), marker=dcmview_faults.HANG)  # IM0.dcm, first in order
    ok = ct_slice(tmp_path / "src" / "ok.dcm", 1.0, series=generate_uid(), study=generate_uid())
    killer = _kill_worker_after(0.5, signal.SIGKILL)
    report = convert([tmp_path / "src"], tmp_path / "out", workers=1, timeout=60)
    killer.join()
    rows = {r["source"]: r for r in rows_of(tmp_path / "out")}
    killed = rows[str(tmp_path / "src" / "IM0.dcm")]["error"]
    assert killed == "decoder crashed (signal 9; killed, perhaps out of memory)"
    assert rows[ok]["status"] == "ok" and (report.converted, report.failed) == (1, 1)
    assert_clean(tmp_path / "out")


def test_a_file_past_the_timeout_fails_and_the_run_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(dcmlib.read.decode, "pixel_array", dcmview_faults.faulty(dcmlib.read.decode.pixel_array))
    ct_series(tmp_path / "src", zs=(0.0,), marker=dcmview_faults.HANG)
    ok = ct_series(tmp_path / "src" / "more", zs=(1.0, 2.0))
    report = convert([tmp_path / "src"], tmp_path / "out", workers=2, timeout=1.5)
    rows = {r["source"]: r for r in rows_of(tmp_path / "out")}
    assert rows[str(tmp_path / "src" / "IM0.dcm")]["error"] == "timed out after 1.5 s"
    assert all(rows[p]["status"] == "ok" for p in ok) and (report.converted, report.failed) == (2, 1)


def test_spawned_workers_crash_the_same_way(tmp_path):
    """Without fork (macOS, Windows): the same isolation with spawned workers."""
    from dcmlib.batch.run import run_conversion

    files = {
        "crash": j2k_ct(tmp_path / "src" / "a.dcm", comment=dcmview_faults.ABORT),
        "ok": j2k_ct(tmp_path / "src" / "b.dcm"),
    }
    code = (
        "import sys; from dcmlib.batch.run import run_conversion; from dcmlib.batch.options import "
        "ConvertOptions; r = run_conversion([sys.argv[1]], sys.argv[2], ConvertOptions(), workers=1, "
        "progress=False, start_method='spawn'); print(r.converted, r.failed)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "src"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=subprocess_env(True),
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.split() == ["1", "1"], proc.stderr
    rows = {r["source"]: r for r in rows_of(tmp_path / "out")}
    assert rows[files["crash"]]["error"] == "decoder crashed (signal 6)" and rows[files["ok"]]["status"] == "ok"
    assert run_conversion  # the module the subprocess runs


# --------------------------------------------------------------------------- interrupt, resume, overwrite


def slow_tree(root: Path, n: int = 10) -> list[str]:
    """``n`` CT slices whose decoding takes DCMVIEW_TEST_SLOW seconds each under tests/faults."""
    return ct_series(root, zs=tuple(float(z) for z in range(n)), marker=dcmview_faults.SLOW)


def gated_tree(root: Path, n: int = 10, free: int = 2) -> list[str]:
    """``n`` CT slices of one series: the first ``free`` convert at once, the rest wait under tests/faults
    until the gate file exists (see :func:`gate_env`), so a run is held in progress deterministically."""
    return ct_series(root, [float(i) for i in range(n)], lambda k: b"" if k < free else dcmview_faults.GATE)


def gate_env(gate: Path) -> dict[str, str]:
    return {"DCMVIEW_TEST_GATE": str(gate)}


def _default_sigint() -> None:
    """In the child, before exec: SIGINT back to its default. A suite started in the background (``&`` in a
    non-interactive shell, nohup, some CI runners) has SIGINT ignored, which children inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def convert_under_way(
    src: Path, out: Path, *args: str, faults: bool, env: dict | None = None, rows: int = 2
) -> subprocess.Popen:
    """``dcmview.py convert SRC --out OUT ARGS`` started, once its manifest holds ``rows`` rows (or it ended).

    The child gets SIGINT's default handling whatever this process inherited, so Ctrl-C can be sent to it."""
    proc = subprocess.Popen(
        [sys.executable, str(DCMVIEW), "convert", str(src), "--out", str(out), *args, "--no-progress"],
        cwd=ROOT,
        env=subprocess_env(faults, env),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "manifest.csv").exists() and len(rows_of(out)) >= rows:
            break
        time.sleep(0.05)
    return proc


def test_ctrl_c_stops_cleanly_and_resume_finishes_as_a_clean_run(tmp_path):
    """Ctrl-C while two files are done and the others are held (gated) in the workers: exit 130, the two
    rows and outputs kept, nothing partial; --resume (gate open) then equals a clean run."""
    src, gate = tmp_path / "src", tmp_path / "gate"
    gated_tree(src)
    out = tmp_path / "out"
    proc = convert_under_way(src, out, "--workers", "2", faults=True, env=gate_env(gate))
    assert proc.poll() is None, proc.communicate()[1]  # held open by the gate, however fast the machine
    proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, stderr
    assert "dcmview: interrupted: converted 2 of" in stderr and "8 not done" in stderr, stderr
    assert "--resume" in stderr
    assert "Traceback" not in stderr
    done = rows_of(out)
    assert sorted(r["source"] for r in done) == [str(src / "IM0.dcm"), str(src / "IM1.dcm")]
    assert all(r["status"] == "ok" for r in done)
    assert_clean(out)  # finished outputs kept, no temporary file left by the stopped workers

    gate.touch()
    again = run_convert(src, "--out", out, "--resume", "--no-progress", faults=True, env=gate_env(gate))
    assert again.returncode == 0, again.stderr
    assert ", 2 kept from the previous run" in again.stderr
    clean = run_convert(src, "--out", tmp_path / "clean", "--no-progress", faults=True, env=gate_env(gate))
    assert clean.returncode == 0
    assert (out / "manifest.csv").read_bytes() == (tmp_path / "clean" / "manifest.csv").read_bytes()
    for name in files_under(tmp_path / "clean") - {"manifest.json"}:
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()
    assert_clean(out)


def test_ctrl_c_reaches_convert_when_the_suite_ignores_sigint(tmp_path):
    """The same Ctrl-C with SIGINT ignored in this process (as under ``&`` or nohup): the child still stops."""
    src, gate = tmp_path / "src", tmp_path / "gate"
    gated_tree(src, n=4)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = convert_under_way(src, tmp_path / "out", "--workers", "1", faults=True, env=gate_env(gate))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and "dcmview: interrupted: converted 2 of" in stderr, stderr
    assert "2 not done" in stderr


def test_a_result_sent_just_before_the_stop_is_kept(tmp_path):
    """The race CI met: a worker finished a file as Ctrl-C came; its result is recorded, not lost."""
    path = ct_series(tmp_path / "src", zs=(0.0,))[0]
    (tmp_path / "out").mkdir()  # as the run creates DIR
    job = Job(path, str(tmp_path / "out"), "IM0")
    pool = LocalPool(1, ConvertOptions(), start_method="fork")
    sent = pool.submit(job)
    assert sent(60)  # the worker has sent its result; the parent has not read it
    pool.close()
    assert [r.source for r in pool.late] == [path] and pool.unfinished == []
    assert pool.late[0].rows[0]["output"] == "IM0.png" and (tmp_path / "out" / "IM0.png").is_file()


def test_outputs_of_a_stopped_file_are_removed_unless_recorded(tmp_path):
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "s").mkdir()
    for name in (
        "a/IM1.png",
        "a/IM1_f0001.png",
        "a/IM1_f0002.png",
        "a/IM10.png",
        "a/IM1.npy",
        "a/IM2.png",
        "s/0001.png",
        "s/0002.png",
        "s/0003.png",
    ):
        (out / name).write_bytes(b"x")
    stopped = [Job("x", str(out), "a/IM1"), Job("y", str(out), "s", numbers=(1, 3))]
    assert remove_unfinished(stopped, ".png", recorded={"a/IM1_f0001.png"}) == 4
    assert files_under(out) == {"a/IM1_f0001.png", "a/IM10.png", "a/IM1.npy", "a/IM2.png", "s/0002.png"}


def test_resume_redoes_exactly_the_missing_failed_and_changed(tmp_path):
    src = tmp_path / "src"
    paths = ct_series(src, zs=(0.0, 1.0, 2.0, 3.0, 4.0))
    out = tmp_path / "out"
    convert([src], out)
    before = (out / "manifest.csv").read_bytes()
    stamps = {n: (out / n).stat().st_mtime_ns for n in files_under(out)}
    (out / "IM1.png").unlink()  # missing
    data = Path(paths[3]).read_bytes()
    Path(paths[3]).write_bytes(data[:-100])  # changed (and now failing)
    report = convert([src], out, resume=True)
    assert report.kept == 3 and (report.converted, report.failed) == (4, 1)
    rows = {r["source"]: r for r in rows_of(out)}
    assert rows[paths[3]]["status"] == "failed" and not (out / "IM3.png").exists()
    for name in ("IM0.png", "IM2.png", "IM4.png"):
        assert (out / name).stat().st_mtime_ns == stamps[name]  # not rewritten
    Path(paths[3]).write_bytes(data)  # repaired: only the failed one is redone
    report = convert([src], out, resume=True)
    assert report.kept == 4 and report.converted == 5
    convert([src], tmp_path / "clean")
    assert (out / "manifest.csv").read_bytes() == (tmp_path / "clean" / "manifest.csv").read_bytes()
    assert before.count(b"\n") == (out / "manifest.csv").read_bytes().count(b"\n")  # one row per output
    for name in files_under(tmp_path / "clean"):
        assert (out / name).read_bytes() == (tmp_path / "clean" / name).read_bytes()


def test_a_previous_run_needs_resume_or_overwrite(tmp_path):
    src = tmp_path / "src"
    paths = ct_series(src, zs=(0.0, 1.0))
    out = tmp_path / "out"
    convert([src], out)
    with pytest.raises(dcmlib.OutputError, match="holds a previous run"):
        convert([src], out)
    with pytest.raises(dcmlib.InvalidArgumentError, match="other options"):
        convert([src], out, resume=True, preset="lung")
    os.unlink(paths[1])
    report = convert([src], out, overwrite=True, preset="lung")  # old outputs replaced, the vanished one gone
    assert report.converted == 1 and files_under(out) == {"IM0.png", "manifest.csv", "manifest.json"}
    assert rows_of(out)[0]["window_source"] == "preset lung"


# --------------------------------------------------------------------------- exit status 2, progress


def test_usage_errors_exit_2_with_one_line(tmp_path, capsys):
    src = ct_series(tmp_path / "src", zs=(0.0,))[0]
    (tmp_path / "file").write_text("x")
    cases = [
        (["--preset", "lung", "--window", "1", "2"], "not allowed with"),
        (["--format", "png16", "--preset", "lung"], "only apply to the display formats"),
        (["--channels", "lung,bone"], "needs three windows"),
        (["--preset", "nope"], "unknown preset"),
        (["--frames", "0"], "counts from 1"),
        (["--resume", "--overwrite"], "cannot be combined"),
        (["--workers", "0"], "at least 1"),
    ]
    for flags, message in cases:
        assert cli(src, "--out", tmp_path / "o", *flags) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("dcmview: error:") and message in err[0], (flags, err)
    assert cli(src, "--out", tmp_path / "file" / "o") == 2  # unwritable DIR
    assert "cannot create the output folder" in capsys.readouterr().err
    assert cli(tmp_path / "missing", "--out", tmp_path / "o") == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_nothing_to_convert_exits_2_and_leaves_no_run_behind(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("text")
    put(make_ds(PixelData=None, SOPClassUID=BASIC_TEXT_SR), tmp_path / "src" / "DICOMDIR")
    assert cli(tmp_path / "src", "--out", tmp_path / "out", "--no-progress") == 2
    err = capsys.readouterr().err
    assert "no DICOM images found (2 files: 1 not DICOM, 1 no pixel data)" in err
    assert not (tmp_path / "out").exists()


def test_all_written_is_exit_0_and_the_summary_line(tmp_path, capsys):
    ct_series(tmp_path / "src")
    assert cli(tmp_path / "src", "--out", tmp_path / "out", "--no-progress") == 0
    err = capsys.readouterr().err.strip()
    assert SUMMARY.match(err) and err.startswith("dcmview: converted 4 of 4 files (4 images) in ")


def test_progress_bar_on_a_terminal(tmp_path):
    """stderr a terminal: tqdm's bar (files done/total, rate); then the summary line."""
    import pty

    ct_series(tmp_path / "src")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(DCMVIEW), "convert", str(tmp_path / "src"), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        stderr=follower,
        stdout=subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(60) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "4/4" in text and "file/s" in text and "converted 4 of 4 files" in text


def test_plain_progress_lines_when_not_a_terminal():
    import io

    stream = io.StringIO()
    bar = Progress(300, "line", stream, interval=0.0)
    bar.update(120)
    bar.close()
    assert re.fullmatch(r"dcmview: 120/300 files, [\d.]+ files/s, about \d+ s left\n", stream.getvalue())


# --------------------------------------------------------------------------- the per-file task


def test_the_task_is_a_pure_function_of_its_job_and_options(tmp_path):
    """The same job twice: the same rows and the same bytes (what makes Dask and the pool agree)."""
    src = enhanced_mr(tmp_path / "mr.dcm")
    options = ConvertOptions(preset="bone").checked()
    results = []
    for out in ("a", "b"):
        (tmp_path / out).mkdir()
        job = Job(src, str(tmp_path / out), "mr", size=1, mtime_ns=2)
        results.append(convert_file(job, options))
    assert results[0].rows == results[1].rows and results[0].images == 3
    for name in ("mr_f0001.png", "mr_f0002.png", "mr_f0003.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS:UserWarning")
def test_the_task_reports_library_errors_in_the_libraries_words(tmp_path):
    bad = put(make_ds(RescaleSlope="NaN"), tmp_path / "nan.dcm")
    result = convert_file(Job(bad, str(tmp_path), "nan"), ConvertOptions().checked())
    (row,) = result.rows
    assert result.status == "failed" and row["error"] == "Rescale Slope (0028,1053) is nan"
    result = convert_file(Job(str(tmp_path / "nan.dcm"), str(tmp_path), "x"), ConvertOptions(format="npy").checked())
    assert result.rows[0]["error"] == row["error"]


# --------------------------------------------------------------------------- the benchmark section


def test_the_benchmark_section_measures_every_way_on_the_same_folder(tmp_path):
    """python -m dcmlib.bench convert on two tiny files: each way gives a row (timed or saying why not);
    the targets are ratios of those rows (nothing about their values is asserted)."""
    from dcmlib.bench import convert as bench

    src = tmp_path / "src"
    ct_series(src, zs=(0.0, 1.0))
    lines: list[str] = []
    seconds = bench.run_set(lines.append, "tiny CT", src, tmp_path / "work", workers=1, sample=1, dask=False, repeat=1)
    assert set(seconds) == {"ours1", "export", "dicom2jpg", "dcm2pnm", "floor"}
    assert all(seconds[k] > 0 for k in ("ours1", "export", "floor"))
    names = [
        "dcmview convert, 1 worker",
        "dcmview.py --export per file",
        "dicom2jpg.dicom2png",
        "dcm2pnm +on loop",
        "floor: load + render + imwrite",
    ]
    assert [any(line.strip().startswith(n) for line in lines) for n in names] == [True] * 5
    report: list[str] = []
    bench.check_targets(
        report.append,
        {"ours1": 2.0, "dicom2jpg": 5.0, "dcm2pnm": 30.0, "floor": 2.0, "export": 100.0, "dask": 2.2},
        1,
        100,
    )
    assert report[0].endswith("2.50 ok") and report[1].endswith("15.00 ok") and report[2].endswith("1.00 ok")
    assert report[4] == "  --dask overhead per file vs the local pool, ms (target < 2): 2.00 MISSED"


# --------------------------------------------------------------------------- --plane: a series per job


PLANE_SUMMARY = re.compile(
    r"^dcmview: converted (\d+) of (\d+) series \((\d+) images?\) in \d+\.\d s, (\d+) failed, "
    r"(\d+) skipped(, \d+ kept from the previous run)? \(see (.+)\)$"
)


def plane_tree(root: Path) -> dict[str, object]:
    """Two axial CT series (1 mm and 5 mm apart, 0.5 mm pixels), an enhanced MR volume in one file, a lone
    CT slice, a colour US file and a text file."""
    return {
        "fine": ct_series(root / "fine", zs=(3.0, 0.0, 2.0, 1.0)),
        "thick": ct_series(root / "thick", zs=(10.0, 0.0, 5.0)),
        "mr": enhanced_mr(root / "mr" / "enhanced.dcm"),
        "lone": ct_series(root / "lone", zs=(7.0,))[0],
        "us": colour_us(root / "us.dcm"),
        "text": (root / "notes.txt").write_text("not an image\n"),
    }


def test_plane_writes_every_slice_of_each_series_equal_to_the_export(tmp_path):
    """convert --plane coronal: one job per series, every slice of the plane written and equal to
    ``dcmview.py SERIESDIR --export OUT --plane coronal --frame N``; the slice position is y of that slice
    (rows 0.5 mm apart from IPP y = -32); what is no volume fails with the library's reason."""
    src = tmp_path / "src"
    files = plane_tree(src)
    out = tmp_path / "out"
    proc = run_convert(src, "--out", out, "--plane", "coronal", "--preset", "bone", "--no-progress", "--workers", "2")
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    m = PLANE_SUMMARY.match(line)
    # 64 coronal slices per CT series (64 rows), 48 for the MR; the text file skipped
    assert m and m.groups()[:5] == ("3", "5", str(64 + 64 + 48), "2", "1"), line
    rows = rows_of(out)
    by_source: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
    fine, thick, mr = str(src / "fine"), str(src / "thick"), files["mr"]
    notes = str(src / "notes.txt")
    assert set(by_source) == {fine, thick, mr, files["lone"], files["us"], notes}
    assert [(r["status"], r["error"]) for r in by_source[notes]] == [("skipped", "not DICOM")]
    assert [r["output"] for r in by_source[fine]] == [f"fine/coronal/{k:04d}.png" for k in range(1, 65)]
    assert {r["window_source"] for r in by_source[mr]} == {"file VOI 1"}  # the CT preset is not for MR
    assert {r["warnings"] for r in by_source[mr]} == {
        "preset 'bone' is for CT (HU), not MR: the file's own window is used"
    }
    assert [r["output"] for r in by_source[mr]][:2] == ["mr/enhanced_coronal/0001.png", "mr/enhanced_coronal/0002.png"]
    for r in by_source[fine]:
        assert float(r["slice_position"]) == pytest.approx(-32 + 0.5 * (int(r["frame"]) - 1))
        assert (r["rows"], r["columns"], r["pixel_spacing"], r["window_source"]) == (
            "8",
            "64",
            "0.5\\0.5",
            "preset bone",
        )
    # 5 mm slices shown with square 0.5 mm pixels: 3 slices of 5 mm, 30 rows (the 1 mm series: 4 of 1 mm, 8 rows)
    assert {(r["rows"], r["columns"]) for r in by_source[thick]} == {("30", "64")}
    assert by_source[files["lone"]][0]["error"] == "reformatting needs a series of two or more slices"
    assert by_source[files["us"]][0]["error"] == "reformatting needs a grayscale series"
    for r in rows:
        if r["status"] == "ok" and (int(r["frame"]) in (1, 33, 64) or r["source"] == mr):
            ref = export(r["source"], int(r["frame"]), "--plane", "coronal", "--preset", "bone", tmp=tmp_path)
            assert (out / r["output"]).read_bytes() == ref, r
    assert_clean(out)
    assert_no_phi(out)


def test_plane_of_two_series_in_one_folder_and_the_series_layout(tmp_path):
    """Two series sharing a folder are two jobs, each equal to ``--export FOLDER --series UID --plane``;
    the mirror layout tells them apart by a series folder, the series layout names study/series/plane."""
    src = tmp_path / "src"
    a = ct_series(src, zs=(0.0, 1.0, 2.0))
    b = [
        ct_slice(src / f"B{i}.dcm", z, series=generate_uid(), study=generate_uid(), InstanceNumber=i + 1)
        for i, z in enumerate((0.0, 2.0))
    ]
    uid_b = pydicom.dcmread(b[0]).SeriesInstanceUID
    b = [str(Path(p)) for p in b]
    for i in range(2):  # the same series for both B files
        ds = pydicom.dcmread(b[i])
        ds.SeriesInstanceUID = uid_b
        ds.save_as(b[i])
    for layout in ("mirror", "series"):
        out = tmp_path / layout
        report = convert([src], out, plane="sagittal", layout=layout, frames="first")
        assert (report.converted, report.failed, report.images) == (2, 0, 2), report.failures
        rows = rows_of(out)
        assert len({(r["source"], r["series_instance_uid"]) for r in rows}) == 2
        names = sorted(r["output"] for r in rows)
        if layout == "mirror":
            assert all(re.fullmatch(r"3-CT-[0-9a-f]{8}/sagittal/0001\.png", n) for n in names), names
        else:
            assert all(re.fullmatch(r"[0-9a-f]{12}/3-CT-[0-9a-f]{8}/sagittal/0001\.png", n) for n in names), names
        for r in rows:
            ref = export(str(src), 1, "--plane", "sagittal", "--series", r["series_instance_uid"], tmp=tmp_path)
            assert (out / r["output"]).read_bytes() == ref
    assert len(a) == 3


def test_plane_resume_redoes_only_the_series_that_changed_and_equals_a_clean_run(tmp_path):
    src = tmp_path / "src"
    ct_series(src / "a", zs=(0.0, 1.0, 2.0))
    b = ct_series(src / "b", zs=(0.0, 2.0, 4.0))
    out = tmp_path / "out"
    convert([src], out, plane="axial")
    stamps = {n: (out / n).stat().st_mtime_ns for n in files_under(out)}
    (out / "a/axial/0002.png").unlink()  # a: an output missing
    report = convert([src], out, plane="axial", resume=True)
    assert (report.kept, report.converted, report.failed) == (1, 2, 0)
    assert (out / "b/axial/0003.png").stat().st_mtime_ns == stamps["b/axial/0003.png"]  # b not rewritten
    ct_slice(
        src / "b" / "IM9.dcm",
        6.0,
        series=pydicom.dcmread(b[0]).SeriesInstanceUID,
        study=pydicom.dcmread(b[0]).StudyInstanceUID,
    )  # b: one more slice, so one more axial slice
    report = convert([src], out, plane="axial", resume=True)
    assert (report.kept, report.converted) == (1, 2) and report.images == 3 + 4
    with pytest.raises(dcmlib.InvalidArgumentError, match="other options"):
        convert([src], out, plane="coronal", resume=True)
    convert([src], tmp_path / "clean", plane="axial")
    assert (out / "manifest.csv").read_bytes() == (tmp_path / "clean" / "manifest.csv").read_bytes()
    assert files_under(out) == files_under(tmp_path / "clean")


def test_plane_on_dask_equals_the_local_pool(tmp_path):
    pytest.importorskip("distributed")
    src = tmp_path / "src"
    ct_series(src / "a", zs=(0.0, 1.0, 2.0))
    ct_series(src / "lone", zs=(0.0,))
    report = convert([src], tmp_path / "dask", plane="sagittal", dask="local", workers=2)
    assert (report.converted, report.failed, report.images) == (1, 1, 64)
    convert([src], tmp_path / "local", plane="sagittal")
    assert files_under(tmp_path / "dask") == files_under(tmp_path / "local")
    for name in files_under(tmp_path / "local"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_plane_usage_errors(tmp_path, capsys):
    src = ct_series(tmp_path / "src", zs=(0.0, 1.0))[0]
    assert cli(src, "--out", tmp_path / "o1", "--plane", "oblique") == 2
    assert cli(src, "--out", tmp_path / "o2", "--plane", "coronal", "--format", "png16") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "dcmview: error: --plane writes png, jpg, tif or npy; png16 holds stored values, which a "
        "reformatted slice does not have"
    )
    assert not (tmp_path / "o2").exists()


def test_plane_volume_lives_in_the_cache_mb_the_run_gives(tmp_path):
    """A volume beyond the worker's frame cache is a failed row naming the size and the flag; the flag
    decides no output, so --resume with another --cache-mb finishes the run."""
    src = tmp_path / "src"
    ct_series(src, zs=(0.0, 1.0, 2.0, 3.0))  # 64 x 64 x 4 int16: 32 KiB
    out = tmp_path / "out"
    report = convert([src], out, plane="coronal", cache_mb=0.01)
    (row,) = rows_of(out)
    assert report.failed == 1 and re.fullmatch(
        r"the volume needs 1 MB \(64x64x4 int16\) but the frame cache "
        r"holds 0 MB; use --cache-mb 1",
        row["error"],
    ), row["error"]
    assert cli(src, "--out", out, "--plane", "coronal", "--cache-mb", "1", "--resume", "--no-progress") == 0
    assert len(rows_of(out)) == 64
    assert cli(src, "--out", tmp_path / "o2", "--plane", "coronal", "--cache-mb", "0") == 2


# --------------------------------------------------------------------------- found in use (issue 22)


def without_preamble(path: str, keep_meta: bool) -> str:
    """Rewrite a DICOM file as older systems write them: no 128-byte preamble and ``DICM`` (PS3.10 7.1),
    and with ``keep_meta`` False no File Meta group either (the data set alone, explicit VR little endian)."""
    if keep_meta:
        data = Path(path).read_bytes()
        assert data[128:132] == b"DICM"
        Path(path).write_bytes(data[132:])
    else:
        ds = pydicom.dcmread(path)
        ds.preamble = None
        del ds.file_meta
        pydicom.dcmwrite(path, ds, enforce_file_format=False, implicit_vr=False, little_endian=True)
    with open(path, "rb") as fh:
        assert fh.read(132)[128:] != b"DICM"
    return path


def test_files_without_the_preamble_convert_as_export_opens_them(tmp_path):
    """Whatever --export opens, convert converts: a file without the preamble (meta group first, or the data
    set alone) is converted and equals its --export; the text file and a DICOM without pixels get a
    skipped row saying why; both layouts place the bare files in their series."""
    src = tmp_path / "src"
    paths = ct_series(src, zs=(0.0, 1.0, 2.0))
    without_preamble(paths[1], keep_meta=True)
    without_preamble(paths[2], keep_meta=False)
    no_pixels = put(make_ds(PixelData=None, SOPClassUID=BASIC_TEXT_SR, Modality="SR"), src / "sr.dcm")
    without_preamble(no_pixels, keep_meta=False)
    (src / "notes.txt").write_text("not an image\n")
    for layout in ("mirror", "series"):
        out = tmp_path / layout
        report = convert([src], out, layout=layout)
        assert (report.converted, report.failed, report.skipped) == (3, 0, {"not DICOM": 1, "no pixel data": 1})
        rows = {r["source"]: r for r in rows_of(out)}
        assert set(rows) == {*paths, no_pixels, str(src / "notes.txt")}
        assert (rows[no_pixels]["status"], rows[no_pixels]["error"]) == ("skipped", "no pixel data")
        assert (rows[str(src / "notes.txt")]["status"], rows[str(src / "notes.txt")]["error"]) == (
            "skipped",
            "not DICOM",
        )
        for path in paths:
            assert rows[path]["status"] == "ok", rows[path]
            assert (out / rows[path]["output"]).read_bytes() == export(path, 1, tmp=tmp_path)
        if layout == "series":  # one series, slices in z order, the bare files among them
            assert sorted(rows[p]["output"].rsplit("/", 1)[1] for p in paths) == ["0001.png", "0002.png", "0003.png"]
            assert len({rows[p]["output"].rsplit("/", 1)[0] for p in paths}) == 1


def test_pydicoms_bare_data_sets_are_dicom_without_pixels(tmp_path):
    """pydicom's files written without preamble and meta, in both byte orders, read as DICOM (no pixel data),
    not as 'not DICOM'."""
    from pydicom.data import get_testdata_file

    for name in ("ExplVR_LitEndNoMeta.dcm", "ExplVR_BigEndNoMeta.dcm"):
        result = convert_file(Job(get_testdata_file(name), str(tmp_path), "x"), ConvertOptions())
        assert (result.status, result.reason) == ("skipped", "no pixel data"), name
        assert result.rows[0]["error"] == "no pixel data"


def _modes_under(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mode & 0o777 for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("umask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, expected):
    """--export, convert's outputs and both manifest files get the mode the umask gives a new file
    (0644 under umask 022), not the temporary file's 0600; run as a user runs them."""
    src = ct_series(tmp_path / "src", zs=(0.0, 1.0))
    code = (
        f"import os, sys, runpy; os.umask({umask:#o}); sys.argv = ['dcmview.py', *sys.argv[1:]]; "
        f"runpy.run_path({str(DCMVIEW)!r}, run_name='__main__')"
    )
    for args in (
        [src[0], "--export", str(tmp_path / "x.png")],
        [src[0], "--export", str(tmp_path / "x.tif")],
        ["convert", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--no-progress"],
    ):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
    modes = _modes_under(tmp_path / "out")
    assert set(modes) == {"IM0.png", "IM1.png", "manifest.csv", "manifest.json"}
    assert set(modes.values()) == {expected}
    assert {(tmp_path / n).stat().st_mode & 0o777 for n in ("x.png", "x.tif")} == {expected}


def test_the_viewers_snapshot_follows_the_umask(tmp_path):
    """``s`` writes through the same writer as --export: its mode follows the umask too."""
    from dcmlib.render import output

    old = os.umask(0o022)
    try:
        output.write_image(tmp_path / "snap.png", np.zeros((4, 4), np.uint8))
    finally:
        os.umask(old)
    assert (tmp_path / "snap.png").stat().st_mode & 0o777 == 0o644


def test_the_output_folder_deleted_during_the_run_is_one_line(tmp_path):
    """DIR removed while the workers hold files (gated): one error line naming DIR and what happened, status 2,
    and DIR is not created again by the files that finish after it."""
    import shutil

    src, gate, out = tmp_path / "src", tmp_path / "gate", tmp_path / "out"
    gated_tree(src, n=6)
    proc = convert_under_way(src, out, "--workers", "2", faults=True, env=gate_env(gate))
    assert proc.poll() is None
    shutil.rmtree(out)
    gate.touch()
    stderr = proc.communicate(timeout=60)[1]
    proc = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    assert assert_one_error_line(proc, out) == f"dcmview: error: {out}: the output folder was deleted during the run"
    assert not out.exists()


def test_the_documented_pandas_load_keeps_whole_numbers_integers(tmp_path):
    """Failed and skipped rows leave frame, rows and columns empty; read with the documented dtypes (or
    ``report.read_manifest()``) they stay integers, the empty cells <NA>."""
    import pandas

    from dcmlib.batch.manifest import DTYPES

    ct_series(tmp_path / "src", zs=(0.0, 1.0))
    (tmp_path / "src" / "notes.txt").write_text("not an image\n")
    bad = tmp_path / "src" / "IM1.dcm"
    bad.write_bytes(bad.read_bytes()[:-500])
    report = convert([tmp_path / "src"], tmp_path / "out")
    for table in (pandas.read_csv(tmp_path / "out" / "manifest.csv", dtype=DTYPES), report.read_manifest()):
        assert all(str(table[c].dtype) == "Int64" for c in ("frame", "rows", "columns", "source_size"))
        ok = table[table["status"] == "ok"].iloc[0]
        assert (ok["frame"], ok["rows"], ok["columns"]) == (1, 64, 64) and isinstance(ok["rows"], np.integer)
        assert table[table["status"] != "ok"]["rows"].isna().all() and len(table) == 3

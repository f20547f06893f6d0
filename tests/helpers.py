"""What the tests share: the one synthetic-DICOM factory and the external tools.

Not a test module and not a conftest: test modules import what they need with
``from helpers import ...`` (pytest puts ``tests/`` on ``sys.path`` when it
imports a test module from that folder, which has no ``__init__.py``).

- :func:`make_ds`: the only place a test builds an image Dataset from scratch;
  :func:`write_ds` writes one as a file, :func:`write_mono` does both for the
  grayscale files fed to dcmview and DCMTK alike; :func:`ramp` is their usual pixels
  and :func:`lut_item` their Modality / VOI LUT Sequence items;
- :func:`write_series` (on :func:`series_datasets`): the one generated series, one file a slice;
  :func:`damaged_series` one of them with a slice cut short;
- :func:`assert_one_error_line`: the command line's "one clean error line" contract;
  :func:`assert_within_one`: two 8-bit images agree within one grey level;
- :func:`per_frame_windows`: an enhanced multi-frame MR whose frames store their own windows;
- :func:`pydicom_file`: the path of one of pydicom's bundled test files;
- :func:`run_cli`: run ``dcmview.py`` as a subprocess from the repository root;
- :func:`dcm2pnm`: run DCMTK's ``dcm2pnm`` (or ``dcmj2pnm`` / ``dcml2pnm`` for
  JPEG / JPEG-LS) and read its 8-bit PGM back with OpenCV;
- :func:`requires_tools` and :func:`start_xvfb`: external programs (DCMTK, Xvfb,
  xdotool, ImageMagick). Where one is missing, its tests skip and say why; on CI
  (``CI=true``, where ``.ci/run`` installs every one of them) they run and fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parents[1]
DCMVIEW = ROOT / "dcmview.py"

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


# --------------------------------------------------------------------------- synthetic DICOM


def make_ds(pixels: np.ndarray | None = None, *, transfer_syntax: str = ExplicitVRLittleEndian, **tags) -> Dataset:
    """A valid single- or multi-frame image Dataset built in memory.

    ``pixels`` is (rows, cols), (frames, rows, cols), or (..., 3) with
    ``SamplesPerPixel=3``; its dtype sets Bits Allocated and Pixel
    Representation (uint8/int8/uint16/int16/uint32/int32; float32 becomes
    Float Pixel Data).  Any other keyword is set as a DICOM attribute, so
    ``make_ds(arr, RescaleSlope=0.5, WindowCenter=40, WindowWidth=400)`` works;
    ``SOPClassUID`` sets the file meta's Media Storage SOP Class too.
    A keyword set to ``None`` is left out (``PixelData=None``: no pixel data).
    ``transfer_syntax`` is the file meta's Transfer Syntax UID, the encoding
    :func:`write_ds` writes (the pixel bytes are always little-endian native data).
    """
    if pixels is None:
        pixels = np.arange(16, dtype=np.uint16).reshape(4, 4)
    pixels = np.ascontiguousarray(pixels)
    samples = int(tags.get("SamplesPerPixel", 1))
    frame_dims = 3 if samples > 1 else 2
    frames = pixels.shape[0] if pixels.ndim > frame_dims else 1
    rows, cols = pixels.shape[-frame_dims:][:2]

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta.MediaStorageSOPClassUID = tags.get("SOPClassUID", CT_IMAGE_STORAGE)
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "PID-12345"
    ds.Rows, ds.Columns = int(rows), int(cols)
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = "MONOCHROME2" if samples == 1 else "RGB"
    if samples > 1:
        ds.PlanarConfiguration = 0
    if frames > 1 or pixels.ndim > frame_dims:
        ds.NumberOfFrames = frames
    kind, size = pixels.dtype.kind, pixels.dtype.itemsize
    if kind == "f":
        ds.BitsAllocated = 8 * size
        if size == 4:
            ds.FloatPixelData = pixels.astype("<f4").tobytes()
        else:
            ds.DoubleFloatPixelData = pixels.astype("<f8").tobytes()
    else:
        ds.BitsAllocated = 8 * size
        ds.BitsStored = 8 * size
        ds.HighBit = 8 * size - 1
        ds.PixelRepresentation = 1 if kind == "i" else 0
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    return set_tags(ds, tags)


def set_tags(ds: Dataset, tags: dict) -> Dataset:
    """Set each keyword in ``tags`` on ``ds`` (a value of None deletes it); return ``ds``."""
    for key, value in tags.items():
        if value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    return ds


def write_ds(ds: Dataset, path: str | os.PathLike[str]) -> str:
    """Write ``ds`` as a DICOM file (with preamble and meta) and return the path as a string."""
    ds.save_as(path, enforce_file_format=True)
    return os.fspath(path)


AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def series_datasets(
    slices: Sequence[np.ndarray] | np.ndarray,
    positions: Sequence[float | Sequence[float]] | None = None,
    *,
    orientation: Sequence[float] | None = AXIAL,
    each: Callable[[int], dict] | None = None,
    edit: Callable[[int, Dataset], object] | None = None,
    **tags,
) -> list[Dataset]:
    """The slices of one generated series as in-memory Datasets (:func:`make_ds` each).

    ``slices`` holds one 2-D pixel array per slice (or a 3-D array, slices first).
    ``positions`` gives each slice's Image Position (Patient): a z (mm, x = y = 0) or an
    (x, y, z) triple; default z = 0, 1, 2, ... (1 mm apart).  ``orientation`` is the Image
    Orientation (Patient) of all (None: left out).  Every slice shares one Series (and Study)
    Instance UID; Instance Number is the slice's 1-based index.  ``tags`` are set on every
    slice (``SeriesInstanceUID=...`` overrides the generated one), ``each(k)`` returns more
    tags for slice k (a value of None leaves one out), and ``edit(k, ds)`` may change the
    finished Dataset (cut its pixel data, compress it).
    """
    n = len(slices)
    if positions is None:
        positions = [float(k) for k in range(n)]
    assert len(positions) == n, f"{len(positions)} positions for {n} slices"
    common = dict(SeriesInstanceUID=generate_uid(), StudyInstanceUID=generate_uid())
    if orientation is not None:
        common["ImageOrientationPatient"] = [float(v) for v in orientation]
    out = []
    for k in range(n):
        where = positions[k]
        ipp = [0.0, 0.0, float(where)] if np.ndim(where) == 0 else [float(v) for v in where]
        per = {**common, "ImagePositionPatient": ipp, "InstanceNumber": k + 1, **tags, **(each(k) if each else {})}
        ds = make_ds(np.asarray(slices[k]), **per)
        if edit is not None:
            edit(k, ds)
        out.append(ds)
    return out


def write_series(
    folder: str | os.PathLike[str],
    slices: Sequence[np.ndarray] | np.ndarray,
    positions: Sequence[float | Sequence[float]] | None = None,
    *,
    names: str | Callable[[int], str] = "{k}.dcm",
    **kw,
) -> list[str]:
    """The one series writer: :func:`series_datasets` written into ``folder`` (created), one file each.

    ``names`` is a format string of the slice index ``k`` (``"IM{k:03d}.dcm"``) or a function
    of it. Returns the paths written, in slice order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = names.format if isinstance(names, str) else None
    paths = []
    for k, ds in enumerate(series_datasets(slices, positions, **kw)):
        paths.append(write_ds(ds, folder / (name(k=k) if name else names(k))))
    return paths


def damaged_series(folder: Path, slices: int = 2, damaged: int = 1) -> Path:
    """Write an axial series of 32 x 32 slices 1 mm apart whose slice ``damaged`` (0-based) has its
    pixel data cut short (64 of 2048 bytes), so decoding that one slice fails; return ``folder``."""

    def cut(k: int, ds: Dataset) -> None:
        if k == damaged:
            ds.PixelData = ds.PixelData[:64]

    write_series(
        folder,
        [np.full((32, 32), 100 * i, dtype=np.int16) for i in range(slices)],
        WindowCenter=100,
        WindowWidth=400,
        edit=cut,
    )
    return Path(folder)


def write_mono(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    **tags: object,
) -> str:
    """Write a grayscale Secondary Capture file (Explicit VR Little Endian) holding ``pixels``.

    :func:`make_ds` with the header of a non-CT image (Modality OT, its own study
    and series): ``photometric`` is the Photometric Interpretation, ``bits_stored``
    sets Bits Stored and High Bit (default: all allocated bits), and further
    keywords are DICOM attributes (``WindowCenter=40``, ``RescaleSlope=0.5``, ...).
    Returns the path as a string.
    """
    header: dict[str, object] = {
        "SOPClassUID": SECONDARY_CAPTURE,
        "Modality": "OT",
        "PatientName": "Oracle^Test",
        "PatientID": "ORACLE-0001",
        "StudyInstanceUID": generate_uid(),
        "SeriesInstanceUID": generate_uid(),
        "PhotometricInterpretation": photometric,
    }
    if bits_stored is not None:
        header.update(BitsStored=bits_stored, HighBit=bits_stored - 1)
    return write_ds(make_ds(pixels, **{**header, **tags}), path)


def lut_item(descriptor, data, explanation: str | None = None, **tags) -> Dataset:
    """A Modality or VOI LUT Sequence item (PS3.3 C.11.1, C.11.2.1.1).

    ``descriptor`` is the LUT Descriptor: [entries (0 means 65536), first mapped value, bits
    per entry]. ``data`` given as a list of ints or as bytes is stored as it is (pydicom picks
    LUT Data's VR, US or OW); any other run of numbers (an array, a range) is stored as 16-bit
    little-endian words with VR OW. Further keywords are set on the item (``ModalityLUTType="HU"``).
    """
    item = Dataset()
    item.LUTDescriptor = list(descriptor)
    if isinstance(data, (list, bytes)):
        item.LUTData = data
    else:
        item.LUTData = np.asarray(data, "<u2").tobytes()
        item["LUTData"].VR = "OW"
    if explanation is not None:
        item.LUTExplanation = explanation
    for key, value in tags.items():
        setattr(item, key, value)
    return item


def ramp(rows: int, cols: int, lo: int, hi: int, dtype: type = np.int16) -> np.ndarray:
    """A (rows, cols) image whose values run evenly from ``lo`` to ``hi`` (inclusive) in raster order."""
    return np.linspace(lo, hi, rows * cols).round().astype(dtype).reshape(rows, cols)


ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"


def per_frame_windows(
    stored: np.ndarray,
    windows: list[tuple[float, float]],
    *,
    slope: float = 1.0,
    intercept: float = 0.0,
    bits_stored: int = 12,
    **tags,
) -> Dataset:
    """An Enhanced MR Image (PS3.3 A.36.2) whose frames each store their own window.

    ``stored`` (frames, rows, cols) uint16; frame i's Frame VOI LUT functional group
    (C.7.6.16.2.10) holds ``windows[i]`` = (center, width) in modality units; one Pixel
    Value Transformation (C.7.6.16.2.9) with ``slope`` and ``intercept`` is shared by all.
    """
    pvt, shared = Dataset(), Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, intercept, "US"
    shared.PixelValueTransformationSequence = [pvt]
    per_frame = []
    for center, width in windows:
        voi, item = Dataset(), Dataset()
        voi.WindowCenter, voi.WindowWidth = center, width
        item.FrameVOILUTSequence = [voi]
        per_frame.append(item)
    header = dict(
        SOPClassUID=ENHANCED_MR,
        Modality="MR",
        BitsStored=bits_stored,
        HighBit=bits_stored - 1,
        SharedFunctionalGroupsSequence=[shared],
        PerFrameFunctionalGroupsSequence=per_frame,
    )
    return make_ds(stored.astype(np.uint16), **{**header, **tags})


def pydicom_file(name: str) -> str:
    """Absolute path of a file bundled with pydicom (``pydicom.data``); never downloads.

    pydicom is a dependency and ships these files in its wheel: a missing one fails the test.
    """
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not bundled with the installed pydicom"
    return os.fspath(path)


# --------------------------------------------------------------------------- checks


def assert_within_one(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    """Two 8-bit images (or an image and exact expected grey levels, float allowed) agree within
    one grey level everywhere, same shape: the rounding allowance between two correct renderings."""
    got, want = np.asarray(got), np.asarray(want)
    label = f"{what}: " if what else ""
    assert got.shape == want.shape, f"{label}shape {got.shape} != expected {want.shape}"
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bad = int((diff > 1).sum())
    if bad:
        i = np.unravel_index(int(diff.argmax()), diff.shape)
        pytest.fail(
            f"{label}{bad} of {diff.size} pixels differ by more than one grey level "
            f"(worst at {tuple(map(int, i))}: got {got[i]}, expected {want[i]})"
        )


def assert_one_error_line(
    proc: subprocess.CompletedProcess[str],
    *names: str | os.PathLike[str],
    problem: str | None = None,
    absent: Sequence[str | os.PathLike[str]] = (),
) -> str:
    """The command line's error contract: exit status 2 and stderr exactly one line
    ``dcmview: error: <file>: <problem>``, no traceback; return that line.

    The line names one of ``names`` (a path or a file name, as a substring) and says more than
    the name; ``problem`` is a regular expression it must contain; no path in ``absent`` (the
    output that was asked for) exists afterwards.
    """
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr: {proc.stderr!r}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and proc.stderr.endswith("\n"), f"want exactly one stderr line, got {proc.stderr!r}"
    line = lines[0]
    assert line.startswith("dcmview: error: "), line
    texts = [os.fspath(n) for n in names]
    if texts:
        assert any(n in line for n in texts), f"error line names none of {texts}: {line!r}"
        assert len(line) > len("dcmview: error: ") + max(map(len, texts)) + 5, f"no problem described: {line!r}"
    if problem is not None:
        assert re.search(problem, line), f"error line does not say {problem!r}: {line!r}"
    for path in absent:
        assert not os.path.lexists(path), f"output left behind: {path}"
    return line


# --------------------------------------------------------------------------- dcmview.py


def run_cli(*args: str | os.PathLike[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python dcmview.py ARGS`` from the repository root, capturing text output."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")  # never open a window in tests
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, os.fspath(DCMVIEW), *map(os.fspath, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# --------------------------------------------------------------------------- external tools

#: CI sets CI=true and installs every external tool (``.ci/run``): there a missing one fails.
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_tools(*names: str) -> list[str]:
    """The commands among ``names`` that are not on PATH."""
    return [n for n in names if shutil.which(n) is None]


def _not_installed(missing: list[str], why: str) -> str:
    detail = f" ({why})" if why else ""
    return f"{', '.join(missing)} not installed{detail}; .ci/run installs the tools the tests need"


def requires_tools(*names: str, why: str = "") -> pytest.MarkDecorator:
    """Skip where one of the commands ``names`` is not installed (except on CI, where the test runs and fails)."""
    missing = missing_tools(*names)
    return pytest.mark.skipif(
        bool(missing) and not ON_CI,
        reason=_not_installed(missing, why),
    )


def skip_without(*names: str, why: str = "") -> None:
    """Inside a test: skip where one of the commands is not installed; fail on CI."""
    missing = missing_tools(*names)
    if missing:
        message = _not_installed(missing, why)
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)


#: DCMTK tools (Debian package ``dcmtk``); None when not installed.
DCM2PNM = shutil.which("dcm2pnm")
DCMJ2PNM = shutil.which("dcmj2pnm")  # + IJG JPEG decoders (baseline, extended, lossless)
DCML2PNM = shutil.which("dcml2pnm")  # + CharLS JPEG-LS decoder

requires_dcm2pnm = requires_tools("dcm2pnm", why="DCMTK, Debian package 'dcmtk'")

#: dcm2pnm's options that every oracle call uses: -O hides overlays (compare with
#: dcmview's --no-overlays; test_overlays.py runs dcm2pnm without it), +op writes an 8-bit binary PGM.
DCM2PNM_BASE = ("-O", "+op")


def dcm2pnm(path: str | os.PathLike[str], *options: str, tool: str | None = None) -> np.ndarray:
    """Render ``path`` with ``dcm2pnm -O +op OPTIONS path out.pgm`` and return the uint8 image.

    ``tool`` selects ``dcmj2pnm`` / ``dcml2pnm`` (same options, more decoders).
    Fails the test (not skips) when DCMTK refuses the file, with its stderr.
    """
    exe = tool or DCM2PNM
    if exe is None:
        skip_without("dcm2pnm", why="DCMTK, Debian package 'dcmtk'")
    with tempfile.TemporaryDirectory(prefix="dcm2pnm-") as tmp:
        out = os.path.join(tmp, "out.pgm")
        cmd = [exe, *DCM2PNM_BASE, *options, os.fspath(path), out]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and os.path.exists(out), f"oracle command failed: {' '.join(cmd)}\n{proc.stderr}"
        img = cv2.imread(out, cv2.IMREAD_UNCHANGED)
    assert img is not None and img.dtype == np.uint8, f"cannot read dcm2pnm's PGM for {path}"
    return img


def start_xvfb(*extra: str) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display (it picks one with -displayfd); return (process, ":N").

    Skips the test (fails it on CI) when Xvfb starts but reports no display.
    """
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp", *extra],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    if not number:
        proc.kill()
        if ON_CI:
            pytest.fail("Xvfb did not start")
        pytest.skip("Xvfb did not start")
    return proc, f":{number}"

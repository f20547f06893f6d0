"""Helpers for the CLI, DCMTK-oracle and corpus tests (owned by the tests engineer).

Not a test module: it holds no tests, only

- :func:`run_cli`: run ``dcmview.py`` as a subprocess from the repository root;
- :func:`dcm2pnm`: run DCMTK's ``dcm2pnm`` (or ``dcmj2pnm`` / ``dcml2pnm`` for
  JPEG / JPEG-LS) and read its 8-bit PGM back with OpenCV;
- :func:`write_mono`: write a small grayscale DICOM file built with pydicom,
  so tests can feed both dcmview and DCMTK the very same bytes;
- :func:`pydicom_file`: the path of one of pydicom's bundled test files.

The test modules import this file by putting ``tests/`` on ``sys.path``
(``import dcmtk as helpers``), so it works whether or not ``tests/`` is a package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parents[1]
DCMVIEW = ROOT / "dcmview.py"

#: DCMTK tools; None when the Debian package ``dcmtk`` is not installed.
DCM2PNM = shutil.which("dcm2pnm")
DCMJ2PNM = shutil.which("dcmj2pnm")  # + IJG JPEG decoders (baseline, extended, lossless)
DCML2PNM = shutil.which("dcml2pnm")  # + CharLS JPEG-LS decoder

requires_dcm2pnm = pytest.mark.skipif(
    DCM2PNM is None,
    reason="DCMTK's dcm2pnm is not installed (Debian package 'dcmtk'; .ci/run installs it)",
)

#: dcm2pnm's options that every oracle call uses: -O hides overlays (dcmview's
#: export draws no annotations), +op writes an 8-bit binary PGM.
DCM2PNM_BASE = ("-O", "+op")


def pydicom_file(name: str) -> str:
    """Absolute path of a file bundled with pydicom (``pydicom.data``); never downloads."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not bundled with this pydicom")
    return os.fspath(path)


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


def dcm2pnm(path: str | os.PathLike[str], *options: str, tool: str | None = None) -> np.ndarray:
    """Render ``path`` with ``dcm2pnm -O +op OPTIONS path out.pgm`` and return the uint8 image.

    ``tool`` selects ``dcmj2pnm`` / ``dcml2pnm`` (same options, more decoders).
    Fails the test (not skips) when DCMTK refuses the file, with its stderr.
    """
    exe = tool or DCM2PNM
    if exe is None:
        pytest.skip("DCMTK's dcm2pnm is not installed")
    with tempfile.TemporaryDirectory(prefix="dcm2pnm-") as tmp:
        out = os.path.join(tmp, "out.pgm")
        cmd = [exe, *DCM2PNM_BASE, *options, os.fspath(path), out]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and os.path.exists(out), (
            f"oracle command failed: {' '.join(cmd)}\n{proc.stderr}"
        )
        img = cv2.imread(out, cv2.IMREAD_UNCHANGED)
    assert img is not None and img.dtype == np.uint8, f"cannot read dcm2pnm's PGM for {path}"
    return img


def write_mono(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    **tags: object,
) -> str:
    """Write a grayscale DICOM file (Explicit VR Little Endian) holding ``pixels``.

    ``pixels`` is (rows, cols) or (frames, rows, cols) of uint8/uint16/int16; its dtype
    sets Bits Allocated and Pixel Representation. Extra keyword arguments are
    DICOM keywords set on the dataset (``WindowCenter=40``, ``RescaleSlope=0.5``, ...).
    Returns the path as a string.
    """
    pixels = np.ascontiguousarray(pixels)
    if pixels.dtype not in (np.uint8, np.uint16, np.int16):
        raise TypeError(f"unsupported dtype {pixels.dtype}")
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    rows, cols = pixels.shape[-2:]
    bits_allocated = pixels.dtype.itemsize * 8

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "Oracle^Test"
    ds.PatientID = "ORACLE-0001"
    ds.Modality = "OT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored or bits_allocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<"), copy=False).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return os.fspath(path)


def ramp(rows: int, cols: int, lo: int, hi: int, dtype: type = np.int16) -> np.ndarray:
    """A (rows, cols) image whose values run evenly from ``lo`` to ``hi`` (inclusive) in raster order."""
    return np.linspace(lo, hi, rows * cols).round().astype(dtype).reshape(rows, cols)

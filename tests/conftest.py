"""Shared fixtures: a factory for small in-memory DICOM datasets with pixel data."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def make_ds(pixels: np.ndarray | None = None, **tags) -> Dataset:
    """A valid single- or multi-frame image Dataset built in memory.

    ``pixels`` is (rows, cols), (frames, rows, cols), or (..., 3) with
    ``SamplesPerPixel=3``; its dtype sets Bits Allocated and Pixel
    Representation (uint8/int8/uint16/int16/uint32/int32; float32 becomes
    Float Pixel Data).  Any other keyword is set as a DICOM attribute, so
    ``make_ds(arr, RescaleSlope=0.5, WindowCenter=40, WindowWidth=400)`` works.
    A keyword set to ``None`` is left out.
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
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
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
    for key, value in tags.items():
        if value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    return ds


@pytest.fixture
def ds_factory():
    """The :func:`make_ds` factory as a fixture."""
    return make_ds


def write_ds(ds: Dataset, path) -> str:
    """Write ``ds`` as a DICOM file (with preamble and meta) and return the path."""
    ds.save_as(path, enforce_file_format=True)
    return str(path)


def start_xvfb(*extra: str) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display (it picks one with -displayfd); return (process, ":N").

    Skips the test when Xvfb starts but reports no display.
    """
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp", *extra], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    if not number:
        proc.kill()
        pytest.skip("Xvfb did not start")
    return proc, f":{number}"

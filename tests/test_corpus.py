"""Every file bundled with pydicom (``pydicom.data.get_testdata_files()``) either renders or
raises the project's own error -- no other exception.

For a file that renders: ``dcmlib.load(f).render()`` is ``uint8`` of shape (rows, columns)
for grayscale or (rows, columns, 3) for colour, and for a multi-frame file its last frame
renders too. For a file that does not: the exception is a ``dcmlib.DcmviewError`` whose
message names the file. Files that are plainly not DICOM (text, JSON, dumps, an ICC
profile, a gzip) must raise, not render.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_files

import dcmlib

FILES = sorted(get_testdata_files())
BASE = os.path.commonpath(FILES) if FILES else ""
NOT_DICOM_SUFFIXES = {".txt", ".json", ".dump", ".icc", ".gz"}


def _id(path: str) -> str:
    return os.path.relpath(path, BASE)


def _plainly_not_dicom(path: str) -> bool:
    p = Path(path)
    return p.suffix.lower() in NOT_DICOM_SUFFIXES or p.name.upper() == "README"


def _expected_frames(path: str) -> int | None:
    """Number of Frames from the header, when pydicom can read it and it is a valid integer."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            return int(ds.get("NumberOfFrames", 1) or 1)
    except Exception:  # noqa: BLE001 - whatever pydicom raises, the frame count is unknown
        return None


def test_corpus_is_there():
    """pydicom ships its test files; an empty corpus would make the test below vacuous."""
    assert len(FILES) > 50


@pytest.mark.parametrize("path", FILES, ids=[_id(f) for f in FILES])
def test_renders_or_raises_dcmview_error(path):
    try:
        img = dcmlib.load(path)
        first = img.render()
        last = img.render(frame=len(img) - 1) if len(img) > 1 else first
    except dcmlib.DcmviewError as err:
        assert os.path.basename(path) in str(err), f"error does not name the file: {err}"
        return
    assert not _plainly_not_dicom(path), f"{_id(path)} is not DICOM but rendered"
    assert len(img) >= 1
    frames = _expected_frames(path)
    if frames is not None and frames >= 1:
        assert len(img) == frames, f"len(img) = {len(img)}, Number of Frames = {frames}"
    for out in (first, last):
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8
        if out.ndim == 2:
            assert out.shape == (img.rows, img.columns)
            assert not img.is_color
        else:
            assert out.shape == (img.rows, img.columns, 3), out.shape
            assert img.is_color
        assert out.flags.c_contiguous or out.flags.f_contiguous

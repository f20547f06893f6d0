"""Test-only fault injection for ``dcmview.py convert``: a frame decoder that aborts, hangs or dawdles.

GDCM, whose C++ decoder aborted the whole process on a corrupt JPEG or JPEG
2000 stream (SIGABRT, exit 134), is no longer used by dcmlib, and no decoder
it uses is known to crash.  To drive the conversion pool through a real
crash, this module wraps pydicom's frame decoder so that pixel data holding
a marker make the decoding process really die or stall:

- ``dcmview-test:abort``: ``os.abort()`` (SIGABRT, as GDCM did);
- ``dcmview-test:hang``: sleeps for an hour (for ``--timeout``);
- ``dcmview-test:slow``: sleeps ``DCMVIEW_TEST_SLOW`` seconds (default 0.25);
- ``dcmview-test:gate``: waits until the file named by ``DCMVIEW_TEST_GATE``
  exists, so a test holds a run in progress for as long as it needs (however
  fast or loaded the machine) and then lets it finish.

And for the start of ``dcmview.py``: with ``DCMVIEW_TEST_HOLD_IMPORT=MODULE`` the
first import of MODULE touches the file ``DCMVIEW_TEST_HELD`` names and then waits
for the gate, so a test can send Ctrl-C while the imports run.

Activated in a subprocess by ``PYTHONPATH=tests/faults`` (this folder's
``sitecustomize.py`` calls :func:`install`), or in the test process with
:func:`faulty` and ``monkeypatch`` before forked workers start.  Never
imported by dcmlib.
"""

from __future__ import annotations

import os
import sys
import time

ABORT = b"dcmview-test:abort"
HANG = b"dcmview-test:hang"
SLOW = b"dcmview-test:slow"
GATE = b"dcmview-test:gate"


def wait_for_gate(limit: float = 3600.0) -> None:
    """Block until the file ``DCMVIEW_TEST_GATE`` names exists (or ``limit`` seconds pass); with
    ``DCMVIEW_TEST_HELD_DIR`` set, first touch ``<dir>/<pid>`` so a test knows which process waits."""
    held = os.environ.get("DCMVIEW_TEST_HELD_DIR", "")
    if held:
        with open(os.path.join(held, str(os.getpid())), "w"):
            pass
    gate = os.environ.get("DCMVIEW_TEST_GATE", "")
    deadline = time.monotonic() + limit
    while not (gate and os.path.exists(gate)) and time.monotonic() < deadline:
        time.sleep(0.02)


def _pixel_bytes(src) -> bytes:
    """The pixel data a decoder is about to read: a Dataset's element, or the file's bytes."""
    if isinstance(src, (str, os.PathLike)):
        try:
            with open(src, "rb") as fh:
                return fh.read()
        except OSError:
            return b""
    try:
        value = src.get("PixelData")
    except Exception:  # noqa: BLE001 - a damaged data set: let the real decoder fail on it
        return b""
    return value if isinstance(value, (bytes, bytearray)) else b""


def faulty(real):
    """``real`` (pydicom.pixels.pixel_array) wrapped: abort, hang, sleep or wait on the markers above."""

    def pixel_array(src, *args, **kwargs):
        data = _pixel_bytes(src)
        if ABORT in data:
            os.abort()
        if HANG in data:
            time.sleep(3600)
        if SLOW in data:
            time.sleep(float(os.environ.get("DCMVIEW_TEST_SLOW", "0.25")))
        if GATE in data:
            wait_for_gate()
        return real(src, *args, **kwargs)

    pixel_array.faulty = True
    return pixel_array


class _HoldImport:
    """A meta path finder that holds the first import of one module (see the module's docstring)."""

    def __init__(self, name: str):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        held = os.environ.get("DCMVIEW_TEST_HELD", "")
        if held:
            with open(held, "w"):
                pass
        wait_for_gate()
        return None  # then the usual finders import it


def install() -> None:
    """Wrap pydicom's decoder for every later import of it (and dcmlib.read.io's, if already imported);
    hold the import ``DCMVIEW_TEST_HOLD_IMPORT`` names."""
    hold = os.environ.get("DCMVIEW_TEST_HOLD_IMPORT")
    if hold:
        sys.meta_path.insert(0, _HoldImport(hold))
        return  # pydicom is imported later, by the program
    import pydicom.pixels

    if getattr(pydicom.pixels.pixel_array, "faulty", False):
        return
    pydicom.pixels.pixel_array = faulty(pydicom.pixels.pixel_array)
    io = sys.modules.get("dcmlib.read.decode")
    if io is not None:
        io.pixel_array = pydicom.pixels.pixel_array

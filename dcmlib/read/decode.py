"""Decoding frames (PS3.5 8.2, A.4): pydicom's plugins that raise on damaged streams, in a fixed order per
transfer syntax, an imagecodecs fallback, and a GIL-free JPEG 2000 path for threads; every failure becomes a
:class:`~dcmlib.errors.PixelDataError` naming the file, and a decoded frame is checked against its layout.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array
from pydicom.uid import UID

from dcmlib.errors import DcmviewError, ErrorPath, PixelDataError
from dcmlib.read.header import Layout
from dcmlib.read.io import FULL_READ_LIMIT, pixel_element, read_dataset, transfer_syntax
from dcmlib.read.pixeldata import FAMILY_NAMES, FAMILY_OF, check_pixel_data
from dcmlib.values.frames import FrameRef

__all__ = ["DECODERS", "decode_frame"]


#: pydicom decoding plugins tried for each compressed transfer syntax, in order (PS3.5 A.4, 8.2).
#: Only plugins that raise on bad data: GDCM aborts the process on corrupt JPEG and JPEG 2000
#: streams (an uncaught C++ exception), so it is never used, even when installed.  One library
#: per codec: a second wrapper of the same C library (Pillow's or imagecodecs' OpenJPEG, imagecodecs'
#: CharLS) would only fail again, as slowly.
DECODERS: dict[str, tuple[str, ...]] = {
    uid.RLELossless: ("pylibjpeg", "pydicom"),
    uid.JPEGBaseline8Bit: ("pillow",),
    uid.JPEGExtended12Bit: ("pillow",),
    uid.JPEGLossless: (),
    uid.JPEGLosslessSV1: (),
    uid.JPEGLSLossless: ("pyjpegls",),
    uid.JPEGLSNearLossless: ("pyjpegls",),
    uid.JPEG2000Lossless: ("pylibjpeg",),
    uid.JPEG2000: ("pylibjpeg",),
    uid.HTJ2KLossless: ("pylibjpeg",),
    uid.HTJ2KLosslessRPCL: ("pylibjpeg",),
    uid.HTJ2K: ("pylibjpeg",),
}

#: Transfer syntaxes with an imagecodecs (libjpeg-turbo) fallback after the plugins above: Pillow
#: refuses 12-bit and lossless JPEG, which pydicom's permissive plugins do not cover otherwise.
_CODECS = {
    uid.JPEGBaseline8Bit: "jpeg8",
    uid.JPEGExtended12Bit: "jpeg8",
    uid.JPEGLossless: "jpeg8",
    uid.JPEGLosslessSV1: "jpeg8",
}


_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit, DcmviewError)


def decode_frame(ref: FrameRef, lay: Layout, where: ErrorPath, *, threads: bool = False) -> np.ndarray:
    """Decode one frame's stored values (C-contiguous; float64 as float32), or raise :class:`PixelDataError`.

    Native and deflated data go through pydicom; compressed data through the
    plugins of :data:`DECODERS`, then imagecodecs.  Whatever a decoder raises,
    a Rust panic included, ends here as one message in DICOM's words; the
    decoder's own error stays on the exception's ``__cause__`` (``--debug``).

    ``threads``: the caller decodes frames on several threads (a volume's
    slices).  JPEG 2000 lossless frames then go through imagecodecs' OpenJPEG,
    which releases the GIL (pylibjpeg-openjpeg holds it: it reads the stream
    through Python callbacks), when the codestream's sign and precision let
    both give the same samples (:func:`_decode_j2k_threaded`); else as usual.
    """
    ts = transfer_syntax(ref.header)
    if ts is None:
        raise PixelDataError("no valid Transfer Syntax UID (0002,0010): the pixel data cannot be decoded", where)
    source = ref.source
    if ts.is_encapsulated and not isinstance(source, Dataset) and lay.frames == 1:
        source = _with_pixels(source, lay, where)
    if threads and ts == uid.JPEG2000Lossless and isinstance(source, Dataset):
        arr = _decode_j2k_threaded(source, ref.index, lay)
        if arr is not None:
            return _check_decoded(arr, lay, where)
    plugins = DECODERS.get(ts, ("",)) if ts.is_compressed else ("",)
    failure: BaseException | None = None
    arr = None
    for plugin in plugins:
        try:
            arr = pixel_array(source, index=ref.index, decoding_plugin=plugin)
            break
        except _PASS_THROUGH:
            raise
        except MemoryError:
            raise PixelDataError("not enough memory to decode the frame", where) from None
        except BaseException as exc:  # decoders raise anything, Rust panics included
            failure = exc
    if arr is None and ts in _CODECS:
        try:
            arr = _decode_codec(ref, lay, _CODECS[ts])
        except _PASS_THROUGH:
            raise
        except MemoryError:
            raise PixelDataError("not enough memory to decode the frame", where) from None
        except BaseException as exc:  # the same: imagecodecs' own errors
            failure = exc
    if arr is None:
        raise PixelDataError(_decode_problem(ts), where) from failure
    return _check_decoded(arr, lay, where)


def _decode_j2k_threaded(ds: Dataset, index: int, lay: Layout) -> np.ndarray | None:
    """A lossless JPEG 2000 frame through imagecodecs (the GIL released while it decodes), or None.

    Only a single-component codestream whose sign (SIZ Ssiz bit 7, ISO 15444-1
    A.5.1) is the header's Pixel Representation, decoded to the header's Bits
    Allocated: pydicom then corrects nothing either (it changes JPEG 2000
    samples only when their sign disagrees with the header), so the samples
    equal the plugin's.  Anything else, or any failure, is None: the usual
    decoders decide, and say what is wrong.
    """
    if lay.samples != 1 or lay.bits_allocated not in (8, 16):
        return None
    try:
        import imagecodecs

        frame = pydicom.encaps.get_frame(ds[lay.keyword].value, index, number_of_frames=lay.frames)
        if len(frame) < 43 or frame[:4] != b"\xff\x4f\xff\x51" or struct.unpack(">H", frame[40:42])[0] != 1:
            return None
        if bool(frame[42] & 0x80) != lay.signed:
            return None
        arr = imagecodecs.jpeg2k_decode(frame)
    except Exception:  # the usual decoders decide and word the error
        return None
    want = np.dtype(f"{'i' if lay.signed else 'u'}{lay.bits_allocated // 8}")
    if arr.dtype != want or arr.shape != lay.shape:
        return None
    return arr


def _with_pixels(path: str | os.PathLike[str], lay: Layout, where: ErrorPath) -> str | os.PathLike[str] | Dataset:
    """A single-frame compressed file read whole, its encapsulated data checked like a file opened alone.

    Series slices keep their pixel data on disk until shown; this gives them the
    fragment, codestream and cut-short checks of :func:`check_pixel_data` before
    a decoder sees the stream.  Files over :data:`FULL_READ_LIMIT` stay on disk.
    """
    try:
        size = os.path.getsize(path)
        if size > FULL_READ_LIMIT:
            return path
        ds = read_dataset(Path(path), Path(path).read_bytes())
        pixels = pixel_element(ds)
    except (OSError, MemoryError):
        raise PixelDataError("the pixel data cannot be read (the file is unreadable)", where) from None
    except Exception:  # pydicom's reader fails in many ways on damaged files
        raise PixelDataError("the pixel data cannot be read (the file is cut short or damaged)", where) from None
    if pixels is None:
        raise PixelDataError("the pixel data element is gone from the file", where)
    check_pixel_data(ds, lay, pixels, where)
    return ds


def _decode_problem(ts: UID) -> str:
    if not ts.is_compressed:
        return f"pixel data could not be read as {ts.name} (the data are shorter than the header says or damaged)"
    family = FAMILY_NAMES.get(FAMILY_OF.get(ts, ""), ts.name)
    return f"pixel data could not be decoded as {ts.name} (the stream is damaged or is not {family})"


def _check_decoded(arr: np.ndarray, lay: Layout, where: ErrorPath) -> np.ndarray:
    """A decoded frame must have the header's shape; a decoder that returns another one is an error."""
    want = lay.shape
    if arr.shape != want:
        if arr.ndim == len(want) + 1 and arr.shape[1:] == want and arr.shape[0] >= 1:
            arr = arr[0]
        else:
            got = " x ".join(str(n) for n in arr.shape)
            raise PixelDataError(f"decoded frame is {got}, the header says {' x '.join(map(str, want))}", where)
    if arr.dtype == np.float64:
        # Double Float Pixel Data beyond float32's range become +-inf (shown at the window's ends)
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def _decode_codec(ref: FrameRef, lay: Layout, codec: str) -> np.ndarray:
    """One encapsulated frame through imagecodecs; samples to the header's Bits Allocated and sign (PS3.5 8.2)."""
    import imagecodecs

    ds = ref.source if isinstance(ref.source, Dataset) else pydicom.dcmread(ref.source)
    frame = pydicom.encaps.get_frame(ds[lay.keyword].value, ref.index, number_of_frames=lay.frames)
    arr = getattr(imagecodecs, f"{codec}_decode")(frame)
    kind = "i" if lay.signed else "u"
    arr = arr.astype(f"{kind}{max(lay.bits_allocated // 8, 1)}", copy=False)
    if lay.signed and 0 < lay.bits_stored < 8 * arr.itemsize:
        shift = 8 * arr.itemsize - lay.bits_stored  # two's complement in Bits Stored bits (PS3.5 8.1.1)
        arr = np.left_shift(arr, shift) >> shift
    return arr

"""The image object: headers parsed once, frames decoded once, rendered many times.

:func:`load` reads a file, a folder (a series) or a Dataset and returns a
:class:`DicomImage`.  The image owns the caches (decoded stored values and the
float32 modality values) through one byte-budget :class:`~dcmlib.cache.FrameCache`.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pixel_array

from . import color
from .cache import DEFAULT_CACHE_MB, FrameCache, ReadAhead, read_ahead_depth
from .errors import (
    DcmviewError,
    DcmviewWarning,
    InvalidArgumentError,
    NoPixelDataError,
    NotDicomError,
    PixelDataError,
    UnsupportedError,
)
from .frames import PIXEL_KEYWORDS, FrameRef
from .lut import LutData, Modality, VoiFunction, VoiLut, Window, check_window, lut_lookup, modality_lut, voi_lut, voi_window
from .presentation import invert_unit, needs_inversion, to_uint8
from .presets import PRESETS, Preset, get_preset

__all__ = ["DicomImage", "load"]

Warn = Callable[[str], None]

_GRAY = frozenset({"MONOCHROME1", "MONOCHROME2"})
_FULL_READ_LIMIT = 256 * 1024 * 1024  # bytes; larger files decode frame by frame from disk


# ----------------------------------------------------------------------------- reading


def _read_file(path: Path) -> Dataset:
    """Read a DICOM file; anything that is not one becomes :class:`NotDicomError`."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotDicomError(exc.strerror or "cannot read", path) from None
    if size == 0:
        raise NotDicomError("empty file", path)
    try:
        try:
            ds = pydicom.dcmread(path, defer_size=_FULL_READ_LIMIT)
        except InvalidDicomError:
            # No preamble/meta: accept only what parses as an image header.
            ds = pydicom.dcmread(path, force=True, defer_size=_FULL_READ_LIMIT)
            if "Rows" not in ds and "SOPClassUID" not in ds:
                raise NotDicomError("not a DICOM file", path) from None
    except NotDicomError:
        raise
    except IsADirectoryError:
        raise NotDicomError("is a directory", path) from None
    except PermissionError:
        raise NotDicomError("permission denied", path) from None
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, struct.error, OverflowError) as exc:
        raise NotDicomError(f"not a readable DICOM file ({_short(exc)})", path) from None
    except OSError as exc:
        raise NotDicomError(f"cannot read ({_short(exc)})", path) from None
    return ds


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _int(ds: Dataset, keyword: str, default: int) -> int:
    value = ds.get(keyword, default)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _float(value: object, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _multi(value: object) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return list(value)
    return [value]


# ----------------------------------------------------------------------------- header checks


@dataclass(frozen=True)
class _Layout:
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    frames: int
    photometric: str
    keyword: str  # which pixel data element

    @property
    def frame_bytes(self) -> int:
        """Bytes of one decoded frame (1-bit data counted as bytes, as decoders unpack them)."""
        return self.rows * self.columns * self.samples * max(self.bits_allocated // 8, 1)


def _layout(ds: Dataset, path: object) -> _Layout:
    keyword = next((k for k in PIXEL_KEYWORDS if k in ds), "")
    if not keyword:
        raise NoPixelDataError("no pixel data (not an image)", path)
    rows, cols = _int(ds, "Rows", 0), _int(ds, "Columns", 0)
    if rows <= 0 or cols <= 0:
        raise PixelDataError(f"invalid image size Rows={rows} Columns={cols}", path)
    bits_alloc = _int(ds, "BitsAllocated", 0)
    if keyword == "FloatPixelData":
        bits_alloc = 32
    elif keyword == "DoubleFloatPixelData":
        bits_alloc = 64
    if bits_alloc not in (1, 8, 16, 32, 64):
        raise PixelDataError(f"unsupported Bits Allocated {bits_alloc}", path)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").strip().upper()
    if photometric not in _GRAY and photometric not in color.COLOR_PHOTOMETRICS:
        raise UnsupportedError(f"unsupported photometric interpretation {photometric!r}", path)
    return _Layout(
        rows=rows,
        columns=cols,
        samples=max(_int(ds, "SamplesPerPixel", 1), 1),
        bits_allocated=bits_alloc,
        bits_stored=_int(ds, "BitsStored", bits_alloc) or bits_alloc,
        signed=_int(ds, "PixelRepresentation", 0) == 1,
        frames=max(_int(ds, "NumberOfFrames", 1), 1),
        photometric=photometric,
        keyword=keyword,
    )


def _check_pixel_length(ds: Dataset, lay: _Layout, path: object) -> None:
    """Fail fast when the header's sizes disagree with the pixel data (no huge allocation)."""
    length, raw = _pixel_element(ds, lay.keyword)
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    samples = lay.samples
    if lay.photometric == "YBR_FULL_422" and ts is not None and not ts.is_compressed:
        samples = 2  # 4:2:2 subsampled: two samples per pixel on average (PS3.5 8.2.3)
    pixels = lay.rows * lay.columns * samples
    if ts is None or not ts.is_encapsulated:
        need = (pixels * lay.frames * lay.bits_allocated + 7) // 8
        if length < need:
            raise PixelDataError(
                f"pixel data has {length} bytes but the header needs {need} "
                f"({lay.frames} x {lay.rows} x {lay.columns} x {samples} x {lay.bits_allocated} bits)",
                path,
            )
        return
    if raw is None:
        return  # deferred (very large file): the decoder checks each frame
    try:
        fragment = _first_fragment(raw)
    except (ValueError, StopIteration, struct.error) as exc:
        raise PixelDataError(f"broken encapsulated pixel data ({_short(exc)})", path) from None
    if not fragment:
        raise PixelDataError("encapsulated pixel data holds no frame", path)
    dims = _codestream_size(fragment)
    if dims is not None and lay.rows * lay.columns > dims[0] * dims[1]:
        raise PixelDataError(
            f"compressed frame is {dims[1]} x {dims[0]} but the header says {lay.columns} x {lay.rows}", path
        )
    if ts == pydicom.uid.RLELossless:
        # An RLE run stores at most 128 bytes in 2, so a frame cannot be larger than 64x its bytes.
        if lay.frame_bytes > 64 * len(raw) + 64:
            raise PixelDataError(
                f"RLE data ({len(raw)} bytes) is too small for a {lay.columns} x {lay.rows} frame", path
            )


def _pixel_element(ds: Dataset, keyword: str) -> tuple[int, bytes | None]:
    """(length, value) of the pixel data element without loading a deferred value (None then)."""
    item = ds.get_item(keyword, keep_deferred=True)  # do not read a deferred value
    value = getattr(item, "value", None)
    if isinstance(value, (bytes, bytearray)):
        return len(value), bytes(value) if isinstance(value, bytearray) else value
    length = getattr(item, "length", 0) or 0
    return int(length), None


def _first_fragment(raw: bytes) -> bytes:
    """The first fragment after the Basic Offset Table item (PS3.5 A.4)."""
    if len(raw) < 8 or raw[:4] != b"\xfe\xff\x00\xe0":
        raise ValueError("no Basic Offset Table item at the start of the encapsulated pixel data")
    bot_length = struct.unpack("<I", raw[4:8])[0]
    return next(pydicom.encaps.generate_fragments(raw[8 + bot_length :]), b"")


def _codestream_size(data: bytes) -> tuple[int, int] | None:
    """(rows, columns) from a JPEG, JPEG-LS or JPEG 2000 frame header, or None if unknown."""
    if data[:4] == b"\x00\x00\x00\x0c" and data[4:8] == b"jP  ":  # JP2 file: ihdr box
        i = data.find(b"ihdr")
        if i >= 0 and len(data) >= i + 12:
            h, w = struct.unpack(">II", data[i + 4 : i + 12])
            return h, w
        return None
    if data[:4] == b"\xff\x4f\xff\x51" and len(data) >= 24:  # J2K codestream: SIZ marker
        xs, ys, xo, yo = struct.unpack(">IIII", data[8:24])
        return ys - yo, xs - xo
    if data[:2] == b"\xff\xd8":  # JPEG / JPEG-LS: walk markers to the frame header
        i = 2
        while i + 4 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:
                i += 1
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7):
                if i + 9 > len(data):
                    return None
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return (h, w) if h and w else None
            if marker == 0xDA:
                return None
            i += 2 + length
    return None


_STDERR_LOCK = threading.Lock()
_stderr_state = {"depth": 0, "saved": -1}


@contextlib.contextmanager
def _quiet_c_stderr():
    """Silence what C decoders (OpenJPEG, CharLS) print on fd 2 while they run.

    Their failures still raise; the message then comes from us, as one line.
    fd 2 is process-wide: with the read-ahead thread decoding too, the first
    decoder in redirects and the last one out restores (a counter under a lock),
    so fd 2 is never left pointing at /dev/null.
    """
    with _STDERR_LOCK:
        if _stderr_state["depth"] == 0:
            try:
                saved = os.dup(2)
                with open(os.devnull, "wb") as null:
                    os.dup2(null.fileno(), 2)
            except OSError:
                saved = -1
            _stderr_state["saved"] = saved
        _stderr_state["depth"] += 1
    try:
        yield
    finally:
        with _STDERR_LOCK:
            _stderr_state["depth"] -= 1
            if _stderr_state["depth"] == 0 and _stderr_state["saved"] >= 0:
                os.dup2(_stderr_state["saved"], 2)
                os.close(_stderr_state["saved"])
                _stderr_state["saved"] = -1


def _decode_jpeg12(ref: FrameRef, lay: _Layout) -> np.ndarray | None:
    """12-bit JPEG Extended through imagecodecs (libjpeg-turbo, BSD): pydicom's permissive plugins lack it."""
    ds = ref.source if isinstance(ref.source, Dataset) else pydicom.dcmread(ref.source)
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts != pydicom.uid.JPEGExtended12Bit or lay.bits_stored <= 8 or lay.samples != 1:
        return None
    import imagecodecs  # noqa: PLC0415  (only for this rare syntax)

    frame = pydicom.encaps.get_frame(ds.PixelData, ref.index, number_of_frames=lay.frames)
    arr = imagecodecs.jpeg8_decode(frame)
    return arr.view(np.int16) if lay.signed else arr


# ----------------------------------------------------------------------------- per-frame parameters


def _functional_item(ds: Dataset, index: int, sequence: str) -> Dataset | None:
    """The first item of ``sequence`` for a frame: per-frame groups first, then shared (PS3.3 C.7.6.16)."""
    for groups, i in (("PerFrameFunctionalGroupsSequence", index), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq and i < len(seq):
            inner = seq[i].get(sequence)
            if inner:
                return inner[0]
    return None


def _lut_data(item: Dataset, signed_input: bool) -> LutData:
    """LUT Descriptor + LUT Data (PS3.3 C.11.1.1): 0 entries means 65536; signed first value."""
    desc = [int(v) for v in _multi(item.get("LUTDescriptor"))]
    if len(desc) != 3:
        raise ValueError(f"LUT Descriptor must have 3 values, got {desc}")
    n = desc[0] if desc[0] > 0 else 65536
    first = desc[1] & 0xFFFF
    if signed_input and first > 32767:
        first -= 65536
    bits = desc[2]
    raw = item.get("LUTData")
    raw = getattr(raw, "value", raw) if not isinstance(raw, (bytes, list)) else raw
    if isinstance(raw, (bytes, bytearray)):
        if bits <= 8 and len(raw) == n:
            entries = np.frombuffer(raw, dtype=np.uint8)
        else:
            entries = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2")
    else:
        entries = np.asarray(_multi(raw), dtype=np.int64)
    if entries.size == 0:
        raise ValueError("LUT Data is empty")
    entries = entries[:n].astype(np.int64)
    top = int(entries.max())
    if not 1 <= bits <= 16 or top >= (1 << bits):
        # Entries wider than the descriptor says (a common 8-bit-descriptor, 16-bit-data
        # mislabel): trust the data, as DCMTK does, rather than saturate to white.
        bits = max(top.bit_length(), 1)
    return LutData(first_mapped=first, bits=bits, entries=entries)


@dataclass(frozen=True)
class _FrameParams:
    modality: Modality
    vois: tuple[Window | VoiLut, ...]
    function: VoiFunction
    lut_shape: str
    padding: tuple[int, int] | None
    invalid_windows: tuple[str, ...] = ()
    first_window_invalid: str = ""  # the message when stored window 1 (the default) is invalid


def _frame_params(ds: Dataset, index: int, lay: _Layout) -> _FrameParams:
    # Modality LUT: Pixel Value Transformation (enhanced) or the image's own (C.11.1).
    pvt = _functional_item(ds, index, "PixelValueTransformationSequence")
    src = pvt if pvt is not None else ds
    mlut = None
    mlut_expl = ""
    seq = ds.get("ModalityLUTSequence")
    if seq:
        try:
            mlut = _lut_data(seq[0], lay.signed)
            mlut_expl = str(seq[0].get("LUTExplanation", "") or "")
        except (ValueError, TypeError, AttributeError):
            mlut = None
    modality = Modality(
        slope=_float(src.get("RescaleSlope"), 1.0) or 1.0,
        intercept=_float(src.get("RescaleIntercept"), 0.0),
        rescale_type=str(src.get("RescaleType", "") or ""),
        lut=mlut,
        lut_explanation=mlut_expl,
    )
    # VOI: Frame VOI LUT (enhanced) or the image's own (C.11.2).
    fvoi = _functional_item(ds, index, "FrameVOILUTSequence")
    vsrc = fvoi if fvoi is not None and "WindowCenter" in fvoi else ds
    function = VoiFunction.LINEAR
    fn_text = str(vsrc.get("VOILUTFunction", "") or "").strip().upper()
    if fn_text in VoiFunction.__members__:
        function = VoiFunction(fn_text)
    centers = _multi(vsrc.get("WindowCenter"))
    widths = _multi(vsrc.get("WindowWidth"))
    expls = [str(e) for e in _multi(vsrc.get("WindowCenterWidthExplanation"))]
    vois: list[Window | VoiLut] = []
    invalid: list[str] = []
    first_invalid = ""
    for i, (c, w) in enumerate(zip(centers, widths)):
        cf, wf = _float(c, float("nan")), _float(w, float("nan"))
        try:
            check_window(cf, wf, function)
        except InvalidArgumentError:
            invalid.append(f"stored window {i + 1} (center {c}, width {w}) is invalid")
            if i == 0:
                first_invalid = invalid[-1]
            continue
        vois.append(Window(cf, wf, function, expls[i] if i < len(expls) else ""))
    lsrc = fvoi if fvoi is not None and "VOILUTSequence" in fvoi else ds
    for item in lsrc.get("VOILUTSequence") or ():
        try:
            vois.append(VoiLut(_lut_data(item, lay.signed), str(item.get("LUTExplanation", "") or "")))
        except (ValueError, TypeError, AttributeError) as exc:
            invalid.append(f"VOI LUT ignored ({_short(exc)})")
    padding = None
    if "PixelPaddingValue" in ds:
        v = _int(ds, "PixelPaddingValue", 0)
        limit = _int(ds, "PixelPaddingRangeLimit", v) if "PixelPaddingRangeLimit" in ds else v

        def fix(x: int) -> int:
            if lay.signed and x > 32767 and lay.bits_allocated <= 16:
                return x - 65536
            return x

        v, limit = fix(v), fix(limit)
        padding = (min(v, limit), max(v, limit))
    elif lay.keyword != "PixelData":
        # Float / Double Float Pixel Data have their own padding attributes (0028,0122..0125).
        prefix = "Float" if lay.keyword == "FloatPixelData" else "DoubleFloat"
        fv = _float(ds.get(f"{prefix}PixelPaddingValue"), float("nan"))
        fl = _float(ds.get(f"{prefix}PixelPaddingRangeLimit"), fv)
        if fv == fv and fl == fl:  # both present and not NaN
            padding = (min(fv, fl), max(fv, fl))  # type: ignore[assignment]
    return _FrameParams(
        modality=modality,
        vois=tuple(vois),
        function=function,
        lut_shape=str(ds.get("PresentationLUTShape", "") or ""),
        padding=padding,
        invalid_windows=tuple(invalid),
        first_window_invalid=first_invalid,
    )


# ----------------------------------------------------------------------------- the image


@dataclass(frozen=True)
class _VoiSpec:
    """What the VOI stage does for one render: a window or a VOI LUT."""

    window: Window | None = None
    lut: VoiLut | None = None


class DicomImage:
    """A DICOM image or stack: headers parsed once, frames decoded lazily and cached.

    Use :func:`load` to make one.  ``len(img)`` is the number of frames (slices
    for a series); frame numbers in the API are 0-based.
    """

    def __init__(
        self,
        refs: Sequence[FrameRef],
        *,
        name: str = "",
        path: str | None = None,
        cache_mb: float | None = None,
        on_warning: Warn | None = None,
        read_ahead: bool = True,
    ):
        if not refs:
            raise NotDicomError("no images", path)
        self._refs = list(refs)
        self.path = path
        self.name = name or (Path(path).name if path else "dataset")
        self.header: Dataset = self._refs[0].header
        self._layout = _layout(self.header, path)
        self._layouts: dict[int, _Layout] = {}  # id(header) -> layout, pixel length checked
        self._cache = FrameCache(cache_mb if cache_mb is not None else DEFAULT_CACHE_MB)
        self._params: dict[int, _FrameParams] = {}
        self._warn_fn = on_warning
        self._warned: set[str] = set()
        self.decodes = 0  #: frames decoded so far (for tests of lazy decoding)
        # A series decodes ahead in the scroll direction on a background thread. The
        # thread holds only a weak reference, so a dropped image is collected.
        self._is_series = len({id(r.header) for r in self._refs}) > 1
        self._ahead: ReadAhead | None = None
        if read_ahead and self._is_series:
            depth = read_ahead_depth(self._cache.budget, self._layout.frame_bytes)
            if depth:
                me = weakref.ref(self)

                def fetch(i: int) -> None:
                    img = me()
                    if img is not None:
                        img._stored(i)

                self._ahead = ReadAhead(fetch, len(self._refs), depth=depth)

    # -- description ----------------------------------------------------------
    def __len__(self) -> int:
        return len(self._refs)

    def __repr__(self) -> str:
        lay = self._layout
        return f"<DicomImage {self.name!r} {self.modality or '?'} {lay.columns}x{lay.rows} x{len(self)} {lay.photometric}>"

    @property
    def rows(self) -> int:
        return self._layout.rows

    @property
    def columns(self) -> int:
        return self._layout.columns

    @property
    def photometric(self) -> str:
        """Photometric Interpretation (0028,0004) as stored, e.g. ``MONOCHROME2``."""
        return self._layout.photometric

    @property
    def is_color(self) -> bool:
        return self._layout.photometric not in _GRAY

    @property
    def modality(self) -> str:
        return str(self.header.get("Modality", "") or "")

    @property
    def unit(self) -> str:
        """Unit of the modality values: Rescale Type, ``HU`` for CT, else empty."""
        if self.is_color:
            return "RGB"
        rt = self._frame_params(0).modality.rescale_type
        if rt and rt.upper() not in ("US", "UNSPECIFIED"):
            return rt
        return "HU" if self.modality == "CT" else ""

    @property
    def presets(self):  # -> Mapping[str, Preset]
        return PRESETS

    @property
    def is_series(self) -> bool:
        """True for a stack of several files (a series folder), False for one file."""
        return self._is_series

    def position(self, frame: int) -> float | None:
        """Slice position in mm along the series normal, when known."""
        return self._refs[self._check_frame(frame)].position

    # -- per-frame parameters -------------------------------------------------
    def _warn(self, message: str) -> None:
        if message in self._warned:
            return
        self._warned.add(message)
        text = f"{self.path or self.name}: {message}"
        if self._warn_fn is not None:
            self._warn_fn(text)
        else:
            warnings.warn(text, DcmviewWarning, stacklevel=3)

    def _check_frame(self, frame: int) -> int:
        try:
            f = int(frame)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"frame must be an integer, got {frame!r}", self.path) from None
        if not 0 <= f < len(self):
            raise InvalidArgumentError(f"frame index {frame} out of range (0..{len(self) - 1})", self.path)
        return f

    def _ref_layout(self, ref: FrameRef) -> _Layout:
        """The layout of a frame's own header, its pixel length checked once per header.

        ``load`` checks a single file before building its frames; series files,
        whose headers keep the pixel element deferred, are checked here.
        """
        lay = self._layouts.get(id(ref.header))
        if lay is None:
            lay = self._layout if ref.header is self.header else _layout(ref.header, self._ref_path(ref))
            if lay.keyword in ref.header:  # series headers keep the element deferred: its length is known
                _check_pixel_length(ref.header, lay, self._ref_path(ref))
            self._layouts[id(ref.header)] = lay
        return lay

    def _frame_params(self, frame: int) -> _FrameParams:
        p = self._params.get(frame)
        if p is None:
            ref = self._refs[frame]
            p = _frame_params(ref.header, ref.index, self._ref_layout(ref))
            self._params[frame] = p
        return p

    def _ref_path(self, ref: FrameRef) -> str | None:
        return os.fspath(ref.source) if not isinstance(ref.source, Dataset) else self.path

    def vois(self, frame: int = 0) -> list[Window | VoiLut]:
        """Stored VOIs of a frame: windows first, then VOI LUTs (PS3.3 C.11.2); invalid ones left out."""
        return list(self._frame_params(self._check_frame(frame)).vois)

    # -- pixels -----------------------------------------------------------------
    def stored(self, frame: int = 0) -> np.ndarray:
        """Decoded stored values of a frame (colour: RGB or palette indices); cached, read-only."""
        f = self._check_frame(frame)
        arr = self._stored(f)
        if self._ahead is not None:
            self._ahead.hint(f)
        return arr

    def _stored(self, f: int) -> np.ndarray:
        """Through the cache, decoded once even when the read-ahead is decoding it too."""

        def load() -> np.ndarray:
            arr = self._decode(f)
            arr.flags.writeable = False
            return arr

        return self._cache.get_or_load(("stored", f), load)

    def _decode(self, frame: int) -> np.ndarray:
        ref = self._refs[frame]
        where = self._ref_path(ref)
        lay = self._ref_layout(ref)
        ts = getattr(getattr(ref.header, "file_meta", None), "TransferSyntaxUID", None)
        # Only C decoders print on fd 2; native data keep stderr untouched (the viewer's
        # warnings must not vanish while the read-ahead decodes).
        quiet = _quiet_c_stderr() if ts is not None and ts.is_compressed else contextlib.nullcontext()
        try:
            try:
                with quiet:
                    arr = pixel_array(ref.source, index=ref.index)
            except (RuntimeError, ValueError, NotImplementedError):
                arr = _decode_jpeg12(ref, lay)
                if arr is None:
                    raise
        except DcmviewError:
            raise
        except MemoryError:
            raise PixelDataError("not enough memory to decode the frame", where) from None
        except (ValueError, RuntimeError, NotImplementedError, KeyError, TypeError, AttributeError,
                IndexError, OSError, EOFError, struct.error, AssertionError) as exc:
            tsn = f" ({ts.name})" if ts is not None and hasattr(ts, "name") else ""
            raise PixelDataError(f"cannot decode pixel data{tsn}: {_short(exc)}", where) from None
        self.decodes += 1
        want = (lay.rows, lay.columns) + ((lay.samples,) if lay.samples > 1 else ())
        if arr.shape != want:
            if arr.ndim == len(want) + 1 and arr.shape[1:] == want and arr.shape[0] >= 1:
                arr = arr[0]
            else:
                raise PixelDataError(f"decoded frame has shape {arr.shape}, header says {want}", where)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        return np.ascontiguousarray(arr)

    def values(self, frame: int = 0) -> np.ndarray:
        """Modality values of a frame (HU for CT) as float32; colour: RGB uint8. Cached, read-only."""
        f = self._check_frame(frame)

        def load() -> np.ndarray:
            if self.is_color:
                arr = self._color_rgb(f)
            else:
                arr = self._modality(self.stored(f), self._frame_params(f).modality)
            arr.flags.writeable = False
            return arr

        return self._cache.get_or_load(("rgb" if self.is_color else "values", f), load, derived=True)

    @staticmethod
    def _modality(stored: np.ndarray, m: Modality) -> np.ndarray:
        if m.lut is not None and stored.dtype.kind in "iub":
            return lut_lookup(stored, m.lut).astype(np.float32)
        return modality_lut(stored, m.slope, m.intercept)

    def _color_rgb(self, frame: int) -> np.ndarray:
        arr = self.stored(frame)
        if self.photometric == "PALETTE COLOR":
            try:
                return color.palette_to_rgb(arr, self._refs[frame].header)
            except UnsupportedError as exc:  # color.py knows no file: name it here
                raise UnsupportedError(exc.problem, self._ref_path(self._refs[frame])) from None
        return color.to_uint8_rgb(arr, self._layout.bits_stored)

    def padding_mask(self, frame: int = 0) -> np.ndarray | None:
        """Where a frame holds Pixel Padding (PS3.3 C.7.5.1.1.2), or None when the file declares none.

        Padding is left out of min-max and auto windows and rendered as 0 (background).
        """
        f = self._check_frame(frame)
        pad = self._frame_params(f).padding
        if pad is None:
            return None
        s = self.stored(f)
        return (s >= pad[0]) & (s <= pad[1])

    # -- windows ------------------------------------------------------------------
    def frame_range(self, frame: int = 0) -> tuple[float, float]:
        """(min, max) of a frame's modality values, padding and NaN excluded."""
        f = self._check_frame(frame)
        key = ("range", f)
        cached = self._cache.get(key)
        if cached is not None:
            return float(cached[0]), float(cached[1])
        v = self.values(f)
        if self.is_color:
            lo, hi = 0.0, 255.0
        else:
            mask = self.padding_mask(f)
            sel = v[~mask] if mask is not None else v
            if sel.dtype.kind == "f":
                sel = sel[np.isfinite(sel)] if not np.isfinite(sel).all() else sel
            if sel.size == 0:
                lo = hi = 0.0
            else:
                lo, hi = float(sel.min()), float(sel.max())
        self._cache.put(key, np.array([lo, hi]))
        return lo, hi

    @property
    def value_range(self) -> tuple[float, float]:
        """Range of modality values the stored bits can express (trackbar limits)."""
        lay = self._layout
        if self.is_color:
            return 0.0, 255.0
        if lay.keyword != "PixelData" or lay.bits_allocated > 16:
            return self.frame_range(0)
        bits = min(lay.bits_stored, lay.bits_allocated)
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if lay.signed else (0, (1 << bits) - 1)
        m = self._frame_params(0).modality
        ends = self._modality(np.array([lo, hi], dtype=np.int64), m)
        a, b = float(ends.min()), float(ends.max())
        if m.lut is not None:
            a, b = float(m.lut.entries.min()), float(m.lut.entries.max())
        return a, b

    def _minmax_window(self, frame: int) -> Window:
        lo, hi = self.frame_range(frame)
        if float(lo).is_integer() and float(hi).is_integer():
            # LINEAR maps [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] to the full range (C.11.2.1.2.1).
            return Window((lo + hi + 1) / 2.0, hi - lo + 1.0, VoiFunction.LINEAR, "min-max")
        return Window((lo + hi) / 2.0, max(hi - lo, 1e-6), VoiFunction.LINEAR_EXACT, "min-max")

    def _default_voi(self, frame: int) -> Window | VoiLut:
        p = self._frame_params(frame)
        if p.first_window_invalid:
            # Only the first stored window is the default: say what replaces it, once.
            instead = "the next stored VOI" if p.vois else "a min-max window"
            self._warn(f"{p.first_window_invalid}; using {instead}")
        return p.vois[0] if p.vois else self._minmax_window(frame)

    def default_window(self, frame: int = 0) -> tuple[float, float, str]:
        """The file's own first VOI as (center, width, mode), or the min-max window."""
        f = self._check_frame(frame)
        if self.is_color:
            return 127.5, 256.0, "linear"
        voi = self._default_voi(f)
        if isinstance(voi, VoiLut):
            c, w = voi.equivalent_window()
            return c, w, "linear"
        return voi.center, voi.width, voi.function.mode

    def auto_window(self, frame: int = 0, low: float = 0.5, high: float = 99.5) -> tuple[float, float]:
        """(center, width) spanning the ``low``..``high`` percentiles of the frame, padding excluded."""
        f = self._check_frame(frame)
        v = self.values(f)
        if self.is_color:
            return 127.5, 256.0
        mask = self.padding_mask(f)
        sel = v[~mask] if mask is not None else v.reshape(-1)
        step = max(1, sel.size // 1_000_000)
        sample = sel.reshape(-1)[::step]
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            return 0.0, 1.0
        lo, hi = (float(x) for x in np.percentile(sample, [low, high]))
        return (lo + hi) / 2.0, max(hi - lo, 1.0)

    # -- rendering ---------------------------------------------------------------
    def _resolve(
        self, frame: int, center, width, mode, voi, preset
    ) -> _VoiSpec:
        p = self._frame_params(frame)
        fn = VoiFunction.parse(mode) if mode is not None else None
        if center is not None or width is not None:
            dc, dw, dmode = self.default_window(frame)
            c = dc if center is None else center
            w = dw if width is None else width
            fn = fn or p.function
            check_window(c, w, fn)
            return _VoiSpec(Window(float(c), float(w), fn, "user"))
        if preset is not None:
            pr = preset if isinstance(preset, Preset) else get_preset(str(preset))
            return _VoiSpec(Window(pr.center, pr.width, fn or p.function, pr.name))
        if voi is not None:
            try:
                n = int(voi)
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"VOI index must be an integer, got {voi!r}", self.path) from None
            if not 1 <= n <= len(p.vois):
                have = f"1..{len(p.vois)}" if p.vois else "none stored"
                raise InvalidArgumentError(f"VOI {voi} out of range ({have})", self.path)
            chosen = p.vois[n - 1]
        else:
            chosen = self._default_voi(frame)
        if isinstance(chosen, VoiLut):
            return _VoiSpec(lut=chosen)
        if fn is not None and fn is not chosen.function:
            if fn is VoiFunction.LINEAR and chosen.width < 1:
                raise InvalidArgumentError(f"window width {chosen.width:g} is too small for LINEAR", self.path)
            chosen = Window(chosen.center, chosen.width, fn, chosen.explanation)
        return _VoiSpec(chosen)

    def _voi_unit(self, values: np.ndarray, spec: _VoiSpec) -> np.ndarray:
        if spec.lut is not None:
            return voi_lut(values, spec.lut.lut)
        w = spec.window
        assert w is not None
        return voi_window(values, w.center, w.width, w.function)

    def _inverted(self, frame: int, invert: bool) -> bool:
        return needs_inversion(self.photometric, self._frame_params(frame).lut_shape, invert)

    def render(
        self,
        center: float | None = None,
        width: float | None = None,
        *,
        mode: str | None = None,
        frame: int = 0,
        invert: bool = False,
        voi: int | None = None,
        preset: str | Preset | None = None,
    ) -> np.ndarray:
        """The display image of a frame: ``uint8`` (rows, columns), or BGR (rows, columns, 3) for colour.

        The VOI is, in this order: ``center``/``width`` (a missing one taken from
        the file's window), ``preset``, the ``voi``-th stored VOI (1-based), else
        the file's first VOI or a min-max window.  ``mode`` overrides the VOI LUT
        Function.  MONOCHROME1 and Presentation LUT Shape INVERSE are honoured;
        ``invert`` flips the result.  Colour images ignore the window.
        """
        f = self._check_frame(frame)
        if self.is_color:
            bgr = color.rgb_to_bgr(self.values(f))
            return cv2.bitwise_not(bgr) if invert else bgr
        spec = self._resolve(f, center, width, mode, voi, preset)
        stored = self.stored(f)
        inverted = self._inverted(f, invert)
        if stored.dtype in (np.uint8, np.int8, np.uint16, np.int16):
            table = self._display_table(f, stored, spec, inverted)
            src = stored.view(np.uint8) if stored.dtype == np.int8 else stored
            return cv2.LUT(src, table).reshape(stored.shape)
        out = self._window_values(self.values(f), spec, inverted)
        mask = self.padding_mask(f)
        if mask is not None:
            out[mask] = 0
        return out

    def _display_table(self, frame: int, stored: np.ndarray, spec: _VoiSpec, inverted: bool) -> np.ndarray:
        """The whole grey pipeline as one table indexed by stored code (256 or 65536 entries).

        Only the codes between the frame's smallest and largest stored value are
        computed (the others never occur); the table is indexed by the code's
        unsigned bit pattern, as ``cv2.LUT`` reads signed input.
        """
        n = 256 if stored.dtype.itemsize == 1 else 65536
        lo, hi = self._stored_range(frame)
        codes = np.arange(lo, hi + 1, dtype=np.int32)
        values = self._modality(codes, self._frame_params(frame).modality)
        part = self._window_values(values, spec, inverted)
        pad = self._frame_params(frame).padding
        if pad is not None:
            part[(codes >= pad[0]) & (codes <= pad[1])] = 0
        table = np.zeros(n, dtype=np.uint8)
        if lo >= 0:
            table[lo : hi + 1] = part
        else:
            table[codes & (n - 1)] = part
        return table

    def _stored_range(self, frame: int) -> tuple[int, int]:
        """Smallest and largest stored value of a (cached) frame."""
        key = ("srange", frame)
        cached = self._cache.get(key)
        if cached is None:
            stored = self.stored(frame)
            if stored.dtype.itemsize <= 2 and stored.dtype.kind in "iu":
                lo, hi, _, _ = cv2.minMaxLoc(stored.reshape(stored.shape[0], -1))
            else:
                lo, hi = stored.min(), stored.max()
            cached = self._cache.put(key, np.array([int(lo), int(hi)], dtype=np.int64))
        return int(cached[0]), int(cached[1])

    def _window_values(self, values: np.ndarray, spec: _VoiSpec, inverted: bool) -> np.ndarray:
        y = self._voi_unit(values, spec)
        if inverted:
            invert_unit(y, out=y)
        return to_uint8(y)

    def render_values(
        self,
        values: np.ndarray,
        center: float | None = None,
        width: float | None = None,
        *,
        mode: str | None = None,
        invert: bool = False,
        frame: int = 0,
        voi: int | None = None,
        preset: str | Preset | None = None,
    ) -> np.ndarray:
        """Window any array of modality values (e.g. a resized viewport) with this image's pipeline.

        Same VOI resolution and polarity as :meth:`render`; grayscale only.
        """
        if self.is_color:
            raise InvalidArgumentError("render_values is for grayscale images", self.path)
        f = self._check_frame(frame)
        spec = self._resolve(f, center, width, mode, voi, preset)
        return self._window_values(np.asarray(values, dtype=np.float32), spec, self._inverted(f, invert))

    # -- summary -----------------------------------------------------------------
    def _position_span(self) -> str:
        first, last = self._refs[0].position, self._refs[-1].position
        if len(self) < 2 or first is None or last is None:
            return ""
        return f" ({first:g} to {last:g} mm along the slice normal)"

    def info(self) -> str:
        """A short human summary without patient identifiers."""
        ds, lay = self.header, self._layout
        ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        lines = [
            f"{'folder' if self.is_series else 'file'}: {self.name}",
            f"modality: {self.modality or '(none)'}",
            f"sop class: {getattr(ds.get('SOPClassUID'), 'name', '') or ds.get('SOPClassUID', '(none)')}",
            f"size: {lay.columns} x {lay.rows}",
            f"{'slices' if self.is_series else 'frames'}: {len(self)}" + self._position_span(),
            f"photometric: {lay.photometric}" + (f" ({lay.samples} samples)" if lay.samples > 1 else ""),
            f"bits: {lay.bits_stored} stored / {lay.bits_allocated} allocated, "
            f"{'signed' if lay.signed else 'unsigned'}" + ("" if lay.keyword == "PixelData" else f", {lay.keyword}"),
        ]
        if not self.is_color:
            p = self._frame_params(0)
            m = p.modality
            if m.lut is not None:
                lines.append(f"modality LUT: {len(m.lut.entries)} entries from {m.lut.first_mapped}"
                             + (f" ({m.lut_explanation})" if m.lut_explanation else ""))
            else:
                unit = f" {self.unit}" if self.unit else ""
                lines.append(f"rescale: slope {m.slope:g}, intercept {m.intercept:g}{unit}")
            if p.vois:
                for i, v in enumerate(p.vois, 1):
                    if isinstance(v, Window):
                        fn = "" if v.function is VoiFunction.LINEAR else f" {v.function.value}"
                        expl = f" ({v.explanation})" if v.explanation else ""
                        lines.append(f"voi {i}: window center {v.center:g} width {v.width:g}{fn}{expl}")
                    else:
                        lines.append(f"voi {i}: VOI LUT {v.label}")
            else:
                lines.append("voi: none stored (min-max)")
            for msg in p.invalid_windows:
                lines.append(f"note: {msg}")
            if p.padding is not None:
                lines.append(f"pixel padding: {p.padding[0]}..{p.padding[1]}")
            if p.lut_shape:
                lines.append(f"presentation LUT shape: {p.lut_shape}")
        if ts is not None:
            lines.append(f"transfer syntax: {getattr(ts, 'name', ts)} ({ts})")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- load


def load(
    source: str | os.PathLike[str] | Dataset,
    *,
    series: str | int | None = None,
    cache_mb: float | None = None,
    on_warning: Warn | None = None,
    read_ahead: bool = True,
) -> DicomImage:
    """Open a DICOM file, a folder (one series as a stack) or a Dataset.

    Headers are read now; pixel data are decoded on first use and cached.
    ``series`` picks a series in a folder (UID or 1-based index); ``cache_mb``
    bounds the frame cache; ``on_warning`` receives recoverable problems (by
    default they become :class:`~dcmlib.errors.DcmviewWarning`). A series
    decodes the next slices in the scroll direction on a background thread
    unless ``read_ahead`` is False.

    Raises :class:`~dcmlib.errors.DcmviewError` subclasses on bad input.
    """
    if isinstance(source, Dataset):
        lay = _layout(source, None)
        _check_pixel_length(source, lay, None)  # before building one FrameRef per claimed frame
        refs = [FrameRef(source, source, i) for i in range(lay.frames)]
        return DicomImage(refs, name="dataset", cache_mb=cache_mb, on_warning=on_warning)
    path = Path(source)
    if not path.exists():
        raise NotDicomError("no such file or directory", path)
    if path.is_dir():
        from .series import scan_folder, select_series

        found = scan_folder(path, on_warning=on_warning)
        chosen = select_series(found, series, on_warning=on_warning)
        return DicomImage(chosen.frames, name=path.name or str(path), path=str(path), cache_mb=cache_mb,
                          read_ahead=read_ahead,
                          on_warning=on_warning)
    ds = _read_file(path)
    lay = _layout(ds, path)
    _check_pixel_length(ds, lay, path)
    deferred = _pixel_element(ds, lay.keyword)[1] is None
    src: str | Dataset = str(path) if deferred else ds  # a very large file decodes frame by frame from disk
    refs = [FrameRef(src, ds, i) for i in range(lay.frames)]
    return DicomImage(refs, name=path.name, path=str(path), cache_mb=cache_mb, on_warning=on_warning)

"""Header parsing: a Dataset becomes small frozen value objects, once.

Nothing after this stage reads a Dataset: :class:`Layout` says how the pixel
data are laid out (Image Pixel Module, PS3.3 C.7.6.3) and :class:`FrameParams`
holds one frame's Modality LUT, VOIs, padding and Presentation LUT Shape
(PS3.3 C.11, C.7.5.1.1.2).  Single files and series slices go through the same
functions, and enhanced multi-frame files through one functional-group lookup
(PS3.3 C.7.6.16).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from dcmlib.errors import (
    DcmviewError,
    ErrorPath,
    InvalidArgumentError,
    InvalidValueError,
    NoPixelDataError,
    NotDicomError,
    PixelDataError,
    UnsupportedError,
    exception_text,
)
from dcmlib.values.color import COLOR_PHOTOMETRICS
from dcmlib.values.frames import PixelElement
from dcmlib.values.lut import MAX_VALUE, LutData, Modality, VoiFunction, VoiLut, Window, check_window
from dcmlib.values.presentation import PresentationLutShape

__all__ = [
    "GRAY_PHOTOMETRICS",
    "frame_geometry",
    "header_errors",
    "Layout",
    "FrameParams",
    "layout",
    "frame_params",
    "functional_item",
    "lut_data",
    "int_value",
    "float_value",
    "multi",
    "text_value",
    "vector",
    "PixelSpacing",
    "pixel_spacing",
    "cine_rate",
]

#: Photometric interpretations shown in grey (PS3.3 C.7.6.3.1.2).
GRAY_PHOTOMETRICS = frozenset({"MONOCHROME1", "MONOCHROME2"})

_N = TypeVar("_N")
_D = TypeVar("_D")


# ----------------------------------------------------------------------------- values


@overload
def int_value(ds: Dataset | None, keyword: str, default: int) -> int: ...
@overload
def int_value(ds: Dataset | None, keyword: str, default: int | None) -> int | None: ...
def int_value(ds: Dataset | None, keyword: str, default: int | None) -> int | None:
    """An integer attribute, or ``default`` when absent, empty or not a number."""
    return _number(None if ds is None else ds.get(keyword), int, default)


def float_value(value: object, default: float) -> float:
    """A decimal value as float, or ``default`` when absent, empty or not a number."""
    return _number(value, float, default)


def _number(value: Any, kind: Callable[[Any], _N], default: _D) -> _N | _D:
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError, OverflowError):
        return default


def text_value(ds: Dataset | None, keyword: str) -> str:
    """A string attribute stripped of padding, ``""`` when absent."""
    value = None if ds is None else ds.get(keyword)
    if isinstance(value, (list, tuple, MultiValue)):  # several values where one is meant: as stored
        return "\\".join(str(v).strip() for v in value)
    return "" if value is None else str(value).strip()


def multi(value: object) -> list:
    """A possibly multi-valued element's value as a list (empty when absent)."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return list(value)
    return [value]


def vector(value: object, n: int) -> tuple[float, ...] | None:
    """``n`` finite numbers from a multi-valued DS element, else None."""
    try:
        v = tuple(float(x) for x in multi(value))
    except (TypeError, ValueError):
        return None
    return v if len(v) == n and all(math.isfinite(x) for x in v) else None


def functional_item(ds: Dataset, index: int, sequence: str) -> Dataset | None:
    """The first item of ``sequence`` for frame ``index``: per-frame groups first, then shared (PS3.3 C.7.6.16)."""
    for groups, i in (("PerFrameFunctionalGroupsSequence", index), ("SharedFunctionalGroupsSequence", 0)):
        seq = ds.get(groups)
        if seq and i < len(seq):
            inner = seq[i].get(sequence)
            if inner:
                return inner[0]
    return None


@contextlib.contextmanager
def header_errors(where: ErrorPath) -> Iterator[None]:
    """The header half of the error boundary: whatever reading a header value raises becomes a DcmviewError.

    pydicom converts elements on first access, so a damaged one (an unknown
    VR, a length its VR cannot have) fails wherever it is read; errors raised
    without a file get ``where``.
    """
    try:
        yield
    except DcmviewError as exc:
        if exc.path is None and where is not None:
            raise type(exc)(exc.problem, where) from None
        raise
    except MemoryError:
        raise NotDicomError("a header element claims more memory than there is", where) from None
    except Exception as exc:
        raise NotDicomError("the header is damaged (an element cannot be read)", where) from exc


# ----------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    """How one file's pixel data are laid out: Image Pixel Module, PS3.3 C.7.6.3."""

    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    frames: int
    photometric: str
    keyword: str  #: which pixel data element

    @property
    def frame_bytes(self) -> int:
        """Bytes of one decoded frame (1-bit data counted as bytes, as decoders unpack them)."""
        return self.rows * self.columns * self.samples * max(self.bits_allocated // 8, 1)

    @property
    def is_color(self) -> bool:
        return self.photometric not in GRAY_PHOTOMETRICS

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one decoded frame: (rows, columns) or (rows, columns, samples)."""
        return (self.rows, self.columns) + ((self.samples,) if self.samples > 1 else ())


def layout(ds: Dataset, pixels: PixelElement | None, path: ErrorPath) -> Layout:
    """The :class:`Layout` of a header, or the error that makes it no displayable image."""
    if pixels is None:
        raise NoPixelDataError("no pixel data (not an image)", path)
    rows, cols = int_value(ds, "Rows", 0), int_value(ds, "Columns", 0)
    if rows <= 0 or cols <= 0:
        raise PixelDataError(f"invalid image size Rows={rows} Columns={cols}", path)
    bits_alloc = {"FloatPixelData": 32, "DoubleFloatPixelData": 64}.get(
        pixels.keyword, int_value(ds, "BitsAllocated", 0)
    )
    if bits_alloc not in (1, 8, 16, 32, 64):
        raise PixelDataError(f"unsupported Bits Allocated {bits_alloc}", path)
    photometric = (text_value(ds, "PhotometricInterpretation") or "MONOCHROME2").upper()
    if photometric not in GRAY_PHOTOMETRICS and photometric not in COLOR_PHOTOMETRICS:
        raise UnsupportedError(f"unsupported photometric interpretation {photometric!r}", path)
    bits_stored = int_value(ds, "BitsStored", bits_alloc) or bits_alloc
    if pixels.keyword == "PixelData" and not 1 <= bits_stored <= bits_alloc:
        raise InvalidValueError(
            f"Bits Stored (0028,0101) {bits_stored} is not within 1..{bits_alloc} (Bits Allocated)", path
        )
    samples = int_value(ds, "SamplesPerPixel", 1)
    need = 1 if photometric in GRAY_PHOTOMETRICS or photometric == "PALETTE COLOR" else 3
    if samples != need:
        raise UnsupportedError(f"{photometric} needs Samples per Pixel (0028,0002) {need}, not {samples}", path)
    return Layout(
        rows=rows,
        columns=cols,
        samples=samples,
        bits_allocated=bits_alloc,
        bits_stored=bits_stored,
        signed=int_value(ds, "PixelRepresentation", 0) == 1,
        frames=max(int_value(ds, "NumberOfFrames", 1), 1),
        photometric=photometric,
        keyword=pixels.keyword,
    )


# ----------------------------------------------------------------------------- per-frame parameters


def lut_data(item: Dataset, signed_input: bool) -> LutData:
    """LUT Descriptor + LUT Data (PS3.3 C.11.1.1): 0 entries means 65536; signed first value.

    Entries wider than the descriptor's bits (a common 8-bit-descriptor,
    16-bit-data mislabel) are trusted, as DCMTK does, rather than saturated.
    """
    desc = [int(v) for v in multi(item.get("LUTDescriptor"))]
    if len(desc) != 3:
        raise ValueError(f"LUT Descriptor must have 3 values, got {desc}")
    n = desc[0] if desc[0] > 0 else 65536
    first = desc[1] & 0xFFFF
    if signed_input and first > 32767:
        first -= 65536
    bits = desc[2]
    raw = item.get("LUTData")
    if isinstance(raw, (bytes, bytearray)):
        if bits <= 8 and len(raw) == n:
            entries = np.frombuffer(raw, dtype=np.uint8)
        else:
            entries = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2")
    else:
        entries = np.asarray(multi(raw), dtype=np.int64)
    if entries.size == 0:
        raise ValueError("LUT Data is empty")
    entries = entries[:n].astype(np.int64)
    top = int(entries.max())
    if not 1 <= bits <= 16 or top >= (1 << bits):
        bits = max(top.bit_length(), 1)
    return LutData(first_mapped=first, bits=bits, entries=entries)


@dataclass(frozen=True)
class FrameParams:
    """What the grayscale pipeline needs of one frame, parsed from its header once."""

    modality: Modality
    vois: tuple[Window | VoiLut, ...]
    function: VoiFunction
    lut_shape: PresentationLutShape | None  #: Presentation LUT Shape (C.11.6.1.2), None when absent or unknown
    padding: tuple[float, float] | None
    invalid_windows: tuple[str, ...] = ()
    first_window_invalid: str = ""  #: the message when stored window 1 (the default) is invalid


def frame_params(ds: Dataset, index: int, lay: Layout) -> FrameParams:
    """Modality LUT, VOIs, padding and Presentation LUT Shape of frame ``index`` (PS3.3 C.11)."""
    fvoi = functional_item(ds, index, "FrameVOILUTSequence")
    function, windows, invalid, first_invalid = _windows(fvoi if fvoi is not None and "WindowCenter" in fvoi else ds)
    luts, lut_problems = _voi_luts(fvoi if fvoi is not None and "VOILUTSequence" in fvoi else ds, lay.signed)
    return FrameParams(
        modality=_modality(ds, index, lay),
        vois=tuple(windows) + tuple(luts),
        function=function,
        lut_shape=PresentationLutShape.parse(text_value(ds, "PresentationLUTShape")),
        padding=_padding(ds, lay),
        invalid_windows=tuple(invalid + lut_problems),
        first_window_invalid=first_invalid,
    )


def _modality(ds: Dataset, index: int, lay: Layout) -> Modality:
    """Rescale from Pixel Value Transformation (enhanced, C.7.6.16.2.9) or the image (C.11.1); a Modality LUT."""
    pvt = functional_item(ds, index, "PixelValueTransformationSequence")
    src = pvt if pvt is not None else ds
    lut, explanation = None, ""
    seq = ds.get("ModalityLUTSequence")
    if seq:
        try:
            lut = lut_data(seq[0], lay.signed)
            explanation = text_value(seq[0], "LUTExplanation")
        except (ValueError, TypeError, AttributeError):
            lut = None
    slope = float_value(src.get("RescaleSlope"), 1.0) or 1.0
    intercept = float_value(src.get("RescaleIntercept"), 0.0)
    if lut is None:
        _check_rescale(slope, intercept, lay)
    return Modality(
        slope=slope,
        intercept=intercept,
        rescale_type=text_value(src, "RescaleType"),
        lut=lut,
        lut_explanation=explanation,
    )


def _check_rescale(slope: float, intercept: float, lay: Layout) -> None:
    """Rescale Slope and Intercept (0028,1053 / 0028,1052) must give finite float32 modality values.

    Checked over the whole range the stored bits can hold (C.11.1.1.2), so no
    frame can overflow (float pixel data: the slope and intercept alone), and a slope that is zero in
    float32 (5e-324) is refused rather than shown as one flat grey.
    """
    for name, tag, v in (("Rescale Slope", "(0028,1053)", slope), ("Rescale Intercept", "(0028,1052)", intercept)):
        if not math.isfinite(v):
            raise InvalidValueError(f"{name} {tag} is {v}")
    if abs(slope) < 1e-30:
        raise InvalidValueError(f"Rescale Slope (0028,1053) {slope:g} is too small to scale stored values")
    bits = min(lay.bits_stored, 32)
    top = float(1 << (bits - 1 if lay.signed else bits)) if lay.keyword == "PixelData" else 1.0
    if abs(slope) * top + abs(intercept) > MAX_VALUE:
        raise InvalidValueError(
            f"Rescale Slope {slope:g} and Intercept {intercept:g} (0028,1053 / 0028,1052) "
            f"give modality values beyond +-{MAX_VALUE:g}"
        )


def _windows(src: Dataset) -> tuple[VoiFunction, list[Window], list[str], str]:
    """Stored Window Center/Width pairs and their VOI LUT Function (C.11.2.1.2-3); invalid ones reported."""
    fn_text = text_value(src, "VOILUTFunction").upper()
    function = VoiFunction(fn_text) if fn_text in VoiFunction.__members__ else VoiFunction.LINEAR
    centers, widths = multi(src.get("WindowCenter")), multi(src.get("WindowWidth"))
    expls = [str(e) for e in multi(src.get("WindowCenterWidthExplanation"))]
    windows: list[Window] = []
    invalid: list[str] = []
    first_invalid = ""
    for i, (c, w) in enumerate(zip(centers, widths)):
        cf, wf = float_value(c, float("nan")), float_value(w, float("nan"))
        try:
            check_window(cf, wf, function)
        except InvalidArgumentError:
            invalid.append(f"stored window {i + 1} (center {c}, width {w}) is invalid")
            first_invalid = first_invalid or (invalid[-1] if i == 0 else "")
            continue
        windows.append(Window(cf, wf, function, expls[i] if i < len(expls) else ""))
    return function, windows, invalid, first_invalid


def _voi_luts(src: Dataset, signed: bool) -> tuple[list[VoiLut], list[str]]:
    """The VOI LUT Sequence items (C.11.2.1.1); unreadable ones reported."""
    luts, problems = [], []
    for item in src.get("VOILUTSequence") or ():
        try:
            luts.append(VoiLut(lut_data(item, signed), text_value(item, "LUTExplanation")))
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(f"VOI LUT ignored ({exception_text(exc)})")
    return luts, problems


def _padding(ds: Dataset, lay: Layout) -> tuple[float, float] | None:
    """Pixel Padding Value and Range Limit as an inclusive stored-value range (PS3.3 C.7.5.1.1.2).

    Float and Double Float Pixel Data have their own padding attributes (0028,0122..0125).
    """
    if "PixelPaddingValue" in ds:
        v = int_value(ds, "PixelPaddingValue", 0)
        limit = int_value(ds, "PixelPaddingRangeLimit", v)
        if lay.signed and lay.bits_allocated <= 16:  # US-typed values of signed data: reinterpret
            v, limit = (x - 65536 if x > 32767 else x for x in (v, limit))
        return min(v, limit), max(v, limit)
    if lay.keyword != "PixelData":
        prefix = "Float" if lay.keyword == "FloatPixelData" else "DoubleFloat"
        fv = float_value(ds.get(f"{prefix}PixelPaddingValue"), float("nan"))
        fl = float_value(ds.get(f"{prefix}PixelPaddingRangeLimit"), fv)
        if fv == fv and fl == fl:
            return min(fv, fl), max(fv, fl)
    return None


# ----------------------------------------------------------------------------- measurement and cine (viewer)


@dataclass(frozen=True)
class PixelSpacing:
    """The physical size of a pixel, for measurements.

    ``row`` is the distance between the centres of adjacent rows (vertical) and
    ``column`` between adjacent columns (horizontal), in mm: the value order of
    PS3.3 10.7.1.3.  ``source`` is the attribute they come from: ``"pixel"``,
    Pixel Spacing (0028,0030), in the patient (PS3.3 10.7.1.1), or
    ``"imager"``, Imager Pixel Spacing (0018,1164), at the front plane of the
    detector (PS3.3 C.8.11.4).  ``calibration`` is Pixel Spacing Calibration
    Type (0028,0A02, PS3.3 10.7.1.2), ``GEOMETRY`` or ``FIDUCIAL``, or ``""``.
    """

    row: float
    column: float
    source: str = "pixel"
    calibration: str = ""
    calibrated: bool = False  #: Pixel Spacing differs from Imager Pixel Spacing (corrected, PS3.3 10.7.1.1)

    @property
    def label(self) -> str:
        """What a length in mm means here: ``""`` (in the patient), ``"(detector)"``, ``"(calibrated: fiducial)"``."""
        if self.calibration:
            return f"(calibrated: {self.calibration.lower()})"
        if self.source == "imager":
            return "(detector)"
        return "(calibrated)" if self.calibrated else ""


def pixel_spacing(ds: Dataset, index: int = 0) -> PixelSpacing | None:
    """The pixel spacing of frame ``index`` for measurements, or None when the file gives none.

    Pixel Spacing (0028,0030) from the frame's Pixel Measures Sequence (enhanced
    files, PS3.3 C.7.6.16.2.1) or the data set (Image Plane C.7.6.2, the Basic
    Pixel Spacing Calibration Macro 10.7.1); else Imager Pixel Spacing
    (0018,1164), measured at the detector (C.8.11.4).  A Pixel Spacing equal to
    the Imager Pixel Spacing is the detector's, uncorrected for magnification
    (10.7.1.1).  Values that are not two positive numbers are ignored.
    """
    measures = functional_item(ds, index, "PixelMeasuresSequence")
    ps = _spacing(measures.get("PixelSpacing") if measures is not None else None) or _spacing(ds.get("PixelSpacing"))
    imager = _spacing(ds.get("ImagerPixelSpacing"))
    calibration = text_value(ds, "PixelSpacingCalibrationType").upper()
    if calibration not in ("GEOMETRY", "FIDUCIAL"):
        calibration = ""
    if ps is not None:
        if imager is not None and not calibration and all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(ps, imager)):
            return PixelSpacing(*ps, source="imager")
        return PixelSpacing(*ps, source="pixel", calibration=calibration, calibrated=imager is not None)
    if imager is not None:
        return PixelSpacing(*imager, source="imager")
    return None


def _spacing(value: object) -> tuple[float, float] | None:
    v = vector(value, 2)
    return (v[0], v[1]) if v is not None and v[0] > 0 and v[1] > 0 else None


def cine_rate(ds: Dataset) -> tuple[float, str] | None:
    """Frames per second to play a multi-frame image at, and the attribute it comes from (PS3.3 C.7.6.5).

    In this order: Cine Rate (0018,0040); 1000 / Frame Time (0018,1063) in ms;
    1000 / the mean of the non-zero Frame Time Vector (0018,1065) increments;
    Recommended Display Frame Rate (0008,2144).  None when none is usable.
    """
    rate = float_value(ds.get("CineRate"), 0.0)
    if math.isfinite(rate) and rate > 0:
        return rate, "CineRate"
    frame_time = float_value(ds.get("FrameTime"), 0.0)
    if math.isfinite(frame_time) and frame_time > 0:
        return 1000.0 / frame_time, "FrameTime"
    try:
        steps = [float(t) for t in multi(ds.get("FrameTimeVector"))]
    except (TypeError, ValueError):
        steps = []
    steps = [t for t in steps if math.isfinite(t) and t > 0]
    if steps:
        return 1000.0 * len(steps) / sum(steps), "FrameTimeVector"
    rate = float_value(ds.get("RecommendedDisplayFrameRate"), 0.0)
    if math.isfinite(rate) and rate > 0:
        return rate, "RecommendedDisplayFrameRate"
    return None


def _vec3(value: object) -> np.ndarray | None:
    v = vector(value, 3)
    return None if v is None else np.asarray(v, dtype=np.float64)


def frame_geometry(ds: Dataset, nframes: int) -> tuple[list[tuple[float, ...] | None], list[np.ndarray | None]]:
    """Per-frame Image Orientation and Image Position (Patient) of one file.

    Single-frame (and classic multi-frame) images: the top-level attributes of
    the Image Plane Module, C.7.6.2; enhanced multi-frame: the Plane Orientation
    and Plane Position functional groups, C.7.6.16.2.3-4 (per-frame wins over shared).
    """
    if "SharedFunctionalGroupsSequence" not in ds and "PerFrameFunctionalGroupsSequence" not in ds:
        # A classic multi-frame file has one position: it belongs to the first frame only.
        o = vector(ds.get("ImageOrientationPatient"), 6)
        return [o] * nframes, [_vec3(ds.get("ImagePositionPatient"))] + [None] * (nframes - 1)
    orients: list[tuple[float, ...] | None] = []
    positions: list[np.ndarray | None] = []
    for i in range(nframes):
        o_item = functional_item(ds, i, "PlaneOrientationSequence")
        p_item = functional_item(ds, i, "PlanePositionSequence")
        orients.append(None if o_item is None else vector(o_item.get("ImageOrientationPatient"), 6))
        positions.append(None if p_item is None else _vec3(p_item.get("ImagePositionPatient")))
    return orients, positions

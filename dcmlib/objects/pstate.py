"""Grayscale Softcopy Presentation States (PS3.3 A.33.1) parsed once into frozen values (C.10.4-C.10.7, C.11.1,
C.11.6-C.11.8, C.11.11, C.7.6.11), and their spatial stages: rotation and flip (C.10.6), displayed area (C.10.4)."""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import Dataset

from dcmlib.errors import DcmviewError, ErrorPath, PresentationStateError
from dcmlib.objects.overlays import DisplayObjects, Overlay, parse_overlays
from dcmlib.objects.shutters import Shutter, parse_shutter
from dcmlib.read.header import float_value, lut_data, multi, text_value, vector
from dcmlib.values.lut import MAX_VALUE, LutData, Modality, VoiFunction, VoiLut, Window, check_window
from dcmlib.values.presentation import PresentationLutShape

__all__ = [
    "GraphicType",
    "GSPS_SOP_CLASS",
    "PresentationStateError",
    "ImageRef",
    "DisplayedArea",
    "GraphicLayer",
    "TextObject",
    "GraphicObject",
    "Annotation",
    "PresentationState",
    "load_pstate",
    "parse_pstate",
    "find_pstates",
    "spatial",
    "area_transform",
    "displayed_area",
    "describe_pstate",
]

#: The largest displayed area an output may have (pixels, after the magnification): 16k x 16k.
MAX_OUTPUT_PIXELS = 1 << 28

#: Grayscale Softcopy Presentation State Storage (PS3.4 B.5).
GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ImageRef:
    """One referenced image (C.11.11 / C.10.4 Referenced Image Sequence); ``frames`` 1-based, None = all."""

    series_uid: str
    sop_uid: str
    frames: tuple[int, ...] | None = None

    def matches(self, sop_uid: str, frame: int) -> bool:
        """Whether this reference covers ``frame`` (1-based) of the image ``sop_uid``."""
        return self.sop_uid == sop_uid and (self.frames is None or frame in self.frames)


def _applies(refs: tuple[ImageRef, ...], sop_uid: str, frame: int) -> bool:
    """An item without its own Referenced Image Sequence applies to every image of the state (C.10.4, C.11.8)."""
    return not refs or any(r.matches(sop_uid, frame) for r in refs)


@dataclass(frozen=True)
class DisplayedArea:
    """One Displayed Area Selection item (C.10.4): corners (column, row), 1-based image pixels."""

    refs: tuple[ImageRef, ...]
    tlhc: tuple[int, int]
    brhc: tuple[int, int]
    mode: str = "SCALE TO FIT"  #: Presentation Size Mode: SCALE TO FIT, TRUE SIZE or MAGNIFY
    magnification: float = 1.0  #: Presentation Pixel Magnification Ratio (MAGNIFY)


@dataclass(frozen=True)
class GraphicLayer:
    """A Graphic Layer (C.10.7): its order and recommended grey (a 16-bit P-value) or CIELab colour."""

    name: str
    order: int = 0
    gray: int | None = None
    lab: tuple[int, int, int] | None = None
    description: str = ""


@dataclass(frozen=True)
class TextObject:
    """A text object (C.10.5.1.1): a bounding box and/or an anchor point, each with its units."""

    text: str
    box: tuple[float, float, float, float] | None = None  #: x0, y0, x1, y1
    box_units: str = "PIXEL"
    anchor: tuple[float, float] | None = None
    anchor_units: str = "PIXEL"
    anchor_visible: bool = False
    justify: str = "LEFT"  #: Bounding Box Text Horizontal Justification


class GraphicType(enum.Enum):
    """Graphic Type (0070,0023), PS3.3 C.10.5.1.2."""

    POINT = "POINT"
    POLYLINE = "POLYLINE"
    INTERPOLATED = "INTERPOLATED"
    CIRCLE = "CIRCLE"
    ELLIPSE = "ELLIPSE"


@dataclass(frozen=True)
class GraphicObject:
    """A graphic object (C.10.5.1.2): its Graphic Type (None: a value the standard does not define, not
    drawn) and points (x, y)."""

    kind: GraphicType | None
    points: tuple[tuple[float, float], ...]
    units: str = "PIXEL"
    filled: bool = False


@dataclass(frozen=True)
class Annotation:
    """One Graphic Annotation Sequence item (C.10.5): its layer, images, texts and graphics."""

    layer: str
    refs: tuple[ImageRef, ...]
    texts: tuple[TextObject, ...] = ()
    graphics: tuple[GraphicObject, ...] = ()


@dataclass(frozen=True)
class PresentationState:
    """A Grayscale Softcopy Presentation State, parsed once (PS3.3 A.33.1); no patient identifiers."""

    path: str
    sop_uid: str
    label: str
    description: str
    created: str  #: Presentation Creation Date
    images: tuple[ImageRef, ...]  #: Referenced Series Sequence (C.11.11)
    rescale: tuple[float, float] | None = None  #: the state's Rescale Slope and Intercept (C.11.1)
    modality_lut: LutData | None = None  #: the state's Modality LUT Sequence item
    vois: tuple[tuple[tuple[ImageRef, ...], Window | VoiLut], ...] = ()  #: Softcopy VOI LUT (C.11.8)
    shape: PresentationLutShape = PresentationLutShape.IDENTITY  #: Presentation LUT Shape (C.11.6)
    presentation_lut: LutData | None = None  #: Presentation LUT Sequence item
    shutter: Shutter | None = None  #: the state's Display Shutter (C.7.6.11)
    rotation: int = 0  #: Image Rotation, clockwise degrees (C.10.6)
    flip: bool = False  #: Image Horizontal Flip, after the rotation
    areas: tuple[DisplayedArea, ...] = ()
    layers: tuple[GraphicLayer, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    overlays: tuple[Overlay, ...] = ()  #: the state's own overlay planes (C.9.2 in the state)
    activated: tuple[tuple[int, str], ...] = ()  #: Overlay Activation Layer (60xx,1001): (group, layer)

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "presentation state"

    def references(self, sop_uid: str, frame: int | None = None) -> bool:
        """Whether the state applies to ``frame`` (1-based; None: any frame) of the image ``sop_uid``."""
        return any(
            r.sop_uid == sop_uid and (frame is None or r.frames is None or frame in r.frames) for r in self.images
        )

    def check(self, sop_uid: str, frame: int, image: ErrorPath) -> None:
        """Raise :class:`PresentationStateError` naming both files unless the state applies to this image."""
        if self.references(sop_uid, frame):
            return
        which = "this image" if not any(r.sop_uid == sop_uid for r in self.images) else f"frame {frame} of this image"
        raise PresentationStateError(f"the presentation state {self.name} references another image, not {which}", image)

    def modality(self, image: Modality, signed: bool) -> Modality:
        """The Modality LUT stage with this state: the state's LUT or rescale (C.11.1), else the identity:
        a stage the state leaves out is not taken from the image (PS3.4 N.2; ``dcmp2pgm`` agrees)."""
        if self.modality_lut is not None:
            return Modality(lut=_signed(self.modality_lut, signed), lut_explanation="presentation state")
        if self.rescale is not None:
            return Modality(slope=self.rescale[0], intercept=self.rescale[1], rescale_type=image.rescale_type)
        return Modality(rescale_type=image.rescale_type)

    def voi(self, sop_uid: str, frame: int, signed: bool) -> Window | VoiLut | None:
        """The Softcopy VOI LUT for ``frame`` (1-based) of ``sop_uid``, or None (no VOI: identity)."""
        for refs, voi in self.vois:
            if _applies(refs, sop_uid, frame):
                return replace(voi, lut=_signed(voi.lut, signed)) if isinstance(voi, VoiLut) else voi
        return None

    def area(self, sop_uid: str, frame: int) -> DisplayedArea | None:
        """The Displayed Area Selection for the image frame (1-based), or None (the whole image)."""
        return next((a for a in self.areas if _applies(a.refs, sop_uid, frame)), None)

    def annotations_for(self, sop_uid: str, frame: int) -> tuple[Annotation, ...]:
        """The annotations on the image frame (1-based), in Graphic Layer Order."""
        order = {layer.name: layer.order for layer in self.layers}
        found = [a for a in self.annotations if _applies(a.refs, sop_uid, frame)]
        return tuple(sorted(found, key=lambda a: order.get(a.layer, 0)))

    def display_objects(self, image: DisplayObjects) -> DisplayObjects:
        """What is drawn on the image with this state (C.11.7 Overlay Activation, PS3.4 N.2): the overlay
        groups the state activates, its own plane where it has one (else the image's), the bitmap
        shutter's plane, and the state's shutter instead of the image's."""
        groups = {g for g, _ in self.activated}
        bitmap = self.shutter.bitmap_group if self.shutter is not None else None
        own = {ov.group: ov for ov in self.overlays if ov.group in groups or ov.group == bitmap}
        shown = [ov for ov in image.overlays if ov.group in groups and ov.group not in own]
        return replace(image, overlays=tuple(shown) + tuple(own.values()), shutter=self.shutter)

    def layer(self, name: str) -> GraphicLayer:
        return next((la for la in self.layers if la.name == name), GraphicLayer(name))

    @property
    def inverse(self) -> bool:
        """Presentation LUT Shape INVERSE (C.11.6.1.2)."""
        return self.presentation_lut is None and self.shape is PresentationLutShape.INVERSE


def _signed(lut: LutData, signed: bool) -> LutData:
    """A LUT's first mapped value is signed when its input is (C.11.1.1: the descriptor's second value)."""
    if signed and lut.first_mapped > 32767:
        return replace(lut, first_mapped=lut.first_mapped - 65536)
    return lut


# ----------------------------------------------------------------------------- parsing


def load_pstate(path: str | os.PathLike[str]) -> PresentationState:
    """Read a Grayscale Softcopy Presentation State file (PS3.3 A.33.1) into a :class:`PresentationState`.

    Raises :class:`PresentationStateError` (or :class:`~dcmlib.errors.NotDicomError`
    for a missing, truncated or non-DICOM file) naming the file.
    """
    from dcmlib.read import io

    p = Path(path)
    if not p.is_file():
        raise PresentationStateError("no such presentation state file", p)
    ds, _notes = io.read_file(p)
    return parse_pstate(ds, p)


def parse_pstate(ds: Dataset, path: str | os.PathLike[str] | None = None) -> PresentationState:
    """Parse a GSPS Dataset once; a damaged or non-GSPS object is a :class:`PresentationStateError`."""
    where = None if path is None else os.fspath(path)
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class != GSPS_SOP_CLASS:
        raise PresentationStateError(
            f"not a Grayscale Softcopy Presentation State (SOP Class UID {sop_class or 'missing'})", where
        )
    try:
        return _parse(ds, where or "")
    except PresentationStateError as exc:
        raise PresentationStateError(exc.problem, where) from None
    except Exception as exc:
        raise PresentationStateError("the presentation state is damaged (an element cannot be read)", where) from exc


def _refs(seq: Iterable[Dataset] | None) -> tuple[ImageRef, ...]:
    out = []
    for item in seq or ():
        frames = tuple(int(f) for f in multi(item.get("ReferencedFrameNumber"))) or None
        out.append(ImageRef("", str(item.get("ReferencedSOPInstanceUID", "")), frames))
    return tuple(out)


def _parse(ds: Dataset, path: str) -> PresentationState:
    images = []
    for series in ds.get("ReferencedSeriesSequence") or ():
        uid = str(series.get("SeriesInstanceUID", ""))
        images += [replace(r, series_uid=uid) for r in _refs(series.get("ReferencedImageSequence"))]
    if not images:
        raise PresentationStateError("the presentation state references no image (Referenced Series Sequence)")
    rescale = None
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        slope = float_value(ds.get("RescaleSlope"), 1.0)
        intercept = float_value(ds.get("RescaleIntercept"), 0.0)
        if (
            not (math.isfinite(slope) and math.isfinite(intercept))
            or slope == 0
            or abs(slope) * 65536 + abs(intercept) > MAX_VALUE
        ):
            raise PresentationStateError(f"Rescale Slope {slope:g} / Intercept {intercept:g} cannot be used")
        rescale = (slope, intercept)
    mlut = lut_data(ds.ModalityLUTSequence[0], False) if ds.get("ModalityLUTSequence") else None
    vois: list[tuple[tuple[ImageRef, ...], Window | VoiLut]] = []
    for item in ds.get("SoftcopyVOILUTSequence") or ():
        refs = _refs(item.get("ReferencedImageSequence"))
        if item.get("VOILUTSequence"):
            lut = item.VOILUTSequence[0]
            vois.append((refs, VoiLut(lut_data(lut, False), text_value(lut, "LUTExplanation"))))
        elif "WindowCenter" in item and "WindowWidth" in item:
            fn_text = text_value(item, "VOILUTFunction").upper()
            fn = VoiFunction(fn_text) if fn_text in VoiFunction.__members__ else VoiFunction.LINEAR
            c, w = float(multi(item.WindowCenter)[0]), float(multi(item.WindowWidth)[0])
            try:
                check_window(c, w, fn)
            except DcmviewError as exc:
                raise PresentationStateError(f"Softcopy VOI window: {exc.problem}") from None
            expl = multi(item.get("WindowCenterWidthExplanation"))
            vois.append((refs, Window(c, w, fn, str(expl[0]) if expl else "presentation state")))
    plut = lut_data(ds.PresentationLUTSequence[0], False) if ds.get("PresentationLUTSequence") else None
    rotation = int(ds.get("ImageRotation") or 0) % 360
    if rotation not in (0, 90, 180, 270):
        raise PresentationStateError(f"Image Rotation (0070,0042) must be 0, 90, 180 or 270, got {rotation}")
    return PresentationState(
        path=path,
        sop_uid=str(ds.get("SOPInstanceUID", "")),
        label=text_value(ds, "ContentLabel"),
        description=text_value(ds, "ContentDescription"),
        created=text_value(ds, "PresentationCreationDate"),
        images=tuple(images),
        rescale=rescale,
        modality_lut=mlut,
        vois=tuple(vois),
        shape=PresentationLutShape.parse(text_value(ds, "PresentationLUTShape")) or PresentationLutShape.IDENTITY,
        presentation_lut=plut,
        shutter=parse_shutter(ds),
        rotation=rotation,
        flip=text_value(ds, "ImageHorizontalFlip").upper() == "Y",
        areas=tuple(_area(item) for item in ds.get("DisplayedAreaSelectionSequence") or ()),
        layers=tuple(_layer(item) for item in ds.get("GraphicLayerSequence") or ()),
        annotations=tuple(_annotation(item) for item in ds.get("GraphicAnnotationSequence") or ()),
        overlays=parse_overlays(ds)[0],
        activated=tuple(
            (g, str(ds[(g << 16) | 0x1001].value).strip()) for g in range(0x6000, 0x6020, 2) if (g << 16) | 0x1001 in ds
        ),
    )


def _area(item: Dataset) -> DisplayedArea:
    tl, br = (
        vector(item.get("DisplayedAreaTopLeftHandCorner"), 2),
        vector(item.get("DisplayedAreaBottomRightHandCorner"), 2),
    )
    if tl is None or br is None:
        raise PresentationStateError("a Displayed Area Selection item has no usable corners (0070,0052 / 0070,0053)")
    mode = text_value(item, "PresentationSizeMode").upper() or "SCALE TO FIT"
    ratio = float_value(item.get("PresentationPixelMagnificationRatio"), 1.0)
    if mode == "MAGNIFY" and not (math.isfinite(ratio) and 1e-3 <= ratio <= 64):
        raise PresentationStateError(f"Presentation Pixel Magnification Ratio {ratio:g} cannot be used")
    return DisplayedArea(
        _refs(item.get("ReferencedImageSequence")),
        (int(tl[0]), int(tl[1])),
        (int(br[0]), int(br[1])),
        mode,
        ratio if mode == "MAGNIFY" else 1.0,
    )


def _layer(item: Dataset) -> GraphicLayer:
    gray = item.get("GraphicLayerRecommendedDisplayGrayscaleValue")
    lab = [int(v) for v in multi(item.get("GraphicLayerRecommendedDisplayCIELabValue"))]
    return GraphicLayer(
        text_value(item, "GraphicLayer"),
        int(item.get("GraphicLayerOrder") or 0),
        None if gray in (None, "") else int(gray),
        (lab[0], lab[1], lab[2]) if len(lab) == 3 else None,
        text_value(item, "GraphicLayerDescription"),
    )


def _points(value: object) -> tuple[tuple[float, float], ...]:
    v = [float(x) for x in multi(value)]
    if any(not math.isfinite(x) for x in v):
        raise PresentationStateError("Graphic Data holds a value that is not finite")
    return tuple((v[i], v[i + 1]) for i in range(0, len(v) - 1, 2))


def _annotation(item: Dataset) -> Annotation:
    texts = []
    for t in item.get("TextObjectSequence") or ():
        box = anchor = None
        if "BoundingBoxTopLeftHandCorner" in t and "BoundingBoxBottomRightHandCorner" in t:
            (x0, y0), (x1, y1) = (
                _points(t.BoundingBoxTopLeftHandCorner)[0],
                _points(t.BoundingBoxBottomRightHandCorner)[0],
            )
            box = (x0, y0, x1, y1)
        if "AnchorPoint" in t:
            anchor = _points(t.AnchorPoint)[0]
        texts.append(
            TextObject(
                str(t.get("UnformattedTextValue", "") or ""),
                box,
                text_value(t, "BoundingBoxAnnotationUnits").upper() or "PIXEL",
                anchor,
                text_value(t, "AnchorPointAnnotationUnits").upper() or "PIXEL",
                text_value(t, "AnchorPointVisibility").upper() == "Y",
                text_value(t, "BoundingBoxTextHorizontalJustification").upper() or "LEFT",
            )
        )
    graphics = []
    for g in item.get("GraphicObjectSequence") or ():
        graphics.append(
            GraphicObject(
                next((t for t in GraphicType if t.value == text_value(g, "GraphicType").upper()), None),
                _points(g.get("GraphicData")),
                text_value(g, "GraphicAnnotationUnits").upper() or "PIXEL",
                text_value(g, "GraphicFilled").upper() == "Y",
            )
        )
    return Annotation(
        text_value(item, "GraphicLayer"), _refs(item.get("ReferencedImageSequence")), tuple(texts), tuple(graphics)
    )


def find_pstates(
    image_path: str | os.PathLike[str] | None, sop_uids: set[str] | None = None, limit: int = 200
) -> list[PresentationState]:
    """Presentation states next to an image: in its folder (or the series folder), read and parsed.

    Only files whose SOP Class is GSPS are kept; those referencing none of
    ``sop_uids`` (when given) are left out; unreadable ones are skipped.
    """
    if image_path is None:
        return []
    base = Path(image_path)
    folder = base if base.is_dir() else base.parent
    found = []
    candidates = (
        sorted(p for p in folder.rglob("*") if p.is_file())
        if base.is_dir()
        else sorted(p for p in folder.iterdir() if p.is_file())
    )
    for p in candidates[: 20 * limit]:
        if p == base:
            continue
        if not _is_gsps(p):
            continue
        try:
            state = load_pstate(p)
        except DcmviewError:
            continue
        if sop_uids is None or any(r.sop_uid in sop_uids for r in state.images):
            found.append(state)
        if len(found) >= limit:
            break
    return found


def _is_gsps(path: Path) -> bool:
    """Whether a file is a DICOM file (preamble and DICM) whose SOP Class UID is GSPS; reads its head only."""
    import pydicom

    try:
        with open(path, "rb") as fp:
            if fp.read(132)[128:132] != b"DICM":
                return False
            fp.seek(0)
            ds = pydicom.dcmread(fp, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        return str(ds.get("SOPClassUID", "")) == GSPS_SOP_CLASS
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a presentation state
        return False


def describe_pstate(state: PresentationState, slices: dict[str, int] | None = None) -> str:
    """One ``--info`` line: file, label, description, creation date, and which frames (or, with ``slices``,
    SOP Instance UID -> slice number of a series, which slices) it applies to.  No patient identifiers."""
    where = []
    for r in state.images:
        if slices is not None:
            if r.sop_uid in slices:
                where.append(f"slice {slices[r.sop_uid]}")
        else:
            where.append("all frames" if r.frames is None else "frames " + ",".join(map(str, r.frames)))
    what = ", ".join(dict.fromkeys(where)) or "no image here"
    text = ", ".join(t for t in (state.label, state.description) if t) or "(no label)"
    date = state.created
    date = f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date
    return f"presentation state {state.name}: {text}" + (f", created {date}" if date else "") + f" ({what})"


# ----------------------------------------------------------------------------- geometry


_CV_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def spatial(image: np.ndarray, rotation: int, flip: bool) -> np.ndarray:
    """Image Rotation (clockwise, 0/90/180/270) then Image Horizontal Flip (PS3.3 C.10.6.1.1-2).

    OpenCV turns up to four channels of 8/16-bit or float32 samples (a copy of
    a 4096 x 3328 image: 5 ms, where NumPy's strided copy of ``rot90`` takes
    90 ms); other arrays (a segmentation's many coverage planes) go through NumPy.
    """
    if not rotation and not flip:
        return image
    if image.dtype in (np.uint8, np.uint16, np.int16, np.float32) and (image.ndim == 2 or image.shape[2] <= 4):
        out = cv2.rotate(image, _CV_ROTATE[rotation]) if rotation else image
        out = cv2.flip(out, 1) if flip else out
        return out[..., None] if out.ndim < image.ndim else out  # OpenCV drops a lone channel axis
    out = np.rot90(image, k=-(rotation // 90)) if rotation else image
    return np.ascontiguousarray(out[:, ::-1] if flip else out)


def _rotate_point(x: float, y: float, rotation: int, w: float, h: float) -> tuple[float, float]:
    """A point in continuous image coordinates after a clockwise rotation of a w x h image."""
    if rotation == 90:
        return h - y, x
    if rotation == 180:
        return w - x, h - y
    if rotation == 270:
        return y, w - x
    return x, y


def area_transform(
    state: PresentationState, area: DisplayedArea | None, rows: int, cols: int
) -> tuple[np.ndarray, tuple[int, int, int, int], float]:
    """Where image points land: a 2x3 affine from image coordinates (PIXEL units) to the output,
    the displayed area in the transformed image (x0, y0, x1, y1), and the output scale.

    The area is the rectangle spanned by its two corner pixels (C.10.4: 1-based,
    inclusive), taken through the spatial transformation.  Its scale is 1 for
    SCALE TO FIT and TRUE SIZE (an export has no display to fit or measure) and the
    magnification ratio for MAGNIFY.
    """
    w, h = (rows, cols) if state.rotation in (90, 270) else (cols, rows)

    def fwd(x: float, y: float) -> tuple[float, float]:
        x, y = _rotate_point(x, y, state.rotation, cols, rows)
        return (w - x, y) if state.flip else (x, y)

    if area is None:
        x0, y0, x1, y1 = 0, 0, w, h
    else:
        (c1, r1), (c2, r2) = area.tlhc, area.brhc
        pts = [fwd(min(c1, c2) - 1, min(r1, r2) - 1), fwd(max(c1, c2), max(r1, r2))]
        x0, x1 = sorted(int(round(p[0])) for p in pts)
        y0, y1 = sorted(int(round(p[1])) for p in pts)
    scale = area.magnification if area is not None else 1.0
    if (x1 - x0) * (y1 - y0) * scale * scale > MAX_OUTPUT_PIXELS:
        raise PresentationStateError(
            f"the displayed area ({x1 - x0} x {y1 - y0} pixels, magnified {scale:g}) is "
            f"larger than an output can be ({MAX_OUTPUT_PIXELS} pixels)",
            state.path or None,
        )
    o = np.array(fwd(0, 0))
    ex, ey = np.array(fwd(1, 0)) - o, np.array(fwd(0, 1)) - o
    m = np.array([[ex[0], ey[0], o[0] - x0], [ex[1], ey[1], o[1] - y0]]) * scale
    return m, (x0, y0, x1, y1), scale


def displayed_area(image: np.ndarray, box: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """Cut the displayed area ``box`` out of the transformed image, black where it lies outside,
    then scale it (area averaging when smaller, bicubic when larger, C.10.4 Presentation Size Mode)."""
    x0, y0, x1, y1 = box
    h, w = image.shape[:2]
    out = np.zeros((max(y1 - y0, 1), max(x1 - x0, 1)) + image.shape[2:], image.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    if scale != 1.0:
        size = (max(1, round(out.shape[1] * scale)), max(1, round(out.shape[0] * scale)))
        out = cv2.resize(out, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return out

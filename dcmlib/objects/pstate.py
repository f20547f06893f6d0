"""Grayscale Softcopy Presentation States (GSPS): PS3.3 A.33.1 and the C.10 / C.11 modules, PS3.4 N.2.

:func:`load_pstate` reads a presentation state once into a frozen
:class:`PresentationState`; the stages below are pure functions on arrays
and those values, used alike by ``render(pstate=...)``, ``--export``,
``convert`` and the viewer.  The order is PS3.4 N.2's:

1. Modality LUT from the state (C.11.1): it replaces the image's, and without one
   the stage is the identity (PS3.4 N.2: what a state leaves out is not taken
   from the image);
2. Softcopy VOI LUT (C.11.8): a window or a LUT, for the referenced images and frames;
3. Presentation LUT (C.11.6): IDENTITY, INVERSE or a LUT.  With a state, the
   polarity is the state's alone: a MONOCHROME1 image is not inverted again
   (PS3.4 N.2.1.4; DCMTK's ``dcmp2pgm`` does the same);
4. the state's Display Shutter (C.7.6.11), replacing the image's, and the overlay
   planes the state activates (C.11.7: the image's, or the state's own);
5. Spatial Transformation (C.10.6): rotation clockwise, then the horizontal flip;
6. Displayed Area Selection (C.10.4): the area's corners are image pixels (1-based)
   that become the top left and bottom right after the spatial transformation;
   parts outside the image are black;
7. Graphic Annotations (C.10.5) on Graphic Layers (C.10.7), in PIXEL units (image
   pixels, 0\\0 the top left corner of the first pixel) or DISPLAY units (0..1 of the
   displayed area).

The grey stages 1-3 are the ones :mod:`dcmlib.render.pipeline` applies (one
``display_table``); this module only says which modality, VOI and presentation
LUT a state gives.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from pydicom.dataset import Dataset

from dcmlib.displayable import RenderOptions
from dcmlib.errors import DcmviewError, ErrorPath, PresentationStateError
from dcmlib.objects.overlays import DisplayObjects, Overlay, apply_layers, fill_value, layers, parse_overlays
from dcmlib.objects.shutters import Shutter, parse_shutter
from dcmlib.read.header import float_value, lut_data, multi, text_value, vector
from dcmlib.render import pipeline
from dcmlib.render.imagebase import ImageBase
from dcmlib.values.color import lab_bgr
from dcmlib.values.lut import MAX_VALUE, LutData, Modality, VoiFunction, VoiLut, Window, check_window

if TYPE_CHECKING:
    from dcmlib.images.image import DicomImage

__all__ = [
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
    "draw_annotations",
    "describe_pstate",
    "layer_color",
    "needs_color",
    "present",
    "image_slices",
    "gray",
    "render_with_state",
    "PresentedImage",
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


@dataclass(frozen=True)
class GraphicObject:
    """A graphic object (C.10.5.1.2): POINT, POLYLINE, INTERPOLATED, CIRCLE or ELLIPSE; points (x, y)."""

    kind: str
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
    shape: str = "IDENTITY"  #: Presentation LUT Shape (C.11.6)
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
        return self.presentation_lut is None and self.shape == "INVERSE"


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
        shape=text_value(ds, "PresentationLUTShape").upper() or "IDENTITY",
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
                text_value(g, "GraphicType").upper(),
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


# ----------------------------------------------------------------------------- annotations


def layer_color(layer: GraphicLayer, colour: bool) -> int | tuple[int, int, int]:
    """A layer's recommended grey (16-bit P-value scaled to 8 bits) or CIELab colour as BGR; white by default."""
    if colour and layer.lab is not None:
        return lab_bgr(layer.lab)
    if layer.gray is not None:
        return int(round(min(max(layer.gray, 0), 65535) * 255 / 65535))
    if layer.lab is not None:
        return int(round(layer.lab[0] * 255 / 65535))
    return 255


def needs_color(state: PresentationState, annotations: tuple[Annotation, ...]) -> bool:
    """Whether the annotations ask for colour: a drawn layer with a recommended CIELab value and no grey."""
    return any(state.layer(a.layer).lab is not None and state.layer(a.layer).gray is None for a in annotations)


_SHIFT = 4  # sub-pixel bits for cv2 drawing
#: Objects with an output coordinate beyond +-this (pixels) are not drawn: far off any image, where cv2's
#: fixed-point integers (with the sub-pixel bits, and a radius between two such points) would overflow.
_FAR = float(1 << 20)


def draw_annotations(
    out: np.ndarray,
    state: PresentationState,
    annotations: tuple[Annotation, ...],
    to_output: np.ndarray,
    display: np.ndarray | None = None,
) -> np.ndarray:
    """Draw text and graphic objects (C.10.5) on the output image, in place; returns it.

    PIXEL points go through ``to_output`` (from :func:`area_transform`);
    DISPLAY points are fractions of the displayed area: of the output, or
    through ``display`` (a 2x3 affine from 0..1 to the output).  Lines
    are 1 output pixel wide; CIRCLE is centre and a point on it, ELLIPSE the
    major then the minor axis end points; INTERPOLATED is drawn through its
    points as a polyline.
    """
    h, w = out.shape[:2]

    def place(pts: tuple[tuple[float, float], ...], units: str) -> np.ndarray:
        a = np.asarray(pts, np.float64).reshape(-1, 2)
        if units == "DISPLAY":
            a = a * np.array([w, h]) if display is None else a @ display[:, :2].T + display[:, 2]
        else:
            a = a @ to_output[:, :2].T + to_output[:, 2]
        return a

    for ann in annotations:
        colour = layer_color(state.layer(ann.layer), out.ndim == 3)
        c = colour if isinstance(colour, tuple) else (colour,) * (3 if out.ndim == 3 else 1)
        for g in ann.graphics:
            p = place(g.points, g.units)
            if _drawable(p):
                _draw_graphic(out, g.kind, p, g.filled, c)
        for t in ann.texts:
            _draw_text(out, t, place, c)
    return out


def _drawable(p: np.ndarray) -> bool:
    """Whether output points can be drawn: finite and within :data:`_FAR` (a damaged state's 1e12 is not)."""
    return bool(np.isfinite(p).all() and (np.abs(p) <= _FAR).all())


def _fixed(p: np.ndarray) -> np.ndarray:
    """Continuous coordinates (pixel i covers [i, i+1)) to cv2's fixed-point pixel centres."""
    return np.round((p - 0.5) * (1 << _SHIFT)).astype(np.int32)


def _draw_graphic(out: np.ndarray, kind: str, p: np.ndarray, filled: bool, c: tuple) -> None:
    if len(p) == 0:
        return
    if kind == "POINT":
        x, y = _fixed(p[:1])[0]
        cv2.circle(out, (int(x), int(y)), 2 << _SHIFT, c, -1, cv2.LINE_8, _SHIFT)
    elif kind in ("POLYLINE", "INTERPOLATED"):
        pts = _fixed(p)
        closed = len(p) > 2 and np.allclose(p[0], p[-1])
        if filled and len(p) > 2:
            cv2.fillPoly(out, [pts], c, cv2.LINE_8, _SHIFT)
        else:
            cv2.polylines(out, [pts], closed, c, 1, cv2.LINE_8, _SHIFT)
    elif kind == "CIRCLE" and len(p) >= 2:
        r = float(np.hypot(*(p[1] - p[0])))
        ((x, y),) = _fixed(p[:1])
        cv2.circle(out, (int(x), int(y)), int(round(r * (1 << _SHIFT))), c, -1 if filled else 1, cv2.LINE_8, _SHIFT)
    elif kind == "ELLIPSE" and len(p) >= 4:
        centre = (p[0] + p[1]) / 2
        major, minor = float(np.hypot(*(p[1] - p[0]))) / 2, float(np.hypot(*(p[3] - p[2]))) / 2
        angle = math.degrees(math.atan2(p[1][1] - p[0][1], p[1][0] - p[0][0]))
        ((x, y),) = _fixed(centre[None])
        axes = (int(round(major * (1 << _SHIFT))), int(round(minor * (1 << _SHIFT))))
        cv2.ellipse(out, (int(x), int(y)), axes, angle, 0, 360, c, -1 if filled else 1, cv2.LINE_8, _SHIFT)


def _draw_text(out: np.ndarray, t: TextObject, place, c: tuple) -> None:
    if not t.text:
        return
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1
    lines = t.text.splitlines() or [t.text]
    (tw, th), base = cv2.getTextSize(max(lines, key=len), font, scale, thick)
    right = None
    if t.box is not None:
        corners = place(((t.box[0], t.box[1]), (t.box[2], t.box[3])), t.box_units)
        if not _drawable(corners):
            return
        (x0, y0), (x1, y1) = corners
        x, y, right = min(x0, x1), min(y0, y1), max(x0, x1)
    elif t.anchor is not None:
        anchor = place((t.anchor,), t.anchor_units)
        if not _drawable(anchor):
            return
        ((x, y),) = anchor
        y -= (th + base) * len(lines)
    else:
        return
    for i, line in enumerate(lines):
        lx = x
        if right is not None and t.justify in ("RIGHT", "CENTER"):  # C.10.5.1.1: within the bounding box
            free = right - x - cv2.getTextSize(line, font, scale, thick)[0][0]
            lx = x + (free if t.justify == "RIGHT" else free / 2)
        cv2.putText(
            out, line, (int(round(lx)), int(round(y)) + th + i * (th + base)), font, scale, c, thick, cv2.LINE_AA
        )
    if (
        t.anchor is not None
        and t.anchor_visible
        and t.box is not None
        and _drawable(place((t.anchor,), t.anchor_units))
    ):
        ((ax, ay),) = place((t.anchor,), t.anchor_units)
        cv2.line(out, (int(round(ax)), int(round(ay))), (int(round(x)), int(round(y))), c, 1, cv2.LINE_AA)


def present(
    image: np.ndarray, state: PresentationState, sop_uid: str, frame: int, annotations: bool = True
) -> np.ndarray:
    """The spatial stages and annotations of a state on a rendered frame (``frame`` 1-based): rotation and
    flip (C.10.6), the displayed area (C.10.4), then the graphic and text annotations (C.10.5) unless
    ``annotations`` is False.  A layer with only a CIELab colour makes the output BGR."""
    rows, cols = image.shape[:2]
    m, box, scale = area_transform(state, state.area(sop_uid, frame), rows, cols)
    out = displayed_area(spatial(image, state.rotation, state.flip), box, scale)
    found = state.annotations_for(sop_uid, frame) if annotations else ()
    if found:
        if out.ndim == 2 and needs_color(state, found):
            out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
        draw_annotations(out, state, found, m)
    return out


# ----------------------------------------------------------------------------- a loaded image through a state


def image_slices(img: DicomImage) -> dict[str, int]:
    """SOP Instance UID -> 1-based slice (or frame) number: how presentation states find an image's frames."""
    found: dict[str, int] = {}
    for k in range(len(img)):
        found.setdefault(img.pstate_ref(k)[0], k + 1)
    return found


def gray(img: DicomImage, state: PresentationState, frame: int = 0, opts: RenderOptions | None = None) -> np.ndarray:
    """A frame through a state's grey stages only (Modality LUT, VOI, Presentation LUT; PS3.4 N.2), at image
    size, padding black; ``opts``' window overrides the state's VOI, its ``invert`` flips.  A state that does
    not reference the frame, or a colour image, is a :class:`PresentationStateError`."""
    opts = opts if opts is not None else RenderOptions()
    source = img.frame_ref(frame).source
    sop, number = img.pstate_ref(frame)
    state.check(sop, number, os.fspath(source) if isinstance(source, (str, os.PathLike)) else img.path or img.name)
    if img.is_color:
        raise PresentationStateError("a grayscale presentation state cannot be applied to a colour image", img.path)
    p, stored, signed = img.frame_params(frame), img.stored(frame), img.layout.signed
    modality = state.modality(p.modality, signed)
    state_voi = state.voi(sop, number, signed)

    def identity() -> Window:  # no Softcopy VOI LUT: the modality output's whole range
        ends = pipeline.expressible_range(img.layout, modality)
        if ends is None:
            ends = pipeline.data_range(pipeline.apply_modality(stored, modality), img.padding_mask(frame))
        return pipeline.minmax_window(*ends)

    sel = pipeline.resolve_voi(
        [state_voi] if state_voi is not None else [], identity, VoiFunction.LINEAR, where=img.path, **opts.window
    )
    inverted = state.inverse != bool(opts.invert)
    if stored.dtype in (np.uint8, np.int8, np.uint16, np.int16):
        lo, hi = img.stored_range(frame)
        table = pipeline.display_table(
            lo,
            hi,
            256 if stored.dtype.itemsize == 1 else 65536,
            modality,
            sel.voi,
            inverted,
            p.padding,
            state.presentation_lut,
        )
        return pipeline.apply_table(stored, table)
    out = pipeline.to_display(pipeline.apply_modality(stored, modality), sel.voi, inverted, state.presentation_lut)
    mask = img.padding_mask(frame)
    if mask is not None:
        out[mask] = 0
    return out


def render_with_state(img: DicomImage, state: PresentationState, frame: int, opts: RenderOptions) -> np.ndarray:
    """``img.render(pstate=state)``: the grey stages, the overlays the state activates and its shutter at image
    size (C.11.7, C.7.6.11), the segmentation ``opts`` holds, then the state's spatial stages and
    annotations (:func:`present`)."""
    out = gray(img, state, frame, opts)
    objects = state.display_objects(img.display_objects(frame))
    planes = (
        layers(
            objects, img.frame_ref(frame).index, img.rows, img.columns, overlays=opts.overlays, shutters=opts.shutters
        )
        if (opts.overlays or opts.shutters)
        else None
    )
    if planes is not None:
        apply_layers(out, planes, fill_value(objects, False))
    seg = opts.seg
    if seg is not None:
        out = seg[0].apply(out, frame, seg[1], seg[2])
    sop, number = img.pstate_ref(frame)
    return present(out, state, sop, number, opts.annotations)


# ----------------------------------------------------------------------------- the viewer's picture of a state


class PresentedImage(ImageBase):
    """An image seen through a presentation state, with the image interface (:class:`~dcmlib.displayable.DisplayImage`).

    Its frames are the state's picture before scaling: the modality values
    (the state's Modality LUT, PS3.4 N.2) rotated, flipped and cut to the
    displayed area (C.10.6, C.10.4), the area's outside as padding (black);
    its VOI is the state's Softcopy VOI (else the identity over the modality
    output) and its polarity the state's Presentation LUT Shape.  The viewer's
    zoom stands in for the Presentation Size Mode.  The name, path, photometric,
    modality, cine rate and frames are the image's, delegated by name; what a
    state changes (stored values, frame headers, the header) is not offered.
    ``render`` is the image's render with the state, so the ``s`` snapshot
    equals ``--export --pstate``.  Frames the
    state does not reference are not this picture (:meth:`applies`), and
    ``area`` is the displayed area this picture has (frames with another one
    are another picture).
    """

    def __init__(
        self, image: DicomImage, state: PresentationState, annotations: bool = True, area: DisplayedArea | None = None
    ):
        self._image, self.state, self.annotations = image, state, annotations
        area = None if area is None else replace(area, magnification=1.0)  # the viewer zooms itself
        self._geometry = area_transform(state, area, image.rows, image.columns)[:2]
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    # -- the image's own, delegated: what a state does not change -----------------------------------
    name = property(lambda self: self._image.name)
    path = property(lambda self: self._image.path)
    photometric = property(lambda self: self._image.photometric)
    is_color = property(lambda self: self._image.is_color)
    is_series = property(lambda self: self._image.is_series)
    modality = property(lambda self: self._image.modality)
    cine_rate = property(lambda self: self._image.cine_rate)

    def __len__(self) -> int:
        return len(self._image)

    def position(self, frame: int) -> float | None:
        return self._image.position(frame)

    def pstate_ref(self, frame: int = 0) -> tuple[str, int]:
        return self._image.pstate_ref(frame)

    def info(self) -> str:
        return self._image.info()

    def close(self) -> None:
        self._cache = {}
        self._image.close()

    @property
    def unit(self) -> str:
        """The values' unit: the image's through the state's own rescale or LUT, none through the identity."""
        return self._image.unit if self.state.rescale is not None or self.state.modality_lut is not None else ""

    def applies(self, frame: int) -> bool:
        return self.state.references(*self._image.pstate_ref(frame))

    def geometry(self, frame: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """The source -> presented affine (PIXEL units, unscaled) and the displayed area box."""
        return self._geometry

    @property
    def rows(self) -> int:
        box = self.geometry(0)[1]
        return box[3] - box[1]

    @property
    def columns(self) -> int:
        box = self.geometry(0)[1]
        return box[2] - box[0]

    def _present(self, plane: np.ndarray, frame: int) -> np.ndarray:
        return displayed_area(spatial(plane, self.state.rotation, self.state.flip), self.geometry(frame)[1], 1.0)

    def _modality(self, frame: int):
        return self.state.modality(self._image.frame_params(frame).modality, self._image.layout.signed)

    def values(self, frame: int = 0) -> np.ndarray:
        key = ("values", frame)
        if key not in self._cache:
            from dcmlib.render.pipeline import apply_modality

            self._cache = {}  # one frame kept
            values = apply_modality(self._image.stored(frame), self._modality(frame))
            self._cache[key] = self._present(values, frame)
            self._cache[("mask", frame)] = self._present(self._inside_mask(frame), frame) == 0
        return self._cache[key]

    def _inside_mask(self, frame: int) -> np.ndarray:
        """255 where the image is shown (not padding), so the area's outside comes out 0 after the cut."""
        mask = self._image.padding_mask(frame)
        return (
            np.full((self._image.rows, self._image.columns), 255, np.uint8)
            if mask is None
            else np.where(mask, 0, 255).astype(np.uint8)
        )

    def padding_mask(self, frame: int = 0) -> np.ndarray | None:
        self.values(frame)
        mask = self._cache[("mask", frame)]
        return mask if mask.any() else None

    def frame_range(self, frame: int = 0) -> tuple[float, float]:
        return pipeline.data_range(self.values(frame), self.padding_mask(frame))

    @property
    def value_range(self) -> tuple[float, float]:
        from dcmlib.render.pipeline import expressible_range

        ends = expressible_range(self._image.layout, self._modality(0))
        return ends if ends is not None else self.frame_range(0)

    def vois(self, frame: int = 0) -> list:
        sop, number = self._image.pstate_ref(frame)
        voi = self.state.voi(sop, number, self._image.layout.signed)
        return [] if voi is None else [voi]

    def resolve_voi(self, frame: int = 0, **window):
        from dcmlib.render.pipeline import expressible_range, minmax_window, resolve_voi

        def identity() -> Window:
            ends = expressible_range(self._image.layout, self._modality(frame))
            return minmax_window(*(ends if ends is not None else self.frame_range(frame)))

        return resolve_voi(self.vois(frame), identity, VoiFunction.LINEAR, where=self._image.path, **window)

    def inverted(self, frame: int = 0, invert: bool = False) -> bool:
        return self.state.inverse != bool(invert)

    @property
    def presentation_lut(self) -> LutData | None:
        return self.state.presentation_lut

    def object_layers(self, frame: int = 0, *, overlays: bool = True, shutters: bool = True) -> np.ndarray | None:
        """The image's overlays and the state's shutter (C.7.6.11), presented like the values."""
        if not (overlays or shutters):
            return None
        objects = self.state.display_objects(self._image.display_objects(frame))
        planes = layers(
            objects,
            self._image.frame_ref(frame).index,
            self._image.rows,
            self._image.columns,
            overlays=overlays,
            shutters=shutters,
        )
        return None if planes is None else self._present(planes, frame)

    def present_planes(self, planes: np.ndarray, frame: int = 0) -> np.ndarray:
        """(k, rows, cols) planes in image pixels (a segmentation's coverage) presented like the values."""
        return np.ascontiguousarray(np.moveaxis(self._present(np.moveaxis(planes, 0, -1), frame), -1, 0))

    def shutter_fill(self, frame: int = 0):
        return fill_value(self.state.display_objects(self._image.display_objects(frame)), False)

    def render(
        self,
        center: float | None = None,
        width: float | None = None,
        *,
        frame: int = 0,
        options: RenderOptions | None = None,
        **changes: Any,
    ) -> np.ndarray:
        """The image's render through the state (``--export --pstate``): the state's annotations unless
        this picture or ``changes`` turn them off."""
        changes.setdefault("annotations", self.annotations if options is None else options.annotations)
        opts = RenderOptions.of(options, center=center, width=width, pstate=self.state, **changes)
        return self._image.render(frame=frame, options=opts)

    def pixel_spacing(self, frame: int = 0):
        """The image's spacing, row and column swapped by a quarter turn."""
        spacing = self._image.pixel_spacing(frame)
        if spacing is None or self.state.rotation not in (90, 270):
            return spacing
        return replace(spacing, row=spacing.column, column=spacing.row)

    def source_pixel(self, frame: int, x: int, y: int) -> tuple[int, int] | None:
        """The image pixel (column, row) shown at presented pixel (x, y), or None outside the image."""
        m = self.geometry(frame)[0]
        inv = cv2.invertAffineTransform(m)
        sx, sy = inv @ np.array([x + 0.5, y + 0.5, 1.0])
        i, j = math.floor(sx), math.floor(sy)
        return (i, j) if 0 <= i < self._image.columns and 0 <= j < self._image.rows else None

    def turn_labels(self, labels: dict[str, str] | None) -> dict[str, str] | None:
        """Orientation labels (top, bottom, left, right) after the state's rotation and flip."""
        if not labels:
            return labels
        order = ["top", "right", "bottom", "left"]
        turned = {order[(order.index(k) + self.state.rotation // 90) % 4]: v for k, v in labels.items()}
        if self.state.flip:
            swap = {"left": "right", "right": "left"}
            turned = {swap.get(k, k): v for k, v in turned.items()}
        return turned

    def draw_annotations(self, canvas: np.ndarray, frame: int, zoom: float, offset: tuple[float, float]) -> None:
        """The state's annotations on a viewer canvas showing this picture at ``zoom`` and ``offset``."""
        if not self.annotations:
            return
        sop, number = self._image.pstate_ref(frame)
        found = self.state.annotations_for(sop, number)
        if not found:
            return
        m, box = self.geometry(frame)
        to_canvas = np.array([[zoom, 0, offset[0]], [0, zoom, offset[1]]])
        pixel = np.hstack([to_canvas[:, :2] @ m[:, :2], (to_canvas[:, :2] @ m[:, 2] + to_canvas[:, 2])[:, None]])
        w, h = box[2] - box[0], box[3] - box[1]
        display = np.array([[zoom * w, 0, offset[0]], [0, zoom * h, offset[1]]])
        draw_annotations(canvas, self.state, found, pixel, display)

"""An image rendered through a presentation state (PS3.4 N.2; PS3.3 C.11.1, C.11.8, C.11.6, C.11.7, C.7.6.11,
C.10.6, C.10.4, C.10.5), and PresentedImage: an image seen through a state, with the image interface."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from dcmlib.displayable import RenderOptions
from dcmlib.errors import PresentationStateError
from dcmlib.objects.annotations import draw_annotations, present
from dcmlib.objects.overlays import apply_layers, fill_value, layers
from dcmlib.objects.pstate import DisplayedArea, PresentationState, area_transform, displayed_area, spatial
from dcmlib.render import pipeline
from dcmlib.render.imagebase import ImageBase
from dcmlib.values.lut import LutData, VoiFunction, Window

if TYPE_CHECKING:
    from dcmlib.images.image import DicomImage

__all__ = ["image_slices", "gray", "render_with_state", "PresentedImage"]

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
    """``img.render(pstate=state)``: a frame through the state, in PS3.4 N.2's order.

    1. Modality LUT from the state (C.11.1): it replaces the image's, and without one
       the stage is the identity (PS3.4 N.2: what a state leaves out is not taken
       from the image);
    2. Softcopy VOI LUT (C.11.8): a window or a LUT, for the referenced images and frames;
    3. Presentation LUT (C.11.6): IDENTITY, INVERSE or a LUT.  With a state, the
       polarity is the state's alone: a MONOCHROME1 image is not inverted again
       (PS3.4 N.2.1.4; DCMTK's ``dcmp2pgm`` does the same);
    4. the state's Display Shutter (C.7.6.11), replacing the image's, and the overlay
       planes the state activates (C.11.7: the image's, or the state's own), at image
       size; then the segmentation ``opts`` holds;
    5. Spatial Transformation (C.10.6): rotation clockwise, then the horizontal flip;
    6. Displayed Area Selection (C.10.4): the area's corners are image pixels (1-based)
       that become the top left and bottom right after the spatial transformation;
       parts outside the image are black;
    7. Graphic Annotations (C.10.5) on Graphic Layers (C.10.7), in PIXEL units (image
       pixels, 0\\0 the top left corner of the first pixel) or DISPLAY units (0..1 of the
       displayed area).

    Stages 1-3 are :func:`gray` (the one ``display_table`` of :mod:`dcmlib.render.pipeline`; the state
    only says which modality, VOI and presentation LUT), 5-7 :func:`~dcmlib.objects.annotations.present`.
    """
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

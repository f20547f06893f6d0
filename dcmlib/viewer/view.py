"""What the viewer window shows: an image and a :class:`~dcmlib.viewer.state.ViewerState`, composed.

No HighGUI here: ``dcmview.py`` owns the window, turns its events into
:mod:`dcmlib.viewer.controls` calls and shows what :meth:`View.compose` returns.  A
change re-windows only what the screen shows.  Per frame, the modality values
and their halvings are kept (:func:`~dcmlib.render.pipeline.pyramid`, padding as
background, PS3.3 C.7.5.1.1.2); per zoom and pan, only the visible region is
resampled from the level nearest the zoom (:func:`~dcmlib.render.pipeline.resample_region`:
``INTER_AREA`` when minifying, bicubic or nearest neighbour when magnifying);
each window change re-runs :func:`~dcmlib.render.pipeline.window_viewport` on that
small array, with the image's own VOI resolution and polarity (PS3.3 C.11.2,
C.11.6).  The full-resolution frame (the ``s`` snapshot) is
:meth:`~dcmlib.images.image.DicomImage.render` with the same arguments, which is why
it equals ``--export``.  Measurements are drawn from :mod:`dcmlib.viewer.measure`'s
numbers on source pixels.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from dcmlib.displayable import RenderOptions
from dcmlib.errors import DcmviewError, DcmviewWarning
from dcmlib.images import reformat
from dcmlib.images.image import DicomImage
from dcmlib.images.presented import PresentedImage
from dcmlib.objects.overlays import apply_layers
from dcmlib.objects.pstate import PresentationState
from dcmlib.objects.segmentation import Segmentation
from dcmlib.objects.segmentation import blend as blend_segments
from dcmlib.render import pipeline
from dcmlib.viewer import canvas, controls, draw, measure
from dcmlib.viewer.labels import annotation_lines, help_rows
from dcmlib.viewer.remembered import RememberedImage
from dcmlib.viewer.state import Measurement, ViewerState
from dcmlib.viewer.viewport import Viewport

if TYPE_CHECKING:
    from dcmlib.displayable import DisplayImage

__all__ = ["View", "fit_zoom", "render_options", "DEFAULT_SCREEN", "MIN_VIEW", "TRACKBAR_SPACE"]

#: Screen size (width, height) assumed when none is known.
DEFAULT_SCREEN = (1280, 1024)
#: Small images are enlarged by a whole factor up to this.
MIN_VIEW = 512
#: Vertical pixels the Qt trackbars take under the image.
TRACKBAR_SPACE = 170


def fit_zoom(rows: int, cols: int, screen: tuple[int, int]) -> float:
    """Display scale: shrink to the screen (keeping the aspect ratio), enlarge tiny images by a whole factor."""
    max_w = max(int(screen[0] * 0.92), 64)
    max_h = max(int(screen[1] * 0.92) - TRACKBAR_SPACE, 64)
    fit = min(max_w / cols, max_h / rows)
    if fit < 1:
        return fit
    whole = int(min(fit, MIN_VIEW / max(min(rows, cols), 1)))
    return float(max(whole, 1))


def render_options(state: ViewerState, segmentation: Segmentation | None = None) -> RenderOptions:
    """What the state shows, as the :class:`~dcmlib.displayable.RenderOptions` ``render`` takes.

    Its VOI: a stored VOI LUT by its number (``voi``), else the window and its
    VOI LUT Function (none for colour, which has no VOI); its polarity, overlays
    and shutter; ``segmentation`` when the state shows it.  The ``s`` snapshot
    renders with these, so it equals ``--export`` with the same flags.
    """
    options = RenderOptions(
        invert=state.invert,
        overlays=state.overlays,
        shutters=state.shutters,
        segmentation=segmentation,
        seg_alpha=state.seg_alpha,
        seg_outline=state.seg_outline,
    )
    if state.is_color:
        return options
    if state.lut:
        return replace(options, voi=state.voi)
    return replace(options, center=state.center, width=state.width, mode=state.mode)


def _shown(state: ViewerState) -> tuple[ViewerState, str | None]:
    """What of a state is on screen: all but the drag origin, the pointer, the cine clock and the
    shell's requests (and the message)."""
    return replace(state, drag=None, request=None, pointer=None, cine_clock=None), state.message


def _window_key(s: ViewerState) -> tuple:
    return (s.frame, s.center, s.width, s.mode, s.voi if s.lut else None, s.invert)


class View:
    """An image and the state shown on it; :meth:`compose` is the frame the window shows.

    The canvas is fitted to ``screen`` (width, height) by :func:`fit_zoom`, and
    the state's viewport set to show the whole image.  ``show_patient`` adds
    the patient name and ID to the annotations.  A frame that cannot be
    decoded (a damaged slice) shows its error instead of ending the session;
    ``on_warning`` hears of it once (default: a :class:`~dcmlib.errors.DcmviewWarning`).
    """

    def __init__(
        self,
        image: DisplayImage,
        state: ViewerState | None = None,
        *,
        screen: tuple[int, int] = DEFAULT_SCREEN,
        show_patient: bool = False,
        on_warning: Callable[[str], None] | None = None,
        segmentation: Segmentation | None = None,
        pstates: Sequence[PresentationState] = (),
        pstate_annotations: bool = True,
    ):
        self.image: DisplayImage = image
        #: The image as loaded; ``image`` is it, or it seen through a presentation state (``g``).
        self.base = image
        #: The presentation states ``g`` shows (``--pstate``, or those found next to the image).
        self.pstates = tuple(pstates)
        self._pstate_annotations = pstate_annotations
        self._presented: dict[tuple, PresentedImage] = {}
        self._screen = screen
        #: The ``--seg`` segmentation (:mod:`dcmlib.objects.segmentation`) the state may show, or None.
        self.segmentation = segmentation
        zoom = fit_zoom(image.rows, image.columns, screen)
        #: The canvas (width, height) in display pixels.
        self.size = (max(1, round(image.columns * zoom)), max(1, round(image.rows * zoom)))
        state = state or controls.initial_state(image)
        self.state = replace(state, viewport=Viewport.fitted(*self.size, image.columns, image.rows))
        #: Viewport re-windowings so far (the expensive step; for tests and benchmarks).
        self.renders = 0
        #: Region resamplings so far (zoom, pan, frame changes).
        self.resamples = 0
        self._on_warning = on_warning
        self._patient = _patient_lines(image) if show_patient else []
        self._levels: tuple[int, list[pipeline.Level]] | None = None
        self._resampled: tuple[tuple, np.ndarray, np.ndarray | None, tuple[int, int]] | None = None
        self._rendered: tuple[tuple, np.ndarray] | None = None
        self._overview: tuple[tuple, np.ndarray] | None = None
        self._objects: tuple[tuple, np.ndarray | None] | None = None
        self._object_levels: tuple[tuple, list[pipeline.Level] | None] | None = None
        self._seg_view: tuple[tuple, tuple[np.ndarray, np.ndarray] | None] | None = None
        self._seg_frame: tuple[tuple[int, int], tuple[np.ndarray, np.ndarray] | None] | None = None
        self._measured: dict[Measurement, measure.Distance | measure.RoiStats] = {}
        self._labels: dict[int, dict[str, str] | None] = {}  # orientation labels per frame
        self._failed: set[int] = set()
        #: The image as the state logic reads it (:mod:`dcmlib.viewer.controls` handlers' ``image``), auto windows kept.
        self.source = RememberedImage(image)
        if self.state.pstate:  # --pstate: open through the state (a --window kept)
            s = self.state
            user = s.preset is None and s.voi is None and not s.minmax and s.auto is None and not s.is_color
            self.state = self._through_pstate(s, keep_window=user)

    def set_state(self, state: ViewerState) -> bool:
        """Show ``state`` from now on; True when the picture changes (a drag origin alone does not)."""
        state = self._through_pstate(state)
        changed = _shown(state) != _shown(self.state)
        self.state = state
        return changed

    def _through_pstate(self, state: ViewerState, keep_window: bool = False) -> ViewerState:
        """The image to show for ``state``: through the first presentation state that references its frame
        while ``g`` is on, else the image itself.  A switch fits the new picture (a rotation or a displayed
        area changes its size) and starts from its window (the state's VOI, or the file's), or keeps the
        state's window (``keep_window``: a ``--window`` given with ``--pstate``)."""
        want = self.base
        message = None
        if state.pstate and isinstance(self.base, DicomImage):  # a file or series: what a state references
            ref = self.base.pstate_ref(state.frame)
            chosen = next((p for p in self.pstates if p.references(*ref)), None)
            if chosen is None:
                message = f"no presentation state for {'slice' if self.base.is_series else 'frame'} {state.frame + 1}"
            else:
                area = chosen.area(*ref)
                key = (id(chosen), area)
                if key not in self._presented:
                    self._presented[key] = PresentedImage(self.base, chosen, self._pstate_annotations, area)
                want = self._presented[key]
        if want is self.image:
            return state if message is None else replace(state, message=message)
        self.image, self.source = want, RememberedImage(want)
        self._levels = self._resampled = self._rendered = self._overview = None
        self._objects = self._object_levels = self._seg_view = None
        self._measured, self._labels = {}, {}
        zoom = fit_zoom(want.rows, want.columns, self._screen)
        self.size = (max(1, round(want.columns * zoom)), max(1, round(want.rows * zoom)))
        new = controls.initial_state(  # the same trackbars
            want,
            center=state.center if keep_window else None,
            width=state.width if keep_window else None,
            mode=state.mode if keep_window else None,
            frame=state.frame,
            invert=state.invert,
            step=state.scale.step,
        )
        keep = {
            k: getattr(state, k)
            for k in (
                "annotations",
                "help",
                "smooth",
                "overlays",
                "shutters",
                "pstate",
                "segmentation",
                "seg_alpha",
                "seg_outline",
                "playing",
                "fps",
                "cine_clock",
                "request",
                "tool",
            )
        }
        return replace(new, viewport=Viewport.fitted(*self.size, want.columns, want.rows), message=message, **keep)

    def failed(self, frame: int) -> bool:
        """Whether the frame could not be decoded when it was shown."""
        return frame in self._failed

    # -- pixels -----------------------------------------------------------------------
    def levels(self, frame: int) -> list[pipeline.Level]:
        """The frame's values (colour: RGB) and their halvings, padding as background; cached per frame."""
        if self._levels is None or self._levels[0] != frame:
            img = self.image
            mask = img.padding_mask(frame)
            background = img.frame_range(frame)[0] if mask is not None else 0.0
            self._levels = (frame, pipeline.pyramid(img.values(frame), mask, background))
        return self._levels[1]

    def resampled(self) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
        """The visible region resampled to view pixels, its padding (bool) and its canvas position.

        From the smallest pyramid level still at least as fine as the zoom, so a
        step costs about the visible view pixels whatever the image size; cached
        until the frame, the zoom, the pan or the interpolation change.
        """
        s = self.state
        vp = self._viewport()
        key = (s.frame, vp, s.smooth)
        if self._resampled is not None and self._resampled[0] == key:
            return self._resampled[1:]
        levels = self.levels(s.frame)
        values, mask = levels[canvas.level_for(levels, vp)]
        cols, rows = values.shape[1], values.shape[0]
        scale = (vp.zoom * vp.columns / cols, vp.zoom * vp.rows / rows)
        offset = (vp.width / 2.0 - vp.cx * vp.zoom, vp.height / 2.0 - vp.cy * vp.zoom)
        view, view_mask, at = pipeline.resample_region(values, self.size, scale, offset, mask=mask, smooth=s.smooth)
        padding = None if view_mask is None else view_mask > 127
        self.resamples += 1
        self._resampled = (key, view, padding, at)
        return view, padding, at

    def render_view(self) -> np.ndarray:
        """The windowed canvas (uint8 grey or BGR); re-windowed only when the window, frame, invert,
        zoom, pan or interpolation change.  Outside the image is black."""
        s = self.state
        key = _window_key(s) + (s.viewport, s.smooth, s.overlays, s.shutters) + _seg_key(s)
        if self._rendered is not None and self._rendered[0] == key:
            return self._rendered[1]
        values, padding, (u0, v0) = self.resampled()
        out = self._window(values, padding)
        self.renders += 1
        w, h = self.size
        if out.shape[:2] != (h, w):
            full = np.zeros((h, w) + out.shape[2:], dtype=np.uint8)
            full[v0 : v0 + out.shape[0], u0 : u0 + out.shape[1]] = out
            out = full
        objects = self.object_view()
        if objects is not None:
            out = apply_layers(np.array(out), objects, self.image.shutter_fill(s.frame))
        if self._seg_shown(s):
            found = self.segmentation_view()
            out = blend_segments(
                out,
                None if found is None else found[1],
                None if found is None else found[0],
                s.seg_alpha,
                s.seg_outline,
            )
        self._rendered = (key, out)
        return out

    def object_view(self) -> np.ndarray | None:
        """The frame's overlays and shutter (:func:`~dcmlib.objects.overlays.layers`) resampled onto the canvas
        like the image (area coverage when minifying, nearest neighbour when magnifying), or None."""
        s = self.state
        key = (s.frame, s.viewport, s.overlays, s.shutters)
        if self._objects is None or self._objects[0] != key:
            self._objects = (key, self._object_canvas())
        return self._objects[1]

    def object_levels(self) -> list[pipeline.Level] | None:
        """The frame's object planes and their area-averaged halvings (as the values' pyramid); cached."""
        s = self.state
        key = (s.frame, s.overlays, s.shutters)
        if self._object_levels is None or self._object_levels[0] != key:
            planes = self.image.object_layers(s.frame, overlays=s.overlays, shutters=s.shutters)
            self._object_levels = (key, None if planes is None else canvas.halvings(planes))
        return self._object_levels[1]

    @property
    def presented(self) -> bool:
        """Whether the frame is shown through a presentation state (``g``)."""
        return isinstance(self.image, PresentedImage)

    def _seg_shown(self, s: ViewerState) -> bool:
        """Whether the segmentation is drawn: on (``k``) and loaded."""
        return bool(s.segmentation) and self.segmentation is not None

    def segmentation_view(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The frame's segments resampled onto the canvas with nearest neighbour (outside the image: none),
        as (colours, coverage) for :func:`~dcmlib.objects.segmentation.blend`; cached per frame and viewport.  The
        outline is drawn from this canvas, so it is 1 screen pixel wide at any zoom."""
        s = self.state
        key = (s.frame, s.viewport)
        if self._seg_view is None or self._seg_view[0] != key:
            if self._seg_frame is None or self._seg_frame[0] != (s.frame, id(self.image)):  # once per frame
                found = None if self.segmentation is None else self.segmentation.coverage(s.frame)
                if found is not None and isinstance(self.image, PresentedImage):  # rotated, flipped, cut as
                    found = (found[0], self.image.present_planes(found[1], s.frame))  # the state's picture
                self._seg_frame = ((s.frame, id(self.image)), found)
            found = self._seg_frame[1]
            self._seg_view = (
                key,
                None if found is None else (found[0], canvas.nearest_canvas(found[1], self._viewport(), self.size)),
            )
        return self._seg_view[1]

    def _object_canvas(self) -> np.ndarray | None:
        levels = self.object_levels()
        return None if levels is None else canvas.area_canvas(levels, self._viewport(), self.size)

    def _window(self, values: np.ndarray, padding: np.ndarray | None) -> np.ndarray:
        """Resampled values to display levels with the state's window and polarity."""
        s = self.state
        voi = None if s.is_color else self.image.resolve_voi(s.frame, **render_options(s).window).voi
        return pipeline.window_viewport(
            values, padding, voi, self.image.inverted(s.frame, s.invert), getattr(self.image, "presentation_lut", None)
        )

    def full_resolution(self) -> np.ndarray:
        """The frame at full resolution exactly as ``--export`` writes it (the ``s`` snapshot)."""
        s = self.state
        seg = self.segmentation if self._seg_shown(s) else None  # as --export --seg
        return self.image.render(frame=s.frame, options=render_options(s, seg))

    def hover(self, state: ViewerState, x: int, y: int) -> ViewerState:
        """``state`` with the pointer at view position (x, y) and the probe on the source pixel under
        it, at any zoom and pan: image pixel and modality value (colour: RGB)."""
        w, h = self.size
        vp = state.viewport
        pixel = vp.pixel_at(x, y) if vp is not None and 0 <= x < w and 0 <= y < h else None
        if pixel is None or state.frame in self._failed:
            return controls.on_hover(state, None, None, at=(x, y))
        px, py = pixel
        try:
            v = self.image.values(state.frame)[py, px]
        except DcmviewError:  # not decodable: compose() reports it
            return controls.on_hover(state, None, None, at=(x, y))
        value = tuple(int(c) for c in v) if self.image.is_color else float(v)
        if isinstance(self.image, PresentedImage):  # the probe names the source pixel
            source = self.image.source_pixel(state.frame, px, py)
            if source is None:
                return controls.on_hover(state, None, None, at=(x, y))
            px, py = source
        return controls.on_hover(state, px, py, value, at=(x, y))

    # -- measurements -------------------------------------------------------------------
    def measurement(self, m: Measurement, cache: bool = True) -> measure.Distance | measure.RoiStats:
        """The numbers of a measurement, on the source pixels of its frame (cached unless ``cache`` is False)."""
        if m not in self._measured or not cache:
            img = self.image
            spacing = img.pixel_spacing(m.frame)
            if m.kind == "ruler":
                result: measure.Distance | measure.RoiStats = measure.distance(m.x0, m.y0, m.x1, m.y1, spacing)
            else:
                unit = "luminance" if img.is_color else img.unit
                result = measure.roi_stats(
                    img.values(m.frame),
                    m.x0,
                    m.y0,
                    m.x1,
                    m.y1,
                    padding=img.padding_mask(m.frame),
                    spacing=spacing,
                    unit=unit,
                )
            if not cache:
                return result
            self._measured[m] = result
        return self._measured[m]

    def measurement_line(self, m: Measurement) -> str:
        """The line a finished measurement prints on stdout (or why its frame cannot be measured)."""
        try:
            return self.measurement(m).line()
        except DcmviewError as exc:
            what = "distance" if m.kind == "ruler" else "roi"
            return f"{what}: frame {m.frame + 1} cannot be measured ({exc.problem})"

    # -- the composed frame -----------------------------------------------------------
    def compose(self) -> np.ndarray:
        """The frame the window shows (BGR): the viewport plus measurements, the overview and the
        annotations, or the help panel, drawn on a copy."""
        s = self.state
        try:
            view = self.render_view()
        except DcmviewError as exc:
            return self._error_frame(exc)
        out = cv2.cvtColor(view, cv2.COLOR_GRAY2BGR) if view.ndim == 2 else view.copy()
        if isinstance(self.image, PresentedImage) and s.viewport is not None:  # the state's annotations
            vp = s.viewport
            self.image.draw_annotations(
                out, s.frame, vp.zoom, (vp.width / 2.0 - vp.cx * vp.zoom, vp.height / 2.0 - vp.cy * vp.zoom)
            )
        scale = draw.text_scale(out)
        if s.help:
            draw.help_panel(out, help_rows(s), scale)
        elif s.annotations:
            if s.viewport is not None and not s.viewport.shows_all():
                self._draw_overview(out)
            self._draw_measurements(out, scale)
            draw.text_block(out, self.annotation_lines(), 8, 8, scale)
            self._draw_orientation(out, scale)
        return out

    def _draw_orientation(self, out: np.ndarray, scale: float) -> None:
        """A/P, R/L, H/F at the middle of the four edges, from the direction cosines (C.7.6.1.1.1)."""
        frame = self.state.frame
        if frame not in self._labels:
            try:
                self._labels[frame] = reformat.image_labels(self.base, frame)
                if isinstance(self.image, PresentedImage):
                    self._labels[frame] = self.image.turn_labels(self._labels[frame])
            except DcmviewError:
                self._labels[frame] = None
        labels = self._labels[frame]
        if labels:
            draw.edge_labels(out, labels, scale)

    def annotation_lines(self) -> list[str]:
        """The overlay text for the current state (see :func:`dcmlib.viewer.labels.annotation_lines`)."""
        img, s = self.image, self.state
        position = img.position(s.frame) if len(img) > 1 else None
        plane = getattr(img, "plane", None)  # a reformatted image: "coronal 211/512  y -12.5 mm"
        extra = self._patient
        if isinstance(img, PresentedImage):
            extra = extra + [f"presentation state: {img.state.label or img.state.name}"]
        lines = annotation_lines(
            s,
            img.name,
            extra,
            position=position,
            frame_word=plane or ("slice" if img.is_series else "frame"),
            axis=getattr(img, "axis", ""),
        )
        return lines

    def _draw_measurements(self, out: np.ndarray, scale: float) -> None:
        """The frame's rulers and ellipses with their numbers; the one being drawn without its stats."""
        s = self.state
        vp = s.viewport
        if vp is None:
            return
        todo = [m for m in s.measurements if m.frame == s.frame]
        if s.drawing is not None and s.drawing.frame == s.frame:
            todo.append(s.drawing)
        for m in todo:
            if m.kind == "ruler":
                texts = _short(self.measurement(m, cache=m is not s.drawing))
            else:
                texts = _short(self.measurement(m)) if m is not s.drawing else []
            draw.measurement_shape(out, m.kind, vp.to_view(m.x0, m.y0), vp.to_view(m.x1, m.y1), texts, scale)

    def _draw_overview(self, out: np.ndarray) -> None:
        """A thumbnail of the whole frame at the bottom right, the visible region outlined on it."""
        vp = self._viewport()
        draw.overview(out, self._thumbnail(), vp.region(), vp.columns, vp.rows)

    def _thumbnail(self) -> np.ndarray:
        """The whole frame, at most :data:`~dcmlib.viewer.canvas.OVERVIEW_SIZE` pixels a side, windowed like
        the view (BGR)."""
        s = self.state
        key = _window_key(s)
        if self._overview is None or self._overview[0] != key:
            small, pad = canvas.thumbnail_values(self.levels(s.frame), self.image.columns, self.image.rows)
            thumb = self._window(small, pad)
            self._overview = (key, cv2.cvtColor(thumb, cv2.COLOR_GRAY2BGR) if thumb.ndim == 2 else thumb)
        return self._overview[1]

    def _error_frame(self, exc: DcmviewError) -> np.ndarray:
        """A black frame saying why this frame cannot be shown; the warning goes out once per frame."""
        frame = self.state.frame
        if frame not in self._failed:
            self._failed.add(frame)
            self._warn(f"frame {frame + 1}: {exc}")
        out = np.zeros((self.size[1], self.size[0], 3), dtype=np.uint8)
        lines = [f"frame {frame + 1}/{len(self.image)} cannot be shown:", exc.problem[:90]]
        draw.text_block(out, lines, 8, 8, draw.text_scale(out))
        return out

    def _viewport(self) -> Viewport:
        """The state's viewport: a View fits one to its canvas and keeps it."""
        vp = self.state.viewport
        assert vp is not None, "a View's state has a viewport"
        return vp

    def _warn(self, message: str) -> None:
        if self._on_warning is not None:
            self._on_warning(message)
        else:
            warnings.warn(message, DcmviewWarning, stacklevel=3)


def _seg_key(s: ViewerState) -> tuple:
    return (s.segmentation, s.seg_alpha, s.seg_outline) if s.segmentation else ()


def _patient_lines(image: DisplayImage) -> list[str]:
    """Patient name and ID (0010,0010), (0010,0020) as one line, when the file has them."""
    if not isinstance(image, (DicomImage, reformat.ReformattedImage)):  # the images that carry a header
        return []
    h = image.header
    text = f"{h.get('PatientName', '') or ''}  {h.get('PatientID', '') or ''}".strip()
    return [text] if text else []


def _short(result: measure.Distance | measure.RoiStats) -> list[str]:
    """A measurement's text beside its shape: a distance's one line, an ROI's lines."""
    short = result.short()
    return [short] if isinstance(short, str) else short

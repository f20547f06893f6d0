"""What the viewer window shows: an image and a :class:`~dcmlib.controls.ViewerState`, composed.

No HighGUI here: ``dcmview.py`` owns the window, turns its events into
:mod:`dcmlib.controls` calls and shows what :meth:`View.compose` returns.  A
change re-windows only what the screen shows: the frame's modality values are
resampled to the viewport once per frame (:func:`~dcmlib.pipeline.resample_viewport`,
padding as background, PS3.3 C.7.5.1.1.2), and each window change re-runs
:func:`~dcmlib.pipeline.window_viewport` on that small array, with the image's
own VOI resolution and polarity (PS3.3 C.11.2, C.11.6).  The full-resolution
frame (the ``s`` snapshot) is :meth:`~dcmlib.image.DicomImage.render` with the
same arguments, which is why it equals ``--export``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace

import cv2
import numpy as np

from . import controls, pipeline
from .controls import ViewerState
from .errors import DcmviewError, DcmviewWarning
from .image import DicomImage

__all__ = ["View", "fit_zoom", "render_args", "DEFAULT_SCREEN", "MIN_VIEW", "TRACKBAR_SPACE"]

#: Screen size (width, height) assumed when none is known.
DEFAULT_SCREEN = (1280, 1024)
#: Small images are enlarged by a whole factor (nearest neighbour, never blurry) up to this.
MIN_VIEW = 512
#: Vertical pixels the Qt trackbars take under the image.
TRACKBAR_SPACE = 170
TEXT = (235, 235, 235)
SHADOW = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def fit_zoom(rows: int, cols: int, screen: tuple[int, int]) -> float:
    """Display scale: shrink to the screen (keeping the aspect ratio), enlarge tiny images by a whole factor."""
    max_w = max(int(screen[0] * 0.92), 64)
    max_h = max(int(screen[1] * 0.92) - TRACKBAR_SPACE, 64)
    fit = min(max_w / cols, max_h / rows)
    if fit < 1:
        return fit
    whole = int(min(fit, MIN_VIEW / max(min(rows, cols), 1)))
    return float(max(whole, 1))


def render_args(state: ViewerState) -> dict[str, object]:
    """The state's VOI as :meth:`~dcmlib.image.DicomImage.render` arguments.

    A stored VOI LUT by its number (``voi=``), else the window and its VOI LUT
    Function; none for colour, which has no VOI.
    """
    if state.is_color:
        return {}
    if state.lut:
        return {"voi": state.voi}
    return {"center": state.center, "width": state.width, "mode": state.mode}


def _shown(state: ViewerState) -> tuple[ViewerState, str | None]:
    """What of a state is on screen: all but the drag origin and the shell's requests (and the message)."""
    return replace(state, drag=None, request=None), state.message


class View:
    """An image and the state shown on it; :meth:`compose` is the frame the window shows.

    The view is fitted to ``screen`` (width, height) by :func:`fit_zoom`, and
    the state's ``zoom`` set to match.  ``show_patient`` adds the patient name
    and ID to the annotations.  A frame that cannot be decoded (a damaged
    slice) shows its error instead of ending the session; ``on_warning`` hears
    of it once (default: a :class:`~dcmlib.errors.DcmviewWarning`).
    """

    def __init__(self, image: DicomImage, state: ViewerState | None = None, *,
                 screen: tuple[int, int] = DEFAULT_SCREEN, show_patient: bool = False,
                 on_warning: Callable[[str], None] | None = None):
        self.image = image
        zoom = fit_zoom(image.rows, image.columns, screen)
        #: The viewport (width, height) in display pixels.
        self.size = (max(1, round(image.columns * zoom)), max(1, round(image.rows * zoom)))
        state = state or controls.initial_state(image)
        self.state = replace(state, zoom=self.size[0] / image.columns)
        #: Viewport re-windowings so far (the expensive step; for tests and benchmarks).
        self.renders = 0
        self._on_warning = on_warning
        self._patient = _patient_lines(image) if show_patient else []
        self._viewport: tuple[int, np.ndarray, np.ndarray | None] | None = None   # frame, values, padding
        self._rendered: tuple[tuple, np.ndarray] | None = None
        self._failed: set[int] = set()

    def set_state(self, state: ViewerState) -> bool:
        """Show ``state`` from now on; True when the picture changes (a drag origin alone does not)."""
        changed = _shown(state) != _shown(self.state)
        self.state = state
        return changed

    def failed(self, frame: int) -> bool:
        """Whether the frame could not be decoded when it was shown."""
        return frame in self._failed

    # -- pixels -----------------------------------------------------------------------
    def viewport(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The frame's modality values (colour: RGB) resampled to the viewport, and its padding; cached per frame."""
        frame = self.state.frame
        if self._viewport is None or self._viewport[0] != frame:
            img = self.image
            mask = img.padding_mask(frame)
            background = img.frame_range(frame)[0] if mask is not None else 0.0
            values, padding = pipeline.resample_viewport(img.values(frame), self.size, mask, background)
            self._viewport = (frame, values, padding)
        return self._viewport[1], self._viewport[2]

    def render_view(self) -> np.ndarray:
        """The windowed viewport (uint8 grey or BGR); re-windowed only when the window, frame or invert change."""
        s = self.state
        key = (s.frame, s.center, s.width, s.mode, s.voi if s.lut else None, s.invert)
        if self._rendered is not None and self._rendered[0] == key:
            return self._rendered[1]
        values, padding = self.viewport()
        voi = None if s.is_color else self.image.resolve_voi(s.frame, **render_args(s)).voi  # type: ignore[arg-type]
        out = pipeline.window_viewport(values, padding, voi, self.image.inverted(s.frame, s.invert))
        self.renders += 1
        self._rendered = (key, out)
        return out

    def full_resolution(self) -> np.ndarray:
        """The frame at full resolution exactly as ``--export`` writes it (the ``s`` snapshot)."""
        s = self.state
        return self.image.render(frame=s.frame, invert=s.invert, **render_args(s))  # type: ignore[arg-type]

    def hover(self, state: ViewerState, x: int, y: int) -> ViewerState:
        """``state`` with the pixel probe at view position (x, y): image pixel and modality value (colour: RGB)."""
        w, h = self.size
        img = self.image
        if not (0 <= x < w and 0 <= y < h) or state.frame in self._failed:
            return controls.on_hover(state, None, None)
        px = min(int(x * img.columns / w), img.columns - 1)
        py = min(int(y * img.rows / h), img.rows - 1)
        try:
            v = img.values(state.frame)[py, px]
        except DcmviewError:                     # not decodable: compose() reports it
            return controls.on_hover(state, None, None)
        value = tuple(int(c) for c in v) if img.is_color else float(v)
        return controls.on_hover(state, px, py, value)

    # -- the composed frame -----------------------------------------------------------
    def compose(self) -> np.ndarray:
        """The frame the window shows (BGR): the viewport plus annotations or the help panel, drawn on a copy."""
        s = self.state
        try:
            view = self.render_view()
        except DcmviewError as exc:
            return self._error_frame(exc)
        out = cv2.cvtColor(view, cv2.COLOR_GRAY2BGR) if view.ndim == 2 else view.copy()
        scale = _text_scale(out)
        if s.help:
            _help_panel(out, controls.HELP, scale)
        elif s.annotations:
            _text_block(out, self.annotation_lines(), 8, 8, scale)
        return out

    def annotation_lines(self) -> list[str]:
        """The overlay text for the current state (see :func:`dcmlib.controls.annotation_lines`)."""
        img, s = self.image, self.state
        position = img.position(s.frame) if len(img) > 1 else None
        return controls.annotation_lines(s, img.name, self._patient, position=position,
                                         frame_word="slice" if img.is_series else "frame")

    def _error_frame(self, exc: DcmviewError) -> np.ndarray:
        """A black frame saying why this frame cannot be shown; the warning goes out once per frame."""
        frame = self.state.frame
        if frame not in self._failed:
            self._failed.add(frame)
            self._warn(f"frame {frame + 1}: {exc}")
        out = np.zeros((self.size[1], self.size[0], 3), dtype=np.uint8)
        lines = [f"frame {frame + 1}/{len(self.image)} cannot be shown:", exc.problem[:90]]
        _text_block(out, lines, 8, 8, _text_scale(out))
        return out

    def _warn(self, message: str) -> None:
        if self._on_warning is not None:
            self._on_warning(message)
        else:
            warnings.warn(message, DcmviewWarning, stacklevel=3)


def _patient_lines(image: DicomImage) -> list[str]:
    """Patient name and ID (0010,0010), (0010,0020) as one line, when the file has them."""
    h = image.header
    text = f"{h.get('PatientName', '') or ''}  {h.get('PatientID', '') or ''}".strip()
    return [text] if text else []


# ----------------------------------------------------------------------------- text


def _text_scale(img: np.ndarray) -> float:
    return 0.45 if img.shape[1] < 700 else 0.55


def _put(img: np.ndarray, text: str, org: tuple[int, int], scale: float) -> None:
    """Light text with a dark outline: readable on any grey.

    The outline is the same text drawn one pixel off in each diagonal: a
    thicker stroke would also be wider (OpenCV 5 fonts advance by thickness).
    """
    x, y = org
    for dx, dy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
        cv2.putText(img, text, (x + dx, y + dy), FONT, scale, SHADOW, 1, cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, TEXT, 1, cv2.LINE_AA)


def _text_size(text: str, scale: float) -> tuple[int, int]:
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    return w, h + base


def _text_block(img: np.ndarray, lines: Sequence[str], x: int, y: int, scale: float) -> None:
    """Annotation lines at the top left."""
    th = _text_size("Ag", scale)[1]
    for i, text in enumerate(lines):
        _put(img, text, (x, y + th + i * (th + 6)), scale)


def _help_panel(img: np.ndarray, rows: Sequence[tuple[str, str]], scale: float) -> None:
    """The key list in two columns on a darkened panel, shrunk to fit the view."""
    key_w = max(_text_size(k, scale)[0] for k, _ in rows) + 14
    need = key_w + max(_text_size(a, scale)[0] for _, a in rows) + 24
    if need > img.shape[1]:
        scale *= img.shape[1] / need
        key_w = max(_text_size(k, scale)[0] for k, _ in rows) + 14
        need = img.shape[1]
    th = _text_size("Ag", scale)[1]
    step = th + max(3, int(6 * scale / 0.5))
    roi = img[: min(img.shape[0], step * len(rows) + 16), : min(img.shape[1], need)]
    roi //= 4
    for i, (keys, action) in enumerate(rows):
        y = 8 + th + i * step
        _put(img, keys, (10, y), scale)
        _put(img, action, (10 + key_w, y), scale)

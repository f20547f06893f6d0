"""The image as the viewer's state logic reads it (:class:`~dcmlib.viewer.state.VoiSource`), its auto
windows remembered per frame and percentiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dcmlib.displayable import DisplayImage
    from dcmlib.render.pipeline import VoiSelection
    from dcmlib.values.lut import PairWindow, VoiLut, Window
    from dcmlib.values.presets import Preset

__all__ = ["RememberedImage"]


class RememberedImage:
    """The image, its auto windows remembered per (frame, percentiles): ``a`` and the ``p`` cycle
    compute a percentile window once (tens of ms on a large frame), not on every press."""

    def __init__(self, image: DisplayImage):
        self._image = image
        self._auto: dict[tuple[int, float, float], PairWindow] = {}

    # -- what the state logic reads (state.VoiSource), delegated by name ------------------------------
    is_color = property(lambda self: self._image.is_color)
    is_series = property(lambda self: self._image.is_series)
    unit = property(lambda self: self._image.unit)
    cine_rate = property(lambda self: self._image.cine_rate)
    value_range = property(lambda self: self._image.value_range)

    def __len__(self) -> int:
        return len(self._image)

    def frame_range(self, frame: int = 0) -> tuple[float, float]:
        return self._image.frame_range(frame)

    def vois(self, frame: int = 0) -> list[Window | VoiLut]:
        return self._image.vois(frame)

    def resolve_voi(
        self,
        frame: int = 0,
        *,
        center: float | None = None,
        width: float | None = None,
        mode: str | None = None,
        voi: int | None = None,
        preset: str | Preset | None = None,
    ) -> VoiSelection:
        return self._image.resolve_voi(frame, center=center, width=width, mode=mode, voi=voi, preset=preset)

    def default_window(self, frame: int = 0) -> Window:
        return self._image.default_window(frame)

    def auto_window(self, frame: int = 0, low: float = 0.5, high: float = 99.5) -> PairWindow:
        key = (frame, low, high)
        if key not in self._auto:
            self._auto[key] = self._image.auto_window(frame, low, high)
        return self._auto[key]

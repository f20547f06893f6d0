"""What the images share, written once on top of each one's own ``resolve_voi``, ``values``,
``padding_mask`` and ``inverted``: the default and auto windows and windowing any array of values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from dcmlib.displayable import RenderOptions
from dcmlib.render import pipeline
from dcmlib.values.lut import PairWindow

if TYPE_CHECKING:
    from dcmlib.render.pipeline import VoiSelection
    from dcmlib.values.lut import Window
    from dcmlib.values.presets import Preset

__all__ = ["ImageBase"]


class _WindowedImage(Protocol):
    """What each image brings of its own for :class:`ImageBase` to build on (the mixin's self-type)."""

    def resolve_voi(
        self,
        frame: int = 0,
        *,
        center: float | None = None,
        width: float | None = None,
        mode: str | None = None,
        voi: int | None = None,
        preset: str | Preset | None = None,
    ) -> VoiSelection: ...

    def values(self, frame: int = 0) -> np.ndarray: ...

    def padding_mask(self, frame: int = 0) -> np.ndarray | None: ...

    def inverted(self, frame: int = 0, invert: bool = False) -> bool: ...


class ImageBase:
    """What the images share, on top of their own ``resolve_voi``, ``values``, ``padding_mask`` and ``inverted``:
    the default and auto windows and windowing any array of values (PS3.3 C.11.2, C.11.6)."""

    def default_window(self: _WindowedImage, frame: int = 0) -> Window:
        """The VOI ``render`` applies without a window: the first stored VOI (a VOI LUT's linear equivalent),
        else the min-max window.  Unpacks as ``center, width, mode``."""
        return self.resolve_voi(frame).window

    def auto_window(self: _WindowedImage, frame: int = 0, low: float = 0.5, high: float = 99.5) -> PairWindow:
        """The window spanning the ``low``..``high`` percentiles of the frame, padding excluded."""
        c, w = pipeline.percentile_window(self.values(frame), self.padding_mask(frame), low, high)
        return PairWindow(c, w, explanation="auto")

    def render_values(
        self: _WindowedImage,
        values: np.ndarray,
        center: float | None = None,
        width: float | None = None,
        *,
        frame: int = 0,
        options: RenderOptions | None = None,
        **changes: Any,
    ) -> np.ndarray:
        """Window any array of modality values (a resized viewport, say) with this image's VOI and polarity,
        as :meth:`render` would for ``frame``; grayscale only."""
        opts = RenderOptions.of(options, center=center, width=width, **changes)
        sel = self.resolve_voi(frame, **opts.window)
        return pipeline.to_display(np.asarray(values, dtype=np.float32), sel.voi, self.inverted(frame, opts.invert))

"""One image interface and one render-options value for every path that shows an image.

:class:`DisplayImage` is what every displayable image offers: a file or series
(:class:`~dcmlib.images.image.DicomImage`), a reformatted plane
(:class:`~dcmlib.images.reformat.ReformattedImage`), an image seen through a presentation
state (:class:`~dcmlib.images.presented.PresentedImage`).  The viewer, ``--export`` and
``convert`` use it without asking which one they hold.

:class:`RenderOptions` is what the user chose (window, mode, objects drawn) as one
frozen value, built once from the command line or API keywords and carried to
``render``, so ``s``, ``--export`` and ``convert`` draw the same image by construction.

The behaviour the images share lives in :mod:`dcmlib.render.imagebase`.  This module
imports nothing at run time (the viewer model and every layer use its types).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from dcmlib.objects.pstate import PresentationState
    from dcmlib.objects.segmentation import Segmentation
    from dcmlib.read.header import PixelSpacing
    from dcmlib.render.pipeline import VoiSelection
    from dcmlib.values.lut import PairWindow, VoiFunction, VoiLut, Window
    from dcmlib.values.presets import Preset

__all__ = ["RenderOptions", "DisplayImage", "DEFAULT_ALPHA"]

#: The segments' opacity when none is given (``--seg-alpha``, ``render(seg_alpha=)``, the viewer's ``K``).
DEFAULT_ALPHA = 0.4


@dataclass(frozen=True)
class RenderOptions:
    """How to render a frame: the VOI chosen (PS3.3 C.11.2), polarity and the objects drawn over the pixels.

    The VOI is, in this order: ``center``/``width`` (a missing one taken from the
    file's window), ``preset``, the ``voi``-th stored VOI (1-based), else the
    file's first VOI or a min-max window; ``mode`` overrides the VOI LUT Function.
    ``overlays`` (C.9.2) and ``shutters`` (C.7.6.11) are drawn unless switched
    off; ``pstate`` renders through a presentation state (A.33.1), with its
    annotations unless ``annotations`` is False; ``segmentation`` is blended at
    ``seg_alpha`` (contours only with ``seg_outline``).
    """

    center: float | None = None
    width: float | None = None
    preset: str | Preset | None = None
    voi: int | None = None
    mode: str | VoiFunction | None = None
    invert: bool = False
    overlays: bool = True
    shutters: bool = True
    pstate: PresentationState | None = None
    annotations: bool = True
    segmentation: Segmentation | None = None
    seg_alpha: float = DEFAULT_ALPHA
    seg_outline: bool = False

    @classmethod
    def of(cls, options: RenderOptions | None = None, **changes: Any) -> RenderOptions:
        """``options`` (default: all defaults) with ``changes``; ``center`` and ``width`` of None change nothing
        (they are ``render``'s positional defaults). An unknown name raises TypeError, as a keyword would."""
        if changes.get("center", 0) is None:
            del changes["center"]
        if changes.get("width", 0) is None:
            del changes["width"]
        if not changes:
            return options if options is not None else _DEFAULT
        if not changes.keys() <= _FIELDS:
            unknown = ", ".join(sorted(set(changes) - _FIELDS))
            raise TypeError(f"unknown render option(s): {unknown}")
        return cls(**changes) if options is None else replace(options, **changes)

    @property
    def window(self) -> dict[str, Any]:
        """The VOI choice as ``resolve_voi`` keywords: center, width, mode, voi, preset."""
        return {"center": self.center, "width": self.width, "mode": self.mode, "voi": self.voi, "preset": self.preset}

    @property
    def seg(self) -> tuple[Segmentation, float, bool] | None:
        """(segmentation, alpha, outline), or None without one."""
        return None if self.segmentation is None else (self.segmentation, self.seg_alpha, self.seg_outline)


@runtime_checkable
class DisplayImage(Protocol):
    """What every displayable image offers; frames are 0-based, values are modality values (C.11.1)."""

    name: str
    path: str | None

    @property
    def rows(self) -> int: ...

    @property
    def columns(self) -> int: ...

    @property
    def photometric(self) -> str: ...

    @property
    def is_color(self) -> bool: ...

    @property
    def is_series(self) -> bool: ...

    @property
    def modality(self) -> str: ...

    @property
    def unit(self) -> str: ...

    @property
    def cine_rate(self) -> tuple[float, str] | None: ...

    @property
    def value_range(self) -> tuple[float, float]: ...

    def __len__(self) -> int: ...

    def values(self, frame: int = 0) -> np.ndarray: ...

    def padding_mask(self, frame: int = 0) -> np.ndarray | None: ...

    def frame_range(self, frame: int = 0) -> tuple[float, float]: ...

    def vois(self, frame: int = 0) -> list[Window | VoiLut]: ...

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

    def default_window(self, frame: int = 0) -> Window: ...

    def auto_window(self, frame: int = 0, low: float = 0.5, high: float = 99.5) -> PairWindow: ...

    def inverted(self, frame: int = 0, invert: bool = False) -> bool: ...

    def pixel_spacing(self, frame: int = 0) -> PixelSpacing | None: ...

    def position(self, frame: int) -> float | None: ...

    def render(
        self,
        center: float | None = None,
        width: float | None = None,
        *,
        frame: int = 0,
        options: RenderOptions | None = None,
        **changes: Any,
    ) -> np.ndarray: ...

    def render_values(
        self,
        values: np.ndarray,
        center: float | None = None,
        width: float | None = None,
        *,
        frame: int = 0,
        options: RenderOptions | None = None,
        **changes: Any,
    ) -> np.ndarray: ...

    def object_layers(self, frame: int = 0, *, overlays: bool = True, shutters: bool = True) -> np.ndarray | None: ...

    def shutter_fill(self, frame: int = 0) -> Any: ...

    def info(self) -> str: ...

    def close(self) -> None: ...


#: The option names (``RenderOptions.of`` checks keywords against them) and the all-defaults value.
_FIELDS = frozenset(f.name for f in fields(RenderOptions))
_DEFAULT = RenderOptions()

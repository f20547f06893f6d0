"""What a conversion writes: the output format, the window, frames and layout, checked once.

:class:`ConvertOptions` holds only what decides the bytes and names of the
outputs (so ``--resume`` can compare it with the previous run's); how the work
is run (workers, timeout, Dask) is an argument of :func:`dcmlib.convert`.
Windows mean what they mean for ``render`` and ``--export`` (PS3.3 C.11.2):
a window, a preset or a stored VOI by number, else the file's first VOI or a
min-max window; ``auto`` is the viewer's percentile window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import InvalidArgumentError
from ..lut import VoiFunction, check_window
from ..presets import Preset, get_preset

__all__ = ["FORMATS", "DISPLAY_FORMATS", "LAYOUTS", "Channel", "ConvertOptions", "parse_channel", "parse_frames"]

#: Output format -> file extension.  png, jpg and tif hold the 8-bit display image; png16 and tif16
#: 16-bit modality (or stored) values with an offset; npy float32 modality values.
FORMATS = {"png": ".png", "png16": ".png", "jpg": ".jpg", "tif": ".tif", "tif16": ".tif", "npy": ".npy"}

#: Formats that hold the windowed display image (what ``--export`` writes).
DISPLAY_FORMATS = frozenset({"png", "jpg", "tif"})

#: ``mirror``: the source tree under DIR; ``series``: DIR/<study>/<series>/<NNNN> in slice order.
LAYOUTS = ("mirror", "series")


@dataclass(frozen=True)
class Channel:
    """One window of ``--channels``: a preset, or a center and width (``C/W``)."""

    center: float
    width: float
    preset: Preset | None = None

    @property
    def label(self) -> str:
        return self.preset.name if self.preset is not None else f"{self.center:g}/{self.width:g}"


def parse_channel(text: str) -> Channel:
    """``lung`` (a preset) or ``-600/1500`` (center/width) as a :class:`Channel`."""
    name = str(text).strip()
    if "/" in name:
        c, _, w = name.partition("/")
        try:
            center, width = float(c), float(w)
        except ValueError:
            raise InvalidArgumentError(f"channel {name!r} is neither a preset nor CENTER/WIDTH") from None
        check_window(center, width, VoiFunction.LINEAR_EXACT)
        return Channel(center, width)
    preset = get_preset(name)
    return Channel(preset.center, preset.width, preset)


def parse_frames(value: str | int) -> str | int:
    """``all``, ``first`` or a frame number from 1."""
    text = str(value).strip().lower()
    if text in ("all", "first"):
        return text
    try:
        n = int(text)
    except ValueError:
        raise InvalidArgumentError(f"--frames must be all, first or a frame number, got {value!r}") from None
    if n < 1:
        raise InvalidArgumentError(f"--frames counts from 1, got {n}")
    return n


@dataclass(frozen=True)
class ConvertOptions:
    """The options that decide every output's bytes and name; :meth:`checked` validates them.

    At most one of ``window`` (center, width), ``preset``, ``voi`` (1-based),
    ``auto`` and ``channels`` (three windows) is set; windows, ``mode`` and
    ``invert`` only apply to the display formats (png, jpg, tif).
    """

    format: str = "png"
    window: tuple[float, float] | None = None
    preset: str | None = None
    voi: int | None = None
    auto: bool = False
    channels: tuple[Channel, ...] | None = None
    mode: str | None = None
    invert: bool = False
    frames: str | int = "all"
    layout: str = "mirror"

    @property
    def suffix(self) -> str:
        return FORMATS[self.format]

    @property
    def is_display(self) -> bool:
        return self.format in DISPLAY_FORMATS

    def checked(self) -> ConvertOptions:
        """These options validated and normalised (preset names canonical, mode as its CLI name)."""
        fmt = str(self.format).lower()
        if fmt not in FORMATS:
            raise InvalidArgumentError(f"unknown format {self.format!r} (choose from {', '.join(FORMATS)})")
        if self.layout not in LAYOUTS:
            raise InvalidArgumentError(f"unknown layout {self.layout!r} (choose from {', '.join(LAYOUTS)})")
        chosen = [name for name, on in (("--window", self.window is not None), ("--preset", self.preset is not None),
                                        ("--voi", self.voi is not None), ("--auto", self.auto),
                                        ("--channels", self.channels is not None)) if on]
        if len(chosen) > 1:
            raise InvalidArgumentError(f"{' and '.join(chosen)} cannot be combined (choose one window)")
        if fmt not in DISPLAY_FORMATS:
            extra = chosen + (["--mode"] if self.mode else []) + (["--invert"] if self.invert else [])
            if extra:
                raise InvalidArgumentError(f"{', '.join(extra)} only apply to the display formats png, jpg and tif; "
                                           f"{fmt} holds the values themselves")
        window = None
        if self.window is not None:
            center, width = (float(x) for x in self.window)
            check_window(center, width, VoiFunction.LINEAR_EXACT)  # the file's function decides the rest, per file
            window = (center, width)
        voi = None
        if self.voi is not None:
            try:
                voi = int(self.voi)
            except (TypeError, ValueError):
                raise InvalidArgumentError(f"--voi must be a whole number, got {self.voi!r}") from None
            if voi < 1:
                raise InvalidArgumentError(f"--voi counts from 1, got {voi}")
        channels = None
        if self.channels is not None:
            channels = tuple(c if isinstance(c, Channel) else parse_channel(c) for c in self.channels)
            if len(channels) != 3:
                raise InvalidArgumentError(f"--channels needs three windows (one per colour channel), "
                                           f"got {len(channels)}")
        return ConvertOptions(
            format=fmt,
            window=window,
            preset=get_preset(self.preset).name if self.preset is not None else None,
            voi=voi,
            auto=bool(self.auto),
            channels=channels,
            mode=VoiFunction.parse(self.mode).mode if self.mode is not None else None,
            invert=bool(self.invert),
            frames=parse_frames(self.frames),
            layout=self.layout,
        )

    def describe(self) -> dict[str, object]:
        """The options as plain JSON values (what ``manifest.json`` records for ``--resume``)."""
        out = asdict(self)
        out["window"] = list(self.window) if self.window is not None else None
        out["channels"] = ([[c.center, c.width, c.preset.name if c.preset else None] for c in self.channels]
                           if self.channels is not None else None)
        return out

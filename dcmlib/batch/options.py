"""What a conversion writes: the output format, the window, frames and layout, checked once.

:class:`ConvertOptions` holds only what decides the bytes and names of the
outputs (so ``--resume`` can compare it with the previous run's); how the work
is run (workers, timeout, Dask) is an argument of :func:`dcmlib.convert`.
Windows mean what they mean for ``render`` and ``--export`` (PS3.3 C.11.2):
a window, a preset or a stored VOI by number, else the file's first VOI or a
min-max window; ``auto`` is the viewer's percentile window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from dcmlib.errors import InvalidArgumentError
from dcmlib.images.planes import PLANES
from dcmlib.objects.pstate import load_pstate
from dcmlib.objects.segmentation import DEFAULT_ALPHA, check_alpha
from dcmlib.values.lut import VoiFunction, check_window
from dcmlib.values.presets import UserPresets, find_preset

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
    """One window of ``--channels``: a preset by name (looked up per file, as ``--preset``), or ``C/W``."""

    center: float = 0.0
    width: float = 1.0
    preset: str | None = None

    def resolve(self) -> dict:
        """``render``'s window arguments of a ``C/W`` channel (a preset's are looked up per image)."""
        return {"center": self.center, "width": self.width}


def parse_channel(text: str | Channel, presets: UserPresets | None = None) -> Channel:
    """``lung`` (a preset: the user's or a built-in one) or ``-600/1500`` (center/width) as a :class:`Channel`."""
    if isinstance(text, Channel):
        return text
    name = str(text).strip()
    if "/" in name:
        c, _, w = name.partition("/")
        try:
            center, width = float(c), float(w)
        except ValueError:
            raise InvalidArgumentError(f"channel {name!r} is neither a preset nor CENTER/WIDTH") from None
        check_window(center, width, VoiFunction.LINEAR_EXACT)
        return Channel(center, width)
    find_preset(name, "", presets)  # it exists for some modality or built in
    return Channel(preset=name)


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
    ``invert`` only apply to the display formats (png, jpg, tif).  Preset names
    are looked up per file as ``--export --preset`` does: ``presets`` (the
    user's presets file) for the file's modality first, then built in.
    """

    format: str = "png"
    window: tuple[float, float] | None = None
    preset: str | None = None
    voi: int | None = None
    auto: bool = False
    channels: tuple[Channel, ...] | None = None
    mode: str | None = None
    invert: bool = False
    overlays: bool = True  #: draw the overlay planes (PS3.3 C.9.2) on display formats
    shutters: bool = True  #: apply the display shutter (C.7.6.11) on display formats
    frames: str | int = "all"
    layout: str = "mirror"
    presets: UserPresets | None = None
    pstate: str | None = None  #: a presentation state (GSPS) applied to the display formats of the images it references
    annotations: bool = True  #: draw the presentation state's graphic and text annotations
    plane: str | None = None  #: a series' slices through this plane (axial, coronal, sagittal), one job per series
    seg: str | None = None  #: a segmentation blended on the display formats (DICOM SEG, .npy, PNG/TIFF labels)
    seg_alpha: float = DEFAULT_ALPHA  #: its opacity, 0..1
    seg_outline: bool = False  #: only its contours
    #: a worker's frame cache in MiB (``--cache-mb``, where a ``--plane`` volume lives); it decides no output
    #: bytes, so ``describe`` leaves it out and ``--resume`` may change it
    cache_mb: float | None = None

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
        if self.cache_mb is not None and not float(self.cache_mb) > 0:
            raise InvalidArgumentError(f"--cache-mb must be > 0, got {self.cache_mb:g}")
        plane = None
        if self.plane is not None:
            plane = str(self.plane).strip().lower()
            if plane not in PLANES:
                raise InvalidArgumentError(f"unknown plane {self.plane!r} (choose from {', '.join(PLANES)})")
            if fmt in ("png16", "tif16"):
                raise InvalidArgumentError(
                    f"--plane writes png, jpg, tif or npy; {fmt} holds stored values, "
                    "which a reformatted slice does not have"
                )
        chosen = [
            name
            for name, on in (
                ("--window", self.window is not None),
                ("--preset", self.preset is not None),
                ("--voi", self.voi is not None),
                ("--auto", self.auto),
                ("--channels", self.channels is not None),
            )
            if on
        ]
        if len(chosen) > 1:
            raise InvalidArgumentError(f"{' and '.join(chosen)} cannot be combined (choose one window)")
        if fmt not in DISPLAY_FORMATS:
            extra = chosen + (["--mode"] if self.mode else []) + (["--invert"] if self.invert else [])
            if extra:
                raise InvalidArgumentError(
                    f"{', '.join(extra)} only apply to the display formats png, jpg and tif; "
                    f"{fmt} holds the values themselves"
                )
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
        if self.preset is not None:
            find_preset(self.preset, "", self.presets)  # it exists for some modality or built in
        channels = None
        if self.channels is not None:
            channels = tuple(parse_channel(c, self.presets) for c in self.channels)
            if len(channels) != 3:
                raise InvalidArgumentError(
                    f"--channels needs three windows (one per colour channel), got {len(channels)}"
                )
        seg = None
        if self.seg is not None:
            seg = os.path.abspath(os.fspath(self.seg))  # workers (and Dask's) open it by this name
            if fmt not in DISPLAY_FORMATS or channels is not None or plane is not None:
                raise InvalidArgumentError(
                    "--seg blends a segmentation on the display formats png, jpg and tif; "
                    "it cannot be combined with --channels or --plane"
                )
            if not os.path.isfile(seg):
                raise InvalidArgumentError("--seg: no such file", seg)
        seg_alpha = check_alpha(self.seg_alpha)
        pstate = None
        if self.pstate is not None:
            pstate = os.path.abspath(os.fspath(self.pstate))  # workers (and Dask's) open it by this name
            if fmt not in DISPLAY_FORMATS:
                raise InvalidArgumentError("--pstate applies to the display formats png, jpg and tif")
            load_pstate(pstate)  # a damaged state or one that is not a GSPS: one error before the run
        return ConvertOptions(
            format=fmt,
            window=window,
            preset=str(self.preset).strip() if self.preset is not None else None,
            voi=voi,
            auto=bool(self.auto),
            channels=channels,
            mode=VoiFunction.parse(self.mode).mode if self.mode is not None else None,
            invert=bool(self.invert),
            overlays=bool(self.overlays),
            shutters=bool(self.shutters),
            frames=parse_frames(self.frames),
            layout=self.layout,
            presets=self.presets,
            plane=plane,
            pstate=pstate,
            annotations=bool(self.annotations),
            seg=seg,
            seg_alpha=seg_alpha,
            seg_outline=bool(self.seg_outline),
            cache_mb=None if self.cache_mb is None else float(self.cache_mb),
        )

    def describe(self) -> dict[str, object]:
        """The options as plain JSON values (what ``manifest.json`` records for ``--resume``)."""
        out: dict[str, object] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("presets", "cache_mb")
        }
        if self.pstate is None:  # a run without --pstate records what it recorded before presentation states
            del out["pstate"], out["annotations"]
        if self.seg is None:  # a run without --seg records what it recorded before segmentations existed
            for name in ("seg", "seg_alpha", "seg_outline"):
                del out[name]
        out["window"] = list(self.window) if self.window is not None else None
        out["channels"] = (
            [c.preset if c.preset is not None else [c.center, c.width] for c in self.channels]
            if self.channels is not None
            else None
        )
        out["presets"] = (
            None
            if self.presets is None
            else {  # what the file said, not where it is
                m: [[p.name, p.center, p.width, p.function.value if p.function else None] for p in ps]
                for m, ps in sorted(self.presets.by_modality.items())
            }
        )
        return out

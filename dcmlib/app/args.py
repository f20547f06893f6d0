"""The flags ``dcmview.py`` and ``dcmview.py convert`` share, declared once: one help text and one behaviour each.

Both parsers report a usage error as one line and exit status 2 (:class:`Parser`);
both read the user's presets file the same way (:func:`user_presets`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from dcmlib.errors import DcmviewError, InvalidArgumentError
from dcmlib.images.planes import PLANES
from dcmlib.objects.segmentation import DEFAULT_ALPHA
from dcmlib.read.cache import DEFAULT_CACHE_MB
from dcmlib.values.lut import MODES
from dcmlib.values.presets import UserPresets, default_presets_path, load_presets

__all__ = [
    "PROG",
    "Parser",
    "warn",
    "add_window_flags",
    "add_display_flags",
    "add_volume_flags",
    "add_seg_flags",
    "add_debug_flag",
    "parse_window",
    "user_presets",
]

#: The program's name in every line it writes.
PROG = "dcmview"


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{PROG}: error: {message}\n")
        raise SystemExit(2)


def warn(message: str) -> None:
    """One warning line on stderr: ``dcmview: warning: <message>``."""
    sys.stderr.write(f"{PROG}: warning: {message}\n")


def add_window_flags(p: argparse.ArgumentParser) -> argparse._MutuallyExclusiveGroup:
    """``--window``, ``--preset``, ``--voi`` (one of them); the group is returned for ``convert``'s own."""
    win = p.add_mutually_exclusive_group()
    win.add_argument(
        "--window",
        nargs=2,
        metavar=("CENTER", "WIDTH"),
        help="window center and width (modality units, HU for CT); applies to every image",
    )
    win.add_argument(
        "--preset",
        metavar="NAME",
        help="a preset window (see --list-presets); applied to the "
        "images of the modalities it is defined for, elsewhere the file's own window and a warning",
    )
    win.add_argument("--voi", metavar="N", help="the N-th VOI stored in the file (windows first, then VOI LUTs)")
    return win


def parse_window(values: list[str], where: str | None = None) -> tuple[float, float]:
    """``--window CENTER WIDTH`` as numbers (whether the width is usable is the VOI resolution's to say)."""
    numbers = []
    for text, what in zip(values, ("window center", "window width")):
        try:
            numbers.append(float(text))
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{what} must be a number, got {text!r}", where) from None
    return numbers[0], numbers[1]


def add_display_flags(p: argparse.ArgumentParser) -> None:
    """The VOI function, inversion, presets file and the objects drawn over the image (PS3.3 C.9.2, C.7.6.11, A.33)."""
    p.add_argument(
        "--presets",
        metavar="FILE",
        help="your presets: TOML with a table per modality, or Weasis's "
        "presets.xml (default: $XDG_CONFIG_HOME/dcmview/presets.toml when it exists)",
    )
    p.add_argument("--mode", choices=list(MODES), help="VOI LUT function (default: the file's, else linear)")
    p.add_argument("--invert", action="store_true", help="invert the grey levels")
    p.add_argument(
        "--no-overlays",
        action="store_true",
        help="do not draw the overlay planes (60xx); drawn by default, as DCMTK's dcm2pnm does",
    )
    p.add_argument("--no-shutters", action="store_true", help="do not apply the display shutter (applied by default)")
    p.add_argument(
        "--pstate",
        metavar="FILE",
        help="render the images it references as this Grayscale Softcopy "
        "Presentation State says (VOI, presentation LUT, shutter, rotation, flip, displayed area, "
        "annotations)",
    )
    p.add_argument(
        "--no-annotations", action="store_true", help="do not draw a presentation state's graphic and text annotations"
    )


def add_volume_flags(p: argparse.ArgumentParser) -> None:
    """``--plane`` and ``--cache-mb`` (the frame cache, where a reformatted volume lives)."""
    p.add_argument(
        "--plane",
        choices=list(PLANES),
        help="each series reformatted in this plane; --frame and --frames count through it",
    )
    p.add_argument(
        "--cache-mb",
        type=float,
        metavar="MB",
        help=f"frame cache budget, where a --plane volume lives (default {DEFAULT_CACHE_MB:g})",
    )


def add_seg_flags(p: argparse.ArgumentParser) -> None:
    """``--seg FILE`` and its opacity and outline."""
    p.add_argument(
        "--seg",
        metavar="FILE",
        help="blend a segmentation: a DICOM SEG (on the images it references), "
        "or a .npy or PNG/TIFF label image of the image's size (labels 1..N, 0 background)",
    )
    p.add_argument(
        "--seg-alpha",
        default=str(DEFAULT_ALPHA),
        metavar="A",
        help=f"opacity of the segments, 0 to 1 (default {DEFAULT_ALPHA:g})",
    )
    p.add_argument("--seg-outline", action="store_true", help="draw only the segments' contours, 1 pixel wide")


def add_debug_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--debug", action="store_true", help="on an error, also print the traceback (with the decoder's own error)"
    )


def user_presets(args: argparse.Namespace) -> UserPresets | None:
    """``--presets FILE``, else the default presets file when it exists; None without one.

    A file named with ``--presets`` that cannot be used raises (an error line,
    status 2: the user asked for it).  The default file that cannot be used is
    one error line, and the built-in presets are used.  Skipped entries are warnings.
    """
    path = args.presets or default_presets_path()
    if not args.presets and not Path(path).is_file():
        return None
    try:
        user = load_presets(path)
    except DcmviewError as exc:
        if args.presets:
            raise
        sys.stderr.write(f"{PROG}: error: {exc} (using the built-in presets)\n")
        return None
    for note in user.notes:
        warn(f"{path}: {note}")
    return user

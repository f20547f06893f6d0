"""``dcmview.py convert``: convert DICOM files and folders to images or arrays, with a manifest.

Usage:
  python dcmview.py convert SRC [SRC ...] --out DIR
          [--format png|png16|jpg|tif|tif16|npy]
          [--window CENTER WIDTH | --preset NAME | --voi N | --auto]
          [--channels W1,W2,W3] [--presets FILE] [--mode linear|linear-exact|sigmoid] [--invert]
          [--no-overlays] [--no-shutters] [--pstate FILE] [--no-annotations]
          [--frames all|first|N] [--layout mirror|series] [--plane axial|coronal|sagittal] [--cache-mb MB]
          [--workers N] [--dask ADDRESS|local] [--resume] [--overwrite]
          [--timeout SECONDS] [--no-progress]
          [--seg FILE [--seg-alpha A] [--seg-outline]]

Every written image equals ``dcmview.py FILE --export OUT --frame N`` with the
same window options.  Exit status: 0 when every image was written, 1 when
some sources failed (each has its row in DIR/manifest.csv), 2 for usage
errors, nothing to convert or an unusable DIR, 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import warnings

from ..cache import DEFAULT_CACHE_MB
from ..errors import DcmviewError, InvalidArgumentError, report_error
from ..lut import MODES
from ..reformat import PLANES
from ..presets import UserPresets, default_presets_path, load_presets
from .options import FORMATS, LAYOUTS, ConvertOptions
from .run import DEFAULT_TIMEOUT, run_conversion

__all__ = ["build_parser", "main"]

PROG = "dcmview"


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{PROG}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dcmview.py convert", description="Convert DICOM files and folders to images or arrays, "
                "with a manifest (DIR/manifest.csv).", epilog="See README.md, 'Batch conversion'.")
    p.add_argument("sources", nargs="+", metavar="SRC", help="DICOM files and folders (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (manifest.csv is written there)")
    p.add_argument("--format", default="png", choices=list(FORMATS),
                   help="png, jpg, tif: 8-bit display image; png16, tif16: 16-bit values; npy: float32 values")
    win = p.add_mutually_exclusive_group()
    win.add_argument("--window", nargs=2, metavar=("CENTER", "WIDTH"), help="window center and width (HU for CT)")
    win.add_argument("--preset", metavar="NAME", help="a preset window (dcmview.py --list-presets)")
    win.add_argument("--voi", metavar="N", help="the N-th VOI stored in each file (windows first, then VOI LUTs)")
    win.add_argument("--auto", action="store_true", help="the viewer's auto window (0.5-99.5 %% of each frame)")
    win.add_argument("--channels", metavar="W1,W2,W3",
                     help="three windows (presets or C/W) as one colour image, the first in red")
    p.add_argument("--presets", metavar="FILE", help="your presets, as for dcmview.py (default: "
                   "$XDG_CONFIG_HOME/dcmview/presets.toml when it exists)")
    p.add_argument("--mode", choices=list(MODES), help="VOI LUT function (default: the file's, else linear)")
    p.add_argument("--invert", action="store_true", help="invert the grey levels")
    p.add_argument("--no-overlays", action="store_true", help="do not draw the overlay planes (60xx) on png/jpg/tif")
    p.add_argument("--no-shutters", action="store_true", help="do not apply the display shutter on png/jpg/tif")
    p.add_argument("--pstate", metavar="FILE", help="apply this presentation state (GSPS) to the images it "
                   "references (png/jpg/tif); the others are converted without it")
    p.add_argument("--no-annotations", action="store_true", help="do not draw the presentation state's annotations")
    p.add_argument("--frames", default="all", metavar="all|first|N", help="frames of multi-frame files (default all)")
    p.add_argument("--layout", default="mirror", choices=LAYOUTS,
                   help="mirror: the source tree under DIR; series: DIR/<study>/<series>/<NNNN> in slice order")
    p.add_argument("--plane", choices=list(PLANES), help="each series reformatted: all slices of this plane "
                   "(--frames counts through it)")
    p.add_argument("--cache-mb", type=float, metavar="MB", help="a worker's frame cache, where a --plane volume "
                   f"lives (default {DEFAULT_CACHE_MB:g})")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS|local", help="run on a dask.distributed scheduler, or a local cluster")
    p.add_argument("--resume", action="store_true", help="finish a previous run in DIR (same options)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in DIR")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"per file, before its worker is killed (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
    p.add_argument("--seg", metavar="FILE", help="blend this segmentation on png/jpg/tif (a DICOM SEG: on the "
                   "files it references; a .npy or PNG/TIFF label image: on files of its size)")
    p.add_argument("--seg-alpha", default="0.4", metavar="A", help="opacity of the segments, 0 to 1 (default 0.4)")
    p.add_argument("--seg-outline", action="store_true", help="draw only the segments' contours, 1 pixel wide")
    p.add_argument("--debug", action="store_true", help="on an error, also print the traceback")
    return p


def user_presets(args: argparse.Namespace) -> UserPresets | None:
    """``--presets FILE``, else the default presets file when it exists, as ``dcmview.py`` reads them: a
    default file that cannot be used is one error line and the built-in presets; a named one is an error."""
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
        sys.stderr.write(f"{PROG}: warning: {path}: {note}\n")
    return user


def options_from(args: argparse.Namespace) -> ConvertOptions:
    """The :class:`ConvertOptions` the flags ask for (validated by the run)."""
    window = None
    if args.window:
        try:
            window = (float(args.window[0]), float(args.window[1]))
        except ValueError:
            raise InvalidArgumentError("window center and width must be numbers, got "
                                       f"{' '.join(args.window)}") from None
    return ConvertOptions(format=args.format, window=window, preset=args.preset, voi=args.voi, auto=args.auto,
                          channels=tuple(args.channels.split(",")) if args.channels else None, mode=args.mode,
                          invert=args.invert, overlays=not args.no_overlays, shutters=not args.no_shutters,
                          pstate=args.pstate, annotations=not args.no_annotations,
                          frames=args.frames, layout=args.layout, presets=user_presets(args), plane=args.plane,
                          seg=args.seg, seg_alpha=args.seg_alpha, seg_outline=args.seg_outline,
                          cache_mb=args.cache_mb)


def main(argv: list[str] | None = None) -> int:
    """Run ``convert`` with ``argv`` (the arguments after ``convert``); print the summary; return the exit status."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
        try:
            report = run_conversion(args.sources, args.out, options_from(args), workers=args.workers,
                                    dask=args.dask, resume=args.resume, overwrite=args.overwrite,
                                    timeout=args.timeout, progress=not args.no_progress, stream=sys.stderr)
        except KeyboardInterrupt:
            sys.stderr.write(f"{PROG}: interrupted before any file was converted\n")
            return 130
        except Exception as exc:  # noqa: BLE001 - DcmviewError, or a bug: one line, the traceback on request
            return report_error(exc, PROG, debug=args.debug)
    sys.stderr.write(report.summary(PROG) + "\n")
    return report.exit_status

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
import warnings

from dcmlib.app.args import (
    PROG,
    Parser,
    add_debug_flag,
    add_display_flags,
    add_seg_flags,
    add_volume_flags,
    add_window_flags,
    parse_window,
    user_presets,
)
from dcmlib.batch.options import FORMATS, LAYOUTS, ConvertOptions
from dcmlib.batch.run import DEFAULT_TIMEOUT, run_conversion
from dcmlib.errors import report_error

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="dcmview.py convert",
        description="Convert DICOM files and folders to images or arrays, with a manifest (DIR/manifest.csv).",
        epilog="See README.md, 'Batch conversion'.",
    )
    p.add_argument("sources", nargs="+", metavar="SRC", help="DICOM files and folders (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (manifest.csv is written there)")
    p.add_argument(
        "--format",
        default="png",
        choices=list(FORMATS),
        help="png, jpg, tif: 8-bit display image; png16, tif16: 16-bit values; npy: float32 values "
        "(windows, overlays, shutters, --pstate and --seg apply to the display formats)",
    )
    win = add_window_flags(p)
    win.add_argument("--auto", action="store_true", help="the viewer's auto window (0.5-99.5 %% of each frame)")
    win.add_argument(
        "--channels", metavar="W1,W2,W3", help="three windows (presets or C/W) as one colour image, the first in red"
    )
    add_display_flags(p)
    p.add_argument("--frames", default="all", metavar="all|first|N", help="frames of multi-frame files (default all)")
    p.add_argument(
        "--layout",
        default="mirror",
        choices=LAYOUTS,
        help="mirror: the source tree under DIR; series: DIR/<study>/<series>/<NNNN> in slice order",
    )
    add_volume_flags(p)
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS|local", help="run on a dask.distributed scheduler, or a local cluster")
    p.add_argument("--resume", action="store_true", help="finish a previous run in DIR (same options)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous run in DIR")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per file, before its worker is killed (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or progress lines")
    add_seg_flags(p)
    add_debug_flag(p)
    return p


def options_from(args: argparse.Namespace) -> ConvertOptions:
    """The :class:`ConvertOptions` the flags ask for (validated by the run)."""
    window = parse_window(args.window) if args.window else None
    return ConvertOptions(
        format=args.format,
        window=window,
        preset=args.preset,
        voi=args.voi,
        auto=args.auto,
        channels=tuple(args.channels.split(",")) if args.channels else None,
        mode=args.mode,
        invert=args.invert,
        overlays=not args.no_overlays,
        shutters=not args.no_shutters,
        pstate=args.pstate,
        annotations=not args.no_annotations,
        frames=args.frames,
        layout=args.layout,
        presets=user_presets(args),
        plane=args.plane,
        seg=args.seg,
        seg_alpha=args.seg_alpha,
        seg_outline=args.seg_outline,
        cache_mb=args.cache_mb,
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``convert`` with ``argv`` (the arguments after ``convert``); print the summary; return the exit status."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
        try:
            report = run_conversion(
                args.sources,
                args.out,
                options_from(args),
                workers=args.workers,
                dask=args.dask,
                resume=args.resume,
                overwrite=args.overwrite,
                timeout=args.timeout,
                progress=not args.no_progress,
                stream=sys.stderr,
            )
        except KeyboardInterrupt:
            sys.stderr.write(f"{PROG}: interrupted before any file was converted\n")
            return 130
        except Exception as exc:  # noqa: BLE001 - DcmviewError, or a bug: one line, the traceback on request
            return report_error(exc, PROG, debug=args.debug)
    sys.stderr.write(report.summary(PROG) + "\n")
    return report.exit_status

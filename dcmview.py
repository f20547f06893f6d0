#!/usr/bin/env python3
"""View a DICOM file or series folder in an OpenCV window, or export it headlessly.

Usage:
  python dcmview.py [PATH] [--window CENTER WIDTH | --preset NAME | --voi N]
                    [--mode linear|linear-exact|sigmoid] [--frame N] [--invert]
  python dcmview.py PATH --export OUT.png [same options]
  python dcmview.py PATH --info
  python dcmview.py --list-presets

With no PATH the viewer opens pydicom's bundled CT sample.  Frames are
numbered from 1, as DICOM and DCMTK count them.  Errors print one line
``dcmview: error: <file>: <problem>`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import cv2

import dcmlib
from dcmlib import DcmviewError, InvalidArgumentError, OutputError

PROG = "dcmview"
EXPORT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{PROG}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    doc = (__doc__ or "").strip()
    p = _Parser(
        prog="dcmview.py",
        description=doc.split("\n\n")[0],
        epilog="Keys in the viewer: press h in the window (also listed in README.md).",
    )
    p.add_argument("path", nargs="?", help="DICOM file or folder (default: pydicom's CT sample)")
    win = p.add_mutually_exclusive_group()
    win.add_argument("--window", nargs=2, metavar=("CENTER", "WIDTH"), help="window center and width (modality units, HU for CT)")
    win.add_argument("--preset", metavar="NAME", help="a preset window, see --list-presets")
    win.add_argument("--voi", metavar="N", help="the N-th VOI stored in the file (windows first, then VOI LUTs)")
    p.add_argument("--mode", choices=list(dcmlib.MODES), help="VOI LUT function (default: the file's, else linear)")
    p.add_argument("--frame", default="1", metavar="N", help="frame or slice number, from 1 (default 1)")
    p.add_argument("--invert", action="store_true", help="invert the grey levels")
    p.add_argument("--export", metavar="OUT", help="write the rendered frame to OUT (.png .jpg .tif .bmp) and exit")
    p.add_argument("--info", action="store_true", help="print a short summary (no patient identifiers) and exit")
    p.add_argument("--list-presets", action="store_true", help="print the window presets and exit")
    p.add_argument("--series", metavar="UID|N", help="in a folder with several series, open this one")
    p.add_argument("--cache-mb", type=float, metavar="MB", help=f"frame cache budget (default {dcmlib.cache.DEFAULT_CACHE_MB})")
    p.add_argument("--snapshot-dir", metavar="DIR", help="folder for viewer snapshots (default: current folder)")
    p.add_argument("--show-patient", action="store_true", help="show patient name and ID in the viewer's annotations")
    return p


def format_presets() -> str:
    lines = [f"{'key':<4}{'name':<15}{'width':>7}{'level':>7}"]
    for key, p in enumerate(dcmlib.PRESETS.values(), 1):
        lines.append(f"{key:<4}{p.name:<15}{p.width:>7g}{p.center:>7g}")
    return "\n".join(lines)


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{what} must be a number, got {text!r}", where) from None
    if not math.isfinite(value):
        raise InvalidArgumentError(f"{what} must be finite, got {text!r}", where)
    return value


def render_options(args: argparse.Namespace, img: dcmlib.DicomImage) -> dict:
    """Turn the window/frame flags into ``img.render`` keyword arguments (frame 0-based)."""
    where = img.path or img.name
    try:
        frame = int(args.frame)
    except ValueError:
        raise InvalidArgumentError(f"frame must be a whole number, got {args.frame!r}", where) from None
    if not 1 <= frame <= len(img):
        raise InvalidArgumentError(f"frame {frame} out of range (1..{len(img)})", where)
    opts: dict = {"frame": frame - 1, "invert": bool(args.invert), "mode": args.mode}
    if args.window:
        center = _number(args.window[0], "window center", where)
        width = _number(args.window[1], "window width", where)
        if width <= 0:
            raise InvalidArgumentError(f"window width must be > 0, got {args.window[1]}", where)
        opts.update(center=center, width=width)
    elif args.preset:
        try:
            opts["preset"] = dcmlib.get_preset(args.preset).name
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(exc.problem, where) from None
    elif args.voi is not None:
        try:
            opts["voi"] = int(args.voi)
        except ValueError:
            raise InvalidArgumentError(f"--voi must be a whole number, got {args.voi!r}", where) from None
        n = len(img.vois(frame - 1))
        if not 1 <= opts["voi"] <= n:
            have = f"1..{n}" if n else "the file stores none"
            raise InvalidArgumentError(f"VOI {opts['voi']} out of range ({have})", where)
    return opts


def check_output(out: str) -> Path:
    """Validate an export path before any work: known extension, existing folder."""
    path = Path(out)
    if path.suffix.lower() not in EXPORT_EXTENSIONS:
        raise OutputError(f"unknown output extension {path.suffix or '(none)'!r} (use {' '.join(EXPORT_EXTENSIONS)})", out)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError("output folder does not exist", out)
    if path.is_dir():
        raise OutputError("is a directory", out)
    return path


def write_image(path: Path, image) -> None:
    """Encode by extension and write atomically: a temporary file renamed into place."""
    ok, buf = cv2.imencode(path.suffix.lower(), image)
    if not ok:
        raise OutputError("could not encode the image", path)
    fd, tmp = tempfile.mkstemp(prefix=".dcmview-", suffix=path.suffix, dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.tobytes())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(exc.strerror or "cannot write", path) from None


def default_sample() -> str:
    from pydicom.data import get_testdata_file

    return str(get_testdata_file("CT_small.dcm"))


def _warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {message}\n")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.list_presets:
            print(format_presets())
            return 0
        if args.cache_mb is not None and args.cache_mb <= 0:
            raise InvalidArgumentError(f"--cache-mb must be > 0, got {args.cache_mb:g}")
        out = check_output(args.export) if args.export else None
        path = args.path or default_sample()
        img = dcmlib.load(path, series=args.series, cache_mb=args.cache_mb, on_warning=_warn)
        if args.info:
            print(img.info())
            return 0
        opts = render_options(args, img)
        if out is not None:
            write_image(out, img.render(**opts))
            return 0
        return run_viewer(img, args, opts)
    except DcmviewError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


# ----------------------------------------------------------------------------- viewer (HighGUI shell)


def run_viewer(img: dcmlib.DicomImage, args: argparse.Namespace, opts: dict) -> int:
    """Open the HighGUI window on ``img`` with the start state ``opts``; returns the exit status."""
    raise DcmviewError("the interactive viewer is not built yet; use --export", img.path or img.name)


def _console_main() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    raise SystemExit(main())

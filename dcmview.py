#!/usr/bin/env python3
"""View a DICOM file or series folder in an OpenCV window, or export it headlessly.

Usage:
  python dcmview.py [PATH] [--window CENTER WIDTH | --preset NAME | --voi N]
                    [--mode linear|linear-exact|sigmoid] [--frame N] [--invert]
                    [--no-overlays] [--no-shutters] [--pstate FILE] [--no-annotations]
                    [--seg FILE [--seg-alpha A] [--seg-outline]]
  python dcmview.py PATH --export OUT.png [same options]
  python dcmview.py PATH --info
  python dcmview.py --list-presets
  python dcmview.py convert SRC [SRC ...] --out DIR [options]   (see: convert --help)

With no PATH the viewer opens pydicom's bundled CT sample.  Frames are
numbered from 1, as DICOM and DCMTK count them.  Errors print one line
``dcmview: error: <file>: <problem>`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

PROG = "dcmview"

try:  # these take about a second: Ctrl-C meanwhile ends as tidily as later, and a missing OpenCV is one line
    import cv2
    import numpy as np

    import dcmlib
    from dcmlib import DcmviewError, InvalidArgumentError, OutputError
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
        warn,
    )
    from dcmlib.app.screen import check_highgui, ensure_qt_fonts, screen_size
    from dcmlib.displayable import RenderOptions
    from dcmlib.errors import report_error
    from dcmlib.images import reformat
    from dcmlib.objects import segmentation
    from dcmlib.render import output
    from dcmlib.values import presets
    from dcmlib.viewer import controls
    from dcmlib.viewer.keys import KeyDecoder
    from dcmlib.viewer.labels import snapshot_name
    from dcmlib.viewer.state import ViewerState
    from dcmlib.viewer.view import View
except KeyboardInterrupt:
    sys.stderr.write("dcmview: interrupted\n")
    raise SystemExit(130) from None
except ImportError as _exc:
    if _exc.name != "cv2":
        raise
    sys.stderr.write(
        "dcmview: error: OpenCV is not installed: pip install 'dcmview[gui]' for the viewer, or "
        "'dcmview[headless]' for export and convert only\n"
    )
    raise SystemExit(2) from None

EXPORT_EXTENSIONS = output.IMAGE_EXTENSIONS


def build_parser() -> argparse.ArgumentParser:
    doc = (__doc__ or "").strip()
    p = Parser(
        prog="dcmview.py",
        description=doc.split("\n\n")[0],
        epilog="Keys in the viewer: press h in the window (also listed in README.md).  Whole folders to "
        "PNG, TIFF or NumPy for a dataset: dcmview.py convert SRC... --out DIR (see convert --help).",
    )
    p.add_argument("path", nargs="?", help="DICOM file or folder (default: pydicom's CT sample)")
    add_window_flags(p)
    p.add_argument("--frame", default="1", metavar="N", help="frame or slice number, from 1 (default 1)")
    add_display_flags(p)
    p.add_argument("--export", metavar="OUT", help="write the rendered frame to OUT (.png .jpg .tif .bmp) and exit")
    p.add_argument("--info", action="store_true", help="print a short summary (no patient identifiers) and exit")
    p.add_argument("--list-presets", action="store_true", help="print the window presets and exit")
    p.add_argument("--series", metavar="UID|N", help="in a folder with several series, open this one")
    add_volume_flags(p)
    p.add_argument("--snapshot-dir", metavar="DIR", help="folder for viewer snapshots (default: current folder)")
    p.add_argument("--show-patient", action="store_true", help="show patient name and ID in the viewer's annotations")
    add_seg_flags(p)
    add_debug_flag(p)
    return p


def format_presets(user: presets.UserPresets | None = None) -> str:
    lines = [f"{'key':<4}{'name':<15}{'width':>7}{'level':>7}"]
    for key, p in enumerate(dcmlib.PRESETS.values(), 1):
        lines.append(f"{key:<4}{p.name:<15}{p.width:>7g}{p.center:>7g}")
    if user is not None:
        for modality, own in user.by_modality.items():
            lines.append(f"\n{modality} ({Path(user.path).name})")
            for p in own:
                mode = f"  {p.function.mode}" if p.function is not None else ""
                lines.append(f"    {p.name:<15}{p.width:>7g}{p.center:>7g}{mode}")
    return "\n".join(lines)


def frame_index(args: argparse.Namespace, img: dcmlib.DisplayImage) -> int:
    """``--frame N`` (1-based, as DICOM and DCMTK count) as a checked 0-based index."""
    where = img.path or img.name
    try:
        frame = int(args.frame)
    except ValueError:
        raise InvalidArgumentError(f"frame must be a whole number, got {args.frame!r}", where) from None
    if not 1 <= frame <= len(img):
        raise InvalidArgumentError(f"frame {frame} out of range (1..{len(img)})", where)
    return frame - 1


def render_options(
    args: argparse.Namespace, img: dcmlib.DisplayImage, user: presets.UserPresets | None = None
) -> tuple[int, RenderOptions]:
    """The frame (0-based) and the :class:`~dcmlib.displayable.RenderOptions` the flags ask for, validated.

    The library's one VOI resolution checks them (``img.resolve_voi``), so the
    CLI, the viewer and ``render`` accept and refuse the same windows.
    ``--preset NAME`` applies as the viewer offers presets: the user's for the
    image's modality (``user``), the built-in ones to HU images; a preset for
    other modalities is not applied (the file's own window is) and one warning
    line says so (:func:`dcmlib.values.presets.preset_for_image`).  The segmentation
    itself is added once loaded (``args.seg_object``).
    """
    where = img.path or img.name
    frame = frame_index(args, img)
    opts = RenderOptions(
        invert=bool(args.invert),
        mode=args.mode,
        overlays=not args.no_overlays,
        shutters=not args.no_shutters,
        pstate=getattr(args, "pstate_object", None),
        annotations=not args.no_annotations,
        seg_alpha=float(args.seg_alpha),
        seg_outline=bool(args.seg_outline),
        segmentation=getattr(args, "seg_object", None),
    )
    if args.window:
        center, width = parse_window(args.window, where)
        opts = replace(opts, center=center, width=width)
    elif args.preset and not img.is_color:
        try:
            preset, note = presets.preset_for_image(args.preset, img.modality, img.unit, user)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(exc.problem, where) from None
        if preset is not None:
            opts = replace(opts, preset=preset)
        else:
            warn(f"{where}: {note}")
    elif args.voi is not None:
        try:
            opts = replace(opts, voi=int(args.voi))
        except ValueError:
            raise InvalidArgumentError(f"--voi must be a whole number, got {args.voi!r}", where) from None
    if not img.is_color:
        selection = img.resolve_voi(frame, **opts.window)
        if selection.preset is not None:
            opts = replace(opts, preset=selection.preset)
    return frame, opts


def check_output(out: str) -> Path:
    """Validate an export path before any work: known extension, existing folder."""
    path = Path(out)
    if path.suffix.lower() not in EXPORT_EXTENSIONS:
        raise OutputError(
            f"unknown output extension {path.suffix or '(none)'!r} (use {' '.join(EXPORT_EXTENSIONS)})", out
        )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError("output folder does not exist", out)
    if path.is_dir():
        raise OutputError("is a directory", out)
    return path


def write_image(path: Path, image) -> None:
    """Encode by extension and write atomically: a temporary file renamed into place (dcmlib.render.output)."""
    output.write_image(path, image)


def default_sample() -> str:
    from pydicom.data import get_testdata_file

    return str(get_testdata_file("CT_small.dcm"))


@contextlib.contextmanager
def quiet_c_stderr():
    """Send what C decoders (OpenJPEG, libjpeg, CharLS) print on fd 2 to /dev/null while they run.

    Their failures still raise, and the message then comes from dcmlib, as one
    line.  fd 2 belongs to the whole process, so this is only for the export
    path, where one thread decodes one frame and nothing else prints.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    """Run the viewer, an export, ``--info`` or ``convert``; return the exit status."""
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:
        return stdout_closed()


def stdout_closed() -> int:
    """The reader closed our stdout (``--info | head -2``): a normal end, quiet, status 0.

    stdout then points at /dev/null, so the interpreter's last flush does not fail too.
    """
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass
    return 0


def _main(argv: list[str]) -> int:
    if argv[:1] == ["convert"]:  # python dcmview.py convert SRC... --out DIR (dcmlib.app.convert)
        from dcmlib.app.convert import main as convert_main

        return convert_main(argv[1:])
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        # pydicom warns (UserWarning) on every lenient read: odd VRs, invalid values. The CLI
        # reports what matters through dcmlib's on_warning, once, in its own words.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        user = user_presets(args)
        if args.list_presets:
            print(format_presets(user))
            return 0
        args.seg_alpha = segmentation.check_alpha(args.seg_alpha, args.seg)
        if args.cache_mb is not None and args.cache_mb <= 0:
            raise InvalidArgumentError(f"--cache-mb must be > 0, got {args.cache_mb:g}")
        out = check_output(args.export) if args.export else None
        path = args.path or default_sample()
        viewing = out is None and not args.info
        args.pstate_object = dcmlib.load_pstate(args.pstate) if args.pstate else None
        img: dcmlib.DicomImage | reformat.ReformattedImage = dcmlib.load(
            path, series=args.series, cache_mb=args.cache_mb, on_warning=warn, read_ahead=viewing
        )
        if args.plane and args.pstate_object is not None:
            raise InvalidArgumentError(
                "--pstate applies to the acquired images, not to a --plane reformation", args.pstate
            )
        if args.plane:
            img = img.reformat(args.plane)
        if args.info:
            print(img.info())
            return 0
        if out is not None:
            with quiet_c_stderr():  # decode first: a min-max default window needs the frame too
                img.stored(frame_index(args, img))
        args.seg_object = dcmlib.load_segmentation(args.seg, img) if args.seg else None
        frame, opts = render_options(args, img, user)
        if out is not None:
            write_image(out, img.render(frame=frame, options=opts))
            return 0
        return run_viewer(img, args, frame, opts, user)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:
        return stdout_closed()
    except Exception as exc:  # noqa: BLE001 - DcmviewError, or a bug in dcmview: one line, the traceback on request
        return report_error(exc, PROG, debug=args.debug, where=args.path)


# ----------------------------------------------------------------------------- viewer (HighGUI shell)
#
# A thin shell: HighGUI events become dcmlib.viewer.controls calls, each giving a whole
# new state; dcmlib.viewer.view.View turns the state into the frame shown here (the
# viewport windowed per change, annotations, help).  What stays here is what
# only a window needs: the window, its trackbars, the callbacks, imshow, the
# event loop, and writing snapshot files.


class Viewer:
    """The HighGUI window on one image; ``update`` is the one re-render everything calls.

    Each callback hands the current state to :mod:`dcmlib.viewer.controls` and shows
    the new one through :class:`dcmlib.viewer.view.View`.  ``screen`` overrides the
    screen size used for fitting.
    """

    def __init__(
        self,
        img: dcmlib.DisplayImage,
        state: ViewerState | None = None,
        *,
        snapshot_dir: str | Path = ".",
        screen: tuple[int, int] | None = None,
        show_patient: bool = False,
        segmentation: dcmlib.Segmentation | None = None,
        pstates: tuple[dcmlib.PresentationState, ...] = (),
        pstate_annotations: bool = True,
    ):
        self.img = img
        # a folder of several series: the title names the one shown (the notice went to stderr only)
        series = img.series_label if isinstance(img, dcmlib.DicomImage) else ""  # a reformatted plane has none
        self.title = f"dcmview - {img.name}" + (f" - series {series}" if series else "")
        self.snapshot_dir = Path(snapshot_dir)
        self.stem = Path(img.name).stem if img.path and not Path(img.path).is_dir() else img.name
        self.screen, self.show_patient = screen or screen_size(img.path or img.name), show_patient
        self.view = View(
            img,
            state,
            screen=self.screen,
            show_patient=show_patient,
            on_warning=warn,
            segmentation=segmentation,
            pstates=pstates,
            pstate_annotations=pstate_annotations,
        )
        self.keys = KeyDecoder()
        self._syncing = False  # the trackbars are being set from the state
        self._ranges: dict[str, tuple[int, int]] = {}  # the trackbar limits set so far
        self.shown: np.ndarray | None = None  # the last composed frame (what the window shows)
        cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        self._create_trackbars()
        cv2.setMouseCallback(self.title, self.on_mouse)
        self.update()

    @property
    def state(self) -> ViewerState:
        """The state shown now (the view's)."""
        return self.view.state

    # -- HighGUI plumbing -------------------------------------------------------------
    def _create_trackbars(self) -> None:
        self._syncing = True  # creating and limiting a trackbar fires its callback
        try:
            for name, (_, hi) in controls.trackbar_ranges(self.state).items():
                cv2.createTrackbar(name, self.title, 0, hi, self._trackbar_callback(name))
        finally:
            self._syncing = False
        self._sync_trackbars()

    def _sync_trackbars(self) -> None:
        """Trackbar limits and positions from the state (the limits widen to hold any window shown)."""
        self._syncing = True
        try:
            for name, (lo, hi) in controls.trackbar_ranges(self.state).items():
                if self._ranges.get(name) != (lo, hi):
                    cv2.setTrackbarMin(name, self.title, lo)
                    cv2.setTrackbarMax(name, self.title, hi)
                    self._ranges[name] = (lo, hi)
            for name, pos in controls.trackbar_positions(self.state).items():
                if cv2.getTrackbarPos(name, self.title) != pos:
                    cv2.setTrackbarPos(name, self.title, pos)
        finally:
            self._syncing = False

    # -- events -----------------------------------------------------------------------
    def set_state(self, state: ViewerState) -> None:
        """Show a new state; carry out its snapshot or measurement request (quit stays for :meth:`run`)."""
        if state is self.state:
            return
        request = state.request if state.request in ("snapshot", "snapshot-shown", "measured", "plane") else None
        if request is not None:
            state = replace(state, request=None)
        if self.view.set_state(state):
            self.update()
        if request == "measured":
            print(self.view.measurement_line(state.measurements[-1]), flush=True)
        elif request == "plane":
            self.switch_plane()
        elif request is not None:
            self.snapshot(shown=request == "snapshot-shown")

    def switch_plane(self, plane: str | None = None) -> None:
        """``t``: the series in the next plane (or ``plane``), through the point under the pointer
        (else the centre), keeping the window; a series that cannot be reformatted says why."""
        s = self.state
        point = None
        if s.pointer is not None and s.viewport is not None:
            point = s.viewport.to_image(*s.pointer)
        try:
            img, frame = reformat.switch_plane(self.img, s.frame, point, plane, progress=self._progress)
        except DcmviewError as exc:
            self.set_state(replace(s, message=exc.problem))
            return
        new = controls.initial_state(
            img, center=s.center, width=s.width, mode=s.mode, frame=frame, invert=s.invert, step=s.scale.step
        )  # the same trackbars
        new = replace(new, annotations=s.annotations, smooth=s.smooth)
        self.img = img
        self.view = View(img, new, screen=self.screen, show_patient=self.show_patient, on_warning=warn)
        self.update()

    def _progress(self, done: int, total: int) -> None:
        """Building the volume: a line on the image shown, every 5 %."""
        if self.shown is None or (done % max(1, total // 20) and done != total):
            return
        out = self.shown.copy()
        cv2.putText(
            out,
            f"building the volume: {done}/{total} slices",
            (8, out.shape[0] - 12),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 255, 255),
            1,
            cv2.LINE_AA,
        )
        cv2.imshow(self.title, out)
        cv2.waitKey(1)

    def _trackbar_callback(self, name: str) -> Callable[[int], None]:
        """HighGUI's callback for the trackbar ``name`` (HighGUI passes the position only)."""
        return lambda pos: self.on_trackbar(name, pos)

    def on_trackbar(self, name: str, pos: int) -> None:
        if self._syncing:
            return
        self.set_state(controls.on_trackbar(self.state, name, pos, self.view.source))

    def on_key(self, code: int) -> None:
        self.set_state(controls.on_key(self.state, self.keys(code, time.monotonic()), self.view.source))

    def on_mouse(self, event: int, x: int, y: int, flags: int, _param=None) -> None:
        s = self.state
        buttons = cv2.EVENT_FLAG_LBUTTON | cv2.EVENT_FLAG_RBUTTON | cv2.EVENT_FLAG_MBUTTON
        if event == cv2.EVENT_MOUSEWHEEL:
            s = controls.on_wheel(
                s, wheel_delta(flags), ctrl=bool(flags & cv2.EVENT_FLAG_CTRLKEY), x=x, y=y, image=self.view.source
            )
        elif event in _BUTTON_DOWN:
            s = controls.on_button_down(s, x, y, _BUTTON_DOWN[event])
        elif event in (cv2.EVENT_LBUTTONUP, cv2.EVENT_RBUTTONUP, cv2.EVENT_MBUTTONUP):
            s = controls.on_button_up(s)
        elif event == cv2.EVENT_MOUSEMOVE:
            if flags & buttons:
                s = controls.on_drag(s, x, y, *self.view.size)
            else:  # the release happened outside the window
                s = controls.on_button_up(s)
        if event in (cv2.EVENT_MOUSEMOVE, cv2.EVENT_MOUSEWHEEL) or event in _BUTTON_DOWN:
            s = self.view.hover(s, x, y)
        self.set_state(s)

    def tick(self, now: float | None = None) -> None:
        """The cine clock: show the frame due now (the probe follows the pointer onto it)."""
        s = controls.on_tick(self.state, time.monotonic() if now is None else now, self.view.source)
        if s.frame != self.state.frame and s.pointer is not None:
            s = self.view.hover(s, *s.pointer)
        self.set_state(s)

    def update(self) -> np.ndarray:
        """Compose and show the current state; keeps the trackbars in step."""
        self.shown = self.view.compose()
        cv2.imshow(self.title, self.shown)
        self._sync_trackbars()
        return self.shown

    # -- snapshots --------------------------------------------------------------------
    def snapshot(self, shown: bool = False) -> Path | None:
        """``s``: the full-resolution frame exactly as --export writes it; ``S``: the window as shown."""
        s = self.state
        if self.view.failed(s.frame) and not shown:
            warn(f"frame {s.frame + 1} cannot be shown; no snapshot saved")
            return None
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        named = replace(s, pstate=self.view.presented)  # a frame no state references is shown as it is
        path = snapshot_name(self.stem, named, self.snapshot_dir, shown=shown)
        write_image(path, self.shown if shown else self.view.full_resolution())
        print(f"saved {path}", flush=True)
        return path

    # -- main loop --------------------------------------------------------------------
    def closed(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def run(self) -> int:
        """Handle events until ``q`` or the window closes; while the cine plays, wait only until the
        next frame is due, so frames are paced by the clock."""
        while self.state.request != "quit":
            due = controls.next_tick(self.state, time.monotonic())
            code = cv2.waitKeyEx(30 if due is None else max(1, min(30, int(due * 1000))))
            if code != -1:
                self.on_key(code)
            elif self.closed():
                break
            if self.state.playing:
                self.tick()
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)
        return 0


#: HighGUI button-down events and the button they are.
_BUTTON_DOWN = {cv2.EVENT_LBUTTONDOWN: "left", cv2.EVENT_RBUTTONDOWN: "right", cv2.EVENT_MBUTTONDOWN: "middle"}


def wheel_delta(flags: int) -> int:
    """The wheel delta HighGUI packs into the high 16 bits of ``flags`` (signed; > 0 = away from the user)."""
    d = (int(flags) >> 16) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def run_viewer(
    img: dcmlib.DisplayImage,
    args: argparse.Namespace,
    frame: int,
    opts: RenderOptions,
    user: presets.UserPresets | None = None,
) -> int:
    """Open the HighGUI window on ``img`` at ``frame`` with the start options ``opts``; returns the exit status.

    ``user`` adds the user's presets for the image's modality to the ``p`` cycle.
    """
    check_highgui(img.path or img.name)
    screen = screen_size(img.path or img.name)  # no display: one-line error, before any window
    ensure_qt_fonts()  # Qt reads the font folder when the window opens
    state = controls.initial_state(
        img,
        center=opts.center,
        width=opts.width,
        preset=opts.preset,
        voi=opts.voi,
        mode=opts.mode,
        frame=frame,
        invert=opts.invert,
        user_presets=user.for_modality(img.modality) if user else (),
    )
    state = replace(state, overlays=opts.overlays, shutters=opts.shutters)
    if opts.segmentation is not None:  # k toggles it, K steps the alpha
        state = replace(state, segmentation=True, seg_alpha=opts.seg_alpha, seg_outline=opts.seg_outline)
    pstates = viewer_pstates(img, opts.pstate, frame)
    if pstates:  # g toggles them; --pstate opens through it
        state = replace(state, pstate=opts.pstate is not None)
    viewer = Viewer(
        img,
        state,
        snapshot_dir=args.snapshot_dir or ".",
        screen=screen,
        show_patient=bool(args.show_patient),
        segmentation=opts.segmentation,
        pstates=pstates,
        pstate_annotations=opts.annotations,
    )
    return viewer.run()


def viewer_pstates(
    img: dcmlib.DisplayImage, given: dcmlib.PresentationState | None, frame: int
) -> tuple[dcmlib.PresentationState, ...]:
    """The presentation states ``g`` shows: ``--pstate`` (``given``, which must reference the frame opened, as
    for --export), else those found next to the image (none for a reformatted plane)."""
    if not isinstance(img, dcmlib.DicomImage):  # a reformatted plane (main refuses --pstate with --plane)
        return ()
    if given is not None:
        given.check(*img.pstate_ref(frame), img.path or img.name)
        return (given,)
    return tuple(img.pstates())


def _console_main() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    raise SystemExit(main())

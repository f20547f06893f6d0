"""Viewer latency and cine pacing: one callback's new state to the composed frame (no window, no imshow).

For the 512 x 512 CT and the 4096 x 3328 12-bit image of the render section,
the view is fitted to a 1920 x 1080 screen, then each callback is timed as the
viewer runs it: :mod:`dcmlib.viewer.controls` makes the new state, and when the
picture changes :class:`dcmlib.viewer.view.View` composes the frame (resample and
re-window what is visible + annotations).  On the large image this runs at the
fit, at 1:1 and at 8x: a center and a width trackbar move, a drag step (with
its hover probe), a pan step (right drag), a zoom step (``+``/``-`` around the
pointer), a preset key, and a hover (probe only).  Each is reported as the p50
and p99 of its calls.  Target: < 16 ms on the large image at every zoom.

Cine: a 120-frame 640 x 480 JPEG baseline YBR_FULL_422 multi-frame played at
30 fps, and a 512 x 512 CT series at 20 slices/s, paced by the clock as the
viewer's loop paces them (sleep until the next frame is due, show the frame
the clock says); the achieved rate, the frame intervals' p50 / p99 and their
jitter (standard deviation), and the frames skipped.
"""

from __future__ import annotations

import io
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, JPEGBaseline8Bit, generate_uid

from dcmlib import load
from dcmlib.viewer import controls
from dcmlib.viewer.state import ViewerState
from dcmlib.viewer.view import View

#: A callback as the viewer runs it: the current state and a step number to the new state.
Event = Callable[[ViewerState, int], ViewerState]


def timings(fn: Callable[[int], object], repeat: int, warmup: int = 1) -> list[float]:
    """Wall times of ``fn(i)`` in ms over ``repeat`` calls after ``warmup`` untimed ones, sorted."""
    for i in range(warmup):
        fn(i)
    out = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        out.append(1000.0 * (time.perf_counter() - t0))
    return sorted(out)


def percentile(sorted_ms: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of sorted values."""
    k = min(len(sorted_ms) - 1, max(0, int(np.ceil(p / 100.0 * len(sorted_ms))) - 1))
    return sorted_ms[k]


def _events(view: View, img) -> dict[str, Event]:
    """The callbacks, each a function of the state and a step number (a new position every step)."""
    vw, vh = view.size
    lo, hi = controls.trackbar_ranges(view.state)["center"]

    def center(s, i):
        return controls.on_trackbar(s, "center", lo + (i * 37) % (hi - lo))

    def width(s, i):
        return controls.on_trackbar(s, "width", 50 + (i * 53) % 2000)

    def drag(s, i):
        x, y = 10 + i % 50, 10 + (i * 3) % 40
        return view.hover(controls.on_drag(s, x, y, vw, vh), x, y)

    def pan(s, i):
        x, y = vw // 2 + 40 * ((i % 8) - 4), vh // 2 + 30 * ((i % 6) - 3)
        return view.hover(controls.on_drag(s, x, y, vw, vh), x, y)

    def zoom(s, i):
        return controls.on_key(s, "+" if i % 2 else "-", view.source)

    def preset(s, i):
        return controls.on_key(s, "123456789"[i % 9], view.source)

    def hover(s, i):
        return view.hover(s, (i * 7) % vw, (i * 5) % vh)

    return {
        "center trackbar": center,
        "width trackbar": width,
        "drag step": drag,
        "pan step": pan,
        "zoom step": zoom,
        "preset key": preset,
        "hover probe": hover,
    }


def _start(view: View, name: str, at: ViewerState) -> None:
    """The state a callback kind starts from: a button down for drags, the pointer for zoom."""
    vw, vh = view.size
    if name == "drag step":
        at = controls.on_button_down(at, 10, 10)
    elif name == "pan step":
        at = controls.on_button_down(at, vw // 2, vh // 2, "right")
    elif name == "zoom step":
        at = view.hover(at, vw // 3, vh // 3)
    view.set_state(at)


def run_case(label: str, ds: Dataset, repeat: int = 30, zooms: tuple[str, ...] = ("fit",)) -> None:
    """Time each callback kind on one image, at each of ``zooms`` (``fit``, ``1:1``, ``8x``); print p50 / p99."""
    img = load(ds)
    t0 = time.perf_counter()
    view = View(img, controls.initial_state(img), screen=(1920, 1080))
    view.compose()
    first = (time.perf_counter() - t0) * 1000
    vw, vh = view.size
    print(
        f"{label}: {img.columns} x {img.rows} shown at {vw} x {vh} (fit {view.state.zoom:.3f}); "
        f"first frame (decode + pyramid + resample + render) {first:.1f} ms"
    )
    fitted = view.state
    for where in zooms:
        vp = fitted.viewport
        if vp is not None and where != "fit":  # a View's state has one
            vp = vp.zoomed(1.0 if where == "1:1" else 8.0, (vw * 0.4, vh * 0.4))
        start = replace(fitted, viewport=vp)
        print(f"  at {where} (zoom {start.zoom * 100:g}%)")
        for name, event in _events(view, img).items():
            _start(view, name, start)
            steps = itertools.count(1)  # a new step on every call, warm-up included

            def run(_: int, event=event, steps=steps) -> None:
                if view.set_state(event(view.state, next(steps))):
                    view.compose()

            ms = timings(run, repeat)
            print(f"    {name:<16} p50 {percentile(ms, 50):6.2f} ms  p99 {percentile(ms, 99):6.2f} ms  (n {repeat})")


# ----------------------------------------------------------------------------- cine


def jpeg_cine(frames: int = 120, rows: int = 480, cols: int = 640, fps: float = 30.0) -> Dataset:
    """A JPEG baseline (process 1) YBR_FULL_422 multi-frame: a bright bar sweeping across, frame by frame."""
    from PIL import Image

    yy, xx = np.mgrid[0:rows, 0:cols]
    items = []
    for f in range(frames):
        rgb = np.zeros((rows, cols, 3), np.uint8)
        rgb[..., 0] = (xx * 255 // cols).astype(np.uint8)
        rgb[..., 1] = (yy * 255 // rows).astype(np.uint8)
        x = (f * cols) // frames
        rgb[:, x : x + 16] = 255
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=90, subsampling=1)  # 4:2:2, as YBR_FULL_422 says
        items.append(buf.getvalue())
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = UID("1.2.840.10008.5.1.4.1.1.3.1")  # US multi-frame
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = round(1000.0 / fps, 4)
    ds.PixelData = encapsulate(items)
    ds["PixelData"].VR = "OB"
    return ds


def play(view: View, seconds: float, fps: float | None = None) -> dict[str, float]:
    """Play the view's image for ``seconds`` as the viewer's loop does; the pacing it achieved.

    Sleep until :func:`dcmlib.viewer.controls.next_tick` says a frame is due, take
    :func:`dcmlib.viewer.controls.on_tick`'s frame and compose it.  Returns the
    target and achieved fps, the intervals between frames shown (p50, p99,
    jitter as their standard deviation, ms) and the frames skipped.
    """
    s = replace(view.state, playing=True, cine_clock=None, shown_at=())
    if fps is not None:
        s = replace(s, fps=fps)
    view.set_state(s)
    shown: list[float] = []
    advanced = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        due = controls.next_tick(view.state, time.perf_counter())
        if due:
            time.sleep(due)
        before = view.state.frame
        s = controls.on_tick(view.state, time.perf_counter())
        view.set_state(s)
        if s.frame != before:
            view.compose()
            shown.append(time.perf_counter())
            advanced += (s.frame - before) % s.n_frames
    gaps = sorted(1000.0 * (b - a) for a, b in zip(shown, shown[1:]))
    if len(gaps) < 2:
        return {"target": view.state.fps, "achieved": 0.0, "p50": 0.0, "p99": 0.0, "jitter": 0.0, "skipped": 0}
    return {
        "target": view.state.fps,
        "achieved": (len(shown) - 1) / (shown[-1] - shown[0]),
        "p50": percentile(gaps, 50),
        "p99": percentile(gaps, 99),
        "jitter": statistics.pstdev(gaps),
        "skipped": advanced - len(shown),
    }


def report_cine(label: str, result: dict[str, float]) -> None:
    print(
        f"  {label}: target {result['target']:g} fps, achieved {result['achieved']:.1f} fps; "
        f"interval p50 {result['p50']:.1f} ms  p99 {result['p99']:.1f} ms  jitter {result['jitter']:.1f} ms; "
        f"{int(result['skipped'])} frames skipped"
    )


def run_cine(seconds: float = 4.0, slices: int = 100) -> None:
    """The two cine cases of the module docstring, each played twice: first pass (decoding) and warm."""
    print("cine (paced by the clock; decoding in the first pass)")
    view = View(load(jpeg_cine()), screen=(1920, 1080))
    report_cine("JPEG YBR_FULL_422 640 x 480 x 120, first pass", play(view, seconds))
    report_cine("JPEG YBR_FULL_422 640 x 480 x 120, warm", play(view, seconds))
    from dcmlib.bench.series import write_ct_series

    with tempfile.TemporaryDirectory(prefix="dcmview-bench-cine-") as tmp:
        write_ct_series(tmp, slices)
        img = load(tmp)
        view = View(img, screen=(1920, 1080))
        report_cine(f"CT series 512 x 512 x {slices}, first pass", play(view, seconds))
        report_cine(f"CT series 512 x 512 x {slices}, warm", play(view, seconds))
        img.close()


def main() -> None:
    from dcmlib.bench.render import synthetic

    run_case("CT 512 x 512", synthetic(512, 512, ct=True))
    run_case("12-bit 4096 x 3328", synthetic(3328, 4096, ct=False), zooms=("fit", "1:1", "8x"))
    print("target: every callback p99 < 16 ms on the 4096 x 3328 image at fit, 1:1 and 8x")
    run_cine()


if __name__ == "__main__":
    main()

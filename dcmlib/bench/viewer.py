"""Viewer latency: one HighGUI callback to the composed frame (no window, no imshow).

For the 512 x 512 CT and the 4096 x 3328 12-bit image of the render section,
the viewer is fitted to a 1920 x 1080 screen, then each callback is timed from
the event to the composed BGR frame (re-window the viewport + annotations):
a center trackbar move, a width trackbar move, a drag step, a preset key, and
a hover (probe only, no re-windowing).  Target: < 16 ms on the large image.
"""

from __future__ import annotations

import statistics
import time

import cv2


def _time(fn, repeat: int) -> float:
    fn(0)                                      # warm the caches
    times = []
    for i in range(1, repeat + 1):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run_case(label: str, ds, repeat: int = 30) -> None:
    import dcmview  # the shell lives in dcmview.py (repo root / installed py_module)

    import dcmlib
    from dcmlib import controls

    img = dcmlib.load(ds)
    t0 = time.perf_counter()
    v = dcmview.Viewer(img, controls.initial_state(img), window=False, screen=(1920, 1080))
    first = (time.perf_counter() - t0) * 1000
    vw, vh = v.view_size
    lo, hi = controls.trackbar_ranges(v.state)["center"]
    start = v.state

    def center(i):
        v.on_trackbar("center", lo + (i * 37) % (hi - lo))

    def width(i):
        v.on_trackbar("width", 50 + (i * 53) % 2000)

    def drag(i):
        if i == 0:
            v.on_mouse(cv2.EVENT_LBUTTONDOWN, 10, 10, cv2.EVENT_FLAG_LBUTTON)
        v.on_mouse(cv2.EVENT_MOUSEMOVE, 10 + i % 50, 10 + (i * 3) % 40, cv2.EVENT_FLAG_LBUTTON)

    def preset(i):
        v.on_key(ord("1") + i % 9)

    def hover(i):
        v.on_mouse(cv2.EVENT_MOUSEMOVE, (i * 7) % vw, (i * 5) % vh, 0)

    print(f"{label}: {img.columns} x {img.rows} shown at {vw} x {vh} (zoom {v.state.zoom:.3f}); "
          f"first frame (decode + resize + render) {first:.1f} ms")
    for name, fn in (("center trackbar", center), ("width trackbar", width), ("drag step", drag),
                     ("preset key", preset), ("hover probe", hover)):
        v.state = start
        v.on_mouse(cv2.EVENT_LBUTTONUP, 0, 0, 0)
        ms = _time(fn, repeat)
        print(f"  {name:<16} {ms:6.2f} ms per callback (median of {repeat})")


def main() -> None:
    from .render import synthetic

    run_case("CT 512 x 512", synthetic(512, 512, ct=True))
    run_case("12-bit 4096 x 3328", synthetic(3328, 4096, ct=False))


if __name__ == "__main__":
    main()

"""Viewer latency: one callback's new state to the composed frame (no window, no imshow).

For the 512 x 512 CT and the 4096 x 3328 12-bit image of the render section,
the view is fitted to a 1920 x 1080 screen, then each callback is timed as the
viewer runs it: :mod:`dcmlib.controls` makes the new state, and when the
picture changes :class:`dcmlib.view.View` composes the frame (re-window the
viewport + annotations).  A center trackbar move, a width trackbar move, a drag
step (with its hover probe), a preset key, and a hover (probe only, no
re-windowing).  Target: < 16 ms on the large image.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from pydicom.dataset import Dataset

from .. import controls, load
from ..controls import ViewerState
from ..view import View
from . import measure

#: A callback as the viewer runs it: the current state and a step number to the new state.
Event = Callable[[ViewerState, int], ViewerState]


def run_case(label: str, ds: Dataset, repeat: int = 30) -> None:
    """Time each callback kind on one image and print its median in ms."""
    img = load(ds)
    t0 = time.perf_counter()
    view = View(img, controls.initial_state(img), screen=(1920, 1080))
    view.compose()
    first = (time.perf_counter() - t0) * 1000
    vw, vh = view.size
    lo, hi = controls.trackbar_ranges(view.state)["center"]
    start = view.state

    def center(s, i):
        return controls.on_trackbar(s, "center", lo + (i * 37) % (hi - lo))

    def width(s, i):
        return controls.on_trackbar(s, "width", 50 + (i * 53) % 2000)

    def drag(s, i):
        x, y = 10 + i % 50, 10 + (i * 3) % 40
        return view.hover(controls.on_drag(s, x, y, vw, vh), x, y)

    def preset(s, i):
        return controls.on_key(s, "123456789"[i % 9], img)

    def hover(s, i):
        return view.hover(s, (i * 7) % vw, (i * 5) % vh)

    def callback(event: Event) -> Callable[[int], None]:
        steps = itertools.count(1)              # a new step on every call, warm-up included

        def run(_: int) -> None:
            if view.set_state(event(view.state, next(steps))):
                view.compose()
        return run

    print(f"{label}: {img.columns} x {img.rows} shown at {vw} x {vh} (zoom {view.state.zoom:.3f}); "
          f"first frame (decode + resize + render) {first:.1f} ms")
    for name, event in (("center trackbar", center), ("width trackbar", width), ("drag step", drag),
                        ("preset key", preset), ("hover probe", hover)):
        view.set_state(controls.on_button_down(start, 10, 10) if event is drag else start)
        ms = measure(callback(event), repeat, warmup=1)
        print(f"  {name:<16} {ms:6.2f} ms per callback (median of {repeat})")


def main() -> None:
    from .render import synthetic

    run_case("CT 512 x 512", synthetic(512, 512, ct=True))
    run_case("12-bit 4096 x 3328", synthetic(3328, 4096, ct=False))


if __name__ == "__main__":
    main()

"""Fixtures shared by the test modules that open HighGUI windows in-process.

``display``: HighGUI's display, the Qt offscreen plugin where the OpenCV wheel
ships it, else an Xvfb of the module's own (skipped without Xvfb, failed on CI).
``viewer_of``: a factory of :class:`dcmview.Viewer` windows on it, closed after the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest

import dcmview
from dcmlib.viewer import controls
from helpers import skip_without, start_xvfb


def _offscreen_plugin() -> bool:
    plugins = Path(cv2.__file__).parent / "qt" / "plugins" / "platforms"
    return any(plugins.glob("libqoffscreen*"))


@pytest.fixture(scope="module")
def display():
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" or _offscreen_plugin():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        yield "offscreen"
        return
    skip_without("Xvfb", why="no display for HighGUI without it: the Qt offscreen plugin is missing")
    proc, number = start_xvfb("-terminate")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = number
    yield os.environ["DISPLAY"]
    # Qt keeps its X connection for the life of the process: Xvfb (-terminate) exits after it.
    if old is not None:
        os.environ["DISPLAY"] = old


@pytest.fixture
def viewer_of(display, tmp_path):
    made = []

    dcmview.ensure_qt_fonts()  # as run_viewer does before its window opens

    def make(img, **kw):
        state = controls.initial_state(img, **kw)
        v = dcmview.Viewer(img, state, snapshot_dir=tmp_path, screen=(1280, 1024))
        made.append(v)
        cv2.waitKey(1)
        return v

    yield make
    for v in made:
        if not v.closed():
            cv2.destroyWindow(v.title)
    cv2.waitKey(1)

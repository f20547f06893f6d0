"""End to end as a person would: Xvfb, `python dcmview.py FILE`, real keys and a mouse drag (xdotool).

Snapshots are checked pixel for pixel against `dcmview.py FILE --export ... --window C W`;
a screenshot of the screen must show a non-blank image region.  Skips only when Xvfb,
xdotool or ImageMagick's `import` are missing (on CI, which installs them, it fails instead).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import DCMVIEW, pydicom_file, requires_tools, start_xvfb

pytestmark = requires_tools("Xvfb", "xdotool", "import", why="Debian: xvfb xdotool imagemagick")


@pytest.fixture
def xvfb():
    proc, display = start_xvfb()
    env = dict(os.environ, DISPLAY=display)
    env.pop("QT_QPA_PLATFORM", None)
    yield env
    proc.terminate()
    proc.wait(5)


def xdo(env, *args):
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=10).stdout


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_keys_drag_snapshots_screenshot_quit(xvfb, tmp_path):
    env = xvfb
    src = pydicom_file("CT_small.dcm")
    snaps = tmp_path / "snaps"
    proc = subprocess.Popen([sys.executable, str(DCMVIEW), src, "--snapshot-dir", str(snaps)],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # mapped and viewable, not just created: keys sent earlier can be lost on a loaded machine
        win = wait_for(lambda: xdo(env, "search", "--onlyvisible", "--name", "^dcmview - CT_small.dcm$").split(),
                       timeout=30)[0]
        saved = lambda: sorted(p.name for p in snaps.glob("*.png")) if snaps.is_dir() else []  # noqa: E731

        def key(*names, expect=None):
            for n in names:
                xdo(env, "key", "--window", win, n)
                time.sleep(0.08)
            if expect is not None:
                wait_for(lambda: len(saved()) == expect)

        time.sleep(1.0)
        key("p", "s", expect=1)                    # first p: lung
        key("shift+p", "s", expect=2)              # Shift+p (Qt: Shift, then 'p'): back to the file's window
        key("2", "i", "s", expect=3)               # bone, inverted
        # a left-drag on the image: 64 px right, 32 px down
        # the pauses let the viewer's event loop (waitKeyEx every 30 ms) see each step on a busy machine
        xdo(env, "mousemove", "--window", win, "--sync", "200", "200")   # relative to the window
        time.sleep(0.3)
        xdo(env, "mousedown", "1")
        time.sleep(0.15)
        for step in range(1, 5):
            xdo(env, "mousemove", "--window", win, "--sync", str(200 + 16 * step), str(200 + 8 * step))
            time.sleep(0.1)
        xdo(env, "mouseup", "1")
        time.sleep(0.3)
        key("s", expect=4)
        shot = Path("/tmp") / f"dcmview_e2e_{os.getpid()}.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True, timeout=10)
        key("q")
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "XGetInputFocus" not in err and "QFontDatabase" not in err, err
    names = saved()
    assert [l for l in out.splitlines() if l.startswith("saved ")] == [f"saved {snaps / n}" for n in
                                                                         _in_order(out)]
    order = _in_order(out)
    assert order[0] == "CT_small_f1_c-600_w1500.png"
    assert order[1] == "CT_small_f1_c136_w2064.png"          # the file has no window: min-max
    assert order[2] == "CT_small_f1_c300_w1500_inv.png"
    m = re.fullmatch(r"CT_small_f1_c(-?[\d.]+)_w([\d.]+)_inv\.png", order[3])
    assert m and (float(m[1]), float(m[2])) != (300.0, 1500.0), order[3]   # the drag changed the window
    assert float(m[2]) > 1500 and float(m[1]) > 300                         # right = wider, down = higher
    assert sorted(order) == names
    # every snapshot equals the headless export with the window in its name
    for name in order:
        m = re.fullmatch(r"CT_small_f(\d+)_c(-?[\d.]+)_w([\d.]+)(_inv)?\.png", name)
        exp = tmp_path / f"export_{name}"
        cmd = [sys.executable, str(DCMVIEW), src, "--export", str(exp), "--frame", m[1],
               "--window", m[2], m[3]] + (["--invert"] if m[4] else [])
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        a = cv2.imread(str(snaps / name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(exp), cv2.IMREAD_UNCHANGED)
        assert a.shape == (128, 128) and np.array_equal(a, b), name
    # the screen shows the image: the 512 x 512 view at the top left is not blank
    screen = cv2.imread(str(shot), cv2.IMREAD_GRAYSCALE)
    region = screen[:512, :512]
    assert region.std() > 20 and 10 < region.mean() < 245


def _in_order(out: str) -> list[str]:
    return [Path(l.split("saved ", 1)[1]).name for l in out.splitlines() if l.startswith("saved ")]

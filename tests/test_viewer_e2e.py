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
def xvfb(tmp_path_factory):
    proc, display = start_xvfb()
    # no developer's presets file ($XDG_CONFIG_HOME/dcmview/presets.toml) reaches the viewer here
    env = dict(os.environ, DISPLAY=display, XDG_CONFIG_HOME=str(tmp_path_factory.mktemp("no-config")))
    env.pop("QT_QPA_PLATFORM", None)
    wait_for(
        lambda: (
            subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True, timeout=10).returncode == 0
        ),
        timeout=30,
    )  # accepting clients
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


#: What Qt prints when the X server refuses the connection (seen when other test runs on the same
#: machine start and stop X servers at the same moment): the one failure a second launch may retry.
NO_DISPLAY = "could not connect to display"


def launch(env, args, cwd):
    """Start ``python dcmview.py ARGS`` and wait for its window: (process, window id).

    Retries once when Qt could not connect to the X server at all (an environment failure, not the
    viewer's); any other early end fails with the viewer's stderr."""
    for attempt in (1, 2):
        proc = subprocess.Popen(
            [sys.executable, str(DCMVIEW), *map(str, args)],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        title = f"dcmview - {Path(str(args[0])).name}"
        try:
            return proc, find_window(env, title, proc)
        except AssertionError as exc:
            if attempt == 2 or NO_DISPLAY not in str(exc):
                raise
    raise AssertionError("unreachable")


def find_window(env, title, proc, timeout=60.0):
    """The viewer's window id once it is mapped and viewable; fails with the viewer's stderr if it ended."""

    def found():
        if proc.poll() is not None:
            raise AssertionError(f"the viewer ended with status {proc.returncode}: {proc.communicate()[1]}")
        return xdo(env, "search", "--onlyvisible", "--name", f"^{re.escape(title)}$").split()

    try:
        return wait_for(found, timeout=timeout)[0]
    except AssertionError as exc:
        if proc.poll() is None:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"no window {title!r} after {timeout:g} s; viewer stderr: {err!r}") from exc
        raise


def test_keys_drag_snapshots_screenshot_quit(xvfb, tmp_path):
    env = xvfb
    src = pydicom_file("CT_small.dcm")
    snaps = tmp_path / "snaps"
    # mapped and viewable, not just created: keys sent earlier can be lost on a loaded machine
    proc, win = launch(env, [src, "--snapshot-dir", snaps], tmp_path)
    try:
        saved = lambda: sorted(p.name for p in snaps.glob("*.png")) if snaps.is_dir() else []

        def key(*names, expect=None):
            for n in names:
                xdo(env, "key", "--window", win, n)
                time.sleep(0.08)
            if expect is not None:
                wait_for(lambda: len(saved()) == expect)

        time.sleep(1.0)
        key("p", "s", expect=1)  # first p: lung
        key("shift+p", "s", expect=2)  # Shift+p (Qt: Shift, then 'p'): back to the file's window
        key("2", "i", "s", expect=3)  # bone, inverted
        # a left-drag on the image: 64 px right, 32 px down
        # the pauses let the viewer's event loop (waitKeyEx every 30 ms) see each step on a busy machine
        xdo(env, "mousemove", "--window", win, "--sync", "200", "200")  # relative to the window
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
    saved_lines = [line for line in out.splitlines() if line.startswith("saved ")]
    assert saved_lines == [f"saved {snaps / n}" for n in _in_order(out)]
    order = _in_order(out)
    assert order[0] == "CT_small_f1_c-600_w1500.png"
    assert order[1] == "CT_small_f1_c136_w2064.png"  # the file has no window: min-max
    assert order[2] == "CT_small_f1_c300_w1500_inv.png"
    m = re.fullmatch(r"CT_small_f1_c(-?[\d.]+)_w([\d.]+)_inv\.png", order[3])
    assert m and (float(m[1]), float(m[2])) != (300.0, 1500.0), order[3]  # the drag changed the window
    assert float(m[2]) > 1500 and float(m[1]) > 300  # right = wider, down = higher
    assert sorted(order) == names
    # every snapshot equals the headless export with the window in its name
    for name in order:
        m = re.fullmatch(r"CT_small_f(\d+)_c(-?[\d.]+)_w([\d.]+)(_inv)?\.png", name)
        exp = tmp_path / f"export_{name}"
        cmd = [sys.executable, str(DCMVIEW), src, "--export", str(exp), "--frame", m[1], "--window", m[2], m[3]] + (
            ["--invert"] if m[4] else []
        )
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        a = cv2.imread(str(snaps / name), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(exp), cv2.IMREAD_UNCHANGED)
        assert a.shape == (128, 128) and np.array_equal(a, b), name
    # the screen shows the image: the 512 x 512 view at the top left is not blank
    screen = cv2.imread(str(shot), cv2.IMREAD_GRAYSCALE)
    region = screen[:512, :512]
    assert region.std() > 20 and 10 < region.mean() < 245


def _in_order(out: str) -> list[str]:
    return [Path(line.split("saved ", 1)[1]).name for line in out.splitlines() if line.startswith("saved ")]


# ------------------------------------------------------------------ reading tools: zoom, pan, cine, presets, ruler


class Session:
    """``python dcmview.py FILE`` on Xvfb with its window found; keys, mouse and screenshots by xdotool
    and ImageMagick.  Pauses between events let the viewer's loop (waitKeyEx every <= 30 ms) see each
    one on a loaded machine; nothing here measures time."""

    def __init__(self, env, path, tmp_path, *extra):
        self.env, self.tmp = env, tmp_path
        self.snaps = tmp_path / "snaps"
        self.proc, self.win = launch(env, [path, "--snapshot-dir", self.snaps, *extra], tmp_path)
        time.sleep(1.0)

    def key(self, *names, pause=0.15):
        for n in names:
            xdo(self.env, "key", "--window", self.win, n)
            time.sleep(pause)

    def move(self, x, y, pause=0.2):
        xdo(self.env, "mousemove", "--window", self.win, "--sync", str(x), str(y))
        time.sleep(pause)

    def drag(self, button, start, end, steps=5):
        self.move(*start, pause=0.3)
        xdo(self.env, "mousedown", str(button))
        time.sleep(0.2)
        for k in range(1, steps + 1):
            self.move(
                start[0] + (end[0] - start[0]) * k // steps, start[1] + (end[1] - start[1]) * k // steps, pause=0.12
            )
        xdo(self.env, "mouseup", str(button))
        time.sleep(0.4)

    def saved(self):
        return sorted(p.name for p in self.snaps.glob("*.png")) if self.snaps.is_dir() else []

    def snapshot(self, key="s"):
        """Press s (or S) and wait for the new file; its name."""
        before = set(self.saved())
        self.key(key)
        return wait_for(lambda: next(iter(set(self.saved()) - before), None), timeout=20)

    def screen(self, name):
        """A screenshot of the whole screen (the window is at the top left), as BGR."""
        shot = self.tmp / f"{name}.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=self.env, check=True, timeout=20)
        return cv2.imread(str(shot))

    def settled(self, name, before=None, timeout=15.0):
        """The screen once the viewer has drawn what was sent: different from ``before`` (when given) and
        the same on two screenshots in a row; the last one taken when ``timeout`` runs out."""
        deadline = time.monotonic() + timeout
        last = self.screen(name)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            shot = self.screen(name)
            if np.array_equal(shot, last) and (before is None or not np.array_equal(shot, before)):
                return shot
            last = shot
        return last

    def quit(self):
        self.key("q")
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def session(xvfb, tmp_path):
    made = []

    def start(path, *extra):
        s = Session(xvfb, path, tmp_path, *extra)
        made.append(s)
        return s

    yield start
    for s in made:
        s.close()


def _write(tmp_path, name, arr, **tags):
    from helpers import make_ds, write_ds

    return write_ds(make_ds(arr, **tags), tmp_path / name)


def test_zoom_in_on_a_corner_shows_it_magnified(session, tmp_path):
    arr = np.full((128, 128), 200, np.uint16)
    arr[:8, :8] = 3800  # a bright 8 x 8 corner, shown 32 px at 4x
    s = session(_write(tmp_path, "corner.dcm", arr, Modality="OT", WindowCenter=2000, WindowWidth=4000))
    s.key("o")  # no text over the corner
    fit = s.settled("fit")
    s.move(4, 4)  # the pointer on the corner
    s.key("plus", "plus", "plus")  # 4x -> 11.3x around the pointer
    before, after = fit[:512, :512, 1], s.settled("zoomed", fit)[:512, :512, 1]
    s.quit()
    bright = lambda img, row: int((img[row, :200] > 128).sum())
    assert bright(before, 16) in range(30, 35) and bright(before, 60) == 0
    assert bright(after, 16) > 70 and bright(after, 60) > 70  # the same corner, about 11x
    assert after[150:, 150:].max() < 60  # the rest: the dark image, not the corner


def test_pan_moves_the_picture(session, tmp_path):
    yy, xx = np.mgrid[0:128, 0:128]
    arr = (((xx // 8 + yy // 8) % 2) * 2000 + xx * 8 + yy * 4).astype(np.uint16)  # checks on a ramp
    s = session(_write(tmp_path, "checks.dcm", arr, Modality="OT", WindowCenter=2000, WindowWidth=4000))
    s.key("o", "x")
    s.move(256, 256)
    s.key("plus", "plus")  # 8x around the centre
    zoomed = s.settled("before")
    s.drag(3, (300, 300), (220, 250))  # right drag: 80 px left, 50 px up
    a, b = zoomed[:512, :512, 1].astype(int), s.settled("after", zoomed)[:512, :512, 1].astype(int)
    s.quit()
    shifted = np.abs(b[:-50, :-80] - a[50:, 80:]).mean()
    unshifted = np.abs(b - a).mean()
    assert shifted < 2 < 20 < unshifted, (shifted, unshifted)


def test_cine_plays_without_keys(session, tmp_path):
    frames = np.stack([np.full((64, 64), 300 * i, np.uint16) for i in range(6)])
    s = session(_write(tmp_path, "cine.dcm", frames, Modality="US", CineRate=8, WindowCenter=750, WindowWidth=1600))
    s.key("space")
    names = []
    for _ in range(4):
        time.sleep(0.4)
        names.append(s.snapshot("S"))  # the window as shown: its frame in the name
    s.key("space")
    s.quit()
    shown = {re.search(r"_f(\d+)_", n)[1] for n in names}
    assert len(shown) >= 2, names  # frames advanced with no frame key


def test_p_on_a_chest_radiograph_gives_a_visible_image(session, tmp_path):
    yy, xx = np.mgrid[0:200, 0:160]
    lungs = ((xx - 50) ** 2 / 30**2 + (yy - 100) ** 2 / 70**2 < 1) | (
        (xx - 110) ** 2 / 30**2 + (yy - 100) ** 2 / 70**2 < 1
    )
    arr = np.where(lungs, 900, 2600).astype(np.uint16) + (xx * 2).astype(np.uint16)  # 12-bit, no HU
    path = _write(
        tmp_path,
        "chest.dcm",
        arr,
        Modality="CR",
        PhotometricInterpretation="MONOCHROME1",
        BitsStored=12,
        HighBit=11,
        ImagerPixelSpacing=[0.2, 0.2],
    )
    s = session(path)
    s.key("p")
    name = s.snapshot()
    screen = s.screen("cr")
    s.quit()
    snap = cv2.imread(str(s.snaps / name), cv2.IMREAD_UNCHANGED)
    assert 30 < snap.mean() < 225 and snap.std() > 30, (name, snap.mean(), snap.std())
    view = screen[300:500, 100:400, 1]  # the image, below the annotations
    assert view.std() > 30 and 30 < view.mean() < 225


def test_a_ruler_drag_prints_the_length(session, tmp_path):
    arr = np.tile(np.arange(256, dtype=np.uint16) * 8, (256, 1))
    s = session(
        _write(tmp_path, "ruler.dcm", arr, Modality="OT", PixelSpacing=[0.5, 0.5], WindowCenter=1024, WindowWidth=2048)
    )
    s.key("d")  # 256 x 256 at 2x: 200 view px = 100 px
    s.drag(1, (100, 300), (300, 300))
    out = s.quit()
    assert "distance 50.00 mm (100.0 px)" in out.splitlines(), out


# ------------------------------------------------------------------ multiplanar reformation


def _box_series(folder: Path) -> Path:
    """An axial CT series of a bright box filling the volume: 128 x 96 pixels of 1 mm (x 128 mm, y 96 mm),
    20 slices 5 mm apart (z 100 mm), a dark 8 mm margin in x and y so the labels sit on black."""
    from pydicom.uid import generate_uid

    from helpers import make_ds, write_ds

    folder.mkdir()
    series = generate_uid()
    px = np.full((96, 128), 0, np.int16)
    px[8:-8, 8:-8] = 2000
    for k in range(20):
        write_ds(
            make_ds(
                px,
                Modality="CT",
                SeriesInstanceUID=series,
                RescaleSlope=1.0,
                RescaleIntercept=-1000.0,
                ImagePositionPatient=[0.0, 0.0, 5.0 * k],
                ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                PixelSpacing=[1.0, 1.0],
                InstanceNumber=k + 1,
                WindowCenter=0,
                WindowWidth=400,
            ),
            folder / f"IM{k:02d}.dcm",
        )
    return folder


def _bright_box(screen: np.ndarray) -> tuple[int, int]:
    """Width and height (screen pixels) of the white box (HU 1000 at window 0/400) above the trackbar panel
    (light grey, found where the window's left edge, black beside the picture, turns light)."""
    panel = np.nonzero(screen[:, 1, 1] > 150)[0]
    top = int(panel.min()) if panel.size else screen.shape[0]
    ys, xs = np.nonzero((screen[:top] > 250).all(axis=2))
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_t_cycles_planes_and_the_picture_changes_aspect(session, tmp_path):
    """Axial, then t: coronal (x 112 mm wide, z 100 mm tall: the 5 mm slices not squashed), then t:
    sagittal (y 80 mm wide, z 100 mm tall), then t: axial again (x 112 by y 80).  The box is measured
    on screenshots of the real window; the ratios are the box's in mm."""
    s = session(_box_series(tmp_path / "box"))
    s.key("o")  # no text over the picture
    shot = s.settled("axial")
    boxes = [_bright_box(shot)]
    for name in ("coronal", "sagittal", "axial-again"):
        s.key("t", pause=1.0)
        xdo(s.env, "windowmove", "--sync", s.win, "0", "0")  # the window grew or shrank: all of it on screen
        shot = s.settled(name, shot)
        boxes.append(_bright_box(shot))
    s.key("o")
    s.screen("annotated")  # for a person to look at: labels, annotation
    s.quit()
    ratios = [w / h for w, h in boxes]
    # a box edge spans at most a screen pixel more or less at the fit
    for got, (w_mm, h_mm) in zip(ratios, [(112, 80), (112, 100), (80, 100), (112, 80)]):
        assert got == pytest.approx(w_mm / h_mm, rel=0.04), (boxes, ratios)


# ------------------------------------------------------------------ per-frame windows (issue 22, item 4)

#: An enhanced MR's per-frame windows (modality units): frame 1's is narrow and low, as a Philips
#: MPRAGE's first frame (13 / 23), which turned the later frames solid white.
MR_WINDOWS = [(13.0, 23.0), (500.0, 900.0), (1067.0, 1855.0), (2000.0, 1000.0)]


def test_frames_of_an_enhanced_mr_show_their_own_windows(session, tmp_path):
    from helpers import per_frame_windows, ramp, write_ds

    # 16 x 16 frames (shown 32x), stored ramps 0..10, 0..800, 0..1200, 0..1600; Rescale Slope 2.1
    stored = np.stack([ramp(16, 16, 0, 10 if i == 0 else 400 * (i + 1), np.uint16) for i in range(4)])
    path = write_ds(per_frame_windows(stored, MR_WINDOWS, slope=2.1), tmp_path / "mr.dcm")
    s = session(path)
    try:
        first = s.snapshot()
        s.key("n", "n")  # frame 3
        third = s.snapshot()
        screen = s.settled("frame3")
        s.key("End")  # frame 4
        last = s.snapshot()
        s.quit()
    finally:
        s.close()
    assert (first, third, last) == ("mr_f1_c13_w23.png", "mr_f3_c1067_w1855.png", "mr_f4_c2000_w1000.png")
    for name, frame in ((first, 1), (third, 3), (last, 4)):
        exp = tmp_path / f"export_{frame}.png"
        subprocess.run(
            [sys.executable, str(DCMVIEW), path, "--export", str(exp), "--frame", str(frame)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        assert (s.snaps / name).read_bytes() == exp.read_bytes(), name
    # on screen, frame 3's middle rows (values 630..1890) lie inside its window (139.5..1994.5): grey, where
    # frame 1's window (1.5..24.5) made them white
    middle = cv2.cvtColor(screen[150:380, 250:500], cv2.COLOR_BGR2GRAY)
    assert (middle == 255).mean() < 0.05 and 40 < middle.mean() < 220

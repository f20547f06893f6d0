"""The HighGUI shell in-process: real window, real trackbars, callbacks re-render.

Runs on conftest.py's ``display``: QT_QPA_PLATFORM=offscreen when the OpenCV wheel ships that Qt
plugin; opencv-python's wheel ships only ``xcb``, so otherwise it starts
its own Xvfb (``-terminate``: it exits with this process, after Qt closed its
connection) and skips only when neither is possible (on CI, where Xvfb is
installed, it fails instead).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import dcmlib
import dcmview
from dcmlib.viewer import controls
from dcmlib.viewer.labels import annotation_lines
from helpers import damaged_series, make_ds, per_frame_windows, pydicom_file, ramp, write_ds


@pytest.fixture
def ct():
    return dcmlib.load(pydicom_file("CT_small.dcm"))


def test_window_and_trackbars(viewer_of, ct):
    v = viewer_of(ct)
    assert v.title == "dcmview - CT_small.dcm"
    assert cv2.getWindowProperty(v.title, cv2.WND_PROP_VISIBLE) >= 1
    for name, pos in controls.trackbar_positions(v.state).items():
        assert cv2.getTrackbarPos(name, v.title) == pos
    assert v.shown.shape[:2] == (512, 512)  # 128 x 128 shown at a whole factor, 4x
    assert v.state.zoom == 4.0


def test_trackbars_re_render(viewer_of, ct):
    v = viewer_of(ct)
    before, renders = v.shown.copy(), v.view.renders
    cv2.setTrackbarPos("center", v.title, -300)
    assert v.state.center == -300.0 and v.state.voi is None and not v.state.minmax
    assert v.view.renders == renders + 1
    assert not np.array_equal(before, v.shown)
    cv2.setTrackbarPos("width", v.title, 50)
    assert v.state.width == 50.0
    cv2.setTrackbarPos("mode", v.title, 2)
    assert v.state.mode is dcmlib.VoiFunction.SIGMOID
    # the viewport is the same pipeline as a full render, resized (x: nearest neighbour)
    v.on_key(ord("x"))
    full = ct.render(-300, 50, mode="sigmoid")
    assert np.array_equal(v.view.render_view(), cv2.resize(full, (512, 512), interpolation=cv2.INTER_NEAREST))


def test_keys_move_trackbars_without_feedback(viewer_of, ct):
    v = viewer_of(ct)
    v.on_key(ord("1"))  # lung
    assert (v.state.preset, v.state.center, v.state.width) == ("lung", -600.0, 1500.0)
    assert cv2.getTrackbarPos("center", v.title) == -600
    assert cv2.getTrackbarPos("width", v.title) == 1500
    assert v.state.preset == "lung"  # setting the trackbars did not make it a user window
    v.on_key(ord("m"))
    assert cv2.getTrackbarPos("mode", v.title) == 1
    v.on_key(0xFFE1)  # Qt: Shift arrives as its own key ...
    v.on_key(ord("p"))  # ... then a lower-case p: previous preset
    assert v.state.preset is None  # lung -> back to the file's window


def test_drag_and_probe(viewer_of, ct):
    v = viewer_of(ct)
    c0, w0 = v.state.center, v.state.width
    span = v.state.scale.span
    v.on_mouse(cv2.EVENT_LBUTTONDOWN, 100, 100, cv2.EVENT_FLAG_LBUTTON)
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 356, 100, cv2.EVENT_FLAG_LBUTTON)  # half the view to the right
    assert v.state.width == round(w0 + span / 2) and v.state.center == c0
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 356, 228, cv2.EVENT_FLAG_LBUTTON)  # a quarter down
    assert v.state.center == round(c0 + span / 4)
    v.on_mouse(cv2.EVENT_LBUTTONUP, 356, 228, 0)
    assert cv2.getTrackbarPos("width", v.title) == int(v.state.width)
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 41, 83, 0)  # hover: probe at 41/4, 83/4
    x, y, value = v.state.probe
    assert (x, y) == (10, 20) and value == float(ct.values(0)[20, 10])
    assert "HU" in annotation_lines(v.state)[-2]


def test_snapshot_equals_export(viewer_of, ct, tmp_path, capsys):
    v = viewer_of(ct, preset="bone", invert=True)
    v.on_key(ord("s"))
    path = Path(capsys.readouterr().out.split("saved ", 1)[1].strip())
    assert path.name == "CT_small_f1_c300_w1500_inv.png"
    out = tmp_path / "export.png"
    assert dcmview.main([ct.path, "--export", str(out), "--window", "300", "1500", "--invert"]) == 0
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.imread(str(out), cv2.IMREAD_UNCHANGED))
    v.on_key(ord("S"))
    shown = Path(capsys.readouterr().out.split("saved ", 1)[1].strip())
    assert shown.name == "CT_small_f1_c300_w1500_inv_shown.png"
    assert np.array_equal(cv2.imread(str(shown)), v.shown)


def test_frames(viewer_of):
    frames = np.stack([np.full((64, 80), 100 * i, np.uint16) for i in range(4)])
    img = dcmlib.load(make_ds(frames, WindowCenter=150, WindowWidth=300))
    v = viewer_of(img)
    assert cv2.getTrackbarPos("frame", v.title) == 1
    cv2.setTrackbarPos("frame", v.title, 3)
    assert v.state.frame == 2 and v.shown[-5, -5, 0] == img.render(frame=2)[0, 0]  # corner: no text
    v.on_key(0xFF57)  # End (X11 keysym)
    assert v.state.frame == 3 and cv2.getTrackbarPos("frame", v.title) == 4
    v.on_mouse(cv2.EVENT_MOUSEWHEEL, 10, 10, 120 << 16)  # wheel away from the user: previous
    assert v.state.frame == 2
    v.on_mouse(cv2.EVENT_MOUSEWHEEL, 10, 10, -120 << 16)  # towards the user: next
    assert v.state.frame == 3


def test_colour_has_no_window_trackbars(viewer_of):
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[..., 0] = 200  # red
    img = dcmlib.load(make_ds(rgb, SamplesPerPixel=3, PhotometricInterpretation="RGB"))
    v = viewer_of(img)
    assert "center" not in controls.trackbar_ranges(v.state)
    v.on_key(ord("1"))
    assert v.state.preset is None
    assert tuple(v.view.render_view()[5, 5]) == (0, 0, 200)  # BGR
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 0, 0, 0)
    assert v.state.probe[2] == (200, 0, 0)


def test_close_is_noticed(viewer_of, ct):
    v = viewer_of(ct)
    assert not v.closed()
    cv2.destroyWindow(v.title)
    cv2.waitKey(1)
    assert v.closed()


def test_damaged_slice_shows_its_error_and_the_session_goes_on(viewer_of, tmp_path, capsys):
    """A truncated slice in a series: that frame shows the error, the others still render."""
    folder = tmp_path / "series"
    folder.mkdir()
    img = dcmlib.load(damaged_series(folder, slices=3))
    v = viewer_of(img)
    v.on_key(ord("n"))  # to the damaged slice
    assert v.state.frame == 1
    assert v.shown.max() > 0 and v.shown[80:, :].max() == 0  # only the message, no image
    assert v.snapshot() is None
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 10, 10, 0)  # the probe has nothing to read: no error
    v.on_key(ord("n"))  # the next slice renders again
    assert v.state.frame == 2 and v.view.render_view().max() > 0
    err = capsys.readouterr().err
    assert err.count("frame 2: ") == 1 and "pixel data has 64 bytes" in err


def test_padding_is_background_in_the_view_as_in_the_export(viewer_of):
    """MONOCHROME1 with Pixel Padding: padding shows black in the window, as render() draws it."""
    arr = np.full((64, 64), 1000, dtype=np.uint16)
    arr[:, :16] = 0  # padding strip on the left
    arr[20:40, 30:50] = 3000
    img = dcmlib.load(
        make_ds(
            arr,
            PhotometricInterpretation="MONOCHROME1",
            PixelPaddingValue=0,
            WindowCenter=2000,
            WindowWidth=3000,
            Modality="MG",
        )
    )
    v = viewer_of(img)
    v.on_key(ord("x"))  # nearest neighbour: the export's pixels, repeated
    full = img.render(2000, 3000)
    assert full[:, :16].max() == 0 and full[:, 16:].min() > 0  # the export's own truth
    w, h = v.view.size
    assert np.array_equal(v.view.render_view(), cv2.resize(full, (w, h), interpolation=cv2.INTER_NEAREST))


def test_right_drag_pans_and_ctrl_wheel_zooms(viewer_of, ct):
    v = viewer_of(ct)
    v.on_mouse(cv2.EVENT_MOUSEWHEEL, 100, 100, (120 << 16) | cv2.EVENT_FLAG_CTRLKEY)  # Ctrl + wheel away: in
    assert v.state.zoom == pytest.approx(4 * 2**0.5) and v.state.frame == 0
    before = v.state.viewport.to_image(300, 300)
    v.on_mouse(cv2.EVENT_RBUTTONDOWN, 300, 300, cv2.EVENT_FLAG_RBUTTON)
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 280, 250, cv2.EVENT_FLAG_RBUTTON)
    v.on_mouse(cv2.EVENT_RBUTTONUP, 280, 250, 0)
    assert v.state.viewport.to_image(280, 250) == pytest.approx(before)  # the image followed the pointer
    assert v.state.drag is None and v.shown.shape == (512, 512, 3)
    v.on_mouse(cv2.EVENT_MBUTTONDOWN, 280, 250, cv2.EVENT_FLAG_MBUTTON)
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 300, 300, cv2.EVENT_FLAG_MBUTTON)
    assert v.state.viewport.to_image(300, 300) == pytest.approx(before)
    v.on_key(ord("f"))
    assert v.state.zoom == 4.0


def test_a_ruler_prints_its_length_and_S_includes_it(viewer_of, tmp_path, capsys):
    arr = np.tile(np.arange(128, dtype=np.int16), (128, 1))
    img = dcmlib.load(make_ds(arr, PixelSpacing=[0.8, 0.8], WindowCenter=64, WindowWidth=128))
    v = viewer_of(img)  # 128 x 128 at 4x
    v.on_key(ord("d"))
    v.on_mouse(cv2.EVENT_LBUTTONDOWN, 40, 100, cv2.EVENT_FLAG_LBUTTON)
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 440, 100, cv2.EVENT_FLAG_LBUTTON)
    assert capsys.readouterr().out == ""  # nothing until the button is up
    v.on_mouse(cv2.EVENT_LBUTTONUP, 440, 100, 0)
    assert capsys.readouterr().out == "distance 80.00 mm (100.0 px)\n"  # 400 view px = 100 px of 0.8 mm
    assert v.state.width == 128.0  # the drag measured, it did not window
    v.on_key(ord("S"))
    shown = Path(capsys.readouterr().out.split("saved ", 1)[1].strip())
    saved = cv2.imread(str(shown))
    assert np.array_equal(saved, v.shown) and saved[100, 240, 2] > 200 and saved[100, 240, 0] < 60  # amber line
    v.on_key(ord("s"))  # s stays the export: no ruler
    full = Path(capsys.readouterr().out.split("saved ", 1)[1].strip())
    assert np.array_equal(cv2.imread(str(full), cv2.IMREAD_UNCHANGED), img.render())


def test_trackbar_limits_widen_to_hold_the_window(viewer_of):
    img = dcmlib.load(make_ds(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 1000, Modality="CR"))
    v = viewer_of(img)
    hi = controls.trackbar_ranges(v.state)["center"][1]
    v.on_mouse(cv2.EVENT_LBUTTONDOWN, 10, 10, cv2.EVENT_FLAG_LBUTTON)
    v.on_mouse(cv2.EVENT_MOUSEMOVE, 10, 500, cv2.EVENT_FLAG_LBUTTON)  # far down: a center beyond the data
    v.on_mouse(cv2.EVENT_LBUTTONUP, 10, 500, 0)
    assert v.state.center > hi
    assert cv2.getTrackbarPos("center", v.title) == v.state.scale.to_pos(v.state.center)


def test_cine_ticks_advance_frames(viewer_of):
    frames = np.stack([np.full((32, 32), 100 * i, np.uint16) for i in range(6)])
    img = dcmlib.load(make_ds(frames, WindowCenter=250, WindowWidth=600, CineRate=5))
    v = viewer_of(img)
    v.on_key(ord(" "))
    assert v.state.playing and v.state.fps == 5.0
    v.tick(10.0)  # playback starts at t = 10 s
    v.tick(10.45)  # 2 frames later at 5 fps
    assert v.state.frame == 2 and cv2.getTrackbarPos("frame", v.title) == 3
    assert "play 5 fps" in " ".join(v.view.annotation_lines())
    v.on_key(0xFF53)  # Right: a frame key pauses
    assert not v.state.playing and v.state.frame == 3


#: The enhanced MR's per-frame windows (modality units; Rescale Slope 2.1, 12 bits stored).
MR_WINDOWS = [(13.0, 23.0), (500.0, 900.0), (1067.0, 1855.0), (2000.0, 1000.0)]


def test_each_frame_shows_its_own_window_and_s_is_its_export(viewer_of, tmp_path, capsys):
    """Issue 22, item 4: frame keys, the wheel, the frame trackbar and the cine show each frame with its
    stored window (annotation and trackbars follow); s after moving to frame N = --export --frame N."""
    stored = np.stack([ramp(16, 16, 0, 10 if i == 0 else 400 * (i + 1), np.uint16) for i in range(4)])
    path = write_ds(per_frame_windows(stored, MR_WINDOWS, slope=2.1), tmp_path / "mr.dcm")
    img = dcmlib.load(path)
    v = viewer_of(img)

    def window_shown(frame):
        c, w = MR_WINDOWS[frame]
        assert v.state.frame == frame and (v.state.center, v.state.width) == (c, w)
        assert (cv2.getTrackbarPos("center", v.title), cv2.getTrackbarPos("width", v.title)) == (c, w)
        assert f"C {c:g}  W {w:g}  linear" in v.view.annotation_lines()

    window_shown(0)
    v.on_key(ord("n"))
    window_shown(1)
    v.on_mouse(cv2.EVENT_MOUSEWHEEL, 10, 10, -120 << 16)  # towards the user: next
    window_shown(2)
    cv2.setTrackbarPos("frame", v.title, 4)
    window_shown(3)
    v.on_key(ord(" "))
    v.tick(10.0)
    v.tick(10.25)  # 10 fps: two frames on, looping: frame 2
    window_shown(1)
    v.on_key(ord("n"))  # pause, frame 3
    window_shown(2)
    v.on_key(ord("s"))
    snap = Path(capsys.readouterr().out.split("saved ", 1)[1].strip())
    assert snap.name == "mr_f3_c1067_w1855.png"
    out = tmp_path / "export.png"
    assert dcmview.main([path, "--export", str(out), "--frame", "3"]) == 0
    assert snap.read_bytes() == out.read_bytes()


def test_trackbars_read_the_image_units(viewer_of):
    """Issue 22, item 6: an 8-bit image's trackbars read its window (C 128 W 256), no hidden factor; a
    0..1 float image's say their step in their names and set value = position x step."""
    us = dcmlib.load(
        make_ds(np.tile(np.arange(256, dtype=np.uint8), (4, 1)), Modality="US", WindowCenter=128, WindowWidth=256)
    )
    v = viewer_of(us)
    assert (cv2.getTrackbarPos("center", v.title), cv2.getTrackbarPos("width", v.title)) == (128, 256)
    values = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    img = dcmlib.load(make_ds(values, Modality="OT", WindowCenter=0.25, WindowWidth=0.5, VOILUTFunction="LINEAR_EXACT"))
    v = viewer_of(img)
    assert (cv2.getTrackbarPos("center x0.01", v.title), cv2.getTrackbarPos("width x0.01", v.title)) == (25, 50)
    cv2.setTrackbarPos("center x0.01", v.title, 60)
    cv2.setTrackbarPos("width x0.01", v.title, 30)
    assert (v.state.center, v.state.width) == (0.6, 0.3)
    assert "C 0.6  W 0.3  linear-exact" in v.view.annotation_lines()

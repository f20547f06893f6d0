"""Viewer state logic (dcmlib.controls), headless: every key, drag, wheel, trackbar, name."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dcmlib import controls as C
from dcmlib.controls import (
    HELP_LINES, KEY_CODES, KeyDecoder, TrackbarScale, annotation_lines,
    decode_key, format_number, initial_state, on_button_down, on_button_up, on_drag, on_hover, on_key,
    on_trackbar, on_wheel,
    snapshot_name, trackbar_positions, trackbar_ranges,
)
from dcmlib import pipeline
from dcmlib.lut import LutData, PairWindow, VoiFunction, VoiLut, Window
from dcmlib.presets import PRESETS

LINEAR, LINEAR_EXACT, SIGMOID = VoiFunction.LINEAR, VoiFunction.LINEAR_EXACT, VoiFunction.SIGMOID


def voi_lut(first=0, n=4096, bits=12):
    """A VOI LUT item (PS3.3 C.11.2.1.1): ``n`` entries from ``first``; its equivalent window is
    ``first + n / 2``, ``n``."""
    return VoiLut(LutData(first, bits, np.arange(n, dtype=np.uint16)), "LUT")


class FakeImage:
    """The few DicomImage members the state logic reads, returning the real value types.

    ``vois`` are the stored VOIs (default: two windows, then a VOI LUT), ``minmax``
    the window of a file that stores none, ``function`` the file's VOI LUT Function.
    Which VOI applies is the library's one rule (:func:`dcmlib.pipeline.resolve_voi`).
    """

    def __init__(self, n_frames=5, vois=None, value_range=(-1024.0, 3071.0), is_color=False,
                 unit="HU", minmax=Window(40.0, 400.0), function=LINEAR, auto=(100.0, 900.0)):
        self._n = n_frames
        self._vois = [Window(40.0, 400.0, LINEAR, "WINDOW1"), Window(-600.0, 1500.0, SIGMOID, "WINDOW2"),
                      voi_lut()] if vois is None else vois
        self.value_range = value_range
        self.is_color = is_color
        self.unit = unit
        self._minmax = minmax
        self._function = function
        self._auto = auto
        self.auto_calls = []

    def __len__(self):
        return self._n

    def vois(self, frame=0):
        return self._vois

    def frame_range(self, frame=0):
        return self.value_range

    def resolve_voi(self, frame=0, *, center=None, width=None, mode=None, voi=None, preset=None):
        return pipeline.resolve_voi(self._vois, lambda: self._minmax, self._function, center=center,
                                    width=width, mode=mode, voi=voi, preset=preset)

    def default_window(self, frame=0):
        return Window(127.5, 256.0) if self.is_color else self.resolve_voi(frame).window

    def auto_window(self, frame=0, low=0.5, high=99.5):
        self.auto_calls.append(frame)
        return PairWindow(*self._auto, explanation="auto")


@pytest.fixture
def img():
    return FakeImage()


@pytest.fixture
def st(img):
    return initial_state(img)


def keys(state, seq, image):
    for k in seq:
        state = on_key(state, k, image)
    return state


def drag(state, dx, dy, view_w, view_h):
    """Button down at view position (100, 100), then a move by (dx, dy) display pixels."""
    return on_drag(on_button_down(state, 100, 100), 100 + dx, 100 + dy, view_w, view_h)


# ------------------------------------------------------------------ key codes

class TestDecodeKey:
    # what each back end returns for the same key (see the module docstring)
    @pytest.mark.parametrize("code,name", [
        (0xFF51, "Left"), (0xFF53, "Right"), (0xFF52, "Up"), (0xFF54, "Down"),        # X11: GTK, Qt/xcb
        (0xFF55, "PageUp"), (0xFF56, "PageDown"), (0xFF50, "Home"), (0xFF57, "End"),
        (0xFF96, "Left"), (0xFF9B, "PageDown"),                                           # keypad
        (0x01000012, "Left"), (0x01000014, "Right"), (0x01000013, "Up"), (0x01000015, "Down"),  # Qt::Key
        (0x01000016, "PageUp"), (0x01000017, "PageDown"), (0x01000010, "Home"), (0x01000011, "End"),
        (0x250000, "Left"), (0x270000, "Right"), (0x260000, "Up"), (0x280000, "Down"),   # Win32
        (0x210000, "PageUp"), (0x220000, "PageDown"), (0x240000, "Home"), (0x230000, "End"),
        (0xF702, "Left"), (0xF703, "Right"), (0xF700, "Up"), (0xF701, "Down"),           # Cocoa
        (27, "Esc"), (0x01000000, "Esc"),
        (ord("p"), "p"), (ord("P"), "P"), (ord("1"), "1"), (ord("q"), "q"),
        (0x10050, "P"),            # GTK: 'P' with ShiftMask << 16
        (0x100000 | 0xFF51, "Left"),  # GTK: Left with Num Lock (Mod2) << 16
        (0xFFE1, "Shift"), (0x01000020, "Shift"),
    ])
    def test_codes(self, code, name):
        assert decode_key(code) == name

    @pytest.mark.parametrize("code", [-1, 0, 0xFFFFF0, 0x01000099, 10, 13])
    def test_no_key(self, code):
        assert decode_key(code) is None

    def test_every_named_code_is_a_key_on_key_knows(self):
        names = set(KEY_CODES.values()) - {"Shift", "Ctrl", "Meta", "Alt", "CapsLock", "Super", "AltGr"}
        assert names == {"Esc", "Left", "Right", "Up", "Down", "PageUp", "PageDown", "Home", "End"}


class TestKeyDecoder:
    def test_plain(self):
        d = KeyDecoder()
        assert [d(c, 0.0) for c in (ord("p"), 0xFF51, -1)] == ["p", "Left", None]

    def test_qt_shift_then_lower_letter_is_upper(self):
        # opencv-python Qt build: Shift+p arrives as 0xffe1 then 0x70 (measured with xdotool on Xvfb)
        d = KeyDecoder(hold_s=1.0)
        assert d(0xFFE1, 10.0) is None
        assert d(ord("p"), 10.1) == "P"
        assert d(ord("s"), 10.3) == "s"        # one Shift press shifts one key
        d(0xFFE1, 11.0)
        assert d(ord("p"), 12.5) == "p"        # too late: Shift was released

    def test_shift_does_not_leak_past_other_keys(self):
        d = KeyDecoder()
        d(0xFFE1, 0.0)
        assert d(0xFF53, 0.1) == "Right"
        assert d(ord("s"), 0.2) == "s"

    def test_shift_expires(self):
        d = KeyDecoder(hold_s=1.0)
        d(0xFFE1, 0.0)
        assert d(ord("s"), 1.5) == "s"

    def test_gtk_upper(self):
        d = KeyDecoder()
        assert d(0x10053, 0.0) == "S"


# ------------------------------------------------------------------ keys

class TestInitial:
    def test_file_window(self, st):
        assert (st.center, st.width, st.mode) == (40.0, 400.0, LINEAR)
        assert st.voi == 1 and st.preset is None and st.n_vois == 3 and st.n_frames == 5

    def test_cli_flags(self, img):
        s = initial_state(img, preset="soft-tissue", frame=2, invert=True, mode="sigmoid")
        assert (s.center, s.width, s.preset, s.frame, s.invert, s.mode) == (40.0, 400.0, 3, 2, True, SIGMOID)
        assert s.file_mode is LINEAR
        s = initial_state(img, center=-500, width=1200)
        assert (s.center, s.width, s.voi, s.preset) == (-500.0, 1200.0, None, None)
        s = initial_state(img, voi=2)
        assert (s.center, s.width, s.mode, s.voi) == (-600.0, 1500.0, SIGMOID, 2)

    def test_file_function_sets_mode(self):
        s = initial_state(FakeImage(vois=[Window(10.0, 20.0, LINEAR_EXACT)], function=LINEAR_EXACT))
        assert s.mode is s.file_mode is LINEAR_EXACT


class TestPresetKeys:
    ORDER = ["lung", "bone", "brain", "soft tissue", "mediastinum", "liver", "stroke",
             "subdural", "temporal bone"]

    def test_order_is_the_key_order(self):
        """The presets in the order keys 1 - 9 select them and ``p`` cycles through them."""
        assert list(PRESETS) == self.ORDER

    def test_p_cycles_then_back_to_file_window(self, st, img):
        seen = []
        s = st
        for _ in range(10):
            s = on_key(s, "p", img)
            seen.append(None if s.preset is None else C._PRESET_NAMES[s.preset])
            if s.preset is not None:
                p = PRESETS[seen[-1]]
                assert (s.center, s.width) == (p.center, p.width)
        assert seen == self.ORDER + [None]
        assert (s.center, s.width, s.voi) == (40.0, 400.0, 1)     # the file's own window again
        assert on_key(s, "p", img).preset == 0                     # and around again: lung

    def test_first_p_is_lung(self, st, img):
        s = on_key(st, "p", img)
        assert (s.center, s.width, s.preset, s.voi) == (-600.0, 1500.0, 0, None)

    def test_P_goes_backwards(self, st, img):
        s = on_key(st, "P", img)
        assert C._PRESET_NAMES[s.preset] == "temporal bone"
        s = keys(s, "P" * 8, img)
        assert C._PRESET_NAMES[s.preset] == "lung"
        s = on_key(s, "P", img)
        assert s.preset is None and s.center == 40.0

    @pytest.mark.parametrize("digit", "123456789")
    def test_digits(self, st, img, digit):
        s = on_key(st, digit, img)
        p = list(PRESETS.values())[int(digit) - 1]
        assert (s.preset, s.center, s.width) == (int(digit) - 1, p.center, p.width)

    @pytest.mark.parametrize("k", ["0", "r"])
    def test_reset(self, st, img, k):
        s = keys(st, ["3", "m", "a"], img)
        s = on_key(s, k, img)
        assert (s.center, s.width, s.mode, s.voi, s.preset, s.auto) == (40.0, 400.0, LINEAR, 1, None, False)

    def test_preset_keeps_mode(self, st, img):
        s = keys(st, ["m", "1"], img)
        assert s.mode is LINEAR_EXACT


class TestOtherKeys:
    def test_v_cycles_vois(self, st, img):
        s = on_key(st, "v", img)
        assert (s.voi, s.center, s.width, s.mode) == (2, -600.0, 1500.0, SIGMOID)
        s2 = on_key(s, "v", img)     # a VOI LUT: the trackbars show its equivalent linear window
        assert (s2.voi, s2.lut, s2.center, s2.width, s2.mode) == (3, True, 2048.0, 4096.0, LINEAR)
        assert on_key(s2, "v", img).voi == 1
        # from a preset, v starts at the first VOI
        assert on_key(on_key(st, "2", img), "v", img).voi == 1

    def test_v_lut_uses_equivalent_window(self, img):
        im = FakeImage(vois=[Window(40.0, 400.0), voi_lut(1, 4095)])
        s = on_key(initial_state(im), "v", im)
        assert (s.voi, s.lut, s.center, s.width, s.mode) == (2, True, 2048.5, 4095.0, LINEAR)
        assert "file VOI LUT 2/2" in annotation_lines(s)
        assert snapshot_name("x", s, "/nonexistent").name == "x_f1_voi2.png"
        s = on_trackbar(s, "center", 100)
        assert (s.lut, s.voi) == (False, None)
        # a file whose only VOI is a LUT opens on it
        s = initial_state(FakeImage(vois=[voi_lut()]))
        assert (s.voi, s.lut) == (1, True)

    def test_linear_needs_width_1(self):
        im = FakeImage(value_range=(0.0, 1.0), vois=[Window(0.5, 0.2, LINEAR_EXACT)], unit="")
        s = initial_state(im)
        assert (s.mode, s.width, s.min_width) == (LINEAR_EXACT, 0.2, 0.001)
        s = on_key(on_key(s, "m", im), "m", im)       # -> sigmoid -> linear
        assert (s.mode, s.width) == (LINEAR, 1.0)
        assert drag(s, -100, 0, 10, 10).width == 1.0
        assert on_trackbar(on_trackbar(s, "mode", 1), "width", 5).width == 0.005

    def test_v_without_vois(self):
        im = FakeImage(vois=[], minmax=Window(100.0, 200.0, explanation="min-max"))
        s = initial_state(im)
        assert s.minmax and "min-max window (file has none)" in annotation_lines(s)
        assert not on_key(s, "1", im).minmax
        s2 = on_key(s, "v", im)
        assert s2.voi is None and s2.message
        assert on_key(s2, "i", im).message is None

    def test_a_auto(self, st, img):
        s = on_key(on_key(st, "End", img), "a", img)
        assert (s.center, s.width, s.auto, s.voi, s.preset) == (100.0, 900.0, True, None, None)
        assert img.auto_calls == [4]

    def test_m_cycles_modes(self, st, img):
        s = keys(st, "m", img)
        assert s.mode is LINEAR_EXACT
        assert keys(st, "mm", img).mode is SIGMOID
        assert keys(st, "mmm", img).mode is LINEAR

    @pytest.mark.parametrize("k,attr", [("i", "invert"), ("o", "annotations"), ("h", "help")])
    def test_toggles(self, st, img, k, attr):
        s = on_key(st, k, img)
        assert getattr(s, attr) is not getattr(st, attr)
        assert getattr(on_key(s, k, img), attr) is getattr(st, attr)

    @pytest.mark.parametrize("k,req", [("s", "snapshot"), ("S", "snapshot-shown"), ("q", "quit"),
                                       ("Esc", "quit")])
    def test_requests(self, st, img, k, req):
        s = on_key(st, k, img)
        assert s.request == req
        assert replace(s, request=None) == st

    def test_unknown_key_is_a_noop(self, st, img):
        assert on_key(st, "z", img) is st
        assert on_key(st, None, img) is st


class TestFrames:
    @pytest.mark.parametrize("k", ["Right", "Down", "PageDown", "n"])
    def test_next(self, st, img, k):
        assert on_key(st, k, img).frame == 1

    @pytest.mark.parametrize("k", ["Left", "Up", "PageUp", "b"])
    def test_prev(self, st, img, k):
        assert on_key(replace(st, frame=3), k, img).frame == 2

    def test_bounds(self, st, img):
        assert on_key(st, "b", img) is st                 # already first
        last = on_key(st, "End", img)
        assert last.frame == 4
        assert on_key(last, "n", img) is last              # already last
        assert on_key(last, "Home", img).frame == 0
        assert keys(st, "n" * 20, img).frame == 4

    def test_frame_change_clears_probe(self, st, img):
        s = on_hover(st, 3, 4, -1000.0)
        assert on_key(s, "n", img).probe is None

    def test_wheel(self, st):
        assert on_wheel(st, -120).frame == 1           # towards the user: next
        assert on_wheel(replace(st, frame=2), 120).frame == 1
        assert on_wheel(st, 120) is st                   # bound
        assert on_wheel(st, 0) is st

    def test_single_frame(self):
        im = FakeImage(n_frames=1)
        s = initial_state(im)
        assert on_key(s, "n", im) is s and on_wheel(s, -1) is s
        assert "frame" not in trackbar_ranges(s)


class TestDrag:
    # value range -1024..3071 -> span 4095; view 819 x 455 px
    def test_arithmetic_by_hand(self, st):
        # dx = 100 px: width += 100 * 4095 / 819 = 500; dy = 91 px: center += 91 * 4095 / 455 = 819
        s = drag(st, 100, 91, 819, 455)
        assert (s.width, s.center) == (900.0, 859.0)
        assert (s.voi, s.preset) == (None, None)

    def test_full_drag_spans_the_range(self, st):
        s = drag(st, 640, 0, 640, 480)
        assert s.width == 400.0 + 4095.0
        s = drag(st, 0, -480, 640, 480)
        assert s.center == 40.0 - 4095.0

    def test_left_up_narrower_lower(self, st):
        s = drag(st, -10, -10, 4095, 4095)    # one HU per pixel
        assert (s.width, s.center) == (390.0, 30.0)

    def test_width_floor(self, st):
        s = drag(st, -10_000, 0, 100, 100)
        assert s.width == 1.0

    def test_rounding_to_step(self, st):
        # 1 px of 1000 over span 4095 = 4.095 HU -> rounded to 4 (step 1)
        s = drag(st, 1, 1, 1000, 1000)
        assert (s.width, s.center) == (404.0, 44.0)

    def test_small_float_range(self):
        im = FakeImage(value_range=(0.0, 1.0), vois=[Window(0.5, 1.0)], unit="")
        s = initial_state(im)
        assert s.scale.step == 0.001
        s2 = drag(s, 1, 0, 3, 3)   # + 1/3
        assert s2.width == 1.333

    def test_no_move(self, st):
        down = on_button_down(st, 5, 5)
        assert down.drag == C.DragOrigin(5, 5, 40.0, 400.0)
        assert on_drag(down, 5, 5, 10, 10) is down
        assert on_drag(st, 50, 50, 10, 10) is st            # no button down: no drag

    def test_back_to_the_start_restores_the_window(self, st):
        s = drag(st, 30, 0, 100, 100)
        assert on_drag(s, 100, 100, 100, 100).width == 400.0

    def test_button_up_ends_the_drag(self, st):
        s = on_button_up(drag(st, 30, 0, 100, 100))
        assert s.drag is None
        assert on_drag(s, 0, 0, 100, 100) is s
        assert on_button_up(s) is s

    @pytest.mark.parametrize("key,field", [("m", "mode"), ("i", "invert"), ("o", "annotations"),
                                           ("h", "help"), ("n", "frame")])
    def test_a_key_mid_drag_survives_the_next_step(self, st, img, key, field):
        """Each drag step is the current state with a new window: what a key changed mid-drag stays."""
        s = on_key(drag(st, 10, 0, 4095, 4095), key, img)
        changed = getattr(s, field)
        assert changed != getattr(st, field)
        s = on_drag(s, 120, 130, 4095, 4095)               # one HU per pixel from (100, 100)
        assert getattr(s, field) == changed
        assert (s.width, s.center) == (420.0, 70.0)

    def test_m_and_i_mid_drag(self, st, img):
        s = keys(drag(st, 10, 0, 4095, 4095), "mi", img)
        s = on_button_up(on_drag(s, 110, 105, 4095, 4095))
        assert (s.mode, s.invert, s.width, s.center, s.drag) == (LINEAR_EXACT, True, 410.0, 45.0, None)

    def test_color_inert(self):
        im = FakeImage(is_color=True, value_range=(0, 255))
        s = initial_state(im)
        assert drag(s, 50, 50, 100, 100) is s


class TestTrackbars:
    def test_ranges_ct(self, st):
        r = trackbar_ranges(st)
        assert r == {"center": (-1024, 3071), "width": (1, 8190), "mode": (0, 2), "frame": (1, 5)}

    def test_positions(self, st, img):
        assert trackbar_positions(st) == {"center": 40, "width": 400, "mode": 0, "frame": 1}
        s = keys(st, ["1", "m", "n"], img)
        assert trackbar_positions(s) == {"center": -600, "width": 1500, "mode": 1, "frame": 2}

    def test_positions_clamped(self, st):
        s = replace(st, center=-5000.0, width=20000.0)
        assert trackbar_positions(s) == {"center": -1024, "width": 8190, "mode": 0, "frame": 1}

    def test_sync_is_not_a_feedback_loop(self, st, img):
        # the shell sets every trackbar to trackbar_positions(state); the callbacks it triggers change nothing
        for s in (st, keys(st, "1mn", img), replace(st, center=-5000.0), drag(st, 3, 7, 100, 100)):
            for name, pos in trackbar_positions(s).items():
                assert on_trackbar(s, name, pos) is s

    def test_moves(self, st):
        s = on_trackbar(st, "center", -100)
        assert (s.center, s.width, s.voi) == (-100.0, 400.0, None)
        s = on_trackbar(s, "width", 1)
        assert s.width == 1.0
        s = on_trackbar(s, "width", 0)     # Qt may report below the minimum
        assert s.width == 1.0
        assert on_trackbar(s, "mode", 2).mode is SIGMOID
        assert on_trackbar(s, "frame", 5).frame == 4
        with pytest.raises(ValueError):
            on_trackbar(s, "bogus", 1)

    def test_float_scale(self):
        sc = TrackbarScale.for_range(0.0, 2.0)
        assert sc.step == 0.001
        assert sc.center_range() == (0, 2000) and sc.width_range() == (1, 4000)
        assert sc.to_value(300) == 0.3
        assert TrackbarScale.for_range(0, 255).step == 0.1
        assert TrackbarScale.for_range(0, 256).step == 1.0

    def test_color_has_only_frame(self):
        im = FakeImage(is_color=True, value_range=(0, 255))
        s = initial_state(im)
        assert trackbar_ranges(s) == {"frame": (1, 5)}
        assert on_trackbar(s, "center", 3) is s
        assert on_key(s, "p", im) is s and on_key(s, "a", im) is s


# ------------------------------------------------------------------ names and text

class TestFormatNumber:
    @pytest.mark.parametrize("x,text", [
        (40.0, "40"), (-600.0, "-600"), (0.0, "0"), (-0.0, "0"), (0.5, "0.5"), (1.333, "1.333"),
        (1e-05, "0.00001"), (2.5e20, "250000000000000000000"), (0.1 + 0.2, "0.30000000000000004"),
        (1234.5678, "1234.5678"),
    ])
    def test_values(self, x, text):
        assert format_number(x) == text

    @pytest.mark.parametrize("x", [40.0, -600.5, 1e-7, 123456789.123, 0.1 + 0.2, 3.0e-310, 1.7e308])
    def test_round_trips(self, x):
        s = format_number(x)
        assert "e" not in s.lower() and float(s) == x

    def test_non_finite(self):
        with pytest.raises(ValueError):
            format_number(float("nan"))


class TestSnapshotName:
    def test_basic(self, st, tmp_path):
        p = snapshot_name("CT_small", st, tmp_path)
        assert p == tmp_path / "CT_small_f1_c40_w400.png"

    def test_frame_invert_negative(self, st, img, tmp_path):
        s = keys(st, ["1", "n", "n", "i"], img)
        assert snapshot_name("x", s, tmp_path).name == "x_f3_c-600_w1500_inv.png"

    def test_mode_only_when_not_the_files(self, st, img, tmp_path):
        assert snapshot_name("x", keys(st, "mm", img), tmp_path).name == "x_f1_c40_w400_sigmoid.png"

    def test_never_overwrites(self, st, tmp_path):
        names = []
        for _ in range(3):
            p = snapshot_name("x", st, tmp_path)
            assert not p.exists()
            p.write_bytes(b"")
            names.append(p.name)
        assert names == ["x_f1_c40_w400.png", "x_f1_c40_w400_2.png", "x_f1_c40_w400_3.png"]

    def test_shown_and_color(self, st, tmp_path):
        assert snapshot_name("x", st, tmp_path, shown=True).name == "x_f1_c40_w400_shown.png"
        s = initial_state(FakeImage(is_color=True, value_range=(0, 255)))
        assert snapshot_name("x", s, tmp_path).name == "x_f1.png"

    def test_round_trip_through_window_flag(self, st, tmp_path):
        s = drag(initial_state(FakeImage(value_range=(0.0, 1.0), vois=[Window(0.5, 1.0)])), 1, 1, 3, 7)
        name = snapshot_name("x", s, tmp_path).stem
        c = float(name.split("_c")[1].split("_")[0])
        w = float(name.split("_w")[1].split("_")[0])
        assert (c, w) == (s.center, s.width)


class TestAnnotations:
    def test_ct(self, st, img):
        s = on_hover(keys(st, ["1", "n", "i"], img), 10, 20, -998.25)
        lines = annotation_lines(replace(s, zoom=0.5), "CT_small.dcm")
        assert lines == ["CT_small.dcm", "C -600  W 1500  linear", "preset lung", "frame 2/5",
                         "zoom 50%  inverted", "x 10  y 20  -998.25 HU", "h: help"]

    def test_labels(self, st, img):
        assert "file VOI 1/3" in annotation_lines(st)
        assert "auto window" in annotation_lines(on_key(st, "a", img))
        assert "user window" in annotation_lines(on_trackbar(st, "center", 0))

    def test_color_probe(self):
        s = initial_state(FakeImage(is_color=True, n_frames=1, value_range=(0, 255)))
        lines = annotation_lines(on_hover(s, 1, 2, (255, 0, 7)))
        assert lines == ["zoom 100%", "x 1  y 2  RGB 255 0 7", "h: help"]

    def test_hover(self, st):
        s = on_hover(st, 1, 2, 5.0)
        assert on_hover(s, 1, 2, 5.0) is s
        assert on_hover(s, None, None).probe is None

    def test_help_lists_every_key(self):
        text = "\n".join(HELP_LINES)
        for k in ["p / P", "1 - 9", "0 / r", "v ", "a ", "m ", "i ", "o ", "h ", "PageDown", "PageUp",
                  "Home / End", "s ", "S ", "q / Esc", "drag", "wheel", "Right", "Left", "Up", "Down"]:
            assert k in text, k
        for name in PRESETS:
            assert name in text


def test_no_cv2_import():
    import ast
    tree = ast.parse(open(C.__file__, encoding="utf-8").read())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not names & {"cv2", "numpy", "pydicom"}


def test_display_range_follows_the_data():
    class Ct16(FakeImage):
        def frame_range(self, frame=0):
            return -1024.0, 2500.0

    im = Ct16(value_range=(-32768.0, 32767.0), vois=[Window(40.0, 400.0)])
    assert C.display_range(im) == (-1024.0, 2500.0)
    im = Ct16(value_range=(-32768.0, 32767.0), vois=[Window(3000.0, 2000.0)])
    assert C.display_range(im) == (-1024.0, 4000.0)        # widened to hold the file's window
    im = Ct16(value_range=(-1000.0, 2000.0))
    assert C.display_range(im) == (-1000.0, 2000.0)        # never beyond what the bits express
    s = initial_state(Ct16(value_range=(-32768.0, 32767.0)))
    assert trackbar_ranges(s)["center"] == (-1024, 2500)


def test_series_annotation_says_slice_and_position():
    """A series (a folder) says ``slice i/N`` and the slice position in mm; a file says ``frame i/N``."""
    state = C.ViewerState(center=40.0, width=400.0, scale=TrackbarScale(-1024.0, 3071.0, 1.0), frame=4, n_frames=300)
    lines = annotation_lines(state, "CT folder", frame_word="slice", position=-12.5)
    assert "slice 5/300  -12.5 mm" in lines
    assert "frame 5/300" in annotation_lines(state, "file.dcm")


def test_the_fake_and_dicom_image_are_voi_sources():
    """FakeImage stands in for DicomImage: both have every member controls.VoiSource names."""
    from dcmlib import DicomImage

    members = {n for n in vars(C.VoiSource) if not n.startswith("_")} | {"__len__"}
    assert {"resolve_voi", "default_window", "auto_window", "vois", "frame_range"} <= members
    assert [m for m in sorted(members) if not hasattr(DicomImage, m)] == []
    assert [m for m in sorted(members) if not hasattr(FakeImage(), m)] == []

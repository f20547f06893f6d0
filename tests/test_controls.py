"""Viewer state logic (dcmlib.viewer.controls), headless: every key, drag, wheel, trackbar, name."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pydicom.uid import generate_uid

from dcmlib.render import pipeline
from dcmlib.values.lut import LutData, PairWindow, VoiFunction, VoiLut, Window
from dcmlib.values.presets import PRESETS
from dcmlib.viewer import controls as C
from dcmlib.viewer.controls import (
    initial_state,
    on_button_down,
    on_button_up,
    on_drag,
    on_hover,
    on_key,
    on_tick,
    on_trackbar,
    on_wheel,
    trackbar_positions,
    trackbar_ranges,
)
from dcmlib.viewer.keys import HELP, HELP_LINES, KEY_CODES, KeyDecoder, decode_key
from dcmlib.viewer.labels import achieved_fps, annotation_lines, format_number, help_rows, snapshot_name, window_label
from dcmlib.viewer.state import DragOrigin, TrackbarScale, ViewerState, VoiSource
from dcmlib.viewer.viewport import Viewport
from dcmlib.viewer.windows import display_range

LINEAR, LINEAR_EXACT, SIGMOID = VoiFunction.LINEAR, VoiFunction.LINEAR_EXACT, VoiFunction.SIGMOID


def voi_lut(first=0, n=4096, bits=12):
    """A VOI LUT item (PS3.3 C.11.2.1.1): ``n`` entries from ``first``; its equivalent window is
    ``first + n / 2``, ``n``."""
    return VoiLut(LutData(first, bits, np.arange(n, dtype=np.uint16)), "LUT")


class FakeImage:
    """The few DicomImage members the state logic reads, returning the real value types.

    ``vois`` are the stored VOIs (default: two windows, then a VOI LUT), ``minmax``
    the window of a file that stores none, ``function`` the file's VOI LUT Function.
    Which VOI applies is the library's one rule (:func:`dcmlib.render.pipeline.resolve_voi`).
    """

    def __init__(
        self,
        n_frames=5,
        vois=None,
        value_range=(-1024.0, 3071.0),
        is_color=False,
        unit="HU",
        minmax=Window(40.0, 400.0),  # noqa: B008 - a frozen value, never mutated
        function=LINEAR,
        auto=(100.0, 900.0),
        modality="CT",
        is_series=False,
        cine_rate=None,
    ):
        self._n = n_frames
        self.modality = modality
        self.is_series = is_series
        self.cine_rate = cine_rate
        self._vois = (
            [Window(40.0, 400.0, LINEAR, "WINDOW1"), Window(-600.0, 1500.0, SIGMOID, "WINDOW2"), voi_lut()]
            if vois is None
            else vois
        )
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
        return pipeline.resolve_voi(
            self._vois,
            lambda: self._minmax,
            self._function,
            center=center,
            width=width,
            mode=mode,
            voi=voi,
            preset=preset,
        )

    def default_window(self, frame=0):
        return Window(127.5, 256.0) if self.is_color else self.resolve_voi(frame).window

    def auto_window(self, frame=0, low=0.5, high=99.5):
        """``auto`` for the default percentiles; other percentiles give a window that names them."""
        self.auto_calls.append(frame)
        if (low, high) == (0.5, 99.5):
            return PairWindow(*self._auto, explanation="auto")
        return PairWindow(1000.0 + low, 2000.0 + high, explanation="auto")


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
    @pytest.mark.parametrize(
        "code,name",
        [
            (0xFF51, "Left"),
            (0xFF53, "Right"),
            (0xFF52, "Up"),
            (0xFF54, "Down"),  # X11: GTK, Qt/xcb
            (0xFF55, "PageUp"),
            (0xFF56, "PageDown"),
            (0xFF50, "Home"),
            (0xFF57, "End"),
            (0xFF96, "Left"),
            (0xFF9B, "PageDown"),  # keypad
            (0x01000012, "Left"),
            (0x01000014, "Right"),
            (0x01000013, "Up"),
            (0x01000015, "Down"),  # Qt::Key
            (0x01000016, "PageUp"),
            (0x01000017, "PageDown"),
            (0x01000010, "Home"),
            (0x01000011, "End"),
            (0x250000, "Left"),
            (0x270000, "Right"),
            (0x260000, "Up"),
            (0x280000, "Down"),  # Win32
            (0x210000, "PageUp"),
            (0x220000, "PageDown"),
            (0x240000, "Home"),
            (0x230000, "End"),
            (0xF702, "Left"),
            (0xF703, "Right"),
            (0xF700, "Up"),
            (0xF701, "Down"),  # Cocoa
            (27, "Esc"),
            (0x01000000, "Esc"),
            (ord("p"), "p"),
            (ord("P"), "P"),
            (ord("1"), "1"),
            (ord("q"), "q"),
            (0x10050, "P"),  # GTK: 'P' with ShiftMask << 16
            (0x100000 | 0xFF51, "Left"),  # GTK: Left with Num Lock (Mod2) << 16
            (0xFFE1, "Shift"),
            (0x01000020, "Shift"),
        ],
    )
    def test_codes(self, code, name):
        assert decode_key(code) == name

    @pytest.mark.parametrize("code", [-1, 0, 0xFFFFF0, 0x01000099, 10, 13])
    def test_no_key(self, code):
        assert decode_key(code) is None

    def test_every_named_code_is_a_key_on_key_knows(self):
        names = set(KEY_CODES.values()) - {"Shift", "Ctrl", "Meta", "Alt", "CapsLock", "Super", "AltGr"}
        assert names == {"Esc", "Left", "Right", "Up", "Down", "PageUp", "PageDown", "Home", "End", "space", "+", "-"}


class TestKeyDecoder:
    def test_plain(self):
        d = KeyDecoder()
        assert [d(c, 0.0) for c in (ord("p"), 0xFF51, -1)] == ["p", "Left", None]

    def test_qt_shift_then_lower_letter_is_upper(self):
        # opencv-python Qt build: Shift+p arrives as 0xffe1 then 0x70 (measured with xdotool on Xvfb)
        d = KeyDecoder(hold_s=1.0)
        assert d(0xFFE1, 10.0) is None
        assert d(ord("p"), 10.1) == "P"
        assert d(ord("s"), 10.3) == "s"  # one Shift press shifts one key
        d(0xFFE1, 11.0)
        assert d(ord("p"), 12.5) == "p"  # too late: Shift was released

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
        assert (s.center, s.width, s.preset, s.frame, s.invert, s.mode) == (
            40.0,
            400.0,
            "soft tissue",
            2,
            True,
            SIGMOID,
        )
        assert s.choice == 3  # its place in the p cycle
        assert s.file_mode is LINEAR
        s = initial_state(img, center=-500, width=1200)
        assert (s.center, s.width, s.voi, s.preset) == (-500.0, 1200.0, None, None)
        s = initial_state(img, voi=2)
        assert (s.center, s.width, s.mode, s.voi) == (-600.0, 1500.0, SIGMOID, 2)

    def test_file_function_sets_mode(self):
        s = initial_state(FakeImage(vois=[Window(10.0, 20.0, LINEAR_EXACT)], function=LINEAR_EXACT))
        assert s.mode is s.file_mode is LINEAR_EXACT


class TestPresetKeys:
    ORDER = ["lung", "bone", "brain", "soft tissue", "mediastinum", "liver", "stroke", "subdural", "temporal bone"]

    def test_order_is_the_key_order(self):
        """The presets in the order keys 1 - 9 select them and ``p`` cycles through them."""
        assert list(PRESETS) == self.ORDER

    def test_p_cycles_then_back_to_file_window(self, st, img):
        seen = []
        s = st
        for _ in range(10):
            s = on_key(s, "p", img)
            seen.append(s.preset)
            if s.preset is not None:
                p = PRESETS[seen[-1]]
                assert (s.center, s.width) == (p.center, p.width)
        assert seen == self.ORDER + [None]
        assert (s.center, s.width, s.voi) == (40.0, 400.0, 1)  # the file's own window again
        assert on_key(s, "p", img).preset == "lung"  # and around again

    def test_first_p_is_lung(self, st, img):
        s = on_key(st, "p", img)
        assert (s.center, s.width, s.preset, s.voi) == (-600.0, 1500.0, "lung", None)

    def test_P_goes_backwards(self, st, img):
        s = on_key(st, "P", img)
        assert s.preset == "temporal bone"
        s = keys(s, "P" * 8, img)
        assert s.preset == "lung"
        s = on_key(s, "P", img)
        assert s.preset is None and s.center == 40.0

    @pytest.mark.parametrize("digit", "123456789")
    def test_digits(self, st, img, digit):
        s = on_key(st, digit, img)
        p = list(PRESETS.values())[int(digit) - 1]
        assert (s.preset, s.center, s.width, s.choice) == (p.name, p.center, p.width, int(digit) - 1)

    @pytest.mark.parametrize("k", ["0", "r"])
    def test_reset(self, st, img, k):
        s = keys(st, ["3", "m", "a"], img)
        s = on_key(s, k, img)
        assert (s.center, s.width, s.mode, s.voi, s.preset, s.auto) == (40.0, 400.0, LINEAR, 1, None, None)

    def test_preset_keeps_mode(self, st, img):
        s = keys(st, ["m", "1"], img)
        assert s.mode is LINEAR_EXACT


class TestOtherKeys:
    def test_v_cycles_vois(self, st, img):
        s = on_key(st, "v", img)
        assert (s.voi, s.center, s.width, s.mode) == (2, -600.0, 1500.0, SIGMOID)
        s2 = on_key(s, "v", img)  # a VOI LUT: the trackbars show its equivalent linear window
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
        assert (s.mode, s.width, s.min_width) == (LINEAR_EXACT, 0.2, 0.01)  # 0..1: step 0.01
        s = on_key(on_key(s, "m", im), "m", im)  # -> sigmoid -> linear
        assert (s.mode, s.width) == (LINEAR, 1.0)
        assert drag(s, -100, 0, 10, 10).width == 1.0
        assert on_trackbar(on_trackbar(s, "mode", 1), "width x0.01", 5).width == 0.05

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
        assert (s.center, s.width, s.auto, s.voi, s.preset) == (100.0, 900.0, (0.5, 99.5), None, None)
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

    @pytest.mark.parametrize("k,req", [("s", "snapshot"), ("S", "snapshot-shown"), ("q", "quit"), ("Esc", "quit")])
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
        assert on_key(st, "b", img) is st  # already first
        last = on_key(st, "End", img)
        assert last.frame == 4
        assert on_key(last, "n", img) is last  # already last
        assert on_key(last, "Home", img).frame == 0
        assert keys(st, "n" * 20, img).frame == 4

    def test_frame_change_clears_probe(self, st, img):
        s = on_hover(st, 3, 4, -1000.0)
        assert on_key(s, "n", img).probe is None

    def test_wheel(self, st):
        assert on_wheel(st, -120).frame == 1  # towards the user: next
        assert on_wheel(replace(st, frame=2), 120).frame == 1
        assert on_wheel(st, 120) is st  # bound
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
        s = drag(st, -10, -10, 4095, 4095)  # one HU per pixel
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
        assert s.scale.step == 0.01  # 100 positions over 0..1
        s2 = drag(s, 1, 0, 3, 3)  # + 1/3, to the step
        assert s2.width == 1.33

    def test_no_move(self, st):
        down = on_button_down(st, 5, 5)
        assert down.drag == DragOrigin(5, 5, 40.0, 400.0, "window", span=4095.0)
        assert on_drag(down, 5, 5, 10, 10) is down
        assert on_drag(st, 50, 50, 10, 10) is st  # no button down: no drag

    def test_back_to_the_start_restores_the_window(self, st):
        s = drag(st, 30, 0, 100, 100)
        assert on_drag(s, 100, 100, 100, 100).width == 400.0

    def test_button_up_ends_the_drag(self, st):
        s = on_button_up(drag(st, 30, 0, 100, 100))
        assert s.drag is None
        assert on_drag(s, 0, 0, 100, 100) is s
        assert on_button_up(s) is s

    @pytest.mark.parametrize(
        "key,field", [("m", "mode"), ("i", "invert"), ("o", "annotations"), ("h", "help"), ("n", "frame")]
    )
    def test_a_key_mid_drag_survives_the_next_step(self, st, img, key, field):
        """Each drag step is the current state with a new window: what a key changed mid-drag stays."""
        s = on_key(drag(st, 10, 0, 4095, 4095), key, img)
        changed = getattr(s, field)
        assert changed != getattr(st, field)
        s = on_drag(s, 120, 130, 4095, 4095)  # one HU per pixel from (100, 100)
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
        s = on_trackbar(s, "width", 0)  # Qt may report below the minimum
        assert s.width == 1.0
        assert on_trackbar(s, "mode", 2).mode is SIGMOID
        assert on_trackbar(s, "frame", 5).frame == 4
        with pytest.raises(ValueError):
            on_trackbar(s, "bogus", 1)

    def test_float_scale(self):
        # at least 100 positions: 0..2 steps by 0.01 (200 positions), 0..99 by 0.1, 100 units and more by 1
        sc = TrackbarScale.for_range(0.0, 2.0)
        assert sc.step == 0.01
        assert sc.center_range() == (0, 200) and sc.width_range() == (1, 400)
        assert sc.to_value(30) == 0.3
        assert (sc.name("center"), sc.name("width")) == ("center x0.01", "width x0.01")
        assert TrackbarScale.for_range(0, 99).step == 0.1
        assert TrackbarScale.for_range(0, 100).step == 1.0
        assert TrackbarScale.for_range(0, 255).step == 1.0
        assert TrackbarScale.for_range(-32768, 32767).step == 1.0
        assert TrackbarScale.for_range(0, 1, step=1.0).name("center") == "center"

    def test_color_has_only_frame(self):
        im = FakeImage(is_color=True, value_range=(0, 255))
        s = initial_state(im)
        assert trackbar_ranges(s) == {"frame": (1, 5)}
        assert on_trackbar(s, "center", 3) is s
        assert on_key(s, "p", im) is s and on_key(s, "a", im) is s


# ------------------------------------------------------------------ names and text


class TestFormatNumber:
    @pytest.mark.parametrize(
        "x,text",
        [
            (40.0, "40"),
            (-600.0, "-600"),
            (0.0, "0"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (1.333, "1.333"),
            (1e-05, "0.00001"),
            (2.5e20, "250000000000000000000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1234.5678, "1234.5678"),
        ],
    )
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
        lines = annotation_lines(replace(s, viewport=Viewport.fitted(256, 256, 512, 512)), "CT_small.dcm")
        assert lines == [
            "CT_small.dcm",
            "C -600  W 1500  linear",
            "preset lung",
            "frame 2/5",
            "zoom 50%  inverted",
            "x 10  y 20  -998.25 HU",
            "h: help",
        ]

    def test_labels(self, st, img):
        assert "file VOI 1/3" in annotation_lines(st)
        assert "auto window 0.5-99.5 %" in annotation_lines(on_key(st, "a", img))
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
        for k in [
            "p / P",
            "1 - 9",
            "0 / r",
            "v ",
            "a ",
            "m ",
            "i ",
            "o ",
            "h ",
            "PageDown",
            "PageUp",
            "Home / End",
            "s ",
            "S ",
            "q / Esc",
            "drag",
            "wheel",
            "Right",
            "Left",
            "Up",
            "Down",
        ]:
            assert k in text, k
        for name in PRESETS:
            assert name in text


def test_no_cv2_import():
    """The viewer's state logic is plain Python: none of its modules imports OpenCV, NumPy or pydicom."""
    import ast
    from pathlib import Path

    folder = Path(C.__file__).parent
    for module in ("controls", "state", "windows", "labels", "keys", "viewport"):
        tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not names & {"cv2", "numpy", "pydicom"}, module


def test_display_range_follows_the_data():
    class Ct16(FakeImage):
        def frame_range(self, frame=0):
            return -1024.0, 2500.0

    im = Ct16(value_range=(-32768.0, 32767.0), vois=[Window(40.0, 400.0)])
    assert display_range(im) == (-1024.0, 2500.0)
    im = Ct16(value_range=(-32768.0, 32767.0), vois=[Window(3000.0, 2000.0)])
    assert display_range(im) == (-1024.0, 4000.0)  # widened to hold the file's window
    im = Ct16(value_range=(-1000.0, 2000.0))
    assert display_range(im) == (-1000.0, 2000.0)  # never beyond what the bits express
    s = initial_state(Ct16(value_range=(-32768.0, 32767.0)))
    assert trackbar_ranges(s)["center"] == (-1024, 2500)


def test_series_annotation_says_slice_and_position():
    """A series (a folder) says ``slice i/N`` and the slice position in mm; a file says ``frame i/N``."""
    state = ViewerState(center=40.0, width=400.0, scale=TrackbarScale(-1024.0, 3071.0, 1.0), frame=4, n_frames=300)
    lines = annotation_lines(state, "CT folder", frame_word="slice", position=-12.5)
    assert "slice 5/300  -12.5 mm" in lines
    assert "frame 5/300" in annotation_lines(state, "file.dcm")


def test_the_fake_and_dicom_image_are_voi_sources():
    """FakeImage stands in for DicomImage: both have every member state.VoiSource names."""
    from dcmlib import DicomImage

    members = {n for n in vars(VoiSource) if not n.startswith("_")} | {"__len__"}
    assert {"resolve_voi", "default_window", "auto_window", "vois", "frame_range"} <= members
    assert [m for m in sorted(members) if not hasattr(DicomImage, m)] == []
    assert [m for m in sorted(members) if not hasattr(FakeImage(), m)] == []


# ------------------------------------------------------------------ zoom and pan


def viewed(state, w=400, h=300, cols=200, rows=150):
    """The state shown in a ``w`` x ``h`` canvas that fits a ``cols`` x ``rows`` image (fit 2x)."""
    return replace(state, viewport=Viewport.fitted(w, h, cols, rows))


def pointer_at(state, u, v):
    """The pointer over the image at view position (u, v) (a probe is there)."""
    return on_hover(state, 1, 1, 0.0, at=(u, v))


class TestViewport:
    """The geometry, worked by hand: u + 0.5 = (x - cx) * zoom + W / 2 (pixel i covers [i, i+1))."""

    def test_fitted(self):
        vp = Viewport.fitted(400, 300, 200, 150)
        assert (vp.fit, vp.zoom, vp.cx, vp.cy) == (2.0, 2.0, 100.0, 75.0) and vp.shows_all()
        assert vp.to_image(0, 0) == (0.25, 0.25)  # view pixel 0 shows half of image pixel 0
        assert vp.pixel_at(0, 0) == (0, 0) and vp.pixel_at(399, 299) == (199, 149)
        assert vp.to_view(100.0, 75.0) == (200.0, 150.0)

    def test_zoom_keeps_the_point_under_the_anchor(self):
        vp = Viewport.fitted(400, 300, 200, 150)
        z = vp.zoomed(8.0, (100.5, 80.5))
        assert z.zoom == 8.0
        assert z.to_image(100, 80) == pytest.approx(vp.to_image(100, 80))
        assert z.region() == pytest.approx((z.cx - 25, z.cy - 18.75, z.cx + 25, z.cy + 18.75))

    def test_limits(self):
        vp = Viewport.fitted(400, 300, 200, 150)
        assert vp.zoomed(1000.0).zoom == 32.0 and vp.zoomed(0.001).zoom == 1 / 16
        big = Viewport.fitted(100, 80, 4000, 3200)  # fit 1/40: below 1/16, the fit is the limit
        assert big.zoomed(0.001).zoom == big.fit

    def test_powers_of_sqrt2_are_exact(self):
        vp = Viewport.fitted(512, 512, 512, 512)  # 1:1
        for _ in range(6):
            vp = vp.stepped(1)
        assert vp.zoom == 8.0  # not 8.000000000000002

    def test_pan_stops_at_the_margin(self):
        vp = Viewport.fitted(400, 300, 200, 150).zoomed(4.0)  # 800 x 600 of image: pannable
        far = vp.panned_from((vp.cx, vp.cy), 10_000, 10_000)  # dragged far right and down
        # the image's left edge may come 10 % of the canvas (40 px) inside the view, no further
        assert far.to_view(0, 0) == pytest.approx((40.0, 30.0))
        near = vp.panned_from((vp.cx, vp.cy), -10_000, -10_000)
        assert near.to_view(200, 150) == pytest.approx((360.0, 270.0))

    def test_an_image_that_fits_is_centred(self):
        vp = Viewport.fitted(400, 300, 200, 150)
        assert vp.panned_from((vp.cx, vp.cy), 50, 50) == vp  # at the fit: nothing to pan
        small = vp.zoomed(1.0)
        assert small.to_view(0, 0) == (100.0, 75.0) and small.shows_all()


class TestZoomKeys:
    @pytest.mark.parametrize("key", ["+", "="])
    def test_in_around_the_pointer(self, st, img, key):
        s = pointer_at(viewed(st), 300, 100)
        before = s.viewport.to_image(300, 100)
        z = on_key(s, key, img)
        assert z.zoom == pytest.approx(2.0 * 2**0.5)
        assert z.viewport.to_image(300, 100) == pytest.approx(before)

    def test_around_the_centre_when_the_pointer_is_off_the_image(self, st, img):
        s = on_hover(viewed(st), None, None, at=(300, 100))  # pointer seen, but no image under it
        z = on_key(s, "+", img)
        assert (z.viewport.cx, z.viewport.cy) == (100.0, 75.0)

    def test_out_fit_and_one_to_one(self, st, img):
        s = viewed(st)
        out = on_key(s, "-", img)
        assert out.zoom == pytest.approx(2**0.5) and out.viewport.shows_all()
        one = on_key(s, "z", img)
        assert one.zoom == 1.0
        fit = on_key(keys(s, "++++", img), "f", img)
        assert fit.viewport == s.viewport

    def test_range_by_keys(self, st, img):
        s = viewed(st)
        assert keys(s, "+" * 40, img).zoom == 32.0
        assert keys(s, "-" * 40, img).zoom == 1 / 16

    def test_ctrl_wheel_zooms_around_the_event(self, st):
        s = viewed(st)
        before = s.viewport.to_image(50, 250)
        z = on_wheel(s, 120, ctrl=True, x=50, y=250)  # away from the user: in
        assert z.zoom > s.zoom and z.frame == s.frame
        assert z.viewport.to_image(50, 250) == pytest.approx(before)
        assert on_wheel(z, -120, ctrl=True, x=50, y=250).zoom == pytest.approx(s.zoom)

    def test_x_toggles_nearest_neighbour(self, st, img):
        s = on_key(st, "x", img)
        assert s.smooth is False and "zoom 100%  nearest" in annotation_lines(s)
        assert on_key(s, "x", img).smooth is True

    def test_annotation_shows_the_region_when_magnified(self, st, img):
        s = viewed(st)
        assert not any(line.startswith("view ") for line in annotation_lines(s))
        z = on_key(pointer_at(s, 0, 0), "+", img)  # 283 % around the top left
        lines = annotation_lines(z)
        assert "zoom 282.8%" in lines
        x0, y0, x1, y1 = z.viewport.region()
        assert f"view x {int(x0)}-{int(np.ceil(x1)) - 1}  y {int(y0)}-{int(np.ceil(y1)) - 1}" in lines


class TestPan:
    @pytest.mark.parametrize("button", ["right", "middle"])
    def test_drag_moves_the_image_with_the_pointer(self, st, button):
        s = replace(viewed(st), viewport=viewed(st).viewport.zoomed(8.0))
        x, y = s.viewport.to_image(200, 150)
        s = on_drag(on_button_down(s, 200, 150, button), 240, 130, 400, 300)
        # the image point that was under (200, 150) is now under (240, 130): 40 and -20 view pixels
        assert s.viewport.to_image(240, 130) == pytest.approx((x, y))
        assert (s.center, s.width) == (st.center, st.width)  # a pan is not a window drag
        assert on_button_up(s).drag is None

    def test_a_left_drag_still_windows(self, st):
        s = drag(viewed(st), 100, 0, 819, 455)
        assert s.width == 900.0 and s.viewport == viewed(st).viewport


# ------------------------------------------------------------------ cine


class TestCine:
    def test_space_plays_and_pauses(self, st, img):
        s = on_key(st, "space", img)
        assert s.playing and s.fps == 10.0  # a multi-frame file without a rate
        assert not on_key(s, "space", img).playing
        one = initial_state(FakeImage(n_frames=1))
        assert not on_key(one, "space", img).playing and on_key(one, "space", img).message

    def test_the_clock_paces_the_frames(self, st, img):
        s = on_tick(on_key(st, "space", img), 100.0)  # playback starts: frame 0 at t = 100 s
        assert s.frame == 0 and C.next_tick(s, 100.0) == pytest.approx(0.1)
        assert on_tick(s, 100.05) is s  # not due yet
        s = on_tick(s, 100.1)
        assert s.frame == 1
        s = on_tick(s, 100.35)  # rendering was slow: frame 2 skipped
        assert s.frame == 3
        assert on_tick(s, 100.5).frame == 0  # 5 frames: it loops

    def test_achieved_rate(self, st, img):
        s = on_tick(on_key(st, "space", img), 0.0)
        for t in (0.1, 0.3, 0.5):  # every other frame shown: 5 fps achieved
            s = on_tick(s, t)
        assert achieved_fps(s) == pytest.approx(3 / 0.5)
        assert "play 10 fps  achieved 6.0 fps" in annotation_lines(s)

    def test_brackets_halve_and_double(self, st, img):
        s = on_key(st, "]", img)
        assert s.fps == 20.0 and on_key(on_key(s, "[", img), "[", img).fps == 5.0
        assert keys(st, "[" * 20, img).fps == C.CINE_FPS_RANGE[0]

    def test_rate_change_re_paces_from_the_frame_shown(self, st, img):
        s = on_tick(on_tick(on_key(st, "space", img), 0.0), 0.25)  # frame 2 at 10 fps
        s = on_tick(on_key(s, "]", img), 0.26)  # 20 fps from frame 2 now
        assert (s.frame, s.cine_clock) == (2, (0.26, 2))
        assert on_tick(s, 0.31).frame == 3

    @pytest.mark.parametrize("event", ["n", "b", "Home", "End", "Right", "wheel", "trackbar"])
    def test_any_frame_key_pauses(self, st, img, event):
        s = on_tick(on_tick(on_key(replace(st, frame=2), "space", img), 0.0), 0.1)
        if event == "wheel":
            s = on_wheel(s, -120)
        elif event == "trackbar":
            s = on_trackbar(s, "frame", 1)
        else:
            s = on_key(s, event, img)
        assert not s.playing and on_tick(s, 5.0) is s

    def test_rate_from_the_file_or_the_defaults(self):
        assert initial_state(FakeImage(cine_rate=(30.0, "CineRate"))).fps == 30.0
        assert initial_state(FakeImage(is_series=True)).fps == 20.0
        assert initial_state(FakeImage()).fps == 10.0


# ------------------------------------------------------------------ windows that fit the image


def cr_image(**kw):
    """A CR: MONOCHROME1, values 0..4095 with no unit (not HU), no stored window unless given."""
    return FakeImage(
        n_frames=1,
        vois=[],
        unit="",
        modality="CR",
        value_range=(0.0, 4095.0),
        minmax=Window(2048.0, 4096.0, explanation="min-max"),
        auto=(1800.0, 2400.0),
        **kw,
    )


class TestChoices:
    def test_ct_cycle_is_the_presets(self, st):
        assert [c.label for c in st.choices] == list(PRESETS)
        assert help_rows(st) == list(HELP)

    def test_hu_decides_not_the_modality(self):
        pet = initial_state(FakeImage(modality="PT", unit="HU"))
        assert [c.kind for c in pet.choices] == ["preset"] * 9
        mr = initial_state(FakeImage(modality="MR", unit=""))
        assert [c.label for c in mr.choices] == [
            "file VOI 1",
            "file VOI 2",
            "file VOI LUT 3",
            "auto 0.5-99.5 %",
            "auto 2-98 %",
            "full range",
        ]

    def test_cr_p_gives_its_own_windows(self):
        im = cr_image()
        s = initial_state(im)
        assert s.minmax and s.choice == 2  # opens on min-max = the full range entry
        s = on_key(s, "p", im)  # around: auto 0.5-99.5 %
        assert (s.center, s.width, s.auto, s.preset) == (1800.0, 2400.0, (0.5, 99.5), None)
        s = on_key(s, "p", im)
        assert (s.center, s.width, s.auto) == (1002.0, 2098.0, (2.0, 98.0))
        s = on_key(s, "p", im)  # full range: the frame's data
        assert (s.center, s.width) == (2047.5, 4095.0) and window_label_of(s) == "full range"
        assert on_key(s, "P", im).auto == (2.0, 98.0)

    def test_digits_pick_from_the_cycle(self):
        im = cr_image()
        s = initial_state(im)
        assert on_key(s, "2", im).auto == (2.0, 98.0)
        s9 = on_key(s, "9", im)
        assert (s9.center, s9.width) == (s.center, s.width) and "no window 9" in s9.message

    def test_user_presets_follow(self):
        from dcmlib.values.presets import Preset

        im = cr_image()
        s = initial_state(im, user_presets=(Preset("chest", 2000.0, 3000.0, SIGMOID),))
        s = on_key(s, "4", im)
        assert (s.preset, s.center, s.width, s.mode) == ("chest", 2000.0, 3000.0, SIGMOID)
        rows = help_rows(s)
        assert rows[0] == ("p / P", "next / previous window, around")
        assert "1 auto 0.5-99.5 %" in rows[1][1] and any("4 chest" in a for _, a in rows)

    def test_stored_windows_come_first_and_v_still_cycles(self):
        im = FakeImage(unit="", modality="MG")
        s = initial_state(im)
        assert s.choice == 0 and s.voi == 1
        s = on_key(s, "p", im)
        assert (s.voi, s.choice, s.mode) == (2, 1, SIGMOID)  # a stored window in its own function
        assert on_key(s, "v", im).choice == 2  # v: the VOI LUT, the cycle's third entry

    def test_colour_has_none(self):
        s = initial_state(FakeImage(is_color=True, value_range=(0, 255)))
        assert s.choices == ()


def window_label_of(state):
    return window_label(state)


class TestTrackbarsHoldTheWindow:
    def test_a_preset_beyond_the_data_widens_the_range(self):
        from dcmlib.values.presets import Preset

        im = cr_image()
        s = initial_state(im, user_presets=(Preset("wide", 9000.0, 30000.0),))
        assert trackbar_ranges(s)["center"] == (0, 4095)
        s = on_key(s, "4", im)
        lo, hi = trackbar_ranges(s)["center"]
        assert lo <= 9000 <= hi and trackbar_positions(s)["center"] == 9000
        assert trackbar_ranges(s)["width"][1] >= 30000 and trackbar_positions(s)["width"] == 30000

    def test_a_drag_beyond_the_range_widens_it(self, st):
        s = drag(st, 0, 2000, 100, 100)  # center + 20 spans
        assert s.center > st.scale.hi
        assert trackbar_positions(s)["center"] == s.center  # not pinned at the old end

    def test_the_drag_speed_stays_that_of_the_button_down(self, st):
        s = drag(st, 0, 2000, 100, 100)
        assert s.scale.span > st.scale.span
        back = on_drag(s, 100, 100, 100, 100)  # back to the start: the start window
        assert back.center == st.center


# ------------------------------------------------------------------ measurements


class TestMeasuring:
    def test_d_arms_the_ruler_for_the_next_left_drag(self, st, img):
        s = on_key(viewed(st), "d", img)
        assert s.tool == "ruler" and "ruler: drag with the left button" in annotation_lines(s)
        s = on_button_down(s, 100, 100)
        assert s.drag is None and s.drawing is not None  # not a window drag
        s = on_drag(s, 300, 100, 400, 300)
        assert (s.center, s.width) == (st.center, st.width)
        done = on_button_up(s)
        assert done.request == "measured" and done.tool is None and done.drawing is None
        m = done.measurements[-1]
        # view (100, 100) and (300, 100) at 2x: image points (50.25, 50.25) and (150.25, 50.25)
        assert (m.kind, m.frame, m.x0, m.y0, m.x1, m.y1) == ("ruler", 0, 50.25, 50.25, 150.25, 50.25)

    def test_points_are_image_coordinates_at_any_zoom_and_pan(self, st, img):
        s = viewed(st)
        s = replace(s, viewport=s.viewport.zoomed(8.0, (10.5, 10.5)))
        s = on_button_up(on_drag(on_button_down(on_key(s, "e", img), 40, 40), 120, 80, 400, 300))
        m = s.measurements[-1]
        assert m.kind == "ellipse"
        assert (m.x0, m.y0) == pytest.approx(s.viewport.to_image(40, 40))
        assert (m.x1 - m.x0, m.y1 - m.y0) == pytest.approx((10.0, 5.0))  # 80 x 40 view pixels at 8x

    def test_a_click_keeps_the_tool_armed(self, st, img):
        s = on_button_up(on_button_down(on_key(viewed(st), "d", img), 10, 10))
        assert s.tool == "ruler" and s.measurements == () and s.request is None

    def test_d_twice_disarms_and_c_clears(self, st, img):
        assert on_key(on_key(st, "d", img), "d", img).tool is None
        s = on_button_up(on_drag(on_button_down(on_key(viewed(st), "d", img), 0, 0), 9, 9, 400, 300))
        s = on_key(s, "e", img)
        cleared = on_key(s, "c", img)
        assert cleared.measurements == () and cleared.tool is None

    def test_colour_images_measure_too(self, img):
        s = viewed(initial_state(FakeImage(is_color=True, value_range=(0, 255))))
        s = on_button_up(on_drag(on_button_down(on_key(s, "d", img), 0, 0), 9, 0, 400, 300))
        assert len(s.measurements) == 1


def test_a_slice_with_fewer_stored_windows_says_so():
    """The cycle is built from the first slice; a later slice storing fewer VOIs gives a message, no error."""
    im = FakeImage(unit="", modality="MR", vois=[Window(40.0, 400.0), Window(80.0, 200.0)])
    s = initial_state(im)
    im._vois = [Window(40.0, 400.0)]
    s2 = on_key(s, "2", im)
    assert (s2.center, s2.width) == (s.center, s.width) and "stores 1 VOI, not 2" in s2.message


# ------------------------------------------------------------------ per-frame windows (issue 22, item 4)

#: The window each frame of the enhanced MR stores (Frame VOI LUT, PS3.3 C.7.6.16.2.10), in modality
#: units: frame 1's is narrow and low, like a Philips MPRAGE's first frame (13 / 23).
MR_WINDOWS = [(13.0, 23.0), (500.0, 900.0), (1067.0, 1855.0), (2000.0, 1000.0), (300.0, 200.0)]


def mr_per_frame(slope=2.1):
    """An enhanced MR, 12 bits stored, Rescale Slope 2.1: frame 1 holds stored 0..10 (0..21), the others
    up to stored 400 * (i + 1); each frame stores its own window (:data:`MR_WINDOWS`)."""
    import dcmlib
    from helpers import per_frame_windows, ramp

    stored = np.stack([ramp(16, 16, 0, 10 if i == 0 else 400 * (i + 1), np.uint16) for i in range(5)])
    return dcmlib.load(per_frame_windows(stored, MR_WINDOWS, slope=slope))


def shown(state):
    return state.center, state.width


class TestPerFrameWindows:
    """A multi-frame file whose frames store their own windows shows each frame with its own, as
    ``--export --frame N`` renders it, until the user changes the window; a series keeps the window."""

    @pytest.fixture
    def mr(self):
        return mr_per_frame()

    @pytest.mark.parametrize(
        "step",
        [
            lambda s, im, f: on_key(s, "n", im),
            lambda s, im, f: on_wheel(s, -120, image=im),
            lambda s, im, f: on_trackbar(s, "frame", f + 1, im),
        ],
        ids=["key", "wheel", "trackbar"],
    )
    def test_each_frame_shows_its_own_window(self, mr, step):
        s = initial_state(mr)
        assert shown(s) == MR_WINDOWS[0] and "file VOI 1/1" in annotation_lines(s)
        for f in range(1, 5):
            s = step(s, mr, f)
            c, w = MR_WINDOWS[f]
            assert s.frame == f and shown(s) == (c, w)
            assert f"C {c:g}  W {w:g}  linear" in annotation_lines(s) and "file VOI 1/1" in annotation_lines(s)
            assert trackbar_positions(s)["center"] == c and trackbar_positions(s)["width"] == w

    def test_home_end_and_cine(self, mr):
        s = on_key(initial_state(mr), "End", mr)
        assert shown(s) == MR_WINDOWS[4]
        assert shown(on_key(s, "Home", mr)) == MR_WINDOWS[0]
        s = on_tick(on_key(initial_state(mr), "space", mr), 0.0, mr)  # 10 fps: frame 3 at 0.2 s
        s = on_tick(s, 0.2, mr)
        assert s.frame == 2 and shown(s) == MR_WINDOWS[2]

    def test_opened_on_a_frame_and_back_to_the_file_window(self, mr):
        s = initial_state(mr, frame=3)
        assert shown(s) == MR_WINDOWS[3]
        s = on_key(on_key(s, "a", mr), "n", mr)  # the user's auto window stays ...
        assert s.auto is not None and shown(s) != MR_WINDOWS[4]
        s = on_key(s, "0", mr)  # ... until 0: the frame's own
        assert shown(s) == MR_WINDOWS[4]
        assert shown(on_key(s, "b", mr)) == MR_WINDOWS[3]  # and it follows again

    @pytest.mark.parametrize(
        "change",
        [
            lambda s, im: drag(s, 10, 5, 100, 100),
            lambda s, im: on_trackbar(s, "center", 30, im),
            lambda s, im: on_trackbar(s, "width", 40, im),
            lambda s, im: on_key(s, "a", im),
            lambda s, im: on_key(s, "p", im),
        ],
        ids=["drag", "center", "width", "auto", "cycle"],
    )
    def test_a_window_the_user_chose_stays(self, mr, change):
        s = change(initial_state(mr), mr)
        assert shown(s) != MR_WINDOWS[0]
        for key in ("n", "n", "End"):
            nxt = on_key(s, key, mr)
            assert shown(nxt) == shown(s) and nxt.frame > s.frame
            s = nxt

    def test_a_mode_chosen_with_m_stays(self, mr):
        s = on_key(on_key(initial_state(mr), "m", mr), "n", mr)  # linear-exact, then frame 2
        assert shown(s) == MR_WINDOWS[1] and s.mode is LINEAR_EXACT
        assert snapshot_name("mr", s, "/nonexistent").name == "mr_f2_c500_w900_linear-exact.png"

    def test_without_the_image_the_window_stays(self, mr):
        s = initial_state(mr)
        assert shown(on_key(s, "n")) == MR_WINDOWS[0]

    def test_a_series_keeps_the_window(self, tmp_path):
        """A folder of slices is one volume: its slices' windows do not follow (today's behaviour)."""
        import dcmlib
        from helpers import make_ds, ramp, write_ds

        uid = generate_uid()
        for i, (c, w) in enumerate(MR_WINDOWS[:3]):
            write_ds(
                make_ds(
                    ramp(8, 8, 0, 1000 * (i + 1)),
                    SeriesInstanceUID=uid,
                    InstanceNumber=i + 1,
                    ImagePositionPatient=[0.0, 0.0, float(i)],
                    ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                    WindowCenter=c,
                    WindowWidth=w,
                ),
                tmp_path / f"{i}.dcm",
            )
        series = dcmlib.load(tmp_path)
        assert series.is_series and tuple(series.default_window(2))[:2] == MR_WINDOWS[2]
        s = initial_state(series)
        assert shown(on_key(on_key(s, "n", series), "n", series)) == MR_WINDOWS[0]


# ------------------------------------------------------------------ trackbars in the image's units (item 6)


class TestTrackbarUnits:
    """The trackbars read the window in the image's units: step 1 where the stored bits span 100 units or
    more through the rescale, else a finer step the trackbar's name says; the range holds the window."""

    def test_8_bit_reads_the_window(self):
        import dcmlib
        from helpers import make_ds

        us = dcmlib.load(
            make_ds(np.tile(np.arange(256, dtype=np.uint8), (4, 1)), Modality="US", WindowCenter=128, WindowWidth=256)
        )
        s = initial_state(us)
        # 0..255 (8 bits, no rescale): step 1; the window's ends 0..256 lie within what 8 bits express, bar 256
        assert trackbar_ranges(s) == {"center": (0, 255), "width": (1, 510), "mode": (0, 2)}
        assert trackbar_positions(s) == {"center": 128, "width": 256, "mode": 0}
        assert "C 128  W 256  linear" in annotation_lines(s)
        assert shown(on_trackbar(s, "center", 100)) == (100.0, 256.0)

    def test_slope_2_1_multi_frame_never_pinned(self):
        mr = mr_per_frame()
        s = initial_state(mr)
        names = set(trackbar_ranges(s))
        assert names == {"center", "width", "mode", "frame"}  # 12 bits x 2.1 = 0..8599.5: step 1
        for f in range(5):
            c, w = MR_WINDOWS[f]
            ranges = trackbar_ranges(s)
            assert set(ranges) == names  # the trackbars keep their names
            assert ranges["center"][0] < s.scale.to_pos(c) < ranges["center"][1], f
            assert ranges["width"][0] < s.scale.to_pos(w) < ranges["width"][1], f
            assert (trackbar_positions(s)["center"], trackbar_positions(s)["width"]) == (c, w)
            s = on_key(s, "n", mr)

    def test_ct_reads_hu(self):
        import dcmlib
        from helpers import make_ds, ramp

        # stored 0..3000, intercept -1024: -1024..1976 HU; 16 bits signed express -33792..31743 HU
        ct = dcmlib.load(
            make_ds(ramp(16, 16, 0, 3000), RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
        )
        s = initial_state(ct)
        assert trackbar_ranges(s) == {"center": (-1024, 1976), "width": (1, 6000), "mode": (0, 2)}
        assert trackbar_positions(s) == {"center": 40, "width": 400, "mode": 0}
        s = on_key(s, "1", ct)  # lung: -600 / 1500
        assert (trackbar_positions(s)["center"], trackbar_positions(s)["width"]) == (-600, 1500)
        assert set(trackbar_ranges(s)) == {"center", "width", "mode"}

    def test_small_float_range_says_its_step(self):
        import dcmlib
        from helpers import make_ds

        # Float Pixel Data 0..1 (PS3.3 C.7.6.3.1.4): 100 positions need a step of 0.01
        values = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
        img = dcmlib.load(
            make_ds(values, Modality="OT", WindowCenter=0.25, WindowWidth=0.5, VOILUTFunction="LINEAR_EXACT")
        )
        s = initial_state(img)
        assert trackbar_ranges(s) == {"center x0.01": (0, 100), "width x0.01": (1, 200), "mode": (0, 2)}
        assert trackbar_positions(s) == {"center x0.01": 25, "width x0.01": 50, "mode": 1}
        s = on_trackbar(on_trackbar(s, "center x0.01", 30), "width x0.01", 20)
        assert shown(s) == (0.3, 0.2)  # value = position x 0.01
        assert "C 0.3  W 0.2  linear-exact" in annotation_lines(s)

    def test_a_new_image_under_the_same_window_keeps_the_trackbars(self):
        """``t`` (another plane) and ``g`` (a presentation state) open a new image under the same HighGUI
        trackbars: initial_state(step=) keeps their names whatever the new image's range."""
        im = FakeImage(value_range=(0.0, 1.0), vois=[Window(0.5, 1.0)], unit="")
        assert set(trackbar_ranges(initial_state(im))) == {"center x0.01", "width x0.01", "mode", "frame"}
        assert set(trackbar_ranges(initial_state(im, step=1.0))) == {"center", "width", "mode", "frame"}

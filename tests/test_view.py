"""What the viewer shows (dcmlib.viewer.view), headless: no window, no HighGUI.

The viewport must be the export's picture resized (nearest neighbour when
enlarging), the ``s`` snapshot the export itself; annotations and the help
panel are drawn on a copy; a frame that cannot be decoded shows its error.
"""

from __future__ import annotations

import ast
import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import dcmlib
from dcmlib.viewer import controls, view
from dcmlib.viewer.keys import HELP
from dcmlib.viewer.labels import help_rows
from dcmlib.viewer.state import Measurement
from dcmlib.viewer.view import View, fit_zoom, render_options
from helpers import damaged_series, make_ds, per_frame_windows, pydicom_file, ramp


@pytest.fixture
def ct():
    return dcmlib.load(pydicom_file("CT_small.dcm"))


def nearest(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST)


class TestFitZoom:
    def test_small_images_grow_by_a_whole_factor(self):
        assert fit_zoom(128, 128, (1280, 1024)) == 4.0  # up to MIN_VIEW = 512
        assert fit_zoom(512, 512, (1280, 1024)) == 1.0

    def test_large_images_shrink_to_the_screen_less_the_trackbars(self):
        # 92 % of the screen: 1766 x 993 px, less 170 px of trackbars: the height limits, 823 / 3328
        assert fit_zoom(3328, 4096, (1920, 1080)) == 823 / 3328


class TestViewport:
    def test_view_is_the_export_resized(self, ct):
        """With nearest neighbour (x), the view at a whole zoom is the export's pixels, repeated."""
        v = View(ct, controls.initial_state(ct, center=-300, width=50, mode="sigmoid", invert=True))
        assert v.size == (512, 512) and v.state.zoom == 4.0
        v.set_state(controls.on_key(v.state, "x", ct))
        full = ct.render(-300, 50, mode="sigmoid", invert=True)
        assert np.array_equal(v.render_view(), nearest(full, v.size))
        assert np.array_equal(v.full_resolution(), full)

    def test_a_stored_voi_lut_is_rendered_by_its_number(self):
        item = Dataset()
        item.LUTDescriptor = [256, 0, 8]
        item.LUTData = list(range(255, -1, -1))  # a reversing VOI LUT
        img = dcmlib.load(make_ds(ramp(16, 16, 0, 255, np.uint16), VOILUTSequence=Sequence([item])))
        v = View(img)
        v.set_state(controls.on_key(v.state, "x", img))
        assert (v.state.lut, v.state.voi) == (True, 1)
        assert render_options(v.state).window == {"center": None, "width": None, "mode": None, "voi": 1, "preset": None}
        assert np.array_equal(v.render_view(), nearest(img.render(voi=1), v.size))
        assert v.render_view()[0, 0] == 255  # reversed: the lowest value is white

    def test_rewindowed_only_when_the_picture_changes(self, ct):
        v = View(ct)
        v.render_view()
        assert v.renders == 1
        assert v.set_state(controls.on_button_down(v.state, 5, 5)) is False  # a drag origin is not seen
        assert v.set_state(controls.on_hover(v.state, 1, 2, 3.0)) is True
        v.render_view()
        assert v.renders == 1  # the probe is text: no re-windowing
        v.set_state(controls.on_trackbar(v.state, "center", 100))
        v.render_view()
        assert v.renders == 2

    def test_a_message_alone_is_shown(self):
        img = dcmlib.load(make_ds(ramp(8, 8, 0, 100)))  # no stored VOI: v says so
        v = View(img)
        assert v.set_state(controls.on_key(v.state, "v", img)) is True
        assert "no VOI stored in the file" in v.annotation_lines()

    def test_padding_is_background(self):
        arr = np.full((64, 64), 1000, dtype=np.uint16)
        arr[:, :16] = 0
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
        v = View(img)
        full = img.render()
        assert full[:, :16].max() == 0 and full[:, 16:].min() > 0
        assert np.array_equal(v.render_view(), nearest(full, v.size))

    def test_colour_is_bgr_and_inverts(self):
        rgb = np.zeros((40, 50, 3), np.uint8)
        rgb[..., 0] = 200
        img = dcmlib.load(make_ds(rgb, SamplesPerPixel=3, PhotometricInterpretation="RGB"))
        v = View(img)
        assert render_options(v.state).window == {
            "center": None,
            "width": None,
            "mode": None,
            "voi": None,
            "preset": None,
        }
        assert tuple(v.render_view()[5, 5]) == (0, 0, 200)
        v.set_state(controls.on_key(v.state, "i", img))
        assert tuple(v.render_view()[5, 5]) == (255, 255, 55)
        assert np.array_equal(v.full_resolution(), img.render(invert=True))


class TestCompose:
    def test_annotations_on_a_copy(self, ct):
        v = View(ct)
        out = v.compose()
        plain = cv2.cvtColor(v.render_view(), cv2.COLOR_GRAY2BGR)
        assert out.shape == (512, 512, 3) and out.dtype == np.uint8
        assert not np.array_equal(out[:120, :200], plain[:120, :200])  # text at the top left
        assert np.array_equal(out[-40:, -40:], plain[-40:, -40:])  # none in the corner
        assert v.annotation_lines()[0] == "CT_small.dcm"
        v.set_state(controls.on_key(v.state, "o", ct))
        assert np.array_equal(v.compose(), plain)

    def test_help_panel_darkens_the_top(self, ct):
        v = View(ct, controls.initial_state(ct, center=0, width=1))  # everything above 0 HU white
        v.set_state(replace(v.state, help=True))
        out = v.compose()
        plain = cv2.cvtColor(v.render_view(), cv2.COLOR_GRAY2BGR)
        assert out.mean() < plain.mean() / 2  # darkened, light text on it
        rows = help_rows(v.state)
        assert len(rows) == len(HELP)  # a CT: the CT presets' rows

    @pytest.mark.parametrize("screen, side", [((1280, 1024), 512), ((800, 600), 256)])
    def test_help_panel_fits_a_small_window(self, ct, screen, side):
        """Every key row is on the panel: the panel ends above the window's bottom edge."""
        v = View(ct, controls.initial_state(ct, center=-2000, width=1), screen=screen)  # all white
        v.set_state(replace(v.state, help=True))
        out = v.compose()
        assert out.shape[:2] == (side, side) and (out[-3:] == 255).all()  # not darkened, no text
        # at 256 pixels not every row fits legibly: the last row shown says where the others are
        if side == 256:
            rows = help_rows(v.state)
            assert len(rows) > 20  # the whole list would need about 8 px a row

    def test_patient_only_when_asked(self):
        img = dcmlib.load(make_ds(ramp(8, 8, 0, 100)))
        assert not any("Doe" in line for line in View(img).annotation_lines())
        assert "Doe^Jane  PID-12345" in View(img, show_patient=True).annotation_lines()

    def test_a_frame_that_cannot_be_decoded_shows_its_error(self, tmp_path):
        img = dcmlib.load(damaged_series(tmp_path), read_ahead=False)
        heard = []
        v = View(img, on_warning=heard.append)
        v.set_state(controls.on_key(v.state, "n", img))
        out = v.compose()
        v.compose()
        assert out.max() > 0 and out[80:].max() == 0  # the message only
        assert v.failed(1) and not v.failed(0)
        assert len(heard) == 1 and heard[0].startswith("frame 2: ")
        assert v.hover(v.state, 10, 10).probe is None


def test_no_process_wide_side_effects(ct):
    """The library's view leaves the environment alone (the shell points Qt at fonts itself)."""
    before = dict(os.environ)
    View(ct).compose()
    assert dict(os.environ) == before
    assert not hasattr(view, "ensure_qt_fonts")


def test_the_package_never_imports_the_app():
    """dcmlib (benchmarks included) depends on nothing in dcmview.py."""
    root = Path(dcmlib.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {n for n in names if n.split(".")[0] == "dcmview"}, path


# ------------------------------------------------------------------ zoom, pan, interpolation


def corner_image(rows=128, cols=128):
    """Dark, with a bright 4 x 4 block in the top-left corner and one bright pixel at (100, 90)."""
    arr = np.full((rows, cols), 100, np.uint16)
    arr[:4, :4] = 3000
    if rows > 90 and cols > 100:
        arr[90, 100] = 3000
    return dcmlib.load(make_ds(arr, Modality="OT", WindowCenter=1500, WindowWidth=3000))


def keyed(v, img, *names):
    for k in names:
        v.set_state(controls.on_key(v.state, k, v.source))
    return v


class TestZoomPan:
    def test_zoom_in_on_the_corner_shows_it_magnified(self):
        img = corner_image()
        v = View(img)  # 128 x 128 at 4x
        v.set_state(v.hover(v.state, 0, 0))  # the pointer on the top-left pixel
        keyed(v, img, "x", "+", "+")  # nearest neighbour, 8x around the pointer
        assert v.state.zoom == 8.0
        out = v.render_view()
        vp = v.state.viewport
        u, w = vp.to_view(0, 0)[0], vp.to_view(4, 4)[0]  # the block's left and right edges
        assert round(w - u) == 32  # 4 pixels at 8x
        block = out[int(np.ceil(vp.to_view(0, 0)[1])) : int(vp.to_view(4, 4)[1]), int(np.ceil(u)) : int(w)]
        assert block.size and block.min() > 200  # bright, magnified
        assert out[int(vp.to_view(0, 5)[1]) + 2 :, :].max() < 60  # below it: dark

    def test_pan_moves_the_picture_by_the_drag(self):
        img = corner_image()
        v = keyed(View(img), img, "x", "+", "+")  # 8x around the centre
        before = v.render_view().copy()
        s = controls.on_button_down(v.state, 200, 200, "right")
        v.set_state(controls.on_drag(s, 160, 176, *v.size))  # 40 px left, 24 px up = 5 and 3 image pixels
        after = v.render_view()
        assert np.array_equal(after[:-24, :-40], before[24:, 40:])

    def test_zoomed_out_is_centred_on_black(self):
        img = dcmlib.load(make_ds(np.full((64, 96), 100, np.uint16), WindowCenter=50, WindowWidth=100))
        v = keyed(View(img), img, "-", "-")
        vp = v.state.viewport
        out = v.render_view()
        (u0, v0), (u1, v1) = vp.to_view(0, 0), vp.to_view(96, 64)
        assert (u0 + u1) / 2 == pytest.approx(v.size[0] / 2) and out.shape[:2] == (v.size[1], v.size[0])
        assert out[:, : int(u0) - 1].max() == 0 and out[:, int(u1) + 1 :].max() == 0  # outside: black
        assert out[int(v0) + 1 : int(v1) - 1, int(u0) + 1 : int(u1) - 1].min() > 0

    def test_the_probe_reads_the_source_pixel_at_any_zoom_and_pan(self):
        img = corner_image()
        v = keyed(View(img), img, "+", "+", "+")
        s = controls.on_button_down(v.state, 100, 100, "middle")
        v.set_state(controls.on_button_up(controls.on_drag(s, 37, 151, *v.size)))
        vp = v.state.viewport
        for u, w in [(0, 0), (255, 300), (511, 511), (123, 45)]:
            x, y = vp.to_image(u, w)  # the documented mapping, pixel centre
            probe = v.hover(v.state, u, w).probe
            assert probe[:2] == (int(np.floor(x)), int(np.floor(y)))
            assert probe[2] == float(img.values(0)[probe[1], probe[0]])
        # the bright pixel (100, 90): hover where the view shows it
        cu, cv_ = vp.to_view(100.5, 90.5)
        if 0 <= cu < 512 and 0 <= cv_ < 512:
            assert v.hover(v.state, int(cu), int(cv_)).probe == (100, 90, 3000.0)

    def test_smooth_magnification_interpolates_and_x_shows_the_pixels(self):
        img = corner_image()
        v = keyed(View(img), img, "+")  # 5.66x, bicubic
        smooth = v.render_view().copy()
        keyed(v, img, "x")
        nearest_ = v.render_view()
        # a step edge: nearest neighbour has only the two levels, bicubic the ones in between too
        assert len(np.unique(nearest_)) <= 3 < len(np.unique(smooth))

    def test_minified_from_the_pyramid_is_area_averaged(self):
        arr = (np.indices((1200, 1600)).sum(0) % 4096).astype(np.uint16)
        img = dcmlib.load(make_ds(arr, Modality="OT", WindowCenter=2048, WindowWidth=4096))
        v = View(img, screen=(1280, 1024))  # fit 0.66: from level 0
        keyed(v, img, "-", "-")  # 0.33: from level 1 (half size)
        vals, _, _ = v.resampled()
        direct = cv2.resize(img.values(0), (vals.shape[1], vals.shape[0]), interpolation=cv2.INTER_AREA)
        assert np.abs(vals.astype(float) - direct).mean() < 2.0  # an average of averages, not a subsample

    def test_only_the_visible_region_is_resampled_and_a_window_change_reuses_it(self):
        img = corner_image()
        v = keyed(View(img), img, "+", "+")
        v.render_view()
        n, r = v.resamples, v.renders
        v.set_state(controls.on_trackbar(v.state, "center", 500))
        v.render_view()
        assert (v.resamples, v.renders) == (n, r + 1)
        assert v.resampled()[0].shape[:2] == (512, 512)  # view pixels, not the image's

    def test_padding_stays_background_when_magnified(self):
        arr = np.full((64, 64), 1000, dtype=np.uint16)
        arr[:, :16] = 0
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
        v = keyed(View(img), img, "+")  # bicubic across the padding edge
        out = v.render_view()
        vp = v.state.viewport
        edge = vp.to_view(16, 0)[0]
        assert out[:, : int(edge) - 1].max() == 0 and out[:, int(edge) + 2 :].min() > 0

    def test_overview_only_when_part_is_hidden(self):
        img = corner_image()
        v = View(img)
        plain = cv2.cvtColor(v.render_view(), cv2.COLOR_GRAY2BGR)
        assert np.array_equal(v.compose()[-60:, -60:], plain[-60:, -60:])
        keyed(v, img, "+", "+")
        out = v.compose()
        plain = cv2.cvtColor(v.render_view(), cv2.COLOR_GRAY2BGR)
        corner = out[-20:, -20:].astype(int) - plain[-20:, -20:]
        assert np.abs(corner).max() > 0  # the thumbnail and its frame
        assert "view x" in " ".join(v.annotation_lines())


# ------------------------------------------------------------------ measurements


class TestMeasurements:
    def spaced(self):
        """200 x 100, 0.5 mm between rows and 0.25 mm between columns; values: the column index."""
        arr = np.tile(np.arange(200, dtype=np.int16), (100, 1))
        return dcmlib.load(make_ds(arr, PixelSpacing=[0.5, 0.25], WindowCenter=100, WindowWidth=200))

    def test_ruler_line_at_zoom_and_pan(self):
        img = self.spaced()
        v = keyed(View(img), img, "+", "d")
        s = controls.on_button_down(v.state, 100, 200)
        s = controls.on_button_up(controls.on_drag(s, 100 + 160, 200, *v.size))
        v.set_state(s)
        # 160 view pixels across at zoom z are 160 / z columns of 0.25 mm
        cols = 160 / v.state.zoom
        assert v.measurement_line(s.measurements[-1]) == f"distance {cols * 0.25:.2f} mm ({cols:.1f} px)"

    def test_roi_line_against_the_values(self):
        img = self.spaced()
        v = View(img)
        m = Measurement("ellipse", 0, 20.0, 10.0, 60.0, 50.0)  # centre column 40
        line = v.measurement_line(m)
        assert line.startswith("roi mean 39.5 sd ") and " HU n " in line  # columns 20..59, symmetric
        assert line.endswith(f"area {np.pi * 20 * 0.25 * 20 * 0.5:.1f} mm2")

    def test_drawn_on_the_view_and_kept_with_the_frame(self):
        img = self.spaced()
        v = keyed(View(img), img, "d")
        plain = v.compose()
        s = controls.on_button_up(controls.on_drag(controls.on_button_down(v.state, 50, 150), 350, 150, *v.size))
        v.set_state(s)
        out = v.compose()
        row = out[150, 60:340].astype(int)
        assert (np.abs(row - plain[150, 60:340]).sum(axis=1) > 0).mean() > 0.9  # the line is there
        b, g, r = (int(c) for c in out[150, 200])
        assert b < 40 and g > 150 and r > 200  # amber (draw.MEASURE), anti-aliased
        v.set_state(controls.on_key(v.state, "o", img))
        assert not np.array_equal(v.compose()[150, 60:340], out[150, 60:340])  # o hides them too

    def test_help_lists_the_cycle_of_the_image(self):
        arr = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
        img = dcmlib.load(make_ds(arr, Modality="CR", PhotometricInterpretation="MONOCHROME1"))
        rows = help_rows(View(img).state)
        text = " ".join(a for _, a in rows)
        assert "1 auto 0.5-99.5 %" in text and "lung" not in text


def test_a_measurement_on_a_frame_that_cannot_be_read_is_one_line(tmp_path):
    img = dcmlib.load(damaged_series(tmp_path), read_ahead=False)
    v = View(img, on_warning=lambda m: None)
    line = v.measurement_line(Measurement("ellipse", 1, 2.0, 2.0, 20.0, 20.0))
    assert line.startswith("roi: frame 2 cannot be measured (")


# ------------------------------------------------------------------ per-frame windows (issue 22, item 4)


def test_a_frame_of_a_multi_frame_file_shows_and_snaps_its_own_window():
    """After moving to frame 3, the view, the annotation and the ``s`` snapshot use frame 3's stored window:
    the snapshot is ``render(frame=2)`` with no window given, which is what ``--export --frame 3`` writes."""
    stored = np.stack([ramp(16, 16, 0, 10 if i == 0 else 400 * (i + 1), np.uint16) for i in range(3)])
    windows = [(13.0, 23.0), (500.0, 900.0), (1067.0, 1855.0)]
    img = dcmlib.load(per_frame_windows(stored, windows, slope=2.1))
    v = View(img)
    v.set_state(controls.on_key(v.state, "x", img))  # nearest neighbour: the export's pixels
    for _ in range(2):
        v.set_state(controls.on_key(v.state, "n", img))
    full = img.render(frame=2)
    assert np.array_equal(v.full_resolution(), full)
    assert np.array_equal(v.render_view(), nearest(full, v.size))
    assert "C 1067  W 1855  linear" in v.annotation_lines()
    # by hand: value 2.1 * stored; linear (C.11.2.1.2.1) with 1067 / 1855: below 139.5 black, above 1994.5 white
    values = stored[2].astype(np.float64) * 2.1
    assert (full[values <= 139] == 0).all() and (full[values > 1995] == 255).all()
    assert 0 < full[(values > 600) & (values < 1500)].min() and full[(values > 600) & (values < 1500)].max() < 255


# ------------------------------------------------------------------ legible text on any image (item 7)


def _changed_box(out: np.ndarray, plain: np.ndarray, region: tuple[slice, slice]) -> np.ndarray:
    """The part of ``out`` inside ``region`` that the text drawing changed, as grey, cut to its bounding box."""
    diff = (out[region] != plain[region]).any(axis=2)
    ys, xs = np.nonzero(diff)
    assert ys.size, "nothing drawn"
    grey = cv2.cvtColor(out[region], cv2.COLOR_BGR2GRAY)
    return grey[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _assert_legible(box: np.ndarray, background_at_most: int, strokes: int = 300) -> None:
    """Dark under the text (the box's median: most of a text block is background) and light text on it."""
    assert np.median(box) <= background_at_most
    text = box[box >= 200]  # the glyphs' light strokes
    assert text.size >= strokes
    assert text.mean() - np.median(box) >= 120  # text against its own background


class TestLegibleText:
    """White text over white burned-in text was unreadable: text blocks sit on a translucent dark backing,
    the help panel on an opaque-enough dark one."""

    @pytest.fixture
    def white(self, ct):
        return View(ct, controls.initial_state(ct, center=-2000, width=1))  # every pixel above -2000 HU: white

    def test_annotations_have_a_translucent_dark_backing(self, white):
        plain = cv2.cvtColor(white.render_view(), cv2.COLOR_GRAY2BGR)
        assert (plain == 255).all()
        out = white.compose()
        box = _changed_box(out, plain, (slice(0, 200), slice(0, 200)))  # above and left of the A/P, R/L labels
        _assert_legible(box, background_at_most=115)  # white darkened by 55 % or more
        assert np.median(box) > 0  # translucent: the image shows through
        assert box.shape[0] > 5 * 14  # the whole block: file name down to "h: help"
        assert (out[-40:, -40:] == 255).all()  # the rest of the image untouched

    def test_orientation_labels_too(self, white):
        plain = cv2.cvtColor(white.render_view(), cv2.COLOR_GRAY2BGR)
        out = white.compose()
        h, w = out.shape[:2]
        box = _changed_box(out, plain, (slice(h // 2 - 20, h // 2 + 20), slice(w - 40, w)))  # right edge
        _assert_legible(box, background_at_most=115, strokes=10)  # one letter

    @pytest.mark.parametrize("invert", [False, True], ids=["white", "inverted"])
    def test_help_panel_is_dark_on_a_bright_image(self, ct, invert):
        # white directly, or black (everything below 2000 HU) inverted to white
        center = 2000 if invert else -2000
        v = View(ct, controls.initial_state(ct, center=center, width=1, invert=invert))
        v.set_state(replace(v.state, help=True))
        plain = cv2.cvtColor(v.render_view(), cv2.COLOR_GRAY2BGR)
        assert (plain == 255).all()
        out = v.compose()
        box = _changed_box(out, plain, (slice(0, out.shape[0]), slice(0, out.shape[1])))
        _assert_legible(box, background_at_most=60)  # white reads as dark grey: 75 % or more hidden

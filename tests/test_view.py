"""What the viewer shows (dcmlib.view), headless: no window, no HighGUI.

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
from pydicom.uid import generate_uid

import dcmlib
from dcmlib import controls, view
from dcmlib.view import View, fit_zoom, render_args
from helpers import make_ds, pydicom_file, ramp, write_ds


@pytest.fixture
def ct():
    return dcmlib.load(pydicom_file("CT_small.dcm"))


def nearest(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST)


class TestFitZoom:
    def test_small_images_grow_by_a_whole_factor(self):
        assert fit_zoom(128, 128, (1280, 1024)) == 4.0          # up to MIN_VIEW = 512
        assert fit_zoom(512, 512, (1280, 1024)) == 1.0

    def test_large_images_shrink_to_the_screen_less_the_trackbars(self):
        # 92 % of the screen: 1766 x 993 px, less 170 px of trackbars: the height limits, 823 / 3328
        assert fit_zoom(3328, 4096, (1920, 1080)) == 823 / 3328


class TestViewport:
    def test_view_is_the_export_resized(self, ct):
        v = View(ct, controls.initial_state(ct, center=-300, width=50, mode="sigmoid", invert=True))
        assert v.size == (512, 512) and v.state.zoom == 4.0
        full = ct.render(-300, 50, mode="sigmoid", invert=True)
        assert np.array_equal(v.render_view(), nearest(full, v.size))
        assert np.array_equal(v.full_resolution(), full)

    def test_a_stored_voi_lut_is_rendered_by_its_number(self):
        item = Dataset()
        item.LUTDescriptor = [256, 0, 8]
        item.LUTData = list(range(255, -1, -1))                 # a reversing VOI LUT
        img = dcmlib.load(make_ds(ramp(16, 16, 0, 255, np.uint16), VOILUTSequence=Sequence([item])))
        v = View(img)
        assert (v.state.lut, v.state.voi) == (True, 1)
        assert render_args(v.state) == {"voi": 1}
        assert np.array_equal(v.render_view(), nearest(img.render(voi=1), v.size))
        assert v.render_view()[0, 0] == 255                     # reversed: the lowest value is white

    def test_rewindowed_only_when_the_picture_changes(self, ct):
        v = View(ct)
        v.render_view()
        assert v.renders == 1
        assert v.set_state(controls.on_button_down(v.state, 5, 5)) is False   # a drag origin is not seen
        assert v.set_state(controls.on_hover(v.state, 1, 2, 3.0)) is True
        v.render_view()
        assert v.renders == 1                                   # the probe is text: no re-windowing
        v.set_state(controls.on_trackbar(v.state, "center", 100))
        v.render_view()
        assert v.renders == 2

    def test_a_message_alone_is_shown(self):
        img = dcmlib.load(make_ds(ramp(8, 8, 0, 100)))         # no stored VOI: v says so
        v = View(img)
        assert v.set_state(controls.on_key(v.state, "v", img)) is True
        assert "no VOI stored in the file" in v.annotation_lines()

    def test_padding_is_background(self):
        arr = np.full((64, 64), 1000, dtype=np.uint16)
        arr[:, :16] = 0
        img = dcmlib.load(make_ds(arr, PhotometricInterpretation="MONOCHROME1", PixelPaddingValue=0,
                                  WindowCenter=2000, WindowWidth=3000, Modality="MG"))
        v = View(img)
        full = img.render()
        assert full[:, :16].max() == 0 and full[:, 16:].min() > 0
        assert np.array_equal(v.render_view(), nearest(full, v.size))

    def test_colour_is_bgr_and_inverts(self):
        rgb = np.zeros((40, 50, 3), np.uint8)
        rgb[..., 0] = 200
        img = dcmlib.load(make_ds(rgb, SamplesPerPixel=3, PhotometricInterpretation="RGB"))
        v = View(img)
        assert render_args(v.state) == {}
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
        assert not np.array_equal(out[:120, :200], plain[:120, :200])   # text at the top left
        assert np.array_equal(out[-40:, -40:], plain[-40:, -40:])       # none in the corner
        assert v.annotation_lines()[0] == "CT_small.dcm"
        v.set_state(controls.on_key(v.state, "o", ct))
        assert np.array_equal(v.compose(), plain)

    def test_help_panel_darkens_the_top(self, ct):
        v = View(ct, controls.initial_state(ct, center=0, width=1))  # everything above 0 HU white
        v.set_state(replace(v.state, help=True))
        out = v.compose()
        plain = cv2.cvtColor(v.render_view(), cv2.COLOR_GRAY2BGR)
        assert not np.array_equal(out, plain)
        assert np.array_equal(out[-20:], plain[-20:])

    def test_patient_only_when_asked(self):
        img = dcmlib.load(make_ds(ramp(8, 8, 0, 100)))
        assert not any("Doe" in line for line in View(img).annotation_lines())
        assert "Doe^Jane  PID-12345" in View(img, show_patient=True).annotation_lines()

    def test_a_frame_that_cannot_be_decoded_shows_its_error(self, tmp_path):
        uid = generate_uid()
        for i in range(2):
            ds = make_ds(np.full((32, 32), 100 * i, dtype=np.int16), SeriesInstanceUID=uid,
                         ImagePositionPatient=[0.0, 0.0, float(i)], ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
                         InstanceNumber=i + 1, WindowCenter=100, WindowWidth=400)
            if i == 1:
                ds.PixelData = ds.PixelData[:64]
            write_ds(ds, tmp_path / f"{i}.dcm")
        img = dcmlib.load(tmp_path, read_ahead=False)
        heard = []
        v = View(img, on_warning=heard.append)
        v.set_state(controls.on_key(v.state, "n", img))
        out = v.compose()
        v.compose()
        assert out.max() > 0 and out[80:].max() == 0             # the message only
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

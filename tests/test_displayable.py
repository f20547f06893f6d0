"""One image interface (dcmlib.displayable.DisplayImage) and one render-options value (RenderOptions).

The three images (a file or series, a reformatted plane, an image seen through a presentation
state) offer the same interface; a wrapper offers what it means and nothing it would get wrong
(the presentation state's stored values would come back unrotated); ``render(options=)`` and
``render(**keywords)`` are the same call; the shared windows follow each image's own VOI.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_pstate import image, make_pstate, window_item

import dcmlib
from dcmlib import DisplayImage, RenderOptions
from dcmlib.images.presented import PresentedImage
from helpers import make_ds, ramp, write_ds, write_series


@pytest.fixture
def ct():
    return dcmlib.load(
        make_ds(
            ramp(32, 24, 0, 3000, np.int16), RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400
        )
    )


@pytest.fixture
def presented(tmp_path):
    img = image()
    state = make_pstate(img, SoftcopyVOILUTSequence=[window_item(2000, 1000)], ImageRotation=90)
    path = write_ds(img, tmp_path / "img.dcm")
    return dcmlib.load(path), PresentedImage(
        dcmlib.load(path), dcmlib.load_pstate(write_ds(state, tmp_path / "ps.dcm"))
    )


def _series(folder):
    write_series(folder, ramp(4 * 16, 16, 0, 1000).reshape(4, 16, 16), PixelSpacing=[1.0, 1.0])
    return dcmlib.load(folder)


def test_every_image_offers_the_interface(tmp_path, ct, presented):
    series = _series(tmp_path / "s")
    plane = series.reformat("coronal")
    for img in (ct, series, plane, presented[1]):
        assert isinstance(img, DisplayImage), type(img).__name__


def test_a_presented_image_does_not_offer_what_the_state_changes(presented):
    """No attribute forwarding: the header, stored values and frame parameters are the unrotated image's, so
    the picture through the state does not offer them; what the state leaves alone it names the image's."""
    img, seen = presented
    for name in ("header", "stored", "frame_params", "frame_ref", "layout"):
        assert not hasattr(seen, name), name
    assert (seen.name, seen.path, seen.modality, seen.is_color, len(seen)) == (img.name, img.path, "OT", False, 1)
    assert (seen.rows, seen.columns) == (img.columns, img.rows)  # a quarter turn


def test_render_values_through_a_state_uses_the_states_voi(presented):
    """Through the wrapper's old forwarding this came back with the image's window; now the state's (C.11.8):
    window 2000/1000 over the state's values, worked by hand (C.11.2.1.2.1)."""
    img, seen = presented
    values = np.array([[1499.0, 2000.0, 2500.0]], np.float32)
    got = seen.render_values(values)
    c, w = 2000.0, 1000.0
    want = np.clip(((values - (c - 0.5)) / (w - 1) + 0.5) * 255, 0, 255)
    assert np.abs(got.astype(float) - np.round(want)).max() <= 1 and got[0, 0] == 0
    assert seen.default_window().center == 2000.0 and img.default_window().center != 2000.0


def test_options_and_keywords_are_the_same_render(ct, presented):
    opts = RenderOptions(center=-600, width=1500, mode="sigmoid", invert=True)
    assert np.array_equal(ct.render(options=opts), ct.render(-600, 1500, mode="sigmoid", invert=True))
    assert np.array_equal(ct.render(options=opts, invert=False), ct.render(-600, 1500, mode="sigmoid"))
    assert np.array_equal(ct.render(40, options=replace(opts, invert=False)), ct.render(40, 1500, mode="sigmoid"))
    img, seen = presented
    state = seen.state
    assert np.array_equal(seen.render(), img.render(pstate=state))
    assert np.array_equal(
        seen.render(options=RenderOptions(annotations=False)), img.render(pstate=state, annotations=False)
    )


def test_an_unknown_option_is_a_type_error_as_a_keyword_would_be(ct):
    with pytest.raises(TypeError, match="colour"):
        ct.render(colour=True)
    with pytest.raises(TypeError):
        RenderOptions.of(None, window=(1, 2))


def test_a_reformatted_plane_refuses_what_belongs_to_the_acquired_images(tmp_path):
    plane = _series(tmp_path / "s").reformat("coronal")
    state = dcmlib.load_pstate(write_ds(make_pstate(image()), tmp_path / "ps.dcm"))
    with pytest.raises(dcmlib.InvalidArgumentError, match="presentation state applies to the acquired images"):
        plane.render(pstate=state)

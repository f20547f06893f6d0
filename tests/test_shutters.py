"""Display shutters (PS3.3 C.7.6.11, C.7.6.15), worked out by hand, and the objects-off contract.

DCMTK has no oracle here: ``dcm2pnm`` ignores the Display Shutter module and
``dcmp2pgm`` (3.6.7) reads a state's shutters but writes its PGM without them.
The expected openings are computed in the tests from the standard's words: a
pixel (1-based row r, column c) is shown when left <= c <= right and upper <= r
<= lower, when (r - row0)^2 + (c - col0)^2 <= radius^2, and when it is inside
the polygon; the shuttered area is the union of the outsides (C.7.6.11.1).
"""

from __future__ import annotations

import os
from dataclasses import replace

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from test_overlays import BITS, add_overlay

import dcmlib
import dcmview
from dcmlib.batch.options import ConvertOptions
from dcmlib.batch.task import display_image
from dcmlib.viewer.view import View
from helpers import make_ds, ramp, write_ds

PX = ramp(40, 50, 0, 1000, np.uint16)
RECT = dict(
    ShutterLeftVerticalEdge=3, ShutterRightVerticalEdge=45, ShutterUpperHorizontalEdge=2, ShutterLowerHorizontalEdge=38
)
CIRCLE = dict(CenterOfCircularShutter=[20, 25], RadiusOfCircularShutter=18)
TRIANGLE = [(1, 1), (1, 50), (40, 25)]  # (row, column) vertices
POLYGON = dict(VerticesOfThePolygonalShutter=[v for p in TRIANGLE for v in p])
ALL = dict(ShutterShape=["RECTANGULAR", "CIRCULAR", "POLYGONAL"], **RECT, **CIRCLE, **POLYGON)


def shuttered(tmp_path, **tags) -> dcmlib.DicomImage:
    return dcmlib.load(
        write_ds(make_ds(PX, Modality="DX", WindowCenter=500, WindowWidth=1000, **tags), tmp_path / "s.dcm")
    )


def grid() -> tuple[np.ndarray, np.ndarray]:
    r, c = np.mgrid[1:41, 1:51]
    return r, c


def triangle_distance() -> np.ndarray:
    """Signed distance (pixels, > 0 inside) of every pixel centre from the triangle's edges."""
    r, c = grid()
    d = np.full(r.shape, np.inf)
    pts = TRIANGLE + TRIANGLE[:1]
    for (r0, c0), (r1, c1) in zip(pts, pts[1:]):
        nr, nc = c1 - c0, -(r1 - r0)  # an edge normal; sign fixed by the centroid below
        side = ((r - r0) * nr + (c - c0) * nc) / np.hypot(nr, nc)
        centroid = (40 / 3 + 1 - r0) * nr + (76 / 3 - c0) * nc
        d = np.minimum(d, side if centroid > 0 else -side)
    return d


def test_three_shapes_combined_as_the_standard_says(tmp_path):
    """Rectangle, circle and polygon together: shown only inside all three; the rest Shutter Presentation
    Value 8000H, which is grey 128 on 8 bits (32768 * 255 / 65535 = 127.5, rounded)."""
    img = shuttered(tmp_path, ShutterPresentationValue=0x8000, **ALL)
    got, plain = img.render(), img.render(shutters=False)
    r, c = grid()
    box = (c >= 3) & (c <= 45) & (r >= 2) & (r <= 38)
    disc = (r - 20) ** 2 + (c - 25) ** 2 <= 18**2
    dist = triangle_distance()
    shown = box & disc & (dist >= 1)
    hidden = ~box | ~disc | (dist <= -1)
    assert np.array_equal(got[shown], plain[shown])
    assert np.all(got[hidden] == 128)
    assert hidden.sum() > 1000 and shown.sum() > 300  # the case is not degenerate


@pytest.mark.parametrize(
    "shape, tags, opening",
    [
        ("RECTANGULAR", RECT, lambda r, c: (c >= 3) & (c <= 45) & (r >= 2) & (r <= 38)),
        ("CIRCULAR", CIRCLE, lambda r, c: (r - 20) ** 2 + (c - 25) ** 2 <= 18**2),
    ],
)
def test_each_shape_alone_without_a_value_is_black(tmp_path, shape, tags, opening):
    img = shuttered(tmp_path, ShutterShape=shape, **tags)
    got, plain = img.render(), img.render(shutters=False)
    inside = opening(*grid())
    assert np.array_equal(got[inside], plain[inside]) and np.all(got[~inside] == 0)


def test_cielab_colour_fills_a_colour_image(tmp_path):
    """Shutter Presentation Color CIELab Value (scaled as PS3.3 C.10.7.1.1) on RGB: sRGB red (BGR 0, 0, 255)."""
    rgb = np.full((20, 30, 3), 90, np.uint8)
    lab = [round(53.24 * 65535 / 100), round((80.09 + 128) * 65535 / 255), round((67.20 + 128) * 65535 / 255)]
    img = dcmlib.load(
        write_ds(
            make_ds(
                rgb,
                SamplesPerPixel=3,
                ShutterShape="RECTANGULAR",
                ShutterLeftVerticalEdge=5,
                ShutterRightVerticalEdge=25,
                ShutterUpperHorizontalEdge=5,
                ShutterLowerHorizontalEdge=15,
                ShutterPresentationColorCIELabValue=lab,
            ),
            tmp_path / "rgb.dcm",
        )
    )
    got = img.render()
    assert np.abs(got[0, 0].astype(int) - [0, 0, 255]).max() <= 2
    assert np.array_equal(got[10, 10], [90, 90, 90])


def test_bitmap_shutter_through_an_overlay(tmp_path):
    """Shutter Shape BITMAP with Shutter Overlay Group 6000 (C.7.6.15): the plane's 1 bits are shuttered
    (Shutter Presentation Value FFFFH: white), and the plane is not drawn as graphics as well."""
    ds = add_overlay(
        make_ds(
            PX,
            Modality="DX",
            WindowCenter=500,
            WindowWidth=1000,
            ShutterShape="BITMAP",
            ShutterOverlayGroup=0x6000,
            ShutterPresentationValue=0xFFFF,
        ),
        0x6000,
        BITS,
        origin=(5, 7),
    )
    ds2 = add_overlay(make_ds(PX, Modality="DX", WindowCenter=500, WindowWidth=1000), 0x6000, BITS, origin=(5, 7))
    img, plain = dcmlib.load(write_ds(ds, tmp_path / "b.dcm")), dcmlib.load(write_ds(ds2, tmp_path / "p.dcm"))
    assert np.array_equal(img.render(), plain.render())  # white either way, here
    assert np.array_equal(img.render(overlays=False), plain.render())  # the shutter is no overlay
    assert np.array_equal(img.render(shutters=False, overlays=False), plain.render(overlays=False))
    assert np.array_equal(img.render(shutters=False), plain.render(overlays=False))


def test_info_lists_the_shutter(tmp_path, capsys):
    path = write_ds(make_ds(PX, ShutterPresentationValue=0x8000, **ALL), tmp_path / "i.dcm")
    assert dcmview.main([path, "--info"]) == 0
    out = capsys.readouterr().out
    assert (
        "shutter: rectangular columns 3-45 rows 2-38, circular centre row 20 column 25 radius 18, "
        "polygonal 3 vertices; fill value 32768"
    ) in out
    assert "Doe" not in out and "PID" not in out


def test_viewer_and_export_and_convert_apply_the_shutter(tmp_path):
    img = shuttered(tmp_path, ShutterPresentationValue=0xFFFF, **ALL)
    view = View(img)
    assert tuple(view.compose()[0, 0]) == (255, 255, 255)  # a corner is outside every opening
    out = tmp_path / "e.png"
    assert dcmview.main([img.path, "--export", os.fspath(out)]) == 0
    assert np.array_equal(view.full_resolution(), cv2.imread(os.fspath(out), -1))
    assert dcmview.main([img.path, "--export", os.fspath(out), "--no-shutters"]) == 0
    view.set_state(replace(view.state, shutters=False))
    assert np.array_equal(view.full_resolution(), cv2.imread(os.fspath(out), -1))
    assert view.compose()[0, 0].max() < 255
    on, _ = display_image(img, 0, ConvertOptions().checked())
    off, _ = display_image(img, 0, ConvertOptions(shutters=False).checked())
    assert np.array_equal(on, img.render()) and np.array_equal(off, img.render(shutters=False))


# --------------------------------------------------------------------------- objects off: today's output

OBJECT_GROUPS = tuple(range(0x6000, 0x6020, 2))


def without_objects(ds: Dataset) -> Dataset:
    """The same image with every overlay group and shutter attribute removed: what dcmview drew before."""
    for elem in list(ds):
        if elem.tag.group in OBJECT_GROUPS or "Shutter" in (elem.keyword or ""):
            del ds[elem.tag]
    return ds


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["G", "R"]),
    origin=st.tuples(st.integers(-20, 45), st.integers(-20, 55)),
    shutter=st.booleans(),
    invert=st.booleans(),
    window=st.tuples(st.integers(-200, 1200), st.integers(1, 2000)),
    photometric=st.sampled_from(["MONOCHROME1", "MONOCHROME2"]),
)
def test_with_objects_off_the_output_is_todays(
    tmp_path_factory, seed, kind, origin, shutter, invert, window, photometric
):
    """With ``overlays=False, shutters=False`` every render equals the render of the file with no overlay
    and no shutter at all (the pipeline before this change), whatever the planes, origins and shapes."""
    rng = np.random.default_rng(seed)
    px = rng.integers(0, 1000, (40, 50)).astype(np.uint16)
    bits = rng.random((int(rng.integers(1, 30)), int(rng.integers(1, 30)))) < 0.5
    tags = dict(ALL, ShutterPresentationValue=int(rng.integers(0, 65536))) if shutter else {}
    ds = add_overlay(
        make_ds(px, PhotometricInterpretation=photometric, **tags),
        0x6000 + 2 * int(rng.integers(16)),
        bits,
        kind=kind,
        origin=origin,
    )
    folder = tmp_path_factory.mktemp("off")
    img = dcmlib.load(write_ds(ds, folder / "with.dcm"))
    old = dcmlib.load(write_ds(without_objects(ds), folder / "without.dcm"))
    args = dict(center=window[0], width=window[1], invert=invert)
    assert np.array_equal(img.render(overlays=False, shutters=False, **args), old.render(**args))
    assert np.array_equal(old.render(**args), old.render(overlays=True, shutters=True, **args))


def test_the_shapes_are_the_standards_coded_values():
    """Shutter Shape (0018,1600) is read as the coded values of C.7.6.11.1.1, case and padding aside; a value
    that is no shape is left out, and a header naming none is no shutter."""
    from dcmlib.objects.shutters import ShutterShape, parse_shutter

    ds = Dataset()
    ds.ShutterShape = ["circular ", "OVAL", "RECTANGULAR"]
    ds.CenterOfCircularShutter, ds.RadiusOfCircularShutter = [10, 12], 5
    ds.ShutterLeftVerticalEdge, ds.ShutterRightVerticalEdge = 2, 20
    ds.ShutterUpperHorizontalEdge, ds.ShutterLowerHorizontalEdge = 3, 30
    shutter = parse_shutter(ds)
    assert shutter is not None and set(shutter.shapes) == {ShutterShape.CIRCULAR, ShutterShape.RECTANGULAR}
    assert (shutter.circle, shutter.rectangle) == ((10, 12, 5), (2, 20, 3, 30))
    ds.ShutterShape = "OVAL"
    assert parse_shutter(ds) is None

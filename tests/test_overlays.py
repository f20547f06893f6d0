"""Overlay planes (PS3.3 C.9.2) against DCMTK's ``dcm2pnm`` in its default overlay mode (``+O 0``).

The oracle is ``dcm2pnm +op +Ww C W [+F N] FILE out.pgm`` *without* ``-O``, so
DCMTK draws every overlay plane: type G replaces its 1 bits with white, type R
darkens its 0 bits.  dcmview renders the same file with ``render(C, W,
frame=N-1)`` (``overlays=True`` is the default) and the two must agree within
one grey level; each case also checks that the overlay changed pixels at all,
so a plane drawn by neither side cannot pass unnoticed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import replace

import cv2
import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRBigEndian, generate_uid

import dcmlib
import dcmview
from dcmlib.batch.options import ConvertOptions
from dcmlib.batch.task import display_image
from dcmlib.objects.overlays import display_objects
from dcmlib.viewer import controls
from dcmlib.viewer.view import View
from helpers import DCM2PNM, assert_within_one, make_ds, pydicom_file, ramp, requires_dcm2pnm, skip_without, write_ds

RNG = np.random.default_rng(12)
PX = ramp(37, 41, 0, 1000, np.uint16)  # odd sizes on purpose
BITS = RNG.random((13, 9)) < 0.4  # 13 x 9: 117 bits, padded to a whole word
FRAMES = np.stack([PX, PX[::-1], PX[:, ::-1]])
BITS2 = RNG.random((2, 13, 9)) < 0.4


def add_overlay(
    ds: Dataset,
    group: int,
    bits: np.ndarray,
    *,
    kind: str = "G",
    origin=(1, 1),
    frames: int | None = None,
    frame_origin: int | None = None,
    vr: str = "OW",
    description: str | None = None,
) -> Dataset:
    """Add overlay plane ``group`` (PS3.3 C.9.2) holding ``bits`` ((rows, cols) or (frames, rows, cols))."""
    bits = np.asarray(bits, bool)
    rows, cols = bits.shape[-2:]
    packed = np.packbits(bits.reshape(-1).astype(np.uint8), bitorder="little").tobytes()
    packed += b"\0" * (len(packed) % 2)
    tag = group << 16
    ds.add_new(tag | 0x0010, "US", rows)
    ds.add_new(tag | 0x0011, "US", cols)
    ds.add_new(tag | 0x0040, "CS", kind)
    ds.add_new(tag | 0x0050, "SS", list(origin))
    ds.add_new(tag | 0x0100, "US", 1)
    ds.add_new(tag | 0x0102, "US", 0)
    if frames is not None:
        ds.add_new(tag | 0x0015, "IS", frames)
    if frame_origin is not None:
        ds.add_new(tag | 0x0051, "US", frame_origin)
    if description is not None:
        ds.add_new(tag | 0x0022, "LO", description)
    ds.add_new(tag | 0x3000, vr, packed)
    return ds


def image(pixels: np.ndarray = PX, **tags) -> Dataset:
    """An OT image that DCMTK's tools accept (study and series UIDs)."""
    return make_ds(pixels, Modality="OT", StudyInstanceUID=generate_uid(), SeriesInstanceUID=generate_uid(), **tags)


def dcm2pnm_overlays(path: str, *options: str) -> np.ndarray:
    """``dcm2pnm +op OPTIONS path out.pgm``: DCMTK's default overlay mode (no ``-O``)."""
    if DCM2PNM is None:
        skip_without("dcm2pnm", why="DCMTK, Debian package 'dcmtk'")
    with tempfile.TemporaryDirectory(prefix="dcm2pnm-") as tmp:
        out = os.path.join(tmp, "out.pgm")
        cmd = [DCM2PNM, "+op", *options, path, out]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
        return cv2.imread(out, cv2.IMREAD_UNCHANGED)


def _embedded() -> Dataset:
    """A retired overlay in bit 12 of 16-bit words above 12 stored bits (Overlay Bits Allocated 16)."""
    words = PX | (np.pad(BITS, ((0, PX.shape[0] - 13), (0, PX.shape[1] - 9))).astype(np.uint16) << 12)
    ds = image(words, BitsStored=12, HighBit=11)
    for element, vr, value in (
        (0x10, "US", 37),
        (0x11, "US", 41),
        (0x40, "CS", "G"),
        (0x50, "SS", [1, 1]),
        (0x100, "US", 16),
        (0x102, "US", 12),
    ):
        ds.add_new(0x60000000 | element, vr, value)
    return ds


def _big_endian() -> Dataset:
    """Explicit VR Big Endian: pixel words and OW overlay words stored most significant byte first."""
    ds = add_overlay(image(PX.byteswap(), transfer_syntax=ExplicitVRBigEndian), 0x6000, BITS, origin=(5, 7))
    ds[0x60003000].value = np.frombuffer(ds[0x60003000].value, "<u2").astype(">u2").tobytes()
    return ds


# (id, dataset factory, frames)
CASES = [
    ("graphics", lambda: add_overlay(image(), 0x6000, BITS, origin=(5, 7)), 1),
    ("roi", lambda: add_overlay(image(), 0x6000, BITS, kind="R", origin=(5, 7)), 1),
    ("top-right-edge", lambda: add_overlay(image(), 0x6002, BITS, origin=(-3, 36)), 1),
    ("roi-bottom-left-edge", lambda: add_overlay(image(), 0x6002, BITS, kind="R", origin=(30, -2)), 1),
    ("origin-0-0", lambda: add_overlay(image(), 0x6004, BITS, origin=(0, 0)), 1),
    ("wholly-outside", lambda: add_overlay(image(), 0x6004, BITS, origin=(100, 100)), 1),
    ("OB", lambda: add_overlay(image(), 0x6000, BITS, origin=(2, 2), vr="OB"), 1),
    (
        "groups-6000-and-601E",
        lambda: add_overlay(
            add_overlay(image(), 0x6000, BITS, origin=(2, 2)), 0x601E, ~BITS, origin=(20, 20), kind="R"
        ),
        1,
    ),
    (
        "multi-frame-overlay-from-frame-2",
        lambda: add_overlay(image(FRAMES), 0x6000, BITS2, origin=(3, 3), frames=2, frame_origin=2),
        3,
    ),
    (
        "one-frame-overlay-on-frame-2",
        lambda: add_overlay(image(FRAMES), 0x6000, BITS, origin=(3, 3), frames=1, frame_origin=2),
        3,
    ),
    ("no-frame-count-every-frame", lambda: add_overlay(image(FRAMES), 0x6000, BITS, origin=(3, 3)), 3),
    (
        "MONOCHROME1",
        lambda: add_overlay(image(PhotometricInterpretation="MONOCHROME1"), 0x6000, BITS, origin=(5, 7)),
        1,
    ),
    (
        "MONOCHROME1-roi",
        lambda: add_overlay(image(PhotometricInterpretation="MONOCHROME1"), 0x6000, BITS, kind="R", origin=(5, 7)),
        1,
    ),
    ("embedded-in-pixel-data", _embedded, 1),
    ("big-endian-OW", _big_endian, 1),
]


@requires_dcm2pnm
@pytest.mark.parametrize("factory, frames", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_generated_overlays_match_dcm2pnm(tmp_path, factory, frames):
    """Generated overlays (edges, outside, odd sizes, multi-frame, OB/OW, embedded, big endian) vs dcm2pnm +O 0."""
    path = write_ds(factory(), tmp_path / "overlay.dcm")
    img = dcmlib.load(path)
    for f in range(frames):
        want = dcm2pnm_overlays(path, "+Ww", "500", "1000", "+F", str(f + 1))
        got = img.render(500, 1000, frame=f)
        assert_within_one(got, want, f"frame {f + 1}")
        plain = img.render(500, 1000, frame=f, overlays=False)
        drawn_by_dcmtk = np.abs(want.astype(int) - plain.astype(int)) > 1
        assert np.array_equal(got != plain, drawn_by_dcmtk), f"frame {f + 1}: drawn pixels differ from DCMTK's"


@requires_dcm2pnm
@pytest.mark.parametrize("invert", [False, True])
def test_bundled_overlay_file_matches_dcm2pnm(tmp_path, invert):
    """pydicom's examples_overlay.dcm (OW, 484 x 300): ``--export --voi 1`` vs ``dcm2pnm +op +Wi 1`` (``+P``)."""
    src = pydicom_file("examples_overlay.dcm")
    out, plain = tmp_path / "o.png", tmp_path / "plain.png"
    extra = ["--invert"] if invert else []
    assert dcmview.main([src, "--export", os.fspath(out), "--voi", "1", *extra]) == 0
    assert dcmview.main([src, "--export", os.fspath(plain), "--voi", "1", "--no-overlays", *extra]) == 0
    got, off = cv2.imread(os.fspath(out), -1), cv2.imread(os.fspath(plain), -1)
    assert_within_one(got, dcm2pnm_overlays(src, "+Wi", "1", *(["+P"] if invert else [])), "overlays on")
    assert_within_one(off, dcm2pnm_overlays(src, "-O", "+Wi", "1", *(["+P"] if invert else [])), "--no-overlays")
    assert int((got != off).sum()) == (128 if invert else 222)  # its 1 bits, less those already white


def test_embedded_overlay_bits_are_masked_out_of_the_values(tmp_path):
    """A retired overlay in the high bits (Overlay Bits Allocated 16, bit 12) is no part of the values."""
    img = dcmlib.load(write_ds(_embedded(), tmp_path / "e.dcm"))
    assert np.array_equal(img.values(0), PX.astype(np.float32))
    (plane,) = img.display_objects().overlays
    assert plane.embedded and plane.rows == 37 and plane.columns == 41


def test_objects_parse_once_into_frozen_values():
    ds = add_overlay(image(), 0x6002, BITS, kind="R", origin=(-3, 36), description="CAD marks")
    objects = display_objects(ds)
    (plane,) = objects.overlays
    assert (plane.group, plane.kind, plane.rows, plane.columns, plane.origin) == (0x6002, "R", 13, 9, (-3, 36))
    with pytest.raises(AttributeError):
        plane.kind = "G"  # type: ignore[misc]  # the frozen dataclass refuses it: what this tests


def test_damaged_overlay_is_left_out_with_a_note(tmp_path):
    ds = image()
    ds.add_new(0x60000010, "US", 10)
    ds.add_new(0x60000011, "US", 10)  # a size, but no Overlay Data
    notes: list[str] = []
    img = dcmlib.load(write_ds(ds, tmp_path / "d.dcm"), on_warning=notes.append)
    assert np.array_equal(img.render(), img.render(overlays=False))
    assert any("overlay 6000" in n for n in notes)


def test_info_lists_overlays_without_patient(tmp_path, capsys):
    path = write_ds(
        add_overlay(image(), 0x6002, BITS, kind="R", origin=(-3, 36), description="CAD marks"), tmp_path / "i.dcm"
    )
    assert dcmview.main([path, "--info"]) == 0
    out = capsys.readouterr().out
    assert "overlay 6002: R (ROI), 9 x 13 at row -3, column 36: CAD marks" in out
    assert "Doe" not in out and "PID-12345" not in out


def test_viewer_l_toggles_overlays_and_s_equals_export(tmp_path):
    """``l`` turns the overlays off and on; the ``s`` image is ``--export`` with the same options."""
    src = pydicom_file("examples_overlay.dcm")
    img = dcmlib.load(src)
    view = View(img)
    on = view.compose()
    off_state = controls.on_key(view.state, "l")
    assert off_state.overlays is False and controls.on_key(off_state, "l").overlays is True
    view.set_state(off_state)
    off = view.compose()
    assert (on != off).any() and on[on != off].min() == 255  # white graphics, only where they are
    for flags, state in (([], replace(off_state, overlays=True)), (["--no-overlays"], off_state)):
        out = tmp_path / "e.png"
        assert dcmview.main([src, "--export", os.fspath(out), *flags]) == 0
        view.set_state(state)
        assert np.array_equal(view.full_resolution(), cv2.imread(os.fspath(out), -1))


def test_cli_flags_reach_render_options():
    img = dcmlib.load(pydicom_file("examples_overlay.dcm"))
    args = dcmview.build_parser().parse_args(["x", "--no-overlays"])
    frame, opts = dcmview.render_options(args, img)
    assert (frame, opts.overlays, opts.shutters) == (0, False, True)


def test_convert_draws_overlays_as_export():
    img = dcmlib.load(pydicom_file("examples_overlay.dcm"))
    on, _ = display_image(img, 0, ConvertOptions().checked())
    off, _ = display_image(img, 0, ConvertOptions(overlays=False).checked())
    assert np.array_equal(on, img.render()) and np.array_equal(off, img.render(overlays=False))
    assert (on != off).any()

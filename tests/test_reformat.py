"""Multiplanar reformation against series whose geometry is known by construction.

Every series here samples one linear field of the patient position,
``f(x, y, z) = x + 10 y + 100 z`` (LPS, mm): linear interpolation reproduces it
exactly, so the expected value of any reformatted pixel is ``f`` at the point
that pixel lies at (PS3.3 C.7.6.2.1.1), computed here by hand from the plane's
screen directions, independently of dcmlib's geometry.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dcmlib
from dcmlib.images import planes, volume
from dcmlib.images import reformat as mpr
from helpers import assert_one_error_line, make_ds, write_ds, write_series

# The patient box every acquisition covers: x 0..15, y 0..11, z 0..9 mm (1 mm voxels).
NX, NY, NZ = 16, 12, 10


def field(p: np.ndarray) -> np.ndarray:
    return p[..., 0] + 10 * p[..., 1] + 100 * p[..., 2]


def field_series(folder, positions, row, col, shape, spacing=(1.0, 1.0), *, rescale=None, offset=None, **tags):
    """One file per slice: pixel (i, j) at IPP + j*dc*row + i*dr*col holds field(point) (+ ``offset(k)``),
    stored int16 through the slice's ``rescale(k)`` (slope, intercept)."""
    row, col = np.asarray(row, float), np.asarray(col, float)
    ii, jj = np.mgrid[0 : shape[0], 0 : shape[1]]
    slices = []
    for k, ipp in enumerate(positions):
        pts = np.asarray(ipp, float) + jj[..., None] * spacing[1] * row + ii[..., None] * spacing[0] * col
        slope, intercept = rescale(k) if rescale else (1.0, 0.0)
        slices.append(np.round((field(pts) + (offset(k) if offset else 0) - intercept) / slope).astype(np.int16))

    def each(k: int) -> dict:
        slope, intercept = rescale(k) if rescale else (1.0, 0.0)
        return dict(InstanceNumber=len(positions) - k, RescaleSlope=slope, RescaleIntercept=intercept)

    write_series(
        folder,
        slices,
        positions,
        orientation=[*row, *col],
        names="s{k:03d}.dcm",
        each=each,
        PixelSpacing=list(spacing),
        WindowCenter=500,
        WindowWidth=2000,
        **tags,
    )
    return folder


def axial(folder, zs=range(NZ), **kw):
    return field_series(folder, [(0, 0, z) for z in zs], (1, 0, 0), (0, 1, 0), (NY, NX), **kw)


def expected(plane: str, position: float, shape: tuple[int, int]) -> np.ndarray:
    """f on the plane's screen grid (1 mm pixels): axial A up R left, coronal and sagittal H up."""
    r, c = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    if plane == "axial":
        p = np.stack([c, r, np.full_like(r, position)], -1)
    elif plane == "coronal":
        p = np.stack([c, np.full_like(r, position), NZ - 1 - r], -1)
    else:
        p = np.stack([np.full_like(r, position), c, NZ - 1 - r], -1)
    return field(p)


def load(folder, **kw):
    heard: list[str] = []
    return dcmlib.load(folder, read_ahead=False, on_warning=heard.append, **kw), heard


SIZES = {"axial": (NY, NX, NZ), "coronal": (NZ, NX, NY), "sagittal": (NZ, NY, NX)}


def check_planes(img):
    for plane, (rows, cols, count) in SIZES.items():
        view = img.reformat(plane)
        assert (view.rows, view.columns, len(view)) == (rows, cols, count), plane
        for f in (0, count // 2, count - 1):
            assert view.position(f) == pytest.approx(f)
            np.testing.assert_allclose(view.values(f), expected(plane, f, (rows, cols)), atol=1e-3)
        assert (
            view.orientation_labels()
            == {
                "axial": dict(top="A", bottom="P", left="R", right="L"),
                "coronal": dict(top="H", bottom="F", left="R", right="L"),
                "sagittal": dict(top="H", bottom="F", left="A", right="P"),
            }[plane]
        )


class TestAcquisitions:
    """The same patient box acquired axially, coronally, sagittally and flipped gives the same planes."""

    def test_axial(self, tmp_path):
        img, heard = load(axial(tmp_path))
        check_planes(img)
        assert heard == []

    def test_coronal(self, tmp_path):
        # rows go to the feet, columns to the left; the normal is +y
        folder = field_series(tmp_path, [(0, y, NZ - 1) for y in range(NY)], (1, 0, 0), (0, 0, -1), (NZ, NX))
        img, _ = load(folder)
        assert planes.acquisition_plane([1, 0, 0, 0, 0, -1]) == "coronal"
        check_planes(img)

    def test_sagittal(self, tmp_path):
        # normal cross((0,1,0), (0,0,-1)) = -x: the loader orders the slices right to left
        folder = field_series(tmp_path, [(x, 0, NZ - 1) for x in range(NX)], (0, 1, 0), (0, 0, -1), (NZ, NY))
        img, _ = load(folder)
        assert planes.acquisition_plane([0, 1, 0, 0, 0, -1]) == "sagittal"
        check_planes(img)

    def test_lps_flipped_axial(self, tmp_path):
        # rows go right (-x), columns go anterior (-y): shown as stored, the labels say so
        folder = field_series(tmp_path, [(NX - 1, NY - 1, z) for z in range(NZ)], (-1, 0, 0), (0, -1, 0), (NY, NX))
        img, _ = load(folder)
        assert planes.orientation_labels((-1, 0, 0), (0, -1, 0)) == dict(top="P", bottom="A", left="L", right="R")
        check_planes(img)


class TestResampling:
    def test_missing_slice_is_interpolated_once_said(self, tmp_path):
        img, heard = load(axial(tmp_path, zs=[z for z in range(NZ) if z != 4]))
        check_planes(img)
        assert heard.count(f"{tmp_path}: slice spacing varies 1.00-2.00 mm; resampled to 1.00 mm") == 1

    def test_uneven_spacing_resampled_to_the_median(self, tmp_path):
        zs = [0, 1, 2, 3, 4.5, 6, 7, 8, 9]
        img, heard = load(axial(tmp_path, zs=zs))
        view = img.reformat("axial")
        assert len(view) == 10
        np.testing.assert_allclose(view.values(5), expected("axial", 5, (NY, NX)), atol=1e-3)
        assert any("slice spacing varies 1.00-1.50 mm; resampled to 1.00 mm" in m for m in heard)

    def test_mixed_rescale_per_slice(self, tmp_path):
        img, _ = load(axial(tmp_path, rescale=lambda k: (0.5 if k % 2 else 1.0, -1024.0 * (k % 3))))
        check_planes(img)

    def test_gantry_tilt_sheared_onto_an_orthogonal_grid(self, tmp_path):
        # 20 degrees: each slice 1 mm up is tan(20) mm further back; pixels keep their axial plane
        shift = math.tan(math.radians(20))
        img, heard = load(
            field_series(
                tmp_path,
                [(0, z * shift, z) for z in range(NZ)],
                (1, 0, 0),
                (0, 1, 0),
                (NY, NX),
                rescale=lambda k: (0.05, 0.0),
            )
        )
        view = img.reformat("axial")
        assert any("sheared (tilt 20.0 degrees)" in m for m in heard)
        for f in range(NZ):
            got = view.values(f)
            inside = ~np.isnan(got)
            # the grid is anchored at slice 0: rows in front of this slice's shifted plane have no data
            assert (inside.all(axis=1) == (np.arange(NY) >= f * shift - 1e-6)).all()
            assert (inside.any(axis=1) == inside.all(axis=1)).all()
            np.testing.assert_allclose(got[inside], expected("axial", f, (NY, NX))[inside], atol=0.05)
            if view.padding_mask(f) is not None:
                assert view.render(frame=f)[view.padding_mask(f)].max() == 0

    def test_non_square_voxels_are_shown_square(self, tmp_path):
        # 0.7 mm pixels, 5 mm slices: the coronal slice spans 6 x 5 mm down, 16 x 0.7 mm across
        folder = field_series(
            tmp_path,
            [(0, 0, 5 * k) for k in range(6)],
            (1, 0, 0),
            (0, 1, 0),
            (16, 16),
            spacing=(0.7, 0.7),
            rescale=lambda k: (0.1, 0.0),
        )
        img, heard = load(folder)
        cor = img.reformat("coronal")
        assert (cor.rows, cor.columns) == (round(6 * 5 / 0.7), 16)
        assert cor.pixel_spacing(0).row == cor.pixel_spacing(0).column == pytest.approx(0.7)
        col = cor.values(3)[:, 5]
        assert np.all(np.diff(col) <= 1e-3)  # head at the top
        assert col[0] == pytest.approx(100 * 25 + 5 * 0.7 + 10 * 3 * 0.7, abs=1e-2)
        assert col[-1] == pytest.approx(5 * 0.7 + 10 * 3 * 0.7, abs=1e-2)
        assert heard == []


class TestImageInterface:
    def test_render_windows_like_the_acquired_slices(self, tmp_path):
        img, _ = load(axial(tmp_path))
        cor = img.reformat("coronal")
        assert cor.vois(0) == img.vois(0)
        out = cor.render(frame=2)
        assert out.dtype == np.uint8 and out.shape == (cor.rows, cor.columns)
        np.testing.assert_array_equal(out, cor.render_values(cor.values(2)))
        assert cor.render(center=0, width=10, frame=2)[-1, 0] == 255  # f = 20 at the feet, right, y 2
        assert cor.render(center=1000, width=10, frame=2)[-1, 0] == 0
        assert cor.padding_mask(0) is None and "reformatted coronal" in cor.info()
        assert len(cor.reformat("sagittal")) == NX

    def test_axial_of_an_axial_series_equals_the_slices(self, tmp_path):
        img, _ = load(axial(tmp_path))
        ax = img.reformat("axial")
        for f in range(NZ):
            np.testing.assert_array_equal(ax.render(frame=f), img.render(frame=f))

    def test_bad_plane_and_frame(self, tmp_path):
        img, _ = load(axial(tmp_path))
        with pytest.raises(dcmlib.InvalidArgumentError, match="unknown plane 'oblique'"):
            img.reformat("oblique")
        with pytest.raises(dcmlib.InvalidArgumentError, match="out of range"):
            img.reformat("coronal").render(frame=NY)

    def test_volume_lives_in_the_cache(self, tmp_path):
        img, _ = load(axial(tmp_path))
        img.reformat("coronal")
        assert ("volume",) in img.cache
        assert img.cache.nbytes >= NX * NY * NZ * 2 and img.cache.get(("volume",)).dtype == np.int16

    def test_whole_numbers_are_kept_as_int16_others_as_float32(self, tmp_path):
        (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
        # int16 holds it (3840 bytes), float32 would not (7680): the budget is between the two
        img, _ = load(axial(tmp_path / "a"), cache_mb=6000 / 2**20)
        img.reformat("coronal")
        assert img.cache.get(("volume",)).dtype == np.int16
        # integral rescale, but the last slice's values leave int16's range: float32 from there, exact
        img, _ = load(
            axial(
                tmp_path / "b",
                rescale=lambda k: (1.0, 40000.0 if k == NZ - 1 else 0.0),
                offset=lambda k: 40000 if k == NZ - 1 else 0,
            )
        )
        ax = img.reformat("axial")
        assert img.cache.get(("volume",)).dtype == np.float32
        np.testing.assert_array_equal(ax.values(NZ - 1), expected("axial", NZ - 1, (NY, NX)) + 40000)
        np.testing.assert_array_equal(ax.values(0), expected("axial", 0, (NY, NX)))

    def test_out_of_budget_is_a_clear_error(self, tmp_path):
        img, _ = load(axial(tmp_path), cache_mb=0.001)
        with pytest.raises(dcmlib.InvalidArgumentError, match=r"volume needs 1 MB .*use --cache-mb 1"):
            img.reformat("sagittal")

    def test_single_file_is_refused(self, tmp_path):
        img = dcmlib.load(make_ds(np.zeros((4, 4), np.int16)))
        with pytest.raises(dcmlib.InvalidArgumentError, match="two or more slices"):
            img.reformat("coronal")


class TestOblique:
    """A series whose rows and columns are turned 30 degrees about z: the planes are resampled onto the
    patient axes (trilinear, exact on the linear field), NaN outside the acquired box."""

    ANGLE = math.radians(30)

    def series(self, folder):
        row = (math.cos(self.ANGLE), math.sin(self.ANGLE), 0.0)
        col = (-math.sin(self.ANGLE), math.cos(self.ANGLE), 0.0)
        # rescale 0.05: the field at the turned pixels is fractional; stored to 0.025 of it
        field_series(folder, [(0, 0, z) for z in range(NZ)], row, col, (NY, NX), rescale=lambda k: (0.05, 0.0))
        return np.array(row), np.array(col)

    def box(self, row, col):
        """The acquired box's corners (x, y, z), worked out here, and a test of whether points lie inside."""
        corners = np.array(
            [j * row + i * col + (0, 0, z) for j in (0, NX - 1) for i in (0, NY - 1) for z in (0, NZ - 1)]
        )

        def inside(p, margin):
            u, v, z = p @ row, p @ col, p[..., 2]
            return (
                (u > -margin)
                & (u < NX - 1 + margin)
                & (v > -margin)
                & (v < NY - 1 + margin)
                & (z > -margin)
                & (z < NZ - 1 + margin)
            )

        return corners.min(axis=0), corners.max(axis=0), inside

    def check(self, got, points, inside):
        ok, out = inside(points, -1e-3), ~inside(points, 1e-3)  # clear of the edges either way
        assert ok.sum() > got.size // 4
        np.testing.assert_allclose(got[ok], field(points)[ok], atol=0.026)  # the stored rounding, interpolated
        assert np.isnan(got[out]).all()

    def test_axial_and_coronal_on_the_patient_axes(self, tmp_path):
        row, col = self.series(tmp_path)
        lo, hi, inside = self.box(row, col)
        img, heard = load(tmp_path)
        ax = img.reformat("axial")
        assert heard == [
            f"{tmp_path}: slices are oblique (30.0 degrees off the patient axes); planes resampled onto them"
        ]
        width, height = int(np.floor(hi[0] - lo[0] + 1e-6)) + 1, int(np.floor(hi[1] - lo[1] + 1e-6)) + 1
        assert (ax.columns, ax.rows, len(ax)) == (width, height, NZ)
        assert ax.orientation_labels() == dict(top="A", bottom="P", left="R", right="L")
        r, c = np.mgrid[0 : ax.rows, 0 : ax.columns]
        assert ax.position(0) == pytest.approx(0) and ax.position(NZ - 1) == pytest.approx(NZ - 1)
        for k in (1, 4, NZ - 2):  # the first and last lie on the box's faces, neither in nor out
            assert ax.position(k) == pytest.approx(k)
            pts = np.stack([lo[0] + c, lo[1] + r, np.full(r.shape, float(k))], -1)  # A up, R left
            self.check(ax.values(k), pts, inside)
        cor = img.reformat("coronal")
        assert (cor.columns, cor.rows, len(cor)) == (width, NZ, height)
        assert cor.orientation_labels() == dict(top="H", bottom="F", left="R", right="L")
        r, c = np.mgrid[0 : cor.rows, 0 : cor.columns]
        for k in (height // 3, height // 2):  # slice 0 touches the box at one edge only
            assert cor.position(k) == pytest.approx(lo[1] + k)
            pts = np.stack([lo[0] + c, np.full(r.shape, lo[1] + k), hi[2] - r], -1)  # H up, R left
            self.check(cor.values(k), pts, inside)
        # the same point across planes: axial pixel (column 10, row 7) of slice 4 is on the coronal slice of its y
        assert cor.frame_through(ax.volume_point(4, 10.5, 7.5)) == 7
        assert "resampled onto the patient axes" in cor.info()

    def test_render_and_export_of_an_oblique_plane(self, tmp_path):
        self.series(tmp_path)
        img, _ = load(tmp_path)
        sag = img.reformat("sagittal")
        out = sag.render(frame=len(sag) // 2)
        mask = sag.padding_mask(len(sag) // 2)
        assert mask is not None and mask.any() and not mask.all() and out[mask].max() == 0


class TestParallelBuild:
    """The volume's slices are decoded on a few threads ahead of the stacking; the result and the errors
    are those of one thread."""

    @pytest.mark.parametrize("zs", [range(NZ), [z for z in range(NZ) if z != 4]])
    def test_threads_build_the_same_volume(self, tmp_path, monkeypatch, zs):
        volumes = []
        for workers in (1, 3):
            monkeypatch.setattr(volume, "decode_workers", lambda w=workers: w)
            (tmp_path / str(workers)).mkdir()
            img, _ = load(axial(tmp_path / str(workers), zs=zs, rescale=lambda k: (1.0, -1024.0 * (k % 2))))
            img.reformat("coronal")
            volumes.append(img.cache.get(("volume",)))
            check_planes(img)
        assert volumes[0].dtype == volumes[1].dtype == np.int16
        np.testing.assert_array_equal(volumes[0], volumes[1])

    def test_a_slice_that_fails_to_decode_is_the_clear_error(self, tmp_path, monkeypatch):
        import threading

        monkeypatch.setattr(volume, "decode_workers", lambda: 2)
        img, _ = load(axial(tmp_path))
        real = img.stored

        def flaky(k, *, threads=False):  # the public per-slice read the volume builder's threads call
            if k == 5:
                raise dcmlib.PixelDataError("pixel data could not be decoded as JPEG 2000 Lossless", "s005.dcm")
            return real(k, threads=threads)

        monkeypatch.setattr(img, "stored", flaky)
        before = threading.active_count()
        with pytest.raises(dcmlib.PixelDataError, match=r"^s005\.dcm: pixel data could not be decoded"):
            img.reformat("sagittal")
        assert ("volume",) not in img.cache and threading.active_count() == before  # nothing half built or left

    def test_a_damaged_slice_in_a_folder_names_its_file(self, tmp_path):
        folder = axial(tmp_path)
        cut = folder / "s003.dcm"
        cut.write_bytes(cut.read_bytes()[:-100])  # its pixel data cut short
        img, _ = load(folder)
        with pytest.raises(dcmlib.PixelDataError, match=r"s003\.dcm: "):
            img.reformat("coronal")

    @pytest.mark.parametrize(
        "dtype, bits_stored, values, fast",
        [
            (np.uint16, 12, lambda r: r % 4096, True),  # precision 16, 12 bits stored (the bench's)
            (np.uint16, 12, lambda r: (r % 4096) | 0xF000, True),  # bits above Bits Stored: kept, as pydicom does
            (np.int16, 16, lambda r: (r % 3000) - 1500, True),
            (np.int16, 12, lambda r: ((3 * r) % 4096 - 2048) | 0x7000, True),  # positive ones with bits above
            (np.uint16, 16, None, False),  # header signed, codestream unsigned
        ],
    )
    def test_jpeg2000_on_threads_decodes_the_same_samples(self, tmp_path, dtype, bits_stored, values, fast):
        """``decode_frame(..., threads=True)`` (imagecodecs' OpenJPEG, GIL released) gives what the usual
        decoder gives, or leaves the frame to it."""
        import imagecodecs
        from pydicom.encaps import encapsulate
        from pydicom.uid import JPEG2000Lossless

        from dcmlib.read import decode as dio

        r = np.arange(40 * 48).reshape(40, 48)
        px = values(r).astype(dtype) if values else (r % 3000).astype(np.int16)
        stream = imagecodecs.jpeg2k_encode(px.astype(np.uint16) if values is None else px, level=0, codecformat="J2K")
        ds = make_ds(px, transfer_syntax=JPEG2000Lossless, BitsStored=bits_stored, HighBit=bits_stored - 1)
        ds.PixelData = encapsulate([stream])
        path = write_ds(ds, tmp_path / "j2k.dcm")
        img = dcmlib.load(path)
        ref, lay = img.frame_ref(0), img.layout
        usual = dio.decode_frame(ref, lay, path)
        # which decoder ran: imagecodecs' OpenJPEG alone (fast), or pydicom's plugins as usual
        calls = {"openjpeg": 0, "pydicom": 0}
        real_j2k, real_pixel_array = imagecodecs.jpeg2k_decode, dio.pixel_array

        def j2k(*a, **k):
            calls["openjpeg"] += 1
            return real_j2k(*a, **k)

        def pixel_array(*a, **k):
            calls["pydicom"] += 1
            return real_pixel_array(*a, **k)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(imagecodecs, "jpeg2k_decode", j2k)
            mp.setattr(dio, "pixel_array", pixel_array)
            threaded = dio.decode_frame(ref, lay, path, threads=True)
        assert threaded.dtype == usual.dtype and threaded.flags.c_contiguous
        np.testing.assert_array_equal(threaded, usual)
        assert (calls["pydicom"] == 0) == fast and (calls["openjpeg"] == 1 if fast else True), calls

    def test_read_ahead_pool_runs_ahead_a_bounded_distance(self):
        import threading

        calls: list[int] = []
        gate = threading.Event()

        def fn(k):
            calls.append(k)
            if k == 7:
                raise ValueError("seven")
            return k * k

        with volume.ReadAheadPool(fn, 10, 2) as pool:
            assert pool.get(0) == 0
            gate.wait(0.2)
            assert max(calls) <= 3  # 2 workers: at most 4 slices asked for ahead of the caller
            assert [pool.get(k) for k in range(1, 7)] == [k * k for k in range(1, 7)]
            with pytest.raises(ValueError, match="seven"):
                pool.get(7)
            assert pool.get(9) == 81
        assert sorted(set(calls)) == sorted(calls)  # each computed once
        with volume.ReadAheadPool(fn, 3, 1) as alone:  # one worker: computed when asked, in the caller's thread
            assert alone.get(2) == 4 and calls[-1] == 2


class TestCommandLine:
    def test_export_in_every_plane_is_render(self, tmp_path):
        import cv2

        from helpers import run_cli

        (tmp_path / "s").mkdir()
        folder = axial(tmp_path / "s")
        img, _ = load(folder)
        for plane, frame in (("axial", 3), ("coronal", 12), ("sagittal", 16)):
            out = tmp_path / f"{plane}.png"
            proc = run_cli(folder, "--plane", plane, "--frame", str(frame), "--window", "500", "1500", "--export", out)
            assert proc.returncode == 0, proc.stderr
            want = img.reformat(plane).render(500, 1500, frame=frame - 1)
            np.testing.assert_array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), want)
        proc = run_cli(folder, "--plane", "coronal", "--frame", "13", "--export", tmp_path / "x.png")
        assert_one_error_line(proc, folder.name, problem=r"frame 13 out of range \(1\.\.12\)")
        proc = run_cli(folder, "--plane", "sagittal", "--info")
        assert proc.returncode == 0 and f"reformatted sagittal: {NY}x{NZ} x{NX} slices, x 0.0 to 15.0 mm" in proc.stdout
        proc = run_cli(folder, "--plane", "coronal", "--cache-mb", "0.001", "--export", tmp_path / "y.png")
        assert_one_error_line(proc, folder.name, problem="use --cache-mb")
        assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


class TestViewerState:
    def test_t_asks_the_shell_for_the_next_plane(self, tmp_path):
        from dcmlib.viewer import controls

        img, _ = load(axial(tmp_path))
        assert controls.on_key(controls.initial_state(img), "t", img).request == "plane"
        assert mpr.current_plane(img) == "axial" and mpr.next_plane(img) == "coronal"
        assert mpr.next_plane(img.reformat("sagittal")) == "axial"

    def test_annotation_names_plane_slice_and_axis(self, tmp_path):
        from dcmlib.viewer.view import View

        img, _ = load(axial(tmp_path))
        cor = img.reformat("coronal")
        v = View(cor, screen=(800, 600))
        v.set_state(replace_frame(v.state, 3))
        assert "coronal 4/12  y 3 mm" in v.annotation_lines()
        assert v.compose().shape[:2] == (v.size[1], v.size[0])

    def test_switch_keeps_the_point(self, tmp_path):
        img, _ = load(axial(tmp_path))
        cor, f = mpr.switch_plane(img, 2, (3.5, 9.5))  # pixel (x 3, y 9) of slice z 2
        assert cor.plane == "coronal" and f == 9
        sag, f = mpr.switch_plane(cor, f, (3.5, NZ - 1 - 2 + 0.5))  # the same voxel on the coronal slice
        assert sag.plane == "sagittal" and f == 3
        ax, f = mpr.switch_plane(sag, f, (9.5, NZ - 1 - 2 + 0.5))
        assert ax.plane == "axial" and f == 2
        assert mpr.switch_plane(ax, 2)[1] == round(NY / 2 - 0.5)  # no pointer: the centre


def replace_frame(state, frame):
    from dataclasses import replace

    return replace(state, frame=frame)


def test_viewer_cycles_planes_keeping_window_and_snapshot_is_export(viewer_of, tmp_path, capsys):
    """The HighGUI shell: ``t`` cycles coronal, sagittal, axial through the centre; the window stays;
    the shown frame has the plane's aspect; ``s`` writes exactly the plane's render."""
    import cv2

    (tmp_path / "s").mkdir()
    img, _ = load(axial(tmp_path / "s"))
    v = viewer_of(img, center=300, width=1200)
    for plane, (rows, cols, count) in (
        ("coronal", SIZES["coronal"]),
        ("sagittal", SIZES["sagittal"]),
        ("axial", SIZES["axial"]),
    ):
        v.on_key(ord("t"))
        assert v.img.plane == plane and (v.state.center, v.state.width) == (300, 1200)
        assert v.state.n_frames == count
        h, w = v.shown.shape[:2]
        assert abs(w / h - cols / rows) < 0.05
        path = v.snapshot()
        want = v.img.render(300, 1200, frame=v.state.frame)
        np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), want)
        assert f"{plane} {v.state.frame + 1}/{count}  " in "\n".join(v.view.annotation_lines())
    assert "saved" in capsys.readouterr().out


def test_t_on_a_single_image_says_why(viewer_of):
    img = dcmlib.load(make_ds(np.zeros((8, 8), np.int16), WindowCenter=0, WindowWidth=100))
    v = viewer_of(img)
    v.on_key(ord("t"))
    assert v.img is img and "two or more slices" in v.state.message


def test_the_viewer_opens_on_a_reformatted_plane(viewer_of, tmp_path):
    """``dcmview.py FOLDER --plane coronal``: the window opens on the plane (its title names the folder;
    only an acquired series names its series), and ``s`` is the plane's render."""
    import cv2

    (tmp_path / "s").mkdir()
    img, _ = load(axial(tmp_path / "s"))
    plane = img.reformat("coronal")
    v = viewer_of(plane, center=300, width=1200)
    assert v.title == "dcmview - s (coronal)" and v.state.n_frames == SIZES["coronal"][2]
    path = v.snapshot()
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), plane.render(300, 1200, frame=v.state.frame))

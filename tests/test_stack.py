"""dcmlib.images.stack.FrameStore: frames by index, decoded once, cached; one damaged slice does not stop a series.

The truth is the pixel arrays the tests write (``helpers.make_ds`` /
``helpers.write_series``), the rescale worked by hand (PS3.3 C.11.1) and the
padding range (C.7.5.1.1.2).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from dcmlib.errors import InvalidArgumentError, NotDicomError, PixelDataError
from dcmlib.images.stack import FrameStore
from dcmlib.read import io
from dcmlib.values.frames import FrameRef
from helpers import damaged_series, make_ds, per_frame_windows, ramp, write_series


def memory_store(ds, **kw) -> FrameStore:
    pixels = io.pixel_element(ds)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return FrameStore([FrameRef(ds, ds, pixels, i) for i in range(frames)], path="mem.dcm", **kw)


def file_store(paths, **kw) -> FrameStore:
    refs = []
    for p in paths:
        header, pixels = io.read_header(p)
        assert header is not None, pixels
        refs.append(FrameRef(p, header, pixels, 0))
    return FrameStore(refs, read_ahead=False, **kw)


STACK = np.stack([ramp(8, 6, 10 * k, 1000 + 10 * k, np.uint16) for k in range(4)])


class TestConstruction:
    def test_no_frames_is_no_image(self):
        with pytest.raises(NotDicomError, match=r"^here: no images$"):
            FrameStore([], path="here")

    def test_a_multi_frame_file(self):
        store = memory_store(make_ds(STACK))
        assert len(store) == 4 and not store.is_series and store.decodes == 0
        assert (store.layout.rows, store.layout.columns, store.layout.frames) == (8, 6, 4)
        assert store.where(store.refs[0]) == "mem.dcm"

    def test_a_series_of_files(self, tmp_path):
        paths = write_series(tmp_path, list(STACK))
        store = file_store(paths)
        assert len(store) == 4 and store.is_series
        assert [store.where(r) for r in store.refs] == [os.fspath(p) for p in paths]


class TestIndex:
    @pytest.mark.parametrize(
        "frame, problem",
        [
            (4, r"frame index 4 out of range \(0\.\.3\)"),
            (-1, r"frame index -1 out of range \(0\.\.3\)"),
            ("two", r"frame must be an integer, got 'two'"),
            (None, r"frame must be an integer, got None"),
        ],
    )
    def test_bad_frames(self, frame, problem):
        store = memory_store(make_ds(STACK))
        with pytest.raises(InvalidArgumentError, match=rf"^x\.dcm: {problem}$"):
            store.index(frame, "x.dcm")

    def test_good_frames(self):
        store = memory_store(make_ds(STACK))
        assert [store.index(f, None) for f in (0, "3", 2.0)] == [0, 3, 2]


class TestPixels:
    def test_stored_are_the_written_values_read_only_and_decoded_once(self):
        store = memory_store(make_ds(STACK))
        for k in range(4):
            np.testing.assert_array_equal(store.stored(k), STACK[k])
        assert store.decodes == 4 and all(store.is_cached(k) for k in range(4))
        store.stored(2)
        assert store.decodes == 4  # from the cache
        with pytest.raises(ValueError):
            store.stored(0)[0, 0] = 1

    def test_values_are_the_rescale_in_float32(self):
        store = memory_store(make_ds(STACK, RescaleSlope="0.5", RescaleIntercept="-100"))
        v = store.values(1)
        assert v.dtype == np.float32 and not v.flags.writeable
        np.testing.assert_array_equal(v, STACK[1] * 0.5 - 100)

    def test_each_frame_its_own_window_through_the_functional_groups(self):
        store = memory_store(per_frame_windows(STACK, [(100, 50), (200, 60), (300, 70), (400, 80)], slope=2.0))
        assert [(store.params(k).vois[0].center, store.params(k).vois[0].width) for k in range(4)] == [
            (100, 50),
            (200, 60),
            (300, 70),
            (400, 80),
        ]
        np.testing.assert_array_equal(store.values(3), STACK[3] * 2.0)

    def test_padding_is_left_out_of_the_data_range(self):
        px = STACK[0].copy()
        px[0, :3] = 0
        store = memory_store(make_ds(px, PixelPaddingValue=0))
        mask = store.padding_mask(0)
        assert mask.sum() == 3 and mask[0, :3].all()
        assert store.data_range(0) == (float(px[px != 0].min()), float(px.max()))
        assert store.stored_range(0) == (0, int(px.max()))  # the display table's extent keeps every code

    def test_no_padding_declared(self):
        store = memory_store(make_ds(STACK[0]))
        assert store.padding_mask(0) is None
        assert store.data_range(0) == (float(STACK[0].min()), float(STACK[0].max()))

    def test_colour_values_are_rgb_and_have_no_padding(self):
        rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
        store = memory_store(make_ds(rgb, SamplesPerPixel=3))
        np.testing.assert_array_equal(store.values(0), rgb)
        assert store.padding_mask(0) is None and store.layout.is_color

    def test_close_drops_the_cache_and_later_reads_decode_again(self):
        store = memory_store(make_ds(STACK))
        store.stored(0)
        store.close()
        assert not store.is_cached(0)
        np.testing.assert_array_equal(store.stored(0), STACK[0])
        assert store.decodes == 2


class TestDamagedSeries:
    def test_one_cut_slice_fails_alone_naming_its_file(self, tmp_path):
        folder = damaged_series(tmp_path, slices=3, damaged=1)
        paths = sorted(os.fspath(p) for p in folder.glob("*.dcm"))
        store = file_store(paths)  # the check failed, the store still opens
        np.testing.assert_array_equal(store.stored(0), np.full((32, 32), 0, np.int16))
        np.testing.assert_array_equal(store.stored(2), np.full((32, 32), 200, np.int16))
        with pytest.raises(PixelDataError) as info:
            store.stored(1)
        assert info.value.path == paths[1]
        with pytest.raises(PixelDataError):
            store.layout_of(1)

    def test_a_series_of_another_size_slice_keeps_each_files_layout(self, tmp_path):
        a = write_series(tmp_path / "a", [np.zeros((4, 4), np.uint16)])
        b = write_series(tmp_path / "b", [np.ones((6, 2), np.uint16)])
        store = file_store(a + b)
        assert store.layout_of(1).rows == 6 and store.layout_of(1).columns == 2
        assert store.stored(1).shape == (6, 2)

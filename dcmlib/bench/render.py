"""Render speed: ours vs pydicom's VOI path vs a one-pass floor, same images, one run.

For a 512 x 512 CT and a 4096 x 3328 12-bit image, each call uses a new window:
- ours: ``DicomImage.render(center, width, mode=...)`` (display table over the stored codes + ``cv2.LUT``);
- pydicom: ``apply_voi_lut(apply_modality_lut(arr, ds), ds)`` scaled to uint8;
- floor: ``np.copyto(uint8, float32_frame, casting="unsafe")``, the cost of touching every pixel once.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian

from dcmlib.bench import measure
from dcmlib.images.image import load


def synthetic(rows: int, cols: int, *, ct: bool) -> Dataset:
    """A grayscale image Dataset: a CT (int16, HU = stored - 1024) or a 12-bit unsigned projection image."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:rows, 0:cols]
    r = np.hypot((y - rows / 2) / (rows / 2), (x - cols / 2) / (cols / 2))
    if ct:
        hu = np.where(r < 0.9, 40.0, -1000.0) + np.where(r < 0.3, 900.0, 0.0)
        arr = (hu + 1024 + rng.normal(0, 20, hu.shape)).clip(0, 4095).astype(np.int16)
    else:
        arr = (4095 * (1 - r.clip(0, 1)) + rng.normal(0, 30, r.shape)).clip(0, 4095).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Modality = "CT" if ct else "MG"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, (16 if ct else 12), (15 if ct else 11)
    ds.PixelRepresentation = 1 if ct else 0
    ds.RescaleSlope, ds.RescaleIntercept = 1.0, (-1024.0 if ct else 0.0)
    ds.WindowCenter, ds.WindowWidth = (40.0, 400.0) if ct else (2048.0, 4096.0)
    ds.PixelData = arr.tobytes()
    return ds


def pydicom_render(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    out = apply_voi_lut(apply_modality_lut(arr, ds), ds)
    bits = int(ds.BitsStored)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if ds.PixelRepresentation else (0, 2**bits - 1)
    return np.clip((out - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def run_case(label: str, ds: Dataset, repeat: int) -> list[tuple]:
    img = load(ds)
    arr = img.stored(0)
    values = img.values(0)
    c0, w0, _ = img.default_window(0)
    windows = [(c0 + 7.0 * (i % 13), w0 * (1.0 + 0.01 * (i % 17))) for i in range(repeat + 4)]

    def ours(mode):
        return lambda i: img.render(windows[i][0], windows[i][1], mode=mode)

    def theirs(function):
        def call(i):
            ds.WindowCenter, ds.WindowWidth = windows[i]
            ds.VOILUTFunction = function
            return pydicom_render(arr, ds)

        return call

    def floor(i):
        out = np.empty(values.shape, dtype=np.uint8)
        np.copyto(out, values, casting="unsafe")
        return out

    t_floor = measure(floor, repeat)
    rows = []
    for mode, function in (("linear", "LINEAR"), ("sigmoid", "SIGMOID")):
        t_ours = measure(ours(mode), repeat)
        t_pyd = measure(theirs(function), max(3, repeat // 4), warmup=1)
        rows.append((label, mode, t_ours, t_pyd, t_floor))
    return rows


def main() -> None:
    rows = run_case("CT 512x512", synthetic(512, 512, ct=True), 60)
    rows += run_case("4096x3328 12-bit", synthetic(3328, 4096, ct=False), 12)
    print(
        f"{'image':<18}{'mode':<9}{'ours ms':>9}{'pydicom ms':>12}{'floor ms':>10}{'ours/floor':>12}"
        f"{'pydicom/ours':>14}"
    )
    for label, mode, ours, pyd, flo in rows:
        print(f"{label:<18}{mode:<9}{ours:>9.2f}{pyd:>12.1f}{flo:>10.2f}{ours / flo:>11.2f}x{pyd / ours:>13.1f}x")
    print("targets (4096x3328): linear <= 2x floor, sigmoid <= 6x floor; pydicom/ours >= 25x on both sizes")


if __name__ == "__main__":
    main()

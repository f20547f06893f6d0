"""A series folder around a case: two undamaged neighbouring slices of its base and the damaged file."""

from __future__ import annotations

import functools

import numpy as np

from dcmlib.fuzz.mutate.bases import bases, quiet, read
from dcmlib.fuzz.mutate.cases import Case
from dcmlib.fuzz.mutate.encoding import dump, put


@functools.cache
def _neighbours(name: str) -> tuple[bytes, ...]:
    """Two undamaged slices of the series of base ``name``: new SOP Instance UIDs, later instance numbers
    and, when the base has one, positions 5 and 10 mm further along the slice normal."""
    b = next(x for x in bases() if x.name == name)
    out = []
    for k in (1, 2):
        ds = read(b.data)
        with quiet():
            uid = str(ds.get("SOPInstanceUID", "") or "1.2.826.0.1.3680043.10.1")
            number = ds.get("InstanceNumber")
            position = ds.get("ImagePositionPatient")
        put(ds, b, "SOPInstanceUID", "UI", f"{uid[:58]}.{900 + k}")
        try:
            put(ds, b, "InstanceNumber", "IS", str(int(number or 0) + k))
        except (TypeError, ValueError):
            put(ds, b, "InstanceNumber", "IS", str(k))
        try:
            x, y, z = (float(v) for v in position)
            orientation = ds.get("ImageOrientationPatient")
            r, c = np.asarray([float(v) for v in orientation[:3]]), np.asarray([float(v) for v in orientation[3:]])
            n = np.cross(r, c)
            shift = n / (np.linalg.norm(n) or 1.0) * 5.0 * k
            put(ds, b, "ImagePositionPatient", "DS", [f"{v:.4f}" for v in (x + shift[0], y + shift[1], z + shift[2])])
        except (TypeError, ValueError, IndexError):
            pass
        out.append(dump(ds))
    return tuple(out)


def series_files(c: Case) -> list[tuple[str, bytes]]:
    """A series folder around case ``c``: two undamaged slices of its base and the damaged file, (name, bytes)."""
    good = _neighbours(c.base) if c.base in {b.name for b in bases()} else ()
    return [(f"slice-{k + 1}.dcm", data) for k, data in enumerate(good)] + [(c.filename, c.data)]

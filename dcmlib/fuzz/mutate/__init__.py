"""Deterministic, seeded damage to pydicom's bundled image files.

``cases(seed, n)`` yields ``n`` :class:`Case` objects; case ``i`` depends only on
``(seed, i)``, so a case is reproduced from its name alone (:func:`case`,
:func:`case_by_name`) and a longer run starts with the same cases as a shorter one.

The bases are about forty small images: a fixed list of files bundled with
pydicom (``get_testdata_file(name, download=False)``, never downloaded) and a few
derived from them in memory for what pydicom does not bundle (MONOCHROME1, a
Modality LUT, VOI LUTs, float pixel data, signed 8-bit, a big-endian and a
segmented palette, an enhanced-style multi-frame).

Mutation kinds (:data:`KINDS`) work at two levels:

- on the encoded bytes: bit flips, overwritten runs, truncation, splices,
  element VRs, lengths and tags, preamble / file meta, the Transfer Syntax
  UID, encapsulated items (offset table, fragments, delimiters) and the
  compressed codestream inside the first fragment;
- on the Dataset (read with pydicom, edited as raw element bytes so that no
  value is validated or normalised, written back with ``dcmwrite``): image
  geometry, photometric interpretation, rescale / window numbers (NaN, inf,
  1e308, 5e-324, text), Modality and VOI LUTs, palettes (plain and segmented),
  deleted attributes, pixel data lengths, wrong VRs, functional groups; and
  ``combo`` (a Dataset mutation, then a byte mutation).
"""

from dcmlib.fuzz.mutate.bases import BUNDLED, DERIVED, Base, bases
from dcmlib.fuzz.mutate.cases import Case, case, case_by_name, cases
from dcmlib.fuzz.mutate.kinds import KINDS
from dcmlib.fuzz.mutate.series import series_files

__all__ = ["Case", "Base", "KINDS", "BUNDLED", "DERIVED", "cases", "case", "case_by_name", "bases", "series_files"]

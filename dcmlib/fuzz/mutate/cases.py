"""A :class:`Case` (one damaged file) and its seeded generation: :func:`case`, :func:`cases`, :func:`case_by_name`."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from dcmlib.fuzz.mutate.bases import bases, quiet
from dcmlib.fuzz.mutate.kinds import KINDS

# isort: off
# Importing the mutator modules registers their kinds in KINDS, in this order, which seeded generation depends on.
from dcmlib.fuzz.mutate.bytes_level import flip
from dcmlib.fuzz.mutate import meta, encapsulated, dataset_level  # noqa: F401 - imported to register their kinds, in this order
# isort: on


@dataclass(frozen=True)
class Case:
    """One damaged file: ``name`` is ``"<base>#<kind>-<index>"``; ``note`` says what was changed."""

    name: str
    kind: str
    data: bytes
    base: str = ""
    note: str = ""
    seed: int = 0
    index: int = 0

    @property
    def filename(self) -> str:
        """A file name for the case (letters, digits and ``._+-`` only)."""
        return re.sub(r"[^A-Za-z0-9._+-]", "_", self.name) + ("" if self.name.endswith(".dcm") else ".dcm")


def _choose_kind(rng: random.Random) -> str:
    names = list(KINDS)
    return rng.choices(names, weights=[KINDS[k][0] for k in names])[0]


def case(seed: int, index: int) -> Case:
    """Case ``index`` of the run seeded ``seed`` (independent of the other cases)."""
    rng = random.Random(f"dcmlib.fuzz/{int(seed)}/{int(index)}")
    all_bases = bases()
    for _ in range(50):
        base = rng.choice(all_bases)
        kind = _choose_kind(rng)
        try:
            with quiet():
                out = KINDS[kind][1](rng, base)
        except Exception:  # a mutation pydicom cannot write: draw another
            continue
        if out is not None and out[0] != base.data:
            data, note = out
            return Case(f"{base.name}#{kind}-{index}", kind, data, base.name, note, int(seed), int(index))
    base = all_bases[0]
    data, note = flip(rng, base)
    return Case(f"{base.name}#flip-{index}", "flip", data, base.name, note, int(seed), int(index))


def cases(seed: int, n: int, start: int = 0) -> Iterator[Case]:
    """``n`` damaged files, cases ``start`` .. ``start + n - 1`` of the run seeded ``seed``."""
    for i in range(start, start + n):
        yield case(seed, i)


def case_by_name(seed: int, name: str) -> Case:
    """The case named ``name`` (``"<base>#<kind>-<index>"``) in the run seeded ``seed``."""
    m = re.search(r"-(\d+)$", name)
    if not m:
        raise ValueError(f"not a case name: {name!r}")
    c = case(seed, int(m.group(1)))
    if c.name != name:
        raise ValueError(f"case {m.group(1)} of seed {seed} is {c.name!r}, not {name!r}")
    return c

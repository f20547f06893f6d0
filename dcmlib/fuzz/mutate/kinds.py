"""The table of mutation kinds (:data:`KINDS`) and the decorator that fills it."""

from __future__ import annotations

import random
from collections.abc import Callable

from dcmlib.fuzz.mutate.bases import Base

Result = tuple[bytes, str]
Mutator = Callable[[random.Random, Base], "Result | None"]

#: Mutation kind -> (weight, mutator). A mutator returns (bytes, note), or None when it does not apply.
KINDS: dict[str, tuple[int, Mutator]] = {}


def register_kind(name: str, weight: int):
    def register(fn: Mutator) -> Mutator:
        KINDS[name] = (weight, fn)
        return fn

    return register

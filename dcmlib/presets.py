"""CT window presets (width/level in Hounsfield units).

The order is the viewer's cycle order and its keys 1-9.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .errors import InvalidArgumentError

__all__ = ["Preset", "PRESETS", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """A named window: center and width in modality units (HU for CT)."""

    name: str
    center: float
    width: float


_ORDERED = (
    Preset("lung", -600.0, 1500.0),
    Preset("bone", 300.0, 1500.0),
    Preset("brain", 40.0, 80.0),
    Preset("soft tissue", 40.0, 400.0),
    Preset("mediastinum", 50.0, 350.0),
    Preset("liver", 30.0, 150.0),
    Preset("stroke", 40.0, 40.0),
    Preset("subdural", 75.0, 200.0),
    Preset("temporal bone", 600.0, 2800.0),
)

#: Read-only mapping name -> Preset, in cycle order.
PRESETS = MappingProxyType({p.name: p for p in _ORDERED})


def _norm(name: str) -> str:
    return " ".join(name.replace("-", " ").replace("_", " ").lower().split())


def get_preset(name: str) -> Preset:
    """Look a preset up by name; ``soft-tissue``, ``Soft_Tissue`` and ``soft tissue`` are the same."""
    key = _norm(name)
    if key in PRESETS:
        return PRESETS[key]
    valid = ", ".join(PRESETS)
    raise InvalidArgumentError(f"unknown preset {name!r} (valid: {valid})")

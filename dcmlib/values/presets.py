"""Window presets: the built-in CT windows (HU) and the user's own, per modality.

The built-in presets are CT windows in Hounsfield units; their order is the
viewer's cycle order and its keys 1-9.  They apply only to images whose
modality values are HU (:func:`applies_hu`).

User presets come from a TOML file, by default
``$XDG_CONFIG_HOME/dcmview/presets.toml`` (``~/.config/dcmview/presets.toml``),
with one table per modality, in the order they are cycled::

    [CT]
    "liver narrow" = { center = 60, width = 120 }
    [CR]
    chest = { center = 2000, width = 3000, function = "sigmoid" }

A preset may also be an array ``[center, width]`` or ``[center, width,
"function"]``, and a modality may be an array of tables (``[[MR]]`` with
``name``, ``center``, ``width`` and optionally ``function``).  Weasis's
``presets.xml`` (``<preset name="..." modality="CT" window="..." level="..."
shape="LINEAR"/>``) is read too, so the same file can be brought over.
"""

from __future__ import annotations

import math
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from dcmlib.errors import ErrorPath, InvalidArgumentError
from dcmlib.values.lut import VoiFunction

__all__ = [
    "Preset",
    "PRESETS",
    "get_preset",
    "UserPresets",
    "applies_hu",
    "default_presets_path",
    "load_presets",
    "parse_toml_presets",
    "parse_weasis_presets",
    "find_preset",
    "preset_for_image",
]


@dataclass(frozen=True)
class Preset:
    """A named window: center and width in modality units (HU for CT).

    ``function`` is its VOI LUT Function (PS3.3 C.11.2.1.3) when the preset
    names one; None means the image's (or ``--mode``).
    """

    name: str
    center: float
    width: float
    function: VoiFunction | None = None


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
    """Look a built-in preset up by name; ``soft-tissue``, ``Soft_Tissue`` and ``soft tissue`` are the same."""
    key = _norm(name)
    if key in PRESETS:
        return PRESETS[key]
    valid = ", ".join(PRESETS)
    raise InvalidArgumentError(f"unknown preset {name!r} (valid: {valid})")


def applies_hu(unit: str) -> bool:
    """Whether the CT presets fit an image whose modality values are in ``unit``: only Hounsfield units.

    That is CT, and PET/CT-like data whose Rescale Type (0028,1054) is HU
    (:attr:`dcmlib.images.image.DicomImage.unit`).
    """
    return unit.strip().upper() == "HU"


# ----------------------------------------------------------------------------- user presets


@dataclass(frozen=True)
class UserPresets:
    """The user's presets by modality (upper case, e.g. ``CT``, ``CR``), each tuple in cycle order.

    ``path`` is the file they came from; ``notes`` are entries that were
    skipped, one message each.
    """

    by_modality: Mapping[str, tuple[Preset, ...]] = field(default_factory=dict)
    path: str = ""
    notes: tuple[str, ...] = ()

    def for_modality(self, modality: str) -> tuple[Preset, ...]:
        """The presets of one modality (empty when the file has none for it)."""
        return tuple(self.by_modality.get(modality.strip().upper(), ()))

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_modality.values())


def default_presets_path() -> Path:
    """``$XDG_CONFIG_HOME/dcmview/presets.toml``; XDG_CONFIG_HOME defaults to ``~/.config``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dcmview" / "presets.toml"


def load_presets(path: str | os.PathLike[str]) -> UserPresets:
    """Read a presets file: Weasis XML when it starts with ``<`` (or ends in ``.xml``), else TOML.

    Raises :class:`~dcmlib.errors.InvalidArgumentError` naming the file (and
    the line or entry) when it cannot be read or a preset is malformed.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read presets file ({exc.strerror or exc})", p) from None
    head = data.lstrip()[:1]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidArgumentError("presets file is not UTF-8 text", p) from None
    if head == b"<" or p.suffix.lower() == ".xml":
        by, notes = parse_weasis_presets(text, p)
    else:
        by, notes = parse_toml_presets(text, p)
    return UserPresets(MappingProxyType(by), str(p), tuple(notes))


def _toml_loads(text: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def parse_toml_presets(text: str, where: ErrorPath = None) -> tuple[dict[str, tuple[Preset, ...]], list[str]]:
    """The presets of a TOML text: modality -> presets in file order (see the module docstring)."""
    try:
        doc = _toml_loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError: "... (at line 3, column 7)"
        raise InvalidArgumentError(f"not valid TOML: {exc}", where) from None
    out: dict[str, tuple[Preset, ...]] = {}
    for modality, entries in doc.items():
        if isinstance(entries, Mapping):
            items = [(str(name), value) for name, value in entries.items()]
        elif isinstance(entries, list) and all(isinstance(e, Mapping) for e in entries):
            items = [(str(e.get("name", "")), e) for e in entries]
        else:
            raise InvalidArgumentError(f"[{modality}] must be a table of presets or an array of tables", where)
        out[_modality_key(modality, where)] = tuple(_toml_preset(modality, n, v, where) for n, v in items)
    return out, []


def _toml_preset(modality: str, name: str, value: object, where: ErrorPath) -> Preset:
    """One TOML entry: ``{center, width[, function]}`` or ``[center, width[, function]]``."""
    what = f"[{modality}] preset {name!r}"
    if isinstance(value, Mapping):
        unknown = set(value) - {"name", "center", "width", "function"}
        if unknown:
            raise InvalidArgumentError(
                f"{what}: unknown key {sorted(unknown)[0]!r} (use center, width, function)", where
            )
        center, width, function = value.get("center"), value.get("width"), value.get("function")
    elif isinstance(value, list) and len(value) in (2, 3):
        center, width, function = (list(value) + [None])[:3]
    else:
        raise InvalidArgumentError(f"{what} must be {{ center = C, width = W }} or [C, W]", where)
    return _make(name, center, width, function, what, where)


def parse_weasis_presets(text: str, where: ErrorPath = None) -> tuple[dict[str, tuple[Preset, ...]], list[str]]:
    """The presets of a Weasis ``presets.xml``: ``<preset name modality window level [shape] [key]/>``.

    ``level`` is the center and ``window`` the width.  Weasis's shapes LINEAR
    and SIGMOID map to the VOI LUT Functions; LOG and LOG_INV have no DICOM
    equivalent, so those presets are skipped with a note.  ``key`` is ignored:
    the cycle follows the file's order.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidArgumentError(f"not valid XML: {exc}", where) from None
    if root.tag != "presets":
        raise InvalidArgumentError(f"not a Weasis presets file (root element <{root.tag}>, expected <presets>)", where)
    grouped: dict[str, list[Preset]] = {}
    notes: list[str] = []
    for n, el in enumerate(root.iter("preset"), 1):
        name, modality = el.get("name"), el.get("modality")
        what = f"<preset> {n}" + (f" {name!r}" if name else "")
        missing = [a for a in ("name", "modality", "window", "level") if not el.get(a)]
        if missing:
            raise InvalidArgumentError(f"{what} has no {missing[0]!r} attribute", where)
        shape = (el.get("shape") or "LINEAR").strip().upper()
        if shape not in ("LINEAR", "SIGMOID"):
            notes.append(f"{what}: shape {shape} is not a DICOM VOI LUT Function; preset skipped")
            continue
        preset = _make(str(name), el.get("level"), el.get("window"), shape, what, where)
        grouped.setdefault(_modality_key(str(modality), where), []).append(preset)
    return {k: tuple(v) for k, v in grouped.items()}, notes


def _modality_key(modality: str, where: ErrorPath) -> str:
    key = modality.strip().upper()
    if not key or not all(c.isalnum() or c == "_" for c in key):
        raise InvalidArgumentError(f"{modality!r} is not a modality (e.g. CT, MR, CR)", where)
    return key


def _make(name: str, center: object, width: object, function: object, what: str, where: ErrorPath) -> Preset:
    """A checked Preset: a name, finite numbers, a width the function can show (PS3.3 C.11.2.1.2)."""
    if not name.strip():
        raise InvalidArgumentError(f"{what}: a preset needs a name", where)
    values = []
    for label, v in (("center", center), ("width", width)):
        try:
            if not isinstance(v, (str, int, float)):  # a TOML array, table or date: not a number
                raise TypeError(v)
            x = float(v)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{what}: {label} must be a number, got {v!r}", where) from None
        if isinstance(v, bool) or not math.isfinite(x) or abs(x) > 1e30:
            raise InvalidArgumentError(f"{what}: {label} must be a finite number, got {v!r}", where)
        values.append(x)
    fn = None
    if function is not None:
        try:
            fn = VoiFunction.parse(str(function))
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"{what}: {exc.problem}", where) from None
    least = 1.0 if fn in (None, VoiFunction.LINEAR) else 0.0
    if values[1] < least or values[1] <= 0:
        raise InvalidArgumentError(f"{what}: width must be {'>= 1' if least else '> 0'}, got {width!r}", where)
    return Preset(name.strip(), values[0], values[1], fn)


def find_preset(name: str, modality: str = "", user: UserPresets | None = None) -> Preset:
    """``--preset NAME``: the user's preset of that name for ``modality`` first, then any of the
    user's presets, then the built-in ones (names compared as :func:`get_preset` does)."""
    if user is not None:
        key = _norm(name)
        own = user.for_modality(modality) if modality else ()
        others = tuple(p for presets in user.by_modality.values() for p in presets)
        for p in own + others:
            if _norm(p.name) == key:
                return p
    try:
        return get_preset(name)
    except InvalidArgumentError:
        if user is None or not len(user):
            raise
        mine = ", ".join(dict.fromkeys(p.name for v in user.by_modality.values() for p in v))
        raise InvalidArgumentError(
            f"unknown preset {name!r} (built in: {', '.join(PRESETS)}; {Path(user.path).name}: {mine})"
        ) from None


def preset_for_image(
    name: str, modality: str, unit: str, user: UserPresets | None = None
) -> tuple[Preset | None, str | None]:
    """``--preset NAME`` for one image, by the rule the viewer's preset cycle follows: ``(preset, None)``,
    or ``(None, note)`` when the preset is defined for other modalities than the image's.

    The user's preset of that name for the image's ``modality`` applies; a
    built-in preset applies when the image's values are HU (:func:`applies_hu`).
    Otherwise the preset is not applied (the caller keeps the file's own
    window) and ``note`` says why.  An unknown name raises as :func:`find_preset`.
    """
    key = _norm(name)
    for p in user.for_modality(modality) if user is not None and modality else ():
        if _norm(p.name) == key:
            return p, None
    builtin = PRESETS.get(key)
    if builtin is not None and applies_hu(unit):
        return builtin, None
    found = find_preset(name, modality, user)
    owners = ["CT (HU)"] if builtin is not None else []
    if user is not None:
        owners += [m for m, presets in user.by_modality.items() if any(_norm(p.name) == key for p in presets)]
    image = f"{modality} ({unit})" if modality and unit else modality or (unit and f"values in {unit}") or "this image"
    return None, (
        f"preset {found.name!r} is for {' and '.join(dict.fromkeys(owners))}, not {image}: "
        "the file's own window is used"
    )

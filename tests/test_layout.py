"""The README's map of the code is checked against the real modules and the import-linter layers.

Every module and subpackage of dcmlib is in README.md's Layout list, nothing listed is missing
from disk, and the list runs from the bottom layer up in the order of the layers contract in
setup.cfg (which ``lint-imports`` enforces on the imports themselves in .ci/run).
"""

from __future__ import annotations

import configparser
import re

from helpers import ROOT


def _listed() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Layout") :]
    block = block[block.index("```\n") + 4 :]
    block = block[: block.index("```")]
    return [m.group(1) for m in re.finditer(r"^dcmlib/(\S+)", block, re.MULTILINE)]


def _names(entries: list[str]) -> list[str]:
    """``io.py`` -> ``dcmlib.io``, ``batch/`` -> ``dcmlib.batch``; the facade ``__init__.py`` is ``dcmlib``."""
    return ["dcmlib" if e == "__init__.py" else "dcmlib." + e.removesuffix(".py").rstrip("/") for e in entries]


def _layers() -> list[set[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = [ln.strip() for ln in cfg["importlinter:contract:layers"]["layers"].splitlines() if ln.strip()]
    return [{m.strip() for m in ln.split("|")} for ln in lines]  # top layer first


def test_every_module_is_on_the_map_and_nothing_else():
    on_disk = {p.name for p in (ROOT / "dcmlib").glob("*.py")}
    on_disk |= {p.name + "/" for p in (ROOT / "dcmlib").iterdir() if (p / "__init__.py").is_file()}
    listed = _listed()
    assert len(listed) == len(set(listed)), "listed twice"
    assert set(listed) == on_disk, (sorted(on_disk - set(listed)), sorted(set(listed) - on_disk))


def test_the_map_runs_bottom_up_in_the_contracts_layers():
    layers = _layers()
    where = {m: i for i, layer in enumerate(layers) for m in layer}
    names = [n for n in _names(_listed()) if n != "dcmlib"]  # the facade sits above every layer
    assert set(names) == set(where), (sorted(set(names) - set(where)), sorted(set(where) - set(names)))
    ranks = [where[n] for n in names]
    assert ranks == sorted(ranks, reverse=True), list(zip(names, ranks))

"""The README's map of the code is checked against the real modules and the import-linter layers.

Every module of dcmlib's shared modules and layer packages is on README.md's Layout list (the batch,
bench, fuzz and app packages as folders), nothing listed is missing from disk, and the list runs from
the bottom layer up in the order of the layer contracts in setup.cfg (which ``lint-imports``
enforces on the imports themselves in .ci/run). And no module imports, at import time, one that
imports it back.
"""

from __future__ import annotations

import ast
import configparser
import re

from helpers import ROOT

DCMLIB = ROOT / "dcmlib"
FOLDERS = {"batch", "bench", "fuzz", "app"}  # listed as a folder each


def _listed() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Layout") :]
    block = block[block.index("```\n") + 4 :]
    block = block[: block.index("```")]
    return [m.group(1) for m in re.finditer(r"^dcmlib/(\S+)", block, re.MULTILINE)]


def _dotted(entry: str) -> str:
    """``read/io.py`` -> ``dcmlib.read.io``; ``batch/`` -> ``dcmlib.batch``; ``__init__.py`` -> ``dcmlib``."""
    return ".".join(["dcmlib", *entry.removesuffix(".py").rstrip("/").split("/")]).removesuffix(".__init__")


def _contract(section: str) -> list[set[str]]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = [ln.strip() for ln in cfg[section]["layers"].splitlines() if ln.strip()]
    return [{m.strip() for m in ln.split("|")} for ln in lines]  # top layer first


def test_every_module_is_on_the_map_and_nothing_else():
    on_disk = {p.name for p in DCMLIB.glob("*.py")}
    for pkg in (p for p in DCMLIB.iterdir() if (p / "__init__.py").is_file()):
        on_disk.add(pkg.name + "/")
        if pkg.name not in FOLDERS:
            on_disk |= {f"{pkg.name}/{m.name}" for m in pkg.glob("*.py") if m.name != "__init__.py"}
    listed = _listed()
    assert len(listed) == len(set(listed)), "listed twice"
    assert set(listed) == on_disk, (sorted(on_disk - set(listed)), sorted(set(listed) - on_disk))


def test_the_map_runs_bottom_up_in_the_contracts_layers():
    names = [_dotted(e) for e in _listed() if e != "__init__.py"]  # the facade sits above every layer
    top = _contract("importlinter:contract:layers")
    rank = {m: i for i, layer in enumerate(top) for m in layer}
    packages = [n if n in rank else n.rsplit(".", 1)[0] for n in names]
    assert set(packages) == set(rank), sorted(set(packages) ^ set(rank))
    ranks = [rank[p] for p in packages]
    assert ranks == sorted(ranks, reverse=True), list(zip(names, ranks))
    for pkg in ("values", "read", "render", "objects", "images", "viewer"):
        inner = {m: i for i, layer in enumerate(_contract(f"importlinter:contract:{pkg}")) for m in layer}
        mods = [n for n in names if n.startswith(f"dcmlib.{pkg}.")]
        assert set(mods) == set(inner), (pkg, sorted(set(mods) ^ set(inner)))
        order = [inner[m] for m in mods]
        assert order == sorted(order, reverse=True), (pkg, list(zip(mods, order)))


def _import_time_edges() -> dict[str, set[str]]:
    """Module -> the dcmlib modules it imports when it is imported (not in functions, not for type checking)."""
    mods = {}
    for f in DCMLIB.rglob("*.py"):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = f
    edges: dict[str, set[str]] = {}
    for name, f in mods.items():
        found = set()
        for node in ast.parse(f.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for n in node.body if isinstance(node, ast.Try) else [node]:
                if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("dcmlib"):
                    for alias in n.names:
                        full = f"{n.module}.{alias.name}"
                        found.add(full if full in mods else n.module)
        edges[name] = {m for m in found if m in mods and m != name}
    return edges


def test_no_module_imports_one_that_imports_it_back():
    edges = _import_time_edges()

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            for m in edges[todo.pop()]:
                if m == b:
                    return True
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return False

    cycles = [
        (a, b)
        for a in edges
        for b in edges[a]
        if not b.startswith(a + ".") and not a.startswith(b + ".") and b != "dcmlib" and reaches(b, a)
    ]
    assert cycles == []

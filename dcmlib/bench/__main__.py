"""Run the benchmark sections: ``python -m dcmlib.bench [SECTION ...]`` (default: all)."""

from __future__ import annotations

import argparse
import importlib
import sys

from dcmlib.bench import SECTIONS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dcmlib.bench", description=__doc__)
    p.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")
    args = p.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section {unknown[0]!r} (choose from {', '.join(SECTIONS)})")
    for name in args.sections or SECTIONS:
        try:
            module = importlib.import_module(f"dcmlib.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"dcmlib.bench.{name}":
                raise
            print(f"[{name}] not available", file=sys.stderr)
            continue
        print(f"== {name} ==", flush=True)
        module.main()
        print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

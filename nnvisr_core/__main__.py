"""Command line helpers: python -m nnvisr_core {bridge-path,version}."""

from __future__ import annotations

import argparse
import pathlib
import sys

from . import __version__

BRIDGE = pathlib.Path(__file__).resolve().parent / "libnnvisr_bridge.so"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnvisr_core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("bridge-path", help="print the path of the bridge library the filter loads")
    commands.add_parser("version", help="print the package version")
    args = parser.parse_args(argv)
    if args.command == "bridge-path":
        if not BRIDGE.is_file():
            print(f"nnvisr_core: no bridge library at {BRIDGE}: install the package with pip", file=sys.stderr)
            return 1
        print(BRIDGE)
    else:
        print(__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())

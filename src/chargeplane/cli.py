"""The ``chargeplane`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chargeplane import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chargeplane", description="Open OCPP platform")
    parser.add_argument("--version", action="version", version=f"chargeplane {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the CSMS")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        print("chargeplane serve: the CSMS is not built yet; only the protocol core exists.", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())

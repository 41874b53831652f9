"""The ``busmtl`` command line: one module per command in this package.

Each module defines ``register(subparsers)``, which adds its parser(s) and sets ``func``
(called with the parsed ``argparse.Namespace``, returning an exit code). The commands are
registered explicitly below; nothing in the library imports this package.
"""

from __future__ import annotations

import argparse
import sys

from busmtl.cli import bench, book, data, drift, evaluate, sweep, train
from busmtl.errors import UserError

#: Command modules, in the order they appear in ``busmtl --help``.
COMMANDS = (data, train, sweep, evaluate, drift, book, bench)


def build_parser() -> argparse.ArgumentParser:
    from busmtl import __version__

    parser = argparse.ArgumentParser(
        prog="busmtl",
        description="Multi-task loss weighting for breast-ultrasound segmentation + classification.",
    )
    parser.add_argument("--version", action="version", version=f"busmtl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, ValueError) as exc:
        # Bad input from the user: one clear line, no traceback.
        print(f"busmtl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

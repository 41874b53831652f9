"""The ``busmtl`` command line: one sub-command group per module.

Each module that offers commands defines ``register(subparsers)``, which adds its parser(s)
and sets ``func`` (called with the parsed ``argparse.Namespace``, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Modules that contribute sub-commands, in the order they appear in ``busmtl --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "busmtl.data.cli",
    "busmtl.trainer_cli",
    "busmtl.sweep",
    "busmtl.report.cli",
    "busmtl.bench.cli",
)


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    from busmtl import __version__

    parser = argparse.ArgumentParser(
        prog="busmtl",
        description="Multi-task loss weighting for breast-ultrasound segmentation + classification.",
    )
    parser.add_argument("--version", action="version", version=f"busmtl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a module not written yet must not break the others
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue
            raise
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

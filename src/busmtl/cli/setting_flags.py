"""Command-line flags generated from :class:`busmtl.config.TrainConfig`'s fields.

Every setting with a help line in :data:`busmtl.config.SETTING_HELP` becomes a flag
``--<name-with-dashes>``: booleans as ``--x/--no-x``, numbers typed, lists comma-separated,
words with a fixed few values as choices (:data:`busmtl.config.SETTING_CHOICES`). A flag's text is
read by the same rule as ``--set key=value`` (:func:`busmtl.config.read_setting`: ``none`` sets an
optional setting to ``None``), and an absent flag is :data:`ABSENT`: the profile's value stays. A new field of ``TrainConfig`` with a help line is a
flag of ``busmtl train`` without touching the command.
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Callable
from typing import Any

from busmtl.config import SETTING_CHOICES, SETTING_HELP, TrainConfig, read_setting
from busmtl.config import setting_flag as flag


class _Absent:
    """The value of a flag that was not given (``None`` is a value: ``--aux-loss none``)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def _reader(name: str) -> Callable[[str], Any]:
    def read(text: str) -> Any:
        try:
            return read_setting(name, text, flag(name))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    read.__name__ = name
    return read


def _base(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if type(None) in typing.get_args(hint) and len(args) == 1 else hint


def add_setting_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                      names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Add a flag for each setting of ``names`` (default: every one with a help line); return
    the names added."""
    hints = typing.get_type_hints(TrainConfig)
    names = tuple(SETTING_HELP) if names is None else names
    for name in names:
        kwargs: dict[str, Any] = {"dest": name, "default": ABSENT, "help": SETTING_HELP[name]}
        base = _base(hints[name])
        if base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif name in SETTING_CHOICES:
            kwargs["choices"] = SETTING_CHOICES[name]
        else:
            kwargs["type"] = _reader(name)
            if typing.get_origin(base) is tuple:
                kwargs["metavar"] = "LIST"
        parser.add_argument(flag(name), **kwargs)
    return names


def given_settings(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The settings among ``names`` whose flag was given, ``none`` included (as ``None``)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not ABSENT}


def given_setting(args: argparse.Namespace, name: str) -> Any:
    """The value of the setting ``name``'s flag, or ``None`` when it was not given."""
    value = getattr(args, name)
    return None if value is ABSENT else value

"""``busmtl train``: one method on one fold, from the command line.

Settings come from a profile (``--profile``, default ``quick``); every flag that is given
overrides it (:func:`busmtl.config.make_config`; an absent flag is ``None`` = keep the profile).
The setting flags are generated from :class:`busmtl.config.TrainConfig`
(:mod:`busmtl.cli.setting_flags`); ``--set key=value`` reaches any setting.
Weighter hyper-parameters: ``--weighter-param key=value`` (repeatable; values are read as JSON
when possible, e.g. ``alpha=1.5``, else kept as text).

Exit codes: 0 success, 1 the training diverged (NaN/inf loss), 2 bad input (unknown method,
missing data, bad setting).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from typing import Any

from busmtl.cli.setting_flags import add_setting_flags, given_setting, given_settings
from busmtl.errors import UserError


def parse_weighter_params(items: list[str] | None,
                          method: str | None = None) -> dict[str, Any] | None:
    """``["alpha=1.5", "mode=fast"]`` -> ``{"alpha": 1.5, "mode": "fast"}`` (None if empty).

    Each value is one number, word or true/false; NaN and infinities are refused. With a known
    ``method``, a parameter whose default is a number must be given a finite number (a whole
    one where the default is an integer).
    """
    if not items:
        return None
    defaults: dict[str, Any] = {}
    if method is not None:
        from busmtl.weighting import WEIGHTERS, hyperparameters

        defaults = hyperparameters(method) if method in WEIGHTERS else {}
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--weighter-param {item!r} is not key=value (e.g. alpha=1.5)")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        if value is None or isinstance(value, (list, dict)):
            raise UserError(f"--weighter-param {key}={text}: give one number or word, "
                            f"e.g. {key}=1.5")
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (is_number and not math.isfinite(value)) or (
                isinstance(value, str) and value.strip().lower().lstrip("+-") in _NON_FINITE):
            raise UserError(f"--weighter-param {key}={text} is not a finite number: give e.g. "
                            f"{key}=1.5")
        default = defaults.get(key)
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if not is_number:
                raise UserError(f"--weighter-param {key}={text} is not a number: {method}'s "
                                f"{key} is a number (default {key}={default})")
            if isinstance(default, int) and value != int(value):
                raise UserError(f"--weighter-param {key}={text} is not a whole number: "
                                f"{method}'s {key} counts (default {key}={default})")
            value = int(value) if isinstance(default, int) else value
        params[key] = value
    return params


#: Texts of numbers that are not finite (JSON reads only ``NaN`` and ``Infinity``).
_NON_FINITE = ("nan", "inf", "infinity")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train one weighting method on one fold and write its run folder",
        description="Train a network (SSC-ResNet, or the decoder-interaction network with "
        "--model interaction) with one loss-weighting method on one fold; write "
        "config.json, history.csv, metrics.json, predictions.npz (and model.pt) and DONE.",
    )
    p.add_argument("--method", required=True, help="weighting method (e.g. ew, uw, gradnorm, atdwa)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--profile", default="quick", help="settings profile: smoke, quick, busi-cpu or paper")
    settings = p.add_argument_group(
        "settings (busmtl.config.TrainConfig; an absent flag keeps the profile's value)")
    add_setting_flags(settings)
    settings.add_argument("--ablation", default=None, metavar="VARIANT",
                          help="a row of the interaction paper's Table 2: baseline, hmsf, tim, "
                          "tim_upa or full (sets --interaction-modules)")
    settings.add_argument("--weighter-param", action="append", metavar="KEY=VALUE",
                          help="weighter hyper-parameter (repeatable)")
    p.add_argument("--set", action="append", default=None, metavar="KEY=VALUE", dest="settings",
                   help="any setting of busmtl.config.TrainConfig, e.g. --set dropout=0.5 "
                   "(repeatable; flags win)")
    p.add_argument("--force", action="store_true",
                   help="replace a finished run in --out (written beside it, swapped at the end)")
    p.set_defaults(func=run)


def interaction_modules(args: argparse.Namespace) -> tuple[str, ...] | None:
    """``--interaction-modules`` as given, or the modules of the ``--ablation`` variant."""
    given = given_setting(args, "interaction_modules")
    if args.ablation is None:
        return given
    if given is not None:
        raise UserError("give --ablation or --interaction-modules, not both")
    from busmtl.models.interaction import modules_for

    try:
        return modules_for(args.ablation)
    except ValueError as exc:
        raise UserError(f"--ablation: {exc}") from None


def pin_isa(args: argparse.Namespace) -> str:
    """Set the run's instruction-set level before torch is imported; when torch is already
    loaded in this process at another level, re-run the command in a fresh process with the
    level set (``os.execve``; never inside a test, which calls :func:`run` directly)."""
    import os

    from busmtl.config import parse_settings, profile_setting
    from busmtl.training import isa

    level = profile_setting(args.profile, "cpu_isa",
                            given_setting(args, "cpu_isa")
                            or parse_settings(args.settings).get("cpu_isa"))
    wanted = isa.env_for(level)
    if all(os.environ.get(k) == v for k, v in wanted.items()):
        return level
    if "torch" not in sys.modules or os.environ.get("BUSMTL_NO_REEXEC") == "1":
        isa.pin(level)  # raises IsaError (a ValueError: exit 2) where it cannot
        return level
    if not isa.host_supports(level):
        isa.pin(level)
    os.execve(sys.executable, [sys.executable, "-m", "busmtl", *sys.argv[1:]],
              {**os.environ, **wanted, "BUSMTL_NO_REEXEC": "1"})
    return level  # pragma: no cover - execve does not return


def run(args: argparse.Namespace) -> int:
    from busmtl.cli.arguments import check_device, check_out_folder

    check_device(given_setting(args, "device"))
    check_out_folder(args.out)
    cpu_isa = pin_isa(args)
    from busmtl.config import SETTING_HELP, make_config, parse_settings, validate
    from busmtl.training.trainer import NonFiniteLossError, train

    # what the user wrote (None where they wrote `none`), then what is derived from it
    written = {**parse_settings(args.settings), **given_settings(args, tuple(SETTING_HELP))}
    derived = {"method": args.method, "cpu_isa": cpu_isa,
               "weighter": parse_weighter_params(args.weighter_param, args.method),
               "interaction_modules": interaction_modules(args)}
    values = {**written, **{k: v for k, v in derived.items() if v is not None}}
    cfg = make_config(args.profile, **{k: v for k, v in values.items() if v is not None})
    cleared = {k: None for k, v in values.items() if v is None}
    if cleared:  # `--aux-loss none`, `--image-size none`: None over the profile's value
        cfg = dataclasses.replace(cfg, **cleared)
        validate(cfg)
    try:
        result = train(cfg, args.out, replace=args.force)
    except NonFiniteLossError as exc:
        print(f"busmtl train: training diverged: {exc}", file=sys.stderr)
        return 1
    test = result["test"]
    print(
        f"{cfg.method} fold {cfg.fold}: best epoch {result['best_epoch']} of "
        f"{result['epochs_run']}; test " + ", ".join(f"{k} {v:.3f}" for k, v in test.items())
    )
    print(f"run folder: {args.out}")
    return 0

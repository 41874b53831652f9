"""``busmtl train``: one method on one fold, from the command line.

Settings come from a profile (``--profile``, default ``quick``); every flag that is given
overrides it (:func:`busmtl.config.make_config`; an absent flag is ``None`` = keep the profile).
Weighter hyper-parameters: ``--weighter-param key=value`` (repeatable; values are read as JSON
when possible, e.g. ``alpha=1.5``, else kept as text).

Exit codes: 0 success, 1 the training diverged (NaN/inf loss), 2 bad input (unknown method,
missing data, bad setting).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

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
    p.add_argument("--fold", type=int, default=None, help="fold index (default 0)")
    p.add_argument("--data-dir", default=None, help="prepared cache (busmtl data prepare)")
    p.add_argument("--splits", default=None, help="splits.json (default <data-dir>/splits.json)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--profile", default="quick", help="settings profile: smoke, quick, busi-cpu or paper")
    p.add_argument("--epochs", type=int, default=None, help="maximum number of epochs")
    p.add_argument("--image-size", type=int, default=None, help="resize images on load to S x S")
    p.add_argument("--encoder", default=None, help="encoder name (e.g. resnet18, resnet34)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (all methods)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    p.add_argument("--augment", choices=("online", "offline", "none"), default=None)
    p.add_argument("--num-workers", type=int, default=None, help="DataLoader worker processes")
    p.add_argument("--num-threads", type=int, default=None,
                   help="torch intra-op threads (the sweep uses 1; results depend on it)")
    p.add_argument("--cpu-isa", choices=("native", "avx2", "avx512"), default=None,
                   help="CPU instruction-set level (default: the profile's; avx2 gives the same "
                   "numbers on every x86-64 CPU with AVX2)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=None,
                   help="forward-pass precision (auto: bf16 where the CPU has it natively)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory layout (default: on)")
    p.add_argument("--dropout-scope", choices=("head", "network"), default=None,
                   help="dropout in the classification head only, or also after every decoder block")
    models = p.add_argument_group("network (busmtl.models)")
    models.add_argument("--model", default=None,
                        help="ssc_resnet (default) or interaction (decoder-interaction network)")
    switches = models.add_mutually_exclusive_group()
    switches.add_argument("--interaction-modules", default=None, metavar="LIST",
                          help="modules of the interaction network, comma-separated from "
                          "attention_gates,hmsf,tim,upa (default: all; 'none' for none)")
    switches.add_argument("--ablation", default=None, metavar="VARIANT",
                          help="a row of the interaction paper's Table 2: baseline, hmsf, tim, "
                          "tim_upa or full (sets --interaction-modules)")
    losses = p.add_argument_group("losses (busmtl.losses)")
    losses.add_argument("--seg-losses", default=None, metavar="LIST",
                        help="segmentation losses summed into L_seg, comma-separated, each "
                        "optionally name:factor (default dice,bce), e.g. "
                        "focal_tversky,boundary:0.25,texture:0.15")
    losses.add_argument("--cls-loss", default=None, help="ce (default) or focal_ce")
    losses.add_argument("--loss-terms", choices=("tasks", "losses"), default=None,
                        help="what the weighter weighs: the two task losses (default) or every "
                        "named loss")
    losses.add_argument("--aux-loss", default=None,
                        help="auxiliary segmentation loss added outside the weighting, scaled by "
                        "gamma0 exp(-tau t) (DMF eq. 2), e.g. cb_dice (default: none)")
    losses.add_argument("--aux-gamma0", type=float, default=None, help="gamma0 (default 1)")
    losses.add_argument("--aux-tau", type=float, default=None, help="tau (default 0.05)")
    losses.add_argument("--aux-schedule", choices=("step", "epoch"), default=None,
                        help="t counts optimizer steps (default) or epochs")
    p.add_argument("--set", action="append", default=None, metavar="KEY=VALUE", dest="settings",
                   help="any other setting of busmtl.config.TrainConfig, e.g. --set dropout=0.5 "
                   "(repeatable; flags above win)")
    p.add_argument("--force", action="store_true",
                   help="replace a finished run in --out (written beside it, swapped at the end)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-save-model", action="store_true", help="do not write model.pt")
    p.add_argument("--weighter-param", action="append", metavar="KEY=VALUE",
                   help="weighter hyper-parameter (repeatable)")
    p.set_defaults(func=run)


def interaction_modules(args: argparse.Namespace) -> str | tuple[str, ...] | None:
    """``--interaction-modules`` as given, or the modules of the ``--ablation`` variant."""
    if args.ablation is None:
        return args.interaction_modules
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
                            args.cpu_isa or parse_settings(args.settings).get("cpu_isa"))
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

    check_device(args.device)
    check_out_folder(args.out)
    cpu_isa = pin_isa(args)
    from busmtl.config import make_config, parse_settings
    from busmtl.training.trainer import NonFiniteLossError, train

    given = parse_settings(args.settings)
    flags = dict(  # noqa: C408 - keyword form reads like the flags
        method=args.method, fold=args.fold, data_dir=args.data_dir, splits=args.splits,
        epochs=args.epochs, image_size=args.image_size, encoder=args.encoder,
        batch_size=args.batch_size, device=args.device, seed=args.seed, lr=args.lr,
        augment=args.augment, num_workers=args.num_workers, num_threads=args.num_threads,
        precision=args.precision, channels_last=args.channels_last, cpu_isa=cpu_isa,
        dropout_scope=args.dropout_scope,
        progress=False if args.no_progress else None,
        save_model=False if args.no_save_model else None,
        weighter=parse_weighter_params(args.weighter_param, args.method),
        model=args.model, interaction_modules=interaction_modules(args),
        seg_losses=args.seg_losses, cls_loss=args.cls_loss, loss_terms=args.loss_terms,
        aux_loss=None if (args.aux_loss or "").lower() == "none" else args.aux_loss,
        aux_gamma0=args.aux_gamma0, aux_tau=args.aux_tau, aux_schedule=args.aux_schedule,
    )
    cfg = make_config(args.profile, **{**given, **{k: v for k, v in flags.items()
                                                   if v is not None}})
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

"""Loss weighters for multi-task learning, one method per file.

>>> from busmtl.weighting import get_weighter
>>> w = get_weighter("atdwa", num_tasks=2, gamma=0.8)

Every weighter follows :class:`busmtl.weighting.base.Weighter`: ``backward(losses, model)`` does
the backward pass and returns the applied weights, ``epoch_end(losses)`` records an epoch,
``extra_state()`` returns what to log, ``network_parameters()`` lists parameters the network's
optimizer must update.
"""

from __future__ import annotations

import inspect
from typing import Any

from busmtl.weighting.atdwa import ATDWA
from busmtl.weighting.base import Weighter
from busmtl.weighting.dbmtl import DBMTL
from busmtl.weighting.dmf_bayes import DMFBayes
from busmtl.weighting.dmf_mad import DMFMad
from busmtl.weighting.dmf_var import DMFVar
from busmtl.weighting.dwa import DWA
from busmtl.weighting.ew import EW
from busmtl.weighting.gradnorm import GradNorm
from busmtl.weighting.uw import UW

#: Registry: name -> class, in the order the companion presents them.
WEIGHTERS: dict[str, type[Weighter]] = {
    cls.name: cls for cls in (EW, DWA, ATDWA, GradNorm, UW, DBMTL, DMFVar, DMFMad, DMFBayes)
}

#: The four methods of the primary paper's ablation (Table II).
PAPER_METHODS: tuple[str, ...] = ("ew", "gradnorm", "dwa", "atdwa")


def available() -> list[str]:
    """Registered weighter names."""
    return list(WEIGHTERS)


def hyperparameters(name: str) -> dict[str, Any]:
    """The hyper-parameters of weighter ``name`` and their defaults."""
    cls = _lookup(name)
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items() if k not in ("self", "num_tasks")}


def _lookup(name: str) -> type[Weighter]:
    try:
        return WEIGHTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown weighting method {name!r}; choose one of: {', '.join(WEIGHTERS)}"
        ) from None


def get_weighter(name: str, num_tasks: int = 2, **hparams: Any) -> Weighter:
    """Build weighter ``name`` for ``num_tasks`` tasks; unknown names or hyper-parameters raise
    a ValueError that lists the valid ones."""
    cls = _lookup(name)
    valid = hyperparameters(name)
    unknown = sorted(set(hparams) - set(valid))
    if unknown:
        listing = ", ".join(f"{k}={v!r}" for k, v in valid.items()) or "none"
        raise ValueError(
            f"unknown hyper-parameter(s) {', '.join(unknown)} for {name!r}; valid: {listing}"
        )
    return cls(num_tasks, **hparams)


__all__ = ["PAPER_METHODS", "WEIGHTERS", "Weighter", "available", "get_weighter", "hyperparameters"]

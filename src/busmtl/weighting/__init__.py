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

from busmtl.weighting.aggregators import AGGREGATORS
from busmtl.weighting.atdwa import ATDWA
from busmtl.weighting.base import Weighter
from busmtl.weighting.dbmtl import DBMTL
from busmtl.weighting.dmf_bayes import DMFBayes
from busmtl.weighting.dmf_mad import DMFMad
from busmtl.weighting.dmf_var import DMFVar
from busmtl.weighting.dwa import DWA
from busmtl.weighting.ew import EW
from busmtl.weighting.famo import FAMO
from busmtl.weighting.gls import GLS
from busmtl.weighting.gradnorm import GradNorm
from busmtl.weighting.imtl_l import IMTLL
from busmtl.weighting.rlw import RLW
from busmtl.weighting.stch import STCH
from busmtl.weighting.uw import UW

#: Registry: name -> class, in the order the companion presents them: the seeds' methods, the
#: loss-only methods through torchjd's scalarizers, the gradient-balancing ones through its
#: aggregators (``aggregators.AGGREGATORS``). A new method is one new file in this folder plus
#: its class in this tuple.
WEIGHTERS: dict[str, type[Weighter]] = {
    cls.name: cls for cls in (EW, DWA, ATDWA, GradNorm, UW, DBMTL, DMFVar, DMFMad, DMFBayes,
                              RLW, GLS, IMTLL, FAMO, STCH, *AGGREGATORS)
}

#: The families of the registry, for the methods chapter: name -> family.
FAMILIES: dict[str, str] = {
    name: ("gradient balancing (torchjd)" if cls in AGGREGATORS
           else "loss only (torchjd)" if cls in (RLW, GLS, IMTLL, FAMO, STCH)
           else "gradient, own" if name in ("gradnorm", "dbmtl")
           else "loss only, own")
    for name, cls in WEIGHTERS.items()
}


def available() -> list[str]:
    """Registered weighter names."""
    return list(WEIGHTERS)


def check_method(name: str) -> str:
    """``name`` when it is a registered method, else a ValueError listing the valid ones (the one
    place method names are validated)."""
    if name not in WEIGHTERS:
        raise ValueError(
            f"unknown weighting method {name!r}; choose one of: {', '.join(WEIGHTERS)}"
        )
    return name


def label(name: str) -> str:
    """The method's display name (its class's ``label``; the name for unknown methods)."""
    cls = WEIGHTERS.get(name)
    return (cls.label or cls.name) if cls is not None else name


def hyperparameters(name: str) -> dict[str, Any]:
    """The hyper-parameters of weighter ``name`` and their defaults."""
    cls = _lookup(name)
    params = inspect.signature(cls.__init__).parameters
    return {k: p.default for k, p in params.items() if k not in ("self", "num_tasks")}


def _lookup(name: str) -> type[Weighter]:
    return WEIGHTERS[check_method(name)]


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


__all__ = ["FAMILIES", "WEIGHTERS", "Weighter", "available", "check_method", "get_weighter",
           "hyperparameters", "label"]

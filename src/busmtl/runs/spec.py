"""The run specification: every setting of one run, resolved once, in one piece.

A run is specified by a :class:`~busmtl.config.TrainConfig` in which everything that could
still change with the machine has been decided: the profile's defaults and the overrides are
applied, ``device="auto"`` has become the device the run trains on, and ``precision="auto"``
the precision it uses there (:func:`busmtl.orchestration.plan.resolve`, which asks torch
about the machine). That one object travels the whole way:

1. the sweep plans it (:func:`busmtl.orchestration.sweep.plan`) and hashes it
   (:func:`busmtl.runs.hashing.run_hash` of :func:`identity`);
2. it is handed to the notebook as its single setting parameter ``spec``
   (:func:`to_parameter`), and the notebook rebuilds it (:func:`from_parameter`);
3. the trainer records it as the ``config`` of the run's ``config.json``, and
   :func:`recorded` reads it back, from the run folders of every version (older folders keep
   their format: a setting they do not record takes its default).

Nothing here imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from busmtl.config import FIELD_NAMES, TrainConfig, config_from_values

#: Settings that say *where* a run reads and writes or how it reports, not what it computes:
#: left out of :func:`identity`. The data enter a run's hash by the bytes of the files that
#: identify them (:func:`busmtl.runs.hashing.data_hash`), not by their folder's name.
WHERE_ONLY: frozenset[str] = frozenset({"data_dir", "splits", "progress", "run_hash"})


def identity(config: TrainConfig) -> dict[str, Any]:
    """Every setting that can change the run's result, as JSON-ready values (the settings of
    ``config`` less :data:`WHERE_ONLY`)."""
    return {k: v for k, v in config.to_dict().items() if k not in WHERE_ONLY}


def to_parameter(config: TrainConfig) -> dict[str, Any]:
    """``config`` as the notebook's ``spec`` parameter (plain JSON: papermill writes it into
    the executed notebook)."""
    return json.loads(json.dumps(config.to_dict()))


def from_parameter(spec: dict[str, Any]) -> TrainConfig:
    """The :class:`~busmtl.config.TrainConfig` of a ``spec`` parameter or of the ``config`` of
    a ``config.json``, exactly as written: a ``None`` stays ``None`` (unlike
    :func:`busmtl.config.make_config`, where ``None`` means "the profile's value"), and a
    setting the dict does not hold takes the default of :class:`~busmtl.config.TrainConfig`.

    Raises TypeError for a spec that is not a dict, ValueError naming unknown settings or a
    value out of range.
    """
    if not isinstance(spec, dict):
        raise TypeError(f"spec must be a dict of settings, not {type(spec).__name__}")
    unknown = sorted(set(spec) - set(FIELD_NAMES))
    if unknown:
        raise ValueError(f"spec holds unknown setting(s) {', '.join(unknown)}; "
                         f"valid settings: {', '.join(FIELD_NAMES)}")
    return config_from_values(spec)


def recorded(run_dir: str | Path) -> TrainConfig:
    """The specification a run folder records (``config.json``'s ``config``)."""
    data = json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    return from_parameter({k: v for k, v in data["config"].items() if k in FIELD_NAMES})

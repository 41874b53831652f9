"""Score a trained run on another prepared dataset (an external test set): :func:`evaluate_run`.

A run folder with ``model.pt`` (the best checkpoint) and ``config.json`` is rebuilt exactly as it
was trained (encoder, decoder widths, dropout scope, precision, memory layout) and evaluated on
**every case** of a prepared cache in the BUSI layout (``busmtl data prepare --source
BUS-BRA-in-BUSI-layout --size S``), with the same metrics as the run's own test set. The output
folder receives ``metrics.json`` (``{"test": M, "source_run": ..., "dataset": ...}``),
``per_image.csv``, ``predictions.npz`` (the fixed sample) and ``config.json`` with the
provenance of the evaluation.

An external score means something only on images the model has not seen. Before scoring,
:func:`training_overlap` looks for the run's training images (its fold's train and validation
sets) in the cache, as exact or near copies by the duplicate measure of
:mod:`busmtl.data.duplicates` (thumbnail correlation at or above its threshold); the count is
recorded in ``metrics.json`` under ``training_overlap`` and ``busmtl evaluate`` warns about it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from busmtl.config import FIELD_NAMES, TrainConfig
from busmtl.data.errors import DataError
from busmtl.io import write_json
from busmtl.runs import marker
from busmtl.runs.state import is_finished
from busmtl.training import artifacts
from busmtl.training.step import resolve_precision, torch_settings

if TYPE_CHECKING:
    from busmtl.data.prepare import PreparedData


def _run_config(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    if not (run_dir / "config.json").is_file():
        raise DataError(f"{run_dir} is not a run folder (no config.json): give the folder that "
                        "`busmtl train` or `busmtl sweep` wrote")
    recorded = artifacts.read_config(run_dir)
    values = {k: v for k, v in recorded["config"].items() if k in FIELD_NAMES}
    values["decoder_channels"] = tuple(values.get("decoder_channels", ()))
    return TrainConfig(**values), recorded


def check_output(run_dir: Path, out: Path, data_dir: Path | None = None) -> None:
    """Refuse an output folder that would overwrite a run or mix with the data: the evaluated
    run itself, a folder inside it, the evaluated data folder or one inside it, any training run
    (``history.csv`` or ``model.pt``), a file, or a non-empty folder that is not an earlier
    evaluation (:class:`~busmtl.errors.UserError`)."""
    from busmtl.errors import UserError

    run, target = run_dir.resolve(), out.resolve()
    if target == run or target.is_relative_to(run):
        raise UserError(f"--out {out} is the run folder {run_dir} (or inside it): an evaluation "
                        "would overwrite the run; give a new folder, e.g. eval/")
    if data_dir is not None and (target == data_dir.resolve()
                                 or target.is_relative_to(data_dir.resolve())):
        raise UserError(f"--out {out} is the data folder {data_dir} (or inside it): an "
                        "evaluation would write among the data; give a new folder, e.g. eval/")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: give a folder for the evaluation")
    if (out / "history.csv").exists() or (out / "model.pt").exists():
        raise UserError(f"--out {out} holds a training run: give a new folder, e.g. eval/")
    earlier = is_finished(out)
    if out.is_dir() and any(out.iterdir()) and not earlier:
        raise UserError(f"--out {out} is a folder with other files: give a new or empty folder")


@dataclass(frozen=True)
class Overlap:
    """The cases of an evaluation cache that the run trained on (or near copies of them)."""

    checked: bool  #: False when the run's training cache is not on this machine
    copies: tuple[str, ...]  #: ids of the evaluation cases that copy a training image
    threshold: float  #: the thumbnail correlation at and above which two images are copies
    training_cache: str  #: the cache the run trained on, as recorded in its config

    def as_dict(self, data_dir: str | Path, cases: int) -> dict[str, Any]:
        """The record in ``metrics.json``, with the warning line (None when clean)."""
        return {"checked": self.checked, "cases": len(self.copies), "ids": list(self.copies),
                "threshold": self.threshold, "training_cache": self.training_cache,
                "warning": self.warning(data_dir, cases)}

    def warning(self, data_dir: str | Path, cases: int) -> str | None:
        """One line for the user, or None when the cache is clean."""
        if not self.checked:
            return (f"warning: could not check whether {data_dir} holds the run's training "
                    f"images: its training cache {self.training_cache} is not on this machine")
        if not self.copies:
            return None
        return (f"warning: {len(self.copies)} of {cases} cases in {data_dir} are images the run "
                f"trained on, or near copies of them (thumbnail correlation >= "
                f"{self.threshold:.2f}): their scores measure memory, not generalisation; "
                "evaluate on a dataset the run has not seen (the ids are in metrics.json)")


def training_overlap(cfg: TrainConfig, recorded: dict[str, Any], data: PreparedData,
                     data_dir: Path) -> Overlap:
    """Which cases of ``data`` (a loaded evaluation cache in ``data_dir``) are the run's training
    images (train and validation of its fold) or near copies of them.

    The run's training cache is its recorded ``data_dir``, or the evaluation cache itself when
    both have the same ``data_identity``. Copies are found with the duplicate measure (Pearson
    correlation of standardised thumbnails ``>= DEFAULT_THRESHOLD``), so a re-encoded or resized
    copy counts as well as the same file.
    """
    import numpy as np

    from busmtl.data.duplicates import DEFAULT_THRESHOLD, thumbnails
    from busmtl.data.prepare import load_prepared
    from busmtl.data.splits import load_splits, run_split_path

    identity = recorded.get("data_identity")
    candidates = [data_dir] + ([Path(cfg.data_dir).expanduser()] if cfg.data_dir else [])
    source = next((c for c in candidates if _identity_or_none(c) == identity), None)
    recorded_cache = str(cfg.data_dir or "the profile's default dataset")
    if source is None:
        return Overlap(False, (), DEFAULT_THRESHOLD, recorded_cache)
    train = load_prepared(source) if source != data_dir else data
    try:
        fold = load_splits(run_split_path(source, cfg.splits, cfg.split_group), source).fold(int(cfg.fold))
    except (DataError, ValueError, IndexError):
        return Overlap(False, (), DEFAULT_THRESHOLD, recorded_cache)
    position = {case: i for i, case in enumerate(train.ids)}
    seen = [position[i] for i in (*fold.train, *fold.val) if i in position]
    trained_on = thumbnails([train.images[i] for i in seen])
    evaluated = thumbnails(list(data.images))
    best = (evaluated @ trained_on.T / evaluated.shape[1]).max(axis=1, initial=-1.0)
    copies = tuple(data.ids[i] for i in np.flatnonzero(best >= DEFAULT_THRESHOLD))
    return Overlap(True, copies, DEFAULT_THRESHOLD, recorded_cache)


def _identity_or_none(folder: Path) -> str | None:
    """The cache's ``data_identity``, or None when ``folder`` is not a prepared cache."""
    from busmtl.data.prepare import dataset_identity

    try:
        return dataset_identity(folder)
    except (DataError, OSError):
        return None


def evaluate_run(run_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                 device: str | None = None, num_threads: int | None = None) -> dict[str, Any]:
    """Evaluate ``run_dir``'s ``model.pt`` on every case of the prepared cache ``data_dir``;
    write ``out_dir`` and return its ``metrics.json`` content (``training_overlap``: the cases
    the run trained on, see :func:`training_overlap`).

    Raises :class:`DataError` when the run has no model, when the cache is missing or when its
    image size differs from the size the model was trained at.
    """
    from busmtl.data.dataset import BUSIDataset
    from busmtl.data.prepare import dataset_identity, load_prepared
    from busmtl.training.trainer import build_model, evaluate, resolve_device

    run_dir, data_dir, out = Path(run_dir), Path(data_dir), Path(out_dir)
    cfg, recorded = _run_config(run_dir)
    check_output(run_dir, out, data_dir)
    model_file = run_dir / "model.pt"
    if not model_file.is_file():
        raise DataError(
            f"{run_dir} has no model.pt: the run was made without saving its checkpoint (or the "
            "weights were not committed). Re-train it with save_model on, e.g. `busmtl train "
            f"--method {cfg.method} --fold {cfg.fold} --profile {cfg.profile} --out "
            "<new run folder>`"
        )
    data = load_prepared(data_dir)
    if not data.ids:
        raise DataError(f"{data_dir} holds no cases (an empty cache): prepare the external data "
                        "again (`busmtl data prepare --source <its folder> --out <new folder>`)")
    checkpoint = torch.load(model_file, map_location="cpu", weights_only=False)
    trained_size = int(checkpoint.get("image_size") or cfg.image_size or cfg.prepare_size)
    if data.size != trained_size:
        raise DataError(
            f"{data_dir} holds {data.size} px images but the run was trained at {trained_size} px: "
            f"prepare the external data at that size into a new folder (`busmtl data prepare "
            f"--source <its folder> --size {trained_size} --out <new folder>`)"
        )
    dev = resolve_device(device or cfg.device)
    precision = resolve_precision(cfg.precision, dev, cfg.model)
    state = checkpoint["state_dict"]
    head = next((k for k in ("unet.classification_head.3.weight", "cls_head.4.weight")
                 if k in state), None)  # SSC-ResNet's or the interaction network's last layer
    num_classes = int(state[head].shape[0]) if head is not None else 2
    if int(data.labels.max(initial=0)) >= num_classes:
        raise DataError(f"{data_dir} has labels up to {int(data.labels.max())} but the model "
                        f"classifies {num_classes} classes (benign/malignant): leave out 'normal'")
    overlap = training_overlap(cfg, recorded, data, data_dir)
    out.mkdir(parents=True, exist_ok=True)
    artifacts.clear(out)
    threads = num_threads or cfg.num_threads
    with torch_settings(dev, threads):
        model = build_model(cfg, num_classes)
        model.load_state_dict(state)
        model = model.to(dev)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        dataset = BUSIDataset(data.images, data.masks, data.labels, data.ids,
                              in_channels=cfg.in_channels)
        loader = DataLoader(dataset, batch_size=cfg.effective_batch_size, shuffle=False)
        result = evaluate(model, loader, dev, precision, cfg.channels_last)
        prov = artifacts.provenance(dev, precision, cfg.channels_last, torch.get_num_threads())
    config = copy.deepcopy(recorded["config"])
    artifacts.write_config(out, config, dataset_identity(data_dir), prov)
    artifacts.write_predictions(out, dataset.ids, dataset.images_uint8, result.labels,
                                result.mask_true, result.mask_prob, result.cls_prob,
                                artifacts.sample_indices(result.labels))
    artifacts.write_per_image(out, artifacts.per_image_table(
        dataset.ids, result.labels, result.mask_true, result.mask_prob, result.cls_prob))
    metrics = {"test": result.metrics(), "source_run": str(run_dir),
               "best_epoch": checkpoint.get("epoch"), "dataset": str(data_dir),
               "cases": len(dataset),
               "training_overlap": overlap.as_dict(data_dir, len(dataset))}
    write_json(out / "metrics.json", metrics)
    marker.write(out, None)
    return metrics

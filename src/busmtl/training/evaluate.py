"""Score a trained run on another prepared dataset (an external test set): :func:`evaluate_run`.

A run folder with ``model.pt`` (the best checkpoint) and ``config.json`` is rebuilt exactly as it
was trained (encoder, decoder widths, dropout scope, precision, memory layout) and evaluated on
**every case** of a prepared cache in the BUSI layout (``busmtl data prepare --source
BUS-BRA-in-BUSI-layout --size S``), with the same metrics as the run's own test set. The output
folder receives ``metrics.json`` (``{"test": M, "source_run": ..., "dataset": ...}``),
``per_image.csv``, ``predictions.npz`` (the fixed sample) and ``config.json`` with the
provenance of the evaluation.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from busmtl.config import FIELD_NAMES, TrainConfig
from busmtl.data.errors import DataError
from busmtl.io import write_json
from busmtl.training import artifacts
from busmtl.training.step import resolve_precision, torch_settings


def _run_config(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    if not (run_dir / "config.json").is_file():
        raise DataError(f"{run_dir} is not a run folder (no config.json): give the folder that "
                        "`busmtl train` or `busmtl sweep` wrote")
    recorded = artifacts.read_config(run_dir)
    values = {k: v for k, v in recorded["config"].items() if k in FIELD_NAMES}
    values["decoder_channels"] = tuple(values.get("decoder_channels", ()))
    return TrainConfig(**values), recorded


def check_output(run_dir: Path, out: Path) -> None:
    """Refuse an output folder that would overwrite a run: the evaluated run itself, a folder
    inside it, any training run (``history.csv`` or ``model.pt``), a file, or a non-empty
    folder that is not an earlier evaluation (:class:`~busmtl.errors.UserError`)."""
    from busmtl.errors import UserError

    run, target = run_dir.resolve(), out.resolve()
    if target == run or target.is_relative_to(run):
        raise UserError(f"--out {out} is the run folder {run_dir} (or inside it): an evaluation "
                        "would overwrite the run; give a new folder, e.g. eval/")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: give a folder for the evaluation")
    if (out / "history.csv").exists() or (out / "model.pt").exists():
        raise UserError(f"--out {out} holds a training run: give a new folder, e.g. eval/")
    earlier = (out / "DONE").is_file() and (out / "metrics.json").is_file()
    if out.is_dir() and any(out.iterdir()) and not earlier:
        raise UserError(f"--out {out} is a folder with other files: give a new or empty folder")


def evaluate_run(run_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                 device: str | None = None, num_threads: int | None = None) -> dict[str, Any]:
    """Evaluate ``run_dir``'s ``model.pt`` on every case of the prepared cache ``data_dir``;
    write ``out_dir`` and return its ``metrics.json`` content.

    Raises :class:`DataError` when the run has no model, when the cache is missing or when its
    image size differs from the size the model was trained at.
    """
    from busmtl.data.dataset import BUSIDataset
    from busmtl.data.prepare import dataset_identity, load_prepared
    from busmtl.training.trainer import build_model, evaluate, resolve_device

    run_dir, data_dir, out = Path(run_dir), Path(data_dir), Path(out_dir)
    cfg, recorded = _run_config(run_dir)
    check_output(run_dir, out)
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
    precision = resolve_precision(cfg.precision, dev)
    state = checkpoint["state_dict"]
    head = next((k for k in ("unet.classification_head.3.weight", "cls_head.4.weight")
                 if k in state), None)  # SSC-ResNet's or the interaction network's last layer
    num_classes = int(state[head].shape[0]) if head is not None else 2
    if int(data.labels.max(initial=0)) >= num_classes:
        raise DataError(f"{data_dir} has labels up to {int(data.labels.max())} but the model "
                        f"classifies {num_classes} classes (benign/malignant): leave out 'normal'")
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
               "cases": len(dataset)}
    write_json(out / "metrics.json", metrics)
    artifacts.write_done(out, None)
    return metrics

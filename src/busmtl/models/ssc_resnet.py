"""SSC-ResNet: one encoder shared by a segmentation decoder and a classification head.

The model of the primary paper (Hariyadi et al., ATDWA): a U-Net from
``segmentation_models_pytorch`` (a ResNet-34 encoder by default) whose deepest encoder feature
map also feeds a classification head (global average pooling, dropout, linear layer; smp's
``aux_params`` head). ``forward`` returns ``(seg_logits [B,1,H,W], cls_logits [B,C])``.

Parameter groups, used by the loss weighters (:mod:`busmtl.weighting`):

- ``shared_parameters()``: the encoder (what both tasks share);
- ``last_shared_parameters()``: the weight of the encoder's last layer, GradNorm's ``W``.
  "Last layer" is defined for every smp encoder as the **last convolution (or linear layer)
  executed by the encoder's forward pass** (found once, at construction, by tracing a small
  input). For ResNets this is the second convolution of the last block of ``layer4``;
- ``task_specific_parameters()``: everything else (decoder, segmentation head, classification
  head).

ImageNet weights are never downloaded silently at run time on an offline machine: see
:func:`resolve_pretrained_file`. They are looked up, in order, as an explicit file, in the Hugging
Face cache (where smp >= 0.5 keeps its encoders) and, for the torchvision ResNets, in the torch
hub cache (``$TORCH_HOME/hub/checkpoints``); a download is tried only when the hub answers a
connectivity probe bounded by :data:`PROBE_TIMEOUT_S` seconds.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from busmtl.config import SMP_DECODER_CHANNELS
from busmtl.models.representation import KeepsRepresentation

#: Host and port probed (with a short timeout) before any download of encoder weights.
HUB_HOST: tuple[str, int] = ("huggingface.co", 443)
#: Seconds the connectivity probe may take; it is what bounds the "fail fast" path.
PROBE_TIMEOUT_S: float = 3.0

#: ImageNet checkpoints of the torchvision ResNets (what smp's ``imagenet`` ResNet weights are),
#: current and legacy file names, as ``torch.hub`` stores them under ``<hub dir>/checkpoints``.
TORCHVISION_CHECKPOINTS: dict[str, tuple[str, ...]] = {
    "resnet18": ("resnet18-f37072fd.pth", "resnet18-5c106cde.pth"),
    "resnet34": ("resnet34-b627a593.pth", "resnet34-333f7ec4.pth"),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth"),
    "resnet101": ("resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth"),
    "resnet152": ("resnet152-394f9c45.pth", "resnet152-b121ed2d.pth"),
}


def _smp():
    import segmentation_models_pytorch as smp

    return smp


def check_encoder(encoder: str) -> None:
    """Refuse an encoder name that is neither one of smp's encoders nor a timm one (``tu-<name>``),
    listing the valid names."""
    encoders = _smp().encoders.encoders
    if not encoder.startswith("tu-") and encoder not in encoders:
        raise ValueError(f"unknown encoder '{encoder}'; valid: {', '.join(sorted(encoders))} "
                         f"(or a timm encoder as 'tu-<name>')")


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to the Hugging Face hub opens within ``timeout`` seconds.

    Returns False at once (no network use) when ``HF_HUB_OFFLINE`` or ``BUSMTL_OFFLINE`` is set.
    """
    if _env_true("HF_HUB_OFFLINE") or _env_true("BUSMTL_OFFLINE"):
        return False
    # The socket timeout does not cover the DNS lookup, which can stall on a machine without
    # network: the probe therefore runs in a daemon thread that is abandoned after ``timeout``.
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(HUB_HOST, timeout=timeout):
                result.append(True)
        except Exception:  # noqa: BLE001 - any failure of the probe means "not reachable"
            result.append(False)

    thread = threading.Thread(target=probe, name="busmtl-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment names it *now*.

    (``huggingface_hub`` reads ``HF_HUB_CACHE``/``HF_HOME`` once, at import; reading them here
    lets a caller or a test point at another cache later.)
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def torch_hub_checkpoint(encoder: str) -> Path | None:
    """The torchvision ImageNet checkpoint of ``encoder`` in the torch hub cache, if present."""
    names = TORCHVISION_CHECKPOINTS.get(encoder, ())
    if not names:
        return None
    folder = Path(torch.hub.get_dir()) / "checkpoints"  # honours $TORCH_HOME at call time
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _weights_help(encoder: str, weights: str, repo_id: str, revision: str | None) -> str:
    rev = f" --revision {revision}" if revision else ""
    torch_hint = ""
    if encoder in TORCHVISION_CHECKPOINTS and weights == "imagenet":
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        torch_hint = (
            f" or put torchvision's {TORCHVISION_CHECKPOINTS[encoder][0]} into {folder}"
        )
    return (
        f"ImageNet weights for encoder '{encoder}' ({weights}) are not in the local caches "
        f"(Hugging Face: {hf_cache_dir()}) and cannot be downloaded here (offline). On a machine "
        f"with internet run `huggingface-cli download {repo_id}{rev}` (or build "
        f"`busmtl.models.SSCResNet('{encoder}', encoder_weights='{weights}')` once there), then "
        f"copy its cache folder (~/.cache/huggingface/hub, or $HF_HOME/hub) to this machine at "
        f"the same place or point HF_HOME at it{torch_hint}; alternatively pass "
        f"encoder_weights='/path/to/model.safetensors'. "
        f"Use encoder_weights=None to train from random initialisation."
    )


def resolve_pretrained_file(encoder: str, weights: str, allow_download: bool = True) -> Path:
    """Local file holding the pretrained encoder weights, or a clear error, never a hang.

    Order: (1) ``weights`` itself when it is a path to an existing file; (2) the file already in
    the Hugging Face cache (smp >= 0.5 stores its encoders on the hub as ``smp-hub/<name>``);
    (3) for ``imagenet`` ResNets, torchvision's checkpoint in the torch hub cache (the same
    weights smp serves); (4) a download, only when ``allow_download`` and the hub answers the
    connectivity probe within :data:`PROBE_TIMEOUT_S` seconds (skipped entirely under
    ``HF_HUB_OFFLINE`` or ``BUSMTL_OFFLINE``). Otherwise :class:`FileNotFoundError` explains how
    to pre-download the weights.
    """
    if Path(weights).expanduser().is_file():
        return Path(weights).expanduser()
    if encoder.startswith("tu-"):
        raise ValueError(
            f"encoder_weights='{weights}' for timm encoder '{encoder}': busmtl loads pretrained "
            f"weights for smp's own encoders only (e.g. resnet34); pass a path to a state-dict "
            f"file or use encoder_weights=None"
        )
    smp = _smp()
    if encoder not in smp.encoders.encoders:
        raise ValueError(f"unknown encoder '{encoder}'; valid: {', '.join(sorted(smp.encoders.encoders))}")
    settings = smp.encoders.encoders[encoder]["pretrained_settings"]
    if weights not in settings:
        raise ValueError(
            f"encoder '{encoder}' has no pretrained weights '{weights}'; valid: {', '.join(settings)}"
        )
    repo_id = settings[weights]["repo_id"]
    revision = settings[weights].get("revision")

    from huggingface_hub import try_to_load_from_cache

    cache = hf_cache_dir()
    cached = try_to_load_from_cache(repo_id, "model.safetensors", cache_dir=cache, revision=revision)
    if isinstance(cached, str) and Path(cached).is_file():
        return Path(cached)
    if weights == "imagenet" and (local := torch_hub_checkpoint(encoder)) is not None:
        return local
    if allow_download and hub_reachable():
        from huggingface_hub import hf_hub_download

        return Path(
            hf_hub_download(repo_id, filename="model.safetensors", revision=revision, cache_dir=cache)
        )
    raise FileNotFoundError(_weights_help(encoder, weights, repo_id, revision))


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


class SSCResNet(KeepsRepresentation):
    """U-Net (smp) with a classification head on the deepest encoder features.

    Args:
        encoder: any smp encoder name (``resnet34`` as in the paper, ``resnet18`` for small CPU
            runs, ``tu-...`` timm encoders without pretrained weights).
        encoder_weights: ``None`` (random init), ``"imagenet"`` (from the local cache; fails fast
            with instructions when absent and offline), or a path to a state-dict file.
        num_classes: classes of the classification head (2: benign/malignant; 3 with normal).
        dropout: dropout before the classification layer (0.3 in the paper).
        decoder_channels: U-Net decoder widths (smp's default; the CPU profiles'
            ``(128, 64, 32, 16, 16)``, the first four halved, about halves the CPU cost).
        in_channels: input channels (3: the grey image repeated, as for ImageNet encoders).
        decoder_dropout: channel dropout (``Dropout2d``) applied to the output of every decoder
            block in training; 0 (the default) leaves dropout in the classification head only.
            The paper applies dropout 0.3 "throughout the network" without saying where; this is
            this project's reading of it (``dropout_scope="network"`` in the config).
    """

    def __init__(
        self,
        encoder: str = "resnet34",
        encoder_weights: str | None = None,
        num_classes: int = 2,
        dropout: float = 0.3,
        decoder_channels: Sequence[int] = SMP_DECODER_CHANNELS,
        in_channels: int = 3,
        decoder_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        smp = _smp()
        check_encoder(encoder)
        if (num_classes < 1 or not 0.0 <= dropout < 1.0 or in_channels < 1
                or not 0.0 <= decoder_dropout < 1.0):
            raise ValueError(
                f"bad SSCResNet arguments: num_classes={num_classes} (>= 1), dropout={dropout} "
                f"(in [0, 1)), in_channels={in_channels} (>= 1), decoder_dropout="
                f"{decoder_dropout} (in [0, 1))"
            )
        weights_file = (
            resolve_pretrained_file(encoder, encoder_weights) if encoder_weights is not None else None
        )
        self.encoder_name = encoder
        self.unet = smp.Unet(
            encoder_name=encoder,
            encoder_weights=None,  # loaded below from a local file, never downloaded by smp
            decoder_channels=tuple(decoder_channels),
            in_channels=3 if weights_file is not None else in_channels,
            classes=1,
            aux_params={"classes": num_classes, "dropout": dropout, "pooling": "avg"},
        )
        if weights_file is not None:
            self.unet.encoder.load_state_dict(_load_state_dict(weights_file))
            if in_channels != 3:  # smp's own adaptation of the first convolution
                self.unet.encoder.set_in_channels(in_channels, pretrained=True)
        self._last_layer = _last_executed_layer(self.unet.encoder, in_channels)
        self.watch_representation(self.unet.encoder)  # the encoder's features, for rep_grad
        self.decoder_dropout = float(decoder_dropout)
        if self.decoder_dropout > 0:
            for block in self.unet.decoder.blocks:
                block.register_forward_hook(self._drop_channels)

    def _drop_channels(self, module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        return nn.functional.dropout2d(output, self.decoder_dropout, training=module.training)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(seg_logits [B,1,H,W], cls_logits [B,num_classes])``; H, W divisible by 32."""
        seg, cls = self.unet(x)
        return seg, cls

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """The encoder's parameters (shared by both tasks)."""
        return self.unet.encoder.parameters()

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Weight of the last convolution/linear layer executed by the encoder (GradNorm's W)."""
        return [self._last_layer.weight]

    def task_specific_parameters(self) -> Iterator[nn.Parameter]:
        """Decoder, segmentation head and classification head parameters."""
        for part in (self.unet.decoder, self.unet.segmentation_head, self.unet.classification_head):
            yield from part.parameters()


def _last_executed_layer(encoder: nn.Module, in_channels: int) -> nn.Module:
    """The last ``Conv2d``/``Linear`` module run by ``encoder`` on a small input (traced once)."""
    executed: list[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda mod, _i, _o: executed.append(mod))
        for m in encoder.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and getattr(m, "weight", None) is not None
    ]
    was_training = encoder.training
    try:
        encoder.eval()
        with torch.no_grad():
            encoder(torch.zeros(1, in_channels, 64, 64))
    finally:
        encoder.train(was_training)
        for h in hooks:
            h.remove()
    if not executed:
        raise ValueError("the encoder ran no convolution or linear layer; cannot define its last layer")
    return executed[-1]

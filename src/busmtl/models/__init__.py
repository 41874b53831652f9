"""Models: :class:`SSCResNet` (the primary paper's U-Net with a shared encoder and a classification
head) and :class:`InteractionNet` (the decoder-interaction network), chosen by name
(``TrainConfig.model``) with :func:`build`."""

from __future__ import annotations

from typing import Any

from torch import nn

from busmtl.models.interaction import InteractionNet
from busmtl.models.ssc_resnet import SSCResNet

#: Networks by the name of the ``model`` setting.
MODELS: dict[str, type[nn.Module]] = {"ssc_resnet": SSCResNet, "interaction": InteractionNet}


def check_model(name: str) -> str:
    """``name`` when it is a known network, else ValueError listing the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return name


def build(name: str, **kwargs: Any) -> nn.Module:
    """The network ``name`` built with ``kwargs`` (its constructor's arguments)."""
    return MODELS[check_model(name)](**kwargs)


__all__ = ["MODELS", "InteractionNet", "SSCResNet", "build", "check_model"]

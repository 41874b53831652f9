"""Models: :class:`SSCResNet` (the primary paper's U-Net with a shared encoder and a classification
head) and :class:`InteractionNet` (the decoder-interaction network), chosen by name
(``TrainConfig.model``) with :func:`build`.

The networks are imported when first used (``busmtl.models.SSCResNet``, :func:`build`), so that
a module that only needs :mod:`busmtl.models.representation` (the toy problem, the weighters)
does not load segmentation-models-pytorch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from busmtl.config import check_model

if TYPE_CHECKING:
    from torch import nn

    from busmtl.models.interaction import InteractionNet
    from busmtl.models.ssc_resnet import SSCResNet

#: Networks by the name of the ``model`` setting (:data:`busmtl.config.MODEL_NAMES`, checked by
#: :func:`busmtl.config.check_model`): the module and the class that define each.
MODELS: dict[str, tuple[str, str]] = {
    "ssc_resnet": ("busmtl.models.ssc_resnet", "SSCResNet"),
    "interaction": ("busmtl.models.interaction", "InteractionNet"),
}


def model_class(name: str) -> type[nn.Module]:
    """The class of the network ``name``."""
    module, cls = MODELS[check_model(name)]
    return getattr(import_module(module), cls)


def build(name: str, **kwargs: Any) -> nn.Module:
    """The network ``name`` built with ``kwargs`` (its constructor's arguments)."""
    return model_class(name)(**kwargs)


def __getattr__(attribute: str) -> Any:
    for module, cls in MODELS.values():
        if cls == attribute:
            return getattr(import_module(module), cls)
    raise AttributeError(f"module 'busmtl.models' has no attribute {attribute!r}")


__all__ = ["MODELS", "InteractionNet", "SSCResNet", "build", "check_model", "model_class"]

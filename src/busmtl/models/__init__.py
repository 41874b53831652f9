"""Models: :class:`SSCResNet`, the paper's U-Net with a shared encoder and a classification head."""

from busmtl.models.ssc_resnet import SSCResNet

__all__ = ["SSCResNet"]

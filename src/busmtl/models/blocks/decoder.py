"""One decoder level and the segmentation head of the decoder-interaction network.

A level doubles the resolution with a transposed convolution (as the paper's decoder), gates the
encoder's skip feature (optional :class:`~busmtl.models.blocks.AttentionGate`), concatenates the
two and refines them with two 3 x 3 convolution + batch norm + ReLU layers (the U-Net block; the
paper's own block is not specified beyond "transposed convolutions and attention-gated skip
connections", so the U-Net's is this project's choice).
"""

from __future__ import annotations

import torch
from torch import nn

from busmtl.models.blocks.attention_gate import AttentionGate


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3 x 3 convolution (no bias: the batch norm's shift replaces it), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DecoderLevel(nn.Module):
    """``up = ConvT2x2(prev)``; ``skip' = gate(skip, up)``; ``conv(conv([up, skip']))``."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 attention_gate: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.gate = AttentionGate(skip_channels, out_channels) if attention_gate else None
        self.convs = nn.Sequential(conv_bn_relu(out_channels + skip_channels, out_channels),
                                   conv_bn_relu(out_channels, out_channels))
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, prev: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(prev)
        if self.gate is not None:
            skip = self.gate(skip, up)
        return self.dropout(self.convs(torch.cat([up, skip], dim=1)))


class SegmentationHead(nn.Module):
    """From the last decoder level (stride 2) to one logit per input pixel: a transposed
    convolution to full resolution, one 3 x 3 conv + BN + ReLU, a 1 x 1 convolution."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, channels, 2, stride=2)
        self.conv = conv_bn_relu(channels, channels)
        self.logits = nn.Conv2d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.conv(self.up(x)))

"""Building blocks of the decoder-interaction network (:mod:`busmtl.models.interaction`),
one module each: HMSF (eqs. 9-10), attention gate, decoder level, TIM (eqs. 1-5), UPA (eqs. 6-8).

Equation numbers are those of Al Shafi et al., "Multi-Level Bidirectional Decoder Interaction for
Uncertainty-Aware Breast Ultrasound Analysis".
"""

from busmtl.models.blocks.attention_gate import AttentionGate
from busmtl.models.blocks.decoder import DecoderLevel, SegmentationHead
from busmtl.models.blocks.hmsf import HMSF
from busmtl.models.blocks.tim import TaskInteraction
from busmtl.models.blocks.upa import UncertaintyProxyAttention

__all__ = ["HMSF", "AttentionGate", "DecoderLevel", "SegmentationHead", "TaskInteraction",
           "UncertaintyProxyAttention"]

"""The decoder-interaction network: segmentation and classification talk at every decoder level.

After Al Shafi et al., "Multi-Level Bidirectional Decoder Interaction for Uncertainty-Aware Breast
Ultrasound Analysis" (equation numbers are theirs). ``forward`` returns ``(seg_logits [B,1,H,W],
cls_logits [B,C])``, the contract of :class:`~busmtl.models.SSCResNet`, so every weighter and the
trainer work with it unchanged (``TrainConfig.model = "interaction"``).

Data flow (``f_1 .. f_5``: the encoder's features at strides 2 .. 32)::

    encoder (any smp encoder) -> f_1 .. f_5
    [HMSF]  f_i <- f_i + HMSF_i(f_i) for every stage             (eqs. 9-10)
    D_0 = f_5
    for level l = 1..4:
        D_l = DecoderLevel_l(D_{l-1}, skip f_{5-l} [attention-gated])
        c_l = ReLU(Linear_F(GAP(f_{6-l})))                      classification feature of level l
        [TIM]  (D_enh, c_enh) = TIM_l(D_l, c_l)                    (eqs. 1-5)
        [UPA]  (D_l, c_l) <- UPA_l(D_l, D_enh, c_l, c_enh)         (eqs. 6-8)
               without UPA: (D_l, c_l) <- (D_enh, c_enh)
    seg_logits = SegmentationHead(D_4)                           (stride 2 -> 1)
    cls_logits = Linear_C(Dropout(BN(ReLU(Linear_F([c_1, c_2, c_3, c_4])))))

Every module in brackets can be switched off (``tim``, ``upa``, ``hmsf``, ``attention_gates``);
a switched-off module is not built, so its parameters vanish from the count. The paper's
ablation (its Table 2) is :data:`ABLATION_VARIANTS`.

Parameter groups (what "shared" means here). Both task losses reach the encoder and HMSF through
every path, whichever modules are on: they are :meth:`~InteractionNet.shared_parameters`, as the
encoder is for SSC-ResNet. With TIM on, the decoder and the classification features carry both
tasks' gradients too (that is TIM's purpose), but they belong to one task's branch and are
counted as task-specific, so the groups mean the same for every variant and both networks.
GradNorm's ``W`` (:meth:`~InteractionNet.last_shared_parameters`) is the last layer of that
shared trunk: the 1 x 1 fusion convolution of the deepest stage's HMSF, or, without HMSF, the
encoder's last executed convolution (as for SSC-ResNet).

:data:`PROJECT_CHOICES` lists what the paper leaves open and what this project does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from busmtl.config import (
    INTERACTION_LEVELS,
    INTERACTION_MODULES,
    SMP_DECODER_CHANNELS,
    check_modules,
)
from busmtl.models.blocks import (
    HMSF,
    DecoderLevel,
    SegmentationHead,
    TaskInteraction,
    UncertaintyProxyAttention,
)
from busmtl.models.blocks.tim import TAU
from busmtl.models.representation import KeepsRepresentation
from busmtl.models.ssc_resnet import (
    _last_executed_layer,
    _load_state_dict,
    _smp,
    check_encoder,
    resolve_pretrained_file,
)

#: The switchable modules (their names are settings: :data:`busmtl.config.INTERACTION_MODULES`).
MODULES: tuple[str, ...] = INTERACTION_MODULES
#: The rows of the paper's ablation (Table 2) as module switches; attention gates stay on in
#: every row (the table does not ablate them).
ABLATION_VARIANTS: dict[str, tuple[str, ...]] = {
    "baseline": ("attention_gates",),
    "hmsf": ("attention_gates", "hmsf"),
    "tim": ("attention_gates", "tim"),
    "tim_upa": ("attention_gates", "tim", "upa"),
    "full": ("attention_gates", "hmsf", "tim", "upa"),
}
#: Decoder levels with a Task Interaction Module (D_1 .. D_4).
LEVELS: int = INTERACTION_LEVELS
#: Width of the classification features (the paper's 256).
CLS_CHANNELS: int = 256

#: Where the paper leaves a detail open, what this project does (the book's deviations table).
PROJECT_CHOICES: dict[str, str] = {
    "encoder": (
        "Any segmentation-models-pytorch encoder (ResNet-18/34 in this project's profiles), "
        "random or ImageNet initialisation, all layers trained; the paper uses an ImageNet "
        "EfficientNet with its early layers frozen."
    ),
    "decoder widths": (
        "decoder_channels (5 values, as for SSC-ResNet): the first four are the widths c_l of "
        "D_1..D_4, the fifth the width of the segmentation head; the paper gives no widths."
    ),
    "decoder level": (
        "2 x 2 transposed convolution (stride 2), attention-gated skip concatenated, then two "
        "3 x 3 conv + batch norm + ReLU (the U-Net block); skips f_4, f_3, f_2, f_1 for D_1..D_4."
    ),
    "segmentation head": (
        "From stride 2 to the input resolution: 2 x 2 transposed convolution, 3 x 3 conv + BN + "
        "ReLU, 1 x 1 convolution to one logit."
    ),
    "attention gates": (
        "Additive gates (Oktay et al.) at the skip's resolution, gated by the upsampled decoder "
        "feature, intermediate width C_skip / 2, no normalisation; on in every ablation variant."
    ),
    "HMSF placement": (
        "On every encoder stage's output (f_1..f_5, skips and bridge), as a residual X + Y; "
        "separable conv = depthwise 3 x 3 (no bias) + pointwise 1 x 1; hidden width C / 8."
    ),
    "classification features": (
        "c_l of level l = ReLU(Linear_256(GAP(f_{6-l}))): D_1 reads the bridge f_5, D_4 reads "
        "f_2 (one stage deeper than the level's skip). Each level's stream starts afresh from "
        "the encoder; streams are not chained across levels."
    ),
    "TIM": (
        "Eq. 1's 1 x 1 convolution has c_l / 2 channels; every MLP is one linear layer; eq. 3 "
        "projects the level's base classification feature; tau = 0.7, so mu in [1, 1.7]."
    ),
    "UPA": (
        "Population variances; u normalised by its mean over the batch (+1e-8); gradients flow "
        "through u; UPA needs TIM (it interpolates between TIM's input and output)."
    ),
    "classification head": (
        "Concatenation of the four levels' final classification features -> Linear_256 -> "
        "ReLU -> BatchNorm -> Dropout(dropout) -> Linear_C; without TIM it reads the four "
        "unenhanced features, so the head is the same in every variant."
    ),
    "shared parameters": (
        "Encoder + HMSF (reached by both tasks in every variant); GradNorm's W is the deepest "
        "HMSF's fusion convolution, or the encoder's last convolution without HMSF."
    ),
    "losses": (
        "Not tied to the network: the paper's losses are selectable (seg_losses = "
        "focal_tversky,boundary:0.25,texture:0.15, cls_loss = focal_ce); the task weights "
        "come from the run's weighter, not the paper's fixed 0.8 / 0.2."
    ),
}


def modules_for(variant: str) -> tuple[str, ...]:
    """The module switches of an ablation variant (ValueError naming the valid variants)."""
    if variant not in ABLATION_VARIANTS:
        raise ValueError(
            f"unknown ablation variant {variant!r}; valid: {', '.join(ABLATION_VARIANTS)}"
        )
    return ABLATION_VARIANTS[variant]


class InteractionNet(KeepsRepresentation):
    """Encoder, attention-gated decoder with TIM and UPA at four levels, HMSF, two heads.

    Args:
        encoder: any smp encoder name (``resnet34``, ``resnet18``, ``mobilenet_v2``, ``tu-...``).
        encoder_weights: ``None`` (random init), ``"imagenet"`` (local caches only, see
            :func:`busmtl.models.ssc_resnet.resolve_pretrained_file`) or a state-dict file.
        num_classes: classes of the classification head.
        dropout: dropout before the last classification layer.
        decoder_channels: five widths: D_1..D_4 and the segmentation head.
        in_channels: input channels.
        decoder_dropout: channel dropout after every decoder level (``dropout_scope="network"``).
        tim, upa, hmsf, attention_gates: module switches (UPA needs TIM).
        cls_channels: width of the classification features (256 in the paper).
        tau: TIM's modulation strength (0.7: ``mu`` in [1, 1.7]).

    Training needs batches of at least two images (batch norm on the classification features;
    the trainer never forms a last batch of one).
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
        tim: bool = True,
        upa: bool = True,
        hmsf: bool = True,
        attention_gates: bool = True,
        cls_channels: int = CLS_CHANNELS,
        tau: float = TAU,
    ) -> None:
        super().__init__()
        smp = _smp()
        check_encoder(encoder)
        widths = tuple(int(c) for c in decoder_channels)
        if len(widths) != LEVELS + 1 or min(widths) < 1:
            raise ValueError(
                f"decoder_channels must be {LEVELS + 1} positive widths (D_1..D_4 and the "
                f"segmentation head), e.g. (128, 64, 32, 16, 16); got {tuple(decoder_channels)}"
            )
        if (num_classes < 1 or not 0.0 <= dropout < 1.0 or in_channels < 1
                or not 0.0 <= decoder_dropout < 1.0 or cls_channels < 1):
            raise ValueError(
                f"bad InteractionNet arguments: num_classes={num_classes} (>= 1), dropout="
                f"{dropout} (in [0, 1)), in_channels={in_channels} (>= 1), decoder_dropout="
                f"{decoder_dropout} (in [0, 1)), cls_channels={cls_channels} (>= 1)"
            )
        switches = {"attention_gates": attention_gates, "hmsf": hmsf, "tim": tim, "upa": upa}
        self.modules_on = check_modules(m for m in MODULES if switches[m])
        self.encoder_name = encoder

        weights_file = (
            resolve_pretrained_file(encoder, encoder_weights) if encoder_weights is not None else None
        )
        self.encoder = smp.encoders.get_encoder(
            encoder, in_channels=3 if weights_file is not None else in_channels, depth=5,
            weights=None,  # loaded below from a local file, never downloaded by smp
        )
        if weights_file is not None:
            self.encoder.load_state_dict(_load_state_dict(weights_file))
            if in_channels != 3:
                self.encoder.set_in_channels(in_channels, pretrained=True)
        stages = list(self.encoder.out_channels)  # [input, f_1, ..., f_5]

        self.hmsf = nn.ModuleList(HMSF(c) for c in stages[1:]) if hmsf else None
        previous = [stages[5], *widths[:LEVELS - 1]]
        self.decoder = nn.ModuleList(
            DecoderLevel(previous[l], stages[4 - l], widths[l], attention_gates, decoder_dropout)
            for l in range(LEVELS)
        )
        self.cls_streams = nn.ModuleList(
            nn.Sequential(nn.Linear(stages[5 - l], cls_channels), nn.ReLU(inplace=True))
            for l in range(LEVELS)
        )
        self.tim = (nn.ModuleList(TaskInteraction(widths[l], cls_channels, tau)
                                  for l in range(LEVELS)) if tim else None)
        self.upa = nn.ModuleList(UncertaintyProxyAttention() for _ in range(LEVELS)) if upa else None
        self.seg_head = SegmentationHead(widths[LEVELS - 1], widths[LEVELS])
        self.cls_head = nn.Sequential(
            nn.Linear(LEVELS * cls_channels, cls_channels), nn.ReLU(inplace=True),
            nn.BatchNorm1d(cls_channels), nn.Dropout(dropout), nn.Linear(cls_channels, num_classes),
        )
        self._last_layer = (self.hmsf[-1].fuse if self.hmsf is not None
                            else _last_executed_layer(self.encoder, in_channels))
        #: UPA's ``[B, 2]`` weights ``(w_seg, w_clf)`` of each level in the last forward pass
        #: (detached; empty without UPA), for plots like the paper's Fig. 3.
        self.last_upa_weights: list[torch.Tensor] = []
        self.watch_representation()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(seg_logits [B,1,H,W], cls_logits [B,num_classes])``; H, W divisible by 32."""
        if x.dim() != 4 or x.shape[-2] % 32 or x.shape[-1] % 32:
            raise ValueError(
                f"InteractionNet needs images [B, C, H, W] with H and W divisible by 32, got "
                f"{tuple(x.shape)}: resize them (e.g. --image-size 64)"
            )
        features = list(self.encoder(x))
        if self.hmsf is not None:
            features[1:] = [block(f) for block, f in zip(self.hmsf, features[1:])]
        features = self.keep(features)  # the shared part's output (encoder + HMSF), for rep_grad
        d = features[5]
        streams, upa_weights = [], []
        for l in range(LEVELS):
            d = self.decoder[l](d, features[4 - l])
            c = self.cls_streams[l](features[5 - l].mean(dim=(2, 3)))
            if self.tim is not None:
                d_enh, c_enh = self.tim[l](d, c)
                if self.upa is not None:
                    d, c, w = self.upa[l](d, d_enh, c, c_enh)
                    upa_weights.append(w.detach())
                else:
                    d, c = d_enh, c_enh
            streams.append(c)
        self.last_upa_weights = upa_weights
        return self.seg_head(d), self.cls_head(torch.cat(streams, dim=1))

    # -- parameter groups (busmtl.weighting) ---------------------------------------------------
    def _shared_modules(self) -> list[nn.Module]:
        return [self.encoder] + ([self.hmsf] if self.hmsf is not None else [])

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        """Encoder and HMSF parameters (both tasks reach them in every variant)."""
        for part in self._shared_modules():
            yield from part.parameters()

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """GradNorm's ``W``: the deepest HMSF's fusion convolution, else the encoder's last layer."""
        return [self._last_layer.weight]

    def task_specific_parameters(self) -> Iterator[nn.Parameter]:
        """Decoder, gates, classification features, TIM, UPA and both heads."""
        shared = {id(p) for p in self.shared_parameters()}
        yield from (p for p in self.parameters() if id(p) not in shared)

    def module_parameters(self, module: str) -> int:
        """Number of parameters of one switchable module (0 when it is off)."""
        if module not in MODULES:
            raise ValueError(f"unknown interaction module {module!r}; valid: {', '.join(MODULES)}")
        if module == "attention_gates":
            return sum(p.numel() for level in self.decoder if level.gate is not None
                       for p in level.gate.parameters())
        part = getattr(self, module)
        return 0 if part is None else sum(p.numel() for p in part.parameters())

"""Training settings: one typed config object and the named profiles.

A profile is a complete set of defaults (:data:`PROFILES`); explicit settings override it::

    cfg = make_config("quick", method="atdwa", fold=0, epochs=4)

Profiles
--------
``smoke``
    Seconds per run: tiny phantoms at 32 px, 2 epochs. For tests and CI.
``quick``
    The phantom sweep for laptops and courses: phantoms (or BUSI when configured) at 64 px,
    ResNet-18 encoder with a slim decoder, a few epochs.
``busi-cpu``
    The companion's reference results: the real BUSI on a 2-core CPU, sized by measurement
    (reduced image size, ResNet-18 from random initialisation, slim decoder, a fixed epoch cap).
    Its runs are committed under ``book/runs/busi-cpu``; ``busmtl book`` shows them and never
    re-trains them (``busmtl sweep --profile busi-cpu --data-dir ...`` does, on request).
``busi-cpu-interaction``, ``busi-cpu-cbdice``
    busi-cpu with one change each, also committed: the decoder-interaction network (EW and
    ATDWA), and DMF-var with the decaying CB-Dice auxiliary loss.
``busi-cpu-grouped``
    busi-cpu on the leak-free protocol: a split grouped by near-duplicate cluster
    (:mod:`busmtl.data.duplicates`) and three seeds per method and fold; committed.
``busi-cpu-benchmark``
    The leak-free protocol, seed 0, for every registered weighter beyond the four of
    ``busi-cpu-grouped`` (whose seed-0 runs complete the benchmark); committed.
``paper``
    The primary paper's protocol: BUSI at 256 px, ImageNet-initialised ResNet-34, Adam 1e-4,
    early stopping with patience 15, batch 16 (8 for GradNorm), offline augmentation with six
    copies per image (~2,900 training images). Meant for a GPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Precisions of the forward pass (:mod:`busmtl.training.step`); ``auto`` is bf16 where the CPU computes
#: it natively, fp32 elsewhere (an emulated bf16 is ~20x slower than fp32).
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
#: CPU instruction-set levels a run may be pinned to (:mod:`busmtl.training.isa`).
CPU_ISAS: tuple[str, ...] = ("native", "avx2", "avx512")
#: How the test set and folds are drawn: by image (the paper) or by duplicate cluster.
SPLIT_GROUPS: tuple[str, ...] = ("none", "duplicates")

#: The busi-cpu profile's size, epochs and learning rate, chosen by measurement on a 2-core CPU
#: (DEVELOPERS.md, "Sizing the busi-cpu profile").
BUSI_CPU_SIZE: int = 96
BUSI_CPU_EPOCHS: int = 22
BUSI_CPU_LR: float = 1e-3


#: The U-Net decoder widths of segmentation-models-pytorch by default (the paper profile's).
SMP_DECODER_CHANNELS: tuple[int, ...] = (256, 128, 64, 32, 16)

#: The networks a run can train, by the ``model`` setting's value (:data:`busmtl.models.MODELS`
#: maps each to its class). The names live here, not in :mod:`busmtl.models`, so that settings
#: are checked without importing the networks, and the networks import their vocabulary from
#: here (never the other way round).
MODEL_NAMES: tuple[str, ...] = ("ssc_resnet", "interaction")
#: The switchable modules of the interaction network (:mod:`busmtl.models.interaction`).
INTERACTION_MODULES: tuple[str, ...] = ("attention_gates", "hmsf", "tim", "upa")
#: Decoder levels of the interaction network with a Task Interaction Module (D_1 .. D_4).
INTERACTION_LEVELS: int = 4


@dataclass
class TrainConfig:
    """Every setting of one training run (one method on one fold).

    Settings marked ``CHOICE`` are values the primary paper does not give (this project's
    choices); :mod:`busmtl.report.protocol` lists them beside the paper's protocol in the book.
    Weighter hyper-parameters the paper leaves open (GradNorm's alpha, learning rate and layer,
    UW's form) are the weighters' defaults, documented in their classes.
    """

    # what to run
    method: str = "atdwa"
    fold: int = 0
    profile: str = "quick"
    seed: int = 0
    device: str = "auto"  # "auto" (cuda when available, else cpu), "cpu", "cuda", "cuda:1", ...

    # data
    data_dir: str | None = None  # prepared cache (busmtl data prepare); sweep fills it in
    splits: str | None = None  # split file; default <data_dir>/splits.json (see split_group)
    # "none": the paper's split by image; "duplicates": near-duplicate images (busmtl data
    # check) stay on one side of every test/train/fold boundary (<data_dir>/splits-grouped.json)
    split_group: str = "none"
    dataset: str = "auto"  # data the sweep prepares: "auto" (BUSI if configured), "phantoms", "busi"
    phantoms_n: int = 240  # number of phantom cases the sweep generates
    prepare_size: int = 64  # side of the prepared cache the sweep writes
    image_size: int | None = None  # None: the cache's size; else images are resized on load
    in_channels: int = 3
    augment: str = "online"  # "online" (one of 7 variants per read), "offline" (7 N images), "none"
    offline_copies: int = 6  # copies per image in offline mode; copy j applies transform j alone
    num_workers: int = 0

    # model: "ssc_resnet" (the primary paper's network) or "interaction" (the decoder-interaction
    # network, busmtl.models.interaction); interaction_modules are the latter's switches
    model: str = "ssc_resnet"
    interaction_modules: tuple[str, ...] = INTERACTION_MODULES
    encoder: str = "resnet18"
    encoder_weights: str | None = None
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16, 16)  # CHOICE: the paper gives no decoder
    dropout: float = 0.3
    # The paper applies dropout "throughout the network" without saying where: "head" puts it
    # before the classification layer only; "network" also drops channels (Dropout2d) after every
    # decoder block. A choice of this project.
    dropout_scope: str = "head"  # CHOICE

    # losses (busmtl.losses): the segmentation loss is the sum of the named seg_losses (an entry
    # may carry a factor, "boundary:0.25"); loss_terms "tasks": the weighter sees [L_seg, L_cls],
    # "losses": every named loss is its own term (K = len(seg_losses) + 1); aux_loss is added
    # outside the weighting, scaled by gamma0 exp(-tau t), t in steps or epochs (DMF eq. 2)
    seg_losses: tuple[str, ...] = ("dice", "bce")
    cls_loss: str = "ce"
    loss_terms: str = "tasks"
    aux_loss: str | None = None
    aux_gamma0: float = 1.0
    aux_tau: float = 0.05
    aux_schedule: str = "step"

    # optimisation
    epochs: int = 8  # maximum number of epochs (CHOICE: the paper gives no cap)
    batch_size: int = 16
    batch_size_overrides: dict[str, int] = field(default_factory=lambda: {"gradnorm": 8})
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_factor: float = 0.5  # ReduceLROnPlateau factor (CHOICE: the paper gives none)
    lr_patience: int = 5  # ReduceLROnPlateau patience in epochs (CHOICE: the paper gives none)
    early_stopping_patience: int = 15  # on the mean of the two validation losses
    weighter: dict[str, Any] = field(default_factory=dict)  # hyper-parameters for get_weighter

    # speed: results are bit-reproducible only at the same threads and precision
    precision: str = "auto"  # "fp32", "bf16" (autocast of the forward pass) or "auto" (below)
    # CPU instruction-set level (busmtl.training.isa): "native", or "avx2" for the same numbers
    # on every x86-64 CPU with AVX2 (set before torch is imported by every command that trains)
    cpu_isa: str = "native"
    channels_last: bool = True  # NHWC memory layout of the network and its inputs
    num_threads: int | None = None  # torch intra-op threads; None leaves torch's default

    # bookkeeping
    save_model: bool = True
    progress: bool | None = None  # tqdm bars; None: only when stderr is a terminal
    run_hash: str | None = None  # set by the sweep; recorded in the DONE marker

    @property
    def effective_batch_size(self) -> int:
        """The batch size used for this method (the paper uses 8 for GradNorm, 16 otherwise)."""
        return int(self.batch_size_overrides.get(self.method, self.batch_size))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["decoder_channels"] = list(self.decoder_channels)
        data["interaction_modules"] = list(self.interaction_modules)
        data["seg_losses"] = list(self.seg_losses)
        return data

    def digest(self) -> str:
        """A short hash of every setting (used to tell runs apart)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Profile:
    """A named set of defaults for :class:`TrainConfig`, and what a sweep of it runs.

    Whether a profile's runs are committed is not a setting here: it is a property of the run
    folders (files git tracks; :func:`busmtl.runs.protect.committed_sets`).
    """

    name: str
    summary: str
    settings: dict[str, Any]
    methods: tuple[str, ...] = ("ew", "gradnorm", "dwa", "atdwa")
    folds: tuple[int, ...] = (0, 1, 2, 3, 4)
    seeds: tuple[int, ...] = (0,)


#: The busi-cpu profile's settings; its two companions (the two other systems of the source papers) differ from
#: them in one setting each, so their runs compare with the busi-cpu runs fold by fold.
BUSI_CPU_SETTINGS: dict[str, Any] = {
    "dataset": "busi",
    "prepare_size": BUSI_CPU_SIZE,
    "encoder": "resnet18",
    "decoder_channels": (128, 64, 32, 16, 16),
    "epochs": BUSI_CPU_EPOCHS,
    "lr": BUSI_CPU_LR,
    "batch_size": 16,
    "batch_size_overrides": {"gradnorm": 8},
    "augment": "online",
    "save_model": True,
    # reference runs: fp32 at the AVX2 level, the same numbers on every x86-64 CPU with AVX2
    "precision": "fp32",
    "cpu_isa": "avx2",
}

#: The benchmark's methods, in the order its runs are made (``busmtl sweep --order method``): the
#: registered weighters other than the four of the leak-free reference set (whose seed-0 runs it
#: reuses); the gradient methods through torchjd the benchmark asks for first, then the loss-only
#: ones, then the source papers' other weighters, then torchjd's further aggregators.
BENCHMARK_METHODS: tuple[str, ...] = (
    "upgrad", "mgda", "pcgrad", "cagrad", "imtl_g", "nash_mtl", "aligned_mtl", "dualproj",
    "rlw", "gls", "imtl_l", "famo", "stch",
    "uw", "dbmtl", "dmf_var", "dmf_mad", "dmf_bayes",
    "graddrop", "gradvac", "config", "fairgrad",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile(
        "smoke", "seconds per run: tiny phantoms at 32 px, 2 epochs (tests and CI)",
        {
            "phantoms_n": 48,
            "prepare_size": 32,
            "encoder": "resnet18",
            "decoder_channels": (32, 16, 16, 8, 8),
            "epochs": 2,
            "batch_size": 8,
            "batch_size_overrides": {},
            "augment": "none",
            "save_model": False,
            "precision": "fp32",
        },
        methods=("ew", "atdwa"), folds=(0, 1),
    ),
    Profile(
        "quick", "phantoms at 64 px, ResNet-18, 6 epochs: minutes on a laptop CPU",
        {
            "phantoms_n": 240,
            "prepare_size": 64,
            "encoder": "resnet18",
            "decoder_channels": (128, 64, 32, 16, 16),
            "epochs": 6,
            # A six-epoch budget from random initialisation: 1e-3 learns the masks in that time,
            # the paper's 1e-4 barely moves them (measured: test Dice 0.48 vs 0.86 on phantoms).
            "lr": 1e-3,
            "batch_size": 16,
            "batch_size_overrides": {"gradnorm": 8},
            "augment": "online",
            "save_model": False,
        },
    ),
    Profile(
        "busi-cpu", "the reference results: real BUSI on a 2-core CPU, sized by measurement",
        BUSI_CPU_SETTINGS, methods=("ew", "gradnorm", "dwa", "atdwa", "dmf_var"),
    ),
    Profile(
        "busi-cpu-interaction",
        "busi-cpu with the decoder-interaction network (TIM, UPA, HMSF, attention gates)",
        {**BUSI_CPU_SETTINGS, "model": "interaction"},
        methods=("ew", "atdwa"),
    ),
    Profile(
        "busi-cpu-cbdice",
        "busi-cpu with DMF's decaying class-balanced Dice as auxiliary loss (DMF-Var)",
        {**BUSI_CPU_SETTINGS, "aux_loss": "cb_dice"},
        methods=("dmf_var",),
    ),
    Profile(
        "busi-cpu-grouped",
        "busi-cpu on the leak-free split: near-duplicate images never cross a split boundary; "
        "3 seeds",
        {**BUSI_CPU_SETTINGS, "split_group": "duplicates"},
        methods=("ew", "gradnorm", "dwa", "atdwa"), seeds=(0, 1, 2),
    ),
    Profile(
        "busi-cpu-benchmark",
        "the leak-free protocol (busi-cpu-grouped), seed 0, for every other registered weighter: "
        "the benchmark of every family of loss weighting",
        {**BUSI_CPU_SETTINGS, "split_group": "duplicates"},
        methods=BENCHMARK_METHODS,
    ),
    Profile(
        "paper", "the primary paper's protocol: BUSI at 256 px, ImageNet ResNet-34 (a GPU)",
        {
            "dataset": "busi",
            "prepare_size": 256,
            "encoder": "resnet34",
            "encoder_weights": "imagenet",
            "decoder_channels": SMP_DECODER_CHANNELS,
            "epochs": 200,
            "batch_size": 16,
            "batch_size_overrides": {"gradnorm": 8},
            "augment": "offline",
            "offline_copies": 6,
            "lr": 1e-4,
            "lr_patience": 5,
            "early_stopping_patience": 15,
            "save_model": True,
        },
    ),
)}

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))

#: One line of help per setting: ``busmtl train`` offers every setting with a line here as a
#: flag ``--<name-with-dashes>`` (generated from the field and its type by
#: :mod:`busmtl.cli.setting_flags`), so a new field needs one line here to become a flag; the
#: others (the method, the profile, hashes, dictionaries) have their own flags or none.
SETTING_HELP: dict[str, str] = {
    "fold": "fold index (default 0)",
    "seed": "seed of the model's initialisation, the data order and the augmentation",
    "device": "auto, cpu, cuda or cuda:N",
    "data_dir": "prepared cache (busmtl data prepare)",
    "splits": "split file (default: the cache's file for --split-group)",
    "split_group": "none (split by image) or duplicates (near-duplicates stay on one side)",
    "dataset": "what the sweep prepares when --data-dir is not given: auto, phantoms or busi",
    "phantoms_n": "number of phantom cases generated when no dataset is given",
    "prepare_size": "side of the prepared cache written when no dataset is given",
    "image_size": "resize images on load to S x S (default: the cache's size)",
    "in_channels": "input channels of the network",
    "augment": "online (one variant per read), offline (copies) or none",
    "offline_copies": "copies per image with --augment offline",
    "num_workers": "DataLoader worker processes",
    "model": "ssc_resnet (default) or interaction (decoder-interaction network)",
    "interaction_modules": "modules of the interaction network, comma-separated from "
    "attention_gates,hmsf,tim,upa (default: all; 'none' for none)",
    "encoder": "encoder name (e.g. resnet18, resnet34)",
    "encoder_weights": "pretrained encoder weights, e.g. imagenet (needs them on disk; "
    "default none: random initialisation)",
    "decoder_channels": "five comma-separated decoder widths, e.g. 128,64,32,16,16",
    "dropout": "dropout probability",
    "dropout_scope": "dropout in the classification head only, or also after every decoder block",
    "seg_losses": "segmentation losses summed into L_seg, comma-separated, each optionally "
    "name:factor (default dice,bce), e.g. focal_tversky,boundary:0.25,texture:0.15",
    "cls_loss": "ce (default) or focal_ce",
    "loss_terms": "what the weighter weighs: the two task losses (tasks) or every named loss "
    "(losses)",
    "aux_loss": "auxiliary segmentation loss added outside the weighting, scaled by "
    "gamma0 exp(-tau t) (DMF eq. 2), e.g. cb_dice (default: none)",
    "aux_gamma0": "gamma0 of the auxiliary loss (default 1)",
    "aux_tau": "tau of the auxiliary loss (default 0.05)",
    "aux_schedule": "t of the auxiliary loss counts optimizer steps (step) or epochs (epoch)",
    "epochs": "maximum number of epochs",
    "batch_size": "batch size (all methods)",
    "lr": "Adam learning rate",
    "weight_decay": "Adam weight decay",
    "lr_factor": "ReduceLROnPlateau factor",
    "lr_patience": "ReduceLROnPlateau patience (epochs)",
    "early_stopping_patience": "epochs without a better validation loss before stopping",
    "precision": "forward-pass precision (auto: bf16 where the CPU has it natively, for SSC-ResNet)",
    "cpu_isa": "CPU instruction-set level (avx2 gives the same numbers on every x86-64 CPU with "
    "AVX2)",
    "channels_last": "NHWC memory layout (default: on)",
    "num_threads": "torch intra-op threads (the sweep uses 1; results depend on it)",
    "save_model": "write model.pt (the best checkpoint)",
    "progress": "progress bars (default: when stderr is a terminal)",
}
def setting_flag(name: str) -> str:
    """The ``busmtl train`` flag of the setting ``name``: ``num_threads`` -> ``--num-threads``."""
    return "--" + name.replace("_", "-")


#: The words a setting may take, where they are a fixed few (checked by argparse for the flags).
SETTING_CHOICES: dict[str, tuple[str, ...]] = {
    "precision": PRECISIONS, "cpu_isa": CPU_ISAS, "split_group": SPLIT_GROUPS,
    "augment": ("online", "offline", "none"), "dataset": ("auto", "phantoms", "busi"),
    "dropout_scope": ("head", "network"), "loss_terms": ("tasks", "losses"),
    "aux_schedule": ("step", "epoch"),
}
#: Settings that hold a list of names (given as a tuple, a list or one comma-separated string).
NAME_LISTS: tuple[str, ...] = ("interaction_modules", "seg_losses")


def name_list(value: Any) -> tuple[str, ...]:
    """``"dice,bce"`` or ``["dice", "bce"]`` -> ``("dice", "bce")``; ``"none"`` or ``""`` -> ``()``."""
    if isinstance(value, str):
        value = [] if value.strip().lower() in ("", "none") else value.split(",")
    return tuple(str(v).strip() for v in value)


def profile_setting(profile: str, name: str, given: Any = None) -> Any:
    """One setting without building a config (nothing heavy is imported): ``given`` when not
    ``None``, else the profile's value, else the default of :class:`TrainConfig`."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    if given is not None:
        return given
    if name in PROFILES[profile].settings:
        return PROFILES[profile].settings[name]
    return {f.name: f for f in dataclasses.fields(TrainConfig)}[name].default


def make_config(profile: str = "quick", **overrides: Any) -> TrainConfig:
    """Build a :class:`TrainConfig` from a named profile plus explicit overrides.

    ``None`` overrides are ignored (so unset CLI flags or notebook parameters keep the profile's
    value). An explicit ``batch_size`` also clears the per-method batch-size overrides unless
    those are given too: an explicit request wins.

    Raises ValueError for an unknown profile or setting, naming the valid ones.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    unknown = sorted(set(overrides) - set(FIELD_NAMES))
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)}; valid settings: {', '.join(FIELD_NAMES)}"
        )
    values = {**PROFILES[profile].settings, "profile": profile}
    given = {k: v for k, v in overrides.items() if v is not None}
    if "batch_size" in given and "batch_size_overrides" not in given:
        values["batch_size_overrides"] = {}
    values.update(given)
    return config_from_values(values)


def config_from_values(values: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of ``values`` taken as they are (lists become the tuples of the
    fields; a setting not given takes its default), validated."""
    values = dict(values)
    if "decoder_channels" in values:
        values["decoder_channels"] = tuple(int(c) for c in values["decoder_channels"])
    for name in NAME_LISTS:
        if name in values:
            values[name] = name_list(values[name])
    cfg = TrainConfig(**values)
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Check value ranges; raise ValueError naming the bad setting and what is allowed."""
    checks = [
        (cfg.epochs >= 1, f"epochs must be >= 1, got {cfg.epochs}"),
        (cfg.batch_size >= 1, f"batch_size must be >= 1, got {cfg.batch_size}"),
        (cfg.fold >= 0, f"fold must be >= 0, got {cfg.fold}"),
        (cfg.lr > 0, f"lr must be > 0, got {cfg.lr}"),
        (cfg.augment in SETTING_CHOICES["augment"], f"augment must be online, offline or none, got {cfg.augment!r}"),
        (cfg.offline_copies >= 0, f"offline_copies must be >= 0, got {cfg.offline_copies}"),
        (cfg.dataset in SETTING_CHOICES["dataset"], f"dataset must be auto, phantoms or busi, got {cfg.dataset!r}"),
        (cfg.image_size is None or cfg.image_size >= 32, f"image_size must be >= 32, got {cfg.image_size}"),
        (0.0 <= cfg.dropout < 1.0, f"dropout must be in [0, 1), got {cfg.dropout}"),
        (cfg.dropout_scope in SETTING_CHOICES["dropout_scope"], f"dropout_scope must be head or network, got {cfg.dropout_scope!r}"),
        (cfg.cpu_isa in CPU_ISAS, f"cpu_isa must be one of {', '.join(CPU_ISAS)}, got {cfg.cpu_isa!r}"),
        (cfg.split_group in SPLIT_GROUPS, f"split_group must be one of {', '.join(SPLIT_GROUPS)}, got {cfg.split_group!r}"),
        (cfg.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {cfg.precision!r}"),
        (cfg.num_threads is None or cfg.num_threads >= 1, f"num_threads must be >= 1, got {cfg.num_threads}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"bad setting: {message}")
    _validate_model_and_losses(cfg)


def check_model(name: str) -> str:
    """``name`` when it is a known network, else ValueError listing the valid ones."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODEL_NAMES)}")
    return name


def check_modules(modules: Sequence[str]) -> tuple[str, ...]:
    """``modules`` as a tuple when every name is an interaction-network module and UPA comes
    with TIM, else ValueError."""
    modules = tuple(modules)
    unknown = [m for m in modules if m not in INTERACTION_MODULES]
    if unknown:
        raise ValueError(
            f"unknown interaction module(s) {', '.join(map(repr, unknown))}; valid: "
            f"{', '.join(INTERACTION_MODULES)}"
        )
    if "upa" in modules and "tim" not in modules:
        raise ValueError(
            "interaction module 'upa' needs 'tim' (UPA weighs TIM's enhanced features against "
            "the base ones): add tim or remove upa"
        )
    return modules


def _validate_model_and_losses(cfg: TrainConfig) -> None:
    """The model, its module switches and the loss settings (ValueError naming the bad value)."""
    from busmtl.losses import LossSetup

    try:
        check_model(cfg.model)
        check_modules(cfg.interaction_modules)
        LossSetup.from_config(cfg)
    except ValueError as exc:
        raise ValueError(f"bad setting: {exc}") from None
    if cfg.model != "interaction" and tuple(cfg.interaction_modules) != INTERACTION_MODULES:
        raise ValueError(
            f"bad setting: interaction_modules={','.join(cfg.interaction_modules) or 'none'} "
            f"applies to model 'interaction' only, but model is {cfg.model!r}: add "
            "--model interaction or drop the modules"
        )
    if cfg.model == "interaction" and len(cfg.decoder_channels) != INTERACTION_LEVELS + 1:
        raise ValueError(
            f"bad setting: model 'interaction' needs {INTERACTION_LEVELS + 1} decoder_channels (D_1..D_4 and "
            f"the segmentation head), got {tuple(cfg.decoder_channels)}"
        )


def parse_settings(items: list[str] | None) -> dict[str, Any]:
    """``["model=interaction", "lr=0.01", "seg_losses=dice,bce"]`` -> typed overrides, each value
    read by its :class:`TrainConfig` field's type (``none`` for an optional field is ``None``;
    lists are comma-separated). ValueError naming the item and what to write instead."""
    import typing

    hints = typing.get_type_hints(TrainConfig)
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--set {item!r} is not key=value (e.g. --set model=interaction)")
        if key not in hints:
            raise ValueError(f"--set {item!r}: unknown setting {key!r}; valid settings: "
                             f"{', '.join(FIELD_NAMES)}")
        out[key] = read_setting(key, text.strip())
    return out


def read_setting(key: str, text: str, flag: str | None = None) -> Any:
    """``text`` as a value of the setting ``key``, read by its :class:`TrainConfig` field's type:
    ``--set key=text``, or ``flag text`` for a flag of ``busmtl train`` (``none`` for an optional
    field is ``None``; lists are comma-separated). ValueError naming the value and an example."""
    import math
    import typing

    hint = typing.get_type_hints(TrainConfig)[key]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = type(None) in typing.get_args(hint)
    if optional and text.lower() in ("none", "null", ""):
        return None
    base = args[0] if optional and len(args) == 1 else hint
    origin = typing.get_origin(base)
    try:
        if base is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if base is int:
            return int(text)
        if base is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if origin is tuple:
            return name_list(text)
        if origin is dict:
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError
            return value
    except (ValueError, json.JSONDecodeError):
        given, example = ((f"--set {key}={text!r}", f"--set {key}={_example(base)}") if flag is None
                          else (f"{flag} {text!r}", f"{flag} {_example(base)}"))
        raise ValueError(f"{given}: expected {getattr(base, '__name__', base)} for {key} "
                         f"(e.g. {example})") from None
    return text


def _example(base: Any) -> str:
    return {bool: "true", int: "3", float: "0.001"}.get(base, '\'{"gradnorm": 8}\'')

"""Write the book's report notebooks (book/methods.ipynb, book/data.ipynb, book/results.ipynb)
from the cell sources below. Run after editing: `python tools/make_book_notebooks.py`.
The notebooks are committed without outputs; the book build executes them."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
HIDE = {"tags": ["remove-input"]}
HIDE_ALL = {"tags": ["remove-cell"]}


def write(name: str, cells: list) -> None:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"},
                                "language_info": {"name": "python"}})
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{i:02d}"
    nbformat.write(nb, ROOT / "book" / f"{name}.ipynb")


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str, meta=HIDE):
    return new_code_cell(text.strip(), metadata=dict(meta))


SETUP = code('''
import warnings
warnings.filterwarnings("ignore")
import matplotlib.pyplot as plt
plt.rcParams.update({"figure.dpi": 150, "savefig.dpi": 150, "font.size": 9})
from myst_nb import glue
''', HIDE_ALL)

METHODS = [
    md("""
# Weighting methods

Every method below receives, at each training step, the two unweighted task losses
$L_1$ (segmentation) and $L_2$ (classification) and decides the weights $w_k$ of the total loss
$\\sum_k w_k L_k$ (or, for the gradient methods, how the task gradients are combined). With equal
weighting as reference, the weights are scaled to sum to the number of tasks $K = 2$ unless a
method says otherwise. Each method is one file in `src/busmtl/weighting/` of the repository,
named after it; its docstring repeats the
equations below with the paper's equation numbers, and `tests/test_weighting_equations.py`
checks them against hand-computed values.

Below each method, a **simulated example**: the same toy two-task network (task 0 has a large,
slowly falling loss; task 1 a small, fast one) trained with that method, showing the weights it
applied (module `busmtl.report.simulate`). It is a picture of each rule's reflexes, not a
benchmark.
"""),
    SETUP,
    code('''
from busmtl.report.simulate import simulate, simulation_figure

def show(method, **hp):
    frame = simulate(method, **hp)
    fig = simulation_figure(method, frame)
    glue(f"sim_{method}_w0_end", float(frame["w_seg"].iloc[-1]), display=False)
    glue(f"sim_{method}_w1_end", float(frame["w_cls"].iloc[-1]), display=False)
    return fig
''', HIDE_ALL),
    md("""
## Equal weighting (EW)

$w_k = 1$: the total loss is $L_1 + L_2$. This is the SSC-ResNet baseline of the primary paper
{cite}`yang2024ssc,hariyadi2025atdwa`. Source: {download}`weighting/ew.py <../src/busmtl/weighting/ew.py>`.
"""),
    code('show("ew");'),
    md("""
## Dynamic Weight Averaging (DWA)

DWA {cite}`liu2019mtan` looks at how fast each loss fell over the last two epochs. With $L_k(e)$
the mean training loss of task $k$ in epoch $e$ (0-based), for $e \\ge 2$:

$$r_k(e) = \\frac{L_k(e-1)}{L_k(e-2) + \\epsilon}, \\qquad
w_k(e) = K \\, \\frac{\\exp(r_k(e)/T)}{\\sum_j \\exp(r_j(e)/T)}$$

(eqs. 1 and 5 of the primary paper) with $T = 2$ and $w_k = 1$ for the first two epochs. A task
whose loss falls slowly has a ratio near 1 and gets more weight; the temperature $T$ sets how
strongly. The weights change only between epochs. Source: {download}`weighting/dwa.py <../src/busmtl/weighting/dwa.py>`.
"""),
    code('show("dwa");'),
    md("""
## Adaptive Temperature DWA (ATDWA)

ATDWA {cite}`hariyadi2025atdwa` keeps DWA's ratios (eq. 1) and softmax (eq. 5) but lets the
temperature follow the recent volatility of the losses:

$$u_k(e) = \\operatorname{std}\\big(L_k(e-1), L_k(e-2), L_k(e-3)\\big), \\qquad
\\bar u(e) = \\frac{1}{K}\\sum_k u_k(e), \\qquad T(e) = T_0\\,(1 + \\gamma\\, \\bar u(e))$$

(eqs. 2-4) with $T_0 = 2$ and $\\gamma = 0.8$. The paper writes the window as the current and two
previous epochs; at the start of an epoch only finished epochs are known, so `busmtl` uses the
three most recent *recorded* epochs (fewer at the start) and the population standard deviation.
When losses jump around, $T$ rises and the weights flatten towards equal weighting; when they
settle, $T$ returns to $T_0$ and DWA's preferences come through. With $\\gamma = 0$ ATDWA is DWA
(a property test checks it). Source: {download}`weighting/atdwa.py <../src/busmtl/weighting/atdwa.py>`.
"""),
    code('show("atdwa");'),
    md("""
## GradNorm

GradNorm {cite}`chen2018gradnorm` learns the weights so that each task's gradient on a shared
layer $W$ (here the last convolution of the encoder) has a size matched to how far the task
still is from its starting loss. With $G_k = w_k \\lVert \\nabla_W L_k \\rVert_2$,
$\\tilde L_k = L_k / L_k(0)$ and $r_k = \\tilde L_k / \\operatorname{mean}(\\tilde L)$:

$$\\mathcal L_{\\text{grad}} = \\sum_k \\big| G_k - \\operatorname{mean}(G)\\, r_k^{\\alpha} \\big|,
\\qquad \\alpha = 1.5,$$

where the target is held constant. $\\mathcal L_{\\text{grad}}$ updates only $w$ (its own Adam,
learning rate $10^{-4}$ in training; $10^{-2}$ in this toy so the effect is visible within 300
steps); the network is trained on $\\sum_k w_k L_k$, and after every update
$w \\leftarrow K w / \\sum_j w_j$. It needs one extra gradient per task on $W$ at every step.
Source: {download}`weighting/gradnorm.py <../src/busmtl/weighting/gradnorm.py>`.
"""),
    code('show("gradnorm", lr=1e-2);'),
    md("""
## Uncertainty weighting (UW)

Kendall et al. {cite}`kendall2018uncertainty` treat each task's noise level as a learnable
log-variance $s_k$ and minimise

$$\\sum_k \\tfrac12 e^{-s_k} L_k + \\tfrac12 s_k,$$

so a task with a large, noisy loss learns a large $s_k$ and a small weight $\\tfrac12 e^{-s_k}$
(the weights reported here; they start at 0.5 each and are not normalised). The $s_k$ are
trained by the network's optimizer. Source: {download}`weighting/uw.py <../src/busmtl/weighting/uw.py>`.
"""),
    code('show("uw");'),
    md("""
## Dual-Balancing MTL (DB-MTL)

DB-MTL {cite}`lin2023dbmtl` balances twice (its Algorithm 1). Loss scales: each task is trained on
$\\log(L_k + \\epsilon)$. Gradient scales: with $g_k = \\nabla_\\theta \\log(L_k+\\epsilon)$ on the
shared parameters $\\theta$ and its running average $\\hat g_k \\leftarrow \\beta \\hat g_k +
(1-\\beta) g_k$ (eq. 1, $\\beta = 0.9$), the shared update is

$$\\tilde g = \\alpha \\sum_k \\frac{\\hat g_k}{\\lVert \\hat g_k \\rVert + \\epsilon}, \\qquad
\\alpha = \\max_k \\lVert \\hat g_k \\rVert$$

(eq. 2): every task pushes the encoder as hard as the strongest one. The reported "weights" are the
scales $\\alpha / \\lVert \\hat g_k \\rVert$ given to each task direction (the strongest task gets 1).
Source: {download}`weighting/dbmtl.py <../src/busmtl/weighting/dbmtl.py>`.
"""),
    code('show("dbmtl");'),
    md("""
## Dynamic Memory Fusion (DMF): variance, MAD and Bayesian rules

Golnari and Diba {cite}`golnari2025dmf` keep a memory $H_k$ of the last 100 step losses of each
task. Each memory is first log-compressed, $\\operatorname{sign}(h)\\log(1+|h|)$ (their eq. 10),
then rescaled to $[0, 1]$ (eq. 9). After a warm-up of 50 steps the weights follow one of three
rules, normalised here to sum $K$ (the paper normalises to 1):

- **variance** (eqs. 3-4): $w_k \\propto \\operatorname{Var}(H_k)$, more weight to the task whose loss
  moves more;
- **MAD** (eqs. 5-6): $w_k \\propto 1/\\operatorname{MAD}(H_k)$, more weight to the steadier task;
- **Bayesian** (eqs. 7-8): $w_k \\propto p_k / \\operatorname{MAD}(H_k)$, where the prior $p_k$ is the
  previous step's posterior, so evidence accumulates and the weights can drift far from equal.

Sources: {download}`weighting/dmf_var.py <../src/busmtl/weighting/dmf_var.py>`, {download}`dmf_mad.py <../src/busmtl/weighting/dmf_mad.py>`, {download}`dmf_bayes.py <../src/busmtl/weighting/dmf_bayes.py>` (shared memory in
`dmf_memory.py`). The toy below uses a memory of 40 steps and a warm-up of 10.
"""),
    code('show("dmf_var");'),
    code('show("dmf_mad");'),
    code('show("dmf_bayes");'),
    md("References: see [the bibliography](references.md)."),
]
write("methods", METHODS)


DATA = [
    md("""
# Data and protocol

This chapter describes the data and settings that **this build** of the book used. They are read
from the build's profile and prepared data, so the text always matches the results chapter.
"""),
    SETUP,
    code("""
import os
import pandas as pd
from busmtl.config import make_config
from busmtl.data.prepare import load_prepared
from busmtl.data.splits import load_splits
from busmtl.report import figures
from busmtl.sweep import prepare_data

profile = os.environ.get("BUSMTL_BOOK_PROFILE", "quick")
data_dir = os.environ.get("BUSMTL_BOOK_DATA") or str(prepare_data(profile, None))
data = load_prepared(data_dir)
splits = load_splits(os.path.join(data_dir, "splits.json"), data_dir)
cfg = make_config(profile, method="atdwa")
paper = make_config("paper", method="atdwa")
is_busi = "busi" in os.path.basename(os.path.dirname(data_dir)).lower() or "busi" in os.path.basename(data_dir).lower()
glue("profile", profile, display=False)
glue("dataset_name", "BUSI" if is_busi else "synthetic ultrasound phantoms", display=False)
glue("n_images", int(len(data.labels)), display=False)
glue("n_benign", int((data.labels == 0).sum()), display=False)
glue("n_malignant", int((data.labels == 1).sum()), display=False)
glue("image_px", int(data.images.shape[1]), display=False)
glue("n_test", len(splits.test), display=False)
glue("n_folds", len(splits.folds), display=False)
glue("n_train0", len(splits.folds[0].train), display=False)
glue("n_val0", len(splits.folds[0].val), display=False)
glue("split_seed", splits.seed, display=False)
glue("epochs", cfg.epochs, display=False)
glue("paper_epochs", paper.epochs, display=False)
glue("encoder", cfg.encoder, display=False)
glue("augment", cfg.augment, display=False)
""", HIDE_ALL),
    md("""
## The dataset

This build uses the {glue:text}`dataset_name` of the {glue:text}`profile` profile:
{glue:text}`n_images` images ({glue:text}`n_benign` benign, {glue:text}`n_malignant` malignant),
prepared at {glue:text}`image_px` x {glue:text}`image_px` pixels.

The primary paper uses the 647 benign and malignant images of BUSI {cite}`aldhabyani2020busi`
(the normal images have no lesion and are left out). The default CPU build cannot ship BUSI, so it
generates *phantoms* with the same folder layout: speckled tissue layers with one hypoechoic
lesion (sometimes two, stored as `_mask_1.png` like BUSI's multi-lesion cases); benign lesions
are smooth, oval and wider than tall with brighter tissue behind them, malignant ones irregular
or spiculated, taller than wide and heterogeneous with an acoustic shadow, with overlap between the
classes. About one image in three is malignant, as in BUSI. The phantoms make the two tasks real
but easier and smaller than BUSI; the numbers of this build are not BUSI numbers.
"""),
    code("figures.examples_figure(data_dir, per_class=4);"),
    md("""
*Example images (top) and lesion masks (bottom) of each class, drawn at random from the prepared
data (analogue of the paper's Fig. 2).*

## Splits

As in the paper, a stratified held-out test set of 20 % ({glue:text}`n_test` images) is set aside
once, and the rest is split into {glue:text}`n_folds` stratified folds; each run trains on four
fifths of the rest and validates on one fifth (fold 0: {glue:text}`n_train0` training and
{glue:text}`n_val0` validation images). Every method sees the same folds and the same test set
(split seed {glue:text}`split_seed`), so results can be compared fold by fold. The split file
records a hash of the data it was made for and is refused for any other data.

## Augmentation

The paper applies six transforms, each with probability 1, to image and mask together: grid
distortion, rotation up to 45 degrees, optical distortion, horizontal flip, vertical flip and
elastic deformation (albumentations). It expands the training set offline with augmented copies;
`busmtl` offers that (`augment="offline"`, 6 copies, the `paper` profile) and an online mode that
draws a new transform per image and epoch. Validation and test images are never augmented.
"""),
    code("figures.augmentation_figure(data_dir, index=int((data.labels == 0).argmax()));"),
    md("""
*One training image (lesion outline in green) under each of the six transforms.*

## Training setup and deviations from the paper

SSC-ResNet: a U-Net (segmentation-models-pytorch {cite}`iakubovskii2019smp`) whose encoder is
shared by the segmentation decoder and a classification head (global average pooling, dropout
0.3, linear layer) on the deepest features. Segmentation loss: Dice + binary cross-entropy (the
paper does not name its segmentation loss; this is our choice); classification loss:
cross-entropy. Adam, the learning rate lowered when the validation loss plateaus, early stopping
on the mean of the two validation losses, and the checkpoint with the lowest such mean is the
one evaluated. GradNorm uses batch 8 instead of 16, as in the paper.

The table lists the settings of this build's profile beside the `paper` profile; every row marked
"differs" is a deviation of this build from the primary paper's protocol. The {glue:text}`profile`
profile trains for at most {glue:text}`epochs` epochs (the paper: up to {glue:text}`paper_epochs`
with early stopping) with the {glue:text}`encoder` encoder and {glue:text}`augment` augmentation.
"""),
    code("""
keys = ["dataset", "prepare_size", "encoder", "encoder_weights", "decoder_channels", "epochs",
        "batch_size", "batch_size_overrides", "lr", "lr_patience", "early_stopping_patience",
        "augment", "offline_copies", "dropout"]
a, b = cfg.to_dict(), paper.to_dict()
rows = [{"setting": k, f"this build ({profile})": str(a[k]), "paper profile": str(b[k]),
         "": "" if str(a[k]) == str(b[k]) else "differs"} for k in keys]
pd.DataFrame(rows).set_index("setting")
"""),
    md("References: see [the bibliography](references.md)."),
]
write("data", DATA)

RESULTS = [
    md("""
# Results

Everything on this page is computed, at build time, from the run folders of the sweep (one per
method and fold; the executed notebooks are in the appendix). Means and standard deviations are
over folds, each evaluated on the same held-out test set with the checkpoint of lowest mean
validation loss. Runs that did not finish are marked *missing*, never silently dropped.
"""),
    SETUP,
    code("""
import os
from pathlib import Path
import numpy as np
import pandas as pd
from IPython.display import HTML, display
from busmtl.report import aggregate, figures, stats, tables
from busmtl.report.colors import label
from busmtl.sweep import default_runs_root

profile = os.environ.get("BUSMTL_BOOK_PROFILE", "quick")
runs_root = Path(os.environ.get("BUSMTL_BOOK_RUNS") or default_runs_root())
runs = aggregate.collect(runs_root, profile)
done = runs[runs["status"] == "done"]
hist = aggregate.histories(runs)
have = not done.empty

def mean(method, metric):
    values = done[done["method"] == method][f"test_{metric}"]
    return float(values.mean()) if len(values) else float("nan")

glue("res_profile", profile, display=False)
glue("res_done", int(len(done)), display=False)
glue("res_expected", int(len(runs)), display=False)
glue("res_methods", ", ".join(label(m) for m in dict.fromkeys(runs["method"])), display=False)
glue("res_folds", int(runs["fold"].nunique()) if len(runs) else 0, display=False)
""", HIDE_ALL),
    md("""
This build (profile {glue:text}`res_profile`) holds {glue:text}`res_done` finished runs of the
{glue:text}`res_expected` expected ({glue:text}`res_methods`; {glue:text}`res_folds` folds each).
"""),
    code("aggregate.completeness(runs).set_index('method')"),
    md("""
## Table II analogue: every method, every metric

Segmentation metrics are computed per test image and averaged over images (pixel AUC pools all
test pixels); classification metrics are weighted averages over the two classes, which is why
recall equals accuracy, as in the paper. Best mean per column in bold. The table is shown in two
parts, segmentation then classification, so that it fits the page.
"""),
    code("""
t2 = tables.table2(runs)
display(HTML(tables.to_html(t2.iloc[:, :6])))
HTML(tables.to_html(t2.iloc[:, 6:]))
"""),
    code("""
if have and "ew" in set(done["method"]) and "atdwa" in set(done["method"]):
    glue("dice_atdwa", mean("atdwa", "seg_dice"), display=False)
    glue("dice_ew", mean("ew", "seg_dice"), display=False)
    glue("dice_gain", mean("atdwa", "seg_dice") - mean("ew", "seg_dice"), display=False)
    glue("acc_atdwa", mean("atdwa", "cls_acc"), display=False)
    glue("acc_ew", mean("ew", "cls_acc"), display=False)
else:
    for key in ("dice_atdwa", "dice_ew", "dice_gain", "acc_atdwa", "acc_ew"):
        glue(key, float("nan"), display=False)
best = done.groupby("method")["test_seg_dice"].mean() if have else pd.Series(dtype=float)
glue("best_dice_method", label(best.idxmax()) if len(best) else "none", display=False)
best_acc = done.groupby("method")["test_cls_acc"].mean() if have else pd.Series(dtype=float)
glue("best_acc_method", label(best_acc.idxmax()) if len(best_acc) else "none", display=False)
""", HIDE_ALL),
    md("""
In this build, ATDWA reaches a mean test Dice of {glue:text}`dice_atdwa:.3f` against
{glue:text}`dice_ew:.3f` for equal weighting (difference {glue:text}`dice_gain:+.3f`), and a
classification accuracy of {glue:text}`acc_atdwa:.3f` against {glue:text}`acc_ew:.3f`. The highest
mean Dice belongs to {glue:text}`best_dice_method` and the highest accuracy to
{glue:text}`best_acc_method`. Whether such differences exceed fold-to-fold noise is tested
[below](paired).

### Beside the paper's Table II

The primary paper's own numbers {cite}`hariyadi2025atdwa` (BUSI, 256 px, ImageNet ResNet-34, up
to 200 epochs), our mean for the same method, and the difference (ours - paper). On the default
phantom build the difference mostly measures the change of data and budget, not a failure to
reproduce; compare like with like using the `paper` profile.
"""),
    code("""
t2p = tables.table2_vs_paper(runs)
display(t2p.iloc[:, :6])
t2p.iloc[:, 6:]
"""),
    md("""
## Table I analogue: comparison with earlier work

Values of earlier BUSI models as cited by the primary paper (Byra et al. {cite}`byra2022joint`,
SSC {cite}`yang2024ssc`; NA where not reported), the paper's ATDWA, and this build's ATDWA.
"""),
    code("tables.table1(runs)"),
    md("""
## Table III analogue: cost of each method

Peak memory (on a GPU: the largest memory allocated by PyTorch; on a CPU: the peak resident
memory of the run's process, which includes the Python process itself), the longest and median
training step, and the longest and median epoch, averaged over folds, with ratios to equal
weighting. GradNorm runs with batch 8, so its per-step numbers cover half as many images.
"""),
    code("tables.table3(runs)"),
    code("""
eff = tables.mean_std(runs, "step_time_ms_median")
if {"gradnorm", "ew"} <= set(eff.dropna().index):
    ratio = eff.loc["gradnorm", "mean"] / eff.loc["ew", "mean"]
    sentence = (f"Here GradNorm's median step costs {ratio:.2f} times that of equal weighting "
                "(with half the batch).")
else:
    sentence = "GradNorm or equal weighting has no finished run in this build."
glue("gradnorm_sentence", sentence, display=False)
""", HIDE_ALL),
    md("""
{glue:text}`gradnorm_sentence` The paper's Table III, for comparison (GPU memory, ratios computed from its values):
"""),
    code("tables.table3_paper()"),
    md("""
## Weights over epochs (Fig. 3 analogue)

The mean weight each method applied to each task in every epoch; the line is the mean over folds
and the band the range over folds.
"""),
    code("""
if hist.empty:
    print("no finished runs: nothing to plot")
else:
    figures.weights_figure(hist);
"""),
    md("""
## ATDWA's temperature

DWA keeps $T = 2$; ATDWA raises it when the recent epoch losses fluctuate (the temperature shown
for an epoch is the one that produced that epoch's weights).
"""),
    code("""
if not hist.empty and "x_temperature" in hist:
    figures.temperature_figure(hist);
"""),
    md("## Loss curves\n\nValidation (solid, band over folds) and training (dashed) loss of each task."),
    code("""
if not hist.empty:
    figures.loss_figure(hist);
"""),
    md("""
## Qualitative results (Fig. 4 analogue)

Benign and malignant test images whose lesion size is closest to their class median (so typical
cases, not hand-picked ones), with the ground truth (green) and each method's predicted contour
(fold 0), titled with the per-image Dice.
"""),
    code("""
if have:
    figures.qualitative_figure(runs, fold=0, per_class=2);
"""),
    md("""
(paired)=
## Paired comparison with equal weighting

For each method and metric: the difference to equal weighting on the same fold, averaged over
folds, and the paired t-test p-value; a difference the test calls clear (p < 0.05) is in bold
with its direction. In this build, {glue:text}`n_clear` of the {glue:text}`n_tests` comparisons
are clear. With five folds the Wilcoxon signed-rank test cannot go below p = 0.0625, so it only
tells whether the sign is consistent; its p-values are in the full table below the matrix.
"""),
    code("""
table = stats.paired_vs_baseline(runs)
glue("n_clear", int(table["verdict"].isin(["better", "worse"]).sum()) if len(table) else 0, display=False)
glue("n_tests", int(len(table)), display=False)
if table.empty:
    print("equal weighting or another method has no finished run: nothing to compare")
else:
    display(HTML(tables.to_html(stats.paired_matrix(table))))
"""),
    code("""
if not table.empty:
    display(table.round({"mean difference": 4, "Wilcoxon p": 3, "paired t p": 3}).set_index(["method", "metric"]))
""", {"tags": ["remove-input", "hide-output"]}),
    md("""
```{note}
The per-run notebooks in the appendix show each run's curves, metrics and predictions; the
aggregation code is `busmtl.report` (`aggregate.py`, `tables.py`, `stats.py`, `figures.py`).
```

References: see [the bibliography](references.md).
"""),
]
write("results", RESULTS)

"""Self-checks of the weighting lab (``book/lab.md``): each prints ``PASS`` or ``FAIL`` (with a
hint) and returns whether it passed. They recompute what they check with :mod:`busmtl.teaching.toy`, so
a check never needs the answer typed into it by its author.

``python -m busmtl.teaching.lab book/lab.md lab.ipynb`` writes the lab as a notebook for students, without
the solutions.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from busmtl.teaching.toy import ToyMTL, per_epoch, simulate, toy_batch
from busmtl.weighting import get_weighter
from busmtl.weighting.base import Weighter
from busmtl.weighting.dwa import loss_ratios

#: The noise of the lab's noisy toy (epoch-to-epoch factor ``exp(NOISE z)``).
NOISE: float = 0.5
#: GradNorm's weight learning rate in the toy (training uses the network's).
TOY_GRADNORM_LR: float = 1e-2
#: The epoch losses of exercise "DWA by hand": ``L(e-2)`` then ``L(e-1)``, per task.
HAND_LOSSES: tuple[tuple[float, float], tuple[float, float]] = ((2.0, 0.8), (1.5, 0.7))


def report(ok: bool, what: str, hint: str = "") -> bool:
    """Print ``PASS: what`` or ``FAIL: what (hint)``; return ``ok``."""
    print(f"PASS: {what}" if ok else f"FAIL: {what}" + (f". Hint: {hint}" if hint else ""))
    return ok


def _guarded(check: Callable[..., bool]) -> Callable[..., bool]:
    """A check that reports an exception in the student's code as a FAIL instead of raising."""

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> bool:
        try:
            return check(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any error of the student's code is a FAIL
            return report(False, f"{check.__name__} could not run: {type(exc).__name__}: {exc}",
                          "fix the error above, then run the check again")

    return wrapper


@functools.cache
def _cached(method: str, **kwargs: Any) -> pd.DataFrame:
    return simulate(method, **kwargs)


# -- exercise: one step -------------------------------------------------------------------------
@_guarded
def check_more_weight_to_classification(weighter: Weighter) -> bool:
    """DWA after two recorded epochs gives classification the larger weight."""
    w = weighter.current_weights()
    return report(len(weighter.epoch_losses) >= 2 and float(w[1]) > float(w[0]),
                  f"classification gets {float(w[1]):.3f}, segmentation {float(w[0]):.3f}",
                  "record two epochs with epoch_end([seg, cls]); the task whose loss falls "
                  "more slowly (ratio closer to 1) gets more weight")


# -- exercise: DWA by hand ----------------------------------------------------------------------
def dwa_weights(losses: Sequence[Sequence[float]], T: float = 2.0) -> list[float]:
    """DWA's weights (eqs. 1 and 5) after the recorded epoch ``losses``."""
    w = get_weighter("dwa", len(losses[0]), T=T)
    for epoch in losses:
        w.epoch_end(list(epoch))
    return [float(v) for v in w.current_weights()]


@_guarded
def check_dwa_by_hand(weights: Sequence[float]) -> bool:
    """Your two weights for :data:`HAND_LOSSES` at T = 2, to three decimals."""
    expected = dwa_weights(HAND_LOSSES)
    ok = len(weights) == 2 and all(w is not None and abs(float(w) - e) < 5e-4
                                   for w, e in zip(weights, expected))
    return report(ok, "DWA weights by hand" + (f": {expected[0]:.3f}, {expected[1]:.3f}" if ok else ""),
                  "r_k = L_k(e-1) / L_k(e-2); w = 2 exp(r_k/2) / (exp(r_1/2) + exp(r_2/2))")


# -- exercises: ATDWA ---------------------------------------------------------------------------
@_guarded
def check_gamma_zero(atdwa: pd.DataFrame, dwa: pd.DataFrame) -> bool:
    """ATDWA with gamma = 0 applies DWA's weights and keeps T = T0."""
    same = bool((atdwa[["w_seg", "w_cls"]].to_numpy() == dwa[["w_seg", "w_cls"]].to_numpy()).all())
    t = atdwa["temperature"].dropna().unique()
    flat = len(t) == 1
    return report(same and flat, "gamma = 0: the same weights as DWA and a constant temperature"
                  + (f" T = {t[0]:g}" if flat else ""),
                  "simulate both with the same noise; ATDWA with gamma=0")


def max_temperature(**kwargs: Any) -> float:
    """ATDWA's largest epoch temperature on the toy made with ``kwargs``."""
    return float(per_epoch(_cached("atdwa", **kwargs))["temperature"].max())


@_guarded
def check_noisy_task(answer: str) -> bool:
    """Which noisy task raises ATDWA's temperature more: ``"seg"`` or ``"cls"``?"""
    t = {task: max_temperature(noise=NOISE, noisy_task=task) for task in ("seg", "cls")}
    right = max(t, key=t.get)
    return report(answer == right, f"largest T with a noisy segmentation loss {t['seg']:.1f}, "
                  f"with a noisy classification loss {t['cls']:.1f}",
                  "answer 'seg' or 'cls'; compare the two runs' temperature columns")


@_guarded
def check_scale(t_max: Mapping[float, float]) -> bool:
    """``{seg_scale: largest T}`` of ATDWA on the noisy toy, for at least three scales."""
    if len(t_max) < 3:
        return report(False, "at least three scales", "e.g. seg_scale in (0.3, 1, 3)")
    expected = {s: max_temperature(noise=NOISE, seg_scale=s) for s in t_max}
    match = all(math.isclose(float(t_max[s]), expected[s], rel_tol=1e-6) for s in t_max)
    scales = sorted(t_max)
    grows = all(expected[a] < expected[b] for a, b in itertools.pairwise(scales))
    return report(match and grows, "T grows with the size of the noisy loss: "
                  + ", ".join(f"scale {s:g}: T {expected[s]:.1f}" for s in scales),
                  "t_max[s] = per_epoch(frame)['temperature'].max() of each run")


# -- exercise: GradNorm's alpha -----------------------------------------------------------------
def peak_classification_weight(alpha: float) -> float:
    """GradNorm's largest classification weight on the calm toy at ``alpha``."""
    return float(_cached("gradnorm", lr=TOY_GRADNORM_LR, alpha=alpha)["w_cls"].max())


@_guarded
def check_gradnorm_alpha(peaks: Mapping[float, float]) -> bool:
    """``{alpha: largest classification weight}`` for at least three values of alpha."""
    if len(peaks) < 3:
        return report(False, "at least three values of alpha", "e.g. alpha in (0, 1.5, 3)")
    expected = {a: peak_classification_weight(a) for a in peaks}
    match = all(math.isclose(float(peaks[a]), expected[a], rel_tol=1e-6) for a in peaks)
    alphas = sorted(peaks)
    grows = all(expected[a] < expected[b] for a, b in itertools.pairwise(alphas))
    return report(match and grows, "a larger alpha pulls harder towards the lagging task: "
                  + ", ".join(f"alpha {a:g}: {expected[a]:.3f}" for a in alphas),
                  f"peaks[a] = simulate('gradnorm', lr={TOY_GRADNORM_LR}, alpha=a)['w_cls'].max()")


# -- exercises: your own weighter ---------------------------------------------------------------
class SlowTaskReference(Weighter):
    """The reference solution of the lab's weighter: ``w_k = K r_k / sum_j r_j`` with DWA's
    ratios ``r_k`` (eq. 1), equal weights until two epochs are recorded."""

    name = "slow_task"

    def backward(self, losses: torch.Tensor, model: Any) -> torch.Tensor:
        self._check(losses)
        if len(self.epoch_losses) >= 2:
            ratios = loss_ratios(self.epoch_losses).to(losses)
            weights = self.num_tasks * ratios / ratios.sum()
        else:
            weights = torch.ones(self.num_tasks, dtype=losses.dtype, device=losses.device)
        self._weighted_backward(losses, weights)
        return weights.detach()


def _steps(cls: type[Weighter], steps: int = 6) -> tuple[ToyMTL, list[torch.Tensor]]:
    torch.manual_seed(0)
    model, weighter = ToyMTL(), cls(2)
    opt = torch.optim.Adam(list(model.parameters()) + weighter.network_parameters(), lr=1e-2)
    seen, epoch = [], []
    for step in range(steps):
        opt.zero_grad()
        losses = model.losses(*toy_batch(step))
        seen.append(weighter.backward(losses, model))
        opt.step()
        epoch.append(losses.detach())
        if len(epoch) == 2:
            weighter.epoch_end(torch.stack(epoch).mean(0))
            epoch = []
    return model, seen


@_guarded
def check_weighter(cls: type[Weighter]) -> bool:
    """The properties the library's tests ask of every weighter, plus the slow-task rule."""
    results = []
    model, seen = _steps(cls)
    results.append(report(all(w.shape == (2,) and torch.isfinite(w).all() and (w > 0).all()
                              for w in seen), "finite, positive weights, one per task"))
    results.append(report(all(math.isclose(float(w.sum()), 2.0, rel_tol=1e-5) for w in seen),
                          "weights sum to K = 2"))
    torch.manual_seed(0)
    untouched = list(ToyMTL().parameters())
    results.append(report(all(not torch.equal(a, b) for a, b in zip(untouched, model.parameters())),
                          "every parameter of the network is updated",
                          "call self._weighted_backward(losses, weights)"))
    _, again = _steps(cls)
    results.append(report(all(torch.equal(a, b) for a, b in zip(seen, again)),
                          "deterministic under a fixed seed"))
    results.append(report(all(torch.equal(w, torch.ones(2)) for w in seen[:4]),
                          "equal weights until two epochs are recorded"))
    mine, ref = cls(2), SlowTaskReference(2)
    for w in (mine, ref):
        for epoch in HAND_LOSSES:
            w.epoch_end(list(epoch))
    x = torch.tensor([1.0, 1.0], requires_grad=True)
    got = mine.backward(x * 1.0, _Unused())
    want = ref.backward(torch.tensor([1.0, 1.0], requires_grad=True) * 1.0, _Unused())
    results.append(report(torch.allclose(got.double(), want.double(), atol=1e-6),
                          f"the slow-task rule: {want[0]:.4f}, {want[1]:.4f} after the hand "
                          "example's epochs", "w_k = K r_k / sum_j r_j"))
    return report(all(results), f"{cls.__name__} behaves as a weighter")


class _Unused:
    """A stand-in model for weighters that need no parameter groups."""

    def shared_parameters(self) -> list:
        return []

    def last_shared_parameters(self) -> list:
        return []

    def parameters(self) -> list:
        return []


def closest_temperature(candidates: Sequence[float] = (0.5, 1.0, 2.0, 4.0)) -> float:
    """The DWA temperature whose weights on the noisy toy are closest (mean absolute
    difference of the segmentation weight per epoch) to the slow-task rule's."""
    mine = per_epoch(simulate(SlowTaskReference(2), noise=NOISE))["w_seg"]
    distance = {T: float((per_epoch(_cached("dwa", noise=NOISE, T=T))["w_seg"] - mine).abs().mean())
                for T in candidates}
    return min(distance, key=distance.get)


@_guarded
def check_closest_temperature(T: float) -> bool:
    """The temperature at which DWA reacts most like the slow-task rule."""
    best = closest_temperature()
    return report(T is not None and math.isclose(float(T), best),
                  f"DWA at T = {best:g} is closest to the slow-task rule",
                  "simulate('dwa', noise=NOISE, T=T) for T in (0.5, 1, 2, 4) and compare "
                  "the per-epoch segmentation weights with your weighter's")


# -- a notebook for students --------------------------------------------------------------------
def _strip_solutions(text: str, hiding: bool) -> tuple[str, bool]:
    """The Markdown ``text`` without solution blocks; ``hiding``: inside a gated solution
    (between ``solution-start`` and ``solution-end``) at the start and at the end."""
    kept: list[str] = []
    fence: str | None = None  # the closing fence of a solution directive being skipped
    for line in text.splitlines():
        stripped = line.strip()
        if fence is not None:
            if stripped == fence:
                fence = None
            continue
        opener = next((f for f in ("```", ":::") if stripped.startswith(f + "{solution")), None)
        if opener is not None:
            fence = opener
            if "{solution-start}" in stripped:
                hiding = True
            elif "{solution-end}" in stripped:
                hiding = False
            continue
        if not hiding:
            kept.append(line)
    return "\n".join(kept).strip(), hiding


def student_notebook(lab_md: str | Path, out: str | Path) -> Path:
    """Write the lab as a Jupyter notebook without its solutions: ``{solution}`` blocks and
    everything between a ``{solution-start}`` and its ``{solution-end}`` (code cells included)
    are dropped; the exercises' starter cells are kept, ready to run."""
    import nbformat
    from myst_nb.core.read import read_myst_markdown_notebook

    nb = read_myst_markdown_notebook(Path(lab_md).read_text(encoding="utf-8"))
    kept, hiding = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text, hiding = _strip_solutions(cell.source, hiding)
            if text:
                kept.append(nbformat.v4.new_markdown_cell(text))
        elif not hiding:
            tags = [t for t in cell.metadata.get("tags", []) if t != "skip-execution"]
            cell.metadata["tags"] = tags
            kept.append(cell)
    nb.cells = kept
    nb.metadata.pop("source_map", None)
    out = Path(out)
    nbformat.write(nb, str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m busmtl.teaching.lab LAB.md OUT.ipynb``: the student notebook."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m busmtl.teaching.lab book/lab.md lab.ipynb", file=sys.stderr)
        return 2
    print(f"wrote {student_notebook(*args)} (without solutions)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

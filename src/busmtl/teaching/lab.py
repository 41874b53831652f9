"""Self-checks of the weighting lab (``book/lab.md``): each prints ``PASS`` or ``FAIL`` (with a
hint) and returns whether it passed. They recompute what they check with :mod:`busmtl.teaching.toy`, so
a check never needs the answer typed into it by its author. A FAIL line says what is wrong with
the student's answer (too large, not the value of that run, ...) and never prints the expected
value; an answer left as ``...`` gets a message saying so.

``python -m busmtl.teaching.lab`` writes the lab as a notebook for students, without the solutions
(:mod:`busmtl.teaching.student_notebook`; default ``book/lab.md`` to ``notebooks/lab.ipynb``).
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

from busmtl.settings import repo_root
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
#: The two task gradients of exercise "MGDA by hand" (segmentation, classification): they
#: conflict (negative inner product).
MGDA_GRADIENTS: tuple[tuple[float, float], tuple[float, float]] = ((3.0, 1.0), (-1.0, 1.0))


def report(ok: bool, what: str, hint: str = "") -> bool:
    """Print ``PASS: what`` or ``FAIL: what (hint)``; return ``ok``."""
    print(f"PASS: {what}" if ok else f"FAIL: {what}" + (f". Hint: {hint}" if hint else ""))
    return ok


def _has_ellipsis(value: Any) -> bool:
    """True when ``value`` is ``...`` or holds one (in a list, tuple, set or dict's values)."""
    if value is Ellipsis:
        return True
    if isinstance(value, Mapping):
        return any(_has_ellipsis(v) for v in value.values())
    if isinstance(value, (list, tuple, set)):
        return any(_has_ellipsis(v) for v in value)
    return False


def _guarded(check: Callable[..., bool]) -> Callable[..., bool]:
    """A check that reports an untouched ``...`` or an exception in the student's code as a
    FAIL instead of raising."""

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> bool:
        if any(_has_ellipsis(a) for a in (*args, *kwargs.values())):
            return report(False, "the answer still contains `...`",
                          "replace every `...` in the exercise's cell with your value, then run "
                          "the cell again")
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


def _direction(given: float, expected: float) -> str:
    return "too large" if given > expected else "too small"


@_guarded
def check_dwa_by_hand(weights: Sequence[float]) -> bool:
    """Your two weights for :data:`HAND_LOSSES` at T = 2, to three decimals."""
    if len(weights) != 2 or any(w is None for w in weights):
        return report(False, "DWA weights by hand: two numbers are needed",
                      "my_weights = [segmentation, classification]")
    expected = dwa_weights(HAND_LOSSES)
    given = [float(w) for w in weights]
    wrong = [f"the {task} weight is {_direction(g, e)}"
             for task, g, e in zip(("segmentation", "classification"), given, expected)
             if abs(g - e) >= 5e-4]
    if not wrong:
        return report(True, f"DWA weights by hand: {expected[0]:.3f}, {expected[1]:.3f}")
    hint = ("DWA's weights sum to K = 2" if not math.isclose(sum(given), 2.0, abs_tol=1e-3)
            else "each ratio is the later epoch's loss over the earlier one's; check T = 2")
    return report(False, "DWA weights by hand: " + "; ".join(wrong), hint)


# -- exercises: ATDWA ---------------------------------------------------------------------------
@_guarded
def check_gamma_zero(atdwa: pd.DataFrame, dwa: pd.DataFrame) -> bool:
    """ATDWA with gamma = 0 applies DWA's weights and keeps T = T0."""
    same = bool((atdwa[["w_seg", "w_cls"]].to_numpy() == dwa[["w_seg", "w_cls"]].to_numpy()).all())
    t = atdwa["temperature"].dropna().unique()
    flat = len(t) == 1
    if same and flat:
        return report(True, f"gamma = 0: the same weights as DWA and a constant temperature T = {t[0]:g}")
    wrong = ([] if flat else ["ATDWA's temperature still changes"]) + (
        [] if same else ["ATDWA's weights differ from DWA's"])
    return report(False, "gamma = 0: " + " and ".join(wrong),
                  "simulate both with the same noise, ATDWA with gamma=0")


def max_temperature(**kwargs: Any) -> float:
    """ATDWA's largest epoch temperature on the toy made with ``kwargs``."""
    return float(per_epoch(_cached("atdwa", **kwargs))["temperature"].max())


@_guarded
def check_noisy_task(answer: str) -> bool:
    """Which noisy task raises ATDWA's temperature more: ``"seg"`` or ``"cls"``?"""
    if answer not in ("seg", "cls"):
        return report(False, f"the answer is {answer!r}", 'answer "seg" or "cls"')
    t = {task: max_temperature(noise=NOISE, noisy_task=task) for task in ("seg", "cls")}
    right = max(t, key=t.get)
    if answer == right:
        return report(True, f"largest T with a noisy segmentation loss {t['seg']:.1f}, "
                      f"with a noisy classification loss {t['cls']:.1f}")
    return report(False, f"with a noisy {answer!r} loss the temperature rises less",
                  "run both (noisy_task='seg' and 'cls') and compare the largest temperature")


@_guarded
def check_scale(t_max: Mapping[float, float]) -> bool:
    """``{seg_scale: largest T}`` of ATDWA on the noisy toy, for at least three scales."""
    if len(t_max) < 3:
        return report(False, "at least three scales", "e.g. seg_scale in (0.3, 1, 3)")
    expected = {s: max_temperature(noise=NOISE, seg_scale=s) for s in t_max}
    wrong = [s for s in sorted(t_max) if not math.isclose(float(t_max[s]), expected[s], rel_tol=1e-6)]
    if wrong:
        return report(False, "not the largest temperature of the run at scale "
                      + ", ".join(f"{s:g}" for s in wrong),
                      "t_max[scale] = per_epoch(run)['temperature'].max() of that scale's run")
    scales = sorted(t_max)
    return report(True, "T grows with the size of the noisy loss: "
                  + ", ".join(f"scale {s:g}: T {expected[s]:.1f}" for s in scales))


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
    wrong = [a for a in sorted(peaks) if not math.isclose(float(peaks[a]), expected[a], rel_tol=1e-6)]
    if wrong:
        return report(False, "not the largest classification weight of the run at alpha "
                      + ", ".join(f"{a:g}" for a in wrong),
                      "peaks[alpha] = run['w_cls'].max() of that alpha's run, "
                      f"run = simulate('gradnorm', lr={TOY_GRADNORM_LR}, alpha=alpha)")
    alphas = sorted(peaks)
    grows = all(expected[a] < expected[b] for a, b in itertools.pairwise(alphas))
    return report(grows, "a larger alpha pulls harder towards the lagging task: "
                  + ", ".join(f"alpha {a:g}: {expected[a]:.3f}" for a in alphas))


# -- exercise: MGDA by hand ---------------------------------------------------------------------
def mgda_weights(g1: Sequence[float], g2: Sequence[float]) -> list[float]:
    """MGDA's weights for two task gradients (Sener and Koltun 2018, Algorithm 2): the point
    ``a g1 + (1 - a) g2`` of smallest norm on the segment between them,
    ``a = clip((g2 - g1) . g2 / ||g1 - g2||^2, 0, 1)``; weights ``[a, 1 - a]`` (they sum to 1)."""
    u, v = torch.tensor(g1, dtype=torch.float64), torch.tensor(g2, dtype=torch.float64)
    gap = float((u - v).dot(u - v))
    a = 0.5 if gap == 0.0 else min(max(float((v - u).dot(v)) / gap, 0.0), 1.0)
    return [a, 1.0 - a]


def torchjd_mgda_weights(gradients: Sequence[Sequence[float]]) -> list[float]:
    """The weights of torchjd's MGDA (``MGDAWeighting``, a Frank-Wolfe solver on the Gramian
    ``J J^T``) for the rows of the Jacobian ``gradients``."""
    from torchjd.aggregation import MGDAWeighting

    jacobian = torch.tensor(gradients, dtype=torch.float64)
    return [float(w) for w in MGDAWeighting()(jacobian @ jacobian.T)]


@_guarded
def check_mgda_by_hand(weights: Sequence[float]) -> bool:
    """Your MGDA weights for :data:`MGDA_GRADIENTS`, to two decimals, checked against the
    closed form and torchjd's MGDA."""
    if len(weights) != 2 or any(w is None for w in weights):
        return report(False, "MGDA weights by hand: two numbers are needed",
                      "mgda = [segmentation, classification]")
    expected = mgda_weights(*MGDA_GRADIENTS)
    given = [float(w) for w in weights]
    wrong = [f"the {task} weight is {_direction(g, e)}"
             for task, g, e in zip(("segmentation", "classification"), given, expected)
             if abs(g - e) >= 5e-3]
    if wrong:
        hint = ("MGDA's weights sum to 1" if not math.isclose(sum(given), 1.0, abs_tol=1e-2)
                else "minimise |a g_seg + (1 - a) g_cls|^2 over a: set its derivative to zero")
        return report(False, "MGDA weights by hand: " + "; ".join(wrong), hint)
    library = torchjd_mgda_weights(MGDA_GRADIENTS)
    agree = all(abs(g - w) < 5e-3 for g, w in zip(given, library))
    return report(agree, f"MGDA weights by hand: {expected[0]:.2f}, {expected[1]:.2f}"
                  + (", as torchjd's MGDA gives" if agree else
                     f"; torchjd's MGDA gives {library[0]:.3f}, {library[1]:.3f}"))


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
    rule = torch.allclose(got.double(), want.double(), atol=1e-6)
    results.append(report(rule, "the slow-task rule on the hand example's epochs" + (
        "" if rule else f": yours gives {float(got[0]):.4f}, {float(got[1]):.4f}"),
        "w_k = K r_k / sum_j r_j with r_k = loss_ratios(self.epoch_losses)"))
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
    if T is None:
        return report(False, "no temperature given", "closest_T = one of 0.5, 1, 2, 4")
    best = closest_temperature()
    if math.isclose(float(T), best):
        return report(True, f"DWA at T = {best:g} is closest to the slow-task rule")
    return report(False, f"DWA at T = {float(T):g} is not the closest to the slow-task rule",
                  "simulate('dwa', noise=NOISE, T=T) for T in (0.5, 1, 2, 4) and compare "
                  "the per-epoch segmentation weights with your weighter's")


# -- a notebook for students --------------------------------------------------------------------
def student_notebook(lab_md: str | Path | None = None, out: str | Path | None = None,
                     config: str | Path | None = None) -> Path:
    """Write the lab ``lab_md`` (default ``book/lab.md``) as a student notebook at ``out``
    (default :data:`busmtl.publish.STUDENT_NOTEBOOK`): numbered exercise headings, plain
    Markdown, links to the published book of ``config`` (``_config.yml``), no solutions
    (:func:`busmtl.teaching.student_notebook.student_notebook`)."""
    from busmtl.settings import STUDENT_NOTEBOOK, repository
    from busmtl.teaching import student_notebook as convert

    root = repo_root()
    lab_md = Path(lab_md) if lab_md is not None else root / "book" / "lab.md"
    out = Path(out) if out is not None else root / STUDENT_NOTEBOOK
    config = Path(config) if config is not None else lab_md.resolve().parent.parent / "_config.yml"
    convert.student_notebook(lab_md, out, repository(config))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m busmtl.teaching.lab [LAB.md [OUT.ipynb]]``: the student notebook (defaults
    ``book/lab.md`` and ``notebooks/lab.ipynb`` of the repository)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 2 or any(a.startswith("-") for a in args):
        print("usage: python -m busmtl.teaching.lab [book/lab.md [notebooks/lab.ipynb]]", file=sys.stderr)
        return 2
    lab_md = Path(args[0]) if args else None
    if lab_md is not None and not lab_md.is_file():
        print(f"error: no lab chapter at {lab_md}: give the path of book/lab.md", file=sys.stderr)
        return 2
    try:
        out = student_notebook(lab_md, args[1] if len(args) == 2 else None)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} (without solutions)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

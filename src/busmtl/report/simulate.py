"""Small simulated examples of how each weighter's weights react, for the methods chapter.

A toy two-task problem, the same for every method: a shared two-layer network with one linear
head per task; task 0 ("seg") is a regression whose loss is large and falls slowly, task 1
("cls") a classification whose loss is small and falls fast. Each method trains it with its own
``backward`` for ``epochs`` x ``steps`` steps and the applied weights are recorded.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from busmtl.weighting import get_weighter


class ToyTwoTask(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh())
        self.reg = nn.Linear(16, 1)
        self.cls = nn.Linear(16, 2)

    def shared_parameters(self):
        return self.encoder.parameters()

    def last_shared_parameters(self):
        return [self.encoder[2].weight]


def simulate(method: str, epochs: int = 30, steps: int = 10, seed: int = 0, **hparams) -> pd.DataFrame:
    """Per step: ``epoch``, ``step``, ``loss_seg``, ``loss_cls``, ``w_seg``, ``w_cls``
    (and ``temperature`` when the weighter has one)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 8, generator=g)
    y_reg = 4.0 * (x[:, :4].sum(1) + 0.5 * torch.randn(256, generator=g))
    y_cls = (x[:, 4] > 0).long()
    torch.manual_seed(seed)
    model = ToyTwoTask()
    small = {"history": 40, "warmup": 10} if method.startswith("dmf") else {}
    weighter = get_weighter(method, 2, **{**small, **hparams})
    opt = torch.optim.Adam(list(model.parameters()) + weighter.network_parameters(), lr=3e-3)
    rows = []
    for epoch in range(epochs):
        totals = torch.zeros(2)
        temperature = weighter.extra_state().get("temperature")
        for step in range(steps):
            idx = torch.randint(0, 256, (32,), generator=g)
            z = model.encoder(x[idx])
            losses = torch.stack([
                nn.functional.mse_loss(model.reg(z).squeeze(-1), y_reg[idx]),
                nn.functional.cross_entropy(model.cls(z), y_cls[idx]),
            ])
            opt.zero_grad()
            w = weighter.backward(losses, model)
            opt.step()
            totals += losses.detach()
            rows.append({"epoch": epoch, "step": epoch * steps + step,
                         "loss_seg": float(losses[0].detach()), "loss_cls": float(losses[1].detach()),
                         "w_seg": float(w[0]), "w_cls": float(w[1]), "temperature": temperature})
        weighter.epoch_end(totals / steps)
    return pd.DataFrame(rows)


def simulation_figure(method: str, frame: pd.DataFrame):
    """Loss curves (left, log scale) and the applied weights (right) of one simulated run."""
    import matplotlib.pyplot as plt

    from busmtl.report.colors import FIG_DPI, TASK_COLORS, color, label

    fig, (a, b) = plt.subplots(1, 2, dpi=FIG_DPI, figsize=(8.5, 2.6))
    for task, name in (("seg", "task 0 (large, slow)"), ("cls", "task 1 (small, fast)")):
        a.plot(frame["step"], frame[f"loss_{task}"], color=TASK_COLORS[task], lw=1, label=name)
        b.plot(frame["step"], frame[f"w_{task}"], color=TASK_COLORS[task], lw=1.4, label=name)
    a.set(yscale="log", xlabel="step", ylabel="loss", title="toy losses")
    b.set(xlabel="step", ylabel="weight", title=f"{label(method)} weights")
    b.title.set_color(color(method))
    a.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig

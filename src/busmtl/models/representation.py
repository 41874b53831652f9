"""The shared representation of the last forward pass, for weighters that balance the task
gradients with respect to it instead of the shared parameters (LibMTL's ``rep_grad``).

A network that mixes in :class:`KeepsRepresentation` calls :meth:`KeepsRepresentation.keep` on the
tensors its shared part hands to the task-specific parts; ``shared_representation()`` returns
them (those with grad) until the next forward pass, which starts by forgetting them, so no
previous step's tensors are alive while the next one runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class KeepsRepresentation(nn.Module):
    """Mixin for a network: keeps the shared representation of its latest forward pass."""

    def watch_representation(self, encoder: nn.Module | None = None) -> None:
        """Start keeping the representation: ``encoder``'s output when given (forgotten just
        before it runs), else what the network's forward passes to :meth:`keep` (forgotten at
        every forward pass)."""
        self._representation: list[torch.Tensor] = []
        (encoder or self).register_forward_pre_hook(self._forget)
        if encoder is not None:
            encoder.register_forward_hook(self._keep_output)

    def keep(self, tensors: torch.Tensor | Sequence[torch.Tensor]) -> None:
        """Record ``tensors`` as the shared representation of this forward pass."""
        items = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)
        self._representation = [t for t in items if t.requires_grad]

    def shared_representation(self) -> list[torch.Tensor]:
        """The shared tensors (with grad) the task-specific parts read in the last forward pass."""
        if not self._representation:
            raise ValueError(
                f"{type(self).__name__} kept no shared representation: run a forward pass in "
                "training mode (with grad) before the weighter's backward"
            )
        return list(self._representation)

    def __getstate__(self) -> dict[str, object]:
        # copies and pickles of the network (deepcopy, torch.save) leave the graph's tensors out
        state = self.__dict__.copy()
        state["_representation"] = []
        return state

    def _forget(self, _module: nn.Module, _inputs: object) -> None:
        self._representation = []

    def _keep_output(self, _module: nn.Module, _inputs: object, output: object) -> None:
        self.keep(output)  # type: ignore[arg-type]

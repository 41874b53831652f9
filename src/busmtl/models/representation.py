"""The shared representation of the last forward pass, for weighters that balance the task
gradients with respect to it instead of the shared parameters (LibMTL's ``rep_grad``).

A network that mixes in :class:`KeepsRepresentation` calls :meth:`KeepsRepresentation.keep` on the
tensors its shared part hands to the task-specific parts and lets the task-specific parts read
what ``keep`` returns; ``shared_representation()`` returns those tensors (the ones with grad)
until the next forward pass, which starts by forgetting them, so no previous step's tensors are
alive while the next one runs.

The representation must be a *cut* of the graph: every path from a shared parameter to a loss
leaves the shared part through exactly one of its tensors. A U-Net's skip features are not one
as they are: each encoder stage is computed from the one before, so the gradient of a loss with
respect to an early feature already contains the paths through the later ones, and a chain rule
over all of them (``sum_i (dL/df_i) (df_i/dtheta)``) counts those paths again. ``keep`` therefore
hands the task-specific parts an alias of each tensor (``f.view_as(f)``, the same values and
memory): the aliases are read only by the task-specific parts, none is computed from another,
and the gradient with respect to an alias is what the heads send back through it alone. For
training this changes nothing: an alias passes its gradient on unchanged.
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

    def keep(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Record ``tensors`` as the shared representation of this forward pass and return what
        the task-specific parts must read instead: an alias of each tensor with grad (see the
        module docstring), the others as they are."""
        items = [t.view_as(t) if t.requires_grad else t for t in tensors]
        self._representation = [t for t in items if t.requires_grad]
        return items

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

    def _keep_output(self, _module: nn.Module, _inputs: object,
                     output: torch.Tensor | Sequence[torch.Tensor]
                     ) -> torch.Tensor | list[torch.Tensor]:
        # the encoder's output (one tensor, or a list of features), replaced by the aliases
        if isinstance(output, torch.Tensor):
            return self.keep([output])[0]
        return self.keep(output)

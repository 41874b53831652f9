"""The toy two-task network of the weighter tests: re-exported from :mod:`busmtl.teaching.toy`, the one
toy of the project (the book's methods chapter and the weighting lab use it too)."""

from __future__ import annotations

from busmtl.teaching.toy import ToyMTL, toy_batch

__all__ = ["ToyMTL", "toy_batch"]

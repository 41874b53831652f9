"""Training layer: what one run needs on the machine that trains it.

Importing this package imports nothing heavy (no torch): :mod:`busmtl.training.isa` must be
usable before torch is imported.
"""

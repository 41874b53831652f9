"""Benchmarks (not timed tests): ``busmtl bench weighting``, ``busmtl bench models``."""

"""Benchmarks (not timed tests): ``busmtl bench weighting``."""

"""Benchmarks: each prints a table of numbers and ratios to a baseline measured in the same run."""

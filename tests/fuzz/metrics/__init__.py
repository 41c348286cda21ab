"""Fuzz tests of rmd_baselines.metrics."""

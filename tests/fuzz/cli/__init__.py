"""Fuzz tests of the command line (rmd_baselines.cli) through its console entry point, in-process."""

"""Fuzz tests of rmd_baselines.corpus: the JSONL reader and the format adapters."""

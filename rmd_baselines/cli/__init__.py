"""The ``rmd-baseline`` command line (see `rmd_baselines.cli.main`)."""

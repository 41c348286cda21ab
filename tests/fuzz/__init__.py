"""Property-based fuzz tests (hypothesis): readers and adapters, metrics, the command line and the model loader.
See `support` for the example budget (small and seeded in CI, deep with ``--hypothesis-profile=long``)."""

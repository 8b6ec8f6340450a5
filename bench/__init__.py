"""Benchmarks run against the running local platform (`python -m bench.flow`), not part of the test suite."""

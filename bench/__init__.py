"""Benchmarks: `make bench` (python -m bench.run) writes BENCHMARKS.md."""

"""Load and scale benchmarks (not unit tests): see bench/README.md and BENCHMARKS.md."""

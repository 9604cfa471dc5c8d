"""GUI benchmarks (``ugpcl-studio benchmark gui``), kept out of the default test run."""

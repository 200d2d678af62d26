"""Speed, scaling and paper-reproduction scripts (JSON results under benchmarks/results/)."""

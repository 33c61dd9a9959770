"""``kiosk-bench``: reproducible speed and memory figures, written as a report.

Benchmarks prove the targets; tests only check that the benchmark runs.
"""

"""The benchmark harness (`make bench`): quanjing against a hand-written baseline, side by side."""

"""A grid of experiments declared once (sweep.yaml), run with DVC, and collected into one
comparison table against their baseline."""

"""Data sources (digits, MNIST-format files), splits, the prepared files and features."""

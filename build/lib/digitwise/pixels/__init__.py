"""Pixel-level analysis: one-pixel separability, attribution, and the stage-level
results built from them."""

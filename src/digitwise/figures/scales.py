"""Colour limits of the red-blue accuracy heatmaps (pairwise accuracy, one-pixel
separability): the colours span the values observed, white at their midpoint.

On a fixed 0..1 scale a 97% model's cells are all the same dark blue, so 0.88 and 1.00
differ only in their printed numbers. Spanning the observed range instead gives the
worst cell the deepest red and the best the deepest blue; the colourbar label says
which range and centre the colours mean, since red no longer means "below chance".
"""

from dataclasses import dataclass

import numpy as np

# The narrowest span drawn: where every value is (nearly) the same, e.g. a perfect model,
# the colours still have a scale, and all cells show its middle-to-blue half or less.
MIN_SPAN = 0.02


@dataclass(frozen=True)
class DivergingScale:
    low: float  # the deepest red
    high: float  # the deepest blue

    @property
    def centre(self) -> float:  # white
        return (self.low + self.high) / 2

    def describe(self) -> str:
        """E.g. "colours span 0.88\N{EN DASH}1.00, white at 0.94", with as many decimals as it takes
        for the three numbers to differ."""
        values = (self.low, self.centre, self.high)
        digits = next((d for d in range(2, 7) if len({f"{v:.{d}f}" for v in values}) == 3), 6)
        low, centre, high = (f"{v:.{digits}f}" for v in values)
        return f"colours span {low}\N{EN DASH}{high}, white at {centre}"


def observed_scale(
    values: np.ndarray, *, bounds: tuple[float, float] = (0.0, 1.0)
) -> DivergingScale:
    """The finite ``values``' range, widened to ``MIN_SPAN`` around its middle (kept
    inside ``bounds``) where it is narrower; ``bounds`` when no value is finite."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return DivergingScale(*bounds)
    low, high = float(finite.min()), float(finite.max())
    if high - low < MIN_SPAN:
        middle = float(
            np.clip((low + high) / 2, bounds[0] + MIN_SPAN / 2, bounds[1] - MIN_SPAN / 2)
        )
        low, high = min(low, middle - MIN_SPAN / 2), max(high, middle + MIN_SPAN / 2)
    return DivergingScale(low, high)

"""The few summary statistics emolens reports, defined once: percentiles, the robust spread, a trend per hour."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation, as numpy's default); NaN for no values."""
    return float(np.percentile(np.asarray(values, float), q)) if len(values) else float("nan")


def percentiles(values: Sequence[float], qs: tuple[int, ...] = (50, 95, 99), digits: int = 4) -> dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ...}; zeros for no values (a stage that never ran costs nothing)."""
    if not len(values):
        return {f"p{q}": 0.0 for q in qs}
    a = np.asarray(values, float)
    return {f"p{q}": round(float(np.percentile(a, q)), digits) for q in qs}


def robust_spread(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation: the standard deviation of normal data, but an outlier (one octave
    slip of a pitch tracker) does not move it."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def slope_per_hour(t_s: Sequence[float], values: Sequence[float]) -> float:
    """The least-squares slope of `values` over time, per hour; 0 with fewer than 2 distinct times."""
    t = np.asarray(t_s, float)
    if len(t) < 2 or np.ptp(t) == 0:
        return 0.0
    return float(np.polyfit(t, np.asarray(values, float), 1)[0] * 3600.0)

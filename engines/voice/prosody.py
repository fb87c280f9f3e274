"""Per-chunk measurements for voice cues: loudness and pitch (autocorrelation), in plain units."""

from __future__ import annotations

import numpy as np

PITCH_MIN_HZ = 70.0
PITCH_MAX_HZ = 500.0


def loudness_db(chunk: np.ndarray) -> float:
    """RMS level in dBFS (0 is a full-scale square wave; silence is about -100)."""
    return float(20.0 * np.log10(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))) + 1e-5))


def pitch_hz(chunk: np.ndarray, rate: int, min_clarity: float = 0.5) -> float | None:
    """Fundamental frequency from the normalised autocorrelation's highest peak within 70-500 Hz;
    None where the chunk is not periodic enough to have one (noise, silence, unvoiced sounds)."""
    x = chunk.astype(np.float64) - chunk.mean()
    energy = float(np.dot(x, x))
    if energy < 1e-6:
        return None
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    corr = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    corr /= corr[0]
    lo, hi = int(rate / PITCH_MAX_HZ), min(int(rate / PITCH_MIN_HZ), n - 2)
    lag = lo + int(np.argmax(corr[lo:hi]))
    if corr[lag] < min_clarity:
        return None
    a, b, c = corr[lag - 1], corr[lag], corr[lag + 1]  # parabolic refinement of the peak
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float(rate / (lag + shift))

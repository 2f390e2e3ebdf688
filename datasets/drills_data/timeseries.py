"""An hourly two-feature series (electricity load and temperature) generated deterministically.

2000 hourly steps (about 83 days) of a small town's electricity load (MW) and the air
temperature (degrees Celsius), made by a fixed recipe:

- temperature: a daily cycle (coldest before dawn), a slow seasonal drift over the whole
  series, and weather: an AR(1) process (coefficient 0.95) that wanders over days;
- load: a base level, a morning and a larger evening peak (two daily harmonics), lower load at
  weekends (a weekly cycle), more load when it is cold (heating), and AR(1) noise (0.7).

Nothing is stored: the values are drawn from ``numpy.random.default_rng(SEED)`` each time (a few
milliseconds), so the series is identical on every machine.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SEED = 8128
LENGTH = 2000
FEATURES = ("load", "temperature")


def _ar1(rng: np.random.Generator, n: int, coefficient: float, scale: float) -> np.ndarray:
    noise = rng.normal(0.0, scale, size=n)
    out = np.empty(n)
    out[0] = noise[0] / np.sqrt(1.0 - coefficient**2)
    for i in range(1, n):
        out[i] = coefficient * out[i - 1] + noise[i]
    return out


@lru_cache(maxsize=1)
def _series() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    hours = np.arange(LENGTH, dtype=np.float64)
    day = 2 * np.pi * hours / 24.0
    week = 2 * np.pi * hours / (24.0 * 7)
    season = 2 * np.pi * hours / LENGTH
    weather = _ar1(rng, LENGTH, 0.95, 0.5)
    temperature = 11.0 + 5.0 * np.sin(day - 2.2) + 4.0 * np.sin(season) + weather
    heating = np.maximum(0.0, 14.0 - temperature)
    load = (40.0 + 8.0 * np.sin(day - 1.8) + 5.0 * np.sin(2 * day - 0.6)
            - 4.0 * np.maximum(0.0, np.sin(week - 3.5)) + 0.9 * heating
            + _ar1(rng, LENGTH, 0.7, 1.0))
    return np.stack([load, temperature], axis=1).astype(np.float32)


def load_series():
    """Return the series as a float32 torch tensor of shape (2000, 2): columns load, temperature.

    A fresh tensor each call (safe to modify). Time runs along dim 0, one step per hour.

    Example:
        >>> series = load_series()
        >>> tuple(series.shape), series.dtype
        ((2000, 2), torch.float32)
    """
    import torch

    return torch.from_numpy(_series().copy())

"""Goodness of fit, for graders that check random draws: :func:`chi_square_pvalue`.

Computed in plain Python on functions taken when the checks were imported (as every comparison
of the checks is), so that no torch kernel and no library loaded on demand has a say; the
closed forms of the chi-square distribution's tail for whole and half-whole shapes agree with
``scipy.stats.chisquare`` to about 1e-12.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import erfc, exp, fsum, lgamma, log, sqrt


def _upper_tail(df: int, stat: float) -> float:
    """P(X > stat) for X ~ chi-square with ``df`` degrees of freedom: the regularised upper
    incomplete gamma Q(df / 2, stat / 2), summed in its closed form."""
    x = stat / 2
    if x <= 0:
        return 1.0
    if df % 2 == 0:  # Q(m, x) = e^-x * sum_{i < m} x^i / i!
        terms = [exp(-x + i * log(x) - lgamma(i + 1)) for i in range(df // 2)]
        return min(1.0, fsum(terms))
    # Q(m + 1/2, x) = erfc(sqrt x) + e^-x * sum_{1 <= i <= m} x^(i - 1/2) / Gamma(i + 1/2)
    terms = [exp(-x + (i - 0.5) * log(x) - lgamma(i + 0.5)) for i in range(1, df // 2 + 1)]
    return min(1.0, erfc(sqrt(x)) + fsum(terms))


def chi_square_pvalue(observed: Sequence[float], expected: Sequence[float] | None = None) -> float:
    """Pearson's chi-square test that ``observed`` counts fit ``expected`` ones (uniform when
    None): the p-value of ``sum((o - e)^2 / e)`` with ``len(observed) - 1`` degrees of freedom,
    as ``scipy.stats.chisquare(observed, expected).pvalue``. Small means a poor fit."""
    obs = [float(o) for o in observed]
    exp_ = [fsum(obs) / len(obs)] * len(obs) if expected is None else [float(e) for e in expected]
    stat = fsum((o - e) ** 2 / e for o, e in zip(obs, exp_))
    return _upper_tail(len(obs) - 1, stat)

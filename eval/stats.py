"""Paired significance tests for comparing two runs question by question.

>>> mcnemar_exact(1, 6).p_value   # 1 question fixed by A only, 6 by B only
0.125
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test on the discordant pairs: `b` right in A only, `c` right in B only."""

    b: int
    c: int
    p_value: float


@dataclass(frozen=True)
class Bootstrap:
    """Paired bootstrap of mean(B) - mean(A): the observed delta, its 95% interval and a two-sided p."""

    delta: float
    low: float
    high: float
    p_value: float
    resamples: int


def mcnemar_exact(b: int, c: int) -> McNemar:
    """Two-sided exact McNemar p: binomial test of b successes in b + c trials at 1/2 (1.0 if no pair differs)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return McNemar(b, c, min(1.0, p))


def mcnemar_paired(a: Sequence[bool], b: Sequence[bool]) -> McNemar:
    """Exact McNemar on two paired verdict lists (same questions, same order)."""
    if len(a) != len(b):
        raise ValueError("paired lists must have the same length")
    only_a = sum(bool(x) and not bool(y) for x, y in zip(a, b, strict=True))
    only_b = sum(bool(y) and not bool(x) for x, y in zip(a, b, strict=True))
    return mcnemar_exact(only_a, only_b)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> Bootstrap:
    """Paired bootstrap of the mean difference (B - A), resampling questions; seeded, so deterministic.

    The p-value is two-sided: twice the share of resampled deltas on the far side of zero (capped at 1).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired lists must have the same length")
    if x.size == 0:
        return Bootstrap(0.0, 0.0, 0.0, 1.0, 0)
    diff = y - x
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(resamples, diff.size))
    deltas = diff[idx].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(deltas, [alpha, 1 - alpha])
    observed = float(diff.mean())
    tail = min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0)))
    p = 1.0 if np.all(diff == 0) else min(1.0, 2 * tail)
    return Bootstrap(observed, float(lo), float(hi), p, resamples)

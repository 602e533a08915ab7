"""Survey metric formulas with confidence intervals (pure functions, no database).

- NPS = 100 x (promoters - detractors) / n, promoters 9-10, detractors 0-6 on the 0-10 item. Its standard
  error comes from the variance of a difference of two multinomial proportions:
  Var(p_P - p_D) = (p_P + p_D - (p_P - p_D)^2) / n; the interval is NPS +/- z x 100 x SE, clipped to +/-100.
- Proportions (CSAT % satisfied, top-box, response rate, survey FCR) use the Wilson score interval
  (Wilson 1927), which stays inside [0, 1] and behaves at small n and near 0 or 1.
- Means (CES, linear mean scores) use mean +/- z x sd / sqrt(n).
Every result says ``small_sample`` when fewer than ``SMALL_SAMPLE`` (30) answers stand behind it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

Z95 = 1.959963984540054
SMALL_SAMPLE = 30


@dataclass(frozen=True)
class Proportion:
    n: int
    k: int
    pct: float | None
    ci_low: float | None
    ci_high: float | None
    small_sample: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NPS:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None
    small_sample: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Mean:
    n: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    small_sample: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials, as fractions."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(k: int, n: int, z: float = Z95) -> Proportion:
    """k of n as a percentage with its Wilson interval (in percent)."""
    if n == 0:
        return Proportion(0, 0, None, None, None, True)
    lo, hi = wilson(k, n, z)
    return Proportion(n, k, 100 * k / n, 100 * lo, 100 * hi, n < SMALL_SAMPLE)


def nps(scores: Iterable[int], z: float = Z95) -> NPS:
    values = list(scores)
    n = len(values)
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    passives = n - promoters - detractors
    if n == 0:
        return NPS(0, 0, 0, 0, None, None, None, True)
    p_p, p_d = promoters / n, detractors / n
    diff = p_p - p_d
    se = math.sqrt(max(p_p + p_d - diff * diff, 0.0) / n)
    return NPS(n, promoters, passives, detractors, 100 * diff,
               max(-100.0, 100 * (diff - z * se)), min(100.0, 100 * (diff + z * se)), n < SMALL_SAMPLE)


def mean(values: Sequence[float], z: float = Z95) -> Mean:
    n = len(values)
    if n == 0:
        return Mean(0, None, None, None, True)
    m = sum(values) / n
    if n == 1:
        return Mean(1, m, None, None, True)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    half = z * sd / math.sqrt(n)
    return Mean(n, m, m - half, m + half, n < SMALL_SAMPLE)


def csat(scores: Iterable[int], z: float = Z95) -> Proportion:
    """CSAT: share of 4 or 5 answers on the 1-5 satisfaction item."""
    values = list(scores)
    return proportion(sum(1 for v in values if v >= 4), len(values), z)


def linear_score(value: int, low: int, high: int) -> float:
    """Map an answer onto 0-100 (e.g. Never/Sometimes/Usually/Always -> 0, 33.3, 66.7, 100)."""
    return 100.0 * (value - low) / (high - low)

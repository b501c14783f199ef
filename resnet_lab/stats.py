"""Noise bands in one place: estimates with a standard error, and comparisons that respect them.

A verdict that compares two measured quantities uses these and nothing else: a difference counts only
when it exceeds ``K_SE`` standard errors (default 2, about a 95% band). An estimate whose standard error
is unknown (one seed) cannot make a difference count: the comparison is *undecided*, and the ledger row
says *inconclusive*.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

K_SE = 2.0  # a difference counts when |difference| > K_SE · its standard error


@dataclass(frozen=True)
class Estimate:
    """A measured value with its standard error, the sample size behind it and how the error was found.

    ``method``: ``"seeds"`` (spread over independent runs), ``"bootstrap"`` (over test images),
    ``"binomial"`` (an accuracy on n images), ``"exact"`` (no sampling noise, se 0), ``"single"``
    (one run, se unknown: NaN).
    """

    value: float
    se: float
    n: int
    method: str

    def band(self, k: float = K_SE) -> float:
        """Return the half-width of the ±band, ``k`` standard errors."""
        return k * self.se

    def format(self, spec: str = ".3g", k: float = K_SE) -> str:
        """Return ``value ± k·se (n=…, method)``; ``± ?`` when the error is unknown."""
        band = "?" if math.isnan(self.se) else format(self.band(k), ".2g")
        return f"{self.value:{spec}} ± {band} (n={self.n}, {self.method})"

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict:
        return {**asdict(self), "k": K_SE}

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        """Return the estimate ``to_dict`` wrote (a stored result's band; ``se`` may come back as the text "nan")."""
        return cls(d["value"], float(d["se"]), d["n"], d["method"])


def exact(value: float) -> Estimate:
    """Return a value with no sampling noise (a closed form, a count over a whole fixed set)."""
    return Estimate(float(value), 0.0, 1, "exact")


def mean_se(values: Sequence[float | None], method: str = "seeds", skip_missing: bool = False) -> Estimate:
    """Return the mean of per-item values (seeds, images, paired differences) with its standard error s/√n.

    ``s`` is the sample standard deviation (ddof 1); with one item the error is unknown (NaN) and an estimate
    over ``"seeds"`` is labelled ``"single"``; with none the value is NaN too. ``skip_missing`` drops ``None``
    and non-finite values first (an unmeasured seed or image).
    """
    if skip_missing:
        values = [x for x in values if x is not None and math.isfinite(x)]
    v = np.asarray(values, dtype=np.float64)
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    mean = float(v.mean()) if v.size else math.nan
    return Estimate(mean, se, int(v.size), "single" if method == "seeds" and v.size == 1 else method)


def over_seeds(values: Sequence[float]) -> Estimate:
    """Return the mean of per-seed values with its standard error (NaN with fewer than two seeds)."""
    if len(values) == 0:
        raise ValueError("over_seeds needs at least one value")
    return mean_se(values, "seeds")


def over_seed_estimates(estimates: Sequence[Estimate]) -> Estimate:
    """Return the mean over seeds of per-seed estimates, its error from both levels of noise.

    With n seeds of values ``x_i`` and own errors ``e_i`` (e.g. a bootstrap over images), the error is
    ``√(s²/n + mean(e_i²)/n)``: the spread between seeds (``over_seeds``) and the mean of the seeds' own
    variances over n. One seed: its value and own error, method ``"<method> (one seed)"``.
    """
    if len(estimates) == 0:
        raise ValueError("over_seed_estimates needs at least one estimate")
    own = np.array([e.se for e in estimates])
    if len(estimates) < 2:
        return Estimate(estimates[0].value, float(own[0]), 1, f"{estimates[0].method} (one seed)")
    seeds = over_seeds([e.value for e in estimates])
    return Estimate(seeds.value, float(np.hypot(seeds.se, np.sqrt(np.mean(own ** 2) / len(estimates)))),
                    len(estimates), f"seeds+{estimates[0].method}")


def accuracy_estimate(accuracies: Sequence[float], images: int) -> Estimate:
    """Return a test accuracy with its band: over seeds where there are several, else binomial over ``images``."""
    return over_seeds(accuracies) if len(accuracies) > 1 else binomial(accuracies[0], images)


def binomial(p: float, n: int) -> Estimate:
    """Return an accuracy ``p`` measured on ``n`` images with its binomial standard error."""
    if n <= 0:
        raise ValueError(f"binomial needs n > 0 images, got {n}")
    return Estimate(float(p), math.sqrt(max(p * (1 - p), 0.0) / n), int(n), "binomial")


def bootstrap(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], float] = np.mean,
              n_boot: int = 1000, seed: int = 0) -> Estimate:
    """Return ``statistic(values)`` with a bootstrap standard error, resampling the first axis (items)."""
    return bootstrap_joint(values, lambda v: (statistic(v),), n_boot, seed)[0]


def bootstrap_joint(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], Sequence[float]],
                    n_boot: int = 1000, seed: int = 0) -> list[Estimate]:
    """Return one estimate per component of ``statistic(values)``, every component from the same resamples.

    Quantities computed together (two rates and their differences) are then paired and each is computed once a draw.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        raise ValueError(f"bootstrap needs at least two items, got {len(v)}")
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(v[rng.integers(0, len(v), len(v))]) for _ in range(n_boot)], dtype=np.float64)
    se = np.std(draws, axis=0, ddof=1)
    return [Estimate(float(x), float(e), len(v), "bootstrap") for x, e in zip(statistic(v), se)]


def paired_bootstrap(a: Sequence[float], b: Sequence[float],
                     statistic: Callable[[np.ndarray], float] = np.mean, n_boot: int = 1000,
                     seed: int = 0) -> Estimate:
    """Return ``statistic(a) − statistic(b)`` over the same items (paired), with a bootstrap standard error."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"paired samples differ in length: {a.shape[0]} vs {b.shape[0]}")
    rng = np.random.default_rng(seed)
    idx = [rng.integers(0, len(a), len(a)) for _ in range(n_boot)]
    draws = [statistic(a[i]) - statistic(b[i]) for i in idx]
    return Estimate(float(statistic(a) - statistic(b)), float(np.std(draws, ddof=1)), len(a), "bootstrap")


def difference(a: Estimate, b: Estimate) -> Estimate:
    """Return ``a − b`` for independent estimates (errors add in quadrature)."""
    method = a.method if a.method == b.method else f"{a.method}/{b.method}"
    return Estimate(a.value - b.value, math.hypot(a.se, b.se), min(a.n, b.n), method)


def sign(d: Estimate | None, k: float = K_SE, min_effect: float = 0.0) -> int | None:
    """Return +1 or −1 if ``d`` differs from zero by more than ``k`` standard errors and by more than
    ``min_effect`` (the smallest difference that matters), 0 if not, ``None`` if the error is unknown or there is
    no estimate (the comparison cannot be decided)."""
    if d is None or math.isnan(d.se):
        return None
    if abs(d.value) <= k * d.se or abs(d.value) <= min_effect:
        return 0
    return 1 if d.value > 0 else -1


def compare(a: Estimate | None, b: Estimate | None, k: float = K_SE) -> tuple[int | None, Estimate | None]:
    """Return ``(sign(a − b), a − b)`` for independent estimates; ``(None, None)`` if either is missing."""
    if a is None or b is None:
        return None, None
    d = difference(a, b)
    return sign(d, k), d


def greater(a: Estimate, b: Estimate | float = 0.0, k: float = K_SE) -> bool | None:
    """Return True if ``a > b`` beyond the band, False if not (less, or inside it), None if undecidable."""
    b = b if isinstance(b, Estimate) else exact(b)
    s = sign(difference(a, b), k)
    return None if s is None else s > 0

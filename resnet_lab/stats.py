"""Noise bands in one place: estimates with a standard error and degrees of freedom, and comparisons that respect them.

A verdict that compares two measured quantities uses these and nothing else. A difference counts only when it lies
outside its two-sided ``LEVEL`` band (95%): ``|difference| > k·se`` with ``k`` the Student-t quantile at the
estimate's degrees of freedom (``df``; the normal quantile 1.96 when ``df`` is infinite: many images, a binomial
count). With few seeds this matters: a mean of 3 seeds has ``df = 2`` and ``k = 4.30``, not 2; a difference of two
arms of seeds takes Welch's ``df`` (Welch–Satterthwaite). An estimate whose standard error is unknown (one seed)
cannot make a difference count: the comparison is *undecided*, and the ledger row says *inconclusive*.

Where the noise lives at two levels (seeds, then images), the bands are in ``two_level``. Positive quantities
spanning orders of magnitude are compared on log10 (``over_seeds_log10``). ``permutation_test`` gives an exact
p-value for two small arms of seeds, ``seed_pair_test`` one for their seed pairs pooled over strata (ranks only).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import optimize as _scipy_optimize
from scipy import stats as _scipy_stats

LEVEL = 0.95   # two-sided level of every band and every comparison
K_SE = float(_scipy_stats.norm.ppf(0.5 + LEVEL / 2))   # the band in s.e. with infinite df (1.96)


def quantile(df: float, level: float = LEVEL) -> float:
    """Return the two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom (normal if infinite)."""
    if df is None or math.isnan(df) or df <= 0:
        return math.nan
    q = 0.5 + level / 2
    return float(_scipy_stats.norm.ppf(q) if math.isinf(df) else _scipy_stats.t.ppf(q, df))


def _band_text(band: float, spec: str) -> str:
    """Return a band's half-width in the value's own units: percent when the value prints as a percent."""
    if math.isnan(band):
        return "?"
    return f"{100 * band:.2g}%" if spec.endswith("%") else format(band, ".2g")


@dataclass(frozen=True)
class Estimate:
    """A measured value with its standard error, degrees of freedom, sample size and how the error was found.

    ``method``: ``"seeds"`` (spread over independent runs, ``df = n − 1``), ``"bootstrap"`` (over test images),
    ``"binomial"`` (an accuracy on n images), ``"two-level bootstrap (seeds, then images)"`` /
    ``"cluster bootstrap (units, then images)"`` (``df`` = outer groups − 1), ``"exact"`` (no sampling noise, se 0),
    ``"single"`` (one run, se unknown: NaN). ``df`` is infinite for a band from many items.
    """

    value: float
    se: float
    n: int
    method: str
    df: float = math.inf
    # a joined band's independent parts, (variance, df) each (``two_level.joined``): its half-width at any level
    # joins each part's own quantile, which ``df`` (fitted at ``LEVEL``) gives at ``LEVEL`` only
    parts: tuple = ()

    def __post_init__(self) -> None:
        if self.parts and not math.isclose(sum(v for v, _ in self.parts), self.se ** 2, rel_tol=1e-9):
            raise ValueError("an estimate's parts must add up to its variance (scale them with its se): "
                             f"{self.parts} against se {self.se}")

    @property
    def k(self) -> float:
        """Return the band's half-width in standard errors: the t quantile at ``df`` and ``LEVEL``."""
        return quantile(self.df)

    def band(self, level: float = LEVEL) -> float:
        """Return the half-width of the two-sided ``level`` band: ``k·se``, or for a joined estimate
        ``√Σ q(df_i, level)²·v_i`` over its parts."""
        if self.parts and level != LEVEL:
            return math.sqrt(sum(quantile(df, level) ** 2 * v for v, df in self.parts))
        return quantile(self.df, level) * self.se if self.se > 0 else 0.0 * self.se

    def format(self, spec: str = ".3g") -> str:
        """Return ``value ± half-width (95%, t_df, n=…, method)``, the half-width in the value's units; ``± ?``
        when the error is unknown."""
        dist = "normal" if math.isinf(self.df) else "df unknown" if math.isnan(self.df) else f"t{self.df:.3g}"
        return (f"{self.value:{spec}} ± {_band_text(self.band(), spec)} "
                f"({LEVEL:.0%} {dist}, n={self.n}, {self.method})")

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict:
        d = {**asdict(self), "k": self.k, "level": LEVEL}
        if not self.parts:
            del d["parts"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Estimate:
        """Return the estimate ``to_dict`` wrote (a stored result's band; ``se``/``df`` may come back as text)."""
        return cls(d["value"], float(d["se"]), d["n"], d["method"], float(d.get("df", "inf")),
                   tuple((float(v), float(df)) for v, df in d.get("parts", ())))


def from_moments(m: dict, method: str = "paired") -> Estimate:
    """Return the mean of per-item values from their stored moments ``{mean, sd, n}``: se ``sd/√n``, df ``n − 1``."""
    n = int(m["n"])
    se = float(m["sd"]) / math.sqrt(n) if n > 1 else math.nan
    return Estimate(float(m["mean"]), se, n, method, n - 1 if n > 1 else math.nan)


def exact(value: float) -> Estimate:
    """Return a value with no sampling noise (a closed form, a count over a whole fixed set)."""
    return Estimate(float(value), 0.0, 1, "exact")


def mean_se(values: Sequence[float | None], method: str = "seeds", skip_missing: bool = False) -> Estimate:
    """Return the mean of per-item values (seeds, images, paired differences) with its standard error s/√n.

    Its band is Student's t with ``n − 1`` degrees of freedom. ``s`` is the sample standard deviation (ddof 1);
    with one item the error is unknown (NaN) and an estimate
    over ``"seeds"`` is labelled ``"single"``; with none the value is NaN too. ``skip_missing`` drops ``None``
    and non-finite values first (an unmeasured seed or image).
    """
    if skip_missing:
        values = [x for x in values if x is not None and math.isfinite(x)]
    v = np.asarray(values, dtype=np.float64)
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    mean = float(v.mean()) if v.size else math.nan
    return Estimate(mean, se, int(v.size), "single" if method == "seeds" and v.size == 1 else method,
                    v.size - 1 if v.size > 1 else math.nan)


def over_seeds(values: Sequence[float]) -> Estimate:
    """Return the mean of per-seed values with its standard error (NaN with fewer than two seeds)."""
    if len(values) == 0:
        raise ValueError("over_seeds needs at least one value")
    return mean_se(values, "seeds")


def over_seeds_log10(values: Sequence[float]) -> Estimate:
    """Return the mean over seeds of ``log10`` of a positive quantity spanning orders of magnitude, with its t band.

    ``10 ** value`` is the geometric mean; a difference of two such estimates is a log10 ratio (Welch's t). A
    linear mean of values spread over decades is the largest value divided by the seed count, and its band says
    nothing about the others.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or not np.all(v > 0):
        raise ValueError(f"over_seeds_log10 needs positive values, got {v.tolist()}")
    e = mean_se(np.log10(v), "seeds")
    return replace(e, method=f"{e.method}, log10")


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


def welch_df(a: Estimate, b: Estimate) -> float:
    """Return the Welch–Satterthwaite degrees of freedom of ``a − b`` (infinite when both are; exact sides add none)."""
    va, vb = a.se ** 2, b.se ** 2
    if va + vb == 0:
        return math.inf
    denominator = sum(v * v / df for v, df in ((va, a.df), (vb, b.df)) if v > 0 and not math.isinf(df))
    return math.inf if denominator == 0 else (va + vb) ** 2 / denominator


def difference(a: Estimate, b: Estimate) -> Estimate:
    """Return ``a − b`` for independent estimates: errors add in quadrature, ``df`` by Welch–Satterthwaite."""
    method = a.method if a.method == b.method else f"{a.method}/{b.method}"
    return Estimate(a.value - b.value, math.hypot(a.se, b.se), min(a.n, b.n), method, welch_df(a, b))


def sign(d: Estimate | None, level: float = LEVEL, min_effect: float = 0.0) -> int | None:
    """Return +1 or −1 if ``d`` lies outside its two-sided ``level`` band (t at ``d.df``) and differs from zero by
    more than ``min_effect`` (the smallest difference that matters), 0 if not, ``None`` if the error is unknown or
    there is no estimate (the comparison cannot be decided)."""
    if d is None or math.isnan(d.value) or math.isnan(d.se) or math.isnan(d.df):
        return None
    if abs(d.value) <= d.band(level) or abs(d.value) <= min_effect:
        return 0
    return 1 if d.value > 0 else -1


def p_value(d: Estimate) -> float:
    """Return the two-sided p-value of ``d`` against zero: Student's t at ``d.df`` (normal if infinite), or for a
    joined estimate one minus the level whose band (``Estimate.band``) ends at the value, so a Holm level far from 95%
    reads each part at its own quantile; NaN where the error is unknown; 0 or 1 where it is exactly zero."""
    if math.isnan(d.value) or math.isnan(d.se) or math.isnan(d.df):
        return math.nan
    if d.se == 0:
        return 1.0 if d.value == 0 else 0.0
    if d.parts:   # the level whose joined band ends at the value: each part keeps its own quantile at that level
        gap = lambda p: d.band(1 - p) - abs(d.value)  # noqa: E731  (decreasing in p: 0 at p = 1)
        return 0.0 if gap(1e-15) < 0 else float(_scipy_optimize.brentq(gap, 1e-15, 1.0, xtol=1e-15, rtol=1e-12))
    t = abs(d.value) / d.se
    return float(2 * (_scipy_stats.norm.sf(t) if math.isinf(d.df) else _scipy_stats.t.sf(t, d.df)))


def holm_signs(estimates: Sequence[Estimate | None], level: float = LEVEL) -> list[int | None]:
    """Return per estimate its sign after Holm's step-down over the family (family-wise level ``level``): +1 or −1
    where the difference from zero survives, 0 where not, ``None`` where undecidable (it stays out of the family).

    For a verdict that counts "some of k comparisons beyond the band": at a 95% band each, a true null still
    gives one of k a call up to k·5% of the time.
    """
    kept = holm_keep([None if e is None else p_value(e) for e in estimates], level)
    return [k if k is None else (1 if e.value > 0 else -1) if k else 0 for k, e in zip(kept, estimates)]


def alpha_of(level: float = LEVEL) -> float:
    """Return a test's significance level 1 − ``level``, rounded (1 − 0.95 is 0.05000000000000004 in floating
    point, so p = 0.05 would pass a test at 5%)."""
    return round(1 - level, 12)


def holm_keep(ps: Sequence[float | None], level: float = LEVEL) -> list[bool | None]:
    """Return per p-value whether it survives Holm's step-down at family-wise level ``level`` (the smallest p below
    (1 − level)/k, the next below (1 − level)/(k − 1), … until one is not); ``None`` for a missing or NaN p (it
    stays out of the family)."""
    alpha = alpha_of(level)
    family = sorted((p, i) for i, p in enumerate(ps) if p is not None and not math.isnan(p))
    out: list[bool | None] = [None if p is None or math.isnan(p) else False for p in ps]
    for rank, (p, i) in enumerate(family):
        if p >= alpha / (len(family) - rank):   # as ``sign``: a p-value at the level itself is not beyond the band
            break
        out[i] = True
    return out


def compare(a: Estimate | None, b: Estimate | None, level: float = LEVEL) -> tuple[int | None, Estimate | None]:
    """Return ``(sign(a − b), a − b)`` for independent estimates (Welch); ``(None, None)`` if either is missing."""
    if a is None or b is None:
        return None, None
    d = difference(a, b)
    return sign(d, level), d


def greater(a: Estimate, b: Estimate | float = 0.0, level: float = LEVEL) -> bool | None:
    """Return True if ``a > b`` beyond the band, False if not (less, or inside it), None if undecidable."""
    b = b if isinstance(b, Estimate) else exact(b)
    s = sign(difference(a, b), level)
    return None if s is None else s > 0


def permutation_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Return the exact two-sided p-value of ``mean(a) − mean(b)`` over every split of the pooled values.

    For two small arms of seeds: no distribution assumed, only exchangeability under the null. With 3 against 3
    there are 20 splits, so the smallest p is 0.1: no difference can count at 95% (``permutation_sign`` says 0).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    pooled, k = np.concatenate([a, b]), len(a)
    inside = np.zeros((math.comb(len(pooled), k), len(pooled)), bool)
    for row, idx in enumerate(itertools.combinations(range(len(pooled)), k)):
        inside[row, list(idx)] = True
    diffs = inside @ pooled / k - ~inside @ pooled / len(b)
    return float(np.mean(np.abs(diffs) >= abs(a.mean() - b.mean()) * (1 - 1e-12)))


def permutation_sign(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> int:
    """Return the sign of ``mean(a) − mean(b)`` if the exact permutation test rejects at ``1 − level``, else 0."""
    if permutation_test(a, b) > 1 - level:
        return 0
    return int(np.sign(np.mean(a) - np.mean(b)))


def _pairs_won(a: np.ndarray, b: np.ndarray) -> int:
    """Return twice the number of pairs ``(a_i, b_j)`` with ``a_i > b_j``, ties counting one half (an integer)."""
    return int(np.sum(2 * (a[:, None] > b[None, :]) + (a[:, None] == b[None, :])))


def seed_pair_test(strata: Sequence[tuple[Sequence[float], Sequence[float]]]) -> tuple[float, int, float]:
    """Return ``(wins, pairs, p)``: of the seed pairs ``(a_i, b_j)`` within each stratum, how many have ``a > b``
    (ties count ½), how many there are, and the exact two-sided p-value of that count.

    A stratified Mann–Whitney test: under the null each stratum's pooled values are exchangeable between its two
    arms, so the null distribution of the summed count is the convolution over strata of each stratum's count over
    every split of its pooled values. Ranks only: the scale (linear, log10) does not matter, and values spanning
    decades need no averaging. Two strata of 3 against 3 seeds: all 18 pairs one way has p = 2/400 = 0.005; one
    stratum alone can never reach 5% (p ≥ 0.1), which is why strata are pooled.
    """
    null, wins2, pairs = {0: 1.0}, 0, 0           # the null distribution of twice the count, and the observed one
    for a, b in strata:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        pooled, k = np.concatenate([a, b]), len(a)
        wins2, pairs = wins2 + _pairs_won(a, b), pairs + len(a) * len(b)
        splits = list(itertools.combinations(range(len(pooled)), k))
        own: dict[int, float] = {}
        for idx in splits:
            inside = np.isin(np.arange(len(pooled)), idx)
            c = _pairs_won(pooled[inside], pooled[~inside])
            own[c] = own.get(c, 0.0) + 1 / len(splits)
        conv: dict[int, float] = {}
        for u, pu in null.items():
            for v, pv in own.items():
                conv[u + v] = conv.get(u + v, 0.0) + pu * pv
        null = conv
    centre = pairs                                 # twice the null mean, pairs / 2
    p = sum(q for c, q in null.items() if abs(c - centre) >= abs(wins2 - centre) - 1e-9)
    return wins2 / 2, pairs, float(min(p, 1.0))


def seed_pair_sign(strata: Sequence[tuple[Sequence[float], Sequence[float]]], level: float = LEVEL) -> int:
    """Return +1 (``a`` above ``b``) or −1 if ``seed_pair_test`` rejects at ``1 − level``, else 0."""
    wins, pairs, p = seed_pair_test(strata)
    if p > 1 - level or wins == pairs / 2:
        return 0
    return 1 if wins > pairs / 2 else -1

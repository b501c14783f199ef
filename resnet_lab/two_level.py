"""Noise bands where the noise lives at two levels: seeds (or units), then the images each was measured on.

``two_level_bootstrap`` resamples both levels; ``cluster_bootstrap`` is it over units whose items are their own;
``two_level_difference`` compares two arms of seeds measured on the same images. Where the seeds share their images,
the seeds' part and the images' part are estimated apart, each on its own degrees of freedom, and ``joined``. Each
rule's false-call rate under a true null is simulated in tests/test_stats_coverage.py.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize as _scipy_optimize

from .stats import Estimate, over_seeds, quantile, welch_df

_DF_AS_INFINITE = 1e8   # a joined band this close to the normal one is the normal one


def _outer_inner_draws(groups: list[np.ndarray], statistic, n_boot: int, rng, shared_inner: bool,
                       outer: bool = True, inner: bool = True) -> np.ndarray:
    """Return ``n_boot`` values of ``statistic`` on resamples: outer groups with replacement, then the inner items of
    each drawn group with replacement (one index draw for every group when ``shared_inner``: the same images).
    ``outer=False`` keeps the groups as they are, ``inner=False`` their items (one level resampled alone)."""
    g, m = len(groups), len(groups[0])
    rows = rng.integers(0, g, (n_boot, g)) if outer else np.broadcast_to(np.arange(g), (n_boot, g))
    if statistic is None and len({len(x) for x in groups}) == 1:   # the pooled mean, vectorised
        x = np.stack(groups)
        if not inner:
            return x.mean(1)[rows].mean(1)
        cols = rng.integers(0, m, (n_boot, 1, m) if shared_inner else (n_boot, g, m))
        return np.take_along_axis(x[rows], np.broadcast_to(cols, (n_boot, g, m)), axis=2).mean(axis=(1, 2))
    statistic = statistic or (lambda gs: float(np.concatenate(gs).mean()))
    items = (lambda k: rng.integers(0, k, k)) if inner else np.arange
    out = np.empty(n_boot)
    for t in range(n_boot):
        shared = items(m) if shared_inner else None
        out[t] = statistic([groups[j][shared if shared_inner else items(len(groups[j]))] for j in rows[t]])
    return out


def joined(parts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Return ``(se, df)`` of a sum of independent variance parts ``(variance, df)``, each estimated on its own df.

    ``se = √Σ v_i``; the band's half-width is Banerjee's join ``√Σ q(df_i)²·v_i`` (``q``: the t quantile at
    ``LEVEL``), returned as the ``df`` whose quantile times ``se`` gives it. Conservative: each part keeps its own
    quantile. (Welch–Satterthwaite's df, the other usual join, calls a true null difference 6% of the time when the
    seed part rests on two seeds each: simulated in tests/test_stats_coverage.py.)
    """
    parts = [(float(v), float(df)) for v, df in parts]
    bad = [(v, df) for v, df in parts if not (v >= 0 and df > 0)]   # NaN fails both comparisons
    if bad:
        raise ValueError(f"joined needs variances ≥ 0 and df > 0, got {bad}")
    parts = [(v, df) for v, df in parts if v > 0]
    total = sum(v for v, _ in parts)
    if total == 0:
        return 0.0, math.inf
    k = math.sqrt(sum(quantile(df) ** 2 * v for v, df in parts) / total)
    if k <= quantile(_DF_AS_INFINITE):
        return math.sqrt(total), math.inf
    df = _scipy_optimize.brentq(lambda d: quantile(d) - k, 1e-3, _DF_AS_INFINITE, xtol=1e-10)
    return math.sqrt(total), float(df)


def _joined_estimate(value: float, parts: Sequence[tuple[float, float]], n: int, method: str) -> Estimate:
    """Return ``value`` with the band of its joined variance parts (:func:`joined`), keeping the parts with variance
    (``Estimate.parts``) so the band and p-value at any other level read each part at its own quantile."""
    parts = tuple((float(v), float(df)) for v, df in parts)
    se, df = joined(parts)
    return Estimate(value, se, n, method, df, tuple(p for p in parts if p[0] > 0))


def two_level_bootstrap(groups: Sequence[Sequence[float]], statistic: Callable | None = None, n_boot: int = 1000,
                        seed: int = 0, shared_inner: bool = False, outer: str = "seeds",
                        inner: str = "images") -> Estimate:
    """Return ``statistic(groups)`` (default: the mean of all items pooled) with a two-level bootstrap band.

    ``groups``: one array per outer group (per seed, or per unit), its items (images) inside. One group: its spread
    is unknown, so the error is NaN (the comparison is undecided).

    Items of their own in each group (``shared_inner=False``): each draw resamples the groups, then the items inside
    each drawn group; the draws' variance is multiplied by ``G/(G − 1)`` (``G`` groups: the bootstrap's bias of the
    between-group variance) and ``df = G − 1``.

    The same items in every group (``shared_inner``: every seed measured on the same test images): the two levels
    are resampled apart, the groups with the items fixed (variance × ``G/(G − 1)``, ``df = G − 1``) and the shared
    items with the groups fixed (``df`` = items − 1), and the parts joined (:func:`joined`). Both parts carry the
    seed × image noise (where seeds disagree on an image): counted twice, conservative, as in
    :func:`two_level_difference` (which says why not less it).
    """
    gs = [np.asarray(x, dtype=np.float64) for x in groups]
    if not gs or any(len(x) == 0 for x in gs):
        raise ValueError("two_level_bootstrap needs at least one group, each with items")
    if shared_inner and len({len(x) for x in gs}) != 1:
        raise ValueError(f"shared_inner needs the same items in every group, got {[len(x) for x in gs]} items")
    value = float(np.concatenate(gs).mean()) if statistic is None else float(statistic(gs))
    method = (f"cluster bootstrap ({outer}, then {inner})" if outer == "units"
              else f"two-level bootstrap ({outer}, then {inner})")
    g = len(gs)
    if g < 2:
        return Estimate(value, math.nan, 1, f"{method}; one {outer[:-1]}: its spread unknown", math.nan)
    rng = np.random.default_rng(seed)
    if not shared_inner:
        draws = _outer_inner_draws(gs, statistic, n_boot, rng, False)
        return Estimate(value, float(np.std(draws, ddof=1) * math.sqrt(g / (g - 1))), g, method, g - 1)
    v_outer = np.var(_outer_inner_draws(gs, statistic, n_boot, rng, True, inner=False), ddof=1) * g / (g - 1)
    v_inner = np.var(_outer_inner_draws(gs, statistic, n_boot, rng, True, outer=False), ddof=1)
    if not (math.isfinite(value) and math.isfinite(v_outer) and math.isfinite(v_inner)):
        return Estimate(value, math.nan, g, f"{method}, shared {inner}; a value is not finite", math.nan)
    return _joined_estimate(value, [(v_outer, g - 1), (v_inner, len(gs[0]) - 1)], g, f"{method}, shared {inner}")


def cluster_bootstrap(clusters: Sequence[Sequence[float]], statistic: Callable | None = None, n_boot: int = 1000,
                      seed: int = 0) -> Estimate:
    """Return ``two_level_bootstrap`` over units, then the images inside each: for items that share a unit."""
    return two_level_bootstrap(clusters, statistic, n_boot, seed, outer="units", inner="images")


def two_level_difference(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> Estimate:
    """Return mean(a) − mean(b), two arms of seeds measured on the same images, with a band over seeds and images.

    Two parts, estimated apart and joined (:func:`joined`): the seeds' (each arm's seed means: their variance over
    ``G``, Welch's df of the two arms with ``G − 1`` each) and the images' (the per-image difference of the arms'
    seed-averaged values: its variance over the image count, df = images − 1). Both carry the seed × image noise
    (where seeds disagree on an image): counted twice, conservative. Not less it: with two seeds a seed part less
    that share is often floored at zero, the band is then the images' alone, and a family of such comparisons
    called a true null 10–15% of the time under Holm (referee simulation, session 27). Its false-call rate under a
    true null is simulated in tests/test_stats_coverage.py. An arm with one seed: NaN (its seed spread is unknown).
    """
    ga, gb = ([np.asarray(x, dtype=np.float64) for x in arm] for arm in (a, b))
    if not ga or not gb or len({len(x) for x in ga + gb}) != 1 or len(ga[0]) < 2:
        raise ValueError("two_level_difference needs every seed of both arms measured on the same images (two or "
                         f"more), got {[len(x) for x in ga]} and {[len(x) for x in gb]} images")
    value = float(np.mean(ga) - np.mean(gb))
    method = "two-level (seeds, then images), paired images"
    if min(len(ga), len(gb)) < 2:
        return Estimate(value, math.nan, min(len(ga), len(gb)), f"{method}; one seed: its spread unknown", math.nan)
    xa, xb = np.stack(ga), np.stack(gb)
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        return Estimate(value, math.nan, min(len(ga), len(gb)), f"{method}; a value is not finite", math.nan)
    arms = [over_seeds(x.mean(1)) for x in (xa, xb)]
    per_image = xa.mean(0) - xb.mean(0)
    return _joined_estimate(value, [(arms[0].se ** 2 + arms[1].se ** 2, welch_df(*arms)),
                                    (per_image.var(ddof=1) / per_image.size, per_image.size - 1)],
                            min(len(ga), len(gb)), method)

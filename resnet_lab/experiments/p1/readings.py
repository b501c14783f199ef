"""Read a P1 result into the numbers the verdicts and the tables share: accuracies (over seeds and test images), gaps
with bootstrap bands; and the per-item rules a verdict combines (a net's Fig. 5 halves). The units Lemmas 1–2 are
judged on are read in ``unit_readings``.

A gap is the inter − intra MPA (degrees) at one level of one run; its band comes from the bootstrap draws over
test images that ``measure.angle_levels`` stored, paired when two gaps were read on the same images.
"""
from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from ...metrics.angles import mean_angles
from ...stats import Estimate, difference, over_seeds, sign
from ...units import images_tested
# the run tags, passed on to the verdicts (which never read config), and the rule of which recipe trains a run
from .config import BN_PAIR, DEEP, DEPTH18, FIG2, OTHER, base_tag, recipe

__all__ = ["BN_PAIR", "DEEP", "DEPTH18", "FIG2", "LEVELS", "OTHER", "accuracies", "at_one_schedule", "between_nets",
           "curve_changes", "curve_estimate", "curve_steps", "depth_resnet18", "feature_dim", "fig5_halves",
           "final_accuracy", "gap_difference", "gap_estimate", "held_back", "missing_runs", "n_test", "paper_network",
           "pm", "run_data", "schedule", "seed_tags", "task_accuracy", "task_contrast", "task_label", "trained_epochs",
           "unfinished"]

LEVELS = ("stage1", "stage2", "stage3", "stage4", "end")  # Fig. 5's five layers, in the order features pass them


def final_accuracy(run_: dict) -> float:
    """Return the test accuracy of the last epoch that measured one (NaN if none)."""
    accs = [r["test_acc"] for r in run_["history"] if r.get("test_acc") is not None]
    return float(accs[-1]) if accs else math.nan


def seed_tags(result: dict, tag: str) -> list[str]:
    """Return the runs of one network: ``tag`` (seed 0) and its ``tag-seed<k>`` repeats, those that exist."""
    more = sorted((t for t in result["runs"] if t.startswith(f"{tag}-seed") and t[len(tag) + 5:].isdigit()),
                  key=lambda t: int(t[len(tag) + 5:]))
    return [t for t in (tag, *more) if t in result["runs"]]


def trained_epochs(result: dict, tag: str) -> int | None:
    """Return the last epoch run ``tag`` recorded (its schedule's length, or where it diverged), None if none."""
    history = result["runs"][tag]["history"]
    return history[-1].get("epoch") if history else None


def schedule(result: dict, tag: str) -> dict:
    """Return the training recipe run ``tag`` (any seed) was trained with, its seed left out: the BN pair's
    ``pair_train`` or the depth series' ``depth_train`` where the result's config sets one, else ``train``
    (``config.recipe``'s rule); a result whose config records none gives ``{"epochs": trained_epochs}``."""
    cfg = result.get("config", {})
    stored = recipe(SimpleNamespace(train=cfg.get("train"), pair_train=cfg.get("pair_train"),
                                    depth_train=cfg.get("depth_train")), tag)
    if stored is None:
        return {"epochs": trained_epochs(result, tag)}
    return {k: v for k, v in stored.items() if k != "seed"}


def depth_resnet18(result: dict) -> str:
    """Return the ResNet-18 of Fig. 3's depth series: its own run (DEPTH18) where the result's config gives the series
    a schedule of its own (``depth_train``), else Fig. 2's ResNet-18 (compared only where it trained on that
    schedule)."""
    return DEPTH18 if result.get("config", {}).get("depth_train") is not None else "resnet18"


def unfinished(result: dict, tag: str) -> str:
    """Return, in words, the seeds of net ``tag`` that diverged or stopped before their schedule's last epoch
    (``schedule``); "" when every seed ran its schedule to the end."""
    stopped = []
    for s in seed_tags(result, tag):
        done, planned = trained_epochs(result, s), schedule(result, s)["epochs"]
        if result["runs"][s].get("diverged") or done != planned:
            stopped.append(f"{s} {'diverged' if result['runs'][s].get('diverged') else 'stopped'} at epoch {done} "
                           f"of {planned}")
    return ", ".join(stopped)


def feature_dim(result: dict, tag: str, level: str = "end") -> int | None:
    """Return the dimension of the features run ``tag``'s MPAs were taken on at ``level`` (None if not stored)."""
    a = result.get("angles", {}).get(tag, {}).get(level)
    return None if a is None or a.get("dim") is None else int(a["dim"])


def held_back(result: dict, tag: str) -> str:
    """Return why net ``tag`` was not trained because its pilot missed its gate ("not trained: its pilot resnet50
    reached 80.0% test accuracy, under its 85% gate"), from the result's ``pilots`` record; "" if no pilot held it."""
    p = next((p for p in (result.get("pilots") or {}).values() if tag in p["holds_back"] and not p["met"]), None)
    if p is None:
        return ""
    acc = p["test_acc"]
    reached = ("diverged" if p["diverged"] else "measured no test accuracy" if math.isnan(acc)
               else f"reached {acc:.1%} test accuracy")
    return f"not trained: its pilot {p['name']} {reached}, under its {p['gate']:.0%} gate"


def missing_runs(result: dict, tags) -> str:
    """Return which of ``tags`` the result holds no run of, and why ("not trained: its pilot …" where a pilot that
    missed its gate held it back, ``held_back``; "not in this profile's deep_models" where the result's config leaves
    them out, else "planned but not run"); "" when every one ran."""
    planned = [*result.get("config", {}).get("deep_models", ()), depth_resnet18(result)]  # and the series' ResNet-18
    why = {t: held_back(result, t) for t in tags if t not in result["runs"]}
    held = [f"{t} {w}" for t, w in why.items() if w]
    missing = [t for t, w in why.items() if not w]
    return "; ".join(held + [f"{', '.join(ts)} {why}" for why, ts in (
        ("not in this profile's deep_models", [t for t in missing if t not in planned]),
        ("planned but not run", [t for t in missing if t in planned])) if ts])


def run_data(result: dict, tag: str) -> dict | None:
    """Return the data spec (as the result's config stores it: name, classes, per-class caps) run ``tag`` trained
    and was tested on: the config's task with the classes the run recorded; None if no task has them."""
    classes = list(result["runs"][tag]["classes"])
    return next((d for d in result.get("config", {}).values() if isinstance(d, dict) and "test_per_class" in d
                 and list(d.get("classes") or ()) == classes), None)


_FIGURE_NAMES = {"base18": "Base18", "resnet18-nobn": "ResNet-18 without BN", "resnet18": "ResNet-18",
                 DEPTH18: "ResNet-18", "resnet34": "ResNet-34", "resnet50": "ResNet-50", "resnet101": "ResNet-101"}


def paper_network(result: dict, tag: str) -> str | None:
    """Return the paper's name for our run ``tag`` (seed dropped) where it is the paper's network: the standard
    width 64 trained on all of an image folder, which the loaders read for readers who have the paper's data sets
    (Dogs vs Cats, Animals-10, ImageNet-2012; the folder is taken to be the one the task's figure names); None where
    CIFAR-10's 32×32 classes stand in for them (every offline profile) or a task is cut to a subset."""
    runs = result.get("runs", {})
    data = run_data(result, tag) if "classes" in runs.get(tag, {}) else None
    if (data is None or not data["name"].startswith("imagefolder:") or data.get("train_per_class") is not None
            or result["config"].get("width") != 64):
        return None
    other = {OTHER[0]: "ResNet-34 (two Animals-10 classes)", OTHER[1]: "ResNet-34 (three ImageNet-2012 classes)"}
    return other.get(tag) or f"{_FIGURE_NAMES.get(tag, tag)} (Dogs vs Cats)"


def n_test(result: dict, tag: str) -> int | None:
    """Return how many test images run ``tag``'s accuracy was measured on (``units.images_tested`` of its data
    spec); None if unknown (no spec, or an ImageFolder's whole test split, whose size the config does not hold)."""
    data = run_data(result, tag)
    try:
        return images_tested(data) if data else None
    except KeyError:
        return None


def task_accuracy(result: dict, tag: str) -> Estimate | None:
    """Return net ``tag``'s test accuracy, the mean over its seeds, with the variance of that mean: the seeds'
    s²/k plus the test set's binomial p(1 − p)/n_test. Every seed is tested on the same images, so averaging
    seeds leaves the test set's sampling error in. df by Welch–Satterthwaite (the binomial part's is infinite);
    the error is unknown (NaN) with one seed (no seed spread) or an unknown test-set size. None if not run."""
    accs = [final_accuracy(result["runs"][s]) for s in seed_tags(result, tag)]
    if not accs:
        return None
    seeds, n = over_seeds(accs), n_test(result, tag)
    binomial = math.sqrt(seeds.value * (1 - seeds.value) / n) if n else math.nan
    # a sum of independent variances: ``difference`` with a zero-mean binomial side adds them, Welch's df
    total = difference(seeds, Estimate(0.0, binomial, n or 0, "binomial"))
    return replace(total, n=len(accs), method=f"seeds + binomial over {n or '?'} test images")


def task_contrast(result: dict, a: str, b: str) -> Estimate | None:
    """Return ``task_accuracy``(a) − ``task_accuracy``(b) in percentage points (Welch's df), None if either net is
    not run."""
    ea, eb = task_accuracy(result, a), task_accuracy(result, b)
    if ea is None or eb is None:
        return None
    d = difference(ea, eb)
    return replace(d, value=100 * d.value, se=100 * d.se)


def accuracies(result: dict, tags) -> dict[str, float]:
    """Return ``{tag: final test accuracy}`` of the runs among ``tags`` that exist, every seed of each."""
    return {s: final_accuracy(result["runs"][s]) for t in tags for s in seed_tags(result, t)}


def gap_estimate(result: dict, tag: str, level: str = "end") -> Estimate | None:
    """Return a run's final gap at ``level`` with its bootstrap s.e., or None if not measured."""
    a = result.get("angles", {}).get(tag, {}).get(level)
    return None if a is None else Estimate(float(a["gap"]), float(a["gap_se"]), len(a["gap_draws"]), "bootstrap")


def curve_estimate(result: dict, tag: str, level: str = "end", curve: str = "gap") -> Estimate | None:
    """Return a run's final ``curve`` at ``level`` (``gap`` = inter − intra, ``intra`` or ``inter``: mean MPA over
    classes / pairs, degrees) with its bootstrap s.e. over test images; None if not measured (or no draws stored)."""
    if curve == "gap":
        return gap_estimate(result, tag, level)
    a = result.get("angles", {}).get(tag, {}).get(level)
    if a is None or f"{curve}_draws" not in a:
        return None
    value = mean_angles(a["angles"])[curve == "inter"]
    draws = np.asarray(a[f"{curve}_draws"], float)
    return Estimate(float(value), float(np.std(draws, ddof=1)) if len(draws) > 1 else math.nan, len(draws),
                    "bootstrap")


def gap_difference(result: dict, a: tuple[str, str], b: tuple[str, str], curve: str = "gap") -> Estimate | None:
    """Return ``curve``(a) − ``curve``(b) for (run, level) pairs on the same test images (``curve_estimate``), s.e.
    from paired bootstrap draws."""
    ea, eb = (curve_estimate(result, t, lvl, curve) for t, lvl in (a, b))
    if ea is None or eb is None:
        return None
    ga, gb = (result["angles"][t][lvl] for t, lvl in (a, b))
    da, db = np.asarray(ga[f"{curve}_draws"], float), np.asarray(gb[f"{curve}_draws"], float)
    se = float(np.std(da - db, ddof=1)) if len(da) > 1 and len(da) == len(db) else math.nan
    return Estimate(ea.value - eb.value, se, len(da), "bootstrap")


def curve_changes(result: dict, tag: str, start: str = "stage1", end: str = "end") -> dict[str, Estimate] | None:
    """Return Fig. 5's two curves read apart, ``start`` → ``end`` of one run, paired over the same bootstrap draws:
    ``intra`` and ``inter`` (each end − start, degrees) and ``intra_steeper`` = −Δintra − |Δinter| (> 0 when intra
    falls by more than inter moves either way). ``None`` when the levels or their per-curve draws were not stored."""
    a, b = (result.get("angles", {}).get(tag, {}).get(lvl) for lvl in (start, end))
    if a is None or b is None or "intra_draws" not in a or "intra_draws" not in b:
        return None
    (ia, ea), (ib, eb) = mean_angles(a["angles"]), mean_angles(b["angles"])
    d_intra = np.asarray(b["intra_draws"], float) - np.asarray(a["intra_draws"], float)
    d_inter = np.asarray(b["inter_draws"], float) - np.asarray(a["inter_draws"], float)
    n = len(d_intra)
    est = lambda value, draws: Estimate(value, float(np.std(draws, ddof=1)) if n > 1 else math.nan, n,  # noqa: E731
                                        "paired bootstrap")
    return {"intra": est(ib - ia, d_intra), "inter": est(eb - ea, d_inter),
            "intra_steeper": est(-(ib - ia) - abs(eb - ea), -d_intra - np.abs(d_inter))}


def curve_steps(result: dict, tag: str) -> dict[tuple[str, str], dict[str, Estimate]] | None:
    """Return ``curve_changes`` for each step between consecutive measured ``LEVELS`` of one run (stage 1 → 2, …,
    stage 4 → end): Fig. 5 reads its curves "as the number of layers increases", not at the ends only."""
    levels = [lvl for lvl in LEVELS if lvl in result.get("angles", {}).get(tag, {})]
    steps = {(a, b): curve_changes(result, tag, a, b) for a, b in zip(levels, levels[1:])}
    return None if not steps or any(c is None for c in steps.values()) else steps


def pm(e: Estimate) -> str:
    """Return ``+value ± half-width°`` of an angle estimate's band."""
    return f"{e.value:+.2f} ± {e.band():.2f}°"


def fig5_verdict(halves) -> str:
    """Return one net's Fig. 5 verdict from its two halves' signs: holds if both as the paper says, partly if one."""
    (a, *_), (b, *_) = halves
    if a == 1 and b == 1:
        return "holds"
    if 1 in (a, b):
        return "partly"
    return "fails" if -1 in (a, b) else "inconclusive"


def fig5_halves(changes: dict, steps: dict, min_effect: float) -> list[tuple[int | None, list[str], list[str]]]:
    """Return Fig. 5's halves for one net, each (sign, clauses against, clauses as the paper says): sign +1 when
    every clause is decided as the paper says, −1 when one is decided against, 0 inside the band, None with no band.

    (a) intra falls from stage 1 to the end, by more than inter moves, and rises at no step; (b) inter rises from
    stage 1 to the end and falls at no step. A step inside its band neither refutes nor supports the trend."""
    def sg(e: Estimate) -> int | None:
        return sign(e, min_effect=min_effect)

    def step_clause(curve: str, against: int, verb: str) -> list[tuple[int | None, str]]:
        # +1 here only means "not refuted": a step is not required to move beyond its band
        return [(None if (x := sg(c[curve])) is None else -1 if x == against else 1,
                 f"{verb} at {a} → {b} ({pm(c[curve])})", True) for (a, b), c in steps.items()]

    fell = sg(changes["intra"])
    clauses = (
        [(None if fell is None else -fell, f"{'falls' if changes['intra'].value < 0 else 'rises'} from stage 1 to the "
          f"end ({pm(changes['intra'])})", False),
         (sg(changes["intra_steeper"]), f"falls by {'more' if changes['intra_steeper'].value > 0 else 'less'} than "
          f"inter moves (−Δintra − |Δinter| {pm(changes['intra_steeper'])})", False),
         *step_clause("intra", 1, "rises")],
        [(sg(changes["inter"]), f"{'rises' if changes['inter'].value > 0 else 'falls'} from stage 1 to the end "
          f"({pm(changes['inter'])})", False), *step_clause("inter", -1, "falls")])
    halves = []
    for half in clauses:
        signs = [x for x, _, _ in half]
        against = [d for x, d, _ in half if x == -1]
        as_paper = [d for x, d, step in half if x == 1 and not step]
        sign_ = -1 if against else None if None in signs else 1 if all(x == 1 for x in signs) else 0
        halves.append((sign_, against, as_paper))
    return halves


def between_nets(result: dict, a: str, b: str, level: str = "end",
                 curve: str = "gap") -> tuple[Estimate | None, Estimate | None]:
    """Return (decided, images) for ``curve``(a) − ``curve``(b) (``curve_estimate``), two networks at ``level``.

    ``decided``: Welch's t over seeds (each net's per-seed values, ``tag`` and ``tag-seed<k>``); with one seed in an
    arm its error is unknown (NaN), since the image band leaves out how much the gap moves from seed to seed.
    ``images``: seed 0's paired bootstrap over test images, shown beside it. ``(None, None)`` if unmeasured.
    """
    images = gap_difference(result, (a, level), (b, level), curve)
    arms = [[g.value for t in seed_tags(result, tag) if (g := curve_estimate(result, t, level, curve)) is not None]
            for tag in (a, b)]
    if images is None or not all(arms):
        return None, images
    return difference(over_seeds(arms[0]), over_seeds(arms[1])), images


def at_one_schedule(result: dict, a: str, b: str, curve: str = "intra") -> tuple[Estimate | None, Estimate | None, str]:
    """Return ``between_nets(result, a, b, "end", curve)`` and "" when both nets have end angles and were trained on
    one schedule (``schedule``); else ``(None, None, why they are not compared)``."""
    absent = [t for t in (a, b) if curve_estimate(result, t, "end", curve) is None]
    if absent:
        return None, None, f"no end angles for {', '.join(absent)} (not run or diverged)"
    if schedule(result, a) != schedule(result, b):
        return None, None, (f"unequal schedules ({a} {trained_epochs(result, a)} epochs, {b} "
                            f"{trained_epochs(result, b)})")
    return (*between_nets(result, a, b, curve=curve), "")


def task_label(result: dict, tag: str) -> str:
    """Return run ``tag``'s task in words, its classes and dataset: ``deer/horse of cifar10``."""
    name = (run_data(result, tag) or {}).get("name", result["runs"][tag].get("data_source", "?"))
    return "/".join(result["runs"][tag]["classes"]) + f" of {name}"

"""P3 — ResNets as nonlinear systems: Jacobian spectra of units and stages, propagated perturbations.

Rothauge, Hu, Yao & Mahoney (2019). A trained CIFAR ResNet is linearised unit by unit
(``resnet_lab.metrics.jacobian``); perturbations of test images are propagated through it
(``resnet_lab.metrics.perturb``). The claims are declared once in ``CLAIMS`` (thresholds and gate as
data); every verdict in :func:`claims` is computed from the numbers of :func:`run`.

Networks: at ``small`` the zoo's full-width ResNet-20 with option-A (zero-padding) shortcuts, shared
with the intro chapter; at ``standard`` and ``paper`` the paper's option-B (1×1 conv + BN projection)
ResNet-110 and, for Fig. 1, ResNet-56.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from .. import zoo
from ..artifacts import artifact_dir, cached, load_arrays, save_arrays
from ..data import DataSpec
from ..ledger import Claim, ClaimSpec, Gate, declare, profile_of
from ..metrics.hooks import capture_io
from ..metrics.jacobian import (
    SmoothActivation,
    decay_order,
    gram_spectrum,
    jacobian_operator,
    jacobian_test,
    krylov_svd,
    spectrum_fractions,
)
from ..metrics.perturb import (
    interpolate_weights,
    minimal_fgsm,
    projections,
    propagated_perturbations,
    scaled_skip,
    uniform_like,
    unit_activations,
)
from ..models import build_model, residual_units
from ..profiles import select
from ..stats import Estimate, bootstrap, exact, sign
from ..train import TrainConfig, default_device, evaluate, train_cached

EXPERIMENT = "p3"
CHAPTER = "P3"

# The quality bar every claim about trained networks rests on (one bar for every profile).
GATE = Gate("test accuracy", 0.85, why="the zoo's bar for a converged CIFAR ResNet-20: He et al.'s 91.25% minus "
            "6 points, met by the zoo's ResNet-20 (87.2% after 27 one-cycle epochs on a CPU); the paper's pretrained "
            "ResNet-56/110 have ≈ 93.4–93.7%, so a network below the bar is not the kind the paper linearised")

CLAIMS = declare(
    ClaimSpec("P3.1", "Jacobian test: ‖R(x+εδ)−R(x)−εJδ‖ falls an order faster than ‖R(x+εδ)−R(x)‖",
              "Appendix A",
              "softplus twin of the probe unit in float64: log-log slope of the linearisation error ≥ {first:.1f} "
              "and of the difference in [{zeroth_lo:.1f}, {zeroth_hi:.1f}] (holds: both; fails otherwise)",
              {"first": 1.8, "zeroth_lo": 0.9, "zeroth_hi": 1.1}, implementation_check=True),
    ClaimSpec("P3.2", "Fig. 1: most singular values of residual-unit Jacobians are 1 (a plateau), the rank is high "
              "and the spectra barely change between images; transitions (stages 2–3) lack the plateau; stage "
              "Jacobians have no plateau and a few very large σ", "§3.1, Fig. 1",
              "plateau share (σ in [0.99, 1.01]) of the interior units, mean over images, smallest over the stages "
              "with full spectra: holds ≥ {hold:.0%} (the paper's 'most singular values are 1'), partly ≥ "
              "{partly:.0%}, each beyond 2 s.e. over images; holds also needs every secondary check, partly half "
              "of them: rank ≥ {rank:.0%}; spread of the images' nonzero spectra ≤ {spread:.2f} (rank variation "
              "reported apart); transition plateau < {trans:.1f}× the interior unit's; stage σ_max ≥ "
              "{stage_big:.0f}× unit σ_max; stage plateau < {stage_plateau:.0%}",
              {"hold": 0.5, "partly": 0.10, "rank": 0.5, "spread": 0.1, "trans": 0.5, "stage_big": 3.0,
               "stage_plateau": 0.05}, gate=GATE),
    ClaimSpec("P3.3", "Fig. 2 (ResNet-110): the share of σ > 1 falls slowly through the net; in stage 3 the plateau "
              "shrinks and the rank drops", "§3.1, Fig. 2",
              "interior units with full spectra only (transitions excluded): Spearman ρ(unit, share > 1.01) < 0 over "
              "≥ {min_units} units; over ≥ {min_stage} interior units of the last stage ρ(unit, plateau share) < 0 "
              "and ρ(unit, zero share) > 0; each significant at p < {p:.2f} (holds: all three; partly: one or two "
              "and none significant the other way; fails: none, and one significant the other way; inconclusive: "
              "no trend beyond noise, or too few units)",
              {"min_units": 8, "min_stage": 5, "p": 0.05}, gate=GATE),
    ClaimSpec("P3.4", "Fig. 3: adversarial (FGSM) perturbations jump near the end of stage 3; random ones of the "
              "same norm decay there", "§3.3, Fig. 3",
              "per fooled image, log growth per unit of the propagated perturbation in the last {late:.0%} of the "
              "last stage's units minus that over its earlier units (FGSM) > 0, and FGSM's late log growth minus "
              "random's > 0, each beyond 2 s.e. (bootstrap over ≥ {min_images} images); holds: both, with random's "
              "late growth not significantly > 0; partly: one; fails: neither and one significantly < 0; "
              "inconclusive: inside the band",
              {"late": 1 / 3, "min_images": 3}, gate=GATE),
    ClaimSpec("P3.5", "Fig. 4: Eq. (1) predicts each unit's growth of the propagated perturbation; at the last "
              "units the adversarial perturbation aligns with the top right singular vectors (random ones do not)",
              "§3.3, Eq. (1), Fig. 4",
              "median |predicted − actual| / actual ≤ {err:.0%} over last-stage units and images (FGSM); energy of δ "
              "on the top-k right singular vectors divided by chance (k/n), over all images (≥ {min_images}): log "
              "ratio at the last unit > at the last stage's first interior unit, and > random's at the last unit, "
              "each beyond 2 s.e. (bootstrap over images); holds: all three; partly: two; inconclusive: Eq. (1) "
              "holds and both alignments inside the band; fails otherwise",
              {"err": 0.2, "min_images": 3}, gate=GATE),
    ClaimSpec("P3.6", "Fig. 5: scaling the skip by α moves the plateau to α; interpolating the weights toward "
              "Gaussian noise (Eq. 3) builds the plateau, widest near t = 0.5", "§3.4, Eq. (3), Fig. 5",
              "skip part (needs a plateau ≥ {min_plateau:.0%} at α = 1): for every α ≠ 1 the share of σ within "
              "±1%·α of α is ≥ {moved:.0f}× the unscaled spectrum's share in that same window and ≥ ½ the plateau "
              "at α = 1, and the share at 1 drops to ≤ {vanish:.1f}× the plateau at α = 1; weights part: the "
              "largest plateau over t is ≥ {min_plateau:.0%}, above t = 0's, at 0 < t < 1 (holds: both parts; "
              "partly: one)",
              {"min_plateau": 0.10, "moved": 2.0, "vanish": 0.5}, gate=GATE),
)


@dataclass(frozen=True)
class P3Config:
    model: str = "resnet20"
    model_options: dict = field(default_factory=dict)  # e.g. {"shortcut": "B"}: 1×1 conv + BN projections
    zoo: str | None = None            # analyse this shared zoo network (resnet_lab.zoo) instead of training one
    data: DataSpec = DataSpec("cifar10")
    train: TrainConfig = TrainConfig()
    companion: str | None = None      # also measure Fig. 1 on this depth (same options and recipe): ResNet-56
    images: int = 5                   # test images whose spectra are overlaid (Fig. 1)
    perturb_images: int = 10          # test images whose perturbations are propagated (Fig. 3, 4)
    dense_max_dim: int = 8192         # largest Gram side min(m, n) for a full spectrum; beyond it, top-k only
    stage_dense_max_dim: int | None = None  # the same for whole-stage Jacobians (None: dense_max_dim)
    top_k: int = 16                   # singular values from block Krylov where the spectrum is not full
    topk_images: int | None = None    # images for top-k-only panels of Fig. 1 (None: ``images``)
    energy_k: int = 16                # top right singular vectors whose share of ‖δ‖² Fig. 4 measures
    probe_stage: int = 3              # stage (1-based) whose interior unit gets the Jacobian test and Fig. 5
    eps_grid: tuple[float, ...] = tuple(float(e) for e in np.geomspace(1e-3, 0.5, 28))  # FGSM steps (normalised input)
    alphas: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)   # skip scales α (Fig. 5 left)
    ts: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # weight interpolation t (Eq. 3, Fig. 5 right)
    jacobian_eps: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
    seed: int = 0


_ZOO20 = zoo.ZOO["resnet20-cifar10"]
# He et al. (2016) on one GPU, as the intro's standard ResNet-56: 64 epochs at batch 256, one-cycle, compiled.
_GPU_RECIPE = TrainConfig(epochs=64, batch_size=256, lr=0.2, nesterov=True, schedule="onecycle", compile=True)
# He et al. (2016): 64k steps at batch 128 (164 epochs), lr 0.1 ÷10 at 32k and 48k, wd 1e-4.
_PAPER_RECIPE = TrainConfig(epochs=164, batch_size=128, lr=0.1, weight_decay=1e-4, milestones=(0.5, 0.75))

PROFILES = {
    # Seconds on a CPU: a width-2 ResNet-20 after 30 SGD steps on 1,000 images; stage 1 (2,048) by top-8 only.
    "smoke": P3Config(model_options={"width": 2}, data=DataSpec("cifar10", train_per_class=100, test_per_class=20),
                      train=TrainConfig(epochs=1, batch_size=32, lr=0.05, schedule="onecycle", max_steps_per_epoch=30),
                      images=3, perturb_images=4, dense_max_dim=1024, top_k=8, energy_k=4, alphas=(0.5, 1.0, 2.0),
                      ts=(0.0, 0.5, 1.0), eps_grid=tuple(float(e) for e in np.geomspace(1e-3, 2.0, 12))),
    # ≈ 15 min on one CPU thread of the shared 2-core machine (estimated from measured parts, not yet run end
    # to end): the zoo's full-width ResNet-20 (16/32/64, option A; the intro's network). Full spectra (eigvalsh
    # of the 4,096-sided Gram matrix in float64, ≈ 45 s each; eigh with vectors ≈ 100 s) for stage-3 units
    # only: Fig. 1 six (3 images), Fig. 2 one (reused by Fig. 4), Fig. 5 three (α = 1 and t = 1 are Fig. 1's).
    # Stages 1–2 (16,384 and 8,192) and stage Jacobians by top-4 on the first image (≈ 20 s per stage-1 unit,
    # 35 ms per product); Fig. 4's alignment by top-8 Krylov on 3 units × 9 images.
    "small": P3Config(zoo="resnet20-cifar10", data=_ZOO20.data, train=_ZOO20.train, images=3, dense_max_dim=4096,
                      stage_dense_max_dim=0, top_k=4, topk_images=1, energy_k=8, alphas=(0.5, 1.0, 2.0),
                      ts=(0.0, 0.5, 1.0)),
    # One GPU: the paper's networks, option-B ResNet-110 (all figures) and ResNet-56 (Fig. 1), every spectrum
    # full (Gram side ≤ 16,384); not timed (no GPU lent).
    "standard": P3Config(model="resnet110", model_options={"shortcut": "B"}, train=_GPU_RECIPE, companion="resnet56",
                         dense_max_dim=16384, top_k=64, energy_k=64),
    "paper": P3Config(model="resnet110", model_options={"shortcut": "B"}, train=_PAPER_RECIPE, companion="resnet56",
                      dense_max_dim=16384, top_k=64, energy_k=64),
}


def network_label(cfg: P3Config, model: str | None = None) -> str:
    """Return how the chapter names a network: depth, widths, shortcut type and where it was trained."""
    model = model or cfg.model
    width = cfg.model_options.get("width", 16)
    shortcut = cfg.model_options.get("shortcut", "A")
    kind = "option B: 1×1 conv + BN projection" if shortcut == "B" else "option A: subsample + zero pad"
    origin = f"zoo network {cfg.zoo}, shared with the intro" if cfg.zoo else "trained by this chapter"
    return f"{model.replace('resnet', 'ResNet-')} (widths {width}/{2 * width}/{4 * width}; shortcuts {kind}; {origin})"


def trained_model(cfg: P3Config, profile: str, model_name: str | None = None, force: bool = False, device=None,
                  progress: bool = True):
    """Return ``(model, record, source)``: the zoo network if the config names one, else our own training run."""
    if cfg.zoo is not None:
        if not zoo.is_trained(cfg.zoo):
            raise RuntimeError(f"P3 {profile} analyses the zoo network {cfg.zoo!r}, which is not trained yet; train it "
                               f"with `python -m resnet_lab.zoo {cfg.zoo}` (P3 never trains it, nor a copy)")
        model, record = zoo.load(cfg.zoo, device=device, progress=progress)
        return model, record, f"zoo/{cfg.zoo}"
    name = model_name or cfg.model
    model, record = train_cached(EXPERIMENT, profile, name, cfg.model_options, cfg.data, cfg.train,
                                 force=force, device=device, progress=progress)
    return model, record, f"{EXPERIMENT}/{profile}"


def stage_layout(model: torch.nn.Module) -> list[list[int]]:
    """Return, per stage, the indices (in ``residual_units`` order) of its units."""
    names = [name for name, _ in residual_units(model)]
    return [[names.index(f"stages.{s}.{j}") for j in range(len(stage))] for s, stage in enumerate(model.stages)]


def _spectrum(fn, x: torch.Tensor, cfg: P3Config, vectors: bool = False, dense_max_dim: int | None = None) -> dict:
    """Return the spectrum of ``fn``'s Jacobian at ``x``: every σ if affordable, else the top-k.

    Full spectra come from eigvalsh of the smaller Gram matrix in float64 (:func:`gram_spectrum`).
    Top-k values that block Krylov did not converge on are refused: ``values`` is ``None`` and
    ``converged`` False, so no figure or verdict can use them.
    """
    op = jacobian_operator(fn, x)
    m, n = op.shape
    if min(m, n) <= (cfg.dense_max_dim if dense_max_dim is None else dense_max_dim):
        full = gram_spectrum(op, vectors=vectors)
        return {"values": full.values, "right": full.right, "dense": True, "converged": True, "shape": (m, n)}
    part = krylov_svd(op, min(cfg.top_k, m, n), tol=1e-4, seed=cfg.seed, vectors=vectors)
    ok = part.converged
    return {"values": part.values if ok else None, "right": part.right if ok else None, "dense": False,
            "converged": ok, "shape": (m, n), "orthogonality": part.orthogonality}


def _stage_inputs(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Return the input of every stage for a batch ``x``."""
    with torch.no_grad():
        h, inputs = model.stem(x), []
        for stage in model.stages:
            inputs.append(h)
            h = stage(h)
    return inputs


def _interior_probe(idx: list[int]) -> int:
    """Return the unit the paper shows for a stage: the fifth, or the last when the stage is shorter."""
    return idx[min(4, len(idx) - 1)]


def _nonzero(values: torch.Tensor) -> int:
    """Return how many singular values are above the rank threshold of :func:`spectrum_fractions`."""
    return len(values) - round(spectrum_fractions(values)["zero"] * len(values))


def _image_spread(spectra: list[torch.Tensor | None]) -> float | None:
    """Return the largest relative ℓ2 distance between two images' sorted nonzero spectra (common rank)."""
    if any(s is None for s in spectra) or len(spectra) < 2:
        return None
    r = min(_nonzero(s) for s in spectra)
    top = np.stack([s[:r].double().cpu().numpy() for s in spectra])
    dist = np.linalg.norm(top[:, None] - top[None], axis=-1)
    return float(dist.max() / np.linalg.norm(top, axis=-1).min())


def _panel(fn, inputs: torch.Tensor, cfg: P3Config, vectors_first: bool, dense_max_dim: int | None = None
           ) -> tuple[dict, list[dict]]:
    """Return the Fig. 1 record of one component over ``cfg.images`` images, and the spectra themselves."""
    spectra = [_spectrum(fn, inputs[:1], cfg, vectors=vectors_first, dense_max_dim=dense_max_dim)]
    count = cfg.images if spectra[0]["dense"] or cfg.topk_images is None else min(cfg.topk_images, cfg.images)
    spectra += [_spectrum(fn, inputs[i:i + 1], cfg, dense_max_dim=dense_max_dim) for i in range(1, count)]
    values = [sp["values"] for sp in spectra]
    record = {"dense": spectra[0]["dense"], "shape": spectra[0]["shape"],
              "is_transition": bool(getattr(fn, "is_transition", False)),
              "converged": [sp["converged"] for sp in spectra],
              "fractions": [spectrum_fractions(v) if sp["dense"] else None for v, sp in zip(values, spectra)],
              "rank": [_nonzero(v) / len(v) if sp["dense"] else None for v, sp in zip(values, spectra)],
              "sigma_max": [None if v is None else float(v[0]) for v in values],
              "nonzero_spread": _image_spread(values)}
    return record, spectra


def _fig1(model, cfg: P3Config, x: torch.Tensor, arrays: dict, prefix: str = "fig1") -> tuple[dict, dict]:
    """Fig. 1: per stage, an interior unit, the first unit and the whole stage, over ``cfg.images`` images.

    Returns the records and, per unit index, its image-0 spectrum (with right vectors in the last stage),
    which Fig. 2, 4 and 5 reuse instead of recomputing.
    """
    units = [u for _, u in residual_units(model)]
    layout = stage_layout(model)
    unit_inputs = [a[0] for a in unit_activations(model, units, x[:cfg.images])]
    stage_inputs = _stage_inputs(model, x[:cfg.images])
    fig1, first_image = {}, {}
    for s, idx in enumerate(layout):
        last = s == len(layout) - 1
        for kind, k in (("unit", _interior_probe(idx)), ("first", idx[0]), ("stage", None)):
            fn = model.stages[s] if k is None else units[k]
            inputs = stage_inputs[s] if k is None else unit_inputs[k]
            record, spectra = _panel(fn, inputs, cfg, vectors_first=last and k is not None,
                                     dense_max_dim=cfg.stage_dense_max_dim if k is None else None)
            fig1[f"{kind}_{s}"] = record
            width = max(len(sp["values"]) for sp in spectra if sp["values"] is not None) if any(
                sp["values"] is not None for sp in spectra) else cfg.top_k
            arrays[f"{prefix}_{kind}_{s}"] = np.stack([np.full(width, np.nan) if sp["values"] is None
                                                       else sp["values"].cpu().numpy() for sp in spectra])
            if k is not None:
                first_image[k] = spectra[0]
    return fig1, first_image


def _relu_activity(model, units: list, x: torch.Tensor) -> dict:
    """Return, per unit, the share of active ReLUs at its output and inside its branch (mean over images).

    The "why no plateau" diagnostic: a unit's Jacobian has at least as many zero singular values as
    inactive outputs, and σ = 1 needs directions that the branch's Jacobian annihilates.
    """
    outs = [o for _, o in unit_activations(model, units, x)]
    inner = [next((m for m in u.branch if isinstance(m, torch.nn.ReLU)), None) for u in units]
    found = capture_io(model, [m for m in inner if m is not None], x)
    branch, j = [], 0
    for m in inner:
        branch.append(None if m is None else float((found[j][1] > 0).float().mean()))
        j += m is not None
    return {"output": [float((o > 0).float().mean()) for o in outs], "branch": branch}


def _fig2(units: list, layout: list[list[int]], acts: list[tuple[torch.Tensor, torch.Tensor]], cfg: P3Config,
          first_image: dict) -> list[dict]:
    """Fig. 2: band shares of every unit's full spectrum at the first image (``None`` where unaffordable).

    Last-stage units get their right singular vectors too and join ``first_image``, so Fig. 4 reuses them.
    """
    rows = []
    for k, unit in enumerate(units):
        m, n = acts[k][1][0].numel(), acts[k][0][0].numel()
        sp = first_image.get(k)
        if sp is None and min(m, n) <= cfg.dense_max_dim:
            sp = _spectrum(unit, acts[k][0][:1], cfg, vectors=k in layout[-1])
            if k in layout[-1]:
                first_image[k] = sp
        full = sp is not None and sp["dense"]
        rows.append({"unit": k, "stage": next(s for s, idx in enumerate(layout) if k in idx),
                     "is_transition": bool(unit.is_transition), "dense": full,
                     "fractions": spectrum_fractions(sp["values"]) if full else None,
                     "sigma_max": float(sp["values"][0]) if sp is not None and sp["values"] is not None else None})
    return rows


def _fig3(model, units: list, x: torch.Tensor, y: torch.Tensor, cfg: P3Config, device) -> tuple[dict, dict]:
    """Fig. 3: the smallest flipping FGSM step and uniform noise of its norm, propagated through every unit."""
    delta_adv, eps, fooled = minimal_fgsm(model, x, y, cfg.eps_grid)
    delta_rnd = uniform_like(delta_adv, torch.Generator(device=device).manual_seed(cfg.seed))
    fig3 = {"eps": eps, "fooled": fooled,
            "adversarial": propagated_perturbations(model, units, x, x + delta_adv),
            "random": propagated_perturbations(model, units, x, x + delta_rnd),
            "input_norm": torch.linalg.vector_norm(delta_adv.flatten(1), dim=1) / x[0].numel() ** 0.5}
    return _lists(fig3), {"adversarial": delta_adv, "random": delta_rnd}


def _top_energy(unit, inp: torch.Tensor, delta: torch.Tensor, k: int, cfg: P3Config, right=None) -> float:
    """Return the share of ‖δ‖² on the top-``k`` right singular vectors divided by chance ``k/n`` (NaN: refused)."""
    if right is None:
        part = krylov_svd(jacobian_operator(unit, inp), k, tol=1e-4, seed=cfg.seed, vectors=True)
        if not part.converged:
            return math.nan
        right = part.right
    d = delta.flatten()
    share = float(projections(right[:, :k], d).square().sum() / d.square().sum())
    return share / (k / d.numel())


def _fig4(model, units: list, last: list[int], x: torch.Tensor, deltas: dict, cfg: P3Config, first_image: dict,
          arrays: dict) -> dict:
    """Fig. 4 in the last stage: Eq. (1) vs actual growth, projections α_i, and top-k alignment over all images.

    Each unit's full SVD at the first image is computed once (shared by FGSM and random); the alignment
    statistic uses the top-``energy_k`` right singular vectors at every image (block Krylov, refused if
    unconverged).
    """
    fig4 = {"units": last, "energy_k": cfg.energy_k, "dims": []}
    clean = unit_activations(model, units, x)
    svd = {}
    for k in last:
        sp = first_image.get(k)
        svd[k] = sp if sp is not None and sp.get("right") is not None else _spectrum(units[k], clean[k][0][:1], cfg,
                                                                                     vectors=True)
        fig4["dims"].append(clean[k][0][0].numel())
        if svd[k]["values"] is not None:
            arrays[f"fig4_sigma_{k}"] = svd[k]["values"].cpu().numpy()
    for name, delta in deltas.items():
        pert = unit_activations(model, units, x + delta)
        rows = {"actual": [], "predicted": [], "energy_ratio": []}
        for k in last:
            d_in, d_out = pert[k][0] - clean[k][0], pert[k][1] - clean[k][1]
            norm_in = torch.linalg.vector_norm(d_in.flatten(1), dim=1)
            pred = [float(torch.linalg.vector_norm(jacobian_operator(units[k], clean[k][0][i:i + 1])
                                                   .matvec(d_in[i].flatten()))) for i in range(len(x))]
            rows["predicted"].append((torch.tensor(pred) / norm_in.cpu()).tolist())
            rows["actual"].append((torch.linalg.vector_norm(d_out.flatten(1), dim=1) / norm_in).cpu().tolist())
            right0 = svd[k]["right"]
            k_e = min(cfg.energy_k, d_in[0].numel())
            reuse = right0 if right0 is not None and right0.shape[1] >= k_e else None  # full SVD: its top k_e
            rows["energy_ratio"].append([_top_energy(units[k], clean[k][0][i:i + 1], d_in[i], k_e, cfg,
                                                     right=reuse if i == 0 else None) for i in range(len(x))])
            if right0 is not None:
                arrays[f"fig4_alpha_{name}_{k}"] = projections(right0, d_in[0].flatten()).cpu().numpy()
        fig4[name] = rows
    return fig4


def _share_near(values: torch.Tensor, level: float, band: float = 0.01) -> float:
    """Return the fraction of singular values within ``±band·level`` of ``level``."""
    return float(((values - level).abs() <= band * level).float().mean())


def _fig5(probe, probe_x: torch.Tensor, cfg: P3Config, unscaled: dict | None, arrays: dict) -> dict:
    """Fig. 5 on the probe unit (first image): the skip scaled by α, and weights interpolated toward noise."""
    base = unscaled if unscaled is not None and unscaled["dense"] else _spectrum(probe, probe_x, cfg)
    fig5 = {"alphas": list(cfg.alphas), "ts": list(cfg.ts), "dense": base["dense"]}
    if not base["dense"]:
        return fig5
    fig5.update(share_at_alpha=[], unscaled_share_at_alpha=[], share_at_one=[], t_fractions=[])
    for a in cfg.alphas:
        sp = base if a == 1.0 else _spectrum(scaled_skip(probe, a), probe_x, cfg)
        arrays[f"fig5_alpha_{a}"] = sp["values"].cpu().numpy()
        fig5["share_at_alpha"].append(_share_near(sp["values"], a))
        fig5["unscaled_share_at_alpha"].append(_share_near(base["values"], a))
        fig5["share_at_one"].append(_share_near(sp["values"], 1.0))
    for t in cfg.ts:
        sp = base if t == 1.0 else _spectrum(interpolate_weights(probe, t, seed=cfg.seed), probe_x, cfg)
        arrays[f"fig5_t_{t}"] = sp["values"].cpu().numpy()
        fig5["t_fractions"].append(spectrum_fractions(sp["values"]))
    return fig5


def _jacobian_test(probe, probe_x: torch.Tensor, cfg: P3Config) -> dict:
    """P3.1: the Jacobian test on a float64 copy of the probe unit, with ReLU and with its softplus twin."""
    double = copy.deepcopy(probe).double()
    out = {"relu": jacobian_test(double, probe_x.double(), cfg.jacobian_eps, cfg.seed)}
    with SmoothActivation():
        out["softplus"] = jacobian_test(double, probe_x.double(), cfg.jacobian_eps, cfg.seed)
    return out


def _pick_images(model, test, cfg: P3Config, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``perturb_images`` correctly classified test images and labels (a seeded random choice)."""
    x_all, y_all = test.normalized(device), test.labels.to(device)
    with torch.no_grad():  # in batches: 10,000 images at once would hold gigabytes of activations
        pred = torch.cat([model(x_all[i:i + 500]).argmax(1) for i in range(0, len(x_all), 500)])
    correct = (pred == y_all).nonzero().flatten().cpu()
    pick = correct[torch.randperm(len(correct), generator=torch.Generator().manual_seed(cfg.seed))]
    pick = pick[:cfg.perturb_images].to(device)
    return x_all[pick], y_all[pick]


def measure(model, cfg: P3Config, test, device, arrays: dict) -> dict:
    """Return every number P3's figures and claims need for one network (spectra go into ``arrays``)."""
    model = model.to(device).eval()
    _, accuracy = evaluate(model, test, device)
    x, y = _pick_images(model, test, cfg, device)
    units = [u for _, u in residual_units(model)]
    layout = stage_layout(model)
    timings, tic = {}, time.perf_counter()
    fig1, first_image = _fig1(model, cfg, x, arrays)
    timings["fig1_s"], tic = time.perf_counter() - tic, time.perf_counter()
    acts = unit_activations(model, units, x)
    unit_inputs = [a[0] for a in acts]
    fig2 = _fig2(units, layout, acts, cfg, first_image)
    activity = _relu_activity(model, units, x)
    timings["fig2_s"], tic = time.perf_counter() - tic, time.perf_counter()
    fig3, deltas = _fig3(model, units, x, y, cfg, device)
    fig4 = _fig4(model, units, layout[-1], x, deltas, cfg, first_image, arrays)
    timings["fig4_s"], tic = time.perf_counter() - tic, time.perf_counter()
    probe_k = _interior_probe(layout[cfg.probe_stage - 1])
    probe_x = unit_inputs[probe_k][:1]
    jtest = _jacobian_test(units[probe_k], probe_x, cfg)
    fig5 = {"unit": probe_k, **_fig5(units[probe_k], probe_x, cfg, first_image.get(probe_k), arrays)}
    timings["fig5_s"] = time.perf_counter() - tic
    return {"test_accuracy": accuracy, "test_images": len(test), "layout": layout, "fig1": fig1, "fig2": fig2,
            "relu_activity": activity, "fig3": fig3, "fig4": fig4, "jacobian_test": jtest, "fig5": fig5,
            "timings_s": timings}


def _companion(cfg: P3Config, profile: str, test, device, arrays: dict, force: bool, progress: bool) -> dict:
    """Return Fig. 1 and the test accuracy of the companion network (ResNet-56 beside ResNet-110)."""
    model, _, source = trained_model(cfg, profile, cfg.companion, force, device, progress)
    model = model.to(device).eval()
    _, accuracy = evaluate(model, test, device)
    x, _ = _pick_images(model, test, cfg, device)
    fig1, _ = _fig1(model, replace(cfg, model=cfg.companion), x, arrays, prefix="companion_fig1")
    return {"model": cfg.companion, "network": network_label(cfg, cfg.companion), "source": source,
            "test_accuracy": accuracy, "layout": stage_layout(model), "fig1": fig1}


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Load (or train) the network(s), then measure everything P3's claims need; cached per profile."""
    cfg = select(PROFILES, profile)
    device = default_device(device)

    def compute() -> dict:
        model, record, source = trained_model(cfg, profile, force=force, device=device, progress=progress)
        test = cfg.data.load("test")
        arrays: dict[str, np.ndarray] = {}
        out = measure(model, cfg, test, device, arrays)
        if cfg.companion:
            out["companion"] = _companion(cfg, profile, test, device, arrays, force, progress)
        save_arrays(artifact_dir(EXPERIMENT, profile) / "spectra.npz", **arrays)
        return {"config": asdict(cfg), "network": network_label(cfg), "model_source": source,
                "train_record": {k: record.get(k) for k in ("diverged", "wall_time_s")}, **out,
                "device": str(device), "data_source": test.source}

    return cached(EXPERIMENT, profile, compute, force)


def control_result(device=None) -> dict:
    """Return the negative control: the smoke measurement on the same architecture at initialisation.

    An untrained ResNet-20 (width 2, seeded, BN at its initial running statistics) where none of P3's
    claims about trained networks should hold; cached under ``artifacts/p3/control`` (git-ignored).
    """
    cfg = PROFILES["smoke"]
    device = default_device(device)

    def compute() -> dict:
        torch.manual_seed(cfg.seed)
        model = build_model(cfg.model, **cfg.model_options)
        test = cfg.data.load("test")
        arrays: dict[str, np.ndarray] = {}
        out = measure(model, cfg, test, device, arrays)
        save_arrays(artifact_dir(EXPERIMENT, "control") / "spectra.npz", **arrays)
        return {"config": asdict(cfg), "network": network_label(cfg) + " at initialisation (epoch 0)",
                "model_source": "initialisation", **out, "device": str(device), "data_source": test.source}

    return cached(EXPERIMENT, "control", compute, config=cfg)


def spectra(profile: str) -> dict[str, np.ndarray]:
    """Return the singular-value arrays that :func:`run` saved beside its result (figures 1, 4, 5)."""
    return load_arrays(artifact_dir(EXPERIMENT, profile) / "spectra.npz")


def _lists(d: dict) -> dict:
    return {k: v.detach().cpu().tolist() if isinstance(v, torch.Tensor) else v for k, v in d.items()}


# ----------------------------------------------------------------------------------------------------------
# Claims: one small function per row, every number from the result.

def claims(result: dict) -> list[Claim]:
    """Return the P3 ledger: one row per declared claim, every verdict computed from ``result``."""
    profile = profile_of(result)
    rows = [_claim_jacobian_test(result), _claim_spectra(result), _claim_fractions(result),
            _claim_propagation(result), _claim_alignment(result), _claim_fig5(result)]
    return [replace(r, profile=profile) for r in rows]


def _accuracy(result: dict, with_companion: bool = False):
    """Return the gate's measured value: the test accuracy, or one per network when a companion was measured."""
    comp = result.get("companion")
    if not (with_companion and comp):
        return result.get("test_accuracy")
    return {result["config"]["model"]: result.get("test_accuracy"), comp["model"]: comp.get("test_accuracy")}


def _over_images(values) -> Estimate:
    """Return the mean over images with its standard error (NaN with one image)."""
    v = np.asarray([x for x in values if x is not None and x == x], dtype=np.float64)
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return Estimate(float(v.mean()) if v.size else math.nan, se, int(v.size), "images")


def _level(est: Estimate, hold: float, partly: float) -> str:
    """Return ``"hold"``, ``"partly"`` or ``"fail"`` for an estimate against two bars, ``"band"`` if undecided."""
    above = lambda bar: sign(Estimate(est.value - bar, est.se, est.n, est.method))  # noqa: E731
    if above(hold) == 1:
        return "hold"
    s = above(partly)
    return {1: "partly", -1: "fail"}.get(s, "band")


def _pct(values) -> str:
    return ", ".join("n/a" if v is None else f"{v:.1%}" for v in values) or "n/a"


def _claim_jacobian_test(result: dict) -> Claim:
    spec, jt = CLAIMS["P3.1"], result["jacobian_test"]
    smooth = jt["softplus"]
    first = decay_order(smooth["eps"][:-1], smooth["first"][:-1])  # the last step is near round-off
    zeroth = decay_order(smooth["eps"], smooth["zeroth"])
    relu_ratio = jt["relu"]["first"][2] / max(jt["relu"]["zeroth"][2], 1e-300)
    ok = first >= spec.t["first"] and spec.t["zeroth_lo"] <= zeroth <= spec.t["zeroth_hi"]
    value = (f"slopes {first:.2f} (error) vs {zeroth:.2f} (difference); ReLU unit at ε={jt['relu']['eps'][2]:g}: "
             f"error/difference = {relu_ratio:.1e} (piecewise linear)")
    return spec.row(value, "holds" if ok else "fails", band=exact(first))


def _networks(result: dict) -> list[tuple[str, dict, int]]:
    """Return ``(model, fig1, stages)`` for the main network and the companion, if one was measured."""
    nets = [(result.get("config", {}).get("model", "net"), result["fig1"], len(result["layout"]))]
    comp = result.get("companion")
    if comp:
        nets.append((comp["model"], comp["fig1"], len(comp["layout"])))
    return nets


def _plateau(panel: dict) -> Estimate:
    return _over_images([fr["plateau"] for fr in panel["fractions"] if fr is not None])


def _spectra_checks(nets: list, t: dict) -> tuple[dict, list[str]]:
    """Return P3.2's secondary checks (True/False, or None when unmeasured) and their text."""
    rank, spread, rank_var, trans, big, stage_pl = [], [], [], [], [], []
    for _, f1, n_stages in nets:
        for s in range(n_stages):
            unit, first, stage = f1[f"unit_{s}"], f1[f"first_{s}"], f1[f"stage_{s}"]
            if unit["dense"]:
                ranks = [1 - fr["zero"] for fr in unit["fractions"]]
                rank.append(float(np.mean(ranks)))
                rank_var.append(max(ranks) - min(ranks))
                if unit.get("nonzero_spread") is not None:
                    spread.append(unit["nonzero_spread"])
                if s >= 1 and first["dense"]:
                    trans.append(_plateau(first).value < t["trans"] * _plateau(unit).value)
            if None not in stage["sigma_max"] and None not in unit["sigma_max"]:
                big.append(np.mean(stage["sigma_max"]) >= t["stage_big"] * np.mean(unit["sigma_max"]))
            if stage["dense"]:
                stage_pl.append(_plateau(stage).value)
    checks = {"rank": min(rank) >= t["rank"] if rank else None,
              "spread": max(spread) <= t["spread"] if spread else None,
              "transitions": all(trans) if trans else None,
              "stage σ_max": all(big) if big else None,
              "stage plateau": all(p < t["stage_plateau"] for p in stage_pl) if stage_pl else None}
    text = [f"rank {_pct(rank)} (variation between images ≤ {max(rank_var, default=0):.1%})",
            f"nonzero-spectrum spread ≤ {max(spread):.3f}" if spread else "spread n/a",
            f"transitions without plateau {sum(trans)}/{len(trans)}",
            f"stage σ_max ≥ {t['stage_big']:.0f}× unit σ_max {sum(big)}/{len(big)}",
            f"stage plateau {_pct(stage_pl)}"]
    return checks, text


def _claim_spectra(result: dict) -> Claim:
    spec, t = CLAIMS["P3.2"], CLAIMS["P3.2"].t
    nets = _networks(result)
    plateaus = {f"{m} stage {s + 1}": _plateau(f1[f"unit_{s}"]) for m, f1, n in nets for s in range(n)
                if f1[f"unit_{s}"]["dense"]}
    gate = _accuracy(result, with_companion=True)
    if not plateaus:
        return spec.row("—", "inconclusive", "no interior unit small enough for a full spectrum at this profile",
                        gate_measured=gate)
    worst_key = min(plateaus, key=lambda k: plateaus[k].value)
    level = _level(plateaus[worst_key], t["hold"], t["partly"])
    checks, text = _spectra_checks(nets, t)
    measured = [c for c in checks.values() if c is not None]
    value = (f"interior plateau {', '.join(f'{k}: {e.value:.1%}' for k, e in plateaus.items())}; "
             + "; ".join(text))
    failed = [k for k, c in checks.items() if c is False]
    reason = f"smallest plateau {worst_key} {plateaus[worst_key]}" + (f"; secondary failed: {', '.join(failed)}"
                                                                     if failed else "")
    if level == "band":
        return spec.row(value, "inconclusive", f"plateau {plateaus[worst_key]} inside the band around "
                        f"{t['partly']:.0%}", gate_measured=gate, band=plateaus)
    if level == "hold" and all(measured):
        verdict = "holds"
    elif level in ("hold", "partly") and sum(measured) >= len(measured) / 2:
        verdict = "partly"
    else:
        verdict = "fails"
    return spec.row(value, verdict, reason, gate_measured=gate, band=plateaus)


def _trend(x: list, y: list, want: int, minimum: int, p_max: float) -> tuple[int | None, float, float]:
    """Return (+1 significant in the wanted direction, −1 the other way, 0 neither; None: too few), ρ, p."""
    from scipy.stats import spearmanr

    if len(x) < minimum:
        return None, math.nan, math.nan
    res = spearmanr(x, y)
    rho, p = float(res.statistic), float(res.pvalue)
    if not (rho == rho) or p >= p_max:
        return 0, rho, p
    return (1 if np.sign(rho) == want else -1), rho, p


def _claim_fractions(result: dict) -> Claim:
    spec, t = CLAIMS["P3.3"], CLAIMS["P3.3"].t
    last = len(result["layout"]) - 1
    interior = [u for u in result["fig2"] if u["fractions"] is not None and not u["is_transition"]]
    s3 = [u for u in interior if u["stage"] == last]
    parts = {"σ > 1.01 falls": _trend([u["unit"] for u in interior], [u["fractions"]["above"] for u in interior],
                                      -1, t["min_units"], t["p"]),
             "stage-3 plateau shrinks": _trend([u["unit"] for u in s3], [u["fractions"]["plateau"] for u in s3],
                                               -1, t["min_stage"], t["p"]),
             "stage-3 rank drops": _trend([u["unit"] for u in s3], [u["fractions"]["zero"] for u in s3],
                                          1, t["min_stage"], t["p"])}
    value = (f"{len(interior)} interior units with full spectra ({len(s3)} in the last stage); "
             + "; ".join(f"{k}: ρ = {r:.2f}, p = {p:.2g}" if o is not None else f"{k}: too few units"
                         for k, (o, r, p) in parts.items()))
    band = {"interior units": len(interior), "last-stage interior units": len(s3),
            **{f"p ({k})": p for k, (o, _, p) in parts.items() if o is not None}}
    outcomes = [o for o, _, _ in parts.values()]
    gate = _accuracy(result)
    if all(o is None for o in outcomes):
        return spec.row(value, "inconclusive", f"too few interior units with full spectra: {len(interior)} < "
                        f"{t['min_units']} and {len(s3)} < {t['min_stage']} in the last stage", gate_measured=gate,
                        band=band)
    if all(o == 1 for o in outcomes):
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if any(o == 1 for o in outcomes):
        return spec.row(value, "partly", gate_measured=gate, band=band)
    if any(o == -1 for o in outcomes):
        return spec.row(value, "fails", gate_measured=gate, band=band)
    return spec.row(value, "inconclusive", f"no trend beyond noise (p ≥ {t['p']})", gate_measured=gate, band=band)


def _log_growth(per_unit: np.ndarray, last: list[int], late: float) -> tuple[np.ndarray, np.ndarray]:
    """Return per image the mean log growth per unit over the last stage's late units and over its earlier ones.

    Growth of unit k is ``log p_k − log p_{k−1}``, for the units after the stage's transition; "late" is the
    last ``ceil(late · len(stage))`` of them.
    """
    logs = np.log(np.maximum(per_unit[last], 1e-300))
    growth = logs[1:] - logs[:-1]  # (units after the first, images)
    n_late = max(1, math.ceil(late * len(last)))
    return growth[-n_late:].mean(0), growth[:-n_late].mean(0) if len(growth) > n_late else np.full(logs.shape[1],
                                                                                                  np.nan)


def _claim_propagation(result: dict) -> Claim:
    spec, t = CLAIMS["P3.4"], CLAIMS["P3.4"].t
    f3, last = result["fig3"], result["layout"][-1]
    fooled = np.array(f3["fooled"], dtype=bool)
    gate = _accuracy(result)
    adv, rnd = np.array(f3["adversarial"], dtype=float)[:, fooled], np.array(f3["random"], dtype=float)[:, fooled]
    short = ([f"{int(fooled.sum())} of {len(fooled)} images fooled by FGSM on the step grid (need "
              f"{t['min_images']})"] if fooled.sum() < t["min_images"] else []) + (
        [f"{len(last)} last-stage units (need 3)"] if len(last) < 3 else [])
    if short:
        return spec.row("—", "inconclusive", "; ".join(short), gate_measured=gate)
    adv_late, adv_early = _log_growth(adv, last, t["late"])
    rnd_late, _ = _log_growth(rnd, last, t["late"])
    excess, diverge, rnd_est = bootstrap(adv_late - adv_early), bootstrap(adv_late - rnd_late), bootstrap(rnd_late)
    s_excess, s_div, s_rnd = sign(excess), sign(diverge), sign(rnd_est)
    value = (f"FGSM per-unit growth ×{math.exp(adv_late.mean()):.2f} late vs ×{math.exp(adv_early.mean()):.2f} "
             f"earlier (log difference {excess}); random ×{math.exp(rnd_late.mean()):.2f} late; FGSM − random late "
             f"log growth {diverge} ({int(fooled.sum())}/{len(fooled)} images fooled)")
    band = {"late − earlier (FGSM)": excess, "FGSM − random (late)": diverge, "random late": rnd_est}
    if s_excess == 1 and s_div == 1 and s_rnd != 1:
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if 1 in (s_excess, s_div):
        return spec.row(value, "partly", gate_measured=gate, band=band)
    if -1 in (s_excess, s_div):
        return spec.row(value, "fails", gate_measured=gate, band=band)
    return spec.row(value, "inconclusive", "both differences inside 2 s.e.", gate_measured=gate, band=band)


def _claim_alignment(result: dict) -> Claim:
    spec, t = CLAIMS["P3.5"], CLAIMS["P3.5"].t
    f4, gate = result["fig4"], _accuracy(result)
    pred = np.array(f4["adversarial"]["predicted"], dtype=float)
    act = np.array(f4["adversarial"]["actual"], dtype=float)
    err = float(np.nanmedian(np.abs(pred - act) / act)) if np.isfinite(act).any() else float("nan")
    err_ok = err <= t["err"]
    if "energy_ratio" not in f4["adversarial"]:
        return spec.row(f"median Eq. (1) error {err:.1%}", "inconclusive", "this result predates the "
                        "chance-normalised top-k energy over all images; re-run to measure it", gate_measured=gate)
    adv, rnd = (np.array(f4[kind]["energy_ratio"], dtype=float) for kind in ("adversarial", "random"))
    keep = np.isfinite(adv[1]) & np.isfinite(adv[-1]) & np.isfinite(rnd[-1])  # refused (unconverged) entries drop
    if keep.sum() < t["min_images"]:
        return spec.row(f"median Eq. (1) error {err:.1%}", "inconclusive", f"{int(keep.sum())} images with converged "
                        f"top-k vectors (need {t['min_images']})", gate_measured=gate)
    later = bootstrap(np.log(adv[-1, keep]) - np.log(adv[1, keep]))
    vs_rnd = bootstrap(np.log(adv[-1, keep]) - np.log(rnd[-1, keep]))
    align = [sign(later), sign(vs_rnd)]
    gmean = lambda row: float(np.exp(np.log(row[keep]).mean()))  # noqa: E731 - geometric mean over images
    value = (f"median Eq. (1) error {err:.1%}; top-{f4['energy_k']} energy / chance, FGSM: {gmean(adv[1]):.2f} "
             f"(first interior unit) → {gmean(adv[-1]):.2f} (last unit), random at the last unit {gmean(rnd[-1]):.2f} "
             f"(geometric means over {int(keep.sum())} images)")
    band = {"log ratio last − first interior (FGSM)": later, "log ratio FGSM − random (last)": vs_rnd,
            "Eq. (1) median error": exact(err)}
    n_ok = err_ok + sum(s == 1 for s in align)
    if n_ok == 3:
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if n_ok == 2:
        return spec.row(value, "partly", gate_measured=gate, band=band)
    if err_ok and all(s in (0, None) for s in align):
        return spec.row(value, "inconclusive", "both alignment differences inside 2 s.e.", gate_measured=gate,
                        band=band)
    return spec.row(value, "fails", f"Eq. (1) error {err:.1%}" if not err_ok else "", gate_measured=gate, band=band)


def _skip_part(f5: dict, t: dict) -> tuple[bool | None, str]:
    """Return whether scaling the skip moved the plateau (None: untestable) and the text."""
    if "share_at_alpha" not in f5:
        return None, "skip part not measured in this result (it predates the unscaled baseline)"
    alphas, at_a, base, at_1 = f5["alphas"], f5["share_at_alpha"], f5["unscaled_share_at_alpha"], f5["share_at_one"]
    p1 = at_a[alphas.index(1.0)]
    text = (f"plateau at α = 1: {p1:.1%}; share at α (unscaled baseline, share left at 1): "
            + ", ".join(f"α = {a:g}: {s:.1%} ({b:.1%}, {o:.1%})" for a, s, b, o in zip(alphas, at_a, base, at_1)
                        if a != 1.0))
    if p1 < t["min_plateau"]:
        return None, text + f" — no plateau to move ({p1:.1%} < {t['min_plateau']:.0%})"
    moved = all(s >= max(t["moved"] * b, 0.5 * p1) and o <= t["vanish"] * p1
                for a, s, b, o in zip(alphas, at_a, base, at_1) if a != 1.0)
    return moved, text


def _claim_fig5(result: dict) -> Claim:
    spec, t = CLAIMS["P3.6"], CLAIMS["P3.6"].t
    f5, gate = result["fig5"], _accuracy(result)
    t_fr = f5.get("t_fractions")
    if not t_fr or None in t_fr:
        return spec.not_run("the probe unit's spectrum was too large for a full spectrum at this profile")
    skip, skip_text = _skip_part(f5, t)
    plateau_t = [fr["plateau"] for fr in t_fr]
    best = int(np.argmax(plateau_t))
    builds = plateau_t[best] >= t["min_plateau"] and plateau_t[0] < plateau_t[best] and 0 < f5["ts"][best] < 1
    value = (f"{skip_text}; plateau by t: " + ", ".join(f"{x:g}: {p:.1%}" for x, p in zip(f5["ts"], plateau_t)))
    parts = [p for p in (skip, builds) if p is not None]
    band = {"plateau at t (share of σ, one image)": {f"{x:g}": round(p, 4) for x, p in zip(f5["ts"], plateau_t)}}
    reason = "" if skip is not None else "skip part untestable (" + skip_text.split(" — ")[-1] + ")"
    if all(parts) and len(parts) == 2:
        return spec.row(value, "holds", gate_measured=gate, band=band)
    if any(parts):
        return spec.row(value, "partly", reason, gate_measured=gate, band=band)
    return spec.row(value, "fails", reason, gate_measured=gate, band=band)


# ----------------------------------------------------------------------------------------------------------
# Synthetic results for the negative-control runner and the logic tests: built to hold, to fail, to be
# inconclusive (noise band) and gated (accuracy below the gate).

def _synthetic(kind: str, accuracy: float = 0.92, seed: int = 0) -> dict:
    """Return a hand-built result (3 stages of 6 units, 6 images) whose numbers make each row ``kind``."""
    rng = np.random.default_rng(seed)
    layout = [list(range(6 * s, 6 * s + 6)) for s in range(3)]
    hold, fail = kind == "holds", kind == "fails"
    plateau = {"holds": 0.6, "fails": 0.02, "band": 0.10}[kind]
    images = 3

    def panel(p: float, dense: bool = True, smax: float = 2.0, spread: float = 0.05, wobble: float = 0.002) -> dict:
        ps = [p + wobble * d for d in ((-1, 0, 1) if kind != "band" else (-20, 0, 20))]
        fr = [{"above": 0.2, "plateau": q, "below": 0.7 - q, "zero": 0.1} for q in ps]
        return {"dense": dense, "shape": [64, 64], "is_transition": False, "converged": [True] * images,
                "fractions": fr if dense else [None] * images, "rank": [0.9] * images, "sigma_max": [smax] * images,
                "nonzero_spread": spread}

    fig1 = {}
    for s in range(3):
        fig1[f"unit_{s}"] = panel(plateau)
        fig1[f"first_{s}"] = panel(0.02 if hold else plateau)
        fig1[f"stage_{s}"] = panel(0.01 if hold else plateau, smax=10.0 if hold else 2.0)
    trend = {"holds": 1.0, "fails": -1.0, "band": 0.0}[kind]
    fig2 = []
    for k in range(18):
        j = k - 12
        noise = 0.01 * ((-1) ** k) if kind == "band" else 0.0
        fr = {"above": 0.4 - 0.01 * trend * k + noise, "plateau": 0.5 - 0.02 * trend * max(j, 0) + noise,
              "zero": 0.05 + 0.02 * trend * max(j, 0) + noise}
        fr["below"] = 1 - fr["above"] - fr["plateau"] - fr["zero"]
        fig2.append({"unit": k, "stage": k // 6, "is_transition": k in (6, 12), "dense": True, "fractions": fr,
                     "sigma_max": 2.0})
    n = 8
    late = {"holds": 3.0, "fails": 1.0, "band": 1.2}[kind]
    early = {"holds": 1.1, "fails": 2.0, "band": 1.2}[kind]
    growth = np.array([1.0] * 13 + [early] * 3 + [late] * 2)[:, None] * rng.lognormal(0, 0.05, (18, n))
    adv = np.cumprod(growth, axis=0)
    rnd_growth = np.array([1.0] * 13 + [1.0] * 3 + [{"holds": 0.8, "fails": 1.5, "band": 1.2}[kind]] * 2)
    rnd = np.cumprod(rnd_growth[:, None] * rng.lognormal(0, 0.05, (18, n)), axis=0)
    if kind == "band":  # per-image noise larger than any effect
        adv = np.cumprod(rng.lognormal(0, 0.5, (18, n)), axis=0)
        rnd = adv * rng.lognormal(0, 0.5, (18, n))
    fig3 = {"eps": [0.01] * n, "fooled": [True] * n, "adversarial": adv.tolist(), "random": rnd.tolist()}
    act = rng.uniform(1, 2, (6, n))
    pred = act * (1.5 if fail else 1.0 + rng.normal(0, 0.01, act.shape))
    e_adv = np.ones((6, n)) * rng.lognormal(0, 0.1, (6, n))
    e_rnd = np.ones((6, n)) * rng.lognormal(0, 0.1, (6, n))
    if hold:
        e_adv[-1] *= 10
    if kind == "band":
        e_adv, e_rnd = rng.lognormal(0, 1.0, (6, n)), rng.lognormal(0, 1.0, (6, n))
    if fail:
        e_adv[-1] /= 5
    fig4 = {"units": layout[-1], "energy_k": 8, "dims": [256] * 6,
            "adversarial": {"actual": act.tolist(), "predicted": pred.tolist(), "energy_ratio": e_adv.tolist()},
            "random": {"actual": act.tolist(), "predicted": act.tolist(), "energy_ratio": e_rnd.tolist()}}
    eps = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
    slope = 1.0 if fail else 2.0
    jt = {name: {"eps": eps, "zeroth": eps, "first": [e ** slope for e in eps]} for name in ("relu", "softplus")}
    p1 = 0.6 if kind != "band" else 0.05
    fig5 = {"unit": 14, "alphas": [0.5, 1.0, 2.0], "ts": [0.0, 0.5, 1.0], "dense": True,
            "share_at_alpha": [0.5 if hold else 0.01, p1, 0.5 if hold else 0.01],
            "unscaled_share_at_alpha": [0.01, p1, 0.0],
            "share_at_one": [0.02 if hold else p1, p1, 0.02 if hold else p1],
            "t_fractions": [{"above": 0.3, "plateau": q, "below": 0.6 - q, "zero": 0.1}
                            for q in ((0.02, 0.7, 0.6) if hold else (0.3, 0.2, 0.6) if fail else (0.01, 0.02, 0.05))]}
    return {"provenance": {"profile": "synthetic"}, "config": {"model": "resnet-synthetic"}, "test_accuracy": accuracy,
            "layout": layout, "fig1": fig1, "fig2": fig2, "fig3": fig3, "fig4": fig4, "jacobian_test": jt,
            "fig5": fig5}


def synthetic_results() -> dict[str, tuple[dict, dict[str, str]]]:
    """Return ``{name: (result, {claim id: verdict it must get})}``: fixtures for every row and verdict."""
    gated = {c: "inconclusive" for c in CLAIMS if not CLAIMS[c].implementation_check}
    return {
        "holds": (_synthetic("holds"), {c: "holds" for c in CLAIMS}),
        "fails": (_synthetic("fails"), {c: "fails" for c in CLAIMS}),
        "inside the noise band": (_synthetic("band"), {"P3.1": "holds", "P3.2": "inconclusive", "P3.3": "inconclusive",
                                                       "P3.4": "inconclusive", "P3.5": "inconclusive",
                                                       "P3.6": "fails"}),
        "gate unmet (holds otherwise)": (_synthetic("holds", accuracy=0.52), {"P3.1": "holds", **gated}),
    }

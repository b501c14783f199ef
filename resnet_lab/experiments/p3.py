"""P3 — ResNets as nonlinear systems: Jacobian spectra of units and stages, propagated perturbations.

Rothauge, Hu, Yao & Mahoney (2019). A trained CIFAR ResNet is linearised unit by unit
(``resnet_lab.metrics.jacobian``); perturbations of test images are propagated through it
(``resnet_lab.metrics.perturb``). Every verdict in :func:`claims` is computed from the numbers of :func:`run`.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from scipy.stats import spearmanr

from ..artifacts import artifact_dir, cached, load_arrays, save_arrays
from ..data import DataSpec
from ..ledger import Claim, judge
from ..metrics.jacobian import (
    SmoothActivation,
    decay_order,
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
    unit_activations,
    uniform_like,
)
from ..models import residual_units
from ..profiles import select
from ..train import TrainConfig, evaluate, run_key, train_cached


@dataclass(frozen=True)
class P3Config:
    model: str = "resnet20"
    model_options: dict = field(default_factory=dict)
    data: DataSpec = DataSpec("cifar10")
    train: TrainConfig = TrainConfig()
    intro_profile: str | None = None  # use the intro chapter's trained net at this profile if its checkpoint exists
    images: int = 5                   # test images whose spectra are overlaid (Fig. 1)
    perturb_images: int = 10          # test images whose perturbations are propagated (Fig. 3)
    dense_max_dim: int = 8192         # largest Jacobian side for an exact (dense) spectrum; beyond it, top-k only
    top_k: int = 64                   # singular values from block Krylov where the spectrum is not dense
    probe_stage: int = 3              # stage (1-based) whose interior unit gets the Jacobian test and Fig. 5
    eps_grid: tuple[float, ...] = tuple(float(e) for e in np.geomspace(1e-3, 0.5, 28))  # FGSM steps (normalised input)
    alphas: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)   # skip scales α (Fig. 5 left)
    ts: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # weight interpolation t (Eq. 3, Fig. 5 right)
    jacobian_eps: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
    seed: int = 0


PROFILES = {
    # Seconds on a CPU: a width-2 ResNet-20 after 30 SGD steps on 1,000 images; stage 1 (2,048) by top-8 only.
    "smoke": P3Config(model_options={"width": 2}, data=DataSpec("cifar10", train_per_class=100, test_per_class=20),
                      train=TrainConfig(epochs=1, batch_size=32, lr=0.05, schedule="onecycle",
                                        max_steps_per_epoch=30),
                      images=3, perturb_images=4, dense_max_dim=1024, top_k=8, alphas=(0.5, 1.0, 2.0), ts=(0.0, 0.5, 1.0),
                      eps_grid=tuple(float(e) for e in np.geomspace(1e-3, 2.0, 12))),
    # ~20 min on a shared 2-core CPU: a half-width ResNet-20 (widths 8/16/32) trained 4 epochs on 10k images, so
    # that stages 2–3 (4,096 and 2,048 per map) get dense spectra; stage 1 (8,192) by top-64 only; 3 images.
    "small": P3Config(model_options={"width": 8}, data=DataSpec("cifar10", train_per_class=1000, test_per_class=100),
                      train=TrainConfig(epochs=4, batch_size=128, lr=0.2, nesterov=True, schedule="onecycle"),
                      images=3, dense_max_dim=4096, probe_stage=2),
    # One GPU: the intro's ResNet-56 (trained there), the paper's 5 and 10 images; dense spectra up to 8,192
    # (stages 2–3), stage 1 (16,384) by top-64, to keep ~30 dense SVDs within minutes (not timed: no GPU lent).
    "standard": P3Config(model="resnet56", intro_profile="standard", dense_max_dim=8192, probe_stage=2),
    # The paper: ResNet-56 trained with He et al.'s protocol (the intro's paper profile), every spectrum dense.
    # (The paper also studies ResNet-110: P3Config(model="resnet110", intro_profile=None, train=<that protocol>).)
    "paper": P3Config(model="resnet56", intro_profile="paper", dense_max_dim=16384, probe_stage=1),
}


def trained_model(cfg: P3Config, profile: str, force: bool = False, device=None, progress: bool = True):
    """Return ``(model, record, source)``: the intro's network if its checkpoint exists, else our own run."""
    if cfg.intro_profile is not None:
        from . import intro

        icfg = select(intro.PROFILES, cfg.intro_profile)
        if icfg.model != cfg.model:
            raise ValueError(f"intro's {cfg.intro_profile} network is {icfg.model}, this config asks for {cfg.model}")
        key = run_key(icfg.model, icfg.model_options, icfg.data, icfg.train)
        if (artifact_dir("intro", cfg.intro_profile) / f"model-{key}.pt").exists() or profile in ("standard", "paper"):
            model, record = intro.trained_model(cfg.intro_profile, force, device, progress)
            return model, record, f"intro/{cfg.intro_profile}"
    model, record = train_cached("p3", profile, cfg.model, cfg.model_options, cfg.data, cfg.train,
                                 force=force, device=device, progress=progress)
    return model, record, f"p3/{profile}"


def stage_layout(model: torch.nn.Module) -> list[list[int]]:
    """Return, per stage, the indices (in ``residual_units`` order) of its units."""
    names = [name for name, _ in residual_units(model)]
    return [[names.index(f"stages.{s}.{j}") for j in range(len(stage))] for s, stage in enumerate(model.stages)]


def _spectrum(fn, x: torch.Tensor, cfg: P3Config, vectors: bool = False) -> dict:
    """Return the spectrum of ``fn``'s Jacobian at ``x``: all singular values if affordable, else top-k."""
    op = jacobian_operator(fn, x)
    m, n = op.shape
    if max(m, n) <= cfg.dense_max_dim:
        dense = op.dense()
        if vectors:
            _, s, vh = torch.linalg.svd(dense, full_matrices=False)
            return {"values": s, "dense": True, "right": vh.T, "shape": (m, n)}
        return {"values": torch.linalg.svdvals(dense), "dense": True, "shape": (m, n)}
    part = krylov_svd(op, min(cfg.top_k, m, n), tol=1e-4, seed=cfg.seed, vectors=vectors)
    return {"values": part.values, "dense": False, "right": part.right, "converged": part.converged, "shape": (m, n)}


def _stage_inputs(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Return the input of every stage for a batch ``x``."""
    with torch.no_grad():
        h, inputs = model.stem(x), []
        for stage in model.stages:
            inputs.append(h)
            h = stage(h)
    return inputs


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Train (or reload) the network, then measure everything P3's claims need; cached per profile."""
    cfg = select(PROFILES, profile)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def compute() -> dict:
        model, record, source = trained_model(cfg, profile, force, device, progress)
        model = model.to(device).eval()
        test = cfg.data.load("test")
        _, accuracy = evaluate(model, test, device)
        x_all, y_all = test.normalized(device), test.labels.to(device)
        with torch.no_grad():
            correct = (model(x_all).argmax(1) == y_all).nonzero().flatten()
        pick = correct[torch.randperm(len(correct), generator=torch.Generator().manual_seed(cfg.seed))]
        x, y = x_all[pick[:cfg.perturb_images]], y_all[pick[:cfg.perturb_images]]
        units = [u for _, u in residual_units(model)]
        layout = stage_layout(model)
        arrays: dict[str, np.ndarray] = {}
        timings: dict[str, float] = {}

        # Inputs of every unit for the clean images (Fig. 1, 2, 4 linearise there).
        acts = unit_activations(model, units, x)
        unit_inputs = [a[0] for a in acts]
        stage_inputs = _stage_inputs(model, x)

        # Fig. 1: interior ("fifth") unit, first unit (transition in stages 2–3) and whole stage, per image.
        tic = time.perf_counter()
        fig1, first_image = {}, {}  # first_image: unit index → spectrum at image 0, reused by Fig. 2
        for s, idx in enumerate(layout):
            probes = {"unit": units[idx[min(4, len(idx) - 1)]], "first": units[idx[0]], "stage": model.stages[s]}
            for kind, fn in probes.items():
                spectra = []
                for i in range(cfg.images):
                    inp = stage_inputs[s][i:i + 1] if kind == "stage" else unit_inputs[units.index(fn)][i:i + 1]
                    spectra.append(_spectrum(fn, inp, cfg))
                if kind != "stage":
                    first_image[units.index(fn)] = spectra[0]
                arrays[f"fig1_{kind}_{s}"] = torch.stack([sp["values"] for sp in spectra]).cpu().numpy()
                fig1[f"{kind}_{s}"] = {
                    "dense": spectra[0]["dense"], "shape": spectra[0]["shape"],
                    "is_transition": bool(getattr(fn, "is_transition", False)),
                    "fractions": [spectrum_fractions(sp["values"]) if sp["dense"] else None for sp in spectra],
                    "sigma_max": [float(sp["values"][0]) for sp in spectra],
                    "image_spread": _image_spread(arrays[f"fig1_{kind}_{s}"]),
                }
        timings["fig1_s"] = time.perf_counter() - tic

        # Fig. 2: band fractions of every unit for the first image.
        tic = time.perf_counter()
        fig2 = []
        for k, unit in enumerate(units):
            sp = first_image.get(k) or _spectrum(unit, unit_inputs[k][:1], cfg)
            fig2.append({"unit": k, "stage": next(s for s, idx in enumerate(layout) if k in idx),
                         "is_transition": bool(unit.is_transition), "dense": sp["dense"],
                         "fractions": spectrum_fractions(sp["values"]) if sp["dense"] else None,
                         "sigma_max": float(sp["values"][0])})
        timings["fig2_s"] = time.perf_counter() - tic

        # Fig. 3: random vs FGSM perturbations, propagated through every unit.
        delta_adv, eps, fooled = minimal_fgsm(model, x, y, cfg.eps_grid)
        delta_rnd = uniform_like(delta_adv, torch.Generator(device=device).manual_seed(cfg.seed))
        fig3 = {"eps": eps, "fooled": fooled,
                "adversarial": propagated_perturbations(model, units, x, x + delta_adv),
                "random": propagated_perturbations(model, units, x, x + delta_rnd),
                "input_norm": torch.linalg.vector_norm(delta_adv.flatten(1), dim=1) / x[0].numel() ** 0.5}

        # Fig. 4: in the last stage, predicted (Eq. 1) vs actual growth, and projections α_i (first image).
        tic = time.perf_counter()
        fig4 = {"units": layout[-1]}
        for name, delta in (("adversarial", delta_adv), ("random", delta_rnd)):
            clean, pert = unit_activations(model, units, x), unit_activations(model, units, x + delta)
            rows = {"actual": [], "predicted": [], "top_energy": []}
            for k in layout[-1]:
                d_in = pert[k][0] - clean[k][0]
                d_out = pert[k][1] - clean[k][1]
                pred, act = [], []
                for i in range(len(x)):
                    op = jacobian_operator(units[k], clean[k][0][i:i + 1])
                    pred.append(float(torch.linalg.vector_norm(op.matvec(d_in[i].flatten()))))
                    act.append(float(torch.linalg.vector_norm(d_out[i])))
                norm_in = torch.linalg.vector_norm(d_in.flatten(1), dim=1).cpu()
                rows["predicted"].append((torch.tensor(pred) / norm_in).tolist())
                rows["actual"].append((torch.tensor(act) / norm_in).tolist())
                sp = _spectrum(units[k], clean[k][0][:1], cfg, vectors=True)
                alpha = projections(sp["right"], d_in[0].flatten())
                arrays[f"fig4_alpha_{name}_{k}"] = alpha.cpu().numpy()
                arrays[f"fig4_sigma_{k}"] = sp["values"].cpu().numpy()
                top = max(1, int(0.01 * len(alpha)))  # energy in the top 1% of right singular directions
                rows["top_energy"].append(float((alpha[:top] ** 2).sum() / d_in[0].flatten().square().sum()))
            fig4[name] = rows
        timings["fig4_s"] = time.perf_counter() - tic

        # P3.1 and Fig. 5 on the probe stage's interior unit.
        tic = time.perf_counter()
        idx = layout[cfg.probe_stage - 1]
        probe_k = idx[min(4, len(idx) - 1)]
        probe, probe_x = units[probe_k], unit_inputs[probe_k][:1]
        double = copy.deepcopy(probe).double()
        jtest = {"relu": jacobian_test(double, probe_x.double(), cfg.jacobian_eps, cfg.seed)}
        with SmoothActivation():
            jtest["softplus"] = jacobian_test(double, probe_x.double(), cfg.jacobian_eps, cfg.seed)
        fig5 = {"unit": probe_k, "alphas": list(cfg.alphas), "ts": list(cfg.ts), "alpha_fractions": [], "t_fractions": []}
        for a in cfg.alphas:  # band shares need the whole spectrum: None where only the top-k was affordable
            sp = _spectrum(scaled_skip(probe, a), probe_x, cfg)
            arrays[f"fig5_alpha_{a}"] = sp["values"].cpu().numpy()
            fig5["alpha_fractions"].append(_band_fraction(sp["values"], a) if sp["dense"] else None)
        for t in cfg.ts:
            sp = _spectrum(interpolate_weights(probe, t, seed=cfg.seed), probe_x, cfg)
            arrays[f"fig5_t_{t}"] = sp["values"].cpu().numpy()
            fig5["t_fractions"].append(spectrum_fractions(sp["values"]) if sp["dense"] else None)
        timings["fig5_s"] = time.perf_counter() - tic

        save_arrays(artifact_dir("p3", profile) / "spectra.npz", **arrays)
        return {"config": asdict(cfg), "model_source": source, "test_accuracy": accuracy,
                "test_images": len(test), "train_record": {k: record.get(k) for k in ("diverged", "wall_time_s")},
                "layout": layout, "fig1": fig1, "fig2": fig2, "fig3": _lists(fig3), "fig4": fig4,
                "jacobian_test": jtest, "fig5": fig5, "timings_s": timings, "device": str(device),
                "data_source": test.source}

    return cached("p3", profile, compute, force)


def spectra(profile: str) -> dict[str, np.ndarray]:
    """Return the singular-value arrays that :func:`run` saved beside its result (figures 1, 4, 5)."""
    return load_arrays(artifact_dir("p3", profile) / "spectra.npz")


def _lists(d: dict) -> dict:
    return {k: v.detach().cpu().tolist() if isinstance(v, torch.Tensor) else v for k, v in d.items()}


def _band_fraction(values: torch.Tensor, level: float, band: float = 0.01) -> float:
    """Return the fraction of singular values within ``±band·level`` of ``level``."""
    return float(((values - level).abs() <= band * level).float().mean())


def _image_spread(spectra: np.ndarray) -> float:
    """Return the largest relative ℓ2 distance between the sorted spectra of two images."""
    dist = np.linalg.norm(spectra[:, None] - spectra[None], axis=-1)
    return float(dist.max() / np.linalg.norm(spectra, axis=-1).min())


def claims(result: dict) -> list[Claim]:
    """Return the P3 ledger: one row per claim, every verdict computed from ``result``."""
    profile = result["provenance"]["profile"]
    rows = [_claim_jacobian_test(result), _claim_spectra(result), _claim_fractions(result),
            _claim_propagation(result), _claim_growth(result), _claim_fig5(result)]
    return [replace(r, profile=profile) for r in rows]


def _claim_jacobian_test(result: dict) -> Claim:
    jt = result["jacobian_test"]
    smooth = jt["softplus"]
    first = decay_order(smooth["eps"][:-1], smooth["first"][:-1])  # the last step is near round-off
    zeroth = decay_order(smooth["eps"], smooth["zeroth"])
    relu_ratio = jt["relu"]["first"][2] / jt["relu"]["zeroth"][2]
    return Claim("P3.1", "Jacobian test: ‖R(x+εδ)−R(x)−εJδ‖ falls an order faster than ‖R(x+εδ)−R(x)‖",
                 "softplus twin of a trained unit, float64: slope of the linearisation error ≥ 1.8 and of "
                 "the difference in [0.9, 1.1] (log-log in ε)",
                 f"slopes {first:.2f} vs {zeroth:.2f}; ReLU unit at ε={jt['relu']['eps'][2]:g}: "
                 f"error/difference = {relu_ratio:.1e} (piecewise linear)",
                 judge(first >= 1.8 and 0.9 <= zeroth <= 1.1))


def _claim_spectra(result: dict) -> Claim:
    f1, n_stages = result["fig1"], len(result["layout"])
    interior = [f1[f"unit_{s}"] for s in range(n_stages) if f1[f"unit_{s}"]["dense"]]
    if not interior:
        return Claim("P3.2", "unit spectra: plateau at 1, high rank, image-independent", "", "", "not run",
                     reason="no unit small enough for a dense spectrum at this profile")
    plateau = [np.mean([fr["plateau"] for fr in u["fractions"]]) for u in interior]
    rank = [1 - np.mean([fr["zero"] for fr in u["fractions"]]) for u in interior]
    spread = max(u["image_spread"] for u in interior)
    trans = [(s, f1[f"first_{s}"], f1[f"unit_{s}"]) for s in range(1, n_stages)
             if f1[f"first_{s}"]["dense"] and f1[f"unit_{s}"]["dense"]]
    trans_ok = [np.mean([fr["plateau"] for fr in t["fractions"]]) < 0.5 * np.mean([fr["plateau"] for fr in u["fractions"]])
                for _, t, u in trans]
    stage_big = [np.mean(f1[f"stage_{s}"]["sigma_max"]) >= 3 * np.mean(f1[f"unit_{s}"]["sigma_max"]) for s in range(n_stages)]
    stage_dense = [f1[f"stage_{s}"] for s in range(n_stages) if f1[f"stage_{s}"]["dense"]]
    stage_plateau = [np.mean([fr["plateau"] for fr in st["fractions"]]) for st in stage_dense]
    parts = [min(plateau) >= 0.10, min(rank) >= 0.5, spread <= 0.1, all(trans_ok) and bool(trans_ok),
             all(stage_big), all(p < 0.05 for p in stage_plateau)]
    value = (f"interior units (dense): plateau {', '.join(f'{p:.0%}' for p in plateau)}; rank "
             f"{', '.join(f'{r:.0%}' for r in rank)}; image spread ≤ {spread:.3f}; transitions without plateau: "
             f"{sum(trans_ok)}/{len(trans_ok)}; stage σ_max ≥ 3× unit σ_max: {sum(stage_big)}/{len(stage_big)}; "
             f"stage plateau {', '.join(f'{p:.1%}' for p in stage_plateau) or 'n/a'}")
    return Claim("P3.2", "Fig. 1: unit Jacobians have a plateau at 1 and high rank, nearly the same for every image; "
                 "transitions (stages 2–3) lack the plateau; stage Jacobians have no plateau and a few very large σ",
                 "interior units: ≥ 10% of σ in [0.99, 1.01], rank ≥ 50%, max relative distance between images' "
                 "spectra ≤ 0.1; transition plateau < ½ of the interior unit's; stage σ_max ≥ 3× unit σ_max; "
                 "stage plateau < 5% (holds: all six; partly: ≥ 3)",
                 value, judge(all(parts), sum(parts) >= 3))


def _claim_fractions(result: dict) -> Claim:
    dense = [u for u in result["fig2"] if u["dense"]]
    if len(dense) < 3:
        return Claim("P3.3", "Fig. 2 fractions", "", "", "not run", reason="too few dense unit spectra at this profile")
    last = len(result["layout"]) - 1
    above = [u["fractions"]["above"] for u in dense]
    rho = float(spearmanr([u["unit"] for u in dense], above).statistic)
    s3 = [u for u in dense if u["stage"] == last and not u["is_transition"]]
    # "The plateau shrinks" presupposes one: it must hold ≥ 5% of the σ at the stage's first interior unit.
    plateau_drop = len(s3) >= 2 and s3[0]["fractions"]["plateau"] >= 0.05 and \
        s3[-1]["fractions"]["plateau"] < s3[0]["fractions"]["plateau"]
    rank_drop = len(s3) >= 2 and s3[-1]["fractions"]["zero"] > s3[0]["fractions"]["zero"]
    parts = [rho < 0, plateau_drop, rank_drop]
    value = (f"Spearman ρ(unit, fraction > 1.01) = {rho:.2f} over {len(dense)} dense units; last stage interior "
             f"plateau {s3[0]['fractions']['plateau']:.1%} → {s3[-1]['fractions']['plateau']:.1%}, zeros "
             f"{s3[0]['fractions']['zero']:.1%} → {s3[-1]['fractions']['zero']:.1%}" if len(s3) >= 2 else f"ρ = {rho:.2f}")
    return Claim("P3.3", "Fig. 2: the fraction of σ > 1 falls slowly through the net; in stage 3 the plateau "
                 "shrinks and the rank drops", "ρ < 0; last-stage plateau (≥ 5% of σ at its first interior unit) and rank "
                 "both lower at its last unit than at its first interior unit (holds: all three; partly: one or two)",
                 value, judge(all(parts), any(parts)))


def _claim_propagation(result: dict) -> Claim:
    f3, last = result["fig3"], result["layout"][-1]
    adv, rnd = np.array(f3["adversarial"]), np.array(f3["random"])
    fooled = np.array(f3["fooled"], dtype=bool)
    if not fooled.any():
        return Claim("P3.4", "Fig. 3", "", "", "not run", reason="no image was fooled by FGSM on the step grid")
    adv_jump = float(np.median(adv[last[-1], fooled] / adv[last[0], fooled]))
    rnd_jump = float(np.median(rnd[last[-1], fooled] / rnd[last[0], fooled]))
    parts = [adv_jump >= 2, rnd_jump <= 1]
    return Claim("P3.4", "Fig. 3: adversarial (FGSM) perturbations jump near the end of stage 3, random ones "
                 "(same norm) decay there",
                 "median over fooled images of (normalised perturbation after the last unit) / (after the first unit "
                 "of the last stage): ≥ 2 for FGSM and ≤ 1 for random (partly: one of the two)",
                 f"FGSM ×{adv_jump:.2f}, random ×{rnd_jump:.2f} ({int(fooled.sum())}/{len(fooled)} images fooled)",
                 judge(all(parts), any(parts)))


def _claim_growth(result: dict) -> Claim:
    f4 = result["fig4"]
    pred, act = np.array(f4["adversarial"]["predicted"]), np.array(f4["adversarial"]["actual"])
    err = float(np.median(np.abs(pred - act) / act))
    adv_e, rnd_e = f4["adversarial"]["top_energy"], f4["random"]["top_energy"]
    aligned = adv_e[-1] >= 2 * adv_e[0] and adv_e[-1] > rnd_e[-1]
    return Claim("P3.5", "Fig. 4: Eq. (1) predicts each unit's growth of the propagated perturbation; at the last "
                 "units it aligns with the top right singular vectors (not so for random perturbations)",
                 "median |predicted − actual| / actual ≤ 0.2 over last-stage units and images (FGSM); share of ‖δ‖² on "
                 "the top 1% singular directions at the last unit ≥ 2× that at the stage's first unit and above random's",
                 f"median error {err:.1%}; top-1% energy FGSM {adv_e[0]:.1%} → {adv_e[-1]:.1%}, random "
                 f"{rnd_e[0]:.1%} → {rnd_e[-1]:.1%}", judge(err <= 0.2 and aligned, err <= 0.2 or aligned))


def _claim_fig5(result: dict) -> Claim:
    f5 = result["fig5"]
    alphas, near = f5["alphas"], f5["alpha_fractions"]
    if None in near or None in f5["t_fractions"]:
        return Claim("P3.6", "Fig. 5: skip scaling and weight interpolation", "", "", "not run",
                     reason="the probe unit's spectrum was too large for a dense SVD at this profile")
    moved = all(near[i] >= 0.5 * near[alphas.index(1.0)] and near[i] > 0 for i in range(len(alphas)))
    plateau_t = [fr["plateau"] for fr in f5["t_fractions"]]
    t_best = f5["ts"][int(np.argmax(plateau_t))]
    builds = plateau_t[0] < max(plateau_t)
    interior = 0 < t_best < 1
    return Claim("P3.6", "Fig. 5: scaling the skip by α moves the plateau to α; interpolating weights toward "
                 "Gaussian noise (Eq. 3) builds the plateau, widest near t = 0.5",
                 "share of σ within ±1% of α ≥ ½ of the share at 1 for α = 1, for every α; plateau share at t = 0 "
                 "below the maximum, which lies at 0 < t < 1 (partly: only some of these)",
                 f"share at α for α = {', '.join(f'{a:g}: {v:.1%}' for a, v in zip(alphas, near))}; plateau by t "
                 f"{', '.join(f'{t:g}: {p:.1%}' for t, p in zip(f5['ts'], plateau_t))}",
                 judge(moved and builds and interior, moved or builds))

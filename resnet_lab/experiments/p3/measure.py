"""Train or reload P3's network(s), linearise them and propagate perturbations: :func:`run` returns the result.

Rothauge, Hu, Yao & Mahoney (2019). Fig. 1, 2 and 5 (spectra of units and stages) are measured in
``unit_spectra.py``; here the network is loaded, test images picked, FGSM and random perturbations
propagated (Fig. 3), Eq. (1) checked against the actual growth (Fig. 4) and the Jacobian test run (App. A).
The singular values themselves go to ``spectra.npz`` beside the result.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ... import zoo
from ...artifacts import artifact_dir, save_arrays
from ...cache import cached
from ...metrics.hooks import capture_io
from ...metrics.jacobian import SmoothActivation, jacobian_operator, jacobian_test
from ...metrics.perturb import minimal_fgsm, projections, propagated_perturbations, uniform_like, unit_activations
from ...models import residual_units
from ...profiles import select
from ...train import default_device, evaluate, train_cached
from ...work import network_item
from .config import EXPERIMENT, PROFILES, P3Config
from .unit_spectra import interior_probe, measure_fig1, measure_fig2, measure_fig5, spectrum, stage_layout, top_energy


def spectra_path(profile: str) -> Path:
    """Return where the singular-value arrays of ``profile`` (or ``"control"``) are saved beside the result."""
    return artifact_dir(EXPERIMENT, profile) / "spectra.npz"


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


def items(profile: str) -> list:
    """Return the networks ``profile`` trains itself (none when it analyses a zoo network) as work items."""
    cfg = select(PROFILES, profile)
    if cfg.zoo is not None:
        return []
    names = [cfg.model] + ([cfg.companion] if cfg.companion else [])
    return [network_item(EXPERIMENT, profile, EXPERIMENT, name, cfg.model_options, cfg.data, cfg.train, "model",
                         (name,)) for name in names]


def compute_item(item, device=None, progress: bool = True) -> None:
    """Train one network of :func:`items` by the call ``run`` makes."""
    trained_model(select(PROFILES, item.profile), item.profile, item.args[0], device=device, progress=progress)


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


def _fig3(model, units: list, x: torch.Tensor, y: torch.Tensor, cfg: P3Config, device) -> tuple[dict, dict]:
    """Fig. 3: the smallest flipping FGSM step and uniform noise of its norm, propagated through every unit."""
    delta_adv, eps, fooled = minimal_fgsm(model, x, y, cfg.eps_grid)
    delta_rnd = uniform_like(delta_adv, torch.Generator(device=device).manual_seed(cfg.seed))
    fig3 = {"eps": eps, "fooled": fooled,
            "adversarial": propagated_perturbations(model, units, x, x + delta_adv),
            "random": propagated_perturbations(model, units, x, x + delta_rnd),
            "input_norm": torch.linalg.vector_norm(delta_adv.flatten(1), dim=1) / x[0].numel() ** 0.5}
    return _lists(fig3), {"adversarial": delta_adv, "random": delta_rnd}


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
        svd[k] = sp if sp is not None and sp.get("right") is not None else spectrum(units[k], clean[k][0][:1], cfg,
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
            rows["energy_ratio"].append([top_energy(units[k], clean[k][0][i:i + 1], d_in[i], k_e, cfg,
                                                     right=reuse if i == 0 else None) for i in range(len(x))])
            if right0 is not None:
                arrays[f"fig4_alpha_{name}_{k}"] = projections(right0, d_in[0].flatten()).cpu().numpy()
        fig4[name] = rows
    return fig4


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
    fig1, seen = measure_fig1(model, cfg, x, arrays)
    timings["fig1_s"], tic = time.perf_counter() - tic, time.perf_counter()
    acts = unit_activations(model, units, x)
    unit_inputs = [a[0] for a in acts]
    fig2 = measure_fig2(units, layout, acts, cfg, seen)
    first_image = {k: v[0] for k, v in seen.items() if v}
    activity = _relu_activity(model, units, x)
    timings["fig2_s"], tic = time.perf_counter() - tic, time.perf_counter()
    fig3, deltas = _fig3(model, units, x, y, cfg, device)
    fig4 = _fig4(model, units, layout[-1], x, deltas, cfg, first_image, arrays)
    timings["fig4_s"], tic = time.perf_counter() - tic, time.perf_counter()
    probe_k = interior_probe(layout[cfg.probe_stage - 1])
    probe_x = unit_inputs[probe_k]
    jtest = _jacobian_test(units[probe_k], probe_x[:1], cfg)
    fig5 = {"unit": probe_k, **measure_fig5(units[probe_k], probe_x, cfg, seen.get(probe_k, []), arrays)}
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
    fig1, _ = measure_fig1(model, replace(cfg, model=cfg.companion), x, arrays, prefix="companion_fig1")
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
        save_arrays(spectra_path(profile), **arrays)
        return {"config": asdict(cfg), "network": network_label(cfg), "model_source": source,
                "train_record": {k: record.get(k) for k in ("diverged", "wall_time_s")}, **out,
                "device": str(device), "data_source": test.source}

    return cached(EXPERIMENT, profile, compute, force)


def _lists(d: dict) -> dict:
    return {k: v.detach().cpu().tolist() if isinstance(v, torch.Tensor) else v for k, v in d.items()}

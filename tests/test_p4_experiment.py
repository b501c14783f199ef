"""P4 experiment helpers: MNIST → 3×32×32, macro scores, nested samples, class-ordered samples (claims: test_p4_claims)."""
import numpy as np
import pytest
import torch

from resnet_lab.data import ImageData, to_rgb32
from resnet_lab.experiments import p4
from resnet_lab.experiments.p4 import measure


def test_mnist_is_zero_padded_to_32_and_repeated_to_3_channels():
    images = torch.randint(1, 256, (5, 1, 28, 28), dtype=torch.uint8)
    data = ImageData(images, torch.arange(5), tuple("abcde"), "test", (0.1307,), (0.3081,))
    out = to_rgb32(data)
    assert out.images.shape == (5, 3, 32, 32) and out.images.dtype == torch.uint8
    assert torch.equal(out.images[:, 1, 2:30, 2:30], images[:, 0])
    assert out.images[:, :, :2].sum() == 0 and out.images[:, :, :, 30:].sum() == 0
    assert torch.equal(out.images[:, 0], out.images[:, 2])
    assert out.mean == (0.1307,) * 3 and out.std == (0.3081,) * 3


def test_macro_scores_match_hand_counts():
    """Three classes; per-class precision/recall counted by hand, then averaged (sklearn's macro avg)."""
    y = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = torch.tensor([0, 1, 0, 1, 1, 2, 0, 2, 1])
    precision = np.array([2 / 3, 2 / 4, 2 / 2])
    recall = np.array([2 / 3, 2 / 2, 2 / 4])
    f1 = 2 * precision * recall / (precision + recall)
    scores = measure.macro_scores(y, p, 3)
    assert scores["precision"] == pytest.approx(precision.mean())
    assert scores["recall"] == pytest.approx(recall.mean())
    assert scores["f1"] == pytest.approx(f1.mean())


def test_nested_subset_takes_the_first_images_of_each_class():
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])
    assert measure.nested_subset(labels, 2).tolist() == [0, 1, 3, 4, 6, 7]


def test_class_offsets_of_a_class_ordered_sample():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    assert measure.class_offsets(labels) == [0, 2, 5]


def test_config_per_dataset_protocol():
    cfg = p4.PROFILES["small"]
    per_class, train = cfg.training("mnist", seed=2)
    assert per_class is None and train.lr == 1e-3 and train.seed == 2 and train.epochs == 3 and not train.augment
    per_class, train = cfg.training("cifar10")
    assert per_class is None and train == cfg.train and train.epochs == 25 and train.augment


# --- arrays.npz beside result.json (referee, session 20: the result was ~5 MB of JSON) ----------------------------
def fake_result(profile: str = "small") -> dict:
    rng = np.random.default_rng(0)
    run = {"dataset": "mnist", "depth": 18, "seed": 0, "table1": {"f1": 0.99},
           "pairs": {name: rng.random((3, 3)) for name in ("separation", "mean")}
           | {"per_block": rng.random((3, 3, 5)), "per_block_pair": rng.integers(0, 9, (3, 3, 5, 2))},
           "shadowing_curve": {"epsilon": rng.random(7), "delta": rng.random(7)},
           "orbit_same_hops": rng.integers(0, 5, 40), "correct": rng.integers(0, 2, 40),
           "orbit_end": rng.integers(0, 40, 40)}
    untrained = {"dataset": "mnist", "depth": 18, "seed": 0, "pairs": {"per_block": rng.random((3, 3, 5))},
                 "orbit_same_hops": rng.integers(0, 5, 40), "orbit_end": rng.integers(0, 40, 40)}
    return {"runs": [run], "untrained": [untrained], "provenance": {"profile": profile}}


def test_arrays_go_beside_the_result_and_come_back():
    from resnet_lab.artifacts import artifact_dir, load_json, save_json
    from resnet_lab.experiments.p4 import arrays

    plain = fake_result()
    full = plain | {"confirm_runs": [plain["runs"][0] | {"seed": 5}],   # P4.3's confirmation keeps its arrays too
                    "confirm_untrained": [plain["untrained"][0] | {"seed": 5}]}
    folder = artifact_dir("p4", "small")
    assert "confirm_runs" not in arrays.save_split(plain, folder)      # a result without one gains no empty group
    small = arrays.save_split(full, folder)
    save_json(folder / "result.json", small)
    stored = load_json(folder / "result.json")
    for path in arrays.MOVED:                      # no moved array is left in the JSON
        for record in (r for group in arrays.GROUPS for r in stored[group]):
            parent = arrays._parent(record, path)
            assert parent is None or path[-1] not in parent, path
    assert "orbit_same_hops" in full["runs"][0] and "per_block" in full["runs"][0]["pairs"]  # input untouched
    back = arrays.with_arrays(stored)
    assert "arrays" not in back and arrays.with_arrays(back) is back
    for group in arrays.GROUPS:
        for path in arrays.MOVED:
            want = arrays._parent(full[group][0], path)
            if want is not None and path[-1] in want:
                assert np.array_equal(arrays._parent(back[group][0], path)[path[-1]], np.asarray(want[path[-1]])), path
    assert back["runs"][0]["table1"] == {"f1": 0.99}


def test_a_result_refuses_arrays_that_are_not_its_own():
    from resnet_lab.artifacts import ArtifactError, artifact_dir
    from resnet_lab.experiments.p4 import arrays

    folder = artifact_dir("p4", "small")
    stored = arrays.save_split(fake_result(), folder)
    arrays.save_split(fake_result() | {"runs": []}, folder)           # another result's arrays over this one's
    with pytest.raises(ArtifactError, match="SHA-256 differs"):
        arrays.with_arrays(stored)
    (folder / arrays.FILE).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        arrays.with_arrays(stored)


def test_committed_small_result_is_small_and_its_claims_load_the_arrays(monkeypatch):
    """The committed result.json keeps scalars only (it was ~5 MB with per-image arrays); the claims read the rest
    from arrays.npz beside it and give the committed ledger's verdicts."""
    from resnet_lab.artifacts import REPO_ROOT, load_json

    path = REPO_ROOT / "artifacts" / "p4" / "small" / "result.json"
    stored = load_json(path)
    records = sum(len(stored.get(group, [])) for group in ("runs", "untrained", "confirm_runs", "confirm_untrained"))
    assert path.stat().st_size < 6_000 * records, (path.stat().st_size, records)   # scalars: ~4 kB a network
    assert "orbit_same_hops" not in stored["runs"][0] and not stored["runs"][0]["pairs"]
    monkeypatch.setenv("RESNET_LAB_ARTIFACTS", str(REPO_ROOT / "artifacts"))
    rows = p4.claims(stored)
    ledger = load_json(REPO_ROOT / "book" / "claims" / "P4.json")
    assert {r.id: r.verdict for r in rows} == {row["id"]: row["verdict"] for row in ledger}
    assert all(r.verdict != "not run" and "predates" not in r.reason for r in rows)

"""The words a card says about what a profile trained, against the configs they are read from: every profile's
recipe in words carries its epochs, lr and schedule, and P2's and P5's card notes follow their config (not typed
prose)."""
import json
import re
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from resnet_lab import zoo
from resnet_lab.experiments import p2, p5
from resnet_lab.experiments.p2.config import PROFILES as P2_PROFILES
from resnet_lab.experiments.p5.config import PROFILES
from resnet_lab.experiments.p5.paper import CLAIMS
from resnet_lab.report import count, data_text, listed, recipe_text
from resnet_lab.train import TrainConfig

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "p5_norm_preservation.ipynb"
P2_NOTEBOOK = NOTEBOOK.with_name("p2_forward_stability.ipynb")


def test_count_and_listed():
    assert [count(n, "seed") for n in (0, 1, 3, 10, 12)] == ["no seeds", "one seed", "three seeds", "ten seeds",
                                                              "12 seeds"]
    assert [listed(x) for x in ([20], [20, 83], [20, 83, 164])] == ["20", "20 and 83", "20, 83 and 164"]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_recipe_text_carries_each_profiles_recipe(profile):
    train = asdict(PROFILES[profile].nets.train)
    text = recipe_text(train)
    assert text.startswith(count(train["epochs"], "epoch") + " of ")
    assert f"lr {train['lr']:g}" in text and f"batch {train['batch_size']}" in text
    assert {"step": "step schedule", "constant": "constant lr", "onecycle": "one-cycle"}[train["schedule"]] in text
    assert ("Nesterov" in text) == train["nesterov"]


def test_recipe_text_follows_the_config_and_refuses_an_unknown_schedule():
    base = asdict(TrainConfig(epochs=16, lr=0.1, weight_decay=5e-4, milestones=(0.5, 0.75)))
    assert recipe_text(base) == "16 epochs of a step schedule (lr 0.1, ÷10 at 50% and 75%), batch 128, weight decay 5e-4"
    assert recipe_text({**base, "epochs": 8, "milestones": (0.3,)}).startswith("eight epochs of a step schedule "
                                                                                "(lr 0.1, ÷10 at 30%)")
    assert recipe_text({**base, "optimizer": "adam", "augment": False}) == (
        "16 epochs of a step schedule (lr 0.1, ÷10 at 50% and 75%), batch 128, Adam, weight decay 5e-4, no augmentation")
    with pytest.raises(ValueError, match="unknown schedule 'warm'"):
        recipe_text({**base, "schedule": "warm"})


def test_data_text():
    assert data_text({"name": "cifar10", "classes": None, "train_per_class": None}) == "all of CIFAR-10"
    assert data_text({"name": "cifar10", "classes": None, "train_per_class": 30}) == (
        "30 training images a class of CIFAR-10")
    assert data_text({"name": "mnist", "classes": [3, 8], "train_per_class": None}) == "2 classes of MNIST"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_p5_profile_note_follows_the_config(profile):
    cfg = PROFILES[profile]
    note = p5.profile_note({"profile": profile, "config": asdict(cfg)})
    nets = cfg.nets
    assert f"`{profile}` trains" in note and recipe_text(asdict(nets.train)) in note
    assert count(len(nets.seeds), "seed") + " each" in note and listed(nets.depths) in note
    deep = max(nets.depths) >= CLAIMS["P5.3"].t["min_depth"] or max(nets.extra_depths, default=0) >= 83
    assert ("are not all trained here" in note) != deep
    # a change of the config changes the words: the note is read, not typed
    more = replace(cfg, nets=replace(nets, seeds=(0, 1, 2, 3), extra_depths=(83,), extra_seeds=(0, 1)))
    note = p5.profile_note({"profile": profile, "config": asdict(more)})
    assert "four seeds each" in note and "also at depth 83" in note and "not all trained here" not in note
    # ResNet alone at depth 83 is P5.1-real's trend, not P5.3's deep nets (A needs all three at one depth)
    alone = replace(more, nets=replace(more.nets, depths=(20,), extra_archs=("ResNet",)))
    note = p5.profile_note({"profile": profile, "config": asdict(alone)})
    assert "also at depth 83: ResNet with two seeds." in note and "not all trained here" in note


def test_p5_notebook_generates_its_profile_words():
    """The card's note is generated; the markdown around it types no count of seeds or epochs of ours."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    assert any(c["cell_type"] == "code" and "p5.profile_note(result)" in "".join(c["source"]) for c in cells)
    card = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"
                and "stated departure" in "".join(c["source"]))
    assert not re.search(r"\b(\d+|one|two|three|four|five|six|ten)\s+(epochs?|seeds?)\b", card)


@pytest.mark.parametrize("profile", list(P2_PROFILES))
def test_p2_profile_note_follows_the_config(profile):
    cfg = P2_PROFILES[profile]
    note = p2.profile_note({"provenance": {"profile": profile}, "config": asdict(cfg)})
    assert f"`{profile}` trains" in note and count(len(cfg.seeds), "seed") + " each" in note
    assert recipe_text(asdict(cfg.train["sp"])) in note
    for n in cfg.depths:
        assert f"$n = {n}$" in note
    # what P2.6 can read follows the probes: one zoo pair at 5e-4 cannot be read trained nor compared over seeds ...
    zoo_pair = replace(cfg, bn_probe_model="resnet20", bn_probe_zoo=("resnet20-cifar10", "resnet20-nobn-cifar10"))
    note = p2.profile_note({"provenance": {"profile": profile}, "config": asdict(zoo_pair)})
    assert "cannot read the trained probes" in note and "no band over seeds" in note
    # ... two seeds per arm at the paper's weight decay can
    trained = replace(zoo_pair, bn_probe_zoo=None, bn_probe_seeds=(0, 1),
                      bn_probe_train=replace(zoo.CPU_RECIPE, weight_decay=1e-4))
    note = p2.profile_note({"provenance": {"profile": profile}, "config": asdict(trained)})
    assert "two seeds per arm" in note and "weight decay 1e-4" in note
    assert "cannot read" not in note and "no band over seeds" not in note
    # the test images of Table 5.4 and the figures, and the second look where (and only where) it happened
    per_class = cfg.noise_test_per_class
    look = p2.paper.FIRST_LOOK
    second = f"a second look, after a first on {look['test_per_class']} a class where P2.3 stood {look['verdicts']['P2.3']}"
    assert (f"read {per_class} test images a class." if per_class else "read the whole test set") in note
    assert (second in note) == (profile == look["profile"] and not per_class)


def test_p2_profile_note_states_the_papers_recipe_and_the_penalty():
    note = p2.profile_note({"provenance": {"profile": "small"}, "config": asdict(P2_PROFILES["small"])})
    paper = P2_PROFILES["paper"].train
    assert f"The paper's own recipe: ResNet-D {recipe_text(asdict(paper['d']))}" in note
    assert "filter penalty at λ = 1e-4" in note and "with the same penalty" in note
    assert "no augmentation" in note  # small's BN-free ResNet-S trains without it
    none = replace(P2_PROFILES["small"], filter_penalty=0.0)
    assert "no filter penalty" in p2.profile_note({"provenance": {"profile": "small"}, "config": asdict(none)})
    paper_note = p2.profile_note({"provenance": {"profile": "paper"}, "config": asdict(P2_PROFILES["paper"])})
    assert "The paper's own recipe" not in paper_note and "`standard` trains" not in paper_note


def test_p2_notebook_generates_its_profile_words():
    cells = json.loads(P2_NOTEBOOK.read_text())["cells"]
    assert any(c["cell_type"] == "code" and "p2.profile_note(result)" in "".join(c["source"]) for c in cells)
    for c in cells:
        if c["cell_type"] == "markdown":
            text = "".join(c["source"])
            assert not re.search(r"`(small|standard|paper)` (trains|has) (two|three|four|\d+)", text), text[:80]
            assert "zoo's ResNet-20 and its BN-free twin" not in text, text[:80]

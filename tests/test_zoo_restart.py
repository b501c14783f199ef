"""A zoo entry with ``init_from`` is a warm restart: it starts from its parent's trained weights (tested against
the parent's own evaluation and weights), is keyed by the parent's key too, and refuses another architecture."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from resnet_lab import zoo
from resnet_lab.data import DataSpec
from resnet_lab.train import TrainConfig, evaluate

DATA = DataSpec("cifar10", train_per_class=8, test_per_class=4)
RECIPE = TrainConfig(epochs=1, batch_size=16, lr=0.05, schedule="onecycle", max_steps_per_epoch=2)
PARENT = zoo.ZooEntry("resnet20", DATA, RECIPE, gate_test_acc=0.0, paper="—", model_options={"width": 2})


@pytest.fixture
def tiny_zoo(monkeypatch):
    entries = {"parent": PARENT, "child": replace(PARENT, init_from="parent")}
    monkeypatch.setattr(zoo, "ZOO", entries)
    return entries


def test_a_warm_restart_starts_from_its_parents_weights(tiny_zoo):
    starts = []
    original = zoo.warm_start

    def spying_warm_start(name, device=None):
        hook = original(name, device)

        def start(model, epoch):
            out = hook(model, epoch)
            if epoch == 0:
                starts.append({k: v.clone() for k, v in model.state_dict().items()})
            return out
        return zoo.named_hook(start, hook.hook_name)

    zoo.warm_start = spying_warm_start
    try:
        child, record = zoo.load("child", device="cpu", progress=False)
    finally:
        zoo.warm_start = original
    parent, parent_record = zoo.load("parent", device="cpu", progress=False)   # trained by the child's start
    assert zoo.is_trained("parent") and zoo.is_trained("child")
    (start,) = starts
    for key, value in parent.state_dict().items():
        assert torch.equal(start[key].cpu(), value.cpu()), key          # weights and BN statistics, copied exactly
    first = record["history"][0]
    assert first["epoch"] == 0 and first["warm_start"] == "parent"
    loss, acc = evaluate(parent, DATA.load("test"), batch_size=RECIPE.eval_batch_size, amp=RECIPE.amp)
    assert (first["test_loss"], first["test_acc"]) == pytest.approx((loss, acc))   # the parent's end, not an init
    assert record["hooks"] == [f"warm_start(parent: {zoo.weights_path('parent').stem})"]
    assert any(not torch.equal(child.state_dict()[k], parent.state_dict()[k]) for k in parent.state_dict())


def test_a_restart_from_other_parent_weights_is_refused(tiny_zoo):
    """The key covers the parent's recipe; a parent retrained under the same key (other weights) is caught."""
    zoo.load("child", device="cpu", progress=False)
    assert zoo.load("child", device="cpu", progress=False)[1]["history"][0]["parent_weights"] == \
        zoo.weights_digest("parent")
    path = zoo.weights_path("parent")
    state = torch.load(path, weights_only=True)
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, path)
    with pytest.raises(zoo.ArtifactError, match="other weights of 'parent'"):
        zoo.load("child", device="cpu", progress=False)


def test_a_restart_is_keyed_by_its_parents_key(tiny_zoo, monkeypatch):
    before = zoo.weights_path("child")
    assert before.name.startswith(f"from-{zoo.weights_path('parent').stem}-")
    assert zoo.item("child").name == before.with_suffix("").relative_to(before.parents[2]).as_posix()
    monkeypatch.setitem(tiny_zoo, "parent", replace(PARENT, train=replace(RECIPE, lr=0.1)))
    assert zoo.weights_path("child") != before                          # an edited parent: a new restart


def test_a_restart_must_keep_the_architecture(tiny_zoo, monkeypatch):
    monkeypatch.setitem(tiny_zoo, "child", replace(PARENT, model_options={"width": 4}, init_from="parent"))
    with pytest.raises(ValueError, match="another architecture"):
        zoo.load("child", device="cpu", progress=False)


def test_the_zoos_restart_of_resnet56_is_its_recipe_again():
    e, parent = zoo.entry("resnet56b-restart-cifar10"), zoo.entry("resnet56b-cifar10")
    assert e.init_from == "resnet56b-cifar10" and e.train.seed != parent.train.seed   # its own data order
    assert (e.model, e.model_options, e.data, replace(e.train, seed=parent.train.seed), e.gate_test_acc) == \
        (parent.model, parent.model_options, parent.data, parent.train, parent.gate_test_acc)


def test_the_copied_weights_are_the_ones_trained_and_a_resumed_restart_copies_them_once(tiny_zoo, monkeypatch):
    """At lr 0 the restart ends with its parent's parameters (the trainer updates the copy, nothing re-initialises
    it); a restart interrupted after its first epoch resumes from its checkpoint without copying the parent again."""
    import time

    from resnet_lab import train as trainer

    monkeypatch.setitem(tiny_zoo, "child", replace(PARENT, train=replace(RECIPE, lr=0.0, weight_decay=0.0),
                                                   init_from="parent"))
    child, _ = zoo.load("child", device="cpu", progress=False)
    parent, _ = zoo.load("parent", device="cpu", progress=False)
    for (name, p), q in zip(child.named_parameters(), parent.parameters()):
        assert torch.equal(p, q), name
    copies = []
    original = zoo.warm_start

    def counting(name, device=None):
        hook = original(name, device)

        def start(model, epoch):
            if epoch == 0:
                copies.append(epoch)
            return hook(model, epoch)
        return zoo.named_hook(start, hook.hook_name)

    monkeypatch.setattr(zoo, "warm_start", counting)
    monkeypatch.setitem(tiny_zoo, "child", replace(PARENT, train=replace(RECIPE, epochs=2), init_from="parent"))
    with pytest.raises(trainer.BudgetExceeded), trainer.deadline(time.monotonic()):
        zoo.load("child", device="cpu", progress=False)            # stops at the end of epoch 1
    assert zoo.weights_path("child").with_suffix(".ckpt").exists() and copies == [0]
    _, record = zoo.load("child", device="cpu", progress=False)
    assert copies == [0] and [h["epoch"] for h in record["history"]] == [0, 1, 2]

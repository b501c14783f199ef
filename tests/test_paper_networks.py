"""Each chapter's reading of which of our networks are the paper's own (``paper_network``): the architecture, depth,
width and data the paper states a claim on, from a result's config; a reduced profile (width, data) never counts."""
import copy

from resnet_lab.experiments.p1.readings import paper_network as p1_network
from resnet_lab.experiments.p2.readings import paper_network as p2_network
from resnet_lab.experiments.p3.readings import paper_network as p3_network
from resnet_lab.experiments.p4.readings import paper_network as p4_network
from resnet_lab.experiments.p5.readings import paper_network as p5_network

FULL = {"name": "cifar10", "classes": None, "train_per_class": None, "test_per_class": None}
SUBSET = {**FULL, "train_per_class": 20, "test_per_class": 20}


def test_p2_names_table_5_2s_networks_on_all_of_cifar10_only():
    result = {"config": {"data": FULL}}
    assert [p2_network(result, n) for n in ("D n=3", "D n=12", "S n=6", "D n=2", "no BN", "BN")] == [
        "ResNet-D-18", "ResNet-D-72", "ResNet-S-20", None, None, None]
    assert p2_network({"config": {"data": SUBSET}}, "D n=3") is None


def test_p3_names_the_linearised_networks_with_projection_shortcuts():
    """The companion record carries its model only: it shares the main network's options (``P3Config``)."""
    result = {"config": {"model": "resnet56", "model_options": {"shortcut": "B"}, "data": FULL},
              "companion": {"model": "resnet110"}}
    assert p3_network(result, "resnet56") == "ResNet-56" and p3_network(result, "resnet110") == "ResNet-110"
    for options in ({}, {"shortcut": "B", "width": 4}):   # option A; a reduced width
        changed = copy.deepcopy(result)
        changed["config"]["model_options"] = options
        assert p3_network(changed, "resnet56") is None and p3_network(changed, "resnet110") is None
    assert p3_network(result, "resnet20") is None
    subset = copy.deepcopy(result)
    subset["config"]["data"] = SUBSET
    assert p3_network(subset, "resnet56") is None


def test_p4_names_table_1s_networks_at_the_papers_width_on_all_images():
    result = {"config": {"width": 64, "train_per_class": None}}
    assert p4_network(result, "MNIST R50") == "ResNet-50 (MNIST)"
    assert p4_network(result, "CIFAR-10 R18") == "ResNet-18 (CIFAR-10)"
    assert p4_network({"config": {"width": 4, "train_per_class": 50}}, "MNIST R50") is None
    capped = {"config": {"width": 64, "train_per_class": None, "per_dataset": {"cifar10": {"train_per_class": 100}}}}
    assert p4_network(capped, "CIFAR-10 R18") is None and p4_network(capped, "MNIST R18") == "ResNet-18 (MNIST)"


def test_p5_names_fig_3s_nine_at_the_papers_width_on_all_of_cifar10():
    result = {"config": {"nets": {"width": 1.0, "data": FULL}}}
    assert [p5_network(result, n) for n in ("ResNet-20", "ProcResNet-83", "Plain-164", "ResNet-164 (decaying lr)",
                                            "ProcResNet (no projection)-20", "ResNet-56")] == [
        "ResNet-20", "ProcResNet-83", "Plain-164", "ResNet-164", None, None]
    assert p5_network({"config": {"nets": {"width": 0.25, "data": FULL}}}, "ResNet-20") is None
    assert p5_network({"config": {"nets": {"width": 1.0, "data": SUBSET}}}, "ResNet-20") is None


def test_p1_counts_cifar10_classes_as_stand_ins_for_the_papers_sets():
    cat_dog = {**FULL, "classes": ["cat", "dog"]}
    triple = {**FULL, "classes": ["airplane", "frog", "truck"]}
    result = {"config": {"width": 64, "pair": cat_dog, "triple": triple},
              "runs": {"resnet18": {"classes": ["cat", "dog"]}, "resnet34-triple": {"classes": triple["classes"]}}}
    assert p1_network(result, "resnet18") is None and p1_network(result, "resnet34-triple") is None
    folders = copy.deepcopy(result)   # a reader's own copies of the paper's data sets, read as image folders
    folders["config"]["pair"]["name"] = "imagefolder:/data/dogs-vs-cats"
    folders["config"]["triple"]["name"] = "imagefolder:/data/imagenet"
    assert p1_network(folders, "resnet18") == "ResNet-18 (Dogs vs Cats)"
    assert p1_network(folders, "resnet34-triple") == "ResNet-34 (three ImageNet-2012 classes)"
    subset = copy.deepcopy(folders)
    subset["config"]["pair"]["train_per_class"] = 50
    assert p1_network(subset, "resnet18") is None
    folders["config"]["width"] = 16
    assert p1_network(folders, "resnet18") is None

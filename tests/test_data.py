import gzip

import numpy as np
import pytest
import torch

from resnet_lab import data as D


def test_mnist_offline_shapes_and_counts():
    train, test = D.load_dataset("mnist", "train"), D.load_dataset("mnist", "test")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    # MNIST's published class counts of the test set
    assert torch.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert "mnist" in train.source


def test_cifar10_offline_shapes_counts_and_subset():
    test = D.load_dataset("cifar10", "test")
    assert test.images.shape == (10000, 3, 32, 32)
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert test.classes[3] == "cat" and "cifar10-jpeg" in test.source
    # mean pixel per channel close to the published CIFAR-10 statistics (JPEG re-encoding moves it a little)
    mean = test.images.float().mean((0, 2, 3)) / 255
    assert torch.allclose(mean, torch.tensor(D.STATS["cifar10"][0]), atol=0.01)
    sub = D.load_dataset("cifar10", "test", classes=["dog", "cat"], per_class=7)
    assert sub.classes == ("dog", "cat") and torch.bincount(sub.labels).tolist() == [7, 7]
    dog = test.images[test.labels == 5]
    assert all((dog == img).all((1, 2, 3)).any() for img in sub.images[sub.labels == 0])


def test_checksum_mismatch_is_an_error(tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / name).write_bytes(gzip.compress(b"\0" * 32))
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  mnist/train-images-idx3-ubyte.gz\n")
    with pytest.raises(ValueError, match="checksum mismatch"):
        D.load_dataset("mnist", "train", root=tmp_path)


def test_missing_data_names_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        D.load_dataset("cifar100", "train", root=tmp_path)
    assert str(tmp_path) in str(err.value) and "RESNET_LAB_DATA" in str(err.value)


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="cifar10, cifar100, mnist"):
        D.load_dataset("svhn")
    with pytest.raises(ValueError, match="unknown classes"):
        D.load_dataset("cifar10", "test").subset(["unicorn"])


def test_device_loader_augments_by_crop_and_flip(toy_data):
    loader = D.DeviceLoader(toy_data, 32, train=True, seed=3)
    x, y = next(iter(loader))
    raw = D.normalize(toy_data.images, toy_data.mean, toy_data.std)
    padded = torch.nn.functional.pad(raw, (4, 4, 4, 4), value=0.0)
    zero = D.normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8), toy_data.mean, toy_data.std)
    padded = torch.where(padded == 0.0, zero, padded)  # pad happens on uint8 zeros before normalising
    for img in x[:8]:
        # independent check: the image is some 8×8 window of some padded source, possibly mirrored
        windows = padded.unfold(2, 8, 1).unfold(3, 8, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, 8, 8)
        match = torch.isclose(windows, img).flatten(1).all(1) | torch.isclose(windows, img.flip(-1)).flatten(1).all(1)
        assert match.any()


def test_device_loader_is_reproducible_and_resumable(toy_data):
    a = D.DeviceLoader(toy_data, 16, train=True, seed=1)
    b = D.DeviceLoader(toy_data, 16, train=True, seed=1)
    first = [x for x, _ in a]
    state = a.state_dict()
    assert all(torch.equal(p, q) for p, q in zip(first, (x for x, _ in b)))
    second = [x for x, _ in a]
    b.load_state_dict(state)
    assert torch.equal(second[0], next(iter(b))[0])
    assert not torch.equal(first[0], second[0])


def test_eval_loader_keeps_order_and_all_images(toy_data):
    loader = D.DeviceLoader(toy_data, 100, train=False)
    xs, ys = zip(*loader)
    assert torch.equal(torch.cat(ys), toy_data.labels)
    assert torch.allclose(torch.cat(xs), toy_data.normalized())
    assert np.isclose(len(loader), 3)

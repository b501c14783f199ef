"""Datasets as uint8 tensors, and a loader that augments on the device.

Sources, in the order tried: torchvision's own files under the data root (downloaded there when
``download=True`` and a network exists), then the offline copies this project ships beside the repo
(MNIST IDX ``.gz``; CIFAR-10 as a JPEG ``.tar.xz``, decoded once and cached as a ``.npz``). Every
``ImageData`` records in ``source`` which one was used, and that string goes into each artifact.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA_ENV = "RESNET_LAB_DATA"
CACHE_ENV = "RESNET_LAB_CACHE"
DATASETS = ("cifar10", "cifar100", "mnist", "imagefolder:<path>")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
# Per-channel mean and std of the training images, the usual normalisation constants.
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "mnist": ((0.1307,), (0.3081,)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


@dataclass
class ImageData:
    """A labelled image set held as tensors: ``images`` (N, C, H, W) uint8, ``labels`` (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, classes: list[str] | None = None, per_class: int | None = None,
               seed: int = 0) -> "ImageData":
        """Return the images of ``classes`` (relabelled 0..k-1 in that order), at most ``per_class`` each.

        The cap keeps a seeded random choice of each class's images, in their original order.
        """
        names = tuple(classes) if classes is not None else self.classes
        unknown = [c for c in names if c not in self.classes]
        if unknown:
            raise ValueError(f"unknown classes {unknown}; this dataset has {list(self.classes)}")
        generator = torch.Generator().manual_seed(seed)
        keep, new_labels = [], []
        for new, name in enumerate(names):
            idx = torch.nonzero(self.labels == self.classes.index(name)).flatten()
            if per_class is not None and per_class < len(idx):
                idx = idx[torch.randperm(len(idx), generator=generator)[:per_class]].sort().values
            keep.append(idx)
            new_labels.append(torch.full((len(idx),), new, dtype=torch.int64))
        order = torch.cat(keep)
        return replace(self, images=self.images[order], labels=torch.cat(new_labels), classes=names)

    def normalized(self, device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Return all images as normalised floats on ``device``: ``(x/255 − mean)/std``."""
        return normalize(self.images.to(device), self.mean, self.std, dtype)


def normalize(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...],
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Map uint8 images (…, C, H, W) to normalised floats on their own device."""
    m = torch.tensor(mean, dtype=dtype, device=images.device).view(-1, 1, 1)
    s = torch.tensor(std, dtype=dtype, device=images.device).view(-1, 1, 1)
    return (images.to(dtype) / 255 - m) / s


CLASS_COUNTS = {"cifar10": 10, "cifar100": 100, "mnist": 10}
TRAIN_PER_CLASS = {"cifar10": 5000, "cifar100": 500, "mnist": 6000}  # MNIST's 60,000 as if balanced: for costing only


@dataclass(frozen=True)
class DataSpec:
    """What to load for an experiment; hashable, so it can key a cached training run."""

    name: str = "cifar10"
    classes: tuple[str, ...] | None = None
    train_per_class: int | None = None  # images per class kept for training (None: all)
    test_per_class: int | None = None   # images per class kept for testing (None: all)

    @property
    def num_classes(self) -> int:
        """Return how many classes the spec selects, without reading the data (a network's output width)."""
        return len(self.classes) if self.classes else CLASS_COUNTS[self.name]

    @property
    def train_images(self) -> int:
        """Return how many training images the spec selects, without reading the data (10,000 if unknown)."""
        per_class = TRAIN_PER_CLASS.get(self.name, 1000)
        classes = len(self.classes) if self.classes else CLASS_COUNTS.get(self.name, 10)
        return classes * min(per_class, self.train_per_class or per_class)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Return one image's (channels, height, width) as a network sees it."""
        return (1, 28, 28) if self.name == "mnist" else (3, 32, 32)

    def load(self, split: str, root: str | Path | None = None) -> ImageData:
        cap = self.train_per_class if split == "train" else self.test_per_class
        return load_dataset(self.name, split, root=root,
                            classes=list(self.classes) if self.classes else None, per_class=cap)


def data_roots(root: str | Path | None = None) -> list[Path]:
    """Return the folders searched for data, in order: argument, ``$RESNET_LAB_DATA``, ./data, ../shared/data."""
    if root is not None:
        return [Path(root)]
    repo = Path(__file__).resolve().parents[1]
    found = [Path(os.environ[DATA_ENV])] if os.environ.get(DATA_ENV) else []
    return found + [repo / "data", repo.parent / "shared" / "data"]


def cache_dir() -> Path:
    """Return the folder for decoded dataset caches (``$RESNET_LAB_CACHE`` or ~/.cache/resnet_lab)."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "resnet_lab"))


def load_dataset(name: str, split: str = "train", root: str | Path | None = None,
                 classes: list[str] | None = None, per_class: int | None = None, seed: int = 0,
                 download: bool = False, image_size: int = 32) -> ImageData:
    """Return a dataset split as ``ImageData``; ``classes``/``per_class`` select a subset.

    Names: ``cifar10``, ``cifar100``, ``mnist``, ``imagefolder:<path>`` (``<path>/<split>/<class>/*``,
    resized to ``image_size``). Raises ``FileNotFoundError`` naming every place it looked.
    """
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid: 'train', 'test'")
    if name.startswith("imagefolder:"):
        data = _load_imagefolder(Path(name.split(":", 1)[1]), split, image_size)
    elif name in _LOADERS:
        data = _find(name, split, data_roots(root), download)
    else:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    if classes is not None or per_class is not None:
        data = data.subset(classes, per_class, seed)
    return data


def _find(name: str, split: str, roots: list[Path], download: bool) -> ImageData:
    looked = []
    for root in roots:
        for loader in _LOADERS[name]:
            data = loader(root, split, download)
            if data is not None:
                return data
        looked.append(str(root))
    raise FileNotFoundError(
        f"dataset {name!r} not found. Looked in: {', '.join(looked)}. Fetch it on a machine with a network with "
        f"`python -m resnet_lab data fetch {name}` (`data check` says what is where), or set ${DATA_ENV} to a "
        f"folder holding torchvision's files for it (or the offline copies: mnist/*.gz, cifar10/cifar10-jpeg.tar.xz).")


def _torchvision(name: str):
    def load(root: Path, split: str, download: bool) -> ImageData | None:
        import torchvision.datasets as tvd

        cls = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100, "mnist": tvd.MNIST}[name]
        try:
            ds = cls(str(root), train=split == "train", download=download)
        except (RuntimeError, OSError):
            return None
        images = torch.as_tensor(np.asarray(ds.data))
        images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
        mean, std = STATS[name]
        return ImageData(images.contiguous(), torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64),
                         tuple(ds.classes), f"torchvision:{name}:{root}", mean, std)
    return load


def _sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    """Hash a file once per process for a given size and modification time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path) -> str:
    """Check ``path`` against the SHA256SUMS file of its data root, if there is one; return the digest."""
    digest = _sha256(path)
    sums = path.parent.parent / "SHA256SUMS"
    if sums.exists():
        expected = {Path(p).as_posix(): h for h, p in (line.split() for line in sums.read_text().splitlines() if line.strip())}
        key = f"{path.parent.name}/{path.name}"
        if key in expected and expected[key] != digest:
            raise ValueError(f"checksum mismatch for {path}: {digest} != {expected[key]} (from {sums})")
    return digest


def _offline_mnist(root: Path, split: str, download: bool) -> ImageData | None:
    prefix = "train" if split == "train" else "t10k"
    img_path, lbl_path = root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz"
    if not (img_path.exists() and lbl_path.exists()):
        return None
    _verify(img_path), _verify(lbl_path)
    # IDX: a big-endian header (magic, dims), then raw uint8 data.
    images = np.frombuffer(gzip.decompress(img_path.read_bytes()), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    labels = np.frombuffer(gzip.decompress(lbl_path.read_bytes()), np.uint8, offset=8)
    mean, std = STATS["mnist"]
    return ImageData(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)),
                     tuple(str(d) for d in range(10)), f"offline:mnist-idx:{img_path.parent}", mean, std)


def _offline_cifar10(root: Path, split: str, download: bool) -> ImageData | None:
    archive = root / "cifar10" / "cifar10-jpeg.tar.xz"
    if not archive.exists():
        return None
    digest = _verify(archive)
    cache = cache_dir() / f"cifar10-jpeg-{digest[:12]}.npz"
    if not cache.exists():
        _decode_cifar_jpeg(archive, cache)
    images, labels = _read_cache(cache, split)
    mean, std = STATS["cifar10"]
    return ImageData(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), CIFAR10_CLASSES,
                     f"offline:cifar10-jpeg(sha256 {digest[:12]}, lossy JPEG re-encoding):{archive}", mean, std)


@functools.lru_cache(maxsize=4)
def _read_cache(cache: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one split of a decoded cache once per process (read-only arrays: callers index, never write)."""
    with np.load(cache) as arrays:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def _decode_cifar_jpeg(archive: Path, cache: Path) -> None:
    """Decode the JPEG tar once into ``cache`` (uint8 N×3×32×32 per split, sorted by class then file)."""
    from PIL import Image

    from .artifacts import atomic_path

    parts: dict[str, list[tuple[str, int, np.ndarray]]] = {"train": [], "test": []}
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            if not member.name.endswith(".jpg"):
                continue
            split, cls, fname = member.name.split("/")[-3:]
            pixels = np.asarray(Image.open(io.BytesIO(tar.extractfile(member).read())).convert("RGB"))
            parts[split].append((fname, CIFAR10_CLASSES.index(cls), pixels.transpose(2, 0, 1)))
    arrays = {}
    for split, items in parts.items():
        items.sort(key=lambda t: (t[1], t[0]))
        arrays[f"{split}_images"] = np.stack([t[2] for t in items])
        arrays[f"{split}_labels"] = np.array([t[1] for t in items], dtype=np.uint8)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def _load_imagefolder(path: Path, split: str, image_size: int) -> ImageData:
    import torchvision.datasets as tvd
    import torchvision.transforms.functional as TF

    folder = path / split
    if not folder.is_dir():
        raise FileNotFoundError(f"no ImageFolder at {folder}: expected {path}/<train|test>/<class>/<images>")
    ds = tvd.ImageFolder(str(folder))
    images = torch.stack([TF.pil_to_tensor(TF.resize(img.convert("RGB"), [image_size, image_size], antialias=True))
                          for img, _ in ds])
    mean, std = STATS["imagenet"]
    return ImageData(images, torch.as_tensor(ds.targets, dtype=torch.int64), tuple(ds.classes),
                     f"imagefolder:{folder}", mean, std)


_LOADERS = {
    "cifar10": (_torchvision("cifar10"), _offline_cifar10),
    "cifar100": (_torchvision("cifar100"),),
    "mnist": (_torchvision("mnist"), _offline_mnist),
}


class DeviceLoader:
    """Batches of normalised images from a dataset held whole on ``device`` (uint8).

    With ``train=True`` each epoch draws a fresh permutation and augments on the device (random crop
    after zero padding by ``crop_padding``, horizontal flip), all from one seeded generator, so a run is
    reproducible and resumable (``state_dict``/``load_state_dict``).
    """

    def __init__(self, data: ImageData, batch_size: int, train: bool = False,
                 device: torch.device | str | None = None, seed: int = 0, augment: bool = True,
                 crop_padding: int = 4, flip: bool = True) -> None:
        self.device = torch.device(device or "cpu")
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self.mean, self.std = data.mean, data.std
        self.batch_size, self.train = batch_size, train
        self.augment = augment and train
        self.crop_padding, self.flip = crop_padding, flip
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.labels)
        order = (torch.randperm(n, generator=self.generator, device=self.device) if self.train
                 else torch.arange(n, device=self.device))
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.images[idx]
            if self.augment:
                x = self._augment(x)
            yield normalize(x, self.mean, self.std), self.labels[idx]

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.crop_padding
        if p:
            padded = F.pad(x, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (b,), generator=self.generator, device=self.device)
            dx = torch.randint(0, 2 * p + 1, (b,), generator=self.generator, device=self.device)
            rows = (dy[:, None] + torch.arange(h, device=self.device))[:, None, :, None]
            cols = (dx[:, None] + torch.arange(w, device=self.device))[:, None, None, :]
            x = padded[torch.arange(b, device=self.device)[:, None, None, None],
                       torch.arange(c, device=self.device)[None, :, None, None], rows, cols]
        if self.flip:
            flip = torch.rand(b, generator=self.generator, device=self.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


@dataclass(frozen=True)
class PaddedData(DataSpec):
    """A ``DataSpec`` whose images are zero-padded to ``size``² and repeated to ``channels`` (P4 Sec. 3)."""

    size: int = 32
    channels: int = 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    def load(self, split: str, root=None) -> ImageData:
        return to_rgb32(super().load(split, root), self.size, self.channels)


def to_rgb32(data: ImageData, size: int = 32, channels: int = 3) -> ImageData:
    """Return ``data`` zero-padded on every edge to ``size×size`` with its channels repeated to ``channels``."""
    c, h, w = data.images.shape[1:]
    top, left = (size - h) // 2, (size - w) // 2
    images = F.pad(data.images, (left, size - w - left, top, size - h - top))
    repeat = channels // c
    return replace(data, images=images.repeat(1, repeat, 1, 1), mean=data.mean * repeat, std=data.std * repeat)

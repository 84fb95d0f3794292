"""MNIST for Omnigrok Section 4: real IDX files (download + checksum) or an offline stand-in.

    mnist_dataset("mnist", cache_dir=...)   # the real thing: 4 IDX files in cache_dir
    mnist_dataset("digits")                 # offline: scikit-learn's bundled 8x8 digits (1797 images)

`download_mnist` fetches the IDX files for users who are online and checks their
MD5 sums; nothing here downloads unless asked. The "digits" stand-in is a
different, smaller and easier data set (8x8 images, 0-16 gray levels) and is
named as such in every output.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import urllib.request

import numpy as np

from grokjax.data.datasets import Dataset

MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/")
MNIST_MD5 = {  # the checksums torchvision verifies
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "grokjax")
SOURCES = ("digits", "mnist")


def md5sum(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_verified(urls: tuple[str, ...] | list[str], path: str, md5: str | None) -> str:
    """Downloads the first reachable url to `path` (atomically) unless a file with the right MD5 is there."""
    if os.path.exists(path) and (md5 is None or md5sum(path) == md5):
        return path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    errors = []
    for url in urls:
        tmp = path + ".part"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
                shutil.copyfileobj(response, f)
        except OSError as err:
            errors.append(f"{url}: {err}")
            continue
        got = md5sum(tmp)
        if md5 is not None and got != md5:
            os.unlink(tmp)
            errors.append(f"{url}: MD5 {got} != expected {md5}")
            continue
        os.replace(tmp, path)
        return path
    raise OSError(f"could not download {os.path.basename(path)}: {'; '.join(errors)}")


def download_mnist(cache_dir: str = DEFAULT_CACHE) -> str:
    """Fetches the four MNIST IDX files into cache_dir/mnist, verifying their MD5 sums."""
    folder = os.path.join(cache_dir, "mnist")
    for name, md5 in MNIST_MD5.items():
        download_verified([m + name for m in MNIST_MIRRORS], os.path.join(folder, name), md5)
    return folder


def read_idx(path: str) -> np.ndarray:
    """An IDX file (optionally gzipped): magic 0x0000 dtype ndim, big-endian dims, then data."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if zero != 0 or dtype_code not in dtypes:
        raise ValueError(f"{path} is not an IDX file")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtypes[dtype_code], offset=4 + 4 * ndim).reshape(dims)


def _find(folder: str, stem: str) -> str:
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"{stem}[.gz] not in {folder}; run grokjax.data.mnist.download_mnist() online "
                            "or copy the MNIST IDX files there")


def load_mnist(cache_dir: str = DEFAULT_CACHE, download: bool = False):
    """(train_images (60000, 28, 28) uint8, train_labels, test_images, test_labels)."""
    folder = download_mnist(cache_dir) if download else os.path.join(cache_dir, "mnist")
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    return tuple(read_idx(_find(folder, s)) for s in stems)


def load_digits_standin():
    """scikit-learn's bundled 8x8 digits as (images (1797, 8, 8) in [0, 1], labels)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    return digits.images.astype(np.float32) / 16.0, digits.target.astype(np.int32)


def mnist_dataset(source: str = "digits", *, n_pool: int = 1000, n_test: int = 0, seed: int = 0,
                  cache_dir: str = DEFAULT_CACHE, download: bool = False) -> Dataset:
    """A training pool of `n_pool` random images plus a fixed test set (held out).

    mnist: the pool comes from the 60k training images, the test set is the first
    `n_test` (0 = all 10k) test images. digits: a random pool of `n_pool` of the
    1797 images, the rest (or `n_test` of them) is the test set. Inputs are
    flattened pixels in [0, 1]; targets are class ids (10 classes).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    rng = np.random.default_rng(seed)
    if source == "mnist":
        train_x, train_y, test_x, test_y = load_mnist(cache_dir, download)
        pick = rng.choice(len(train_y), n_pool, replace=False)
        test_n = n_test or len(test_y)
        pool_x, pool_y = train_x[pick] / 255.0, train_y[pick]
        test_x, test_y = test_x[:test_n] / 255.0, test_y[:test_n]
    else:
        images, labels = load_digits_standin()
        if n_pool >= len(labels):
            raise ValueError(f"n_pool={n_pool} leaves no test images of the {len(labels)} digits")
        order = rng.permutation(len(labels))
        test_n = n_test or len(labels) - n_pool
        pool_x, pool_y = images[order[:n_pool]], labels[order[:n_pool]]
        test_x, test_y = images[order[n_pool:n_pool + test_n]], labels[order[n_pool:n_pool + test_n]]
    inputs = np.concatenate([pool_x, test_x]).reshape(n_pool + len(test_y), -1).astype(np.float32)
    targets = np.concatenate([pool_y, test_y]).astype(np.int32)
    held_out = np.arange(len(targets)) >= n_pool
    name = "mnist" if source == "mnist" else "sklearn_digits_8x8 (MNIST stand-in)"
    return Dataset(name=name, inputs=inputs, targets=targets, n_classes=10, held_out=held_out)

"""IMDb sentiment for Omnigrok Figure 4: the real aclImdb archive, or a synthetic offline stand-in.

    imdb_dataset("imdb", cache_dir=...)   # aclImdb_v1.tar.gz in cache_dir/imdb (download_imdb fetches it)
    imdb_dataset("synthetic")             # generated reviews, NOT IMDb: labeled so in every output

Preprocessing follows App. A: the `vocab_size` most frequent words (of the
training pool) become tokens 1..vocab_size, other words are dropped, and each
review keeps its last `seq_len` tokens, left-padded with 0. 25% of the data is
a fixed held-out test set; `frac` picks the training examples from the rest.
"""
from __future__ import annotations

import collections
import os
import re
import tarfile

import numpy as np

from grokjax.data.datasets import Dataset
from grokjax.data.mnist import DEFAULT_CACHE, download_verified

IMDB_URLS = ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",)
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
IMDB_ARCHIVE = "aclImdb_v1.tar.gz"
SOURCES = ("synthetic", "imdb")
_WORD = re.compile(r"[a-z0-9']+")


def download_imdb(cache_dir: str = DEFAULT_CACHE) -> str:
    return download_verified(IMDB_URLS, os.path.join(cache_dir, "imdb", IMDB_ARCHIVE), IMDB_MD5)


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("<br />", " "))


def read_imdb_archive(path: str) -> tuple[list[str], np.ndarray]:
    """(texts, labels 1 = positive) of every review in aclImdb/{train,test}/{pos,neg}/*.txt."""
    texts, labels = [], []
    with tarfile.open(path) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[2] in ("pos", "neg") and parts[3].endswith(".txt"):
                texts.append(tar.extractfile(member).read().decode("utf-8", "replace"))
                labels.append(int(parts[2] == "pos"))
    return texts, np.asarray(labels, np.int32)


def encode(token_lists: list[list[str]], vocab: dict[str, int], seq_len: int) -> np.ndarray:
    """Known words -> ids, the last seq_len kept, left-padded with 0: (n, seq_len) int32."""
    out = np.zeros((len(token_lists), seq_len), np.int32)
    for i, words in enumerate(token_lists):
        ids = [vocab[w] for w in words if w in vocab][-seq_len:]
        if ids:
            out[i, seq_len - len(ids):] = ids
    return out


def build_vocab(token_lists: list[list[str]], vocab_size: int) -> dict[str, int]:
    counts = collections.Counter(w for words in token_lists for w in words)
    return {w: i + 1 for i, (w, _) in enumerate(counts.most_common(vocab_size))}


def synthetic_reviews(n: int, *, vocab_size: int = 1000, seq_len: int = 100, n_cue: int = 20,
                      cue_rate: float = 0.08, cue_purity: float = 0.75, seed: int = 0):
    """Token sequences whose label is carried by a few 'sentiment' words among neutral ones.

    Tokens 1..n_cue are positive cues, n_cue+1..2 n_cue negative; each position is a
    cue with probability cue_rate, from the label's own set with probability
    cue_purity. Lengths vary in [seq_len / 4, seq_len]; shorter reviews are left-padded.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.int32)
    tokens = rng.integers(2 * n_cue + 1, vocab_size + 1, (n, seq_len))
    is_cue = rng.random((n, seq_len)) < cue_rate
    own = rng.random((n, seq_len)) < cue_purity
    positive = np.where(own, labels[:, None] == 1, labels[:, None] == 0)
    cue = rng.integers(1, n_cue + 1, (n, seq_len)) + np.where(positive, 0, n_cue)
    tokens = np.where(is_cue, cue, tokens)
    lengths = rng.integers(seq_len // 4, seq_len + 1, n)
    tokens[np.arange(seq_len)[None, :] < (seq_len - lengths)[:, None]] = 0
    return tokens.astype(np.int32), labels


def imdb_dataset(source: str = "synthetic", *, n_pool: int = 1000, n_test: int = 1000, vocab_size: int = 1000,
                 seq_len: int = 500, seed: int = 0, cache_dir: str = DEFAULT_CACHE,
                 download: bool = False) -> Dataset:
    """A pool of n_pool training reviews plus n_test held-out ones (inputs (n, seq_len) token ids)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    rng = np.random.default_rng(seed)
    if source == "imdb":
        path = download_imdb(cache_dir) if download else os.path.join(cache_dir, "imdb", IMDB_ARCHIVE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found; run grokjax.data.imdb.download_imdb() online")
        texts, labels = read_imdb_archive(path)
        n_hold = len(texts) // 4  # App. A: 25% held back for testing
        order = rng.permutation(len(texts))
        pool, test = order[:min(n_pool, len(texts) - n_hold)], order[len(texts) - n_hold:][:n_test or None]
        token_lists = [tokenize(texts[i]) for i in np.concatenate([pool, test])]
        vocab = build_vocab(token_lists[:len(pool)], vocab_size)
        inputs, targets = encode(token_lists, vocab, seq_len), labels[np.concatenate([pool, test])]
        name = "imdb"
    else:
        inputs, targets = synthetic_reviews(n_pool + n_test, vocab_size=vocab_size, seq_len=seq_len, seed=seed)
        name = "synthetic_reviews (IMDb stand-in, generated)"
    held_out = np.arange(len(targets)) >= (len(targets) - (n_test if source != "imdb" else len(test)))
    return Dataset(name=name, inputs=inputs, targets=np.asarray(targets, np.int32), n_classes=2,
                   held_out=held_out)

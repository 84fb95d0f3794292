"""Data loaders on tiny files written here: IDX parsing, checksums, the offline stand-ins."""
import gzip
import hashlib
import struct

import numpy as np
import pytest

from grokjax.data import mnist


def write_idx(path, array, gz=True):
    codes = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}
    header = struct.pack(">HBB", 0, codes[array.dtype.type], array.ndim) + struct.pack(f">{array.ndim}I",
                                                                                       *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def fake_mnist(folder, n_train=30, n_test=12):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    parts = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
             "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
             "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8)}
    for i, (stem, array) in enumerate(parts.items()):
        gz = i % 2 == 0  # both the gzipped and the raw form are read
        write_idx(folder / (stem + (".gz" if gz else "")), array, gz=gz)
    return parts


def test_read_idx_round_trip(tmp_path):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    write_idx(tmp_path / "a.idx", a, gz=False)
    np.testing.assert_array_equal(mnist.read_idx(str(tmp_path / "a.idx")), a)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01abcd")
    with pytest.raises(ValueError):
        mnist.read_idx(str(tmp_path / "bad"))


def test_mnist_dataset_from_cache_dir(tmp_path):
    parts = fake_mnist(tmp_path / "mnist")
    ds = mnist.mnist_dataset("mnist", n_pool=20, seed=0, cache_dir=str(tmp_path))
    assert ds.inputs.shape == (32, 784) and ds.n_classes == 10 and ds.name == "mnist"
    assert ds.held_out.sum() == 12 and 0 <= ds.inputs.min() and ds.inputs.max() <= 1
    np.testing.assert_array_equal(ds.targets[20:], parts["t10k-labels-idx1-ubyte"])
    with pytest.raises(FileNotFoundError):
        mnist.load_mnist(str(tmp_path / "empty"))


def test_download_verifies_md5(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"grokking")
    good = hashlib.md5(b"grokking").hexdigest()
    out = mnist.download_verified([src.as_uri()], str(tmp_path / "cache" / "f.bin"), good)
    assert open(out, "rb").read() == b"grokking"
    with pytest.raises(OSError, match="MD5"):
        mnist.download_verified([src.as_uri()], str(tmp_path / "cache" / "g.bin"), "0" * 32)
    assert not (tmp_path / "cache" / "g.bin").exists()


def test_digits_standin_is_offline_and_labeled():
    ds = mnist.mnist_dataset("digits", n_pool=1000, seed=0)
    assert ds.inputs.shape == (1797, 64) and ds.held_out.sum() == 797
    assert "stand-in" in ds.name and set(np.unique(ds.targets)) == set(range(10))


def add_to_tar(tar, name, text):
    import io
    import tarfile
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_imdb_archive_vocab_and_padding(tmp_path):
    import tarfile

    from grokjax.data import imdb
    (tmp_path / "imdb").mkdir()
    reviews = {"train/pos/0_9.txt": "Great great movie<br />loved it", "train/neg/1_2.txt": "bad bad bad plot",
               "test/pos/2_8.txt": "great fun", "test/neg/3_1.txt": "bad movie, awful"}
    with tarfile.open(tmp_path / "imdb" / imdb.IMDB_ARCHIVE, "w:gz") as tar:
        for name, text in reviews.items():
            add_to_tar(tar, "aclImdb/" + name, text)
        add_to_tar(tar, "aclImdb/README", "not a review")
    texts, labels = imdb.read_imdb_archive(str(tmp_path / "imdb" / imdb.IMDB_ARCHIVE))
    assert len(texts) == 4 and sorted(labels.tolist()) == [0, 0, 1, 1]
    assert imdb.tokenize("Great great movie<br />loved it") == ["great", "great", "movie", "loved", "it"]
    vocab = imdb.build_vocab([["bad", "bad", "great"], ["great", "bad", "plot"]], 2)
    assert vocab == {"bad": 1, "great": 2}
    np.testing.assert_array_equal(imdb.encode([["great", "plot", "bad"], []], vocab, 4), [[0, 0, 2, 1], [0, 0, 0, 0]])
    ds = imdb.imdb_dataset("imdb", n_pool=3, vocab_size=5, seq_len=6, cache_dir=str(tmp_path))
    assert ds.inputs.shape == (4, 6) and ds.held_out.sum() == 1 and ds.inputs.max() <= 5


def test_qm9_xyz_parsing_and_graphs(tmp_path):
    import tarfile

    from grokjax.data import qm9
    methane = ("5\ngdb 1\t157.7\t157.7\t157.7\t0.\t13.21\t-0.3877\t0.1171\n"
               "C\t-0.0127\t1.0858\t0.0080\t-0.535\nH\t0.0022\t-0.0060\t0.0020\t0.133\n"
               "H\t1.0117\t1.4638\t0.0003\t0.133\nH\t-0.5408\t1.4475\t-0.8766\t0.133\n"
               "H\t-0.5238\t1.4379\t0.9064\t0.1335\n1341.3\nC\tC\nInChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4\n")
    water = ("3\ngdb 3\t799.6\t437.9\t282.9\t1.8511\t6.31\t-0.2928\n"
             "O\t-0.0343\t0.9775\t0.0076\t-0.589\nH\t0.0647\t0.0205\t0.0015*^-1\t0.294\n"
             "H\t0.8717\t1.3008\t0.0007\t0.294\n1.6\nO\tO\nInChI\tInChI\n")
    elements, coords, alpha = qm9.parse_xyz(methane)
    assert elements == ["C", "H", "H", "H", "H"] and coords.shape == (5, 3) and alpha == 13.21
    nodes, adj, mask = qm9.molecule_graph(elements, coords)
    assert mask.sum() == 5 and nodes[:5].sum() == 5
    bonded = adj[:5, :5] > 0
    assert bonded[0, 1:].all() and not bonded[1, 2]  # C-H bonds, no H-H bond
    np.testing.assert_allclose(adj, adj.T, atol=1e-6)
    (tmp_path / "qm9").mkdir()
    with tarfile.open(tmp_path / "qm9" / qm9.QM9_ARCHIVE, "w:bz2") as tar:
        add_to_tar(tar, "dsgdb9nsd_000001.xyz", methane)
        add_to_tar(tar, "dsgdb9nsd_000003.xyz", water)
    graphs, targets = qm9.read_qm9_archive(str(tmp_path / "qm9" / qm9.QM9_ARCHIVE))
    assert sorted(targets.tolist()) == [pytest.approx(6.31), pytest.approx(13.21)]
    ds = qm9.qm9_dataset("qm9", n_pool=1, cache_dir=str(tmp_path))
    assert ds.inputs["adj"].shape == (2, qm9.MAX_ATOMS, qm9.MAX_ATOMS) and ds.targets.shape == (2, 1)
    assert np.isfinite(ds.targets).all()


def test_synthetic_standins_are_labeled_and_learnable_in_principle():
    from grokjax.data import imdb, qm9
    reviews = imdb.imdb_dataset("synthetic", n_pool=200, n_test=100, seq_len=40)
    assert "stand-in" in reviews.name and reviews.inputs.shape == (300, 40) and reviews.held_out.sum() == 100
    cue_pos = ((reviews.inputs >= 1) & (reviews.inputs <= 20)).sum(1)
    cue_neg = ((reviews.inputs >= 21) & (reviews.inputs <= 40)).sum(1)
    decided = cue_pos != cue_neg  # a cue-count vote beats chance clearly: the label is in the tokens
    assert np.mean((cue_pos > cue_neg)[decided] == (reviews.targets[decided] == 1)) > 0.7
    mols = qm9.qm9_dataset("synthetic", n_pool=100, n_test=50)
    assert "stand-in" in mols.name and mols.targets.shape == (150, 1)
    np.testing.assert_allclose(mols.targets[:100].mean(), 0, atol=1e-5)

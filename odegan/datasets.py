r"""Data for the ODE-GAN experiments: the 16-Gaussian grid of paper §5.1 (the MoG16 notebook).

Sixteen isotropic Gaussians with standard deviation 0.02 centred on the 4×4 grid
:math:`\{-1.5, -0.5, 0.5, 1.5\}^2`. Real batches are stratified, as in the notebook: a batch of
512 holds exactly 32 points from each mode.
"""

import jax.numpy as jnp
import jax.random as jr
from jax import Array

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

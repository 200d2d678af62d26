r"""Flax linen networks for the ODE-GAN experiments: the MoG MLP generator and discriminator.

Parameters are plain pytrees: `init` gives the variables and `apply` is pure, so the players'
parameters go into a `Players` pytree and the apply functions into `odegan.gan_losses`.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp
import jax.random as jr
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import PyTree

from ._game import Players


class MLP(nn.Module):
    """A ReLU multilayer perceptron with a linear output layer.

    Attributes:
        hidden: widths of the hidden layers, e.g. `(25, 25)`.
        out: width of the output layer.
    """

    hidden: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, x: ArrayLike) -> Array:
        """Applies the network to one batch.

        Args:
            x: inputs, shape `[n, d_in]`.

        Returns:
            Outputs, shape `[n, out]`.
        """
        x = jnp.asarray(x)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


def mlp_gan(
    *,
    key: Array,
    data_dim: int = 2,
    latent_dim: int = 32,
    hidden: Sequence[int] = (25, 25),
) -> tuple[Players, Callable[[PyTree, Array], Array], Callable[[PyTree, Array], Array]]:
    r"""An MLP generator and discriminator (the MoG16 notebook's: 2×25 ReLU, latent 32).

    Args:
        key: PRNG key for the initialisation.
        data_dim: dimension of the data (2 for the MoG grid).
        latent_dim: dimension of the latent code :math:`z`.
        hidden: hidden widths, shared by both networks.

    Returns:
        `(players, discriminator, generator)`: initial `Players(d=θ, g=φ)`, and the pure apply
        functions `discriminator(θ, x[n, data_dim]) -> logits[n]` and
        `generator(φ, z[n, latent_dim]) -> x[n, data_dim]`.

    Raises:
        ValueError: if a dimension or width is not positive.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> players, disc, gen = mlp_gan(key=jr.key(0))
        >>> x = gen(players.g, jnp.zeros((4, 32)))
        >>> x.shape, disc(players.d, x).shape
        ((4, 2), (4,))
    """
    if not (data_dim >= 1 and latent_dim >= 1 and all(w >= 1 for w in hidden)):
        raise ValueError(
            f"`data_dim`, `latent_dim` and `hidden` must be positive, got {data_dim}, "
            f"{latent_dim} and {tuple(hidden)}."
        )
    d_net, g_net = MLP(tuple(hidden), 1), MLP(tuple(hidden), data_dim)
    key_d, key_g = jr.split(key)
    theta = d_net.init(key_d, jnp.zeros((1, data_dim)))
    phi = g_net.init(key_g, jnp.zeros((1, latent_dim)))

    def discriminator(params: PyTree, x: Array) -> Array:
        return d_net.apply(params, x)[:, 0]

    def generator(params: PyTree, z: Array) -> Array:
        return g_net.apply(params, z)

    return Players(d=theta, g=phi), discriminator, generator

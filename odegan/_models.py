r"""Flax linen networks for the ODE-GAN experiments: MoG MLPs and DCGANs for 28×28 / 32×32 images.

Parameters are plain pytrees: `init` gives the variables and `apply` is pure, so the players'
parameters go into a `Players` pytree and the apply functions into `odegan.gan_losses`.

`dcgan` has no batch normalisation: its field :math:`v(\theta, \phi)` is a function of the
parameters alone. `batch_norm_dcgan` normalises the generator's hidden layers as the DCGAN
paper does: in training mode the batch statistics normalise (so the field is still a function
of the parameters and the minibatch), and the running statistics are state outside the
parameters, carried in `odegan.TrainState.model_state` and committed once per step by
`odegan.train_step` rather than once per Runge--Kutta stage.
"""

import functools as ft
from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.random as jr
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import PyTree

from common.conv import Conv, ConvTranspose

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


# Image side -> (side of the first feature map, number of stride-2 up/down-samplings).
_DCGAN_SIZES = {28: (7, 2), 32: (4, 3)}


class DCGANGenerator(nn.Module):
    r"""DCGAN generator: dense to a small map, stride-2 transposed convs, optional BatchNorm.

    28×28: :math:`z \to 7{\times}7{\times}2w \to 14{\times}14{\times}w \to 28{\times}28{\times}c`;
    32×32: :math:`z \to 4{\times}4{\times}4w \to 8{\times}8{\times}2w \to 16{\times}16{\times}w
    \to 32{\times}32{\times}c`. ReLU between layers (after BatchNorm when `batch_norm`), 4×4
    kernels, tanh output in [−1, 1].

    Attributes:
        image_size: 28 or 32.
        channels: output channels `c` (1 for MNIST, 3 for CIFAR-10).
        width: channels `w` of the last hidden map.
        batch_norm: normalise every hidden layer (running statistics in ``batch_stats``,
            momentum 0.9, PyTorch's 0.1).
    """

    image_size: int
    channels: int
    width: int
    batch_norm: bool = False

    @nn.compact
    def __call__(self, z: ArrayLike, train: bool = True) -> Array:
        """Generates one batch.

        Args:
            z: latent codes, shape `[n, latent_dim]`.
            train: with `batch_norm`, normalise by the batch's statistics and update the running
                ones (mutable ``batch_stats``), or by the running ones.

        Returns:
            Images, shape `[n, image_size, image_size, channels]`, values in [−1, 1].
        """
        side, ups = _DCGAN_SIZES[self.image_size]
        z = jnp.asarray(z)
        top = self.width * 2 ** (ups - 1)

        def act(x: Array) -> Array:
            if self.batch_norm:
                x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
            return nn.relu(x)

        x = act(nn.Dense(side * side * top)(z)).reshape(z.shape[0], side, side, top)
        for i in range(ups - 1):
            x = act(ConvTranspose(top // 2 ** (i + 1), (4, 4), strides=(2, 2))(x))
        return jnp.tanh(ConvTranspose(self.channels, (4, 4), strides=(2, 2))(x))


class DCGANDiscriminator(nn.Module):
    r"""DCGAN discriminator without normalisation: stride-2 convs with leaky ReLU (0.2), a logit.

    28×28: :math:`28{\times}28{\times}c \to 14{\times}14{\times}w \to 7{\times}7{\times}2w \to 1`;
    32×32: one more halving to :math:`4{\times}4{\times}4w`. 4×4 kernels.

    Attributes:
        image_size: 28 or 32.
        width: channels `w` of the first map.
    """

    image_size: int
    width: int

    @nn.compact
    def __call__(self, x: ArrayLike) -> Array:
        """Scores one batch.

        Args:
            x: images, shape `[n, image_size, image_size, c]`.

        Returns:
            Logits, shape `[n]`.
        """
        _, downs = _DCGAN_SIZES[self.image_size]
        x = jnp.asarray(x)
        for i in range(downs):
            x = nn.leaky_relu(Conv(self.width * 2**i, (4, 4), strides=(2, 2))(x), 0.2)
        return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]


def _dcgan_nets(
    image_shape: tuple[int, int, int], latent_dim: int, width: int, batch_norm: bool
) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    image_shape = tuple(image_shape)
    if (
        len(image_shape) != 3
        or image_shape[0] != image_shape[1]
        or image_shape[0] not in _DCGAN_SIZES
        or image_shape[2] not in (1, 3)
    ):
        raise ValueError(
            f"`image_shape` must be (28, 28, c) or (32, 32, c) with c in (1, 3), got "
            f"{image_shape}."
        )
    if not (latent_dim >= 1 and width >= 1):
        raise ValueError(
            f"`latent_dim` and `width` must be positive, got {latent_dim} and {width}."
        )
    size, channels = image_shape[0], image_shape[2]
    return (
        DCGANGenerator(image_size=size, channels=channels, width=width, batch_norm=batch_norm),
        DCGANDiscriminator(image_size=size, width=width),
    )


@ft.partial(jax.jit, static_argnums=(0, 2))
def _init(net: nn.Module, key: Array, input_shape: tuple[int, ...]) -> PyTree:
    # One compiled initialisation instead of op-by-op dispatch of the conv layers; the module is
    # a static (hashable) argument, so runs of equal networks in one process compile it once.
    return net.init(key, jnp.zeros(input_shape))


def _dcgan_init(g_net, d_net, image_shape, latent_dim, key) -> tuple[PyTree, PyTree]:
    key_d, key_g = jr.split(key)
    return _init(d_net, key_d, (1, *image_shape)), _init(g_net, key_g, (1, latent_dim))


def dcgan(
    *,
    key: Array,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    latent_dim: int = 128,
    width: int = 64,
) -> tuple[Players, Callable[[PyTree, Array], Array], Callable[[PyTree, Array], Array]]:
    r"""A DCGAN generator and discriminator for 28×28 (MNIST) or 32×32 (CIFAR-10) images.

    No batch normalisation (see the module docstring and `batch_norm_dcgan`): the velocity of
    the game is a function of the parameters alone.

    Args:
        key: PRNG key for the initialisation.
        image_shape: `(h, w, c)` with `h = w` in {28, 32} and `c` in {1, 3}.
        latent_dim: dimension of the latent code :math:`z` (128 in the paper's CIFAR-10 runs).
        width: base channel count `w` (64: 2w = 128 channels in the widest 28×28 layer).

    Returns:
        `(players, discriminator, generator)`: initial `Players(d=θ, g=φ)`, and the pure apply
        functions `discriminator(θ, x[n, h, w, c]) -> logits[n]` and
        `generator(φ, z[n, latent_dim]) -> x[n, h, w, c]` with values in [−1, 1].

    Raises:
        ValueError: for an unsupported `image_shape`, or a non-positive `latent_dim` or `width`.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> players, disc, gen = dcgan(key=jr.key(0), latent_dim=8, width=4)
        >>> x = gen(players.g, jnp.zeros((2, 8)))
        >>> x.shape, disc(players.d, x).shape
        ((2, 28, 28, 1), (2,))
    """
    g_net, d_net = _dcgan_nets(image_shape, latent_dim, width, batch_norm=False)
    theta, phi = _dcgan_init(g_net, d_net, image_shape, latent_dim, key)

    def discriminator(params: PyTree, x: Array) -> Array:
        return d_net.apply(params, x)

    def generator(params: PyTree, z: Array) -> Array:
        return g_net.apply(params, z)

    return Players(d=theta, g=phi), discriminator, generator


class BatchNormGAN(NamedTuple):
    """A GAN whose generator has BatchNorm, from `batch_norm_dcgan`.

    Attributes:
        players: initial `Players(d=θ, g=φ)`, the parameters the ODE integrates (`φ` holds
            the ``params`` collection only).
        model_state: the generator's initial running statistics (``batch_stats``), for
            `odegan.init_train_state(model_state=...)`.
        discriminator: `discriminator(θ, x[n, h, w, c]) -> logits[n]`.
        train_generator: `train_generator(φ, state, z) -> (x, new_state)`, training mode:
            the batch's statistics normalise, the running ones are updated (for
            `odegan.gan_batch_losses_with_state`).
        generator: `generator(φ, state, z) -> x`, evaluation mode: the running statistics
            normalise (for sampling).
    """

    players: Players
    model_state: PyTree
    discriminator: Callable[[PyTree, Array], Array]
    train_generator: Callable[[PyTree, PyTree, Array], tuple[Array, PyTree]]
    generator: Callable[[PyTree, PyTree, Array], Array]


def batch_norm_dcgan(
    *,
    key: Array,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    latent_dim: int = 128,
    width: int = 64,
) -> BatchNormGAN:
    r"""`dcgan` with BatchNorm after every hidden layer of the generator (as in DCGAN).

    The discriminator is `dcgan`'s, without normalisation. The generator's running statistics
    are model state: train with `odegan.gan_batch_losses_with_state` and a `TrainState` holding
    them, which `odegan.train_step` advances once per step whatever the solver's stage count.

    Args:
        key: PRNG key for the initialisation.
        image_shape: `(h, w, c)` with `h = w` in {28, 32} and `c` in {1, 3}.
        latent_dim: dimension of the latent code.
        width: base channel count `w`.

    Returns:
        A `BatchNormGAN`.

    Raises:
        ValueError: for an unsupported `image_shape`, or a non-positive `latent_dim` or `width`.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> gan = batch_norm_dcgan(key=jr.key(0), latent_dim=8, width=4)
        >>> x, state = gan.train_generator(gan.players.g, gan.model_state, jnp.ones((2, 8)))
        >>> x.shape, sorted(state)
        ((2, 28, 28, 1), ['batch_stats'])
    """
    g_net, d_net = _dcgan_nets(image_shape, latent_dim, width, batch_norm=True)
    theta, variables_g = _dcgan_init(g_net, d_net, image_shape, latent_dim, key)

    def discriminator(params: PyTree, x: Array) -> Array:
        return d_net.apply(params, x)

    def train_generator(params: PyTree, state: PyTree, z: Array) -> tuple[Array, PyTree]:
        return g_net.apply({**params, **state}, z, train=True, mutable=["batch_stats"])

    def generator(params: PyTree, state: PyTree, z: Array) -> Array:
        return g_net.apply({**params, **state}, z, train=False)

    return BatchNormGAN(
        players=Players(d=theta, g={"params": variables_g["params"]}),
        model_state={"batch_stats": variables_g["batch_stats"]},
        discriminator=discriminator,
        train_generator=train_generator,
        generator=generator,
    )

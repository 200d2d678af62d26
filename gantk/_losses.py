r"""GAN losses as ``(a, b, c)`` triples (thesis eq. 6.1–6.2).

The discriminator maximises

.. math:: \mathcal{L}(f) = \mathbb{E}_{x \sim \hat\alpha}[a(f(x))]
    - \mathbb{E}_{y \sim \hat\beta}[b(f(y))]

over generated particles ``x`` and targets ``y``, and the generator minimises
:math:`\mathbb{E}_{x \sim \hat\alpha}[c(f(x))]`. Note the sign each loss gives `f`: IPM and LSGAN
discriminators are high on generated points, vanilla/hinge discriminators on real ones.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array


class Loss(NamedTuple):
    """Elementwise functions defining a GAN loss.

    Attributes:
        a: applied to the discriminator on generated points, ``[...] -> [...]``.
        b: applied to the discriminator on target points.
        c: the generator's cost of a discriminator value.
    """

    a: Callable[[Array], Array]
    b: Callable[[Array], Array]
    c: Callable[[Array], Array]


def _identity(f: Array) -> Array:
    return f


LOSSES: dict[str, Loss] = {
    "ipm": Loss(a=_identity, b=_identity, c=_identity),
    "lsgan": Loss(a=lambda f: -((f + 1.0) ** 2), b=lambda f: (f - 1.0) ** 2, c=lambda f: f**2),
    # Goodfellow et al.'s minimax game: the generator minimises log(1 − σ(f)) (saturating).
    "vanilla": Loss(
        a=lambda f: jax.nn.log_sigmoid(-f), b=lambda f: -jax.nn.log_sigmoid(f),
        c=lambda f: jax.nn.log_sigmoid(-f),
    ),
    # Same discriminator, generator cost −log σ(f): the variant used in practice (thesis eq. 6.2).
    "nonsaturating": Loss(
        a=lambda f: jax.nn.log_sigmoid(-f), b=lambda f: -jax.nn.log_sigmoid(f),
        c=lambda f: -jax.nn.log_sigmoid(f),
    ),
    # Lim & Ye (2017): the discriminator minimises E relu(1 − f(y)) + E relu(1 + f(x)).
    "hinge": Loss(
        a=lambda f: -jax.nn.relu(1.0 + f), b=lambda f: jax.nn.relu(1.0 - f), c=lambda f: -f
    ),
}


def get_loss(loss: str | Loss) -> Loss:
    """Returns the `Loss` named `loss` (one of `LOSSES`), or `loss` itself if it is a `Loss`."""
    if isinstance(loss, Loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {sorted(LOSSES)} or a Loss; got {loss!r}.")
    return LOSSES[loss]


def discriminator_objective(loss: Loss, f_fake: Array, f_real: Array) -> Array:
    r""":math:`\mathcal{L} = \operatorname{mean} a(f(x)) - \operatorname{mean} b(f(y))`, a scalar.

    Args:
        loss: the loss triple.
        f_fake: discriminator values on generated points, shape `[n]`.
        f_real: discriminator values on target points, shape `[m]`.
    """
    return jnp.mean(loss.a(f_fake)) - jnp.mean(loss.b(f_real))

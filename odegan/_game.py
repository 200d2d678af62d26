r"""The GAN as a two-player differential game: joint parameters, loss pairs, the velocity field.

A game is a loss pair :math:`\ell = (\ell_D(\theta, \phi), \ell_G(\theta, \phi))` over the
discriminator parameters :math:`\theta` and the generator parameters :math:`\phi`. Simultaneous
gradient descent with an infinitesimal step follows the ODE (paper 001, eq. 4,
https://arxiv.org/abs/2010.15040)

.. math::
    \frac{d}{dt}(\theta, \phi) = v(\theta, \phi)
    = -\Big[\frac{\partial \ell_D}{\partial \theta}, \frac{\partial \ell_G}{\partial \phi}\Big],

and ODE-GAN integrates it with a Runge--Kutta method. Here a game is any function
``losses(players) -> (loss_d, loss_g)`` on a `Players` pytree; `game_vector_field` turns it into
the velocity, with the sign convention written there and nowhere else.
"""

import functools as ft
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import jax.tree_util as jtu
import optax
from jax import Array
from jax.typing import ArrayLike
from jaxtyping import PyTree

# `losses(players) -> (loss_d, loss_g)`, both scalars.
Losses = Callable[["Players"], tuple[Array, Array]]
# `loss_pair(real_logits, fake_logits) -> (loss_d, loss_g)`, both scalars.
LossPair = Callable[[Array, Array], tuple[Array, Array]]


class Players(NamedTuple):
    r"""Discriminator and generator parameters as one pytree, the state of the game's ODE.

    Solvers integrate this single pytree, so by default (joint integration) both players advance
    through the same Runge--Kutta stages together.

    Attributes:
        d: discriminator parameters :math:`\theta`, any pytree.
        g: generator parameters :math:`\phi`, any pytree.
    """

    d: PyTree
    g: PyTree


# --- loss pairs: functions of the discriminator logits on a real and a fake batch -------------
# Each takes logits of any shape (usually `[n]`) and averages them; real and fake batches are
# reduced separately, so their sizes may differ and nothing is broadcast between them.


def minimax_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> tuple[Array, Array]:
    r"""Goodfellow et al.'s zero-sum cross-entropy game (saturating generator).

    .. math::
        \ell_D = -\mathbb{E}\log\sigma(D(x)) - \mathbb{E}\log(1 - \sigma(D(G(z)))),\quad
        \ell_G = \mathbb{E}\log(1 - \sigma(D(G(z)))).

    Args:
        real_logits: discriminator logits on real data, any shape.
        fake_logits: discriminator logits on generated data, any shape.

    Returns:
        `(loss_d, loss_g)`, two scalars. At the Nash equilibrium :math:`\ell_D = \log 4`.
    """
    # softplus(f) = −log(1 − σ(f)) and softplus(−f) = −log σ(f), without overflow.
    fake_term = jnp.mean(jax.nn.softplus(fake_logits))
    loss_d = jnp.mean(jax.nn.softplus(-jnp.asarray(real_logits))) + fake_term
    return loss_d, -fake_term


def non_saturating_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> tuple[Array, Array]:
    r"""Cross-entropy discriminator, non-saturating generator (the paper's default).

    .. math::
        \ell_D = -\mathbb{E}\log\sigma(D(x)) - \mathbb{E}\log(1 - \sigma(D(G(z)))),\quad
        \ell_G = -\mathbb{E}\log\sigma(D(G(z))).

    Args:
        real_logits: discriminator logits on real data, any shape.
        fake_logits: discriminator logits on generated data, any shape.

    Returns:
        `(loss_d, loss_g)`, two scalars; the Nash values are :math:`\log 4` and :math:`\log 2`.
    """
    fake_logits = jnp.asarray(fake_logits)
    loss_d = jnp.mean(jax.nn.softplus(-jnp.asarray(real_logits))) + jnp.mean(
        jax.nn.softplus(fake_logits)
    )
    return loss_d, jnp.mean(jax.nn.softplus(-fake_logits))


def wgan_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> tuple[Array, Array]:
    r"""Wasserstein GAN (Arjovsky et al. 2017), without any Lipschitz constraint.

    .. math:: \ell_D = \mathbb{E} D(G(z)) - \mathbb{E} D(x),\quad \ell_G = -\mathbb{E} D(G(z)).

    Args:
        real_logits: critic values on real data, any shape.
        fake_logits: critic values on generated data, any shape.

    Returns:
        `(loss_d, loss_g)`, two scalars.
    """
    fake_mean = jnp.mean(fake_logits)
    return fake_mean - jnp.mean(real_logits), -fake_mean


def lsgan_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> tuple[Array, Array]:
    r"""Least-squares GAN (Mao et al. 2017) with targets 0 (fake) and 1 (real and generator).

    .. math::
        \ell_D = \tfrac12\mathbb{E}(D(x) - 1)^2 + \tfrac12\mathbb{E} D(G(z))^2,\quad
        \ell_G = \tfrac12\mathbb{E}(D(G(z)) - 1)^2.

    Args:
        real_logits: discriminator outputs on real data, any shape.
        fake_logits: discriminator outputs on generated data, any shape.

    Returns:
        `(loss_d, loss_g)`, two scalars.
    """
    fake_logits = jnp.asarray(fake_logits)
    loss_d = 0.5 * jnp.mean((jnp.asarray(real_logits) - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits**2)
    return loss_d, 0.5 * jnp.mean((fake_logits - 1.0) ** 2)


def hinge_loss(real_logits: ArrayLike, fake_logits: ArrayLike) -> tuple[Array, Array]:
    r"""Hinge GAN (Lim & Ye 2017).

    .. math::
        \ell_D = \mathbb{E}\,\mathrm{relu}(1 - D(x)) + \mathbb{E}\,\mathrm{relu}(1 + D(G(z))),\quad
        \ell_G = -\mathbb{E} D(G(z)).

    Args:
        real_logits: discriminator outputs on real data, any shape.
        fake_logits: discriminator outputs on generated data, any shape.

    Returns:
        `(loss_d, loss_g)`, two scalars.
    """
    fake_logits = jnp.asarray(fake_logits)
    loss_d = jnp.mean(jax.nn.relu(1.0 - jnp.asarray(real_logits))) + jnp.mean(
        jax.nn.relu(1.0 + fake_logits)
    )
    return loss_d, -jnp.mean(fake_logits)


LOSS_PAIRS: dict[str, LossPair] = {
    "minimax": minimax_loss,
    "non_saturating": non_saturating_loss,
    "wgan": wgan_loss,
    "lsgan": lsgan_loss,
    "hinge": hinge_loss,
}


def get_loss_pair(loss: str | LossPair) -> LossPair:
    """Returns the loss pair named `loss` (a key of `LOSS_PAIRS`), or `loss` if it is callable.

    Args:
        loss: a name in `LOSS_PAIRS` or a function `(real_logits, fake_logits) -> (ℓ_D, ℓ_G)`.

    Returns:
        The loss-pair function.

    Raises:
        ValueError: if `loss` is a string that is not a key of `LOSS_PAIRS`.

    Examples:
        >>> import jax.numpy as jnp
        >>> loss_d, loss_g = get_loss_pair("non_saturating")(jnp.zeros(4), jnp.zeros(4))
        >>> print(f"{loss_d:.4f} {loss_g:.4f}")  # log 4 and log 2
        1.3863 0.6931
    """
    if callable(loss):
        return loss
    if loss not in LOSS_PAIRS:
        raise ValueError(f"`loss` must be one of {sorted(LOSS_PAIRS)} or a callable, got {loss!r}.")
    return LOSS_PAIRS[loss]


# --- the velocity field ---------------------------------------------------------------------


def game_vector_field(losses: Losses, players: Players) -> Players:
    r"""The joint velocity :math:`v = -[\partial_\theta \ell_D, \partial_\phi \ell_G]` of a game.

    Args:
        losses: the game, `losses(players) -> (loss_d, loss_g)` with two scalar outputs.
        players: the point :math:`(\theta, \phi)` at which to evaluate the field.

    Returns:
        A `Players` pytree with the structure of `players`: each player's velocity.

    Examples:
        >>> import jax.numpy as jnp
        >>> v = game_vector_field(rotational_game, Players(jnp.array(1.0), jnp.array(0.0)))
        >>> print(f"{v.d:.2f} {v.g:.2f}")
        -0.10 -1.00
    """
    return game_velocity_and_losses(losses, players)[0]


def game_velocity_and_losses(
    losses: Losses, players: Players, *, has_aux: bool = False
) -> tuple[Players, tuple[Array, Array]]:
    r"""The velocity of `game_vector_field` and the losses :math:`(\ell_D, \ell_G)`, at once.

    The losses come from the same forward passes as the gradients (`jax.value_and_grad`), so
    logging them costs nothing.

    Args:
        losses: the game, `losses(players) -> (loss_d, loss_g)` with two scalar outputs; with
            `has_aux`, `losses(players) -> ((loss_d, loss_g), aux)`.
        players: the point :math:`(\theta, \phi)`.
        has_aux: the game also returns auxiliary data (e.g. updated BatchNorm statistics),
            returned from the discriminator's pass (both passes run the same forward).

    Returns:
        `(velocity, (loss_d, loss_g))`: a `Players` pytree with the structure of `players`, and
        two scalars; with `has_aux`, `(velocity, ((loss_d, loss_g), aux))`.

    Examples:
        >>> import jax.numpy as jnp
        >>> v, (loss_d, loss_g) = game_velocity_and_losses(
        ...     rotational_game, Players(jnp.array(1.0), jnp.array(2.0)))
        >>> print(f"{v.d:.2f} {v.g:.2f} {loss_d:.2f} {loss_g:.2f}")
        1.90 -1.00 -1.95 2.00
    """
    with_aux = losses if has_aux else lambda p: (losses(p), None)

    def loss_d_and_aux(d: PyTree) -> tuple[Array, Any]:
        (loss_d, _), aux = with_aux(Players(d, players.g))
        return loss_d, aux

    (loss_d, aux), grad_d = jax.value_and_grad(loss_d_and_aux, has_aux=True)(players.d)
    loss_g, grad_g = jax.value_and_grad(lambda g: with_aux(Players(players.d, g))[0][1])(
        players.g
    )
    # THE sign convention of the library: each player descends its own loss, so the velocity is
    # minus the pair of partial gradients (paper eq. 4). Every solver integrates this field, and an
    # Euler step with step size h is simultaneous gradient descent with learning rate h.
    velocity = Players(d=jtu.tree_map(jnp.negative, grad_d), g=jtu.tree_map(jnp.negative, grad_g))
    return velocity, ((loss_d, loss_g), aux) if has_aux else (loss_d, loss_g)


def gan_losses(
    players: Players,
    data: PyTree,
    latents: PyTree,
    *,
    discriminator: Callable[[PyTree, PyTree], Array],
    generator: Callable[[PyTree, PyTree], PyTree],
    loss: str | LossPair = "non_saturating",
) -> tuple[Array, Array]:
    r"""The loss pair of a GAN on one minibatch.

    Args:
        players: `Players(d=θ, g=φ)`.
        data: a batch of real data, e.g. an array of shape `[n, ...]`.
        latents: a batch of latent codes, e.g. an array of shape `[m, latent]`.
        discriminator: pure apply function, `discriminator(θ, x_batch) -> logits` of shape `[n]`
            (or `[n, 1]`); e.g. a Flax module's `apply`.
        generator: pure apply function, `generator(φ, z_batch) -> x_batch`.
        loss: the loss pair, a name in `LOSS_PAIRS` or a function (default: non-saturating).

    Returns:
        `(loss_d, loss_g)`: :math:`\ell_D` and :math:`\ell_G` on this batch, two scalars.
    """
    loss_pair = get_loss_pair(loss)
    real_logits = discriminator(players.d, data)
    fake_logits = discriminator(players.d, generator(players.g, latents))
    return loss_pair(real_logits, fake_logits)


def joint_vector_field(
    players: Players,
    data: PyTree,
    latents: PyTree,
    *,
    discriminator: Callable[[PyTree, PyTree], Array],
    generator: Callable[[PyTree, PyTree], PyTree],
    loss: str | LossPair = "non_saturating",
) -> Players:
    r"""The GAN velocity :math:`-[\partial_\theta \ell_D, \partial_\phi \ell_G]` on one minibatch.

    Args:
        players: `Players(d=θ, g=φ)`.
        data: a batch of real data, e.g. an array of shape `[n, ...]`.
        latents: a batch of latent codes, e.g. an array of shape `[m, latent]`.
        discriminator: pure apply function, `discriminator(θ, x_batch) -> logits`.
        generator: pure apply function, `generator(φ, z_batch) -> x_batch`.
        loss: the loss pair, a name in `LOSS_PAIRS` or a function (default: non-saturating).

    Returns:
        The velocity, a `Players` pytree with the structure of `players`.

    Examples:
        >>> import jax.numpy as jnp
        >>> disc = lambda theta, x: x @ theta
        >>> gen = lambda phi, z: z + phi[None, :]
        >>> players = Players(d=jnp.ones(2), g=jnp.zeros(2))
        >>> v = joint_vector_field(players, jnp.ones((3, 2)), jnp.zeros((3, 2)),
        ...                        discriminator=disc, generator=gen, loss="wgan")
        >>> print(v.d, v.g)
        [1. 1.] [1. 1.]
    """
    losses = ft.partial(
        gan_losses,
        data=data,
        latents=latents,
        discriminator=discriminator,
        generator=generator,
        loss=loss,
    )
    return game_vector_field(losses, players)


# --- the regulariser R(θ) = λ‖∂ℓ_G/∂φ‖² ---------------------------------------------------------


def generator_grad_sq_norm(losses: Losses, players: Players) -> Array:
    r"""The squared norm :math:`\|\partial_\phi \ell_G\|^2` that the regulariser penalises.

    Args:
        losses: the game, `losses(players) -> (loss_d, loss_g)`.
        players: the point :math:`(\theta, \phi)`.

    Returns:
        A scalar. It vanishes at a differential Nash equilibrium.
    """
    grad_g = jax.grad(lambda g: losses(Players(players.d, g))[1])(players.g)
    return optax.tree.norm(grad_g, squared=True)


def regulariser_grad(
    losses: Losses,
    players: Players,
    *,
    method: Literal["forward_over_reverse", "reverse_over_reverse"] = "forward_over_reverse",
    generator_grad: PyTree | None = None,
) -> PyTree:
    r"""Gradient :math:`g_\theta = \nabla_\theta \|\partial_\phi \ell_G\|^2` (Alg. 1, eq. 11).

    With :math:`g = \partial_\phi \ell_G`, symmetry of second derivatives gives

    .. math::
        g_\theta = 2\,(\partial_\theta g)^\top g
        = 2\,\frac{\partial}{\partial \phi}\big(\partial_\theta \ell_G\big)\,[g],

    a Hessian-vector product: the forward-mode derivative (JVP) of :math:`\phi \mapsto
    \partial_\theta \ell_G` in the direction :math:`g` ("forward-over-reverse", the cheap default),
    or the reverse-mode gradient of :math:`\theta \mapsto \|\partial_\phi \ell_G\|^2`
    ("reverse-over-reverse"). Both are exact; a test checks that they agree.

    Args:
        losses: the game, `losses(players) -> (loss_d, loss_g)`; twice differentiable.
        players: the point :math:`(\theta, \phi)`.
        method: `"forward_over_reverse"` (default) or `"reverse_over_reverse"`.
        generator_grad: optional :math:`\partial_\phi \ell_G` at `players` (structure of
            `players.g`), when the caller already has it (the field at the step's start holds
            its negative): forward-over-reverse then skips recomputing it. Ignored by
            reverse-over-reverse.

    Returns:
        :math:`g_\theta`, a pytree with the structure of `players.d`. The regulariser of weight
        :math:`\lambda` has gradient :math:`\lambda g_\theta` (or :math:`\tfrac12\lambda g_\theta`
        with the ½‖g‖² convention; see `odegan.ode_step`).

    Raises:
        ValueError: for an unknown `method`.
    """
    loss_g = lambda d, g: losses(Players(d, g))[1]
    if method == "forward_over_reverse":
        grad_g = generator_grad
        if grad_g is None:
            grad_g = jax.grad(loss_g, argnums=1)(players.d, players.g)
        grad_d_of_g = lambda g: jax.grad(loss_g, argnums=0)(players.d, g)
        _, hvp = jax.jvp(grad_d_of_g, (players.g,), (grad_g,))
        return jtu.tree_map(lambda x: 2 * x, hvp)
    if method == "reverse_over_reverse":
        return jax.grad(
            lambda d: optax.tree.norm(jax.grad(loss_g, argnums=1)(d, players.g), squared=True)
        )(players.d)
    raise ValueError(
        f"`method` must be 'forward_over_reverse' or 'reverse_over_reverse', got {method!r}."
    )


# --- toy games --------------------------------------------------------------------------------


def rotational_game(players: Players, *, epsilon: float = 0.1) -> tuple[Array, Array]:
    r"""The paper's strongly rotational game (§3.2.2).

    Losses :math:`\ell_D = \tfrac12\epsilon\theta^2 - \theta\phi` and
    :math:`\ell_G = \theta\phi`. Its field is :math:`\dot\theta = -\epsilon\theta + \phi`,
    :math:`\dot\phi = -\theta`, a damped rotation towards the Nash equilibrium (0, 0) for
    :math:`0 < \epsilon < 2`.

    Args:
        players: `Players(d=θ, g=φ)`, two scalars.
        epsilon: the damping :math:`\epsilon` (default 0.1, as in the paper).

    Returns:
        `(loss_d, loss_g)`, two scalars.
    """
    theta, phi = players
    return 0.5 * epsilon * theta**2 - theta * phi, theta * phi


def rotational_solution(t: ArrayLike, players0: Players, *, epsilon: float = 0.1) -> Players:
    r"""Closed-form solution of `rotational_game` (paper eqs. 8--9), for :math:`|\epsilon| < 2`.

    .. math::
        \theta(t) = e^{-\epsilon t/2}(a_0\cos\omega t + b_0\sin\omega t),\quad
        \phi(t) = e^{-\epsilon t/2}(a_1\cos\omega t + b_1\sin\omega t),

    with :math:`\omega = \sqrt{4-\epsilon^2}/2`, :math:`a_0 = \theta_0`,
    :math:`b_0 = (\phi_0 - \epsilon\theta_0/2)/\omega`, :math:`a_1 = \phi_0` and
    :math:`b_1 = \epsilon b_0/2 - \omega a_0`. (From :math:`\phi = \dot\theta + \epsilon\theta`.)

    Args:
        t: time, any shape.
        players0: initial point `Players(d=θ₀, g=φ₀)`, two scalars.
        epsilon: the damping :math:`\epsilon`.

    Returns:
        `Players(d=θ(t), g=φ(t))`, each with the shape of `t`.
    """
    t = jnp.asarray(t)
    theta0, phi0 = players0
    omega = jnp.sqrt(4.0 - epsilon**2) / 2
    a0, a1 = theta0, phi0
    b0 = (phi0 - epsilon * theta0 / 2) / omega
    b1 = epsilon * b0 / 2 - omega * a0
    decay = jnp.exp(-epsilon * t / 2)
    cos, sin = jnp.cos(omega * t), jnp.sin(omega * t)
    return Players(d=decay * (a0 * cos + b0 * sin), g=decay * (a1 * cos + b1 * sin))


def linear_game(players: Players, matrix: ArrayLike) -> Players:
    r"""A general linear game given by its velocity :math:`v(z) = A z`, :math:`z = (\theta, \phi)`.

    The field is given directly (not through losses): any linearisation around an equilibrium has
    this form (paper eq. 6, :math:`A = -H`).

    Args:
        players: `Players(d=θ, g=φ)` with `θ` of shape `[n]` and `φ` of shape `[m]`.
        matrix: :math:`A`, shape `[n + m, n + m]`.

    Returns:
        The velocity, `Players` with the shapes of `players`.

    Raises:
        ValueError: if `matrix` is not of shape `[n + m, n + m]`.
    """
    matrix = jnp.asarray(matrix)
    z, unflatten = _flatten_players(players, matrix)
    return unflatten(matrix @ z)


def linear_game_solution(t: ArrayLike, players0: Players, matrix: ArrayLike) -> Players:
    r"""Exact solution :math:`z(t) = e^{tA} z_0` of `linear_game`.

    Args:
        t: a scalar time.
        players0: initial point, `Players` with `θ₀` of shape `[n]` and `φ₀` of shape `[m]`.
        matrix: :math:`A`, shape `[n + m, n + m]`.

    Returns:
        `Players` at time `t`, with the shapes of `players0`.
    """
    matrix = jnp.asarray(matrix)
    z0, unflatten = _flatten_players(players0, matrix)
    return unflatten(jsl.expm(jnp.asarray(t, matrix.dtype) * matrix) @ z0)


def _flatten_players(players: Players, matrix: Array) -> tuple[Array, Callable[[Array], Players]]:
    n, m = jnp.shape(players.d), jnp.shape(players.g)
    if len(n) != 1 or len(m) != 1 or matrix.shape != (n[0] + m[0],) * 2:
        raise ValueError(
            "`matrix` must have shape [n + m, n + m] for players of shapes [n] and [m]; got "
            f"matrix {matrix.shape}, players {n} and {m}."
        )
    z = jnp.concatenate([players.d, players.g])
    return z, lambda w: Players(d=w[: n[0]], g=w[n[0] :])


def dirac_gan(players: Players, *, loss: str | LossPair = "minimax") -> tuple[Array, Array]:
    r"""The Dirac GAN (Mescheder et al. 2018, https://arxiv.org/abs/1801.04406).

    Real data is a point mass at 0, the generator a point mass at :math:`\phi`, and the
    discriminator is linear, :math:`D_\theta(x) = \theta \cdot x`: the real logit is 0 and the fake
    logit :math:`\theta\cdot\phi`. The unique equilibrium is :math:`(0, 0)`; with the minimax loss
    the field is purely rotational at it, so the continuous dynamics circle it.

    Args:
        players: `Players(d=θ, g=φ)`, two arrays of the same shape `[d]` (or scalars).
        loss: the loss pair, a name in `LOSS_PAIRS` or a function (default: minimax).

    Returns:
        `(loss_d, loss_g)`, two scalars.

    Raises:
        ValueError: if θ and φ do not have the same shape.
    """
    theta, phi = jnp.asarray(players.d), jnp.asarray(players.g)
    if theta.shape != phi.shape:
        raise ValueError(
            f"`players.d` and `players.g` must have the same shape, got {theta.shape} and "
            f"{phi.shape}."
        )
    fake_logit = jnp.vdot(theta, phi)
    return get_loss_pair(loss)(jnp.zeros((1,), fake_logit.dtype), fake_logit[None])


def toy_game_field(game: Callable[..., tuple[Array, Array]], **kwargs: Any) -> Callable:
    """The velocity field `players -> Players` of a toy game given by its losses.

    Args:
        game: e.g. `rotational_game` or `dirac_gan`.
        **kwargs: keyword arguments of the game (e.g. `epsilon=0.1`).

    Returns:
        `field(players) -> Players`, the velocity from `game_vector_field`.
    """
    return lambda players: game_vector_field(ft.partial(game, **kwargs), players)

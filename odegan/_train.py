r"""The training loop: a pure step on a train state, many steps per call with `lax.scan`.

A game is a function `losses(players, *, key) -> (loss_d, loss_g)`: the key draws its minibatch
(`gan_minibatch_losses` for a GAN; a toy game ignores it). `train_step` builds the velocity
function from it and hands it, with the regulariser's gradient, to any transformation of this
library (`ode_step` or a baseline from `BASELINES`), so one step function serves them all;
`train` scans it. Each step's randomness is `jr.fold_in(state.key, state.step)`, so a run resumed
from a checkpoint of its `TrainState` continues exactly as the uninterrupted run.
"""

import functools as ft
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import optax
from jax import Array
from jaxtyping import PyTree

from ._game import LossPair, Players, game_velocity_and_losses, gan_losses, regulariser_grad
from ._transform import ODEStepState

# `losses(players, *, key) -> (loss_d, loss_g)`: a game whose minibatch is drawn from `key`.
MinibatchLosses = Callable[..., tuple[Array, Array]]


@flax.struct.dataclass
class TrainState:
    """Everything a training run carries from step to step (a pytree; checkpoint it whole).

    Attributes:
        step: int32 `[]`, number of steps taken.
        players: `Players(d=θ, g=φ)`, the parameters.
        opt_state: the transformation's state.
        key: PRNG key of the run; step `k` uses `jr.fold_in(key, k)`.
    """

    step: Array
    players: Players
    opt_state: PyTree
    key: Array


def init_train_state(
    players: Players, tx: optax.GradientTransformation, *, key: Array
) -> TrainState:
    """The train state at step 0.

    Args:
        players: initial `Players(d=θ, g=φ)`.
        tx: the transformation (e.g. `odegan.ode_step("rk4", 0.1)` or a baseline).
        key: PRNG key of the run (minibatches, latents).

    Returns:
        A `TrainState` with `step = 0`.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> from odegan import Players, init_train_state, ode_step
        >>> state = init_train_state(Players(jnp.array(1.0), jnp.array(1.0)), ode_step("rk4", 0.1),
        ...                          key=jr.key(0))
        >>> int(state.step)
        0
    """
    return TrainState(
        step=jnp.zeros((), jnp.int32), players=players, opt_state=tx.init(players), key=key
    )


def gan_minibatch_losses(
    players: Players,
    *,
    key: Array,
    discriminator: Callable[[PyTree, Array], Array],
    generator: Callable[[PyTree, Array], Array],
    sample_data: Callable[..., Array],
    batch_size: int,
    latent_dim: int,
    loss: str | LossPair = "non_saturating",
) -> tuple[Array, Array]:
    r"""The GAN's losses on a minibatch drawn from `key` (data and standard normal latents).

    Args:
        players: `Players(d=θ, g=φ)`.
        key: PRNG key of the minibatch.
        discriminator: pure apply function, `discriminator(θ, x[n, ...]) -> logits[n]`.
        generator: pure apply function, `generator(φ, z[n, latent_dim]) -> x[n, ...]`.
        sample_data: `sample_data(n, *, key) -> x[n, ...]`, e.g. `odegan.datasets.sample_mog_grid`.
        batch_size: number of real and of generated samples.
        latent_dim: dimension of the latent code.
        loss: the loss pair, a name in `LOSS_PAIRS` or a function (default non-saturating).

    Returns:
        `(loss_d, loss_g)`, two scalars.
    """
    key_data, key_latent = jr.split(key)
    data = sample_data(batch_size, key=key_data)
    latents = jr.normal(key_latent, (batch_size, latent_dim))
    return gan_losses(
        players, data, latents, discriminator=discriminator, generator=generator, loss=loss
    )


def _ode_step_states(opt_state: PyTree) -> list[ODEStepState]:
    return [
        s
        for s in jtu.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, ODEStepState))
        if isinstance(s, ODEStepState)
    ]


def train_step(
    state: TrainState,
    *,
    tx: optax.GradientTransformationExtraArgs,
    losses: MinibatchLosses,
    fresh_minibatch: bool = False,
) -> tuple[TrainState, dict[str, Array]]:
    r"""One training step: any transformation of the library on the game's velocity field.

    The transformation receives `vector_field(params, stage_index)` (the velocity
    :math:`-[\partial_\theta\ell_D, \partial_\phi\ell_G]` on the step's minibatch) and
    `regulariser_grad(params, stage_index)` (:math:`\nabla_\theta\|\partial_\phi\ell_G\|^2`, used
    by `ode_step` when its `regulariser > 0`). The field at the step's start is computed once,
    with the losses, and reused when the transformation asks for it at the step's start point
    (the same `params` object); a transformation that differentiates the field (consensus, SGA)
    traces it anew.

    Args:
        state: the `TrainState`.
        tx: `odegan.ode_step(...)`, a baseline from `odegan.BASELINES`, or any transformation
            taking the extra argument `vector_field`.
        losses: the game, `losses(players, *, key) -> (loss_d, loss_g)`.
        fresh_minibatch: draw a new minibatch for every stage (the paper's TF code) instead of
            one per step used in every stage (the MoG notebook; default).

    Returns:
        `(new_state, metrics)`, `metrics` a dict of scalars at the step's start: `loss_d`,
        `loss_g`, `grad_norm_d` :math:`\|\partial_\theta\ell_D\|`, `grad_norm_g`
        :math:`\|\partial_\phi\ell_G\|`, `error` (the `ode_step` embedded error estimate, NaN
        without one) and `dt` (the step size the `ode_step` used; NaN for baselines).
    """
    step_key = jr.fold_in(state.key, state.step)
    game = lambda stage: ft.partial(
        losses, key=jr.fold_in(step_key, stage) if fresh_minibatch else step_key
    )
    params = state.players
    v0, (loss_d, loss_g) = game_velocity_and_losses(game(0), params)

    def vector_field(p: Players, stage: int) -> Players:
        if stage == 0 and p is params:
            return v0
        return game_velocity_and_losses(game(stage), p)[0]

    def reg_grad(p: Players, stage: int) -> PyTree:
        return regulariser_grad(game(stage), p)

    grads = jtu.tree_map(jnp.negative, v0)
    updates, opt_state = tx.update(
        grads, state.opt_state, params, vector_field=vector_field, regulariser_grad=reg_grad
    )
    new_state = state.replace(
        step=state.step + 1, players=optax.apply_updates(params, updates), opt_state=opt_state
    )
    ode_states = _ode_step_states(state.opt_state)
    new_ode_states = _ode_step_states(opt_state)
    nan = jnp.full((), jnp.nan, loss_d.dtype)
    metrics = {
        "loss_d": loss_d,
        "loss_g": loss_g,
        "grad_norm_d": optax.tree.norm(v0.d),
        "grad_norm_g": optax.tree.norm(v0.g),
        "error": new_ode_states[0].error.astype(nan.dtype) if new_ode_states else nan,
        "dt": ode_states[0].dt.astype(nan.dtype) if ode_states else nan,
    }
    return new_state, metrics


def train(
    state: TrainState,
    num_steps: int,
    *,
    tx: optax.GradientTransformationExtraArgs,
    losses: MinibatchLosses,
    fresh_minibatch: bool = False,
) -> tuple[TrainState, dict[str, Array]]:
    """`num_steps` steps of `train_step` in one `lax.scan`.

    Jit it with the transformation and game bound, e.g.
    `jax.jit(functools.partial(train, tx=tx, losses=losses), static_argnums=1)`.

    Args:
        state: the `TrainState`.
        num_steps: number of steps (static).
        tx: the transformation, as for `train_step`.
        losses: the game, `losses(players, *, key) -> (loss_d, loss_g)`.
        fresh_minibatch: as for `train_step`.

    Returns:
        `(new_state, metrics)`, each metric an array of shape `[num_steps]`.

    Raises:
        ValueError: if `num_steps < 1`.

    Examples:
        >>> import functools as ft
        >>> import jax.numpy as jnp, jax.random as jr
        >>> from odegan import Players, init_train_state, ode_step, rotational_game, train
        >>> tx = ode_step("heun", 0.2)
        >>> state = init_train_state(Players(jnp.array(1.0), jnp.array(1.0)), tx, key=jr.key(0))
        >>> game = lambda players, *, key: rotational_game(players)
        >>> state, metrics = train(state, 200, tx=tx, losses=game)
        >>> int(state.step), metrics["loss_d"].shape, bool(abs(state.players.d) < 0.25)
        (200, (200,), True)
    """
    if num_steps < 1:
        raise ValueError(f"`num_steps` must be at least 1, got {num_steps}.")
    step = ft.partial(train_step, tx=tx, losses=losses, fresh_minibatch=fresh_minibatch)

    def body(carry: TrainState, _: Any) -> tuple[TrainState, dict[str, Array]]:
        return step(carry)

    return jax.lax.scan(body, state, None, length=num_steps)

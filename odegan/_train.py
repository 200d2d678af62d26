r"""The training loop: a pure step on a train state, many steps per call with `lax.scan`.

A game is a pair: `losses(players, batch) -> (loss_d, loss_g)` and `sample_batch(key) -> batch`
(`gan_batch_losses` and `sample_gan_batch` for a GAN; a toy game has no batch). A model with
state outside its parameters (BatchNorm's running statistics) keeps it in `TrainState.model_state`
and its game takes and returns it (`gan_batch_losses_with_state`): the state is no part of the ODE,
and each step commits the state of its start point once, however many stages the solver takes.
Each minibatch is drawn once and shared by every evaluation that uses it. `train_step` builds
the velocity function from it and hands it, with the regulariser's gradient, to any
transformation of this library (`ode_step` or a baseline from `BASELINES`), so one step function
serves them all; `train` scans it. Each step's randomness is `jr.fold_in(state.key, state.step)`,
so a run resumed from a checkpoint of its `TrainState` continues exactly as the uninterrupted
run.
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

from ._baselines import GradientPlayState
from ._game import (
    LossPair,
    Players,
    game_velocity_and_losses,
    gan_losses,
    get_loss_pair,
    regulariser_grad,
)
from ._transform import ODEStepState

# `losses(players, batch) -> (loss_d, loss_g)`: a game on one minibatch.
BatchLosses = Callable[[Players, Any], tuple[Array, Array]]
# `sample_batch(key) -> batch`: draws a minibatch.
BatchSampler = Callable[[Array], Any]
# The extra discriminator updates of a step (`d_steps` > 1) draw their minibatches from
# `fold_in(step_key, _EXTRA_D_STREAM + i)`, far from the stage indices (0, 1, ...) that the
# step's own minibatches fold into the same key.
_EXTRA_D_STREAM = 1 << 20


@flax.struct.dataclass
class TrainState:
    """Everything a training run carries from step to step (a pytree; checkpoint it whole).

    Attributes:
        step: int32 `[]`, number of steps taken.
        players: `Players(d=θ, g=φ)`, the parameters.
        opt_state: the transformation's state.
        key: PRNG key of the run; step `k` uses `jr.fold_in(key, k)`.
        model_state: the models' state outside the parameters (e.g. BatchNorm's running
            statistics), or None for a game without one.
    """

    step: Array
    players: Players
    opt_state: PyTree
    key: Array
    model_state: PyTree = None


def init_train_state(
    players: Players,
    tx: optax.GradientTransformation,
    *,
    key: Array,
    model_state: PyTree = None,
) -> TrainState:
    """The train state at step 0.

    Args:
        players: initial `Players(d=θ, g=φ)`.
        tx: the transformation (e.g. `odegan.ode_step("rk4", 0.1)` or a baseline).
        key: PRNG key of the run (minibatches, latents).
        model_state: the models' initial state outside the parameters (e.g. BatchNorm
            statistics from `odegan.batch_norm_dcgan`); its game must then take and return
            it (see `train_step`).

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
        step=jnp.zeros((), jnp.int32),
        players=players,
        opt_state=tx.init(players),
        key=key,
        model_state=model_state,
    )


def sample_gan_batch(
    key: Array,
    *,
    sample_data: Callable[..., Array],
    batch_size: int,
    latent_dim: int,
) -> tuple[Array, Array]:
    """A GAN minibatch: real data and standard normal latent codes drawn from `key`.

    Args:
        key: PRNG key of the minibatch.
        sample_data: `sample_data(n, *, key) -> x[n, ...]`, e.g. `odegan.datasets.sample_mog_grid`.
        batch_size: number of real and of generated samples.
        latent_dim: dimension of the latent code.

    Returns:
        `(data, latents)`: arrays of shapes `[batch_size, ...]` and `[batch_size, latent_dim]`.

    Examples:
        >>> import jax.random as jr
        >>> from odegan.datasets import sample_mog_grid
        >>> data, latents = sample_gan_batch(jr.key(0), sample_data=sample_mog_grid,
        ...                                  batch_size=32, latent_dim=4)
        >>> data.shape, latents.shape
        ((32, 2), (32, 4))
    """
    key_data, key_latent = jr.split(key)
    return sample_data(batch_size, key=key_data), jr.normal(key_latent, (batch_size, latent_dim))


def gan_batch_losses(
    players: Players,
    batch: tuple[Array, Array],
    *,
    discriminator: Callable[[PyTree, Array], Array],
    generator: Callable[[PyTree, Array], Array],
    loss: str | LossPair = "non_saturating",
) -> tuple[Array, Array]:
    r"""The GAN's losses on a minibatch `(data, latents)` from `sample_gan_batch`.

    Args:
        players: `Players(d=θ, g=φ)`.
        batch: `(data[n, ...], latents[m, latent_dim])`.
        discriminator: pure apply function, `discriminator(θ, x[n, ...]) -> logits[n]`.
        generator: pure apply function, `generator(φ, z[m, latent_dim]) -> x[m, ...]`.
        loss: the loss pair, a name in `LOSS_PAIRS` or a function (default non-saturating).

    Returns:
        `(loss_d, loss_g)`, two scalars.
    """
    data, latents = batch
    return gan_losses(
        players, data, latents, discriminator=discriminator, generator=generator, loss=loss
    )


def gan_batch_losses_with_state(
    players: Players,
    batch: tuple[Array, Array],
    model_state: PyTree,
    *,
    discriminator: Callable[[PyTree, Array], Array],
    generator: Callable[[PyTree, PyTree, Array], tuple[Array, PyTree]],
    loss: str | LossPair = "non_saturating",
) -> tuple[tuple[Array, Array], PyTree]:
    r"""`gan_batch_losses` for a generator with state (BatchNorm statistics), in training mode.

    Args:
        players: `Players(d=θ, g=φ)`.
        batch: `(data[n, ...], latents[m, latent_dim])`.
        model_state: the generator's state, e.g. its BatchNorm running statistics.
        discriminator: pure apply function, `discriminator(θ, x[n, ...]) -> logits[n]`.
        generator: `generator(φ, state, z[m, latent_dim]) -> (x[m, ...], new state)` in
            training mode (batch statistics normalise, the running ones are updated), e.g. the
            `train_generator` of `odegan.batch_norm_dcgan`.
        loss: the loss pair, a name in `LOSS_PAIRS` or a function (default non-saturating).

    Returns:
        `((loss_d, loss_g), new_state)`: two scalars and the generator's updated state.
    """
    data, latents = batch
    fake, new_state = generator(players.g, model_state, latents)
    loss_pair = get_loss_pair(loss)
    return loss_pair(discriminator(players.d, data), discriminator(players.d, fake)), new_state


def _bind(losses: Callable, batch: Any, model_state: PyTree) -> Callable:
    """The game on one minibatch as `players -> ((loss_d, loss_g), new model state)`."""
    if model_state is None:
        return lambda players: (losses(players, batch), None)
    return lambda players: losses(players, batch, model_state)


def _ode_step_states(opt_state: PyTree) -> list[ODEStepState]:
    return [
        s
        for s in jtu.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, ODEStepState))
        if isinstance(s, ODEStepState)
    ]


def _discriminator_update(state: TrainState, tx, losses: BatchLosses, batch) -> TrainState:
    """The discriminator half of one `tx` update on `batch`; the generator stays where it is."""
    players, opt_state = state.players, state.opt_state
    game = _bind(losses, batch, state.model_state)
    v0, (_, model_state) = game_velocity_and_losses(game, players, has_aux=True)

    def field(p: Players, stage: int) -> Players:
        del stage  # one minibatch per discriminator update
        return v0 if p is players else game_velocity_and_losses(game, p, has_aux=True)[0]

    # `gradient_play` reads the field, not the gradient argument.
    updates, new_opt_state = tx.update(players, opt_state, players, vector_field=field)
    return state.replace(
        players=Players(d=optax.apply_updates(players.d, updates.d), g=players.g),
        opt_state=new_opt_state._replace(g=opt_state.g),
        model_state=model_state,
    )


def train_step(
    state: TrainState,
    *,
    tx: optax.GradientTransformationExtraArgs,
    losses: BatchLosses,
    sample_batch: BatchSampler | None = None,
    fresh_minibatch: bool = False,
    d_steps: int = 1,
) -> tuple[TrainState, dict[str, Array]]:
    r"""One training step: any transformation of the library on the game's velocity field.

    The transformation receives `vector_field(params, stage_index)` (the velocity
    :math:`-[\partial_\theta\ell_D, \partial_\phi\ell_G]` on the step's minibatch) and
    `regulariser_grad(params, stage_index)` (:math:`\nabla_\theta\|\partial_\phi\ell_G\|^2`, used
    by `ode_step` when its `regulariser > 0`). The field at the step's start is computed once,
    with the losses, and reused when the transformation asks for it at the step's start point
    (the same `params` object); a transformation that differentiates the field (consensus, SGA)
    traces it anew. Likewise the regulariser's gradient at the step's start reuses
    :math:`\partial_\phi\ell_G = -v_\phi` and only adds its Hessian-vector product.

    A state with a `model_state` (BatchNorm statistics) needs a game that takes and returns it,
    `losses(players, batch, model_state) -> ((loss_d, loss_g), new_model_state)`: every stage
    evaluates the field with the step's starting model state, and the new state from the step's
    start point is committed once, after the update (and once per extra discriminator update),
    as a first-order optimiser would: the number of stages does not change the statistics.

    Args:
        state: the `TrainState`.
        tx: `odegan.ode_step(...)`, a baseline from `odegan.BASELINES`, or any transformation
            taking the extra argument `vector_field`.
        losses: the game on a minibatch, `losses(players, batch) -> (loss_d, loss_g)`, or
            with a `model_state` as above.
        sample_batch: `sample_batch(key) -> batch` (default None: `batch` is None, for games
            without data).
        fresh_minibatch: draw a new minibatch for every stage (the paper's TF code) instead of
            one per step used in every stage (the MoG notebook; default).
        d_steps: discriminator updates per generator update (seed 000 gave Euler 3, MoCoGAN
            reimplementations often 2): ``d_steps - 1`` discriminator-only updates, each on its
            own minibatch (the discriminator half of `tx`'s update; XLA drops the generator's
            unused half), then the step above. Needs a per-player transformation
            (`odegan.gradient_play`): an ODE step integrates both players jointly.

    Returns:
        `(new_state, metrics)`, `metrics` a dict of scalars at the last update's start: `loss_d`,
        `loss_g`, `grad_norm_d` :math:`\|\partial_\theta\ell_D\|`, `grad_norm_g`
        :math:`\|\partial_\phi\ell_G\|`, `error` (the `ode_step` embedded error estimate, NaN
        without one) and `dt` (the step size the `ode_step` used; NaN for baselines).

    Raises:
        ValueError: if `d_steps` < 1, or > 1 with a transformation whose state is not a
            `GradientPlayState`.
    """
    if isinstance(d_steps, bool) or not isinstance(d_steps, int) or d_steps < 1:
        raise ValueError(f"`d_steps` must be a positive int, got {d_steps!r}.")
    if d_steps > 1 and not isinstance(state.opt_state, GradientPlayState):
        raise ValueError(
            "`d_steps` > 1 needs a per-player transformation (`odegan.gradient_play`, e.g. "
            f"Adam); got a state of type {type(state.opt_state).__name__}."
        )
    step_key = jr.fold_in(state.key, state.step)
    draw = (lambda key: None) if sample_batch is None else sample_batch
    for i in range(d_steps - 1):
        batch = draw(jr.fold_in(step_key, _EXTRA_D_STREAM + i))
        state = _discriminator_update(state, tx, losses, batch)
    batch0 = draw(jr.fold_in(step_key, 0) if fresh_minibatch else step_key)

    def game(stage: int) -> Callable[[Players], tuple[tuple[Array, Array], PyTree]]:
        # One draw per step (or per stage), shared by the field and the regulariser.
        batch = draw(jr.fold_in(step_key, stage)) if fresh_minibatch and stage else batch0
        return _bind(losses, batch, state.model_state)

    params = state.players
    v0, ((loss_d, loss_g), model_state) = game_velocity_and_losses(game(0), params, has_aux=True)

    def vector_field(p: Players, stage: int) -> Players:
        if stage == 0 and p is params:
            return v0
        return game_velocity_and_losses(game(stage), p, has_aux=True)[0]

    def reg_grad(p: Players, stage: int) -> PyTree:
        # At the step's start ∂ℓ_G/∂φ = −v0.g is known: only the Hessian-vector product is new.
        known = jtu.tree_map(jnp.negative, v0.g) if stage == 0 and p is params else None
        return regulariser_grad(lambda q: game(stage)(q)[0], p, generator_grad=known)

    grads = jtu.tree_map(jnp.negative, v0)
    updates, opt_state = tx.update(
        grads, state.opt_state, params, vector_field=vector_field, regulariser_grad=reg_grad
    )
    new_state = state.replace(
        step=state.step + 1,
        players=optax.apply_updates(params, updates),
        opt_state=opt_state,
        model_state=model_state,
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
    losses: BatchLosses,
    sample_batch: BatchSampler | None = None,
    fresh_minibatch: bool = False,
    d_steps: int = 1,
) -> tuple[TrainState, dict[str, Array]]:
    """`num_steps` steps of `train_step` in one `lax.scan`.

    Jit it with the transformation and the game bound, e.g.
    `jax.jit(functools.partial(train, tx=tx, losses=losses, sample_batch=s), static_argnums=1)`.

    Args:
        state: the `TrainState`.
        num_steps: number of steps (static).
        tx: the transformation, as for `train_step`.
        losses: the game on a minibatch, `losses(players, batch) -> (loss_d, loss_g)`.
        sample_batch: `sample_batch(key) -> batch`, or None for games without data.
        fresh_minibatch: as for `train_step`.
        d_steps: as for `train_step`.

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
        >>> game = lambda players, batch: rotational_game(players)
        >>> state, metrics = train(state, 200, tx=tx, losses=game)
        >>> int(state.step), metrics["loss_d"].shape, bool(abs(state.players.d) < 0.25)
        (200, (200,), True)
    """
    if num_steps < 1:
        raise ValueError(f"`num_steps` must be at least 1, got {num_steps}.")
    step = ft.partial(
        train_step,
        tx=tx,
        losses=losses,
        sample_batch=sample_batch,
        fresh_minibatch=fresh_minibatch,
        d_steps=d_steps,
    )

    def body(carry: TrainState, _: Any) -> tuple[TrainState, dict[str, Array]]:
        return step(carry)

    return jax.lax.scan(body, state, None, length=num_steps)

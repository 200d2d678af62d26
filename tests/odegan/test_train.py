import functools as ft

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from common import runs
from odegan import (
    BASELINES,
    Players,
    datasets,
    game_vector_field,
    game_velocity_and_losses,
    gan_batch_losses,
    gradient_play,
    init_train_state,
    metrics,
    mlp_gan,
    ode_step,
    rotational_game,
    sample_gan_batch,
    train,
    train_step,
)
from tests.helpers import tree_allclose


def _toy(players, batch):
    del batch
    return rotational_game(players)


def test_velocity_and_losses_share_the_sign_convention(tiny_gan):
    players, data, latents, disc, gen = tiny_gan
    from odegan import gan_losses

    losses = ft.partial(gan_losses, data=data, latents=latents, discriminator=disc, generator=gen)
    v, (loss_d, loss_g) = game_velocity_and_losses(losses, players)
    assert tree_allclose(v, game_vector_field(losses, players), rtol=0, atol=0)
    assert tree_allclose((loss_d, loss_g), losses(players), rtol=0, atol=0)


def test_mog_grid_is_stratified(key):
    means = datasets.mog_grid_means()
    assert means.shape == (16, 2)
    assert sorted(set(np.asarray(means[:, 0]).tolist())) == [-1.5, -0.5, 0.5, 1.5]
    x = datasets.sample_mog_grid(512, key=key)
    assert x.shape == (512, 2)
    nearest = jnp.argmin(jnp.sum((x[:, None] - means[None]) ** 2, -1), axis=1)
    np.testing.assert_array_equal(jnp.bincount(nearest, length=16), 32 * np.ones(16))
    np.testing.assert_allclose(jnp.std(x - jnp.tile(means, (32, 1))), 0.02, rtol=0.1)
    with pytest.raises(ValueError, match="`n`"):
        datasets.sample_mog_grid(100, key=key)
    with pytest.raises(ValueError, match="`std`"):
        datasets.sample_mog_grid(32, key=key, std=0.0)


def test_mog_metrics(key):
    means = datasets.mog_grid_means()
    perfect = metrics.mog_metrics(datasets.sample_mog_grid(5120, key=key), means, std=0.02)
    assert int(perfect["modes_covered"]) == 16
    assert float(perfect["high_quality"]) > 0.98
    assert float(perfect["mode_kl"]) < 1e-3
    collapsed = metrics.mog_metrics(jnp.zeros((64, 2)) + means[3][None, :], means, std=0.02)
    assert int(collapsed["modes_covered"]) == 1
    np.testing.assert_allclose(collapsed["mode_kl"], np.log(16), rtol=1e-6)
    far = metrics.mog_metrics(jnp.full((64, 2), 10.0), means, std=0.02)
    assert int(far["modes_covered"]) == 0
    assert float(far["high_quality"]) == 0.0
    assert np.isnan(far["mode_kl"])
    with pytest.raises(ValueError, match="`samples` and `means`"):
        metrics.mog_metrics(jnp.zeros((4, 3)), means, std=0.02)
    with pytest.raises(ValueError, match="`std`"):
        metrics.mog_metrics(jnp.zeros((4, 2)), means, std=-1.0)


def test_mlp_gan_shapes():
    players, disc, gen = mlp_gan(key=jr.key(0), latent_dim=8, hidden=(25, 25))
    shapes = jax.eval_shape(lambda p: disc(p.d, gen(p.g, jnp.zeros((5, 8)))), players)
    assert shapes.shape == (5,)
    assert players.d["params"]["Dense_0"]["kernel"].shape == (2, 25)
    assert players.g["params"]["Dense_2"]["kernel"].shape == (25, 2)
    with pytest.raises(ValueError, match="`latent_dim`"):
        mlp_gan(key=jr.key(0), latent_dim=0)


def _mog_game(batch_size=32, latent_dim=4):
    players, disc, gen = mlp_gan(key=jr.key(0), latent_dim=latent_dim, hidden=(8,))
    losses = ft.partial(gan_batch_losses, discriminator=disc, generator=gen)
    sample = ft.partial(
        sample_gan_batch,
        sample_data=datasets.sample_mog_grid,
        batch_size=batch_size,
        latent_dim=latent_dim,
    )
    return players, {"losses": losses, "sample_batch": sample}


def test_train_scans_train_step():
    players, game = _mog_game()
    tx = ode_step("heun", 0.05)
    state = init_train_state(players, tx, key=jr.key(1))
    run = jax.jit(ft.partial(train, tx=tx, **game), static_argnums=1)
    final, history = run(state, 3)
    assert int(final.step) == 3
    assert set(history) == {"loss_d", "loss_g", "grad_norm_d", "grad_norm_g", "error", "dt"}
    assert all(v.shape == (3,) for v in history.values())
    step = jax.jit(ft.partial(train_step, tx=tx, **game))
    by_hand = state
    for _ in range(3):
        by_hand, last = step(by_hand)
    assert tree_allclose(final.players, by_hand.players, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(history["loss_d"][-1], last["loss_d"], rtol=1e-6)
    np.testing.assert_allclose(history["dt"], 0.05, rtol=1e-6)
    assert bool(jnp.all(jnp.isfinite(history["error"])))  # Heun has an embedded estimate
    with pytest.raises(ValueError, match="`num_steps`"):
        train(state, 0, tx=tx, **game)


def test_fresh_minibatch_changes_the_stage_batches():
    players, game = _mog_game()
    tx = ode_step("rk4", 0.05)
    state = init_train_state(players, tx, key=jr.key(1))
    same, _ = train_step(state, tx=tx, **game)
    fresh, metrics_fresh = train_step(state, tx=tx, **game, fresh_minibatch=True)
    assert not tree_allclose(same.players, fresh.players, rtol=0, atol=1e-7)
    # Euler has one stage: fresh minibatches only change the stage-0 key.
    euler = ode_step("euler", 0.05)
    s0 = init_train_state(players, euler, key=jr.key(1))
    _, m_same = train_step(s0, tx=euler, **game)
    assert np.isnan(m_same["error"])
    assert np.isfinite(metrics_fresh["error"])


@pytest.mark.parametrize("name", ["sga"])
def test_one_step_function_serves_the_baselines(name):
    players, game = _mog_game()
    tx = BASELINES[name](0.01)
    state = init_train_state(players, tx, key=jr.key(2))
    final, history = jax.jit(ft.partial(train, tx=tx, **game), static_argnums=1)(state, 2)
    assert int(final.step) == 2
    assert np.isnan(history["dt"]).all()
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(final.players))


def test_toy_game_trains_to_nash_with_rk4_not_euler():
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    norms = {}
    for solver in ("euler", "rk4"):
        tx = ode_step(solver, 0.2)
        final, _ = train(init_train_state(z0, tx, key=jr.key(0)), 200, tx=tx, losses=_toy)
        norms[solver] = float(jnp.hypot(final.players.d, final.players.g))
    assert norms["euler"] > 5.0
    assert norms["rk4"] < 0.25


def test_no_retracing_across_chunks():
    traces = []

    def toy(players, batch):
        traces.append(1)
        return _toy(players, batch)

    tx = ode_step("heun", 0.2)
    run = jax.jit(ft.partial(train, tx=tx, losses=toy), static_argnums=1)
    one = jnp.ones((), jnp.float32)  # not weakly typed, like the state after a step
    state = init_train_state(Players(one, one), tx, key=jr.key(0))
    state, _ = run(state, 5)
    n = len(traces)
    for _ in range(3):
        state, _ = run(state, 5)
    assert len(traces) == n
    assert int(state.step) == 20


def test_resume_from_checkpoint_is_bitwise(tmp_path):
    players, game = _mog_game()
    tx = ode_step("heun", 0.05, regulariser=0.07, adam="frozen")
    run = jax.jit(ft.partial(train, tx=tx, **game), static_argnums=1)
    state0 = init_train_state(players, tx, key=jr.key(5))
    straight, hist_a = run(state0, 4)
    straight, hist_b = run(straight, 4)
    half, _ = run(state0, 4)
    runs.save_checkpoint(tmp_path, 4, half)
    restored = runs.restore_checkpoint(tmp_path, init_train_state(players, tx, key=jr.key(99)))
    resumed, hist_c = run(restored, 4)
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jr.key_data(a), jr.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for k in hist_b:
        np.testing.assert_array_equal(hist_b[k], hist_c[k])


def test_regulariser_reuses_the_known_generator_gradient(tiny_gan):
    from odegan import gan_losses, regulariser_grad

    players, data, latents, disc, gen = tiny_gan
    losses = ft.partial(gan_losses, data=data, latents=latents, discriminator=disc, generator=gen)
    v, _ = game_velocity_and_losses(losses, players)
    known = jax.tree.map(jnp.negative, v.g)
    assert tree_allclose(
        regulariser_grad(losses, players, generator_grad=known),
        regulariser_grad(losses, players),
        rtol=1e-6,
        atol=1e-7,
    )


# --- d_steps: extra discriminator updates on a toy game with a random minibatch ---------------


def _toy_losses(players, batch):
    coupling = batch * jnp.sum(players.d * players.g)
    return coupling + 0.05 * jnp.sum(players.d**2), -coupling + 0.1 * jnp.sum(players.g**4)


def _toy_sample(key):
    return jr.uniform(key, (), minval=0.5, maxval=1.5)


def _toy_grads(players, batch):
    """(∂L_D/∂θ, ∂L_G/∂φ) by hand."""
    d, g = players
    return batch * g + 0.1 * d, -batch * d + 0.4 * g**3


_TOY = Players(d=jnp.array([1.0, -0.5]), g=jnp.array([0.3, 2.0]))


def test_alternating_adam_with_d_steps_matches_hand_written_adam():
    lr, b1, b2, eps, steps, d_steps = 0.1, 0.5, 0.999, 1e-8, 3, 2
    tx = gradient_play(optax.adam(lr, b1=b1, b2=b2, eps=eps), order="alternating")
    key = jr.key(3)
    state = init_train_state(_TOY, tx, key=key)
    state, _ = train(
        state, steps, tx=tx, losses=_toy_losses, sample_batch=_toy_sample, d_steps=d_steps
    )

    d, g = np.asarray(_TOY.d, np.float64), np.asarray(_TOY.g, np.float64)
    moments = {"d": [0.0, 0.0, 0], "g": [0.0, 0.0, 0]}

    def adam(name, x, grad):
        m, v, t = moments[name]
        m, v, t = b1 * m + (1 - b1) * grad, b2 * v + (1 - b2) * grad**2, t + 1
        moments[name] = [m, v, t]
        return x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)

    for k in range(steps):
        step_key = jr.fold_in(key, k)
        # Extra D updates draw from their own stream; the last D and the G update share one.
        batches = [float(_toy_sample(jr.fold_in(step_key, (1 << 20) + i))) for i in range(1)]
        batches.append(float(_toy_sample(step_key)))
        for batch in batches:
            d = adam("d", d, _toy_grads(Players(d, g), batch)[0])
        g = adam("g", g, _toy_grads(Players(d, g), batches[-1])[1])
    np.testing.assert_allclose(state.players.d, d, rtol=1e-4)
    np.testing.assert_allclose(state.players.g, g, rtol=1e-4)
    assert int(state.step) == steps


def test_d_steps_needs_per_player_updates():
    tx = ode_step("euler", 0.1)
    state = init_train_state(_TOY, tx, key=jr.key(0))
    with pytest.raises(ValueError, match="`d_steps`"):
        train_step(state, tx=tx, losses=_toy_losses, sample_batch=_toy_sample, d_steps=2)
    with pytest.raises(ValueError, match="`d_steps`"):
        train_step(state, tx=tx, losses=_toy_losses, sample_batch=_toy_sample, d_steps=0)
    with pytest.raises(ValueError, match="`num_steps`"):
        train(state, 0, tx=tx, losses=_toy_losses, sample_batch=_toy_sample)

"""BatchNorm statistics as model state: committed once per step, whatever the solver's stages."""

import dataclasses
import functools as ft
import json

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from common import runs
from odegan import (
    batch_norm_dcgan,
    gan_batch_losses_with_state,
    init_train_state,
    ode_step,
    sample_gan_batch,
    train,
    train_step,
)
from odegan._experiment import run_experiment
from odegan.configs import PRESETS, TrainConfig, tiny

LATENT = 8


@pytest.fixture(scope="module")
def game():
    gan = batch_norm_dcgan(key=jr.key(0), latent_dim=LATENT, width=4)
    data = jnp.tanh(jr.normal(jr.key(1), (32, 28, 28, 1)))
    sample_batch = ft.partial(
        sample_gan_batch,
        sample_data=lambda n, *, key: data[jr.choice(key, data.shape[0], (n,))],
        batch_size=8,
        latent_dim=LATENT,
    )
    losses = ft.partial(
        gan_batch_losses_with_state,
        discriminator=gan.discriminator,
        generator=gan.train_generator,
    )
    return gan, losses, sample_batch


def _step(gan, losses, sample_batch, tx):
    state = init_train_state(gan.players, tx, key=jr.key(2), model_state=gan.model_state)
    step = jax.jit(ft.partial(train_step, tx=tx, losses=losses, sample_batch=sample_batch))
    return state, step(state)[0]


def _leaves_close(a, b, **tol):
    return all(jax.tree.leaves(jax.tree.map(lambda x, y: np.allclose(x, y, **tol), a, b)))


def test_statistics_advance_once_per_step_for_every_solver(game):
    gan, losses, sample_batch = game
    state, euler = _step(gan, losses, sample_batch, ode_step("euler", 0.01, regulariser=0.0))
    _, rk4 = _step(gan, losses, sample_batch, ode_step("rk4", 0.01, regulariser=0.0))
    # The step's minibatch through the generator at the step's start, in training mode: one
    # momentum update of the running statistics.
    _, latents = sample_batch(jr.fold_in(state.key, 0))
    _, expected = gan.train_generator(gan.players.g, gan.model_state, latents)
    assert _leaves_close(euler.model_state, expected, rtol=1e-5, atol=1e-6)
    assert _leaves_close(rk4.model_state, expected, rtol=1e-5, atol=1e-6)
    assert not _leaves_close(expected, gan.model_state)  # the statistics did move
    # The parameters, unlike the statistics, depend on the solver.
    assert not _leaves_close(euler.players, rk4.players, rtol=1e-7, atol=0)


def test_euler_with_batch_norm_is_sgd_on_the_batch_statistics_losses(game):
    gan, losses, sample_batch = game
    state, stepped = _step(gan, losses, sample_batch, ode_step("euler", 0.05, regulariser=0.0))
    batch = sample_batch(jr.fold_in(state.key, 0))
    loss_d = lambda d: losses(state.players._replace(d=d), batch, gan.model_state)[0][0]
    loss_g = lambda g: losses(state.players._replace(g=g), batch, gan.model_state)[0][1]
    sgd = optax.sgd(0.05)
    grads = state.players._replace(d=jax.grad(loss_d)(state.players.d),
                                   g=jax.grad(loss_g)(state.players.g))
    updates, _ = sgd.update(grads, sgd.init(state.players))
    assert _leaves_close(stepped.players, optax.apply_updates(state.players, updates),
                         rtol=1e-5, atol=1e-6)


def test_evaluation_mode_does_not_depend_on_the_batch(game):
    gan, _, _ = game
    z = jr.normal(jr.key(3), (6, LATENT))
    _, stats = gan.train_generator(gan.players.g, gan.model_state, z)
    alone, in_batch = (gan.generator(gan.players.g, stats, zs)[0] for zs in (z[:1], z))
    np.testing.assert_allclose(alone, in_batch, rtol=1e-5, atol=1e-6)
    # In training mode the batch's statistics normalise: the same code gives another image.
    train_alone = gan.train_generator(gan.players.g, stats, z[:2])[0][0]
    assert not np.allclose(train_alone, gan.train_generator(gan.players.g, stats, z)[0][0])


def test_scan_threads_the_statistics(game):
    gan, losses, sample_batch = game
    tx = ode_step("heun", 0.01, regulariser=0.0)
    state = init_train_state(gan.players, tx, key=jr.key(4), model_state=gan.model_state)
    scanned, _ = jax.jit(
        ft.partial(train, tx=tx, losses=losses, sample_batch=sample_batch), static_argnums=1
    )(state, 3)
    step = jax.jit(ft.partial(train_step, tx=tx, losses=losses, sample_batch=sample_batch))
    for _ in range(3):
        state, _ = step(state)
    assert _leaves_close(scanned.model_state, state.model_state, rtol=1e-5, atol=1e-6)
    assert _leaves_close(scanned.players, state.players, rtol=1e-5, atol=1e-6)


def test_batch_norm_needs_an_image_problem():
    with pytest.raises(ValueError, match="`batch_norm`"):
        TrainConfig(batch_norm=True)


def test_batch_norm_run_resumes_exactly(tmp_path):
    config = dataclasses.replace(tiny(PRESETS["mnist"]), batch_norm=True, classifier_steps=5)
    run_experiment(config, run_dir=tmp_path / "a", progress=False, classifier_dir=tmp_path)
    run_experiment(config, run_dir=tmp_path / "b", progress=False, classifier_dir=tmp_path,
                   stop_after=2)
    assert runs.latest_step(tmp_path / "b") == 2
    run_experiment(config, run_dir=tmp_path / "b", progress=False, classifier_dir=tmp_path)
    metrics = [
        [{k: v for k, v in r.items() if k != "wall_time"} for r in runs.read_metrics(path)]
        for path in (tmp_path / "a", tmp_path / "b")
    ]
    assert metrics[0] == metrics[1]
    assert np.isfinite(metrics[0][-1]["frechet"])
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["steps"] == config.steps

"""Finite-width discriminators: NTK parameterisation, antisymmetric init, GD training, modes."""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gantk._kernels import MLPKernel
from gantk._losses import LOSSES
from gantk._networks import (
    MODES,
    discriminator_loss,
    mlp_discriminator,
    train_discriminator,
)
from gantk._nt import nt

from ..helpers import tree_allclose

IPM, LSGAN = LOSSES["ipm"], LOSSES["lsgan"]

# The three architectures of the thesis' tables (sigmoid with b_std = 0.2, appendix D.3.2).
ARCHITECTURES = {
    "relu": MLPKernel("relu"),
    "relu_nobias": MLPKernel("relu", b_std=None),
    "sigmoid": MLPKernel("sigmoid", b_std=0.2),
}
# Plus non-unit scales (σ_w² vs σ_w would be invisible at σ_w = 1) and leaky ReLU's slope; depth 2
# keeps them cheap.
NTK_CASES = {
    **ARCHITECTURES,
    "relu_scaled": MLPKernel("relu", depth=2, w_std=1.5, b_std=0.5),
    "leaky_relu": MLPKernel("leaky_relu", depth=2, w_std=1.5, b_std=0.5, negative_slope=0.2),
}


def _empirical_ntk(disc, params, x1, x2=None):
    # JACOBIAN_CONTRACTION: NT's structured-derivatives path does not run on jax 0.5.
    fn = nt.empirical_ntk_fn(disc.apply, trace_axes=(), vmap_axes=0, implementation=1)
    return fn(x1, x2, params)


def _rel(a, b):
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def test_shapes_and_dtypes(getkey):
    disc = mlp_discriminator(MLPKernel(), width=16)
    params = disc.init(getkey(), 3)
    x, y = jnp.zeros((5, 3)), jnp.zeros((4, 3))
    out = jax.eval_shape(disc.apply, params, x)
    assert (out.shape, out.dtype) == ((5,), jnp.float32)
    loss = jax.eval_shape(
        functools.partial(discriminator_loss, disc.apply, a=IPM.a, b=IPM.b), params, x, y
    )
    assert (loss.shape, loss.dtype) == ((), jnp.float32)
    train = functools.partial(train_discriminator, disc.apply, a=IPM.a, b=IPM.b, lr=0.1)
    trained = jax.eval_shape(train, params, x, y)
    assert jax.tree.structure(trained) == jax.tree.structure(params)
    assert all(
        t.shape == p.shape and t.dtype == p.dtype
        for t, p in zip(jax.tree.leaves(trained), jax.tree.leaves(params), strict=True)
    )
    # depth hidden layers + the output layer, each with a kernel and (here) a bias.
    assert len(jax.tree.leaves(params)) == 2 * (3 + 1)
    assert (
        len(jax.tree.leaves(mlp_discriminator(MLPKernel(b_std=None), width=16).init(getkey(), 3)))
        == 4
    )


@pytest.mark.parametrize("name", list(NTK_CASES))
def test_empirical_ntk_matches_analytic(name):
    # Standard NTK parameterisation: the empirical NTK of a wide network converges to the
    # analytic kernel; averaging over seeds brings the O(1/√width) fluctuation under a few %.
    kernel = NTK_CASES[name]
    disc = mlp_discriminator(kernel, width=2048)
    x = jr.normal(jr.key(3), (5, 2))
    fn = jax.jit(functools.partial(_empirical_ntk, disc))
    empirical = jnp.mean(jnp.stack([fn(disc.init(jr.key(s), 2), x) for s in range(4)]), axis=0)
    assert _rel(empirical, kernel(x, x)) < 0.05


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_antisymmetric_init_is_zero_with_the_same_ntk(name, getkey):
    kernel = ARCHITECTURES[name]
    anti = mlp_discriminator(kernel, width=64, antisymmetric=True)
    plain = mlp_discriminator(kernel, width=64)
    key = getkey()
    params = anti.init(key, 2)
    x = 3.0 * jr.normal(getkey(), (20, 2))
    np.testing.assert_array_equal(anti.apply(params, x), np.zeros(20))
    # Θ_anti = (Θ_θ + Θ_θ') / 2 = Θ_θ at init: the antisymmetric trick keeps the kernel.
    ntk_anti = _empirical_ntk(anti, params, x[:6])
    ntk_plain = _empirical_ntk(plain, plain.init(key, 2), x[:6])
    assert tree_allclose(ntk_anti, ntk_plain, rtol=1e-5, atol=1e-6)


# The training tests use one hidden layer of 8 192 units: far into the NTK regime at a small
# cost (the depth-3 parameterisation is checked against the analytic NTK above).
WIDE = MLPKernel("relu", depth=1)


def test_ipm_training_time_scaling():
    # Prop. 4: N steps of size ε move f by N·ε·(mean_i k(·, x_i) − mean_j k(·, y_j)), i.e. by
    # τ f* with τ = Nε (f_0 = 0 by the antisymmetric init).
    disc = mlp_discriminator(WIDE, width=8192, antisymmetric=True)
    x = jr.normal(jr.key(3), (4, 2))
    y = jr.normal(jr.key(4), (4, 2)) + 1.0
    z = jnp.concatenate([x, y, jr.normal(jr.key(5), (3, 2))])
    steps, lr = 10, 0.1
    params0 = jax.jit(disc.init, static_argnums=1)(jr.key(0), 2)
    train = jax.jit(
        functools.partial(train_discriminator, disc.apply, a=IPM.a, b=IPM.b, lr=lr, steps=steps)
    )
    f = disc.apply(train(params0, x, y), z)
    witness = jnp.mean(WIDE(z, x), axis=1) - jnp.mean(WIDE(z, y), axis=1)
    assert _rel(f, steps * lr * witness) < 0.05
    # The check can fail: half or twice the time is far off.
    assert _rel(f, 0.5 * steps * lr * witness) > 0.5
    assert _rel(f, 2.0 * steps * lr * witness) > 0.4


def test_lsgan_training_matches_closed_form():
    # Prop. 5: on the support S = supp γ̂, f_τ = ρ + exp(−4τ K D)(f_0 − ρ) with
    # D = diag(1/(2n), 1/(2m)) and ρ = −1 on fakes, +1 on reals. A very wide network trained by
    # GD for τ/ε steps (antisymmetric, so f_0 = 0) must follow it, with the factor 4 in time.
    n, m, tau, lr = 3, 3, 0.5, 0.01
    disc = mlp_discriminator(WIDE, width=8192, antisymmetric=True)
    x = jr.normal(jr.key(3), (n, 2))
    y = jr.normal(jr.key(4), (m, 2)) + 1.0
    support = jnp.concatenate([x, y])
    rho = jnp.concatenate([-jnp.ones(n), jnp.ones(m)])
    weights = jnp.concatenate([jnp.full(n, 1 / (2 * n)), jnp.full(m, 1 / (2 * m))])
    gram = WIDE(support, support)

    def closed_form(time_factor):
        a = time_factor * tau * gram * weights[None, :]
        return rho + jax.scipy.linalg.expm(-a) @ (jnp.zeros(n + m) - rho)

    params0 = jax.jit(disc.init, static_argnums=1)(jr.key(0), 2)
    train = jax.jit(
        functools.partial(
            train_discriminator, disc.apply, a=LSGAN.a, b=LSGAN.b, lr=lr, mode="tau", tau=tau
        )
    )
    f = disc.apply(train(params0, x, y, init_params=params0), support)
    assert _rel(f, closed_form(4.0)) < 0.03
    # The check can fail: a factor 2 or 8 in time is far off.
    assert _rel(f, closed_form(2.0)) > 0.4
    assert _rel(f, closed_form(8.0)) > 0.15


def test_modes(getkey):
    disc = mlp_discriminator(MLPKernel(), width=32)
    x, y = jr.normal(getkey(), (6, 2)), jr.normal(getkey(), (5, 2)) + 1.0
    p0, other = disc.init(getkey(), 2), disc.init(getkey(), 2)
    train = jax.jit(
        functools.partial(train_discriminator, disc.apply, a=LSGAN.a, b=LSGAN.b, lr=0.1),
        static_argnames=("steps", "mode", "tau"),
    )
    # persistent: training resumes from the given parameters.
    two = train(p0, x, y, steps=2)
    assert tree_allclose(train(train(p0, x, y), x, y), two)
    assert not tree_allclose(two, p0)
    # reset: the given parameters are ignored, training restarts from init_params.
    assert tree_allclose(train(other, x, y, steps=2, mode="reset", init_params=p0), two)
    # tau: restart from init_params and take round(τ/ε) steps.
    assert tree_allclose(train(other, x, y, mode="tau", tau=0.2, init_params=p0), two)
    assert set(MODES) == {"persistent", "reset", "tau"}


def test_training_increases_the_loss(getkey):
    disc = mlp_discriminator(MLPKernel(), width=64)
    x, y = jr.normal(getkey(), (8, 2)), jr.normal(getkey(), (8, 2)) + 2.0
    p0 = disc.init(getkey(), 2)
    loss = LOSSES["vanilla"]
    trained = train_discriminator(disc.apply, p0, x, y, a=loss.a, b=loss.b, lr=0.1, steps=20)
    before = discriminator_loss(disc.apply, p0, x, y, loss.a, loss.b)
    after = discriminator_loss(disc.apply, trained, x, y, loss.a, loss.b)
    assert after > before + 0.1


def test_jit_equals_eager(getkey):
    disc = mlp_discriminator(MLPKernel("sigmoid", b_std=0.2), width=32, antisymmetric=True)
    x, y = jr.normal(getkey(), (6, 2)), jr.normal(getkey(), (5, 2))
    p0 = disc.init(getkey(), 2)
    train = functools.partial(
        train_discriminator, disc.apply, a=LSGAN.a, b=LSGAN.b, lr=0.1, steps=3
    )
    assert tree_allclose(jax.jit(train)(p0, x, y), train(p0, x, y))
    loss = functools.partial(discriminator_loss, disc.apply, a=LSGAN.a, b=LSGAN.b)
    assert tree_allclose(jax.jit(loss)(p0, x, y), loss(p0, x, y))


def test_vmap_over_seeds_equals_loop(getkey):
    # Several independent discriminators (e.g. seeds of one experiment) trained in one call.
    disc = mlp_discriminator(MLPKernel(), width=16)
    x, y = jr.normal(getkey(), (6, 2)), jr.normal(getkey(), (5, 2)) + 1.0
    train = jax.jit(
        functools.partial(train_discriminator, disc.apply, a=LSGAN.a, b=LSGAN.b, lr=0.1, steps=2)
    )
    inits = [disc.init(k, 2) for k in jr.split(getkey(), 3)]
    batched = jax.vmap(train, in_axes=(0, None, None))(
        jax.tree.map(lambda *p: jnp.stack(p), *inits), x, y
    )
    looped = jax.tree.map(lambda *p: jnp.stack(p), *[train(p, x, y) for p in inits])
    assert tree_allclose(batched, looped)


@pytest.mark.parametrize("mode", ["persistent", "reset"])
def test_usable_inside_a_jitted_particle_flow(mode, getkey):
    # The intended use: a lax.scan over particle updates, retraining the discriminator at each
    # step (carried in persistent mode, restarted from θ₀ in reset mode). It must equal the
    # same loop run step by step, and trace once.
    disc = mlp_discriminator(MLPKernel(), width=32, antisymmetric=True)
    x0, y = jr.normal(getkey(), (6, 2)), jr.normal(getkey(), (5, 2)) + 1.0
    p0 = disc.init(getkey(), 2)
    train = functools.partial(
        train_discriminator, disc.apply, a=IPM.a, b=IPM.b, lr=0.1, mode=mode, init_params=p0
    )
    velocity = jax.grad(lambda p, x: jnp.sum(IPM.c(disc.apply(p, x))), argnums=1)

    def step(carry, _):
        x, params = carry
        params = train(params, x, y)
        return (x - 10.0 * velocity(params, x), params), None

    traces = 0

    @jax.jit
    def flow(x, params):
        nonlocal traces
        traces += 1
        return jax.lax.scan(step, (x, params), length=3)[0]

    scanned = flow(x0, p0)
    flow(x0 + 1.0, p0)
    carry, one_step = (x0, p0), jax.jit(step)
    for _ in range(3):
        carry, _ = one_step(carry, None)
    assert traces == 1
    assert tree_allclose(scanned, carry)
    assert not tree_allclose(scanned[0], x0)


def test_errors(getkey):
    disc = mlp_discriminator(MLPKernel(), width=8)
    p0 = disc.init(getkey(), 2)
    x, y = jnp.zeros((3, 2)), jnp.ones((4, 2))
    train = functools.partial(train_discriminator, disc.apply, a=IPM.a, b=IPM.b)
    with pytest.raises(ValueError, match="`x` and `y` must have the same dimension"):
        train(p0, x, jnp.ones((4, 3)), lr=0.1)
    with pytest.raises(ValueError, match="`x` and `y` must have the same dimension"):
        discriminator_loss(disc.apply, p0, x, jnp.ones((4, 3)), IPM.a, IPM.b)
    with pytest.raises(ValueError, match="`x` must be a non-empty"):
        train(p0, jnp.zeros((0, 2)), y, lr=0.1)
    with pytest.raises(ValueError, match="`y` must be a non-empty"):
        train(p0, x, jnp.ones(4), lr=0.1)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        train(p0, x, y, lr=0.1, mode="sometimes")
    with pytest.raises(ValueError, match="`lr` must be > 0"):
        train(p0, x, y, lr=0.0)
    with pytest.raises(ValueError, match="`lr` must be > 0"):
        train(p0, x, y, lr=-0.1)
    with pytest.raises(ValueError, match="`steps` must be an integer"):
        train(p0, x, y, lr=0.1, steps=0)
    with pytest.raises(ValueError, match="`init_params` is required"):
        train(p0, x, y, lr=0.1, mode="reset")
    with pytest.raises(ValueError, match="`tau` must be > 0"):
        train(p0, x, y, lr=0.1, mode="tau", init_params=p0)
    with pytest.raises(ValueError, match="`tau` / `lr` must round"):
        train(p0, x, y, lr=0.1, mode="tau", tau=0.01, init_params=p0)
    with pytest.raises(ValueError, match="`x` must be a point cloud"):
        disc.apply(p0, jnp.zeros(2))
    with pytest.raises(ValueError, match="`width` must be a positive integer"):
        mlp_discriminator(MLPKernel(), width=0)
    with pytest.raises(TypeError, match="`kernel` must be an MLPKernel"):
        mlp_discriminator(lambda a, b: a @ b.T)

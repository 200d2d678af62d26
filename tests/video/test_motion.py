import diffrax as dfx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from odegan import RK4
from tests.helpers import tree_allclose
from video import (
    MLP,
    MOTIONS,
    AbstractDiffEqMotion,
    GRUMotion,
    NCODEMotion,
    ODEMotion,
    ODERNNMotion,
    SDEMotion,
    apply_batch,
    flatten_mlp,
    get_motion,
    unflatten_mlp,
)

# Tiny sizes: compile time, not arithmetic, dominates these tests.
D_NOISE, D_STATE, D_HIDDEN, T, B = 2, 3, 4, 4, 3
TS = jnp.linspace(0.0, 1.0, T)


def _motion(name):
    # Euler compiles fastest; the solver is an argument of diffrax's, not part of our plumbing.
    motion = get_motion(name, d_noise=D_NOISE, d_state=D_STATE, d_hidden=D_HIDDEN, init_net=True)
    return motion.replace(solver="euler") if isinstance(motion, AbstractDiffEqMotion) else motion


def _to64(tree):
    return jax.tree.map(lambda a: a.astype(jnp.float64), tree)


@pytest.mark.parametrize("name", list(MOTIONS))
def test_shapes_and_vmap_matches_loop(name, getkey):
    motion = _motion(name)
    params = motion.init(getkey())
    z0 = jr.normal(getkey(), (B, D_NOISE))
    key = getkey() if motion.stochastic else None
    batched = apply_batch(motion, params, z0, TS, key=key)
    assert batched.shape == (B, T, D_STATE)
    assert batched.dtype == jnp.float32
    assert np.all(np.isfinite(batched))
    keys = jr.split(key, B) if motion.stochastic else [None] * B
    looped = jnp.stack([motion.apply(params, z, TS, key=k) for z, k in zip(z0, keys, strict=True)])
    assert tree_allclose(batched, looped, rtol=1e-5, atol=1e-6)
    # Trajectories of different samples differ (the initial state depends on z0).
    assert not np.allclose(batched[0], batched[1])


@pytest.mark.parametrize("name", list(MOTIONS))
def test_gradients_match_finite_differences(name, getkey, enable_x64):
    motion = _motion(name)
    params = _to64(motion.init(getkey()))
    z0 = jr.normal(getkey(), (D_NOISE,), jnp.float64)
    ts = jnp.linspace(0.0, 1.0, T, dtype=jnp.float64)
    key = getkey() if motion.stochastic else None
    weights = jr.normal(getkey(), (T, D_STATE), jnp.float64)
    if name == "ncode_closed":
        # Its controller's last layer starts at zero (open loop); perturb it so that every
        # parameter matters.
        dense = params["controller"]["params"]["Dense_1"]
        dense["kernel"] = 0.1 * jr.normal(getkey(), dense["kernel"].shape, jnp.float64)

    @jax.jit
    def loss_and_grad(p):
        return jax.value_and_grad(lambda p: jnp.sum(motion.apply(p, z0, ts, key=key) * weights))(p)

    _, grads = loss_and_grad(params)
    leaves, treedef = jax.tree.flatten(params)
    direction = treedef.unflatten(
        [jr.normal(k, a.shape, a.dtype) for k, a in zip(jr.split(getkey(), len(leaves)), leaves,
                                                         strict=True)]
    )
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    eps = 1e-5
    shifted = lambda s: jax.tree.map(lambda p, v: p + s * eps * v, params, direction)
    fd = (loss_and_grad(shifted(1.0))[0] - loss_and_grad(shifted(-1.0))[0]) / (2 * eps)
    analytic = sum(jnp.vdot(g, v) for g, v in zip(jax.tree.leaves(grads),
                                                   jax.tree.leaves(direction), strict=True))
    np.testing.assert_allclose(analytic, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("brownian", ["path", "tree"])
def test_sde_paths_reproducible_from_key(brownian, getkey):
    sde = SDEMotion(d_noise=D_STATE, d_state=D_STATE, d_hidden=D_HIDDEN, brownian=brownian,
                    steps_per_frame=2)
    params, z0 = sde.init(getkey()), jr.normal(getkey(), (D_STATE,))
    k1, k2 = getkey(), getkey()
    a, b, c = (sde.apply(params, z0, TS, key=k) for k in (k1, k1, k2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_allclose(a[0], z0, rtol=1e-6)


def test_ncode_open_loop_with_constant_gamma_is_a_node(getkey):
    kwargs = dict(d_noise=D_STATE, d_state=D_STATE, d_hidden=D_HIDDEN)
    node, ncode = ODEMotion(**kwargs), NCODEMotion(**kwargs)
    node_params = node.init(getkey())
    params = ncode.init(getkey())
    params["gamma"] = {
        "bias": flatten_mlp(node_params["field"]),
        "kernel": jnp.zeros_like(params["gamma"]["kernel"]),
    }
    z0 = jr.normal(getkey(), (B, D_STATE))
    expected = apply_batch(node, node_params, z0, TS)
    np.testing.assert_array_equal(apply_batch(ncode, params, z0, TS), expected)
    # Also through a hidden layer in γ: θ = θ̄ + A tanh(W z + c) with A = 0.
    ncode = ncode.replace(gamma_hidden=5)
    deep = ncode.init(getkey())
    deep["gamma"]["bias"] = params["gamma"]["bias"]
    deep["gamma"]["kernel"] = jnp.zeros_like(deep["gamma"]["kernel"])
    np.testing.assert_array_equal(apply_batch(ncode, deep, z0, TS), expected)
    # The flat layout round-trips.
    back = unflatten_mlp(flatten_mlp(node_params["field"]), D_STATE, D_HIDDEN, D_STATE)
    assert tree_allclose(back, node_params["field"], rtol=0, atol=0)


def test_ode_rnn_with_zero_field_is_the_gru(getkey):
    kwargs = dict(d_noise=D_STATE, d_state=D_STATE, d_hidden=D_HIDDEN)
    ode_rnn, gru = ODERNNMotion(**kwargs), GRUMotion(**kwargs)
    params = ode_rnn.init(getkey())
    params["field"] = jax.tree.map(jnp.zeros_like, params["field"])
    z0, key = jr.normal(getkey(), (D_STATE,)), getkey()
    np.testing.assert_allclose(
        ode_rnn.apply(params, z0, TS, key=key),
        gru.apply({"gru": params["gru"]}, z0, TS, key=key),
        rtol=1e-6,
    )


def test_rk4_one_step_per_frame(getkey, enable_x64):
    # One frame interval of ODEMotion = one classical RK4 step of the MLP field.
    ode = ODEMotion(d_noise=D_STATE, d_state=D_STATE, d_hidden=D_HIDDEN, solver=RK4())
    params = _to64(ode.init(getkey()))
    x0, h = jr.normal(getkey(), (D_STATE,), jnp.float64), 0.3
    f = lambda x: MLP(D_HIDDEN, D_STATE).apply(params["field"], x)
    k1 = f(x0)
    k2 = f(x0 + h / 2 * k1)
    k3 = f(x0 + h / 2 * k2)
    k4 = f(x0 + h * k3)
    expected = x0 + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    xs = ode.apply(params, x0, jnp.array([0.0, h]))
    np.testing.assert_allclose(xs[1], expected, rtol=1e-13)


@pytest.mark.parametrize("name", ["ode", "sde", "ncode_closed"])
def test_default_fixed_grid_equals_diffeqsolve(name, getkey, enable_x64):
    # The default scan of Runge--Kutta steps (odegan.solve_on_grid) and diffeqsolve with
    # DirectAdjoint on the same grid: same frames (two steps per frame), same gradients; for a
    # plain, a stochastic (MultiTerm) and a pytree-state (x, θ) generator.
    motion = _motion(name).replace(solver="midpoint", steps_per_frame=2)
    direct = motion.replace(adjoint=dfx.DirectAdjoint())
    params = _to64(motion.init(getkey()))
    z0 = jr.normal(getkey(), (B, D_NOISE), jnp.float64)
    ts = jnp.array([0.0, 0.1, 0.5, 1.2])
    key = getkey() if motion.stochastic else None
    loss = lambda m, p: jnp.sum(jnp.sin(apply_batch(m, p, z0, ts, key=key)))
    np.testing.assert_allclose(apply_batch(motion, params, z0, ts, key=key),
                               apply_batch(direct, params, z0, ts, key=key), rtol=1e-12)
    assert tree_allclose(jax.grad(loss, argnums=1)(motion, params),
                         jax.grad(loss, argnums=1)(direct, params), rtol=1e-10, atol=1e-12)


def test_backsolve_adaptive_and_jit(getkey, enable_x64):
    # BacksolveAdjoint's gradient matches finite differences up to the accuracy of its backward
    # solve, an adaptive controller follows fixed-step RK4, and jit = eager.
    ode = ODEMotion(d_noise=D_STATE, d_state=D_STATE, d_hidden=D_HIDDEN, steps_per_frame=2)
    params = _to64(ode.init(getkey()))
    z0 = jr.normal(getkey(), (B, D_STATE), jnp.float64)
    ts = jnp.linspace(0.0, 1.0, T, dtype=jnp.float64)
    paths = jax.jit(lambda motion, p: apply_batch(motion, p, z0, ts))  # motion: a leafless pytree
    loss = lambda motion, p: jnp.sum(paths(motion, p) ** 2)

    back = ode.replace(adjoint=dfx.BacksolveAdjoint())
    grads = jax.grad(lambda p: jnp.sum(apply_batch(back, p, z0, ts) ** 2))(params)
    direction = jax.tree.map(lambda a: jr.normal(getkey(), a.shape, a.dtype), params)
    eps = 1e-5
    shifted = lambda s: jax.tree.map(lambda p, v: p + s * eps * v, params, direction)
    fd = (loss(back, shifted(1.0)) - loss(back, shifted(-1.0))) / (2 * eps)
    analytic = sum(jnp.vdot(g, v) for g, v in zip(jax.tree.leaves(grads),
                                                   jax.tree.leaves(direction), strict=True))
    np.testing.assert_allclose(analytic, fd, rtol=1e-3)

    adaptive = ode.replace(solver="dopri5", stepsize_controller=dfx.PIDController(1e-8, 1e-8))
    np.testing.assert_allclose(paths(adaptive, params), paths(ode, params), atol=1e-4)
    np.testing.assert_allclose(paths(ode, params), apply_batch(ode, params, z0, ts), rtol=1e-12)


def test_shared_adaptive_steps_agree_with_per_sample_steps(getkey, enable_x64):
    # One batched solve (shared step sizes, batch-wide error norm) and per-sample solves both
    # stay within tolerance of a tight reference; the gradients agree as well.
    pid = lambda tol: dfx.PIDController(rtol=tol, atol=tol)
    shared = ODEMotion(d_noise=D_NOISE, d_state=D_STATE, d_hidden=D_HIDDEN, init_net=True,
                       solver="dopri5", stepsize_controller=pid(1e-6))
    params = _to64(shared.init(getkey()))
    z0 = 2.0 * jr.normal(getkey(), (B, D_NOISE), jnp.float64)
    ts = jnp.linspace(0.0, 2.0, T, dtype=jnp.float64)
    per_sample = shared.replace(shared_steps=False)
    reference = apply_batch(per_sample.replace(stepsize_controller=pid(1e-12)), params, z0, ts)
    for motion in (shared, per_sample):
        xs = apply_batch(motion, params, z0, ts)
        assert xs.shape == (B, T, D_STATE)
        np.testing.assert_allclose(xs, reference, atol=1e-5)
    loss = lambda motion: jax.grad(lambda p: jnp.sum(apply_batch(motion, p, z0, ts) ** 2))(params)
    assert tree_allclose(loss(shared), loss(per_sample), atol=1e-4)
    # The shared steps show: a sample's path depends (within tolerance) on its batch.
    for motion, coupled in ((shared, True), (per_sample, False)):
        alone = apply_batch(motion, params, z0[:1], ts)[0]
        together = apply_batch(motion, params, z0, ts)[0]
        assert np.allclose(alone, together, rtol=0, atol=1e-13) != coupled


def test_bad_inputs_raise(getkey):
    ode = ODEMotion(d_noise=D_STATE, d_state=D_STATE, d_hidden=D_HIDDEN)
    params, z0 = ode.init(getkey()), jnp.zeros(D_STATE)
    with pytest.raises(ValueError, match="`ts` must be strictly increasing"):
        ode.apply(params, z0, jnp.array([0.0, 0.5, 0.5, 1.0]))
    with pytest.raises(ValueError, match="`ts` must be strictly increasing"):
        apply_batch(ode, params, z0[None], jnp.array([1.0, 0.0]))
    with pytest.raises(RuntimeError, match="`ts` must be strictly increasing"):
        jax.jit(lambda ts: ode.apply(params, z0, ts))(jnp.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="`ts` must have shape"):
        ode.apply(params, z0, jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="`z0` must have shape"):
        ode.apply(params, jnp.zeros(D_STATE + 1), TS)
    with pytest.raises(ValueError, match="`z0` must have shape"):
        apply_batch(ode, params, z0, TS)
    with pytest.raises(ValueError, match="`name` must be one of"):
        get_motion("lstm", d_noise=2, d_state=2, d_hidden=2)
    with pytest.raises(ValueError, match="`solver` must be one of"):
        ODEMotion(d_noise=2, d_state=2, d_hidden=2, solver="rk5")
    with pytest.raises(ValueError, match="`solver` must be explicit"):
        ODEMotion(d_noise=2, d_state=2, d_hidden=2, solver=dfx.Kvaerno5())
    ODEMotion(d_noise=2, d_state=2, d_hidden=2, solver=dfx.Kvaerno5(), adjoint=dfx.DirectAdjoint())
    with pytest.raises(ValueError, match="`stepsize_controller` must be None"):
        ODEMotion(d_noise=2, d_state=2, d_hidden=2, stepsize_controller=dfx.ConstantStepSize())
    with pytest.raises(ValueError, match="`steps_per_frame` must be a positive int"):
        ODEMotion(d_noise=2, d_state=2, d_hidden=2, steps_per_frame=0)
    with pytest.raises(ValueError, match="`d_noise` .* must equal `d_state`"):
        ODEMotion(d_noise=2, d_state=3, d_hidden=2)
    with pytest.raises(ValueError, match="`d_hidden` must be a positive int"):
        ODEMotion(d_noise=2, d_state=2, d_hidden=0)
    with pytest.raises(ValueError, match="`brownian` must be"):
        SDEMotion(d_noise=2, d_state=2, d_hidden=2, brownian="virtual")
    with pytest.raises(ValueError, match="`hypernetwork=False`"):
        NCODEMotion(d_noise=2, d_state=2, d_hidden=2, hypernetwork=False)
    gru = GRUMotion(d_noise=2, d_state=2, d_hidden=2)
    with pytest.raises(ValueError, match="`key` is required"):
        gru.apply(gru.init(getkey()), jnp.zeros(2), TS)

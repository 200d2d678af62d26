import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gantk import (
    InfiniteWidthFlow,
    MLPKernel,
    RBFKernel,
    advance,
    couple_velocities,
    ipm_discriminator,
    run_flow,
    shard_particles,
)
from tests.helpers import run_on_devices


def _problem(getkey, n=40, m=30):
    x0 = jax.random.normal(getkey(), (n, 2))
    y = jax.random.normal(getkey(), (m, 2)) * 0.5 + jnp.array([[2.0, -1.0]])
    return x0, y


def _mmd2(k, x, y):
    return k(x, x).mean() - 2 * k(x, y).mean() + k(y, y).mean()


def test_step_is_gradient_descent_on_mean_cost(getkey):
    x0, y = _problem(getkey)
    k = MLPKernel()
    flow = InfiniteWidthFlow(k, "ipm", eta=3.0, tau=2.0)
    x1 = flow.step(flow.init(x0), y).x
    f = ipm_discriminator(k, x0, y, tau=2.0)
    grad = jax.grad(lambda z: jnp.mean(f(z)))(x0)  # c = id for IPM; 1/n over all particles
    np.testing.assert_allclose(x1, x0 - 3.0 * grad, rtol=1e-5, atol=1e-6)


def test_inf_ipm_flow_decreases_mmd_monotonically(getkey):
    # The inf-IPM flow is the gradient flow of τ·MMD_k² (thesis eq. 6.15): for a small step the
    # MMD with the discriminator's own kernel decreases at every step.
    x0, y = _problem(getkey)
    k = MLPKernel()
    flow = InfiniteWidthFlow(k, "ipm", eta=1.0)
    out = run_flow(flow, flow.init(x0), y, steps=60, snapshot_every=1)
    mmd = np.asarray(jax.jit(jax.vmap(lambda x: _mmd2(k, x, y)))(out.snapshots))
    assert np.all(np.diff(mmd) < 0), mmd
    assert mmd[-1] < 0.8 * mmd[0]


def test_run_flow_equals_repeated_steps_and_jit_equals_eager(getkey):
    x0, y = _problem(getkey)
    flow = InfiniteWidthFlow(MLPKernel(), "lsgan", eta=5.0)
    state = flow.init(x0)
    out = run_flow(flow, state, y, steps=6, snapshot_every=3)
    eager = state
    for _ in range(6):
        eager = flow.step(eager, y)
    assert out.snapshots.shape == (3, 40, 2)
    np.testing.assert_array_equal(out.snapshot_steps, [0, 3, 6])
    np.testing.assert_allclose(out.state.x, eager.x, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.snapshots[1], advance(flow, state, y, 3).x, rtol=1e-6)
    assert int(out.state.step) == 6


def test_step_independent_of_particle_count_normalisation(getkey):
    # The cost is a mean over all n particles, so a particle moves by (η/n)∇c_f: duplicating the
    # cloud (same discriminator) halves the step, and doubling η compensates exactly.
    x0, y = _problem(getkey)
    one = InfiniteWidthFlow(MLPKernel(), "ipm", eta=10.0)
    one = one.step(one.init(x0), y).x
    two = InfiniteWidthFlow(MLPKernel(), "ipm", eta=20.0)
    two = two.step(two.init(jnp.concatenate([x0, x0])), jnp.concatenate([y, y])).x
    np.testing.assert_allclose(two[:40], one, rtol=1e-5, atol=1e-6)


def test_dirac_generator_kernel_leaves_flow_unchanged(getkey):
    # T_{k_g, p_z} = id for k_g = δ_{z−z'} (thesis §6.4.4); on n latents that is n·1[z = z'].
    x0, y = _problem(getkey)
    latents = jax.random.normal(getkey(), (40, 3))
    dirac = lambda a, b: a.shape[0] * jnp.all(a[:, None] == b[None], axis=-1).astype(a.dtype)
    plain = InfiniteWidthFlow(MLPKernel(), "ipm", eta=10.0)
    coupled = InfiniteWidthFlow(MLPKernel(), "ipm", eta=10.0, generator_kernel=dirac)
    np.testing.assert_allclose(
        coupled.step(coupled.init(x0, latents=latents), y).x,
        plain.step(plain.init(x0), y).x,
        rtol=1e-6,
    )
    # A smooth generator kernel averages velocities across particles with nearby latents.
    v = jax.random.normal(getkey(), (40, 2))
    mixed = couple_velocities(RBFKernel(bandwidth=100.0), latents, v)
    mean = jnp.broadcast_to(v.mean(0, keepdims=True), v.shape)
    np.testing.assert_allclose(mixed, mean, atol=1e-2)


def test_one_step_identical_on_one_and_four_devices(getkey):
    x0, y = _problem(getkey, n=64, m=48)
    flow = InfiniteWidthFlow(MLPKernel(), "ipm", eta=100.0)
    single = np.asarray(flow.step(flow.init(x0), y).x)
    result = run_on_devices(
        f"""
        import numpy as np, jax, jax.numpy as jnp
        from gantk import InfiniteWidthFlow, MLPKernel, advance, shard_particles
        x0 = shard_particles(np.array({np.asarray(x0).tolist()}, np.float32))
        y = jnp.asarray(np.array({np.asarray(y).tolist()}, np.float32))
        flow = InfiniteWidthFlow(MLPKernel(), "ipm", eta=100.0)
        out = advance(flow, flow.init(x0), y, 1).x
        result = dict(x=np.asarray(out).tolist(), shards=len(out.sharding.device_set))
        """
    )
    assert result["shards"] == 4
    np.testing.assert_allclose(np.array(result["x"]), single, rtol=1e-5, atol=1e-5)


def test_shard_particles_rejects_bad_shapes():
    with pytest.raises(ValueError, match="`x`"):
        shard_particles(jnp.zeros(5))
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("particles",))
    with pytest.raises(ValueError, match="`mesh`"):
        shard_particles(jnp.zeros((4, 2)), mesh=mesh, axis="batch")


def test_bad_inputs_are_named(getkey):
    x0, y = _problem(getkey)
    with pytest.raises(ValueError, match="`eta`"):
        InfiniteWidthFlow(MLPKernel(), "ipm", eta=-1.0)
    with pytest.raises(ValueError, match="`loss`"):
        InfiniteWidthFlow(MLPKernel(), "wgan-gp")
    with pytest.raises(ValueError, match="`latents`"):
        InfiniteWidthFlow(MLPKernel(), generator_kernel=RBFKernel()).init(x0)
    flow = InfiniteWidthFlow(MLPKernel())
    with pytest.raises(ValueError, match="same dimension"):
        flow.step(flow.init(x0), jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match="`y`"):
        flow.step(flow.init(x0), jnp.zeros((0, 2)))
    with pytest.raises(ValueError, match="snapshot_every"):
        run_flow(flow, flow.init(x0), y, steps=10, snapshot_every=3)

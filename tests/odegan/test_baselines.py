
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

from odegan import (
    BASELINES,
    Players,
    consensus_optimization,
    extragradient,
    gradient_play,
    joint_vector_field,
    ode_step,
    rotational_game,
    symplectic_gradient_adjustment,
    toy_game_field,
)
from tests.helpers import tree_allclose

BILINEAR = toy_game_field(rotational_game, epsilon=0.0)  # ℓ_D = −θφ, ℓ_G = θφ


def _field(field):
    return jax.tree_util.Partial(lambda params, stage: field(params))


def _run(opt, params, field, steps):
    @jax.jit
    def run(params, field):
        def body(carry, _):
            p, state = carry
            updates, state = opt.update(p, state, p, vector_field=field)
            p = optax.apply_updates(p, updates)
            return (p, state), p

        return jax.lax.scan(body, (params, opt.init(params)), None, length=steps)[1]

    return run(params, field)


def _norms(traj):
    return np.sqrt(np.asarray(traj.d) ** 2 + np.asarray(traj.g) ** 2)


def test_textbook_behaviour_on_the_bilinear_game():
    # h = 0.1, 500 steps from (1, 1), ‖z₀‖ = 1.414. Simultaneous GD: |λ|² = 1 + h² > 1.
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    field = _field(BILINEAR)
    final = {name: _norms(_run(BASELINES[name](0.1), z0, field, 500)) for name in BASELINES}
    assert final["simultaneous_gd"][-1] > 10.0  # measured 17.0 (≈ √2 · 1.01^250)
    # Alternating GD is symplectic: it neither converges nor diverges.
    assert 0.5 < final["alternating_gd"].min()
    assert final["alternating_gd"].max() < 3.0
    for name in ("extragradient", "optimistic_gd", "consensus", "sga"):
        assert final[name][-1] < 0.2, (name, final[name][-1])
        assert final[name][-1] < final[name][0]


def test_simultaneous_gd_is_euler_and_alternating_gd_moves_d_first(tiny_gan):
    players, data, latents, disc, gen = tiny_gan
    field = lambda p: joint_vector_field(p, data, latents, discriminator=disc, generator=gen)
    f = _field(field)
    sim = _run(gradient_play(optax.sgd(0.05)), players, f, 3)
    euler = _run(ode_step("euler", 0.05), players, f, 3)
    assert tree_allclose(sim, euler, rtol=1e-6, atol=1e-7)
    # One alternating step by hand.
    opt = gradient_play(optax.sgd(0.05), order="alternating")
    updates, _ = opt.update(players, opt.init(players), players, vector_field=f)
    d1 = jax.tree.map(lambda x, v: x + 0.05 * v, players.d, field(players).d)
    g1 = jax.tree.map(lambda x, v: x + 0.05 * v, players.g, field(Players(d1, players.g)).g)
    assert tree_allclose(optax.apply_updates(players, updates), Players(d1, g1))


def test_alternating_gd_draws_the_second_stage():
    stages = []

    def field(p, stage):
        stages.append(stage)
        return BILINEAR(p)

    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    opt = gradient_play(optax.sgd(0.1), order="alternating")
    opt.update(z0, opt.init(z0), z0, vector_field=field)
    assert stages == [0, 1]


def _dense(field, players):
    """The field and its dense Jacobian J = ∂v/∂z on the flattened parameters."""
    flat, unravel = ravel_pytree(players)
    f = lambda z: ravel_pytree(field(unravel(z)))[0]
    return f(flat), jax.jacfwd(f)(flat)


@pytest.mark.parametrize("align", [False, True])
def test_sga_and_consensus_match_a_dense_jacobian(enable_x64, align):
    from tests.odegan.conftest import make_tiny_gan

    players, data, latents, disc, gen = make_tiny_gan(jax.random.key(3), jnp.float64)
    field = lambda p: joint_vector_field(p, data, latents, discriminator=disc, generator=gen)
    v, jac = jax.jit(lambda p: _dense(field, p))(players)
    h, lam, gamma = 0.1, 0.7, 0.3
    # Consensus: h (v − γ Jᵀv).
    opt = consensus_optimization(h, gamma)
    updates = jax.jit(lambda p: opt.update(p, opt.init(p), p, vector_field=_field(field))[0])(
        players
    )
    np.testing.assert_allclose(ravel_pytree(updates)[0], h * (v - gamma * jac.T @ v), rtol=1e-10)
    # SGA: ξ = −v, H = −J, A = ½(H − Hᵀ), Δz = −h(ξ + λ Aᵀξ).
    xi, hess = -v, -jac
    antisym = 0.5 * (hess - hess.T)
    sign = 1.0
    if align:
        grad_ham = hess.T @ xi
        sign = np.sign((xi @ grad_ham) * (antisym.T @ xi @ grad_ham) / v.size + 0.1)
    expected = -h * (xi + sign * lam * antisym.T @ xi)
    opt = symplectic_gradient_adjustment(h, lam, align=align)
    updates = jax.jit(lambda p: opt.update(p, opt.init(p), p, vector_field=_field(field))[0])(
        players
    )
    np.testing.assert_allclose(ravel_pytree(updates)[0], expected, rtol=1e-10)


def test_extragradient_by_hand():
    z0 = Players(d=jnp.array(0.3), g=jnp.array(-0.8))
    field = toy_game_field(rotational_game, epsilon=0.1)
    opt = extragradient(0.2)
    updates, _ = opt.update(z0, opt.init(z0), z0, vector_field=_field(field))
    mid = jax.tree.map(lambda z, v: z + 0.2 * v, z0, field(z0))
    assert tree_allclose(updates, jax.tree.map(lambda v: 0.2 * v, field(mid)), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_jits_and_keeps_shapes(name, tiny_gan):
    players, data, latents, disc, gen = tiny_gan
    field = _field(
        lambda p: joint_vector_field(p, data, latents, discriminator=disc, generator=gen)
    )
    traj = _run(BASELINES[name](0.01), players, field, 2)
    final = jax.tree.map(lambda x: x[-1], traj)
    assert jax.tree.map(jnp.shape, final) == jax.tree.map(jnp.shape, players)
    assert jax.tree.map(lambda x: x.dtype, final) == jax.tree.map(lambda x: x.dtype, players)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(final))


def test_bad_baseline_configurations_are_rejected():
    with pytest.raises(ValueError, match="`order`"):
        gradient_play(optax.sgd(0.1), order="d_twice")
    for factory in (extragradient, consensus_optimization, symplectic_gradient_adjustment):
        with pytest.raises(ValueError, match="`learning_rate`"):
            factory(0.0)
    with pytest.raises(ValueError, match="`gamma`"):
        consensus_optimization(0.1, gamma=-1.0)
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    opt = extragradient(0.1)
    with pytest.raises(ValueError, match="needs `params`"):
        opt.update(z0, opt.init(z0), vector_field=_field(BILINEAR))
    opt = gradient_play(optax.sgd(0.1))
    with pytest.raises(ValueError, match="`Players` params"):
        opt.update(z0, opt.init(z0), (1.0, 1.0), vector_field=_field(BILINEAR))

import functools as ft

import diffrax as dfx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from odegan import (
    LOSS_PAIRS,
    Players,
    dirac_gan,
    game_vector_field,
    gan_losses,
    generator_grad_sq_norm,
    get_loss_pair,
    joint_vector_field,
    linear_game,
    linear_game_solution,
    regulariser_grad,
    rotational_game,
    rotational_solution,
    toy_game_field,
)
from tests.helpers import TOL, tree_allclose
from tests.odegan.conftest import make_tiny_gan

LOG4, LOG2 = float(np.log(4.0)), float(np.log(2.0))


@pytest.mark.parametrize(
    ("name", "nash"),
    [
        ("minimax", (LOG4, -LOG2)),
        ("non_saturating", (LOG4, LOG2)),
        ("wgan", (0.0, 0.0)),
        ("lsgan", (0.5, 0.5)),
        ("hinge", (2.0, 0.0)),
    ],
)
def test_loss_pairs_at_the_indifferent_discriminator(name, nash):
    # D ≡ 0 (σ = ½) is the discriminator of the Nash equilibrium for the cross-entropy losses.
    loss_d, loss_g = LOSS_PAIRS[name](jnp.zeros(5), jnp.zeros(7))
    assert loss_d.shape == loss_g.shape == ()
    np.testing.assert_allclose([loss_d, loss_g], nash, rtol=1e-6, atol=1e-7)


def test_loss_pairs_match_their_formulas(getkey):
    real, fake = jr.normal(getkey(), (6,)), jr.normal(getkey(), (4,))
    sig = jax.nn.sigmoid
    d_ce = -jnp.mean(jnp.log(sig(real))) - jnp.mean(jnp.log(1 - sig(fake)))
    expected = {
        "minimax": (d_ce, jnp.mean(jnp.log(1 - sig(fake)))),
        "non_saturating": (d_ce, -jnp.mean(jnp.log(sig(fake)))),
        "wgan": (jnp.mean(fake) - jnp.mean(real), -jnp.mean(fake)),
        "lsgan": (
            0.5 * jnp.mean((real - 1) ** 2) + 0.5 * jnp.mean(fake**2),
            0.5 * jnp.mean((fake - 1) ** 2),
        ),
        "hinge": (
            jnp.mean(jnp.maximum(0, 1 - real)) + jnp.mean(jnp.maximum(0, 1 + fake)),
            -jnp.mean(fake),
        ),
    }
    assert set(expected) == set(LOSS_PAIRS)
    for name, pair in expected.items():
        assert tree_allclose(get_loss_pair(name)(real, fake), pair), name


def test_get_loss_pair_errors():
    with pytest.raises(ValueError, match="`loss` must be one of"):
        get_loss_pair("wasserstein")
    custom = lambda r, f: (jnp.mean(r), jnp.mean(f))
    assert get_loss_pair(custom) is custom


def test_vector_field_sign_and_linear_form():
    # The rotational game's field is v = A z with A = [[−ε, 1], [−1, 0]] (paper eq. 7).
    eps = 0.1
    players = Players(d=jnp.array(0.7), g=jnp.array(-0.3))
    v = game_vector_field(ft.partial(rotational_game, epsilon=eps), players)
    assert tree_allclose(v, Players(d=-eps * 0.7 + (-0.3), g=-0.7))
    matrix = jnp.array([[-eps, 1.0], [-1.0, 0.0]])
    v_linear = linear_game(Players(d=jnp.array([0.7]), g=jnp.array([-0.3])), matrix)
    assert tree_allclose(Players(d=v_linear.d[0], g=v_linear.g[0]), v)


def test_joint_vector_field_on_a_tiny_gan(tiny_gan):
    players, data, latents, disc, gen = tiny_gan
    v = joint_vector_field(players, data, latents, discriminator=disc, generator=gen)
    # Shapes and dtypes follow the params, and the field is minus each player's own gradient.
    shapes = jax.eval_shape(
        lambda p: joint_vector_field(p, data, latents, discriminator=disc, generator=gen), players
    )
    assert jax.tree.map(lambda s: (s.shape, s.dtype), shapes) == jax.tree.map(
        lambda x: (x.shape, x.dtype), players
    )
    losses = ft.partial(gan_losses, data=data, latents=latents, discriminator=disc, generator=gen)
    grad_d = jax.grad(lambda d: losses(Players(d, players.g))[0])(players.d)
    grad_g = jax.grad(lambda g: losses(Players(players.d, g))[1])(players.g)
    assert tree_allclose(
        v, Players(jax.tree.map(jnp.negative, grad_d), jax.tree.map(jnp.negative, grad_g))
    )
    # jit ≡ eager.
    v_jit = jax.jit(
        lambda p: joint_vector_field(p, data, latents, discriminator=disc, generator=gen)
    )(players)
    assert tree_allclose(v_jit, v)


def test_joint_vector_field_vmap_matches_loop(getkey):
    keys = jr.split(getkey(), 3)
    gans = [make_tiny_gan(k) for k in keys]
    _, data, latents, disc, gen = gans[0]
    field = lambda p: joint_vector_field(p, data, latents, discriminator=disc, generator=gen)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *(g[0] for g in gans))
    batched = jax.vmap(field)(stacked)
    for i, gan in enumerate(gans):
        assert tree_allclose(jax.tree.map(lambda x, i=i: x[i], batched), field(gan[0]))


def test_regulariser_grad_three_ways(getkey, enable_x64):
    players, data, latents, disc, gen = make_tiny_gan(getkey(), jnp.float64)
    losses = ft.partial(gan_losses, data=data, latents=latents, discriminator=disc, generator=gen)
    # Jitted: second derivatives dispatched op by op are slow.
    forward = jax.jit(ft.partial(regulariser_grad, losses))(players)
    reverse = jax.jit(ft.partial(regulariser_grad, losses, method="reverse_over_reverse"))(players)
    assert tree_allclose(forward, reverse, rtol=1e-10, atol=1e-12)
    # Central finite differences of ‖∂ℓ_G/∂φ‖² along a random θ direction.
    leaves, treedef = jax.tree.flatten(players.d)
    direction = treedef.unflatten([jr.normal(getkey(), x.shape, x.dtype) for x in leaves])
    sq_norm = jax.jit(
        lambda s: generator_grad_sq_norm(
            losses, Players(jax.tree.map(lambda x, u: x + s * u, players.d, direction), players.g)
        )
    )
    step = 1e-5
    fd = (sq_norm(step) - sq_norm(-step)) / (2 * step)
    directional = sum(
        jnp.vdot(g, u)
        for g, u in zip(jax.tree.leaves(forward), jax.tree.leaves(direction), strict=True)
    )
    assert abs(float(fd)) > 1e-3  # the check is not vacuous
    np.testing.assert_allclose(directional, fd, rtol=1e-7)
    with pytest.raises(ValueError, match="`method` must be"):
        regulariser_grad(losses, players, method="finite_differences")


def test_rotational_closed_form_matches_a_fine_numerical_solution(enable_x64):
    eps = 0.1
    players0 = Players(d=jnp.array(1.0), g=jnp.array(0.5))
    ts = jnp.linspace(0.0, 40.0, 9)
    term = dfx.ODETerm(
        lambda t, y, args: game_vector_field(ft.partial(rotational_game, epsilon=eps), y)
    )
    sol = dfx.diffeqsolve(
        term,
        dfx.Dopri5(),
        0.0,
        40.0,
        0.01,
        players0,
        saveat=dfx.SaveAt(ts=ts),
        stepsize_controller=dfx.PIDController(rtol=1e-11, atol=1e-12),
        max_steps=100_000,
    )
    exact = rotational_solution(ts, players0, epsilon=eps)
    assert tree_allclose(sol.ys, exact, rtol=1e-8, atol=1e-9)
    # The solution decays like e^{−εt/2}: at t = 40 the radius has shrunk by about e^{−2}.
    assert float(jnp.hypot(exact.d[-1], exact.g[-1])) < 0.3


def test_linear_game_solution_matches_diffeqsolve(getkey, enable_x64):
    matrix = jr.normal(getkey(), (5, 5), jnp.float64) / 2
    players0 = Players(
        d=jr.normal(getkey(), (2,), jnp.float64), g=jr.normal(getkey(), (3,), jnp.float64)
    )
    sol = dfx.diffeqsolve(
        dfx.ODETerm(lambda t, y, args: linear_game(y, matrix)),
        dfx.Tsit5(),
        0.0,
        1.5,
        0.01,
        players0,
        stepsize_controller=dfx.PIDController(rtol=1e-12, atol=1e-12),
    )
    exact = linear_game_solution(1.5, players0, matrix)
    assert tree_allclose(jax.tree.map(lambda x: x[-1], sol.ys), exact, rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError, match="`matrix` must have shape"):
        linear_game(players0, matrix[:4, :4])


def test_dirac_gan():
    theta, phi = jnp.array([0.5, -1.0]), jnp.array([2.0, 0.3])
    v = toy_game_field(dirac_gan)(Players(theta, phi))
    # Minimax: ℓ_D = softplus(0) + softplus(θ·φ), ℓ_G = −softplus(θ·φ) (Mescheder et al. 2018).
    s = jax.nn.sigmoid(jnp.vdot(theta, phi))
    assert tree_allclose(v, Players(d=-s * phi, g=s * theta), **TOL[jnp.dtype("float32")])
    # At the equilibrium the Jacobian is purely rotational: eigenvalues ±i/2.
    jac = jax.jacfwd(lambda z: jnp.concatenate(toy_game_field(dirac_gan)(Players(z[:1], z[1:]))))(
        jnp.zeros(2)
    )
    eig = np.linalg.eigvals(np.asarray(jac))
    np.testing.assert_allclose(np.sort(eig.imag), [-0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(eig.real, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        dirac_gan(Players(jnp.zeros(2), jnp.zeros(3)))
    # Non-saturating Dirac GAN: same discriminator field, generator field σ(−θ·φ) θ.
    v_ns = toy_game_field(dirac_gan, loss="non_saturating")(Players(theta, phi))
    assert tree_allclose(v_ns.g, (1 - s) * theta)

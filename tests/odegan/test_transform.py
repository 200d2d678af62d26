import functools as ft

import diffrax as dfx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from odegan import (
    SOLVERS,
    ODEStepState,
    Players,
    dirac_gan,
    gan_losses,
    get_solver,
    joint_vector_field,
    linear_game,
    linear_game_solution,
    ode_step,
    regulariser_grad,
    rotational_game,
    rotational_solution,
    toy_game_field,
)
from tests.helpers import tree_allclose

ROTATIONAL = toy_game_field(rotational_game, epsilon=0.1)


def _same_field(field):
    """A `vector_field(params, stage)` that ignores the stage index (same minibatch every stage)."""
    return lambda params, stage: field(params)


@ft.partial(jax.jit, static_argnums=(0, 3))
def _integrate(opt, params, field_args, steps):
    """`steps` steps of `opt` under `lax.scan`: the final params, trajectory and states."""
    field, reg = field_args

    def body(carry, _):
        p, state = carry
        extra = {} if reg is None else {"regulariser_grad": reg}
        updates, state = opt.update(p, state, p, vector_field=field, **extra)
        p = optax.apply_updates(p, updates)
        return (p, state), (p, state)

    (p, _), (traj, states) = jax.lax.scan(body, (params, opt.init(params)), None, length=steps)
    return p, traj, states


def _run(opt, params, field, steps, reg=None):
    reg = None if reg is None else jax.tree_util.Partial(reg)
    return _integrate(opt, params, (jax.tree_util.Partial(field), reg), steps)


def _norm(players):
    return jnp.sqrt(sum(jnp.sum(x**2, axis=tuple(range(1, x.ndim))) for x in players))


# --- the rotational game (paper §3.2.2) ---------------------------------------------------------


def test_rotational_game_euler_diverges_heun_and_rk4_converge():
    # ε = 0.1, h = 0.2, 200 steps from (1, 1): ‖z₀‖ = 1.414, exact ‖z(40)‖ = 0.1858.
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    field = jax.tree_util.Partial(_same_field(ROTATIONAL))
    exact = rotational_solution(0.2 * jnp.arange(1, 201), z0, epsilon=0.1)
    final = {}
    for solver in ("euler", "heun", "rk4"):
        _, traj, _ = _integrate(ode_step(solver, 0.2), z0, (field, None), 200)
        final[solver] = float(_norm(traj)[-1])
        if solver == "rk4":
            assert tree_allclose(traj, exact, rtol=0, atol=5e-4)
    assert final["euler"] > 5.0  # measured 9.88: |eigenvalue|² = 1 − εh + h² = 1.02 > 1
    assert final["heun"] < 0.25  # measured 0.188
    np.testing.assert_allclose(final["rk4"], float(_norm(exact)[-1]), rtol=1e-3)


@pytest.mark.parametrize("solver", ["heun", "rk4"])
def test_frozen_opponent_diverges_where_joint_converges(solver):
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    field = jax.tree_util.Partial(_same_field(ROTATIONAL))
    norms = {}
    for integration in ("joint", "frozen_opponent", "alternating"):
        opt = ode_step(solver, 0.2, integration=integration)
        norms[integration] = float(_norm(_integrate(opt, z0, (field, None), 200)[0]))
    # The frozen opponent turns the coupling into an Euler step: it diverges like Euler (9.6).
    assert norms["frozen_opponent"] > 5.0
    assert norms["joint"] < 0.25
    # Measured: alternating converges too (0.196): its linear map has determinant ≈ 1 − εh < 1.
    assert norms["alternating"] < 0.25


# --- integrator order and the embedded error ---------------------------------------------------


@pytest.mark.parametrize(
    ("solver", "order"), [("euler", 1), ("heun", 2), ("bosh3", 3), ("rk4", 4), ("dopri5", 5)]
)
def test_order_on_a_linear_game(solver, order, getkey, enable_x64):
    matrix = jr.normal(getkey(), (5, 5), jnp.float64) / 2
    z0 = Players(d=jr.normal(getkey(), (2,), jnp.float64), g=jr.normal(getkey(), (3,), jnp.float64))
    exact = linear_game_solution(1.0, z0, matrix)
    field = lambda p, stage: linear_game(p, matrix)

    @jax.jit
    def error(n):
        # A schedule makes the step size a traced value: one compilation for every n.
        opt = ode_step(solver, lambda count: 1.0 / n)

        def body(i, carry):
            z, state = carry
            updates, state = opt.update(z, state, z, vector_field=field)
            return optax.apply_updates(z, updates), state

        z, _ = jax.lax.fori_loop(0, n, body, (z0, opt.init(z0)))
        return optax.tree.norm(jax.tree.map(jnp.subtract, z, exact))

    ns = np.array([8, 16, 32, 64]) if order < 5 else np.array([4, 8, 16, 32])
    errors = np.array([float(error(n)) for n in ns])
    slope = np.polyfit(np.log(1.0 / ns), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.3, (slope, errors)


@pytest.mark.parametrize(
    ("solver", "error_order", "dts"),
    [
        ("heun", 2, [0.04, 0.02, 0.01, 0.005]),
        ("bosh3", 3, [0.04, 0.02, 0.01, 0.005]),
        ("rk4", 3, [0.04, 0.02, 0.01, 0.005]),
        # Fehlberg's h³ error constant is tiny by design: its h³ regime starts below ~1e-2.
        ("fehlberg2", 3, [0.004, 0.002, 0.001, 0.0005]),
        ("dopri5", 5, [0.2, 0.1, 0.05, 0.025]),
    ],
)
def test_error_estimate_vanishes_at_its_order(solver, error_order, dts, enable_x64):
    # One step of the (nonlinear) non-saturating Dirac GAN: ‖err‖ ∝ h^{error order}.
    field = _same_field(toy_game_field(dirac_gan, loss="non_saturating"))
    z0 = Players(d=jnp.array([0.8, -0.5]), g=jnp.array([1.0, 0.7]))

    @jax.jit
    def error(dt):
        opt = ode_step(solver, lambda count: dt)
        return opt.update(z0, opt.init(z0), z0, vector_field=field)[1].error

    errors = np.array([float(error(dt)) for dt in dts])
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - error_order) < 0.3, (slope, errors)
    assert get_solver(solver).error_order(None) == error_order


@pytest.mark.parametrize("name", list(SOLVERS))
def test_step_matches_diffrax_solver_step(name, enable_x64):
    # Our unrolled stages use the solver's own tableau: same step and error as diffrax's `step`.
    field = toy_game_field(dirac_gan, loss="non_saturating")
    z0 = Players(d=jnp.array([0.8, -0.5]), g=jnp.array([1.0, 0.7]))
    solver, h = get_solver(name), 0.3
    term = dfx.ODETerm(lambda t, y, args: field(y))
    solver_state = solver.init(term, 0.0, h, z0, None)
    y1, y_error, _, _, _ = solver.step(term, 0.0, h, z0, None, solver_state, made_jump=False)
    opt = ode_step(name, h)
    updates, state = opt.update(z0, opt.init(z0), z0, vector_field=_same_field(field))
    assert tree_allclose(optax.apply_updates(z0, updates), y1, rtol=1e-13, atol=1e-14)
    if y_error is None:
        assert np.isnan(state.error)
    else:
        np.testing.assert_allclose(state.error, optax.tree.norm(y_error), rtol=1e-10, atol=1e-15)


# --- identities --------------------------------------------------------------------------------


def _gan_field(gan):
    players, data, latents, disc, gen = gan
    return lambda p, stage: joint_vector_field(p, data, latents, discriminator=disc, generator=gen)


def test_euler_equals_sgd(tiny_gan):
    # Euler with λ = 0 is simultaneous gradient descent: optax.sgd(h) on the gradient pair −v.
    players, field = tiny_gan[0], _gan_field(tiny_gan)
    for dt in (0.05, optax.linear_schedule(0.1, 0.01, 5)):
        euler, sgd = ode_step("euler", dt), optax.sgd(dt)

        @jax.jit
        def both(p, euler=euler, sgd=sgd):
            e_state, s_state, q = euler.init(p), sgd.init(p), p
            for _ in range(3):
                u, e_state = euler.update(p, e_state, p, vector_field=field)
                grads = jax.tree.map(jnp.negative, field(q, 0))
                v, s_state = sgd.update(grads, s_state, q)
                p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
            return p, q

        p, q = both(players)
        jax.tree.map(np.testing.assert_array_equal, p, q)


def test_decoupled_equals_joint_exactly_when_separable():
    # ℓ_D depends on θ only and ℓ_G on φ only: nothing is frozen that moves, all schemes agree.
    def separable(players):
        theta, phi = players
        return jnp.sum(jnp.cos(theta) + theta**2), jnp.sum(jnp.sinh(phi) * phi)

    field = _same_field(toy_game_field(separable))
    z0 = Players(d=jnp.array([0.3, -1.0]), g=jnp.array([0.5, 0.2, -0.4]))
    for solver in ("heun", "rk4"):
        joint = _run(ode_step(solver, 0.1), z0, field, 10)[0]
        for integration in ("frozen_opponent", "alternating"):
            other = _run(ode_step(solver, 0.1, integration=integration), z0, field, 10)[0]
            assert tree_allclose(other, joint, rtol=1e-6, atol=1e-7), (solver, integration)


def test_decoupled_differs_from_joint_when_coupled():
    field = _same_field(ROTATIONAL)
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    step = lambda solver, integration: _run(
        ode_step(solver, 0.2, integration=integration), z0, field, 1
    )[0]
    # Euler has a single stage, at the step's start: frozen opponents change nothing...
    jax.tree.map(
        np.testing.assert_array_equal, step("euler", "frozen_opponent"), step("euler", "joint")
    )
    # ...but later stages see the opponent's stage values only in the joint scheme.
    for solver in ("heun", "rk4"):
        for integration in ("frozen_opponent", "alternating"):
            diff = _norm(
                jax.tree.map(jnp.subtract, step(solver, integration), step(solver, "joint"))
            )
            assert float(diff) > 1e-3, (solver, integration)


# --- the regulariser --------------------------------------------------------------------------


def _gan_regulariser(gan):
    _, data, latents, disc, gen = gan
    losses = ft.partial(gan_losses, data=data, latents=latents, discriminator=disc, generator=gen)
    return lambda p, stage: regulariser_grad(losses, p)


# The non-saturating Dirac GAN: ‖∂ℓ_G/∂φ‖² = σ(−θ·φ)²‖θ‖² depends on θ, and compiles fast.
DIRAC = ft.partial(dirac_gan, loss="non_saturating")
DIRAC_FIELD = _same_field(toy_game_field(DIRAC))
DIRAC_REG = lambda p, stage: regulariser_grad(DIRAC, p)
DIRAC_Z0 = Players(d=jnp.array([0.8, -0.5]), g=jnp.array([1.0, 0.7]))


def test_regulariser_after_step_is_algorithm_1():
    z0, lam, h = DIRAC_Z0, 0.07, 0.1
    v, g_theta = DIRAC_FIELD(z0, 0), DIRAC_REG(z0, 0)
    assert float(optax.tree.norm(g_theta)) > 0.1
    # Euler: θ ← θ + h v_θ − hλ g_θ, φ ← φ + h v_φ; with one stage every placement is this.
    expected = Players(d=z0.d + h * v.d - h * lam * g_theta, g=z0.g + h * v.g)
    for placement in ("after_step", "first_stage", "every_stage"):
        opt = ode_step("euler", h, regulariser=lam, regulariser_placement=placement)
        assert tree_allclose(_run(opt, z0, DIRAC_FIELD, 1, DIRAC_REG)[0], expected), placement
    # RK4: the step, then −hλ g_θ from the step's start.
    plain = _run(ode_step("rk4", h), z0, DIRAC_FIELD, 1)[0]
    after = _run(ode_step("rk4", h, regulariser=lam), z0, DIRAC_FIELD, 1, DIRAC_REG)[0]
    assert tree_allclose(after, plain._replace(d=plain.d - h * lam * g_theta))
    # The ½‖g‖² convention is λ/2 in the ‖g‖² one.
    half = ode_step("rk4", h, regulariser=lam, regulariser_convention="half_squared_norm")
    full = ode_step("rk4", h, regulariser=lam / 2)
    assert tree_allclose(
        _run(half, z0, DIRAC_FIELD, 3, DIRAC_REG)[0], _run(full, z0, DIRAC_FIELD, 3, DIRAC_REG)[0]
    )


def _shifted(weight, stages):
    """The Dirac field with −weight·g_θ added to the discriminator's velocity at `stages`."""

    def field(p, stage):
        v = DIRAC_FIELD(p, stage)
        return v._replace(d=v.d - weight * DIRAC_REG(p, stage)) if stage in stages else v

    return field


def test_regulariser_in_the_field(enable_x64):
    z0, lam = DIRAC_Z0, 0.5
    run = lambda opt, field, h: _run(opt, z0, field, 1, DIRAC_REG)[0]
    diffs = []
    for h in (0.1, 0.05):
        every = run(
            ode_step("rk4", h, regulariser=lam, regulariser_placement="every_stage"), DIRAC_FIELD, h
        )
        assert tree_allclose(every, run(ode_step("rk4", h), _shifted(lam, range(4)), h))
        # In the first stage with weight λ/b₁ = 6λ (the TF code's choice).
        first = run(
            ode_step("rk4", h, regulariser=lam, regulariser_placement="first_stage"), DIRAC_FIELD, h
        )
        assert tree_allclose(first, run(ode_step("rk4", h), _shifted(6 * lam, (0,)), h))
        after = run(ode_step("rk4", h, regulariser=lam), DIRAC_FIELD, h)
        diffs.append(
            [
                float(optax.tree.norm(jax.tree.map(jnp.subtract, after, other)))
                for other in (every, first)
            ]
        )
    # The three placements agree to first order in h: they differ by O(h²).
    ratios = np.array(diffs[0]) / np.array(diffs[1])
    assert np.all((ratios > 3.0) & (ratios < 5.0)), (diffs, ratios)


# --- plumbing: stages, jit, scan, chain, state -----------------------------------------------


def test_vector_field_receives_the_stage_index():
    seen = []

    def field(p, stage):
        seen.append(stage)
        return ROTATIONAL(p)

    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    opt = ode_step("rk4", 0.1)
    opt.update(z0, opt.init(z0), z0, vector_field=field)
    assert seen == [0, 1, 2, 3]
    seen.clear()
    opt = ode_step("heun", 0.1, integration="alternating")
    opt.update(z0, opt.init(z0), z0, vector_field=field)
    assert seen == [0, 1, 0, 1]  # the discriminator's stages, then the generator's


def test_jit_equals_eager_with_fresh_minibatches(tiny_gan, key):
    # A fresh minibatch per stage: the stage index is folded into the step's key.
    players, data, latents, disc, gen = tiny_gan

    def field(p, stage):
        k1, k2 = jr.split(jr.fold_in(key, stage))
        x = data + 0.1 * jr.normal(k1, data.shape)
        z = jr.normal(k2, latents.shape)
        return joint_vector_field(p, x, z, discriminator=disc, generator=gen)

    opt = ode_step("rk4", 0.05)
    state = opt.init(players)
    eager = opt.update(players, state, players, vector_field=field)
    jitted = jax.jit(lambda p, s: opt.update(p, s, p, vector_field=field))(players, state)
    assert tree_allclose(jitted, eager)
    assert isinstance(eager[1], ODEStepState)
    # Not the same as one minibatch for all stages.
    same = opt.update(players, state, players, vector_field=lambda p, stage: field(p, 0))
    assert not tree_allclose(same[0], eager[0])


@pytest.mark.parametrize("placement", ["after_step", "first_stage", "every_stage"])
def test_jit_equals_eager_with_the_regulariser(placement):
    opt = ode_step("rk4", 0.1, regulariser=0.3, regulariser_placement=placement)
    state = opt.init(DIRAC_Z0)
    update = lambda p, s: opt.update(p, s, p, vector_field=DIRAC_FIELD, regulariser_grad=DIRAC_REG)
    assert tree_allclose(jax.jit(update)(DIRAC_Z0, state), update(DIRAC_Z0, state))


def test_composes_with_chain_and_scan():
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    opt = optax.chain(ode_step("heun", 0.2), optax.clip_by_global_norm(1e-2))
    _, traj, states = _run(opt, z0, _same_field(ROTATIONAL), 5)
    steps = _norm(jax.tree.map(lambda x: jnp.diff(x, prepend=1.0), traj))
    np.testing.assert_allclose(steps, 1e-2, rtol=1e-5)
    np.testing.assert_array_equal(states[0].count, np.arange(1, 6))
    assert states[0].error.shape == (5,)


def test_no_retracing_and_vmap_matches_loop():
    traces = []

    def field(p, stage):
        traces.append(stage)
        return ROTATIONAL(p)

    opt = ode_step("rk4", 0.2)

    @jax.jit
    def step(z, state):
        updates, state = opt.update(z, state, z, vector_field=field)
        return optax.apply_updates(z, updates), state

    z0s = Players(d=jnp.array([1.0, -0.5, 0.2]), g=jnp.array([1.0, 0.3, -2.0]))
    z, state = z0s, jax.vmap(opt.init)(z0s)
    for _ in range(3):
        z, state = jax.vmap(step)(z, state)
    assert traces == [0, 1, 2, 3]  # traced once, four stages
    for i in range(3):
        zi = Players(d=z0s.d[i], g=z0s.g[i])
        si = opt.init(zi)
        for _ in range(3):
            zi, si = step(zi, si)
        assert tree_allclose(zi, Players(d=z.d[i], g=z.g[i]), rtol=1e-6, atol=1e-7)


def test_state_shapes_and_dtypes(tiny_gan):
    players, field = tiny_gan[0], _gan_field(tiny_gan)
    opt = ode_step("rk4", 0.1)
    state = opt.init(players)
    assert state.count.dtype == jnp.int32
    assert state.error.dtype == state.time.dtype == state.dt.dtype == jnp.float32
    out = jax.eval_shape(lambda p, s: opt.update(p, s, p, vector_field=field), players, state)
    assert jax.tree.map(lambda s: (s.shape, s.dtype), out[0]) == jax.tree.map(
        lambda x: (x.shape, x.dtype), players
    )


# --- adaptive step size ------------------------------------------------------------------------


def test_pid_controller_adapts_the_step(enable_x64):
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    controller = dfx.PIDController(rtol=1e-6, atol=1e-8)
    # Too large a first step: it is rejected (zero update) and the step size shrinks.
    opt = ode_step("dopri5", 2.0, controller=controller)
    final, traj, states = _run(opt, z0, _same_field(ROTATIONAL), 60)
    time = np.asarray(states.time)
    rejected = np.diff(time, prepend=0.0) == 0
    assert rejected[0]
    assert float(states.dt[0]) < 2.0
    assert rejected.sum() < 0.5 * rejected.size
    # Same accepted steps as diffrax's own adaptive integrator (measured: 46 of 60 accepted).
    sol = dfx.diffeqsolve(
        dfx.ODETerm(lambda t, y, args: ROTATIONAL(y)),
        dfx.Dopri5(),
        0.0,
        15.0,
        2.0,
        z0,
        stepsize_controller=controller,
        saveat=dfx.SaveAt(steps=True),
        max_steps=256,
    )
    accepted = time[~rejected]
    np.testing.assert_allclose(accepted, np.asarray(sol.ts)[: accepted.size], rtol=1e-12)
    assert tree_allclose(final, rotational_solution(time[-1], z0), rtol=0, atol=1e-5)


# --- RK + Adam -------------------------------------------------------------------------------


def test_euler_with_adam_is_optax_adam(tiny_gan):
    players, field = tiny_gan[0], _gan_field(tiny_gan)
    for mode, reference in (
        ("every_stage", optax.adam(0.05)),
        ("frozen", optax.adam(0.05, b1=0.0)),
    ):
        ours = ode_step("euler", 0.05, adam=mode)

        @jax.jit
        def both(p, ours=ours, reference=reference):
            o_state, r_state, q = ours.init(p), reference.init(p), p
            for _ in range(3):
                u, o_state = ours.update(p, o_state, p, vector_field=field)
                v, r_state = reference.update(jax.tree.map(jnp.negative, field(q, 0)), r_state, q)
                p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
            return p, q

        p, q = both(players)
        if mode == "every_stage":
            jax.tree.map(np.testing.assert_array_equal, p, q)
        else:  # v·(1/(√ν̂+ε)) against g/(√ν̂+ε): rounding only
            assert tree_allclose(p, q, rtol=1e-6, atol=1e-7)


def test_rk4_with_frozen_adam_integrates_the_preconditioned_field():
    # First step: ν̂ = g₀², so P = 1/(|g₀| + ε), held fixed through the four stages.
    z0, h, lam, eps = DIRAC_Z0, 0.1, 0.2, 1e-8
    v0 = DIRAC_FIELD(z0, 0)
    scale = jax.tree.map(lambda v: 1 / (jnp.abs(v) + eps), v0)
    pre = lambda p, stage: jax.tree.map(jnp.multiply, DIRAC_FIELD(p, stage), scale)
    expected = _run(ode_step("rk4", h), z0, pre, 1)[0]
    got = _run(ode_step("rk4", h, adam="frozen"), z0, DIRAC_FIELD, 1)[0]
    assert tree_allclose(got, expected)
    # The regulariser is preconditioned like the field: −hλ P_θ g_θ after the step.
    regularised = _run(
        ode_step("rk4", h, adam="frozen", regulariser=lam), z0, DIRAC_FIELD, 1, DIRAC_REG
    )[0]
    g_theta = DIRAC_REG(z0, 0)
    assert tree_allclose(regularised, expected._replace(d=expected.d - h * lam * scale.d * g_theta))


def test_adam_every_stage_advances_at_each_stage():
    opt = ode_step("rk4", 0.1, adam="every_stage")
    _, _, states = _run(opt, DIRAC_Z0, DIRAC_FIELD, 2)
    np.testing.assert_array_equal(states.adam_state.count, [4, 8])
    np.testing.assert_array_equal(states.count, [1, 2])


# --- errors ------------------------------------------------------------------------------------


def test_bad_configurations_are_rejected():
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    with pytest.raises(ValueError, match="`solver` must be one of"):
        ode_step("rk45", 0.1)
    with pytest.raises(ValueError, match="`solver` must be a name"):
        ode_step(dfx.ImplicitEuler(), 0.1)
    for dt in (0.0, -0.1):
        with pytest.raises(ValueError, match="`dt` must be positive"):
            ode_step("rk4", dt)
    with pytest.raises(ValueError, match="`regulariser_placement` must be one of"):
        ode_step("rk4", 0.1, regulariser_placement="before_step")
    with pytest.raises(ValueError, match="`regulariser_convention` must be one of"):
        ode_step("rk4", 0.1, regulariser_convention="norm")
    with pytest.raises(ValueError, match="`integration` must be one of"):
        ode_step("rk4", 0.1, integration="per_player")
    with pytest.raises(ValueError, match="`regulariser` must be non-negative"):
        ode_step("rk4", 0.1, regulariser=-1.0)
    with pytest.raises(ValueError, match="nonzero weight b_1"):
        ode_step("midpoint", 0.1, regulariser=0.1, regulariser_placement="first_stage")
    with pytest.raises(ValueError, match="`controller` needs a solver with an embedded error"):
        ode_step("euler", 0.1, controller=dfx.PIDController(rtol=1e-3, atol=1e-3))
    with pytest.raises(ValueError, match="give a float `dt`"):
        ode_step("heun", lambda c: 0.1, controller=dfx.PIDController(rtol=1e-3, atol=1e-3))
    field = _same_field(ROTATIONAL)
    opt = ode_step("rk4", 0.1, regulariser=0.1)
    with pytest.raises(ValueError, match="needs the extra argument `regulariser_grad`"):
        opt.update(z0, opt.init(z0), z0, vector_field=field)
    with pytest.raises(ValueError, match="needs `params`"):
        opt.update(z0, opt.init(z0), vector_field=field)
    with pytest.raises(ValueError, match="`adam` must be None"):
        ode_step("rk4", 0.1, adam="rmsprop")
    with pytest.raises(ValueError, match="needs `integration='joint'`"):
        ode_step("rk4", 0.1, adam="every_stage", integration="frozen_opponent")
    opt = ode_step("rk4", 0.1, integration="alternating")
    with pytest.raises(ValueError, match="must be a `Players` pytree"):
        opt.update((1.0, 1.0), opt.init((1.0, 1.0)), (1.0, 1.0), vector_field=field)

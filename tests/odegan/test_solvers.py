import diffrax as dfx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from odegan import (
    RK4,
    SOLVERS,
    Fehlberg2,
    Players,
    get_solver,
    linear_game,
    linear_game_solution,
    solve_adaptive,
    solve_on_grid,
)
from tests.helpers import tree_allclose


def test_get_solver():
    for name, cls in SOLVERS.items():
        assert type(get_solver(name)) is cls
    rk4 = RK4()
    assert get_solver(rk4) is rk4
    assert (rk4.order(None), rk4.error_order(None)) == (4, 3)
    assert (Fehlberg2().order(None), Fehlberg2().error_order(None)) == (2, 3)
    with pytest.raises(ValueError, match="`solver` must be one of"):
        get_solver("rk5")


def _one_step(solver, h):
    """One diffrax step of y' = y from y(0) = 1: (y1, y_error)."""
    term = dfx.ODETerm(lambda t, y, args: y)
    y0 = jnp.array(1.0)
    state = solver.init(term, 0.0, h, y0, None)
    y1, y_error, _, _, _ = solver.step(term, 0.0, h, y0, None, state, made_jump=False)
    return float(y1), float(y_error)


@pytest.mark.parametrize("h", [0.5, 0.1])
def test_rk4_step_is_the_fourth_order_taylor_polynomial(h, enable_x64):
    # On y' = y, classic RK4 reproduces e^h up to h⁴ exactly; midpoint stops at h².
    y1, y_error = _one_step(RK4(), h)
    np.testing.assert_allclose(y1, 1 + h + h**2 / 2 + h**3 / 6 + h**4 / 24, rtol=1e-14)
    np.testing.assert_allclose(y_error, h**3 / 6 + h**4 / 24, rtol=1e-12)


@pytest.mark.parametrize("h", [0.5, 0.1])
def test_fehlberg2_step(h, enable_x64):
    # The propagated solution is second order; the embedded one (y1 − error) third order.
    y1, y_error = _one_step(Fehlberg2(), h)
    np.testing.assert_allclose(y1, 1 + h + h**2 / 2, atol=0.2 * h**3)
    assert abs(y1 - y_error - np.exp(h)) < 0.1 * h**4
    assert abs(y1 - 1 - h - h**2 / 2) > 1e-3 * h**3  # genuinely second order, not third


def test_rk4_order_with_diffeqsolve(getkey, enable_x64):
    # Our tableau inside diffrax's own integrator: global error ∝ dt⁴. (Fehlberg2 is left to the
    # one-step test above: its h³ error constant is tiny by design, ~5e-4 on y' = y, so its global
    # error only shows slope 2 at steps below ~1e-2.)
    matrix = jr.normal(getkey(), (4, 4), jnp.float64) / 2
    z0 = Players(d=jr.normal(getkey(), (2,), jnp.float64), g=jr.normal(getkey(), (2,), jnp.float64))
    exact = linear_game_solution(1.0, z0, matrix)

    @jax.jit
    def error(dt):
        term = dfx.ODETerm(lambda t, y, args: linear_game(y, matrix))
        sol = dfx.diffeqsolve(term, RK4(), 0.0, 1.0, dt, z0, max_steps=64)
        return jnp.sqrt(sum(jnp.sum((a[-1] - b) ** 2) for a, b in zip(sol.ys, exact, strict=True)))

    dts = np.array([1 / 8, 1 / 16, 1 / 32, 1 / 64])
    errors = [float(error(dt)) for dt in dts]
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(slope - 4) < 0.25, (slope, errors)


def _diffeqsolve_on_grid(terms, solver, y0, grid, args):
    sol = dfx.diffeqsolve(
        terms, solver, grid[0], grid[-1], None, y0, args,
        stepsize_controller=dfx.StepTo(ts=grid), saveat=dfx.SaveAt(t0=True, steps=True),
        adjoint=dfx.DirectAdjoint(), max_steps=grid.shape[0] - 1,
    )
    return sol.ys


def _problem(kind, key):
    """(terms, y0): a time-dependent ODE on a pytree state (checks the stage times c), a CDE and
    an Itô SDE on a vector state."""
    if kind == "ode":
        field = lambda t, y, args: {"a": jnp.sin(3 * t) * y["b"] * args, "b": -y["a"] + t**2}
        return dfx.ODETerm(field), {"a": jnp.array(0.5), "b": jnp.array(-1.0)}
    path = dfx.LinearInterpolation(ts=jnp.linspace(0.0, 1.0, 6), ys=jr.normal(key, (6, 2)))
    matrix = lambda t, y, args: jnp.stack([jnp.sin(y) * args, jnp.cos(t * y)], axis=1)
    control = dfx.ControlTerm(matrix, path)
    drift = dfx.ODETerm(lambda t, y, args: -args * y + jnp.sin(5 * t))
    terms = control if kind == "cde" else dfx.MultiTerm(drift, control)
    return terms, jnp.array([0.5, -1.0])


@pytest.mark.parametrize("kind", ["ode", "cde", "sde"])
def test_solve_on_grid_is_diffeqsolve_without_bookkeeping(kind, getkey, enable_x64):
    # Same states and same gradients as diffeqsolve on the same grid, for every explicit solver
    # (the grid is uneven and misses the CDE path's knots).
    terms, y0 = _problem(kind, getkey())
    grid = jnp.sort(jr.uniform(getkey(), (7,), jnp.float64)).at[0].set(0.0).at[-1].set(1.0)
    first = lambda ys: jax.tree.leaves(ys)[0]
    # Every tableau on the ODE; the controlled terms share its stage code, so two solvers each.
    for name in {"ode": list(SOLVERS), "cde": ["midpoint", "rk4"], "sde": ["euler", "heun"]}[kind]:
        ours = solve_on_grid(terms, name, y0, grid, 2.0)
        ref = _diffeqsolve_on_grid(terms, get_solver(name), y0, grid, 2.0)
        assert first(ours).shape[0] == 7
        assert tree_allclose(ours, ref, rtol=1e-12, atol=1e-12), name
        if name not in ("rk4", "heun"):  # gradients: one solver per kind (compile time)
            continue
        loss = lambda a, solve, s: jnp.sum(first(solve(terms, s, y0, grid, a)) ** 2)
        grads = [jax.grad(loss)(2.0, solve_on_grid, name),
                 jax.grad(loss)(2.0, _diffeqsolve_on_grid, get_solver(name))]
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, err_msg=name)


def test_solve_on_grid_checkpoint_policy_changes_nothing_but_time(getkey, enable_x64):
    terms, y0 = _problem("sde", getkey())
    grid = jnp.linspace(0.0, 1.0, 6)
    loss = lambda a, policy: jnp.sum(
        solve_on_grid(terms, "heun", y0, grid, a, checkpoint_policy=policy) ** 2
    )
    saveable = jax.checkpoint_policies
    policies = (None, saveable.dots_saveable, saveable.nothing_saveable)
    values = [jax.value_and_grad(loss)(2.0, policy) for policy in policies]
    for value, grad in values[1:]:
        np.testing.assert_allclose(value, values[0][0], rtol=1e-13)
        np.testing.assert_allclose(grad, values[0][1], rtol=1e-12)


def test_solve_on_grid_rejects_implicit_solvers():
    term = dfx.ODETerm(lambda t, y, args: -y)
    with pytest.raises(ValueError, match="`solver` must be a name in odegan.SOLVERS"):
        solve_on_grid(term, dfx.Kvaerno5(), jnp.ones(()), jnp.linspace(0.0, 1.0, 3))


def _diffeqsolve_adaptive(terms, solver, y0, ts, args, controller, dt0, max_steps=4096):
    sol = dfx.diffeqsolve(
        terms, solver, ts[0], ts[-1], dt0, y0, args, saveat=dfx.SaveAt(ts=ts),
        stepsize_controller=controller, max_steps=max_steps,
    )
    return sol.ys


@pytest.mark.parametrize("kind", ["ode", "cde"])
def test_solve_adaptive_is_diffeqsolve_without_bookkeeping(kind, getkey, enable_x64):
    # Same outputs at uneven times (interpolated within steps, several per step, one per step)
    # and same gradients as diffeqsolve + RecursiveCheckpointAdjoint, given the same first step.
    terms, y0 = _problem(kind, getkey())
    ts = jnp.array([0.0, 0.01, 0.02, 0.3, 0.31, 0.75, 1.0])
    pid = dfx.PIDController(rtol=1e-5, atol=1e-7)
    first = lambda ys: jax.tree.leaves(ys)[0]
    # Every kind of step and dense output (FSAL or not; Hermite, Tsit5's, Dopri5's) and both of
    # our tableaux; the other solvers repeat one of these shapes (compile time).
    ode_names = ["fehlberg2", "rk4", "tsit5", "dopri5"]
    names = {"ode": ode_names, "cde": ["dopri5"]}[kind]
    for name in names:
        ours = solve_adaptive(terms, name, y0, ts, 2.0, controller=pid, dt0=0.05)
        ref = _diffeqsolve_adaptive(terms, get_solver(name), y0, ts, 2.0, pid, 0.05)
        assert first(ours).shape[0] == ts.shape[0]
        # (vf then prod, as diffrax's FSAL, vs its vf_prod: rounding, up to 2e-12 on the CDE.)
        assert tree_allclose(ours, ref, rtol=1e-10, atol=1e-12), name
    loss = lambda a, solve, s: jnp.sum(
        first(solve(terms, s, y0, ts, a, controller=pid, dt0=0.05)) ** 2
    )
    reference = lambda terms, s, y0, ts, a, controller, dt0: _diffeqsolve_adaptive(
        terms, s, y0, ts, a, controller, dt0
    )
    for name in ("dopri5", "rk4")[: 2 if kind == "ode" else 1]:  # FSAL and not
        grads = [jax.grad(loss)(2.0, solve_adaptive, name),
                 jax.grad(loss)(2.0, reference, get_solver(name))]
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, err_msg=name)


def test_solve_adaptive_with_jumps_rejections_and_first_step(enable_x64):
    # A field that switches at t = 0.5, stepped onto by ClipStepSizeController (made_jump: the
    # FSAL stage is re-evaluated there), with rejected steps from a too-large dt0; and without
    # dt0, the controller's own first step, as accurate as asked.
    field = lambda t, y, args: jnp.where(t < 0.5, -y, jnp.cos(y) + t)
    term = dfx.ODETerm(field)
    ts = jnp.linspace(0.0, 1.0, 9)
    y0 = jnp.array([1.0, -2.0])
    clip = dfx.ClipStepSizeController(dfx.PIDController(rtol=1e-6, atol=1e-8), jump_ts=[0.5])
    ours = solve_adaptive(term, "tsit5", y0, ts, controller=clip, dt0=0.9)
    ref = _diffeqsolve_adaptive(term, dfx.Tsit5(), y0, ts, None, clip, 0.9)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    decay = dfx.ODETerm(lambda t, y, args: -y)
    tight = dfx.PIDController(rtol=1e-10, atol=1e-12)
    ys = solve_adaptive(decay, "dopri5", y0, ts, controller=tight)
    np.testing.assert_allclose(ys, y0[None] * jnp.exp(-ts)[:, None], rtol=1e-8)


def test_solve_adaptive_marks_unreached_times_nan_and_vmaps(getkey):
    decay = dfx.ODETerm(lambda t, y, args: -args * y)
    ts = jnp.linspace(0.0, 10.0, 6)
    pid = dfx.PIDController(rtol=1e-8, atol=1e-8)
    ys = solve_adaptive(decay, "heun", jnp.ones(2), ts, 1.0, controller=pid, max_steps=8)
    reached = ~jnp.isnan(ys[:, 0])
    assert bool(reached[0]), ys
    assert not bool(reached[-1]), ys
    # Per-sample step control under vmap equals solving each sample alone.
    rates = jnp.array([0.5, 3.0])
    solve = lambda a: solve_adaptive(decay, "bosh3", jnp.ones(()), ts, a, controller=pid)
    np.testing.assert_allclose(jax.vmap(solve)(rates), jnp.stack([solve(a) for a in rates]),
                               rtol=1e-6)


def test_solve_adaptive_rejects_fixed_controllers_and_solvers_without_error():
    term = dfx.ODETerm(lambda t, y, args: -y)
    ts = jnp.linspace(0.0, 1.0, 3)
    with pytest.raises(ValueError, match="`controller` must be an adaptive"):
        solve_adaptive(term, "dopri5", jnp.ones(()), ts, controller=dfx.ConstantStepSize())
    with pytest.raises(ValueError, match="`solver` must have an error estimate"):
        solve_adaptive(term, "euler", jnp.ones(()), ts, controller=dfx.PIDController(1e-3, 1e-6))

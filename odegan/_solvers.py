r"""Explicit Runge--Kutta solvers by name, and their steps over pytrees.

diffrax 0.7 has no classic fourth-order Runge--Kutta method and no Fehlberg pair, the two
integrators of the ODE-GAN paper (https://arxiv.org/abs/2010.15040, §4.1 and §5.2.2). Both are
defined here once, as a `diffrax.ButcherTableau` on `diffrax.AbstractERK`, so they work with
`diffrax.diffeqsolve` and with `odegan.ode_step` alike. `_rk_increment` steps any such tableau
over a pytree (the stages of `ode_step`; of `solve_on_grid`: fixed steps of any diffrax term over
a grid; and of `solve_adaptive`: adaptive steps with dense output at given times, both without
`diffeqsolve`'s per-step bookkeeping, used by video's motion generators).
"""

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import diffrax as dfx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax import Array
from jaxtyping import PyTree

# Classic RK4 has no embedded lower-order method on its own four stages: the only weights of
# order 3 on c = (0, ½, ½, 1) are RK4's own. We pair it with the midpoint method (weights
# (0, 1, 0, 0), order 2), so `b_error` = b_RK4 − b_midpoint estimates the local error of the
# midpoint solution, O(h³): a free diagnostic, not a sharp error bound for RK4 (O(h⁵)).
_rk4_tableau = dfx.ButcherTableau(
    a_lower=(np.array([1 / 2]), np.array([0.0, 1 / 2]), np.array([0.0, 0.0, 1.0])),
    b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    b_error=np.array([1 / 6, 1 / 3 - 1, 1 / 3, 1 / 6]),
    c=np.array([1 / 2, 1 / 2, 1.0]),
)


class RK4(dfx.AbstractERK):
    r"""The classic fourth-order Runge--Kutta method ("the" Runge--Kutta method).

    .. math::
        k_1 = f(y_0),\; k_2 = f(y_0 + \tfrac h2 k_1),\; k_3 = f(y_0 + \tfrac h2 k_2),\;
        k_4 = f(y_0 + h k_3),\quad y_1 = y_0 + \tfrac h6(k_1 + 2k_2 + 2k_3 + k_4).

    4 stages, order 4. Its error estimate is :math:`y_1^{\mathrm{RK4}} - y_1^{\mathrm{midpoint}}`
    (order 2, local error :math:`O(h^3)`), since RK4 has no embedded third-order partner.
    Uses third-order Hermite interpolation for dense output.
    """

    tableau: ClassVar[dfx.ButcherTableau] = _rk4_tableau
    interpolation_cls: ClassVar[Callable[..., dfx.ThirdOrderHermitePolynomialInterpolation]] = (
        dfx.ThirdOrderHermitePolynomialInterpolation.from_k
    )

    def order(self, terms):
        """Order of the method: 4."""
        del terms
        return 4

    def error_order(self, terms):
        """Local order of the error estimate: 3 (that of the embedded midpoint method)."""
        del terms
        return 3


# Fehlberg's RK2(3) (Fehlberg 1969; Hairer, Nørsett & Wanner, Solving ODEs I, §II.4--5): a
# second-order solution whose last stage is the next step's first (FSAL) and an embedded
# third-order solution b̂ = (533/2106, 0, 800/1053, −1/78). The error is b − b̂, the estimate of the
# propagated second-order solution's local error, O(h³): the paper's "3rd vs 2nd order" estimate.
_fehlberg2_b_sol = np.array([214 / 891, 1 / 33, 650 / 891, 0.0])
_fehlberg2_b_hat = np.array([533 / 2106, 0.0, 800 / 1053, -1 / 78])
_fehlberg2_tableau = dfx.ButcherTableau(
    a_lower=(
        np.array([1 / 4]),
        np.array([-189 / 800, 729 / 800]),
        np.array([214 / 891, 1 / 33, 650 / 891]),
    ),
    b_sol=_fehlberg2_b_sol,
    b_error=_fehlberg2_b_sol - _fehlberg2_b_hat,
    c=np.array([1 / 4, 27 / 40, 1.0]),
)


class Fehlberg2(dfx.AbstractERK):
    """Fehlberg's RK2(3) pair: a second-order solution with an embedded third-order estimate.

    4 stages (3 per step after the first, by FSAL), order 2. Uses third-order Hermite
    interpolation for dense output.
    """

    tableau: ClassVar[dfx.ButcherTableau] = _fehlberg2_tableau
    interpolation_cls: ClassVar[Callable[..., dfx.ThirdOrderHermitePolynomialInterpolation]] = (
        dfx.ThirdOrderHermitePolynomialInterpolation.from_k
    )

    def order(self, terms):
        """Order of the method: 2."""
        del terms
        return 2

    def error_order(self, terms):
        """Local order of the error estimate: 3 (the error of the propagated second-order step)."""
        del terms
        return 3


# Name -> explicit Runge--Kutta solver class. Euler is diffrax's (it has no tableau: diffrax's
# `ButcherTableau` needs at least two stages); every other entry is a tableau on `AbstractERK`.
SOLVERS: dict[str, type[dfx.AbstractSolver]] = {
    "euler": dfx.Euler,
    "heun": dfx.Heun,
    "midpoint": dfx.Midpoint,
    "ralston": dfx.Ralston,
    "fehlberg2": Fehlberg2,
    "bosh3": dfx.Bosh3,
    "rk4": RK4,
    "tsit5": dfx.Tsit5,
    "dopri5": dfx.Dopri5,
}


def get_solver(solver: str | dfx.AbstractSolver) -> dfx.AbstractSolver:
    """Returns a solver instance from its name in `SOLVERS`, or `solver` itself.

    Args:
        solver: a name in `SOLVERS` (e.g. `"rk4"`), or a diffrax solver instance; `ode_step`
            accepts `diffrax.Euler()` and any `diffrax.AbstractERK`.

    Returns:
        A diffrax solver instance.

    Raises:
        ValueError: if `solver` is a string that is not a key of `SOLVERS`.

    Examples:
        >>> get_solver("rk4").order(None)
        4
    """
    if isinstance(solver, str):
        if solver not in SOLVERS:
            raise ValueError(f"`solver` must be one of {list(SOLVERS)}, got {solver!r}.")
        return SOLVERS[solver]()
    return solver


class _Tableau(NamedTuple):
    """Static Butcher coefficients as Python floats (zeros are skipped when combining stages)."""

    a_lower: tuple[tuple[float, ...], ...]
    b_sol: tuple[float, ...]
    c: tuple[float, ...]  # stage times of stages 1, 2, …, as fractions of the step
    b_error: tuple[float, ...] | None
    error_order: float | None


def _tableau(solver: dfx.AbstractSolver) -> _Tableau:
    if isinstance(solver, dfx.Euler):
        return _Tableau(a_lower=(), b_sol=(1.0,), c=(), b_error=None, error_order=None)
    tableau = getattr(solver, "tableau", None)
    if not isinstance(solver, dfx.AbstractERK) or not isinstance(tableau, dfx.ButcherTableau):
        raise ValueError(
            "`solver` must be a name in odegan.SOLVERS, diffrax.Euler() or a diffrax.AbstractERK "
            f"with a single ButcherTableau, got {solver!r}."
        )
    return _Tableau(
        a_lower=tuple(tuple(float(a) for a in row) for row in tableau.a_lower),
        b_sol=tuple(float(b) for b in tableau.b_sol),
        c=tuple(float(c) for c in tableau.c),
        b_error=tuple(float(e) for e in tableau.b_error),
        error_order=float(solver.error_order(dfx.ODETerm(lambda t, y, args: y))),
    )


def _combine(coeffs: tuple[float, ...], fs: list[PyTree]) -> PyTree | None:
    r"""Returns :math:`\sum_j c_j f_j` over the nonzero coefficients (None if all are zero)."""
    terms = [(c, f) for c, f in zip(coeffs, fs, strict=False) if c != 0.0]
    if not terms:
        return None

    def leaf(*xs):
        total = terms[0][0] * xs[0]
        for (c, _), x in zip(terms[1:], xs[1:], strict=True):
            total = total + c * x
        return total

    return jtu.tree_map(leaf, *(f for _, f in terms))


def _cast(x: Array, like: Array) -> Array:
    # The step size may be float64 under x64 while the params are float32: keep the params' dtype.
    return x.astype(like.dtype)


def _scale(dt: Array, tree: PyTree) -> PyTree:
    return jtu.tree_map(lambda x: _cast(dt * x, x), tree)


def _add(x: PyTree, y: PyTree) -> PyTree:
    return jtu.tree_map(jnp.add, x, y)


def _rk_increment(
    tableau: _Tableau,
    field: Callable[[PyTree, int, Any], tuple[PyTree, Any]],
    y0: PyTree,
    dt: Array,
    f0: PyTree,
    carry: Any = None,
) -> tuple[PyTree, PyTree | None, Any]:
    r"""One explicit Runge--Kutta step: :math:`(h\sum_i b_i f_i,\; h\sum_i e_i f_i)`.

    Stage :math:`i \ge 1` evaluates :math:`f_i = f(y_0 + h\sum_{j<i} a_{ij} f_j, i)`; the first
    stage :math:`f_0 = f(y_0, 0)` is given, as the caller shares it between passes. `field` also
    threads a `carry` through the stages in order (Adam's state when it advances at every stage).
    The stages are unrolled in Python: diffrax's `AbstractRungeKutta.step` runs them in a while
    loop whose counter never reaches the vector field, and ODE-GAN needs the stage index (a fresh
    minibatch per stage, the regulariser in the first stage). The coefficients are the solver's
    own tableau; a test checks the step against diffrax's `step` for every solver in `SOLVERS`.
    """
    fs = [f0]
    for i in range(1, len(tableau.b_sol)):
        partial = _combine(tableau.a_lower[i - 1], fs)
        yi = y0 if partial is None else _add(y0, _scale(dt, partial))
        fi, carry = field(yi, i, carry)
        fs.append(fi)
    increment = _scale(dt, _combine(tableau.b_sol, fs))
    if tableau.b_error is None:
        return increment, None, carry
    error = _combine(tableau.b_error, fs)
    error = jtu.tree_map(jnp.zeros_like, y0) if error is None else _scale(dt, error)
    return increment, error, carry


def solve_on_grid(
    terms: dfx.AbstractTerm,
    solver: str | dfx.AbstractSolver,
    y0: PyTree,
    grid: Array,
    args: Any = None,
    *,
    checkpoint_policy: Callable | None = None,
) -> PyTree:
    r"""Fixed explicit Runge--Kutta steps from ``grid[k]`` to ``grid[k + 1]``, as one `lax.scan`.

    Each step :math:`t_0 \to t_1` takes the control :math:`\Delta X` = ``terms.contr(t0, t1)``
    (:math:`h` for an ODE, the path's increment for a CDE or an SDE's Brownian part) and the
    solver's tableau :math:`(a, b, c)`:

    .. math:: k_i = \mathrm{vf\_prod}\big(t_0 + c_i h,\ y_0 + \textstyle\sum_{j<i} a_{ij} k_j,\
        \Delta X\big), \qquad y_1 = y_0 + \textstyle\sum_i b_i k_i,

    the step of diffrax's explicit solvers, so the result equals ``diffeqsolve(terms, solver,
    grid[0], grid[-1], None, y0, args, stepsize_controller=StepTo(grid), saveat=SaveAt(t0=True,
    steps=True))`` to rounding. What it leaves out is the per-step bookkeeping that a fixed grid
    does not need (step-size controller, error estimate, dense output, the adjoint's nested
    checkpoints); reverse mode stores each step's stages, so its gradients are those of the
    discretisation, as with `diffrax.DirectAdjoint`, at 1.6–4.4× its speed (video's motion
    generators: benchmarks/motion_speed.py).

    Args:
        terms: a diffrax term: `diffrax.ODETerm`, `diffrax.ControlTerm`, `diffrax.MultiTerm`.
        solver: a name in `SOLVERS` or a solver that `ode_step` accepts (`diffrax.Euler()` or an
            `diffrax.AbstractERK` with a single `diffrax.ButcherTableau`).
        y0: initial state, any pytree of arrays.
        grid: step times, shape `[s + 1]`, increasing.
        args: passed to the terms' vector fields.
        checkpoint_policy: None to keep every intermediate of a step for the backward pass, or
            a `jax.checkpoint_policies` policy: the step is rematerialised, keeping only what it
            saves (e.g. ``dots_saveable``: the matrix products, recomputing the element-wise
            rest, which can be faster than storing it). The values and gradients are the same.

    Returns:
        The state at every grid time: `y0`'s structure, each leaf with a leading axis `[s + 1]`.

    Examples:
        >>> import diffrax as dfx, jax.numpy as jnp
        >>> decay = dfx.ODETerm(lambda t, y, args: -y)
        >>> ys = solve_on_grid(decay, "rk4", jnp.ones(()), jnp.linspace(0.0, 1.0, 11))
        >>> ys.shape, bool(jnp.abs(ys[-1] - jnp.exp(-1.0)) < 1e-6)
        ((11,), True)
    """
    tableau = _tableau(get_solver(solver))
    grid = jnp.asarray(grid)

    def step(y, interval):
        t0, t1 = interval[0], interval[1]
        control = terms.contr(t0, t1)

        def stage(yi, i, carry):
            return terms.vf_prod(t0 + tableau.c[i - 1] * (t1 - t0), yi, args, control), carry

        # The stages already carry the control (h or ΔX), so the step "size" here is 1.
        increment, _, _ = _rk_increment(
            tableau, stage, y, 1.0, terms.vf_prod(t0, y, args, control)
        )
        y = _add(y, increment)
        return y, y

    if checkpoint_policy is not None:
        step = jax.checkpoint(step, policy=checkpoint_policy)
    _, ys = jax.lax.scan(step, y0, jnp.stack([grid[:-1], grid[1:]], axis=1))
    return jtu.tree_map(lambda first, rest: jnp.concatenate([first[None], rest]), y0, ys)


def solve_adaptive(
    terms: dfx.AbstractTerm,
    solver: str | dfx.AbstractSolver,
    y0: PyTree,
    ts: Array,
    args: Any = None,
    *,
    controller: dfx.AbstractAdaptiveStepSizeController,
    dt0: float | Array | None = None,
    max_steps: int = 4096,
    checkpoints: int | None = None,
) -> PyTree:
    r"""Adaptive explicit Runge--Kutta steps from ``ts[0]`` to ``ts[-1]``; the states at `ts`.

    Each attempted step :math:`t \to t + h` takes the solver's stages (as `solve_on_grid`, with
    the first-same-as-last stage reused), its embedded error estimate and diffrax's own
    ``controller.adapt_step_size`` to accept or reject it and choose the next :math:`h`; the
    outputs in :math:`(t, t + h]` of an accepted step come from the solver's dense output
    (``solver.interpolation_cls``). Given the same `dt0`, the result is ``diffeqsolve(terms,
    solver, ts[0], ts[-1], dt0, y0, args, saveat=SaveAt(ts=ts), stepsize_controller=controller,
    max_steps=max_steps).ys`` to rounding, and so are its gradients (diffrax's
    `RecursiveCheckpointAdjoint`: the same checkpointed while loop, `equinox.internal.while_loop`,
    which is how one differentiates a loop of unknown length in reverse mode; like diffrax's
    controller, the step sizes are not differentiated through). What it leaves out is
    `diffeqsolve`'s general-purpose state (events, progress meters, solver state objects, the
    per-step save loop), the cost of each step beyond its stages: 1.5× faster forward + backward
    for video's ODE generator with dopri5 (benchmarks/motion_speed.py). Reverse mode only: the
    checkpointed loop has no forward-mode rule (`jax.jvp` raises), as with diffrax's.

    With ``dt0=None`` the first step is Hairer's estimate (``controller.init``'s, also that of
    torchdiffeq) for an ODE term and 0.01 otherwise. (`diffeqsolve` wraps the terms before asking
    its controller, so its ``dt0=None`` always starts at 0.01.) Outputs at times that were not
    reached, because `max_steps` ran out or the controller gave up (e.g. at its ``dtmin``), are
    NaN: NaN reaches any loss, and a host callback that raises (`equinox.error_if`) cost 0.45 ms
    per call in video's ODE generator, a sixth of its forward + backward.

    Args:
        terms: a diffrax term (`diffrax.ODETerm`, `diffrax.ControlTerm`, ...).
        solver: a name in `SOLVERS` or an `diffrax.AbstractERK` with a single
            `diffrax.ButcherTableau` and an error estimate (every entry of `SOLVERS` but Euler).
        y0: initial state at ``ts[0]``, any pytree of arrays.
        ts: output times, shape `[t]`, increasing; the solve runs from ``ts[0]`` to ``ts[-1]``.
        args: passed to the terms' vector fields.
        controller: an adaptive step-size controller, e.g. ``diffrax.PIDController(rtol=1e-3,
            atol=1e-6)``.
        dt0: first step size, or None for the controller's choice (above).
        max_steps: most steps attempted (accepted or rejected).
        checkpoints: states kept for the backward pass (None: diffrax's default for
            `max_steps`, 90 for 4 096); fewer trade memory for recomputation.

    Returns:
        The state at every time of `ts`: `y0`'s structure, each leaf with a leading axis `[t]`.

    Raises:
        ValueError: if `controller` is not adaptive or `solver` has no error estimate.

    Examples:
        >>> import diffrax as dfx, jax.numpy as jnp
        >>> decay = dfx.ODETerm(lambda t, y, args: -y)
        >>> pid = dfx.PIDController(rtol=1e-6, atol=1e-9)
        >>> ys = solve_adaptive(decay, "dopri5", jnp.ones(()), jnp.linspace(0.0, 1.0, 5),
        ...                     controller=pid)
        >>> ys.shape, bool(jnp.max(jnp.abs(ys - jnp.exp(-jnp.linspace(0.0, 1.0, 5)))) < 1e-6)
        ((5,), True)
    """
    if not isinstance(controller, dfx.AbstractAdaptiveStepSizeController):
        raise ValueError(
            "`controller` must be an adaptive diffrax step-size controller (e.g. "
            f"diffrax.PIDController); for fixed steps use solve_on_grid. Got {controller!r}."
        )
    solver = get_solver(solver)
    tableau = _tableau(solver)
    if tableau.b_error is None:
        raise ValueError(
            f"`solver` must have an error estimate for adaptive steps, got {solver!r}."
        )
    ts = jnp.asarray(ts)
    t0, t1, n_out = ts[0], ts[-1], ts.shape[0]
    fsal = solver.tableau.fsal and not terms.is_vf_expensive(t0, t1, y0, args)
    tnext, controller_state = controller.init(
        terms, t0, t1, y0, dt0, args, solver.func, tableau.error_order
    )
    # Within 100 ulp of t1, a step is stretched to end at t1 (after an accepted step) or the
    # rest is halved, so that no needlessly tiny last step spoils the dense output (diffrax's
    # rule, kept for equal numbers).
    t1_floor = t1
    for _ in range(100):
        t1_floor = jnp.nextafter(t1_floor, -jnp.inf)
    # Row n_out takes the writes of outputs outside an accepted step: one scatter per step.
    outputs = jtu.tree_map(
        lambda y: jnp.full((n_out + 1, *y.shape), jnp.nan, y.dtype).at[0].set(y), y0
    )
    where = lambda pred, a, b: jtu.tree_map(lambda a, b: jnp.where(pred, a, b), a, b)

    def step(state):
        t, t_next, y, f0, controller_state, _, saved, outputs = state
        control = terms.contr(t, t_next)

        def stage(yi, i, carry):
            fi = terms.vf(t + tableau.c[i - 1] * (t_next - t), yi, args)
            ki = terms.prod(fi, control)
            return ki, (carry[0] + [ki], fi)

        k0 = terms.prod(f0, control)
        # The stages already carry the control (h for an ODE), so the step "size" here is 1.
        increment, error, (ks, f_last) = _rk_increment(tableau, stage, y, 1.0, k0, ([k0], f0))
        y1 = _add(y, increment)
        error = jtu.tree_map(lambda e: jnp.where(jnp.isnan(e), jnp.inf, e), error)
        keep, t_new, t_next_new, made_jump, controller_state, result = (
            controller.adapt_step_size(
                t, t_next, y, y1, args, error, tableau.error_order, controller_state
            )
        )
        t_new = jnp.minimum(t_new, t1)
        stretched = jnp.where(keep, t1, t_new + 0.5 * (t1 - t_new))
        t_next_new = jnp.where(t_next_new > t1_floor, stretched, t_next_new)
        dense = solver.interpolation_cls(
            t0=t, t1=t_next, y0=y, y1=y1, k=jtu.tree_map(lambda *k: jnp.stack(k), *ks)
        )
        # The outputs not yet written up to t_next: an output at a jump time, which steps of a
        # controller with jump_ts end just before and start just after, goes to the later step.
        todo = keep & (jnp.arange(n_out) >= saved) & (ts <= t_next)
        rows = jnp.where(todo, jnp.arange(n_out), n_out)
        saved = saved + jnp.sum(todo)
        outputs = jtu.tree_map(
            lambda value, out: out.at[rows].set(value), jax.vmap(dense.evaluate)(ts), outputs
        )
        f1 = f_last if fsal else terms.vf(t_next, y1, args)
        y, f0 = where(keep, y1, y), where(keep, f1, f0)
        if made_jump is not False:  # a controller with jump_ts: the field jumps at t_new
            f0 = jax.lax.cond(made_jump, lambda: terms.vf(t_new, y, args), lambda: f0)
        ok = result == dfx.RESULTS.successful
        return t_new, t_next_new, y, f0, controller_state, ok, saved, outputs

    f0 = terms.vf(t0, y0, args)
    state = (t0, jnp.minimum(tnext, t1), y0, f0, controller_state, jnp.array(True), 1, outputs)
    state = eqxi.while_loop(
        lambda state: (state[0] < t1) & state[5], step, state, max_steps=max_steps,
        buffers=lambda state: state[-1], kind="checkpointed", checkpoints=checkpoints,
    )
    return jtu.tree_map(lambda out: out[:n_out], state[-1])

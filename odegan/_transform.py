r"""ODE-GAN's training step as an optax transformation (paper 001, Algorithm 1).

`ode_step` returns an `optax.GradientTransformationExtraArgs` whose update takes one step of an
explicit Runge--Kutta method on the game's velocity field and returns the parameter increment.
The velocity function is an update-time extra argument (as `value_fn` for optax's line search, or
`grad_fn` for `optax.contrib.sam`), so the transformation composes with `optax.chain`, clipping
and schedules, and runs under `jax.jit` and `lax.scan`.
"""

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import diffrax as dfx
import jax.numpy as jnp
import jax.tree_util as jtu
import optax
from jax import Array
from jaxtyping import PyTree

from ._game import Players
from ._solvers import _add, _cast, _rk_increment, _tableau, get_solver

# `vector_field(params, stage_index) -> velocity` with the structure of `params`.
VectorField = Callable[[PyTree, int], PyTree]
# `regulariser_grad(params, stage_index) -> ∇_θ ‖∂ℓ_G/∂φ‖²` with the structure of `params.d`.
RegulariserGrad = Callable[[Players, int], PyTree]

_PLACEMENTS = ("after_step", "first_stage", "every_stage")
_CONVENTIONS = {"squared_norm": 1.0, "half_squared_norm": 0.5}
_INTEGRATIONS = ("joint", "frozen_opponent", "alternating")


class ODEStepState(NamedTuple):
    r"""State of `ode_step`.

    Attributes:
        count: int32 `[]`, number of steps taken (accepted or rejected).
        error: float `[]` (dtype of the params), Euclidean norm of the last step's embedded error
            estimate :math:`\|h\sum_i e_i k_i\|_2` (NaN for Euler, which has none).
        time: float `[]`, the integration time :math:`\sum h` of the accepted steps.
        dt: float `[]`, the step size the next step will use (fixed unless a controller adapts it).
        controller_state: the PID controller's state (`None` without a controller).
        adam_state: `optax.ScaleByAdamState` of the `adam` option (`None` without it).
    """

    count: Array  # int32 []
    error: Array  # float []
    time: Array  # float []
    dt: Array  # float []
    controller_state: Any
    adam_state: optax.ScaleByAdamState | None


def _neg(x: PyTree) -> PyTree:
    return jtu.tree_map(jnp.negative, x)


def _mul(x: PyTree, scale: PyTree | None) -> PyTree:
    """Elementwise `x * scale`; `scale=None` means no preconditioner."""
    return x if scale is None else jtu.tree_map(lambda a, b: _cast(a * b, a), x, scale)


def ode_step(
    solver: str | dfx.AbstractSolver,
    dt: float | optax.Schedule,
    *,
    regulariser: float = 0.0,
    regulariser_placement: Literal["after_step", "first_stage", "every_stage"] = "after_step",
    regulariser_convention: Literal["squared_norm", "half_squared_norm"] = "squared_norm",
    integration: Literal["joint", "frozen_opponent", "alternating"] = "joint",
    controller: dfx.PIDController | None = None,
    adam: Literal["frozen", "every_stage"] | None = None,
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps: float = 1e-8,
) -> optax.GradientTransformationExtraArgs:
    r"""One step of an explicit Runge--Kutta method on the game's velocity field (Algorithm 1).

    With velocity :math:`v = -[\partial_\theta\ell_D, \partial_\phi\ell_G]`, step size :math:`h`
    and Butcher tableau :math:`(a, b, e)` the joint step is

    .. math::
        f_i = v\Big(z_0 + h\sum_{j<i} a_{ij} f_j\Big),\qquad
        \Delta z = h\sum_i b_i f_i,\qquad \mathrm{err} = h\sum_i e_i f_i,

    and Algorithm 1's regulariser :math:`R(\theta) = \lambda\|\partial_\phi\ell_G\|^2`
    (https://arxiv.org/abs/2010.15040, eq. 11) then moves the discriminator by
    :math:`\Delta\theta \mathrel{-}= h\lambda g_\theta`, :math:`g_\theta = \nabla_\theta
    \|\partial_\phi\ell_G\|^2` evaluated at the step's start. Euler with :math:`\lambda = 0` is
    simultaneous gradient descent with learning rate :math:`h`, i.e. `optax.sgd(h)`.

    The update returns :math:`\Delta z` (add it with `optax.apply_updates`); the incoming `updates`
    are ignored except as a template, since the step needs the field at the stage points and not
    only the gradient at :math:`z_0`. Its extra arguments are:

    - `vector_field(params, stage_index) -> velocity`, a pytree with the structure of `params`
      (e.g. built with `odegan.joint_vector_field`). `stage_index` is a Python int, `0` for the
      step's start: fold it into a PRNG key to draw a fresh minibatch per stage, or ignore it to use
      the same minibatch in every stage.
    - `regulariser_grad(params, stage_index) -> g_θ`, a pytree with the structure of `params.d`
      (e.g. `odegan.regulariser_grad`); required when `regulariser > 0`.

    Args:
        solver: a name in `odegan.SOLVERS` (`"euler"`, `"heun"`, `"rk4"`, ...), `diffrax.Euler()`
            or any `diffrax.AbstractERK` instance.
        dt: step size :math:`h > 0`, or an optax schedule `count -> h`.
        regulariser: :math:`\lambda \ge 0` (default 0: no regulariser, no extra cost).
        regulariser_placement: where :math:`-\lambda g_\theta` enters. `"after_step"` (default,
            Algorithm 1): once, from the step's start, after the step. `"first_stage"` (the paper's
            TF code): added to the discriminator velocity of the first stage only, with weight
            :math:`\lambda / b_1` so that it moves :math:`\theta` by :math:`h\lambda g_\theta` to
            first order. `"every_stage"`: the solver integrates the regularised field
            :math:`v - \lambda[g_\theta, 0]`, re-evaluating :math:`g_\theta` at every stage.
        regulariser_convention: `"squared_norm"` (default, the paper):
            :math:`R = \lambda\|g\|^2`; `"half_squared_norm"` (DeepMind's drift code,
            :math:`\lambda\langle g, \mathrm{sg}(g)\rangle`): :math:`R = \tfrac12\lambda\|g\|^2`.
        integration: `"joint"` (default, the paper): one Runge--Kutta step of the joint field.
            `"frozen_opponent"` (the MoG notebook): each player takes its own Runge--Kutta step
            with the opponent frozen at its step-start value through all stages (a decoupled
            scheme that diverges like Euler on strongly rotational games); it costs two field
            evaluations per stage. `"alternating"` (seed 000's code): the discriminator steps with
            the generator frozen, then the generator steps against the updated discriminator.
            The last two need `Players` params.
        controller: optional `diffrax.PIDController` adapting the step size from the embedded error
            estimate; `dt` is then the initial step size. A rejected step returns zero updates and a
            smaller step size in the state.
        adam: RK+Adam (paper Table 1, "RK4 + Adam"): Adam's diagonal scaling (Kingma & Ba 2015,
            https://arxiv.org/abs/1412.6980) applied to the velocities the solver combines.
            `"frozen"`: Adam's moments advance once per step with the step-start gradient
            :math:`g_0 = -v(z_0)`, :math:`\nu \leftarrow \beta_2\nu + (1-\beta_2)g_0^2`, and the
            solver integrates the preconditioned field :math:`P v` with
            :math:`P = 1/(\sqrt{\hat\nu} + \epsilon)`, :math:`\hat\nu = \nu/(1-\beta_2^t)`, frozen
            through the stages (a positive diagonal metric per player: the fixed points are
            unchanged; momentum is not a property of a field and is not used). `"every_stage"`
            (the paper's TF code): each stage's velocity is replaced by minus Adam's direction
            :math:`\hat m/(\sqrt{\hat\nu}+\epsilon)` for that stage's gradient, Adam's state
            advancing at every stage (joint integration only). In both the regulariser is
            preconditioned too. Euler with `"every_stage"` is `optax.adam(h)`, and with
            `"frozen"` it is `optax.adam(h, b1=0)`.
        adam_b1: Adam's :math:`\beta_1` (`"every_stage"` only).
        adam_b2: Adam's :math:`\beta_2`.
        adam_eps: Adam's :math:`\epsilon`.

    Returns:
        An `optax.GradientTransformationExtraArgs` with state `ODEStepState`.

    Raises:
        ValueError: for an unknown `solver`, `regulariser_placement`, `regulariser_convention` or
            `integration`; for `dt <= 0` or `regulariser < 0`; for `"first_stage"` with a solver
            whose first weight :math:`b_1` is zero; for a `controller` with a solver that has no
            error estimate or with a schedule `dt`; for an unknown `adam`, or `"every_stage"`
            with per-player integration.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> from odegan import Players, ode_step, rotational_game, toy_game_field
        >>> field = toy_game_field(rotational_game)
        >>> params = Players(d=jnp.array(1.0), g=jnp.array(1.0))
        >>> opt = ode_step("rk4", 0.2)
        >>> state = opt.init(params)
        >>> updates, state = opt.update(params, state, params,
        ...                             vector_field=lambda p, stage: field(p))
        >>> params = optax.apply_updates(params, updates)
        >>> print(f"{params.d:.4f} {params.g:.4f}")
        1.1572 0.7835
    """
    solver = get_solver(solver)
    tableau = _tableau(solver)
    if not callable(dt) and not dt > 0:
        raise ValueError(f"`dt` must be positive, got {dt!r}.")
    if regulariser_placement not in _PLACEMENTS:
        raise ValueError(
            f"`regulariser_placement` must be one of {_PLACEMENTS}, got {regulariser_placement!r}."
        )
    if regulariser_convention not in _CONVENTIONS:
        raise ValueError(
            f"`regulariser_convention` must be one of {tuple(_CONVENTIONS)}, "
            f"got {regulariser_convention!r}."
        )
    if integration not in _INTEGRATIONS:
        raise ValueError(f"`integration` must be one of {_INTEGRATIONS}, got {integration!r}.")
    if not regulariser >= 0:
        raise ValueError(f"`regulariser` must be non-negative, got {regulariser!r}.")
    if regulariser > 0 and regulariser_placement == "first_stage" and tableau.b_sol[0] == 0.0:
        raise ValueError(
            "`regulariser_placement='first_stage'` needs a solver whose first stage has a nonzero "
            f"weight b_1, but {type(solver).__name__} has b_1 = 0."
        )
    if controller is not None:
        if tableau.b_error is None:
            raise ValueError(
                f"`controller` needs a solver with an embedded error estimate; "
                f"{type(solver).__name__} has none."
            )
        if callable(dt):
            raise ValueError("`controller` adapts the step size itself: give a float `dt`.")
    if adam not in (None, "frozen", "every_stage"):
        raise ValueError(f"`adam` must be None, 'frozen' or 'every_stage', got {adam!r}.")
    if adam == "every_stage" and integration != "joint":
        raise ValueError(
            "`adam='every_stage'` advances one Adam state through the joint stages: it needs "
            f"`integration='joint'`, got {integration!r}."
        )
    adam_tx = optax.scale_by_adam(b1=adam_b1, b2=adam_b2, eps=adam_eps)

    def adam_scale(adam_state: optax.ScaleByAdamState) -> PyTree:
        """Adam's preconditioner 1/(√ν̂ + ε) with ν̂ = ν/(1 − β₂ᵗ), as in `optax.scale_by_adam`."""

        def leaf(nu: Array) -> Array:
            correction = 1 - jnp.asarray(adam_b2, nu.dtype) ** adam_state.count
            return 1 / (jnp.sqrt(nu / correction) + adam_eps)

        return jtu.tree_map(leaf, adam_state.nu)

    # Weight of g_θ = ∇_θ‖∂ℓ_G/∂φ‖² in ∇_θ R.
    weight = _CONVENTIONS[regulariser_convention] * regulariser

    def init_fn(params: PyTree) -> ODEStepState:
        leaves = jtu.tree_leaves(params)
        dtype = jnp.result_type(*leaves) if leaves else jnp.float32
        controller_state = None
        if controller is not None:
            # With `dt0` given, diffrax's PID init only sets up its error history.
            _, controller_state = controller.init(
                terms=None,
                t0=0.0,
                t1=dt,
                y0=params,
                dt0=dt,
                args=None,
                func=None,
                error_order=tableau.error_order,
            )
        start_dt = dt(0) if callable(dt) else dt
        return ODEStepState(
            count=jnp.zeros((), jnp.int32),
            error=jnp.full((), jnp.nan, dtype),
            time=jnp.zeros((), dtype),
            dt=jnp.asarray(start_dt, dtype),
            controller_state=controller_state,
            adam_state=None if adam is None else adam_tx.init(params),
        )

    def update_fn(
        updates: PyTree,
        state: ODEStepState,
        params: PyTree | None = None,
        *,
        vector_field: VectorField,
        regulariser_grad: RegulariserGrad | None = None,
        **extra_args: Any,
    ) -> tuple[PyTree, ODEStepState]:
        # Other transformations' extra arguments reach us through optax.chain.
        del updates, extra_args
        if params is None:
            raise ValueError("`ode_step` needs `params` to evaluate the vector field.")
        if weight > 0 and regulariser_grad is None:
            raise ValueError("`regulariser > 0` needs the extra argument `regulariser_grad`.")
        if (weight > 0 or integration != "joint") and not isinstance(params, Players):
            raise ValueError(
                "`params` must be a `Players` pytree for the regulariser and per-player "
                f"integration, got {type(params).__name__}."
            )
        h = jnp.asarray(dt(state.count) if callable(dt) else state.dt, state.dt.dtype)
        in_field = weight > 0 and regulariser_placement != "after_step"
        first_only = regulariser_placement == "first_stage"
        stage_weight = weight / tableau.b_sol[0] if first_only else weight

        def velocity(p: PyTree, i: int) -> PyTree:
            """The user's field, plus the regulariser where it sits inside the field."""
            v = vector_field(p, i)
            if in_field and (i == 0 or not first_only):
                g_theta = regulariser_grad(p, i)
                v = v._replace(d=jtu.tree_map(lambda x, g: x - stage_weight * g, v.d, g_theta))
            return v

        # The first stage sits at the step's start for every scheme: evaluate it once.
        v0 = velocity(params, 0)
        adam_state = state.adam_state
        if adam == "every_stage":
            # Each stage's velocity becomes minus Adam's direction for the stage's gradient −v.
            def adam_stage(v: PyTree, carry: Any) -> tuple[PyTree, Any]:
                direction, carry = adam_tx.update(_neg(v), carry)
                return _neg(direction), carry

            f0, adam_state = adam_stage(v0, adam_state)
            field = lambda p, i, carry: adam_stage(velocity(p, i), carry)
            increment, error, adam_state = _rk_increment(tableau, field, params, h, f0, adam_state)
            scale = adam_scale(adam_state)
        else:
            if adam == "frozen":
                # Advance Adam's moments once, with the step-start gradient, then freeze them.
                _, adam_state = adam_tx.update(_neg(v0), adam_state)
                scale = adam_scale(adam_state)
            else:
                scale = None
            f0 = _mul(v0, scale)
            if integration == "joint":
                field = lambda p, i, carry: (_mul(velocity(p, i), scale), carry)
                increment, error, _ = _rk_increment(tableau, field, params, h, f0)
            else:
                theta0, phi0 = params
                scale_d, scale_g = (None, None) if scale is None else scale
                field_d = lambda th, i, c: (_mul(velocity(Players(th, phi0), i).d, scale_d), c)
                inc_d, err_d, _ = _rk_increment(tableau, field_d, theta0, h, f0.d)
                # Alternating: the generator moves against the discriminator's new parameters.
                alternating = integration == "alternating"
                theta_g = _add(theta0, inc_d) if alternating else theta0
                field_g = lambda ph, i, c: (
                    _mul(vector_field(Players(theta_g, ph), i).g, scale_g),
                    c,
                )
                f0_g = field_g(phi0, 0, None)[0] if alternating else f0.g
                inc_g, err_g, _ = _rk_increment(tableau, field_g, phi0, h, f0_g)
                increment = Players(d=inc_d, g=inc_g)
                error = None if err_d is None else Players(d=err_d, g=err_g)
        if weight > 0 and regulariser_placement == "after_step":
            # With Adam the regulariser is preconditioned like the field it corrects.
            g_theta = _mul(regulariser_grad(params, 0), None if scale is None else scale.d)
            increment = increment._replace(
                d=jtu.tree_map(lambda x, g: x - _cast(h * weight * g, x), increment.d, g_theta)
            )

        if error is None:
            error_norm = jnp.full_like(state.error, jnp.nan)
        else:
            error_norm = optax.tree.norm(error).astype(state.error.dtype)
        count = optax.safe_int32_increment(state.count)
        if controller is None:
            new_time, controller_state = state.time + h, state.controller_state
            new_dt = jnp.asarray(dt(count), state.dt.dtype) if callable(dt) else state.dt
        else:
            keep, next_t0, next_t1, _, controller_state, _ = controller.adapt_step_size(
                state.time,
                state.time + h,
                params,
                _add(params, increment),
                None,
                error,
                tableau.error_order,
                state.controller_state,
            )
            increment = jtu.tree_map(lambda x: jnp.where(keep, x, jnp.zeros_like(x)), increment)
            # A rejected step leaves no trace, in Adam's moments either.
            adam_state = jtu.tree_map(
                lambda new, old: jnp.where(keep, new, old), adam_state, state.adam_state
            )
            new_time = jnp.asarray(next_t0, state.time.dtype)
            new_dt = jnp.asarray(next_t1 - next_t0, state.dt.dtype)
        new_state = ODEStepState(
            count=count,
            error=error_norm,
            time=new_time,
            dt=new_dt,
            controller_state=controller_state,
            adam_state=adam_state,
        )
        return increment, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)

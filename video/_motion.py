r"""Motion generators: latent trajectories ``[t, d]`` from an initial noise and frame times.

Every generator is a frozen dataclass (a leafless pytree, so it passes through `jax.jit` as is)
with two pure functions,

* ``init(key) -> params``, a plain pytree of Flax variables, and
* ``apply(params, z0, ts, *, key=None) -> xs``: one sample, ``z0`` of shape ``[d_noise]``,
  frame times ``ts`` of shape ``[t]`` (strictly increasing), ``xs`` of shape ``[t, d_state]``;

batch them with `apply_batch` (a `jax.vmap` of the whole solve, never of the field inside it;
the one exception is `ODEMotion`, whose row-wise field lets it solve the batch as one state).
The initial state is :math:`x_0 = z_0`, or :math:`x_0 = \mathrm{MLP}(z_0)` with ``init_net=True``
(seed 000, thesis §3.4.1). Continuous-time generators take, by default, fixed steps on the
frame grid refined ``steps_per_frame`` times, as one `lax.scan` of the solver's Runge--Kutta
steps (`odegan.solve_on_grid`: `diffrax.diffeqsolve`'s numbers without its step bookkeeping,
1.6–4.4× faster forward + backward); with an adaptive step size controller, adaptive steps
with dense output at the frames (`odegan.solve_adaptive`, diffrax's numbers again, 1.5× faster);
with an explicit ``adjoint`` (e.g. `diffrax.BacksolveAdjoint`,
`diffrax.RecursiveCheckpointAdjoint`), `diffrax.diffeqsolve`. The solver is a name from
`odegan.SOLVERS` (e.g. classical ``"rk4"``) or a diffrax solver. Parameters always reach the
vector field through ``args``.
"""

import abc
import functools
from collections.abc import Callable
from typing import ClassVar

import diffrax as dfx
import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from flax import struct
from jax.typing import ArrayLike

from odegan import get_solver, solve_adaptive, solve_on_grid

from ._fields import (
    MLP,
    CDEField,
    ControlledField,
    ModuleField,
    flatten_mlp,
    mlp_num_params,
)

_static = functools.partial(struct.field, pytree_node=False)


def _refine(ts: jax.Array, n: int) -> jax.Array:
    """The grid `ts` with `n` equal sub-steps per interval: shape `[(t - 1) n + 1]`."""
    if n == 1:
        return ts
    frac = jnp.arange(n, dtype=ts.dtype)[None, :] / n
    inner = ts[:-1, None] + (ts[1:] - ts[:-1])[:, None] * frac
    return jnp.concatenate([inner.reshape(-1), ts[-1:]])


def _check_ts(ts: ArrayLike, dtype) -> jax.Array:
    """Frame times as an array of `dtype`; ValueError unless 1-D and strictly increasing.

    Under jit the values are unknown at trace time: `eqx.error_if` checks them at run time.
    """
    ts = jnp.asarray(ts, dtype=dtype)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"`ts` must have shape [t] with t >= 2, got shape {ts.shape}.")
    if isinstance(ts, jax.core.Tracer):  # under jit: a runtime check
        return eqx.error_if(ts, jnp.any(jnp.diff(ts) <= 0), "`ts` must be strictly increasing.")
    if np.any(np.diff(np.asarray(ts)) <= 0):
        raise ValueError(f"`ts` must be strictly increasing, got {np.asarray(ts)}.")
    return ts


@struct.dataclass(kw_only=True)
class AbstractMotion(abc.ABC):
    """A motion generator: ``(params, z0 [d_noise], ts [t]) -> xs [t, d_state]`` for one sample.

    Attributes:
        d_noise: size of the initial noise ``z0`` (and of the per-frame noise, if any).
        d_state: size of the latent state, i.e. of each motion code.
        d_hidden: hidden width of the networks.
        init_net: map the initial noise to the initial state with an `MLP` (tanh, `d_hidden`);
            without it the initial state is ``z0`` itself, so ``d_noise`` must equal ``d_state``.
    """

    d_noise: int = _static()
    d_state: int = _static()
    d_hidden: int = _static()
    init_net: bool = _static(default=False)

    stochastic: ClassVar[bool] = False  # whether `apply` needs a `key`

    def __post_init__(self):
        for name in ("d_noise", "d_state", "d_hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
        if not self.init_net and self.d_noise != self.d_state:
            raise ValueError(
                f"`d_noise` ({self.d_noise}) must equal `d_state` ({self.d_state}) unless "
                "`init_net=True` maps the noise to the initial state."
            )
        _check_fields(self)

    def init(self, key: jax.Array) -> dict:
        """Initial parameters: a dict of Flax variables (float32).

        Args:
            key: PRNG key.

        Returns:
            A dict with the dynamics' variables and, with ``init_net``, ``"init"``.
        """
        k_dyn, k_init = jr.split(key)
        params = self._init_dynamics(k_dyn)
        if self.init_net:
            params["init"] = MLP(self.d_hidden, self.d_state).init(k_init, jnp.zeros(self.d_noise))
        return params

    def apply(
        self, params: dict, z0: ArrayLike, ts: ArrayLike, *, key: jax.Array | None = None
    ) -> jax.Array:
        """Latent trajectory of one sample.

        Args:
            params: from `init`.
            z0: initial noise, shape ``[d_noise]``.
            ts: frame times, shape ``[t]``, strictly increasing (checked at trace time when
                concrete, at run time under jit).
            key: PRNG key for the per-frame noise or Brownian motion; required when the
                generator is stochastic (`stochastic` is True), ignored otherwise.

        Returns:
            Array of shape ``[t, d_state]``: the state at each frame time.

        Raises:
            ValueError: if ``z0`` or ``ts`` have the wrong shape, ``ts`` is not increasing, or
                ``key`` is missing for a stochastic generator.
        """
        z0 = jnp.asarray(z0)
        if z0.shape != (self.d_noise,):
            raise ValueError(f"`z0` must have shape ({self.d_noise},), got {z0.shape}.")
        if not jnp.issubdtype(z0.dtype, jnp.floating):
            raise ValueError(f"`z0` must be floating point, got dtype {z0.dtype}.")
        ts = _check_ts(ts, z0.dtype)
        if self.stochastic and key is None:
            raise ValueError(f"`key` is required by the stochastic {type(self).__name__}.")
        return self._trajectory(params, self._initial_state(params, z0), z0, ts, key)

    def _initial_state(self, params, z0: jax.Array) -> jax.Array:
        """`x0` from `z0` (any leading batch axes): the initial-state network or the noise."""
        return MLP(self.d_hidden, self.d_state).apply(params["init"], z0) if self.init_net else z0

    def _apply_batch(self, params, z0: jax.Array, ts: jax.Array, keys) -> jax.Array:
        """`apply` vmapped over the batch (checked inputs; `keys` None or one per sample)."""
        if keys is None:
            return jax.vmap(lambda z: self.apply(params, z, ts))(z0)
        return jax.vmap(lambda z, k: self.apply(params, z, ts, key=k))(z0, keys)

    @abc.abstractmethod
    def _init_dynamics(self, key: jax.Array) -> dict:
        """Variables of the dynamics (everything except the initial-state network)."""

    @abc.abstractmethod
    def _trajectory(self, params, x0, z0, ts, key) -> jax.Array:
        """States `[t, d_state]` at `ts` from the initial state `x0` (`z0` is the raw noise)."""


def _check_fields(motion: AbstractMotion) -> None:
    """Validates the fields of the continuous-time generators (ValueError naming them)."""
    if isinstance(motion, SDEMotion) and motion.brownian not in ("path", "tree"):
        raise ValueError(f"`brownian` must be 'path' or 'tree', got {motion.brownian!r}.")
    if isinstance(motion, NCODEMotion) and not (motion.closed_loop or motion.hypernetwork):
        raise ValueError(
            "`hypernetwork=False` with `closed_loop=False` is a plain NODE: use ODEMotion."
        )
    if not isinstance(motion, AbstractDiffEqMotion):
        return
    solver = get_solver(motion.solver)  # raises ValueError naming `solver` for an unknown name
    controller = motion.stepsize_controller
    if controller is None and motion.adjoint is None and not isinstance(
        solver, (dfx.Euler, dfx.AbstractERK)
    ):
        raise ValueError(
            "On fixed steps with the default adjoint, `solver` must be explicit (diffrax.Euler "
            f"or an AbstractERK, stepped by odegan.solve_on_grid), got {solver!r}; pass an "
            "`adjoint` (e.g. diffrax.DirectAdjoint()) to solve through diffrax.diffeqsolve."
        )
    if controller is not None and not isinstance(
        controller, dfx.AbstractAdaptiveStepSizeController
    ):
        raise ValueError(
            "`stepsize_controller` must be None (fixed steps on the frame grid) or an adaptive "
            f"diffrax controller such as PIDController, got {controller!r}."
        )
    if not isinstance(motion.steps_per_frame, int) or motion.steps_per_frame < 1:
        raise ValueError(
            f"`steps_per_frame` must be a positive int, got {motion.steps_per_frame!r}."
        )


@struct.dataclass(kw_only=True)
class AbstractDiffEqMotion(AbstractMotion):
    """A motion generator whose state solves a differential equation between frames.

    Attributes:
        solver: a name from `odegan.SOLVERS` (``"rk4"`` is classical RK4, a `ButcherTableau` on
            `diffrax.AbstractERK`) or a diffrax solver instance.
        stepsize_controller: None for fixed steps, ``steps_per_frame`` per frame interval
            (`diffrax.StepTo`; with `diffrax.BacksolveAdjoint`, equal steps of
            ``(ts[-1] - ts[0]) / ((t - 1) steps_per_frame)``); or an adaptive controller
            (`diffrax.PIDController(rtol, atol)`), which then starts from Hairer's initial-step
            estimate (with the default adjoint; diffrax's `diffeqsolve` starts at 0.01).
        steps_per_frame: number of fixed steps per frame interval (also the grid of the
            pre-sampled Brownian path of `SDEMotion`).
        adjoint: how to differentiate the solve. None (default): on fixed grids the scan of
            `odegan.solve_on_grid` (explicit solvers; exact gradients of the discretisation,
            storing each step's stages: on the ODE generator 1.6× faster than
            `diffrax.DirectAdjoint` and 2.3× than `diffrax.RecursiveCheckpointAdjoint`, up to 4.4×
            on the others: benchmarks/motion_speed.py),
            and `odegan.solve_adaptive` with an adaptive controller (diffrax's numbers and
            `RecursiveCheckpointAdjoint`'s exact gradients, memory bounded for ``max_steps``
            steps, 1.5× faster on the ODE generator with dopri5; frames not reached within
            ``max_steps`` are NaN); or any diffrax adjoint, which then solves
            with `diffrax.diffeqsolve`, e.g. `diffrax.BacksolveAdjoint()` (memory-flat,
            approximate) or `diffrax.DirectAdjoint()` (any diffrax solver on a fixed grid).
        max_steps: step budget of adaptive solves (fixed grids use exactly their step count).
        checkpoint_policy: on fixed grids with the default adjoint, what the backward pass keeps
            of each step (`odegan.solve_on_grid`): None, everything; a `jax.checkpoint_policies`
            policy, only what it saves, the rest recomputed. Same values and gradients; only
            the time differs (`ODEMotion` defaults to ``dots_saveable``, measured faster there).
    """

    solver: str | dfx.AbstractSolver = _static(default="rk4")
    stepsize_controller: dfx.AbstractStepSizeController | None = _static(default=None)
    steps_per_frame: int = _static(default=1)
    adjoint: dfx.AbstractAdjoint | None = _static(default=None)
    max_steps: int = _static(default=4096)
    checkpoint_policy: Callable | None = _static(default=None)

    def _step_grid(self, ts: jax.Array) -> jax.Array:
        return _refine(ts, self.steps_per_frame)

    def _solve(self, terms, y0, ts: jax.Array, args):
        """States at `ts` (shape `[t, ...]` per leaf) of the equation given by `terms`."""
        fixed = self.stepsize_controller is None
        if fixed and self.adjoint is None:
            # The step grid lands on every frame: keep every `steps_per_frame`-th state.
            ys = solve_on_grid(
                terms, self.solver, y0, self._step_grid(ts), args,
                checkpoint_policy=self.checkpoint_policy,
            )
            return jax.tree.map(lambda ys: ys[:: self.steps_per_frame], ys)
        if self.adjoint is None:  # an adaptive controller
            return solve_adaptive(
                terms, self.solver, y0, ts, args,
                controller=self.stepsize_controller, max_steps=self.max_steps,
            )
        dt0, saveat, every = None, dfx.SaveAt(ts=ts), 1
        if fixed:
            n_steps = (ts.shape[0] - 1) * self.steps_per_frame
            if isinstance(self.adjoint, dfx.BacksolveAdjoint):
                # The backward solve reuses the controller, and StepTo cannot run backwards over
                # its increasing grid: take equal steps instead (frames off that uniform grid are
                # then interpolated); rounding may add one last tiny step.
                controller, dt0 = dfx.ConstantStepSize(), (ts[-1] - ts[0]) / n_steps
                max_steps = n_steps + 1
            else:
                # StepTo takes exactly n_steps steps (a tight budget keeps backprop cheap) and
                # lands on every frame: save the steps themselves rather than interpolating at
                # `ts` (the same values, less bookkeeping: measured in benchmarks/motion_speed).
                controller, max_steps = dfx.StepTo(ts=self._step_grid(ts)), n_steps
                saveat, every = dfx.SaveAt(t0=True, steps=True), self.steps_per_frame
        else:
            controller, max_steps = self.stepsize_controller, self.max_steps
        sol = dfx.diffeqsolve(
            terms,
            get_solver(self.solver),
            ts[0],
            ts[-1],
            dt0,
            y0,
            args,
            saveat=saveat,
            stepsize_controller=controller,
            adjoint=self.adjoint,
            max_steps=max_steps,
        )
        return jax.tree.map(lambda ys: ys[::every], sol.ys)


@struct.dataclass(kw_only=True)
class GRUMotion(AbstractMotion):
    r"""MoCoGAN's recurrent motion generator, with fresh noise at every frame.

    .. math:: h_0 = x_0, \quad h_{k+1} = \mathrm{GRU}(h_k, \varepsilon_k),\ \varepsilon_k \sim
        \mathcal N(0, I_{d_\text{noise}}), \quad x_k = h_{k+1},\ k = 0, \dots, t - 1.

    Frame times only set the number of frames (Tulyakov et al. 2018,
    https://arxiv.org/abs/1707.04993).

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> gru = GRUMotion(d_noise=4, d_state=4, d_hidden=8)
        >>> params = gru.init(jr.key(0))
        >>> gru.apply(params, jnp.zeros(4), jnp.linspace(0, 1, 16), key=jr.key(1)).shape
        (16, 4)
    """

    stochastic: ClassVar[bool] = True

    def _init_dynamics(self, key):
        cell = nn.GRUCell(features=self.d_state)
        return {"gru": cell.init(key, jnp.zeros(self.d_state), jnp.zeros(self.d_noise))}

    def _trajectory(self, params, x0, z0, ts, key):
        del z0
        eps = jr.normal(key, (ts.shape[0], self.d_noise), x0.dtype)
        cell = nn.GRUCell(features=self.d_state)

        def step(h, e):
            h, _ = cell.apply(params["gru"], h, e)
            return h, h

        return jax.lax.scan(step, x0, eps)[1]


@struct.dataclass(kw_only=True)
class ODEMotion(AbstractDiffEqMotion):
    r"""Latent neural ODE: :math:`\dot x = W_2 \tanh(W_1 x + b_1) + b_2`, :math:`x(t_0) = x_0`.

    Seed 000's MoCoGAN-ODE (Gordon & Parde's latent ODE, thesis eq. 3.43); deterministic, so
    one initial state gives one motion, and two trajectories can never cross.

    Attributes:
        shared_steps: with an adaptive controller, `apply_batch` solves the batch as one state
            ``[b, d_state]``: one step-size sequence, the error norm taken over the whole batch
            (what torchdiffeq does with a batched state). Under `jax.vmap` each sample's
            adaptive loop runs every branch of the step bookkeeping for the whole batch: the
            shared solve is 2.8× faster (dopri5, b = 64: 3.0–3.1 vs 8.3–8.8 ms forward +
            backward at one thread, benchmarks/motion_speed.py), at the price of samples
            coupled through their step sizes (each still within tolerance). False: per-sample
            step control, as `apply`. Fixed grids always solve the batch as one state (every
            sample has the same grid and the field acts row-wise, so the numbers are those of
            per-sample solves).

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> ode = ODEMotion(d_noise=4, d_state=4, d_hidden=8)
        >>> params = ode.init(jr.key(0))
        >>> ode.apply(params, jnp.zeros(4), jnp.linspace(0, 1, 16)).shape
        (16, 4)
    """

    shared_steps: bool = _static(default=True)
    # Storing only the matrix products of each step and recomputing the element-wise rest in the
    # backward pass is faster for this field: RK4, b = 64, d = h = 64, 16 frames, forward +
    # backward 3.05–3.10 ms instead of 3.73–3.83 ms (interleaved A/B, one thread). For the
    # other generators the difference was within the noise (SDE, CDE) or a loss (N-CODE, ODE-RNN:
    # 3–15 % slower), so they keep everything (None).
    checkpoint_policy: Callable | None = _static(default=jax.checkpoint_policies.dots_saveable)

    def _init_dynamics(self, key):
        return {"field": MLP(self.d_hidden, self.d_state).init(key, jnp.zeros(self.d_state))}

    def _trajectory(self, params, x0, z0, ts, key):
        del z0, key
        term = dfx.ODETerm(ModuleField(MLP(self.d_hidden, self.d_state)))
        return self._solve(term, x0, ts, params["field"])

    def _apply_batch(self, params, z0, ts, keys):
        if self.stepsize_controller is not None and not self.shared_steps:
            return super()._apply_batch(params, z0, ts, keys)
        # The field's MLP acts row-wise, so the batched state is one ODE of the same field.
        xs = self._trajectory(params, self._initial_state(params, z0), z0, ts, keys)
        return jnp.swapaxes(xs, 0, 1)  # [t, b, d] -> [b, t, d]


@struct.dataclass(kw_only=True)
class SDEMotion(AbstractDiffEqMotion):
    r"""Latent neural SDE with diagonal noise: :math:`dx = f(x)\,dt + \mathrm{diag}(g(x))\,dW_t`.

    Drift and diffusion have the same form :math:`W_2 \tanh(W_1 x + b_1) + b_2` (thesis
    eq. 3.44). The Brownian motion W comes from `key`, so a path is reproducible:

    * ``brownian="path"`` (default): sampled on the step grid :math:`s_j` (frame grid refined
      ``steps_per_frame`` times), :math:`W_{s_{j+1}} - W_{s_j} \sim \mathcal N(0, (s_{j+1} -
      s_j) I)`, and used as a `diffrax.LinearInterpolation` control; exact Brownian increments
      on the fixed grid, and several times faster to differentiate than the tree (DESIGN: ~8×).
    * ``brownian="tree"``: a `diffrax.VirtualBrownianTree` with tolerance ``brownian_tol``,
      exact at any time (needed for adaptive steps to see genuine Brownian motion).

    With the default Euler solver this is the Itô SDE (Gordon & Parde: Euler, diagonal Itô noise).

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> sde = SDEMotion(d_noise=4, d_state=4, d_hidden=8)
        >>> params = sde.init(jr.key(0))
        >>> sde.apply(params, jnp.zeros(4), jnp.linspace(0, 1, 16), key=jr.key(1)).shape
        (16, 4)
    """

    solver: str | dfx.AbstractSolver = _static(default="euler")
    brownian: str = _static(default="path")
    brownian_tol: float = _static(default=1e-3)

    stochastic: ClassVar[bool] = True

    def _init_dynamics(self, key):
        k_f, k_g = jr.split(key)
        mlp, x = MLP(self.d_hidden, self.d_state), jnp.zeros(self.d_state)
        return {"drift": mlp.init(k_f, x), "diffusion": mlp.init(k_g, x)}

    def _trajectory(self, params, x0, z0, ts, key):
        del z0
        mlp = MLP(self.d_hidden, self.d_state)
        if self.brownian == "path":
            grid = self._step_grid(ts)
            dw = jr.normal(key, (grid.shape[0] - 1, self.d_state), x0.dtype)
            dw = dw * jnp.sqrt(jnp.diff(grid))[:, None]
            w = jnp.concatenate([jnp.zeros((1, self.d_state), x0.dtype), jnp.cumsum(dw, 0)])
            path = dfx.LinearInterpolation(ts=grid, ys=w)
        else:
            shape = jax.ShapeDtypeStruct((self.d_state,), x0.dtype)
            path = dfx.VirtualBrownianTree(ts[0], ts[-1], self.brownian_tol, shape, key=key)
        # Both terms receive args = (drift variables, diffusion variables); each picks its own.
        drift = ModuleField(mlp, index=0)
        diffusion = ModuleField(mlp, index=1, diagonal=True)
        terms = dfx.MultiTerm(dfx.ODETerm(drift), dfx.ControlTerm(diffusion, path))
        return self._solve(terms, x0, ts, (params["drift"], params["diffusion"]))


@struct.dataclass(kw_only=True)
class CDEMotion(AbstractDiffEqMotion):
    r"""Latent neural CDE driven by a noise path: :math:`dx = f(x)\,dX(t)`.

    :math:`f(x) = \tanh(W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2) \in \mathbb R^{d \times (1 +
    d_\text{noise})}` (thesis eq. 3.45) and X is the piecewise-linear interpolation of
    :math:`X(t_k) = (t_k, \varepsilon_k)`, :math:`\varepsilon_k \sim \mathcal N(0, I)` fresh at
    every frame (time is a channel, as Kidger et al. 2020 recommend).

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> cde = CDEMotion(d_noise=4, d_state=4, d_hidden=8)
        >>> params = cde.init(jr.key(0))
        >>> cde.apply(params, jnp.zeros(4), jnp.linspace(0, 1, 16), key=jr.key(1)).shape
        (16, 4)
    """

    stochastic: ClassVar[bool] = True

    def _field(self) -> CDEField:
        return CDEField(self.d_hidden, self.d_state, 1 + self.d_noise)

    def _init_dynamics(self, key):
        return {"field": self._field().init(key, jnp.zeros(self.d_state))}

    def _trajectory(self, params, x0, z0, ts, key):
        del z0
        eps = jr.normal(key, (ts.shape[0], self.d_noise), x0.dtype)
        path = dfx.LinearInterpolation(ts=ts, ys=jnp.concatenate([ts[:, None], eps], axis=1))
        term = dfx.ControlTerm(ModuleField(self._field()), path)
        return self._solve(term, x0, ts, params["field"])


@struct.dataclass(kw_only=True)
class ODERNNMotion(AbstractDiffEqMotion):
    r"""ODE-RNN: the neural ODE flows the state between frames, a GRU updates it at each frame.

    .. math:: h_0 = \mathrm{GRU}(x_0, \varepsilon_0), \quad h_k = \mathrm{GRU}\big(
        \Phi_{t_{k-1} \to t_k}(h_{k-1}), \varepsilon_k\big), \quad x_k = h_k,

    with Φ the flow of :math:`\dot h = W_2 \tanh(W_1 h + b_1) + b_2` and fresh noise
    :math:`\varepsilon_k` (Rubanova et al. 2019, https://arxiv.org/abs/1907.03907). With a zero
    field it is `GRUMotion`.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> m = ODERNNMotion(d_noise=4, d_state=4, d_hidden=8)
        >>> params = m.init(jr.key(0))
        >>> m.apply(params, jnp.zeros(4), jnp.linspace(0, 1, 16), key=jr.key(1)).shape
        (16, 4)
    """

    stochastic: ClassVar[bool] = True

    def _init_dynamics(self, key):
        k_gru, k_f = jr.split(key)
        cell = nn.GRUCell(features=self.d_state)
        return {
            "gru": cell.init(k_gru, jnp.zeros(self.d_state), jnp.zeros(self.d_noise)),
            "field": MLP(self.d_hidden, self.d_state).init(k_f, jnp.zeros(self.d_state)),
        }

    def _trajectory(self, params, x0, z0, ts, key):
        del z0
        eps = jr.normal(key, (ts.shape[0], self.d_noise), x0.dtype)
        cell = nn.GRUCell(features=self.d_state)
        term = dfx.ODETerm(ModuleField(MLP(self.d_hidden, self.d_state)))
        h0, _ = cell.apply(params["gru"], x0, eps[0])

        def step(h, inputs):
            interval, e = inputs
            h = self._solve(term, h, interval, params["field"])[-1]
            h, _ = cell.apply(params["gru"], h, e)
            return h, h

        intervals = jnp.stack([ts[:-1], ts[1:]], axis=1)
        hs = jax.lax.scan(step, h0, (intervals, eps[1:]))[1]
        return jnp.concatenate([h0[None], hs])


@struct.dataclass(kw_only=True)
class NCODEMotion(AbstractDiffEqMotion):
    r"""N-CODE: a neural ODE whose weights θ are controlled (Chalvidal et al., ICLR 2021).

    The field is :math:`f(x; \theta) = W_2 \tanh(W_1 x + b_1) + b_2` with all of
    :math:`\theta = (W_1, b_1, W_2, b_2)` (:math:`n_\theta = 2 d h + h + d` numbers) given by a
    hypernetwork of the initial noise,

    .. math:: \theta(t_0) = \gamma(z_0) = \bar\theta + A\,\phi(z_0), \qquad
        \phi(z) = z \ \text{or}\ \tanh(W_\gamma z + b_\gamma)\ (\text{``gamma_hidden``}),

    :math:`\bar\theta` initialised at a NODE field's initial weights and A at scale
    ``gamma_scale``. Open loop (``closed_loop=False``): :math:`\dot x = f(x; \theta(t_0))`, one
    flow per sample (trajectories of different samples may cross). Closed loop: θ is integrated
    jointly with the state, :math:`\dot\theta = g(\theta, x, t) = W_2^g \tanh(W_1^g x + b_1^g) +
    b_2^g` (``controller_hidden`` units; last layer zero at init, so training starts from the
    open loop); ``hypernetwork=False`` then fixes :math:`\theta(t_0) = \bar\theta` for every
    sample. With A = 0 the open loop is exactly `ODEMotion` with weights :math:`\bar\theta`.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> m = NCODEMotion(d_noise=4, d_state=4, d_hidden=8, closed_loop=True)
        >>> params = m.init(jr.key(0))
        >>> m.apply(params, jnp.zeros(4), jnp.linspace(0, 1, 16)).shape
        (16, 4)
    """

    closed_loop: bool = _static(default=False)
    hypernetwork: bool = _static(default=True)
    gamma_hidden: int | None = _static(default=None)
    gamma_scale: float = _static(default=0.1)
    controller_hidden: int = _static(default=16)

    @property
    def num_control_weights(self) -> int:
        """Size n_θ of the control weights θ."""
        return mlp_num_params(self.d_state, self.d_hidden, self.d_state)

    def _init_dynamics(self, key):
        k_f, k_a, k_h, k_g = jr.split(key, 4)
        base = flatten_mlp(MLP(self.d_hidden, self.d_state).init(k_f, jnp.zeros(self.d_state)))
        params = {"gamma": {"bias": base}}
        if self.hypernetwork:
            d_in = self.d_noise if self.gamma_hidden is None else self.gamma_hidden
            scale = self.gamma_scale / np.sqrt(d_in)
            params["gamma"]["kernel"] = scale * jr.normal(k_a, (d_in, base.shape[0]))
            if self.gamma_hidden is not None:
                dense = nn.Dense(self.gamma_hidden)
                params["gamma"]["hidden"] = dense.init(k_h, jnp.zeros(self.d_noise))
        if self.closed_loop:
            controller = MLP(self.controller_hidden, self.num_control_weights)
            variables = controller.init(k_g, jnp.zeros(self.d_state))
            last = variables["params"]["Dense_1"]
            variables["params"]["Dense_1"] = jax.tree.map(jnp.zeros_like, last)
            params["controller"] = variables
        return params

    def _theta0(self, gamma, z0):
        """γ(z₀) of shape [n_θ]."""
        if not self.hypernetwork:
            return gamma["bias"]
        phi = z0
        if self.gamma_hidden is not None:
            phi = jnp.tanh(nn.Dense(self.gamma_hidden).apply(gamma["hidden"], z0))
        return gamma["bias"] + phi @ gamma["kernel"]

    def _trajectory(self, params, x0, z0, ts, key):
        del key
        theta0 = self._theta0(params["gamma"], z0)
        if not self.closed_loop:
            term = dfx.ODETerm(ControlledField(self.d_state, self.d_hidden))
            return self._solve(term, x0, ts, theta0)
        controller = MLP(self.controller_hidden, self.num_control_weights)
        term = dfx.ODETerm(ControlledField(self.d_state, self.d_hidden, controller))
        return self._solve(term, (x0, theta0), ts, params["controller"])[0]


# Name -> generator class, for configs and CLIs.
MOTIONS: dict[str, Callable[..., AbstractMotion]] = {
    "gru": GRUMotion,
    "ode": ODEMotion,
    "sde": SDEMotion,
    "cde": CDEMotion,
    "ode_rnn": ODERNNMotion,
    "ncode_open": NCODEMotion,
    "ncode_closed": functools.partial(NCODEMotion, closed_loop=True),
}


def get_motion(name: str, **kwargs) -> AbstractMotion:
    """Builds the motion generator registered as `name` in `MOTIONS`.

    Args:
        name: one of ``"gru"``, ``"ode"``, ``"sde"``, ``"cde"``, ``"ode_rnn"``, ``"ncode_open"``,
            ``"ncode_closed"``.
        **kwargs: the generator's fields (``d_noise``, ``d_state``, ``d_hidden``, ...).

    Returns:
        The generator.

    Raises:
        ValueError: if `name` is unknown (or a field is invalid).

    Examples:
        >>> get_motion("ode", d_noise=4, d_state=4, d_hidden=8).solver
        'rk4'
    """
    if name not in MOTIONS:
        raise ValueError(f"`name` must be one of {list(MOTIONS)}, got {name!r}.")
    return MOTIONS[name](**kwargs)


def apply_batch(
    motion: AbstractMotion,
    params: dict,
    z0: ArrayLike,
    ts: ArrayLike,
    *,
    key: jax.Array | None = None,
) -> jax.Array:
    """Trajectories of a batch: `motion.apply` vmapped over ``z0`` (and over split keys).

    Args:
        motion: the generator.
        params: its parameters (shared by the batch).
        z0: initial noises, shape ``[b, d_noise]``.
        ts: frame times, shape ``[t]``, shared by the batch.
        key: PRNG key, split into one key per sample; required by stochastic generators.

    Returns:
        Array of shape ``[b, t, d_state]``.

    Raises:
        ValueError: if ``z0`` is not of shape ``[b, d_noise]`` (and as `AbstractMotion.apply`).

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> ode = ODEMotion(d_noise=4, d_state=4, d_hidden=8)
        >>> apply_batch(ode, ode.init(jr.key(0)), jnp.zeros((5, 4)), jnp.linspace(0, 1, 16)).shape
        (5, 16, 4)
    """
    z0 = jnp.asarray(z0)
    if z0.ndim != 2 or z0.shape[1] != motion.d_noise:
        raise ValueError(f"`z0` must have shape [b, {motion.d_noise}], got {z0.shape}.")
    ts = _check_ts(ts, z0.dtype)
    return motion._apply_batch(params, z0, ts, None if key is None else jr.split(key, z0.shape[0]))

r"""Continuous depth: a convolutional residual block replaced by a neural ODE block.

Seed 000's first stage (thesis §3.2, after Chen et al. 2018, https://arxiv.org/abs/1806.07366)
trades a stack of N residual blocks for one ODE block. With weights shared across depth the two
are the same computation,

.. math:: h_{k+1} = h_k + \tfrac1N f(k/N, h_k), \quad k = 0, \dots, N - 1,

which is explicit Euler with N steps on :math:`\dot h = f(t, h)` over :math:`t \in [0, 1]`. What
differs is how the gradient is taken: backpropagation through the stack stores every
:math:`h_k` (memory O(N)); diffrax's `RecursiveCheckpointAdjoint` stores a few checkpoints and
recomputes between them; `BacksolveAdjoint` solves the adjoint ODE backwards from the final
state alone (memory flat in N, gradients exact only up to the backward solve's error).
`benchmarks/continuous_depth.py` measures that memory and time against N.
"""

import diffrax as dfx
import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from odegan import get_solver

_DEFAULT_ADJOINT = dfx.RecursiveCheckpointAdjoint()


def _with_time(t: jax.Array, h: jax.Array) -> jax.Array:
    """Appends the scalar time as a constant channel (ODE-Net's ``ConcatConv2d``)."""
    return jnp.concatenate([h, jnp.broadcast_to(t, (*h.shape[:-1], 1)).astype(h.dtype)], -1)


class ConvODEField(nn.Module):
    r"""Time-dependent convolutional field :math:`f(t, h) = C_2([\mathrm{ReLU}(C_1([h, t])), t])`.

    :math:`C_1, C_2` are 3×3 same-padded convolutions with `channels` outputs, and
    :math:`[\cdot, t]` appends t as a constant channel (Chen et al.'s ODE-Net without its group
    normalisation, which would couple the samples of a batch).

    Attributes:
        channels: channels of the hidden and output feature maps (the input's channel count).
    """

    channels: int

    @nn.compact
    def __call__(self, t: ArrayLike, h: jax.Array) -> jax.Array:
        """Maps t (scalar) and h `[*batch, height, width, channels]` to dh/dt, same shape."""
        t = jnp.asarray(t)
        z = nn.relu(nn.Conv(self.channels, (3, 3))(_with_time(t, h)))
        return nn.Conv(self.channels, (3, 3))(_with_time(t, z))


def _check_steps(n_steps: int) -> None:
    if not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"`n_steps` must be a positive int, got {n_steps!r}.")


def residual_stack(field: nn.Module, params, h: jax.Array, n_steps: int) -> jax.Array:
    r"""N weight-shared residual blocks :math:`h \leftarrow h + \frac1N f(k/N, h)` (a `lax.scan`).

    Backpropagation through it keeps every intermediate activation: memory grows as O(N).

    Args:
        field: a Flax module ``f(t, h)`` such as `ConvODEField`.
        params: its variables.
        h: input feature maps, any shape `field` accepts (e.g. `[batch, height, width, c]`).
        n_steps: number of blocks N ≥ 1.

    Returns:
        The output feature maps, shape of `h`.
    """
    _check_steps(n_steps)
    dt = 1.0 / n_steps

    def block(h, k):
        return h + dt * field.apply(params, k * dt, h), None

    return jax.lax.scan(block, h, jnp.arange(n_steps, dtype=h.dtype))[0]


def ode_block(
    field: nn.Module,
    params,
    h: jax.Array,
    n_steps: int,
    *,
    solver: str | dfx.AbstractSolver = "euler",
    adjoint: dfx.AbstractAdjoint = _DEFAULT_ADJOINT,
) -> jax.Array:
    r"""The state at t = 1 of :math:`\dot h = f(t, h)`, h(0) = `h`, in N equal steps of 1/N.

    With ``solver="euler"`` its forward pass equals `residual_stack` with the same N; the adjoint
    decides the memory of its gradient.

    Args:
        field: a Flax module ``f(t, h)`` such as `ConvODEField`; its parameters reach diffrax
            through ``args`` (never closed over, so `diffrax.BacksolveAdjoint` works).
        params: its variables.
        h: initial feature maps, any shape `field` accepts.
        n_steps: number of solver steps N ≥ 1.
        solver: a name in `odegan.SOLVERS` (``"euler"``, ``"heun"``, ``"rk4"``, ...) or a diffrax
            solver instance.
        adjoint: `diffrax.RecursiveCheckpointAdjoint()` (default: exact gradients of the
            discretisation, checkpointed), `diffrax.DirectAdjoint()` or
            `diffrax.BacksolveAdjoint()`.

    Returns:
        h(1), shape of `h`.
    """
    _check_steps(n_steps)
    term = dfx.ODETerm(lambda t, y, p: field.apply(p, t, y))
    sol = dfx.diffeqsolve(
        term,
        get_solver(solver),
        0.0,
        1.0,
        1.0 / n_steps,
        h,
        params,
        stepsize_controller=dfx.ConstantStepSize(),
        adjoint=adjoint,
        # Rounding of t + dt may leave one last tiny step.
        max_steps=n_steps + 1,
    )
    return sol.ys[-1]

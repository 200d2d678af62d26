r"""Baseline game optimisers behind the same interface as `ode_step`.

Every factory here returns an `optax.GradientTransformationExtraArgs` whose update takes the
velocity function `vector_field(params, stage_index) -> v` as an extra argument, with
:math:`v = -[\partial_\theta\ell_D, \partial_\phi\ell_G]` (`odegan.game_vector_field`), and
returns the parameter increment; so one training step (`odegan.train_step`) serves ODE-GAN and
every baseline. Other extra arguments (e.g. `regulariser_grad`) are accepted and ignored.

- `gradient_play(tx, order=...)`: each player feeds its own gradient :math:`-v` to an optax
  transformation (`optax.sgd`: gradient descent; `optax.adam`; `optax.optimistic_gradient_descent`),
  simultaneously or alternately (discriminator first).
- `extragradient` (Korpelevich 1976): a look-ahead step, then the step with the look-ahead field.
- `consensus_optimization` (Mescheder et al. 2017, https://arxiv.org/abs/1705.10461).
- `symplectic_gradient_adjustment` (Balduzzi et al. 2018, https://arxiv.org/abs/1802.05642).

The last two use Jacobian-vector and vector-Jacobian products of the field, never a dense
Jacobian. `BASELINES` names them all, as functions of the learning rate.
"""

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import optax
from jax import Array
from jaxtyping import PyTree

from ._game import Players

# `vector_field(params, stage_index) -> velocity` with the structure of `params`.
VectorField = Callable[[PyTree, int], PyTree]

_ORDERS = ("simultaneous", "alternating")


class GradientPlayState(NamedTuple):
    """State of `gradient_play`: the wrapped transformation's state for each player.

    Attributes:
        d: state of `tx` on the discriminator parameters.
        g: state of `tx` on the generator parameters.
    """

    d: optax.OptState
    g: optax.OptState


def _check_learning_rate(learning_rate: float) -> None:
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be positive, got {learning_rate!r}.")


def _neg(tree: PyTree) -> PyTree:
    return jtu.tree_map(jnp.negative, tree)


def _axpy(a: float | Array, x: PyTree, y: PyTree) -> PyTree:
    """`a * x + y` leaf by leaf, in the dtype of `y`."""
    return jtu.tree_map(lambda xi, yi: (a * xi + yi).astype(yi.dtype), x, y)


def _vdot(x: PyTree, y: PyTree) -> Array:
    return sum(
        (jnp.vdot(a, b) for a, b in zip(jtu.tree_leaves(x), jtu.tree_leaves(y), strict=True)),
        start=jnp.zeros(()),
    )


def _need_params(params: PyTree | None, name: str) -> PyTree:
    if params is None:
        raise ValueError(f"`{name}` needs `params` to evaluate the vector field.")
    return params


def gradient_play(
    tx: optax.GradientTransformation,
    *,
    order: Literal["simultaneous", "alternating"] = "simultaneous",
) -> optax.GradientTransformationExtraArgs:
    r"""Each player applies `tx` to the gradient of its own loss, :math:`-v`.

    Simultaneous: :math:`(\Delta\theta, \Delta\phi) = \mathrm{tx}(-v(\theta, \phi))`, per player.
    Alternating (discriminator first, one step each):
    :math:`\Delta\theta = \mathrm{tx}(-v_\theta(\theta, \phi))`, then
    :math:`\Delta\phi = \mathrm{tx}(-v_\phi(\theta + \Delta\theta, \phi))`, the second field
    evaluated with `stage_index = 1` (a fresh minibatch if the field draws one per stage).
    With `optax.sgd(h)` simultaneous play is an Euler `ode_step` with step :math:`h`.

    Args:
        tx: any optax transformation of gradients (e.g. `optax.sgd(0.05)`, `optax.adam(1e-3)`,
            `optax.optimistic_gradient_descent(0.1)`); it gets one state per player.
        order: `"simultaneous"` (default) or `"alternating"`.

    Returns:
        An `optax.GradientTransformationExtraArgs` with state `GradientPlayState`; its update
        takes `params` (a `Players`) and the extra argument `vector_field`.

    Raises:
        ValueError: for an unknown `order`; at update time, for missing or non-`Players` params.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> from odegan import Players, gradient_play, rotational_game, toy_game_field
        >>> field = toy_game_field(rotational_game)
        >>> params = Players(d=jnp.array(1.0), g=jnp.array(1.0))
        >>> opt = gradient_play(optax.sgd(0.2), order="alternating")
        >>> updates, _ = opt.update(params, opt.init(params), params,
        ...                         vector_field=lambda p, stage: field(p))
        >>> print(f"{updates.d:.2f} {updates.g:.2f}")
        0.18 -0.24
    """
    if order not in _ORDERS:
        raise ValueError(f"`order` must be one of {_ORDERS}, got {order!r}.")

    def init_fn(params: Players) -> GradientPlayState:
        return GradientPlayState(d=tx.init(params.d), g=tx.init(params.g))

    def update_fn(
        updates: PyTree,
        state: GradientPlayState,
        params: Players | None = None,
        *,
        vector_field: VectorField,
        **extra_args: Any,
    ) -> tuple[Players, GradientPlayState]:
        del updates, extra_args
        params = _need_params(params, "gradient_play")
        if not isinstance(params, Players):
            raise ValueError(
                f"`gradient_play` needs `Players` params, got {type(params).__name__}."
            )
        v0 = vector_field(params, 0)
        update_d, state_d = tx.update(_neg(v0.d), state.d, params.d)
        if order == "alternating":
            moved = Players(d=optax.apply_updates(params.d, update_d), g=params.g)
            grad_g = _neg(vector_field(moved, 1).g)
        else:
            grad_g = _neg(v0.g)
        update_g, state_g = tx.update(grad_g, state.g, params.g)
        return Players(d=update_d, g=update_g), GradientPlayState(d=state_d, g=state_g)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def extragradient(learning_rate: float) -> optax.GradientTransformationExtraArgs:
    r"""Extragradient (Korpelevich 1976): step with the field at a look-ahead point.

    .. math::
        z_{1/2} = z + h\,v(z),\qquad \Delta z = h\,v(z_{1/2}),

    the look-ahead field evaluated with `stage_index = 1`. Two field evaluations per step. On the
    bilinear game it converges for :math:`h < 1` (eigenvalues :math:`|1 - h^2 \pm ih| < 1`) where
    simultaneous gradient descent spirals out.

    Args:
        learning_rate: step size :math:`h > 0`.

    Returns:
        An `optax.GradientTransformationExtraArgs` with state `optax.EmptyState`; its update
        takes `params` and the extra argument `vector_field`.

    Raises:
        ValueError: if `learning_rate <= 0`; at update time, if `params` is missing.

    Examples:
        >>> import jax.numpy as jnp
        >>> from odegan import Players, extragradient, rotational_game, toy_game_field
        >>> field = toy_game_field(rotational_game, epsilon=0.0)
        >>> params = Players(d=jnp.array(1.0), g=jnp.array(0.0))
        >>> opt = extragradient(0.5)
        >>> updates, _ = opt.update(params, opt.init(params), params,
        ...                         vector_field=lambda p, stage: field(p))
        >>> print(f"{updates.d:.2f} {updates.g:.2f}")
        -0.25 -0.50
    """
    _check_learning_rate(learning_rate)

    def update_fn(updates, state, params=None, *, vector_field: VectorField, **extra_args):
        del updates, extra_args
        params = _need_params(params, "extragradient")
        lookahead = _axpy(learning_rate, vector_field(params, 0), params)
        return jtu.tree_map(lambda v: learning_rate * v, vector_field(lookahead, 1)), state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update_fn)


def consensus_optimization(
    learning_rate: float, gamma: float = 1.0
) -> optax.GradientTransformationExtraArgs:
    r"""Consensus optimisation (Mescheder et al. 2017, https://arxiv.org/abs/1705.10461).

    Each player also descends the squared norm of the joint field, :math:`L = \tfrac12\|v\|^2`:

    .. math::
        \Delta z = h\big(v - \gamma\nabla L\big),\qquad \nabla L = J^\top v,\quad
        J = \partial v / \partial z,

    with :math:`J^\top v` one vector-Jacobian product of the field (no dense Jacobian). Cost: one
    field evaluation and its VJP (a Hessian-vector product, about 2--3 gradient evaluations).

    Args:
        learning_rate: step size :math:`h > 0`.
        gamma: consensus weight :math:`\gamma \ge 0` (default 1; the paper uses 10 on MoG).

    Returns:
        An `optax.GradientTransformationExtraArgs` with state `optax.EmptyState`; its update
        takes `params` and the extra argument `vector_field` (differentiated with `jax.vjp`).

    Raises:
        ValueError: if `learning_rate <= 0` or `gamma < 0`; at update time, if `params` is
            missing.

    Examples:
        >>> import jax.numpy as jnp
        >>> from odegan import Players, consensus_optimization, rotational_game, toy_game_field
        >>> field = toy_game_field(rotational_game, epsilon=0.0)
        >>> params = Players(d=jnp.array(1.0), g=jnp.array(0.0))
        >>> opt = consensus_optimization(0.5, gamma=1.0)
        >>> updates, _ = opt.update(params, opt.init(params), params,
        ...                         vector_field=lambda p, stage: field(p))
        >>> print(f"{updates.d:.2f} {updates.g:.2f}")
        -0.50 -0.50
    """
    _check_learning_rate(learning_rate)
    if not gamma >= 0:
        raise ValueError(f"`gamma` must be non-negative, got {gamma!r}.")

    def update_fn(updates, state, params=None, *, vector_field: VectorField, **extra_args):
        del updates, extra_args
        params = _need_params(params, "consensus_optimization")
        v, vjp = jax.vjp(lambda p: vector_field(p, 0), params)
        (jtv,) = vjp(v)
        return jtu.tree_map(lambda a, b: learning_rate * (a - gamma * b), v, jtv), state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update_fn)


def symplectic_gradient_adjustment(
    learning_rate: float, lambda_: float = 1.0, *, align: bool = False
) -> optax.GradientTransformationExtraArgs:
    r"""Symplectic gradient adjustment (Balduzzi et al. 2018, https://arxiv.org/abs/1802.05642).

    With the simultaneous gradient :math:`\xi = -v`, the game Jacobian
    :math:`H = \partial\xi/\partial z` and its antisymmetric part :math:`A = \tfrac12(H - H^\top)`,
    SGA descends :math:`\xi_\lambda = \xi + \lambda A^\top\xi`:

    .. math::
        \Delta z = -h\,\xi_\lambda = h\Big(v - \tfrac{\lambda}{2}\big(J^\top v - J v\big)\Big),
        \qquad J = \partial v/\partial z = -H,

    with :math:`Jv` one JVP and :math:`J^\top v` one VJP of the field (no dense Jacobian). With
    `align=True` the sign of :math:`\lambda` follows the paper's alignment rule (Alg. 1),
    :math:`\lambda \leftarrow \lambda\,\mathrm{sign}\big(\tfrac1d\langle\xi, \nabla\mathcal H\rangle
    \langle A^\top\xi, \nabla\mathcal H\rangle + \tfrac1{10}\big)` with
    :math:`\nabla\mathcal H = H^\top\xi = J^\top v` and :math:`d` the number of parameters.

    Args:
        learning_rate: step size :math:`h > 0`.
        lambda_: adjustment weight :math:`\lambda` (default 1).
        align: choose the sign of :math:`\lambda` by the alignment rule (default False).

    Returns:
        An `optax.GradientTransformationExtraArgs` with state `optax.EmptyState`; its update
        takes `params` and the extra argument `vector_field` (differentiated with `jax.jvp` and
        `jax.vjp`).

    Raises:
        ValueError: if `learning_rate <= 0`; at update time, if `params` is missing.

    Examples:
        >>> import jax.numpy as jnp
        >>> from odegan import (Players, rotational_game, symplectic_gradient_adjustment,
        ...                     toy_game_field)
        >>> field = toy_game_field(rotational_game, epsilon=0.0)
        >>> params = Players(d=jnp.array(1.0), g=jnp.array(0.0))
        >>> opt = symplectic_gradient_adjustment(0.5, 1.0)
        >>> updates, _ = opt.update(params, opt.init(params), params,
        ...                         vector_field=lambda p, stage: field(p))
        >>> print(f"{updates.d:.2f} {updates.g:.2f}")
        -0.50 -0.50
    """
    _check_learning_rate(learning_rate)

    def update_fn(updates, state, params=None, *, vector_field: VectorField, **extra_args):
        del updates, extra_args
        params = _need_params(params, "symplectic_gradient_adjustment")
        field = lambda p: vector_field(p, 0)
        v, vjp = jax.vjp(field, params)
        (jtv,) = vjp(v)
        _, jv = jax.jvp(field, (params,), (v,))
        # A^T ξ = ½(H^T − H)ξ = ½(J^T v − J v): the sign flips of ξ = −v and H = −J cancel.
        at_xi = jtu.tree_map(lambda a, b: 0.5 * (a - b), jtv, jv)
        weight = jnp.asarray(lambda_)
        if align:
            size = sum(x.size for x in jtu.tree_leaves(params))
            # ⟨ξ, ∇H⟩ = −⟨v, J^T v⟩ and ∇H = J^T v.
            alignment = -_vdot(v, jtv) * _vdot(at_xi, jtv) / size
            weight = weight * jnp.sign(alignment + 0.1)
        return (
            jtu.tree_map(lambda a, b: (learning_rate * (a - weight * b)).astype(a.dtype), v, at_xi),
            state,
        )

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update_fn)


# Name -> `factory(learning_rate) -> transformation`, each with its default hyperparameters.
BASELINES: dict[str, Callable[[float], optax.GradientTransformationExtraArgs]] = {
    "simultaneous_gd": lambda lr: gradient_play(optax.sgd(lr)),
    "alternating_gd": lambda lr: gradient_play(optax.sgd(lr), order="alternating"),
    "simultaneous_adam": lambda lr: gradient_play(optax.adam(lr)),
    "alternating_adam": lambda lr: gradient_play(optax.adam(lr), order="alternating"),
    "optimistic_gd": lambda lr: gradient_play(optax.optimistic_gradient_descent(lr)),
    "extragradient": extragradient,
    "consensus": consensus_optimization,
    "sga": symplectic_gradient_adjustment,
}

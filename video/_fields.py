"""Vector fields of the motion generators, for one sample at a time.

Every field is a Flax linen module of the state alone (the motion dynamics are autonomous); its
parameters reach diffrax through `args`, never through a closure, so `diffrax.BacksolveAdjoint`
works (it cannot differentiate closed-over arrays). `ModuleField` and `ControlledField` turn a
module into the `(t, y, args) -> dy` callable that diffrax terms expect.
"""

from collections.abc import Callable

import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import lineax as lx


class MLP(nn.Module):
    r"""Two-layer perceptron :math:`x \mapsto W_2\,\sigma(W_1 x + b_1) + b_2` (Linear∘σ∘Linear).

    The neural ODE drift and the SDE diffusion of seed 000 (Gordon & Parde's latent ODE) use
    σ = tanh; it is also the optional network mapping the initial noise to the initial state and
    the N-CODE closed-loop controller.

    Attributes:
        hidden: width of the hidden layer.
        features: output size.
        activation: the elementwise non-linearity σ (default `jnp.tanh`).

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> mlp = MLP(hidden=8, features=3)
        >>> params = mlp.init(jr.key(0), jnp.zeros(2))
        >>> mlp.apply(params, jnp.ones(2)).shape
        (3,)
    """

    hidden: int
    features: int
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Maps `x` of shape `[d]` to an array of shape `[features]`."""
        h = self.activation(nn.Dense(self.hidden)(x))  # Dense_0 (named in call order)
        return nn.Dense(self.features)(h)  # Dense_1


class CDEField(nn.Module):
    r"""Neural CDE field :math:`f(x) = \tanh(W_2\,\mathrm{ReLU}(W_1 x + b_1) + b_2)`, a matrix.

    The CDE :math:`dx = f(x)\,dX(t)` multiplies the `[features, channels]` matrix by the
    increment of the control path X (Kidger et al. 2020, https://arxiv.org/abs/2005.08926); the
    final tanh keeps the field bounded, as in seed 000 (thesis eq. 3.45).

    Attributes:
        hidden: width of the hidden layer.
        features: state size d.
        channels: number of channels c of the control path.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> field = CDEField(hidden=8, features=3, channels=2)
        >>> params = field.init(jr.key(0), jnp.zeros(3))
        >>> field.apply(params, jnp.ones(3)).shape
        (3, 2)
    """

    hidden: int
    features: int
    channels: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Maps `x` of shape `[features]` to a matrix of shape `[features, channels]`."""
        h = nn.relu(nn.Dense(self.hidden)(x))
        out = jnp.tanh(nn.Dense(self.features * self.channels)(h))
        return out.reshape(self.features, self.channels)


def mlp_num_params(d_in: int, hidden: int, features: int) -> int:
    """Number of parameters of `MLP(hidden, features)` on inputs of size `d_in`.

    Examples:
        >>> mlp_num_params(2, 8, 3)
        51
    """
    return d_in * hidden + hidden + hidden * features + features


def flatten_mlp(params) -> jax.Array:
    r"""Flattens `MLP` parameters into one vector θ, in the order W₁, b₁, W₂, b₂ (row-major).

    This is the layout of the N-CODE control weights θ: `unflatten_mlp` is its inverse.

    Args:
        params: the variables of an `MLP` (as returned by `MLP.init`).

    Returns:
        Array of shape `[mlp_num_params(d_in, hidden, features)]`.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> params = MLP(hidden=8, features=3).init(jr.key(0), jnp.zeros(2))
        >>> flatten_mlp(params).shape
        (51,)
    """
    p = params["params"]
    parts = [p[layer][name] for layer in ("Dense_0", "Dense_1") for name in ("kernel", "bias")]
    return jnp.concatenate([jnp.ravel(a) for a in parts])


def unflatten_mlp(theta: jax.Array, d_in: int, hidden: int, features: int):
    """Inverse of `flatten_mlp`: the `MLP` variables held in the flat vector `theta`.

    Args:
        theta: Array of shape `[mlp_num_params(d_in, hidden, features)]`.
        d_in: input size of the MLP.
        hidden: hidden width.
        features: output size.

    Returns:
        Variables `{"params": {"Dense_0": ..., "Dense_1": ...}}` for `MLP(hidden, features)`.

    Raises:
        ValueError: if `theta` does not have the expected shape.

    Examples:
        >>> import jax.numpy as jnp
        >>> unflatten_mlp(jnp.zeros(51), 2, 8, 3)["params"]["Dense_1"]["kernel"].shape
        (8, 3)
    """
    n = mlp_num_params(d_in, hidden, features)
    if theta.shape != (n,):
        raise ValueError(f"`theta` must have shape ({n},), got {theta.shape}.")
    sizes = (d_in * hidden, hidden, hidden * features, features)
    offsets = [sum(sizes[:i]) for i in range(5)]
    w1, b1, w2, b2 = (theta[offsets[i] : offsets[i + 1]] for i in range(4))
    return {
        "params": {
            "Dense_0": {"kernel": w1.reshape(d_in, hidden), "bias": b1},
            "Dense_1": {"kernel": w2.reshape(hidden, features), "bias": b2},
        }
    }


class ModuleField(eqx.Module):
    """An autonomous linen module as a diffrax vector field: `(t, y, params) -> module(y)`.

    The module is static (hashable configuration); its variables are the `args` of the solve, or
    `args[index]` when several terms share `args`. With `diagonal=True` the output `g(y)` (shape
    `[d]`) is returned as the diagonal operator `diag(g(y))`, for an SDE's diagonal noise under
    `diffrax.ControlTerm`.

    Examples:
        >>> import diffrax as dfx, jax.numpy as jnp, jax.random as jr
        >>> mlp = MLP(hidden=4, features=2)
        >>> params = mlp.init(jr.key(0), jnp.zeros(2))
        >>> sol = dfx.diffeqsolve(dfx.ODETerm(ModuleField(mlp)), dfx.Euler(), 0.0, 1.0, 0.5,
        ...                       jnp.zeros(2), params)
        >>> sol.ys.shape
        (1, 2)
    """

    module: nn.Module = eqx.field(static=True)
    index: int | None = eqx.field(static=True, default=None)
    diagonal: bool = eqx.field(static=True, default=False)

    def __call__(self, t, y, args):
        """Evaluates the module at the state `y` with variables `args` (`t` is unused)."""
        del t
        out = self.module.apply(args if self.index is None else args[self.index], y)
        return lx.DiagonalLinearOperator(out) if self.diagonal else out


class ControlledField(eqx.Module):
    r"""N-CODE's controlled field :math:`f(x; \theta)`: an `MLP` whose weights are the flat θ.

    With `controller=None` the state is `x` and `args` is θ (open loop, θ = γ(z₀) constant in
    time). With a controller g the state is the pair `(x, θ)` and `args` holds g's variables:

    .. math::
        \dot x = f(x; \theta), \qquad \dot\theta = g(\theta, x, t) = W_2 \tanh(W_1 x + b_1) + b_2,

    the closed loop of Listing 1 of N-CODE (Chalvidal et al., "Go with the flow: adaptive control
    for neural ODEs", ICLR 2021), where the controller reads the state x (a dense map from θ itself
    would need n_θ² weights).

    Examples:
        >>> import jax.numpy as jnp
        >>> f = ControlledField(d=2, hidden=4)
        >>> f(0.0, jnp.ones(2), jnp.zeros(mlp_num_params(2, 4, 2))).shape
        (2,)
    """

    d: int = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    controller: MLP | None = eqx.field(static=True, default=None)

    def __call__(self, t, y, args):
        """Returns dx/dt (open loop) or (dx/dt, dθ/dt) (closed loop)."""
        del t
        if self.controller is None:
            return self._f(y, args)
        x, theta = y
        return self._f(x, theta), self.controller.apply(args, x)

    def _f(self, x, theta):
        return MLP(self.hidden, self.d).apply(unflatten_mlp(theta, self.d, self.hidden, self.d), x)

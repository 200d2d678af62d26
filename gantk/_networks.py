r"""Finite-width discriminators: Flax MLPs in the NTK parameterisation, trained by gradient ascent.

The networks match the infinite-width kernels of `gantk._kernels.MLPKernel` layer for layer: each
layer computes

.. math:: h^{l+1} = \frac{\sigma_w}{\sqrt{n_l}} W^{l+1} \phi(h^l) + \sigma_b b^{l+1},
    \qquad W^{l+1}_{ij}, b^{l+1}_i \sim \mathcal{N}(0, 1),

(the standard NTK parameterisation of Jacot et al., arXiv:1806.07572), with the same activation
function φ (`gantk._kernels.ACTIVATIONS`), so that the empirical NTK of a wide network converges to
the analytic kernel. A discriminator is trained on a generated cloud ``x`` and a target cloud ``y``
by full-batch gradient *ascent* on the discriminator loss (thesis eq. 6.2)

.. math:: \mathcal{L}(f) = \frac{1}{n}\sum_i a(f(x_i)) - \frac{1}{m}\sum_j b(f(y_j)),

with SGD without momentum, as in the experiments of the thesis (appendix D.3.2).
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.typing import ArrayLike
from jaxtyping import Array, Float, PRNGKeyArray

from ._kernels import ACTIVATIONS, MLPKernel, check_clouds
from ._precision import full_precision

Params = Any
ApplyFn = Callable[[Params, Array], Array]
# jaxtyping aliases (assigned here rather than written inline, where linters parse the axis
# strings as forward references).
Batch = Float[Array, "n d"]
Values = Float[Array, " n"]
Scalar = Float[Array, ""]

#: How the discriminator's parameters evolve across generator (particle) updates.
#: ``persistent``: training resumes from the previous parameters; ``reset``: training restarts
#: from the initial parameters at every update; ``tau``: restarts from the initial parameters and
#: takes round(τ/ε) steps, the finite-width counterpart of the infinite-width discriminator
#: trained for a time τ (thesis Prop. 4).
MODES = ("persistent", "reset", "tau")


class NTKDense(nn.Module):
    r"""Dense layer in the NTK parameterisation, :math:`y = \sigma_w x W / \sqrt{n} + \sigma_b b`.

    The parameters are standard normal; the scales sit in the forward pass, so that one gradient
    step of size ε moves every layer at the rate the NTK limit assumes (arXiv:1806.07572).

    Attributes:
        features: number of output units.
        w_std: weight scale σ_w.
        b_std: bias scale σ_b, or ``None`` for a layer without bias.
    """

    features: int
    w_std: float = 1.0
    b_std: float | None = 1.0

    @nn.compact
    def __call__(self, x: Batch) -> Array:
        """Applies the layer to a batch `[n, d]`, returning `[n, features]`."""
        fan_in = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.normal(1.0), (fan_in, self.features))
        y = (self.w_std / math.sqrt(fan_in)) * (x @ kernel)
        if self.b_std is not None:
            bias = self.param("bias", nn.initializers.normal(1.0), (self.features,))
            y = y + self.b_std * bias[None, :]
        return y


class NTKMLP(nn.Module):
    """NTK-parameterised MLP: `depth` hidden layers of `width` units, then a scalar linear output.

    Attributes:
        activation: a key of `gantk._kernels.ACTIVATIONS` (``relu``, ``sigmoid``, ...).
        depth: number of hidden layers.
        width: units per hidden layer.
        w_std: weight scale σ_w of every layer.
        b_std: bias scale σ_b of every layer, or ``None`` for a network without bias.
        negative_slope: slope of ``leaky_relu`` for negative inputs.
    """

    activation: str = "relu"
    depth: int = 3
    width: int = 128
    w_std: float = 1.0
    b_std: float | None = 1.0
    negative_slope: float = 0.01

    @nn.compact
    def __call__(self, x: Batch) -> Values:
        """Evaluates the network on a batch `[n, d]`, returning `[n]`."""
        _, phi = ACTIVATIONS[self.activation]
        h = x
        for _ in range(self.depth):
            h = phi(NTKDense(self.width, self.w_std, self.b_std)(h), self.negative_slope)
        return NTKDense(1, self.w_std, self.b_std)(h)[:, 0]


@dataclasses.dataclass(frozen=True)
class MLPDiscriminator:
    r"""A finite-width MLP discriminator as an ``(init, apply)`` pair of pure functions.

    With ``antisymmetric=True`` the network is the antisymmetrical combination of Zhang et al.
    (arXiv:1909.13718)

    .. math:: f(x) = \frac{f_\theta(x) - f_{\theta'}(x)}{\sqrt 2}, \qquad \theta' = \theta
        \text{ at initialisation},

    so that :math:`f_0 \equiv 0` exactly while the NTK at initialisation, :math:`(\Theta_\theta +
    \Theta_{\theta'}) / 2`, is that of a single network. Both copies are trained.

    The class is frozen and compared by value, so `apply` can be a static argument of `jax.jit`
    without retracing when an equal discriminator is built again.

    Attributes:
        network: the Flax module `[n, d] -> [n]`.
        antisymmetric: whether to use the antisymmetrical initialisation.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> disc = mlp_discriminator(MLPKernel("relu"), width=16, antisymmetric=True)
        >>> params = disc.init(jr.key(0), 2)
        >>> disc.apply(params, jnp.ones((5, 2)))
        Array([0., 0., 0., 0., 0.], dtype=float32)
    """

    network: NTKMLP
    antisymmetric: bool = False

    def init(self, key: PRNGKeyArray, dim: int) -> Params:
        """Draws the initial parameters for inputs of dimension `dim`.

        Args:
            key: a PRNG key.
            dim: the data dimension d.

        Returns:
            The parameter pytree (for an antisymmetric network, ``{"plus": θ, "minus": θ}``).
        """
        params = self.network.init(key, jnp.zeros((1, dim)))
        if self.antisymmetric:
            # The same arrays twice: the two copies start equal and then train independently.
            return {"plus": params, "minus": params}
        return params

    def apply(self, params: Params, x: ArrayLike) -> Values:
        """Evaluates the discriminator on a cloud.

        Args:
            params: parameters from `init` (or trained).
            x: array of shape `[n, d]`.

        Returns:
            Array of shape `[n]`, the values f(x_i).
        """
        x = jnp.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"`x` must be a point cloud of shape [n, d]; got shape {x.shape}.")
        if self.antisymmetric:
            plus = self.network.apply(params["plus"], x)
            minus = self.network.apply(params["minus"], x)
            return (plus - minus) / math.sqrt(2.0)
        return self.network.apply(params, x)


def mlp_discriminator(
    kernel: MLPKernel, *, width: int = 128, antisymmetric: bool = False
) -> MLPDiscriminator:
    """The finite-width network whose infinite-width NTK is `kernel`.

    Args:
        kernel: the architecture (activation, depth, w_std, b_std, negative_slope); its `kind`
            does not change the network (the NNGP is the covariance of the same network at init).
        width: units per hidden layer (the thesis uses 128).
        antisymmetric: use the antisymmetrical initialisation (f_0 ≡ 0).

    Returns:
        An `MLPDiscriminator`.

    Raises:
        TypeError: if `kernel` is not an `MLPKernel`.
        ValueError: if `width` is not a positive integer.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> disc = mlp_discriminator(MLPKernel("sigmoid", b_std=0.2), width=32)
        >>> disc.apply(disc.init(jr.key(0), 3), jnp.zeros((4, 3))).shape
        (4,)
    """
    if not isinstance(kernel, MLPKernel):
        raise TypeError(f"`kernel` must be an MLPKernel; got {type(kernel).__name__}.")
    if not (isinstance(width, int) and width >= 1):
        raise ValueError(f"`width` must be a positive integer; got {width!r}.")
    network = NTKMLP(
        activation=kernel.activation,
        depth=kernel.depth,
        width=width,
        w_std=float(kernel.w_std),
        b_std=None if kernel.b_std is None else float(kernel.b_std),
        negative_slope=float(kernel.negative_slope),
    )
    return MLPDiscriminator(network=network, antisymmetric=antisymmetric)


def discriminator_loss(
    apply_fn: ApplyFn,
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    a: Callable[[Array], Array],
    b: Callable[[Array], Array],
) -> Scalar:
    r"""The discriminator objective to maximise (thesis eq. 6.2).

    .. math:: \mathcal{L}(f) = \frac{1}{n}\sum_i a(f(x_i)) - \frac{1}{m}\sum_j b(f(y_j)).

    Args:
        apply_fn: the network, ``(params, [k, d]) -> [k]``.
        params: its parameters.
        x: generated particles, array of shape `[n, d]`.
        y: target points, array of shape `[m, d]`.
        a: elementwise function applied to f on generated points (e.g. ``gantk.LOSSES[...].a``).
        b: elementwise function applied to f on target points.

    Returns:
        A scalar.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> disc = mlp_discriminator(MLPKernel(), width=8, antisymmetric=True)
        >>> p = disc.init(jr.key(0), 2)
        >>> float(discriminator_loss(disc.apply, p, jnp.ones((3, 2)), jnp.zeros((4, 2)),
        ...                          lambda f: f, lambda f: f))
        0.0
    """
    x, y = check_clouds(x, y, names=("x", "y"), nonempty=True)
    n = x.shape[0]
    # One forward pass over both clouds: the hidden layers run as one matmul per layer.
    f = apply_fn(params, jnp.concatenate([x, y]))
    return jnp.mean(a(f[:n])) - jnp.mean(b(f[n:]))


def _num_steps(mode: str, steps: int, lr: float, tau: float | None) -> int:
    if mode == "tau":
        if tau is None or not tau > 0:
            raise ValueError(f"`tau` must be > 0 when mode='tau'; got {tau!r}.")
        n_steps = round(float(tau) / float(lr))
        if n_steps < 1:
            raise ValueError(
                f"`tau` / `lr` must round to at least one step; got tau={tau!r}, lr={lr!r}."
            )
        return n_steps
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"`steps` must be an integer ≥ 1; got {steps!r}.")
    return steps


@full_precision
def train_discriminator(
    apply_fn: ApplyFn,
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    *,
    a: Callable[[Array], Array],
    b: Callable[[Array], Array],
    lr: float,
    steps: int = 1,
    mode: str = "persistent",
    init_params: Params | None = None,
    tau: float | None = None,
) -> Params:
    r"""Trains a discriminator by full-batch gradient ascent on the loss (SGD, no momentum).

    Each step is :math:`\theta \leftarrow \theta + \varepsilon \nabla_\theta \mathcal{L}(f_\theta)`,
    i.e. `optax.sgd(lr)` on :math:`-\mathcal{L}`; the steps run in a `lax.scan`. In the NTK regime
    k steps move f by :math:`\approx k\varepsilon\, \mathcal{T}_{k,\hat\gamma}
    (\nabla^{\hat\gamma} \mathcal{L})`, so ``round(τ/ε)`` steps approximate the infinite-width
    discriminator at time τ (thesis Prop. 4 and 5). For IPM, e.g.,
    :math:`f_\tau - f_0 \approx \tau (\mathbb{E}_x k(x, \cdot) - \mathbb{E}_y k(y, \cdot))`.

    The function is pure, and jittable with `apply_fn`, `a`, `b`, `steps`, `mode` (and `lr`, `tau`
    in mode ``tau``) static, so a particle flow can call it once per particle update inside a
    jitted `lax.scan`, carrying `params` (mode ``persistent``) or ignoring them (other modes).

    Args:
        apply_fn: the network, ``(params, [k, d]) -> [k]``, e.g. `MLPDiscriminator.apply`.
        params: the current parameters; training starts from them in mode ``persistent`` and
            ignores them otherwise.
        x: generated particles, array of shape `[n, d]`.
        y: target points, array of shape `[m, d]`.
        a: elementwise function of f on generated points (``Loss.a``).
        b: elementwise function of f on target points (``Loss.b``).
        lr: the learning rate ε > 0.
        steps: gradient steps per call (modes ``persistent`` and ``reset``); the thesis takes one.
        mode: one of `MODES`: ``persistent`` (start from `params`), ``reset`` (start from
            `init_params`), ``tau`` (start from `init_params`, take round(τ/ε) steps).
        init_params: the initial parameters θ₀, required in modes ``reset`` and ``tau``.
        tau: the training time τ > 0, required in mode ``tau``.

    Returns:
        The trained parameters, a pytree like `params`.

    Raises:
        ValueError: for mismatched or empty clouds, an unknown `mode`, ``lr ≤ 0``, ``steps < 1``,
            a missing `init_params` or `tau`.

    Examples:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> disc = mlp_discriminator(MLPKernel(), width=8, antisymmetric=True)
        >>> p0 = disc.init(jr.key(0), 2)
        >>> ident = lambda f: f
        >>> p = train_discriminator(disc.apply, p0, jnp.ones((3, 2)), jnp.zeros((4, 2)),
        ...                         a=ident, b=ident, lr=0.1, steps=5)
        >>> bool(disc.apply(p, jnp.ones((1, 2)))[0] > disc.apply(p, jnp.zeros((1, 2)))[0])
        True
    """
    x, y = check_clouds(x, y, names=("x", "y"), nonempty=True)
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}; got {mode!r}.")
    # A traced lr (e.g. a schedule inside jit) cannot be checked here; it is the caller's.
    if not isinstance(lr, jax.core.Tracer) and not lr > 0:
        raise ValueError(f"`lr` must be > 0; got {lr!r}.")
    n_steps = _num_steps(mode, steps, lr, tau)
    if mode == "persistent":
        start = params
    elif init_params is None:
        raise ValueError(f"`init_params` is required when mode={mode!r}.")
    else:
        start = init_params

    optimizer = optax.sgd(lr)
    # optax minimises: ascent on L is descent on −L.
    grad_fn = jax.grad(lambda p: -discriminator_loss(apply_fn, p, x, y, a, b))

    def step(carry, _):
        p, opt_state = carry
        updates, opt_state = optimizer.update(grad_fn(p), opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), None

    (trained, _), _ = lax.scan(step, (start, optimizer.init(start)), length=n_steps)
    return trained

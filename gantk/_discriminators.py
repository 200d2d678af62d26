r"""Infinite-width discriminators: the solution of the NTK training dynamics (thesis §6.4–6.5).

In the infinite-width limit a discriminator trained by gradient ascent on
:math:`\mathcal{L}(f) = \mathbb{E}_{\hat\alpha}[a(f)] - \mathbb{E}_{\hat\beta}[b(f)]` follows
(eq. 6.9) :math:`\partial_t f_t = \mathcal{T}_{k,\hat\gamma}(\nabla^{\hat\gamma}\mathcal{L}(f_t))`,
:math:`\hat\gamma = \frac12\hat\alpha + \frac12\hat\beta`. On the support
:math:`S = (x_1, \dots, x_n, y_1, \dots, y_m)` the functional gradient and the weights of
:math:`\hat\gamma` cancel, so every solution is a kernel expansion (Theorem 1, eq. 6.10):

.. math:: f_t(z) = f_0(z) + \sum_{s \in S} k(z, s)\, H_s(t), \qquad
    \dot H = g(F_0 + K H), \quad g(F) = \big[a'(F_x) / n,\; -b'(F_y) / m\big],

with :math:`K = k(S, S)` and :math:`F_0 = f_0(S)`. `KernelDiscriminator` holds ``(S, H)``; the
constructors below compute :math:`H(\tau)` in closed form (IPM, LSGAN) or with diffrax (any loss).
Reference: Franceschi et al., "A Neural Tangent Kernel Perspective of GANs", arXiv:2106.05566.
"""

from collections.abc import Callable

import diffrax as dfx
import jax
import jax.numpy as jnp
from flax import struct
from jax.tree_util import Partial
from jaxtyping import Array, ArrayLike, Float

from ._kernels import check_clouds, gram, gram_matvec
from ._losses import Loss, get_loss
from ._precision import full_precision

METHODS = ("auto", "closed_form", "ode")


@struct.dataclass
class KernelDiscriminator:
    r"""The function :math:`f(z) = f_0(z) + \sum_s k(z, s)\, \mathrm{coef}_s`.

    A pytree: it can be passed through `jax.jit` and `lax.scan`, and ``f(z)`` is differentiable in
    `z` (the generator's gradient :math:`\nabla_z c(f(z))`) with the support held fixed.

    Attributes:
        support: the points S, array of shape `[N, d]`.
        coef: the expansion coefficients H, array of shape `[N]`.
        f0: initial discriminator: ``None`` (f_0 ≡ 0), another `KernelDiscriminator`, or any
            pytree callable ``[k, d] -> [k]`` such as ``jax.tree_util.Partial(apply, params)``.
        kernel: the kernel k (static).
        block_size: rows of `z` per Gram block when evaluating (static).
    """

    support: Array
    coef: Array
    f0: Callable | None
    kernel: Callable = struct.field(pytree_node=False)
    block_size: int | None = struct.field(pytree_node=False, default=None)

    @full_precision
    def __call__(self, z: ArrayLike) -> Float[Array, " k"]:
        """Evaluates the discriminator on points `z` of shape `[k, d]`; returns shape `[k]`."""
        values = gram_matvec(self.kernel, z, self.support, self.coef, block_size=self.block_size)
        return values if self.f0 is None else values + self.f0(z)


def _as_pytree_callable(f0):
    if f0 is None or isinstance(f0, KernelDiscriminator | Partial):
        return f0
    if not callable(f0):
        raise TypeError(f"`f0` must be None or a callable [k, d] -> [k]; got {type(f0)}.")
    return Partial(f0)


def _support(x: ArrayLike, y: ArrayLike, f0) -> tuple[Array, Array, int, int]:
    x, y = check_clouds(x, y, names=("x", "y"), nonempty=True)
    n, m = x.shape[0], y.shape[0]
    support = jnp.concatenate([x, y])
    f0_values = jnp.zeros(n + m, support.dtype) if f0 is None else f0(support)
    return support, f0_values, n, m


def _support_gram(kernel: Callable, support: Array, n: int, block_size: int | None) -> Array:
    """Gram matrix `[n + m, n + m]` of the support ``S = [x; y]`` (`x` its first `n` rows).

    Built from k(x, x), k(x, y) and k(y, y), with k(y, x) = k(x, y)ᵀ: a quarter of the kernel
    evaluations saved, and K exactly symmetric.
    """
    x, y = support[:n], support[n:]
    k_xy = gram(kernel, x, y, block_size=block_size)
    k_xx = gram(kernel, x, x, block_size=block_size)
    k_yy = gram(kernel, y, y, block_size=block_size)
    return jnp.block([[k_xx, k_xy], [k_xy.T, k_yy]])


def _check_tau(tau: float) -> None:
    if isinstance(tau, int | float) and not tau >= 0:
        raise ValueError(f"`tau` (discriminator training time) must be ≥ 0; got {tau!r}.")


@full_precision
def ipm_discriminator(
    kernel: Callable,
    x: ArrayLike,
    y: ArrayLike,
    *,
    tau: float = 1.0,
    f0: Callable | None = None,
    block_size: int | None = None,
) -> KernelDiscriminator:
    r"""IPM discriminator after training time τ: :math:`f_\tau = f_0 + \tau f^*` (Prop. 4).

    :math:`f^* = \mathbb{E}_{x \sim \hat\alpha} k(x, \cdot)
    - \mathbb{E}_{y \sim \hat\beta} k(y, \cdot)` is the unnormalised MMD witness function.

    Args:
        kernel: the discriminator's NTK (any kernel callable).
        x: generated particles, shape `[n, d]`.
        y: target points, shape `[m, d]`.
        tau: training time of the discriminator (learning rate × number of steps).
        f0: initial discriminator (see `KernelDiscriminator`); ``None`` for f_0 ≡ 0.
        block_size: rows per Gram block when the discriminator is evaluated.

    Returns:
        The discriminator as a `KernelDiscriminator`.

    Examples:
        >>> import jax.numpy as jnp
        >>> from gantk import MLPKernel
        >>> f = ipm_discriminator(MLPKernel(), jnp.zeros((2, 2)), jnp.ones((3, 2)))
        >>> f(jnp.zeros((5, 2))).shape
        (5,)
    """
    _check_tau(tau)
    f0 = _as_pytree_callable(f0)
    support, _, n, m = _support(x, y, None)
    coef = tau * jnp.concatenate([jnp.full(n, 1.0 / n), jnp.full(m, -1.0 / m)])
    coef = coef.astype(support.dtype)
    return KernelDiscriminator(support, coef, f0, kernel, block_size)


@full_precision
def lsgan_discriminator(
    kernel: Callable,
    x: ArrayLike,
    y: ArrayLike,
    *,
    tau: float = 1.0,
    f0: Callable | None = None,
    block_size: int | None = None,
) -> KernelDiscriminator:
    r"""LSGAN discriminator after training time τ, in closed form (Prop. 5).

    On the support, :math:`F_\tau = \rho + e^{-4\tau K D}(F_0 - \rho)` with
    :math:`D = \mathrm{diag}(\hat\gamma)` and :math:`\rho = \mathrm{d}(\hat\beta - \hat\alpha) /
    \mathrm{d}(\hat\beta + \hat\alpha)` (−1 on particles, +1 on targets). With the symmetric
    :math:`D^{1/2} K D^{1/2} = V \Lambda V^\top` (one `eigh`), the expansion is

    .. math:: H = -D^{1/2} V\, \varphi_\tau(\Lambda)\, V^\top D^{1/2} (F_0 - \rho), \qquad
        \varphi_\tau(\lambda) = (1 - e^{-4\tau\lambda}) / \lambda \;(\to 4\tau \text{ at } 0).

    Args:
        kernel: the discriminator's NTK.
        x: generated particles, shape `[n, d]`.
        y: target points, shape `[m, d]`.
        tau: training time of the discriminator.
        f0: initial discriminator; ``None`` for f_0 ≡ 0.
        block_size: rows per Gram block (for K and for evaluation).

    Returns:
        The discriminator as a `KernelDiscriminator`.
    """
    _check_tau(tau)
    f0 = _as_pytree_callable(f0)
    support, f0_values, n, m = _support(x, y, f0)
    dtype = support.dtype
    weights = jnp.concatenate([jnp.full(n, 0.5 / n), jnp.full(m, 0.5 / m)])  # γ̂ = ½α̂ + ½β̂
    sqrt_w = jnp.sqrt(weights).astype(dtype)
    rho = jnp.concatenate([-jnp.ones(n, dtype), jnp.ones(m, dtype)])
    k_ss = _support_gram(kernel, support, n, block_size)
    eigvals, eigvecs = jnp.linalg.eigh(sqrt_w[:, None] * k_ss * sqrt_w[None, :])
    # Rounding can make the PSD spectrum slightly negative; the flow of a negative mode is not
    # the model's, so clamp. φ uses expm1 to stay accurate for small 4τλ.
    eigvals = jnp.maximum(eigvals, 0.0)
    safe = jnp.where(eigvals > 0, eigvals, 1.0)
    phi = jnp.where(eigvals > 0, -jnp.expm1(-4.0 * tau * safe) / safe, 4.0 * tau)
    coef = -sqrt_w * (eigvecs @ (phi * (eigvecs.T @ (sqrt_w * (f0_values - rho)))))
    return KernelDiscriminator(support, coef, f0, kernel, block_size)


@full_precision
def ode_discriminator(
    kernel: Callable,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str | Loss,
    tau: float = 1.0,
    f0: Callable | None = None,
    solver: dfx.AbstractSolver | None = None,
    stepsize_controller: dfx.AbstractStepSizeController | None = None,
    dt0: float | None = None,
    max_steps: int = 4096,
    block_size: int | None = None,
) -> KernelDiscriminator:
    r"""Discriminator for any loss ``(a, b)``, by integrating the finite ODE on the support.

    Solves :math:`\dot H = g(F_0 + K H)`, :math:`H(0) = 0`, with
    :math:`g(F) = [a'(F_x)/n, -b'(F_y)/m]` up to time τ with diffrax (Theorem 1), then extends
    the solution to every point through the kernel. Each step costs one `[N, N]` mat-vec.

    Args:
        kernel: the discriminator's NTK.
        x: generated particles, shape `[n, d]`.
        y: target points, shape `[m, d]`.
        loss: a name from `gantk.LOSSES` or a `Loss`.
        tau: training time of the discriminator.
        f0: initial discriminator; ``None`` for f_0 ≡ 0.
        solver: a diffrax solver; default `Tsit5` (use an implicit one, e.g. `Kvaerno5`, when
            4τλ_max(KD) is large: the ODE is then stiff).
        stepsize_controller: default adaptive `PIDController(rtol=1e-6, atol=1e-6)`.
        dt0: initial step; default τ/16.
        max_steps: cap on solver steps.
        block_size: rows per Gram block.

    Returns:
        The discriminator as a `KernelDiscriminator`.
    """
    _check_tau(tau)
    loss = get_loss(loss)
    f0 = _as_pytree_callable(f0)
    support, f0_values, n, m = _support(x, y, f0)
    k_ss = _support_gram(kernel, support, n, block_size)
    grad_a = jax.vmap(jax.grad(loss.a))
    grad_b = jax.vmap(jax.grad(loss.b))

    def field(t, h, args):
        f0_values, k_ss = args
        values = f0_values + k_ss @ h
        return jnp.concatenate([grad_a(values[:n]) / n, -grad_b(values[n:]) / m])

    solution = dfx.diffeqsolve(
        dfx.ODETerm(field),
        dfx.Tsit5() if solver is None else solver,
        t0=0.0,
        t1=tau,
        dt0=tau / 16 if dt0 is None else dt0,
        y0=jnp.zeros_like(f0_values),
        args=(f0_values, k_ss),
        stepsize_controller=(
            dfx.PIDController(rtol=1e-6, atol=1e-6)
            if stepsize_controller is None
            else stepsize_controller
        ),
        max_steps=max_steps,
    )
    return KernelDiscriminator(support, solution.ys[-1], f0, kernel, block_size)


@full_precision
def discriminator(
    kernel: Callable,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str | Loss,
    tau: float = 1.0,
    f0: Callable | None = None,
    method: str = "auto",
    block_size: int | None = None,
) -> KernelDiscriminator:
    """The infinite-width discriminator trained for time τ with `loss`.

    Args:
        kernel: the discriminator's NTK.
        x: generated particles, shape `[n, d]`.
        y: target points, shape `[m, d]`.
        loss: a name from `gantk.LOSSES` or a `Loss`.
        tau: training time.
        f0: initial discriminator; ``None`` for f_0 ≡ 0.
        method: ``"closed_form"`` (IPM and LSGAN only), ``"ode"`` (any loss) or ``"auto"``
            (closed form when there is one).
        block_size: rows per Gram block.

    Returns:
        The discriminator as a `KernelDiscriminator`.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")
    closed_forms = {"ipm": ipm_discriminator, "lsgan": lsgan_discriminator}
    name = next((k for k, v in closed_forms.items() if get_loss(loss) == get_loss(k)), None)
    if method == "closed_form" and name is None:
        raise ValueError(f"`method='closed_form'` exists only for losses {sorted(closed_forms)}.")
    common = dict(tau=tau, f0=f0, block_size=block_size)
    if method != "ode" and name is not None:
        return closed_forms[name](kernel, x, y, **common)
    return ode_discriminator(kernel, x, y, loss=loss, **common)

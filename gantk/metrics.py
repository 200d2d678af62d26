r"""Distances between point clouds: the Sinkhorn divergence of the thesis' tables, and the MMD.

Both functions are jitted and run on device, so a particle flow can evaluate them between chunks
of its `lax.scan` without a host round-trip.
"""

import functools
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from ._kernels import check_clouds, gram
from ._precision import full_precision

# A jaxtyping alias assigned here rather than written inline, where linters parse the axis string
# as a forward reference.
Scalar = Float[Array, ""]

# ott-jax 0.6 imports jaxopt, which warns on import that it is unmaintained: nothing a user of
# gantk can act on, and an error under pytest's warnings-as-errors. Silence that warning only.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="JAXopt is no longer maintained", category=DeprecationWarning
    )
    from ott.geometry import costs, epsilon_scheduler, pointcloud
    from ott.tools import sinkhorn_divergence as ott_divergence


@functools.partial(jax.jit, static_argnames=("blur", "scaling", "threshold", "max_iterations"))
@full_precision
def sinkhorn_divergence(
    x: ArrayLike,
    y: ArrayLike,
    *,
    blur: float = 1e-3,
    scaling: float = 0.95,
    threshold: float = 1e-3,
    max_iterations: int = 400,
) -> Scalar:
    r"""Debiased Sinkhorn divergence with geomloss' semantics (p = 2), computed by ott-jax.

    .. math:: S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
        - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta),
        \qquad c(x, y) = \tfrac12 \|x - y\|^2, \quad \varepsilon = \mathrm{blur}^2,

    between the uniform measures on `x` and `y` (Feydy et al., arXiv:1810.08278). As in geomloss'
    ``SamplesLoss("sinkhorn", p=2, blur, scaling)``, the one the thesis uses for its tables
    (appendix D.3.2), ε is annealed geometrically from diameter² (the squared diagonal of the
    bounding box of both clouds) down to blur², multiplied by scaling² at each Sinkhorn iteration.
    With the defaults, S is close to ½ W₂²: a translated cloud gives
    :math:`S(x, x + v) = \|v\|^2 / 2`.

    In ott-jax this is ``PointCloud(cost_fn=SqEuclidean(), scale_cost=2.0)`` (ott's cost
    ‖x − y‖² divided by 2) with ``Epsilon(target=blur², init=diameter² / blur², decay=scaling²)``:
    ott's `init` is a multiple of the target, not an absolute ε.

    Args:
        x: array of shape `[n, d]`.
        y: array of shape `[m, d]`.
        blur: the final entropic blur √ε (same units as the points).
        scaling: the ε-scaling factor per iteration of √ε, in (0, 1).
        threshold: marginal-error tolerance at which ott's Sinkhorn stops.
        max_iterations: the most Sinkhorn iterations of each of the three problems.

    Returns:
        A scalar. Values of order 1e-9 are float32 rounding, i.e. 0.

    Raises:
        ValueError: for empty clouds, mismatched dimensions, or out-of-range `blur`/`scaling`.

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> round(float(sinkhorn_divergence(x, x + jnp.array([[0.3, 0.4]]))), 4)
        0.125
    """
    x, y = check_clouds(x, y, names=("x", "y"), nonempty=True)
    if not blur > 0:
        raise ValueError(f"`blur` must be > 0; got {blur!r}.")
    if not 0 < scaling < 1:
        raise ValueError(f"`scaling` must be in (0, 1); got {scaling!r}.")
    both = jnp.concatenate([x, y])
    # Only the schedule depends on the diameter: no gradient flows through it (as in geomloss).
    diameter2 = jax.lax.stop_gradient(jnp.sum((both.max(axis=0) - both.min(axis=0)) ** 2))
    # A zero diameter (all points equal) still needs ε ≥ blur² from the first iteration.
    init = jnp.maximum(diameter2 / blur**2, 1.0)
    epsilon = epsilon_scheduler.Epsilon(target=blur**2, init=init, decay=scaling**2)
    # ott broadcasts ranks implicitly (e.g. `[n] ** [1, 1]` in its marginal error): allow it for
    # this call even where the caller has set jax_numpy_rank_promotion="raise".
    with jax.numpy_rank_promotion("allow"):
        value, _ = ott_divergence.sinkhorn_divergence(
            pointcloud.PointCloud,
            x,
            y,
            cost_fn=costs.SqEuclidean(),
            scale_cost=2.0,
            epsilon=epsilon,
            solve_kwargs=dict(threshold=threshold, max_iterations=max_iterations),
        )
    # Far-apart clouds (a diverged flow) overflow the float32 log-sum-exp and ott returns −inf:
    # report NaN, "not computable", rather than a meaningless negative infinity.
    return jnp.where(jnp.isfinite(value), value, jnp.nan)


@functools.partial(jax.jit, static_argnames=("kernel", "block_size"))
@full_precision
def mmd(
    kernel: Callable[[Array, Array], Array],
    x: ArrayLike,
    y: ArrayLike,
    *,
    block_size: int | None = None,
) -> Scalar:
    r"""Squared maximum mean discrepancy between two clouds (biased V-statistic).

    .. math:: \mathrm{MMD}^2(\hat\alpha, \hat\beta) = \frac{1}{n^2}\sum_{i,i'} k(x_i, x_{i'})
        + \frac{1}{m^2}\sum_{j,j'} k(y_j, y_{j'}) - \frac{2}{nm}\sum_{i,j} k(x_i, y_j),

    the squared RKHS norm of the witness :math:`\mathbb{E}_{\hat\alpha} k(x, \cdot) -
    \mathbb{E}_{\hat\beta} k(y, \cdot)` (Gretton et al., arXiv:0805.2368). The V-statistic keeps
    the diagonal terms, so MMD²(x, x) = 0 exactly and the value is ≥ 0 up to rounding for a
    positive semi-definite kernel.

    Args:
        kernel: a hashable kernel ``(x1 [n, d], x2 [m, d]) -> [n, m]`` (e.g. `MLPKernel`,
            `RBFKernel`, or a module-level function); it is a static argument of `jax.jit`.
        x: array of shape `[n, d]`.
        y: array of shape `[m, d]`.
        block_size: rows per block of the Gram matrices (`gantk._kernels.gram`), bounding memory;
            ``None`` computes each in one piece.

    Returns:
        A scalar.

    Raises:
        ValueError: for empty clouds or mismatched dimensions.

    Examples:
        >>> import jax.numpy as jnp
        >>> from gantk._kernels import RBFKernel
        >>> x = jnp.arange(6.0).reshape(3, 2)
        >>> float(mmd(RBFKernel(), x, x))
        0.0
    """
    x, y = check_clouds(x, y, names=("x", "y"), nonempty=True)
    k_xx = gram(kernel, x, x, block_size=block_size)
    k_yy = gram(kernel, y, y, block_size=block_size)
    k_xy = gram(kernel, x, y, block_size=block_size)
    # The barrier keeps XLA from folding the 1/n² scalings into the final sum as fused
    # multiply-adds, whose unrounded products would leave a rounding residual (~1e-9) for x = y;
    # with rounded means the combination below is exactly 0 when the three means are equal.
    m_xx, m_yy, m_xy = lax.optimization_barrier((jnp.mean(k_xx), jnp.mean(k_yy), jnp.mean(k_xy)))
    return (m_xx + m_yy) - 2.0 * m_xy

r"""Gradient fields of the Dirac GAN in the infinite-width regime (thesis §6.6.3, Fig. 6.6–6.7).

With one generated point and one target, :math:`\hat\alpha = \delta_x`, :math:`\hat\beta =
\delta_y`, the generated point moves along :math:`-\nabla_x c(f^\star(x))`, the discriminator
being trained on the two points. An MLP's NTK depends on its arguments only through their norms and
inner product (and an RBF kernel through their distance), so the field at any
:math:`x \in \mathrm{Span}\{x_0, y\}` lies in that plane whatever the dimension d: a d-dimensional
field is drawn exactly by computing it at points of the plane embedded in
:math:`\mathbb{R}^d`.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._discriminators import discriminator
from ._losses import Loss, get_loss
from ._precision import full_precision


@full_precision
def dirac_gan_field(
    kernel: Callable,
    loss: str | Loss,
    x: ArrayLike,
    y: ArrayLike,
    *,
    tau: float = 1.0,
    method: str = "auto",
) -> Float[Array, " d"]:
    r"""Generator gradient :math:`\nabla_x c(f^\star(x))` for one point against one target.

    Args:
        kernel: the discriminator's NTK.
        loss: a name from `gantk.LOSSES` or a `Loss`.
        x: the generated point, shape `[d]`.
        y: the target point, shape `[d]`.
        tau: discriminator training time.
        method: discriminator solver (see `gantk.discriminator`).

    Returns:
        The gradient, shape `[d]` (the point moves along its negative).
    """
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"`x` and `y` must be vectors of one shape [d]; got {x.shape}, {y.shape}.")
    loss = get_loss(loss)
    f = discriminator(kernel, x[None], y[None], loss=loss, tau=tau, method=method)
    return jax.grad(lambda z: loss.c(f(z[None]))[0])(x)


@full_precision
def plane_field(
    kernel: Callable,
    loss: str | Loss,
    coords: ArrayLike,
    *,
    dim: int = 2,
    basis: ArrayLike | None = None,
    tau: float = 1.0,
    method: str = "auto",
) -> Float[Array, "k 2"]:
    r"""Dirac-GAN gradient field on a plane of :math:`\mathbb{R}^d`, in plane coordinates.

    The target is :math:`y = e_1` (unit norm) and the generated point
    :math:`x = a\, e_1 + b\, e_2` for each row ``(a, b)`` of `coords`, with :math:`(e_1, e_2)`
    the orthonormal `basis` of the plane (default: the first two axes). The returned vectors are
    the gradients projected on the basis; by the kernel's rotation invariance the gradient has no
    component outside the plane.

    Args:
        kernel: the discriminator's NTK.
        loss: a name from `gantk.LOSSES` or a `Loss`.
        coords: plane coordinates of the generated point, shape `[k, 2]`.
        dim: the data dimension d ≥ 2.
        basis: orthonormal rows ``(e_1, e_2)``, shape `[2, d]`.
        tau: discriminator training time.
        method: discriminator solver.

    Returns:
        Gradients in plane coordinates, shape `[k, 2]`.
    """
    coords = jnp.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"`coords` must have shape [k, 2]; got {coords.shape}.")
    if dim < 2:
        raise ValueError(f"`dim` must be ≥ 2 for a plane; got {dim!r}.")
    basis = jnp.eye(2, dim, dtype=coords.dtype) if basis is None else jnp.asarray(basis)
    if basis.shape != (2, dim):
        raise ValueError(f"`basis` must have shape [2, dim] = [2, {dim}]; got {basis.shape}.")
    y = basis[0]

    def one(c):
        return basis @ dirac_gan_field(kernel, loss, c @ basis, y, tau=tau, method=method)

    return jax.vmap(one)(coords)

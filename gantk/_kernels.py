r"""Infinite-width discriminator kernels: MLP NTK/NNGP from neural-tangents, the RBF baseline.

A kernel is any callable ``k(x1, x2) -> [n, m]`` on point clouds ``x1 [n, d]`` and ``x2 [m, d]``.
The classes below are frozen (hashable by value) dataclasses, so a kernel can be a static
argument of `jax.jit` without retracing when an equal kernel is built again.
"""

import abc
import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import erf
from jaxtyping import Array, ArrayLike, Float

from ._nt import stax
from ._precision import full_precision

# Constant of the paper's erf "sigmoid" (thesis App. D.3.2): ½(erf(x / c) + 1) ≈ σ(x) on [−5, 5],
# chosen by neural-tangents so that the NTK of the network has a closed form.
SIGMOID_LIKE_SCALE = 2.4020563531719796


def _sigmoid_like(x: ArrayLike) -> Array:
    return 0.5 * (erf(jnp.asarray(x) / SIGMOID_LIKE_SCALE) + 1.0)


# One place for each activation: its closed-form stax layer (infinite width) and the elementwise
# function a finite-width network applies (gantk._networks), so both regimes always agree.
ACTIVATIONS: dict[str, tuple[Callable[[float], tuple], Callable[[Array, float], Array]]] = {
    "relu": (lambda slope: stax.Relu(), lambda x, slope: jax.nn.relu(x)),
    "sigmoid": (lambda slope: stax.Sigmoid_like(), lambda x, slope: _sigmoid_like(x)),
    "sine": (lambda slope: stax.Sin(), lambda x, slope: jnp.sin(x)),
    "gelu": (
        lambda slope: stax.Gelu(approximate=False),
        lambda x, slope: jax.nn.gelu(x, approximate=False),
    ),
    "leaky_relu": (
        lambda slope: stax.LeakyRelu(slope),
        lambda x, slope: jax.nn.leaky_relu(x, slope),
    ),
}
KINDS = ("ntk", "nngp")


def check_clouds(
    a: ArrayLike, b: ArrayLike, *, names: tuple[str, str] = ("x1", "x2"), nonempty: bool = False
) -> tuple[Array, Array]:
    """Checks two point clouds `[n, d]` and `[m, d]` (one place for every gantk entry point).

    Args:
        a: first cloud.
        b: second cloud.
        names: the argument names the error messages use.
        nonempty: also reject clouds without points.

    Returns:
        Both clouds as arrays.

    Raises:
        ValueError: naming the argument, for a cloud that is not 2-D (or is empty when
            `nonempty`), or for clouds of different dimensions.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    for cloud, name, rows in ((a, names[0], "n"), (b, names[1], "m")):
        if cloud.ndim != 2 or (nonempty and cloud.shape[0] == 0):
            kind = "a non-empty point cloud" if nonempty else "a point cloud"
            raise ValueError(f"`{name}` must be {kind} of shape [{rows}, d]; got {cloud.shape}.")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same dimension d; got {names[0]} "
            f"{a.shape} and {names[1]} {b.shape}."
        )
    return a, b


class AbstractKernel(abc.ABC):
    """A positive semi-definite kernel ``k(x1 [n, d], x2 [m, d]) -> [n, m]``."""

    @full_precision
    def __call__(self, x1: ArrayLike, x2: ArrayLike) -> Float[Array, "n m"]:
        """Evaluates the Gram matrix ``k(x1_i, x2_j)``.

        Args:
            x1: array of shape `[n, d]`.
            x2: array of shape `[m, d]`.

        Returns:
            Array of shape `[n, m]`.
        """
        return self.evaluate(*check_clouds(x1, x2))

    @abc.abstractmethod
    def evaluate(self, x1: Array, x2: Array) -> Array:
        """Gram matrix of already-checked clouds `[n, d]` and `[m, d]`."""


@functools.lru_cache(maxsize=64)
def _mlp_kernel_fn(activation: str, depth: int, w_std: float, b_std: float | None, slope: float):
    layer, _ = ACTIVATIONS[activation]
    hidden = [stax.Dense(1, W_std=w_std, b_std=b_std), layer(slope)] * depth
    _, _, kernel_fn = stax.serial(*hidden, stax.Dense(1, W_std=w_std, b_std=b_std))
    return kernel_fn


@dataclasses.dataclass(frozen=True)
class MLPKernel(AbstractKernel):
    r"""NTK (or NNGP) of an infinitely wide MLP in the standard NTK parameterisation.

    The network has `depth` hidden layers, each ``x ↦ φ(W x / √fan_in · w_std + b · b_std)``, and a
    linear output layer of the same form. Its NTK is computed in closed form by neural-tangents
    (arXiv:1806.07572, arXiv:1912.02803); e.g. for ReLU the arc-cosine recursion.

    Attributes:
        activation: one of ``relu``, ``sigmoid`` (the erf sigmoid ½(erf(x/2.4020…) + 1) of the
            thesis), ``sine``, ``gelu``, ``leaky_relu``.
        depth: number of hidden layers (the thesis uses 3).
        w_std: standard deviation of the weights.
        b_std: standard deviation of the biases, or ``None`` for a network without bias.
        kind: ``"ntk"`` (trained discriminator) or ``"nngp"`` (random-features limit).
        negative_slope: slope of ``leaky_relu`` for negative inputs.

    Examples:
        >>> import jax.numpy as jnp
        >>> k = MLPKernel(activation="relu")
        >>> k(jnp.ones((3, 2)), jnp.zeros((4, 2))).shape
        (3, 4)
    """

    activation: str = "relu"
    depth: int = 3
    w_std: float = 1.0
    b_std: float | None = 1.0
    kind: str = "ntk"
    negative_slope: float = 0.01

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {sorted(ACTIVATIONS)}; got {self.activation!r}."
            )
        if not (isinstance(self.depth, int) and self.depth >= 1):
            raise ValueError(f"`depth` must be an integer ≥ 1; got {self.depth!r}.")
        if not self.w_std > 0:
            raise ValueError(f"`w_std` must be > 0; got {self.w_std!r}.")
        if self.b_std is not None and not self.b_std >= 0:
            raise ValueError(f"`b_std` must be ≥ 0 or None (no bias); got {self.b_std!r}.")
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}; got {self.kind!r}.")

    @property
    def kernel_fn(self):
        """The neural-tangents `kernel_fn` of the architecture."""
        return _mlp_kernel_fn(
            self.activation, self.depth, float(self.w_std), self.b_std, float(self.negative_slope)
        )

    def evaluate(self, x1: Array, x2: Array) -> Array:  # noqa: D102
        return self.kernel_fn(x1, x2, self.kind)


@dataclasses.dataclass(frozen=True)
class RBFKernel(AbstractKernel):
    r"""Gaussian kernel :math:`k(x, y) = \exp(-\|x - y\|^2 / (2 \ell^2))`.

    Attributes:
        bandwidth: the length scale ℓ; ``None`` uses ℓ² = d, the data dimension, as in the
            thesis' RBF baseline.

    Examples:
        >>> import jax.numpy as jnp
        >>> float(RBFKernel()(jnp.zeros((1, 2)), jnp.zeros((1, 2)))[0, 0])
        1.0
    """

    bandwidth: float | None = None

    def __post_init__(self):
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ValueError(f"`bandwidth` must be > 0 or None; got {self.bandwidth!r}.")

    def evaluate(self, x1: Array, x2: Array) -> Array:  # noqa: D102
        scale2 = x1.shape[1] if self.bandwidth is None else self.bandwidth**2
        # Expanded form: O(n·m) memory (the difference form holds [n, m, d], 4 GB for MNIST
        # clouds). Clamped at 0 against rounding; its gradient 2(x − y) stays exact.
        sq = (
            jnp.sum(x1 * x1, axis=1)[:, None]
            + jnp.sum(x2 * x2, axis=1)[None, :]
            - 2.0 * x1 @ x2.T
        )
        return jnp.exp(-jnp.maximum(sq, 0.0) / (2.0 * scale2))


@dataclasses.dataclass(frozen=True)
class StaxKernel(AbstractKernel):
    """Wraps any neural-tangents ``kernel_fn`` (e.g. from ``stax.serial``) as a kernel.

    Attributes:
        kernel_fn: the analytic kernel function of a `stax` architecture.
        kind: ``"ntk"`` or ``"nngp"``.
    """

    kernel_fn: Callable
    kind: str = "ntk"

    def __post_init__(self):
        if not callable(self.kernel_fn):
            raise TypeError(f"`kernel_fn` must be a stax kernel_fn; got {type(self.kernel_fn)}.")
        if self.kind not in KINDS:
            raise ValueError(f"`kind` must be one of {KINDS}; got {self.kind!r}.")

    def evaluate(self, x1: Array, x2: Array) -> Array:  # noqa: D102
        return self.kernel_fn(x1, x2, self.kind)


@full_precision
def gram(
    kernel: Callable, x1: ArrayLike, x2: ArrayLike, *, block_size: int | None = None
) -> Float[Array, "n m"]:
    """Gram matrix ``k(x1, x2)`` computed ``block_size`` rows of `x1` at a time.

    Row blocks bound the memory of the kernel's intermediates (a deep NTK holds several `[n, m]`
    arrays at once) to ``O(block_size · m)``; the blocks run under `lax.map` and are
    rematerialised in the backward pass, so gradients stay within that bound as well.

    Args:
        kernel: a kernel ``(x1 [b, d], x2 [m, d]) -> [b, m]``.
        x1: array of shape `[n, d]`.
        x2: array of shape `[m, d]`.
        block_size: rows per block, or ``None`` for a single block.

    Returns:
        Array of shape `[n, m]`.

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(10.0).reshape(5, 2)
        >>> bool(jnp.allclose(gram(RBFKernel(), x, x, block_size=2), RBFKernel()(x, x)))
        True
    """
    x1, x2 = check_clouds(x1, x2)
    return _by_row_blocks(lambda xb: kernel(xb, x2), x1, block_size)


@full_precision
def gram_matvec(
    kernel: Callable, x1: ArrayLike, x2: ArrayLike, v: ArrayLike, *, block_size: int | None = None
) -> Array:
    """``k(x1, x2) @ v`` without the whole Gram matrix: ``block_size`` rows of `x1` at a time.

    Memory is ``O(block_size · m)`` in the forward and the backward pass (blocks are
    rematerialised), where `gram(...) @ v` would hold all ``n · m`` entries: what lets a flow of
    10⁵ particles evaluate its discriminator.

    Args:
        kernel: a kernel ``(x1 [b, d], x2 [m, d]) -> [b, m]``.
        x1: array of shape `[n, d]`.
        x2: array of shape `[m, d]`.
        v: array of shape `[m]` or `[m, k]`.
        block_size: rows per block, or ``None`` for a single block.

    Returns:
        Array of shape `[n]` or `[n, k]`.
    """
    x1, x2 = check_clouds(x1, x2)
    v = jnp.asarray(v)
    return _by_row_blocks(lambda xb: kernel(xb, x2) @ v, x1, block_size)


def _by_row_blocks(fn: Callable, x1: Array, block_size: int | None) -> Array:
    """`fn(x1)` computed `block_size` rows at a time (`fn` acts row-wise), under `lax.map`."""
    n = x1.shape[0]
    if block_size is not None and block_size < 1:
        raise ValueError(f"`block_size` must be a positive integer or None; got {block_size!r}.")
    if block_size is None or n <= block_size:
        return fn(x1)
    blocks = math.ceil(n / block_size)
    # Pad by repeating the last row (zeros could sit on a kernel's kink, e.g. bias-free ReLU at 0).
    padded = jnp.concatenate([x1, jnp.repeat(x1[-1:], blocks * block_size - n, axis=0)])
    # Rematerialised blocks: a gradient through the map recomputes each block's intermediates
    # instead of storing them all, so the backward pass is bounded by one block too.
    out = lax.map(jax.checkpoint(fn), padded.reshape(blocks, block_size, -1))
    return out.reshape(blocks * block_size, *out.shape[2:])[:n]

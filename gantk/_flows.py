r"""Particle gradient flows induced by a discriminator (thesis eq. 6.11–6.12).

Each generated particle moves down the generator's cost of the trained discriminator,

.. math:: x_i \leftarrow x_i + \eta\, v_i, \qquad
    v = -\nabla_{x}\, \frac1n \sum_{i=1}^n c\big(f^\star_{\hat\alpha}(x_i)\big),

with :math:`f^\star_{\hat\alpha}` re-trained from the current particles at every step. The
:math:`1/n` uses the global particle count, so the flow does not depend on how many devices hold
the particles. With a generator kernel :math:`k_g` over latents :math:`z_i` the velocities are
mixed by its integral operator (eq. 6.11, the "Stein geometry" case):
:math:`v_i \leftarrow \frac1n \sum_j k_g(z_i, z_j)\, v_j`.

A flow is a frozen dataclass (static configuration) with pure ``init``/``step`` functions, in the
style of optax; `run_flow` scans it, fully jitted, and keeps snapshots.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.tree_util import Partial
from jaxtyping import Array, ArrayLike, Float

from ._discriminators import METHODS, KernelDiscriminator, discriminator
from ._kernels import check_clouds, gram
from ._losses import get_loss
from ._networks import MODES, MLPDiscriminator, train_discriminator
from ._precision import full_precision


class FlowState(NamedTuple):
    """State of a particle flow.

    Attributes:
        x: particles, `[n, d]`.
        step: number of steps taken, int32 scalar.
        latents: latent code of each particle, `[n, d_z]`, or an empty `[n, 0]` array when the
            flow is not coupled through a generator kernel.
        discriminator: finite-width discriminator state (pytree), or ``None`` at infinite width.
    """

    x: Array
    step: Array
    latents: Array
    discriminator: object = None


def _check_eta(eta: float) -> None:
    if not eta > 0:
        raise ValueError(f"`eta` (particle step size) must be > 0; got {eta!r}.")


@full_precision
def couple_velocities(
    generator_kernel: Callable, latents: Array, v: Array, *, block_size: int | None = None
) -> Array:
    r"""Mixes velocities through the generator kernel: :math:`\frac1n\sum_j k_g(z_i, z_j) v_j`.

    Args:
        generator_kernel: scalar kernel over latents (the NTK of an infinitely wide generator is
            this kernel times the identity on the output space).
        latents: `[n, d_z]`.
        v: velocities `[n, d]`.
        block_size: rows per Gram block.

    Returns:
        Coupled velocities, `[n, d]`.
    """
    k_g = gram(generator_kernel, latents, latents, block_size=block_size)
    return k_g @ v / v.shape[0]


@dataclasses.dataclass(frozen=True)
class InfiniteWidthFlow:
    r"""Particle flow of an infinitely wide discriminator, re-trained for time τ every step.

    Attributes:
        kernel: the discriminator's NTK.
        loss: name of the loss in `gantk.LOSSES`.
        eta: particle step size η.
        tau: discriminator training time τ between particle updates.
        method: ``"auto"``, ``"closed_form"`` or ``"ode"`` (see `gantk.discriminator`).
        generator_kernel: optional kernel over latents coupling the velocities (eq. 6.11).
        block_size: rows per Gram block, bounding memory for large clouds.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from gantk import MLPKernel
        >>> flow = InfiniteWidthFlow(MLPKernel(), "ipm", eta=10.0)
        >>> y = jnp.ones((4, 2))
        >>> state = flow.init(jnp.zeros((3, 2)))
        >>> flow.step(state, y).x.shape
        (3, 2)
    """

    kernel: Callable
    loss: str = "ipm"
    eta: float = 1000.0
    tau: float = 1.0
    method: str = "auto"
    generator_kernel: Callable | None = None
    block_size: int | None = None

    def __post_init__(self):
        get_loss(self.loss)
        _check_eta(self.eta)
        if not self.tau >= 0:
            raise ValueError(f"`tau` must be ≥ 0; got {self.tau!r}.")
        if self.method not in METHODS:
            raise ValueError(f"`method` must be one of {METHODS}; got {self.method!r}.")

    def init(self, x0: ArrayLike, *, latents: ArrayLike | None = None) -> FlowState:
        """Initial state from particles `x0 [n, d]` (and latents `[n, d_z]` when coupled)."""
        x0 = jnp.asarray(x0)
        return FlowState(x0, jnp.zeros((), jnp.int32), _latents(self.generator_kernel, x0, latents))

    def discriminator_fn(self, state: FlowState, y: ArrayLike) -> KernelDiscriminator:
        """The discriminator trained on the particles of `state` and the targets `y`."""
        return discriminator(
            self.kernel, state.x, y, loss=self.loss, tau=self.tau, method=self.method,
            block_size=self.block_size,
        )

    @full_precision
    def velocity(self, x: Array, y: Array, latents: Array) -> Float[Array, "n d"]:
        """The velocity field ``v [n, d]`` at particles `x` for targets `y [m, d]`."""
        loss = get_loss(self.loss)
        f = self.discriminator_fn(FlowState(x, jnp.zeros((), jnp.int32), latents), y)
        v = -jax.grad(lambda z: jnp.mean(loss.c(f(z))))(x)
        if self.generator_kernel is not None:
            v = couple_velocities(self.generator_kernel, latents, v, block_size=self.block_size)
        return v

    @full_precision
    def step(self, state: FlowState, y: ArrayLike) -> FlowState:
        """One particle update ``x ← x + η v(x)``."""
        x, y = check_clouds(state.x, y, names=("x", "y"), nonempty=True)
        x = x + self.eta * self.velocity(x, y, state.latents)
        return state._replace(x=x, step=state.step + 1)


@dataclasses.dataclass(frozen=True)
class FiniteWidthFlow:
    r"""Particle flow of a finite-width discriminator trained alongside the particles.

    At every update the discriminator takes `disc_steps` full-batch gradient-ascent steps of size
    ε on the current clouds (`gantk.train_discriminator`, mode ``persistent``, ``reset`` or
    ``tau``), then every particle moves down :math:`c(f_\theta(x))` (thesis App. D.3.2).

    Attributes:
        network: the discriminator, e.g. ``mlp_discriminator(MLPKernel("relu"))``.
        loss: name of the loss in `gantk.LOSSES`.
        eta: particle step size η.
        lr: discriminator learning rate ε.
        disc_steps: discriminator steps per particle update (the thesis takes 1).
        mode: ``persistent``, ``reset`` (re-initialised every update) or ``tau``.
        tau: training time for mode ``tau`` (round(τ/ε) steps).
        generator_kernel: optional kernel over latents coupling the velocities (eq. 6.11).
    """

    network: MLPDiscriminator
    loss: str = "ipm"
    eta: float = 100.0
    lr: float = 0.01
    disc_steps: int = 1
    mode: str = "persistent"
    tau: float | None = None
    generator_kernel: Callable | None = None

    def __post_init__(self):
        get_loss(self.loss)
        _check_eta(self.eta)
        if not self.lr > 0:
            raise ValueError(f"`lr` (discriminator learning rate) must be > 0; got {self.lr!r}.")
        if self.mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}; got {self.mode!r}.")

    def init(
        self, x0: ArrayLike, *, key: jax.Array, latents: ArrayLike | None = None
    ) -> FlowState:
        """Initial state: particles `x0 [n, d]` and freshly initialised discriminator parameters.

        The state's ``discriminator`` is ``(params, init_params)``; the second is kept for the
        ``reset`` and ``tau`` modes.
        """
        x0 = jnp.asarray(x0)
        params = self.network.init(key, x0.shape[1])
        return FlowState(
            x0, jnp.zeros((), jnp.int32), _latents(self.generator_kernel, x0, latents),
            (params, params),
        )

    def discriminator_fn(self, state: FlowState, y: ArrayLike | None = None) -> Callable:
        """The current discriminator ``[k, d] -> [k]`` (`y` is unused: it is in the state)."""
        return Partial(self.network.apply, state.discriminator[0])

    @full_precision
    def step(self, state: FlowState, y: ArrayLike) -> FlowState:
        """Trains the discriminator on the current clouds, then moves the particles."""
        x, y = check_clouds(state.x, y, names=("x", "y"), nonempty=True)
        loss = get_loss(self.loss)
        params, init_params = state.discriminator
        params = train_discriminator(
            self.network.apply, params, x, y, a=loss.a, b=loss.b, lr=self.lr,
            steps=self.disc_steps, mode=self.mode, init_params=init_params, tau=self.tau,
        )
        v = -jax.grad(lambda z: jnp.mean(loss.c(self.network.apply(params, z))))(x)
        if self.generator_kernel is not None:
            v = couple_velocities(self.generator_kernel, state.latents, v)
        return state._replace(
            x=x + self.eta * v, step=state.step + 1, discriminator=(params, init_params)
        )


def _latents(generator_kernel, x0: Array, latents) -> Array:
    if generator_kernel is None:
        return jnp.zeros((x0.shape[0], 0), x0.dtype)
    if latents is None:
        raise ValueError("`latents` ([n, d_z]) are required when `generator_kernel` is set.")
    latents = jnp.asarray(latents)
    if latents.ndim != 2 or latents.shape[0] != x0.shape[0]:
        raise ValueError(
            f"`latents` must have shape [n, d_z] with n = {x0.shape[0]} particles; "
            f"got {latents.shape}."
        )
    return latents


def _mesh(mesh: Mesh | None, axis: str) -> Mesh:
    mesh = Mesh(np.array(jax.devices()), (axis,)) if mesh is None else mesh
    if axis not in mesh.axis_names:
        raise ValueError(f"`mesh` has no axis {axis!r}; its axes are {mesh.axis_names}.")
    return mesh


def _place(value: ArrayLike, sharding: NamedSharding) -> Array:
    # Each process keeps only its own shards of the (identical) full value: works on one host
    # and across hosts alike, where `jax.device_put` of a host array could not.
    host = np.asarray(value)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def shard_particles(x: ArrayLike, *, mesh: Mesh | None = None, axis: str = "particles") -> Array:
    """Splits a particle cloud `[n, d]` across devices along its first axis.

    A flow stepped under `jax.jit` on sharded particles runs data-parallel: each device computes
    the Gram rows ``k(x_local, S)`` of its own particles (XLA gathers the support S where it is
    needed), and since the step uses the global particle count the result equals the
    single-device one up to float rounding. On several hosts, every process calls
    `jax.distributed.initialize()` first and then this function with the same full `x` (e.g.
    drawn from the same key): the default mesh spans all hosts' devices and each process keeps
    its own rows.

    Args:
        x: particles, `[n, d]`; `n` must be a multiple of the number of devices in the mesh.
        mesh: a `jax.sharding.Mesh` with an axis named `axis`; default all devices in one axis.
        axis: the mesh axis the particles are split along.

    Returns:
        `x`, placed with ``NamedSharding(mesh, PartitionSpec(axis))``.
    """
    mesh = _mesh(mesh, axis)
    devices = mesh.shape[axis]
    if np.ndim(x) != 2 or np.shape(x)[0] % devices:
        raise ValueError(
            f"`x` must be [n, d] with n a multiple of the {devices} devices; got {np.shape(x)}."
        )
    return _place(x, NamedSharding(mesh, PartitionSpec(axis)))


def shard_state(
    state: FlowState, *, mesh: Mesh | None = None, axis: str = "particles"
) -> FlowState:
    """Places a whole flow state on a device mesh, ready for `advance` on many devices or hosts.

    Particles and latents are split along `axis` (`shard_particles`); the step counter and the
    finite-width discriminator's parameters are replicated. Every process passes the same full
    (host or single-device) state, e.g. from `flow.init` or a restored checkpoint.

    Args:
        state: the flow state, not yet sharded.
        mesh: as `shard_particles`.
        axis: as `shard_particles`.

    Returns:
        The same state with every array on the mesh.
    """
    mesh = _mesh(mesh, axis)
    whole = NamedSharding(mesh, PartitionSpec())
    return FlowState(
        shard_particles(state.x, mesh=mesh, axis=axis),
        _place(state.step, whole),
        _place(state.latents, NamedSharding(mesh, PartitionSpec(axis))),
        jax.tree.map(lambda a: _place(a, whole), state.discriminator),
    )


@functools.partial(jax.jit, static_argnames=("flow", "steps"))
@full_precision
def advance(flow, state: FlowState, y: ArrayLike, steps: int) -> FlowState:
    """Takes `steps` flow steps in one jitted `lax.scan` (no host round-trip)."""
    return lax.scan(lambda s, _: (flow.step(s, y), None), state, None, length=steps)[0]


class FlowOutput(NamedTuple):
    """Result of `run_flow`.

    Attributes:
        state: final `FlowState`.
        snapshots: particles every `snapshot_every` steps, `[s + 1, n, d]` (initial included).
        snapshot_steps: the step of each snapshot, `[s + 1]`.
    """

    state: FlowState
    snapshots: Array
    snapshot_steps: Array


@full_precision
def run_flow(
    flow, state: FlowState, y: ArrayLike, *, steps: int, snapshot_every: int
) -> FlowOutput:
    """Runs `steps` steps of `flow` as one jitted nested scan, keeping snapshots.

    Args:
        flow: a flow (`InfiniteWidthFlow`, `FiniteWidthFlow`).
        state: initial state from ``flow.init``.
        y: target points `[m, d]`.
        steps: number of steps; a multiple of `snapshot_every`.
        snapshot_every: steps between snapshots.

    Returns:
        A `FlowOutput`.
    """
    if steps < 0 or snapshot_every < 1 or steps % snapshot_every:
        raise ValueError(
            f"`steps` ({steps}) must be a non-negative multiple of `snapshot_every` "
            f"({snapshot_every})."
        )
    final, xs = _run(flow, state, jnp.asarray(y), steps // snapshot_every, snapshot_every)
    snapshots = jnp.concatenate([state.x[None], xs])
    return FlowOutput(final, snapshots, jnp.arange(snapshots.shape[0]) * snapshot_every)


@functools.partial(jax.jit, static_argnames=("flow", "chunks", "chunk"))
def _run(flow, state, y, chunks, chunk):
    def outer(s, _):
        s = advance(flow, s, y, chunk)
        return s, s.x

    return lax.scan(outer, state, None, length=chunks)


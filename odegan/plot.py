"""Pictures: phase portraits, distances to Nash, MoG densities, losses, image-quality curves.

The only odegan module that imports matplotlib. Figures are built with `matplotlib.figure.Figure`
(no pyplot, no global state), so they work headless; save them with `fig.savefig(path)`.
"""

from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._game import Players


def phase_portrait(
    field: Callable[[Players], Players],
    *,
    trajectories: Mapping[str, Players] | None = None,
    exact: Players | None = None,
    limits: float = 2.0,
    grid: int = 21,
    ax: Axes | None = None,
) -> Axes:
    r"""Quiver plot of a game's velocity in the :math:`(\theta, \phi)` plane, with trajectories.

    Args:
        field: velocity of a game with one scalar parameter per player, `Players -> Players`
            (e.g. `odegan.toy_game_field(odegan.rotational_game)`).
        trajectories: optional, name -> `Players` of two arrays of shape `[t]` (e.g. the params
            after each `ode_step`), drawn as lines from their first point.
        exact: optional reference trajectory, `Players` of arrays of shape `[t]`, drawn dashed.
        limits: the plot covers :math:`[-\mathrm{limits}, \mathrm{limits}]^2`.
        grid: number of arrows per axis.
        ax: axes to draw on; a new figure is made if omitted.

    Returns:
        The axes.
    """
    if ax is None:
        ax = Figure(figsize=(5, 5)).add_subplot()
    ticks = jnp.linspace(-limits, limits, grid)
    theta, phi = jnp.meshgrid(ticks, ticks)
    velocity = jax.vmap(field)(Players(d=theta.ravel(), g=phi.ravel()))
    ax.quiver(
        theta,
        phi,
        velocity.d.reshape(theta.shape),
        velocity.g.reshape(theta.shape),
        color="0.7",
        angles="xy",
    )
    for name, trajectory in (trajectories or {}).items():
        ax.plot(np.asarray(trajectory.d), np.asarray(trajectory.g), lw=1.2, label=name)
    if exact is not None:
        ax.plot(np.asarray(exact.d), np.asarray(exact.g), "k--", lw=1.0, label="exact")
    ax.plot([0.0], [0.0], "k*", ms=10)
    ax.set(
        xlim=(-limits, limits),
        ylim=(-limits, limits),
        xlabel=r"$\theta$ (discriminator)",
        ylabel=r"$\phi$ (generator)",
        aspect="equal",
    )
    if trajectories or exact is not None:
        ax.legend(loc="upper right", fontsize="small")
    return ax


def distance_to_nash(
    trajectories: Mapping[str, Players],
    *,
    dt: float = 1.0,
    exact: Players | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Distance :math:`\|z_k\|` of each trajectory to the equilibrium at 0, log scale.

    Args:
        trajectories: name -> `Players` of arrays with a leading time axis `[t, ...]`.
        dt: time between consecutive points (the x axis is time :math:`k\,dt`).
        exact: optional reference trajectory with the same layout, drawn dashed.
        ax: axes to draw on; a new figure is made if omitted.

    Returns:
        The axes.
    """
    if ax is None:
        ax = Figure(figsize=(6, 4)).add_subplot()

    def norms(trajectory: Players) -> np.ndarray:
        leaves = [np.asarray(x).reshape(np.shape(x)[0], -1) for x in jax.tree.leaves(trajectory)]
        return np.sqrt(sum(np.sum(x**2, axis=1) for x in leaves))

    for name, trajectory in trajectories.items():
        distance = norms(trajectory)
        ax.semilogy(dt * np.arange(distance.size), distance, label=name)
    if exact is not None:
        distance = norms(exact)
        ax.semilogy(dt * np.arange(distance.size), distance, "k--", label="exact")
    ax.set(xlabel="time", ylabel=r"$\|(\theta, \phi)\|$")
    ax.legend(fontsize="small")
    return ax


def grid_points(extent: float, resolution: int) -> np.ndarray:
    r"""Points of a square grid on :math:`[-\mathrm{extent}, \mathrm{extent}]^2`.

    Args:
        extent: half-width of the square.
        resolution: points per axis.

    Returns:
        Array of shape `[resolution², 2]`, x varying fastest (reshape values to
        `[resolution, resolution]` for `mog_density`'s `logits`).
    """
    ticks = np.linspace(-extent, extent, resolution)
    x, y = np.meshgrid(ticks, ticks)
    return np.stack([x.ravel(), y.ravel()], axis=1)


def mog_density(
    samples: ArrayLike,
    *,
    logits: ArrayLike | None = None,
    means: ArrayLike | None = None,
    extent: float = 2.5,
    bins: int = 200,
    bandwidth: float = 0.04,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    r"""Generator density (a Gaussian KDE on a grid) with the discriminator's contours (Fig. 2).

    Args:
        samples: generated points, shape `[n, 2]`.
        logits: optional discriminator logits on `grid_points(extent, r)`, shape `[r, r]`.
        means: optional mixture means, shape `[k, 2]`, marked with crosses.
        extent: the plot covers :math:`[-\mathrm{extent}, \mathrm{extent}]^2`.
        bins: histogram bins per axis.
        bandwidth: KDE bandwidth (standard deviation of the Gaussian kernel).
        title: optional axes title.
        ax: axes to draw on; a new figure is made if omitted.

    Returns:
        The axes.
    """
    from scipy.ndimage import gaussian_filter

    if ax is None:
        ax = Figure(figsize=(4, 4)).add_subplot()
    samples = np.asarray(samples)
    hist, xe, ye = np.histogram2d(
        samples[:, 0], samples[:, 1], bins=bins, range=[[-extent, extent], [-extent, extent]]
    )
    density = gaussian_filter(hist.T, sigma=bandwidth / (xe[1] - xe[0]))
    ax.imshow(density, origin="lower", extent=(-extent, extent, -extent, extent), cmap="Blues")
    if logits is not None:
        logits = np.asarray(logits)
        ticks = np.linspace(-extent, extent, logits.shape[0])
        ax.contour(ticks, ticks, logits, levels=8, colors="0.3", linewidths=0.6)
    if means is not None:
        means = np.asarray(means)
        ax.plot(means[:, 0], means[:, 1], "r+", ms=5)
    ax.set(xlim=(-extent, extent), ylim=(-extent, extent), aspect="equal", xticks=[], yticks=[])
    if title is not None:
        ax.set_title(title, fontsize="small")
    return ax


def mog_snapshots(
    snapshots: Sequence[tuple[int, ArrayLike, ArrayLike | None]],
    *,
    means: ArrayLike | None = None,
    extent: float = 2.5,
) -> Figure:
    """A row of `mog_density` panels, one per training step (paper Fig. 2).

    Args:
        snapshots: `(step, samples[n, 2], logits[r, r] or None)` per panel.
        means: optional mixture means, shape `[k, 2]`.
        extent: half-width of each panel.

    Returns:
        The figure.
    """
    fig = Figure(figsize=(3 * len(snapshots), 3.2), layout="constrained")
    axes = fig.subplots(1, len(snapshots), squeeze=False)[0]
    for ax, (step, samples, logits) in zip(axes, snapshots, strict=True):
        mog_density(samples, logits=logits, means=means, extent=extent, title=f"step {step}", ax=ax)
    return fig


def loss_curves(
    steps: ArrayLike,
    loss_d: ArrayLike,
    loss_g: ArrayLike,
    *,
    nash: tuple[float, float] | None = (float(np.log(4.0)), float(np.log(2.0))),
    ax: Axes | None = None,
) -> Axes:
    r"""Discriminator and generator losses against the Nash values (log 4 and log 2).

    Args:
        steps: training steps, shape `[t]`.
        loss_d: discriminator losses, shape `[t]`.
        loss_g: generator losses, shape `[t]`.
        nash: the losses' Nash values drawn as dashed lines (default
            :math:`(\log 4, \log 2)`, the non-saturating game's), or None.
        ax: axes to draw on; a new figure is made if omitted.

    Returns:
        The axes.
    """
    if ax is None:
        ax = Figure(figsize=(6, 3.5)).add_subplot()
    steps = np.asarray(steps)
    ax.plot(steps, np.asarray(loss_d), label=r"$\ell_D$", color="C0")
    ax.plot(steps, np.asarray(loss_g), label=r"$\ell_G$", color="C1")
    if nash is not None:
        ax.axhline(nash[0], color="C0", ls="--", lw=0.8, label=r"$\log 4$")
        ax.axhline(nash[1], color="C1", ls="--", lw=0.8, label=r"$\log 2$")
    ax.set(xlabel="step", ylabel="loss")
    ax.legend(fontsize="small")
    return ax


def quality_curves(
    steps: ArrayLike,
    values: Mapping[str, ArrayLike],
    *,
    floors: Mapping[str, float] | None = None,
) -> Figure:
    """One panel per sample-quality metric against the training step, with its real-vs-real value.

    Args:
        steps: evaluation steps, shape `[t]`.
        values: metric name -> values, each of shape `[t]` (e.g. ``frechet``, ``kid``).
        floors: metric name -> the value of real held-out images, drawn as a dashed line.

    Returns:
        The figure (one row of panels).
    """
    fig = Figure(figsize=(2.6 * max(len(values), 1), 2.6), layout="constrained")
    axes = fig.subplots(1, max(len(values), 1), squeeze=False)[0]
    steps = np.asarray(steps)
    for ax, (name, v) in zip(axes, values.items(), strict=False):
        ax.plot(steps, np.asarray(v), "o-", ms=3, lw=1.0, label="generated")
        if floors is not None and name in floors:
            ax.axhline(floors[name], color="k", ls="--", lw=0.8, label="real vs real")
        ax.set(xlabel="step", title=name)
    axes[0].legend(fontsize="x-small")
    return fig

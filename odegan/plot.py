"""Pictures of two-parameter games: phase portraits with trajectories, and distances to Nash.

The only odegan module that imports matplotlib. Figures are built with `matplotlib.figure.Figure`
(no pyplot, no global state), so they work headless; save them with `fig.savefig(path)`.
"""

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
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

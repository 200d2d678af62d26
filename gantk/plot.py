"""Pictures of particle flows (the only gantk module that imports matplotlib).

Figures are built with `matplotlib.figure.Figure` and rendered by the Agg canvas directly, so no
pyplot state or GUI backend is involved and plotting is safe in scripts and tests.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._losses import Loss


@functools.partial(jax.jit, static_argnums=1)
def _cost_and_grad(f: Callable, loss: Loss, points: jax.Array) -> tuple[jax.Array, jax.Array]:
    # Jitted (f is a pytree: a KernelDiscriminator or a Partial of a network's apply): eager
    # neural-tangents kernels would make every GIF frame take seconds.
    cost = lambda z: loss.c(f(z))
    return cost(points), jax.grad(lambda z: jnp.sum(cost(z)))(points)


def _field(f: Callable, loss: Loss, points: jax.Array) -> tuple[np.ndarray, np.ndarray]:
    values, grads = _cost_and_grad(f, loss, points)
    return np.asarray(values), np.asarray(grads)


def flow_figure(
    x: np.ndarray,
    y: np.ndarray,
    f: Callable,
    loss: Loss,
    *,
    extent: tuple[float, float, float, float],
    title: str = "",
    resolution: int = 120,
    arrows: int = 21,
) -> Figure:
    r"""Particles and targets over the heat map of :math:`c_f` with arrows of :math:`-\nabla c_f`.

    The picture of thesis Fig. 6.2, for 2-D problems.

    Args:
        x: generated particles, `[n, 2]`.
        y: targets, `[m, 2]`.
        f: the discriminator, ``[k, 2] -> [k]``.
        loss: the loss whose generator cost `c` is drawn.
        extent: ``(xmin, xmax, ymin, ymax)`` of the drawn window.
        title: figure title.
        resolution: heat-map pixels per side.
        arrows: arrows per side.

    Returns:
        The figure (render it with `figure_to_array` or save it with ``fig.savefig``).
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or x.shape[1] != 2 or y.ndim != 2 or y.shape[1] != 2:
        raise ValueError(f"`x` and `y` must be 2-D point clouds; got {x.shape} and {y.shape}.")
    x0, x1, y0, y1 = extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1), jnp.float32)
    ax_, ay_ = np.meshgrid(np.linspace(x0, x1, arrows), np.linspace(y0, y1, arrows))
    anchors = jnp.asarray(np.stack([ax_.ravel(), ay_.ravel()], 1), jnp.float32)
    # One call for the heat map and the arrows: one compilation per figure size, not two.
    values, grads = _field(f, loss, jnp.concatenate([grid, anchors]))
    heat, grads = values[: resolution**2], grads[resolution**2 :]
    arrows_xy = -grads / (np.linalg.norm(grads, axis=1, keepdims=True).max() + 1e-30)

    fig = Figure(figsize=(5, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(
        heat.reshape(resolution, resolution), extent=extent, origin="lower", cmap="viridis",
        alpha=0.85, aspect="auto",
    )
    ax.quiver(
        ax_.ravel(), ay_.ravel(), arrows_xy[:, 0], arrows_xy[:, 1], color="white", alpha=0.7,
        angles="xy", scale_units="xy", scale=1.0 / (0.9 * (x1 - x0) / arrows), width=0.003,
    )
    # Targets larger and underneath, so that both clouds stay visible once they coincide.
    ax.scatter(y[:, 0], y[:, 1], s=12, c="tab:blue", label="target", linewidths=0, alpha=0.7)
    ax.scatter(x[:, 0], x[:, 1], s=3, c="tab:red", label="generated", linewidths=0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def figure_to_array(fig: Figure) -> np.ndarray:
    """Renders a figure to an RGB uint8 array `[h, w, 3]`."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def metric_figure(steps: np.ndarray, values: dict[str, np.ndarray], *, title: str = "") -> Figure:
    """Log-scale curves of metrics against the flow step (e.g. Sinkhorn divergence, MMD).

    Args:
        steps: `[k]` steps.
        values: name → `[k]` values.
        title: figure title.
    """
    fig = Figure(figsize=(5, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, v in values.items():
        ax.semilogy(steps, np.maximum(np.asarray(v), 1e-12), label=name)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def extent_of(*clouds: np.ndarray, margin: float = 0.15) -> tuple[float, float, float, float]:
    """A square window holding every 2-D cloud, with a relative margin."""
    pts = np.concatenate([np.asarray(c) for c in clouds])
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * (1 + margin) + 1e-6
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


def quiver_grid_figure(
    coords: np.ndarray,
    fields: dict[tuple[str, str], np.ndarray],
    *,
    target: tuple[float, float] = (1.0, 0.0),
    title: str = "",
) -> Figure:
    """A grid of quiver plots: one row per loss, one column per kernel (thesis Fig. 6.6–6.7).

    Args:
        coords: plane coordinates of the arrows' anchors, `[k, 2]`.
        fields: ``(loss, kernel name) -> [k, 2]`` gradients; arrows show their negatives (the
            direction the generated point moves), normalised per panel.
        target: the target's plane coordinates, drawn as a star.
        title: figure title.
    """
    rows = sorted({loss for loss, _ in fields})
    cols = list(dict.fromkeys(name for _, name in fields))
    fig = Figure(figsize=(2.6 * len(cols), 2.6 * len(rows) + 0.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), len(cols), squeeze=False)
    for i, loss in enumerate(rows):
        for j, name in enumerate(cols):
            ax = axes[i, j]
            g = -np.asarray(fields[(loss, name)])
            norm = np.linalg.norm(g, axis=1)
            # Unit arrows one grid step long show the direction; colour shows log10 |∇c_f|.
            step = np.min(np.diff(np.unique(coords[:, 0])))
            unit = g / np.where(norm > 0, norm, 1.0)[:, None]
            q = ax.quiver(
                coords[:, 0], coords[:, 1], unit[:, 0], unit[:, 1], np.log10(norm + 1e-30),
                cmap="viridis", angles="xy", scale_units="xy", scale=1.0 / (0.8 * step),
                pivot="mid", width=0.006,
            )
            # A grid point on the target has ∇ = 0 (log −30): keep it out of the colour range.
            positive = np.log10(norm[norm > 0]) if (norm > 0).any() else np.zeros(1)
            q.set_clim(np.percentile(positive, 2), positive.max())
            fig.colorbar(q, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
            ax.plot(*target, marker="*", color="tab:red", markersize=10)
            ax.plot(0, 0, marker="+", color="black")
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=9)
            if j == 0:
                ax.set_ylabel(loss, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

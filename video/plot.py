"""Pictures for the video package; the only module of `video` that imports matplotlib.

Figures are built with `matplotlib.figure.Figure` (no pyplot, no global state), so they work
headless; save them with `common.media.save_figure`.
"""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure


def _axes_row(n: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width * n, height))
    return fig, np.atleast_1d(fig.subplots(1, n))


def trajectories_1d(ts, trajectories: dict, *, targets=None) -> Figure:
    """One panel per model: scalar trajectories x(t) against t, coloured by x(0).

    Args:
        ts: times, shape ``[t]``.
        trajectories: model name -> Array of shape ``[n, t]``.
        targets: optional Array of shape ``[n]``, drawn as crosses at the final time.

    Returns:
        The figure.

    Examples:
        >>> import numpy as np
        >>> fig = trajectories_1d(np.linspace(0, 1, 5), {"NODE": np.zeros((3, 5))})
        >>> len(fig.axes)
        1
    """
    ts = np.asarray(ts)
    fig, axes = _axes_row(len(trajectories), 4.0, 3.2)
    for ax, (name, xs) in zip(axes, trajectories.items(), strict=True):
        xs = np.asarray(xs)
        colours = colormaps["coolwarm"]((xs[:, 0] - xs[:, 0].min()) / (np.ptp(xs[:, 0]) + 1e-12))
        for x, c in zip(xs, colours, strict=True):
            ax.plot(ts, x, color=c, lw=0.8)
        if targets is not None:
            ax.scatter(np.full(len(targets), ts[-1]), targets, marker="x", color="k", s=10)
        ax.set(title=name, xlabel="t", ylabel="x(t)")
    fig.tight_layout()
    return fig


def decision_boundaries(
    xx, yy, probabilities: dict, points, labels, curves: dict | None = None
) -> Figure:
    """Soft decision boundaries of 2-D classifiers, and optionally their training curves.

    Args:
        xx: grid abscissae, shape ``[gh, gw]`` (as from `np.meshgrid`).
        yy: grid ordinates, shape ``[gh, gw]``.
        probabilities: model name -> predicted probability of class 1 on the grid ``[gh, gw]``.
        points: data points, shape ``[n, 2]``.
        labels: their classes in {0, 1}, shape ``[n]``.
        curves: optional model name -> training losses, drawn in a last panel (log scale).

    Returns:
        The figure.

    Examples:
        >>> import numpy as np
        >>> xx, yy = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 4))
        >>> fig = decision_boundaries(xx, yy, {"NODE": xx * 0}, np.zeros((2, 2)), np.array([0, 1]))
        >>> len(fig.axes)
        1
    """
    n = len(probabilities) + (curves is not None)
    fig, axes = _axes_row(n, 3.6, 3.4)
    points, labels = np.asarray(points), np.asarray(labels)
    for ax, (name, prob) in zip(axes, probabilities.items(), strict=False):
        ax.contourf(xx, yy, np.asarray(prob), levels=np.linspace(0, 1, 11), cmap="Blues")
        ax.scatter(*points[labels == 0].T, s=4, color="tab:green")
        ax.scatter(*points[labels == 1].T, s=4, color="gold")
        ax.set(title=name, aspect="equal", xticks=[], yticks=[])
    if curves is not None:
        ax = axes[-1]
        for name, losses in curves.items():
            ax.plot(np.asarray(losses), label=name)
        ax.set(yscale="log", xlabel="step", ylabel="training loss", title="training")
        ax.legend()
    fig.tight_layout()
    return fig


def draw_directions(ax, seeds) -> None:
    """Draws rotation-direction fractions over training into `ax`, against the data's 0.5 / 0.5.

    Args:
        ax: a matplotlib `Axes`.
        seeds: list over runs of ``(steps, ccw, cw, static)``, each of shape ``[e]`` (the
            fractions of generated videos per evaluation): counter-clockwise (blue), clockwise
            (orange) and static (grey), one line each per run; the legend is the caller's.
    """
    for steps, *fractions in seeds:
        for f, colour in zip(fractions, ("C0", "C1", "0.6"), strict=True):
            ax.plot(steps, f, color=colour, lw=1.0)
    ax.axhline(0.5, color="k", ls="--", lw=0.6)
    ax.set(ylim=(-0.03, 1.03))


def direction_curves(panels: dict, *, ncols: int = 4) -> Figure:
    """Rotation directions of generated videos over training, one panel per configuration.

    Args:
        panels: title -> list over seeds of ``(steps, ccw, cw, static)``, each of shape ``[e]``
            (the fractions of generated videos per evaluation).
        ncols: panels per row.

    Returns:
        The figure: `draw_directions` per panel.

    Examples:
        >>> import numpy as np
        >>> e = np.zeros(3)
        >>> fig = direction_curves({"ode": [(np.arange(3), e, e, e + 1)]})
        >>> len(fig.axes)
        1
    """
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(3.0 * min(ncols, len(panels)), 2.3 * nrows))
    axes = fig.subplots(nrows, min(ncols, len(panels)), squeeze=False).ravel()
    for ax, (title, seeds) in zip(axes, panels.items(), strict=False):
        draw_directions(ax, seeds)
        ax.set_title(title, fontsize="small")
        ax.tick_params(labelsize="x-small")
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    axes[0].legend(["ccw", "cw", "static"], fontsize="x-small", loc="upper right")
    fig.tight_layout()
    return fig

"""Adequacy of the infinite-width limit (thesis Fig. 6.1): finite discriminators vs their NTK limit.

For IPM and LSGAN with the ReLU-with-bias MLP (3 hidden layers), finite networks of growing
width in NTK parameterisation, antisymmetrically initialised (f₀ ≡ 0), are trained by 10 full-batch
GD steps of ε = 0.1 (τ = 1) on small fake/real sets in 1-D and 2-D; the infinite-width
discriminator is the closed form at τ = 1. Reported: the relative L2 distance between c_f and
between ∇c_f of the finite and infinite discriminators on a grid, mean ± std over seeds — it must
shrink as the width grows. Writes JSON, a table, and 1-D pictures into the folder it prints.

    python -m benchmarks.adequacy [--tiny] [--widths 64 128 512 2048] [--seeds 5]
"""

import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from common import media
from gantk import LOSSES, MLPKernel, discriminator, mlp_discriminator, train_discriminator

from ._common import RESULTS, environment, table

STEPS, LR = 10, 0.1


def problem(dim: int, key) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Fake and real sets (8 points each) and an evaluation grid, in `dim` ∈ {1, 2}."""
    kx, ky = jr.split(key)
    x = 0.4 * jr.normal(kx, (8, dim)) - 1.0
    y = 0.4 * jr.normal(ky, (8, dim)) + 1.0
    axis = jnp.linspace(-3.0, 3.0, 61 if dim == 1 else 21)
    grid = axis[:, None] if dim == 1 else jnp.stack(jnp.meshgrid(axis, axis), -1).reshape(-1, 2)
    return x, y, grid


def cost_and_grad(f, loss, grid):
    cost = lambda z: LOSSES[loss].c(f(z))
    return cost(grid), jax.grad(lambda z: jnp.sum(cost(z)))(grid)


def finite(width: int, loss: str, x, y, grid, seed: int):
    net = mlp_discriminator(MLPKernel("relu"), width=width, antisymmetric=True)
    p0 = net.init(jr.key(seed), x.shape[1])
    a, b = LOSSES[loss].a, LOSSES[loss].b
    params = train_discriminator(net.apply, p0, x, y, a=a, b=b, lr=LR, steps=STEPS)
    return cost_and_grad(lambda z: net.apply(params, z), loss, grid)


def rel(a, b) -> float:
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--widths", type=int, nargs="+", default=[64, 128, 512, 2048])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--out", default=str(RESULTS / "adequacy"))
    args = p.parse_args(argv)
    # --tiny: 1-D only, two widths (each (dim, loss, width) is a separate compilation).
    widths, seeds, dims = ([16, 64], 2, (1,)) if args.tiny else (args.widths, args.seeds, (1, 2))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(seed=0)
    print(env)
    rows, curves = [], {}
    for dim in dims:
        x, y, grid = problem(dim, jr.key(dim))
        for loss in ("ipm", "lsgan"):
            f_inf = discriminator(MLPKernel("relu"), x, y, loss=loss, tau=STEPS * LR)
            c_inf, g_inf = cost_and_grad(f_inf, loss, grid)
            curves[(dim, loss, "inf")] = (c_inf, g_inf)
            for width in widths:
                run = jax.jit(finite, static_argnums=(0, 1))
                errs = []
                for seed in range(seeds):
                    c, g = run(width, loss, x, y, grid, seed)
                    errs.append((rel(c, c_inf), rel(g, g_inf)))
                    if seed == 0:
                        curves[(dim, loss, width)] = (c, g)
                e = np.array(errs)
                rows.append({
                    "dim": dim, "loss": loss, "width": width,
                    "rel_err_c": float(e[:, 0].mean()), "rel_err_c_std": float(e[:, 0].std()),
                    "rel_err_grad": float(e[:, 1].mean()),
                    "rel_err_grad_std": float(e[:, 1].std()),
                })
                print(table(rows[-1:], list(rows[-1])))
    print(table(rows, list(rows[0])))
    (out / "adequacy.json").write_text(json.dumps({"env": env, "rows": rows}, indent=2))
    media.save_figure(_figure(curves, widths), out / "adequacy_1d.png")
    print(f"output folder: {out.resolve()}")
    return rows


def _figure(curves, widths) -> Figure:
    fig = Figure(figsize=(9, 6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    grid = np.linspace(-3.0, 3.0, 61)
    for i, loss in enumerate(("ipm", "lsgan")):
        for j, what in enumerate(("c_f", "∇c_f")):
            ax = axes[j, i]
            for width in widths:
                ax.plot(grid, np.ravel(curves[(1, loss, width)][j]), lw=1, label=f"width {width}")
            ax.plot(grid, np.ravel(curves[(1, loss, "inf")][j]), "k--", lw=2, label="infinite")
            ax.set_title(f"{loss}: {what} (1-D, τ = 1)", fontsize=9)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()

"""Gradient fields of the Dirac GAN (thesis Fig. 6.6 and 6.7), in d = 2 and d = 512.

One generated point x against one target y = e₁ (‖y‖ = 1): the arrows show −∇c_f(x) over a grid
of x in Span{x₀, y}, for IPM and LSGAN × RBF, ReLU, ReLU without bias, sigmoid (τ = 1). Writes one
PNG per dimension and the field norms as JSON into the output folder it prints.

    python -m benchmarks.dirac_fields [--tiny] [--out benchmarks/results/dirac_fields]
"""

import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from common import media
from gantk import plane_field, plot
from gantk.configs import kernel_for

from ._common import RESULTS, environment

ARCHITECTURES = ("rbf", "relu", "relu_nobias", "sigmoid")


def fields(
    dim: int, resolution: int, architectures=ARCHITECTURES, extent: float = 2.0
) -> tuple[np.ndarray, dict]:
    axis = np.linspace(-extent, extent, resolution)
    coords = np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2).astype(np.float32)
    out = {}
    for loss in ("ipm", "lsgan"):
        for name in architectures:
            kernel = kernel_for(name)
            f = jax.jit(lambda c, k=kernel, loss=loss: plane_field(k, loss, c, dim=dim))
            out[(loss, name)] = np.asarray(f(jnp.asarray(coords)))
    return coords, out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--out", default=str(RESULTS / "dirac_fields"))
    args = p.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(seed=0)
    print(env)
    summary = {"env": env}
    for dim in (2, 512):
        # --tiny: two architectures on a 5×5 grid (each panel is a separate compilation).
        coords, values = (
            fields(dim, 5, ("relu", "sigmoid")) if args.tiny else fields(dim, 17)
        )
        fig = plot.quiver_grid_figure(
            coords, values, title=f"Dirac GAN: −∇c_f(x) for δ_x vs δ_y, d = {dim}"
        )
        media.save_figure(fig, out / f"dirac_fields_d{dim}.png")
        summary[f"d{dim}"] = {
            f"{loss}/{name}": {
                "max_norm": float(np.nanmax(np.linalg.norm(v, axis=1))),
                "finite": bool(np.isfinite(v).all()),
            }
            for (loss, name), v in values.items()
        }
        for key, s in summary[f"d{dim}"].items():
            print(f"d={dim:4d} {key:20s} max |∇c_f| = {s['max_norm']:.3g}  finite={s['finite']}")
    (out / "dirac_fields.json").write_text(json.dumps(summary, indent=2))
    print(f"output folder: {out.resolve()}")
    return summary


if __name__ == "__main__":
    main()

"""LSGAN infinite-width discriminator: exact `eigh` closed form vs the ODE on the support.

Both give f_τ = f_0 + k(·, S) H(τ); the closed form diagonalises D^½ K D^½ ([N, N], O(N³)),
the general path integrates Ḣ = g(F_0 + K H) with an adaptive Tsit5 (O(N²) per step). For
n = m ∈ sizes on 8 Gaussians with the ReLU NTK and τ = 1, this prints the time of each
(compile separate) and their max relative disagreement on the support.

    python -m benchmarks.lsgan_solvers [--tiny] [--sizes 250 500 1000 2000]
"""

import argparse

import jax
import jax.numpy as jnp
import jax.random as jr

from gantk import MLPKernel, lsgan_discriminator, ode_discriminator
from gantk.datasets import eight_gaussians_problem

from ._common import compile_and_time, environment, table, write


def measure(n: int, *, tau: float = 1.0, seed: int = 0) -> dict:
    x, y = eight_gaussians_problem(n, key=jr.key(seed))
    kernel = MLPKernel("relu")
    support = jnp.concatenate([x, y])
    eigh = jax.jit(lambda x, y: lsgan_discriminator(kernel, x, y, tau=tau)(support))
    ode = jax.jit(lambda x, y: ode_discriminator(kernel, x, y, loss="lsgan", tau=tau)(support))
    eigh_compile, eigh_s = compile_and_time(eigh, x, y, repeat=3)
    ode_compile, ode_s = compile_and_time(ode, x, y, repeat=3)
    a, b = eigh(x, y), ode(x, y)
    return {
        "n": n,
        "eigh_s": eigh_s,
        "ode_s": ode_s,
        "eigh_over_ode": eigh_s / ode_s,
        "max_rel_diff": float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(a))),
        "eigh_compile_s": eigh_compile,
        "ode_compile_s": ode_compile,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000])
    args = p.parse_args(argv)
    env = environment(seed=0)
    print(env)
    rows = [measure(n) for n in ([32, 64] if args.tiny else args.sizes)]
    print(table(rows, list(rows[0])))
    path = write("lsgan_solvers_tiny" if args.tiny else "lsgan_solvers", {"env": env, "rows": rows})
    print(f"results: {path}")
    return rows


if __name__ == "__main__":
    main()

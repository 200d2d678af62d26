"""What does continuous depth cost in memory and time? (seed 000 stage 1, seed 002's adjoint)

The model (easy to rewrite elsewhere): feature maps h of shape [b, s, s, c] (default b = 16,
s = 14, c = 16), a field f(t, h) = conv₂([relu(conv₁([h, t])), t]) with 3×3 convolutions and t
appended as a channel (`video.ConvODEField`); the loss is mean(h(1)²). For N solver steps we
time jit(grad(loss)) with respect to the field's parameters and read XLA's buffer assignment for
that function (`memory_analysis().temp_size_in_bytes`: the scratch memory it needs on top of its
inputs and outputs — the peak activation memory, deterministic, unlike a wall-clock or RSS
reading on a shared machine) for

* ``residual``: N weight-shared residual blocks h ← h + f(k/N, h)/N, backpropagated directly
  (`video.residual_stack`; Euler with N steps, so the ODE rows with ``--solver euler`` compute
  the same function);
* ``recursive_checkpoint``, ``direct``, ``backsolve``: one ODE block (`video.ode_block`) with
  diffrax's `RecursiveCheckpointAdjoint` (default), `DirectAdjoint`, `BacksolveAdjoint`.

``grad_rel_err`` is the relative L2 distance of each gradient to the recursive-checkpoint one
(the exact gradient of the discretisation): float noise for all but the backsolve adjoint, whose
backward ODE solve is itself discretised. The growth of memory with N is the least-squares slope
of log(memory) against log(N) over N ≥ 4 (1 = linear, 0 = flat).

    python -m benchmarks.continuous_depth [--tiny] [--steps 1 2 4 8 16 32 64] [--solver euler]
"""

import argparse
import time

import diffrax as dfx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from video import ConvODEField, ode_block, residual_stack

from ._common import compile_and_time, environment, table, write

METHODS = {
    "residual": None,
    "recursive_checkpoint": dfx.RecursiveCheckpointAdjoint(),
    "direct": dfx.DirectAdjoint(),
    "backsolve": dfx.BacksolveAdjoint(),
}


def _loss(method: str, field, n_steps: int, solver: str):
    if method == "residual":
        return lambda params, h: jnp.mean(residual_stack(field, params, h, n_steps) ** 2)
    adjoint = METHODS[method]
    return lambda params, h: jnp.mean(
        ode_block(field, params, h, n_steps, solver=solver, adjoint=adjoint) ** 2
    )


def _rel_err(a, b) -> float:
    a, b = (jnp.concatenate([x.ravel() for x in jax.tree.leaves(t)]) for t in (a, b))
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def growth(rows: list[dict], method: str, min_steps: int = 4) -> float:
    """Slope of log(temp memory) vs log(N) over N ≥ `min_steps` for one method (NaN if < 2 N)."""
    pts = [(r["n_steps"], r["temp_mb"]) for r in rows if r["method"] == method]
    pts = [(n, m) for n, m in pts if n >= min_steps]
    if len(pts) < 2:
        return float("nan")
    n, m = np.log(np.array(pts)).T
    return float(np.polyfit(n, m, 1)[0])


def run(*, steps, batch: int, size: int, channels: int, solver: str, repeat: int, seed: int):
    """One row per (N, method): temp memory (MB), fwd+bwd ms, compile s, gradient error."""
    field = ConvODEField(channels)
    h = jr.normal(jr.key(seed), (batch, size, size, channels))
    params = field.init(jr.key(seed + 1), 0.0, h)
    rows = []
    for n_steps in steps:
        grads = {}
        for method in METHODS:
            if method == "residual" and solver != "euler":
                continue  # the stack is Euler: compare it only to Euler-solved blocks
            t0 = time.perf_counter()
            fn = jax.jit(jax.grad(_loss(method, field, n_steps, solver))).lower(params, h).compile()
            compile_s = time.perf_counter() - t0
            _, run_s = compile_and_time(fn, params, h, repeat=repeat)
            grads[method] = fn(params, h)
            rows.append({
                "n_steps": n_steps,
                "method": method,
                "temp_mb": fn.memory_analysis().temp_size_in_bytes / 2**20,
                "fwd_bwd_ms": 1e3 * run_s,
                "compile_s": compile_s,
            })
        for row in rows[-len(grads):]:
            row["grad_rel_err"] = _rel_err(grads[row["method"]], grads["recursive_checkpoint"])
    return rows


def main(argv=None):
    """Runs the table and writes benchmarks/results/continuous_depth.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="seconds-long run (tests)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=14)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--solver", default="euler", help="a name in odegan.SOLVERS")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        # Two N >= 4: the fewest that give `growth` a slope.
        args.steps, args.batch, args.size, args.channels, args.repeat = [4, 8], 2, 6, 4, 1
    env = environment(args.seed)
    print(env)
    rows = run(
        steps=args.steps,
        batch=args.batch,
        size=args.size,
        channels=args.channels,
        solver=args.solver,
        repeat=args.repeat,
        seed=args.seed,
    )
    slopes = {m: growth(rows, m) for m in {r["method"] for r in rows}}
    print(table(rows, ["n_steps", "method", "temp_mb", "fwd_bwd_ms", "compile_s", "grad_rel_err"]))
    print("memory growth exponent (log temp vs log N, N >= 4):", slopes)
    path = write(
        "continuous_depth_tiny" if args.tiny else "continuous_depth",
        {"env": env, "args": vars(args), "rows": rows, "memory_growth_exponent": slopes},
    )
    print(f"wrote {path}")
    return rows, slopes


if __name__ == "__main__":
    main()

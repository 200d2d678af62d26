"""How fast is one inf-IPM ReLU flow step, against the bare gradient of the NTK witness?

For n = m particles/targets on 8 Gaussians: compile time, seconds per flow step inside the jitted
`lax.scan` of `gantk.advance`, and the floor — one jitted gradient of the witness
∇_x mean f*(x) with the same kernel, which any implementation must compute every step.
Also the cost of one Sinkhorn evaluation (paper settings), to price the metrics of a paper run.

    python -m benchmarks.flow_speed [--tiny] [--sizes 500 2000 8000]
"""

import argparse

import jax
import jax.numpy as jnp
import jax.random as jr

from gantk import InfiniteWidthFlow, MLPKernel, advance, ipm_discriminator
from gantk.datasets import eight_gaussians_problem
from gantk.metrics import sinkhorn_divergence

from ._common import compile_and_time, environment, table, write


def measure(n: int, *, steps: int, block_size: int | None, seed: int = 0) -> dict:
    x0, y = eight_gaussians_problem(n, key=jr.key(seed))
    kernel = MLPKernel("relu")
    flow = InfiniteWidthFlow(kernel, "ipm", eta=1000.0, block_size=block_size)
    state = flow.init(x0)
    compile_s, chunk_s = compile_and_time(
        lambda s: advance(flow, s, y, steps), state, repeat=3
    )
    def floor(x):
        f = ipm_discriminator(kernel, x, y, block_size=block_size)
        return jax.grad(lambda z: jnp.mean(f(z)))(x)

    floor_fn = jax.jit(floor)
    _, floor_s = compile_and_time(floor_fn, x0, repeat=5, number=max(1, steps // 2))
    # Sinkhorn is O(n·m) per iteration for 400 iterations × 3 problems: price it where it
    # is affordable (it is off the flow's hot path anyway).
    sinkhorn_s = (
        compile_and_time(jax.jit(sinkhorn_divergence), x0, y, repeat=2)[1]
        if n <= 2000 else float("nan")
    )
    step_s = chunk_s / steps
    return {
        "n": n,
        "compile_s": compile_s,
        "step_ms": 1e3 * step_s,
        "floor_ms": 1e3 * floor_s,
        "step_over_floor": step_s / floor_s,
        "steps_per_s": 1.0 / step_s,
        "sinkhorn_s": sinkhorn_s,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 8000])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--block-size", type=int, default=None)
    args = p.parse_args(argv)
    sizes, steps = ([64, 128], 4) if args.tiny else (args.sizes, args.steps)
    env = environment(seed=0)
    print(env)
    rows = []
    for n in sizes:
        n_steps = max(2, steps if n <= 2000 else steps // 4)
        rows.append(measure(n, steps=n_steps, block_size=args.block_size))
        print(table(rows[-1:], list(rows[-1])))
    print(table(rows, list(rows[0])))
    path = write("flow_speed_tiny" if args.tiny else "flow_speed", {"env": env, "rows": rows})
    print(f"results: {path}")
    return rows


if __name__ == "__main__":
    main()

"""How does the inf-IPM flow scale with the number of particles and of devices?

Each measurement runs in a fresh process (so that XLA sees the requested number of forced host
devices and so that the peak resident memory is that of one configuration): steps/s of the jitted
flow on 8 Gaussians with n = m particles/targets, particles sharded with
`gantk.shard_particles`, Gram blocks of `--block-size` rows. On a CPU, forced host devices share
the same cores, so the device sweep checks overhead and correctness, not speed-up; run it on a
multi-GPU host for the latter. The cost per step is O(n · (n + m)) kernel entries.

    python -m benchmarks.flow_scaling [--tiny] [--sizes 500 1000 2000 4000] [--devices 1 2 4]
"""

import argparse
import json
import os
import subprocess
import sys

from ._common import environment, table, write

_PROGRAM = """
import json, resource, time, jax, jax.numpy as jnp, jax.random as jr
from gantk import InfiniteWidthFlow, MLPKernel, advance, shard_particles
from gantk.datasets import eight_gaussians_problem
n, steps, block = {n}, {steps}, {block}
x0, y = eight_gaussians_problem(n, key=jr.key(0))
flow = InfiniteWidthFlow(MLPKernel("relu"), "ipm", eta=1000.0, block_size=block)
state = flow.init(shard_particles(x0))
t0 = time.perf_counter(); state = jax.block_until_ready(advance(flow, state, y, steps))
compile_s = time.perf_counter() - t0
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter(); jax.block_until_ready(advance(flow, state, y, steps))
    best = min(best, time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("@@" + json.dumps(dict(compile_s=compile_s, step_ms=1e3 * best / steps, peak_rss_mb=rss)))
"""


def measure(n: int, devices: int, *, steps: int, block_size: int | None) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    code = _PROGRAM.format(n=n, steps=steps, block=block_size)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    line = next(s for s in proc.stdout.splitlines() if s.startswith("@@"))
    row = {"n": n, "devices": devices, **json.loads(line[2:])}
    row["steps_per_s"] = 1e3 / row["step_ms"]
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--block-size", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args(argv)
    if args.tiny:
        sizes, devices, steps = [64], [1, 2], 2
    else:
        sizes, devices, steps = args.sizes, args.devices, args.steps
    env = environment(seed=0)
    print(env)
    rows = []
    for n in sizes:  # vs n on one device, then vs devices at the largest size
        rows.append(measure(n, 1, steps=steps, block_size=args.block_size))
        print(table(rows[-1:], list(rows[-1])))
    for d in devices:
        if d != 1:
            rows.append(measure(sizes[-1], d, steps=steps, block_size=args.block_size))
            print(table(rows[-1:], list(rows[-1])))
    print(table(rows, list(rows[0])))
    path = write("flow_scaling_tiny" if args.tiny else "flow_scaling", {"env": env, "rows": rows})
    print(f"results: {path}")
    return rows


if __name__ == "__main__":
    main()

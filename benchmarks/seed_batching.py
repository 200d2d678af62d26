"""Does training several seeds of a MoCoGAN as one vmapped program pay on this device?

`benchmarks/motion_collapse.py` trains one run per process. On a GPU one small MoCoGAN step
leaves the device mostly idle (session 6, H100: 7.4–33.6 ms per step alone, and 16 processes
sharing it bought only ≈ 1.5×), so S seeds stacked into one program — every seed's parameters,
optimiser state, data and noise key on a leading axis, ``jax.vmap`` of
`video._experiment.training_step` — could run S steps in about the time of one. This times
one training step of motion presets (`video.configs.PRESETS`, in either of `motion_collapse`'s
data modes) alone and vmapped over S seeds, compile time separate, and reports the throughput
ratio S·t(1) / t(S) (above 1: batching seeds pays here), after checking that the vmapped step
gives each seed its own step (the largest relative difference of the new parameters: vmapped
convolutions round differently).

    python -m benchmarks.seed_batching [--tiny] [--models gru ode] [--mode clean]
        [--seeds 1 2 3] [--repeat 5]
"""

import argparse
import dataclasses

import jax
import jax.numpy as jnp

from video._experiment import seed_inputs, training_step
from video.configs import PRESETS, tiny

from ._common import compile_and_time, environment, table, write
from .motion_collapse import MODELS, MODES


def _stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _max_rel_diff(a, b) -> float:
    """Largest |a − b| / max|b| over the leaves of two pytrees."""
    diffs = jax.tree.map(
        lambda x, y: float(jnp.max(jnp.abs(x - y)) / jnp.maximum(jnp.max(jnp.abs(y)), 1e-30)),
        a, b,
    )
    return max(jax.tree.leaves(diffs))


def measure(config, seeds: list[int], repeat: int) -> list[dict]:
    """Rows of step time alone (S = 1) and vmapped over each S in `seeds` for `config`."""
    step = training_step(config)
    inputs = [seed_inputs(dataclasses.replace(config, seed=s)) for s in range(max(seeds))]
    single = jax.jit(step)
    batched = jax.jit(jax.vmap(step))
    rows = []
    for s in seeds:
        fn, args = (single, inputs[0]) if s == 1 else (batched, _stack(inputs[:s]))
        compile_s, step_s = compile_and_time(fn, *args, repeat=repeat)
        rows.append({"seeds": s, "compile_s": compile_s, "step_ms": 1e3 * step_s,
                     "ms_per_seed_step": 1e3 * step_s / s,
                     "throughput_ratio": s * rows[0]["step_ms"] / (1e3 * step_s) if rows else 1.0})
    # The vmapped step must be each seed's own step: compare seed by seed after one step.
    together, _ = batched(*_stack(inputs))
    alone = _stack([single(*x)[0] for x in inputs])
    diff = _max_rel_diff(together.players, alone.players)
    for row in rows:
        row["max_rel_diff"] = diff
    return rows


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="seconds: tiny networks, gru, S = 1, 2")
    p.add_argument("--models", nargs="+", default=None, choices=MODELS)
    p.add_argument("--mode", default="clean", choices=list(MODES))
    p.add_argument("--seeds", nargs="+", type=int, default=None, metavar="S",
                   help="numbers of seeds stacked (1 is always timed: the reference)")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    models = args.models or (["gru"] if args.tiny else ["gru", "ode"])
    seeds = sorted({1, *(args.seeds or ([2] if args.tiny else [2, 3]))})
    if seeds[0] < 1:
        raise ValueError(f"`--seeds` must be >= 1, got {seeds}.")
    env = environment(seed=0)
    print(env)
    rows = []
    for model in models:
        config = dataclasses.replace(PRESETS[model], **MODES[args.mode])
        if args.tiny:
            config = tiny(config)
        for row in measure(config, seeds, args.repeat):
            rows.append({"model": model, "mode": args.mode, **row})
            print(table(rows[-1:], list(rows[-1])), flush=True)
    print(table(rows, list(rows[0])))
    path = write("seed_batching_tiny" if args.tiny else "seed_batching", {"env": env, "rows": rows})
    print(f"results: {path}")
    return rows


if __name__ == "__main__":
    main()

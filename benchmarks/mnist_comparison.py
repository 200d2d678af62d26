"""Seed 000's MNIST comparison under one protocol: Adam vs Euler vs Heun vs RK4 (± λ) on a DCGAN.

Seed 000 reported that RK2/RK4 collapse on MNIST where Euler does not, with code that integrated
per player alternately, resampled noise at every stage and gave Euler 3 D-steps per G-step (RK 1).
Here every method runs the `mnist` preset (`odegan.configs.PRESETS`: DCGAN without batch
norm unless `--batch-norm`, batch 64, latent 128, joint integration, one minibatch per step
shared by its stages) with

- the same number of steps (the protocol: equal steps, equal h = 0.04, same seeds and data; the
  methods then differ in gradient evaluations per step, listed in the table, and in wall time),
- λ = 0.01 (Algorithm 1's regulariser, after the step) or λ = 0, and simultaneous Adam
  (lr 2e-4, λ = 0) as the baseline.

Quality is measured offline (`common.features`, on the features and logits of a small digit
classifier trained once and shared by the runs): Fréchet distance, KID, classifier score (the
IS formula on that classifier), class coverage and class KL, mean ± std over seeds, with the
real-vs-real row as the floor. Nothing here is FID or IS. The step time of each method is measured
separately (jitted `odegan.train_step`, warm, best of 3) from its compile time.

    python -m benchmarks.mnist_comparison [--tiny] [--steps 5000] [--seeds 3] [--only "rk4 λ=0.01"]
"""

import argparse
import dataclasses
import json
import pathlib
import tempfile
import time

import numpy as np

from odegan._experiment import run_experiment, training_programs
from odegan.configs import PRESETS, TrainConfig, tiny

from ._common import compile_and_time, environment, mean_std, table, write

_BASE = PRESETS["mnist"]
# label -> overrides of the `mnist` preset (RK4, h = 0.04, λ = 0.01, joint).
CONFIGS = {
    "adam (lr=2e-4)": dict(method="simultaneous_adam", dt=2e-4, regulariser=0.0),
    "euler λ=0": dict(method="euler", regulariser=0.0),
    "euler λ=0.01": dict(method="euler"),
    "heun λ=0": dict(method="heun", regulariser=0.0),
    "heun λ=0.01": dict(method="heun"),
    "rk4 λ=0": dict(method="rk4", regulariser=0.0),
    "rk4 λ=0.01": dict(method="rk4"),
}
TINY = ("rk4 λ=0.01",)
METRICS = ("frechet", "kid", "classifier_score", "coverage", "class_kl")
_STAGES = {"simultaneous_adam": 1, "euler": 1, "heun": 2, "rk4": 4}


def gradient_evaluations(config: TrainConfig) -> str:
    """Game-gradient evaluations per step (+ the regulariser's Hessian-vector product)."""
    stages = str(_STAGES[config.method])
    return stages + " + HVP" if config.regulariser > 0 else stages


def step_time(config: TrainConfig) -> tuple[float, float]:
    """(compile + first call, best warm call) seconds of one jitted training step.

    The step is `run_experiment`'s own (`training_programs`, cached): the seed-`config.seed` run
    that follows reuses its compilation.
    """
    programs = training_programs(config)
    return compile_and_time(programs.step, programs.state, programs.problem.data, repeat=3)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed … (to add seeds)")
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--width", type=int, default=None, help="DCGAN base channels (preset: 64)")
    p.add_argument("--batch-norm", action="store_true", help="BatchNorm in the generator")
    p.add_argument("--only", nargs="+", default=None, help="labels to run (default: all)")
    p.add_argument("--out", default=None, help="folder of the run folders (default: a temp dir)")
    p.add_argument("--tag", default="", help="suffix of the JSON file name")
    args = p.parse_args(argv)
    if args.tiny:
        base = tiny(_BASE)
        steps, seeds, eval_every = base.steps, 1, base.eval_every
        labels = list(args.only or TINY)
    else:
        base = _BASE
        steps, seeds, eval_every = args.steps, args.seeds, args.eval_every
        labels = args.only or list(CONFIGS)
    if args.width is not None:
        base = dataclasses.replace(base, width=args.width)
    base = dataclasses.replace(base, batch_norm=args.batch_norm)
    unknown = sorted(set(labels) - set(CONFIGS))
    if unknown:
        raise ValueError(f"`--only`: unknown labels {unknown}; known: {list(CONFIGS)}.")
    env = environment(seed=base.seed)
    print(env)
    print(
        f"protocol: {steps} steps × {seeds} seeds per configuration, equal steps (not equal "
        f"gradient evaluations); h = {base.dt} for the integrators; batch {base.batch_size}, "
        f"latent {base.latent_dim}, DCGAN width {base.width} "
        f"({'batch norm in the generator' if base.batch_norm else 'no batch norm'}); "
        f"{base.eval_samples} samples per metric"
    )
    out = pathlib.Path(args.out or tempfile.mkdtemp(prefix="mnist_comparison_"))
    rows, raw, floor = [], {}, None
    for label in labels:
        config = dataclasses.replace(base, steps=steps, eval_every=eval_every, **CONFIGS[label])
        compile_s, step_s = step_time(config)
        per_seed, t0 = [], time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + seeds):
            run_dir = run_experiment(
                dataclasses.replace(config, seed=seed),
                run_dir=out / f"{label.replace(' ', '_').replace('/', '_')}_seed{seed}",
                classifier_dir=out / "classifier",
                progress=False,
            )
            per_seed.append(json.loads((run_dir / "summary.json").read_text()))
        wall = time.perf_counter() - t0
        floor = floor or per_seed[0]
        raw[label] = per_seed
        rows.append(
            {
                "config": label,
                **{m: mean_std([s[m] for s in per_seed], fmt=".4g") for m in METRICS},
                "diverged": f"{sum(np.isnan(s['frechet']) for s in per_seed)}/{seeds}",
                "grad evals/step": gradient_evaluations(config),
                "step_ms": 1e3 * step_s,
                "compile_s": compile_s,
                "wall_s": wall,
            }
        )
        print(table(rows[-1:], list(rows[-1])))
    floor_row = {"config": "real vs real (floor)"}
    floor_row |= {m: f"{floor[f'{m}_real']:.4g}" for m in METRICS}
    rows.append(floor_row)
    print(
        f"classifier: held-out accuracy {floor['classifier_held_out_accuracy']:.3f}, trained in "
        f"{floor['classifier_train_seconds']:.1f} s"
    )
    print(table(rows, list(rows[0])))
    payload = {
        "env": env,
        "steps": steps,
        "seeds": seeds,
        "protocol": "equal steps",
        "rows": rows,
        "per_seed": raw,
        "run_folders": str(out),
    }
    name = "mnist_comparison_tiny" if args.tiny else "mnist_comparison"
    path = write(name + (f"_{args.tag}" if args.tag else ""), payload)
    print(f"results: {path}")
    return payload


if __name__ == "__main__":
    main()

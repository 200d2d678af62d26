"""Thesis Table 6.1: final Sinkhorn divergence of every particle flow, next to the paper's value.

Cells: {8 Gaussians, Density, AB} × {IPM (inf.), IPM, LSGAN (inf.), LSGAN} × {RBF, ReLU, ReLU
(no bias), Sigmoid} (no finite RBF network), each run from its `gantk.configs` preset (the
paper's η, τ, ε and step counts) for several seeds; mean ± std, the paper's mean and our/paper
ratio are written as JSON and as a markdown table. `--regimes`/`--kernels` select rows and
columns and `--only` cells by substring (each selection writes its own result files), `--steps`
overrides the step count (for a budgeted run: say so when quoting it). Each finished run is
appended to the committed store `records/table_6_1_runs.jsonl` and never repeated: a table is
filled over several invocations, and an interrupted one resumes at the next missing (preset,
seed, steps).

Density and AB use procedurally drawn stand-ins for the geomloss images (not available offline), so
their numbers are comparable in order of magnitude only.

    python -m benchmarks.table_6_1 [--tiny] [--seeds 3] [--regimes ipm lsgan] [--kernels relu]
                                   [--only inf_ipm_relu] [--steps N]
    python -m benchmarks.table_6_1 --readme     # README's table from the recorded runs
"""

import argparse
import dataclasses
import json
import pathlib
import time

import jax
import jax.random as jr
import numpy as np

from gantk import configs, datasets, run_flow
from gantk._experiment import make_flow
from gantk.configs import PRESETS
from gantk.metrics import sinkhorn_divergence

from ._common import RECORDS, RESULTS, append_record, environment, load_records, table

PROBLEMS = ("density", "ab", "eight_gaussians")
REGIMES = ("inf_ipm", "ipm", "inf_lsgan", "lsgan")
ARCHITECTURES = ("rbf", "relu", "relu_nobias", "sigmoid")

# Thesis Table 6.1, means (× the std is in DESIGN.md); None: no finite RBF network.
PAPER = {
    "density": {
        "inf_ipm": (2.37e-3, 3.34e-9, 7.34e-2, 6.25e-3),
        "ipm": (None, 5.02e-3, 9.25e-2, 3.06e-2),
        "inf_lsgan": (7.53e-3, 1.49e-3, 2.80e-1, 2.21e-1),
        "lsgan": (None, 1.53e-2, 1.64e-1, 5.88e-2),
    },
    "ab": {
        "inf_ipm": (4.65e-3, 2.64e-9, 6.11e-3, 5.69e-3),
        "ipm": (None, 2.75e-3, 3.65e-2, 1.25e-2),
        "inf_lsgan": (1.13e-2, 8.63e-3, 1.02e-1, 1.40e-2),
        "lsgan": (None, 1.32e-1, 2.57e-2, 8.78e-2),
    },
    "eight_gaussians": {
        "inf_ipm": (2.60e-2, 9.40e-7, 9.70e-2, 8.40e-2),
        "ipm": (None, 1.21e-1, 1.20e0, 7.40e-1),
        "inf_lsgan": (4.21e-1, 7.56e-2, 1.27e1, 7.35e0),
        "lsgan": (None, 3.07e0, 7.52e0, 7.41e0),
    },
}


def run_cell(name: str, seed: int, steps: int | None, tiny: bool) -> tuple[float, float]:
    """(final Sinkhorn divergence, wall seconds) of one preset and seed."""
    config = dataclasses.replace(PRESETS[name], seed=seed)
    if tiny:
        config = dataclasses.replace(configs.tiny(config), steps=4)
    elif steps is not None:
        config = dataclasses.replace(config, steps=steps)
    data_key, init_key = jr.split(jr.key(config.seed))
    x0, y = datasets.PROBLEMS[config.problem](config.n_fake, config.n_real, key=data_key)
    flow, state = make_flow(config, x0, key=init_key)
    t0 = time.perf_counter()
    result = run_flow(flow, state, y, steps=config.steps, snapshot_every=config.steps)
    value = float(sinkhorn_divergence(jax.block_until_ready(result.state.x), y))
    return value, time.perf_counter() - t0


RUN_KEY = ("preset", "seed", "steps")  # a run of the store `records/table_6_1_runs.jsonl`


_NAMES = {"density": "Density", "ab": "AB", "eight_gaussians": "8 Gaussians"}
_LOSSES = {"inf_ipm": "IPM (inf.)", "ipm": "IPM", "inf_lsgan": "LSGAN (inf.)", "lsgan": "LSGAN"}


def _short(v: float) -> str:
    if v == 0:
        return "0"
    exponent = int(np.floor(np.log10(abs(v))))
    return f"{v:.3g}" if -2 <= exponent <= 1 else f"{v / 10**exponent:.2f}e{exponent}"


def _ratio(r: float) -> str:
    return f"{r:.2g}×" if 0.1 <= r < 100 else f"{_short(r)}×" if r < 0.1 else f"{r:.0f}×"


def readme_table(runs: dict[tuple[str, int, int], dict], seeds: int = 3) -> str:
    """The whole table as README shows it: every cell "ours / thesis (ours ÷ thesis)".

    Ours is the mean ± std over the recorded runs at the preset's step count, "(n seeds)" when n
    differs from `seeds`, "—" without any run (and no ratio).
    """
    lines = [
        "| data | loss | RBF | ReLU | ReLU (no bias) | Sigmoid |",
        "|---|---|---|---|---|---|",
    ]
    for problem in PROBLEMS:
        for regime in REGIMES:
            cells = []
            for arch, paper in zip(ARCHITECTURES, PAPER[problem][regime], strict=True):
                if paper is None:
                    cells.append("(no finite RBF net)")
                    continue
                name = f"{regime}_{arch}_{problem}"
                v = np.array([
                    r["value"] for (preset, _, steps), r in sorted(runs.items())
                    if preset == name and steps == PRESETS[name].steps
                ])
                ours = "—" if v.size == 0 else _short(float(v.mean())) + (
                    f" ± {_short(float(v.std()))}" if v.size > 1 else ""
                ) + ("" if v.size == seeds else f" ({v.size} seed{'s' * (v.size > 1)})")
                ratio = "" if v.size == 0 else f" ({_ratio(float(v.mean()) / paper)})"
                cells.append(f"{ours} / {_short(paper)}{ratio}")
            lines.append(f"| {_NAMES[problem]} | {_LOSSES[regime]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--regimes", nargs="+", choices=REGIMES, default=REGIMES)
    p.add_argument("--kernels", nargs="+", choices=ARCHITECTURES, default=ARCHITECTURES)
    p.add_argument("--only", default=None, help="keep cells whose preset name contains this")
    p.add_argument("--readme", action="store_true",
                   help="print README's table from the recorded runs, run nothing")
    args = p.parse_args(argv)
    if args.readme:
        table_md = readme_table(
            load_records(RECORDS / "table_6_1_runs.jsonl", RUN_KEY), seeds=args.seeds
        )
        print(table_md)
        return table_md
    env = environment(seed=0)
    print(env)
    cells = [
        (problem, regime, arch)
        for problem in PROBLEMS for regime in args.regimes for arch in args.kernels
        if PAPER[problem][regime][ARCHITECTURES.index(arch)] is not None
    ]
    if args.only:
        cells = [c for c in cells if args.only in "_".join((c[1], c[2], c[0]))]
    if args.tiny:
        cells = [("eight_gaussians", "inf_ipm", "relu"), ("ab", "lsgan", "sigmoid")]
    seeds = 1 if args.tiny else args.seeds

    def steps_of(name):
        return 4 if args.tiny else (args.steps or PRESETS[name].steps)

    # Every finished (preset, seed, steps) run is appended to one store, so a long table can be
    # filled over several invocations (seed by seed, selection by selection) and an interrupted
    # run resumes at the next missing cell.
    # The tiny store is scratch (git-ignored); the real one is committed.
    store = RESULTS / "table_6_1_runs_tiny.jsonl" if args.tiny else RECORDS / "table_6_1_runs.jsonl"
    if args.tiny:
        store.unlink(missing_ok=True)
    runs = load_records(store, RUN_KEY)
    todo = [
        (f"{regime}_{arch}_{problem}", seed)
        for seed in range(seeds) for problem, regime, arch in cells
        if (f"{regime}_{arch}_{problem}", seed, steps_of(f"{regime}_{arch}_{problem}")) not in runs
    ]
    print(f"{len(cells) * seeds - len(todo)} runs found in {store}, {len(todo)} to go")
    for i, (name, seed) in enumerate(todo):
        value, wall = run_cell(name, seed, args.steps, args.tiny)
        record = {"preset": name, "seed": seed, "steps": steps_of(name), "value": value,
                  "wall_s": wall, "device": env["device"]}
        runs[name, seed, record["steps"]] = record
        append_record(store, record)
        print(f"[{i + 1}/{len(todo)}] {name} seed {seed}: {value:.4g} ({wall:.0f} s)", flush=True)

    rows = []
    for problem, regime, arch in cells:
        name = f"{regime}_{arch}_{problem}"
        done = [runs[name, s, steps_of(name)] for s in range(seeds)]
        values = [r["value"] for r in done]
        paper = PAPER[problem][regime][ARCHITECTURES.index(arch)]
        mean = float(np.mean(values))
        rows.append({
            "data": problem, "loss": regime, "kernel": arch, "seeds": seeds,
            "steps": steps_of(name), "ours_mean": mean, "ours_std": float(np.std(values)),
            "paper": paper, "ratio": mean / paper,
            "wall_s_per_seed": float(np.mean([r["wall_s"] for r in done])),
        })
    print(table(rows, list(rows[0])))
    selection = [
        "-".join(chosen)
        for chosen, every in ((args.regimes, REGIMES), (args.kernels, ARCHITECTURES))
        if tuple(chosen) != every
    ] + ([args.only] if args.only else [])
    name = "_".join(["table_6_1", *selection, *(["tiny"] if args.tiny else [])])
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"env": env, "rows": rows}, indent=2))
    pathlib.Path(RESULTS / f"{name}.md").write_text(table(rows, list(rows[0])) + "\n")
    print(f"results: {path} (runs: {store})")
    return rows


if __name__ == "__main__":
    main()

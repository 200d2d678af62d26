"""Does a MoCoGAN's motion generator collapse to one rotation direction, and why?

Seed 000 found that on bidirectional rotating MNIST the ODE/SDE/CDE motion generators collapse to
one direction while the ODE-RNN does not, and blamed non-crossing ODE trajectories. Its protocol
had quirks that may cause the collapse by themselves (DESIGN "video"). This benchmark trains
every motion generator — GRU, ODE, SDE, CDE, ODE-RNN, N-CODE open and closed loop (the
`video.configs` presets) — under one budget, several seeds, in both protocols:

- ``clean``: clean data (frames in [−1, 1], all digits, fresh videos), one D step per G step;
- ``faithful``: seed 000's protocol — faithful data (frames in [0, 1], per-frame min–max
  normalisation, 500 videos of digit 3) and two D steps per G step;

and with and without fresh per-frame noise (``fresh`` / ``frozen``; the ODE and N-CODE have no
per-frame noise input and run ``frozen`` only). Reported per (model, mode, noise), mean ± std
over seeds: the fractions of generated videos rotating counter-clockwise and clockwise (the data:
½ / ½) estimated by `video.estimate_rotation`, the number of seeds collapsed to one direction
(one generated, the other below 10 %), the speed-histogram distance to real videos, the frame
quality — the Fréchet distance of a rotated-digit classifier's features of generated frames to
real digits' (`video.digit_frame_scorer`, trained once and cached under
``benchmarks/results/motion_collapse_classifier/``; the real frames' own value is the floor) —
and the wall time. Each run
keeps its run folder (GIF grid of generated videos per evaluation and final, metrics, figure)
under ``benchmarks/results/motion_collapse/`` (git-ignored), and its summary is appended to the
committed run store ``benchmarks/records/motion_collapse_runs.jsonl``, keyed by (model, mode,
noise, seed, steps), with its direction fractions at every evaluation (the figure's curves):
a recorded run is never repeated, so the grid fills over several invocations — or concurrent
processes given disjoint ``--only`` selections, e.g. on one GPU — and ``--table`` prints the
table of everything recorded without running anything. A run that was interrupted (killed by a
time limit, or stopped by ``--stop-after``) resumes from its last checkpoint (every 1 000 steps)
in its run folder the next time, and ends as the uninterrupted run would; its wall time is the
training time of its pieces.

    python -m benchmarks.motion_collapse [--tiny] [--steps 5000] [--seeds 3]
        [--modes clean faithful] [--noise fresh frozen] [--only gru ode ncode_open]
        [--only-seeds 0 2] [--no-frame-quality] [--no-progress] [--stop-after STEP] [--table]
        [--readme]
"""

import argparse
import dataclasses
import itertools
import json
import pathlib
import shutil

import jax.random as jr
import numpy as np

from common import media
from common.runs import latest_step
from video import digit_frame_scorer
from video._experiment import run_experiment, run_videos
from video.configs import DETERMINISTIC_MOTIONS, PRESETS, tiny, value_range
from video.plot import direction_curves

from ._common import (
    RECORDS,
    RESULTS,
    append_record,
    environment,
    load_records,
    mean_std,
    table,
    write,
)

MODELS = ("gru", "ode", "sde", "cde", "odernn", "ncode_open", "ncode_closed")
MODES = {
    "clean": dict(data_mode="clean", d_steps=1),
    "faithful": dict(data_mode="faithful", d_steps=2),
}
NOISES = ("fresh", "frozen")
COLLAPSED = 0.1  # collapsed: one direction's fraction is below this, the other's is not
RUN_KEY = ("model", "mode", "noise", "seed", "steps")
DIRECTIONS = ("counter_clockwise", "clockwise", "static")


def _row(model: str, mode: str, noise: str, runs: list[dict]) -> dict:
    """The table row of one (model, mode, noise) over its seeds' run summaries."""
    collapsed = sum(map(_collapsed, runs))
    stat = lambda key: mean_std([r.get(key, np.nan) for r in runs], missing="n/a")
    return {
        "model": model,
        "mode": mode,
        "noise": noise,
        "ccw": stat("counter_clockwise"),
        "cw": stat("clockwise"),
        "static": stat("static"),
        "collapsed": f"{collapsed}/{len(runs)}",
        "speed dist.": stat("speed_distance"),
        "frame quality": stat("frame_quality"),
        "real frames": stat("real_frame_quality"),
        "wall_s": stat("wall_s"),  # absent from records restored without it
    }


def _collapsed(run: dict) -> bool:
    """One direction is generated, the other hardly (an all-static run is not collapsed)."""
    lo, hi = sorted((run["counter_clockwise"], run["clockwise"]))
    return lo < COLLAPSED <= hi


def _both_ways_from(curves: dict[str, list[float]]) -> int | None:
    """The first evaluation step from which both directions stay >= COLLAPSED to the end.

    None when the last evaluation has one direction below it.
    """
    both = np.minimum(curves["counter_clockwise"], curves["clockwise"]) >= COLLAPSED
    below = np.flatnonzero(~both)
    if below.size and below[-1] == both.size - 1:
        return None
    return curves["step"][below[-1] + 1 if below.size else 0]


NAMES = {
    "gru": "GRU (MoCoGAN)", "ode": "neural ODE", "sde": "neural SDE", "cde": "neural CDE",
    "odernn": "ODE-RNN", "ncode_open": "N-CODE open loop", "ncode_closed": "N-CODE closed loop",
}


def _configs(models=MODELS, modes=MODES, noises=NOISES):
    """The (model, mode, noise) of the grid among these, in table order.

    A model without per-frame noise input (the ODE, N-CODE) has only its frozen run.
    """
    return [
        (model, mode, noise) for model, mode, noise in itertools.product(models, modes, noises)
        if not (noise == "fresh" and PRESETS[model].motion in DETERMINISTIC_MOTIONS)
    ]


def _runs_by_config(records, steps: int) -> dict[tuple[str, str, str], list[dict]]:
    """Every (model, mode, noise) of the grid, in table order → its recorded runs at `steps`."""
    return {
        config: sorted(
            (r for r in records if (r["model"], r["mode"], r["noise"], r["steps"])
             == (*config, steps)), key=lambda r: r["seed"],
        ) for config in _configs()
    }


def readme_table(records, steps: int = PRESETS["gru"].steps) -> str:
    """README's table: a row per configuration of the grid over its recorded runs at `steps`.

    Fractions and distances are "mean ± std" over seeds (a single value for one seed), frame
    quality is followed by the real frames' own (mean) value; "seeds" counts the runs and names
    their devices; the wall time is the mean training time of the runs that recorded one (the
    restored records did not); a configuration without a run shows dashes.
    """
    lines = [
        "| generator | data | noise | seeds | ccw | cw | static | collapsed | speed dist. "
        "| frame quality (real) | wall time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (model, mode, noise), runs in _runs_by_config(records, steps).items():
        cells = ["0"] + ["—"] * 7
        if runs:
            row = _row(model, mode, noise, runs)
            devices = sorted({_device(r) for r in runs})
            cells = [
                f"{len(runs)} ({', '.join(devices)})",
                *(_stat(runs, k) for k in DIRECTIONS), row["collapsed"],
                _stat(runs, "speed_distance"),
                f"{_stat(runs, 'frame_quality')} ({_stat(runs, 'real_frame_quality', False)})",
                _minutes([r["wall_s"] for r in runs if "wall_s" in r], len(runs)),
            ]
        lines.append(f"| {NAMES[model]} | {mode} | {noise} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def readme_runs(records, steps: int = PRESETS["gru"].steps) -> str:
    """README's table of every recorded run at `steps`, in the order of `readme_table`.

    "both ways from" is the first evaluation step from which each direction stays at or above
    COLLAPSED to the end ("never" when the run ends below it; "—" for a record without its
    direction curves, e.g. one restored from a table).
    """
    lines = [
        "| generator | data | noise | seed | device | ccw | cw | static | collapsed "
        f"| both ways ≥ {COLLAPSED:.0%} from step | speed dist. | frame quality (real) "
        "| wall time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (model, mode, noise), runs in _runs_by_config(records, steps).items():
        for r in runs:
            since = "—" if not r.get("directions") else _both_ways_from(r["directions"])
            cells = [
                str(r["seed"]), _device(r), *(_short(r[k]) for k in DIRECTIONS),
                "yes" if _collapsed(r) else "no", "never" if since is None else str(since),
                _short(r["speed_distance"]),
                f"{_short(r['frame_quality'])} ({_short(r['real_frame_quality'])})",
                _minutes([r["wall_s"]] if "wall_s" in r else [], 1),
            ]
            lines.append(f"| {NAMES[model]} | {mode} | {noise} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _device(run: dict) -> str:
    """A run's device, short: CPU, H100 or as recorded."""
    return "CPU" if run["device"].lower() == "cpu" else "H100" if "H100" in run["device"] else (
        run["device"])


def _short(v: float) -> str:
    """A table number, short: 0.35, 87.3, 2.92e3."""
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.3g}" if abs(v) < 1000 else (
        f"{v:.2e}".replace("e+0", "e").replace("e+", "e"))


def _stat(runs: list[dict], key: str, spread: bool = True) -> str:
    """The mean of `key` over `runs`, "± std" when there are several and `spread`."""
    x = np.array([r[key] for r in runs], float)
    return _short(x.mean()) + (f" ± {_short(x.std())}" if spread and x.size > 1 else "")


def _minutes(seconds: list[float], runs: int) -> str:
    """The mean of `seconds` in minutes, "(k of n)" when only k of the n `runs` gave one."""
    if not seconds:
        return "—"
    return f"{np.mean(seconds) / 60:.0f} min" + (
        f" ({len(seconds)} of {runs})" if len(seconds) < runs else ""
    )


def _run_dir(out: pathlib.Path, model, mode, noise, seed, steps) -> pathlib.Path:
    """The run folder of one run: its name is the whole run key."""
    return out / f"{model}_{mode}_{noise}_seed{seed}_{steps}steps"


def _direction_curves(run_dir: pathlib.Path) -> dict[str, list[float]] | None:
    """The direction fractions at each evaluation of a run folder: {"step": [...], DIRECTIONS}."""
    metrics = run_dir / "metrics.jsonl"
    if not metrics.exists():
        return None
    logged = [json.loads(line) for line in metrics.read_text().splitlines()]
    return {k: [m[k] for m in logged] for k in ("step", *DIRECTIONS)}


def _directions_figure(records, out: pathlib.Path, path: pathlib.Path) -> pathlib.Path | None:
    """Direction fractions over training of every recorded run: from its record, else its folder.

    Records made before the curves were stored hold none: theirs come from the run folder.
    """
    panels = {}
    for r in sorted(records, key=lambda r: [r[k] for k in RUN_KEY]):
        curves = r.get("directions") or _direction_curves(_run_dir(out, *(r[k] for k in RUN_KEY)))
        if curves is None:
            continue  # an older record carried from another machine, without its folder
        panels.setdefault(f"{r['model']} · {r['mode']} · {r['noise']}", []).append(
            [np.array(curves[k]) for k in ("step", *DIRECTIONS)]
        )
    if not panels:
        return None
    return media.save_figure(direction_curves(panels), path)


def _videos_gif(records, out: pathlib.Path, path: pathlib.Path) -> pathlib.Path | None:
    """Final videos of one run per configuration (its lowest checkpointed seed), real ones above.

    Rebuilt from the run folders' last checkpoints (`video._experiment.run_videos`): runs whose
    folder kept no checkpoint (e.g. brought back from another machine without it) are left out.
    """
    rows, real, shown = {}, {}, set()
    order = lambda r: (MODELS.index(r["model"]), r["mode"], r["noise"], r["seed"])
    for r in sorted(records, key=order):
        run_dir = _run_dir(out, *(r[k] for k in RUN_KEY))
        config = f"{r['model']} · {r['mode']} · {r['noise']}"
        if config in shown or latest_step(run_dir) != r["steps"]:
            continue  # one run per configuration, one whose final checkpoint is here
        shown.add(config)
        videos = run_videos(run_dir, step=r["steps"])
        lo, hi = videos.value_range  # every row in [0, 1]: the modes' ranges differ
        rows[f"{config} · seed {r['seed']}"] = (videos.generated[:8] - lo) / (hi - lo)
        real.setdefault(f"real · {r['mode']}", (videos.real[:8] - lo) / (hi - lo))
    if not rows:
        return None
    return media.save_video_rows_gif(path, real | rows, value_range=(0, 1), label_width=190)


def main(argv=None) -> dict:
    """Runs the benchmark; returns the JSON payload."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="seconds: tiny networks, 4 steps, ode")
    p.add_argument("--steps", type=int, default=PRESETS["gru"].steps, help="G steps per run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--noise", nargs="+", default=list(NOISES), choices=NOISES)
    p.add_argument("--only", nargs="+", default=None, choices=MODELS, help="models to run")
    p.add_argument("--only-seeds", nargs="+", type=int, default=None, metavar="SEED",
                   help="run only these of the seeds 0 … SEEDS−1 (one process per run)")
    p.add_argument("--no-frame-quality", action="store_true", help="skip the digit classifier")
    p.add_argument("--no-progress", action="store_true", help="hide the runs' progress bars")
    p.add_argument("--stop-after", type=int, default=None, metavar="STEP",
                   help="time box: stop each unfinished run at its first evaluation at or after "
                        "STEP (checkpointed, not recorded); the next invocation resumes it")
    p.add_argument("--table", action="store_true",
                   help="print the table of every recorded run (all seeds found), run nothing")
    p.add_argument("--readme", action="store_true",
                   help="print README's tables (per configuration, per run) of the recorded "
                        "runs at --steps, run nothing")
    args = p.parse_args(argv)
    name = "motion_collapse_tiny" if args.tiny else "motion_collapse"
    store = RESULTS / f"{name}_runs.jsonl" if args.tiny else RECORDS / f"{name}_runs.jsonl"
    if args.readme:
        recorded = load_records(store, RUN_KEY).values()
        tables = [readme_table(recorded, steps=args.steps), readme_runs(recorded, args.steps)]
        print("\n\n".join(tables))
        return tables
    if args.table:
        groups, recorded = {}, load_records(store, RUN_KEY).values()
        for r in recorded:
            groups.setdefault((r["model"], r["mode"], r["noise"], r["steps"]), []).append(r)
        rows = [{**_row(*k[:3], runs), "steps": k[3]} for k, runs in sorted(groups.items())]
        print(table(rows, list(rows[0])) if rows else f"no runs recorded in {store}")
        figure = _directions_figure(recorded, RESULTS / name, RESULTS / f"{name}_directions.png")
        if figure:
            print(f"directions over training: {figure}")
        videos = _videos_gif(recorded, RESULTS / name, RESULTS / f"{name}_videos.gif")
        if videos:
            print(f"final videos per configuration: {videos}")
        return {"rows": rows, "figure": figure, "videos": videos}
    scorers = {}

    def frame_score(config):
        if args.no_frame_quality:
            return None
        frames = (value_range(config), config.size)
        if frames not in scorers:  # one classifier (cached on disk), a scorer per value range
            scorers[frames] = digit_frame_scorer(
                RESULTS / "motion_collapse_classifier", key=jr.key(0), size=config.size,
                value_range=frames[0], steps=20 if args.tiny else 1500,
            )
        return scorers[frames]

    # Tiny: the ODE (frozen noise only) on clean data, one seed: a single seconds-long run.
    models = args.only or (["ode"] if args.tiny else list(MODELS))
    seeds = 1 if args.tiny else args.seeds
    modes = ["clean"] if args.tiny and args.modes == list(MODES) else args.modes
    if args.steps < 1 or seeds < 1:
        raise ValueError(f"`--steps` and `--seeds` must be >= 1, got {args.steps}, {seeds}.")
    run_seeds = range(seeds) if args.only_seeds is None else args.only_seeds
    if outside := sorted(set(run_seeds) - set(range(seeds))):
        raise ValueError(f"`--only-seeds` must lie in 0 … {seeds - 1}, got {outside}.")
    grid = _configs(models, modes, args.noise)
    if not grid:  # rows may still be missing later, for a reason: seeds other processes run
        raise ValueError(
            "Nothing to run: `--noise fresh` only applies to models with per-frame noise "
            f"(not {', '.join(DETERMINISTIC_MOTIONS)})."
        )
    out = RESULTS / name
    env = environment(seed=0)
    print(env)
    print(f"budget: {'tiny' if args.tiny else args.steps} steps × {seeds} seeds per model")

    if args.tiny:  # a fresh start, but for runs that an earlier --stop-after left to resume
        store.unlink(missing_ok=True)
        for summary in out.glob("*/summary.json"):
            shutil.rmtree(summary.parent)
    runs = load_records(store, RUN_KEY)
    rows, per_seed, stopped = [], [], []
    for model, mode, noise in grid:
        base = PRESETS[model]
        fresh = noise == "fresh"
        for seed in run_seeds:
            config = dataclasses.replace(
                base, **MODES[mode], fresh_noise_per_frame=fresh, seed=seed
            )
            config = tiny(config) if args.tiny else dataclasses.replace(config, steps=args.steps)
            key = (model, mode, noise, seed, config.steps)
            if key in runs:
                continue
            # The folder names the whole key, so a run found there is this run, interrupted:
            # it resumes from its last checkpoint (another config in it raises ValueError).
            run_dir = _run_dir(out, *key)
            summary_path = run_dir / "summary.json"
            summary_path.unlink(missing_ok=True)
            run_experiment(
                config, run_dir=run_dir, progress=not args.no_progress, stop_after=args.stop_after,
                frame_score=frame_score(config),
            )
            if not summary_path.exists():
                stopped.append(run_dir.name)
                continue
            summary = json.loads(summary_path.read_text())
            summary.update(dict(zip(RUN_KEY, key, strict=True)), device=env["device"])
            summary["wall_s"] = summary["wall_time_s"]  # training time, over resumed pieces
            # The curves travel with the record, so the figure survives a lost run folder.
            summary["directions"] = _direction_curves(run_dir)
            runs[key] = summary
            append_record(store, summary)
        runs_ = [runs.get((model, mode, noise, seed, config.steps)) for seed in range(seeds)]
        if None in runs_:
            continue
        per_seed += runs_
        rows.append(_row(model, mode, noise, runs_))
        print(table(rows[-1:], list(rows[-1])))
    if stopped:
        print(f"stopped by --stop-after {args.stop_after} (run again to resume): "
              + ", ".join(stopped))
    if rows:
        print(table(rows, list(rows[0])))
    payload = {"env": env, "steps": args.steps, "seeds": seeds, "rows": rows, "per_seed": per_seed}
    path = write(name, payload)
    print(f"results: {path}; run folders (GIF grids): {out}")
    return payload


if __name__ == "__main__":
    main()

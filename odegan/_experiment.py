"""Runs one `TrainConfig` end to end into a run folder: training, metrics, checkpoints, pictures.

Layout of the run folder::

    config.json        the resolved configuration
    metrics.jsonl      every `eval_every` steps: the chunk's mean losses, gradient norms and
                       integration error, the last step's values (``*_last``), wall time; for
                       ``mog`` also modes covered, high-quality fraction and mode KL; for ``toy``
                       the parameters θ, φ
    snapshots/         ``mog``: generated samples and discriminator logits at the snapshot steps
    checkpoints/       the `TrainState` every `checkpoint_every` steps (a run resumes from the
                       latest and ends bitwise as the uninterrupted run would, on CPU)
    density.png        ``mog``: generator density and discriminator contours at the snapshots
    losses.png         losses against the Nash values log 4 and log 2
    phase.png          ``toy``: the trajectory in the (θ, φ) plane with the exact solution
    summary.json       final numbers and wall time
"""

import dataclasses
import functools as ft
import json
import math
import pathlib
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from tqdm.auto import tqdm

from common import media, runs

from . import datasets, metrics, plot
from ._game import Players, rotational_game, rotational_solution, toy_game_field
from ._train import init_train_state, train
from .configs import TrainConfig, make_problem, make_transformation

_RESOLUTION = 60  # discriminator contour grid per axis
_EXTENT = 2.5


def snapshot_steps(config: TrainConfig) -> list[int]:
    """Evaluation steps at which density snapshots are kept (first and last included)."""
    evals = list(range(0, config.steps + 1, config.eval_every))
    if evals[-1] != config.steps:
        evals.append(config.steps)
    picks = np.unique(np.round(np.linspace(0, len(evals) - 1, config.snapshots)).astype(int))
    return [evals[i] for i in picks]


def run_experiment(
    config: TrainConfig,
    *,
    out: str | pathlib.Path = "runs",
    run_dir: str | pathlib.Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> pathlib.Path:
    """Trains one configuration and writes its run folder.

    Args:
        config: the run.
        out: parent folder of a new, timestamped run folder.
        run_dir: an exact run folder instead; if it holds a run of the same config, the run
            resumes from its latest checkpoint.
        progress: show a progress bar.
        stop_after: stop (checkpointed, no pictures) once this many steps are done, as a
            time-boxed job would; calling again with the same `run_dir` resumes.

    Returns:
        The run folder.
    """
    config_dict = dataclasses.asdict(config)
    if run_dir is None:
        run_dir = runs.make_run_dir(out, config.name, config_dict)
    else:
        run_dir = pathlib.Path(run_dir)
        run_dir = runs.make_run_dir(run_dir.parent, run_dir.name, config_dict, timestamp=False)
    init_key, train_key, eval_key = jr.split(jr.key(config.seed), 3)
    players, losses, sample_batch, generator, discriminator = make_problem(config, key=init_key)
    tx = make_transformation(config)
    state = init_train_state(players, tx, key=train_key)
    start = runs.latest_step(run_dir)
    records = [r for r in runs.read_metrics(run_dir) if start is not None and r["step"] <= start]
    if start is not None:
        state = runs.restore_checkpoint(run_dir, state, step=start)
    # Drop the lines an interrupted run logged after its last checkpoint.
    (run_dir / runs.METRICS_FILE).unlink(missing_ok=True)
    for r in records:
        runs.append_metrics(run_dir, r["step"], **{k: v for k, v in r.items() if k != "step"})

    run_chunk = jax.jit(
        ft.partial(
            train,
            tx=tx,
            losses=losses,
            sample_batch=sample_batch,
            fresh_minibatch=config.fresh_minibatch,
        ),
        static_argnums=1,
    )
    means = datasets.mog_grid_means()
    grid = jnp.asarray(plot.grid_points(_EXTENT, _RESOLUTION), jnp.float32)

    @jax.jit
    def evaluate_mog(players, step):
        z = jr.normal(jr.fold_in(eval_key, step), (config.eval_samples, config.latent_dim))
        samples = generator(players.g, z)
        logits = discriminator(players.d, grid).reshape(_RESOLUTION, _RESOLUTION)
        scores = metrics.mog_metrics(samples, means, std=datasets.MOG_GRID_STD)
        return samples, logits, scores

    snaps = set(snapshot_steps(config))
    if config.problem == "mog":
        (run_dir / "snapshots").mkdir(exist_ok=True)

    def evaluate(state, chunk_metrics):
        step = int(state.step)
        values = {}
        if chunk_metrics is not None:
            for k, v in chunk_metrics.items():
                v = np.asarray(v)
                values[k] = float(np.mean(v))
                values[f"{k}_last"] = float(v[-1])
        if config.problem == "mog":
            samples, logits, scores = evaluate_mog(state.players, state.step)
            values.update({k: v.item() for k, v in scores.items()})
            if step in snaps:
                np.savez(
                    run_dir / "snapshots" / f"{step:08d}.npz",
                    samples=np.asarray(samples),
                    logits=np.asarray(logits),
                )
        else:
            values.update(theta=float(state.players.d), phi=float(state.players.g))
        values["wall_time"] = time.perf_counter() - t_start
        records.append(runs.append_metrics(run_dir, step, **values))
        return values

    t_start = time.perf_counter() - (records[-1]["wall_time"] if records else 0.0)
    if start is None:
        evaluate(state, None)
    checkpoint_every = math.ceil(config.checkpoint_every / config.eval_every) * config.eval_every
    last = config.steps if stop_after is None else min(stop_after, config.steps)
    bar = tqdm(
        total=config.steps,
        initial=int(state.step),
        disable=not progress,
        desc=config.name,
        unit="step",
        dynamic_ncols=True,
    )
    while int(state.step) < last:
        chunk = min(config.eval_every, last - int(state.step))
        state, chunk_metrics = run_chunk(state, chunk)
        values = evaluate(state, chunk_metrics)
        bar.update(chunk)
        bar.set_postfix(loss_d=f"{values['loss_d']:.3f}", loss_g=f"{values['loss_g']:.3f}")
        step = int(state.step)
        if step % checkpoint_every == 0 or step == last:
            runs.save_checkpoint(run_dir, step, state)
    bar.close()
    if int(state.step) < config.steps:
        return run_dir
    _pictures(run_dir, config, records)
    summary = {
        "name": config.name,
        "steps": int(state.step),
        "wall_time_s": records[-1]["wall_time"],
    }
    for key in (
        "loss_d_last",
        "loss_g_last",
        "grad_norm_g_last",
        "modes_covered",
        "high_quality",
        "mode_kl",
        "theta",
        "phi",
    ):
        if key in records[-1]:
            summary[key] = records[-1][key]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return run_dir


def _pictures(run_dir: pathlib.Path, config: TrainConfig, records: list[dict]) -> None:
    logged = [r for r in records if "loss_d" in r]
    steps = np.array([r["step"] for r in logged])
    ax = plot.loss_curves(
        steps,
        np.array([r["loss_d"] for r in logged]),
        np.array([r["loss_g"] for r in logged]),
        nash=(math.log(4.0), math.log(2.0)) if config.loss == "non_saturating" else None,
    )
    ax.set_title(config.name, fontsize="small")
    media.save_figure(ax.figure, run_dir / "losses.png")
    if config.problem == "mog":
        snapshots = []
        for path in sorted((run_dir / "snapshots").glob("*.npz")):
            with np.load(path) as f:
                snapshots.append((int(path.stem), f["samples"], f["logits"]))
        fig = plot.mog_snapshots(snapshots, means=datasets.mog_grid_means(), extent=_EXTENT)
        media.save_figure(fig, run_dir / "density.png")
    else:
        trajectory = Players(
            d=np.array([r["theta"] for r in records]), g=np.array([r["phi"] for r in records])
        )
        times = config.dt * np.array([r["step"] for r in records])
        exact = rotational_solution(times, Players(1.0, 1.0), epsilon=config.epsilon)
        ax = plot.phase_portrait(
            toy_game_field(rotational_game, epsilon=config.epsilon),
            trajectories={config.method: trajectory},
            exact=exact,
        )
        media.save_figure(ax.figure, run_dir / "phase.png")

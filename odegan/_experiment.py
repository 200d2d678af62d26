"""Runs one `TrainConfig` end to end into a run folder: training, metrics, checkpoints, pictures.

Layout of the run folder::

    config.json        the resolved configuration
    metrics.jsonl      every `eval_every` steps: the chunk's mean losses, gradient norms and
                       integration error, the last step's values (``*_last``), wall time; for
                       ``mog`` also modes covered, high-quality fraction and mode KL; for ``toy``
                       the parameters θ, φ; for images the quality metrics of
                       `common.features.quality_metrics` (``frechet``, ``kid``, ``kid_std``,
                       ``classifier_score``, ``coverage``, ``class_kl``), and at step 0 their
                       real-vs-real floors (``<name>_real``)
    snapshots/         ``mog``: generated samples and discriminator logits at the snapshot steps
    samples/           images: an 8×8 grid of samples (fixed latents) at every evaluation
    classifier.npz     images: the metrics' classifier (`common.classifier`), trained once and
    classifier.json    reused on resume (or kept in `classifier_dir`, shared between runs)
    quality_floor.json images: the real-vs-real value of every quality metric
    checkpoints/       the `TrainState` every `checkpoint_every` steps (a run resumes from the
                       latest and ends bitwise as the uninterrupted run would, on CPU)
    density.png        ``mog``: generator density and discriminator contours at the snapshots
    quality.png        images: the quality metrics against their real-vs-real floors
    losses.png         losses against the Nash values log 4 and log 2
    phase.png          ``toy``: the trajectory in the (θ, φ) plane with the exact solution
    summary.json       final numbers and wall time
"""

import functools as ft
import json
import math
import pathlib
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from common import classifier, experiment, features, media

from . import datasets, metrics, plot
from ._game import Players, rotational_game, rotational_solution, toy_game_field
from ._train import TrainState, init_train_state, train, train_step
from .configs import IMAGE_PROBLEMS, Problem, TrainConfig, make_problem, make_transformation

_RESOLUTION = 60  # discriminator contour grid per axis
_EXTENT = 2.5
_GRID = 64  # samples in each image grid
_KID_SUBSETS = 20  # KID's paper averages 100; 20 keeps an evaluation within seconds on a CPU
QUALITY = ("frechet", "kid", "kid_std", "classifier_score", "coverage", "class_kl")


def snapshot_steps(config: TrainConfig) -> list[int]:
    """Evaluation steps at which density snapshots are kept (first and last included)."""
    evals = list(range(0, config.steps + 1, config.eval_every))
    if evals[-1] != config.steps:
        evals.append(config.steps)
    picks = np.unique(np.round(np.linspace(0, len(evals) - 1, config.snapshots)).astype(int))
    return [evals[i] for i in picks]


def image_evaluator(
    config: TrainConfig,
    generate,
    *,
    key: jax.Array,
    classifier_dir: str | pathlib.Path,
):
    """The quality metrics of an image run: a cached classifier, two real sets, the floors.

    The classifier (`common.classifier.load_or_train_classifier`, `config.classifier_steps`
    steps) and the two disjoint real sets of `config.eval_samples` images are drawn from fixed
    keys, not the run's seed, so the metrics and floors of different seeds and methods compare.

    Args:
        config: an image run (``mnist`` or ``cifar``).
        generate: the jitted `generate(g, z[n, latent_dim]) -> x[n, h, w, c]` for sampling,
            `g` what `evaluate` is given (the generator's parameters and model state).
        key: PRNG key of the generated samples (folded with the step) and of the grid's latents.
        classifier_dir: folder of the classifier's cache.

    Returns:
        `(evaluate, floor, classifier_info)`: `evaluate(g, step) -> (metrics, grid)` with
        `metrics` the dict of `common.features.quality_metrics` (NaN when the samples are not
        finite) and `grid` `[64, h, w, c]` samples from fixed latents; `floor` the same metrics
        of the second real set (keys ``<name>_real``); `classifier_info` as returned by
        `load_or_train_classifier`.

    Raises:
        ValueError: if the data hold fewer than `2 * config.eval_samples` images.
    """
    images_u8, labels = datasets.load_images(config.problem, config.data_path)
    n = config.eval_samples
    if 2 * n > images_u8.shape[0]:
        raise ValueError(
            f"`eval_samples` = {n}: the quality metrics compare two disjoint real sets of that "
            f"size, but the data hold {images_u8.shape[0]} images."
        )
    images = np.asarray(datasets.to_unit_range(images_u8))
    params, info = classifier.load_or_train_classifier(
        classifier_dir, images, labels, key=jr.key(0), steps=config.classifier_steps
    )
    features_fn = ft.partial(classifier.jit_features, params)
    logits_fn = ft.partial(classifier.jit_logits, params)
    perm = np.asarray(jr.permutation(jr.key(1), images.shape[0]))
    real, reference = images[perm[:n]], images[perm[n : 2 * n]]
    sample_key, grid_key = jr.split(key)
    options = dict(
        key=jr.key(2),  # the same KID subsets for every run: floors and seeds compare exactly
        logits_fn=logits_fn,
        kid_subset_size=min(1000, n),
        kid_subsets=_KID_SUBSETS,
    )
    floor = features.quality_metrics(features_fn, real, reference, **options)
    grid_latents = jr.normal(grid_key, (_GRID, config.latent_dim))

    def evaluate(g, step: int) -> tuple[dict[str, float], np.ndarray]:
        z = jr.normal(jr.fold_in(sample_key, step), (n, config.latent_dim))
        fake = features.extract(ft.partial(generate, g), z, batch_size=500)
        grid = np.asarray(generate(g, grid_latents))
        if not np.all(np.isfinite(fake)):
            return dict.fromkeys(floor, math.nan), grid
        return features.quality_metrics(features_fn, real, fake, **options), grid

    return evaluate, {f"{k}_real": v for k, v in floor.items()}, info


class Programs(NamedTuple):
    """What `run_experiment` builds and compiles for one configuration (`training_programs`).

    Attributes:
        problem: the configuration's `Problem` (its players initialised from the seed).
        tx: its transformation.
        state: the `TrainState` at step 0.
        step: images: the jitted `step(state, data) -> (state, metrics)` of one training step,
            the images (`problem.data`) an argument rather than a constant of the program;
            None for ``mog`` / ``toy``.
        generate: images: the jitted `generate((φ, model_state), z[n, latent_dim]) -> x`; None
            for ``mog`` / ``toy``.
        train: ``mog`` / ``toy``: the jitted `train(state, n)` scanning n steps; None for images.
        evaluate_mog: ``mog``: the jitted `evaluate_mog(players, step) -> (samples, logits
            [_RESOLUTION, _RESOLUTION], scores)`; None otherwise.
    """

    problem: Problem
    tx: optax.GradientTransformationExtraArgs
    state: TrainState
    step: Callable | None
    generate: Callable | None
    train: Callable | None
    evaluate_mog: Callable | None


@ft.lru_cache(maxsize=4)
def training_programs(config: TrainConfig) -> Programs:
    """The `Programs` of `config`, cached so that the programs compile once per configuration.

    The pieces of a resumed run, a rerun of one configuration and a benchmark that times the
    step before running it share them.

    Args:
        config: the run.

    Returns:
        `Programs`.
    """
    init_key, train_key, eval_key = _keys(config)
    problem = make_problem(config, key=init_key)
    tx = make_transformation(config)
    state = init_train_state(problem.players, tx, key=train_key, model_state=problem.model_state)
    step_args = dict(
        tx=tx, losses=problem.losses, fresh_minibatch=config.fresh_minibatch, d_steps=config.d_steps
    )
    if config.problem in IMAGE_PROBLEMS:

        @jax.jit
        def step(state, data):
            return train_step(state, sample_batch=ft.partial(problem.sample_batch, data=data),
                              **step_args)

        generate = jax.jit(lambda g_and_state, z: problem.generator(*g_and_state, z))
        return Programs(problem, tx, state, step=step, generate=generate, train=None,
                        evaluate_mog=None)
    train_n = jax.jit(
        ft.partial(train, sample_batch=problem.sample_batch, **step_args), static_argnums=1
    )
    if config.problem != "mog":
        return Programs(problem, tx, state, step=None, generate=None, train=train_n,
                        evaluate_mog=None)
    means = datasets.mog_grid_means()
    grid = jnp.asarray(plot.grid_points(_EXTENT, _RESOLUTION), jnp.float32)

    @jax.jit
    def evaluate_mog(players, step):
        z = jr.normal(jr.fold_in(eval_key, step), (config.eval_samples, config.latent_dim))
        samples = problem.generator(players.g, None, z)
        logits = problem.discriminator(players.d, grid).reshape(_RESOLUTION, _RESOLUTION)
        scores = metrics.mog_metrics(samples, means, std=datasets.MOG_GRID_STD)
        return samples, logits, scores

    return Programs(problem, tx, state, step=None, generate=None, train=train_n,
                    evaluate_mog=evaluate_mog)


def _keys(config: TrainConfig) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(initialisation, training, evaluation) PRNG keys of `config`'s seed."""
    return tuple(jr.split(jr.key(config.seed), 3))


def run_experiment(
    config: TrainConfig,
    *,
    out: str | pathlib.Path = "runs",
    run_dir: str | pathlib.Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    classifier_dir: str | pathlib.Path | None = None,
) -> pathlib.Path:
    """Trains one configuration and writes its run folder.

    Args:
        config: the run.
        out: parent folder of a new, timestamped run folder.
        run_dir: an exact run folder instead; if it holds a run of the same config, the run
            resumes from its latest checkpoint.
        progress: show a progress bar.
        stop_after: stop (checkpointed, no pictures) at the first evaluation at or after this
            step, as a time-boxed job would; calling again with the same `run_dir` resumes.
        classifier_dir: images: the folder caching the metrics' classifier (default the run
            folder); share one between runs to train it once.

    Returns:
        The run folder.
    """
    run_dir = experiment.open_run(config, name=config.name, out=out, run_dir=run_dir)
    programs = training_programs(config)
    problem = programs.problem
    state, records = experiment.resume(run_dir, programs.state)

    image_problem = config.problem in IMAGE_PROBLEMS
    if image_problem:
        advance = experiment.one_step_per_call(ft.partial(programs.step, data=problem.data))
        evaluate_images, floor, classifier_info = image_evaluator(
            config,
            programs.generate,
            key=_keys(config)[2],
            classifier_dir=run_dir if classifier_dir is None else classifier_dir,
        )
        (run_dir / "quality_floor.json").write_text(json.dumps(floor, indent=2))
    else:
        advance = programs.train

    snaps = set(snapshot_steps(config))
    if config.problem == "mog":
        (run_dir / "snapshots").mkdir(exist_ok=True)

    def evaluate(state, chunk_metrics):
        step = int(state.step)
        values = {} if chunk_metrics is None else experiment.chunk_summary(chunk_metrics)
        if config.problem == "mog":
            samples, logits, scores = programs.evaluate_mog(state.players, state.step)
            values.update({k: v.item() for k, v in scores.items()})
            if step in snaps:
                np.savez(
                    run_dir / "snapshots" / f"{step:08d}.npz",
                    samples=np.asarray(samples),
                    logits=np.asarray(logits),
                )
        elif image_problem:
            scores, grid = evaluate_images((state.players.g, state.model_state), step)
            values.update(scores)
            if chunk_metrics is None:
                values.update(floor)
            media.save_image_grid(run_dir / "samples" / f"{step:08d}.png", grid, nrow=8)
        else:
            values.update(theta=float(state.players.d), phi=float(state.players.g))
        return values

    state, records = experiment.drive(
        run_dir, state, records,
        advance=advance,
        evaluate=evaluate,
        steps=config.steps,
        eval_every=config.eval_every,
        checkpoint_every=config.checkpoint_every,
        stop_after=stop_after,
        steps_per_call=1 if image_problem else None,
        progress=progress,
        desc=config.name,
        postfix=lambda v: {"loss_d": f"{v['loss_d']:.3f}", "loss_g": f"{v['loss_g']:.3f}"},
    )
    if int(state.step) < config.steps:
        return run_dir
    _pictures(run_dir, config, records)
    keys = ("loss_d_last", "loss_g_last", "grad_norm_g_last", "modes_covered", "high_quality",
            "mode_kl", "theta", "phi", *QUALITY)
    extra = {}
    if image_problem:
        extra = floor | {
            "classifier_held_out_accuracy": classifier_info["held_out_accuracy"],
            "classifier_train_seconds": classifier_info["train_seconds"],
        }
    experiment.write_summary(run_dir, records, name=config.name, keys=keys, **extra)
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
    elif config.problem in IMAGE_PROBLEMS:
        scored = [r for r in records if "frechet" in r]
        floor = json.loads((run_dir / "quality_floor.json").read_text())
        fig = plot.quality_curves(
            np.array([r["step"] for r in scored]),
            {k: np.array([r[k] for r in scored]) for k in QUALITY if k != "kid_std"},
            floors={k: floor[f"{k}_real"] for k in QUALITY if k != "kid_std"},
        )
        media.save_figure(fig, run_dir / "quality.png")
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

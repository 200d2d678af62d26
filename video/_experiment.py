"""Runs one `TrainConfig` end to end into a run folder: training, motion metrics, checkpoints, GIFs.

Layout of the run folder::

    config.json        the resolved configuration
    metrics.jsonl      every `eval_every` steps: the chunk's mean losses and gradient norms, the
                       last step's values (``*_last``), the motion metrics of `eval_videos`
                       generated videos (fixed codes) estimated by `video.estimate_rotation` —
                       fractions rotating counter-clockwise / clockwise / static, mean speed,
                       speed-histogram distance to the real videos, mean fit score — the frame
                       quality (with a `frame_score`), and the wall time
    checkpoints/       the `odegan.TrainState` every `checkpoint_every` steps (a run resumes from
                       the latest and ends bitwise as the uninterrupted run would, on CPU)
    videos/            a GIF grid of `gif_videos` generated videos (fixed codes) per evaluation
    videos.gif         the final grid; data.gif: real videos
    losses.png         losses per discriminator against the Nash values, and direction coverage
    summary.json       final numbers, the real videos' reference numbers and wall time
"""

import dataclasses
import functools as ft
import math
import pathlib
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from common import experiment, media, runs
from odegan import init_train_state, train_step
from odegan.plot import loss_curves

from ._metrics import direction_coverage, estimate_rotation, speed_histogram_distance
from ._train import MoCoGAN, rotating_mnist_sampler, sample_mocogan_batch
from .configs import TrainConfig, make_data, make_model, make_transformation, value_range
from .plot import draw_directions

# `frame_score(frames [n, h, w, 1] in the data's value range) -> scalar`, e.g. the mean
# confidence of a digit classifier.
FrameScore = Callable[[jax.Array], float]


@dataclasses.dataclass(frozen=True)
class _Programs:
    """The compiled pieces of a configuration, shared by every run of it in this process."""

    model: MoCoGAN
    tx: optax.GradientTransformationExtraArgs
    run_step: Callable  # (state, source, noise_key) -> (state, metrics)
    real_batch: Callable  # (source) -> eval batch with real videos
    generate: Callable  # (generator params, eval batch) -> videos
    rotation: Callable  # (videos) -> RotationEstimate of each


def _sampler(config: TrainConfig, source):
    return ft.partial(
        rotating_mnist_sampler, source, n_frames=config.n_frames, mode=config.data_mode
    )


def training_step(config: TrainConfig) -> Callable:
    """One training step of `config`'s game, with everything a seed changes as an argument.

    Args:
        config: the run (its seed is not used: see `seed_inputs`).

    Returns:
        ``step(state, source, noise_key) -> (state, metrics)``, unjitted: `state` an
        `odegan.TrainState`, `source` the data (`make_data`) and `noise_key` the per-frame
        noise key of frozen-noise runs, as `seed_inputs` gives them. The data is an argument,
        not a closure (it would become a constant of the program), and so are the keys, so
        ``jax.vmap(step)`` over stacked inputs trains several seeds as one program.
    """
    model = make_model(config)
    tx = make_transformation(config)

    def step(state, source, noise_key):
        sample_batch = ft.partial(
            sample_mocogan_batch,
            model=model,
            sample_videos=_sampler(config, source),
            batch_size=config.batch_size,
            frozen_noise_key=noise_key,
        )
        return train_step(
            state, tx=tx, losses=model.losses, sample_batch=sample_batch, d_steps=config.d_steps
        )

    return step


def seed_inputs(config: TrainConfig) -> tuple:
    """`(state, source, noise_key)` at step 0 of `config`'s seed, for `training_step`."""
    keys = _keys(config)
    state = _initial_state(_programs(config), keys)
    return state, make_data(config, key=keys["data"]), keys["noise"]


@ft.lru_cache(maxsize=4)
def _programs(config: TrainConfig) -> _Programs:
    model = make_model(config)
    keys = _keys(config)

    def real_batch(source):
        return sample_mocogan_batch(
            keys["eval"],
            model=model,
            sample_videos=_sampler(config, source),
            batch_size=max(config.eval_videos, config.gif_videos),
            frozen_noise_key=keys["noise"],
        )

    def generate(g, batch):
        return model.generate(g, batch.content, batch.motion_noise, key=batch.noise_key)

    estimate = ft.partial(estimate_rotation, value_range=value_range(config))
    return _Programs(
        model=model,
        tx=make_transformation(config),
        # One step per call, not a `lax.scan` of steps (see `experiment.one_step_per_call`).
        run_step=jax.jit(training_step(config)),
        real_batch=jax.jit(real_batch),
        generate=jax.jit(generate),
        rotation=jax.jit(jax.vmap(estimate)),
    )


def _initial_state(programs: _Programs, keys: dict[str, jax.Array]):
    return init_train_state(programs.model.init(key=keys["init"]), programs.tx, key=keys["train"])


def _keys(config: TrainConfig) -> dict[str, jax.Array]:
    names = ("init", "train", "data", "eval", "noise")
    return dict(zip(names, jr.split(jr.key(config.seed), len(names)), strict=True))


def _motion_metrics(estimate, real) -> dict[str, float]:
    """Direction fractions, speeds and the speed-histogram distance of `estimate` to `real`."""
    coverage = direction_coverage(estimate.direction)
    ccw, cw = float(coverage.counter_clockwise), float(coverage.clockwise)
    return {
        "counter_clockwise": ccw,
        "clockwise": cw,
        "static": 1.0 - ccw - cw,
        "mean_speed": float(jnp.mean(estimate.speed)),
        "speed_distance": float(speed_histogram_distance(estimate.speed, real.speed)),
        "rotation_score": float(jnp.mean(estimate.score)),
    }


def run_experiment(
    config: TrainConfig,
    *,
    out: str | pathlib.Path = "runs",
    run_dir: str | pathlib.Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    frame_score: FrameScore | None = None,
) -> pathlib.Path:
    """Trains one configuration and writes its run folder (see the module).

    Args:
        config: the run.
        out: parent folder of a new, timestamped run folder.
        run_dir: an exact run folder instead; if it holds a run of the same config, the run
            resumes from its latest checkpoint (a different config raises ValueError).
        progress: show a progress bar.
        stop_after: stop (checkpointed, no pictures) at the first evaluation at or after this
            step, as a time-boxed job would; calling again with the same `run_dir` resumes.
        frame_score: optional frame-quality hook, ``frame_score(frames) -> float`` on generated
            frames ``[n, h, w, 1]`` in the data's value range (e.g. a digit classifier's mean
            confidence); logged as ``frame_quality`` (also for the real frames in the summary).

    Returns:
        The run folder.
    """
    run_dir = experiment.open_run(config, name=config.name, out=out, run_dir=run_dir)
    programs = _programs(config)
    state, source, noise_key = seed_inputs(config)
    state, records = experiment.resume(run_dir, state)

    eval_batch = programs.real_batch(source)
    real = programs.rotation(eval_batch.videos[: config.eval_videos])
    reference = {f"real_{k}": v for k, v in _motion_metrics(real, real).items()}
    vrange = value_range(config)
    media.save_video_grid_gif(
        run_dir / "data.gif", np.asarray(eval_batch.videos[: config.gif_videos]), value_range=vrange
    )
    if frame_score is not None:
        reference["real_frame_quality"] = float(frame_score(_frames(eval_batch.videos, config)))
    (run_dir / "videos").mkdir(exist_ok=True)

    def evaluate(state, chunk_metrics):
        values = {} if chunk_metrics is None else experiment.chunk_summary(chunk_metrics)
        videos = programs.generate(state.players.g, eval_batch)
        values.update(_motion_metrics(programs.rotation(videos[: config.eval_videos]), real))
        if frame_score is not None:
            values["frame_quality"] = float(frame_score(_frames(videos, config)))
        media.save_video_grid_gif(
            run_dir / "videos" / f"{int(state.step):08d}.gif",
            np.asarray(videos[: config.gif_videos]),
            value_range=vrange,
        )
        return values

    state, records = experiment.drive(
        run_dir, state, records,
        advance=experiment.one_step_per_call(
            ft.partial(programs.run_step, source=source, noise_key=noise_key)
        ),
        evaluate=evaluate,
        steps=config.steps,
        eval_every=config.eval_every,
        checkpoint_every=config.checkpoint_every,
        stop_after=stop_after,
        steps_per_call=1,
        progress=progress,
        desc=config.name,
        postfix=lambda v: {
            "loss_d": f"{v['loss_d']:.3f}",
            "ccw": f"{v['counter_clockwise']:.2f}",
            "cw": f"{v['clockwise']:.2f}",
        },
    )
    if int(state.step) < config.steps:
        return run_dir
    final = run_dir / "videos" / f"{config.steps:08d}.gif"
    (run_dir / "videos.gif").write_bytes(final.read_bytes())
    _figure(run_dir, config, records)
    keys = ("loss_d_last", "loss_g_last", "counter_clockwise", "clockwise", "static",
            "mean_speed", "speed_distance", "rotation_score", "frame_quality")
    experiment.write_summary(run_dir, records, name=config.name, keys=keys, **reference)
    return run_dir


class RunVideos(NamedTuple):
    """A run's evaluation videos, rebuilt from its folder (`run_videos`)."""

    generated: np.ndarray  # [n, t, h, w, 1] from the checkpointed generator, fixed codes
    real: np.ndarray  # [n, t, h, w, 1] real clips of the run's evaluation batch
    value_range: tuple[float, float]  # the data's (low, high)
    step: int  # the checkpoint's step


def run_videos(
    run_dir: str | pathlib.Path, *, n: int | None = None, step: int | None = None
) -> RunVideos:
    """The first `n` videos of a run's evaluation at a checkpointed step, rebuilt from its folder.

    The run's configuration (config.json) gives the networks and the evaluation batch (fixed
    codes from the run's seed), the checkpoint the generator: the videos are those of the run's
    GIF grid ``videos/<step>.gif``, as arrays, for pictures that compare runs.

    Args:
        run_dir: a run folder of `run_experiment`.
        n: number of videos, at most the run's evaluation batch; default the run's
            ``gif_videos`` (its GIF grid).
        step: a checkpointed step; default the latest.

    Returns:
        A `RunVideos`.

    Raises:
        ValueError: if `n` is out of range.
        FileNotFoundError: if `run_dir` holds no checkpoint (or not `step`).
    """
    config = TrainConfig(**runs.read_config(run_dir))
    batch_size = max(config.eval_videos, config.gif_videos)
    n = config.gif_videos if n is None else n
    if not 1 <= n <= batch_size:
        raise ValueError(f"`n` must lie in 1 … {batch_size} (the evaluation batch), got {n}.")
    programs, keys = _programs(config), _keys(config)
    state = runs.restore_checkpoint(run_dir, _initial_state(programs, keys), step=step)
    batch = programs.real_batch(make_data(config, key=keys["data"]))
    videos = programs.generate(state.players.g, batch)
    return RunVideos(
        generated=np.asarray(videos[:n]),
        real=np.asarray(batch.videos[:n]),
        value_range=value_range(config),
        step=int(state.step),
    )


def _frames(videos: jax.Array, config: TrainConfig) -> jax.Array:
    """The first `eval_videos` videos' frames, `[n t, h, w, 1]`, clipped to the data's range."""
    lo, hi = value_range(config)
    videos = videos[: config.eval_videos]
    return jnp.clip(videos.reshape(-1, *videos.shape[2:]), lo, hi)


def _figure(run_dir: pathlib.Path, config: TrainConfig, records: list[dict]) -> None:
    """losses.png: losses per discriminator (left) and direction fractions (right)."""
    logged = [r for r in records if "loss_d" in r]
    steps = np.array([r["step"] for r in logged])
    # L_D and L_G add an image and a video term: halved, each sits at log 4 and log 2 at Nash.
    ax = loss_curves(
        steps,
        np.array([r["loss_d"] for r in logged]) / 2,
        np.array([r["loss_g"] for r in logged]) / 2,
        nash=(math.log(4.0), math.log(2.0)) if config.loss == "non_saturating" else None,
    )
    ax.set_title(f"{config.name}: (image + video) / 2", fontsize="small")
    fig = ax.figure
    fig.set_size_inches(11, 3.5)
    grid = fig.add_gridspec(1, 2)
    ax.set_subplotspec(grid[0])
    right = fig.add_subplot(grid[1])
    keys = ("step", "counter_clockwise", "clockwise", "static")
    draw_directions(right, [[np.array([r[k] for r in records]) for k in keys]])
    right.set(xlabel="step", ylabel="fraction of generated videos")
    right.set_title("rotation direction (data: 0.5 / 0.5)", fontsize="small")
    right.legend(["ccw", "cw", "static"], fontsize="small")
    media.save_figure(fig, run_dir / "losses.png")

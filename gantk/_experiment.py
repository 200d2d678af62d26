"""Runs one `FlowConfig` end to end into a run folder: flow, metrics, checkpoints, pictures.

Layout of the run folder::

    config.json        the resolved configuration
    metrics.jsonl      step, sinkhorn, mmd_rbf, wall_time (s, flow + metrics) every `eval_every`
    snapshots/         particles at the GIF's frame steps, one .npy per frame
    checkpoints/       flow state every `checkpoint_every` evaluations (resume from the latest)
    final.png          particles over c_f and −∇c_f (2-D), or a sample grid (MNIST)
    samples_*.png      (MNIST) a sample grid at every snapshot step
    metrics.png        metric curves
    flow.gif           the flow, one frame per snapshot
    summary.json       final numbers and wall time

With several devices (`jax.device_count() > 1`) the flow state is sharded over all of them
(`shard_state`: particles split, the rest replicated), across hosts too once every process has
called `jax.distributed.initialize()` (``python -m gantk --distributed``): every process runs
the same flow on its own rows, and process 0 alone writes the run folder, which must then be
given (`run_dir`) on a filesystem all processes share.
"""

import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.experimental import multihost_utils

from common import experiment, media

from . import datasets, metrics, plot
from ._flows import FiniteWidthFlow, InfiniteWidthFlow, advance, shard_state
from ._kernels import RBFKernel
from ._losses import get_loss
from ._networks import mlp_discriminator
from .configs import FlowConfig, kernel_for


def make_flow(config: FlowConfig, x0: jax.Array, *, key: jax.Array):
    """The flow and its initial state for a configuration."""
    kernel = kernel_for(config.architecture)
    if config.finite_width:
        # Thesis App. D.3.2: one GD step per update; antisymmetric init except for LSGAN.
        flow = FiniteWidthFlow(
            mlp_discriminator(kernel, width=config.width, antisymmetric=config.loss != "lsgan"),
            config.loss, eta=config.eta, lr=config.lr,
            mode="reset" if config.regime == "ipm_reset" else "persistent",
        )
        return flow, flow.init(x0, key=key)
    flow = InfiniteWidthFlow(
        kernel, config.loss, eta=config.eta, tau=config.tau, method=config.method,
        block_size=config.block_size,
    )
    return flow, flow.init(x0)


def _to_host(tree):
    """A numpy copy of `tree`, whose arrays may span several hosts (then a collective call)."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def _frame_steps(config: FlowConfig) -> set[int]:
    evals = np.arange(0, config.steps + 1, config.eval_every)
    evals = np.append(evals, config.steps) if evals[-1] != config.steps else evals
    picks = np.unique(np.round(np.linspace(0, len(evals) - 1, config.frames + 1)).astype(int))
    return {int(evals[i]) for i in picks}


@jax.jit
def _metrics(x, y):
    return {
        "sinkhorn": metrics.sinkhorn_divergence(x, y),
        "mmd_rbf": metrics.mmd(RBFKernel(), x, y),
    }


def _as_images(x) -> np.ndarray:
    """Flattened square images `[b, s²]` (grey) or `[b, 3s²]` (RGB, HWC) -> `[b, s, s(, 3)]`."""
    x = np.asarray(x)
    grey, rgb = round(np.sqrt(x.shape[1])), round(np.sqrt(x.shape[1] / 3))
    if grey**2 == x.shape[1]:
        return x.reshape(-1, grey, grey)
    return x.reshape(-1, rgb, rgb, 3)


def _pictures(run_dir: pathlib.Path, config: FlowConfig, flow, state, y, frames, records):
    loss = get_loss(config.loss)
    if config.problem in ("mnist", "images"):
        media.save_image_grid(run_dir / "final.png", _as_images(state.x[:64]))
        grids = []
        for step, x in frames:  # a sample grid at every snapshot step (thesis Fig. 6.5)
            grids.append(media.image_grid(_as_images(x[:64])))
            media.save_image_grid(run_dir / f"samples_{step:08d}.png", _as_images(x[:64]))
        media.save_gif(run_dir / "flow.gif", np.stack(grids), fps=5, value_range=(0, 255))
    else:
        extent = plot.extent_of(y, *(x for _, x in frames))
        fig = plot.flow_figure(
            state.x, y, flow.discriminator_fn(state, y), loss, extent=extent,
            title=f"{config.name} — step {int(state.step)}",
        )
        media.save_figure(fig, run_dir / "final.png")
        images = []
        for step, x in frames:
            f = flow.discriminator_fn(state._replace(x=jnp.asarray(x)), y)
            images.append(
                plot.figure_to_array(
                    plot.flow_figure(
                        x, y, f, loss, extent=extent, title=f"{config.name} — step {step}",
                        resolution=60, arrows=15,
                    )
                )
            )
        media.save_gif(run_dir / "flow.gif", np.stack(images), fps=5, value_range=(0, 255))
    steps = np.array([r["step"] for r in records])
    fig = plot.metric_figure(
        steps, {k: np.array([r[k] for r in records]) for k in ("sinkhorn", "mmd_rbf")},
        title=config.name,
    )
    media.save_figure(fig, run_dir / "metrics.png")


def run_experiment(
    config: FlowConfig,
    *,
    out: str | pathlib.Path = "runs",
    run_dir: str | pathlib.Path | None = None,
    checkpoint_every: int = 10,
    progress: bool = True,
    stop_after: int | None = None,
) -> pathlib.Path:
    """Runs a particle flow experiment and writes its run folder.

    Args:
        config: the experiment.
        out: parent folder of a new, timestamped run folder.
        run_dir: an exact run folder instead; if it already holds a run of the same config, the
            run resumes from its latest checkpoint and ends as the uninterrupted run would.
        checkpoint_every: evaluations between checkpoints.
        progress: show a progress bar.
        stop_after: stop (checkpointed, no pictures) at the first evaluation at or after this
            step, as a time-boxed job would; calling again with the same `run_dir` resumes.

    Returns:
        The run folder.

    Raises:
        ValueError: several processes but no `run_dir`; several devices and `n_fake` not a
            multiple of their number.
    """
    main = jax.process_index() == 0
    run_dir = experiment.open_run(config, name=config.name, out=out, run_dir=run_dir)
    (run_dir / "snapshots").mkdir(exist_ok=True)
    if config.n_fake % jax.device_count():
        raise ValueError(
            f"`n_fake` ({config.n_fake}) must be a multiple of the {jax.device_count()} devices"
            " the particles are split across."
        )
    data_key, init_key = jr.split(jr.key(config.seed))
    x0, y = datasets.PROBLEMS[config.problem](
        config.n_fake, config.n_real, key=data_key, path=config.data_path
    )
    flow, state = make_flow(config, x0, key=init_key)
    state, records = experiment.resume(run_dir, state)
    if jax.device_count() > 1:
        state = shard_state(state)
    frame_steps = _frame_steps(config)

    def evaluate(state, _):
        values = {k: float(v) for k, v in _metrics(state.x, y).items()}
        if int(state.step) in frame_steps:
            x = _to_host(state.x)
            if main:
                np.save(run_dir / "snapshots" / f"{int(state.step):08d}.npy", x)
        return values

    state, records = experiment.drive(
        run_dir, state, records,
        advance=lambda state, n: (advance(flow, state, y, n), None),
        evaluate=evaluate,
        steps=config.steps,
        eval_every=config.eval_every,
        checkpoint_every=checkpoint_every * config.eval_every,
        stop_after=stop_after,
        to_host=_to_host,
        progress=progress,
        desc=config.name,
        postfix=lambda values: {"sinkhorn": f"{values['sinkhorn']:.3g}"},
    )
    state = _to_host(state)
    experiment.sync("run done")
    if int(state.step) < config.steps or not main:
        return run_dir

    frames = [
        (int(p.stem), np.load(p)) for p in sorted((run_dir / "snapshots").glob("*.npy"))
    ]
    _pictures(run_dir, config, flow, state, y, frames, records)
    experiment.write_summary(
        run_dir, records, name=config.name,
        sinkhorn_initial=records[0]["sinkhorn"],
        sinkhorn_final=records[-1]["sinkhorn"],
        mmd_rbf_final=records[-1]["mmd_rbf"],
    )
    return run_dir


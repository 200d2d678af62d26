"""The loop every experiment shares: open or resume a run folder, advance, evaluate, checkpoint.

An experiment (a gantk flow, an odegan or a video training run) supplies its state, a function
that advances it by some steps and one that evaluates it; `open_run`, `resume` and `drive` do
the rest the same way for all of them:

- a new run gets a timestamped folder, an exact `run_dir` is resumed when it holds a run of the
  same config (`common.runs.make_run_dir`);
- on resume the state comes back from the latest checkpoint, and the metric lines an
  interrupted run logged after it are dropped, so the resumed run's `metrics.jsonl` is the
  uninterrupted run's;
- every `eval_every` steps the evaluation's values are logged with the wall time (carried over
  across resumes), every `checkpoint_every` steps (rounded up to a multiple of `eval_every`)
  and at the last step the state is checkpointed; a progress bar counts the steps.

With several processes (`jax.distributed`) every process calls these functions (advancing and
evaluating may be collective), and process 0 alone writes the folder, which must then be given
as `run_dir` on a filesystem all processes share.
"""

import dataclasses
import json
import math
import pathlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from tqdm.auto import tqdm

from . import runs

__all__ = [
    "chunk_summary", "drive", "one_step_per_call", "open_run", "resume", "sync", "write_summary",
]

# advance(state, n) -> (state after n steps, metrics of each step stacked on axis 0, or None)
Advance = Callable[[Any, int], tuple[Any, Any]]
# evaluate(state, chunk metrics or None at step 0) -> named numbers to log
Evaluate = Callable[[Any, Any], Mapping[str, Any]]


def _main() -> bool:
    return jax.process_index() == 0


def sync(name: str) -> None:
    """Waits for every process at a barrier called `name` (nothing with one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def open_run(
    config, *, name: str, out: str | pathlib.Path, run_dir: str | pathlib.Path | None
) -> pathlib.Path:
    """The run folder: a new `out/<name>-<UTC time>`, or exactly `run_dir` (resumable).

    Args:
        config: the run's config (a dataclass), written to `config.json`.
        name: the run's name, the prefix of a new folder.
        out: parent of a new folder.
        run_dir: an exact folder instead; if it holds a run, its config must equal `config`.

    Returns:
        The run folder.

    Raises:
        ValueError: several processes but no `run_dir`; `run_dir` holds another config.
    """
    config = dataclasses.asdict(config)
    if run_dir is None:
        if jax.process_count() > 1:
            raise ValueError("`run_dir` is required with several processes (a shared folder).")
        return runs.make_run_dir(out, name, config)
    run_dir = pathlib.Path(run_dir)
    if _main():
        runs.make_run_dir(run_dir.parent, run_dir.name, config, timestamp=False)
    sync("run folder made")
    return run_dir


def resume(run_dir: pathlib.Path, state) -> tuple[Any, list[dict]]:
    """The state to start from and the metric records that go with it.

    Args:
        run_dir: the run folder.
        state: the freshly initialised state (the structure to restore into).

    Returns:
        `(state, records)`: the latest checkpoint and the records logged up to its step, or
        `(state, [])` for a run without checkpoints; the folder's `metrics.jsonl` now holds
        exactly `records`.
    """
    start = runs.latest_step(run_dir)
    records = [r for r in runs.read_metrics(run_dir) if start is not None and r["step"] <= start]
    if start is not None:
        state = runs.restore_checkpoint(run_dir, state, step=start)
    sync("run folder read")
    if _main():
        (run_dir / runs.METRICS_FILE).unlink(missing_ok=True)
        for r in records:
            runs.append_metrics(run_dir, r["step"], **{k: v for k, v in r.items() if k != "step"})
    return state, records


def chunk_summary(chunk_metrics) -> dict[str, float]:
    """The mean over a chunk of each per-step metric, and its last value as ``<name>_last``."""
    values = {}
    for k, v in chunk_metrics.items():
        v = np.asarray(v)
        values[k] = float(np.mean(v))
        values[f"{k}_last"] = float(v[-1])
    return values


def one_step_per_call(step: Callable[[Any], tuple[Any, Any]]) -> Advance:
    """`advance(state, 1)` for `drive(steps_per_call=1)` from a jitted `step(state)`.

    Convolutional training steps are dispatched one per call rather than scanned: XLA:CPU
    (jaxlib 0.5.3) runs convolutions inside a while loop (`lax.scan`, even of length 1) 15–90×
    slower than the same step alone (a MoCoGAN step: 23 s scanned, 1.5 s alone), and the
    dispatch per step costs nothing next to such a step.

    Args:
        step: `step(state) -> (state, metrics)` for one step.

    Returns:
        `advance(state, n)` with n = 1, the metrics given a leading axis of length 1.
    """

    def advance(state, n: int):
        if n != 1:
            raise ValueError(f"`n`: this advance takes one step per call, got {n}.")
        state, metrics = step(state)
        return state, jax.tree.map(lambda m: m[None], metrics)

    return advance


def drive(
    run_dir: pathlib.Path,
    state,
    records: list[dict],
    *,
    advance: Advance,
    evaluate: Evaluate,
    steps: int,
    eval_every: int,
    checkpoint_every: int,
    stop_after: int | None = None,
    steps_per_call: int | None = None,
    to_host: Callable = jax.device_get,
    progress: bool = True,
    desc: str = "",
    postfix: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None,
):
    """Advances `state` to `steps` (or `stop_after`), logging and checkpointing on the way.

    Args:
        run_dir: the run folder.
        state: the state to start from, with an integer `step` attribute (from `resume`).
        records: the records logged so far (from `resume`); appended to in place.
        advance: `advance(state, n) -> (state, metrics)`, `metrics` a dict of per-step values
            stacked on a leading axis of length n, or None.
        evaluate: `evaluate(state, metrics) -> values` at each evaluation step; `metrics` is
            the concatenation of the chunk's `advance` metrics (None at step 0, evaluated when
            `records` is empty). The driver adds ``wall_time`` and logs the values.
        steps: the run's last step.
        eval_every: steps between evaluations.
        checkpoint_every: steps between checkpoints, rounded up to a multiple of `eval_every`.
        stop_after: stop (checkpointed) at the first evaluation at or after this step, as a
            time-boxed job would; driving again from `resume` goes on, and the run ends
            exactly as the uninterrupted one (same evaluation steps and chunk metrics).
        steps_per_call: the most steps one `advance` call takes (default a whole evaluation
            interval); 1 for a step dispatched per call, whose progress then shows per step.
        to_host: the state as host arrays for the checkpoint (a collective on several hosts).
        progress: show a progress bar (on process 0).
        desc: the progress bar's label.
        postfix: values -> short strings shown beside the bar after each evaluation.

    Returns:
        `(state, records)` at the step the loop stopped.
    """
    # Wall time counts advancing and evaluating, carried over across a resume.
    t_start = time.perf_counter() - (records[-1]["wall_time"] if records else 0.0)

    def log(state, metrics):
        values = dict(evaluate(state, metrics))
        values["wall_time"] = time.perf_counter() - t_start
        if _main():
            records.append(runs.append_metrics(run_dir, int(state.step), **values))
        return values

    if not records:
        log(state, None)
    checkpoint_every = math.ceil(checkpoint_every / eval_every) * eval_every
    last = steps if stop_after is None else min(-(-stop_after // eval_every) * eval_every, steps)
    bar = tqdm(
        total=steps, initial=int(state.step), disable=not (progress and _main()), desc=desc,
        unit="step", dynamic_ncols=True,
    )
    while int(state.step) < last:
        chunk = min(eval_every, last - int(state.step))
        parts = []
        for n in _split(chunk, steps_per_call or chunk):
            state, metrics = advance(state, n)
            parts.append(metrics)
            bar.update(n)
        chunk_metrics = None if parts[0] is None else jax.tree.map(
            lambda *m: jnp.concatenate(m), *parts
        )
        values = log(state, chunk_metrics)
        if postfix is not None:
            bar.set_postfix(postfix(values))
        step = int(state.step)
        if step % checkpoint_every == 0 or step == last:
            host_state = to_host(state)
            if _main():
                runs.save_checkpoint(run_dir, step, host_state)
    bar.close()
    return state, records


def _split(total: int, most: int) -> list[int]:
    """`total` as parts of at most `most`: 10, 4 -> [4, 4, 2]."""
    return [most] * (total // most) + ([total % most] if total % most else [])


def write_summary(run_dir: pathlib.Path, records: list[dict], *, name: str, keys=(), **extra):
    """Writes `summary.json`: name, last step, wall time, the last record's `keys`, `extra`.

    Args:
        run_dir: the run folder.
        records: the run's records (from `drive`); the last one is the final evaluation.
        name: the run's name.
        keys: names of the last record's values to copy (those it lacks are skipped).
        **extra: further numbers (floors, reference values, initial values).

    Returns:
        The summary written.
    """
    last = records[-1]
    summary = {"name": name, "steps": last["step"], "wall_time_s": last["wall_time"]}
    summary |= {k: last[k] for k in keys if k in last} | extra
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary

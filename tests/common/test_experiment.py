"""The shared experiment loop: logging, checkpoints, resume, per-call chunking."""

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from common import experiment, runs


class State(NamedTuple):
    step: jax.Array
    x: jax.Array
    key: jax.Array


@dataclasses.dataclass(frozen=True)
class Config:
    steps: int = 11
    eval_every: int = 3


@jax.jit
def _step(state):
    key, sub = jr.split(state.key)
    x = 0.9 * state.x + jr.normal(sub, state.x.shape)
    return State(state.step + 1, x, key), {"norm": jnp.linalg.norm(x)}


def _scan(state, n):
    return jax.lax.scan(lambda s, _: _step(s), state, None, length=n)


def _run(run_dir, *, stop_after=None, steps_per_call=None, calls=None):
    config = Config()
    run_dir = experiment.open_run(config, name="toy", out=None, run_dir=run_dir)
    state = State(jnp.array(0), jnp.zeros(4), jr.key(0))
    state, records = experiment.resume(run_dir, state)

    def advance(state, n):
        if calls is not None:
            calls.append(n)
        if steps_per_call == 1:
            return experiment.one_step_per_call(_step)(state, n)
        return _scan(state, n)

    def evaluate(state, metrics):
        values = {"x0": float(state.x[0])}
        return values if metrics is None else values | experiment.chunk_summary(metrics)

    return experiment.drive(
        run_dir, state, records, advance=advance, evaluate=evaluate, steps=config.steps,
        eval_every=config.eval_every, checkpoint_every=4, stop_after=stop_after,
        steps_per_call=steps_per_call, progress=False,
    )


def _without_time(records):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in records]


def test_logs_every_interval_and_checkpoints_on_rounded_steps(tmp_path):
    state, records = _run(tmp_path / "run")
    assert int(state.step) == 11
    # Evaluations at 0, 3, 6, 9 and the last step; checkpoint_every 4 rounds up to 6.
    assert [r["step"] for r in records] == [0, 3, 6, 9, 11]
    assert [r["step"] for r in runs.read_metrics(tmp_path / "run")] == [0, 3, 6, 9, 11]
    assert runs.latest_step(tmp_path / "run") == 11
    assert "norm" not in records[0]
    assert {"norm", "norm_last"} <= set(records[1])
    assert all(np.diff([r["wall_time"] for r in records]) >= 0)


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    _, whole = _run(tmp_path / "whole")
    _run(tmp_path / "parts", stop_after=7)
    # A stop waits for the next evaluation (step 9) and is checkpointed there.
    assert runs.latest_step(tmp_path / "parts") == 9
    # An interrupted process may log past its last checkpoint: resume drops those lines.
    runs.append_metrics(tmp_path / "parts", 10, x0=123.0, wall_time=1.0)
    state, resumed = _run(tmp_path / "parts")
    assert int(state.step) == 11
    assert _without_time(resumed) == _without_time(whole)
    assert _without_time(runs.read_metrics(tmp_path / "parts")) == _without_time(whole)


def test_one_step_per_call_matches_the_scan(tmp_path):
    calls = []
    _, stepwise = _run(tmp_path / "a", steps_per_call=1, calls=calls)
    _, scanned = _run(tmp_path / "b")
    assert calls == [1] * 11
    for a, b in zip(_without_time(stepwise), _without_time(scanned), strict=True):
        assert a.keys() == b.keys()
        np.testing.assert_allclose(list(a.values()), list(b.values()), rtol=1e-5)


def test_steps_per_call_splits_each_interval(tmp_path):
    calls = []
    _run(tmp_path / "run", steps_per_call=2, calls=calls)
    # Intervals 3, 3, 3, 2 in calls of at most 2 steps.
    assert calls == [2, 1, 2, 1, 2, 1, 2]


def test_one_step_per_call_rejects_other_counts():
    advance = experiment.one_step_per_call(_step)
    with pytest.raises(ValueError, match="`n`"):
        advance(State(jnp.array(0), jnp.zeros(4), jr.key(0)), 3)


def test_resume_with_another_config_is_refused(tmp_path):
    _run(tmp_path / "run", stop_after=3)
    with pytest.raises(ValueError, match="eval_every"):
        experiment.open_run(
            Config(eval_every=2), name="toy", out=None, run_dir=tmp_path / "run"
        )

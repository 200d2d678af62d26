import dataclasses
import enum
import json
import pathlib
import re
import threading

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from common.runs import (
    append_metrics,
    latest_step,
    make_run_dir,
    read_config,
    read_metrics,
    restore_checkpoint,
    save_checkpoint,
)


class Loss(enum.Enum):
    IPM = "ipm"


@dataclasses.dataclass(frozen=True)
class Inner:
    width: int = 128
    scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class Config:
    name: str = "demo"
    loss: Loss = Loss.IPM
    lr: np.float32 = np.float32(0.5)
    steps: jax.Array = dataclasses.field(default_factory=lambda: jnp.int32(10))
    widths: tuple = (1, 2)
    inner: Inner = dataclasses.field(default_factory=Inner)
    out: pathlib.Path = pathlib.Path("runs")


# --------------------------------------------------------------------------------------------
# Run folders
# --------------------------------------------------------------------------------------------


def test_make_run_dir_timestamped(tmp_path):
    run = make_run_dir(tmp_path / "root", "exp", Config())
    assert run.parent == tmp_path / "root"
    assert re.fullmatch(r"exp-\d{8}T\d{6}Z", run.name)
    config = json.loads((run / "config.json").read_text())
    assert config == {
        "name": "demo",
        "loss": "ipm",
        "lr": 0.5,
        "steps": 10,
        "widths": [1, 2],
        "inner": {"width": 128, "scale": 1.0},
        "out": "runs",
    }
    assert read_config(run) == config
    # A second run gets its own folder: suffixed within the same second (on a loaded machine the
    # clock may have moved on to the next second's name).
    again = make_run_dir(tmp_path / "root", "exp", Config())
    assert again != run
    assert again.name == f"{run.name}-2" or again.name > run.name


def test_make_run_dir_resume(tmp_path):
    config = {"lr": np.float64(0.1), "steps": 100, "arch": ("relu", 3)}
    run = make_run_dir(tmp_path, "fixed", config, timestamp=False)
    assert run == tmp_path / "fixed"
    (run / "marker").write_text("kept")
    # Same config (tuples and numpy scalars normalised as in the file): resume.
    assert make_run_dir(tmp_path, "fixed", dict(config), timestamp=False) == run
    assert (run / "marker").read_text() == "kept"
    with pytest.raises(ValueError, match=r"Cannot resume.*\n  lr: 0.1 -> 0.2"):
        make_run_dir(tmp_path, "fixed", {**config, "lr": 0.2}, timestamp=False)
    with pytest.raises(ValueError, match=r"seed: \(absent\) -> 1"):
        make_run_dir(tmp_path, "fixed", {**config, "seed": 1}, timestamp=False)
    assert read_config(run)["lr"] == 0.1  # the stored config is untouched


@pytest.mark.parametrize("name", ["", "a/b", "..", 3])
def test_make_run_dir_bad_name(tmp_path, name):
    with pytest.raises(ValueError, match="`name`"):
        make_run_dir(tmp_path, name, {})


def test_make_run_dir_rejects_unserialisable(tmp_path):
    with pytest.raises(TypeError, match=r"config\['fn'\]"):
        make_run_dir(tmp_path, "x", {"fn": print}, timestamp=False)
    with pytest.raises(TypeError, match="key_data"):
        make_run_dir(tmp_path, "y", {"key": jr.key(0)}, timestamp=False)


def test_metrics_round_trip(tmp_path):
    run = make_run_dir(tmp_path, "m", {}, timestamp=False)
    assert read_metrics(run) == []
    append_metrics(run, 0, loss=jnp.float32(0.25), acc=np.float64(0.5), name="a")
    append_metrics(run, jnp.int32(10), loss=1.5, hist=jnp.arange(3), ok=np.bool_(True))
    records = read_metrics(run)
    assert records == [
        {"step": 0, "loss": 0.25, "acc": 0.5, "name": "a"},
        {"step": 10, "loss": 1.5, "hist": [0, 1, 2], "ok": True},
    ]
    assert isinstance(records[0]["loss"], float)
    assert isinstance(records[1]["step"], int)


def test_metrics_skip_interrupted_last_line(tmp_path):
    append_metrics(tmp_path, 1, loss=1.0)
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 2, "lo')  # a crash in the middle of a write
    assert read_metrics(tmp_path) == [{"step": 1, "loss": 1.0}]


def test_metrics_corrupt_line(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        read_metrics(tmp_path)


@pytest.mark.parametrize(
    ("step", "metrics", "match"),
    [(1.5, {"a": 1}, "`step`"), (-1, {"a": 1}, "`step`"), (1, {}, "`metrics`")],
)
def test_metrics_bad_input(tmp_path, step, metrics, match):
    with pytest.raises(ValueError, match=match):
        append_metrics(tmp_path, step, **metrics)


def test_metrics_unserialisable(tmp_path):
    with pytest.raises(TypeError, match=r"metrics\['f'\]"):
        append_metrics(tmp_path, 0, f=object())


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def _loss(params, batch):
    return jnp.sum((params["w"] - batch) ** 2) + params["b"] ** 2


@jax.jit
def _train(state, steps):
    """SGD on a noisy quadratic; the noise of step s comes from fold_in(key, s)."""

    def body(state, _):
        batch = jr.normal(jr.fold_in(state["key"], state["step"]), (4,))
        grads = jax.grad(_loss)(state["params"], batch)
        params = jax.tree.map(lambda p, g: p - 0.1 * g, state["params"], grads)
        return {**state, "params": params, "step": state["step"] + 1}, None

    return jax.lax.scan(body, state, steps)[0]


def _init(key):
    return {
        "params": {"w": jnp.zeros(4), "b": jnp.float32(1.0)},
        "step": jnp.int32(0),
        "key": key,
    }


@pytest.mark.parametrize("make_key", [jr.key, jr.PRNGKey], ids=["typed_key", "raw_uint32_key"])
def test_resume_is_bitwise_identical(tmp_path, make_key):
    straight = _train(_train(_init(make_key(7)), jnp.arange(5)), jnp.arange(5))

    first = _train(_init(make_key(7)), jnp.arange(5))
    save_checkpoint(tmp_path, 5, first)
    fresh = _init(make_key(0))  # a different key: everything must come from the checkpoint
    restored = restore_checkpoint(tmp_path, fresh)
    resumed = _train(restored, jnp.arange(5))

    assert jax.tree.structure(resumed) == jax.tree.structure(straight)
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight), strict=True):
        assert a.dtype == b.dtype
        if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jr.key_data(a), jr.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(resumed["step"]) == 10
    # The training did move the parameters (the comparison is not trivially true).
    assert not np.array_equal(np.asarray(resumed["params"]["w"]), np.zeros(4))


def test_checkpoint_keep_and_latest(tmp_path):
    assert latest_step(tmp_path) is None
    threads_before = set(threading.enumerate())
    state = {"x": jnp.arange(3.0)}
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, step, {"x": state["x"] * step}, keep=2)
    assert latest_step(tmp_path) == 4
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["3", "4"]
    np.testing.assert_array_equal(restore_checkpoint(tmp_path, state)["x"], [0.0, 4.0, 8.0])
    np.testing.assert_array_equal(restore_checkpoint(tmp_path, state, step=3)["x"], [0, 3, 6])
    with pytest.raises(FileNotFoundError, match=r"`step` 1 .*\[3, 4\]"):
        restore_checkpoint(tmp_path, state, step=1)
    with pytest.raises(ValueError, match="`step` 4 already"):
        save_checkpoint(tmp_path, 4, state)
    assert set(threading.enumerate()) <= threads_before  # orbax left no thread behind


def test_checkpoint_leaf_types(tmp_path):
    state = {
        "f32": jnp.arange(3.0),
        "bf16": jnp.ones(2, jnp.bfloat16),
        "np": np.arange(4, dtype=np.int8).reshape(2, 2),
        "npscalar": np.float64(2.5),
        "py": (3, 1.5, True),
        "empty": jnp.zeros((0, 3)),
        "keys": jr.split(jr.key(1), 3),
    }
    save_checkpoint(tmp_path, 0, state)
    target = {
        "f32": jnp.zeros(3),
        "bf16": jnp.zeros(2, jnp.bfloat16),
        "np": np.zeros((2, 2), np.int8),
        "npscalar": np.float64(0),
        "py": (0, 0.0, False),
        "empty": jnp.ones((0, 3)),
        "keys": jr.split(jr.key(0), 3),
    }
    out = restore_checkpoint(tmp_path, target)
    assert isinstance(out["f32"], jax.Array)
    assert out["bf16"].dtype == jnp.bfloat16
    assert isinstance(out["np"], np.ndarray)
    assert out["np"].dtype == np.int8
    assert out["npscalar"] == 2.5
    assert isinstance(out["npscalar"], np.float64)
    assert out["py"] == (3, 1.5, True)
    assert type(out["py"][0]) is int
    assert out["empty"].shape == (0, 3)
    np.testing.assert_array_equal(jr.key_data(out["keys"]), jr.key_data(state["keys"]))
    # Restoring into abstract targets works too.
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), {"f32": state["f32"]})
    save_checkpoint(tmp_path / "abs", 0, {"f32": state["f32"]})
    np.testing.assert_array_equal(restore_checkpoint(tmp_path / "abs", abstract)["f32"], [0, 1, 2])


def test_checkpoint_dtype_cast_to_target(tmp_path):
    save_checkpoint(tmp_path, 0, {"x": jnp.arange(3.0)})
    out = restore_checkpoint(tmp_path, {"x": jnp.zeros(3, jnp.bfloat16)})
    assert out["x"].dtype == jnp.bfloat16


def test_restore_mismatches(tmp_path):
    save_checkpoint(tmp_path, 0, {"w": jnp.zeros(3), "key": jr.key(0)})
    with pytest.raises(ValueError, match=r"structure.*only in `target`: \[\"\['v'\]\"\]"):
        restore_checkpoint(tmp_path, {"v": jnp.zeros(3), "key": jr.key(0)})
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(4,\)"):
        restore_checkpoint(tmp_path, {"w": jnp.zeros(4), "key": jr.key(0)})
    with pytest.raises(ValueError, match="typed PRNG key"):
        restore_checkpoint(tmp_path, {"w": jnp.zeros(3), "key": jnp.zeros(2, jnp.uint32)})
    save_checkpoint(tmp_path / "raw", 0, {"key": jr.key_data(jr.key(0)), "n": 3})
    with pytest.raises(ValueError, match="`target` holds a PRNG key"):
        restore_checkpoint(tmp_path / "raw", {"key": jr.key(0), "n": 3})
    save_checkpoint(tmp_path / "vec", 0, {"n": jnp.arange(2)})
    with pytest.raises(ValueError, match=r"\['n'\]: `target` is a scalar"):
        restore_checkpoint(tmp_path / "vec", {"n": 3})


def test_restore_without_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        restore_checkpoint(tmp_path, {"x": jnp.zeros(1)})


@pytest.mark.parametrize(("kwargs", "match"), [({"keep": 0}, "`keep`"), ({"step": -2}, "`step`")])
def test_save_bad_arguments(tmp_path, kwargs, match):
    args = {"step": 0, "keep": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        save_checkpoint(tmp_path, args["step"], {"x": jnp.zeros(1)}, keep=args["keep"])


def test_save_rejects_non_array_leaves(tmp_path):
    with pytest.raises(ValueError, match=r"leaf \['f'\]"):
        save_checkpoint(tmp_path, 0, {"f": "text"})

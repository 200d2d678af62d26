"""Run folders: resolved config, metrics log and checkpoints.

A run folder holds

- `config.json`: the run's resolved configuration (`make_run_dir`, `read_config`);
- `metrics.jsonl`: one JSON object per line, `{"step": ..., <metric>: ...}` (`append_metrics`,
  `read_metrics`);
- `checkpoints/<step>/`: orbax checkpoints of a pytree (`save_checkpoint`, `latest_step`,
  `restore_checkpoint`).

Checkpoints are written synchronously with `orbax.checkpoint.CheckpointManager` (no background
threads survive a call), by the calling process alone: on several hosts, gather the state
(`jax.experimental.multihost_utils.process_allgather`) and save from one process. Leaves are
moved to host numpy arrays before saving: in the pinned set (orbax-checkpoint 0.11.24 with
jax 0.5.3) saving a `jax.Array` calls `jax.monitoring.record_scalar`, which jax 0.5.3 lacks,
while numpy leaves take a path that works.
Typed PRNG key arrays (`jax.random.key`) are stored as their `jax.random.key_data` and rewrapped
on restore with the implementation of the matching leaf of the target.
"""

import dataclasses
import datetime
import enum
import json
import math
import operator
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "append_metrics",
    "latest_step",
    "make_run_dir",
    "read_config",
    "read_metrics",
    "restore_checkpoint",
    "save_checkpoint",
]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
_FORMAT = 1  # version of the checkpoint metadata written by `save_checkpoint`


# --------------------------------------------------------------------------------------------
# JSON conversion
# --------------------------------------------------------------------------------------------


def _jsonable(obj, where: str):
    """Converts configs and metrics to JSON types: dataclasses, numpy/jax arrays and scalars."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, enum.Enum):
        return _jsonable(obj.value, where)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _jsonable(getattr(obj, f.name), f"{where}.{f.name}")
            for f in dataclasses.fields(obj)
        }
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str | int | float | bool):
                raise TypeError(f"{where}: dict keys must be strings or numbers, got {k!r}.")
            out[str(k)] = _jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, list | tuple):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, jax.Array | np.ndarray | np.generic):
        if jnp.issubdtype(obj.dtype, jax.dtypes.prng_key):
            raise TypeError(f"{where}: PRNG keys are not JSON; store jax.random.key_data(key).")
        return np.asarray(obj).tolist()  # 0-d arrays give a Python scalar
    raise TypeError(f"{where}: cannot write a {type(obj).__name__} to JSON ({obj!r}).")


def _canonical(config) -> dict:
    """The JSON form of a config, as it reads back from `config.json`."""
    data = _jsonable(config, "config")
    if not isinstance(data, dict):
        raise TypeError(f"`config` must be a dict or a dataclass, got {type(config).__name__}.")
    return json.loads(json.dumps(data))


def _config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    lines = []
    for k in sorted(set(old) | set(new)):
        path = f"{prefix}{k}"
        if k not in old:
            lines.append(f"  {path}: (absent) -> {new[k]!r}")
        elif k not in new:
            lines.append(f"  {path}: {old[k]!r} -> (absent)")
        elif isinstance(old[k], dict) and isinstance(new[k], dict):
            lines.extend(_config_diff(old[k], new[k], prefix=f"{path}."))
        elif old[k] != new[k] and not _both_nan(old[k], new[k]):
            lines.append(f"  {path}: {old[k]!r} -> {new[k]!r}")
    return lines


def _both_nan(a, b) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


# --------------------------------------------------------------------------------------------
# Run folders and metrics
# --------------------------------------------------------------------------------------------


def make_run_dir(
    root: str | os.PathLike, name: str, config, *, timestamp: bool = True
) -> pathlib.Path:
    """Creates a run folder and writes its `config.json`.

    With `timestamp=True` the folder is `root/<name>-<UTC time, e.g. 20260101T120000Z>` (a
    `-2`, `-3`, ... suffix is added if two runs start within the same second). With
    `timestamp=False` it is exactly `root/name`; if that folder already has a `config.json`, the
    run is resumed: allowed only when the stored config equals `config` (after JSON conversion),
    otherwise a `ValueError` lists the differences.

    Args:
        root: parent folder (created if missing).
        name: run name, a single path component.
        config: a dict or a dataclass (nested dataclasses, tuples, enums, paths, numpy and jax
            scalars and arrays are converted to JSON; arrays become nested lists).
        timestamp: whether to append the UTC start time to the folder name.

    Returns:
        The run folder.

    Raises:
        ValueError: `name` is empty or not a single path component; resuming with a different
            config.
        TypeError: `config` holds something that cannot be written to JSON.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     run = make_run_dir(root, "demo", {"steps": 10}, timestamp=False)
        ...     read_config(run)
        {'steps': 10}
    """
    if (
        not isinstance(name, str)
        or not name
        or pathlib.Path(name).name != name
        or name in (".", "..")
    ):
        raise ValueError(f"`name` must be a non-empty single path component, got {name!r}.")
    data = _canonical(config)
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if timestamp:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{name}-{stamp}"
        run_dir, i = root / base, 1
        while True:
            try:
                run_dir.mkdir()
                break
            except FileExistsError:
                i += 1
                run_dir = root / f"{base}-{i}"
    else:
        run_dir = root / name
        run_dir.mkdir(exist_ok=True)
        if (run_dir / CONFIG_FILE).exists():
            old = read_config(run_dir)
            diff = _config_diff(old, data)
            if diff:
                raise ValueError(
                    f"Cannot resume run {run_dir}: its {CONFIG_FILE} differs from `config`:\n"
                    + "\n".join(diff)
                    + "\nUse another name (or timestamp=True) for a new run."
                )
            return run_dir
    tmp = run_dir / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(run_dir / CONFIG_FILE)  # atomic: a config file is either complete or absent
    return run_dir


def read_config(run_dir: str | os.PathLike) -> dict:
    """Reads the `config.json` of a run folder.

    Args:
        run_dir: the run folder.

    Returns:
        The config as written by `make_run_dir` (tuples read back as lists).

    Raises:
        FileNotFoundError: the folder has no `config.json`.
    """
    return json.loads((pathlib.Path(run_dir) / CONFIG_FILE).read_text())


def _as_step(step) -> int:
    try:
        value = operator.index(step)
    except TypeError:
        raise ValueError(f"`step` must be an integer, got {step!r}.") from None
    if value < 0:
        raise ValueError(f"`step` must be non-negative, got {value}.")
    return value


def append_metrics(run_dir: str | os.PathLike, step: int, **metrics) -> dict:
    """Appends one line `{"step": step, **metrics}` to the run's `metrics.jsonl`.

    jax and numpy scalars become Python numbers, arrays nested lists.

    Args:
        run_dir: the run folder.
        step: integer step (Python, numpy or jax integer).
        **metrics: named values: numbers, strings, booleans, numpy/jax scalars or arrays.

    Returns:
        The record written.

    Raises:
        ValueError: `step` is not a non-negative integer, or no metric is given.
        TypeError: a metric cannot be written to JSON.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as run:
        ...     _ = append_metrics(run, 0, loss=np.float32(0.5))
        ...     read_metrics(run)
        [{'step': 0, 'loss': 0.5}]
    """
    step = _as_step(step)
    if not metrics:
        raise ValueError("`metrics`: give at least one named value, e.g. loss=0.1.")
    record = {"step": step}
    record.update({k: _jsonable(v, f"metrics[{k!r}]") for k, v in metrics.items()})
    line = json.dumps(record)
    with open(pathlib.Path(run_dir) / METRICS_FILE, "a") as f:
        f.write(line + "\n")
    return record


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """Reads back every record of the run's `metrics.jsonl`, in the order written.

    A last line without its newline (a write interrupted by a crash) is skipped. After resuming
    from a checkpoint, records with steps past the checkpoint may appear twice; filter by step.

    Args:
        run_dir: the run folder.

    Returns:
        One dict per record (empty list when no metrics were written).

    Raises:
        ValueError: a complete line is not valid JSON (the message gives its number).
    """
    path = pathlib.Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    if lines[-1]:  # no trailing newline: interrupted write
        lines = lines[:-1]
    records = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {i}: not valid JSON ({e}).") from None
    return records


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _manager(run_dir: str | os.PathLike, *, keep: int | None = None, create: bool = False):
    # orbax is imported here so that `import common` stays cheap for code that never checkpoints.
    import orbax.checkpoint as ocp

    # Checkpoints hold host (numpy) values written by whichever process calls: make orbax act on
    # this process alone, or on several hosts it would wait at barriers for the others.
    me = jax.process_index()
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=False, create=False,
        multiprocessing_options=ocp.options.MultiprocessingOptions(
            primary_host=me, active_processes={me}
        ),
    )
    directory = (pathlib.Path(run_dir) / CHECKPOINT_DIR).absolute()
    if create:  # orbax cannot create it itself when `active_processes` is set
        directory.mkdir(parents=True, exist_ok=True)
    return ocp, ocp.CheckpointManager(directory, options=options, item_names=("state", "meta"))


def save_checkpoint(
    run_dir: str | os.PathLike, step: int, state, *, keep: int | None = 3
) -> pathlib.Path:
    """Saves a pytree as the checkpoint of `step`, keeping only the `keep` most recent ones.

    The leaves may be jax arrays (including typed PRNG keys from `jax.random.key`), numpy arrays
    and numpy or Python scalars. The write is synchronous: when this returns, the checkpoint is
    complete on disk.

    Args:
        run_dir: the run folder; checkpoints go to `run_dir/checkpoints/<step>`.
        step: non-negative integer, not already saved.
        state: the pytree to save (e.g. `{"params": ..., "opt_state": ..., "key": ...}`).
        keep: number of most recent checkpoints to keep (older ones are deleted); `None` keeps
            all.

    Returns:
        The folder of the new checkpoint.

    Raises:
        ValueError: bad `step` or `keep`, `step` already saved, or a leaf that is not an array
            or a scalar.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as run:
        ...     _ = save_checkpoint(run, 5, {"w": jnp.ones(3)})
        ...     latest_step(run), restore_checkpoint(run, {"w": jnp.zeros(3)})["w"].tolist()
        (5, [1.0, 1.0, 1.0])
    """
    step = _as_step(step)
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
        raise ValueError(f"`keep` must be a positive integer or None, got {keep!r}.")
    leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(state)
    arrays, meta_leaves = {}, []
    for i, (path, leaf) in enumerate(leaves_with_paths):
        where = jax.tree_util.keystr(path)
        if _is_key(leaf):
            kind, value = "key", np.asarray(jax.random.key_data(leaf))
        elif isinstance(leaf, jax.Array | np.ndarray | np.generic | bool | int | float | complex):
            kind, value = "array", np.asarray(leaf)
        else:
            raise ValueError(
                f"`state` leaf {where} is a {type(leaf).__name__}; checkpoints hold arrays and "
                "scalars only."
            )
        name = f"leaf_{i:05d}"
        if value.size > 0:  # orbax refuses zero-size arrays; their shape and dtype are enough
            arrays[name] = value
        meta_leaves.append(
            {
                "name": name,
                "path": where,
                "kind": kind,
                "shape": list(value.shape),
                "dtype": value.dtype.name,
            }
        )
    meta = {"format": _FORMAT, "step": step, "leaves": meta_leaves}
    ocp, manager = _manager(run_dir, keep=keep, create=True)
    with manager:
        if step in manager.all_steps():
            raise ValueError(f"`step` {step} already has a checkpoint in {manager.directory}.")
        manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(arrays), meta=ocp.args.JsonSave(meta)
            ),
        )
        manager.wait_until_finished()
        return pathlib.Path(manager.directory) / str(step)


def latest_step(run_dir: str | os.PathLike) -> int | None:
    """Returns the step of the most recent complete checkpoint, or `None` if there is none.

    Args:
        run_dir: the run folder.

    Returns:
        The latest saved step, or `None`.
    """
    if not (pathlib.Path(run_dir) / CHECKPOINT_DIR).is_dir():
        return None
    _, manager = _manager(run_dir)
    with manager:
        return manager.latest_step()


def _restore_leaf(target_leaf, value: np.ndarray, info: dict):
    """Gives a restored numpy value the type, dtype and shape of the target's leaf."""
    where = info["path"]
    if _is_key(target_leaf):
        if info["kind"] != "key":
            raise ValueError(
                f"Leaf {where}: `target` holds a PRNG key, the checkpoint holds raw data."
            )
        expected = jax.random.key_data(target_leaf).shape
        if value.shape != expected:
            raise ValueError(
                f"Leaf {where}: key data of shape {value.shape} does not fit the target key "
                f"(key data shape {expected}); was it saved with another PRNG implementation?"
            )
        return jax.random.wrap_key_data(jnp.asarray(value), impl=jax.random.key_impl(target_leaf))
    if info["kind"] == "key":
        raise ValueError(
            f"Leaf {where}: the checkpoint holds a typed PRNG key, `target` does not; pass a key "
            "(e.g. jax.random.key(0)) in `target`."
        )
    if isinstance(target_leaf, bool | int | float | complex):
        if value.shape != ():
            raise ValueError(
                f"Leaf {where}: `target` is a scalar, the checkpoint has shape {value.shape}."
            )
        return type(target_leaf)(value.item())
    shape, dtype = tuple(target_leaf.shape), np.dtype(target_leaf.dtype)
    if value.shape != shape:
        raise ValueError(
            f"Leaf {where}: the checkpoint has shape {value.shape}, `target` has shape {shape}."
        )
    if isinstance(target_leaf, np.generic):
        return dtype.type(value)
    if isinstance(target_leaf, np.ndarray):
        return value.astype(dtype, copy=False)
    return jnp.asarray(value, dtype=dtype)  # jax.Array or jax.ShapeDtypeStruct


def restore_checkpoint(run_dir: str | os.PathLike, target, *, step: int | None = None):
    """Restores a checkpoint into a pytree with the structure, shapes and types of `target`.

    Each leaf comes back as the type of the matching leaf of `target` (jax array, numpy array,
    numpy or Python scalar; `jax.ShapeDtypeStruct` gives a jax array), cast to its dtype. Typed
    PRNG keys are rewrapped with the implementation of the target's key.

    Args:
        run_dir: the run folder.
        target: a pytree like the saved state (only its structure, shapes, dtypes and key
            implementations are used), e.g. a freshly initialised state.
        step: the step to restore; default the latest.

    Returns:
        The restored pytree.

    Raises:
        FileNotFoundError: no checkpoint, or none for `step`.
        ValueError: `target` does not match the checkpoint (structure, shapes, keys).
    """
    steps = []
    if (pathlib.Path(run_dir) / CHECKPOINT_DIR).is_dir():
        _, manager = _manager(run_dir)
        with manager:
            steps = list(manager.all_steps())
    if step is None:
        if not steps:
            raise FileNotFoundError(f"No checkpoint in {pathlib.Path(run_dir) / CHECKPOINT_DIR}.")
        step = max(steps)
    step = _as_step(step)
    if step not in steps:
        raise FileNotFoundError(
            f"No checkpoint for `step` {step} in {run_dir}; available steps: {sorted(steps)}."
        )
    target_leaves, treedef = jax.tree_util.tree_flatten_with_path(target)
    ocp, manager = _manager(run_dir)
    with manager:
        meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
        infos = meta["leaves"]
        saved_paths = [info["path"] for info in infos]
        target_paths = [jax.tree_util.keystr(p) for p, _ in target_leaves]
        if saved_paths != target_paths:
            only_saved = sorted(set(saved_paths) - set(target_paths))
            only_target = sorted(set(target_paths) - set(saved_paths))
            raise ValueError(
                f"`target` does not have the structure of the checkpoint of step {step}: "
                f"{len(target_paths)} leaves vs {len(saved_paths)} saved; only in the checkpoint: "
                f"{only_saved[:5]}, only in `target`: {only_target[:5]}."
            )
        placeholders = {
            info["name"]: np.zeros(info["shape"], jnp.dtype(info["dtype"]))
            for info in infos
            if math.prod(info["shape"]) > 0
        }
        if placeholders:
            arrays = manager.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(placeholders))
            ).state
        else:
            arrays = {}
    values = []
    for (_, leaf), info in zip(target_leaves, infos, strict=True):
        value = arrays.get(info["name"])
        if value is None:
            value = np.zeros(info["shape"], jnp.dtype(info["dtype"]))
        values.append(_restore_leaf(leaf, np.asarray(value), info))
    return jax.tree_util.tree_unflatten(treedef, values)

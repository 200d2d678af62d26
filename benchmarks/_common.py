"""Shared benchmark plumbing: environment header, timing, JSON output, tables."""

import json
import pathlib
import platform
import time
import timeit

import jax
import numpy as np

RESULTS = pathlib.Path(__file__).resolve().parent / "results"  # git-ignored outputs
# The run stores of the long grids (hours of GPU or CPU time each) are committed: a new checkout
# must not lose, and so repeat, the runs that the README's tables are made of.
RECORDS = pathlib.Path(__file__).resolve().parent / "records"


def environment(seed: int) -> dict:
    """Device, versions and seed, printed and stored with every result."""
    return {
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "device_count": jax.device_count(),
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else jax.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seed": seed,
    }


def compile_and_time(fn, *args, repeat: int = 5, number: int = 1) -> tuple[float, float]:
    """(compile + first run seconds, best seconds per call) of a jitted function."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    times = timeit.repeat(
        lambda: jax.block_until_ready(fn(*args)), repeat=repeat, number=number
    )
    return first, min(times) / number


def write(name: str, payload: dict) -> pathlib.Path:
    """Writes `payload` to benchmarks/results/<name>.json and returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def table(rows: list[dict], columns: list[str]) -> str:
    """A markdown table of `rows` restricted to `columns`."""
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def load_records(path: pathlib.Path, key: tuple[str, ...]) -> dict[tuple, dict]:
    """Finished runs recorded in the JSON-lines store `path`, keyed by their fields `key`.

    A store lets a long grid of runs fill over several invocations (or concurrent processes
    running disjoint parts), each skipping what is recorded; a later record of the same key wins.
    """
    if not path.exists():
        return {}
    records = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {tuple(r[k] for k in key): r for r in records}


def append_record(path: pathlib.Path, record: dict) -> None:
    """Appends `record` to the store `path` as one line (concurrent appends stay whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def mean_std(values, *, fmt: str = ".3g", std_fmt: str = ".2g", missing: str = "nan") -> str:
    """"mean ± std" of `values` over seeds, ignoring NaN; `missing` when none is a number."""
    x = np.asarray(values, float)
    if x.size == 0 or np.all(np.isnan(x)):
        return missing
    return f"{np.nanmean(x):{fmt}} ± {np.nanstd(x):{std_fmt}}"

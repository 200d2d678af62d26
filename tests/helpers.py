"""Test helpers: tolerance table, tree comparison, running code on several forced host devices."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

# One tolerance table keyed by dtype (STYLE §9).
TOL = {
    jnp.dtype("float32"): dict(rtol=5e-3, atol=5e-3),
    jnp.dtype("float64"): dict(rtol=1e-5, atol=1e-7),
}


def tree_allclose(a, b, **tol) -> bool:
    """True when two pytrees have the same structure and allclose leaves."""
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    if ta != tb:
        return False
    for x, y in zip(la, lb, strict=True):
        x, y = np.asarray(x), np.asarray(y)
        t = tol or TOL.get(jnp.dtype(x.dtype), TOL[jnp.dtype("float32")])
        if x.shape != y.shape or not np.allclose(x, y, **t):
            return False
    return True


def run_on_devices(source: str, n_devices: int = 4, timeout: float = 600.0) -> dict:
    """Runs `source` in a fresh Python process that sees `n_devices` forced host CPU devices.

    The main pytest process keeps one device; a subprocess is the only way to get several, since
    XLA reads `--xla_force_host_platform_device_count` once, at backend start-up. The snippet must
    assign a JSON-serialisable dict to the name `result`, which is returned.
    """
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n_devices}"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    program = (
        "import json, jax\n"
        "jax.config.update('jax_numpy_rank_promotion', 'raise')\n"
        f"assert jax.device_count() == {n_devices}, jax.devices()\n"
        + textwrap.dedent(source)
        + "\nprint('@@RESULT@@' + json.dumps(result))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"multi-device subprocess failed:\n{proc.stderr[-4000:]}")
    line = next(s for s in proc.stdout.splitlines() if s.startswith("@@RESULT@@"))
    return json.loads(line[len("@@RESULT@@") :])

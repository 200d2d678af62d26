"""How fast is forward+backward through each motion generator, and where does the time go?

The model (easy to rewrite in any framework): batch b = 64 initial noises z₀ ~ N(0, I₆₄), state
d = 64, hidden h = 64, 16 frames at t = linspace(0, 1, 16); the ODE generator is
ẋ = W₂ tanh(W₁x + b₁) + b₂ from x(0) = z₀, W₁ ∈ R^{64×64}, W₂ ∈ R^{64×64}; the loss is
mean(x(t)²) over the whole [b, 16, d] trajectory; we time jit(value_and_grad(loss)) with respect
to all parameters (compile + first call separately from the best of several calls).

Rows: every `video` generator at its defaults (RK4, one step per frame, `odegan.solve_on_grid`;
SDE: Euler, pre-sampled Brownian path; plus the SDE on a `VirtualBrownianTree`), the same fixed
grids through `diffrax.diffeqsolve` with `DirectAdjoint` (the previous default) and with
`RecursiveCheckpointAdjoint`, the ODE generator with dopri5 (PIDController, --rtol/--atol;
`odegan.solve_adaptive`; one solve of the batched state with shared steps, the default, and
per-sample solves under vmap), with `BacksolveAdjoint` on the fixed grid; and, to see where the
time goes, the same RK4 ODE as (a) our default (`video.apply_batch`: `solve_on_grid` on the
batched state [b, d]), (b) `solve_on_grid` vmapped per sample, (c) `diffeqsolve` with
`DirectAdjoint` vmapped per sample (the previous default), (d) one `diffeqsolve` on the batched
state, (e) a hand-written `lax.scan` of RK4 steps on the batched state (the floor), each with the
frame times as an argument or baked in as constants.

``--torchdiffeq PYTHON`` also times the ODE generator in PyTorch + torchdiffeq on the same
weights (benchmarks/torchdiffeq_motion.py, run by that interpreter, `--threads` threads) against
ours (RK4 default, dopri5 shared steps, each also with `BacksolveAdjoint` against torchdiffeq's
`odeint_adjoint`); for one thread on our side too, set
``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"``.

    python -m benchmarks.motion_speed [--tiny] [--batch 64] [--hidden 64] [--frames 16]
        [--torchdiffeq PYTHON [--threads 1]]
"""

import argparse
import json
import os
import pathlib
import subprocess
import tempfile

import diffrax as dfx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from odegan import RK4
from video import MLP, MOTIONS, ModuleField, ODEMotion, SDEMotion, apply_batch

from ._common import compile_and_time, environment, table, write


def _timed(loss, params, *args, repeat: int) -> dict:
    fn = jax.jit(jax.value_and_grad(loss))
    compile_s, run_s = compile_and_time(fn, params, *args, repeat=repeat)
    return {"compile_s": compile_s, "fwd_bwd_ms": 1e3 * run_s}


def generator_rows(names, *, d: int, hidden: int, batch: int, frames: int, rtol, atol, repeat):
    """One row per motion generator configuration (all through `video.apply_batch`)."""
    ts = jnp.linspace(0.0, 1.0, frames)
    z0 = jr.normal(jr.key(1), (batch, d))
    kw = dict(d_noise=d, d_state=d, d_hidden=hidden)
    configs = {name: MOTIONS[name](**kw) for name in names}
    if "sde" in names:
        configs["sde (tree)"] = SDEMotion(**kw, brownian="tree")
    if "ode" in names:
        pid = dfx.PIDController(rtol=rtol, atol=atol)
        configs["ode dopri5"] = ODEMotion(**kw, solver="dopri5", stepsize_controller=pid)
        configs["ode dopri5 per-sample steps"] = ODEMotion(
            **kw, solver="dopri5", stepsize_controller=pid, shared_steps=False
        )
        configs["ode rk4 DirectAdjoint"] = ODEMotion(**kw, adjoint=dfx.DirectAdjoint())
        configs["ode rk4 recursive checkpoint"] = ODEMotion(
            **kw, adjoint=dfx.RecursiveCheckpointAdjoint()
        )
        configs["ode rk4 backsolve"] = ODEMotion(**kw, adjoint=dfx.BacksolveAdjoint())
        configs["ode dopri5 backsolve"] = ODEMotion(
            **kw, solver="dopri5", stepsize_controller=pid, adjoint=dfx.BacksolveAdjoint()
        )
    for name in ("cde", "ncode_open", "ncode_closed"):
        if name in names:
            for adjoint in (dfx.DirectAdjoint(), dfx.RecursiveCheckpointAdjoint()):
                configs[f"{name} {type(adjoint).__name__}"] = MOTIONS[name](**kw, adjoint=adjoint)
    rows = []
    for name, motion in configs.items():
        key = jr.key(2) if motion.stochastic else None

        def loss(p, ts, motion=motion, key=key):
            return jnp.mean(apply_batch(motion, p, z0, ts, key=key) ** 2)

        row = {"model": name, **_timed(loss, motion.init(jr.key(0)), ts, repeat=repeat)}
        print(table([row], list(row)))
        rows.append(row)
    return rows


def _rk4_scan(params, x0, ts, mlp):
    """The floor: classical RK4, one step per frame, on the batched state, in a `lax.scan`."""
    f = lambda x: mlp.apply(params, x)

    def step(x, t_pair):
        h = t_pair[1] - t_pair[0]
        k1 = f(x)
        k2 = f(x + h / 2 * k1)
        k3 = f(x + h / 2 * k2)
        k4 = f(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x, x

    xs = jax.lax.scan(step, x0, jnp.stack([ts[:-1], ts[1:]], axis=1))[1]
    return jnp.concatenate([x0[None], xs])  # [t, b, d]


def _batched_diffrax(params, x0, ts, mlp):
    """One `diffeqsolve` on the whole [b, d] state (the MLP acts row-wise)."""
    sol = dfx.diffeqsolve(
        dfx.ODETerm(ModuleField(mlp)), RK4(), ts[0], ts[-1], None, x0, params,
        saveat=dfx.SaveAt(ts=ts), stepsize_controller=dfx.StepTo(ts=ts), max_steps=len(ts) - 1,
    )
    return sol.ys


def where_time_goes(*, d: int, hidden: int, batch: int, frames: int, repeat: int) -> list[dict]:
    """The same RK4 ODE three ways, with `ts` an argument or a compile-time constant."""
    ts = jnp.linspace(0.0, 1.0, frames)
    z0 = jr.normal(jr.key(1), (batch, d))
    mlp = MLP(hidden, d)
    ode = ODEMotion(d_noise=d, d_state=d, d_hidden=hidden)
    direct = ode.replace(adjoint=dfx.DirectAdjoint())
    params = ode.init(jr.key(0))
    per_sample = lambda motion: lambda p, ts: jax.vmap(lambda z: motion.apply(p, z, ts))(z0)
    ways = {
        "solve_on_grid batched state (default)": lambda p, ts: apply_batch(ode, p, z0, ts),
        "solve_on_grid vmap per sample": per_sample(ode),
        "diffeqsolve DirectAdjoint vmap per sample": per_sample(direct),
        "diffrax batched state": lambda p, ts: _batched_diffrax(p["field"], z0, ts, mlp),
        "lax.scan RK4 batched": lambda p, ts: _rk4_scan(p["field"], z0, ts, mlp),
    }
    rows = []
    for name, solve in ways.items():
        for constant in (False, True):

            def loss(p, ts_arg, solve=solve, constant=constant):
                return jnp.mean(solve(p, ts if constant else ts_arg) ** 2)

            row = {"model": f"ode rk4: {name}" + (" (ts constant)" if constant else ""),
                   **_timed(loss, params, ts, repeat=repeat)}
            print(table([row], list(row)))
            rows.append(row)
    return rows


def versus_torchdiffeq(python: str, *, d, hidden, batch, frames, rtol, atol, threads, repeat):
    """Ours and torchdiffeq (run by `python`) on the same ODE generator weights, in ms.

    Direct backpropagation (our defaults) and the adjoint method (`diffrax.BacksolveAdjoint`
    against `torchdiffeq.odeint_adjoint`), each with RK4 one step per frame and with dopri5.
    """
    rng = np.random.default_rng(0)
    weights = {
        "W1": rng.normal(size=(d, hidden)) / np.sqrt(d), "b1": 0.1 * rng.normal(size=hidden),
        "W2": rng.normal(size=(hidden, d)) / np.sqrt(hidden), "b2": 0.1 * rng.normal(size=d),
        "z0": rng.normal(size=(batch, d)), "ts": np.linspace(0.0, 1.0, frames),
    }
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "weights.npz"
        np.savez(path, **weights)
        script = pathlib.Path(__file__).with_name("torchdiffeq_motion.py")
        cmd = [python, str(script), str(path), "--threads", str(threads), "--rtol", str(rtol),
               "--atol", str(atol), "--repeat", str(repeat)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as e:
            message = f"`--torchdiffeq` must name a Python executable, got {python!r}."
            raise ValueError(message) from e
        if done.returncode != 0:
            raise RuntimeError(
                f"{script.name} failed under {python} (it needs numpy, torch and torchdiffeq):\n"
                + done.stderr.strip()[-2000:]
            )
        theirs = json.loads(done.stdout.strip().splitlines()[-1])
    layer = lambda w, b: {"kernel": jnp.asarray(weights[w]), "bias": jnp.asarray(weights[b])}
    params = {"field": {"params": {"Dense_0": layer("W1", "b1"), "Dense_1": layer("W2", "b2")}}}
    z0, ts = jnp.asarray(weights["z0"]), jnp.asarray(weights["ts"])
    ode = ODEMotion(d_noise=d, d_state=d, d_hidden=hidden)
    pid = dfx.PIDController(rtol=rtol, atol=atol)
    rows = []
    dopri5 = ode.replace(solver="dopri5", stepsize_controller=pid)
    backsolve = dfx.BacksolveAdjoint()
    configs = {"rk4": ode, "dopri5": dopri5, "rk4_adjoint": ode.replace(adjoint=backsolve),
               "dopri5_adjoint": dopri5.replace(adjoint=backsolve)}
    for name, motion in configs.items():
        loss = lambda p, motion=motion: jnp.mean(apply_batch(motion, p, z0, ts) ** 2)
        ours = _timed(loss, params, repeat=repeat)
        torch_ms, ours_ms = theirs[f"{name}_ms"], ours["fwd_bwd_ms"]
        rows.append({"solver": name, "torchdiffeq_ms": torch_ms, "ours_ms": ours_ms,
                     "speedup": torch_ms / ours_ms, "ours_compile_s": ours["compile_s"]})
    info = {k: theirs[k] for k in ("torch", "torchdiffeq", "threads")}
    info["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    return rows, info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--state", type=int, default=64)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-6)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--models", nargs="+", choices=list(MOTIONS), default=list(MOTIONS))
    p.add_argument("--no-breakdown", action="store_true", help="skip the where-time-goes rows")
    p.add_argument("--torchdiffeq", metavar="PYTHON",
                   help="a Python with torch + torchdiffeq: time the ODE generator there too")
    p.add_argument("--threads", type=int, default=1, help="torch threads (--torchdiffeq)")
    args = p.parse_args(argv)
    size = dict(d=args.state, hidden=args.hidden, batch=args.batch, frames=args.frames)
    repeat = args.repeat
    if args.tiny:
        size, repeat = dict(d=4, hidden=8, batch=4, frames=4), 2
    env = environment(seed=0)
    print(env)
    rows = generator_rows(args.models, **size, rtol=args.rtol, atol=args.atol, repeat=repeat)
    if not args.no_breakdown:
        rows += where_time_goes(**size, repeat=repeat)
    print(table(rows, ["model", "compile_s", "fwd_bwd_ms"]))
    config = {**size, "rtol": args.rtol, "atol": args.atol, "repeat": repeat}
    payload = {"env": env, "config": config, "rows": rows}
    if args.torchdiffeq:
        versus, info = versus_torchdiffeq(args.torchdiffeq, **size, rtol=args.rtol, atol=args.atol,
                                          threads=args.threads, repeat=repeat)
        print(info)
        print(table(versus, list(versus[0])))
        payload["torchdiffeq"] = {"info": info, "rows": versus}
    suffix = ("_tiny" if args.tiny else "") + ("_torchdiffeq" if args.torchdiffeq else "")
    path = write("motion_speed" + suffix, payload)
    print(f"results: {path}")
    return rows


if __name__ == "__main__":
    main()

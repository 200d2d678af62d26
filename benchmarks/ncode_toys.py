"""Can N-CODE fit what a NODE cannot? Reflection map and concentric annuli (N-CODE §5.1).

Three models share one vector field f(x; θ) = W₂ tanh(W₁x + b₁) + b₂ (16 hidden units),
integrated on t ∈ [0, 1] by classical RK4 (10 fixed steps by default) with `video`'s generators:

* NODE: `video.ODEMotion`, one θ for all inputs;
* N-CODE open loop: `video.NCODEMotion`, θ = γ(x(0)) = θ̄ + A x(0) (a linear hypernetwork);
* N-CODE closed loop: `video.NCODEMotion(closed_loop=True, hypernetwork=False)`, θ(0) = θ̄ the
  same for every input and dθ/dt = g(x) = W₂ᵍ tanh(W₁ᵍ x + b₁ᵍ) + b₂ᵍ integrated with x.

Reflection (Dupont et al. 2019): fit x(1) = −x(0) on x(0) ∈ [−1, 1]; a NODE's flow is
monotone in x(0), so its best MSE is that of the constant 0 (1/3 on U[−1, 1]). Annuli: a disk
(r < 0.5, class 0) inside an annulus (1 < r < 1.5, class 1); a linear read-out of x(1) gives the
logit. Full-batch Adam. Prints a table, writes JSON to benchmarks/results/ and pictures
(trajectories, decision boundaries, training curves) to the folder it prints.

    python -m benchmarks.ncode_toys [--tiny] [--steps 1000] [--problems reflection annuli]
                                    [--out DIR]
"""

import argparse
import math
import pathlib
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from common.media import save_figure
from video import NCODEMotion, ODEMotion, apply_batch
from video.plot import decision_boundaries, trajectories_1d

from ._common import RESULTS, environment, table, write

HIDDEN = 16


MODELS = ("NODE", "N-CODE open", "N-CODE closed")


def models(d: int, solver: str, names=MODELS) -> dict:
    """The generators on a d-dimensional state (initial state = the input itself)."""
    kw = dict(d_noise=d, d_state=d, d_hidden=HIDDEN, solver=solver)
    every = {
        "NODE": ODEMotion(**kw),
        "N-CODE open": NCODEMotion(**kw),
        "N-CODE closed": NCODEMotion(**kw, closed_loop=True, hypernetwork=False),
    }
    return {name: every[name] for name in names}


def train(loss_fn, params, *, steps: int, lr: float):
    """Full-batch Adam for `steps` steps in one jitted scan: (params, losses [steps])."""
    opt = optax.adam(lr)

    @jax.jit
    def run(params):
        def step(carry, _):
            p, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(p)
            updates, state = opt.update(grads, state, p)
            return (optax.apply_updates(p, updates), state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return params, losses

    return run(params)


def reflection(steps: int, n: int, ts, solver: str, names, key, out: pathlib.Path) -> list[dict]:
    """Fits x ↦ −x; returns one row per model (final test MSE)."""
    k_data, k_init = jr.split(key)
    x_train = jr.uniform(k_data, (n, 1), minval=-1.0, maxval=1.0)
    x_test = jnp.linspace(-1.0, 1.0, 101)[:, None]
    rows, paths = [], {}
    for name, motion in models(1, solver, names).items():

        def loss_fn(p, x=x_train, motion=motion):
            final = apply_batch(motion, p, x, ts)[:, -1]
            return jnp.mean((final + x) ** 2)

        t0 = time.perf_counter()
        params, losses = train(loss_fn, motion.init(k_init), steps=steps, lr=1e-2)
        mse = float(loss_fn(params, x_test))
        rows.append({"problem": "reflection", "model": name, "test_mse": mse,
                     "train_loss": float(losses[-1]), "wall_s": time.perf_counter() - t0})
        paths[name] = apply_batch(motion, params, jnp.linspace(-1, 1, 21)[:, None], ts)[..., 0]
    fig = trajectories_1d(ts, paths, targets=-np.linspace(-1, 1, 21))
    save_figure(fig, out / "reflection_trajectories.png")
    return rows


def annuli_data(key, n: int):
    """n points: half in the disk r < 0.5 (label 0), half in the annulus 1 < r < 1.5 (label 1)."""
    k_r, k_a = jr.split(key)
    labels = jnp.arange(n) % 2
    u = jr.uniform(k_r, (n,))
    radius = jnp.where(labels == 0, 0.5 * u, 1.0 + 0.5 * u)
    angle = jr.uniform(k_a, (n,), maxval=2 * math.pi)
    return jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle)], axis=1), labels


def annuli(steps: int, n: int, ts, solver: str, names, key, out: pathlib.Path) -> list[dict]:
    """Disk vs annulus through a linear read-out of x(1); returns one row per model."""
    k_train, k_test, k_init, k_read = jr.split(key, 4)
    x_train, y_train = annuli_data(k_train, n)
    x_test, y_test = annuli_data(k_test, 1024)
    xx, yy = np.meshgrid(np.linspace(-2, 2, 60), np.linspace(-2, 2, 60))
    grid = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=1), jnp.float32)
    rows, probs, curves = [], {}, {}
    for name, motion in models(2, solver, names).items():

        def logits(p, x, motion=motion):
            final = apply_batch(motion, p["motion"], x, ts)[:, -1]
            return final @ p["w"] + p["b"]

        def loss_fn(p, logits=logits):
            return jnp.mean(optax.sigmoid_binary_cross_entropy(logits(p, x_train), y_train))

        params = {"motion": motion.init(k_init), "w": 0.1 * jr.normal(k_read, (2,)), "b": 0.0}
        t0 = time.perf_counter()
        params, losses = train(loss_fn, params, steps=steps, lr=1e-2)
        accuracy = float(jnp.mean((logits(params, x_test) > 0) == (y_test == 1)))
        rows.append({"problem": "annuli", "model": name, "test_accuracy": accuracy,
                     "train_loss": float(losses[-1]), "wall_s": time.perf_counter() - t0})
        probs[name] = np.asarray(jax.nn.sigmoid(logits(params, grid))).reshape(xx.shape)
        curves[name] = np.asarray(losses)
    fig = decision_boundaries(xx, yy, probs, x_train, y_train, curves)
    save_figure(fig, out / "annuli.png")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--points", type=int, default=256)
    p.add_argument("--time-steps", type=int, default=10, help="fixed steps on [0, 1]")
    p.add_argument("--solver", default="rk4")
    p.add_argument("--problems", nargs="+", choices=["reflection", "annuli"],
                   default=["reflection", "annuli"])
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=pathlib.Path, default=None, help="picture folder")
    args = p.parse_args(argv)
    steps, n = (3, 16) if args.tiny else (args.steps, args.points)
    # --tiny checks the plumbing in seconds: Euler with 2 steps compiles fastest.
    time_steps, solver = (2, "euler") if args.tiny else (args.time_steps, args.solver)
    ts = jnp.linspace(0.0, 1.0, time_steps + 1)
    name = "ncode_toys_tiny" if args.tiny else "ncode_toys"
    out = args.out or RESULTS / name
    out.mkdir(parents=True, exist_ok=True)
    env = environment(seed=args.seed)
    print(env)
    k_reflect, k_annuli = jr.split(jr.key(args.seed))
    rows = []
    if "reflection" in args.problems:
        rows += reflection(steps, n, ts, solver, args.models, k_reflect, out)
    if "annuli" in args.problems:
        rows += annuli(steps, n, ts, solver, args.models, k_annuli, out)
    columns = ["problem", "model", "test_mse", "test_accuracy", "train_loss", "wall_s"]
    print(table(rows, columns))
    config = {"steps": steps, "points": n, "time_steps": time_steps, "solver": solver}
    path = write(name, {"env": env, "config": config, "rows": rows})
    print(f"results: {path}\npictures: {out}")
    return rows


if __name__ == "__main__":
    main()

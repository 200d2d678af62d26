"""Can each motion generator learn both rotation directions? The question without the images.

Seed 000 blamed its ODE/SDE/CDE MoCoGANs' collapse to one rotation direction on non-crossing ODE
trajectories. This ablation asks the motion generators alone, at CPU cost: a GAN on
*trajectories* of the rotation itself. Real samples are the unit-circle paths
(cos θ_k, sin θ_k), θ_k = θ₀ + s ω k, k < t = 16, with the rotating-MNIST law (start uniform,
direction s = ±1 balanced, sweep (t − 1) ω uniform in [90°, 360°]). The generator is a motion
generator of `video` (state d = 8, hidden 32, from z₀ ~ N(0, I₈); per-frame noise fresh where the
generator has it) followed by a linear read-out to 2-D; the discriminator an MLP (2 × 64,
LeakyReLU) on the flattened [t, 2] path. BCE with the non-saturating generator loss, Adam
(lr 1e-3, β₁ = 0.5) alternating D then G (`odegan.gradient_play`), batch 256.

A generated path rotates counter-clockwise when the mean cross product x_k × x_{k+1} is positive
(clockwise when negative; "static" below 1e-3). Reported per generator, mean ± std over seeds:
the fractions of counter-clockwise and clockwise paths (data: ½ / ½), the number of seeds
collapsed to one direction (the other below 10 %), and the mean radius error |‖x_k‖ − 1|.

    python -m benchmarks.motion_collapse_latent [--tiny] [--steps 3000] [--seeds 3]
        [--only gru ode sde ode_rnn cde ncode_open ncode_closed]
"""

import argparse
import functools as ft
import math
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from odegan import Players, gradient_play, init_train_state, train
from video import MOTIONS, apply_batch, get_motion
from video.datasets import _sample_motion

from ._common import environment, mean_std, table, write

T, D, HIDDEN, BATCH = 16, 8, 32, 256
COLLAPSED = 0.1


class _Discriminator(nn.Module):
    @nn.compact
    def __call__(self, paths):  # [b, t, 2] -> [b]
        h = paths.reshape(paths.shape[0], -1)
        for _ in range(2):
            h = nn.leaky_relu(nn.Dense(64)(h), 0.2)
        return nn.Dense(1)(h)[:, 0]


def real_paths(key, n: int) -> jax.Array:
    """Unit-circle rotation paths `[n, T, 2]` with rotating MNIST's law of motion."""
    start, direction, speed = _sample_motion(key, n, math.pi / 2, 2 * math.pi, T)
    theta = start[:, None] + (direction * speed)[:, None] * jnp.arange(T)[None]
    return jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=-1)


def directions(paths: jax.Array) -> jax.Array:
    """+1 (counter-clockwise), −1 (clockwise) or 0 (static) per path `[n, T, 2]`."""
    a, b = paths[:, :-1], paths[:, 1:]
    cross = jnp.mean(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0], axis=1)
    return jnp.where(jnp.abs(cross) < 1e-3, 0, jnp.sign(cross)).astype(jnp.int32)


def _model(name: str):
    motion = get_motion(name, d_noise=D, d_state=D, d_hidden=HIDDEN)
    ts = jnp.linspace(0.0, 1.0, T)
    readout, disc = nn.Dense(2), _Discriminator()

    def generate(g, z, key):
        xs = apply_batch(motion, g["motion"], z, ts, key=key if motion.stochastic else None)
        return readout.apply(g["readout"], xs)

    def init(key):
        k_m, k_r, k_d = jr.split(key, 3)
        g = {"motion": motion.init(k_m), "readout": readout.init(k_r, jnp.zeros(D))}
        return Players(d=disc.init(k_d, jnp.zeros((1, T, 2))), g=g)

    def losses(players, batch):
        real, z, key = batch
        fake = generate(players.g, z, key)
        d_real, d_fake = disc.apply(players.d, real), disc.apply(players.d, fake)
        loss_d = jnp.mean(optax.sigmoid_binary_cross_entropy(d_real, jnp.ones_like(d_real)))
        loss_d += jnp.mean(optax.sigmoid_binary_cross_entropy(d_fake, jnp.zeros_like(d_fake)))
        loss_g = jnp.mean(optax.sigmoid_binary_cross_entropy(d_fake, jnp.ones_like(d_fake)))
        return loss_d, loss_g

    def sample_batch(key):
        k_real, k_z, k_noise = jr.split(key, 3)
        return real_paths(k_real, BATCH), jr.normal(k_z, (BATCH, D)), k_noise

    return init, generate, losses, sample_batch


def run(name: str, seed: int, steps: int) -> dict:
    """Trains one generator; the direction fractions of 1 000 generated paths."""
    init, generate, losses, sample_batch = _model(name)
    tx = gradient_play(optax.adam(1e-3, b1=0.5), order="alternating")
    state = init_train_state(init(jr.key(seed)), tx, key=jr.key(1000 + seed))
    run_steps = jax.jit(
        ft.partial(train, tx=tx, losses=losses, sample_batch=sample_batch), static_argnums=1
    )
    t0 = time.perf_counter()
    state, metrics = jax.block_until_ready(run_steps(state, steps))
    wall = time.perf_counter() - t0
    paths = generate(state.players.g, jr.normal(jr.key(7), (1000, D)), jr.key(8))
    s = np.asarray(directions(paths))
    radius = float(jnp.mean(jnp.abs(jnp.linalg.norm(paths, axis=-1) - 1.0)))
    return {
        "ccw": float(np.mean(s == 1)), "cw": float(np.mean(s == -1)),
        "static": float(np.mean(s == 0)), "radius_err": radius,
        "loss_d": float(metrics["loss_d"][-100:].mean()), "wall_s": wall,
    }


def main(argv=None) -> list[dict]:
    """Runs every generator over seeds; prints the table, writes JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="seconds: 10 steps of the ode, 1 seed")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, default=3)
    # 3 seeds × 3 000 steps on a 2-core CPU: 1–2 min per generator, 16 min for N-CODE closed loop.
    p.add_argument("--only", nargs="+", choices=list(MOTIONS), default=list(MOTIONS))
    args = p.parse_args(argv)
    names = ["ode"] if args.tiny else args.only
    steps, seeds = (10, 1) if args.tiny else (args.steps, args.seeds)
    env = environment(seed=0)
    print(env)
    rows, per_seed = [], []
    for name in names:
        results = [run(name, seed, steps) for seed in range(seeds)]
        per_seed += [{"model": name, "seed": i, **r} for i, r in enumerate(results)]
        collapsed = sum(min(r["ccw"], r["cw"]) < COLLAPSED <= max(r["ccw"], r["cw"])
                        for r in results)
        rows.append({
            "model": name,
            "ccw": mean_std([r["ccw"] for r in results], fmt=".2f", std_fmt=".2f"),
            "cw": mean_std([r["cw"] for r in results], fmt=".2f", std_fmt=".2f"),
            "static": mean_std([r["static"] for r in results], fmt=".2f", std_fmt=".2f"),
            "collapsed": f"{collapsed}/{seeds}",
            "radius err": mean_std([r["radius_err"] for r in results], fmt=".2f", std_fmt=".2f"),
            "loss_d": mean_std([r["loss_d"] for r in results], fmt=".2f", std_fmt=".2f"),
            "wall_s": float(np.mean([r["wall_s"] for r in results])),
        })
        print(table(rows[-1:], list(rows[-1])), flush=True)
    print(table(rows, list(rows[0])))
    name = "motion_collapse_latent_tiny" if args.tiny else "motion_collapse_latent"
    path = write(name, {"env": env, "steps": steps, "seeds": seeds, "rows": rows,
                        "per_seed": per_seed})
    print(f"results: {path}")
    return rows


if __name__ == "__main__":
    main()

"""What does one ODE-GAN step cost, in units of a simultaneous-GD step, on the MoG MLP GAN?

Per-step wall time of Euler, Heun, RK4 and RK4 + Adam (`odegan.ode_step`) against simultaneous
gradient descent and simultaneous Adam (`odegan.gradient_play`), all through the same
`odegan.train` (a jitted `lax.scan` of `train_step`), for the MoG16 notebook's GAN (2×25 ReLU
MLPs, latent 32, batch 512). Targets with λ = 0: Heun ≤ 2.1× and RK4 ≤ 4.2× sim-GD (they need
2 and 4 field evaluations). Then the regulariser λ = 0.07: its extra cost in units of one field
evaluation (a sim-GD step), after the step (Algorithm 1, paid once per step) and, for contrast,
in every stage (paid once per stage). A last table repeats sim-GD, Heun and RK4 on one fixed
minibatch (no random draw per step), the ratio of gradient work alone. Compile time is reported
separately; timings are interleaved across methods so that a shared machine's load hits all alike.

    python -m benchmarks.odegan_step [--tiny] [--steps 200] [--batch-size 512]

`--tiny` measures only sim-GD, Euler and Euler + regulariser at batch 64 (a smoke test).
"""

import argparse
import functools as ft

import jax
import jax.random as jr
import optax

from odegan import (
    gan_batch_losses,
    gradient_play,
    init_train_state,
    mlp_gan,
    ode_step,
    sample_gan_batch,
    train,
)
from odegan.datasets import sample_mog_grid

from ._common import compile_and_time, environment, table, write

# name -> (transformation factory, field evaluations per step at λ = 0)
METHODS = {
    "sim_gd": (lambda: gradient_play(optax.sgd(0.1)), 1),
    "sim_adam": (lambda: gradient_play(optax.adam(1e-3)), 1),
    "euler": (lambda: ode_step("euler", 0.1), 1),
    "heun": (lambda: ode_step("heun", 0.1), 2),
    "rk4": (lambda: ode_step("rk4", 0.1), 4),
    "rk4_adam": (lambda: ode_step("rk4", 0.1, adam="frozen"), 4),
}
REGULARISED = {
    "euler_reg": (lambda: ode_step("euler", 0.1, regulariser=0.07), "euler"),
    "rk4_reg": (lambda: ode_step("rk4", 0.1, regulariser=0.07), "rk4"),
    "rk4_reg_every_stage": (
        lambda: ode_step("rk4", 0.1, regulariser=0.07, regulariser_placement="every_stage"),
        "rk4",
    ),
}
# The same with one fixed minibatch (no random draw per step): gradient evaluations alone.
FIXED = ("sim_gd", "heun", "rk4")
# --tiny checks the plumbing only: every compile costs seconds.
TINY = ("sim_gd", "euler", "euler_reg")


def build(tx, *, steps: int, batch_size: int, fixed_batch: bool = False, seed: int = 0):
    """A jitted `steps`-step `lax.scan` of `train_step` for `tx`, and its initial state.

    With `fixed_batch` the same minibatch is used at every step (no random draw per step), to
    compare the gradient evaluations alone.
    """
    players, disc, gen = mlp_gan(key=jr.key(seed), latent_dim=32, hidden=(25, 25))
    losses = ft.partial(gan_batch_losses, discriminator=disc, generator=gen)
    sample = ft.partial(
        sample_gan_batch, sample_data=sample_mog_grid, batch_size=batch_size, latent_dim=32
    )
    if fixed_batch:
        batch = sample(jr.key(seed + 2))
        losses, sample = ft.partial(lambda p, _, f: f(p, batch), f=losses), None
    state = init_train_state(players, tx, key=jr.key(seed + 1))
    return jax.jit(lambda s: train(s, steps, tx=tx, losses=losses, sample_batch=sample)), state


def measure(factories: dict, *, steps: int, batch_size: int, repeat: int) -> dict:
    """{name: (compile seconds, best seconds per step)}, timings interleaved across methods.

    Each method is compiled and timed once (`compile_and_time`), then `repeat` rounds time every
    method in turn, so that the load of a shared machine hits all methods alike; the minimum
    over rounds is kept.
    """
    built = {
        name: build(f(), steps=steps, batch_size=batch_size, fixed_batch=name.endswith("_fixed"))
        for name, f in factories.items()
    }
    out = {}
    for name, (fn, state) in built.items():
        compile_s, best = compile_and_time(fn, state, repeat=1)
        out[name] = [compile_s, best]
    for _ in range(repeat):
        for name, (fn, state) in built.items():
            _, t = compile_and_time(fn, state, repeat=1)
            out[name][1] = min(out[name][1], t)
    return {name: (c, t / steps) for name, (c, t) in out.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    steps, batch, repeat = (4, 64, 2) if args.tiny else (args.steps, args.batch_size, args.repeat)
    env = environment(seed=0)
    print(env)
    methods = {k: v for k, v in METHODS.items() if not args.tiny or k in TINY}
    regularised = {k: v for k, v in REGULARISED.items() if not args.tiny or k in TINY}
    # One interleaved measurement of everything, so that every ratio is taken under one load.
    factories = {k: f for k, (f, _) in (methods | regularised).items()}
    if not args.tiny:
        factories |= {f"{k}_fixed": METHODS[k][0] for k in FIXED}
    measured = measure(factories, steps=steps, batch_size=batch, repeat=repeat)
    times = {k: t for k, (_, t) in measured.items()}
    rows = [
        {"method": k, "field_evals": evals, "step_ms": 1e3 * times[k], "compile_s": measured[k][0]}
        for k, (_, evals) in methods.items()
    ]
    for row in rows:
        row["x_sim_gd"] = times[row["method"]] / times["sim_gd"]
        if "sim_adam" in times:
            row["x_adam"] = times[row["method"]] / times["sim_adam"]
    columns = ["method", "field_evals", "step_ms", "x_sim_gd", "x_adam", "compile_s"]
    print(table(rows, columns))
    reg_rows = []
    for name, (_, base) in regularised.items():
        compile_s, step_s = measured[name]
        reg_rows.append(
            {
                "method": name,
                "step_ms": 1e3 * step_s,
                "x_sim_gd": step_s / times["sim_gd"],
                # Extra time over the same solver at λ = 0, in units of one field evaluation.
                "extra_field_evals": (step_s - times[base]) / times["sim_gd"],
                "compile_s": compile_s,
            }
        )
    print(table(reg_rows, ["method", "step_ms", "x_sim_gd", "extra_field_evals", "compile_s"]))
    fixed_rows = [
        {
            "method": f"{k} (fixed batch)",
            "field_evals": METHODS[k][1],
            "step_ms": 1e3 * measured[f"{k}_fixed"][1],
            "x_sim_gd": measured[f"{k}_fixed"][1] / measured["sim_gd_fixed"][1],
        }
        for k in FIXED
        if f"{k}_fixed" in measured
    ]
    if fixed_rows:
        print(table(fixed_rows, ["method", "field_evals", "step_ms", "x_sim_gd"]))
    targets = {
        f"{name}_le_{limit}x": times[name] / times["sim_gd"] <= limit
        for name, limit in (("heun", 2.1), ("rk4", 4.2))
        if name in times
    }
    print(f"targets (λ = 0): {targets}")
    payload = {
        "env": env,
        "steps": steps,
        "batch_size": batch,
        "rows": rows,
        "regulariser_rows": reg_rows,
        "fixed_batch_rows": fixed_rows,
        "targets": targets,
    }
    path = write("odegan_step_tiny" if args.tiny else "odegan_step", payload)
    print(f"results: {path}")
    return payload


if __name__ == "__main__":
    main()

import jax
import jax.numpy as jnp
import optax

from odegan import Players, ode_step, rotational_game, rotational_solution, toy_game_field
from odegan.plot import distance_to_nash, phase_portrait


def test_rotational_game_pictures(tmp_path):
    field = toy_game_field(rotational_game)
    z0 = Players(d=jnp.array(1.0), g=jnp.array(1.0))
    trajectories = {}
    for solver in ("euler", "heun", "rk4"):
        opt = ode_step(solver, 0.2)

        def body(carry, _, opt=opt):
            z, state = carry
            updates, state = opt.update(z, state, z, vector_field=lambda p, stage: field(p))
            z = optax.apply_updates(z, updates)
            return (z, state), z

        _, traj = jax.lax.scan(body, (z0, opt.init(z0)), None, length=50)
        trajectories[solver] = jax.tree.map(
            lambda x0, xs: jnp.concatenate([x0[None], xs]), z0, traj
        )
    exact = rotational_solution(0.2 * jnp.arange(51), z0)
    ax = phase_portrait(field, trajectories=trajectories, exact=exact, grid=9)
    assert len(ax.lines) == 5  # three solvers, the exact flow, the equilibrium
    ax.figure.savefig(tmp_path / "phase.png")
    ax = distance_to_nash(trajectories, dt=0.2, exact=exact)
    assert len(ax.lines) == 4
    ax.figure.savefig(tmp_path / "distance.png")
    assert (tmp_path / "phase.png").stat().st_size > 1000
    assert (tmp_path / "distance.png").stat().st_size > 1000

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


def test_mog_pictures(tmp_path):
    import jax.random as jr
    import numpy as np

    from odegan.datasets import mog_grid_means, sample_mog_grid
    from odegan.plot import grid_points, loss_curves, mog_snapshots

    samples = np.asarray(sample_mog_grid(256, key=jr.key(0)))
    points = grid_points(2.5, 20)
    assert points.shape == (400, 2)
    logits = -np.sum(points**2, axis=1).reshape(20, 20)
    fig = mog_snapshots([(0, samples, logits), (10, samples, None)], means=mog_grid_means())
    assert len(fig.axes) == 2
    fig.savefig(tmp_path / "density.png")
    ax = loss_curves(np.arange(5), np.full(5, 1.3), np.full(5, 0.7))
    assert len(ax.lines) == 4  # two losses, two Nash lines
    ax.figure.savefig(tmp_path / "losses.png")
    assert (tmp_path / "density.png").stat().st_size > 1000

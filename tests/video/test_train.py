"""MoCoGAN training: the game, the step (Adam, d_steps, integrators), configs, runs and the CLI.

Compiling a MoCoGAN step dominates the cost: the MoCoGAN tests share one tiny game (module
fixture) and one tiny run configuration (its compiled programs are cached per config), and the
optimiser identities that do not need a video GAN use a two-parameter toy game.
"""

import dataclasses
import functools as ft
import json

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from PIL import Image, ImageSequence

from common import media, runs
from odegan import gradient_play, init_train_state, ode_step, train
from tests.helpers import tree_allclose
from video import MoCoGAN, rotating_mnist_sampler, sample_mocogan_batch
from video.__main__ import main
from video._experiment import run_experiment, run_videos
from video.configs import PRESETS, TrainConfig, make_data, make_model, make_transformation, tiny

TINY = tiny(PRESETS["gru"])


@pytest.fixture(scope="module")
def game():
    """A tiny GRU MoCoGAN: (model, initial players, sample_batch) on 64 source digits."""
    model = make_model(TINY)
    pool = make_data(TINY, key=jr.key(1))["pool"][:64]
    sample_videos = ft.partial(
        rotating_mnist_sampler, {"pool": pool}, n_frames=TINY.n_frames, mode="clean"
    )
    sample_batch = ft.partial(
        sample_mocogan_batch, model=model, sample_videos=sample_videos, batch_size=2
    )
    return model, model.init(key=jr.key(0)), sample_batch


# --- the MoCoGAN game --------------------------------------------------------------------------


def test_euler_training_equals_simultaneous_sgd(game):
    model, players, sample_batch = game
    h, steps = 0.05, 2
    results = []
    for tx in (ode_step("euler", h), gradient_play(optax.sgd(h))):
        state = init_train_state(players, tx, key=jr.key(5))
        run = jax.jit(
            ft.partial(train, tx=tx, losses=model.losses, sample_batch=sample_batch),
            static_argnums=1,
        )
        state, metrics = run(state, steps)
        results.append((state.players, metrics))
    (euler, m_euler), (sgd, m_sgd) = results
    assert tree_allclose(euler, sgd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m_euler["loss_d"], m_sgd["loss_d"], rtol=1e-6)
    assert not tree_allclose(euler, players, rtol=0, atol=1e-7)  # both moved
    # The losses: each discriminator starts near log 4 (image + video: ≈ 2 log 4).
    assert 2.0 < float(m_euler["loss_d"][0]) < 3.6


def test_fresh_noise_per_frame_is_the_only_per_video_randomness_left(game):
    model, players, _ = game
    frozen = model.replace(fresh_noise_per_frame=False)
    content = jnp.zeros((2, model.generator.d_content))
    noise = jnp.zeros((2, model.motion.d_noise))  # two videos with the same codes
    for m, same in ((model, False), (frozen, True)):
        videos = jax.jit(lambda g, m=m: m.generate(g, content, noise, key=jr.key(0)))(players.g)
        assert videos.shape == (2, TINY.n_frames, 28, 28, 1)
        # Same up to rounding: XLA:CPU's convolutions may round batch rows differently (2e-7
        # seen on one machine), where fresh noise changes pixels by O(1).
        gap = float(jnp.max(jnp.abs(videos[0] - videos[1])))
        assert gap < 1e-5 if same else gap > 1e-2, gap
    batch = sample_mocogan_batch(
        jr.key(1),
        model=frozen,
        sample_videos=lambda k, n: jnp.zeros((n, TINY.n_frames, 28, 28, 1)),
        batch_size=2,
        frozen_noise_key=jr.key(9),
    )
    assert np.array_equal(jr.key_data(batch.noise_key), jr.key_data(jr.key(9)))


def test_sampler_sources():
    fixed = {"videos": jnp.arange(3.0)[:, None, None, None, None] * jnp.ones((3, 4, 28, 28, 1))}
    videos = rotating_mnist_sampler(fixed, jr.key(0), 5, n_frames=4, mode="faithful")
    assert videos.shape == (5, 4, 28, 28, 1)
    assert set(np.asarray(videos[:, 0, 0, 0, 0]).tolist()) <= {0.0, 1.0, 2.0}  # drawn from the set
    with pytest.raises(ValueError, match="`source`"):
        rotating_mnist_sampler({"images": None}, jr.key(0), 5, n_frames=4, mode="clean")


def test_mocogan_rejects_mismatched_networks(game):
    model, _, _ = game
    with pytest.raises(ValueError, match="`motion.d_state`"):
        model.replace(generator=model.generator.clone(d_motion=7))
    with pytest.raises(ValueError, match="`video_discriminator`"):
        model.replace(video_discriminator=model.video_discriminator.clone(size=32))
    ode = make_model(dataclasses.replace(TINY, motion="ode", fresh_noise_per_frame=False))
    with pytest.raises(ValueError, match="`fresh_noise_per_frame=True`"):
        ode.replace(fresh_noise_per_frame=True)
    with pytest.raises(ValueError, match="`frozen_noise_key`"):
        sample_mocogan_batch(
            jr.key(0),
            model=model.replace(fresh_noise_per_frame=False),
            sample_videos=lambda k, n: None,
            batch_size=2,
        )
    assert isinstance(model, MoCoGAN)


# --- configs, runs, CLI ------------------------------------------------------------------------


def _metrics(run_dir):
    drop = lambda r: {k: v for k, v in r.items() if k != "wall_time"}
    return [drop(r) for r in runs.read_metrics(run_dir)]


def test_cli_tiny_run_and_bitwise_resume(tmp_path, capsys):
    assert main(["gru", "--tiny", "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    run_dir = next((tmp_path / "cli").iterdir())
    assert str(run_dir.resolve()) in capsys.readouterr().out
    for f in ("config.json", "metrics.jsonl", "summary.json", "losses.png", "videos.gif"):
        assert (run_dir / f).is_file(), f
    assert sorted(p.name for p in (run_dir / "videos").iterdir()) == [
        f"{s:08d}.gif" for s in (0, 2, 4)
    ]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == TINY.steps
    assert summary["counter_clockwise"] + summary["clockwise"] + summary["static"] == (
        pytest.approx(1.0)
    )
    # The final videos rebuilt from the folder are those of its GIF grid, pixel for pixel.
    videos = run_videos(run_dir)  # the GIF's videos
    assert videos.step == TINY.steps
    assert videos.value_range == (-1.0, 1.0)
    with Image.open(run_dir / "videos.gif") as gif:
        frames = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(gif)]
    assert len(frames) == TINY.n_frames
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, media.image_grid(videos.generated[:, k])[..., 0])
    with pytest.raises(ValueError, match="`n` must lie in 1 … 4"):
        run_videos(run_dir, n=5)
    with pytest.raises(FileNotFoundError, match="No checkpoint for `step` 3"):
        run_videos(run_dir, n=1, step=3)

    # Interrupted after the first checkpoint, then resumed: the same metrics and parameters.
    run_experiment(TINY, run_dir=tmp_path / "b", progress=False, stop_after=2)
    assert runs.latest_step(tmp_path / "b") == 2
    run_experiment(TINY, run_dir=tmp_path / "b", progress=False)
    assert _metrics(tmp_path / "b") == _metrics(run_dir)  # floats compared exactly
    target, resumed = (
        _numpy(runs.restore_checkpoint(path, _state_like())) for path in (run_dir, tmp_path / "b")
    )
    assert jax.tree.all(jax.tree.map(np.array_equal, target, resumed))

    with pytest.raises(ValueError, match="differs"):
        run_experiment(dataclasses.replace(TINY, seed=1), run_dir=tmp_path / "b", progress=False)


def _state_like():
    tx = make_transformation(TINY)
    return init_train_state(make_model(TINY).init(key=jr.key(0)), tx, key=jr.key(0))


def _numpy(state):
    return jax.tree.map(np.asarray, state.replace(key=jr.key_data(state.key)))


def test_presets():
    gru = PRESETS["gru"]
    assert (gru.method, gru.lr, gru.b1, gru.b2, gru.loss) == (
        "adam",
        2e-4,
        0.5,
        0.999,
        "non_saturating",
    )
    assert (gru.content_dim, gru.motion_dim, gru.n_frames) == (50, 10, 16)
    assert {c.motion for c in PRESETS.values()} == {
        "gru", "ode", "sde", "cde", "ode_rnn", "ncode_open", "ncode_closed"
    }  # fmt: skip
    seed000 = PRESETS["seed000"]
    assert (seed000.data_mode, seed000.d_steps, seed000.fresh_noise_per_frame) == (
        "faithful",
        2,
        False,
    )
    for config in PRESETS.values():
        for c in (config, tiny(config)):
            model = make_model(c)
            assert model.n_frames == c.n_frames
            assert model.fresh_noise_per_frame == c.fresh_noise_per_frame


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (dict(motion="lstm"), "`motion`"),
        (dict(batch_size=0), "`batch_size`"),
        (dict(batch_size=-3), "`batch_size`"),
        (dict(data_mode="noisy"), "`data_mode`"),
        (dict(size=64), "`size`"),
        (dict(method="rk5"), "`method`"),
        (dict(order="random"), "`order`"),
        (dict(n_frames=1), "`n_frames`"),
        (dict(digit=10), "`digit`"),
        (dict(n_videos=4), "`n_videos`"),
        (dict(lr=0.0), "`lr`"),
        (dict(b1=1.0), "`b1`"),
        (dict(motion="ode"), "`fresh_noise_per_frame`"),
        (dict(motion="gru", motion_solver="rk4"), "`motion_solver`"),
        (dict(motion_noise_dim=3), "`motion_noise_dim`"),
        (dict(method="rk4", d_steps=2), "`d_steps`"),
        (dict(regulariser=0.1), "`regulariser`"),
        (dict(loss="l1"), "`loss`"),
    ],
)
def test_bad_configs_are_named(overrides, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**overrides)


def test_bad_cli_input_is_named(capsys):
    assert main(["no_such_preset"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["gru", "--batch-size", "0"]) == 2
    assert "`batch_size`" in capsys.readouterr().err
    assert main(["ode", "--fresh-noise-per-frame", "true"]) == 2
    assert "`fresh_noise_per_frame`" in capsys.readouterr().err
    assert main(["--list"]) == 0
    assert capsys.readouterr().out.split() == sorted(PRESETS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_tiny(name, tmp_path):
    assert main([name, "--tiny", "--out", str(tmp_path), "--no-progress"]) == 0
    summary = json.loads((next(tmp_path.iterdir()) / "summary.json").read_text())
    assert summary["steps"] == 4
    assert np.isfinite(summary["loss_d_last"])
    assert np.isfinite(summary["loss_g_last"])


@pytest.mark.slow
def test_motion_collapse_benchmark_tiny(tmp_path):
    from benchmarks import motion_collapse

    payload = motion_collapse.main(["--tiny", "--only", "ode"])
    [row] = payload["rows"]
    assert (row["model"], row["mode"], row["noise"]) == ("ode", "clean", "frozen")
    assert payload["per_seed"][0]["steps"] == 4
    assert np.isfinite(payload["per_seed"][0]["frame_quality"])
    assert np.isfinite(payload["per_seed"][0]["real_frame_quality"])
    # The run is in the store, and --table rebuilds its row from there, running nothing.
    table = motion_collapse.main(["--tiny", "--table"])
    [recorded] = table["rows"]
    assert recorded["steps"] == 4
    assert table["figure"].stat().st_size > 0  # directions over training
    # The record carries the curves (every evaluation, fractions summing to 1), so the figure
    # needs no run folder: drawn again from the store alone, with an empty folder of runs.
    curves = payload["per_seed"][0]["directions"]
    assert curves["step"] == [0, 2, 4]
    np.testing.assert_allclose(np.sum([curves[k] for k in motion_collapse.DIRECTIONS], 0), 1)
    figure = motion_collapse._directions_figure(payload["per_seed"], tmp_path, tmp_path / "d.png")
    assert figure.stat().st_size > 0
    assert table["videos"].stat().st_size > 0  # final videos, from the run's checkpoint
    for column in ("collapsed", "ccw", "cw", "wall_s"):
        assert recorded[column] == row[column]
    # README's tables from the store: the run's row in each; its curves give "both ways from".
    by_config, by_run = motion_collapse.main(["--tiny", "--readme", "--steps", "4"])
    assert "| neural ODE | clean | frozen | 1 (CPU) |" in by_config
    [run_row] = [line for line in by_run.splitlines() if line.startswith("| neural ODE |")]
    assert run_row.startswith("| neural ODE | clean | frozen | 0 | CPU |")
    assert run_row.split(" | ")[9] != "—"
    # Time-boxed: stopped at step 2, nothing recorded; the next invocation resumes the run from
    # its checkpoint and records what the uninterrupted run did.
    stopped = motion_collapse.main(["--tiny", "--only", "ode", "--stop-after", "2"])
    assert stopped["rows"] == []
    [resumed] = motion_collapse.main(["--tiny", "--only", "ode"])["per_seed"]
    for column in ("loss_d_last", "loss_g_last", "counter_clockwise", "speed_distance"):
        assert resumed[column] == payload["per_seed"][0][column], column

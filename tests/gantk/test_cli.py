import json

import jax.random as jr
import numpy as np
import pytest

from gantk.__main__ import main
from gantk._experiment import make_flow
from gantk.configs import PRESETS, FlowConfig, kernel_for, tiny


def test_presets_are_complete_and_follow_the_thesis():
    # App. D.3.2: η per regime, ×1000 for sigmoid, MNIST η = 100 and τ = 1000, step counts.
    assert PRESETS["inf_ipm_relu_eight_gaussians"].eta == 1000.0
    assert PRESETS["inf_ipm_relu_eight_gaussians"].steps == 20_000
    assert PRESETS["ipm_relu_density"].eta == 100.0
    assert PRESETS["ipm_relu_density"].lr == 0.01
    assert PRESETS["ipm_reset_relu_ab"].lr == 0.1
    assert PRESETS["ipm_reset_relu_ab"].steps == 10_000
    assert PRESETS["lsgan_relu_ab"].eta == 1.0
    assert PRESETS["inf_lsgan_sigmoid_density"].eta == 1000.0 * 1000.0
    assert PRESETS["lsgan_sigmoid_density"].eta == 1000.0
    mnist = PRESETS["inf_ipm_relu_nobias_mnist"]
    assert (mnist.eta, mnist.tau, mnist.steps, mnist.n_fake) == (100.0, 1000.0, 50_000, 1024)
    assert PRESETS["demo"].steps == 4000
    assert kernel_for("sigmoid").b_std == 0.2
    assert kernel_for("relu_nobias").b_std is None
    assert len(PRESETS) == 1 + 4 * 4 * 2 + 3 * 3 * 4  # inf × 4 archs + finite × 3 (no RBF net)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_steps(name):
    config = tiny(PRESETS[name])
    from gantk import datasets

    x0, y = datasets.PROBLEMS[config.problem](8, 8, key=jr.key(0))
    flow, state = make_flow(config, x0, key=jr.key(1))
    state = flow.step(state, y)
    assert state.x.shape == x0.shape
    assert bool((state.x == state.x).all())  # no NaN


@pytest.mark.parametrize(
    "name", ["demo", "ipm_reset_relu_ab", "lsgan_sigmoid_density", "inf_lsgan_rbf_mnist"]
)
def test_cli_tiny_run_writes_run_folder(name, tmp_path, capsys):
    assert main([name, "--tiny", "--out", str(tmp_path), "--no-progress", "--frames", "2"]) == 0
    out = capsys.readouterr().out
    run_dir = next(tmp_path.iterdir())
    assert str(run_dir.resolve()) in out
    for f in ("config.json", "metrics.jsonl", "final.png", "flow.gif", "metrics.png"):
        assert (run_dir / f).is_file(), f
    if name.endswith("mnist"):
        assert len(list(run_dir.glob("samples_*.png"))) == 3  # steps 0, 10, 20
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 20
    config = json.loads((run_dir / "config.json").read_text())
    assert config["frames"] == 2  # the explicit flag won over the preset


def test_explicit_flags_win_and_resume_is_identical(tmp_path):
    args = ["demo", "--tiny", "--no-progress", "--steps", "30", "--eval-every", "10"]
    assert main([*args, "--run-dir", str(tmp_path / "a")]) == 0
    # Interrupted run: 20 steps, then resumed to 30 from its checkpoint.
    from gantk._experiment import run_experiment

    base = tiny(PRESETS["demo"])
    import dataclasses

    partial = dataclasses.replace(base, steps=30, eval_every=10)
    run_experiment(
        partial,
        run_dir=tmp_path / "b",
        checkpoint_every=1,
        progress=False,
        stop_after=20,
    )
    run_experiment(partial, run_dir=tmp_path / "b", checkpoint_every=1, progress=False)
    a = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in a] == [r["step"] for r in b] == [0, 10, 20, 30]
    assert [r["sinkhorn"] for r in a] == [r["sinkhorn"] for r in b]


def test_bad_cli_input_is_named(capsys):
    assert main(["no_such_preset"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["demo", "--eta", "-1"]) == 2
    assert "`eta`" in capsys.readouterr().err
    with pytest.raises(ValueError, match="`problem`"):
        FlowConfig(problem="cifar")


def test_cli_image_folder_run(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "celeba"
    folder.mkdir()
    for i in range(8):
        Image.new("RGB", (45, 55), (30 * i, 100, 200)).save(folder / f"{i:06d}.jpg")
    argv = ["inf_ipm_rbf_mnist", "--tiny", "--problem", "images", "--data-path", str(folder),
            "--n-fake", "8", "--n-real", "8", "--out", str(tmp_path / "runs"), "--no-progress",
            "--frames", "2"]
    assert main(argv) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    assert json.loads((run_dir / "config.json").read_text())["data_path"] == str(folder)
    with Image.open(run_dir / "final.png") as grid:
        pixels = np.asarray(grid.convert("RGB"))
    assert grid.size[0] > 32
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 2


def test_data_path_is_checked():
    with pytest.raises(ValueError, match="`data_path` must name a folder"):
        FlowConfig(problem="images")
    with pytest.raises(ValueError, match="`data_path` is only read"):
        FlowConfig(problem="ab", data_path="somewhere")

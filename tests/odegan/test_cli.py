import dataclasses
import json

import pytest

from odegan.__main__ import main
from odegan._experiment import run_experiment, snapshot_steps
from odegan.configs import PRESETS, TrainConfig, tiny


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_presets_follow_the_paper_and_notebook():
    mog = PRESETS["mog"]
    assert (mog.method, mog.dt, mog.regulariser, mog.steps) == ("rk4", 0.1, 0.07, 30_000)
    assert (mog.batch_size, mog.latent_dim, mog.hidden) == (512, 32, (25, 25))
    assert (mog.loss, mog.integration, mog.fresh_minibatch) == ("non_saturating", "joint", False)
    toy = PRESETS["toy"]
    assert (toy.problem, toy.dt, toy.epsilon, toy.steps) == ("toy", 0.2, 0.1, 200)
    assert snapshot_steps(mog) == [0, 10_000, 20_000, 30_000]


def _distinct_presets() -> list[str]:
    # cifar: no local copy here. Aliases (`mnist_rk4` is `mnist`) would run the same job twice.
    names = sorted(set(PRESETS) - {"cifar"})
    return [n for i, n in enumerate(names) if PRESETS[n] not in [PRESETS[m] for m in names[:i]]]


@pytest.mark.parametrize("name", _distinct_presets())
def test_every_preset_runs_tiny(name, tmp_path, capsys):
    assert main([name, "--tiny", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    run_dir = next(tmp_path.iterdir())
    assert str(run_dir.resolve()) in out
    pictures = {"mog": ("density.png",), "toy": ("phase.png",)}.get(name, ("quality.png",))
    for f in ("config.json", "metrics.jsonl", "summary.json", "losses.png", *pictures):
        assert (run_dir / f).is_file(), f
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == tiny(PRESETS[name]).steps
    if name == "mog":
        assert 0 <= summary["modes_covered"] <= 16
        assert 0.0 <= summary["high_quality"] <= 1.0


def test_explicit_flags_override_the_preset(tmp_path):
    args = ["toy", "--tiny", "--no-progress", "--method", "euler", "--steps", "6"]
    args += ["--fresh-minibatch", "true"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    config = json.loads((next(tmp_path.iterdir()) / "config.json").read_text())
    assert (config["method"], config["steps"], config["dt"]) == ("euler", 6, 0.2)
    assert config["fresh_minibatch"] is True


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    config = dataclasses.replace(tiny(PRESETS["toy"]), steps=12, checkpoint_every=4)
    run_experiment(config, run_dir=tmp_path / "a", progress=False)
    run_experiment(config, run_dir=tmp_path / "b", progress=False, stop_after=6)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["steps"] == 12
    run_experiment(config, run_dir=tmp_path / "b", progress=False)
    a, b = _metrics(tmp_path / "a"), _metrics(tmp_path / "b")
    drop = lambda r: {k: v for k, v in r.items() if k != "wall_time"}
    assert [r["step"] for r in b] == list(range(13))
    assert [drop(r) for r in a] == [drop(r) for r in b]  # bitwise: floats compared exactly


def test_bad_cli_input_is_named(capsys):
    assert main(["no_such_preset"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["toy", "--dt", "-1"]) == 2
    assert "`dt`" in capsys.readouterr().err
    assert main(["toy", "--method", "simultaneous_gd", "--regulariser", "0.1"]) == 2
    assert "baseline" in capsys.readouterr().err
    with pytest.raises(ValueError, match="`method`"):
        TrainConfig(method="rk5")
    with pytest.raises(ValueError, match="`batch_size`"):
        TrainConfig(batch_size=100)
    with pytest.raises(ValueError, match="`hidden`"):
        TrainConfig(hidden=())
    assert main(["--list"]) == 0
    assert "mog" in capsys.readouterr().out


def test_d_steps_flag(tmp_path):
    args = ["mog", "--tiny", "--no-progress", "--method", "alternating_adam", "--dt", "1e-3",
            "--regulariser", "0"]
    assert main([*args, "--d-steps", "3", "--out", str(tmp_path)]) == 0
    assert json.loads((next(tmp_path.iterdir()) / "config.json").read_text())["d_steps"] == 3
    with pytest.raises(ValueError, match="`d_steps` > 1 needs per-player"):
        TrainConfig(method="rk4", d_steps=2)

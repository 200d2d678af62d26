"""The video benchmark scripts run end to end with --tiny (full --tiny runs are marked slow)."""

import sys

import jax
import numpy as np
import pytest

from benchmarks import motion_speed, ncode_toys


def test_ncode_toys_tiny(tmp_path):
    argv = ["--tiny", "--problems", "reflection", "--models", "N-CODE closed"]
    rows = ncode_toys.main([*argv, "--out", str(tmp_path)])
    assert [r["model"] for r in rows] == ["N-CODE closed"]
    assert all(r["test_mse"] >= 0 for r in rows)
    assert (tmp_path / "reflection_trajectories.png").is_file()


def test_motion_speed_tiny():
    rows = motion_speed.main(["--tiny", "--models", "gru", "--no-breakdown"])
    assert [r["model"] for r in rows] == ["gru"]
    assert rows[0]["fwd_bwd_ms"] > 0


def test_motion_speed_torchdiffeq_needs_a_python_with_torch(tmp_path):
    # Our own interpreter has no torch: the comparison says what is missing.
    argv = ["--tiny", "--models", "gru", "--no-breakdown", "--torchdiffeq"]
    with pytest.raises(RuntimeError, match="needs numpy, torch and torchdiffeq"):
        motion_speed.main([*argv, sys.executable])
    with pytest.raises(ValueError, match="`--torchdiffeq` must name a Python executable"):
        motion_speed.main([*argv, str(tmp_path / "no-python")])


@pytest.mark.slow
def test_ncode_toys_tiny_full(tmp_path):
    rows = ncode_toys.main(["--tiny", "--out", str(tmp_path)])
    assert len(rows) == 6
    assert (tmp_path / "annuli.png").is_file()


@pytest.mark.slow
def test_motion_speed_tiny_full():
    rows = motion_speed.main(["--tiny"])
    # Generators, the SDE on a tree and 6 other ODE settings, CDE and N-CODE with 2 adjoints
    # each, 5 ways of solving the RK4 ODE with ts an argument or a constant.
    assert len(rows) == 7 + 1 + 6 + 6 + 10


def test_motion_collapse_latent_tiny():
    from benchmarks import motion_collapse_latent as latent

    [row] = latent.main(["--tiny"])
    assert row["model"] == "ode"
    # Real paths: every one rotates, in the direction it was drawn with, half each way.
    paths = latent.real_paths(jax.random.key(0), 200)
    s = np.asarray(latent.directions(paths))
    assert set(np.unique(s)) == {-1, 1}
    assert abs(np.mean(s == 1) - 0.5) <= 0.01
    np.testing.assert_allclose(np.linalg.norm(paths, axis=-1), 1.0, rtol=1e-5)


def test_motion_collapse_rejects_seeds_outside_the_grid():
    from benchmarks import motion_collapse

    # Checked before anything runs or any store is touched.
    with pytest.raises(ValueError, match=r"`--only-seeds` must lie in 0 … 2, got \[3\]"):
        motion_collapse.main(["--seeds", "3", "--only-seeds", "0", "3"])


def test_motion_collapse_fresh_noise_of_a_deterministic_flow_is_nothing_to_run():
    from benchmarks import motion_collapse

    with pytest.raises(ValueError, match="Nothing to run: `--noise fresh`"):
        motion_collapse.main(["--only", "ode", "ncode_open", "--noise", "fresh", "--seeds", "1"])


def test_motion_collapse_readme_tables_from_recorded_runs():
    from benchmarks import motion_collapse

    def run(seed, ccw, cw, device="cpu", steps=5000, model="ode"):
        return {"model": model, "mode": "faithful", "noise": "frozen", "seed": seed,
                "steps": steps, "counter_clockwise": ccw, "clockwise": cw,
                "static": 1 - ccw - cw, "speed_distance": 0.1 * (seed + 1),
                "frame_quality": 3000.0 + 100 * seed, "real_frame_quality": 2500.0,
                "device": device}

    records = [run(0, 0.4, 0.5, "NVIDIA H100 80GB HBM3"), run(1, 0.6, 0.05) | {"wall_s": 3000.0},
               run(0, 0.9, 0.0, steps=7)]  # another step count: not this table's
    lines = motion_collapse.readme_table(records).splitlines()
    assert len(lines) == 2 + 22  # header + every configuration of the grid
    ode = next(line for line in lines if line.startswith("| neural ODE | faithful | frozen |"))
    assert ode.split(" | ")[3:] == [
        "2 (CPU, H100)", "0.50 ± 0.10", "0.28 ± 0.23", "0.23 ± 0.13", "1/2", "0.15 ± 0.05",
        "3.05e3 ± 50 (2.50e3)", "50 min (1 of 2) |",
    ]
    gru = next(line for line in lines if line.startswith("| GRU (MoCoGAN) | clean | fresh |"))
    assert gru.endswith("| 0 | — | — | — | — | — | — | — |")  # not run: shown, as dashes
    assert not any(line.startswith("| neural ODE | clean | fresh") for line in lines)

    curves = {"step": [0, 250, 500, 750], "counter_clockwise": [0.3, 0.05, 0.2, 0.4],
              "clockwise": [0.3, 0.3, 0.1, 0.12], "static": [0.4, 0.65, 0.7, 0.48]}
    records[0]["directions"] = curves
    lines = motion_collapse.readme_runs(records).splitlines()
    assert len(lines) == 2 + 2  # header + the two runs at 5 000 steps, seed order
    assert lines[2].split(" | ")[3:] == [
        "0", "H100", "0.40", "0.50", "0.10", "no", "500", "0.10", "3.00e3 (2.50e3)", "— |",
    ]  # both directions >= 10 % from step 500 on (not from 0: ccw dipped to 5 % at 250)
    assert lines[3].split(" | ")[3:] == [
        "1", "CPU", "0.60", "0.05", "0.35", "yes", "—", "0.20", "3.10e3 (2.50e3)", "50 min |",
    ]  # no curves recorded: "—"
    curves["clockwise"][-1] = 0.09
    assert motion_collapse._both_ways_from(curves) is None  # ends one-way: never both ways
    curves["clockwise"][-1], curves["counter_clockwise"][1] = 0.12, 0.1
    assert motion_collapse._both_ways_from(curves) == 0  # at the threshold counts as both


@pytest.mark.slow
def test_seed_batching_tiny():
    from benchmarks import seed_batching

    rows = seed_batching.main(["--tiny", "--repeat", "1"])
    assert [r["seeds"] for r in rows] == [1, 2]
    assert rows[0]["throughput_ratio"] == 1.0
    # Two seeds trained as one vmapped program: each gets its own step, up to rounding.
    assert all(r["max_rel_diff"] < 1e-4 for r in rows)
    assert all(r["step_ms"] > 0 and r["compile_s"] > 0 for r in rows)

"""Every gantk benchmark runs end to end in its --tiny variant and reports sane numbers."""

from benchmarks import flow_speed, lsgan_solvers


def test_flow_speed_tiny():
    rows = flow_speed.main(["--tiny"])
    assert [r["n"] for r in rows] == [64, 128]
    assert all(r["step_ms"] > 0 and r["floor_ms"] > 0 for r in rows)


def test_lsgan_solvers_tiny():
    rows = lsgan_solvers.main(["--tiny"])
    # The ODE on the support and the eigh closed form are the same discriminator.
    assert all(r["max_rel_diff"] < 1e-2 for r in rows)


def test_dirac_fields_tiny(tmp_path):
    from benchmarks import dirac_fields

    summary = dirac_fields.main(["--tiny", "--out", str(tmp_path)])
    assert (tmp_path / "dirac_fields_d2.png").is_file()
    assert (tmp_path / "dirac_fields_d512.png").is_file()
    assert all(s["finite"] for s in summary["d2"].values())


def test_adequacy_tiny(tmp_path):
    from benchmarks import adequacy

    rows = adequacy.main(["--tiny", "--out", str(tmp_path)])
    assert (tmp_path / "adequacy_1d.png").is_file()
    assert len(rows) == 2 * 2  # losses × widths (1-D only)
    assert all(0 < r["rel_err_c"] < 10 for r in rows)


def test_generator_coupling_tiny(tmp_path):
    from benchmarks import generator_coupling

    rows = generator_coupling.main(["--tiny", "--out", str(tmp_path)])
    assert (tmp_path / "generator_coupling.png").is_file()
    assert [r["flow"] for r in rows] == ["uncoupled (T = id)", "generator NTK (Stein)"]
    assert all(r["sinkhorn_final"] == r["sinkhorn_final"] for r in rows)  # finite, not NaN


def test_table_6_1_tiny():
    from benchmarks import table_6_1

    rows = table_6_1.main(["--tiny"])
    assert [(r["data"], r["loss"], r["kernel"]) for r in rows] == [
        ("eight_gaussians", "inf_ipm", "relu"), ("ab", "lsgan", "sigmoid")
    ]
    assert all(r["paper"] > 0 and r["ours_mean"] == r["ours_mean"] for r in rows)


def test_table_6_1_readme_table_from_recorded_runs():
    from benchmarks import table_6_1

    steps = table_6_1.PRESETS["inf_ipm_rbf_density"].steps
    runs = {("inf_ipm_rbf_density", seed, steps): {"value": v}
            for seed, v in enumerate([1e-3, 2e-3, 3e-3])}
    runs["ipm_relu_ab", 0, table_6_1.PRESETS["ipm_relu_ab"].steps] = {"value": 0.5}
    runs["ipm_sigmoid_ab", 0, 7] = {"value": 9.0}  # another step count: not this table's
    lines = table_6_1.readme_table(runs).splitlines()
    assert len(lines) == 2 + 3 * 4  # header + 3 data sets × 4 losses
    density_inf_ipm = lines[2].split(" | ")
    assert density_inf_ipm[2] == "2.00e-3 ± 8.16e-4 / 2.37e-3 (0.84×)"
    ab_ipm = next(line for line in lines if line.startswith("| AB | IPM |")).split(" | ")
    assert ab_ipm[2:] == ["(no finite RBF net)", "0.5 (1 seed) / 2.75e-3 (182×)", "— / 0.0365",
                          "— / 0.0125 |"]


def test_flow_scaling_tiny():
    from benchmarks import flow_scaling

    rows = flow_scaling.main(["--tiny"])
    assert [(r["n"], r["devices"]) for r in rows] == [(64, 1), (64, 2)]
    assert all(r["step_ms"] > 0 and r["peak_rss_mb"] > 0 for r in rows)

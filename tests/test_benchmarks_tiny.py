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


def test_flow_scaling_tiny():
    from benchmarks import flow_scaling

    rows = flow_scaling.main(["--tiny"])
    assert [(r["n"], r["devices"]) for r in rows] == [(64, 1), (64, 2)]
    assert all(r["step_ms"] > 0 and r["peak_rss_mb"] > 0 for r in rows)

from benchmarks import mog_comparison, odegan_step


def test_odegan_step_tiny(capsys):
    payload = odegan_step.main(["--tiny"])
    methods = [row["method"] for row in payload["rows"]]
    assert methods == ["sim_gd", "euler"]
    assert all(row["step_ms"] > 0 for row in payload["rows"])
    assert payload["regulariser_rows"][0]["method"] == "euler_reg"
    assert "x_sim_gd" in capsys.readouterr().out


def test_mog_comparison_tiny(capsys):
    payload = mog_comparison.main(["--tiny"])
    assert [row["config"] for row in payload["rows"]] == list(mog_comparison.TINY)
    for per_seed in payload["per_seed"].values():
        assert len(per_seed["modes_covered"]) == 2
        assert all(0 <= m <= 16 for m in per_seed["modes_covered"])
    assert "budget: 10 steps" in capsys.readouterr().out

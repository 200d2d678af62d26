"""Multi-host: two processes (one CPU device each, gloo) run the flow as one 2-device job."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

ARGS = ["demo", "--tiny", "--steps", "10", "--eval-every", "5", "--frames", "2", "--no-progress"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _gantk(args, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "gantk", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process) -> str:
    out, _ = process.communicate(timeout=240)
    assert process.returncode == 0, out
    return out


def test_two_processes_equal_two_local_devices(tmp_path):
    coordinator = f"localhost:{_free_port()}"
    hosts = [
        _gantk([*ARGS, "--run-dir", str(tmp_path / "multi"), "--distributed", "--coordinator",
                coordinator, "--num-processes", "2", "--process-id", str(i)])
        for i in range(2)
    ]
    outputs = [_finish(p) for p in hosts]
    assert "run folder" in outputs[0]
    assert "run folder" not in outputs[1]  # process 0 alone reports and writes
    local = _finish(_gantk(
        [*ARGS, "--run-dir", str(tmp_path / "local")],
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    ))
    assert "run folder" in local

    def read(name):
        run = tmp_path / name
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return metrics, np.load(run / "snapshots" / "00000010.npy")

    (multi_metrics, multi_x), (local_metrics, local_x) = read("multi"), read("local")
    assert [m["step"] for m in multi_metrics] == [0, 5, 10]
    np.testing.assert_allclose(multi_x, local_x, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        [m["sinkhorn"] for m in multi_metrics], [m["sinkhorn"] for m in local_metrics], rtol=1e-5
    )
    assert (tmp_path / "multi" / "checkpoints" / "10").is_dir()
    assert (tmp_path / "multi" / "flow.gif").is_file()

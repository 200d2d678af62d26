"""ODE-GAN on images: DCGANs, image data, the `mnist` presets, quality metrics in the run folder."""

import dataclasses
import json
import pickle

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from benchmarks import mnist_comparison
from common import classifier
from odegan import datasets
from odegan._experiment import QUALITY, run_experiment
from odegan._models import dcgan
from odegan.configs import PRESETS, TrainConfig, make_problem, tiny


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_dcgan_shapes_and_range(shape):
    players, disc, gen = dcgan(key=jr.key(0), image_shape=shape, latent_dim=8, width=4)
    z = 3.0 * jr.normal(jr.key(1), (5, 8))
    x = jax.jit(gen)(players.g, z)
    assert x.shape == (5, *shape)
    assert x.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(x))) <= 1.0  # tanh output
    assert jax.jit(disc)(players.d, x).shape == (5,)
    # The widths follow `width`: w and 2w (and 4w for 32×32) channels.
    kernels = [leaf.shape for leaf in jax.tree.leaves(players.d) if leaf.ndim == 4]
    assert [k[-1] for k in kernels] == [4, 8] + ([16] if shape[0] == 32 else [])


def test_dcgan_default_sizes():
    # Shapes only: the default 28×28 DCGAN (latent 128, width 64) without initialising it.
    players = jax.eval_shape(lambda key: dcgan(key=key)[0], jr.key(0))
    count = lambda tree: sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))
    assert (count(players.d), count(players.g)) == (138_561, 941_249)


def test_dcgan_bad_arguments():
    with pytest.raises(ValueError, match="`image_shape` must be"):
        dcgan(key=jr.key(0), image_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="`image_shape` must be"):
        dcgan(key=jr.key(0), image_shape=(28, 28, 2))
    with pytest.raises(ValueError, match="`latent_dim` and `width`"):
        dcgan(key=jr.key(0), width=0)


def test_image_data():
    images, labels = datasets.load_images("mnist")
    assert images.dtype == np.uint8
    assert images.shape[1:] == (28, 28, 1)
    assert labels.shape == images.shape[:1]
    batch = datasets.sample_images(datasets.device_images(images), 16, key=jr.key(0))
    assert batch.shape == (16, 28, 28, 1)
    assert batch.dtype == jnp.float32
    assert float(batch.min()) == -1.0
    assert float(batch.max()) <= 1.0
    with pytest.raises(ValueError, match="`images` must be a non-empty uint8"):
        datasets.device_images(np.zeros((3, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match="`name` must be one of"):
        datasets.load_images("svhn")
    with pytest.raises(ValueError, match="`path` must name the folder"):
        datasets.load_images("cifar")


def test_presets():
    mnist = PRESETS["mnist"]
    assert (mnist.problem, mnist.method) == ("mnist", "rk4")
    assert (mnist.dt, mnist.regulariser) == (0.04, 0.01)
    assert (mnist.batch_size, mnist.latent_dim, mnist.loss) == (64, 128, "non_saturating")
    for name, method in [("mnist_euler", "euler"), ("mnist_heun", "heun"), ("mnist_rk4", "rk4")]:
        assert PRESETS[name] == dataclasses.replace(mnist, method=method)
    adam = PRESETS["mnist_adam"]
    assert (adam.method, adam.dt, adam.regulariser) == ("simultaneous_adam", 2e-4, 0.0)
    assert PRESETS["cifar"].data_path == "cifar-10-batches-py"
    with pytest.raises(ValueError, match="`data_path` must name the CIFAR-10"):
        TrainConfig(problem="cifar")
    with pytest.raises(ValueError, match="`width`"):
        TrainConfig(problem="mnist", width=0)


def test_cifar_problem_from_a_local_copy(tmp_path):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(3, 3072), dtype=np.uint8)
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [0, 1, 2]}, f)
    config = tiny(dataclasses.replace(PRESETS["cifar"], data_path=str(tmp_path)))
    problem = make_problem(config, key=jr.key(0))
    players, losses, generator = problem.players, problem.losses, problem.generator
    data, latents = problem.sample_batch(jr.key(1), problem.data)
    assert data.shape == (16, 32, 32, 3)
    assert latents.shape == (16, 16)
    assert float(data.min()) >= -1.0
    assert float(data.max()) <= 1.0
    # Shapes only (the 32×32 networks' forward pass is tested above).
    assert jax.eval_shape(generator, players.g, None, latents).shape == (16, 32, 32, 3)
    loss_d, loss_g = jax.eval_shape(losses, players, (data, latents))
    assert loss_d.shape == loss_g.shape == ()
    # Another configuration of the same data shares the device copy (not one per cached run).
    assert make_problem(dataclasses.replace(config, seed=1), key=jr.key(1)).data is problem.data
    missing = tiny(dataclasses.replace(PRESETS["cifar"], data_path=str(tmp_path / "no")))
    with pytest.raises(FileNotFoundError, match="no"):
        make_problem(missing, key=jr.key(0))


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The benchmark's --tiny run: the tiny `mnist` preset (RK4, λ = 0.01) end to end."""
    out = tmp_path_factory.mktemp("bench")
    return out, mnist_comparison.main(["--tiny", "--out", str(out)])


def test_mnist_preset_runs_tiny_with_quality_metrics(bench):
    out, payload = bench
    labels = [r["config"] for r in payload["rows"]]
    assert labels == [*mnist_comparison.TINY, "real vs real (floor)"]
    run_dir = out / "rk4_λ=0.01_seed0"
    config = json.loads((run_dir / "config.json").read_text())
    assert config == dataclasses.asdict(tiny(PRESETS["mnist"])) | {"hidden": [25, 25]}
    for f in ("losses.png", "quality.png", "quality_floor.json", "summary.json"):
        assert (run_dir / f).is_file(), f
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "00000000.png", "00000002.png", "00000004.png"
    ]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 2, 4]
    assert all(f"{m}_real" in records[0] for m in QUALITY)  # the floor, logged once
    assert not any(f"{m}_real" in r for r in records[1:] for m in QUALITY)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 4
    assert 1.0 <= summary["classifier_score"] <= 10.0
    assert 0.0 <= summary["coverage"] <= 1.0
    # Untrained samples are far from the digits; held-out digits are close to them.
    assert summary["frechet"] > 10 * summary["frechet_real"]
    assert summary["coverage_real"] == 1.0
    assert payload["per_seed"]["rk4 λ=0.01"][0]["frechet"] == summary["frechet"]


def test_classifier_is_trained_once_and_reused(bench):
    out, _ = bench
    cache = out / "classifier"
    info = json.loads((cache / classifier.CACHE_INFO).read_text())
    assert info["settings"]["steps"] == tiny(PRESETS["mnist"]).classifier_steps
    stamp = (cache / classifier.CACHE_PARAMS).stat().st_mtime_ns
    # The benchmark's runs and this one share it: none of them trains another.
    config = dataclasses.replace(tiny(PRESETS["mnist"]), seed=1)
    run_dir = run_experiment(config, run_dir=out / "again", classifier_dir=cache, progress=False,
                             stop_after=0)
    assert (cache / classifier.CACHE_PARAMS).stat().st_mtime_ns == stamp
    assert not (run_dir / classifier.CACHE_PARAMS).exists()
    assert not any((out / "rk4_λ=0.01_seed0").glob("classifier.*"))
    floor = json.loads((run_dir / "quality_floor.json").read_text())
    # Fixed real sets and KID subsets: every run has the same floor.
    assert floor == json.loads((out / "rk4_λ=0.01_seed0" / "quality_floor.json").read_text())

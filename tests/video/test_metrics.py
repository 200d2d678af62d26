import functools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from common.mnist import load_mnist, mnist_subset
from video import (
    DirectionCoverage,
    RotationEstimate,
    _metrics,
    direction_coverage,
    estimate_rotation,
    speed_histogram_distance,
)
from video.datasets import rotating_mnist

# A coarser speed grid than the default (0.1°/frame) keeps the test fast; 0.25°/frame apart.
_estimate = jax.jit(jax.vmap(functools.partial(estimate_rotation, n_speeds=361)))


@pytest.fixture(scope="module")
def batch():
    """32 clean rotating-MNIST videos of 300 digits of all classes, 16 frames 28×28."""
    images, labels = mnist_subset(*load_mnist(), 300, key=jr.key(0))
    it = rotating_mnist(32, key=jr.key(3), images=images, labels=labels)
    return next(it)


def test_recovers_direction_and_speed_on_the_data(batch):
    est = _estimate(batch.videos)
    assert isinstance(est, RotationEstimate)
    assert est.direction.shape == est.speed.shape == est.score.shape == (32,)
    assert est.direction.dtype == jnp.int32
    assert est.speed.dtype == jnp.float32
    np.testing.assert_array_equal(est.direction, batch.labels.direction)
    error = np.degrees(np.abs(np.asarray(est.speed) - np.asarray(batch.labels.speed)))
    assert error.max() < 0.5, error  # degrees per frame; the grid step is 0.25
    assert float(est.score.min()) > 0.9
    # Coverage of the balanced batch is 50/50 and the speeds' histogram matches the labels'.
    cov = direction_coverage(est.direction)
    assert isinstance(cov, DirectionCoverage)
    assert float(cov.counter_clockwise) == float(cov.clockwise) == 0.5
    assert float(speed_histogram_distance(est.speed, batch.labels.speed)) < math.radians(0.5)
    # The per-video function equals its vmap, under jit or not.
    one = estimate_rotation(batch.videos[0, :, :, :, 0], n_speeds=361)
    assert int(one.direction) == int(est.direction[0])
    assert float(one.speed) == pytest.approx(float(est.speed[0]), abs=1e-6)


def test_static_and_blank_videos_are_direction_zero(batch):
    static = jnp.broadcast_to(batch.videos[0, :1], batch.videos[0].shape)
    blank = -jnp.ones_like(batch.videos[0])
    est = _estimate(jnp.stack([static, blank]))
    np.testing.assert_array_equal(est.direction, [0, 0])
    np.testing.assert_allclose(est.speed, 0.0, atol=1e-6)
    cov = direction_coverage(est.direction)
    assert float(cov.counter_clockwise) == float(cov.clockwise) == 0.0


def test_coverage_of_a_collapsed_set():
    cov = jax.jit(direction_coverage)(jnp.ones(10, jnp.int32))
    assert (float(cov.counter_clockwise), float(cov.clockwise)) == (1.0, 0.0)


def test_speed_histogram_distance(getkey):
    speeds = jr.uniform(getkey(), (200,), minval=0.1, maxval=0.4)
    for metric in _metrics.METRICS:
        same = speed_histogram_distance(speeds, speeds, metric=metric)
        assert same.shape == ()
        assert same.dtype == jnp.float32
        assert float(same) == 0.0
        assert float(speed_histogram_distance(speeds, speeds + 0.1, metric=metric)) > 0.0
    # Shifting every speed by 3 bins moves all the mass by 3 bin widths.
    bins, width = 10, 0.1
    centred = (jnp.floor(speeds / width) + 0.5) * width
    w1 = speed_histogram_distance(centred, centred + 3 * width, bins, speed_range=(0.0, 1.0))
    assert float(w1) == pytest.approx(0.3, abs=1e-5)
    tv = speed_histogram_distance(
        centred, centred + 3 * width, bins, speed_range=(0.0, 1.0), metric="total_variation"
    )
    assert float(tv) == pytest.approx(1.0, abs=1e-6)
    # Out-of-range speeds are clipped into the end bins, not dropped.
    assert float(speed_histogram_distance(jnp.array([5.0]), jnp.array([jnp.pi / 4]))) == 0.0


def test_bad_inputs():
    video = jnp.zeros((4, 28, 28, 1))
    cases = [
        (lambda: estimate_rotation(video[0]), r"`video` must have shape \[t, h, w\]"),
        (lambda: estimate_rotation(jnp.zeros((4, 28, 28, 3))), "`video` must have shape"),
        (lambda: estimate_rotation(video[:1]), "t >= 2"),
        (lambda: estimate_rotation(video.astype(jnp.int32)), "`video` must be floating"),
        (lambda: estimate_rotation(video, n_angles=2), "`n_angles` must be an int >= 4"),
        (lambda: estimate_rotation(video, n_speeds=1), "`n_speeds` must be an int >= 3"),
        (lambda: estimate_rotation(video, max_speed=4.0), r"`max_speed` must be in \(0, pi\]"),
        (lambda: estimate_rotation(video, min_speed=1.0), "`min_speed` must be in"),
        (lambda: estimate_rotation(video, value_range=(1.0, 0.0)), "`value_range` must be"),
        (lambda: direction_coverage(jnp.zeros((2, 2))), "`directions` must be a non-empty"),
        (lambda: direction_coverage(jnp.zeros(0)), "`directions` must be a non-empty"),
        (lambda: direction_coverage(jnp.array([1, 2])), "`directions` must hold only"),
        (lambda: speed_histogram_distance(jnp.zeros(0), jnp.ones(3)), "`speeds_a` must be"),
        (lambda: speed_histogram_distance(jnp.ones(3), jnp.ones((3, 1))), "`speeds_b` must be"),
        (lambda: speed_histogram_distance(jnp.ones(3), jnp.ones(3), 0), "`bins` must be"),
        (
            lambda: speed_histogram_distance(jnp.ones(3), jnp.ones(3), speed_range=(1.0, 1.0)),
            "`speed_range` must be",
        ),
        (
            lambda: speed_histogram_distance(jnp.ones(3), jnp.ones(3), metric="kl"),
            "`metric` must be one of",
        ),
    ]
    for fn, match in cases:
        with pytest.raises(ValueError, match=match):
            fn()


def test_faithful_mode_with_its_value_range():
    images, labels = mnist_subset(*load_mnist(), 300, key=jr.key(1))
    it = rotating_mnist(8, key=jr.key(4), images=images, labels=labels, mode="faithful",
                        n_videos=8, n_frames=8)
    batch = next(it)
    estimate = jax.vmap(functools.partial(estimate_rotation, n_speeds=361, value_range=(0.0, 1.0)))
    est = estimate(batch.videos)
    np.testing.assert_array_equal(est.direction, batch.labels.direction)
    error = np.degrees(np.abs(np.asarray(est.speed) - np.asarray(batch.labels.speed)))
    assert error.max() < 1.0, error


def test_digit_frame_scorer_ranks_real_frames_above_junk(tmp_path):
    from video import digit_frame_scorer
    from video.datasets import rotating_mnist

    score = digit_frame_scorer(tmp_path, key=jr.key(0), steps=30, n_reference=300)
    frames = next(rotating_mnist(16, key=jr.key(1), n_frames=8)).videos.reshape(-1, 28, 28, 1)
    noise = jr.uniform(jr.key(2), frames.shape, minval=-1.0, maxval=1.0)
    blank = -1.0 + 0.01 * jr.normal(jr.key(3), frames.shape)
    real = score(frames)
    assert 0 <= real < score(noise)
    assert real < score(blank)
    assert (tmp_path / "classifier.npz").is_file()  # trained once, cached for the next scorer
    # Frames in [0, 1] (faithful data) are mapped to the classifier's [-1, 1].
    in_unit = digit_frame_scorer(tmp_path, key=jr.key(0), steps=30, n_reference=300,
                                 value_range=(0.0, 1.0))
    np.testing.assert_allclose(in_unit((frames + 1) / 2), real, rtol=1e-4)

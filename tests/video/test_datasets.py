import itertools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from common.mnist import load_mnist, mnist_subset
from video.datasets import rotate, rotating_mnist, rotating_video


@pytest.fixture(scope="module")
def digits():
    """300 MNIST digits of all classes (uint8 [n, 28, 28]) and their labels."""
    return mnist_subset(*load_mnist(), 300, key=jr.key(0))


def _batches(digits, n, batch_size=8, **kwargs):
    images, labels = digits
    it = rotating_mnist(batch_size, images=images, labels=labels, n_frames=6, **kwargs)
    return list(itertools.islice(it, n))


def test_rotate_direction_and_identity():
    image = jnp.zeros((5, 5)).at[2, 4].set(1.0)  # right of the centre
    np.testing.assert_allclose(rotate(image, 0.0), image, atol=1e-6)
    # +90° is counter-clockwise on screen: the pixel moves above the centre (row 0).
    np.testing.assert_allclose(rotate(image, math.pi / 2), jnp.zeros((5, 5)).at[0, 2].set(1.0),
                               atol=1e-5)
    np.testing.assert_allclose(rotate(image, math.pi / 2, interpolation="bicubic"),
                               jnp.zeros((5, 5)).at[0, 2].set(1.0), atol=1e-5)


def test_determinism_and_shapes(digits, key):
    a, b = _batches(digits, 2, key=key), _batches(digits, 2, key=key)
    for x, y in zip(a, b, strict=True):
        assert jax.tree.all(jax.tree.map(np.array_equal, x, y))
    assert a[0].videos.shape == (8, 6, 28, 28, 1)
    assert a[0].videos.dtype == jnp.float32
    assert not np.array_equal(a[0].videos, a[1].videos)
    other = _batches(digits, 1, key=jr.fold_in(key, 1))[0]
    assert not np.array_equal(a[0].videos, other.videos)
    assert _batches(digits, 1, key=key, size=32)[0].videos.shape == (8, 6, 32, 32, 1)


def test_labels_and_value_range_clean(digits, key):
    batches = _batches(digits, 3, key=key)
    for batch in batches:
        labels = batch.labels
        assert np.sum(labels.direction == 1) == np.sum(labels.direction == -1) == 4
        sweep = labels.speed * 5
        assert np.all((sweep >= math.pi / 2 - 1e-5) & (sweep <= 2 * math.pi + 1e-5))
        assert np.all((labels.start_angle >= 0) & (labels.start_angle < 2 * math.pi))
        v = batch.videos
        assert float(v.min()) == -1.0
        assert float(v.max()) <= 1.0
        assert float(v.max()) > 0.5
        # Zero background: the corners stay at -1 in every frame.
        np.testing.assert_array_equal(v[:, :, 0, 0, 0], -1.0)
    assert np.all(np.isin(batches[0].labels.digit, np.asarray(digits[1])))


def test_single_digit_class(digits, key):
    batch = _batches(digits, 1, key=key, digit=7)[0]
    np.testing.assert_array_equal(batch.labels.digit, 7)
    with pytest.raises(ValueError, match="`digit` must be in 0..9"):
        _batches(digits, 1, key=key, digit=12)


def test_frames_rotated_back_match_the_first(digits, key):
    batch = _batches(digits, 1, key=key)[0]
    labels = batch.labels
    for i in range(4):
        frames = batch.videos[i, :, :, :, 0]
        back = [rotate((f + 1) / 2, -labels.direction[i] * labels.speed[i] * k) * 2 - 1
                for k, f in enumerate(frames)]
        first = frames[0]
        errors = [float(jnp.mean(jnp.abs(b - first))) for b in back[1:]]
        moved = [float(jnp.mean(jnp.abs(f - first))) for f in frames[1:]]
        # Two bilinear interpolations blur a little; not rotating back is far worse.
        assert max(errors) < 0.06, errors
        assert min(m / e for m, e in zip(moved, errors, strict=True)) > 2, (moved, errors)


def test_faithful_mode(digits, key):
    images, labels = digits
    it = rotating_mnist(10, images=images, labels=labels, key=key, mode="faithful", n_videos=40,
                        n_frames=6)
    epoch = list(itertools.islice(it, 4))
    batch = epoch[0]
    np.testing.assert_array_equal(batch.labels.digit, 3)
    v = batch.videos
    assert float(v.min()) == 0.0
    assert float(v.max()) == 1.0
    np.testing.assert_allclose(v.min(axis=(2, 3, 4)), 0.0)
    np.testing.assert_allclose(v.max(axis=(2, 3, 4)), 1.0, rtol=1e-6)
    # The cubic kernel's overshoot, min–max normalised, leaves a grey, flickering background.
    corners = v[:, :, 0, 0, 0]
    assert float(corners.min()) > 0.0
    assert float(jnp.std(corners[0])) > 0.0
    # A fixed set of 40 videos, balanced in direction, visited once per epoch.
    directions = np.concatenate([np.asarray(b.labels.direction) for b in epoch])
    assert np.sum(directions == 1) == np.sum(directions == -1) == 20
    starts = np.concatenate([np.asarray(b.labels.start_angle) for b in epoch])
    assert len(np.unique(starts)) == 40
    next_epoch = np.concatenate([np.asarray(next(it).labels.start_angle) for _ in range(4)])
    assert set(next_epoch) == set(starts)
    assert not np.array_equal(next_epoch, starts)


def test_bad_inputs(digits, key):
    images, labels = digits
    kwargs = dict(key=key, images=images, labels=labels)
    cases = [
        (dict(mode="noisy"), "`mode` must be one of"),
        (dict(size=64), "`size` must be 28 or 32"),
        (dict(n_frames=1), "`n_frames` must be an int >= 2"),
        (dict(min_sweep=3.0, max_sweep=1.0), "`min_sweep` and `max_sweep`"),
        (dict(n_videos=4), r"`batch_size` \(8\) must not exceed `n_videos`"),
    ]
    for extra, match in cases:
        with pytest.raises(ValueError, match=match):
            rotating_mnist(8, **kwargs, **extra)
    with pytest.raises(ValueError, match="`batch_size` must be a positive int"):
        rotating_mnist(0, **kwargs)
    with pytest.raises(ValueError, match="`labels` must be given"):
        rotating_mnist(8, key=key, images=images)
    with pytest.raises(ValueError, match="`interpolation` must be"):
        rotate(jnp.zeros((4, 4)), 0.0, interpolation="nearest")
    with pytest.raises(ValueError, match="`image` must have shape"):
        rotate(jnp.zeros((4, 4, 1)), 0.0)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        rotating_video(jnp.zeros((4, 4)), 0.0, 1, 0.1, mode="noisy")

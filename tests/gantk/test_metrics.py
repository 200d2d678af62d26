"""Sinkhorn divergence (ott-jax, geomloss semantics) and MMD."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gantk._kernels import MLPKernel, RBFKernel
from gantk.metrics import mmd, sinkhorn_divergence

KERNELS = {
    "rbf": RBFKernel(),
    "relu": MLPKernel("relu"),
    "relu_nobias": MLPKernel("relu", b_std=None),
    "sigmoid": MLPKernel("sigmoid", b_std=0.2),
}


def _eight_gaussians(key, n):
    # Thesis D.3.1: means evenly on the circle of radius 5, std 0.5.
    k_mode, k_noise = jr.split(key)
    angles = 2 * jnp.pi * jnp.arange(8) / 8
    means = 5.0 * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
    return means[jr.randint(k_mode, (n,), 0, 8)] + 0.5 * jr.normal(k_noise, (n, 2))


def test_shapes_and_dtypes():
    x, y = jnp.zeros((7, 3)), jnp.zeros((5, 3))
    out = jax.eval_shape(sinkhorn_divergence, x, y)
    assert (out.shape, out.dtype) == ((), jnp.float32)
    out = jax.eval_shape(lambda a, b: mmd(RBFKernel(), a, b), x, y)
    assert (out.shape, out.dtype) == ((), jnp.float32)


def test_sinkhorn_identity_and_translation():
    # With blur = 1e-3, S ≈ ½ W₂²: zero between a cloud and itself, ½‖v‖² for a translate.
    x = jr.normal(jr.key(0), (500, 2))
    v = jnp.array([[0.3, -0.7]])
    assert abs(float(sinkhorn_divergence(x, x))) < 1e-6
    s = float(sinkhorn_divergence(x, x + v))
    np.testing.assert_allclose(s, 0.5 * float(jnp.sum(v**2)), rtol=1e-3)


def test_sinkhorn_eight_gaussians_and_jit_equals_eager():
    # Starting divergence of the thesis' 8-Gaussians experiment (≈ 7.29 with geomloss): 500
    # targets against 500 N(0, I) particles, averaged over 3 draws as in the thesis (one draw
    # varies by ±3 %). The un-jitted function (ott's loops still compile themselves) must agree
    # with the jitted one.
    values = []
    for seed in range(3):
        k_target, k_init = jr.split(jr.key(seed))
        y, x = _eight_gaussians(k_target, 500), jr.normal(k_init, (500, 2))
        values.append(float(sinkhorn_divergence(x, y)))
    np.testing.assert_allclose(np.mean(values), 7.29, rtol=0.05)
    np.testing.assert_allclose(float(sinkhorn_divergence.__wrapped__(x, y)), values[-1], rtol=1e-5)


@pytest.mark.parametrize("name", list(KERNELS))
def test_mmd_identities(name, getkey):
    # Equal cloud sizes: the three calls share one compiled function.
    kernel = KERNELS[name]
    x, y = jr.normal(getkey(), (32, 2)), jr.normal(getkey(), (32, 2)) + 1.0
    assert float(mmd(kernel, x, x)) == 0.0
    xy, yx = float(mmd(kernel, x, y)), float(mmd(kernel, y, x))
    assert xy > 0.0
    # MMD² is a difference of O(1) kernel means: float32 rounding sets an absolute floor.
    np.testing.assert_allclose(xy, yx, rtol=1e-4, atol=1e-5)


def test_mmd_block_size(getkey):
    kernel = KERNELS["relu"]
    x, y = jr.normal(getkey(), (20, 2)), jr.normal(getkey(), (20, 2)) + 1.0
    assert float(mmd(kernel, x, x, block_size=8)) == 0.0
    np.testing.assert_allclose(
        float(mmd(kernel, x, y, block_size=8)), float(mmd(kernel, x, y)), rtol=1e-4, atol=1e-5
    )


def test_mmd_rbf_against_numpy(getkey):
    x = np.asarray(jr.normal(getkey(), (7, 3)), dtype=np.float64)
    y = np.asarray(jr.normal(getkey(), (5, 3)), dtype=np.float64) + 1.0

    def k(a, b):
        # exp(−‖a − b‖² / (2d)), d = 3: the thesis' RBF baseline.
        return np.exp(-np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1) / (2 * 3))

    expected = k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()
    np.testing.assert_allclose(float(mmd(RBFKernel(), x, y)), expected, rtol=1e-5)
    np.testing.assert_allclose(float(mmd(RBFKernel(), x, y, block_size=3)), expected, rtol=1e-5)


def test_mmd_jit_equals_eager(getkey):
    x, y = jr.normal(getkey(), (9, 2)), jr.normal(getkey(), (6, 2))
    with jax.disable_jit():
        eager = float(mmd(RBFKernel(), x, y, block_size=4))
    np.testing.assert_allclose(float(mmd(RBFKernel(), x, y, block_size=4)), eager, rtol=1e-5)


def test_mmd_vmap_equals_loop(getkey):
    xs, ys = jr.normal(getkey(), (3, 8, 2)), jr.normal(getkey(), (3, 5, 2))
    batched = jax.vmap(lambda x, y: mmd(RBFKernel(), x, y))(xs, ys)
    looped = jnp.stack([mmd(RBFKernel(), x, y) for x, y in zip(xs, ys, strict=True)])
    np.testing.assert_allclose(batched, looped, rtol=1e-5, atol=1e-7)


def test_errors():
    x = jnp.zeros((4, 2))
    for fn in (sinkhorn_divergence, lambda a, b: mmd(RBFKernel(), a, b)):
        with pytest.raises(ValueError, match="`x` and `y` must have the same dimension"):
            fn(x, jnp.zeros((4, 3)))
        with pytest.raises(ValueError, match="`x` must be a non-empty point cloud"):
            fn(jnp.zeros((0, 2)), x)
        with pytest.raises(ValueError, match="`y` must be a non-empty point cloud"):
            fn(x, jnp.zeros((0, 2)))
        with pytest.raises(ValueError, match="`y` must be a non-empty point cloud"):
            fn(x, jnp.zeros(2))
    with pytest.raises(ValueError, match="`blur` must be > 0"):
        sinkhorn_divergence(x, x, blur=0.0)
    with pytest.raises(ValueError, match="`scaling` must be in"):
        sinkhorn_divergence(x, x, scaling=1.0)


def test_sinkhorn_of_diverged_clouds_is_nan_not_minus_inf():
    x = jnp.array([[1e8, -1e8], [2e8, 0.0]])
    y = jnp.zeros((3, 2))
    value = float(sinkhorn_divergence(x, y))
    assert np.isnan(value) or value > 0

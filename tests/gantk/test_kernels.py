import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gantk import MLPKernel, RBFKernel, StaxKernel, gram, gram_matvec
from gantk._nt import stax

KERNELS = {
    "relu": MLPKernel("relu"),
    "relu_nobias": MLPKernel("relu", b_std=None),
    "sigmoid": MLPKernel("sigmoid", b_std=0.2),
    "sine": MLPKernel("sine"),
    "gelu": MLPKernel("gelu"),
    "leaky_relu": MLPKernel("leaky_relu", negative_slope=0.2),
    "relu_nngp": MLPKernel("relu", kind="nngp"),
    "rbf": RBFKernel(),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_shape_dtype_and_symmetry(name, getkey):
    k = KERNELS[name]
    x = jax.random.normal(getkey(), (7, 3))
    y = jax.random.normal(getkey(), (5, 3))
    kxy = k(x, y)
    assert kxy.shape == (7, 5)
    assert kxy.dtype == jnp.float32
    np.testing.assert_allclose(kxy, k(y, x).T, rtol=1e-5, atol=1e-6)
    assert jax.eval_shape(k, x, y).shape == (7, 5)


@settings(max_examples=8, deadline=None)
@given(
    name=st.sampled_from(sorted(KERNELS)),
    seed=st.integers(0, 2**16),
    n=st.integers(2, 12),
    d=st.integers(1, 4),
    scale=st.floats(0.1, 5.0),
)
def test_gram_is_psd(name, seed, n, d, scale):
    x = scale * jax.random.normal(jax.random.key(seed), (n, d))
    k = np.asarray(KERNELS[name](x, x), np.float64)
    np.testing.assert_allclose(k, k.T, rtol=1e-4, atol=1e-5)
    eig = np.linalg.eigvalsh((k + k.T) / 2)
    assert eig.min() >= -1e-4 * max(1.0, eig.max())


def test_rbf_matches_formula(getkey):
    x = jax.random.normal(getkey(), (6, 3))
    y = jax.random.normal(getkey(), (4, 3))
    expected = np.exp(-((np.asarray(x)[:, None] - np.asarray(y)[None]) ** 2).sum(-1) / (2 * 3))
    np.testing.assert_allclose(RBFKernel()(x, y), expected, rtol=1e-5)
    expected = np.exp(-((np.asarray(x)[:, None] - np.asarray(y)[None]) ** 2).sum(-1) / (2 * 0.25))
    np.testing.assert_allclose(RBFKernel(bandwidth=0.5)(x, y), expected, rtol=1e-4)


def test_relu_ntk_depth_one_closed_form(getkey, enable_x64):
    # One hidden ReLU layer, no bias, w_std = 1: the arc-cosine formula of Cho & Saul (2009)
    # gives NNGP = |x||y|/(2π d)(sin θ + (π − θ) cos θ) and NTK = NNGP + <x,y>/d (π − θ)/(2π).
    x = jax.random.normal(getkey(), (5, 3), jnp.float64)
    y = jax.random.normal(getkey(), (4, 3), jnp.float64)
    k = MLPKernel("relu", depth=1, b_std=None)
    nx, ny = np.linalg.norm(x, axis=1)[:, None], np.linalg.norm(y, axis=1)[None]
    dot = np.asarray(x @ y.T)
    theta = np.arccos(np.clip(dot / (nx * ny), -1, 1))
    nngp = nx * ny / (2 * np.pi * 3) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))
    ntk = nngp + dot / 3 * (np.pi - theta) / (2 * np.pi)
    np.testing.assert_allclose(k(x, y), ntk, rtol=1e-9)
    nngp_kernel = MLPKernel("relu", depth=1, b_std=None, kind="nngp")
    np.testing.assert_allclose(nngp_kernel(x, y), nngp, rtol=1e-9)


def test_stax_kernel_wraps_user_kernel_fn(getkey):
    _, _, kernel_fn = stax.serial(stax.Dense(1, 1.0, 1.0), stax.Erf(), stax.Dense(1, 1.0, 0.0))
    x = jax.random.normal(getkey(), (4, 2))
    np.testing.assert_allclose(StaxKernel(kernel_fn)(x, x), kernel_fn(x, x, "ntk"))
    np.testing.assert_allclose(StaxKernel(kernel_fn, "nngp")(x, x), kernel_fn(x, x, "nngp"))


@pytest.mark.parametrize("block_size", [1, 3, 7, 100])
def test_gram_blocks_match_full(block_size, getkey):
    k = MLPKernel()
    x = jax.random.normal(getkey(), (10, 2))
    y = jax.random.normal(getkey(), (6, 2))
    np.testing.assert_allclose(gram(k, x, y, block_size=block_size), k(x, y), rtol=1e-6)
    g_full = jax.grad(lambda x: jnp.sum(k(x, y) ** 2))(x)
    g_block = jax.grad(lambda x: jnp.sum(gram(k, x, y, block_size=block_size) ** 2))(x)
    np.testing.assert_allclose(g_block, g_full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("block_size", [None, 3, 7])
def test_gram_matvec_matches_the_full_product_and_its_gradient(block_size, getkey):
    k = MLPKernel()
    x = jax.random.normal(getkey(), (10, 2))
    y = jax.random.normal(getkey(), (6, 2))
    for v in (jax.random.normal(getkey(), (6,)), jax.random.normal(getkey(), (6, 3))):
        np.testing.assert_allclose(gram_matvec(k, x, y, v, block_size=block_size), k(x, y) @ v,
                                   rtol=1e-5, atol=1e-6)
        g_full = jax.grad(lambda x, v=v: jnp.sum(jnp.sin(k(x, y) @ v)))(x)
        g_block = jax.grad(
            lambda x, v=v: jnp.sum(jnp.sin(gram_matvec(k, x, y, v, block_size=block_size)))
        )(x)
        np.testing.assert_allclose(g_block, g_full, rtol=1e-4, atol=1e-5)


def test_gram_matvec_never_holds_the_whole_gram(getkey):
    # 20 000 × 1 000 entries take 80 MB (`gram(...) @ v`: 108 MB of scratch for the gradient);
    # in blocks of 500 rows the gradient's scratch (XLA's buffer assignment) is 28 MB here.
    x = jax.random.normal(getkey(), (20_000, 2))
    y = jax.random.normal(getkey(), (1_000, 2))
    v = jnp.ones(1_000)
    loss = lambda x: jnp.sum(gram_matvec(MLPKernel(), x, y, v, block_size=500))
    temp = jax.jit(jax.grad(loss)).lower(x).compile().memory_analysis().temp_size_in_bytes
    assert temp < 50e6, temp


@pytest.mark.slow
def test_gram_blocks_bound_memory_at_scale(getkey):
    # 10^5 × 10^3 in blocks of 2 000 rows: the NTK intermediates never exceed a few hundred MB.
    x = jax.random.normal(getkey(), (100_000, 2))
    y = jax.random.normal(getkey(), (1_000, 2))
    out = jax.jit(lambda x, y: gram(MLPKernel(), x, y, block_size=2_000))(x, y)
    assert out.shape == (100_000, 1_000)
    assert bool(jnp.all(jnp.isfinite(out)))


@pytest.mark.parametrize("name", ["relu", "relu_nobias", "sigmoid", "rbf", "gelu"])
def test_gradients_finite_at_coincident_points_and_origin(name, getkey):
    k = KERNELS[name]
    y = jax.random.normal(getkey(), (4, 2))
    points = jnp.concatenate([y[:2], jnp.zeros((1, 2))])  # on targets, and at the origin
    g = jax.jacobian(lambda z: k(z, y).sum(axis=1))(points)
    assert bool(jnp.all(jnp.isfinite(g))), g


def test_bad_inputs_are_named():
    k = MLPKernel()
    with pytest.raises(ValueError, match="same dimension"):
        k(jnp.zeros((3, 2)), jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="`x1`"):
        k(jnp.zeros(3), jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="`activation`"):
        MLPKernel("tanh")
    with pytest.raises(ValueError, match="`depth`"):
        MLPKernel(depth=0)
    with pytest.raises(ValueError, match="`kind`"):
        MLPKernel(kind="cntk")
    with pytest.raises(ValueError, match="`bandwidth`"):
        RBFKernel(bandwidth=-1.0)
    with pytest.raises(ValueError, match="`block_size`"):
        gram(k, jnp.zeros((3, 2)), jnp.zeros((3, 2)), block_size=0)


def test_equal_kernels_do_not_retrace():
    g = jax.jit(lambda k, x: k(x, x), static_argnums=0)
    x = jnp.ones((2, 2))
    g(MLPKernel(), x)
    size = g._cache_size()
    g(MLPKernel(), x)  # an equal, freshly built kernel hits the cache
    assert g._cache_size() == size

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gantk import (
    KernelDiscriminator,
    MLPKernel,
    RBFKernel,
    discriminator,
    gram,
    ipm_discriminator,
    lsgan_discriminator,
    ode_discriminator,
)
from gantk._discriminators import _support_gram
from gantk._losses import LOSSES, discriminator_objective


def _clouds(getkey, n=12, m=9, d=2, dtype=jnp.float32):
    x = jax.random.normal(getkey(), (n, d), dtype)
    y = jax.random.normal(getkey(), (m, d), dtype) + 1.5
    z = 2 * jax.random.normal(getkey(), (7, d), dtype)
    return x, y, z


def test_ipm_is_tau_times_mmd_witness(getkey):
    x, y, z = _clouds(getkey)
    k = MLPKernel()
    witness = k(z, x).mean(1) - k(z, y).mean(1)
    np.testing.assert_allclose(ipm_discriminator(k, x, y, tau=2.5)(z), 2.5 * witness, rtol=1e-5)


@pytest.mark.parametrize("kernel", [MLPKernel(), RBFKernel(), MLPKernel("sigmoid", b_std=0.2)])
@pytest.mark.parametrize("loss", ["ipm", "lsgan"])
def test_closed_forms_equal_general_ode_path(kernel, loss, getkey, enable_x64):
    x, y, z = _clouds(getkey, dtype=jnp.float64)
    f0 = ipm_discriminator(kernel, x[::2], y[::2], tau=0.3)  # a non-zero previous discriminator
    for init in (None, f0):
        closed = discriminator(kernel, x, y, loss=loss, tau=0.8, f0=init, method="closed_form")
        ode = ode_discriminator(
            kernel,
            x,
            y,
            loss=loss,
            tau=0.8,
            f0=init,
            stepsize_controller=__import__("diffrax").PIDController(rtol=1e-10, atol=1e-10),
        )
        np.testing.assert_allclose(closed(z), ode(z), rtol=1e-7, atol=1e-8)
        np.testing.assert_allclose(closed(x), ode(x), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("block_size", [None, 5])
def test_support_gram_is_the_gram_of_the_support(block_size, getkey, enable_x64):
    # Assembled from k(x, x), k(x, y), k(y, y): the full Gram matrix, exactly symmetric. (float64,
    # rtol ~ √eps: the NTKs' arc-cosine is ill-conditioned on the diagonal, so the same entry
    # computed in blocks of another shape rounds 4e-5 apart in float32, 5e-9 in float64.)
    x, y, _ = _clouds(getkey, dtype=jnp.float64)
    support = jnp.concatenate([x, y])
    for kernel in (MLPKernel(), MLPKernel("sigmoid", b_std=None), RBFKernel()):
        k = _support_gram(kernel, support, x.shape[0], block_size)
        np.testing.assert_allclose(k, gram(kernel, support, support), rtol=1e-7)
        np.testing.assert_array_equal(k, k.T)


def test_lsgan_converges_to_rho_on_the_support(getkey, enable_x64):
    # Prop. 5: with k positive definite on the support, f_t → ρ = −1 on particles, +1 on targets.
    x, y, _ = _clouds(getkey, n=6, m=5, dtype=jnp.float64)
    f = lsgan_discriminator(RBFKernel(bandwidth=0.3), x, y, tau=1e5)
    np.testing.assert_allclose(f(x), -1.0, atol=1e-6)
    np.testing.assert_allclose(f(y), 1.0, atol=1e-6)


@pytest.mark.parametrize("loss", ["vanilla", "nonsaturating", "hinge", "lsgan", "ipm"])
def test_ode_discriminator_increases_its_objective(loss, getkey):
    # The discriminator follows a gradient *ascent* flow: L(f_t) is non-decreasing in t.
    x, y, _ = _clouds(getkey)
    k = MLPKernel()
    values = [
        float(discriminator_objective(LOSSES[loss], f(x), f(y)))
        for f in (ode_discriminator(k, x, y, loss=loss, tau=t) for t in (0.0, 0.1, 0.5, 1.0))
    ]
    assert all(b >= a - 1e-6 for a, b in zip(values, values[1:], strict=False)), values
    assert values[-1] > values[0]


def test_witness_gradient_matches_finite_differences(getkey, enable_x64):
    x, y, z = _clouds(getkey, dtype=jnp.float64)
    f = ipm_discriminator(MLPKernel(), x, y)
    g = jax.grad(lambda p: f(p[None])[0])
    v = jax.random.normal(getkey(), (2,), jnp.float64)
    for p in z:
        eps = 1e-6
        fd = (f((p + eps * v)[None])[0] - f((p - eps * v)[None])[0]) / (2 * eps)
        np.testing.assert_allclose(jnp.dot(g(p), v), fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    "kernel", [MLPKernel(), MLPKernel("relu", b_std=None), MLPKernel("sigmoid", b_std=0.2)]
)
@pytest.mark.parametrize("loss", ["ipm", "lsgan"])
def test_generator_gradient_finite_on_targets_and_at_origin(kernel, loss, getkey):
    x, y, _ = _clouds(getkey)
    x = x.at[0].set(y[0]).at[1].set(0.0)  # a particle on a target, one at the origin
    f = discriminator(kernel, x, y, loss=loss)
    g = jax.grad(lambda z: jnp.sum(f(z)))(x)
    assert bool(jnp.all(jnp.isfinite(g))), g


def test_discriminator_is_a_pytree_under_jit(getkey):
    x, y, z = _clouds(getkey)
    k = MLPKernel()

    @jax.jit
    def field(x, y, z):
        f = lsgan_discriminator(k, x, y, tau=0.5)
        return jax.vmap(jax.grad(lambda p: f(p[None])[0]))(z)

    f = lsgan_discriminator(k, x, y, tau=0.5)
    eager = jnp.stack([jax.grad(lambda p: f(p[None])[0])(p) for p in z])
    np.testing.assert_allclose(field(x, y, z), eager, rtol=1e-4, atol=1e-5)
    leaves = jax.tree_util.tree_leaves(f)
    assert len(leaves) == 2  # support and coefficients; the kernel is static


def test_user_callable_f0(getkey):
    x, y, z = _clouds(getkey)
    k = MLPKernel()
    f0 = lambda p: jnp.sum(p, axis=1)
    f = ipm_discriminator(k, x, y, f0=f0)
    np.testing.assert_allclose(f(z), ipm_discriminator(k, x, y)(z) + z.sum(1), rtol=1e-5)
    assert isinstance(f, KernelDiscriminator)


def test_bad_inputs_are_named(getkey):
    x, y, _ = _clouds(getkey)
    k = MLPKernel()
    with pytest.raises(ValueError, match="same dimension"):
        ipm_discriminator(k, x, jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="`x`"):
        lsgan_discriminator(k, jnp.zeros((0, 2)), y)
    with pytest.raises(ValueError, match="`y`"):
        ipm_discriminator(k, x, jnp.zeros((0, 2)))
    with pytest.raises(ValueError, match="`tau`"):
        ipm_discriminator(k, x, y, tau=-1.0)
    with pytest.raises(ValueError, match="`loss`"):
        ode_discriminator(k, x, y, loss="wasserstein")
    with pytest.raises(ValueError, match="`method`"):
        discriminator(k, x, y, loss="ipm", method="eigh")
    with pytest.raises(ValueError, match="closed_form"):
        discriminator(k, x, y, loss="hinge", method="closed_form")
    with pytest.raises(TypeError, match="`f0`"):
        ipm_discriminator(k, x, y, f0=3.0)

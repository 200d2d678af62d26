import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gantk import MLPKernel, RBFKernel, dirac_gan_field, plane_field

KERNELS = [
    RBFKernel(), MLPKernel("relu"), MLPKernel("relu", b_std=None), MLPKernel("sigmoid", b_std=0.2)
]


@pytest.mark.parametrize("kernel", KERNELS, ids=["rbf", "relu", "relu_nobias", "sigmoid"])
@pytest.mark.parametrize("loss", ["ipm", "lsgan"])
def test_512d_field_lies_in_the_plane_and_equals_its_projection(kernel, loss, getkey):
    d = 512
    coords = jnp.array([[0.3, 0.8], [-1.2, 0.5], [2.0, -1.5]])
    # A random plane of R^512: the full gradient at x = a e1 + b e2 must stay in the plane.
    q, _ = jnp.linalg.qr(jax.random.normal(getkey(), (d, 2)))
    basis = q.T
    in_plane = plane_field(kernel, loss, coords, dim=d)  # axis-aligned plane
    rotated = plane_field(kernel, loss, coords, dim=d, basis=basis)
    np.testing.assert_allclose(rotated, in_plane, rtol=2e-3, atol=1e-6)
    for c in coords:
        full = dirac_gan_field(kernel, loss, c @ basis, basis[0])
        outside = full - (basis @ full) @ basis
        assert float(jnp.linalg.norm(outside)) <= 1e-3 * float(jnp.linalg.norm(full)) + 1e-7


def test_ipm_dirac_field_is_witness_gradient(getkey):
    k = MLPKernel()
    x, y = jnp.array([0.4, -0.7]), jnp.array([1.0, 0.0])
    expected = jax.grad(lambda z: k(z[None], x[None])[0, 0] - k(z[None], y[None])[0, 0])(x)
    np.testing.assert_allclose(dirac_gan_field(k, "ipm", x, y), expected, rtol=1e-5)
    np.testing.assert_allclose(plane_field(k, "ipm", x[None])[0], expected, rtol=1e-5)


def test_ipm_field_points_the_generated_point_towards_the_target():
    # -∇ for a point between the origin and y = e1, on the segment: it moves towards y.
    grads = plane_field(RBFKernel(), "ipm", jnp.array([[0.2, 0.0], [-0.5, 0.0]]))
    assert bool(jnp.all(-grads[:, 0] > 0))


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="`coords`"):
        plane_field(RBFKernel(), "ipm", jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="`dim`"):
        plane_field(RBFKernel(), "ipm", jnp.zeros((3, 2)), dim=1)
    with pytest.raises(ValueError, match="`basis`"):
        plane_field(RBFKernel(), "ipm", jnp.zeros((3, 2)), dim=4, basis=jnp.eye(2, 3))
    with pytest.raises(ValueError, match="`x` and `y`"):
        dirac_gan_field(RBFKernel(), "ipm", jnp.zeros(2), jnp.zeros(3))

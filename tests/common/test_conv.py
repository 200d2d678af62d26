import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from common.conv import Conv, ConvTranspose, phase_conv_transpose, space_to_depth_conv
from tests.helpers import tree_allclose

# (input [n, h, w, c], features, kernel, strides): the models' layers (4×4, stride 2, at 28, 14,
# 7 and 32-pixel maps, odd sizes included) and other shapes the rewrite must get right.
CASES = [
    ((2, 28, 28, 1), 4, (4, 4), (2, 2)),
    ((2, 7, 7, 8), 3, (4, 4), (2, 2)),
    ((2, 9, 6, 3), 5, (6, 2), (3, 2)),
    ((1, 5, 5, 2), 2, (3, 3), (1, 1)),
]


@pytest.mark.parametrize(("shape", "features", "kernel_size", "strides"), CASES)
def test_rewrites_equal_lax(shape, features, kernel_size, strides, getkey, enable_x64):
    x = jr.normal(getkey(), shape, jnp.float64)
    kernel = jr.normal(getkey(), (*kernel_size, shape[-1], features), jnp.float64)
    dn = ("NHWC", "HWIO", "NHWC")
    conv = lambda x, k: jax.lax.conv_general_dilated(x, k, strides, "SAME", dimension_numbers=dn)
    transpose = lambda x, k: jax.lax.conv_transpose(x, k, strides, "SAME", dimension_numbers=dn)
    pairs = [(phase_conv_transpose, transpose)]
    if all(k % s == 0 for k, s in zip(kernel_size, strides, strict=True)):
        pairs.append((space_to_depth_conv, conv))
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x, kernel, strides), theirs(x, kernel), rtol=1e-12,
                                   atol=1e-12)
        # Gradients too: the cotangent of a sine keeps every output position in play.
        loss = lambda x, k, f: jnp.sum(jnp.sin(f(x, k)))
        grads = [jax.grad(loss, argnums=(0, 1))(x, kernel, f)
                 for f in (lambda x, k, ours=ours: ours(x, k, strides), theirs)]
        assert tree_allclose(grads[0], grads[1], rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize(
    ("ours", "flax_module"), [(Conv, nn.Conv), (ConvTranspose, nn.ConvTranspose)]
)
def test_modules_are_drop_ins_for_flax(ours, flax_module, getkey):
    # Same parameter tree from the same key, same outputs (the CPU rewrite), inside a parent module.
    x = jr.normal(getkey(), (3, 14, 14, 5))

    def net(layer):
        class Net(nn.Module):
            @nn.compact
            def __call__(self, x):
                x = nn.relu(layer(6, (4, 4), strides=(2, 2))(x))
                return layer(7, (4, 4), strides=(2, 2))(x)

        return Net()

    key = getkey()
    p_ours, p_flax = net(ours).init(key, x), net(flax_module).init(key, x)
    assert tree_allclose(p_ours, p_flax, rtol=0, atol=0)
    np.testing.assert_allclose(net(ours).apply(p_ours, x), net(flax_module).apply(p_flax, x),
                               rtol=1e-5, atol=1e-5)


def test_bad_arguments_are_named(getkey):
    x = jnp.zeros((1, 8, 8, 1))
    with pytest.raises(ValueError, match="`kernel_size` .* must be a multiple of `strides`"):
        Conv(2, (3, 3), strides=(2, 2)).init(getkey(), x)
    with pytest.raises(ValueError, match="`strides` must be two positive ints"):
        ConvTranspose(2, (4, 4), strides=(0, 2)).init(getkey(), x)

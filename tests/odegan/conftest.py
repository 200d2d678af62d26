"""A tiny smooth MLP GAN shared by the odegan tests."""

import jax.numpy as jnp
import jax.random as jr
import pytest

from odegan import Players


def _discriminator(theta, x):
    hidden = jnp.tanh(x @ theta["w1"] + theta["b1"][None, :])
    return hidden @ theta["w2"]


def _generator(phi, z):
    hidden = jnp.tanh(z @ phi["v1"] + phi["c1"][None, :])
    return hidden @ phi["v2"] + phi["c2"][None, :]


def make_tiny_gan(key, dtype=jnp.float32):
    """Returns (players, data, latents, discriminator, generator); 2-D data, 3-D latents."""
    k = jr.split(key, 7)
    normal = lambda k, shape, scale=1.0: scale * jr.normal(k, shape, dtype)
    theta = {"w1": normal(k[0], (2, 5)), "b1": normal(k[1], (5,), 0.1), "w2": normal(k[2], (5,))}
    phi = {
        "v1": normal(k[3], (3, 5)),
        "c1": jnp.zeros(5, dtype),
        "v2": normal(k[4], (5, 2)),
        "c2": jnp.zeros(2, dtype),
    }
    data = normal(k[5], (8, 2)) + 1.0
    latents = normal(k[6], (8, 3))
    return Players(d=theta, g=phi), data, latents, _discriminator, _generator


@pytest.fixture
def tiny_gan(key):
    """A tiny float32 MLP GAN: (players, data, latents, discriminator, generator)."""
    return make_tiny_gan(key)

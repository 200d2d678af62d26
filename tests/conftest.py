"""Shared test configuration: strict numerics, keys, x64, multi-device runs in a subprocess."""

import jax
import jax.random as jr
import pytest

# Silent rank broadcasting is the classic MMD bug ([n, 1, d] - [m, d]); make it an error everywhere.
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """Returns a function that yields a fresh, deterministic PRNG key at each call."""
    key = jr.key(0)

    def _getkey():
        nonlocal key
        key, sub = jr.split(key)
        return sub

    return _getkey


@pytest.fixture
def key():
    """One deterministic PRNG key."""
    return jr.key(1234)


@pytest.fixture
def enable_x64():
    """Runs the test in float64, restoring float32 afterwards."""
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", False)

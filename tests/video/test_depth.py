"""Continuous depth: the ODE block is the residual stack; its adjoints trade memory as claimed."""

import diffrax as dfx
import flax.linen as nn
import jax
import jax.numpy as jnp
import jax.random as jr
import pytest

from benchmarks import continuous_depth
from tests.helpers import tree_allclose
from video import ConvODEField, ode_block, residual_stack


@pytest.fixture(scope="module")
def setup():
    field = ConvODEField(4)
    h = jr.normal(jr.key(0), (2, 6, 6, 4))
    return field, field.init(jr.key(1), 0.0, h), h


def _loss_grad(fn):
    return jax.jit(jax.grad(lambda p, h: jnp.mean(fn(p, h) ** 2)))


def test_euler_block_is_the_residual_stack(setup):
    field, params, h = setup
    stack = lambda p, h: residual_stack(field, p, h, 5)
    block = lambda p, h: ode_block(field, p, h, 5, solver="euler")
    assert tree_allclose(stack(params, h), block(params, h), rtol=1e-6, atol=1e-6)
    # The checkpointed adjoint differentiates the same discretisation exactly.
    assert tree_allclose(
        _loss_grad(stack)(params, h), _loss_grad(block)(params, h), rtol=1e-5, atol=1e-7
    )


def test_time_reaches_the_field(setup):
    field, params, h = setup
    # f depends on t through the appended channel: the stack is not a t-independent map.
    f0, f1 = field.apply(params, 0.0, h), field.apply(params, 1.0, h)
    assert float(jnp.max(jnp.abs(f0 - f1))) > 1e-3


class _Scale(nn.Module):
    """f(t, h) = a·t·h, whose flow from 0 to 1 is h·exp(a/2)."""

    @nn.compact
    def __call__(self, t, h):
        return self.param("a", lambda key: jnp.array(0.8)) * t * h


def test_rk4_block_matches_the_exact_flow():
    field, h = _Scale(), jnp.ones(3)
    params = field.init(jr.key(0), 0.0, h)
    exact = jnp.exp(0.4)
    err = [float(jnp.abs(ode_block(field, params, h, n, solver="rk4")[0] - exact)) for n in (2, 4)]
    assert err[0] < 1e-4
    assert err[1] < err[0] / 8  # fourth order: halving the step divides the error by ~16


def test_backsolve_gradient_converges_with_steps(setup):
    field, params, h = setup
    errs = []
    for n in (2, 8):
        exact = _loss_grad(lambda p, h, n=n: ode_block(field, p, h, n))(params, h)
        back = _loss_grad(
            lambda p, h, n=n: ode_block(field, p, h, n, adjoint=dfx.BacksolveAdjoint())
        )(params, h)
        errs.append(continuous_depth._rel_err(back, exact))
    assert errs[1] < errs[0] / 2  # the backward solve's error is O(1/N) with Euler


def test_memory_grows_for_the_stack_and_stays_flat_for_backsolve(setup):
    field, params, h = setup

    def temp(fn):
        return _loss_grad(fn).lower(params, h).compile().memory_analysis().temp_size_in_bytes

    stack = [temp(lambda p, h, n=n: residual_stack(field, p, h, n)) for n in (4, 32)]
    back = [
        temp(lambda p, h, n=n: ode_block(field, p, h, n, adjoint=dfx.BacksolveAdjoint()))
        for n in (4, 32)
    ]
    assert stack[1] > 4 * stack[0]
    assert back[1] == back[0]


@pytest.mark.parametrize("n_steps", [0, -1, 2.0])
def test_bad_steps_rejected(setup, n_steps):
    field, params, h = setup
    with pytest.raises(ValueError, match="n_steps"):
        residual_stack(field, params, h, n_steps)
    with pytest.raises(ValueError, match="n_steps"):
        ode_block(field, params, h, n_steps)


def test_benchmark_tiny():
    rows, slopes = continuous_depth.main(["--tiny"])
    assert {r["method"] for r in rows} == set(continuous_depth.METHODS)
    assert all(r["grad_rel_err"] < 1e-4 for r in rows if r["method"] != "backsolve")
    assert slopes["backsolve"] == pytest.approx(0.0, abs=1e-6)

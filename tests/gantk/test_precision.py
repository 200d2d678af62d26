"""Every matrix product of a gantk computation is traced at full float32 precision.

On TensorFloat-32 GPUs the default precision stalls the flows (H100: Sinkhorn 6.6e-3 instead of
6.1e-8); on a CPU the two agree, so this checks the traced programs themselves.
"""

import jax
import jax.random as jr
import pytest

from gantk import FiniteWidthFlow, InfiniteWidthFlow, MLPKernel, RBFKernel, mlp_discriminator
from gantk.metrics import mmd, sinkhorn_divergence


def _dot_precisions(jaxpr) -> list:
    """The `precision` of every dot_general in a jaxpr and its sub-jaxprs (scan, map, cond...)."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(eqn.params["precision"])
        for value in eqn.params.values():
            for sub in value if isinstance(value, list | tuple) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    found += _dot_precisions(inner)
    return found


X = jr.normal(jr.key(0), (12, 2))
Y = jr.normal(jr.key(1), (10, 2)) + 1.0
FLOWS = {
    "inf_ipm": InfiniteWidthFlow(MLPKernel(), "ipm", block_size=5),
    "inf_lsgan_ode": InfiniteWidthFlow(MLPKernel(), "lsgan", method="ode"),
    "inf_lsgan_closed_form": InfiniteWidthFlow(RBFKernel(), "lsgan"),
    "finite": FiniteWidthFlow(mlp_discriminator(MLPKernel(), width=8), "ipm"),
}


@pytest.mark.parametrize("name", list(FLOWS))
def test_flow_steps_use_highest_precision(name):
    flow = FLOWS[name]
    state = flow.init(X, key=jr.key(2)) if name == "finite" else flow.init(X)
    precisions = _dot_precisions(jax.make_jaxpr(flow.step)(state, Y).jaxpr)
    assert precisions  # the step does multiply matrices
    assert all(p == (jax.lax.Precision.HIGHEST,) * 2 for p in precisions), set(precisions)


def test_metrics_use_highest_precision():
    for fn in (sinkhorn_divergence, lambda x, y: mmd(RBFKernel(), x, y)):
        precisions = _dot_precisions(jax.make_jaxpr(fn)(X, Y).jaxpr)
        assert precisions
        assert all(p == (jax.lax.Precision.HIGHEST,) * 2 for p in precisions), set(precisions)


def test_default_precision_is_left_alone_outside_gantk():
    precisions = _dot_precisions(jax.make_jaxpr(lambda a: a @ a.T)(X).jaxpr)
    assert precisions == [None]

"""The one place that imports neural-tangents.

neural-tangents 0.6.5 declares tensorflow and tf2jax as dependencies and imports its
`experimental` subpackage (which imports TensorFlow) from its top-level `__init__`. We use only
`stax` and the analytic kernels, so we never install TensorFlow: an empty module is registered
under `neural_tangents.experimental` before the import. No other module of ours may import
neural_tangents; they import `nt` and `stax` from here.
"""

import sys
import types
import warnings

_EXPERIMENTAL = "neural_tangents.experimental"
if _EXPERIMENTAL not in sys.modules:
    _stub = types.ModuleType(_EXPERIMENTAL)
    _stub.__doc__ = "Empty stand-in registered by gantk._nt: the real module imports TensorFlow."
    sys.modules[_EXPERIMENTAL] = _stub

try:
    # neural-tangents 0.6.5 is its last release; it touches jax APIs deprecated in 0.5 at import
    # time. Those warnings are not actionable for our users, so keep them out of their logs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import neural_tangents as nt
        from neural_tangents import stax
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "gantk needs neural-tangents 0.6.5, installed WITHOUT its dependencies so that TensorFlow "
        "is not pulled in: `pip install --no-deps neural-tangents==0.6.5` (the Makefile does this)."
    ) from err

__all__ = ["nt", "stax"]

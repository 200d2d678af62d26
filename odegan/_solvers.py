r"""Explicit Runge--Kutta solvers by name: diffrax's, plus classic RK4 and Fehlberg RK2(3).

diffrax 0.7 has no classic fourth-order Runge--Kutta method and no Fehlberg pair, the two
integrators of the ODE-GAN paper (https://arxiv.org/abs/2010.15040, §4.1 and §5.2.2). Both are
defined here once, as a `diffrax.ButcherTableau` on `diffrax.AbstractERK`, so they work with
`diffrax.diffeqsolve` and with `odegan.ode_step` alike.
"""

from collections.abc import Callable
from typing import ClassVar

import diffrax as dfx
import numpy as np

# Classic RK4 has no embedded lower-order method on its own four stages: the only weights of
# order 3 on c = (0, ½, ½, 1) are RK4's own. We pair it with the midpoint method (weights
# (0, 1, 0, 0), order 2), so `b_error` = b_RK4 − b_midpoint estimates the local error of the
# midpoint solution, O(h³): a free diagnostic, not a sharp error bound for RK4 (O(h⁵)).
_rk4_tableau = dfx.ButcherTableau(
    a_lower=(np.array([1 / 2]), np.array([0.0, 1 / 2]), np.array([0.0, 0.0, 1.0])),
    b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    b_error=np.array([1 / 6, 1 / 3 - 1, 1 / 3, 1 / 6]),
    c=np.array([1 / 2, 1 / 2, 1.0]),
)


class RK4(dfx.AbstractERK):
    r"""The classic fourth-order Runge--Kutta method ("the" Runge--Kutta method).

    .. math::
        k_1 = f(y_0),\; k_2 = f(y_0 + \tfrac h2 k_1),\; k_3 = f(y_0 + \tfrac h2 k_2),\;
        k_4 = f(y_0 + h k_3),\quad y_1 = y_0 + \tfrac h6(k_1 + 2k_2 + 2k_3 + k_4).

    4 stages, order 4. Its error estimate is :math:`y_1^{\mathrm{RK4}} - y_1^{\mathrm{midpoint}}`
    (order 2, local error :math:`O(h^3)`), since RK4 has no embedded third-order partner.
    Uses third-order Hermite interpolation for dense output.
    """

    tableau: ClassVar[dfx.ButcherTableau] = _rk4_tableau
    interpolation_cls: ClassVar[Callable[..., dfx.ThirdOrderHermitePolynomialInterpolation]] = (
        dfx.ThirdOrderHermitePolynomialInterpolation.from_k
    )

    def order(self, terms):
        """Order of the method: 4."""
        del terms
        return 4

    def error_order(self, terms):
        """Local order of the error estimate: 3 (that of the embedded midpoint method)."""
        del terms
        return 3


# Fehlberg's RK2(3) (Fehlberg 1969; Hairer, Nørsett & Wanner, Solving ODEs I, §II.4--5): a
# second-order solution whose last stage is the next step's first (FSAL) and an embedded
# third-order solution b̂ = (533/2106, 0, 800/1053, −1/78). The error is b − b̂, the estimate of the
# propagated second-order solution's local error, O(h³): the paper's "3rd vs 2nd order" estimate.
_fehlberg2_b_sol = np.array([214 / 891, 1 / 33, 650 / 891, 0.0])
_fehlberg2_b_hat = np.array([533 / 2106, 0.0, 800 / 1053, -1 / 78])
_fehlberg2_tableau = dfx.ButcherTableau(
    a_lower=(
        np.array([1 / 4]),
        np.array([-189 / 800, 729 / 800]),
        np.array([214 / 891, 1 / 33, 650 / 891]),
    ),
    b_sol=_fehlberg2_b_sol,
    b_error=_fehlberg2_b_sol - _fehlberg2_b_hat,
    c=np.array([1 / 4, 27 / 40, 1.0]),
)


class Fehlberg2(dfx.AbstractERK):
    """Fehlberg's RK2(3) pair: a second-order solution with an embedded third-order estimate.

    4 stages (3 per step after the first, by FSAL), order 2. Uses third-order Hermite
    interpolation for dense output.
    """

    tableau: ClassVar[dfx.ButcherTableau] = _fehlberg2_tableau
    interpolation_cls: ClassVar[Callable[..., dfx.ThirdOrderHermitePolynomialInterpolation]] = (
        dfx.ThirdOrderHermitePolynomialInterpolation.from_k
    )

    def order(self, terms):
        """Order of the method: 2."""
        del terms
        return 2

    def error_order(self, terms):
        """Local order of the error estimate: 3 (the error of the propagated second-order step)."""
        del terms
        return 3


# Name -> explicit Runge--Kutta solver class. Euler is diffrax's (it has no tableau: diffrax's
# `ButcherTableau` needs at least two stages); every other entry is a tableau on `AbstractERK`.
SOLVERS: dict[str, type[dfx.AbstractSolver]] = {
    "euler": dfx.Euler,
    "heun": dfx.Heun,
    "midpoint": dfx.Midpoint,
    "ralston": dfx.Ralston,
    "fehlberg2": Fehlberg2,
    "bosh3": dfx.Bosh3,
    "rk4": RK4,
    "tsit5": dfx.Tsit5,
    "dopri5": dfx.Dopri5,
}


def get_solver(solver: str | dfx.AbstractSolver) -> dfx.AbstractSolver:
    """Returns a solver instance from its name in `SOLVERS`, or `solver` itself.

    Args:
        solver: a name in `SOLVERS` (e.g. `"rk4"`), or a diffrax solver instance; `ode_step`
            accepts `diffrax.Euler()` and any `diffrax.AbstractERK`.

    Returns:
        A diffrax solver instance.

    Raises:
        ValueError: if `solver` is a string that is not a key of `SOLVERS`.

    Examples:
        >>> get_solver("rk4").order(None)
        4
    """
    if isinstance(solver, str):
        if solver not in SOLVERS:
            raise ValueError(f"`solver` must be one of {list(SOLVERS)}, got {solver!r}.")
        return SOLVERS[solver]()
    return solver

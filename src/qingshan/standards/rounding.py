"""Exact decimal handling of concentrations.

Concentrations arrive as binary floats, but the standards treat them as decimal numbers:
``2.2`` mg/m³ is 2.2, not 2.2000000000000002. The functions here move values onto an exact
integer grid of micro-units (10⁻⁶ of the value's unit), where every later step (rounding per
GB/T 8170, the IAQI interpolation and its ceiling) is exact in float64 arithmetic.

References
----------
GB/T 8170—2008 数值修约规则与极限数值的表示和判定, §3.3: round half to even
("四舍六入五成双") on the value's decimal form; a 5 followed by non-zero digits rounds up.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

MICRO = 1_000_000.0
"""Grid of the exact representation: 1 micro-unit = 10⁻⁶ of the value's unit."""


def to_micro(values: ArrayLike) -> NDArray[np.float64]:
    """Return ``values`` as integer counts of micro-units (float64 holding integers).

    A decimal with at most six decimals maps to its exact count; NaN stays NaN. Counts stay
    exact integers up to 2⁵³ micro-units (9 × 10⁹ units), far above every breakpoint and
    limit; larger values are only ever compared with those, never interpolated.

    Parameters
    ----------
    values : array-like
        Concentrations. [unit of the indicator]
    """
    array = np.asarray(values, dtype=np.float64)
    micro = np.multiply(array, MICRO, out=np.empty_like(array))
    return np.rint(micro, out=micro)


def from_micro(micro: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of :func:`to_micro`: back to the value's unit (nearest float)."""
    return micro / MICRO


def round_micro_half_even(micro: NDArray[np.float64], decimals: int) -> NDArray[np.float64]:
    """Round micro-unit counts to ``decimals`` decimals per GB/T 8170 (half to even).

    The division by the step is exact to the half (a tie ``k + 0.5`` is representable), and
    ``numpy.rint`` rounds ties to even, which is GB/T 8170 §3.3.

    Returns micro-unit counts on the coarser grid (a new array).
    """
    if not 0 <= decimals <= 6:
        raise ValueError(f"decimals must be between 0 and 6, got {decimals}")
    step = 10.0 ** (6 - decimals)
    rounded = np.divide(micro, step, out=np.empty_like(micro))
    np.rint(rounded, out=rounded)
    return np.multiply(rounded, step, out=rounded)


def round_half_even(values: ArrayLike, decimals: int) -> NDArray[np.float64]:
    """Round decimal values per GB/T 8170 §3.3 (四舍六入五成双) to ``decimals`` decimals.

    >>> round_half_even([0.5, 1.5, 2.5, 2.51, 0.05], 0).tolist()
    [0.0, 2.0, 2.0, 3.0, 0.0]
    """
    return from_micro(round_micro_half_even(to_micro(values), decimals))

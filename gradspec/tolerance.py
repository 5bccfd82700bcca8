"""Tolerances per dtype, overridable per case and per adapter.

float64 is tight enough (rtol 1e-9) that a float64 item computed through
float32 (relative error ~6e-8) fails; the oracle's own error is ~1e-12 at
first order.  Nested finite differences lose about three digits an order,
so oracle-derived higher-order expectations get a floor.
"""
from __future__ import annotations

from .case import Tolerance

DEFAULT: dict[str, Tolerance] = {
    "float16": Tolerance(1e-2, 1e-3),
    "bfloat16": Tolerance(4e-2, 1e-2),
    "float32": Tolerance(2e-5, 1e-6),
    "float64": Tolerance(1e-9, 1e-10),
    "complex64": Tolerance(2e-5, 1e-6),
    "complex128": Tolerance(1e-9, 1e-10),
    "int32": Tolerance(0.0, 0.0),
    "int64": Tolerance(0.0, 0.0),
    "bool": Tolerance(0.0, 0.0),
}

# Floor for expectations taken from nested finite differences, by derivative order.
ORACLE_ORDER_FLOOR: dict[int, Tolerance] = {
    2: Tolerance(1e-6, 1e-7),
    3: Tolerance(1e-4, 1e-5),
}


def for_item(dtype: str, case_override: Tolerance | None = None,
             adapter_override: Tolerance | None = None) -> Tolerance:
    """The adapter's override wins over the case's, which wins over the default."""
    return adapter_override or case_override or DEFAULT[dtype]


def with_order_floor(tol: Tolerance, order: int) -> Tolerance:
    floor = ORACLE_ORDER_FLOOR.get(min(order, 3))
    if floor is None:
        return tol
    return Tolerance(max(tol.rtol, floor.rtol), max(tol.atol, floor.atol))

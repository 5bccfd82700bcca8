"""The NumPy finite-difference oracle as an adapter.

It checks the documented and analytic values of every case against float64
finite differences.  Where a case's expected value comes from the oracle
itself, its cell is reported as REFERENCE, never PASS.
"""
from __future__ import annotations

from typing import ClassVar

from gradspec.oracle import FiniteDifferenceOracle


class NumpyOracleAdapter(FiniteDifferenceOracle):
    name: ClassVar[str] = "numpy"
    reference: ClassVar[bool] = True

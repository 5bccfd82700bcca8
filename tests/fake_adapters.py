"""Framework-free adapters for the harness's own tests: the oracle, made to
misbehave in one precise way each."""
from __future__ import annotations

import os
import time
from typing import Any, ClassVar

import numpy as np

from gradspec.oracle import FiniteDifferenceOracle
from gradspec.outcomes import Value


class Scaled(FiniteDifferenceOracle):
    """Every gradient multiplied by 1.01."""

    name: ClassVar[str] = "scaled"

    def outcome(self, native: Any) -> Any:
        out = super().outcome(native)
        return Value(out.array * np.asarray(1.01, dtype=out.array.dtype)) if isinstance(out, Value) else out


class Crashing(FiniteDifferenceOracle):
    """Kills its process on the case 'demo.crash', like a segfaulting framework."""

    name: ClassVar[str] = "crashing"

    def execute(self, program: Any, ctx: Any) -> Any:
        if program.case_id == "demo.crash":
            os._exit(3)
        return super().execute(program, ctx)


class Sleepy(FiniteDifferenceOracle):
    """Hangs on the case 'demo.slow'."""

    name: ClassVar[str] = "sleepy"

    def execute(self, program: Any, ctx: Any) -> Any:
        if program.case_id == "demo.slow":
            time.sleep(60)
        return super().execute(program, ctx)


class CannotConstruct(FiniteDifferenceOracle):
    name: ClassVar[str] = "cannot_construct"

    def __init__(self) -> None:
        raise RuntimeError("no licence server")

"""Framework-free adapters for the harness's own tests: the oracle, made to
misbehave in one precise way each."""
from __future__ import annotations

import os
import threading
import time
from typing import Any, ClassVar, Mapping

import numpy as np

from gradspec import numpy_ops
from gradspec.modes import COMPILED, EAGER
from gradspec.oracle import FiniteDifferenceOracle
from gradspec.outcomes import Value


class Scaled(FiniteDifferenceOracle):
    """Every gradient multiplied by 1.01."""

    name: ClassVar[str] = "scaled"

    def outcome(self, native: Any) -> Any:
        out = super().outcome(native)
        return Value(out.array * np.asarray(1.01, dtype=out.array.dtype)) if isinstance(out, Value) else out


class CompiledSignError(FiniteDifferenceOracle):
    """Runs in an eager and a compiled mode (both by default); the compiled mode
    evaluates sigmoid(-x) for sigmoid(x), so sigmoid's derivative has the wrong
    sign there and nowhere else."""

    name: ClassVar[str] = "modal"
    modes: ClassVar[Mapping[str, str]] = {EAGER: "the oracle", COMPILED: "the oracle with sigmoid's sign flipped"}
    default_modes: ClassVar[tuple[str, ...]] = (EAGER, COMPILED)

    def execute(self, program: Any, ctx: Any) -> Any:
        flipped = {**numpy_ops.VOCABULARY, "sigmoid": lambda x: numpy_ops.sigmoid(-x)}
        self.ops = flipped if ctx.mode == COMPILED else numpy_ops.VOCABULARY
        return super().execute(program, ctx)


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


class Aborting(FiniteDifferenceOracle):
    """Kills its process with SIGABRT on 'demo.crash' (under -n 0: the whole run)."""

    name: ClassVar[str] = "aborting"

    def execute(self, program: Any, ctx: Any) -> Any:
        if program.case_id == "demo.crash":
            os.abort()
        return super().execute(program, ctx)


class Interrupted(FiniteDifferenceOracle):
    """The user presses Ctrl-C while it runs 'demo.crash'."""

    name: ClassVar[str] = "interrupted"

    def execute(self, program: Any, ctx: Any) -> Any:
        if program.case_id == "demo.crash":
            raise KeyboardInterrupt
        return super().execute(program, ctx)


class ThreadLeaving(FiniteDifferenceOracle):
    """Starts a thread that never ends (not a daemon): the process could never exit."""

    name: ClassVar[str] = "thread_leaving"

    def __init__(self) -> None:
        super().__init__()
        threading.Thread(target=time.sleep, args=(3600,), name="forgotten", daemon=False).start()


class CrashWording(FiniteDifferenceOracle):
    """Fails outside any item with a message that reads like a crash, and is not one."""

    name: ClassVar[str] = "crash_wording"

    @classmethod
    def unavailable(cls) -> str | None:
        raise RuntimeError("worker 'gw0' crashed while running, says this message")

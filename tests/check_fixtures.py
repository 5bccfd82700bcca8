"""Adapters with one declaration problem each, for `gradspec check` (tests/test_check.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from docs.tape_adapter_template import MinitapeAdapter, build_ops
from gradspec.adapter import LazyOps
from gradspec.outcomes import Answer, Value

HERE = Path(__file__).resolve().parent


class UnknownCapability(MinitapeAdapter):
    name: ClassVar[str] = "unknown_capability"
    capabilities: ClassVar[frozenset[str]] = MinitapeAdapter.capabilities | {"teleportation"}


class ClaimedAndNotApplicable(MinitapeAdapter):
    name: ClassVar[str] = "claimed_and_not_applicable"
    capabilities: ClassVar[frozenset[str]] = MinitapeAdapter.capabilities | {"variables"}


class BadDtype(MinitapeAdapter):
    name: ClassVar[str] = "bad_dtype"
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float96")


class UnknownOps(MinitapeAdapter):
    name: ClassVar[str] = "unknown_ops"
    ops: ClassVar[Any] = LazyOps(lambda: {**build_ops(), "expp": lambda x: x, "tanh": "not a function"})


def _broken_build() -> dict[str, Any]:
    raise ImportError("mylib.ops is missing")


class OpsBuildFails(MinitapeAdapter):
    name: ClassVar[str] = "ops_build_fails"
    ops: ClassVar[Any] = LazyOps(_broken_build)


class WrongGradient(MinitapeAdapter):
    """Doubles every gradient value: the smoke cases must FAIL."""

    name: ClassVar[str] = "wrong_gradient"

    def answer(self, program: Any, named: Any, r: Any, ctx: Any) -> Answer:
        got = super().answer(program, named, r, ctx)
        return Value(got.array * 2) if isinstance(got, Value) else got


class BadExpectations(MinitapeAdapter):
    name: ClassVar[str] = "bad_expectations"

    @classmethod
    def expectations_path(cls) -> Path:
        return HERE / "check_fixtures_bad.expect.toml"


class MalformedExpectations(MinitapeAdapter):
    name: ClassVar[str] = "malformed_expectations"

    @classmethod
    def expectations_path(cls) -> Path:
        return HERE / "check_fixtures_malformed.expect.toml"


class FailsToConstruct(MinitapeAdapter):
    name: ClassVar[str] = "fails_to_construct"

    def __init__(self) -> None:
        raise RuntimeError("no licence server")


class NotInstalled(MinitapeAdapter):
    name: ClassVar[str] = "not_installed"
    module: ClassVar[str | None] = "mylib_that_is_not_installed"


class NotAnAdapter:
    name = "not_an_adapter"

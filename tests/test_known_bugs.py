"""A known bug covers exactly the failure it describes: a different failure of the same
cell is FAIL, and a cell that no longer fails is XPASS, so a stale entry surfaces."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from gradspec.case import case
from gradspec.engine import run_item
from gradspec.expect import value
from gradspec.expectation_file import Declaration, Entry, KnownBug
from gradspec.inputs import var
from gradspec.oracle import FiniteDifferenceOracle
from gradspec.outcomes import Value
from gradspec.requests import Grad

SQUARE = case(id="demo.square", statement="d/dx x^2 at 3 is 6", doc="https://example.org/guide#grad",
              tags=["tape"], inputs={"x": var(3.0)}, body=lambda ops, x: x * x, requests=Grad("x"),
              expect=value(6.0))


class Answers(FiniteDifferenceOracle):
    """The oracle, answering a fixed wrong outcome when one is set."""

    name: ClassVar[str] = "answers"
    wrong: Value | None = None

    def outcome(self, native: Any) -> Any:
        return self.wrong if self.wrong is not None else super().outcome(native)


def declared(*bugs: KnownBug) -> Declaration:
    return Declaration("demo.square", None, bugs)


DTYPE_BUG = KnownBug("https://example.org/issues/1", "wrong_dtype", "dtype float64")


@pytest.mark.parametrize("wrong, status, fail_kind", [
    (Value(np.float64(6.0)), "XFAIL", "wrong_dtype"),          # the listed bug: float64 for a float32 source
    (Value(np.float32(6.5)), "FAIL", "value_mismatch"),        # a new, different failure of the same cell
    (None, "XPASS", None),                                     # fixed upstream: the entry is stale
])
def test_a_known_bug_covers_only_its_own_failure(wrong: Value | None, status: str, fail_kind: str | None):
    adapter = Answers()
    adapter.wrong = wrong
    result = run_item(SQUARE, adapter, "cpu", "float32", "1.0", declared(DTYPE_BUG))
    assert (result.status, result.fail_kind) == (status, fail_kind), result.message
    if status == "FAIL":
        assert "not the listed known bug" in result.message and DTYPE_BUG.link in result.message
    else:
        assert result.known_bug == DTYPE_BUG.link


def test_a_message_pattern_narrows_a_known_bug():
    adapter = Answers()
    adapter.wrong = Value(np.float64(6.0))
    narrow = KnownBug("https://example.org/issues/2", "wrong_dtype", "expected complex64")
    assert run_item(SQUARE, adapter, "cpu", "float32", "1.0", declared(narrow)).status == "FAIL"


def test_a_declared_choice_and_a_known_bug_apply_together():
    entry = Entry("demo.square", {"*": "x"}, "observed")
    both = Declaration("demo.square", entry, (DTYPE_BUG,))
    adapter = Answers()
    adapter.wrong = Value(np.float64(6.0))
    assert run_item(SQUARE, adapter, "cpu", "float32", "1.0", both).status == "XFAIL"

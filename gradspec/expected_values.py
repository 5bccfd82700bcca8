"""Expected values: a case's expectations turned into concrete float64 values for one dtype.

Analytic formulas run in float64 NumPy on the inputs rounded to the item's
dtype; oracle expectations run the finite-difference oracle on the same
program.  Results are cached per (case, dtype) so the oracle runs once per
process, not once per adapter.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .case import Case
from .expect import (AbsentIs, AnalyticIs, DerivedIs, DotProductIs, Expectation, InfoIs, OneOf, OracleIs,
                     RaisesIs, ValueIs, ZerosIs)
from .outcomes import Answer, ArrayCodec, Raised, Sparse, Value, Zeros
from .program import Program, RunContext
from .requests import Derivatives, Hessian, Hvp, Jvp, Request, Vjp


@dataclass(frozen=True)
class Resolved:
    """A concrete expected value and where it came from (doc, analytic, oracle)."""

    array: np.ndarray
    source: str
    form: str = "any"
    dtype: str | None = None
    order: int = 1


@dataclass(frozen=True)
class DotProduct:
    """Expected <J t, c> for a Vjp answer v; observed is <t, v>."""

    expected: float
    tangent: np.ndarray


class ExpectationFailed(RuntimeError):
    """The expected value itself could not be computed (a harness error)."""


_CACHE: dict[tuple[Any, ...], list[Any]] = {}


def resolve(case: Case, dtype: str) -> list[Any]:
    """The expected values of one case at one dtype, computed once per process for
    each distinct case, dtype and input (every adapter's item reads the same)."""
    key = (case.id, dtype, case.body, _fingerprint(case, dtype))
    if key not in _CACHE:
        _CACHE[key] = _Resolver(case, dtype).all()
    return _CACHE[key]


def _fingerprint(case: Case, dtype: str) -> bytes:
    """The case's inputs at this dtype, exactly: two cases with one id but other inputs
    (a property test's examples) never share expected values."""
    digest = hashlib.sha256()
    for name, inp in case.inputs.items():
        arr = np.ascontiguousarray(inp.array(dtype))
        digest.update(f"{name}:{inp.role}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.digest()


class _Resolver:
    def __init__(self, case: Case, dtype: str) -> None:
        self.case, self.dtype = case, dtype
        self.program = Program.for_case(case, dtype)
        self._oracle_answers: list[Answer] | None = None

    def all(self) -> list[Any]:
        return [self.one(e, r, i) for i, (e, r) in enumerate(zip(self.case.expect, self.case.requests))]

    def inputs64(self) -> dict[str, np.ndarray]:
        return {n: _f64(a) for n, a in self.program.arrays.items()}

    def oracle(self, index: int) -> Answer:
        if self._oracle_answers is None:
            from .oracle import FiniteDifferenceOracle

            program = Program(self.program.case_id, self.program.body, self.program.inputs,
                              self.inputs64(), self.program.requests, True, True)
            self._oracle_answers = FiniteDifferenceOracle(exact=True).execute(program, RunContext("float64"))
        answer = self._oracle_answers[index]
        if isinstance(answer, Raised):
            raise ExpectationFailed(f"case '{self.case.id}': the oracle could not compute request {index}: "
                                    f"{answer.native_type}: {answer.message}")
        return answer

    def one(self, e: Expectation, r: Request, index: int, path: tuple[Any, ...] = ()) -> Any:
        order = _order(r, path)
        if isinstance(e, ValueIs):
            return Resolved(_f64(np.asarray(e.value)), "doc", e.form, e.dtype, order)
        if isinstance(e, AnalyticIs):
            value = e.fn(**self.inputs64())
            return _walk_values(value, lambda a: Resolved(_f64(np.asarray(a)), "analytic", e.form, None, order))
        if isinstance(e, OracleIs):
            answer = _select(self.oracle(index), path)
            return _walk_answer(answer, lambda a: Resolved(a, "oracle", e.form, None, order))
        if isinstance(e, DotProductIs):
            if not isinstance(r, Vjp):
                raise ExpectationFailed(f"case '{self.case.id}': dot_product() applies to a Vjp request")
            from .oracle import FiniteDifferenceOracle

            jt_program = Program(self.program.case_id, self.program.body, self.program.inputs, self.inputs64(),
                                 (Jvp(r.wrt, e.tangent, r.target),), True, True)
            (jt,) = FiniteDifferenceOracle(exact=True).execute(jt_program, RunContext("float64"))
            if not isinstance(jt, Value):
                raise ExpectationFailed(f"case '{self.case.id}': oracle jvp failed: {jt}")
            return DotProduct(float(np.sum(jt.array * np.asarray(r.cotangent, dtype=np.float64))),
                              np.asarray(e.tangent, dtype=np.float64))
        if isinstance(e, OneOf):
            return OneOf({k: self.one(v, r, index, path) for k, v in e.options.items()}, e.slot)
        if isinstance(e, list):
            return [self.one(v, r, index, path + (i,)) for i, v in enumerate(e)]
        if isinstance(e, dict):
            return {k: self.one(v, r, index, path + (k,)) for k, v in e.items()}
        if isinstance(e, (AbsentIs, ZerosIs, RaisesIs, InfoIs, DerivedIs)):
            return e
        raise ExpectationFailed(f"case '{self.case.id}': unknown expectation {e!r}")


def _order(r: Request, path: tuple[Any, ...]) -> int:
    if isinstance(r, Derivatives):
        return int(path[0]) + 1 if path else r.order
    if isinstance(r, (Hessian, Hvp)):
        return 2
    return 1


def _select(answer: Answer, path: tuple[Any, ...]) -> Answer:
    for key in path:
        answer = answer[key]  # type: ignore[index]
    return answer


def _walk_values(value: Any, leaf: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_walk_values(v, leaf) for v in value]
    if isinstance(value, dict):
        return {k: _walk_values(v, leaf) for k, v in value.items()}
    return leaf(value)


def _walk_answer(answer: Answer, leaf: Any) -> Any:
    if isinstance(answer, list):
        return [_walk_answer(a, leaf) for a in answer]
    if isinstance(answer, dict):
        return {k: _walk_answer(a, leaf) for k, a in answer.items()}
    if isinstance(answer, Value):
        return leaf(_f64(answer.array))
    if isinstance(answer, Sparse):
        return leaf(_f64(answer.densify()))
    if isinstance(answer, Zeros) and answer.shape is not None:
        return leaf(np.zeros(answer.shape))
    raise ExpectationFailed(f"the oracle answered {answer!r}, which is not a value")


def _f64(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    if a.dtype.kind in "fiub" or a.dtype.name == "bfloat16":
        return a.astype(np.float64)
    return a


def encode_expectation(e: Any) -> Any:
    """JSON form of a resolved expectation for the run record."""
    if isinstance(e, Resolved):
        return {"expect": "Value", "array": ArrayCodec.encode(e.array), "source": e.source, "form": e.form}
    if isinstance(e, DotProduct):
        return {"expect": "DotProduct", "value": e.expected}
    if isinstance(e, OneOf):
        return {"expect": "OneOf", "slot": e.slot, "options": {k: encode_expectation(v) for k, v in e.options.items()}}
    if isinstance(e, list):
        return {"expect": "List", "items": [encode_expectation(v) for v in e]}
    if isinstance(e, dict):
        return {"expect": "Dict", "items": {k: encode_expectation(v) for k, v in e.items()}}
    if isinstance(e, AbsentIs):
        return {"expect": "Absent"}
    if isinstance(e, ZerosIs):
        return {"expect": "Zeros"}
    if isinstance(e, RaisesIs):
        return {"expect": "Raised", "kind": e.kind.value}
    if isinstance(e, InfoIs):
        return {"expect": "Info", "value": e.value}
    if isinstance(e, DerivedIs):
        return {"expect": "Derived"}
    raise TypeError(f"not an expectation: {e!r}")

"""Compares what an adapter answered with what the case expects.

The judge never converts outcomes into one another: an Absent is not a
zero, a Raised is not a value.  It reports the first mismatch with a kind
(value_mismatch, wrong_outcome, wrong_error, missing_error, wrong_dtype,
wrong_shape, wrong_structure, behaviour_changed) and the observed
implementation-defined choices.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .case import Tolerance
from .expect import AbsentIs, DerivedIs, InfoIs, OneOf, RaisesIs, ZerosIs
from .expected_values import DotProduct, Resolved
from .expectation_file import Declaration
from .outcomes import Absent, Answer, Info, Raised, Sparse, Value, Zeros, describe
from .tolerance import with_order_floor


@dataclass
class Mismatch(Exception):
    kind: str
    message: str


@dataclass
class Verdict:
    ok: bool
    fail_kind: str | None = None
    message: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    max_abs_err: float | None = None
    max_rel_err: float | None = None


class Judge:
    """Judges the answers of one item."""

    def __init__(self, item_dtype: str, tolerance: Tolerance, reference: bool = False) -> None:
        self.item_dtype = item_dtype
        self.tolerance = tolerance
        self.reference = reference  # the oracle itself: nested differences lose digits at each order
        self.choices: dict[str, str] = {}
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.compared = False
        self.declared: Declaration | None = None

    def verdict(self, expected: list[Any], observed: list[Answer], declared: Declaration | None) -> Verdict:
        self.declared = declared
        try:
            if len(observed) != len(expected):
                raise Mismatch("wrong_structure", f"{len(observed)} answers for {len(expected)} requests")
            for i, (e, o) in enumerate(zip(expected, observed)):
                self.match(e, o, f"request {i}")
            self._check_declared(declared)
        except Mismatch as m:
            return Verdict(False, m.kind, m.message, dict(self.choices), *self._errors())
        return Verdict(True, None, "", dict(self.choices), *self._errors())

    def _errors(self) -> tuple[float | None, float | None]:
        return (self.max_abs, self.max_rel) if self.compared else (None, None)

    def _check_declared(self, declared: Declaration | None) -> None:
        if declared is None:
            return
        for slot, observed in self.choices.items():
            documented = declared.choice_for(slot)
            if documented is not None and documented != observed:
                basis = declared.choice_entry.basis if declared.choice_entry else None
                source = f" ({declared.doc})" if declared.doc else ""
                raise Mismatch("behaviour_changed",
                               f"slot '{slot}': the adapter declares '{documented}' ({basis}){source} "
                               f"but observed '{observed}'")

    # -- matching -----------------------------------------------------------
    def match(self, e: Any, o: Answer, where: str) -> None:
        if isinstance(e, OneOf):
            return self._one_of(e, o, where)
        if isinstance(e, list):
            if not isinstance(o, list):
                raise self._shape_of_answer("a list", o, where)
            if len(o) != len(e):
                raise Mismatch("wrong_structure", f"{where}: {len(o)} entries, expected {len(e)}")
            for i, (ei, oi) in enumerate(zip(e, o)):
                self.match(ei, oi, f"{where}[{i}]")
            return None
        if isinstance(e, dict):
            if not isinstance(o, dict):
                raise self._shape_of_answer("a dict", o, where)
            if list(o) != list(e):
                raise Mismatch("wrong_structure", f"{where}: keys {list(o)}, expected {list(e)} in that order")
            for k in e:
                self.match(e[k], o[k], f"{where}[{k!r}]")
            return None
        if isinstance(e, Resolved):
            return self._value(e, o, where)
        if isinstance(e, DotProduct):
            return self._dot(e, o, where)
        if isinstance(e, AbsentIs):
            if not isinstance(o, Absent):
                raise self._wrong(o, "Absent", where)
            return None
        if isinstance(e, ZerosIs):
            if isinstance(o, Zeros) or (isinstance(o, Value) and o.array.size and not np.any(o.array)):
                return None
            if isinstance(o, Value) and o.array.size == 0:
                return None
            raise self._wrong(o, "Zeros", where)
        if isinstance(e, RaisesIs):
            if isinstance(o, Raised):
                if o.kind != e.kind:
                    raise Mismatch("wrong_error", f"{where}: raised {o.kind.value} ({o.native_type}: "
                                                  f"{o.message[:200]}), expected {e.kind.value}")
                return None
            raise Mismatch("missing_error", f"{where}: expected Raised({e.kind.value}), got {describe(o)}")
        if isinstance(e, InfoIs):
            if not isinstance(o, Info) or o.value != e.value:
                raise self._wrong(o, f"Info({e.value!r})", where)
            return None
        if isinstance(e, DerivedIs):
            return self._derived(e, o, where)
        raise Mismatch("wrong_outcome", f"{where}: unknown expectation {e!r}")

    def _one_of(self, e: OneOf, o: Answer, where: str) -> None:
        reasons = []
        documented = self.declared.choice_for(e.slot) if self.declared else None
        # Where several options match the same answer, the documented one names it.
        order = sorted(e.options, key=lambda label: label != documented)
        for label in order:
            option = e.options[label]
            trial = Judge(self.item_dtype, self.tolerance, self.reference)
            try:
                trial.match(option, o, where)
            except Mismatch as m:
                reasons.append(f"{label}: {m.message}")
                continue
            self.choices[e.slot] = label
            self.choices.update(trial.choices)
            if trial.compared:
                self._record(trial.max_abs, trial.max_rel)
            return None
        raise Mismatch("wrong_outcome", f"{where}: {describe(o)} is none of the allowed outcomes "
                                        f"{list(e.options)} ({'; '.join(reasons)})")

    def _value(self, e: Resolved, o: Answer, where: str) -> None:
        answered: str | None  # the dtype the answer carries, when it carries one
        if isinstance(o, Sparse):
            if e.form == "dense":
                raise Mismatch("wrong_outcome", f"{where}: a dense gradient is required, got {describe(o)}")
            _numeric(np.asarray(o.values), f"{where} (sparse values)")
            _numeric(np.asarray(o.indices), f"{where} (sparse indices)")
            got = o.densify()
            answered = _dtype_name(got)
        elif isinstance(o, Value):
            if e.form == "sparse":
                raise Mismatch("wrong_outcome", f"{where}: a sparse gradient is required, got a dense Value")
            got = _numeric(np.asarray(o.array), where)
            answered = _dtype_name(got)
        elif isinstance(o, Zeros) and o.shape is not None:
            got, answered = np.zeros(o.shape), o.dtype
        else:
            raise self._wrong(o, "Value", where)
        want_dtype = e.dtype or (self.item_dtype if _is_inexact_name(self.item_dtype) else None)
        if want_dtype and answered is not None and answered != want_dtype:
            raise Mismatch("wrong_dtype", f"{where}: dtype {answered}, expected {want_dtype}")
        if got.shape != e.array.shape:
            raise Mismatch("wrong_shape", f"{where}: shape {got.shape}, expected {e.array.shape}")
        tol = with_order_floor(self.tolerance, e.order) if e.source == "oracle" or self.reference else self.tolerance
        self._close(e.array, got, tol, where, e.source)

    def _close(self, want: np.ndarray, got: np.ndarray, tol: Tolerance, where: str, source: str) -> None:
        want64 = want.astype(np.complex128 if np.iscomplexobj(want) or np.iscomplexobj(got) else np.float64)
        got64 = got.astype(want64.dtype)
        same_nan = np.isnan(want64) == np.isnan(got64)
        if not np.all(same_nan):
            raise Mismatch("value_mismatch", f"{where}: NaN where {source} value has none (or the reverse): "
                                             f"got {_short(got)}, expected {_short(want)}")
        finite = np.isfinite(want64) & np.isfinite(got64)
        if not np.array_equal(want64[~finite & ~np.isnan(want64)], got64[~finite & ~np.isnan(want64)]):
            raise Mismatch("value_mismatch", f"{where}: infinities differ: got {_short(got)}, expected {_short(want)}")
        err = np.abs(got64[finite] - want64[finite])
        scale = np.abs(want64[finite])
        abs_err = float(err.max()) if err.size else 0.0
        rel = err[scale > 0] / scale[scale > 0]
        rel_err = float(rel.max()) if rel.size else 0.0
        self._record(abs_err, rel_err)
        if np.any(err > tol.atol + tol.rtol * scale):
            raise Mismatch("value_mismatch",
                           f"{where}: got {_short(got)}, expected {_short(want)} ({source}); max abs error "
                           f"{abs_err:.3g}, max rel error {rel_err:.3g} > rtol {tol.rtol:g}, atol {tol.atol:g}")

    def _record(self, abs_err: float, rel_err: float) -> None:
        self.compared = True
        self.max_abs = max(self.max_abs, abs_err)
        self.max_rel = max(self.max_rel, rel_err)

    def _dot(self, e: DotProduct, o: Answer, where: str) -> None:
        if not isinstance(o, (Value, Sparse)):
            raise self._wrong(o, "Value", where)
        v = o.densify() if isinstance(o, Sparse) else _numeric(np.asarray(o.array), where)
        got = np.asarray(float(np.sum(e.tangent * np.asarray(v, dtype=np.float64))))
        self._close(np.asarray(e.expected), got, self.tolerance, f"{where} <t, J^T c>", "oracle <J t, c>")

    def _derived(self, e: DerivedIs, o: Answer, where: str) -> None:
        if not isinstance(o, dict) or not all(isinstance(v, Value) for v in o.values()):
            raise self._wrong(o, "a dict of Values", where)
        arrays = {k: np.asarray(_numeric(np.asarray(v.array), f"{where}[{k!r}]"), dtype=np.float64)
                  for k, v in o.items()}
        for key, want in e.fn(arrays).items():
            if key not in o:
                raise Mismatch("wrong_structure", f"{where}: no '{key}' in the answer")
            got = np.asarray(o[key].array)  # type: ignore[union-attr]
            want = np.asarray(want, dtype=np.float64)
            if got.shape != want.shape:
                raise Mismatch("wrong_shape", f"{where}[{key!r}]: shape {got.shape}, expected {want.shape}")
            self._close(want, got, self.tolerance, f"{where}[{key!r}]", "NumPy at the framework's weights")

    @staticmethod
    def _wrong(o: Answer, wanted: str, where: str) -> Mismatch:
        return Mismatch("wrong_outcome", f"{where}: expected {wanted}, got {describe(o)}")

    @staticmethod
    def _shape_of_answer(wanted: str, o: Answer, where: str) -> Mismatch:
        kind = "wrong_outcome" if isinstance(o, (Raised, Absent)) else "wrong_structure"
        return Mismatch(kind, f"{where}: expected {wanted} of outcomes, got {describe(o)}")


NUMERIC_KINDS = frozenset("biufc")


def _numeric(a: np.ndarray, where: str) -> np.ndarray:
    """An array of numbers, or a wrong_dtype failure naming what came instead (strings,
    Python objects): an adapter's answer is data the judge must not trip over."""
    if a.dtype.kind in NUMERIC_KINDS or a.dtype.name == "bfloat16":
        return a
    raise Mismatch("wrong_dtype", f"{where}: the answer holds {a.dtype.name} data ({_short_any(a)}), not numbers")


def _short_any(a: np.ndarray) -> str:
    text = repr(a.reshape(-1)[:4].tolist()) if a.size else "[]"
    return text if len(text) <= 80 else text[:77] + "..."


def _is_inexact_name(name: str) -> bool:
    return name.startswith(("float", "bfloat", "complex"))


def _dtype_name(a: np.ndarray) -> str:
    return a.dtype.name


def _short(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=8, threshold=8, separator=", ")


def declared_summary(entry: Declaration | None, slots: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The adapter's declared choices for the record, per slot, with what each rests on."""
    if entry is None or entry.choice_entry is None:
        return {}
    e = entry.choice_entry
    out = {}
    for slot in slots:
        choice = entry.choice_for(slot)
        if choice is not None:
            out[slot] = {"choice": choice, "doc": e.doc, "versions": e.versions, "basis": e.basis or "observed",
                         **({"quote": e.quote} if e.quote else {})}
    return out

"""What a case expects of each request.  Expected values come from the
documentation, an analytic float64 NumPy formula, or the float64
finite-difference oracle, never from the framework under test."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Mapping, Union

from .outcomes import ErrorKind


@dataclass(frozen=True)
class ValueIs:
    """A value stated by the documentation (or plain arithmetic).  ``form``
    says whether a sparse answer is allowed; ``dtype=None`` means the dtype
    of the item."""

    value: Any
    dtype: str | None = None
    form: Literal["any", "dense", "sparse"] = "any"


@dataclass(frozen=True)
class AnalyticIs:
    """``fn(**inputs)`` in float64 NumPy, on the inputs rounded to the item's dtype."""

    fn: Callable[..., Any]
    form: Literal["any", "dense", "sparse"] = "any"


@dataclass(frozen=True)
class OracleIs:
    """The float64 finite-difference oracle's answer to the same request."""

    form: Literal["any", "dense", "sparse"] = "any"


@dataclass(frozen=True)
class AbsentIs:
    pass


@dataclass(frozen=True)
class ZerosIs:
    pass


@dataclass(frozen=True)
class RaisesIs:
    kind: ErrorKind


@dataclass(frozen=True)
class InfoIs:
    value: Any


@dataclass(frozen=True)
class DerivedIs:
    """For probes that return the framework's own parameters with their
    gradients: ``fn(observed arrays as float64)`` gives the expected arrays for
    some keys, computed in NumPy."""

    fn: Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class DotProductIs:
    """Dot-product test for a ``Vjp`` answer v = J^T c: <t, v> must equal
    <J t, c>, with J t the oracle's directional derivative along ``tangent``."""

    tangent: Any


@dataclass(frozen=True)
class OneOf:
    """Implementation-defined: the allowed outcomes, by label.  The matching
    label is the adapter's observed choice; ``slot`` names this choice in
    expectation files when a case has more than one."""

    options: Mapping[str, "Expectation"]
    slot: str = "choice"


Expectation = Union[ValueIs, AnalyticIs, OracleIs, AbsentIs, ZerosIs, RaisesIs, InfoIs, DerivedIs,
                    DotProductIs, OneOf, list, dict]


def value(v: Any, dtype: str | None = None, form: Literal["any", "dense", "sparse"] = "any") -> ValueIs:
    return ValueIs(v, dtype, form)


def analytic(fn: Callable[..., Any], form: Literal["any", "dense", "sparse"] = "any") -> AnalyticIs:
    return AnalyticIs(fn, form)


def oracle(form: Literal["any", "dense", "sparse"] = "any") -> OracleIs:
    return OracleIs(form)


def absent() -> AbsentIs:
    return AbsentIs()


def zeros() -> ZerosIs:
    return ZerosIs()


def raises(kind: ErrorKind | str) -> RaisesIs:
    return RaisesIs(ErrorKind(kind))


def info(v: Any) -> InfoIs:
    return InfoIs(v)


def derived(fn: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> DerivedIs:
    return DerivedIs(fn)


def dot_product(tangent: Any) -> DotProductIs:
    return DotProductIs(tangent)


def one_of(slot: str = "choice", **options: "Expectation") -> OneOf:
    return OneOf(dict(options), slot)


def slots(expectation: Expectation) -> list[OneOf]:
    """Every implementation-defined choice inside an expectation tree."""
    if isinstance(expectation, OneOf):
        return [expectation]
    if isinstance(expectation, list):
        return [s for e in expectation for s in slots(e)]
    if isinstance(expectation, dict):
        return [s for e in expectation.values() for s in slots(e)]
    return []


def uses_oracle(expectation: Expectation) -> bool:
    if isinstance(expectation, (OracleIs, DotProductIs)):
        return True
    if isinstance(expectation, OneOf):
        return any(uses_oracle(e) for e in expectation.options.values())
    if isinstance(expectation, list):
        return any(uses_oracle(e) for e in expectation)
    if isinstance(expectation, dict):
        return any(uses_oracle(e) for e in expectation.values())
    return False



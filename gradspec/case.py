"""A case: one documented behaviour, stated declaratively.

A case never imports a framework.  Its ``body(ops, **inputs)`` is written in
the neutral op vocabulary that every adapter offers; its requests say what to
ask of the recorded computation; its expectations say what must come back.
"""
from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .expect import Expectation, OneOf, slots, uses_oracle
from .inputs import ROLES, Input
from .requests import REQUEST_TYPES, Probe, Request, source_names

ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")  # matched whole (fullmatch): no trailing newline
TAG_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
DOC_URL = re.compile(r"https?://[^\s#]+#\S+")
DTYPES = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
          "int32", "int64", "bool")

# Capabilities a case may require.  The core (first-order gradients of scalar
# targets in float32/float64) needs none.
CAPABILITIES = frozenset({
    "recording",             # a scope that decides what is recorded (tapes, requires_grad)
    "single_use_recording",  # a non-persistent recording answers one request
    "persistent_recording",  # a recording can answer several requests
    "watch_control",         # automatic watching of variables can be switched off
    "watched_variables",     # the recording lists what it watched
    "variables",             # variable objects distinct from constants
    "trainable_flag",        # variables can be marked non-trainable
    "output_gradients",      # a non-scalar target seeded with an output gradient
    "unconnected_zero",      # an option that asks for zeros for unconnected sources (zeros by default is no option)
    "unconnected_absent",    # an option that asks for None instead of an error for unconnected sources
    "higher_order", "jacobian", "hessian", "forward_mode", "vmap",
    "sparse_gradients", "complex", "float16", "bfloat16",
    "layers",                # the framework's own layers/modules
    "no_gradient_ops",       # ops registered without a gradient
    "custom_gradient", "checkpoint", "inplace", "control_flow_ops",
    "python_control_flow",   # the body may branch in Python on a value it computed (if x > 0)
    "training",              # an optimisation loop over variables
})


# Capabilities of the recording model.  Function-transform frameworks have no
# recording at all: for them these are not a claim, so a case needing one is
# UNSUPPORTED without being tried.
RECORDING_CAPABILITIES = frozenset({
    "recording", "single_use_recording", "persistent_recording", "watch_control", "watched_variables",
    "variables", "trainable_flag",
})


class Kind(str, enum.Enum):
    """The three kinds of statement (README.md, "How a case is written")."""

    REQUIRED = "required"
    IMPLEMENTATION_DEFINED = "implementation-defined"
    API = "api"


class CaseError(ValueError):
    """A malformed case: names the file, the case id and the field."""

    def __init__(self, file: str, case_id: str, field_name: str, message: str) -> None:
        super().__init__(f"{file}: case '{case_id}': field '{field_name}': {message}")
        self.file, self.case_id, self.field, self.detail = file, case_id, field_name, message


@dataclass(frozen=True)
class Doc:
    """Where the behaviour is documented: a URL with a #fragment, and the
    quoted sentence where there is one."""

    url: str
    quote: str = ""


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class Case:
    id: str
    statement: str
    docs: tuple[Doc, ...]
    tags: tuple[str, ...]
    body: Callable[..., Any] | None
    inputs: Mapping[str, Input]
    requests: tuple[Request, ...]
    expect: tuple[Expectation, ...]
    kind: Kind
    requires: frozenset[str] = frozenset()
    dtypes: tuple[str, ...] = ("float32", "float64")
    persistent: bool = False
    watch_accessed: bool = True
    tolerance: Mapping[str, Tolerance] = field(default_factory=dict)
    file: str = "<unknown>"
    line: int = 0

    @property
    def name(self) -> str:
        """The last segment of the id: the pytest item name."""
        return self.id.rsplit(".", 1)[-1]

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def impl_slots(self) -> list[OneOf]:
        return [s for e in self.expect for s in slots(e)]


_MISSING: Any = object()  # a required field left out: named in the error with the case id and line


def case(
    *,
    id: str = _MISSING,
    statement: str = _MISSING,
    doc: Doc | str | Sequence[Doc | str] = _MISSING,
    tags: Sequence[str] = _MISSING,
    requests: Sequence[Request] | Request = _MISSING,
    expect: Sequence[Expectation] | Expectation = _MISSING,
    body: Callable[..., Any] | None = None,
    inputs: Mapping[str, Input] | None = None,
    kind: Kind | str | None = None,
    requires: Sequence[str] = (),
    dtypes: Sequence[str] = ("float32", "float64"),
    persistent: bool = False,
    watch_accessed: bool = True,
    tolerance: Mapping[str, tuple[float, float]] | None = None,
) -> Case:
    """Declare a case.  Validates every field and raises CaseError naming the
    file, id and field on the first problem."""
    frame = sys._getframe(1)
    file, line = frame.f_code.co_filename, frame.f_lineno
    cid = id if isinstance(id, str) else "?" if id is _MISSING else repr(id)

    def fail(field_name: str, message: str) -> CaseError:
        return CaseError(f"{file}:{line}", cid, field_name, message)

    for name, given in (("id", id), ("statement", statement), ("doc", doc), ("tags", tags),
                        ("requests", requests), ("expect", expect)):
        if given is _MISSING:
            raise fail(name, "is required")
    for name, flag in (("persistent", persistent), ("watch_accessed", watch_accessed)):
        if not isinstance(flag, bool):
            raise fail(name, f"must be True or False, got {flag!r}")
    if not isinstance(id, str) or not ID_PATTERN.fullmatch(id):
        raise fail("id", "must be a dotted lower-case id such as 'tape.persistent_reuse'")
    if not isinstance(statement, str) or not statement.strip() or "\n" in statement:
        raise fail("statement", "must be one non-empty line")
    docs = _docs(doc, fail)
    if isinstance(tags, str) or not isinstance(tags, (list, tuple)) or not tags \
            or any(not isinstance(t, str) or not TAG_PATTERN.fullmatch(t) for t in tags):
        raise fail("tags", f"must be a non-empty list of lower-case identifiers, got {tags!r}")
    reqs = tuple(requests) if isinstance(requests, (list, tuple)) else (requests,)
    if not reqs:
        raise fail("requests", "must name at least one request")
    for r in reqs:
        if not isinstance(r, REQUEST_TYPES):
            raise fail("requests", f"{r!r} is not a request (Grad, Jacobian, Probe, ...)")
    exps = tuple(expect) if isinstance(expect, tuple) or (isinstance(expect, list) and len(reqs) > 1) else (expect,)
    if len(exps) != len(reqs):
        raise fail("expect", f"gives {len(exps)} expectations for {len(reqs)} requests")
    inputs = dict(inputs or {})
    for name, inp in inputs.items():
        if not name.isidentifier():
            raise fail("inputs", f"input name {name!r} is not an identifier")
        if not isinstance(inp, Input) or inp.role not in ROLES:
            raise fail("inputs", f"input {name!r} must be made with var(), frozen(), const(), watched() or outside()")
        if inp.dtype is not None and inp.dtype not in DTYPES:
            raise fail("inputs", f"input {name!r} has unknown dtype {inp.dtype!r}")
    needs_body = any(not isinstance(r, Probe) for r in reqs)
    if needs_body and not callable(body):
        raise fail("body", "must be a function body(ops, **inputs) for gradient requests")
    if isinstance(requires, str) or not isinstance(requires, (list, tuple, set, frozenset)):
        raise fail("requires", f"must be a list of capabilities, got {requires!r}")
    unknown = set(requires) - CAPABILITIES
    if unknown:
        raise fail("requires", f"unknown capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")
    if isinstance(dtypes, str) or not isinstance(dtypes, (list, tuple)) or not dtypes or set(dtypes) - set(DTYPES):
        raise fail("dtypes", f"must be a non-empty list drawn from {DTYPES}, got {dtypes!r}")
    has_choice = any(slots(e) for e in exps)
    try:
        resolved_kind = Kind(kind) if kind is not None else (
            Kind.IMPLEMENTATION_DEFINED if has_choice else Kind.REQUIRED)
    except ValueError:
        raise fail("kind", f"must be one of {[k.value for k in Kind]}") from None
    if resolved_kind is Kind.IMPLEMENTATION_DEFINED and not has_choice:
        raise fail("kind", "an implementation-defined case must list its allowed outcomes with one_of()")
    names = [s.slot for e in exps for s in slots(e)]
    if len(names) != len(set(names)):
        raise fail("expect", f"one_of() slots must have distinct names, got {names}")
    for r in reqs:
        for src in source_names(getattr(r, "wrt", ())):
            if not isinstance(src, str) or not src.isidentifier():
                raise fail("requests", f"source {src!r} is not a name")
    if any(uses_oracle(e) for e in exps):
        for name, inp in inputs.items():
            arr = np.asarray(inp.value)
            if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
                raise fail("inputs", f"input {name!r} holds NaN or infinity: finite differences through it "
                                     f"poison every entry they mix it into; state these expected values "
                                     f"analytically or with value()")
    tol = {}
    for dt, pair in (tolerance or {}).items():
        if dt not in DTYPES or len(pair) != 2:
            raise fail("tolerance", f"entries must be dtype: (rtol, atol), got {dt!r}: {pair!r}")
        tol[dt] = Tolerance(float(pair[0]), float(pair[1]))
    return Case(
        id=id, statement=statement.strip(), docs=docs, tags=tuple(tags), body=body, inputs=inputs,
        requests=reqs, expect=exps, kind=resolved_kind, requires=frozenset(requires),
        dtypes=tuple(dtypes), persistent=persistent, watch_accessed=watch_accessed,
        tolerance=tol, file=file, line=line,
    )


def _docs(doc: Any, fail: Callable[[str, str], CaseError]) -> tuple[Doc, ...]:
    items = doc if isinstance(doc, (list, tuple)) else [doc]
    out = []
    for d in items:
        d = Doc(d) if isinstance(d, str) else d
        if not isinstance(d, Doc):
            raise fail("doc", f"{d!r} is not a URL or Doc")
        if not isinstance(d.url, str) or not DOC_URL.fullmatch(d.url):
            raise fail("doc", f"{d.url!r} must be an http(s) URL with a #fragment")
        out.append(d)
    if not out:
        raise fail("doc", "at least one documentation link is required")
    return tuple(out)

"""The run record's format, as msgspec types: the one statement of it.

``gradspec/run-record.schema.json`` (JSON Schema 2020-12, for tools outside
Python) is generated from these types (``python -m gradspec schema``), and a
test fails when the shipped file is stale.  Reading a record is one typed
msgspec decode: the whole document is checked against these types in C, so a
record of 100,000 results is parsed and validated in about a second and a
half on two cores, where a generic JSON Schema validator takes minutes.

Outcome and expectation trees are tagged unions: every node names its kind
(``{"outcome": "Value", ...}``, ``{"outcome": "List", "items": [...]}``).
reports/README.md documents every field.
"""
from __future__ import annotations

import re
import typing
from typing import Annotated, Any, Literal, Optional, Union

import msgspec
from msgspec import Meta, Struct

from .versions import SCHEMA_VERSION

NonNegative = Annotated[int, Meta(ge=0)]
Seconds = Annotated[float, Meta(ge=0)]
NonEmpty = Annotated[str, Meta(min_length=1)]
# "$(?![\s\S])": the end of the string in Python and JavaScript alike (a bare "$" lets Python accept a final "\n")
Mode = Annotated[str, Meta(pattern=r"^(eager|compiled(-[a-z0-9_]+)?)$(?![\s\S])",
                           description="eager, compiled, or compiled-<backend> (gradspec.modes)")]
Status = Literal["PASS", "FAIL", "UNSUPPORTED", "SKIP", "ERROR", "TIMEOUT", "CRASH", "REFERENCE", "XFAIL",
                 "XPASS", "MISSING"]
FailKind = Literal["value_mismatch", "wrong_outcome", "wrong_error", "missing_error", "behaviour_changed",
                   "wrong_dtype", "wrong_shape", "wrong_structure"]
ErrorKind = Literal["TapeExhausted", "NonScalarTarget", "NotDifferentiableDType", "UnconnectedSource",
                    "NoGradientDefined", "InPlaceModified", "ShapeMismatch", "DTypeMismatch", "Unclassified"]
Basis = Literal["documented", "source", "observed"]
Scalar = Union[int, float, bool, str]
ErrorMeasure = Annotated[Union[float, Literal["nan", "inf", "-inf"], None],
                         Meta(description="A largest error; null when nothing was compared")]


class _Node(Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Records hold no reference cycles: their objects need no tracking by the
    cyclic garbage collector."""


class Array(_Node):
    """gradspec.outcomes.ArrayCodec: dtype, shape and the flat data, with nan,
    inf, -inf and -0.0 spelled as strings and complex numbers as [re, im]."""

    dtype: NonEmpty
    shape: list[NonNegative]
    data: list[Union[Scalar, tuple[Scalar, Scalar]]]


# -- what an adapter answered (gradspec.outcomes.encode_outcome) ---------------

class _Outcome(_Node, tag_field="outcome"):
    pass


class ValueOutcome(_Outcome, tag="Value"):
    array: Array


class AbsentOutcome(_Outcome, tag="Absent"):
    pass


class ZerosOutcome(_Outcome, tag="Zeros"):
    shape: Optional[list[NonNegative]]
    dtype: Optional[str]


class SparseOutcome(_Outcome, tag="Sparse"):
    indices: Array
    values: Array
    dense_shape: list[NonNegative]


class RaisedOutcome(_Outcome, tag="Raised"):
    kind: ErrorKind
    native_type: str
    message: str
    traceback: str = ""


class InfoOutcome(_Outcome, tag="Info"):
    value: Any


class ListOutcome(_Outcome, tag="List"):
    items: list[Outcome]


class DictOutcome(_Outcome, tag="Dict"):
    items: dict[str, Outcome]


Outcome = Union[ValueOutcome, AbsentOutcome, ZerosOutcome, SparseOutcome, RaisedOutcome, InfoOutcome,
                ListOutcome, DictOutcome]


# -- what the case expected (gradspec.expected_values.encode_expectation) ------

class _Expectation(_Node, tag_field="expect"):
    pass


class ValueExpectation(_Expectation, tag="Value"):
    array: Array
    source: Literal["doc", "analytic", "oracle"]
    form: Literal["any", "dense", "sparse"] = "any"


class AbsentExpectation(_Expectation, tag="Absent"):
    pass


class ZerosExpectation(_Expectation, tag="Zeros"):
    pass


class DerivedExpectation(_Expectation, tag="Derived"):
    pass


class RaisedExpectation(_Expectation, tag="Raised"):
    kind: ErrorKind


class InfoExpectation(_Expectation, tag="Info"):
    value: Any


class OneOfExpectation(_Expectation, tag="OneOf"):
    slot: str
    options: Annotated[dict[str, Expectation], Meta(min_length=1)]


class DotProductExpectation(_Expectation, tag="DotProduct"):
    value: Union[float, str]


class ListExpectation(_Expectation, tag="List"):
    items: list[Expectation]


class DictExpectation(_Expectation, tag="Dict"):
    items: dict[str, Expectation]


Expectation = Union[ValueExpectation, AbsentExpectation, ZerosExpectation, DerivedExpectation,
                    RaisedExpectation, InfoExpectation, OneOfExpectation, DotProductExpectation, ListExpectation,
                    DictExpectation]


# -- one result ---------------------------------------------------------------

class Declared(_Node):
    """An adapter's declared choice for one slot, and what it rests on."""

    choice: str
    doc: str
    versions: str
    basis: Optional[Basis] = None
    quote: Optional[str] = None


class ErrorInfo(_Node):
    type: str
    message: str
    traceback: str


class Tolerance(_Node):
    rtol: float
    atol: float


class Result(_Node):
    """One cell: (case, adapter, framework_version, mode, device, dtype)."""

    nodeid: str
    case: NonEmpty
    adapter: NonEmpty
    framework_version: str
    mode: Mode
    device: str
    dtype: str
    status: Status
    fail_kind: Optional[FailKind]
    message: str
    choices: dict[str, str]
    declared: dict[str, Declared]
    expected: Optional[list[Expectation]]
    observed: Optional[list[Outcome]]
    error: Optional[ErrorInfo]
    max_abs_err: ErrorMeasure
    max_rel_err: ErrorMeasure
    tolerance: Optional[Tolerance]
    duration_s: Seconds
    worker: str
    repro: str
    oracle_s: Annotated[Seconds, Meta(description="Of duration_s, the time spent computing expected values")] = 0.0
    settings: Annotated[dict[str, Any], Meta(description="Framework settings the item ran under")] = {}
    compile_stats: Annotated[Optional[dict[str, NonNegative]],
                             Meta(description="What a compiled mode's compiler did for this item")] = None
    stale_denial: Annotated[list[str], Meta(description="Capabilities denied, yet the case passed")] = []
    known_bug: Annotated[Optional[str], Meta(description="The known bug the cell was matched against")] = None


# -- the record around the results ----------------------------------------------

class Suite(_Node):
    version: str
    commit: NonEmpty
    dirty: bool


class Host(_Node):
    hostname: str
    platform: str
    machine: str
    python: str


class ShardInfo(_Node):
    """Which part of a split run (--gradspec-shard) a record holds: its own items only."""

    index: Annotated[int, Meta(ge=1, description="K of K/N, 1-based")]
    count: Annotated[int, Meta(ge=1, description="N of K/N")]
    items: Annotated[NonNegative, Meta(description="How many collected items this shard ran")]
    durations: Annotated[Optional[str], Meta(description="The record whose durations balanced the split; "
                                                         "null: split by hash of the node id")] = None


class Options(_Node):
    adapters: list[str]
    modes: Annotated[Optional[list[str]], Meta(description="--gradspec-modes; null: each adapter's defaults")]
    devices: list[str]
    dtypes: Optional[list[str]]
    workers: NonNegative
    shard: Annotated[Optional[ShardInfo], Meta(description="Set when the run was one shard of a split run")] = None


class StaleClaim(_Node):
    capability: str
    kind: Literal["claimed_but_failing", "denied_but_working"]
    cases: list[str]


class StaleRange(_Node):
    """A declared choice whose version range claims a release where the run observed
    another choice: the expectation entry must be narrowed or split."""

    adapter: str
    case: str
    slot: str
    declared: Annotated[str, Meta(description="The choice the expectation file declares")]
    versions: Annotated[str, Meta(description="The entry's version range (empty: every release)")]
    observed: Annotated[dict[str, list[str]],
                        Meta(description="Release -> the choices observed there instead")]


class Score(_Node):
    passed: NonNegative
    denominator: NonNegative


class AdapterInfo(_Node):
    framework: Optional[str]
    version: str
    modes: Annotated[dict[Mode, str], Meta(min_length=1)]
    devices: list[str]
    capabilities: list[str]
    dtypes: list[str]
    available: bool
    reason: Optional[str]
    conformance: Annotated[dict[Mode, Score], Meta(description="Per execution mode that ran")]
    origin: Optional[Literal["builtin", "entry-point", "explicit"]] = None
    target: Optional[str] = None
    stale_claims: list[StaleClaim] = []
    bases: Annotated[dict[Basis, NonNegative],
                     Meta(description="How many of the adapter's declared choices rest on each basis")] = {}


class DocRef(_Node):
    url: str
    quote: str


class CaseInfo(_Node):
    statement: str
    kind: Literal["required", "implementation-defined", "api"]
    area: str
    tags: list[str]
    requires: list[str]
    docs: list[DocRef]
    file: str
    line: NonNegative
    slots: dict[str, list[str]]


class Summary(_Node):
    counts: dict[Status, NonNegative]
    executed: NonNegative
    total: NonNegative


class Resources(_Node):
    peak_rss_mib: Annotated[dict[str, Annotated[float, Meta(ge=0)]],
                            Meta(description="Peak resident memory of each worker process, in MiB")]


class MergedFrom(_Node):
    file: str
    created: str
    host: Host
    options: Options


class RunRecord(_Node):
    """One run of the gradspec conformance suite (reports/README.md documents every field)."""

    schema_version: Literal[SCHEMA_VERSION]  # type: ignore[valid-type]
    kind: Literal["gradspec-run"]
    suite: Suite
    created: NonEmpty
    host: Host
    options: Options
    adapters: dict[str, AdapterInfo]
    cases: dict[str, CaseInfo]
    results: list[Result]
    warnings: list[str]
    summary: Summary
    complete: Annotated[bool, Meta(description="False when the run ended before every collected item ran")]
    interrupted: Annotated[Optional[str], Meta(description="Why the run did not finish, when it did not")]
    resources: Optional[Resources] = None
    merged_from: Optional[list[MergedFrom]] = None
    stale_ranges: Annotated[list[StaleRange],
                            Meta(description="Declared version ranges that a release in this record contradicts")] = []


DECODER = msgspec.json.Decoder(RunRecord)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a run record, generated from these types."""
    generated = msgspec.json.schema(RunRecord)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://gradspec.invalid/run-record.schema.json",
            "title": "gradspec run record",
            "description": f"One run of the gradspec conformance suite (schema_version {SCHEMA_VERSION}), "
                           "generated from gradspec/record_model.py by `python -m gradspec schema`. "
                           "reports/README.md documents every field.",
            **generated}


class RecordError(ValueError):
    """A run record that cannot be used: unreadable, not JSON, or not valid."""


def where(exc: msgspec.ValidationError, document: Any = None) -> str:
    """msgspec's "Expected `str`, got `int` - at `$.results[3].status`" as "at $...: ...".
    msgspec writes a mapping key as ``[...]``; given the document, the key is named."""
    message, _, path = str(exc).rpartition(" - at ")
    if not message:
        return str(exc)
    path = path.strip("`")
    if "[...]" in path and document is not None:
        path = _name_keys(document, path)
    return f"at {path}: {message}"


_PATH_TOKEN = re.compile(r"\.(\w+)|\[(\d+)\]|\[\.\.\.\]")


def _name_keys(document: Any, path: str) -> str:
    """Walk ``path`` through the document and the record types; at each ``[...]``
    the mapping entry that fails its type is the one named."""
    node: Any = document
    kind: Any = RunRecord
    named = "$"
    for match in _PATH_TOKEN.finditer(path[1:]):
        field_name, index = match.group(1), match.group(2)
        kind = _concrete(kind, node)
        try:
            if field_name is not None:
                kind = typing.get_type_hints(kind)[field_name]
                node, named = node[field_name], f"{named}.{field_name}"
            elif index is not None:
                kind, node, named = typing.get_args(kind)[0], node[int(index)], f"{named}[{index}]"
            else:
                value_type = typing.get_args(kind)[1]
                key = next(k for k, v in node.items() if not _fits(v, value_type))
                kind, node, named = value_type, node[key], f"{named}[{key!r}]"
        except (KeyError, IndexError, TypeError, StopIteration, AttributeError):
            return path
    return named


def _concrete(kind: Any, node: Any) -> Any:
    """The member of a union (Optional, tagged) that a document node is."""
    kind = typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Annotated else kind
    if typing.get_origin(kind) is not Union:
        return kind
    for member in typing.get_args(kind):
        config = getattr(member, "__struct_config__", None)
        if config is not None and isinstance(node, dict) and node.get(config.tag_field) == config.tag:
            return member
    return next((m for m in typing.get_args(kind) if m is not type(None)), kind)


def _fits(value: Any, kind: Any) -> bool:
    try:
        msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError:
        return False
    return True


def typed(record: RunRecord | Any, source: str = "<record>") -> RunRecord:
    """A record as RunRecord: as it is, or checked and converted from plain dicts and lists."""
    if isinstance(record, RunRecord):
        return record
    try:
        return msgspec.convert(record, RunRecord, strict=True)
    except msgspec.ValidationError as exc:
        raise RecordError(f"{source}: not a valid gradspec run record: {where(exc, record)}") from None

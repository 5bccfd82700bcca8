"""Loading and validating run records.

Every consumer (report, merge, diff) goes through ``load_record`` so a record
that is truncated, hand-edited or from another schema version is refused with
a message naming the file and the JSON path, never half-rendered.

The record's format is ``gradspec.record_model``; one typed msgspec decode
parses and checks a whole record (strict JSON: a bare NaN or Infinity token
is refused, as the writer never emits one).  What types cannot say (one
result per cell) is checked here.  Consumers get plain dicts and lists.
"""
from __future__ import annotations

import gc
import json
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import msgspec

from .record_model import RecordError, typed, where
from .versions import READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION

SCHEMA_PATH = Path(__file__).with_name("run-record.schema.json")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The run-record JSON Schema (2020-12) shipped with the package."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(record: Any, source: str = "<record>") -> None:
    """Raise RecordError naming the first problem and its JSON path."""
    _check_cells(typed(record, source).results, source)


def _check_cells(results: list[Any], source: str) -> None:
    """One result per cell: with two, diff and merge would let the last copy win."""
    seen: dict[tuple[str, ...], int] = {}
    for i, r in enumerate(results):
        first = seen.setdefault((r.case, r.adapter, r.framework_version, r.mode, r.device, r.dtype), i)
        if first != i:
            raise RecordError(f"{source}: not a valid gradspec run record: at $.results[{i}]: the cell "
                              f"{r.case} [{r.adapter} {r.framework_version} {r.mode} {r.device} {r.dtype}] "
                              f"is also $.results[{first}]")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of small objects are made here; the cyclic collector would walk them again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_record(path: Path | str) -> dict[str, Any]:
    """Read and validate one run record (a version-1 record is upgraded), as plain
    dicts and lists; errors name the file."""
    record = read_record(path)
    with _gc_paused():
        return msgspec.to_builtins(record)


def read_record(path: Path | str) -> Any:
    """Read and validate one run record as typed ``gradspec.record_model.RunRecord``."""
    from .record_model import DECODER

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except OSError as exc:
        raise RecordError(f"{path}: cannot read: {exc}") from None
    with _gc_paused():
        try:
            typed = DECODER.decode(data)
        except msgspec.ValidationError as exc:
            return _load_other_version(path, data, exc)
        except msgspec.DecodeError as exc:
            raise RecordError(f"{path}: {_decode_problem(data, exc)}") from None
        _check_cells(typed.results, str(path))
        return typed


def _load_other_version(path: Path, data: bytes, exc: msgspec.ValidationError) -> Any:
    """A record that is not version 2: upgrade version 1, refuse the rest."""
    try:
        record = msgspec.json.decode(data)
    except msgspec.DecodeError as problem:
        raise RecordError(f"{path}: {_decode_problem(data, problem)}") from None
    version = record.get("schema_version") if isinstance(record, dict) else None
    if version == SCHEMA_VERSION or version is None:
        raise RecordError(f"{path}: not a valid gradspec run record: {where(exc, record)}") from None
    if version not in READABLE_SCHEMA_VERSIONS:
        raise RecordError(f"{path}: schema_version {version!r} is not supported "
                          f"(this gradspec reads versions {list(READABLE_SCHEMA_VERSIONS)})")
    record = upgrade_v1(record)
    validate(record, str(path))
    return typed(record)


def _decode_problem(data: bytes, exc: msgspec.DecodeError) -> str:
    """Where and why the bytes are not strict UTF-8 JSON."""
    text = str(exc)
    if "truncated" in text:
        return "not valid JSON: it ends early (the file looks truncated)"
    at = re.search(r"\(byte (\d+)\)", text)
    if not at:
        return f"not valid JSON: {text}"
    offset = int(at.group(1))
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    token = data[offset:offset + 9]
    why = "a bare NaN or Infinity token (records spell them \"nan\", \"inf\", \"-inf\")" \
        if token.startswith((b"NaN", b"Infinity", b"-Infinity")) else text.split(" (byte")[0]
    return f"not valid JSON at line {line} column {column}: {why}"


def upgrade_v1(record: dict[str, Any]) -> dict[str, Any]:
    """A version-1 record in version 2's form: every result ran eagerly, and each
    adapter's one score is its eager score.  Anything malformed is left for the
    schema to name."""
    record = dict(record, schema_version=SCHEMA_VERSION)
    record.setdefault("complete", True)  # version 1 wrote a record only for a finished run
    record.setdefault("interrupted", None)
    for r in record.get("results") or []:
        if isinstance(r, dict):
            r.setdefault("mode", "eager")
            for key, tag in (("expected", "expect"), ("observed", "outcome")):
                if isinstance(r.get(key), list):
                    r[key] = [_tagged_tree(node, tag) for node in r[key]]
    for info in (record.get("adapters") or {}).values():
        if isinstance(info, dict):
            info.setdefault("modes", {"eager": "each operation runs as it is called"})
            score = info.get("conformance")
            if isinstance(score, dict) and "passed" in score:
                info["conformance"] = {"eager": score}
    for options in [record.get("options"), *(m.get("options") for m in record.get("merged_from") or []
                                             if isinstance(m, dict))]:
        if isinstance(options, dict):
            options.setdefault("modes", None)
    return record


def _tagged_tree(node: Any, tag: str) -> Any:
    """Version 1 wrote {"list": [...]} and {"dict": {...}}; version 2 tags them like every node."""
    if not isinstance(node, dict):
        return node
    if node.keys() == {"list"} and isinstance(node["list"], list):
        return {tag: "List", "items": [_tagged_tree(n, tag) for n in node["list"]]}
    if node.keys() == {"dict"} and isinstance(node["dict"], dict):
        return {tag: "Dict", "items": {k: _tagged_tree(n, tag) for k, n in node["dict"].items()}}
    if node.get(tag) == "OneOf" and isinstance(node.get("options"), dict):
        return {**node, "options": {k: _tagged_tree(n, tag) for k, n in node["options"].items()}}
    return node

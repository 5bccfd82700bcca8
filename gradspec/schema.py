"""Loading and validating run records against the shipped JSON Schema.

Every consumer (report, merge, diff) goes through ``load_record`` so a record
that is truncated, hand-edited or from another schema version is refused with
a message naming the file and the JSON path, never half-rendered.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .versions import READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION

SCHEMA_PATH = Path(__file__).with_name("run-record.schema.json")
_MAX_REPORTED = 5


class RecordError(ValueError):
    """A run record that cannot be used: unreadable, not JSON, or not valid."""


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The run-record schema (Draft 2020-12) shipped with the package."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def _describe(error: ValidationError) -> str:
    # The deepest error of a oneOf/anyOf says more than "not valid under any".
    leaf = min(error.context, key=lambda e: -len(e.absolute_path), default=None) if error.context else None
    chosen = leaf if leaf is not None and len(leaf.absolute_path) > len(error.absolute_path) else error
    return f"at {chosen.json_path}: {chosen.message}"


def validate(record: Any, source: str = "<record>") -> None:
    """Raise RecordError listing the first few schema violations, each with its JSON path."""
    errors = sorted(_validator().iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return
    lines = [_describe(e) for e in errors[:_MAX_REPORTED]]
    more = f" (and {len(errors) - _MAX_REPORTED} more)" if len(errors) > _MAX_REPORTED else ""
    raise RecordError(f"{source}: not a valid gradspec run record{more}:\n  " + "\n  ".join(lines))


def load_record(path: Path | str) -> dict[str, Any]:
    """Read and validate one run record; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read: {exc}") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        hint = " (the file looks truncated)" if ends_early else ""
        raise RecordError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}") from None
    if isinstance(record, dict) and record.get("schema_version") not in (None, *READABLE_SCHEMA_VERSIONS):
        raise RecordError(f"{path}: schema_version {record.get('schema_version')!r} is not supported "
                          f"(this gradspec reads versions {list(READABLE_SCHEMA_VERSIONS)})")
    if isinstance(record, dict) and record.get("schema_version") == 1:
        record = upgrade_v1(record)
    validate(record, str(path))
    return record


def upgrade_v1(record: dict[str, Any]) -> dict[str, Any]:
    """A version-1 record in version 2's form: every result ran eagerly, and each
    adapter's one score is its eager score.  Anything malformed is left for the
    schema to name."""
    record = dict(record, schema_version=SCHEMA_VERSION)
    for r in record.get("results") or []:
        if isinstance(r, dict):
            r.setdefault("mode", "eager")
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


def json_safe(value: Any) -> Any:
    """A copy with non-finite floats spelled as the record's strings ("nan", "inf", "-inf"),
    so the result is strict JSON (browsers' JSON.parse refuses NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value

"""Cells, scores and merging of run records.

A cell is one (case, adapter, framework_version, mode, device, dtype).  Records from
several CI jobs (one framework, version, device or shard each) merge into one; a cell
reported twice with different outcomes is an error that names it, and a cell
that a job should have produced but did not becomes a MISSING result, so a
lost job can never look like a clean run.  Records are ``gradspec.record_model``
types throughout.
"""
from __future__ import annotations

import datetime as _dt
import shlex
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import msgspec

from .modes import item_params
from .releases import stale_ranges
from .record_model import (AdapterInfo, DictOutcome, ListOutcome, MergedFrom, Options, RaisedOutcome, Result,
                           RunRecord, Score, StaleClaim, Summary, typed)
from .shard import missing_shards

STATUSES = ("PASS", "FAIL", "ERROR", "CRASH", "TIMEOUT", "MISSING", "XFAIL", "XPASS", "UNSUPPORTED", "SKIP",
            "REFERENCE")
NOT_EXECUTED = frozenset({"SKIP", "UNSUPPORTED", "MISSING"})
PASSING = frozenset({"PASS", "XPASS"})  # XPASS: a listed known bug that no longer fails
DTYPE_ORDER = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128", "int32", "int64", "bool")

Cell = tuple[str, str, str, str, str, str]
Group = tuple[str, str, str]


class MergeError(ValueError):
    """Records that cannot be merged (conflicting cells, different schema or suite)."""


def cell_key(r: Result) -> Cell:
    return (r.case, r.adapter, r.framework_version, r.mode, r.device, r.dtype)


def cell_order(cell: Cell) -> tuple[Any, ...]:
    return (*cell[:5], dtype_rank(cell[5]))


def group_key(r: Result) -> Group:
    """The unit that is scored: one adapter at one framework version in one mode."""
    return (r.adapter, r.framework_version, r.mode)


def dtype_rank(dtype: str) -> tuple[int, str]:
    return (DTYPE_ORDER.index(dtype) if dtype in DTYPE_ORDER else len(DTYPE_ORDER), dtype)


def adapter_info(record: RunRecord, adapter: str, version: str) -> AdapterInfo | None:
    """The adapters entry for a group: keyed "name@version" in merged records that
    hold several versions of one adapter, else by name."""
    return record.adapters.get(f"{adapter}@{version}") or record.adapters.get(adapter)


def scores(record: RunRecord) -> dict[Group, dict[str, Any]]:
    """Per (adapter, version, mode): passing results over a fixed denominator of
    every result of a required-kind case (REFERENCE excluded), plus counts of every
    status.  A result of a case the record does not describe counts as required."""
    kinds = {cid: case.kind for cid, case in record.cases.items()}
    tally = Counter((r.adapter, r.framework_version, r.mode, r.status, kinds.get(r.case, "required") == "required")
                    for r in record.results)
    out: dict[Group, dict[str, Any]] = {}
    for (adapter, version, mode, status, required), n in tally.items():
        g = out.setdefault((adapter, version, mode), {"passed": 0, "denominator": 0, "counts": Counter()})
        g["counts"][status] += n
        if required and status != "REFERENCE":
            g["denominator"] += n
            g["passed"] += n if status in PASSING else 0
    return out


def conformance(record: RunRecord) -> dict[tuple[str, str], dict[str, Score]]:
    """(adapter, version) -> mode -> Score, as the adapters entries hold it."""
    out: dict[tuple[str, str], dict[str, Score]] = {}
    for (adapter, version, mode), s in scores(record).items():
        out.setdefault((adapter, version), {})[mode] = Score(s["passed"], s["denominator"])
    return out


def summary(results: Iterable[Result]) -> Summary:
    """Counts per status, recomputed from the results (a record's own summary is never trusted)."""
    counts = Counter(r.status for r in results)
    total = sum(counts.values())
    executed = total - sum(counts[s] for s in NOT_EXECUTED)
    return Summary({s: counts[s] for s in STATUSES if counts[s]}, executed, total)


def _same_outcome(a: Result, b: Result) -> bool:
    """Same status, choices and observed outcome; tracebacks name install paths, which differ by host."""
    if (a.status, a.choices) != (b.status, b.choices):
        return False
    return a.observed == b.observed or _without_tracebacks(a.observed) == _without_tracebacks(b.observed)


def _without_tracebacks(tree: Any) -> Any:
    """An outcome tree as a comparable value in which a Raised outcome is its kind, type and message."""
    if isinstance(tree, list):
        return [_without_tracebacks(t) for t in tree]
    if isinstance(tree, RaisedOutcome):
        return ("Raised", tree.kind, tree.native_type, tree.message)
    if isinstance(tree, ListOutcome):
        return ("List", _without_tracebacks(tree.items))
    if isinstance(tree, DictOutcome):
        return ("Dict", {k: _without_tracebacks(v) for k, v in tree.items.items()})
    return tree


def _cell_name(cell: Cell) -> str:
    case, adapter, version, mode, device, dtype = cell
    return f"{case} [{adapter} {version} {mode} {device} {dtype}]"


def _check_compatible(records: list[tuple[str, RunRecord]]) -> None:
    first_name, first = records[0]
    for name, rec in records[1:]:
        if rec.suite.commit != first.suite.commit:
            raise MergeError(f"suite commit differs: {first_name} ran {first.suite.commit}, "
                             f"{name} ran {rec.suite.commit}")


def _merge_cases(records: list[tuple[str, RunRecord]]) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    seen_in: dict[str, str] = {}
    for name, rec in records:
        for cid, case in rec.cases.items():
            if cid in cases and cases[cid] != case:
                raise MergeError(f"case {cid} is described differently in {seen_in[cid]} and {name}")
            cases.setdefault(cid, case)
            seen_in.setdefault(cid, name)
    return dict(sorted(cases.items()))


def _merge_adapters(records: list[tuple[str, RunRecord]]) -> dict[tuple[str, str], AdapterInfo]:
    merged: dict[tuple[str, str], AdapterInfo] = {}
    for _, rec in records:
        for name, info in rec.adapters.items():
            key = (name.split("@", 1)[0], info.version)
            m = merged.get(key)
            if m is None:
                merged[key] = msgspec.structs.replace(info)
                continue
            m.modes = {**m.modes, **info.modes}
            m.devices = sorted(set(m.devices) | set(info.devices))
            m.capabilities = sorted(set(m.capabilities) | set(info.capabilities))
            m.dtypes = sorted(set(m.dtypes) | set(info.dtypes), key=dtype_rank)
            if info.available and not m.available:
                m.available, m.reason = True, None
            m.stale_claims = _union_claims(m.stale_claims, info.stale_claims)
    return merged


def _union_claims(a: list[StaleClaim], b: list[StaleClaim]) -> list[StaleClaim]:
    """Stale capability claims as reported by any job, cases united per (capability, kind)."""
    out: dict[tuple[str, str], set[str]] = {}
    for claim in [*a, *b]:
        out.setdefault((claim.capability, claim.kind), set()).update(claim.cases)
    return [StaleClaim(cap, kind, sorted(cases)) for (cap, kind), cases in sorted(out.items())]  # type: ignore[arg-type]


def _missing_result(cell: Cell, case: Any, job: str) -> Result:
    case_id, adapter, version, mode, device, dtype = cell
    file = case.file if case is not None else "cases"
    nodeid = f"{file}::{case_id.rsplit('.', 1)[-1]}[{item_params(adapter, mode, device, dtype)}]"
    return Result(
        nodeid=nodeid, case=case_id, adapter=adapter, framework_version=version, mode=mode, device=device,
        dtype=dtype, status="MISSING", fail_kind=None,
        message=f"No result: {job} ran {adapter} {version} {mode} on {device} and should have produced this cell.",
        choices={}, declared={}, expected=None, observed=None, error=None, max_abs_err=None, max_rel_err=None,
        tolerance=None, duration_s=0.0, worker="none", repro=f"python -m pytest {shlex.quote(nodeid)}")


def merge(records: list[tuple[str, RunRecord | Any]]) -> RunRecord:
    """Merge records, given as (file name, record) pairs, into one record."""
    if not records:
        raise MergeError("nothing to merge: give at least one record")
    records = [(name, typed(rec, name)) for name, rec in records]
    _check_compatible(records)
    cases = _merge_cases(records)

    results: dict[Cell, Result] = {}
    origin: dict[Cell, str] = {}
    for name, rec in records:
        for r in rec.results:
            key = cell_key(r)
            if key in results:
                if not _same_outcome(results[key], r):
                    raise MergeError(
                        f"conflicting results for cell {_cell_name(key)}: {origin[key]} says "
                        f"{results[key].status}, {name} says {r.status}"
                        + ("" if results[key].status != r.status else " with a different observed outcome"))
                continue
            results[key], origin[key] = r, name

    warnings = list(dict.fromkeys(w for _, rec in records for w in rec.warnings))
    dtypes_of: dict[str, list[str]] = {}
    for case_id, *_rest, dtype in results:
        dtypes_of.setdefault(case_id, []).append(dtype)
    dtypes_of = {c: sorted(set(d), key=dtype_rank) for c, d in dtypes_of.items()}
    for name, rec in records:
        lacking = sorted(set(cases) - set(rec.cases))
        if lacking and rec.options.shard is None:  # a shard holds only its own cases
            warnings.append(f"{name} did not collect {len(lacking)} of the merged record's cases "
                            f"({', '.join(lacking[:5])}{', ...' if len(lacking) > 5 else ''}): it ran another "
                            f"catalog, so its cells for them are MISSING")
        ran = {(r.adapter, r.framework_version, r.mode) for r in rec.results}
        for adapter, version, mode in sorted(ran):
            info = adapter_info(rec, adapter, version)
            for device in info.devices if info is not None else ():
                for case_id, dtypes in dtypes_of.items():
                    for dtype in dtypes:
                        key = (case_id, adapter, version, mode, device, dtype)
                        if key not in results:
                            results[key] = _missing_result(key, cases.get(case_id), name)

    gaps = missing_shards(records)
    warnings += gaps
    ordered = [results[k] for k in sorted(results, key=cell_order)]
    adapters = _merge_adapters(records)
    versions = Counter(name for name, _ in adapters)
    out_adapters = {(name if versions[name] == 1 else f"{name}@{version}"): info
                    for (name, version), info in sorted(adapters.items())}
    merged = RunRecord(
        schema_version=records[0][1].schema_version, kind="gradspec-run",
        suite=msgspec.structs.replace(records[0][1].suite, dirty=any(rec.suite.dirty for _, rec in records)),
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        host=msgspec.structs.replace(records[0][1].host, **{
            k: ", ".join(dict.fromkeys(getattr(rec.host, k) for _, rec in records))
            for k in ("hostname", "platform", "machine", "python")}),
        options=_merged_options([rec.options for _, rec in records]),
        adapters=out_adapters, cases=cases, results=ordered, warnings=warnings, summary=summary(ordered),
        complete=all(rec.complete for _, rec in records),
        interrupted="; ".join(f"{name}: {rec.interrupted}" for name, rec in records if rec.interrupted) or None,
        merged_from=[MergedFrom(name, rec.created, rec.host, rec.options) for name, rec in records],
        stale_ranges=stale_ranges(ordered))
    scored = conformance(merged)
    for info in out_adapters.values():
        info.conformance = {}
    for (name, version), per_mode in scored.items():
        info = adapter_info(merged, name, version)
        if info is not None:
            info.conformance = per_mode
    if gaps:  # a split run with shards left out: partial, as a run that ended early is
        merged.complete = False
        merged.interrupted = "; ".join(filter(None, [merged.interrupted, *gaps]))
    return merged


def _merged_options(options: list[Options]) -> Options:
    return Options(
        adapters=sorted({a for o in options for a in o.adapters}),
        modes=None if any(o.modes is None for o in options) else sorted({m for o in options for m in o.modes or []}),
        devices=sorted({d for o in options for d in o.devices}),
        dtypes=None if any(o.dtypes is None for o in options)
        else sorted({d for o in options for d in o.dtypes or []}, key=dtype_rank),
        workers=max(o.workers for o in options))


def write_record(record: RunRecord, path: Path) -> None:
    """Write atomically (temp file in the same folder, then rename), as the run itself does."""
    from .record import dumps, write_atomic

    write_atomic(Path(path), dumps(record))

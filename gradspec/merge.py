"""Cells, scores and merging of run records.

A cell is one (case, adapter, framework_version, mode, device, dtype).  Records from
several CI jobs (one framework, version or device each) merge into one; a cell
reported twice with different outcomes is an error that names it, and a cell
that a job should have produced but did not becomes a MISSING result, so a
lost job can never look like a clean run.
"""
from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import shlex
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

from .modes import item_params
from .schema import json_safe, validate

STATUSES = ("PASS", "FAIL", "ERROR", "CRASH", "TIMEOUT", "MISSING", "XFAIL", "UNSUPPORTED", "SKIP", "REFERENCE")
NOT_EXECUTED = frozenset({"SKIP", "UNSUPPORTED", "MISSING"})
DTYPE_ORDER = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128", "int32", "int64", "bool")

Cell = tuple[str, str, str, str, str, str]
Group = tuple[str, str, str]


class MergeError(ValueError):
    """Records that cannot be merged (conflicting cells, different schema or suite)."""


def cell_key(result: Mapping[str, Any]) -> Cell:
    return (result["case"], result["adapter"], result["framework_version"], result["mode"], result["device"],
            result["dtype"])


def cell_order(cell: Cell) -> tuple[Any, ...]:
    return (*cell[:5], dtype_rank(cell[5]))


def group_key(result: Mapping[str, Any]) -> Group:
    """The unit that is scored: one adapter at one framework version in one mode."""
    return (result["adapter"], result["framework_version"], result["mode"])


def dtype_rank(dtype: str) -> tuple[int, str]:
    return (DTYPE_ORDER.index(dtype) if dtype in DTYPE_ORDER else len(DTYPE_ORDER), dtype)


def adapter_info(record: Mapping[str, Any], adapter: str, version: str) -> Mapping[str, Any] | None:
    """The adapters entry for a group: keyed "name@version" in merged records that
    hold several versions of one adapter, else by name."""
    adapters = record.get("adapters", {})
    return adapters.get(f"{adapter}@{version}") or adapters.get(adapter)


def case_kind(record: Mapping[str, Any], case_id: str) -> str:
    return record.get("cases", {}).get(case_id, {}).get("kind", "required")


def scores(record: Mapping[str, Any]) -> dict[Group, dict[str, Any]]:
    """Per (adapter, version, mode): PASS over a fixed denominator of every result
    of a required-kind case (REFERENCE excluded), plus counts of every status."""
    out: dict[Group, dict[str, Any]] = {}
    for r in record["results"]:
        g = out.setdefault(group_key(r), {"passed": 0, "denominator": 0, "counts": Counter()})
        g["counts"][r["status"]] += 1
        if case_kind(record, r["case"]) == "required" and r["status"] != "REFERENCE":
            g["denominator"] += 1
            g["passed"] += r["status"] == "PASS"
    return out


def summary(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    counts = Counter(r["status"] for r in results)
    total = sum(counts.values())
    executed = total - sum(counts[s] for s in NOT_EXECUTED)
    return {"counts": {s: counts[s] for s in STATUSES if counts[s]}, "executed": executed, "total": total}


def _same_outcome(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a["status"], a["observed"], a["choices"]) == (b["status"], b["observed"], b["choices"])


def _cell_name(cell: Cell) -> str:
    case, adapter, version, mode, device, dtype = cell
    return f"{case} [{adapter} {version} {mode} {device} {dtype}]"


def _check_compatible(records: list[tuple[str, dict[str, Any]]]) -> None:
    first_name, first = records[0]
    for name, rec in records[1:]:
        if rec["schema_version"] != first["schema_version"]:
            raise MergeError(f"schema_version differs: {first_name} has {first['schema_version']}, "
                             f"{name} has {rec['schema_version']}")
        if rec["suite"]["commit"] != first["suite"]["commit"]:
            raise MergeError(f"suite commit differs: {first_name} ran {first['suite']['commit']}, "
                             f"{name} ran {rec['suite']['commit']}")


def _merge_cases(records: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    cases: dict[str, Any] = {}
    seen_in: dict[str, str] = {}
    for name, rec in records:
        for cid, case in rec["cases"].items():
            if cid in cases and cases[cid] != case:
                raise MergeError(f"case {cid} is described differently in {seen_in[cid]} and {name}")
            cases.setdefault(cid, case)
            seen_in.setdefault(cid, name)
    return dict(sorted(cases.items()))


def _merge_adapters(records: list[tuple[str, dict[str, Any]]]) -> dict[tuple[str, str], dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for _, rec in records:
        for name, info in rec["adapters"].items():
            name = name.split("@", 1)[0]
            key = (name, info["version"])
            if key not in merged:
                merged[key] = copy.deepcopy(info)
                continue
            m = merged[key]
            m["modes"] = {**m.get("modes", {}), **info.get("modes", {})}
            m["devices"] = sorted(set(m["devices"]) | set(info["devices"]))
            m["capabilities"] = sorted(set(m["capabilities"]) | set(info["capabilities"]))
            m["dtypes"] = sorted(set(m["dtypes"]) | set(info["dtypes"]), key=dtype_rank)
            if info["available"] and not m["available"]:
                m["available"], m["reason"] = True, None
            if "stale_claims" in info:
                m["stale_claims"] = _union_claims(m.get("stale_claims", []), info["stale_claims"])
    return merged


def _union_claims(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stale capability claims as reported by any job, cases united per (capability, kind)."""
    out: dict[tuple[str, str], set[str]] = {}
    for claim in [*a, *b]:
        out.setdefault((claim["capability"], claim["kind"]), set()).update(claim["cases"])
    return [{"capability": cap, "kind": kind, "cases": sorted(cases)} for (cap, kind), cases in sorted(out.items())]


def _missing_result(case_id: str, case: Mapping[str, Any], adapter: str, version: str, mode: str, device: str,
                    dtype: str, job: str) -> dict[str, Any]:
    nodeid = f"{case.get('file', 'cases')}::{case_id.rsplit('.', 1)[-1]}[{item_params(adapter, mode, device, dtype)}]"
    return {
        "nodeid": nodeid, "case": case_id, "adapter": adapter, "framework_version": version, "mode": mode,
        "device": device, "dtype": dtype, "status": "MISSING", "fail_kind": None,
        "message": f"No result: {job} ran {adapter} {version} {mode} on {device} and should have produced "
                   f"this cell.",
        "choices": {}, "declared": {}, "expected": None, "observed": None, "error": None,
        "max_abs_err": None, "max_rel_err": None, "tolerance": None, "duration_s": 0.0, "worker": "none",
        "repro": f"python -m pytest {shlex.quote(nodeid)}",
    }


def merge(records: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Merge validated records, given as (file name, record) pairs, into one record."""
    if not records:
        raise MergeError("nothing to merge: give at least one record")
    _check_compatible(records)
    cases = _merge_cases(records)

    results: dict[Cell, dict[str, Any]] = {}
    origin: dict[Cell, str] = {}
    for name, rec in records:
        for r in rec["results"]:
            key = cell_key(r)
            if key in results:
                if not _same_outcome(results[key], r):
                    raise MergeError(
                        f"conflicting results for cell {_cell_name(key)}: {origin[key]} says "
                        f"{results[key]['status']}, {name} says {r['status']}"
                        + ("" if results[key]["status"] != r["status"] else " with a different observed outcome"))
                continue
            results[key], origin[key] = r, name

    dtypes_of: dict[str, set[str]] = {}
    for case_id, *_rest, dtype in results:
        dtypes_of.setdefault(case_id, set()).add(dtype)
    for name, rec in records:
        ran_modes: dict[str, set[str]] = {}
        for r in rec["results"]:
            ran_modes.setdefault(r["adapter"], set()).add(r["mode"])
        for adapter, info in rec["adapters"].items():
            adapter = adapter.split("@", 1)[0]
            for mode in sorted(ran_modes.get(adapter, ())):
                for device in info["devices"]:
                    for case_id, case in cases.items():
                        for dtype in sorted(dtypes_of.get(case_id, ()), key=dtype_rank):
                            key = (case_id, adapter, info["version"], mode, device, dtype)
                            if key not in results:
                                results[key] = _missing_result(case_id, case, adapter, info["version"], mode,
                                                               device, dtype, name)
                                origin[key] = name

    ordered = [results[k] for k in sorted(results, key=cell_order)]
    adapters = _merge_adapters(records)
    versions = Counter(name for name, _ in adapters)
    out_adapters = {(name if versions[name] == 1 else f"{name}@{version}"): info
                    for (name, version), info in sorted(adapters.items())}
    merged = {"results": ordered, "cases": cases, "adapters": out_adapters}
    for info in out_adapters.values():
        info["conformance"] = {}
    for (name, version, mode), s in scores(merged).items():
        info = adapter_info(merged, name, version)
        if info is not None:
            info["conformance"][mode] = {"passed": s["passed"], "denominator": s["denominator"]}

    first = records[0][1]
    hosts = [rec["host"] for _, rec in records]
    dtype_opts = [rec["options"]["dtypes"] for _, rec in records]
    record = {
        "schema_version": first["schema_version"],
        "kind": "gradspec-run",
        "suite": {**first["suite"], "dirty": any(rec["suite"]["dirty"] for _, rec in records)},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {k: ", ".join(dict.fromkeys(h[k] for h in hosts)) for k in ("hostname", "platform", "machine",
                                                                               "python")},
        "options": {
            "adapters": sorted({a for _, rec in records for a in rec["options"]["adapters"]}),
            "modes": None if any(rec["options"].get("modes") is None for _, rec in records)
            else sorted({m for _, rec in records for m in rec["options"]["modes"]}),
            "devices": sorted({d for _, rec in records for d in rec["options"]["devices"]}),
            "dtypes": None if any(d is None for d in dtype_opts)
            else sorted({d for ds in dtype_opts for d in ds}, key=dtype_rank),
            "workers": max(rec["options"]["workers"] for _, rec in records),
        },
        "adapters": out_adapters,
        "cases": cases,
        "results": ordered,
        "warnings": list(dict.fromkeys(w for _, rec in records for w in rec["warnings"])),
        "summary": summary(ordered),
        "merged_from": [{"file": name, "created": rec["created"], "host": rec["host"], "options": rec["options"]}
                        for name, rec in records],
    }
    validate(record, "merged record")
    return record


def write_record(record: Mapping[str, Any], path: Path) -> None:
    """Write atomically (temp file in the same folder, then rename), as the run itself does."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(json_safe(record), fh, separators=(",", ":"), allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise

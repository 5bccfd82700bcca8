"""The run record: one versioned JSON document per run, written atomically.
Its format is documented in reports/README.md and checked by
gradspec/run-record.schema.json."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

from .case import Case
from .merge import scores, summary
from .versions import SCHEMA_VERSION, SUITE_VERSION


def suite_commit(root: Path) -> tuple[str, bool]:
    """The git commit of the suite and whether the work tree differs from it."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return sha or "unknown", dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def case_entry(case: Case, root: Path) -> dict[str, Any]:
    try:
        file = str(Path(case.file).resolve().relative_to(root.resolve()))
    except ValueError:
        file = case.file
    return {
        "statement": case.statement, "kind": case.kind.value, "area": case.area, "tags": list(case.tags),
        "requires": sorted(case.requires), "docs": [{"url": d.url, "quote": d.quote} for d in case.docs],
        "file": file, "line": case.line,
        "slots": {s.slot: list(s.options) for s in case.impl_slots},
    }


def stale_claims(results: Iterable[Mapping[str, Any]], cases: Mapping[str, Mapping[str, Any]],
                 adapters: Mapping[str, Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Capability claims the results contradict, per adapter: claimed but every
    case needing it fails, or denied but a case needing it passed anyway."""
    broken = {"FAIL", "ERROR", "TIMEOUT", "CRASH"}
    by_cap: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        for cap in cases.get(r["case"], {}).get("requires", []):
            by_cap.setdefault((r["adapter"], cap), []).append(r)
        for cap in r.get("stale_denial") or []:
            claims = out.setdefault(r["adapter"], [])
            entry = next((c for c in claims if c["capability"] == cap and c["kind"] == "denied_but_working"), None)
            if entry is None:
                claims.append(entry := {"capability": cap, "kind": "denied_but_working", "cases": []})
            if r["case"] not in entry["cases"]:
                entry["cases"].append(r["case"])
    for (adapter, cap), rs in sorted(by_cap.items()):
        claimed = cap in adapters.get(adapter, {}).get("capabilities", [])
        if claimed and rs and all(r["status"] in broken for r in rs):
            out.setdefault(adapter, []).append({"capability": cap, "kind": "claimed_but_failing",
                                                "cases": sorted({r["case"] for r in rs})})
    return out


def build(*, root: Path, cases: Mapping[str, Case], results: list[dict[str, Any]],
          adapters: Mapping[str, dict[str, Any]], options: dict[str, Any], warnings: list[str],
          resources: dict[str, Any] | None = None) -> dict[str, Any]:
    commit, dirty = suite_commit(root)
    case_map = {cid: case_entry(c, root) for cid, c in cases.items()}
    score: dict[str, dict[str, dict[str, int]]] = {}
    for (adapter, _version, mode), s in scores({"results": results, "cases": case_map}).items():
        score.setdefault(adapter, {})[mode] = {"passed": s["passed"], "denominator": s["denominator"]}
    stale = stale_claims(results, case_map, adapters)
    adapter_map = {name: {**info, "conformance": score.get(name, {}), "stale_claims": stale.get(name, [])}
                   for name, info in adapters.items()}
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "gradspec-run",
        "suite": {"version": SUITE_VERSION, "commit": commit, "dirty": dirty},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"hostname": socket.gethostname(), "platform": platform.platform(),
                 "machine": platform.machine(), "python": platform.python_version()},
        "options": options,
        "adapters": adapter_map,
        "cases": case_map,
        "results": sorted(results, key=lambda r: r["nodeid"]),
        "warnings": warnings,
        "summary": summary(results),
        **({"resources": resources} if resources else {}),
    }


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file in the same directory and rename it into
    place, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps(record: Mapping[str, Any]) -> str:
    """Strict, compact JSON (a record is read by tools; ``jq .`` pretty-prints it)."""
    return json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"

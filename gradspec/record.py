"""The run record: one versioned JSON document per run, written atomically.
Its format is documented in reports/README.md and checked by
gradspec/run-record.schema.json."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

import msgspec

from .case import Case
from .merge import conformance, summary
from .releases import stale_ranges
from .record_model import Result, RunRecord, StaleClaim
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


def stale_claims(record: RunRecord) -> dict[str, list[StaleClaim]]:
    """Capability claims the results contradict, per adapter: claimed but every
    case needing it fails, or denied but a case needing it passed anyway."""
    broken = {"FAIL", "ERROR", "TIMEOUT", "CRASH"}
    by_cap: dict[tuple[str, str], list[Result]] = {}
    denied: dict[tuple[str, str], list[str]] = {}
    for r in record.results:
        case = record.cases.get(r.case)
        for cap in case.requires if case else ():
            by_cap.setdefault((r.adapter, cap), []).append(r)
        for cap in r.stale_denial:
            cases = denied.setdefault((r.adapter, cap), [])
            if r.case not in cases:
                cases.append(r.case)
    out: dict[str, list[StaleClaim]] = {}
    for (adapter, cap), cases in denied.items():
        out.setdefault(adapter, []).append(StaleClaim(cap, "denied_but_working", cases))
    for (adapter, cap), rs in sorted(by_cap.items()):
        info = record.adapters.get(adapter)
        if info is not None and cap in info.capabilities and all(r.status in broken for r in rs):
            out.setdefault(adapter, []).append(StaleClaim(cap, "claimed_but_failing", sorted({r.case for r in rs})))
    return out


def build(*, root: Path, cases: Mapping[str, Case], results: list[dict[str, Any]],
          adapters: Mapping[str, dict[str, Any]], options: dict[str, Any], warnings: list[str],
          resources: dict[str, Any] | None = None, complete: bool = True,
          interrupted: str | None = None) -> RunRecord:
    """The run record of a run: checked against the record model as it is made."""
    commit, dirty = suite_commit(root)
    record = msgspec.convert({
        "schema_version": SCHEMA_VERSION,
        "kind": "gradspec-run",
        "suite": {"version": SUITE_VERSION, "commit": commit, "dirty": dirty},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"hostname": socket.gethostname(), "platform": platform.platform(),
                 "machine": platform.machine(), "python": platform.python_version()},
        "options": options,
        "adapters": {name: {**info, "conformance": {}} for name, info in adapters.items()},
        "cases": {cid: case_entry(c, root) for cid, c in cases.items()},
        "results": sorted(results, key=lambda r: r["nodeid"]),
        "warnings": warnings,
        "summary": {"counts": {}, "executed": 0, "total": 0},
        "complete": complete,
        "interrupted": interrupted,
        **({"resources": resources} if resources else {}),
    }, RunRecord, strict=True)
    record.summary = summary(record.results)
    record.stale_ranges = stale_ranges(record.results)
    stale = stale_claims(record)
    scored = conformance(record)
    for name, info in record.adapters.items():
        info.conformance = scored.get((name, info.version), {})
        info.stale_claims = stale.get(name, [])
    return record


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write through a temporary file in the same directory and rename it into
    place, so a reader never sees half a file, and an interrupted write leaves
    the old one whole.  The file gets the permissions an ordinary write would
    give it (an existing file's, else 0666 less the umask), and a symbolic link
    stays a link: its target is what is replaced."""
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def dumps(record: Any) -> bytes:
    """Compact UTF-8 JSON (``jq .`` pretty-prints it).  A record holds no non-finite
    float: the encoders spell NaN and infinities as strings, and what is read back
    went through the strict parser, so msgspec's fast encoder writes it exactly."""
    return msgspec.json.encode(record) + b"\n"

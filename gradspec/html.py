"""Static HTML dashboard: one folder with one index.html that opens from disk.

The record travels as JSON inside ``<script type="application/json">`` and the
page script builds every element with DOM APIs and ``textContent``, so record
text (a case id or an error message holding markup) can only ever be text.
A Content-Security-Policy allows exactly the page's own three scripts (by hash)
and no network at all.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Mapping

import msgspec

from .merge import STATUSES, adapter_info, dtype_rank, group_key, scores, summary
from .mode_diff import differences
from .record import dumps, write_atomic
from .record_model import CaseInfo, RunRecord, typed
from .releases import release_tables

TEMPLATES = Path(__file__).with_name("templates")
SHORT = {"PASS": "PASS", "FAIL": "FAIL", "ERROR": "ERROR", "CRASH": "CRASH", "TIMEOUT": "TIMEOUT",
         "MISSING": "MISSING", "XFAIL": "XFAIL", "UNSUPPORTED": "UNSUP", "SKIP": "SKIP", "REFERENCE": "REF"}


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def model(record: RunRecord) -> dict[str, Any]:
    """What the page needs, precomputed here so Markdown and HTML agree on the arithmetic:
    columns (adapter x version x mode x device x dtype), rows (cases by area), scores per
    adapter, version and mode."""
    results = record.results
    per_group = scores(record)
    columns = sorted({(r.adapter, r.framework_version, r.mode, r.device, r.dtype) for r in results},
                     key=lambda c: (*c[:4], dtype_rank(c[4])))
    col_index = {c: i for i, c in enumerate(columns)}
    cases = []
    for cid in set(record.cases) | {r.case for r in results}:
        info = record.cases.get(cid) or CaseInfo("(not described in this record)", "required", cid.split(".", 1)[0],
                                                 [], [], [], "", 0, {})
        cases.append({"id": cid, **msgspec.structs.asdict(info)})
    cases.sort(key=lambda c: (c["area"], c["id"]))
    row_index = {c["id"]: i for i, c in enumerate(cases)}
    groups = []
    for g in sorted(per_group):
        info = adapter_info(record, g[0], g[1])
        s = per_group[g]
        groups.append({"adapter": g[0], "version": g[1], "mode": g[2],
                       "framework": (info.framework if info else None) or "",
                       "mode_info": info.modes.get(g[2], "") if info else "",
                       "devices": info.devices if info else [], "available": info.available if info else True,
                       "reason": info.reason if info else None, "capabilities": info.capabilities if info else [],
                       "stale_claims": info.stale_claims if info else [], "bases": info.bases if info else {},
                       "origin": info.origin if info else None, "target": info.target if info else None,
                       "passed": s["passed"], "denominator": s["denominator"], "counts": dict(s["counts"])})
    group_index = {(g["adapter"], g["version"], g["mode"]): i for i, g in enumerate(groups)}
    cells = [{**msgspec.structs.asdict(r), "row": row_index[r.case],
              "col": col_index[(r.adapter, r.framework_version, r.mode, r.device, r.dtype)],
              "group": group_index[group_key(r)]} for r in results]
    return {
        "meta": {"schema_version": record.schema_version, "suite": record.suite, "created": record.created,
                 "host": record.host, "options": record.options, "summary": summary(results),
                 "warnings": record.warnings, "merged_from": record.merged_from or []},
        "statuses": list(STATUSES), "short": SHORT,
        "columns": [{"adapter": a, "version": v, "mode": m, "device": d, "dtype": t, "group": group_index[(a, v, m)]}
                    for a, v, m, d, t in columns],
        "groups": groups, "cases": cases, "results": cells,
        "mode_differences": [dataclasses.asdict(d) for d in differences(record)],
    }


def _embed(data: Any) -> bytes:
    """JSON that cannot end the script element it sits in (on bytes: 150 MB of str
    replacements cost seconds)."""
    text = dumps(data)
    for char, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                      ("\u2029", "\\u2029")):
        text = text.replace(char.encode("utf-8"), esc.encode("ascii"))
    return text


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def release_model(record: RunRecord, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The release view (one table per adapter that ran at several releases, changed
    rows first), the stale version ranges, and the score history."""
    tables = [{"adapter": t.adapter, "releases": t.releases, "changed": len(t.changed),
               "rows": [{"case": r.case, "mode": r.mode, "device": r.device, "dtype": r.dtype,
                         "statuses": [c.status if c else "" for c in r.cells], "texts": r.texts(),
                         "changed_in": r.changed_in} for r in t.rows]}
              for t in release_tables(record.results)]
    return {"tables": tables, "stale_ranges": record.stale_ranges, "history": history}


def render(record: RunRecord | Mapping[str, Any], history: list[dict[str, Any]] | None = None) -> bytes:
    """The dashboard's index.html, UTF-8 encoded; ``history`` is ``gradspec.history.points``."""
    guard, script, releases = _template("guard.js"), _template("dashboard.js"), _template("releases.js")
    csp = ("default-src 'none'; " f"script-src {_sha256(guard)} {_sha256(script)} {_sha256(releases)}; "
           "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")
    page = _template("dashboard.html")
    for token, text in (("@CSP@", csp), ("@CSS@", _template("dashboard.css")), ("@GUARD@", guard),
                        ("@SCRIPT@", script), ("@RELEASES_SCRIPT@", releases)):
        page = page.replace(token, text)
    record = typed(record)
    head, _, tail = page.partition("@DATA@")
    middle, _, tail = tail.partition("@RELEASES@")
    return (head.encode("utf-8") + _embed(model(record)) + middle.encode("utf-8")
            + _embed(release_model(record, history or [])) + tail.encode("utf-8"))


def save(page: bytes, out_dir: Path | str) -> Path:
    """Write a rendered page as the dashboard folder; returns the path of index.html."""
    index = Path(out_dir) / "index.html"
    write_atomic(index, page)
    return index


def write(record: RunRecord | Mapping[str, Any], out_dir: Path | str) -> Path:
    return save(render(record), out_dir)

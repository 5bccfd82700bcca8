"""Static HTML dashboard: one folder with one index.html that opens from disk.

The record travels as JSON inside ``<script type="application/json">`` and the
page script builds every element with DOM APIs and ``textContent``, so record
text (a case id or an error message holding markup) can only ever be text.
A Content-Security-Policy allows exactly the page's own two scripts (by hash)
and no network at all.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from .merge import STATUSES, adapter_info, dtype_rank, group_key, scores
from .schema import json_safe
from .record import write_atomic

TEMPLATES = Path(__file__).with_name("templates")
SHORT = {"PASS": "PASS", "FAIL": "FAIL", "ERROR": "ERROR", "CRASH": "CRASH", "TIMEOUT": "TIMEOUT",
         "MISSING": "MISSING", "XFAIL": "XFAIL", "UNSUPPORTED": "UNSUP", "SKIP": "SKIP", "REFERENCE": "REF"}


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def model(record: Mapping[str, Any]) -> dict[str, Any]:
    """What the page needs, precomputed here so Markdown and HTML agree on the arithmetic:
    columns (adapter x version x mode x device x dtype), rows (cases by area), scores per
    adapter, version and mode."""
    results = record["results"]
    per_group = scores(record)
    columns = sorted({(r["adapter"], r["framework_version"], r["mode"], r["device"], r["dtype"]) for r in results},
                     key=lambda c: (*c[:4], dtype_rank(c[4])))
    col_index = {c: i for i, c in enumerate(columns)}
    case_ids = set(record["cases"]) | {r["case"] for r in results}
    cases = []
    for cid in case_ids:
        info = dict(record["cases"].get(cid) or {"statement": "(not described in this record)", "kind": "required",
                                                 "area": cid.split(".", 1)[0], "tags": [], "requires": [],
                                                 "docs": [], "file": "", "line": 0, "slots": {}})
        cases.append({"id": cid, **info})
    cases.sort(key=lambda c: (c["area"], c["id"]))
    row_index = {c["id"]: i for i, c in enumerate(cases)}
    groups = []
    for g in sorted(per_group):
        info = adapter_info(record, g[0], g[1]) or {}
        s = per_group[g]
        groups.append({"adapter": g[0], "version": g[1], "mode": g[2], "framework": info.get("framework") or "",
                       "mode_info": info.get("modes", {}).get(g[2], ""),
                       "devices": info.get("devices", []), "available": info.get("available", True),
                       "reason": info.get("reason"), "capabilities": info.get("capabilities", []),
                       "stale_claims": info.get("stale_claims", []),
                       "passed": s["passed"], "denominator": s["denominator"], "counts": dict(s["counts"])})
    group_index = {(g["adapter"], g["version"], g["mode"]): i for i, g in enumerate(groups)}
    cells = [{**r, "row": row_index[r["case"]], "col": col_index[(r["adapter"], r["framework_version"], r["mode"],
                                                                     r["device"], r["dtype"])],
              "group": group_index[group_key(r)]} for r in results]
    return {
        "meta": {k: record[k] for k in ("schema_version", "suite", "created", "host", "options", "summary",
                                        "warnings")} | {"merged_from": record.get("merged_from", [])},
        "statuses": list(STATUSES), "short": SHORT,
        "columns": [{"adapter": a, "version": v, "mode": m, "device": d, "dtype": t, "group": group_index[(a, v, m)]}
                    for a, v, m, d, t in columns],
        "groups": groups, "cases": cases, "results": cells,
    }


def _embed(data: Any) -> str:
    """JSON that cannot end the script element it sits in."""
    text = json.dumps(json_safe(data), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                      ("\u2029", "\\u2029")):
        text = text.replace(char, esc)
    return text


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def render(record: Mapping[str, Any]) -> str:
    """The dashboard's index.html as one string."""
    guard, script = _template("guard.js"), _template("dashboard.js")
    csp = ("default-src 'none'; " f"script-src {_sha256(guard)} {_sha256(script)}; "
           "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")
    page = _template("dashboard.html")
    for token, text in (("@CSP@", csp), ("@CSS@", _template("dashboard.css")), ("@GUARD@", guard),
                        ("@SCRIPT@", script)):
        page = page.replace(token, text)
    return page.replace("@DATA@", _embed(model(record)))


def save(page: str, out_dir: Path | str) -> Path:
    """Write a rendered page as the dashboard folder; returns the path of index.html."""
    index = Path(out_dir) / "index.html"
    write_atomic(index, page)
    return index


def write(record: Mapping[str, Any], out_dir: Path | str) -> Path:
    return save(render(record), out_dir)

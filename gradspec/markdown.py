"""Markdown summary of a run record: scores, a case x adapter matrix, the
implementation-defined choices side by side, and what went wrong.

Every piece of record text goes through ``escape`` because case ids, messages
and adapter names are data, not markup: a pull-request comment must not be
reshaped by a stray ``|`` or ``<``, ping someone through an ``@name``, link a
bare URL, or show text reversed by a bidi control character.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any, Mapping

from .merge import STATUSES, Group, adapter_info, group_key, scores, summary
from .mode_diff import compared, differences
from .record_model import Declared, Result, RunRecord, typed

BASES = ("documented", "source", "observed")
PROBLEMS = ("FAIL", "ERROR", "CRASH", "TIMEOUT", "MISSING")
MAX_PROBLEM_ROWS = 100
STALE = {"claimed_but_failing": "declared, but every case that needs it fails",
         "denied_but_working": "not declared, yet cases that need it pass"}
_ESCAPES = {"\\": "\\\\", "`": "\\`", "|": "\\|", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]",
            "<": "&lt;", ">": "&gt;", "&": "&amp;", "\r": " ", "\n": " ", "\t": " ",
            # an invisible word joiner keeps @name from pinging and http:// from turning into a link
            "@": "@\u2060", "://": "\u2060://"}
_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in sorted(_ESCAPES, key=len, reverse=True)))
# C0 and C1 control characters (ESC, BEL, NUL, ...) and the bidi controls that reorder text
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SAFE_URL = re.compile(r"^https?://[^\s()<>\[\]|`\"'@]+\Z")


def printable(text: Any) -> str:
    """Record text with control and bidi-control characters shown as U+FFFD (for any output)."""
    return _UNPRINTABLE.sub("\ufffd", str(text))


def escape(text: Any) -> str:
    """Record text as literal Markdown text, safe inside a table cell."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], printable(text))


def link(label: str, url: str) -> str:
    """A link only for plain http(s) URLs; anything else is shown as text."""
    return f"[{escape(label)}]({url})" if _SAFE_URL.match(url) else escape(url)


def group_label(group: Group) -> str:
    """``torch 2.13.0``, with the mode where it is not eager: ``torch 2.13.0 compiled``."""
    return " ".join(group if group[2] != "eager" else group[:2])


def score_text(passed: int, denominator: int) -> str:
    pct = f" ({100 * passed / denominator:.0f}%)" if denominator else ""
    return f"{passed}/{denominator}{pct}"


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{s} {counts[s]}" for s in STATUSES if counts.get(s))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _header(record: RunRecord) -> list[str]:
    suite, host = record.suite, record.host
    totals = summary(record.results)  # recomputed: a record's own counts are never trusted
    dirty = " (dirty tree)" if suite.dirty else ""
    lines = ["# gradspec conformance report", "",
             f"Suite {escape(suite.version)} at commit {escape(suite.commit)}{dirty}, "
             f"run {escape(record.created)} on {escape(host.hostname)} "
             f"({escape(host.platform)}, Python {escape(host.python)}).", ""]
    if record.merged_from:
        lines += [f"Merged from {len(record.merged_from)} records: "
                  + ", ".join(escape(m.file) for m in record.merged_from) + ".", ""]
    lines += [f"**{totals.total} results, {totals.executed} executed**: "
              + (_counts_text(totals.counts) or "nothing ran") + ".", ""]
    if totals.executed == 0:
        lines += ["**Nothing executed: this run is not green.**", ""]
    return lines


def _scores(record: RunRecord, groups: list[Group], per_group: dict[Group, Any]) -> list[str]:
    rows = []
    for g in groups:
        info = adapter_info(record, g[0], g[1])
        s = per_group[g]
        note = "" if info is None or info.available else f" (unavailable: {escape(info.reason or '')})"
        rows.append([escape(g[0]) + note, escape(info.framework or "" if info else ""), escape(g[1]), escape(g[2]),
                     escape(", ".join(info.devices if info else [])), score_text(s["passed"], s["denominator"]),
                     _counts_text(s["counts"])])
    return ["## Conformance", "",
            "Score: PASS (and XPASS) over every result of a required case (REFERENCE cells excluded), per "
            "adapter, version and execution mode; implementation-defined choices are listed below, not scored.", "",
            *_table(["Adapter", "Framework", "Version", "Mode", "Devices", "Score", "Results"], rows), "",
            *_stale_claims(record)]


def _stale_claims(record: RunRecord) -> list[str]:
    rows = [[escape(name), escape(claim.capability), STALE.get(claim.kind, escape(claim.kind)),
             escape(", ".join(claim.cases))]
            for name, info in sorted(record.adapters.items()) for claim in info.stale_claims]
    if not rows:
        return []
    return ["### Capability declarations the results contradict", "",
            *_table(["Adapter", "Capability", "Finding", "Cases"], rows), ""]


def _matrix(record: RunRecord, groups: list[Group]) -> list[str]:
    cells: dict[tuple[str, Group], Counter[str]] = defaultdict(Counter)
    for r in record.results:
        cells[(r.case, group_key(r))][r.status] += 1
    case_ids = sorted({r.case for r in record.results} | set(record.cases))
    rows = []
    for cid in case_ids:
        case = record.cases.get(cid)
        rows.append([escape(cid), escape(case.kind if case else "?")]
                    + [_counts_text(cells.get((cid, g), {})) or "-" for g in groups])
    return ["## Matrix", "", "Results per case and adapter, over devices and dtypes.", "",
            *_table(["Case", "Kind"] + [escape(group_label(g)) for g in groups], rows), ""]


def basis_text(d: Declared) -> str:
    """What a declared choice rests on; a link only where someone read it there: the quoted
    sentence of the documentation, or the implementing line at a release tag."""
    if d.basis == "documented":
        return f"documented {link('doc', d.doc)} \u201c{escape(d.quote or '')}\u201d"
    if d.basis == "source":
        return f"source {link('line', d.doc)}"
    return escape(d.basis or "basis not stated")


def _choice_text(results: list[Result], slot: str) -> str:
    observed = Counter(r.choices[slot] for r in results if slot in r.choices)
    parts = [escape(label) for label, _ in observed.most_common()]
    declared = [r.declared[slot] for r in results if slot in r.declared]
    undeclared = {d.choice for d in declared} - set(observed)
    if undeclared:
        parts.append("declared: " + ", ".join(escape(d) for d in sorted(undeclared)))
    bad = Counter(r.status for r in results if r.status != "PASS")
    if bad:
        parts.append("(" + _counts_text(bad) + ")")
    parts += sorted({basis_text(d) for d in declared})
    return " ".join(parts) or "-"


def _bases(record: RunRecord) -> list[str]:
    """How many declared choices each adapter's expectation file rests on each basis."""
    rows = [[escape(name)] + [str(info.bases.get(b, 0)) for b in BASES]
            for name, info in sorted(record.adapters.items()) if info.bases]
    if not rows:
        return []
    return ["### What the declared choices rest on", "",
            "documented: a quoted sentence of the documentation; source: the implementing line at a release tag; "
            "observed: only the run.", "", *_table(["Adapter", *BASES], rows), ""]


def _choices(record: RunRecord, groups: list[Group]) -> list[str]:
    by_case: dict[tuple[str, Group], list[Result]] = defaultdict(list)
    observed_slots: dict[str, set[str]] = defaultdict(set)
    for r in record.results:
        by_case[(r.case, group_key(r))].append(r)
        observed_slots[r.case].update(r.choices)
    rows = []
    for cid, case in sorted(record.cases.items()):
        if case.kind != "implementation-defined":
            continue
        for slot in sorted(set(case.slots) | observed_slots[cid]):
            rows.append([escape(cid), escape(slot), escape(", ".join(case.slots.get(slot, [])))]
                        + [_choice_text(by_case.get((cid, g), []), slot) for g in groups])
    if not rows:
        return []
    return ["## Implementation-defined choices", "",
            "What each framework does where several answers are legitimate, the choice its expectation file declares "
            "where it differs, and what that declaration rests on.", "",
            *_table(["Case", "Slot", "Allowed"] + [escape(group_label(g)) for g in groups], rows), "",
            *_bases(record)]


def _eager_versus_compiled(record: RunRecord) -> list[str]:
    """Cases a compiled mode answers differently from eager mode, both outcomes shown."""
    n = compared(record)
    if not n:
        return []
    rows = [[escape(d.case), escape(f"{d.adapter} {d.version}"), escape(d.mode), escape(", ".join(d.cells)),
             "<br>".join(escape(t) for t in d.eager), "<br>".join(escape(t) for t in d.compiled)]
            for d in differences(record)]
    intro = (f"Cases where a framework's compiled mode ends in another status or choice than its eager mode "
             f"on the same version, device and dtype ({n} compiled cells compared).")
    table = _table(["Case", "Adapter", "Mode", "Cells", "Eager", "Compiled"], rows) if rows else \
        ["No compiled cell differs from its eager cell."]
    return ["## Eager versus compiled", "", intro, "", *table, ""]


def _problems(record: RunRecord) -> list[str]:
    bad = [r for r in record.results if r.status in PROBLEMS]
    if not bad:
        return []
    rows = [[escape(r.case), escape(f"{r.adapter} {r.framework_version}"), escape(r.device), escape(r.dtype),
             escape(r.status + (f" ({r.fail_kind})" if r.fail_kind else "")), escape(r.message)]
            for r in bad[:MAX_PROBLEM_ROWS]]
    more = [f"... and {len(bad) - MAX_PROBLEM_ROWS} more.", ""] if len(bad) > MAX_PROBLEM_ROWS else []
    return ["## Problems", "", *_table(["Case", "Adapter", "Device", "dtype", "Status", "Why"], rows), "", *more]


def render(record: RunRecord | Mapping[str, Any]) -> str:
    """The whole Markdown report for one (possibly merged) run record."""
    record = typed(record)
    per_group = scores(record)
    groups = sorted(per_group)
    lines = _header(record) + _scores(record, groups, per_group) + _matrix(record, groups)
    lines += _choices(record, groups) + _eager_versus_compiled(record) + _problems(record)
    if record.warnings:
        lines += ["## Warnings", ""] + [f"- {escape(w)}" for w in record.warnings] + [""]
    return "\n".join(lines)

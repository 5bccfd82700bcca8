"""What changed between two run records, as CI needs it: fixed, broken,
behaviour changed, new crashes, cases added or removed, and whether anything
got worse (the exit status a pull request is gated on).

Cells are matched on (case, adapter, mode, device, dtype) and the framework
version: when each record holds exactly one version of an adapter, the two
versions are matched with each other, so "did the new release change
anything?" is one diff, and the comment opens with the release view's list of
the cells that changed (gradspec.releases), as the dashboard shows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .markdown import escape, link, score_text
from .merge import Cell, cell_key, cell_order, scores
from .record_model import Result, RunRecord, typed
from .releases import ReleaseTable, changed_table, release_tables

BAD = frozenset({"FAIL", "ERROR", "CRASH", "TIMEOUT", "XFAIL", "MISSING"})
GOOD_BEFORE = frozenset({"PASS", "REFERENCE", "XFAIL"})
BROKEN_AFTER = frozenset({"FAIL", "ERROR", "TIMEOUT"})
LOST_AFTER = frozenset({"UNSUPPORTED", "SKIP"})

# (attribute, title, worse?) in the order the report shows them.
CATEGORIES = (
    ("broken", "Broken", True),
    ("new_crash", "New crashes", True),
    ("behaviour_changed", "Behaviour changed", True),
    ("newly_unsupported", "Newly unsupported or skipped", True),
    ("removed_cases", "Cases removed", True),
    ("removed_cells", "Cells no longer reported (absent or MISSING)", True),
    ("fixed", "Fixed", False),
    ("other", "Other status changes", False),
    ("added_cases", "Cases added", False),
    ("added_cells", "Cells newly reported", False),
)
MAX_ROWS = 50
MAX_DETAIL = 300
MAX_COMMENT = 65_000  # a GitHub comment holds 65,536 characters
TRUNCATED = "**{n} changed cells are not listed here, to keep the comment within a pull request's limit**{where}"


@dataclass
class Change:
    """One cell (or case) that differs; ``before``/``after`` are results or None."""

    case: str
    before: Result | None = None
    after: Result | None = None
    detail: str = ""


@dataclass
class Diff:
    base_name: str
    head_name: str
    base: RunRecord
    head: RunRecord
    version_pairs: dict[str, tuple[str, str]] = field(default_factory=dict)
    changes: dict[str, list[Change]] = field(default_factory=lambda: {c: [] for c, _, _ in CATEGORIES})
    releases: list[ReleaseTable] = field(default_factory=list)

    @property
    def worse(self) -> bool:
        return any(self.changes[c] for c, _, bad in CATEGORIES if bad)

    def count(self, worse: bool) -> int:
        return sum(len(self.changes[c]) for c, _, bad in CATEGORIES if bad == worse)


def _version_map(base: RunRecord, head: RunRecord) -> dict[str, tuple[str, str]]:
    """adapter -> (base version, head version) where each side holds one version and they differ."""
    def versions(rec: RunRecord) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for r in rec.results:
            out.setdefault(r.adapter, set()).add(r.framework_version)
        return out

    vb, vh = versions(base), versions(head)
    return {a: (next(iter(vb[a])), next(iter(vh[a]))) for a in vb.keys() & vh.keys()
            if len(vb[a]) == 1 and len(vh[a]) == 1 and vb[a] != vh[a]}


def _choice_detail(before: Result, after: Result) -> str:
    slots = sorted(set(before.choices) | set(after.choices))
    return "; ".join(f"{s}: {before.choices.get(s, '-')} -> {after.choices.get(s, '-')}"
                     for s in slots if before.choices.get(s) != after.choices.get(s))


def _classify(b: Result, a: Result, impl_defined: bool) -> tuple[str, str] | None:
    sb, sa = b.status, a.status
    choices = _choice_detail(b, a) if impl_defined else ""
    if sa == "CRASH" and sb != "CRASH":
        return "new_crash", a.message
    if sa == "MISSING" and sb != "MISSING":
        return "removed_cells", a.message
    if sa == "PASS" and sb in BAD:
        return "fixed", ""
    if sb in GOOD_BEFORE and sa in BROKEN_AFTER:
        return "broken", "; ".join(x for x in (choices, a.message) if x)
    if sb == "PASS" and sa in LOST_AFTER:
        return "newly_unsupported", a.message
    if choices:
        return "behaviour_changed", choices
    if sa != sb:
        return "other", a.message
    return None


def diff(base: RunRecord | Any, head: RunRecord | Any, base_name: str = "base",
         head_name: str = "head") -> Diff:
    """Compare two records."""
    base, head = typed(base), typed(head)
    d = Diff(base_name, head_name, base, head, _version_map(base, head))
    d.releases = [t for t in release_tables([*base.results, *head.results], d.version_pairs) if t.changed]

    def aligned(r: Result) -> Cell:
        case, adapter, version, mode, device, dtype = cell_key(r)
        if adapter in d.version_pairs and version == d.version_pairs[adapter][1]:
            version = d.version_pairs[adapter][0]
        return (case, adapter, version, mode, device, dtype)

    before = {cell_key(r): r for r in base.results}
    after = {aligned(r): r for r in head.results}
    base_cases, head_cases = set(base.cases), set(head.cases)
    d.changes["added_cases"] = [Change(c, detail=head.cases[c].statement)
                                for c in sorted(head_cases - base_cases)]
    d.changes["removed_cases"] = [Change(c, detail=base.cases[c].statement)
                                  for c in sorted(base_cases - head_cases)]
    order = sorted(before.keys() | after.keys(), key=cell_order)
    for key in order:
        b, a = before.get(key), after.get(key)
        case = key[0]
        if b is None or a is None:
            if case in base_cases and case in head_cases:
                d.changes["added_cells" if b is None else "removed_cells"].append(Change(case, b, a))
            continue
        kind = getattr(head.cases.get(case), "kind", None)
        verdict = _classify(b, a, kind == "implementation-defined")
        if verdict:
            d.changes[verdict[0]].append(Change(case, b, a, verdict[1]))
    return d


def _where(c: Change) -> list[str]:
    r = c.after or c.before
    if r is None:
        return [escape(c.case), "", "", ""]
    version = r.framework_version
    if c.before and c.after and c.before.framework_version != c.after.framework_version:
        version = f"{c.before.framework_version} -> {c.after.framework_version}"
    mode = "" if r.mode == "eager" else f" {r.mode}"
    return [escape(c.case), escape(f"{r.adapter} {version}{mode}"), escape(r.device), escape(r.dtype)]


def _status(r: Result | None) -> str:
    if r is None:
        return "-"
    return escape(r.status + (f" ({r.fail_kind})" if r.fail_kind else ""))


def _detail(text: str) -> str:
    return escape(text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL - 3] + "...")


def _section(title: str, changes: list[Change], cases_only: bool) -> tuple[list[str], list[str]]:
    """The section's head (title, table header) and its rows."""
    if cases_only:
        head = [f"### {title} ({len(changes)})", "", "| Case | Statement |", "|---|---|"]
        rows = [f"| {escape(c.case)} | {_detail(c.detail)} |" for c in changes[:MAX_ROWS]]
    else:
        head = [f"### {title} ({len(changes)})", "", "| Case | Adapter | Device | dtype | Before | After | Detail |",
                "|---|---|---|---|---|---|---|"]
        rows = ["| " + " | ".join(_where(c) + [_status(c.before), _status(c.after), _detail(c.detail)]) + " |"
                for c in changes[:MAX_ROWS]]
    return head, rows


def _scores(d: Diff) -> list[str]:
    sb, sa = scores(d.base), scores(d.head)
    pairs = {(a, vb, m): (a, vh, m) for a, (vb, vh) in d.version_pairs.items() for m in _modes(d, a)}
    targets = set(pairs.values())
    rows = []
    for g in sorted(set(sb) | {h for h in sa if h not in targets}):
        h = pairs.get(g, g)
        old = score_text(sb[g]["passed"], sb[g]["denominator"]) if g in sb else "-"
        new = score_text(sa[h]["passed"], sa[h]["denominator"]) if h in sa else "-"
        version = g[1] if h == g else f"{g[1]} -> {h[1]}"
        rows.append(f"| {escape(g[0])} | {escape(version)} | {escape(g[2])} | {old} | {new} |")
    return ["| Adapter | Version | Mode | Base score | Head score |", "|---|---|---|---|---|", *rows, ""]


def _modes(d: Diff, adapter: str) -> set[str]:
    return {r.mode for rec in (d.base, d.head) for r in rec.results if r.adapter == adapter}


def render(d: Diff, max_chars: int | None = MAX_COMMENT, full_report: str = "") -> str:
    """Markdown for a pull-request comment: at most ``max_chars`` characters (GitHub keeps
    65,536); rows that do not fit are counted and ``full_report`` (a link or path to the
    whole diff) is named."""
    verdict = (f"**{d.count(True)} change(s) for the worse**" if d.worse else "**Nothing got worse**")
    lines = ["## gradspec diff", "",
             f"{verdict}; {d.count(False)} other change(s).", "",
             f"Base: {escape(d.base_name)} (commit {escape(d.base.suite.commit)}, {escape(d.base.created)}). "
             f"Head: {escape(d.head_name)} (commit {escape(d.head.suite.commit)}, "
             f"{escape(d.head.created)}).", ""]
    lines += _scores(d)
    summary = [f"| {title} | {len(d.changes[c])} | {'yes' if bad else 'no'} |" for c, title, bad in CATEGORIES]
    lines += ["| Change | Count | Worse |", "|---|---|---|", *summary, ""]
    budget = (max_chars or 0) - len(TRUNCATED) - len(full_report) - 200 - sum(len(x) + 1 for x in lines)
    left_out = 0
    sections = [(*changed_table(t, MAX_ROWS), len(t.changed)) for t in d.releases]
    sections += [(*_section(title, d.changes[c], c.endswith("_cases")), len(d.changes[c]))
                 for c, title, _ in CATEGORIES if d.changes[c]]
    for head, rows, total in sections:
        shown = len(rows)
        if max_chars is not None:
            budget -= sum(len(x) + 1 for x in head) + 2
            shown = 0
            while shown < len(rows) and budget - len(rows[shown]) - 1 >= 0:
                budget -= len(rows[shown]) + 1
                shown += 1
        left_out += total - shown
        if shown or max_chars is None or budget > 0:
            lines += head + rows[:shown]
            hidden = total - shown
            lines += ["", f"... and {hidden} more."] if hidden else []
            lines += [""]
    if left_out and max_chars is not None:
        lines += [TRUNCATED.format(n=left_out, where=f": {link('the full diff', full_report)}" if full_report else
                                   " (run `gradspec diff` on the two records for all of it)")]
    return "\n".join(lines)

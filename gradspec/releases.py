"""Releases as an axis: which cells changed between releases of one framework, and
which declared version ranges the runs contradict.

A record that holds several releases of an adapter (a merge of release
environments, or the two sides of ``gradspec diff``) answers two questions CI
dashboards ask: what changed when the framework moved to a new release, and
which expectation-file ranges claim a release where something else was observed
(a *stale range*: the entry must be narrowed or split).  The dashboard, the
diff and the end-of-run summary all use the lists made here.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from packaging.version import InvalidVersion, Version

from .record_model import (AbsentOutcome, DictOutcome, InfoOutcome, ListOutcome, RaisedOutcome, Result, SparseOutcome,
                           StaleRange, ValueOutcome, ZerosOutcome)

# (case, mode, device, dtype): one row of the release view.
Row = tuple[str, str, str, str]


def release_order(version: str) -> tuple[int, Any, str]:
    """Releases in version order; a version that is not PEP 440 sorts after, by name."""
    try:
        return (0, Version(version), version)
    except InvalidVersion:
        return (1, None, version)


def stale_ranges(results: Iterable[Result]) -> list[StaleRange]:
    """Declared choices whose version range covers a release where the run observed
    another choice, one entry per (adapter, case, slot, declared choice, range), with
    every release that contradicts it.  A cell matched to a listed known bug (XFAIL) is
    explained, not stale."""
    found: dict[tuple[str, str, str, str, str], dict[str, set[str]]] = {}
    for r in results:
        if r.known_bug is not None:
            continue
        for slot, declared in r.declared.items():
            observed = r.choices.get(slot)
            if observed is None or observed == declared.choice:
                continue
            key = (r.adapter, r.case, slot, declared.choice, declared.versions)
            found.setdefault(key, defaultdict(set))[r.framework_version].add(observed)
    return [StaleRange(adapter=adapter, case=case, slot=slot, declared=choice, versions=versions,
                       observed={v: sorted(obs) for v, obs in sorted(per.items(), key=lambda kv: release_order(kv[0]))})
            for (adapter, case, slot, choice, versions), per in sorted(found.items())]


def outcome_shape(tree: Any) -> Any:
    """What an answer was, without its numbers: the outcome kind, dtype and shape
    (and the error kind), so a last-bit difference between releases is no change."""
    if isinstance(tree, list):
        return [outcome_shape(t) for t in tree]
    if isinstance(tree, ValueOutcome):
        return ("Value", tree.array.dtype, tuple(tree.array.shape))
    if isinstance(tree, ZerosOutcome):
        return ("Zeros", tree.dtype, tuple(tree.shape or ()))
    if isinstance(tree, SparseOutcome):
        return ("Sparse", tuple(tree.dense_shape))
    if isinstance(tree, RaisedOutcome):
        return ("Raised", tree.kind)
    if isinstance(tree, AbsentOutcome):
        return ("Absent",)
    if isinstance(tree, InfoOutcome):
        return ("Info", repr(tree.value))
    if isinstance(tree, ListOutcome):
        return ("List", outcome_shape(tree.items))
    if isinstance(tree, DictOutcome):
        return ("Dict", {k: outcome_shape(v) for k, v in tree.items.items()})
    return tree


def cell_text(r: Result | None) -> str:
    """A cell as the release view shows it: status, fail kind, observed choices."""
    if r is None:
        return "-"
    text = r.status + (f" ({r.fail_kind})" if r.fail_kind else "")
    if r.choices:
        text += " " + ", ".join(f"{v}" if s in ("choice", "*") else f"{s}={v}" for s, v in sorted(r.choices.items()))
    return text


def _signature(r: Result) -> Any:
    return (r.status, r.fail_kind, tuple(sorted(r.choices.items())), outcome_shape(r.observed))


@dataclass
class ReleaseRow:
    """One (case, mode, device, dtype) of one adapter across its releases."""

    case: str
    mode: str
    device: str
    dtype: str
    cells: list[Result | None]
    changed_in: list[str]   # the releases whose cell differs from the release before

    def texts(self) -> list[str]:
        return [cell_text(c) for c in self.cells]


@dataclass
class ReleaseTable:
    """One adapter: one column per release, the rows that changed first."""

    adapter: str
    releases: list[str]
    rows: list[ReleaseRow]

    @property
    def changed(self) -> list[ReleaseRow]:
        return [r for r in self.rows if r.changed_in]


def release_tables(results: Iterable[Result], adapters: Iterable[str] | None = None) -> list[ReleaseTable]:
    """Per adapter that ran at two releases or more, its cells side by side per release.
    A row changed in release R when its status, fail kind, observed choice or kind of
    answer differs from the nearest earlier release that has the cell."""
    from .merge import dtype_rank  # merge imports this module

    by_adapter: dict[str, dict[Row, dict[str, Result]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        if adapters is None or r.adapter in adapters:
            by_adapter[r.adapter][(r.case, r.mode, r.device, r.dtype)][r.framework_version] = r
    tables = []
    for adapter, rows in sorted(by_adapter.items()):
        releases = sorted({v for per in rows.values() for v in per}, key=release_order)
        if len(releases) < 2:
            continue
        out = []
        for (case, mode, device, dtype), per in rows.items():
            cells = [per.get(v) for v in releases]
            changed, before = [], None
            for version, cell in zip(releases, cells):
                if cell is None or cell.status == "MISSING":
                    continue
                if before is not None and _signature(before) != _signature(cell):
                    changed.append(version)
                before = cell
            out.append(ReleaseRow(case, mode, device, dtype, cells, changed))
        out.sort(key=lambda row: (not row.changed_in, row.case, row.mode, row.device, dtype_rank(row.dtype)))
        tables.append(ReleaseTable(adapter, releases, out))
    return tables


def stale_range_text(s: StaleRange) -> str:
    """One line: the entry, its range and the releases that contradict it."""
    slot = "" if s.slot in ("choice", "*") else f" slot {s.slot}"
    where = "; ".join(f"{v}: {', '.join(obs)}" for v, obs in s.observed.items())
    return (f"{s.adapter} {s.case}{slot}: declared '{s.declared}' for versions '{s.versions or 'all'}', "
            f"observed {where}")


def changed_table(t: ReleaseTable, limit: int) -> tuple[list[str], list[str]]:
    """Markdown: the title and header, and up to ``limit`` rows of the cells of one adapter
    that changed between its releases, each with the release in which it changed."""
    from .markdown import escape  # markdown imports merge, which imports this module

    changed = t.changed
    head = [f"### {escape(t.adapter)}: changed between releases ({len(changed)})", "",
            "| Case | Mode | Device | dtype | " + " | ".join(escape(v) for v in t.releases) + " | Changed in |",
            "|---|---|---|---|" + "---|" * len(t.releases) + "---|"]
    rows = ["| " + " | ".join([escape(r.case), escape(r.mode), escape(r.device), escape(r.dtype),
                               *(escape(x) for x in r.texts()), escape(", ".join(r.changed_in))]) + " |"
            for r in changed[:limit]]
    return head, rows


def markdown(results: list[Result], ranges: list[StaleRange]) -> str:
    """The release view for the Markdown report: per adapter that ran at several releases,
    the releases compared and the cells that changed; then the stale ranges.  Empty
    when the record holds one release of each adapter and no stale range."""
    from .markdown import escape

    tables = release_tables(results)
    if not tables and not ranges:
        return ""
    lines = ["## Releases", ""]
    for t in tables:
        if not t.changed:
            lines += [f"{escape(t.adapter)}: releases {escape(', '.join(t.releases))}, {len(t.rows)} cells compared, "
                      "none changed.", ""]
            continue
        head, rows = changed_table(t, len(t.changed))
        lines += head + rows + [""]
    if ranges:
        lines += [f"### Stale version ranges ({len(ranges)})", ""]
        lines += [f"- {escape(stale_range_text(s))}" for s in ranges] + [""]
    return "\n".join(lines)

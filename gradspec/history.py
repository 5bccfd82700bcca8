"""Several records of one framework/release set taken on different dates: the
newest is the one reported, and every one of them is a point of the trend.

A nightly CI job keeps its published records; ``gradspec report`` given all of
them shows, per adapter, the conformance score over time.  Records that share
cells are one series on several dates; records that share none are the jobs or
shards of one run and are merged as before.  A history is best given as merged
records, one per date.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from .merge import Cell, cell_key, scores
from .record_model import RunRecord

Named = tuple[str, RunRecord]


def _when(record: RunRecord) -> tuple[int, Any]:
    """A record's date for ordering; an unparsable one sorts first, by its text."""
    try:
        when = _dt.datetime.fromisoformat(record.created)
        return (1, when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc))
    except ValueError:
        return (0, record.created)


def split(records: list[Named]) -> tuple[list[Named], list[Named]]:
    """(the records to report: the newest of each series, in the given order; every record
    of a series of two or more, oldest first).  Records that share a cell (the same case,
    adapter, release, mode, device and dtype) are one series taken on several dates;
    records that share none (the jobs or shards of one run) are merged as before."""
    series: list[tuple[set[Cell], list[Named]]] = []
    for named in records:
        cells = {cell_key(r) for r in named[1].results}
        joined = [s for s in series if not s[0].isdisjoint(cells)]
        if not joined:
            series.append((cells, [named]))
            continue
        keep = joined[0]
        for other in joined[1:]:
            keep[0].update(other[0])
            keep[1].extend(other[1])
            series.remove(other)
        keep[0].update(cells)
        keep[1].append(named)
    newest = {id(max(members, key=lambda nr: _when(nr[1]))) for _, members in series}
    current = [nr for nr in records if id(nr) in newest]
    repeated = sorted((nr for _, members in series if len(members) > 1 for nr in members), key=lambda nr: _when(nr[1]))
    return current, repeated


def points(records: list[Named]) -> list[dict[str, Any]]:
    """Per adapter, one series per (release, mode): the score of each record, by date."""
    series: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name, rec in sorted(records, key=lambda nr: _when(nr[1])):
        for (adapter, version, mode), s in sorted(scores(rec).items()):
            label = version + ("" if mode == "eager" else f" {mode}")
            series.setdefault(adapter, {}).setdefault(label, []).append(
                {"created": rec.created, "passed": s["passed"], "denominator": s["denominator"],
                 "commit": rec.suite.commit, "file": name})
    return [{"adapter": adapter, "series": [{"label": label, "points": pts} for label, pts in per.items()]}
            for adapter, per in sorted(series.items())]


def markdown(history: list[dict[str, Any]]) -> str:
    """The trend as a Markdown table: one row per adapter and release, the scores by date."""
    from .markdown import escape, score_text

    lines = ["## Conformance over time", "", "| Adapter | Release | Scores, oldest first |", "|---|---|---|"]
    for entry in history:
        for s in entry["series"]:
            trend = ", ".join(f"{escape(p['created'][:16].replace('T', ' '))}: {score_text(p['passed'], p['denominator'])}"
                              for p in s["points"])
            lines.append(f"| {escape(entry['adapter'])} | {escape(s['label'])} | {trend} |")
    return "\n".join(lines) + "\n"

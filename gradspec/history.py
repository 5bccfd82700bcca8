"""Several records of one framework/release set taken on different dates: the
newest is the one reported, and every one of them is a point of the trend.

A nightly CI job keeps its published records; ``gradspec report`` given all of
them shows, per adapter, the conformance score over time.  Records are grouped
by what they ran (the set of adapter, release and mode); records of different
sets are jobs of one run and are merged as before.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from .merge import scores
from .record_model import RunRecord

Named = tuple[str, RunRecord]


def _when(record: RunRecord) -> tuple[int, Any]:
    """A record's date for ordering; an unparsable one sorts first, by its text."""
    try:
        when = _dt.datetime.fromisoformat(record.created)
        return (1, when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc))
    except ValueError:
        return (0, record.created)


def _ran(record: RunRecord) -> frozenset[tuple[str, str, str]]:
    return frozenset((r.adapter, r.framework_version, r.mode) for r in record.results)


def split(records: list[Named]) -> tuple[list[Named], list[Named]]:
    """(the newest record of each framework/release set, in the given order; every record
    of a set that appears more than once, oldest first).  The second list is empty
    when no set was given twice: there is no history to show."""
    newest: dict[frozenset[tuple[str, str, str]], Named] = {}
    count: dict[frozenset[tuple[str, str, str]], int] = {}
    for named in records:
        key = _ran(named[1])
        count[key] = count.get(key, 0) + 1
        if key not in newest or _when(named[1]) >= _when(newest[key][1]):
            newest[key] = named
    current = [nr for nr in records if newest[_ran(nr[1])] is nr]
    repeated = sorted((nr for nr in records if count[_ran(nr[1])] > 1), key=lambda nr: _when(nr[1]))
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
            trend = ", ".join(f"{escape(p['created'][:10])}: {score_text(p['passed'], p['denominator'])}"
                              for p in s["points"])
            lines.append(f"| {escape(entry['adapter'])} | {escape(s['label'])} | {trend} |")
    return "\n".join(lines) + "\n"

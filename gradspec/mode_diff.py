"""Eager versus compiled: where a framework's compiled mode answers a case
differently from its eager mode.

A compiler re-implements differentiation, so the same case on the same
framework, version, device and dtype may end in another status (a compiled
FAIL, an UNSUPPORTED the compiler documents) or make another implementation-
defined choice.  Each such case is listed once per framework and compiled
mode, with both outcomes, for the Markdown summary and the dashboard alike.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from .modes import EAGER
from .record_model import Result, RunRecord

MESSAGE_CHARS = 160


@dataclass(frozen=True)
class ModeDifference:
    """One case on one framework version whose compiled mode differs from eager
    in some cells; ``eager`` and ``compiled`` are the outcomes of those cells."""

    case: str
    adapter: str
    version: str
    mode: str
    cells: list[str]
    eager: list[str]
    compiled: list[str]


def outcome_key(r: Result) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What is compared: the status and the implementation-defined choices."""
    return r.status, tuple(sorted(r.choices.items()))


def outcome_text(r: Result) -> str:
    """The status, the choices made, and why a cell did not pass."""
    parts = [r.status + (f" ({r.fail_kind})" if r.fail_kind else "")]
    parts += [f"{slot}={choice}" for slot, choice in sorted(r.choices.items())]
    if r.status not in ("PASS", "XPASS") and r.message:
        parts.append(r.message[:MESSAGE_CHARS])
    return ": ".join(parts)


def _counted(texts: list[str]) -> list[str]:
    return [t if n == 1 else f"{t} (x{n})" for t, n in Counter(texts).most_common()]


def compared(record: RunRecord) -> int:
    """How many compiled cells have an eager cell to compare with."""
    eager = {(r.case, r.adapter, r.framework_version, r.device, r.dtype) for r in record.results if r.mode == EAGER}
    return sum(1 for r in record.results
               if r.mode != EAGER and (r.case, r.adapter, r.framework_version, r.device, r.dtype) in eager)


def differences(record: RunRecord) -> list[ModeDifference]:
    """Every (case, framework version, compiled mode) with a cell whose outcome
    differs from the eager cell of the same device and dtype, sorted."""
    eager = {(r.case, r.adapter, r.framework_version, r.device, r.dtype): r
             for r in record.results if r.mode == EAGER}
    found: dict[tuple[str, str, str, str], list[tuple[Result, Result]]] = defaultdict(list)
    for r in record.results:
        base = eager.get((r.case, r.adapter, r.framework_version, r.device, r.dtype))
        if r.mode != EAGER and base is not None and outcome_key(base) != outcome_key(r):
            found[(r.case, r.adapter, r.framework_version, r.mode)].append((base, r))
    return [ModeDifference(case, adapter, version, mode,
                           cells=sorted(f"{c.device} {c.dtype}" for _, c in pairs),
                           eager=_counted([outcome_text(e) for e, _ in pairs]),
                           compiled=_counted([outcome_text(c) for _, c in pairs]))
            for (case, adapter, version, mode), pairs in sorted(found.items())]

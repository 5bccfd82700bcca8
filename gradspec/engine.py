"""Runs one item (case x adapter x mode x device x dtype) and produces its result.

This is where a crashing adapter is contained: whatever it raises costs only
its own result (ERROR), and the judge only ever sees typed answers.
"""
from __future__ import annotations

import signal
import threading
import time
import traceback
from dataclasses import dataclass, field, fields
from typing import Any

from .adapter import Adapter
from .case import Case, Kind
from .expect import uses_oracle
from .expected_values import ExpectationFailed, encode_expectation, resolve
from .expectation_file import Declaration
from .judge import Judge, declared_summary
from .modes import EAGER
from .outcomes import Unsupported, encode_outcome
from .program import Program, RunContext
from .requests import REQUEST_CAPABILITY
from .tolerance import for_item

STATUSES = ("PASS", "FAIL", "UNSUPPORTED", "SKIP", "ERROR", "TIMEOUT", "CRASH", "REFERENCE", "XFAIL", "XPASS")
EXECUTED = frozenset({"PASS", "FAIL", "ERROR", "TIMEOUT", "CRASH", "REFERENCE", "XFAIL", "XPASS"})


class CaseTimeout(BaseException):
    """The item ran past its time limit.  A BaseException, so that an adapter's
    per-request `except Exception` cannot swallow it."""


@dataclass
class ItemResult:
    case: str
    adapter: str
    framework_version: str
    device: str
    dtype: str
    status: str
    mode: str = EAGER
    fail_kind: str | None = None
    message: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    declared: dict[str, dict[str, str]] = field(default_factory=dict)
    expected: list[Any] | None = None
    observed: list[Any] | None = None
    error: dict[str, str] | None = None
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    tolerance: dict[str, float] | None = None
    duration_s: float = 0.0
    oracle_s: float = 0.0  # of duration_s, the time spent computing expected values (0 when cached)
    settings: dict[str, Any] = field(default_factory=dict)  # framework settings the item ran under
    compile_stats: dict[str, int] | None = None  # what a compiled mode's compiler did for this item
    stale_denial: list[str] = field(default_factory=list)  # capabilities denied yet working here
    known_bug: str | None = None  # the listed bug this cell failed as (XFAIL) or no longer fails as (XPASS)

    def to_json(self) -> dict[str, Any]:
        """A shallow dict: the fields already hold JSON values (asdict's deep copy costs ~1 ms an item)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class TimeLimit:
    """Interrupt the item after ``seconds`` (main thread only; POSIX timers).  ``expired``
    stays true once the limit fired, so an adapter that catches the interruption and
    carries on is still a TIMEOUT."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expired = False
        self._active = bool(seconds) and threading.current_thread() is threading.main_thread() \
            and hasattr(signal, "setitimer")
        self._previous: Any = None

    def _expire(self, signum: int, frame: Any) -> None:
        self.expired = True
        raise CaseTimeout(f"ran past the per-item limit of {self.seconds:g} s")

    def __enter__(self) -> "TimeLimit":
        if self._active:
            self._previous = signal.signal(signal.SIGALRM, self._expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)


def needed_capabilities(case: Case) -> set[str]:
    """What a case requires, with the capabilities its request types imply."""
    return set(case.requires) | {REQUEST_CAPABILITY[type(r)] for r in case.requests if type(r) in REQUEST_CAPABILITY}


def missing_capabilities(case: Case, adapter_cls: type[Adapter], mode: str = EAGER) -> list[str]:
    return sorted(needed_capabilities(case) - set(adapter_cls.capabilities_in(mode)))


def _lacks(adapter: Adapter, missing: list[str], mode: str) -> str:
    """Why the item is UNSUPPORTED: the missing capabilities, with the mode's documented reasons."""
    limits = adapter.mode_limits.get(mode, {})
    why = "; ".join(f"{cap} in {mode} mode: {limits[cap]}" for cap in missing if cap in limits)
    return f"adapter '{adapter.name}' lacks capabilities {missing}" + (f" ({why})" if why else "")


def run_item(case: Case, adapter: Adapter, device: str, dtype: str, version: str,
             entry: Declaration | None, timeout: float | None = None, mode: str = EAGER) -> ItemResult:
    """Execute and judge one item.  ``device`` is the adapter's own device name."""
    start = time.perf_counter()
    ctx = RunContext(dtype, device, mode=mode)
    result = ItemResult(case.id, adapter.name, version, device, dtype, "PASS", mode=mode,
                        declared=declared_summary(entry, {s.slot: s for s in case.impl_slots}))

    def finish(status: str, message: str = "", **extra: Any) -> ItemResult:
        result.status, result.message = status, message
        for k, v in extra.items():
            setattr(result, k, v)
        result.duration_s = round(time.perf_counter() - start, 6)
        return result

    missing = missing_capabilities(case, type(adapter), mode)
    if adapter.reference and case.kind is Kind.IMPLEMENTATION_DEFINED:
        return finish("UNSUPPORTED", "the reference states no convention: implementation-defined cases sit at "
                                     "kinks, ties or singular points, where finite differences mean nothing")
    if set(missing) & adapter.not_applicable:
        return finish("UNSUPPORTED", _lacks(adapter, missing, mode))
    if dtype not in adapter.dtypes:
        return finish("UNSUPPORTED", f"adapter '{adapter.name}' does not run {dtype} (runs {list(adapter.dtypes)})")
    tol = for_item(dtype, case.tolerance.get(dtype), entry.tolerance.get(dtype) if entry else None)
    result.tolerance = {"rtol": tol.rtol, "atol": tol.atol}
    limit = TimeLimit(timeout)  # the case body runs in both: the oracle's differences and the adapter
    try:
        with limit:
            oracle_start = time.perf_counter()
            try:
                expected = resolve(case, dtype)
            finally:
                result.oracle_s = round(time.perf_counter() - oracle_start, 6)
            result.expected = [encode_expectation(e) for e in expected]
            result.settings = adapter.settings(ctx)
            observed = adapter.execute(Program.for_case(case, dtype), ctx)
    except Unsupported as exc:
        return finish("UNSUPPORTED", exc.reason)
    except (CaseTimeout, Exception) as exc:
        if isinstance(exc, CaseTimeout):
            return finish("TIMEOUT", str(exc), error=_error(exc))
        if result.expected is None:  # the case's own expected values could not be computed
            why = str(exc) if isinstance(exc, ExpectationFailed) else \
                f"case '{case.id}': computing the expected values failed: {type(exc).__name__}: {exc}"
            return finish("ERROR", why, error=_error(exc))
        if missing:  # it was only tried because a stale denial is worth knowing
            return finish("UNSUPPORTED", _lacks(adapter, missing, mode))
        # the adapter or the body broke: only this item pays
        return finish("ERROR", f"adapter '{adapter.name}' raised {type(exc).__name__}: {exc}", error=_error(exc))
    finally:
        result.compile_stats = dict(ctx.stats) or None
    if limit.expired:  # the adapter caught the interruption and carried on
        return finish("TIMEOUT", f"ran past the per-item limit of {timeout:g} s; the adapter caught the "
                                 f"interruption and went on, so its answer is not judged")
    try:
        result.observed = [encode_outcome(a) for a in observed]
    except TypeError as exc:
        return finish("ERROR", f"adapter '{adapter.name}' answered something that is not an outcome: {exc}",
                      error=_error(exc))
    verdict = Judge(dtype, tol, reference=adapter.reference).verdict(expected, observed, entry)
    result.choices = verdict.choices
    result.max_abs_err, result.max_rel_err = verdict.max_abs_err, verdict.max_rel_err
    if missing:  # a declared opt-out is never a pass, but a denial that works is worth knowing
        result.stale_denial = missing if verdict.ok else []
        stale = "; it ran and passed anyway, so the denial looks stale" if verdict.ok else ""
        return finish("UNSUPPORTED", _lacks(adapter, missing, mode) + stale)
    if adapter.reference and any(uses_oracle(e) for e in case.expect):
        return finish("REFERENCE", "expected values come from this adapter (the finite-difference oracle)")
    bugs = entry.known_bugs if entry is not None else ()
    if verdict.ok:
        if bugs:  # a listed bug that no longer fails: the entry is stale
            return finish("XPASS", f"passes although the expectation file lists the known bug "
                                   f"{', '.join(b.link for b in bugs)}; the entry looks stale",
                          known_bug=bugs[0].link)
        return finish("PASS")
    bug = entry.known_bug_for(verdict.fail_kind, verdict.message) if entry is not None else None
    if bug is not None:
        return finish("XFAIL", f"known bug {bug.link}: {verdict.message}", fail_kind=verdict.fail_kind,
                      known_bug=bug.link)
    if bugs:
        listed = "; ".join(f"{b.link} ({b.fail_kind}{f', message ~ {b.message!r}' if b.message else ''})"
                           for b in bugs)
        return finish("FAIL", f"{verdict.message} [this is not the listed known bug: {listed}]",
                      fail_kind=verdict.fail_kind)
    return finish("FAIL", verdict.message, fail_kind=verdict.fail_kind)


def _error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__module__ + "." + type(exc).__qualname__, "message": str(exc)[:2000],
            "traceback": "".join(traceback.format_exception(exc))[-6000:]}

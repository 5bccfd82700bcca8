"""``gradspec check MODULE:CLASS``: an adapter checked in seconds before its
first full run.

It imports the adapter, checks its declarations against the catalog
(capabilities, dtypes, modes, the op table, the expectation file), runs a
handful of smoke cases through the engine, and forecasts the full run: how
many items each status gets from the declarations alone.  Problems are what a
full run would report as ERROR, or as results that mean nothing.
"""
from __future__ import annotations

import inspect
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from . import expectation_file, numpy_ops
from .adapter import Adapter
from .case import CAPABILITIES, DTYPES, Case, Kind
from .discovery import load_spec
from .engine import missing_capabilities, run_item
from .expect import uses_oracle
from .modes import EAGER
from .requests import Probe

# Vocabulary entries with no NumPy reference: an op registered without a gradient.
EXTRA_OPS = frozenset({"no_gradient_op"})
SMOKE_CASES = ("tape.square_variable", "tape.sources_list", "tape.sources_dict", "tape.intermediate_source",
               "ops.unary.exp", "ops.reduce.sum_axis1", "tape.unconnected_source")
SMOKE_TIMEOUT = 30.0


def vocabulary() -> frozenset[str]:
    """The op names a case body may use: gradspec/numpy_ops.py's public functions."""
    return frozenset(name for name, fn in vars(numpy_ops).items() if not name.startswith("_")
                     and inspect.isfunction(fn) and fn.__module__ == numpy_ops.__name__) | EXTRA_OPS


@dataclass
class CheckReport:
    """What ``check`` found: lines in order (level, text), and the forecast."""

    target: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    forecast: dict[str, int] = field(default_factory=dict)

    def add(self, level: str, text: str) -> None:
        self.lines.append((level, text))

    @property
    def problems(self) -> list[str]:
        return [text for level, text in self.lines if level == "problem"]

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "ok": not self.problems, "problems": self.problems,
                "lines": [{"level": lv, "text": t} for lv, t in self.lines], "forecast": self.forecast}

    def render(self) -> str:
        out = [f"{level:<9} {text}" for level, text in self.lines]
        if self.forecast:
            total = self.forecast.get("items", 0)
            out.append(f"forecast  a full run on cpu: {total} items")
            out += [f"            {n:>6}  {what}" for what, n in self.forecast.items() if what != "items"]
        out.append(f"{len(self.problems)} problem(s)" if self.problems else "no problems found")
        return "\n".join(out)


def check(target: str, cases: list[Case], smoke: int = 5) -> CheckReport:
    """Check the adapter ``module:Class`` against ``cases``."""
    report = CheckReport(target)
    spec = load_spec(target, "explicit")
    if spec.cls is None:
        report.add("problem", spec.error or f"{target} did not load")
        return report
    cls = spec.cls
    report.add("adapter", f"{cls.name} ({target}), adapter API {cls.api_version}, modes {list(cls.modes)}"
                          + (f", distribution {cls.distribution} {cls.distribution_version()}"
                             if cls.distribution else ""))
    _declarations(cls, report)
    if cls.environment:
        report.add("info", "reads " + ", ".join(f"{v}={'set' if os.environ.get(v) else 'unset'}"
                                                for v in cls.environment))
    why = cls.unavailable()
    if why:
        report.add("info", f"every item will SKIP here: {why}")
        report.forecast = forecast(cls, None, cases, expectation_file.ExpectationFile(None))
        return report
    try:
        adapter = cls()
    except Exception as exc:
        report.add("problem", f"constructing {cls.__name__}() raised {type(exc).__name__}: {exc} "
                              f"(every item would be ERROR)")
        return report
    table = _op_table(adapter, report)
    version = adapter.version()
    report.add("info", f"version reported: {version}")
    expectations = _expectations(cls, cases, version, report)
    if expectations is not None:
        _smoke(adapter, cases, version, expectations, smoke, report)
    report.forecast = forecast(cls, adapter, cases, expectations or expectation_file.ExpectationFile(None), table)
    return report


def _declarations(cls: type[Adapter], report: CheckReport) -> None:
    unknown = sorted(set(cls.capabilities) - CAPABILITIES)
    if unknown:
        report.add("problem", f"capabilities {unknown} are not gradspec capabilities (gradspec/case.py CAPABILITIES)")
    unknown_na = sorted(set(cls.not_applicable) - CAPABILITIES)
    if unknown_na:
        report.add("problem", f"not_applicable {unknown_na} are not gradspec capabilities")
    both = sorted(set(cls.capabilities) & set(cls.not_applicable))
    if both:
        report.add("problem", f"capabilities {both} are both claimed and declared not applicable")
    if not unknown and not both:
        report.add("ok", f"capabilities: {len(cls.capabilities)} claimed, {len(cls.not_applicable)} not applicable")
    bad = [d for d in cls.dtypes if d not in DTYPES]
    if bad or not cls.dtypes:
        report.add("problem", f"dtypes {list(cls.dtypes)}: must be a non-empty list drawn from {list(DTYPES)}")
    else:
        report.add("ok", f"dtypes: {', '.join(cls.dtypes)}")


def _op_table(adapter: Adapter, report: CheckReport) -> frozenset[str] | None:
    """The op names the adapter maps, or None where it has no usable table."""
    ops = getattr(adapter, "ops", None)
    if ops is None:
        report.add("info", "no op table attribute (execute provides the ops itself)")
        return None
    try:
        table = dict(ops) if isinstance(ops, Mapping) else None
    except Exception as exc:  # a LazyOps whose build raises
        report.add("problem", f"building the op table raised {type(exc).__name__}: {exc}")
        return None
    if table is None:
        report.add("problem", f"ops is a {type(ops).__name__}, not a mapping of op names to functions")
        return None
    vocab = vocabulary()
    unknown = sorted(set(table) - vocab)
    if unknown:
        report.add("problem", f"op table: {unknown} are not gradspec ops (gradspec/numpy_ops.py); a case "
                              f"never calls them")
    not_callable = sorted(k for k, v in table.items() if not callable(v))
    if not_callable:
        report.add("problem", f"op table: {not_callable} are not callable")
    mapped = len(set(table) & vocab)
    report.add("ok" if not unknown and not not_callable else "info",
               f"op table: {mapped} of {len(vocab)} vocabulary ops mapped (cases using the others are UNSUPPORTED)")
    return frozenset(table)


def _expectations(cls: type[Adapter], cases: list[Case], version: str,
                  report: CheckReport) -> expectation_file.ExpectationFile | None:
    path = cls.expectations_path()
    try:
        loaded = expectation_file.load(path)
    except expectation_file.ExpectationFileError as exc:
        report.add("problem", f"expectation file: {exc} (every item would be ERROR)")
        return None
    if loaded.path is None:
        report.add("info", f"no expectation file at {path}: implementation-defined choices are only observed")
        return loaded
    by_id = {c.id: c for c in cases}
    problems = 0
    for case_id, entries in loaded.entries.items():
        case = by_id.get(case_id)
        if case is None:
            report.add("problem", f"expectation file {path}: case '{case_id}' is not in the catalog")
            problems += 1
            continue
        options = {s.slot: set(s.options) for s in case.impl_slots}
        for entry in entries:
            for slot, label in entry.choices.items():
                slots = list(options) if slot == "*" else [slot]
                if slot != "*" and slot not in options:
                    report.add("problem", f"expectation file {path}: case '{case_id}': field 'choices': slot "
                                          f"'{slot}' is not one of the case's slots {sorted(options)}")
                    problems += 1
                for s in slots:
                    if s in options and label not in options[s]:
                        report.add("problem", f"expectation file {path}: case '{case_id}': field "
                                              f"'{'choice' if slot == '*' else 'choices'}': '{label}' is not a "
                                              f"label of slot '{s}' ({' | '.join(sorted(options[s]))})")
                        problems += 1
                if not options:
                    report.add("problem", f"expectation file {path}: case '{case_id}' declares a choice but is "
                                          f"not implementation-defined")
                    problems += 1
    applying = sum(1 for es in loaded.entries.values() for e in es if e.applies(version, None, EAGER))
    if not problems:
        report.add("ok", f"expectation file {path}: {sum(map(len, loaded.entries.values()))} entries, "
                         f"{applying} apply to version {version}")
    return loaded


def _smoke(adapter: Adapter, cases: list[Case], version: str, expectations: expectation_file.ExpectationFile,
           count: int, report: CheckReport) -> None:
    by_id = {c.id: c for c in cases}
    chosen = [by_id[i] for i in SMOKE_CASES if i in by_id and not missing_capabilities(by_id[i], type(adapter))]
    dtype = next((d for d in ("float64", "float32") if d in adapter.dtypes), None)
    if dtype is None or not chosen:
        report.add("info", "no smoke case fits this adapter's dtypes and capabilities")
        return
    for case in chosen[:count]:
        start = time.perf_counter()
        entry = expectations.for_case(case.id, version, dtype, EAGER)
        result = run_item(case, adapter, "cpu", dtype, version, entry, SMOKE_TIMEOUT)
        seconds = time.perf_counter() - start
        level = "problem" if result.status in ("FAIL", "ERROR", "TIMEOUT") else "smoke"
        first = result.message.splitlines()[0] if result.message else ""
        detail = f": {first[:200]}" if first else ""
        report.add(level, f"{case.id} {dtype}: {result.status} ({seconds:.2f} s){detail}")


class _OpSpy:
    """An ops namespace backed by the NumPy reference that notes every op name a body reads."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self.used.add(name)
        return getattr(numpy_ops, name, lambda x, *args, **kwargs: x)

    def mark(self, name: str, tensor: Any) -> Any:
        return tensor


def ops_used(case: Case) -> frozenset[str]:
    """The vocabulary ops a case's body and preludes call, found by running them on the NumPy
    reference in the case's first dtype (a body that stops early reports what it read so far)."""
    spy = _OpSpy()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            values = {n: inp.array(case.dtypes[0]) for n, inp in case.inputs.items()}
            for n, inp in case.inputs.items():
                if inp.prelude is not None:
                    values[n] = inp.prelude(spy, values[n])
            if case.body is not None and any(not isinstance(r, Probe) for r in case.requests):
                case.body(spy, **values)
        except Exception:  # noqa: BLE001 - what was read so far is still used
            pass
    return frozenset(spy.used)


def forecast(cls: type[Adapter], adapter: Adapter | None, cases: list[Case],
             expectations: expectation_file.ExpectationFile, table: frozenset[str] | None = None) -> dict[str, int]:
    """Items per expected status from the declarations alone, for cpu and the default modes."""
    counts: Counter[str] = Counter()
    version = cls.distribution_version() if adapter is None else adapter.version()
    for case in cases:
        used = ops_used(case)
        for mode in cls.default_modes:
            for dtype in case.dtypes:
                counts["items"] += 1
                counts[_expected_status(cls, adapter, case, used, table, mode, dtype, expectations, version)] += 1
    order = ["items", "SKIP (framework not installed)", "run and judged (PASS or FAIL)",
             "REFERENCE (expected values come from this adapter)",
             "XFAIL expected (a declared known bug)", "UNSUPPORTED: dtype not run",
             "UNSUPPORTED: capability not claimed (run to probe for a stale denial)",
             "UNSUPPORTED: capability not applicable (not run)", "UNSUPPORTED: probe not implemented",
             "UNSUPPORTED: op not in the op table",
             "UNSUPPORTED: implementation-defined on the reference"]
    return {k: counts[k] for k in order if counts[k]}


def _expected_status(cls: type[Adapter], adapter: Adapter | None, case: Case, used: frozenset[str],
                     table: frozenset[str] | None, mode: str, dtype: str,
                     expectations: expectation_file.ExpectationFile, version: str) -> str:
    if adapter is None:
        return "SKIP (framework not installed)"
    missing = missing_capabilities(case, cls, mode)
    if cls.reference and case.kind is Kind.IMPLEMENTATION_DEFINED:
        return "UNSUPPORTED: implementation-defined on the reference"
    if set(missing) & cls.not_applicable:
        return "UNSUPPORTED: capability not applicable (not run)"
    if dtype not in cls.dtypes:
        return "UNSUPPORTED: dtype not run"
    if missing:
        return "UNSUPPORTED: capability not claimed (run to probe for a stale denial)"
    if any(isinstance(r, Probe) and not hasattr(adapter, f"probe_{r.name}") for r in case.requests):
        return "UNSUPPORTED: probe not implemented"
    if table is not None and used - table:
        return "UNSUPPORTED: op not in the op table"
    if cls.reference and any(uses_oracle(e) for e in case.expect):
        return "REFERENCE (expected values come from this adapter)"
    declared = expectations.for_case(case.id, version, dtype, mode)
    if declared is not None and declared.known_bugs:
        return "XFAIL expected (a declared known bug)"
    return "run and judged (PASS or FAIL)"


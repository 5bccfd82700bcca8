"""Mutation testing of the suite itself: break one gradient rule inside a real
framework and check that the conformance run notices.

A mutant (``Mutant``) names the adapter it affects, a pytest ``-k``
selection of the cases that can reach the broken rule (so a run stays
short), and a patch function (``module:function``) that breaks the rule in
the running process: a framework's own registry entry (a JAX primitive's JVP
or batching rule, a TensorFlow registered gradient, an autograd primitive's
VJP/JVP) or one of its public functions.  The patch runs in every pytest
process, workers included, when ``GRADSPEC_MUTANT`` names the mutant
(``activate_from_env``, called from the plugin's ``pytest_configure``).

``run`` first runs every selection unmutated (it must have no FAIL or ERROR,
or a kill would mean nothing), then each mutant's selection under the
mutant.  A mutant is *killed* when at least one item of its selection is
FAIL or ERROR; a *survivor* names a missing case.  This module imports no
framework: the catalogue's patch functions import theirs when applied.
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

ENV = "GRADSPEC_MUTANT"
CATALOGUE_ENV = "GRADSPEC_MUTANT_CATALOGUE"
DEFAULT_CATALOGUE = "mutants:CATALOGUE"
KILLING = frozenset({"FAIL", "ERROR", "TIMEOUT", "CRASH"})

BREAKS = ("value", "dtype", "shape", "missing_error", "error_kind", "forward_mode", "higher_order", "vmap",
          "sparse", "complex", "convention", "accumulation")


class MutationError(ValueError):
    """A malformed catalogue or an unknown mutant name."""


@dataclass(frozen=True)
class Mutant:
    """One rule broken inside one framework."""

    name: str
    adapter: str           # the gradspec adapter whose framework it breaks
    breaks: str            # what kind of wrongness (one of BREAKS)
    rule: str              # the framework rule it breaks, in the framework's words
    select: str            # pytest -k expression: the cases that can reach the rule
    patch: str             # "module:function" applying the mutation in the current process

    def __post_init__(self) -> None:
        if self.breaks not in BREAKS:
            raise MutationError(f"mutant '{self.name}': field 'breaks': {self.breaks!r} is not one of {BREAKS}")
        if ":" not in self.patch:
            raise MutationError(f"mutant '{self.name}': field 'patch': {self.patch!r} is not 'module:function'")


def load_catalogue(spec: str | None = None) -> dict[str, Mutant]:
    """The mutants of ``module:ATTRIBUTE`` (default ``mutants:CATALOGUE``), by name."""
    spec = spec or os.environ.get(CATALOGUE_ENV) or DEFAULT_CATALOGUE
    module, _, attr = spec.partition(":")
    mutants = getattr(importlib.import_module(module), attr)
    out: dict[str, Mutant] = {}
    for m in mutants:
        if m.name in out:
            raise MutationError(f"{spec}: mutant '{m.name}' is listed twice")
        out[m.name] = m
    return out


def _patch_function(mutant: Mutant) -> Callable[[], None]:
    module, _, func = mutant.patch.partition(":")
    return getattr(importlib.import_module(module), func)


def activate(name: str, catalogue: str | None = None) -> Mutant:
    """Apply the named mutant in this process."""
    mutants = load_catalogue(catalogue)
    if name not in mutants:
        raise MutationError(f"no such mutant {name!r} (known: {', '.join(sorted(mutants))})")
    mutant = mutants[name]
    _patch_function(mutant)()
    return mutant


def activate_from_env() -> Mutant | None:
    """The mutant ``GRADSPEC_MUTANT`` names, applied; None when it is unset."""
    name = os.environ.get(ENV, "").strip()
    return activate(name) if name else None


@dataclass
class SelectionRun:
    """What one pytest run of a selection gave."""

    counts: Counter[str]
    failing: list[str]      # node ids of FAIL/ERROR/TIMEOUT/CRASH items, with their fail kind
    exit_code: int
    seconds: float
    problem: str = ""       # why no record came back

    @property
    def killed(self) -> bool:
        return bool(self.failing)


@dataclass
class Report:
    """Every run of ``run``: ok when each mutant is killed against a clean baseline."""

    baseline: dict[str, SelectionRun] = field(default_factory=dict)
    results: dict[str, SelectionRun] = field(default_factory=dict)
    mutants: dict[str, Mutant] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def killed(self) -> list[str]:
        return [n for n, o in self.results.items() if o.killed]

    @property
    def survivors(self) -> list[str]:
        return [n for n, o in self.results.items() if not o.killed]

    @property
    def baseline_clean(self) -> bool:
        return all(not o.failing and not o.problem for o in self.baseline.values())

    @property
    def ok(self) -> bool:
        return self.baseline_clean and not self.survivors


def run_selection(adapter: str, select: str, mutant: str | None, cases: Path, xdist: int = 0,
                  timeout: float = 600) -> SelectionRun:
    """One pytest run of ``select`` on ``adapter``, under ``mutant`` (None: unmutated)."""
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if mutant:
        env[ENV] = mutant
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gradspec-mutate-") as out:
        cmd = [sys.executable, "-m", "pytest", str(cases), "-q", "-p", "no:cacheprovider",
               "-n", str(xdist), "--gradspec-adapters", adapter, "-k", select, "--gradspec-report-dir", out]
        try:
            proc = subprocess.run(cmd, cwd=cases.parent, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return SelectionRun(Counter(), [], -1, time.perf_counter() - start, f"ran past {timeout:g} s")
        seconds = time.perf_counter() - start
        record = Path(out) / "latest.json"
        if not record.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            return SelectionRun(Counter(), [], proc.returncode, seconds, "no run record: " + " | ".join(tail))
        results = json.loads(record.read_text(encoding="utf-8"))["results"]
    counts = Counter(r["status"] for r in results)
    failing = [f"{r['nodeid']} {r['status']}{' ' + r['fail_kind'] if r.get('fail_kind') else ''}"
               for r in results if r["status"] in KILLING]
    problem = "" if results else f"the selection -k {select!r} ran nothing"
    return SelectionRun(counts, failing, proc.returncode, seconds, problem)


def _union(mutants: Sequence[Mutant]) -> str:
    return " or ".join(f"({m.select})" for m in mutants)


def run(mutants: Sequence[Mutant], cases: Path, jobs: int = 1, xdist: int = 0,
        progress: Callable[[str], None] | None = None) -> Report:
    """The unmutated baseline of every adapter's selections, then every mutant;
    ``jobs`` pytest runs at a time."""
    report = Report(mutants={m.name: m for m in mutants})
    start = time.perf_counter()
    by_adapter: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_adapter.setdefault(m.adapter, []).append(m)
    say = progress or (lambda line: None)
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        base = {a: pool.submit(run_selection, a, _union(ms), None, cases, xdist) for a, ms in by_adapter.items()}
        runs = {m.name: pool.submit(run_selection, m.adapter, m.select, m.name, cases, xdist) for m in mutants}
        for a, fut in base.items():
            report.baseline[a] = fut.result()
            o = report.baseline[a]
            say(f"baseline {a}: {dict(o.counts)}" + (f" PROBLEM {o.problem}" if o.problem else ""))
        for name, fut in runs.items():
            report.results[name] = o = fut.result()
            say(f"{'killed  ' if o.killed else 'SURVIVED'} {name} ({o.seconds:.1f} s)"
                + (f": {o.failing[0]}" if o.failing else f" {o.problem or dict(o.counts)}"))
    report.seconds = time.perf_counter() - start
    return report


def render(report: Report) -> str:
    """The kill rate, the survivors and the time taken, as plain text."""
    lines = []
    for adapter, o in sorted(report.baseline.items()):
        state = "clean" if not o.failing and not o.problem else "NOT CLEAN"
        lines.append(f"baseline {adapter:<11} {state}: {sum(o.counts.values())} items {dict(sorted(o.counts.items()))}"
                     + (f" {o.problem}" if o.problem else ""))
        lines.extend(f"    {f}" for f in o.failing[:10])
    total = len(report.results)
    lines.append("")
    for name, o in report.results.items():
        m = report.mutants[name]
        verdict = "killed  " if o.killed else "SURVIVED"
        first = o.failing[0] if o.failing else (o.problem or "no item failed")
        lines.append(f"{verdict} {name:<34} {m.adapter:<10} {m.breaks:<13} {len(o.failing):>3} failing  {first}")
    by_kind: dict[str, list[int]] = {}
    for name, o in report.results.items():
        k = by_kind.setdefault(report.mutants[name].breaks, [0, 0])
        k[0] += o.killed
        k[1] += 1
    lines.append("")
    lines.append("by kind: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by_kind.items())))
    rate = 100.0 * len(report.killed) / total if total else 0.0
    lines.append(f"kill rate: {len(report.killed)}/{total} ({rate:.0f}%) in {report.seconds:.1f} s")
    if report.survivors:
        lines.append("survivors (each is a missing case): " + ", ".join(report.survivors))
    if not report.baseline_clean:
        lines.append("the unmutated baseline is not clean: kills against it mean nothing")
    return "\n".join(lines)


def select_mutants(catalogue: dict[str, Mutant], adapters: Sequence[str] = (),
                   names: Sequence[str] = ()) -> list[Mutant]:
    """The catalogue narrowed to some adapters and/or names (in catalogue order)."""
    unknown = sorted(set(names) - set(catalogue))
    if unknown:
        raise MutationError(f"no such mutants: {', '.join(unknown)}")
    return [m for m in catalogue.values()
            if (not adapters or m.adapter in adapters) and (not names or m.name in names)]

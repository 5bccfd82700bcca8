"""pytest integration: each (case, adapter, device, dtype) is one item.

Results travel on pytest's report objects (``user_properties``) and are
gathered on the controller in ``pytest_runtest_logreport``, so ``-n auto``
and ``-n 0`` produce the same record.  A worker that dies mid-item reaches
the controller as a failed report without a result: that item is CRASH.
"""
from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from . import expectation_file
from .adapter import Adapter
from .case import Case, CaseError
from .discovery import AdapterSpec, discover
from .engine import EXECUTED, ItemResult, run_item
from .loader import load_case_file, load_cases
from .record import build, dumps, write_atomic

STATE_KEY = pytest.StashKey["GradspecState"]()
PROPERTY = "gradspec"
FAILING = frozenset({"FAIL", "ERROR", "TIMEOUT"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradspec", "gradspec conformance suite")
    group.addoption("--gradspec-adapters", default=None,
                    help="comma-separated adapter names to run (default: every adapter found)")
    group.addoption("--gradspec-adapter", action="append", default=[], metavar="MODULE:CLASS",
                    help="add an adapter from outside the repository (repeatable; also $GRADSPEC_ADAPTER)")
    group.addoption("--gradspec-devices", default="auto",
                    help="comma-separated devices: cpu, gpu; 'auto' adds gpu when nvidia-smi is present")
    group.addoption("--gradspec-dtypes", default=None, help="comma-separated dtypes to keep")
    group.addoption("--gradspec-report-dir", default=None,
                    help="where the run record and summaries are written (default: <rootdir>/reports)")
    group.addoption("--gradspec-no-report", action="store_true", help="do not write a run record")
    group.addoption("--gradspec-timeout", type=float, default=120.0,
                    help="per-item time limit in seconds (TIMEOUT past it; 0 disables)")
    parser.addini("gradspec_cases", "directory of case files, relative to the rootdir", default="cases")


class GradspecState:
    """Per-process state: adapters, their instances and expectation data."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = Path(str(config.rootpath))
        self.cases_dir = (self.root / config.getini("gradspec_cases")).resolve()
        self._specs: list[AdapterSpec] | None = None
        self._instances: dict[str, Adapter | Exception] = {}
        self._expectations: dict[str, expectation_file.ExpectationFile] = {}
        opt = config.getoption
        devices = opt("--gradspec-devices")
        self.devices = (["cpu", "gpu"] if shutil.which("nvidia-smi") else ["cpu"]) if devices == "auto" \
            else [d.strip() for d in devices.split(",") if d.strip()]
        self.dtypes = [d.strip() for d in opt("--gradspec-dtypes").split(",")] if opt("--gradspec-dtypes") else None

    @property
    def specs(self) -> list[AdapterSpec]:
        if self._specs is None:
            selected = self.config.getoption("--gradspec-adapters")
            names = [n.strip() for n in selected.split(",") if n.strip()] if selected else None
            try:
                self._specs = discover(self.config.getoption("--gradspec-adapter"), names)
            except LookupError as exc:
                raise pytest.UsageError(str(exc)) from None
        return self._specs

    def instance(self, spec: AdapterSpec) -> Adapter:
        if spec.name not in self._instances:
            try:
                self._instances[spec.name] = spec.cls()  # type: ignore[misc]
            except Exception as exc:
                self._instances[spec.name] = exc
        got = self._instances[spec.name]
        if isinstance(got, Exception):
            raise AdapterBroken(f"adapter '{spec.name}' ({spec.target}) failed to construct: "
                                f"{type(got).__name__}: {got}")
        return got

    def expectations(self, spec: AdapterSpec) -> expectation_file.ExpectationFile:
        if spec.name not in self._expectations and spec.cls is not None:
            self._expectations[spec.name] = expectation_file.load(spec.cls.expectations_path())
        return self._expectations.get(spec.name, expectation_file.ExpectationFile(None))

    def is_case_file(self, path: Path) -> bool:
        return path.suffix == ".py" and not path.name.startswith("_") and self.cases_dir in path.resolve().parents


class AdapterBroken(RuntimeError):
    """An adapter that could not be imported or constructed."""


def pytest_configure(config: pytest.Config) -> None:
    state = GradspecState(config)
    config.stash[STATE_KEY] = state
    state.specs  # noqa: B018 - an unknown --gradspec-adapters name is a usage error before collection
    for name in ("required", "implementation_defined", "api"):
        config.addinivalue_line("markers", f"{name}: gradspec cases of this kind")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(Recorder(config), "gradspec-recorder")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    state = parent.config.stash[STATE_KEY]
    if state.is_case_file(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        state = self.config.stash[STATE_KEY]
        try:
            cases = load_case_file(self.path)
        except CaseError as exc:
            raise self.CollectError(str(exc)) from None
        for case in cases:
            for tag in case.tags:
                self.config.addinivalue_line("markers", f"{tag}: gradspec tag")
            dtypes = [d for d in case.dtypes if state.dtypes is None or d in state.dtypes]
            for spec in state.specs:
                for device in state.devices:
                    for dtype in dtypes:
                        item = CaseItem.from_parent(self, name=f"{case.name}[{spec.name}-{device}-{dtype}]",
                                                    case=case, spec=spec, device=device, dtype=dtype)
                        for tag in case.tags:
                            item.add_marker(tag)
                        item.add_marker(case.kind.value.replace("-", "_"))
                        yield item


class GradspecFailure(Exception):
    def __init__(self, result: ItemResult) -> None:
        super().__init__(result.message)
        self.result = result


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, spec: AdapterSpec, device: str, dtype: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case, self.spec, self.device, self.dtype = case, spec, device, dtype

    def runtest(self) -> None:
        result = self._run()
        record = result.to_json()
        record.update(nodeid=self.nodeid, worker=os.environ.get("PYTEST_XDIST_WORKER", "main"),
                      repro=self.repro())
        self.user_properties.append((PROPERTY, json.dumps(record, allow_nan=False)))
        if result.status in FAILING:
            raise GradspecFailure(result)
        if result.status in ("SKIP", "UNSUPPORTED"):
            pytest.skip(f"{result.status}: {result.message}")
        if result.status == "XFAIL":
            pytest.xfail(result.message)

    def _run(self) -> ItemResult:
        state: GradspecState = self.config.stash[STATE_KEY]
        spec = self.spec
        base = dict(case=self.case.id, adapter=spec.name, device=self.device, dtype=self.dtype)
        if spec.cls is None:
            return ItemResult(**base, framework_version="unknown", status="ERROR", message=spec.error or "",
                              error={"type": "AdapterLoadError", "message": spec.error or "", "traceback": ""})
        version = spec.cls.distribution_version()
        reason = spec.cls.unavailable()
        if reason:
            return ItemResult(**base, framework_version=version, status="SKIP", message=reason)
        try:
            adapter = state.instance(spec)
            native_devices = adapter.devices()
            version = adapter.version()
        except Exception as exc:  # a broken adapter costs only its own items
            message = str(exc) if isinstance(exc, AdapterBroken) else \
                f"adapter '{spec.name}' failed before running: {type(exc).__name__}: {exc}"
            return ItemResult(**base, framework_version=version, status="ERROR", message=message,
                              error={"type": type(exc).__name__, "message": message, "traceback": ""})
        device = _native_device(self.device, native_devices)
        if device is None:
            return ItemResult(**base, framework_version=version, status="SKIP",
                              message=f"no {self.device} visible to '{spec.name}' (it sees {native_devices})")
        entry = state.expectations(spec).for_case(self.case.id, version, self.dtype)
        result = run_item(self.case, adapter, device, self.dtype, version, entry,
                          self.config.getoption("--gradspec-timeout") or None)
        result.device = self.device
        return result

    def repro(self) -> str:
        extra = f" --gradspec-adapter {self.spec.target}" if self.spec.origin == "explicit" else ""
        return f"python -m pytest '{self.nodeid}' -n 0{extra}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GradspecFailure):
            r = excinfo.value.result
            lines = [f"{r.status}{f' ({r.fail_kind})' if r.fail_kind else ''}: {self.case.id} on {r.adapter} "
                     f"{r.framework_version} {r.device} {r.dtype}", f"  statement: {self.case.statement}",
                     f"  {r.message}", f"  documented at: {self.case.docs[0].url}"]
            if r.error and r.error.get("traceback"):
                lines.append(r.error["traceback"])
            return "\n".join(lines)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.case.id} [{self.spec.name}-{self.device}-{self.dtype}]"


def _native_device(generic: str, native: list[str]) -> str | None:
    if generic == "cpu":
        return "cpu" if "cpu" in native else None
    return next((d for d in native if d != "cpu"), None)


class Recorder:
    """Controller side: gathers results from reports and writes the run record."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: dict[str, dict[str, Any]] = {}
        self.paths: list[Path] = []
        self.empty_run = False
        self.record: dict[str, Any] | None = None

    @property
    def state(self) -> GradspecState:
        return self.config.stash[STATE_KEY]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        prop = dict(report.user_properties).get(PROPERTY)
        if prop is not None:
            self.results[report.nodeid] = json.loads(prop)
            return
        if report.failed and report.nodeid not in self.results:
            synthetic = self._synthetic(report)
            if synthetic is not None:
                self.results[report.nodeid] = synthetic

    def _synthetic(self, report: pytest.TestReport) -> dict[str, Any] | None:
        """A failed report with no result: a crashed worker or a broken setup."""
        file, sep, name = report.nodeid.partition("::")
        path = self.state.root / file
        if not sep or "[" not in name or not self.state.is_case_file(path):
            return None
        base, params = name[:-1].split("[", 1)
        adapter, device, dtype = params.rsplit("-", 2)
        try:
            case_id = next(c.id for c in load_case_file(path) if c.name == base)
        except (CaseError, StopIteration):
            case_id = f"{file}::{base}"
        text = str(report.longrepr)
        status = "CRASH" if "crashed" in text or "worker" in text and "died" in text else "ERROR"
        spec = next((s for s in self.state.specs if s.name == adapter), None)
        version = spec.cls.distribution_version() if spec and spec.cls else "unknown"
        result = ItemResult(case_id, adapter, version, device, dtype, status,
                            message=text.strip().splitlines()[-1][:500] if text.strip() else status,
                            error={"type": status, "message": text[-2000:], "traceback": ""},
                            duration_s=round(report.duration, 6)).to_json()
        gateway = getattr(getattr(report, "node", None), "gateway", None)
        result.update(nodeid=report.nodeid, worker=getattr(gateway, "id", "main"),
                      repro=f"python -m pytest '{report.nodeid}' -n 0")
        return result

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.results:
            return
        results = list(self.results.values())
        if not any(r["status"] in EXECUTED for r in results):
            self.empty_run = True
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.record = self._record(results)
        if self.config.getoption("--gradspec-no-report"):
            return
        out = Path(self.config.getoption("--gradspec-report-dir") or self.state.root / "reports")
        stamp = self.record["created"].replace(":", "").replace("-", "").replace("+0000", "Z")
        run_path = out / f"run-{stamp}.json"
        text = dumps(self.record)
        write_atomic(run_path, text)
        write_atomic(out / "latest.json", text)
        self.paths = [run_path, out / "latest.json"]
        self.paths += _summaries(self.record, out)

    def _record(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        state = self.state
        cases: dict[str, Case] = {}
        for f in sorted({state.root / r["nodeid"].split("::", 1)[0] for r in results}):
            try:
                cases.update({c.id: c for c in load_case_file(f)})
            except CaseError:
                continue
        warnings = []
        try:
            catalog = {c.id for c in load_cases([state.cases_dir])} | set(cases)
        except CaseError as exc:
            catalog = set(cases)
            warnings.append(str(exc))
        adapters: dict[str, dict[str, Any]] = {}
        for spec in state.specs:
            seen_devices = sorted({r["device"] for r in results if r["adapter"] == spec.name
                                   and r["status"] not in ("SKIP",)})
            versions = [r["framework_version"] for r in results if r["adapter"] == spec.name]
            info: dict[str, Any] = {"framework": spec.cls.distribution if spec.cls else None,
                                    "version": versions[0] if versions else
                                    spec.cls.distribution_version() if spec.cls else "unknown",
                                    "devices": seen_devices, "origin": spec.origin, "target": spec.target,
                                    "capabilities": sorted(spec.cls.capabilities) if spec.cls else [],
                                    "dtypes": list(spec.cls.dtypes) if spec.cls else []}
            reason = spec.error or (spec.cls.unavailable() if spec.cls else None)
            info.update(available=reason is None, reason=reason)
            adapters[spec.name] = info
            try:
                unknown = state.expectations(spec).unknown_ids(catalog)
            except expectation_file.ExpectationFileError as exc:
                warnings.append(str(exc))
                continue
            warnings += [f"{spec.cls.expectations_path() if spec.cls else spec.name}: entry '{cid}' names no case"
                         for cid in unknown]
        options = {"adapters": [s.name for s in state.specs], "devices": state.devices, "dtypes": state.dtypes,
                   "workers": int(getattr(self.config.option, "numprocesses", 0) or 0)}
        return build(root=state.root, cases=cases, results=results, adapters=adapters, options=options,
                     warnings=warnings)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        record = self.record
        if record is None:
            return
        tr = terminalreporter
        tr.section("gradspec")
        per: dict[str, Counter[str]] = {}
        for r in record["results"]:
            per.setdefault(r["adapter"], Counter())[r["status"]] += 1
        for adapter, counts in sorted(per.items()):
            info = record["adapters"].get(adapter, {})
            score = info.get("conformance", {"passed": 0, "denominator": 0})
            stale = len(info.get("stale_claims", []))
            tr.write_line(f"{adapter:12s} {info.get('version', '?'):14s} conformance {score['passed']}/"
                          f"{score['denominator']}  " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
                          + (f"  ({stale} stale capability claims)" if stale else ""))
        for warning in record["warnings"]:
            tr.write_line(f"gradspec warning: {warning}", yellow=True)
        if self.empty_run:
            tr.write_line("gradspec: no case executed (every item was skipped or unsupported): not green", red=True)
        for p in self.paths:
            tr.write_line(f"gradspec report: {p}")


def _summaries(record: dict[str, Any], out: Path) -> list[Path]:
    """The Markdown matrix and the static HTML dashboard beside the record."""
    from . import html, markdown

    path = out / "summary.md"
    write_atomic(path, markdown.render(record))
    return [path, html.write(record, out / "dashboard")]

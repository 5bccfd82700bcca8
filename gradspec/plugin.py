"""pytest integration: each (case, adapter, mode, device, dtype) is one item.

Results travel on pytest's report objects (``user_properties``) and are
gathered on the controller in ``pytest_runtest_logreport``, so ``-n auto``
and ``-n 0`` produce the same record.  A worker that dies mid-item reaches
the controller as a failed report without a result: that item is CRASH.

Expected values are computed once per case and dtype in each worker process
(``gradspec.expected_values``), whichever adapters it runs.
"""
from __future__ import annotations

import gc
import json
import os
import resource
import shlex
import shutil
import sys
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from . import expectation_file, mutation, repro
from .adapter import Adapter
from .case import Case, CaseError
from .discovery import AdapterSpec, discover
from .engine import EXECUTED, CaseTimeout, ItemResult, TimeLimit, run_item
from .loader import load_case_file, load_cases
from .modes import EAGER, is_mode, item_params, parse_item_params
from .shard import ShardError, from_options, select

if TYPE_CHECKING:  # the record side is imported when a run ends, not while collecting
    from .record_model import Result, RunRecord

STATE_KEY = pytest.StashKey["GradspecState"]()
XDIST_CRASH = "???"  # the phase xdist gives the report it makes for an item whose worker died
PROPERTY = "gradspec"
FAILING = frozenset({"FAIL", "ERROR", "TIMEOUT"})
DURATIONS_KEY = "gradspec_shard_durations"  # the controller's --gradspec-shard-durations, sent to each worker


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradspec", "gradspec conformance suite")
    group.addoption("--gradspec-adapters", default=None,
                    help="comma-separated adapter names to run (default: every adapter found)")
    group.addoption("--gradspec-adapter", action="append", default=[], metavar="MODULE:CLASS",
                    help="add an adapter from outside the repository (repeatable; also $GRADSPEC_ADAPTER)")
    group.addoption("--gradspec-modes", default=None,
                    help="comma-separated execution modes (eager, compiled, compiled-<backend>) or 'all'; "
                         "default: each adapter's default modes")
    group.addoption("--gradspec-devices", default="auto",
                    help="comma-separated devices: cpu, gpu; 'auto' adds gpu when nvidia-smi is present")
    group.addoption("--gradspec-dtypes", default=None, help="comma-separated dtypes to keep")
    group.addoption("--gradspec-report-dir", default=None,
                    help="where the run record and summaries are written (default: <rootdir>/reports)")
    group.addoption("--gradspec-no-report", action="store_true", help="do not write a run record")
    group.addoption("--gradspec-timeout", type=float, default=120.0,
                    help="per-item time limit in seconds (TIMEOUT past it; 0 disables)")
    group.addoption("--gradspec-shard", default=None, metavar="K/N",
                    help="run only shard K of N: a deterministic split of the collected items, one per CI job")
    group.addoption("--gradspec-shard-durations", default=None, metavar="RECORD",
                    help="balance the shards by the durations in a previous run record (new items are hashed)")
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
        self._memo: dict[tuple[str, str], Any] = {}
        self.case_files: dict[str, Case] = {}  # case id -> the case that defined it, across files
        self.threads_at_start = set(threading.enumerate())
        self.ran_items = False
        self.exitstatus = 0
        opt = config.getoption
        devices = opt("--gradspec-devices")
        self.devices = (["cpu", "gpu"] if shutil.which("nvidia-smi") else ["cpu"]) if devices == "auto" \
            else [d.strip() for d in devices.split(",") if d.strip()]
        self.dtypes = [d.strip() for d in opt("--gradspec-dtypes").split(",")] if opt("--gradspec-dtypes") else None
        modes = opt("--gradspec-modes")
        self.modes: list[str] | None = None if modes is None or modes.strip() == "all" else \
            [m.strip() for m in modes.split(",") if m.strip()]
        self.all_modes = modes is not None and modes.strip() == "all"
        bad = [m for m in self.modes or [] if not is_mode(m)]
        if bad:
            raise pytest.UsageError(f"--gradspec-modes: {bad} are not modes (eager, compiled, compiled-<backend>, all)")
        try:  # an xdist worker takes the controller's copy: the file may be the record this run replaces
            self.shard, self.shard_durations = from_options(
                opt("--gradspec-shard"), opt("--gradspec-shard-durations"),
                getattr(config, "workerinput", {}).get(DURATIONS_KEY))
        except ShardError as exc:
            raise pytest.UsageError(str(exc)) from None

    def modes_for(self, spec: AdapterSpec) -> list[str]:
        """The modes this run gives an adapter: its defaults, or those asked for that it has."""
        if spec.cls is None:
            return [EAGER] if self.modes is None or EAGER in self.modes else []
        if self.all_modes:
            return list(spec.cls.modes)
        if self.modes is None:
            return list(spec.cls.default_modes)
        return [m for m in spec.cls.modes if m in self.modes]

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
            except (Exception, CaseTimeout) as exc:  # remembered: the next items fail at once
                self._instances[spec.name] = exc
        got = self._instances[spec.name]
        if isinstance(got, (Exception, CaseTimeout)):
            raise AdapterBroken(f"adapter '{spec.name}' ({spec.target}) failed to construct: "
                                f"{type(got).__name__}: {got}")
        return got

    def expectations(self, spec: AdapterSpec) -> expectation_file.ExpectationFile:
        if spec.name not in self._expectations and spec.cls is not None:
            self._expectations[spec.name] = expectation_file.load(spec.cls.expectations_path())
        return self._expectations.get(spec.name, expectation_file.ExpectationFile(None))

    def distribution_version(self, spec: AdapterSpec) -> str:
        """Read once per process: importlib.metadata parses the METADATA file on every call."""
        return self._once(("version", spec.name), spec.cls.distribution_version)  # type: ignore[union-attr]

    def unavailable(self, spec: AdapterSpec) -> str | None:
        return self._once(("unavailable", spec.name), spec.cls.unavailable)  # type: ignore[union-attr]

    def _once(self, key: tuple[str, str], compute: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def mode_unavailable(self, spec: AdapterSpec, adapter: Adapter, mode: str) -> str | None:
        """Why a mode cannot run here, asked once per adapter and mode."""
        return self._once((f"mode {mode}", spec.name), lambda: adapter.mode_unavailable(mode))

    def is_case_file(self, path: Path) -> bool:
        return path.suffix == ".py" and not path.name.startswith("_") and self.cases_dir in path.resolve().parents


class AdapterBroken(RuntimeError):
    """An adapter that could not be imported or constructed."""


def pytest_configure(config: pytest.Config) -> None:
    try:  # in every process, xdist workers included: the mutant must be live where items run
        mutation.activate_from_env()
    except (mutation.MutationError, ImportError) as exc:
        raise pytest.UsageError(f"{mutation.ENV}: {exc}") from None
    state = GradspecState(config)
    config.stash[STATE_KEY] = state
    state.specs  # noqa: B018 - an unknown --gradspec-adapters name is a usage error before collection
    for name in ("required", "implementation_defined", "api"):
        config.addinivalue_line("markers", f"{name}: gradspec cases of this kind")
    if not hasattr(config, "workerinput") and not config.option.collectonly:  # listing items runs nothing
        config.pluginmanager.register(Recorder(config), "gradspec-recorder")


def peak_rss_mib() -> float:
    """This process's peak resident memory (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: report its peak memory to the controller.  In any process
    that ran cases: freeze the heap, whose frameworks' objects pytest's end-of-run
    garbage collections (and interpreter shutdown) would otherwise walk for seconds."""
    session.config.stash[STATE_KEY].exitstatus = int(session.exitstatus)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["gradspec_peak_rss_mib"] = peak_rss_mib()
    if any(isinstance(item, CaseItem) for item in session.items):
        gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Threads an adapter started and left running would keep this process (a worker, or
    the run under -n 0) from ever exiting: once everything is written, leave without them."""
    state = config.stash.get(STATE_KEY, None)
    if state is None or not state.ran_items:
        return
    stray = [t.name for t in threading.enumerate()
             if t.is_alive() and not t.daemon and t is not threading.main_thread() and t not in state.threads_at_start]
    if stray:
        sys.stderr.write(f"gradspec: adapters left {len(stray)} thread(s) running ({', '.join(stray[:5])}); "
                         f"exiting without waiting for them\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(state.exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--gradspec-shard: keep this shard's items (after -k and -m have chosen theirs); every
    process computes the same split, so xdist's workers agree with each other."""
    state = config.stash[STATE_KEY]
    if state.shard is None:
        return
    keep = select([item.nodeid for item in items], state.shard, state.shard_durations)
    dropped = [item for item, kept in zip(items, keep) if not kept]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item, kept in zip(items, keep) if kept]


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
            first = state.case_files.setdefault(case.id, case)
            if first is not case:  # one id, two statements: every cell would be reported twice
                raise self.CollectError(str(CaseError(f"{case.file}:{case.line}", case.id, "id",
                                                      f"duplicate id, also defined at {first.file}:{first.line}")))
        for case in cases:
            for tag in case.tags:
                self.config.addinivalue_line("markers", f"{tag}: gradspec tag")
            dtypes = [d for d in case.dtypes if state.dtypes is None or d in state.dtypes]
            markers = [*case.tags, case.kind.value.replace("-", "_")]
            for spec in state.specs:
                for mode in state.modes_for(spec):
                    for device in state.devices:
                        for dtype in dtypes:
                            name = f"{case.name}[{item_params(spec.name, mode, device, dtype)}]"
                            item = CaseItem.from_parent(self, name=name, case=case, spec=spec, mode=mode,
                                                        device=device, dtype=dtype)
                            for marker in markers:
                                item.add_marker(marker)
                            yield item


class GradspecFailure(Exception):
    def __init__(self, result: ItemResult) -> None:
        super().__init__(result.message)
        self.result = result


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, spec: AdapterSpec, mode: str, device: str, dtype: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case, self.spec, self.mode, self.device, self.dtype = case, spec, mode, device, dtype

    def runtest(self) -> None:
        self.config.stash[STATE_KEY].ran_items = True
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
        base = dict(case=self.case.id, adapter=spec.name, mode=self.mode, device=self.device, dtype=self.dtype)
        if spec.cls is None:
            return ItemResult(**base, framework_version="unknown", status="ERROR", message=spec.error or "",
                              error={"type": "AdapterLoadError", "message": spec.error or "", "traceback": ""})
        version = "unknown"
        timeout = self.config.getoption("--gradspec-timeout") or None
        try:
            with TimeLimit(timeout):  # an adapter's constructor and queries are its code too
                version = state.distribution_version(spec)
                reason = state.unavailable(spec)
                if reason:
                    return ItemResult(**base, framework_version=version, status="SKIP", message=reason)
                adapter = state.instance(spec)
                native_devices = state._once(("devices", spec.name), adapter.devices)
                version = state._once(("adapter version", spec.name), adapter.version)
        except CaseTimeout as exc:
            return ItemResult(**base, framework_version=version, status="TIMEOUT",
                              message=f"adapter '{spec.name}' did not finish starting: {exc}",
                              error={"type": "CaseTimeout", "message": str(exc), "traceback": ""})
        except Exception as exc:  # a broken adapter costs only its own items
            message = str(exc) if isinstance(exc, AdapterBroken) else \
                f"adapter '{spec.name}' failed before running: {type(exc).__name__}: {exc}"
            return ItemResult(**base, framework_version=version, status="ERROR", message=message,
                              error={"type": type(exc).__name__, "message": message, "traceback": ""})
        device = _native_device(self.device, native_devices)
        if device is None:
            return ItemResult(**base, framework_version=version, status="SKIP",
                              message=f"no {self.device} visible to '{spec.name}' (it sees {native_devices})")
        reason = state.mode_unavailable(spec, adapter, self.mode)
        if reason:
            return ItemResult(**base, framework_version=version, status="SKIP", message=reason)
        try:
            entry = state.expectations(spec).for_case(self.case.id, version, self.dtype, self.mode)
        except expectation_file.ExpectationFileError as exc:  # a malformed file costs its adapter's items
            return ItemResult(**base, framework_version=version, status="ERROR", message=str(exc),
                              error={"type": "ExpectationFileError", "message": str(exc), "traceback": ""})
        result = run_item(self.case, adapter, device, self.dtype, version, entry, timeout, self.mode)
        result.device = self.device
        return result

    def repro(self) -> str:
        return repro.command(self.nodeid, self.spec, self.device, self.mode)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GradspecFailure):
            r = excinfo.value.result
            lines = [f"{r.status}{f' ({r.fail_kind})' if r.fail_kind else ''}: {self.case.id} on {r.adapter} "
                     f"{r.framework_version} {r.mode} {r.device} {r.dtype}", f"  statement: {self.case.statement}",
                     f"  {r.message}", f"  documented at: {self.case.docs[0].url}"]
            if r.error and r.error.get("traceback"):
                lines.append(r.error["traceback"])
            return "\n".join(lines)
        if isinstance(excinfo.value, pytest.xfail.Exception):  # a known bug: its message says it all
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, \
            f"{self.case.id} [{item_params(self.spec.name, self.mode, self.device, self.dtype)}]"


def _native_device(generic: str, native: list[str]) -> str | None:
    if generic == "cpu":
        return "cpu" if "cpu" in native else None
    return next((d for d in native if d != "cpu"), None)


class Recorder:
    """Controller side: gathers results from reports and writes the run record."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.worker_rss: dict[str, float] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.collected: list[str] = []  # the case items this run should report
        self.paths: list[Path] = []
        self.empty_run = False
        self.record: RunRecord | None = None

    @property
    def state(self) -> GradspecState:
        return self.config.stash[STATE_KEY]

    @property
    def out(self) -> Path | None:
        if self.config.getoption("--gradspec-no-report"):
            return None
        return Path(self.config.getoption("--gradspec-report-dir") or self.state.root / "reports")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._expect([item.nodeid for item in session.items if isinstance(item, CaseItem)])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.collected:
            self._expect([i for i in ids if "[" in i and self.state.is_case_file(self.state.root / i.split("::")[0])])

    def _expect(self, nodeids: list[str]) -> None:
        """The run is under way: latest.json says so until the run's record replaces it, so a
        run that dies (a crash under -n 0, a kill) leaves no older record passing for it."""
        self.collected = nodeids
        if not nodeids or self.out is None:
            return
        from .record import build, dumps, write_atomic

        stub = build(root=self.state.root, cases={}, results=[], adapters={}, options=self._options(), warnings=[],
                     complete=False, interrupted=f"this run of {len(nodeids)} items started and has not finished "
                                                 f"(if it is no longer running, it died)")
        write_atomic(self.out / "latest.json", dumps(stub))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Workers split by the durations the controller read before anything was written."""
        if self.state.shard_durations is not None:
            node.workerinput[DURATIONS_KEY] = self.state.shard_durations

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        rss = getattr(node, "workeroutput", {}).get("gradspec_peak_rss_mib")
        if rss is not None:
            self.worker_rss[node.gateway.id] = rss

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        prop = dict(report.user_properties).get(PROPERTY)
        if prop is not None:
            self.results[report.nodeid] = json.loads(prop)
            return
        if report.failed and report.nodeid not in self.results:
            text = str(report.longrepr)
            status = "CRASH" if report.when == XDIST_CRASH else "ERROR"
            synthetic = self._synthetic(report.nodeid, status, text, report.duration,
                                        getattr(getattr(report, "node", None), "gateway", None))
            if synthetic is not None:
                self.results[report.nodeid] = synthetic

    def _synthetic(self, nodeid: str, status: str, text: str, duration: float,
                   gateway: Any = None) -> dict[str, Any] | None:
        """A result for an item that has none of its own: its worker died (CRASH), its
        setup broke (ERROR), or the run ended before it (MISSING)."""
        file, sep, name = nodeid.partition("::")
        path = self.state.root / file
        if not sep or "[" not in name or not self.state.is_case_file(path):
            return None
        base, params = name[:-1].split("[", 1)
        try:
            adapter, mode, device, dtype = parse_item_params(params)
        except ValueError:
            return None
        try:
            case_id = next(c.id for c in load_case_file(path) if c.name == base)
        except (CaseError, StopIteration):
            case_id = f"{file}::{base}"
        spec = next((s for s in self.state.specs if s.name == adapter), None)
        version = spec.cls.distribution_version() if spec and spec.cls else "unknown"
        result = ItemResult(case_id, adapter, version, device, dtype, status, mode=mode,
                            message=text.strip().splitlines()[-1][:500] if text.strip() else status,
                            error=None if status == "MISSING" else
                            {"type": status, "message": text[-2000:], "traceback": ""},
                            duration_s=round(duration, 6)).to_json()
        result.update(nodeid=nodeid, worker=getattr(gateway, "id", "main"),
                      repro=repro.command(nodeid, spec, device, mode) if spec else
                      f"python -m pytest {shlex.quote(nodeid)} -n 0 --gradspec-no-report")
        return result

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.results and not self.collected:
            return
        gc.freeze()  # see the module-level pytest_sessionfinish
        unreported = [n for n in self.collected if n not in self.results]
        interrupted = None
        if unreported or exitstatus == pytest.ExitCode.INTERRUPTED:
            interrupted = f"the run ended ({pytest.ExitCode(exitstatus).name.lower()}) before " \
                          f"{len(unreported)} of its {len(self.collected)} items reported"
            for nodeid in unreported:
                missing = self._synthetic(nodeid, "MISSING", "the run ended before this item ran", 0.0)
                if missing is not None:
                    self.results[nodeid] = missing
        results = list(self.results.values())
        if not any(r["status"] in EXECUTED for r in results):
            self.empty_run = True
            if session.exitstatus == pytest.ExitCode.OK:  # a worse status (interrupted, usage) stands
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self.record = self._record(results, interrupted)
        out = self.out
        if out is None:
            return
        from .record import dumps, write_atomic

        stamp = self.record.created.replace(":", "").replace("-", "").replace("+0000", "Z")
        run_path = out / f"run-{stamp}.json"
        text = dumps(self.record)
        write_atomic(run_path, text)
        write_atomic(out / "latest.json", text)
        self.paths = [run_path, out / "latest.json"]
        self.paths += _summaries(self.record, out)

    def _options(self) -> dict[str, Any]:
        state = self.state
        return {"adapters": [s.name for s in state.specs], "modes": state.modes if not state.all_modes else ["all"],
                "devices": state.devices, "dtypes": state.dtypes,
                "workers": int(getattr(self.config.option, "numprocesses", 0) or 0),
                **({"shard": {"index": state.shard.index, "count": state.shard.count, "items": len(self.collected),
                              "durations": self.config.getoption("--gradspec-shard-durations")}}
                   if state.shard else {})}

    def _record(self, results: list[dict[str, Any]], interrupted: str | None) -> RunRecord:
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
                                    "modes": dict(spec.cls.modes) if spec.cls else {EAGER: ""},
                                    "version": versions[0] if versions else
                                    spec.cls.distribution_version() if spec.cls else "unknown",
                                    "devices": seen_devices, "origin": spec.origin, "target": spec.target,
                                    "capabilities": sorted(spec.cls.capabilities) if spec.cls else [],
                                    "dtypes": list(spec.cls.dtypes) if spec.cls else []}
            try:
                reason = spec.error or (spec.cls.unavailable() if spec.cls else None)
            except Exception as exc:  # its items are ERROR; the record says why
                reason = f"adapter '{spec.name}' could not say whether it can run: {type(exc).__name__}: {exc}"
            info.update(available=reason is None, reason=reason)
            adapters[spec.name] = info
            try:
                declared = state.expectations(spec)
            except expectation_file.ExpectationFileError as exc:
                warnings.append(str(exc))
                continue
            info["bases"] = declared.bases()
            unknown = declared.unknown_ids(catalog)
            warnings += [f"{spec.cls.expectations_path() if spec.cls else spec.name}: entry '{cid}' names no case"
                         for cid in unknown]
        workers = self.worker_rss or {"main": peak_rss_mib()}
        from .record import build

        return build(root=state.root, cases=cases, results=results, adapters=adapters, options=self._options(),
                     warnings=warnings, resources={"peak_rss_mib": workers}, complete=interrupted is None,
                     interrupted=interrupted)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        record = self.record
        if record is None:
            return
        from .markdown import printable

        tr = terminalreporter
        tr.section("gradspec")
        per: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for r in record.results:
            per[(r.adapter, r.mode)][r.status] += 1
        for (adapter, mode), counts in sorted(per.items()):
            info = record.adapters.get(adapter)
            score = info.conformance.get(mode) if info else None
            stale = len(info.stale_claims) if info else 0
            tr.write_line(printable(
                f"{adapter:12s} {mode:9s} {info.version if info else '?':14s} conformance "
                f"{score.passed if score else 0}/{score.denominator if score else 0}  "
                + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
                + (f"  ({stale} stale capability claims)" if stale else "")))
        part = record.options.shard
        if part is not None:
            tr.write_line(printable(f"gradspec: shard {part.index}/{part.count} of a split run: {part.items} items, "
                                    + (f"balanced by {part.durations}" if part.durations else "split by node id")))
        for line in slowest_cases(record.results):
            tr.write_line(printable(line))
        for warning in record.warnings:
            tr.write_line(printable(f"gradspec warning: {warning}"), yellow=True)
        from .releases import stale_range_text

        for stale_range in record.stale_ranges:
            tr.write_line(printable(f"gradspec stale range: {stale_range_text(stale_range)}"), yellow=True)
        if not record.complete:
            tr.write_line(printable(f"gradspec: {record.interrupted}: this record is partial (the items that did "
                                    f"not run are MISSING)"), red=True)
        elif self.empty_run:
            tr.write_line("gradspec: no case executed (every item was skipped or unsupported): not green", red=True)
        for p in self.paths:
            tr.write_line(f"gradspec report: {p}")


def slowest_cases(results: list[Result], count: int = 5) -> list[str]:
    """The cases whose items took longest in all, each with its slowest item, so a slow
    case is seen the day it lands."""
    total: dict[str, float] = defaultdict(float)
    slowest: dict[str, Result] = {}
    for r in results:
        total[r.case] += r.duration_s
        if r.case not in slowest or r.duration_s > slowest[r.case].duration_s:
            slowest[r.case] = r
    ranked = sorted(total, key=lambda c: -total[c])[:count]
    if not ranked:
        return []
    lines = [f"slowest {len(ranked)} cases (all their items; the slowest item):"]
    lines += [f"  {total[c]:7.2f} s  {c}  ({slowest[c].duration_s:.2f} s {slowest[c].nodeid})" for c in ranked]
    return lines


def _summaries(record: RunRecord, out: Path) -> list[Path]:
    """The Markdown matrix and the static HTML dashboard beside the record."""
    from . import html, markdown
    from .record import write_atomic

    path = out / "summary.md"
    write_atomic(path, markdown.render(record))
    return [path, html.write(record, out / "dashboard")]

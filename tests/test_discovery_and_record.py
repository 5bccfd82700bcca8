"""Adapter discovery (built-ins, entry points, explicit, environment) and the
record's derived facts (conformance, stale capability claims, atomic writes)."""
from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from gradspec import discovery
from gradspec.merge import scores
from gradspec.record import stale_claims, write_atomic
from gradspec.record_model import RunRecord, typed
from report_fixtures import CASES, adapter_entry, result
from report_fixtures import record as report_record


def test_every_builtin_is_found_and_loads():
    specs = discovery.discover([], None)
    assert [s.name for s in specs] == list(discovery.BUILTINS)
    assert all(s.error is None and s.origin == "builtin" for s in specs)


def test_importing_every_builtin_adapter_module_imports_no_framework():
    import subprocess
    import sys

    code = ("import sys; from gradspec.discovery import discover; discover([], None); "
            "print(sorted(m for m in ('torch', 'tensorflow', 'jax', 'autograd') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_collecting_the_whole_catalog_imports_no_framework():
    """``pytest cases --collect-only`` (every case, adapter, mode, device and dtype) must stay
    cheap: frameworks are imported by the first item that runs, never by collection."""
    import subprocess
    import sys

    code = ("import sys, pytest; rc = pytest.main(['cases', '--collect-only', '-q', '-p', 'no:cacheprovider']); "
            "print('IMPORTED', rc, sorted(m for m in ('torch', 'tensorflow', 'jax', 'autograd', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert "collected" in out.stdout and out.stdout.rsplit("IMPORTED", 1)[1].strip() == "0 []", out.stdout[-2000:]


def test_explicit_environment_and_entry_point_adapters(monkeypatch: pytest.MonkeyPatch):
    ep = importlib.metadata.EntryPoint("from_package", "tests.fake_adapters:Scaled", discovery.ENTRY_POINT_GROUP)
    monkeypatch.setattr(discovery.importlib.metadata, "entry_points",
                        lambda group: [ep] if group == discovery.ENTRY_POINT_GROUP else [])
    monkeypatch.setenv(discovery.ENV_VAR, "tests.fake_adapters:Sleepy")
    specs = {s.name: s for s in discovery.discover(["tests.fake_adapters:Crashing"], None)}
    assert specs["scaled"].origin == "entry-point"
    assert specs["sleepy"].origin == "explicit" and specs["crashing"].origin == "explicit"


def test_an_adapter_that_fails_to_load_is_named_and_kept():
    spec = discovery.load_spec("tests.fake_adapters:NoSuchClass", "explicit")
    assert spec.cls is None and "tests.fake_adapters:NoSuchClass" in spec.error and "AttributeError" in spec.error
    spec = discovery.load_spec("gradspec.case:Case", "explicit")
    assert "not a gradspec.adapter.Adapter subclass" in spec.error


def test_selecting_an_unknown_adapter_is_an_error():
    with pytest.raises(LookupError, match="unknown adapters"):
        discovery.discover([], ["numpy", "nope"])


def _record(rows: list[tuple[str, str, str, list[str]]], kinds: dict[str, str], requires: dict[str, list[str]],
            capabilities: dict[str, list[str]]) -> RunRecord:
    """A typed record of (adapter, case, status, stale denials) rows."""
    results = []
    for adapter, case, status, stale in rows:
        r = result(case, adapter, "1.0", "cpu", "float32", status)
        r["stale_denial"] = stale
        results.append(r)
    cases = {cid: {**CASES["tape.cube_variable"], "kind": kind, "requires": requires.get(cid, [])}
             for cid, kind in kinds.items()}
    adapters = {a: {**adapter_entry(a, "1.0", ["cpu"]), "capabilities": caps} for a, caps in capabilities.items()}
    return typed(report_record(results, adapters, cases))


def test_conformance_has_a_fixed_denominator_over_required_cases():
    kinds = {"a.x": "required", "a.y": "required", "a.z": "implementation-defined"}
    rec = _record([("t", "a.x", "PASS", []), ("t", "a.y", "UNSUPPORTED", []), ("t", "a.z", "PASS", []),
                   ("o", "a.x", "REFERENCE", []), ("o", "a.y", "PASS", [])], kinds, {}, {"t": [], "o": []})
    got = {adapter: (s["passed"], s["denominator"]) for (adapter, _, _mode), s in scores(rec).items()}
    assert got == {"t": (1, 2), "o": (1, 1)}


def test_stale_claims_in_both_directions():
    kinds = {"t.p": "api", "t.q": "api", "t.w": "api"}
    requires = {"t.p": ["persistent_recording"], "t.q": ["persistent_recording"], "t.w": ["watch_control"]}
    rows = [("x", "t.p", "FAIL", []), ("x", "t.q", "ERROR", []), ("x", "t.w", "UNSUPPORTED", ["watch_control"])]
    claims = {(c.capability, c.kind) for c in stale_claims(_record(rows, kinds, requires,
                                                                   {"x": ["persistent_recording"]}))["x"]}
    assert claims == {("persistent_recording", "claimed_but_failing"), ("watch_control", "denied_but_working")}
    rows[0] = ("x", "t.p", "PASS", [])
    assert all(c.kind != "claimed_but_failing"
               for c in stale_claims(_record(rows, kinds, requires, {"x": ["persistent_recording"]})).get("x", []))


def test_atomic_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "latest.json"
    write_atomic(target, "old\n")

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["latest.json"]

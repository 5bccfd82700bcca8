"""The conformance run itself, as a user runs it: on the pinned framework
versions, every case of the catalog has a result for every built-in adapter,
and nothing is FAIL or ERROR."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gradspec.schema import load_record

REPO = Path(__file__).resolve().parents[1]
BUILTINS = ["numpy", "tensorflow", "torch", "jax", "autograd", "jsonl"]


def conformance_run(out: Path, *args: str) -> dict:
    """``pytest cases -n 2`` with ``args``; its validated record, exit status and output tail."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "cases", "-n", "2", "-q", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", "--gradspec-report-dir", str(out), *args],
        cwd=REPO, capture_output=True, text=True, timeout=3000)
    path = out / "latest.json"
    assert path.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
    data = load_record(path)  # validated against the shipped JSON Schema
    data["_exit"] = proc.returncode
    data["_tail"] = proc.stdout[-6000:]
    return data


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return conformance_run(tmp_path_factory.mktemp("conformance"))


@pytest.fixture(scope="module")
def torch_compiled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """torch.compile is opt-in for the main command (seconds of compilation an item), so it runs here."""
    return conformance_run(tmp_path_factory.mktemp("torch-compiled"), "--gradspec-adapters", "torch",
                           "--gradspec-modes", "compiled")


def test_every_case_has_a_result_for_every_builtin_adapter(record):
    from gradspec.loader import load_cases

    cases = {c.id for c in load_cases([REPO / "cases"])}
    seen = {(r["case"], r["adapter"]) for r in record["results"]}
    missing = sorted((c, a) for c in cases for a in BUILTINS if (c, a) not in seen)
    assert not missing, missing[:20]


def test_nothing_fails_or_errors_on_the_pinned_versions(record):
    bad = [f"{r['nodeid']}: {r['status']} {r['fail_kind']}: {r['message'][:300]}" for r in record["results"]
           if r["status"] in ("FAIL", "ERROR", "TIMEOUT", "CRASH")]
    assert not bad, "\n".join(bad[:40])
    assert record["_exit"] == 0, record["_tail"]


def test_the_frameworks_really_ran(record):
    counts = Counter((r["adapter"], r["status"]) for r in record["results"])
    for adapter in ["tensorflow", "torch", "jax"]:
        assert counts[(adapter, "PASS")] >= 100, counts
    assert record["summary"]["executed"] > 0


def test_torch_compiled_neither_fails_nor_errors_and_really_compiled(torch_compiled):
    bad = [f"{r['nodeid']}: {r['status']} {r['fail_kind']}: {r['message'][:300]}" for r in torch_compiled["results"]
           if r["status"] in ("FAIL", "ERROR", "TIMEOUT", "CRASH")]
    assert not bad, "\n".join(bad[:40])
    assert torch_compiled["_exit"] == 0, torch_compiled["_tail"]
    passed = [r for r in torch_compiled["results"] if r["status"] == "PASS" and r["mode"] == "compiled"]
    assert len(passed) >= 100
    for r in passed:  # a value that passed came from compiled code; only a compiler error may precede compiling
        if r["compile_stats"]["compiled_frames"] == 0:
            assert all(o.get("outcome") == "Raised" for o in r["observed"]), r["nodeid"]


def test_no_listed_known_bug_is_stale(record):
    """Every known bug an expectation file lists still fails, and as it says (else XPASS or FAIL)."""
    stale = [f"{r['nodeid']}: {r['message'][:200]}" for r in record["results"] if r["status"] == "XPASS"]
    assert not stale, "\n".join(stale[:20])
    assert any(r["status"] == "XFAIL" for r in record["results"])

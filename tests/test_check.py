"""`gradspec check MODULE:CLASS`: the templates pass, each broken declaration is named,
and the forecast accounts for every item."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradspec.cli import main
from gradspec.loader import load_cases

REPO = Path(__file__).resolve().parents[1]
N_ITEMS = sum(len(c.dtypes) for c in load_cases([REPO / "cases"]))


@pytest.fixture(autouse=True)
def importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.chdir(REPO)


def check(capsys: pytest.CaptureFixture[str], target: str) -> tuple[int, dict]:
    rc = main(["check", target, "--format", "json"])
    return rc, json.loads(capsys.readouterr().out)


def test_the_tape_template_checks_clean_with_a_forecast_of_every_item(capsys) -> None:
    rc, report = check(capsys, "docs.tape_adapter_template:MinitapeAdapter")
    assert rc == 0 and report["ok"] and report["problems"] == [], report
    smoke = [line["text"] for line in report["lines"] if line["level"] == "smoke"]
    assert len(smoke) == 5 and all(": PASS (" in s for s in smoke)
    forecast = report["forecast"]
    assert forecast["items"] == N_ITEMS == sum(v for k, v in forecast.items() if k != "items")
    assert forecast["UNSUPPORTED: capability not applicable (not run)"] > 0
    assert forecast["UNSUPPORTED: op not in the op table"] > 0      # erf, matmul, ... are not mapped
    assert forecast["UNSUPPORTED: probe not implemented"] > 0


def test_the_text_form_is_readable(capsys) -> None:
    assert main(["check", "docs.adapter_template:MinimalAutograd"]) == 0
    out = capsys.readouterr().out
    assert "ok        op table:" in out and f"forecast  a full run on cpu: {N_ITEMS} items" in out
    assert out.rstrip().endswith("no problems found")


@pytest.mark.parametrize("cls, words", [
    ("UnknownCapability", "['teleportation'] are not gradspec capabilities"),
    ("ClaimedAndNotApplicable", "['variables'] are both claimed and declared not applicable"),
    ("BadDtype", "dtypes ['float32', 'float96']"),
    ("UnknownOps", "['expp'] are not gradspec ops"),
    ("UnknownOps", "['tanh'] are not callable"),
    ("OpsBuildFails", "building the op table raised ImportError: mylib.ops is missing"),
    ("WrongGradient", "tape.square_variable float64: FAIL"),
    ("BadExpectations", "case 'tape.no_such_case' is not in the catalog"),
    ("BadExpectations", "case 'tape.unconnected_source': field 'choice': 'none' is not a label of slot 'choice'"),
    ("BadExpectations", "case 'tape.source_kinds': field 'choices': slot 'q' is not one of the case's slots"),
    ("MalformedExpectations", "case 'tape.unconnected_source': field 'doc'"),
    ("FailsToConstruct", "raised RuntimeError: no licence server"),
    ("NotAnAdapter", "is not a gradspec.adapter.Adapter subclass"),
])
def test_a_broken_adapter_is_flagged(capsys, cls: str, words: str) -> None:
    rc, report = check(capsys, f"tests.check_fixtures:{cls}")
    assert rc == 1 and not report["ok"]
    assert any(words in p for p in report["problems"]), report["problems"]


def test_an_adapter_whose_library_is_missing_forecasts_skips(capsys) -> None:
    rc, report = check(capsys, "tests.check_fixtures:NotInstalled")
    assert rc == 0 and report["forecast"] == {"items": N_ITEMS, "SKIP (framework not installed)": N_ITEMS}


def test_check_runs_in_seconds(capsys) -> None:
    import time

    start = time.perf_counter()
    check(capsys, "docs.tape_adapter_template:MinitapeAdapter")
    assert time.perf_counter() - start < 10


def test_the_oracle_forecast_names_its_reference_cells(capsys) -> None:
    rc, report = check(capsys, "adapters.numpy_oracle:NumpyOracleAdapter")
    assert rc == 0 and report["forecast"]["REFERENCE (expected values come from this adapter)"] > 0

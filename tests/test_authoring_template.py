"""The authoring guide's template adapters work as the guide says, through the plugin."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def run_suite(tmp_path: Path, files: list[str], *adapter_args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *files, "-n", "0", "-q", "-p", "no:cacheprovider",
         "-p", "no:hypothesispytest", *adapter_args, "--gradspec-report-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (tmp_path / "latest.json").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((tmp_path / "latest.json").read_text())


def test_the_minimal_template_gets_a_conformance_report(tmp_path: Path):
    record = run_suite(tmp_path, ["cases/tape.py", "cases/layers.py"],
                       "--gradspec-adapter", "docs.adapter_template:MinimalAutograd",
                       "--gradspec-adapters", "minimal_autograd")
    status = {(r["case"], r["dtype"]): r["status"] for r in record["results"]}
    assert status[("tape.square_variable", "float64")] == "PASS"
    assert status[("layers.naive_softmax", "float64")] == "UNSUPPORTED"     # no log_softmax in its table
    assert status[("tape.square_variable", "float32")] == "UNSUPPORTED"     # float64 only
    assert "FAIL" not in {r["status"] for r in record["results"]}
    score = record["adapters"]["minimal_autograd"]["conformance"]["eager"]
    assert 0 < score["passed"] < score["denominator"]


def test_the_tape_template_answers_on_one_recording_and_flags_an_imitated_capability(tmp_path: Path):
    record = run_suite(tmp_path, ["cases/tape.py", "cases/ops_unary.py"],
                       "--gradspec-adapter", "docs.tape_adapter_template:MinitapeAdapter",
                       "--gradspec-adapter", "tests.rerunning_adapters:RerunningMinitape",
                       "--gradspec-adapters", "minitape,rerunning_minitape")
    status = {(r["adapter"], r["case"], r["dtype"]): r for r in record["results"]}
    tape = {c: status[("minitape", c, "float32")]["status"] for c in (
        "tape.square_variable", "tape.sources_dict", "tape.intermediate_source", "tape.unconnected_zero",
        "tape.non_persistent_second_request", "tape.unconnected_source", "ops.unary.tanh",
        "tape.persistent_reuse", "tape.source_kinds", "tape.nested_cube", "ops.unary.erf")}
    assert tape == {"tape.square_variable": "PASS", "tape.sources_dict": "PASS",
                    "tape.intermediate_source": "PASS",
                    "tape.unconnected_zero": "UNSUPPORTED",         # minitape has no such option
                    "tape.non_persistent_second_request": "PASS",   # minitape's error classified TapeExhausted
                    "tape.unconnected_source": "PASS",              # its declared choice: absent
                    "ops.unary.tanh": "PASS",
                    "tape.persistent_reuse": "UNSUPPORTED",         # no persistent recording
                    "tape.source_kinds": "UNSUPPORTED",             # no variables (not applicable)
                    "tape.nested_cube": "UNSUPPORTED",              # no higher order
                    "ops.unary.erf": "UNSUPPORTED"}                 # not in its op table
    mine = [r for r in record["results"] if r["adapter"] == "minitape"]
    assert not {r["status"] for r in mine} & {"FAIL", "ERROR"}
    assert not record["adapters"]["minitape"].get("stale_claims")
    # what `gradspec check` forecasts from the declarations alone is what the run did
    from gradspec.check import check
    from gradspec.loader import load_cases

    sys.path.insert(0, str(REPO))
    forecast = check("docs.tape_adapter_template:MinitapeAdapter",
                     load_cases([REPO / "cases/tape.py", REPO / "cases/ops_unary.py"])).forecast
    ran = Counter(r["status"] for r in mine)
    assert forecast["run and judged (PASS or FAIL)"] == ran["PASS"] + ran["FAIL"]
    assert sum(n for k, n in forecast.items() if k.startswith("UNSUPPORTED")) == ran["UNSUPPORTED"]
    # re-running the body answers the persistent case correctly, but the library has no such recording
    rerun = status[("rerunning_minitape", "tape.persistent_reuse", "float64")]
    assert rerun["status"] == "UNSUPPORTED" and rerun["stale_denial"] == ["persistent_recording"]
    claims = record["adapters"]["rerunning_minitape"]["stale_claims"]
    assert [(c["capability"], c["kind"]) for c in claims] == [("persistent_recording", "denied_but_working")]


def test_minitape_gradients_match_analytic_values():
    """The toy engine the tape template validates: broadcasting, reductions, indexing, freeing."""
    sys.path.insert(0, str(REPO))
    from docs import minitape as mt

    a = mt.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    b = mt.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = mt.sum(mt.tanh(a * b) + a[0] / 2.0)
    ga, gb = mt.grad(y, [a, b])
    t = np.tanh(a.value * b.value)
    np.testing.assert_allclose(ga, (1 - t * t) * b.value + np.array([[1.0, 1.0], [0.0, 0.0]]))  # a[0]/2 broadcast over 2 rows
    np.testing.assert_allclose(gb, ((1 - t * t) * a.value).sum(axis=0))
    with pytest.raises(RuntimeError, match="freed"):
        mt.grad(y, [a])
    assert mt.grad(mt.mean(b * b), [a, b])[0] is None

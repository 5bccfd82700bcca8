"""The authoring guide's template adapter works as the guide says."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_minimal_template_gets_a_conformance_report(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "cases/tape.py", "cases/layers.py", "-n", "0", "-q",
         "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
         "--gradspec-adapter", "docs.adapter_template:MinimalAutograd",
         "--gradspec-adapters", "minimal_autograd", "--gradspec-report-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    record = json.loads((tmp_path / "latest.json").read_text())
    status = {(r["case"], r["dtype"]): r["status"] for r in record["results"]}
    assert status[("tape.square_variable", "float64")] == "PASS"
    assert status[("layers.naive_softmax", "float64")] == "UNSUPPORTED"     # no log_softmax in its table
    assert status[("tape.square_variable", "float32")] == "UNSUPPORTED"     # float64 only
    assert "FAIL" not in {r["status"] for r in record["results"]}, proc.stdout[-3000:]
    score = record["adapters"]["minimal_autograd"]["conformance"]["eager"]
    assert 0 < score["passed"] < score["denominator"]

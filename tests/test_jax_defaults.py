"""What the report calls JAX's default dtypes is what a user gets out of the box:
the x64 flag is on only for 64-bit items, an item records the flag it ran under,
and a float64 item run earlier in the same process does not leak it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gradspec.schema import load_record

REPO = Path(__file__).resolve().parents[1]


def test_default_dtype_probes_report_jax_out_of_the_box_after_a_float64_item(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "cases/tape.py", "cases/variables.py", "-n", "0", "-q",
         "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--gradspec-adapters", "jax",
         "--gradspec-modes", "eager,compiled", "-k", "square_variable or default_int_dtype or default_float_dtype",
         "--gradspec-report-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    record = load_record(tmp_path / "latest.json")
    results = record["results"]
    order = [r["case"] for r in results]
    assert order.index("tape.square_variable") < order.index("variables.default_int_dtype"), order
    probes = {(r["case"], r["mode"]): r for r in results if r["case"].startswith("variables.default_")}
    assert len(probes) == 4, proc.stdout[-3000:]
    for (case, _), r in probes.items():
        assert r["settings"] == {"jax_enable_x64": False}, r
        want = "int32" if case.endswith("int_dtype") else "float32"
        assert r["observed"] == [{"outcome": "Info", "value": want}], r
        assert r["status"] == "PASS", r["message"]
    x64 = [r for r in results if r["case"] == "tape.square_variable" and r["dtype"] == "float64"]
    assert x64 and all(r["settings"] == {"jax_enable_x64": True} for r in x64)

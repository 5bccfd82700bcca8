"""The pytest plugin end to end, in throw-away projects (pytester)."""
from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from gradspec import html, markdown
from gradspec.record_model import typed

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]

CASES = '''
from gradspec.case import case
from gradspec.expect import absent, one_of, oracle, raises, value, zeros
from gradspec.inputs import var
from gradspec.requests import Grad

square = case(id="demo.square", statement="d/dx x^2 at 3 is 6", doc="https://example.org/guide#grad",
              tags=["tape"], inputs={"x": var(3.0)}, body=lambda ops, x: x * x, requests=Grad("x"),
              expect=value(6.0))
sigmoid = case(id="demo.sigmoid", statement="sigmoid gradient", doc="https://example.org/guide#sigmoid",
               tags=["ops"], inputs={"x": var([0.3, -1.2])}, body=lambda ops, x: ops.sum(ops.sigmoid(x)),
               requests=Grad("x"), expect=oracle())
unconnected = case(id="demo.unconnected", statement="unconnected source", doc="https://example.org/guide#none",
                   tags=["tape"], inputs={"x": var(3.0), "z": var(2.0)}, body=lambda ops, x, z: x * x,
                   requests=Grad("z"), expect=one_of(absent=absent(), raises=raises("UnconnectedSource"),
                                                     zeros=zeros()))
'''
EXTRA = '''
crash = case(id="demo.crash", statement="crashes", doc="https://example.org/guide#crash", tags=["tape"],
             inputs={"x": var(3.0)}, body=lambda ops, x: x * x, requests=Grad("x"), expect=value(6.0))
slow = case(id="demo.slow", statement="hangs", doc="https://example.org/guide#slow", tags=["tape"],
            inputs={"x": var(3.0)}, body=lambda ops, x: x * x, requests=Grad("x"), expect=value(6.0))
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["gradspec.plugin"]\n')
    pytester.mkdir("cases")
    (pytester.path / "cases" / "demo.py").write_text(CASES)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(pytester.path),
                                                      os.environ.get("PYTHONPATH", "")]))
    return pytester


def run(project: pytest.Pytester, *args: str, timeout: float = 300) -> tuple[pytest.RunResult, dict]:
    result = project.runpytest_subprocess("cases", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                          "-p", "no:benchmark", *args, timeout=timeout)
    latest = project.path / "reports" / "latest.json"
    record = json.loads(latest.read_text()) if latest.exists() else {}
    return result, record


def cells(record: dict) -> dict:
    return {r["nodeid"]: (r["status"], r["choices"], json.dumps(r["observed"])) for r in record["results"]}


def test_items_have_readable_ids_and_select_by_marker_and_adapter(project):
    result, record = run(project, "--gradspec-adapters", "numpy", "-m", "tape", "-n", "0")
    result.assert_outcomes(passed=2, skipped=2)  # the oracle states no implementation-defined choice
    ids = sorted(r["nodeid"] for r in record["results"])
    assert "cases/demo.py::square[numpy-cpu-float32]" in ids
    assert all("sigmoid" not in i for i in ids)


def test_xdist_gives_the_same_record_as_a_single_process(project):
    _, serial = run(project, "--gradspec-adapters", "numpy,scaled", "-n", "0",
                    "--gradspec-adapter", "tests.fake_adapters:Scaled")
    _, parallel = run(project, "--gradspec-adapters", "numpy,scaled", "-n", "2",
                      "--gradspec-adapter", "tests.fake_adapters:Scaled")
    assert cells(serial) == cells(parallel) and len(cells(serial)) == 12
    assert {r["worker"] for r in parallel["results"]} <= {"gw0", "gw1"}


def test_the_mode_axis_gives_the_same_record_under_xdist_and_catches_a_compiled_only_error(project):
    args = ("--gradspec-adapter", "tests.fake_adapters:CompiledSignError", "--gradspec-adapters", "modal")
    _, serial = run(project, "-n", "0", *args)
    _, parallel = run(project, "-n", "2", *args)
    assert cells(serial) == cells(parallel) and len(cells(serial)) == 12
    status = {r["nodeid"]: (r["status"], r["fail_kind"]) for r in serial["results"]}
    wrong = {n for n, s in status.items() if s[0] != "PASS"}
    assert wrong == {"cases/demo.py::sigmoid[modal-compile-cpu-float32]",
                     "cases/demo.py::sigmoid[modal-compile-cpu-float64]"}
    assert {status[n] for n in wrong} == {("FAIL", "value_mismatch")}
    assert status["cases/demo.py::sigmoid[modal-cpu-float32]"] == ("PASS", None)
    view = markdown.render(serial).split("## Eager versus compiled", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in view.splitlines() if line.startswith("| demo")]
    assert len(rows) == 1 and rows[0].startswith("| demo.sigmoid | modal ")
    assert "| PASS (x2) | FAIL (value\\_mismatch)" in rows[0]
    dashboard = html.model(typed(serial))["mode_differences"]
    assert [(d["case"], d["mode"], d["eager"], d["cells"]) for d in dashboard] == \
        [("demo.sigmoid", "compiled", ["PASS (x2)"], ["cpu float32", "cpu float64"])]


def test_a_wrong_adapter_added_from_outside_fails_where_it_is_wrong(project):
    result, record = run(project, "-n", "0", "--gradspec-adapter", "tests.fake_adapters:Scaled",
                         "--gradspec-adapters", "scaled")
    status = {r["case"] + "/" + r["dtype"]: (r["status"], r["fail_kind"]) for r in record["results"]}
    assert status["demo.square/float32"] == ("FAIL", "value_mismatch")
    assert status["demo.sigmoid/float64"] == ("FAIL", "value_mismatch")
    assert status["demo.unconnected/float32"] == ("PASS", None)   # zeros scaled are still zeros
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAIL (value_mismatch): demo.square on scaled*"])


def test_the_oracle_is_a_reference_where_it_made_the_expected_value(project):
    _, record = run(project, "-n", "0", "--gradspec-adapters", "numpy")
    status = {(r["case"], r["dtype"]): r["status"] for r in record["results"]}
    assert status[("demo.sigmoid", "float64")] == "REFERENCE"
    assert status[("demo.square", "float64")] == "PASS"
    assert record["adapters"]["numpy"]["conformance"] == {"eager": {"passed": 2, "denominator": 2}}


def test_a_dead_worker_is_a_crash_and_the_record_stays_whole(project):
    (project.path / "cases" / "demo.py").write_text(CASES + EXTRA)
    result, record = run(project, "-n", "2", "--gradspec-adapter", "tests.fake_adapters:Crashing",
                         "--gradspec-adapters", "crashing", "-k", "not slow")
    status = {(r["case"], r["dtype"]): r["status"] for r in record["results"]}
    assert status[("demo.crash", "float32")] == "CRASH"
    assert status[("demo.square", "float64")] == "PASS"
    assert len(status) == 8 and result.ret != 0
    _validate(record)


def test_a_hanging_item_is_a_timeout(project):
    (project.path / "cases" / "demo.py").write_text(CASES + EXTRA)
    result, record = run(project, "-n", "0", "--gradspec-adapter", "tests.fake_adapters:Sleepy",
                         "--gradspec-adapters", "sleepy", "-k", "slow or square", "--gradspec-timeout", "1")
    status = {(r["case"], r["dtype"]): r["status"] for r in record["results"]}
    assert status == {("demo.slow", "float32"): "TIMEOUT", ("demo.slow", "float64"): "TIMEOUT",
                      ("demo.square", "float32"): "PASS", ("demo.square", "float64"): "PASS"}


def test_a_broken_adapter_costs_only_its_own_results(project):
    result, record = run(project, "-n", "0", "--gradspec-adapters", "numpy,cannot_construct,no_such_module",
                         "--gradspec-adapter", "tests.fake_adapters:CannotConstruct",
                         "--gradspec-adapter", "no_such_module:Adapter")
    by_adapter: dict = {}
    for r in record["results"]:
        by_adapter.setdefault(r["adapter"], set()).add(r["status"])
    assert by_adapter["cannot_construct"] == {"ERROR"}
    assert by_adapter["no_such_module"] == {"ERROR"}
    assert by_adapter["numpy"] <= {"PASS", "REFERENCE", "UNSUPPORTED"}
    messages = {r["message"] for r in record["results"] if r["status"] == "ERROR"}
    assert any("no licence server" in m for m in messages)
    assert any("adapter 'no_such_module:Adapter' failed to load: ModuleNotFoundError" in m for m in messages)


def test_an_unknown_adapter_name_is_a_usage_error(project):
    result, _ = run(project, "--gradspec-adapters", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown adapters*'nope'*"])


def test_a_run_where_nothing_executed_is_not_green(project):
    result, record = run(project, "-n", "0", "--gradspec-adapters", "numpy", "--gradspec-dtypes", "bfloat16",
                         "-k", "square")
    assert record == {} or record["summary"]["executed"] == 0
    assert result.ret != 0


def test_a_malformed_case_names_file_id_and_field(project):
    (project.path / "cases" / "bad.py").write_text(CASES.replace("https://example.org/guide#grad",
                                                                 "https://example.org/guide"))
    result, _ = run(project, "--gradspec-adapters", "numpy")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*bad.py:7: case 'demo.square': field 'doc': *#fragment*"])


def _validate(record: dict) -> None:
    from gradspec.schema import validate

    validate(record)


def test_an_expectation_entry_naming_no_case_is_a_warning(project):
    project.path.joinpath("fake_adapters_here.py").write_text(
        "from tests.fake_adapters import Scaled\nclass Noted(Scaled):\n    name = 'noted'\n")
    project.path.joinpath("fake_adapters_here.expect.toml").write_text('["demo.gone"]\nchoice = "x"\nbasis = "observed"\nnote = "renamed"\n')
    result, record = run(project, "-n", "0", "--gradspec-adapter", "fake_adapters_here:Noted",
                         "--gradspec-adapters", "noted")
    assert any("'demo.gone' names no case" in w for w in record["warnings"])
    result.stdout.fnmatch_lines(["*gradspec warning:*demo.gone*names no case*"])


# -- hostile adapters and cases: each costs only itself, and the record says what happened -------------

HANGING_UNDER_THE_ORACLE = '''
import time
hang = case(id="demo.hang", statement="never returns", doc="https://example.org/guide#hang", tags=["tape"],
            inputs={"x": var([1.0, 2.0])}, body=lambda ops, x: time.sleep(600) or ops.sum(x * x),
            requests=Grad("x"), expect=oracle())
'''


def test_a_body_that_never_returns_under_an_oracle_expectation_is_a_timeout(project):
    (project.path / "cases" / "demo.py").write_text(CASES + HANGING_UNDER_THE_ORACLE)
    _, record = run(project, "-n", "0", "--gradspec-adapters", "numpy", "-k", "hang", "--gradspec-timeout", "1",
                    timeout=60)
    assert {r["status"] for r in record["results"]} == {"TIMEOUT"}


def test_one_case_id_in_two_modules_is_a_collection_error(project):
    (project.path / "cases" / "again.py").write_text(CASES)
    result, _ = run(project, "-n", "0", "--gradspec-adapters", "numpy")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*.py:*: case 'demo.square': field 'id': duplicate id, also defined at *.py:*"])


def test_a_run_that_dies_under_n0_leaves_no_older_record_passing_for_it(project):
    (project.path / "cases" / "demo.py").write_text(CASES + EXTRA)
    _, before = run(project, "-n", "0", "--gradspec-adapters", "numpy", "-k", "square")
    assert before["complete"] is not False and before["results"]
    result, after = run(project, "-n", "0", "--gradspec-adapter", "tests.fake_adapters:Aborting",
                        "--gradspec-adapters", "aborting", "-k", "not slow")
    assert result.ret != 0 and after["complete"] is False and after["results"] == []
    assert "has not finished" in after["interrupted"]
    _validate(after)


def test_listing_the_items_writes_no_record_and_leaves_the_last_one_alone(project):
    _, before = run(project, "-n", "0", "--gradspec-adapters", "numpy", "-k", "square")
    result, after = run(project, "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK and "collected" in result.stdout.str()
    assert after == before and len(list((project.path / "reports").glob("run-*.json"))) == 1


def test_a_reproduction_command_is_quoted_against_the_shell(project):
    hostile = "it's $(touch pwned) `id`.py"
    (project.path / "cases" / "demo.py").rename(project.path / "cases" / hostile)
    _, record = run(project, "-n", "0", "--gradspec-adapters", "numpy", "-k", "square")
    assert record["results"]
    for result in record["results"]:
        assert hostile in result["nodeid"] and shlex.split(result["repro"])[3] == result["nodeid"]


def test_an_interrupted_run_says_it_is_partial_and_lists_what_did_not_run(project):
    (project.path / "cases" / "demo.py").write_text(CASES + EXTRA)
    result, record = run(project, "-n", "0", "--gradspec-adapter", "tests.fake_adapters:Interrupted",
                         "--gradspec-adapters", "interrupted", "-k", "not slow")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert record["complete"] is False and "interrupted" in record["interrupted"]
    statuses = [r["status"] for r in record["results"]]
    assert len(statuses) == 8 and "MISSING" in statuses
    assert record["summary"]["counts"].get("PASS", 0) < 8
    _validate(record)


def test_an_adapter_thread_left_running_does_not_keep_the_run_from_exiting(project):
    result, record = run(project, "-n", "0", "--gradspec-adapter", "tests.fake_adapters:ThreadLeaving",
                         "--gradspec-adapters", "thread_leaving", "-k", "square", timeout=120)
    assert result.ret == 0 and len(record["results"]) == 2
    result.stderr.fnmatch_lines(["*left 1 thread(s) running (forgotten)*"])


def test_an_error_that_reads_like_a_crash_is_an_error(project):
    result, record = run(project, "-n", "0", "--gradspec-adapter", "tests.fake_adapters:CrashWording",
                         "--gradspec-adapters", "crash_wording", "-k", "square")
    assert {r["status"] for r in record["results"]} == {"ERROR"}

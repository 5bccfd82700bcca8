"""Hostile answers, cases, adapters, protocol servers and records cost only themselves, and
no verdict is wrong: each test here names one way the harness was once fooled or stopped."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from gradspec import diff as diffing
from gradspec import discovery, markdown
from gradspec.case import CaseError, case
from gradspec.engine import run_item
from gradspec.expect import analytic, oracle, value
from gradspec.inputs import var
from gradspec.merge import merge
from gradspec.oracle import FiniteDifferenceOracle
from gradspec.outcomes import Value
from gradspec.record import write_atomic
from gradspec.record_model import RecordError
from gradspec.requests import Grad
from gradspec.schema import validate
from report_fixtures import MARK, sample_record

REPO = Path(__file__).resolve().parents[1]
SQUARE = case(id="demo.square", statement="d/dx x^2 at 3 is 6", doc="https://example.org/guide#grad",
              tags=["tape"], inputs={"x": var(3.0)}, body=lambda ops, x: x * x, requests=Grad("x"),
              expect=value(6.0))


class Answering(FiniteDifferenceOracle):
    """Answers whatever outcome it is given."""

    name: ClassVar[str] = "answering"

    def __init__(self, answer: Any) -> None:
        super().__init__()
        self.answer = answer

    def outcome(self, native: Any) -> Any:
        return self.answer


# -- wrong answers never pass -----------------------------------------------------------------------

@pytest.mark.parametrize("array", [np.array(["6.0"]).reshape(()), np.array(6, dtype=np.int64),
                                   np.array([6.0], dtype=object).reshape(()), np.array(6.0)])
def test_an_answer_of_another_dtype_is_wrong_dtype_whatever_its_kind(array: np.ndarray):
    result = run_item(SQUARE, Answering(Value(array)), "cpu", "float32", "1", None)
    assert (result.status, result.fail_kind) == ("FAIL", "wrong_dtype"), result.message


def test_a_nan_input_under_the_oracle_is_refused_at_load():
    with pytest.raises(CaseError, match=r"field 'inputs': input 'x' holds NaN"):
        case(id="demo.nan", statement="s", doc="https://e.org/a#b", tags=["t"], inputs={"x": var([1.0, np.nan])},
             body=lambda ops, x: ops.sum(ops.sin(x)), requests=Grad("x"), expect=oracle())


# -- cases ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, field", [
    (dict(statement=None), "statement"), (dict(tags="tape"), "tags"), (dict(persistent="no"), "persistent"),
    (dict(doc="https://e.org/a#b\n"), "doc"), (dict(id="demo.square\n"), "id"), (dict(requires="recording"), "requires"),
])
def test_bad_fields_are_named_with_the_case_and_its_line(change: dict[str, Any], field: str):
    fields = dict(id="demo.square", statement="s", doc="https://e.org/a#b", tags=["t"], inputs={"x": var(3.0)},
                  body=lambda ops, x: x * x, requests=Grad("x"), expect=value(6.0))
    fields.update(change)
    if fields["statement"] is None:
        del fields["statement"]
    with pytest.raises(CaseError) as err:
        case(**fields)
    assert f"field '{field}'" in str(err.value) and "test_hostile.py:" in str(err.value)


def test_an_exception_computing_expected_values_keeps_its_text():
    broken = case(id="demo.broken", statement="s", doc="https://e.org/a#b", tags=["t"], inputs={"x": var(3.0)},
                  body=lambda ops, x: x * x, requests=Grad("x"), expect=analytic(lambda x: 1 / 0))
    result = run_item(broken, Answering(Value(np.float32(6.0))), "cpu", "float32", "1", None)
    assert result.status == "ERROR" and "ZeroDivisionError: division by zero" in result.message


# -- adapters ------------------------------------------------------------------------------------------

class Swallowing(FiniteDifferenceOracle):
    """Catches every interruption, including the harness's time limit, and answers late."""

    name: ClassVar[str] = "swallowing"

    def execute(self, program: Any, ctx: Any) -> Any:
        try:
            time.sleep(3)
        except BaseException:  # noqa: BLE001 - the hostile part
            pass
        return super().execute(program, ctx)


def test_an_adapter_that_swallows_the_time_limit_is_still_a_timeout():
    result = run_item(SQUARE, Swallowing(), "cpu", "float32", "1", None, timeout=0.2)
    assert result.status == "TIMEOUT" and "caught the interruption" in result.message


def test_an_explicit_adapter_named_like_a_builtin_is_an_error_not_replaced(tmp_path: Path, monkeypatch):
    (tmp_path / "impostor.py").write_text("from gradspec.oracle import FiniteDifferenceOracle\n"
                                          "class Torch(FiniteDifferenceOracle):\n    name = 'torch'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(LookupError, match=r"two adapters are named 'torch'.*impostor:Torch"):
        discovery.discover(["impostor:Torch"], None)


# -- the JSON-lines door -------------------------------------------------------------------------------

def _server(script: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "server.py"
    path.write_text(script)
    return [sys.executable, str(path)]


def test_a_server_behind_a_launcher_is_ended_with_its_whole_process_group(tmp_path: Path):
    from adapters.jsonl_adapter import ServerProcess

    minirev = REPO / "servers" / "minirev_server.py"
    server = ServerProcess(["sh", "-c", f"'{sys.executable}' '{minirev}'; :"])  # sh forks python, holding stdout
    child = subprocess.run(["pgrep", "-g", str(server.proc.pid)], capture_output=True, text=True).stdout.split()
    done = threading.Event()
    threading.Thread(target=lambda: (server.close(), done.set()), daemon=True).start()
    assert done.wait(15), "close() hung on a pipe the launcher's child still held"
    assert len(child) >= 2 and all(_dead(pid) for pid in child)


def _dead(pid: str) -> bool:
    """Gone, or a zombie (killed, waiting for its new parent to reap it)."""
    for _ in range(50):
        stat_file = Path(f"/proc/{pid}/stat")
        if not stat_file.exists() or stat_file.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def test_an_overlong_reply_line_ends_the_server_instead_of_filling_memory(tmp_path: Path, monkeypatch):
    from adapters.jsonl_adapter import ServerCrashed, ServerProcess

    monkeypatch.setenv("GRADSPEC_JSONL_MAX_LINE", "1000")
    command = _server("import sys\nsys.stdin.readline()\nsys.stdout.write('x' * 100000 + '\\n')\nsys.stdout.flush()\n"
                      "sys.stdin.readline()\n", tmp_path)
    with pytest.raises(ServerCrashed, match="longer than 1000 bytes"):
        ServerProcess(command)


def test_a_malformed_start_reply_is_refused(tmp_path: Path):
    from adapters.jsonl_adapter import ServerError, ServerProcess

    reply = {"id": 1, "protocol": 1, "name": "x", "version": "1", "capabilities": [], "requests": ["value"],
             "dtypes": "float32", "ops": []}
    command = _server(f"import sys\nsys.stdin.readline()\nprint({json.dumps(json.dumps(reply))}, flush=True)\n"
                      "sys.stdin.readline()\n", tmp_path)
    with pytest.raises(ServerError, match="malformed start reply"):
        ServerProcess(command)


# -- records -------------------------------------------------------------------------------------------

def test_a_record_holding_one_cell_twice_is_invalid():
    rec = sample_record(["torch"])
    rec["results"].append(dict(rec["results"][0], status="PASS"))
    with pytest.raises(RecordError, match=r"the cell .* is also \$\.results\[0\]"):
        validate(rec)


def test_the_report_recomputes_counts_instead_of_trusting_the_record():
    rec = sample_record(["torch"])
    rec["summary"] = {"counts": {"PASS": 999}, "executed": 999, "total": 999}
    text = markdown.render(rec)
    assert "999" not in text and f"**{len(rec['results'])} results" in text


def test_markdown_neutralises_controls_bidi_mentions_and_bare_links():
    text = markdown.escape("\x1b[31mred\x07\x00 \u202egnirts @octocat http://evil.example/x")
    for bad in ("\x1b", "\x07", "\x00", "\u202e", "@octocat", "http://"):
        assert bad not in text, bad


def test_merging_a_job_that_ran_another_catalog_warns_naming_it():
    small = sample_record(["tensorflow"])
    del small["cases"]["pool.avg_pool1d"]
    small["results"] = [r for r in small["results"] if r["case"] != "pool.avg_pool1d"]
    merged = merge([("torch.json", sample_record(["torch"])), ("tf-job.json", small)])
    assert any("tf-job.json did not collect 1" in w and "pool.avg_pool1d" in w for w in merged.warnings)


def test_a_pull_request_comment_stays_within_the_limit():
    head = sample_record()
    for r in head["results"]:
        if r["status"] == "PASS":
            r.update(status="FAIL", fail_kind="value_mismatch", message="x" * 5000 + MARK)
    d = diffing.diff(sample_record(), head)
    text = diffing.render(d, max_chars=3000, full_report="https://ci.example/diff.md")
    assert len(text) <= 3000 and "not listed here" in text and "(https://ci.example/diff.md)" in text
    assert len(diffing.render(d, None)) > 3000


def test_outputs_get_ordinary_permissions_and_a_link_stays_a_link(tmp_path: Path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.md", "x")
        assert stat.S_IMODE((tmp_path / "new.md").stat().st_mode) == 0o644
        target = tmp_path / "target.md"
        target.write_text("old")
        target.chmod(0o640)
        (tmp_path / "link.md").symlink_to(target)
        write_atomic(tmp_path / "link.md", "new")
        assert (tmp_path / "link.md").is_symlink() and target.read_text() == "new"
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
    finally:
        os.umask(old)

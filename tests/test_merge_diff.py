"""Merging records of several CI jobs, and diffing two records for CI gating."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gradspec import diff as diffing
from gradspec.cli import main
from gradspec.merge import MergeError, merge, write_record
from gradspec.record_model import RecordError
from gradspec.schema import load_record, validate
from report_fixtures import ODD_ADAPTER, ODD_CASE, plain, result, sample_record, write


def cell_key(r: dict[str, Any]) -> tuple[str, ...]:
    return (r["case"], r["adapter"], r["framework_version"], r["mode"], r["device"], r["dtype"])


def find(rec: dict[str, Any], case: str, adapter: str, dtype: str) -> dict[str, Any]:
    return next(r for r in rec["results"] if (r["case"], r["adapter"], r["dtype"]) == (case, adapter, dtype))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    def call(*args: str) -> tuple[int, str, str]:
        rc = main(list(args))
        out = capsys.readouterr()
        return rc, out.out, out.err
    return call


# -- merge ----------------------------------------------------------------------------------------

def test_merge_of_jobs_equals_the_whole_run() -> None:
    jobs = [(f"{a}.json", sample_record([a])) for a in ("torch", "tensorflow", ODD_ADAPTER)]
    merged = plain(merge(jobs))
    whole = sample_record()
    assert sorted(map(cell_key, merged["results"])) == sorted(map(cell_key, whole["results"]))
    assert merged["summary"] == whole["summary"]
    assert {a: i["conformance"] for a, i in merged["adapters"].items()} == \
        {a: i["conformance"] for a, i in whole["adapters"].items()}
    assert [m["file"] for m in merged["merged_from"]] == ["torch.json", "tensorflow.json", f"{ODD_ADAPTER}.json"]
    validate(merged)


def test_a_cell_a_job_did_not_report_is_missing_and_names_the_job() -> None:
    tf = sample_record(["tensorflow"])
    tf["results"] = [r for r in tf["results"] if not (r["case"] == "tape.cube_variable" and r["dtype"] == "float64")]
    merged = plain(merge([("torch-job.json", sample_record(["torch"])), ("tf-job.json", tf)]))
    missing = [r for r in merged["results"] if r["status"] == "MISSING"]
    assert [cell_key(r) for r in missing] == [("tape.cube_variable", "tensorflow", "2.21.0", "eager", "cpu", "float64")]
    assert "tf-job.json" in missing[0]["message"]
    assert merged["summary"]["counts"]["MISSING"] == 1
    # MISSING counts in the fixed denominator as not passed: tensorflow loses its FAIL cell, keeps 6 required cells.
    assert merged["adapters"]["tensorflow"]["conformance"] == {"eager": {"passed": 3, "denominator": 6}}


def test_missing_cells_cover_dtypes_seen_in_other_jobs() -> None:
    f32 = sample_record(["torch"])
    f32["results"] = [r for r in f32["results"] if r["dtype"] == "float32"]
    merged = plain(merge([("a.json", f32), ("b.json", sample_record(["tensorflow"]))]))
    missing = {(r["case"], r["dtype"]) for r in merged["results"] if r["status"] == "MISSING"}
    assert missing == {(c, "float64") for c in sample_record()["cases"]}


def test_the_same_cell_reported_twice_identically_is_kept_once() -> None:
    a = sample_record(["torch"])
    b = copy.deepcopy(a)
    for r in b["results"]:
        r["duration_s"] = 9.0  # timings differ between jobs; outcomes do not
    merged = plain(merge([("a.json", a), ("b.json", b)]))
    assert len(merged["results"]) == len(a["results"])


@pytest.mark.parametrize("change, says", [
    (lambda r: r.update(status="FAIL", fail_kind="value_mismatch"), "says PASS, b.json says FAIL"),
    (lambda r: r["observed"][0]["array"].update(data=[26.0]), "with a different observed outcome"),
])
def test_conflicting_cells_are_errors_that_name_the_cell(change, says: str) -> None:
    a, b = sample_record(["torch"]), sample_record(["torch"])
    change(find(b, "tape.cube_variable", "torch", "float32"))
    with pytest.raises(MergeError) as err:
        merge([("a.json", a), ("b.json", b)])
    assert "tape.cube_variable [torch 2.13.0 eager cpu float32]" in str(err.value)
    assert says in str(err.value)


def test_different_suite_commit_or_schema_version_is_an_error_naming_both_files() -> None:
    with pytest.raises(MergeError, match=r"commit differs: a\.json ran 0123abc, b\.json ran 4567def"):
        merge([("a.json", sample_record(["torch"])), ("b.json", sample_record(["tensorflow"], commit="4567def"))])
    other = sample_record(["tensorflow"])
    other["schema_version"] = 3
    with pytest.raises(RecordError, match=r"b\.json: not a valid gradspec run record: at \$\.schema_version"):
        merge([("a.json", sample_record(["torch"])), ("b.json", other)])


def test_two_versions_of_one_adapter_stay_apart() -> None:
    old = sample_record(["torch"])
    for r in old["results"]:
        r["framework_version"] = "2.12.0"
    old["adapters"]["torch"]["version"] = "2.12.0"
    merged = plain(merge([("old.json", old), ("new.json", sample_record(["torch"]))]))
    assert set(merged["adapters"]) == {"torch@2.12.0", "torch@2.13.0"}
    assert len(merged["results"]) == 20
    assert merged["adapters"]["torch@2.12.0"]["conformance"] == {"eager": {"passed": 5, "denominator": 6}}
    validate(merged)


def test_cli_merge_writes_a_valid_strict_json_record(tmp_path: Path, cli) -> None:
    a = write(tmp_path / "a.json", sample_record(["torch"]))
    b = write(tmp_path / "b.json", sample_record(["tensorflow"]))
    out = tmp_path / "merged" / "all.json"
    rc, _, err = cli("merge", str(a), str(b), "-o", str(out))
    assert rc == 0, err
    text = out.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert len(load_record(out)["results"]) == 20
    assert [p.name for p in out.parent.iterdir()] == ["all.json"]  # no temp file left behind


def test_cli_merge_conflict_exits_2_and_names_the_cell(tmp_path: Path, cli) -> None:
    a = write(tmp_path / "a.json", sample_record(["torch"]))
    other = sample_record(["torch"])
    find(other, "pool.avg_pool1d", "torch", "float64")["status"] = "PASS"
    b = write(tmp_path / "b.json", other)
    rc, _, err = cli("merge", str(a), str(b), "-o", str(tmp_path / "out.json"))
    assert rc == 2
    assert "pool.avg_pool1d [torch 2.13.0 eager cpu float64]" in err and "TIMEOUT" in err
    assert not (tmp_path / "out.json").exists()


def test_non_finite_numbers_are_strings_and_a_bare_nan_token_is_refused_everywhere(tmp_path: Path, cli) -> None:
    rec = sample_record(["tensorflow"])
    assert find(rec, "tape.cube_variable", "tensorflow", "float64")["max_rel_err"] == "nan"
    write_record(rec, tmp_path / "r.json")
    reread = load_record(tmp_path / "r.json")
    assert find(reread, "tape.cube_variable", "tensorflow", "float64")["max_rel_err"] == "nan"
    bare = tmp_path / "bare.json"
    bare.write_text((tmp_path / "r.json").read_text().replace('"max_rel_err":"nan"', '"max_rel_err":NaN'))
    for command in (["validate", str(bare)], ["merge", str(bare), str(tmp_path / "r.json"), "-o",
                                              str(tmp_path / "m.json")], ["report", str(bare)],
                    ["diff", str(bare), str(tmp_path / "r.json")]):
        rc, _, err = cli(*command)
        assert rc == 2 and "bare NaN or Infinity token" in err, command


# -- diff -----------------------------------------------------------------------------------------

def _changed_head() -> dict[str, Any]:
    head = sample_record()
    find(head, "tape.cube_variable", "tensorflow", "float64").update(status="PASS", fail_kind=None)        # fixed
    find(head, "tape.cube_variable", "torch", "float32").update(status="FAIL", fail_kind="value_mismatch")  # broken
    find(head, "tape.unconnected_source", "torch", "float32")["choices"] = {"choice": "absent"}         # behaviour
    find(head, ODD_CASE, "torch", "float64")["status"] = "CRASH"                      # crash
    find(head, "tape.non_persistent_second_request", "tensorflow", "float32")["status"] = "UNSUPPORTED"
    del head["cases"]["pool.avg_pool1d"]                                                                 # removed
    head["results"] = [r for r in head["results"] if r["case"] != "pool.avg_pool1d"]
    head["cases"]["tape.brand_new"] = dict(head["cases"]["tape.cube_variable"], statement="new")        # added
    head["results"].append(result("tape.brand_new", "torch", "2.13.0", "cpu", "float32", "PASS"))
    validate(head)
    return head


def _cells(d: diffing.Diff, category: str) -> list[tuple[str, str, str]]:
    return [(c.case, (c.after or c.before).adapter, (c.after or c.before).dtype) for c in d.changes[category]]


def test_diff_sorts_every_change_into_its_category() -> None:
    d = diffing.diff(sample_record(), _changed_head())
    assert _cells(d, "fixed") == [("tape.cube_variable", "tensorflow", "float64")]
    assert _cells(d, "broken") == [("tape.cube_variable", "torch", "float32")]
    assert _cells(d, "behaviour_changed") == [("tape.unconnected_source", "torch", "float32")]
    assert d.changes["behaviour_changed"][0].detail == "choice: raises -> absent"
    assert _cells(d, "new_crash") == [(ODD_CASE, "torch", "float64")]
    assert _cells(d, "newly_unsupported") == [("tape.non_persistent_second_request", "tensorflow", "float32")]
    assert [c.case for c in d.changes["removed_cases"]] == ["pool.avg_pool1d"]
    assert [c.case for c in d.changes["added_cases"]] == ["tape.brand_new"]
    assert d.changes["other"] == d.changes["removed_cells"] == d.changes["added_cells"] == []
    assert d.worse


def test_diff_of_a_record_with_itself_is_empty_and_not_worse() -> None:
    d = diffing.diff(sample_record(), sample_record())
    assert not d.worse and all(not v for v in d.changes.values())
    assert "**Nothing got worse**" in diffing.render(d)


def test_improvements_alone_do_not_fail_the_gate() -> None:
    head = sample_record()
    find(head, "tape.cube_variable", "tensorflow", "float64").update(status="PASS", fail_kind=None)
    find(head, "tape.non_persistent_second_request", ODD_ADAPTER, "float32")["status"] = "PASS"
    d = diffing.diff(sample_record(), head)
    assert not d.worse
    assert _cells(d, "fixed") == [("tape.cube_variable", "tensorflow", "float64")]
    assert _cells(d, "other") == [("tape.non_persistent_second_request", ODD_ADAPTER, "float32")]


def test_a_cell_turned_missing_is_worse() -> None:
    tf = sample_record(["tensorflow"])
    tf["results"] = [r for r in tf["results"] if not (r["case"] == "tape.cube_variable" and r["dtype"] == "float32")]
    head = plain(merge([("torch.json", sample_record(["torch"])), ("tf.json", tf)]))
    d = diffing.diff(merge([("torch.json", sample_record(["torch"])),
                            ("tf.json", sample_record(["tensorflow"]))]), head)
    assert _cells(d, "removed_cells") == [("tape.cube_variable", "tensorflow", "float32")]
    assert d.worse


def test_a_new_framework_release_is_matched_with_the_old_one() -> None:
    base = sample_record(["torch"])
    for r in base["results"]:
        r["framework_version"] = "2.12.0"
    base["adapters"]["torch"]["version"] = "2.12.0"
    head = sample_record(["torch"])
    find(head, "tape.cube_variable", "torch", "float64")["status"] = "ERROR"
    d = diffing.diff(base, head)
    assert d.version_pairs == {"torch": ("2.12.0", "2.13.0")}
    assert _cells(d, "broken") == [("tape.cube_variable", "torch", "float64")]
    assert d.changes["removed_cells"] == d.changes["added_cells"] == []
    text = diffing.render(d)
    assert "2.12.0 -&gt; 2.13.0" in text and "| 5/6 (83%) | 4/6 (67%) |" in text


def test_diff_markdown_is_escaped_and_lists_each_section(tmp_path: Path) -> None:
    text = diffing.render(diffing.diff(sample_record(), _changed_head(), "base<i>.json", "head.json"))
    assert "<" not in text.replace("&lt;", "")  # no markup at all: every < was record text
    for title in ("### Broken (1)", "### New crashes (1)", "### Behaviour changed (1)",
                  "### Newly unsupported or skipped (1)", "### Cases removed (1)", "### Fixed (1)",
                  "### Cases added (1)"):
        assert title in text
    assert "base&lt;i&gt;.json" in text
    assert "| tape.cube\\_variable | torch 2.13.0 | cpu | float32 | PASS | FAIL (value\\_mismatch) |" in text


def test_cli_diff_exit_status_gates_ci(tmp_path: Path, cli) -> None:
    base = write(tmp_path / "base.json", sample_record())
    head = write(tmp_path / "head.json", _changed_head())
    comment = tmp_path / "comment.md"
    rc, out, _ = cli("diff", str(base), str(head), "--markdown", str(comment))
    assert rc == 1
    assert out.startswith("## gradspec diff") and comment.read_text().strip() == out.strip()
    rc, out, _ = cli("diff", str(base), str(base))
    assert rc == 0 and "Nothing got worse" in out
    rc, _, err = cli("diff", str(base), str(tmp_path / "nope.json"))
    assert rc == 2 and "nope.json: no such file" in err


def test_merge_unites_stale_capability_claims() -> None:
    cpu, gpu = sample_record(["torch"]), sample_record(["torch"])
    for r in gpu["results"]:
        r["device"] = "cuda"
    gpu["adapters"]["torch"]["devices"] = ["cuda"]
    cpu["adapters"]["torch"]["stale_claims"] = [{"capability": "vmap", "kind": "denied_but_working", "cases": ["b"]}]
    gpu["adapters"]["torch"]["stale_claims"] = [{"capability": "vmap", "kind": "denied_but_working", "cases": ["a"]},
                                                {"capability": "hessian", "kind": "claimed_but_failing", "cases": ["c"]}]
    merged = plain(merge([("cpu.json", cpu), ("gpu.json", gpu)]))
    assert merged["adapters"]["torch"]["devices"] == ["cpu", "cuda"]
    assert merged["adapters"]["torch"]["stale_claims"] == [
        {"capability": "hessian", "kind": "claimed_but_failing", "cases": ["c"]},
        {"capability": "vmap", "kind": "denied_but_working", "cases": ["a", "b"]}]
    assert len(merged["results"]) == 20

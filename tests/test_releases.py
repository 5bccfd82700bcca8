"""Releases as an axis: stale version ranges, the cells that changed between releases
(dashboard data and `gradspec diff`), the score history of dated records, and the
tox environments that produce one record per release."""
from __future__ import annotations

import configparser
import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gradspec import history
from gradspec.cli import main
from gradspec.diff import diff, render
from gradspec.html import release_model
from gradspec.merge import merge
from gradspec.record_model import typed
from gradspec.releases import release_order, release_tables, stale_ranges
from gradspec.schema import read_record
from report_fixtures import adapter_entry, plain, record, result, write

ROOT = Path(__file__).resolve().parents[1]
CASES = ("tape.cube_variable", "tape.unconnected_source", "pool.avg_pool1d")


def torch_at(version: str, unconnected: str = "raises", cube: str = "PASS", created: str = "",
             declared_range: str = ">=2.0") -> dict[str, Any]:
    """A one-release torch record: what the unconnected source observed, how the cube case ended."""
    results = []
    for dtype in ("float32", "float64"):
        results.append(result("tape.cube_variable", "torch", version, "cpu", dtype, cube if dtype == "float32"
                              else "PASS"))
        r = result("tape.unconnected_source", "torch", version, "cpu", dtype, "PASS", unconnected)
        r["declared"] = {"choice": {"choice": "raises", "doc": "https://example.org/doc#x", "versions": declared_range}}
        r["status"], r["fail_kind"] = ("PASS", None) if unconnected == "raises" else ("FAIL", "behaviour_changed")
        results.append(r)
        results.append(result("pool.avg_pool1d", "torch", version, "cpu", dtype, "PASS"))
    rec = record(results, {"torch": adapter_entry("torch", version, ["cpu"])})
    rec["cases"] = {k: v for k, v in rec["cases"].items() if k in CASES}
    if created:
        rec["created"] = created
    return rec


def test_a_range_that_claims_a_release_where_another_choice_was_observed_is_stale():
    merged = merge([("old.json", torch_at("2.12.0", unconnected="zeros")), ("new.json", torch_at("2.13.0"))])
    assert len(merged.stale_ranges) == 1
    s = merged.stale_ranges[0]
    assert (s.adapter, s.case, s.slot, s.declared, s.versions) == ("torch", "tape.unconnected_source", "choice",
                                                                   "raises", ">=2.0")
    assert s.observed == {"2.12.0": ["zeros"]}  # 2.13.0 observed what is declared: not listed


def test_a_divergence_listed_as_a_known_bug_is_not_a_stale_range():
    old = torch_at("2.12.0", unconnected="zeros")
    for r in old["results"]:
        if r["fail_kind"] == "behaviour_changed":
            r.update(status="XFAIL", known_bug="https://github.com/pytorch/pytorch/issues/1")
    assert merge([("old.json", old), ("new.json", torch_at("2.13.0"))]).stale_ranges == []


def test_a_range_that_matches_every_release_is_not_stale():
    assert merge([("a.json", torch_at("2.12.0")), ("b.json", torch_at("2.13.0"))]).stale_ranges == []
    assert stale_ranges(typed(torch_at("2.13.0")).results) == []


def test_stale_ranges_travel_in_the_record_and_are_valid_against_the_shipped_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    merged = plain(merge([("old.json", torch_at("2.12.0", unconnected="zeros")), ("new.json", torch_at("2.13.0"))]))
    schema = json.loads((ROOT / "gradspec" / "run-record.schema.json").read_text())
    jsonschema.validate(merged, schema)
    assert merged["stale_ranges"][0]["observed"] == {"2.12.0": ["zeros"]}
    bad = copy.deepcopy(merged)
    bad["stale_ranges"][0]["observed"] = {"2.12.0": "zeros"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert read_record(write(tmp_path / "m.json", merged)).stale_ranges[0].versions == ">=2.0"


def test_the_release_view_lists_changed_cells_first_with_the_release_in_which_they_changed():
    records = [("a.json", torch_at("2.14.1", cube="FAIL")), ("b.json", torch_at("2.12.0")),
               ("c.json", torch_at("2.13.0", cube="FAIL"))]
    [table] = release_tables(merge(records).results)
    assert table.releases == ["2.12.0", "2.13.0", "2.14.1"]  # version order, not file order
    changed = table.changed
    assert [(r.case, r.dtype, r.changed_in) for r in changed] == [("tape.cube_variable", "float32", ["2.13.0"])]
    assert table.rows[0] is changed[0] and len(table.rows) == 6
    assert changed[0].texts() == ["PASS", "FAIL (value_mismatch)", "FAIL (value_mismatch)"]


def test_a_changed_choice_or_kind_of_answer_is_a_change_and_last_bit_noise_is_not():
    base, head = torch_at("2.12.0", unconnected="zeros"), torch_at("2.13.0")
    for r in head["results"]:
        if r["case"] == "pool.avg_pool1d":
            r["observed"][0]["array"]["data"] = [27.000001]  # the same kind of answer, other digits
    [table] = release_tables(merge([("a", base), ("b", head)]).results)
    assert {(r.case, tuple(r.changed_in)) for r in table.changed} == {("tape.unconnected_source", ("2.13.0",))}
    assert table.changed[0].texts() == ["FAIL (behaviour_changed) zeros", "PASS raises"]


def test_one_release_has_no_release_view():
    assert release_tables(typed(torch_at("2.13.0")).results) == []


def test_diff_between_two_releases_prints_the_same_list_for_a_pull_request():
    base, head = torch_at("2.12.0"), torch_at("2.13.0", cube="FAIL")
    d = diff(base, head, "torch-2.12.json", "torch-2.13.json")
    text = render(d)
    section = text.split("### torch: changed between releases (1)", 1)[1].split("###", 1)[0]
    assert "| Case | Mode | Device | dtype | 2.12.0 | 2.13.0 | Changed in |" in section
    assert "| tape.cube\\_variable | eager | cpu | float32 | PASS | FAIL (value\\_mismatch) | 2.13.0 |" in section
    [table] = release_model(merge([("a", base), ("b", head)]), [])["tables"]
    assert [(r["case"], r["changed_in"]) for r in table["rows"] if r["changed_in"]] == \
        [("tape.cube_variable", ["2.13.0"])]  # the dashboard's list is the diff's


def test_the_markdown_report_lists_the_release_changes_the_unchanged_releases_and_the_stale_ranges(tmp_path, capsys):
    changed = write(tmp_path / "t.json", plain(merge([("a", torch_at("2.12.0", unconnected="zeros")),
                                                      ("b", torch_at("2.13.0", cube="FAIL"))])))
    assert main(["report", str(changed)]) == 0
    text = capsys.readouterr().out.split("## Releases", 1)[1]
    assert "### torch: changed between releases (3)" in text
    assert "| tape.cube\\_variable | eager | cpu | float32 | PASS | FAIL (value\\_mismatch) | 2.13.0 |" in text
    assert "### Stale version ranges (1)" in text and "observed 2.12.0: zeros" in text
    same = write(tmp_path / "s.json", plain(merge([("a", torch_at("2.12.0")), ("b", torch_at("2.13.0"))])))
    assert main(["report", str(same)]) == 0
    assert "torch: releases 2.12.0, 2.13.0, 6 cells compared, none changed." in capsys.readouterr().out
    assert main(["report", str(write(tmp_path / "one.json", torch_at("2.13.0")))]) == 0
    assert "## Releases" not in capsys.readouterr().out


def test_the_release_list_keeps_a_pull_request_comment_within_its_limit():
    d = diff(torch_at("2.12.0", unconnected="zeros"), torch_at("2.13.0", cube="FAIL"))
    whole = render(d, None)
    assert "### torch: changed between releases (3)" in whole
    short = render(d, len(whole) - 200)
    assert len(short) <= len(whole) - 200 and "changed cells are not listed here" in short


def test_diff_of_one_release_against_itself_lists_no_release_changes():
    assert "changed between releases" not in render(diff(torch_at("2.13.0"), torch_at("2.13.0")))


def test_releases_order_by_version_not_by_text():
    assert sorted(["0.10.2", "0.9.2", "0.8.3", "weird"], key=release_order) == ["0.8.3", "0.9.2", "0.10.2", "weird"]


# -- history ------------------------------------------------------------------------------------

def nightly(day: int, failing: int) -> dict[str, Any]:
    rec = torch_at("2.13.0", created=f"2026-11-{day:02d}T03:00:00+00:00")
    for r in rec["results"][:failing * 3:3]:  # the tape.cube_variable cells
        r.update(status="FAIL", fail_kind="value_mismatch")
    rec["suite"]["commit"] = f"c{day}"
    return rec


def test_records_of_one_release_set_on_several_dates_are_a_history_and_the_newest_is_reported():
    recs = [("n3.json", typed(nightly(3, 0))), ("n1.json", typed(nightly(1, 2))), ("n2.json", typed(nightly(2, 1)))]
    current, repeated = history.split(recs)
    assert [n for n, _ in current] == ["n3.json"]
    assert [n for n, _ in repeated] == ["n1.json", "n2.json", "n3.json"]
    [entry] = history.points(repeated)
    [series] = entry["series"]
    assert entry["adapter"] == "torch" and series["label"] == "2.13.0"
    assert [(p["passed"], p["denominator"]) for p in series["points"]] == [(2, 4), (3, 4), (4, 4)]


def test_records_of_different_sets_are_jobs_of_one_run_and_have_no_history():
    jobs = [("a.json", typed(torch_at("2.12.0"))), ("b.json", typed(torch_at("2.13.0")))]
    assert history.split(jobs) == (jobs, [])


def test_shards_of_one_run_share_no_cell_and_are_merged_not_a_history():
    whole = torch_at("2.13.0")
    shards = []
    for k, cases in enumerate((CASES[:1], CASES[1:])):
        shard = copy.deepcopy(whole)
        shard["results"] = [r for r in shard["results"] if r["case"] in cases]
        shard["created"] = f"2026-11-0{k + 1}T03:00:00+00:00"
        shards.append((f"shard{k}.json", typed(shard)))
    assert history.split(shards) == (shards, [])


def test_report_of_dated_records_draws_the_trend_and_prints_it(tmp_path, capsys):
    paths = [str(write(tmp_path / f"n{d}.json", nightly(d, f))) for d, f in ((1, 2), (2, 1), (3, 0))]
    assert main(["report", *paths, "--html", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    data = json.loads(re.search(r'id="gradspec-releases">(.*?)</script>', page, re.S).group(1))
    assert [p["passed"] for p in data["history"][0]["series"][0]["points"]] == [2, 3, 4]
    assert main(["report", *paths]) == 0
    out = capsys.readouterr().out
    assert "| torch | 2.13.0 | 2026-11-01 03:00: 2/4 (50%), 2026-11-02 03:00: 3/4 (75%), 2026-11-03 03:00: 4/4 (100%) |" in out
    assert main(["report", paths[0]]) == 0 and "Conformance over time" not in capsys.readouterr().out


# -- the release environments ------------------------------------------------------------------

RELEASE_ENV = re.compile(r"testenv:(torch|jax|tensorflow|autograd)-(\d+\.\d+)")
DIST = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow-cpu", "autograd": "autograd"}


def release_envs() -> dict[str, dict[str, str]]:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    return {s.removeprefix("testenv:"): dict(tox[s]) for s in tox.sections() if RELEASE_ENV.fullmatch(s)}


def test_tox_has_release_environments_for_every_framework_each_writing_its_own_record():
    envs = release_envs()
    per = {fw: sorted(e for e in envs if e.startswith(fw + "-")) for fw in DIST}
    assert {fw: len(names) >= (2 if fw == "autograd" else 3) for fw, names in per.items()} == dict.fromkeys(DIST, True)
    for name, env in envs.items():
        fw, release = RELEASE_ENV.fullmatch("testenv:" + name).groups()
        pins = re.findall(r"^([\w-]+)==(\S+)$", env["deps"], re.M)
        assert (DIST[fw], ) == tuple(d for d, v in pins if d == DIST[fw]), name
        version = dict(pins)[DIST[fw]]
        assert version.startswith(release + "."), f"{name} pins {version}"
        assert env["extras"] == "", f"{name} must not install the pinned framework through an extra"
        assert f"--gradspec-adapters {fw} " in env["commands"] and "--gradspec-report-dir reports/{envname}" in \
            env["commands"], name


def test_the_pinned_releases_have_their_environment():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    envs = release_envs()
    for fw, dist in DIST.items():
        version = next(p.split("==")[1] for p in pins[fw] if p.startswith(dist + "=="))
        name = f"{fw}-{'.'.join(version.split('.')[:2])}"
        assert name in envs and f"{dist}=={version}" in envs[name]["deps"], name


# -- the end-of-run summary ---------------------------------------------------------------------

pytest_plugins = ["pytester"]
from test_plugin import project, run  # noqa: E402,F401  (the throw-away project fixture)


def test_a_run_that_contradicts_a_declared_range_says_so_at_the_end_and_in_its_record(project):
    project.path.joinpath("ranged.py").write_text(
        "from tests.fake_adapters import Scaled\nclass Ranged(Scaled):\n    name = 'ranged'\n")
    project.path.joinpath("ranged.expect.toml").write_text(
        '["demo.unconnected"]\nchoice = "absent"\nbasis = "observed"\nversions = ">=1"\nnote = "as once seen"\n')
    result, rec = run(project, "-n", "0", "--gradspec-adapter", "ranged:Ranged", "--gradspec-adapters", "ranged",
                      "-k", "unconnected")
    version = rec["adapters"]["ranged"]["version"]
    observed = {r["choices"]["choice"] for r in rec["results"]}
    assert observed and "absent" not in observed
    assert rec["stale_ranges"] == [{"adapter": "ranged", "case": "demo.unconnected", "slot": "choice",
                                    "declared": "absent", "versions": ">=1", "observed": {version: sorted(observed)}}]
    result.stdout.fnmatch_lines([f"*gradspec stale range: ranged demo.unconnected: declared 'absent' for versions "
                                 f"'>=1', observed {version}: {', '.join(sorted(observed))}*"])

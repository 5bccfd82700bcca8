"""--gradspec-shard: the split itself (gradspec.shard), the plugin option, and merging
shards back into the record an unsharded run makes."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradspec import shard
from gradspec.merge import cell_key, merge
from gradspec.record_model import typed
from gradspec.schema import read_record

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["pytester"]

node_ids = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=80, unique=True)
counts = st.integers(min_value=1, max_value=7)


def ids(n: int, prefix: str = "cases/x.py::c") -> list[str]:
    return [f"{prefix}{i}[numpy-cpu-float32]" for i in range(n)]


# -- parsing K/N ----------------------------------------------------------------

@pytest.mark.parametrize("text, index, count", [("1/1", 1, 1), ("2/3", 2, 3), (" 3 / 3 ", 3, 3)])
def test_k_of_n_is_read(text, index, count):
    assert shard.parse(text) == shard.Shard(index, count)


@pytest.mark.parametrize("text, reason", [
    ("3", "is not K/N"), ("a/b", "is not K/N"), ("-1/3", "is not K/N"), ("1/3/4", "is not K/N"),
    ("0/3", "K must be between 1 and N (3)"), ("4/3", "K must be between 1 and N (3)"),
    ("1/0", "N must be at least 1"),
])
def test_a_bad_k_of_n_is_refused_with_the_reason(text, reason):
    with pytest.raises(shard.ShardError, match=r"^--gradspec-shard: '.*'") as exc:
        shard.parse(text)
    assert text in str(exc.value) and reason in str(exc.value)


def test_durations_without_a_shard_are_refused():
    with pytest.raises(shard.ShardError, match="give --gradspec-shard K/N"):
        shard.from_options(None, "reports/latest.json")
    assert shard.from_options(None, None) == (None, None)


# -- the split --------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(node_ids, counts, st.booleans(), st.randoms(use_true_random=False))
def test_the_shards_partition_the_items_the_same_way_in_any_order(nodeids, count, timed, rnd):
    durations = {n: rnd.uniform(0, 3) for n in nodeids if rnd.random() < 0.6} if timed else None
    chosen = [shard.select(nodeids, shard.Shard(k, count), durations) for k in range(1, count + 1)]
    for i, _ in enumerate(nodeids):
        assert sum(c[i] for c in chosen) == 1  # each item in exactly one shard
    shuffled = list(nodeids)
    rnd.shuffle(shuffled)
    assert shard.assign(shuffled, count, durations) == shard.assign(nodeids, count, durations)


@settings(max_examples=60, deadline=None)
@given(node_ids, node_ids, counts, st.booleans(), st.randoms(use_true_random=False))
def test_adding_items_moves_no_other_item(old, new, count, timed, rnd):
    durations = {n: rnd.uniform(0, 3) for n in old} if timed else None  # the new items were never timed
    before = shard.assign(old, count, durations)
    after = shard.assign([*old, *new], count, durations)
    assert {n: after[n] for n in old} == before


def test_the_split_is_the_same_in_every_process():
    """sha256 of the node id, never Python's salted hash(): a fresh interpreter agrees."""
    nodeids = ids(50)
    code = ("import json,sys; from gradspec import shard; "
            "print(json.dumps(shard.assign(json.loads(sys.argv[1]), 4)))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, json.dumps(nodeids)], capture_output=True, text=True,
                             cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
        assert json.loads(out) == shard.assign(nodeids, 4)


def test_hashing_spreads_items_evenly():
    where = shard.assign(ids(3000), 3)
    sizes = [sum(1 for b in where.values() if b == k) for k in range(3)]
    assert all(900 <= s <= 1100 for s in sizes), sizes


def _loads(nodeids: list[str], durations: dict[str, float], count: int) -> list[float]:
    where = shard.assign(nodeids, count, durations)
    return [sum(durations[n] for n in nodeids if where[n] == k) for k in range(count)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=60), counts)
def test_recorded_durations_leave_no_shard_more_than_one_item_over_the_mean(times, count):
    nodeids = ids(len(times))
    loads = _loads(nodeids, dict(zip(nodeids, times)), count)
    assert max(loads) <= sum(times) / count + max(times) + 1e-9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=8), st.integers(2, 3))
def test_the_longest_shard_is_within_four_thirds_of_the_best_split(times, count):
    """Longest first into the least loaded shard (LPT) is within 4/3 of the best split,
    found here by trying every split of a few items."""
    nodeids = ids(len(times))
    best = min(max(sum(t for t, b in zip(times, split) if b == k) for k in range(count))
               for split in itertools.product(range(count), repeat=len(times)))
    assert max(_loads(nodeids, dict(zip(nodeids, map(float, times))), count)) <= 4 / 3 * best + 1e-9


def test_durations_balance_what_hashing_leaves_lopsided():
    nodeids = ids(40)
    durations = {n: (30.0 if i < 4 else 0.5) for i, n in enumerate(nodeids)}  # four slow cases
    def longest(where: dict[str, int]) -> float:
        return max(sum(durations[n] for n in nodeids if where[n] == k) for k in range(2))
    balanced = shard.assign(nodeids, 2, durations)
    assert longest(balanced) == pytest.approx(sum(durations.values()) / 2)
    assert longest(shard.assign(nodeids, 2)) > longest(balanced)


# -- durations from a record --------------------------------------------------------

def _record_with(results: list[tuple[str, str, str, str, float]]) -> dict:
    from report_fixtures import record, result

    rs = []
    for nodeid, version, dtype, status, seconds in results:
        r = result("tape.cube_variable", "numpy", version, "cpu", dtype, status)
        r.update(nodeid=nodeid, duration_s=seconds)
        rs.append(r)
    return record(rs, {})


def test_durations_are_read_per_node_id_longest_first_and_missing_cells_untimed(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(msgspec.json.encode(_record_with([("a", "1.0", "float32", "PASS", 0.5),
                                                       ("a", "2.0", "float32", "PASS", 2.0),
                                                       ("b", "1.0", "float64", "MISSING", 0.0)])))
    assert shard.load_durations(path) == {"a": 2.0}


def test_a_bad_durations_record_is_refused_naming_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"schema_version": 2')
    with pytest.raises(shard.ShardError, match=r"--gradspec-shard-durations: .*broken\.json"):
        shard.load_durations(bad)
    with pytest.raises(shard.ShardError, match=r"--gradspec-shard-durations: .*absent\.json: no such file"):
        shard.load_durations(tmp_path / "absent.json")


# -- the plugin option, in a throw-away project --------------------------------------

DEMO = '''
from gradspec.case import case
from gradspec.expect import oracle, value
from gradspec.inputs import var
from gradspec.requests import Grad

''' + "\n".join(
    f'c{i} = case(id="demo.c{i}", statement="d/dx x^2", doc="https://example.org/guide#grad", tags=["tape"], '
    f'inputs={{"x": var({i}.0)}}, body=lambda ops, x: x * x, requests=Grad("x"), expect=value({2 * i}.0))'
    for i in range(12))


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["gradspec.plugin"]\n')
    pytester.mkdir("cases")
    (pytester.path / "cases" / "demo.py").write_text(DEMO)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(pytester.path),
                                                      os.environ.get("PYTHONPATH", "")]))
    return pytester


def run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    result = project.runpytest_subprocess("cases", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                          "-p", "no:benchmark", "--gradspec-adapters", "numpy",
                                          "--gradspec-dtypes", "float64", *args, timeout=300)
    latest = project.path / "reports" / "latest.json"
    return result, json.loads(latest.read_text()) if latest.exists() else {}


def test_a_shard_runs_its_own_items_reports_the_rest_deselected_and_says_which_shard_it_is(project):
    result, record = run(project, "-n", "0", "--gradspec-shard", "2/3")
    everything = [f"cases/demo.py::c{i}[numpy-cpu-float64]" for i in range(12)]
    mine = [n for n, keep in zip(everything, shard.select(everything, shard.Shard(2, 3))) if keep]
    assert 0 < len(mine) < 12
    assert sorted(r["nodeid"] for r in record["results"]) == sorted(mine)  # no MISSING for other shards
    assert record["complete"] is True
    assert record["options"]["shard"] == {"index": 2, "count": 3, "items": len(mine)}  # no durations: hashed
    result.assert_outcomes(passed=len(mine), deselected=12 - len(mine))
    result.stdout.fnmatch_lines([f"gradspec: shard 2/3 of a split run: {len(mine)} items, split by node id"])


def test_durations_from_a_previous_record_choose_the_split(project):
    _, full = run(project, "-n", "0")
    previous = project.path / "previous.json"
    for r in full["results"]:  # one slow case: balanced, it has a shard to itself
        r["duration_s"] = 10.0 if r["case"] == "demo.c5" else 0.1
    previous.write_text(json.dumps(full))
    seen = []
    for k in (1, 2):
        result, record = run(project, "-n", "0", "--gradspec-shard", f"{k}/2", "--gradspec-shard-durations",
                        str(previous))
        assert record["options"]["shard"]["durations"] == str(previous)
        assert f"balanced by {previous}" in result.stdout.str()
        seen.append({r["case"] for r in record["results"]})
    slow = next(s for s in seen if "demo.c5" in s)
    assert slow == {"demo.c5"}
    assert len(seen[0]) + len(seen[1]) == 12


CLOBBER = '''
import pytest
pytest_plugins = ["gradspec.plugin"]


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """On the controller, once gradspec has read it: the durations record is replaced (as a run
    that writes its record where it read the durations would), before any worker starts."""
    path = config.getoption("--gradspec-shard-durations")
    if path and not hasattr(config, "workerinput"):
        open(path, "w").write("not a record")
'''


def test_xdist_workers_split_by_the_durations_the_controller_read(project):
    _, full = run(project, "-n", "0")
    previous = project.path / "previous.json"
    for r in full["results"]:
        r["duration_s"] = 10.0 if r["case"] == "demo.c5" else 0.1
    previous.write_text(json.dumps(full))
    timed = {r["nodeid"]: r["duration_s"] for r in full["results"]}
    project.makeconftest(CLOBBER)
    result, record = run(project, "-n", "2", "--gradspec-shard", "1/2", "--gradspec-shard-durations", str(previous))
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert previous.read_text() == "not a record"
    mine = [n for n, keep in zip(sorted(timed), shard.select(sorted(timed), shard.Shard(1, 2), timed)) if keep]
    assert sorted(r["nodeid"] for r in record["results"]) == sorted(mine)


@pytest.mark.parametrize("args, message", [
    (["--gradspec-shard", "4/3"], "--gradspec-shard: '4/3': K must be between 1 and N (3)"),
    (["--gradspec-shard-durations", "x.json"], "give --gradspec-shard K/N"),
    (["--gradspec-shard", "1/2", "--gradspec-shard-durations", "nowhere.json"], "nowhere.json: no such file"),
])
def test_bad_shard_options_are_usage_errors(project, args, message):
    result, _ = run(project, "-n", "0", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


# -- merging shards -------------------------------------------------------------------

def test_merging_only_some_shards_is_incomplete_and_says_which_are_lacking(project):
    paths = []
    for k in (1, 3):
        run(project, "-n", "0", "--gradspec-shard", f"{k}/3")
        paths.append(project.path / f"shard{k}.json")
        (project.path / "reports" / "latest.json").rename(paths[-1])
    merged = merge([(str(p), read_record(p)) for p in paths])
    assert merged.complete is False
    assert "shard 2/3 of the split run of" in (merged.interrupted or "")
    assert any("shard 2/3" in w and "lacks its items" in w for w in merged.warnings)


def test_each_split_run_is_checked_for_its_own_shards():
    """Two releases split three ways each: the complete one is silent, the other names its lacking shards."""
    from report_fixtures import sample_record

    def part(framework: str, version: str, index: int) -> tuple[str, dict]:
        rec = sample_record(only=[framework])
        rec["adapters"][framework]["version"] = version
        rec["options"]["shard"] = {"index": index, "count": 3, "items": 10}
        return f"{framework}-{version}-{index}.json", rec

    records = [part("torch", "2.13.0", k) for k in (1, 2, 3)] + [part("torch", "2.12.1", 2)]
    assert shard.missing_shards([(n, typed(r)) for n, r in records]) == [
        "shards 1/3, 3/3 of the split run of torch-2.12.1-2.json are not merged: this record lacks their items"]
    assert shard.missing_shards([(n, typed(r)) for n, r in records[:3]]) == []


def _cells(record) -> dict:
    """Everything a cell says but its timing, where it ran, and the traceback of a raised
    outcome (it names install paths and object addresses, as merge knows)."""
    return {cell_key(r): _untraced(msgspec.to_builtins(msgspec.structs.replace(r, duration_s=0.0, oracle_s=0.0,
                                                                                worker="")))
            for r in record.results}


def _untraced(tree):
    if isinstance(tree, dict):
        return {k: _untraced(v) for k, v in tree.items() if not (k == "traceback" and tree.get("outcome") == "Raised")}
    if isinstance(tree, list):
        return [_untraced(v) for v in tree]
    return tree


@pytest.fixture(scope="module")
def catalog_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The whole catalog for autograd: unsharded, in three shards by hash (the second under
    xdist), and in three shards balanced by the unsharded run's durations."""
    out = tmp_path_factory.mktemp("shards")
    durations = ["--gradspec-shard-durations", str(out / "whole" / "latest.json")]
    runs = {"whole": ["-n", "0"],
            **{f"hashed{k}": ["-n", "2" if k == 2 else "0", "--gradspec-shard", f"{k}/3"] for k in (1, 2, 3)},
            **{f"balanced{k}": ["-n", "0", "--gradspec-shard", f"{k}/3", *durations] for k in (1, 2, 3)}}
    paths = {}
    for name, args in runs.items():  # in order: "whole" is written before the balanced runs read it
        proc = subprocess.run([sys.executable, "-m", "pytest", "cases", "-q", "-p", "no:cacheprovider",
                               "-p", "no:hypothesispytest", "--gradspec-adapters", "autograd",
                               "--gradspec-report-dir", str(out / name), *args],
                              cwd=REPO, capture_output=True, text=True, timeout=900)
        paths[name] = out / name / "latest.json"
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return paths


@pytest.mark.parametrize("split", ["hashed", "balanced"])
def test_three_shards_of_the_catalog_merge_into_the_unsharded_record_cell_for_cell(catalog_runs, split):
    whole = read_record(catalog_runs["whole"])
    names = [f"{split}{k}" for k in (1, 2, 3)]
    shards = [read_record(catalog_runs[n]) for n in names]
    sizes = [len(s.results) for s in shards]
    assert all(sizes) and sum(sizes) == len(whole.results)  # each ran its own items, none twice
    assert [s.options.shard.index for s in shards] == [1, 2, 3]
    assert {s.options.shard.durations is not None for s in shards} == {split == "balanced"}
    merged = merge([(str(catalog_runs[n]), s) for n, s in zip(names, shards)])
    assert _cells(merged) == _cells(whole)
    assert merged.summary == whole.summary
    assert merged.cases == whole.cases
    assert {n: a.conformance for n, a in merged.adapters.items()} == \
        {n: a.conformance for n, a in whole.adapters.items()}
    assert merged.complete and merged.warnings == whole.warnings
    assert {r.status for r in whole.results} >= {"PASS", "XFAIL", "UNSUPPORTED"}  # a catalog with outcomes


def test_balanced_shards_take_alike_by_the_durations_they_were_balanced_by(catalog_runs):
    """By the unsharded run's times, no balanced shard is more than its longest item over the mean."""
    timed = shard.load_durations(catalog_runs["whole"])
    loads = [sum(timed[r.nodeid] for r in read_record(catalog_runs[f"balanced{k}"]).results) for k in (1, 2, 3)]
    assert max(loads) <= sum(timed.values()) / 3 + max(timed.values()) + 1e-6, loads

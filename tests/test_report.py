"""Run-record schema, Markdown summary, HTML page generation and the CLI's report/list/validate."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from gradspec import html, markdown
from gradspec.cli import main
from gradspec.merge import scores
from gradspec.record_model import typed
from gradspec.schema import SCHEMA_PATH, RecordError, load_record, validate
from report_fixtures import ODD_ADAPTER, ODD_CASE, sample_record, write

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "gradspec", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """gradspec.cli.main in this process (fast); returns (exit status, stdout, stderr)."""
    def call(*args: str) -> tuple[int, str, str]:
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            rc = exc.code
        out = capsys.readouterr()
        return rc, out.out, out.err
    return call


# -- schema ------------------------------------------------------------------------------------

def test_shipped_schema_is_draft_2020_12_and_valid() -> None:
    doc = json.loads(SCHEMA_PATH.read_text())
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)


def test_shipped_schema_is_the_one_the_record_model_generates() -> None:
    """`python -m gradspec schema -o gradspec/run-record.schema.json` after changing record_model.py."""
    from gradspec.record_model import json_schema

    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(json.dumps(json_schema()))


def test_sample_record_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path / "run.json", sample_record())
    assert len(load_record(path)["results"]) == 30


@pytest.mark.parametrize("mutate, json_path", [
    (lambda r: r["results"][4].update(status="GREEN"), "$.results[4].status"),
    (lambda r: r["results"][0]["observed"][0]["array"].update(shape="x"), "$.results[0].observed[0].array.shape"),
    (lambda r: r["results"][2]["observed"][0].update(kind="Oops"), "$.results[2].observed[0].kind"),
    (lambda r: r["results"][0]["expected"][0].update(expect="Maybe"), "$.results[0].expected[0].expect"),
    (lambda r: r["results"][1].pop("repro"), "$.results[1]"),
    (lambda r: r["cases"]["tape.cube_variable"].update(kind="optional"), "$.cases['tape.cube_variable'].kind"),
    (lambda r: r["adapters"]["torch"].update(extra=1), "$.adapters['torch']"),
    (lambda r: r["results"][3]["declared"].update(choice={"choice": 1, "doc": "", "versions": ""}),
     "$.results[3].declared['choice'].choice"),
])
def test_invalid_record_names_file_and_json_path(tmp_path: Path, mutate, json_path: str) -> None:
    rec = sample_record()
    mutate(rec)
    path = write(tmp_path / "bad.json", rec)
    with pytest.raises(RecordError) as err:
        load_record(path)
    assert str(path) in str(err.value)
    assert f"at {json_path}:" in str(err.value)


def test_truncated_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    full = json.dumps(sample_record())
    cut = tmp_path / "cut.json"
    cut.write_text(full[: len(full) // 2])
    with pytest.raises(RecordError, match=r"cut\.json: not valid JSON: it ends early \(the file looks truncated\)"):
        load_record(cut)
    with pytest.raises(RecordError, match=r"absent\.json: no such file"):
        load_record(tmp_path / "absent.json")


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    rec = sample_record()
    rec["schema_version"] = 3
    with pytest.raises(RecordError, match="schema_version 3 is not supported"):
        load_record(write(tmp_path / "v2.json", rec))


def test_schema_rejects_unknown_status_but_accepts_missing() -> None:
    rec = sample_record()
    rec["results"][0]["status"] = "MISSING"
    validate(rec)
    rec["results"][0]["status"] = "pass"
    with pytest.raises(RecordError):
        validate(rec)


# -- scores ------------------------------------------------------------------------------------

def test_scores_use_a_fixed_denominator_of_required_results() -> None:
    rec = sample_record()
    got = {a: (s["passed"], s["denominator"]) for (a, _, _mode), s in scores(typed(rec)).items()}
    # The fixture computes conformance independently, the way the record writer does.
    want = {a: (info["conformance"]["eager"]["passed"], info["conformance"]["eager"]["denominator"])
            for a, info in rec["adapters"].items()}
    assert got == want
    # tensorflow: cube PASS+FAIL, avg_pool SKIP+SKIP, odd PASS+PASS -> 3 of 6; the api case is not scored.
    assert got["tensorflow"] == (3, 6)
    # ext: cube ERROR+CRASH, odd PASS+PASS; its two REFERENCE cells are out of numerator and denominator.
    assert got[ODD_ADAPTER] == (2, 4)


# -- Markdown ------------------------------------------------------------------------------------

def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_escapes_every_record_string() -> None:
    text = markdown.render(sample_record())
    assert "<script>" not in text and "<b>" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;" in text
    for block in re.findall(r"((?:^\|.*\n?)+)", text, flags=re.M):
        lines = block.strip().splitlines()
        assert len({_unescaped_pipes(line) for line in lines}) == 1, block


def test_markdown_escape_function() -> None:
    assert markdown.escape("a|b<c>`d`&e\nf") == "a\\|b&lt;c&gt;\\`d\\`&amp;e f"


def test_markdown_scores_matrix_and_choices_side_by_side() -> None:
    text = markdown.render(sample_record())
    assert "| tensorflow | tensorflow | 2.21.0 | eager | cpu | 3/6 (50%) | PASS 7, FAIL 1, SKIP 2 |" in text
    assert "| torch | torch | 2.13.0 | eager | cpu | 5/6 (83%) |" in text
    matrix_row = next(line for line in text.splitlines() if line.startswith("| tape.cube\\_variable | required"))
    assert matrix_row.endswith("| ERROR 1, CRASH 1 | PASS 1, FAIL 1 | PASS 2 |")
    choices = text.split("## Implementation-defined choices", 1)[1]
    row = next(line for line in choices.splitlines() if line.startswith("| tape.unconnected\\_source | choice"))
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
    # Groups are sorted: ext, tensorflow, torch; each shows its own observed choice.
    assert cells[3].startswith("zeros") and "FAIL 1, XFAIL 1" in cells[3]
    assert cells[4].startswith("absent") and cells[5].startswith("raises")
    assert "## Problems" in text and "TIMEOUT" in text


def test_markdown_links_only_documented_and_source_choices_and_counts_bases() -> None:
    text = markdown.render(sample_record())
    choices = text.split("## Implementation-defined choices", 1)[1]
    row = next(line for line in choices.splitlines() if line.startswith("| tape.unconnected\\_source | choice"))
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
    assert cells[4] == "absent observed"  # tensorflow: no link beside an observed choice
    assert cells[5] == "raises documented [doc](https://example.org/doc#x) \u201cIt raises. " + \
        cells[5].split("It raises. ", 1)[1]  # torch: the link and the quoted sentence
    assert "](" not in cells[3].split("documented", 1)[1]  # ext's URL holds markup: text, never a link
    assert "| torch | 2 | 1 | 3 |" in text.split("### What the declared choices rest on", 1)[1]


def test_markdown_never_links_a_choice_whose_basis_is_not_documented_or_source() -> None:
    rec = sample_record()
    for r in rec["results"]:
        for d in r["declared"].values():
            d.update(basis="observed", doc="https://example.org/general-page#top")
    choices = markdown.render(rec).split("## Implementation-defined choices", 1)[1]
    assert "example.org" not in choices and "observed" in choices


def test_dashboard_model_carries_the_bases_per_adapter() -> None:
    groups = html.model(typed(sample_record()))["groups"]
    assert {g["adapter"]: g["bases"] for g in groups}["torch"] == {"documented": 2, "source": 1, "observed": 3}


def test_markdown_says_a_run_that_executed_nothing_is_not_green() -> None:
    rec = sample_record(["tensorflow"])
    for r in rec["results"]:
        r["status"] = "SKIP"
    rec["summary"] = {"counts": {"SKIP": 10}, "executed": 0, "total": 10}
    assert "Nothing executed: this run is not green." in markdown.render(rec)


# -- HTML ----------------------------------------------------------------------------------------

def _data_block(page: str) -> str:
    return re.search(r'<script type="application/json" id="gradspec-data">(.*?)</script>', page, re.S).group(1)


def test_html_embeds_record_text_only_as_inert_json() -> None:
    rec = sample_record()
    page = html.render(rec).decode()
    block = _data_block(page)
    assert "<" not in block and ">" not in block and "&" not in block
    assert "alert(1)" not in page.replace(block, "")
    data = json.loads(block)
    assert len(data["results"]) == 30
    assert {c["id"] for c in data["cases"]} == set(rec["cases"])
    assert any(c["id"] == ODD_CASE for c in data["cases"])
    assert json.loads(json.dumps(data)) == data  # strict JSON: NaN became "nan"
    assert "NaN" not in block


def test_html_page_is_self_contained_and_its_scripts_are_pinned_by_hash() -> None:
    page = html.render(sample_record()).decode()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp
    inline = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(inline) == 3  # guard.js, dashboard.js, releases.js
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_dashboard_script_never_parses_markup() -> None:
    for name in ("dashboard.js", "releases.js"):
        js = (ROOT / "gradspec" / "templates" / name).read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in js, (name, sink)


def test_model_columns_are_adapter_version_device_dtype() -> None:
    data = html.model(typed(sample_record()))
    first_two = [(c["adapter"], c["dtype"]) for c in data["columns"]][:2]
    assert first_two == [(ODD_ADAPTER, "float32"), (ODD_ADAPTER, "float64")]
    assert len(data["columns"]) == 6
    assert [g["adapter"] for g in data["groups"]] == [ODD_ADAPTER, "tensorflow", "torch"]
    assert [c["area"] for c in data["cases"]] == ["pool", "tape", "tape", "tape", "tape"]


# -- CLI -----------------------------------------------------------------------------------------

def test_cli_report_writes_dashboard_and_markdown(tmp_path: Path) -> None:
    rec = write(tmp_path / "run.json", sample_record())
    out = run_cli("report", str(rec), "--html", str(tmp_path / "dash"), "--markdown", str(tmp_path / "sum.md"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "dash" / "index.html").is_file()
    assert (tmp_path / "sum.md").read_text() == markdown.render(load_record(rec))
    plain = run_cli("report", str(rec))
    assert plain.returncode == 0 and plain.stdout.startswith("# gradspec conformance report")


def test_cli_report_of_several_records_merges_them(tmp_path: Path, cli) -> None:
    a = write(tmp_path / "a.json", sample_record(["torch"]))
    b = write(tmp_path / "b.json", sample_record(["tensorflow"]))
    rc, out, err = cli("report", str(a), str(b))
    assert rc == 0, err
    assert "Merged from 2 records" in out and "| tensorflow |" in out and "| torch |" in out


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ('{"schema_version": 1, "kind": "gradspec-run", "suite": {', "not valid JSON"),
    ('{"schema_version": 1}', "missing required field `kind`"),
    ("[]", "not a valid gradspec run record"),
])
def test_cli_bad_input_exits_2_with_a_clear_message(tmp_path: Path, content: str | None, message: str,
                                                    cli) -> None:
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content)
    for args in (["report", str(path)], ["validate", str(path)], ["merge", str(path), "-o", str(tmp_path / "o.json")],
                 ["diff", str(path), str(path)]):
        rc, out, err = cli(*args)
        assert rc == 2, (args, out, err)
        assert message in err and str(path) in err
    assert not (tmp_path / "o.json").exists()


def test_cli_bad_input_in_a_fresh_process_has_no_traceback(tmp_path: Path) -> None:
    out = run_cli("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert out.returncode == 2 and "a.json: no such file" in out.stderr and "Traceback" not in out.stderr


def test_cli_usage_errors_exit_2(cli) -> None:
    assert cli()[0] == 2
    assert cli("frobnicate")[0] == 2
    assert cli("merge", "x.json")[0] == 2  # -o is required


def test_console_script_entry_point_is_cli_main() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["gradspec"] == "gradspec.cli:run"
    assert main(["validate", str(SCHEMA_PATH)]) == 2  # a schema is not a record


# -- list ----------------------------------------------------------------------------------------

def _write_cases(folder: Path) -> Path:
    folder.mkdir()
    (folder / "demo.py").write_text(
        "from gradspec.case import case\n"
        "from gradspec.expect import value, absent, zeros, one_of\n"
        "from gradspec.inputs import var\n"
        "from gradspec.requests import Grad\n"
        "square = case(id='demo.square', statement='d/dx x^2 at 3 is 6', tags=['basics', 'first_order'],\n"
        "              doc='https://example.org/doc#square', inputs={'x': var(3.0)},\n"
        "              body=lambda ops, x: x * x, requests=Grad('x'), expect=value(6.0))\n"
        "unconnected = case(id='demo.unconnected', statement='unconnected gives absent or zeros',\n"
        "              tags=['unconnected'], doc='https://example.org/doc#u', inputs={'x': var(3.0), 'z': var(1.0)},\n"
        "              body=lambda ops, x, z: x * x, requests=Grad('z'),\n"
        "              expect=one_of(absent=absent(), zeros=zeros()))\n")
    return folder


def test_cli_list_filters_by_tag_and_kind(tmp_path: Path, cli) -> None:
    cases = str(_write_cases(tmp_path / "cases"))
    rc, out, err = cli("list", cases)
    assert rc == 0, err
    assert "demo.square  [required]" in out and "d/dx x^2 at 3 is 6" in out
    assert "doc: https://example.org/doc#square" in out and "demo.py:" in out
    tagged = json.loads(cli("list", cases, "--tag", "unconnected", "--format", "json")[1])
    assert [c["id"] for c in tagged] == ["demo.unconnected"]
    assert tagged[0]["kind"] == "implementation-defined"
    required = json.loads(cli("list", cases, "--kind", "required", "--format", "json")[1])
    assert [(c["id"], c["statement"], c["tags"]) for c in required] == [
        ("demo.square", "d/dx x^2 at 3 is 6", ["basics", "first_order"])]
    assert cli("list", cases, "--tag", "nothing", "--format", "json")[1].strip() == "[]"


def test_cli_list_shows_each_declared_choice_with_its_basis_and_counts_them() -> None:
    out = run_cli("list", "--tag", "tape", "--kind", "implementation-defined")
    assert out.returncode == 0, out.stderr
    block = out.stdout.split("tape.unconnected_source  [implementation-defined]", 1)[1].split("\n    source:", 1)[0]
    lines = [line.strip() for line in block.splitlines() if line.strip().startswith("declared:")]
    assert {line.split()[1] for line in lines} >= {"torch", "tensorflow", "jax", "autograd"}
    for line in lines:
        basis = re.search(r"\((documented|source|observed)(: (\S+))?", line)
        assert basis, line
        assert (basis.group(3) is None) == (basis.group(1) == "observed"), line  # a link only when read there
    counts = out.stdout.split("declared choices by basis:", 1)[1]
    assert re.search(r"torch: documented \d+, source \d+, observed \d+", counts)
    listed = json.loads(run_cli("list", "--tag", "tape", "--format", "json").stdout)
    entry = next(c for c in listed if c["id"] == "tape.unconnected_source")
    assert {d["adapter"] for d in entry["declared"]} >= {"torch", "jax"}
    assert all(d["basis"] in ("documented", "source", "observed") for d in entry["declared"])


def test_cli_list_reads_the_project_cases_by_default() -> None:
    out = run_cli("list", "--format", "json")
    assert out.returncode == 0, out.stderr
    ids = [c["id"] for c in json.loads(out.stdout)]
    assert ids and ids == sorted(ids) and all("." in i for i in ids)


def test_cli_list_bad_path_or_broken_case_exits_2(tmp_path: Path, cli) -> None:
    rc, _, err = cli("list", str(tmp_path / "nowhere"))
    assert rc == 2 and "no such file or folder" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.py").write_text("from gradspec.case import case\nx = case(id='Bad Id', statement='s', doc='d', "
                                   "tags=['t'], requests=[], expect=[])\n")
    rc, _, err = cli("list", str(bad))
    assert rc == 2 and "Bad Id" in err


def test_stale_capability_claims_are_valid_and_reported() -> None:
    rec = sample_record()
    rec["adapters"]["torch"]["stale_claims"] = [
        {"capability": "recording", "kind": "denied_but_working", "cases": [ODD_CASE]}]
    rec["results"][0]["stale_denial"] = ["recording"]
    validate(rec)
    text = markdown.render(rec)
    assert ("| torch | recording | not declared, yet cases that need it pass | "
            "tape.odd&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp; |") in text
    rec["adapters"]["torch"]["stale_claims"][0]["kind"] = "unsure"
    with pytest.raises(RecordError, match=r"\$\.adapters\['torch'\]\.stale_claims\[0\]\.kind"):
        validate(rec)


def test_the_dashboard_explains_and_styles_every_status():
    """The legend and every status badge's tooltip read MEANING; a status it lacks showed as "undefined"."""
    from gradspec.merge import STATUSES

    templates = Path(html.__file__).parent / "templates"
    script = (templates / "dashboard.js").read_text()
    meaning = script[script.index("var MEANING = {"):script.index("};", script.index("var MEANING = {"))]
    explained = set(re.findall(r"\b([A-Z]{3,})\s*:", meaning))
    styled = set(re.findall(r"\.s-([A-Z]+)\s*\{", (templates / "dashboard.css").read_text()))
    assert set(STATUSES) <= explained, set(STATUSES) - explained
    assert set(STATUSES) <= styled, set(STATUSES) - styled

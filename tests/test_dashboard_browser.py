"""The HTML dashboard in a real headless Chromium, opened from disk.

Chromium comes from the system packages (Debian: ``apt-get install chromium``).
Without it these tests skip, except under CI (``CI`` set), where a missing
browser is a failure.  Screenshots land in test-artifacts/ at the repo root.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gradspec.cli import main
from gradspec.merge import merge
from report_fixtures import ODD_ADAPTER, plain, sample_record, write

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def browser() -> str:
    found = os.environ.get("GRADSPEC_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if found:
        return found
    if _in_ci():
        pytest.fail("CI is set but no Chromium was found: install it (apt-get install -y chromium) "
                    "or point GRADSPEC_CHROMIUM at it")
    pytest.skip("Chromium is not installed (apt-get install -y chromium); under CI this is a failure")


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three CI jobs merged; the tensorflow job lost one cell, which shows as MISSING."""
    tf = sample_record(["tensorflow"])
    tf["results"] = [r for r in tf["results"] if not (r["case"] == "pool.avg_pool1d" and r["dtype"] == "float64")]
    return plain(merge([("torch.json", sample_record(["torch"])), ("tf.json", tf),
                        ("ext.json", sample_record([ODD_ADAPTER]))]))


@pytest.fixture(scope="module")
def page(record: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard")
    path = write(folder / "merged.json", record)
    assert main(["report", str(path), "--html", str(folder / "site")]) == 0
    assert sorted(p.name for p in (folder / "site").iterdir()) == ["badges", "index.html"]
    return folder / "site" / "index.html"


class Chromium:
    def __init__(self, binary: str, profile: Path) -> None:
        self.binary, self.profile = binary, profile

    def run(self, url: str, *extra: str) -> tuple[str, list[str]]:
        """Load ``url``; returns stdout and the page's console lines from Chromium's log."""
        args = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={self.profile}", "--enable-logging=stderr", "--v=0", *extra, url]
        done = subprocess.run(args, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "HOME": str(self.profile)})
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]

    def dom(self, page: Path, fragment: str = "") -> str:
        out, console = self.run(page.as_uri() + (f"#{fragment}" if fragment else ""), "--dump-dom")
        assert console == [], console
        assert 'data-ready="true"' in out, "the page script did not finish"
        errors = re.search(r'<ul id="js-errors"[^>]*>(.*?)</ul>', out, re.S)
        assert errors and errors.group(1) == "", errors.group(1) if errors else "no #js-errors element"
        return out


@pytest.fixture(scope="module")
def chromium(browser: str, tmp_path_factory: pytest.TempPathFactory) -> Chromium:
    return Chromium(browser, tmp_path_factory.mktemp("chromium-profile"))


def shown(dom: str) -> int:
    count = len(re.findall(r'data-shown="true"', dom))
    assert f'data-shown-cells="{count}"' in dom
    return count


def index_of(record: dict[str, Any], case: str, adapter: str, dtype: str) -> int:
    return next(i for i, r in enumerate(record["results"])
                if (r["case"], r["adapter"], r["dtype"]) == (case, adapter, dtype))


def test_dashboard_loads_cleanly_with_one_cell_per_result(chromium: Chromium, page: Path,
                                                          record: dict[str, Any]) -> None:
    dom = chromium.dom(page)
    assert len(record["results"]) == 30
    assert len(re.findall(r'<td class="cell s-[A-Z]+[^"]*" data-adapter', dom)) == 30
    assert shown(dom) == 30
    assert len(re.findall(r'class="cell s-MISSING"', dom)) == 1
    assert "Showing 30 of 30 results" in dom
    assert len(re.findall(r'<td class="empty"', dom)) == 0  # every case ran in all 6 columns


@pytest.mark.parametrize("fragment, keep", [
    ("status=FAIL", lambda r, c: r["status"] == "FAIL"),
    ("tag=pooling", lambda r, c: "pooling" in c["tags"]),
    ("adapter=torch", lambda r, c: r["adapter"] == "torch"),
    ("kind=api&status=PASS", lambda r, c: c["kind"] == "api" and r["status"] == "PASS"),
    ("q=UNCONNECTED", lambda r, c: "unconnected" in r["case"]),
])
def test_a_filter_in_the_url_changes_what_is_shown(chromium: Chromium, page: Path, record: dict[str, Any],
                                                    fragment: str, keep) -> None:
    want = sum(bool(keep(r, record["cases"][r["case"]])) for r in record["results"])
    assert 0 < want < 30
    dom = chromium.dom(page, fragment)
    assert shown(dom) == want
    assert f"Showing {want} of 30 results" in dom


def test_tag_filter_hides_other_rows_and_adapter_filter_hides_other_columns(chromium: Chromium, page: Path) -> None:
    dom = chromium.dom(page, "tag=pooling&adapter=tensorflow")
    assert re.search(r'<tr data-case="tape.cube_variable" data-hidden="true">', dom)
    assert re.search(r'<tr data-case="pool.avg_pool1d" data-hidden="false">', dom)
    assert re.search(r'<th colspan="2" data-adapter="torch" data-hidden="true">torch 2.13.0</th>', dom)
    assert shown(dom) == 2


def test_record_markup_is_rendered_as_text(chromium: Chromium, page: Path) -> None:
    dom = chromium.dom(page)
    assert "<script>alert" not in dom and "<b>&amp;" not in dom and "<i>ag" not in dom
    assert "tape.odd&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;" in dom          # a case id
    assert "cpu&lt;b&gt;&amp;amp;&lt;/b&gt;" in dom                                   # a device
    assert "t&lt;i&gt;ag&lt;/i&gt;&amp;amp;" in dom                                    # a tag
    assert 'href="javascript:' not in dom


def test_cell_detail_has_statement_docs_outcomes_error_tolerance_and_repro(
        chromium: Chromium, page: Path, record: dict[str, Any]) -> None:
    i = index_of(record, "tape.cube_variable", ODD_ADAPTER, "float64")  # the CRASH cell
    dom = chromium.dom(page, f"cell={i}")
    detail = re.search(r'<aside id="detail"([^>]*)>(.*?)</aside>', dom, re.S)
    assert detail and "hidden" not in detail.group(1)
    text = detail.group(2)
    for piece in ("d/dx x^3 at x=3 is 27 | pipes `ticks` &lt;script&gt;", "CRASH because &lt;script&gt;",
                  'href="https://www.tensorflow.org/guide/autodiff#gradient_tapes"', "a quote &lt;script&gt;",
                  "Value from analytic float64[1] [27]", "RuntimeError &lt;script&gt;", "Traceback ...",
                  "0.00001", "python -m pytest 'cases/tape.py::cube_variable[ext&lt;script&gt;"):
        assert piece in text, piece
    assert f'data-result="{i}"' in dom and "selected" in re.search(rf'<td class="([^"]*)"[^>]*data-result="{i}"',
                                                                    dom).group(1)


def test_each_adapter_shows_its_origin(chromium: Chromium, page: Path) -> None:
    scores = re.search(r'<table id="scores">(.*?)</table>', chromium.dom(page), re.S).group(1)
    origins = re.findall(r'<td class="origin">([^<]*)</td>', scores)
    assert "built-in" in origins
    assert "command line (mypkg.ext:Ext &lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;)" in origins


def test_cell_detail_shows_where_a_library_raised(chromium: Chromium, page: Path, record: dict[str, Any]) -> None:
    i = index_of(record, "tape.unconnected_source", "torch", "float32")  # torch raises there
    text = re.search(r'<aside id="detail"[^>]*>(.*?)</aside>', chromium.dom(page, f"cell={i}"), re.S).group(1)
    trace = re.search(r'<details class="raised-trace" open="open"><summary>Raised at request 0: '
                      r'builtins.RuntimeError &lt;script&gt;.*?</summary><pre>(.*?)</pre>', text, re.S)
    assert trace and 'File "mylib/grad.py", line 42, in grad &lt;script&gt;' in trace.group(1)


def test_implementation_defined_choices_side_by_side(chromium: Chromium, page: Path, record: dict[str, Any]) -> None:
    dom = chromium.dom(page)
    table = re.search(r'<table id="choices">(.*?)</table>', dom, re.S).group(1)
    labels = re.findall(r'<span class="choice-label">([^<]*)</span>', table)
    assert labels == ["zeros", "absent", "raises"]  # ext, tensorflow, torch, in the header's order
    assert '<a href="https://example.org/doc#x" target="_blank" rel="noopener noreferrer">documentation</a>' in table
    assert "<span>https://example.org/doc#x &lt;script&gt;" in table  # not a plain URL: shown as text
    i = index_of(record, "tape.unconnected_source", "tensorflow", "float32")
    detail = chromium.dom(page, f"cell={i}")
    assert '<span>javascript:alert(1)#x</span>' in detail  # a non-http doc URL stays text
    assert 'href="https://pytorch.org/docs/stable/generated/torch.autograd.grad.html#torch.autograd.grad"' in detail


def test_a_script_error_is_caught_and_shown(chromium: Chromium, page: Path, tmp_path: Path) -> None:
    """The no-console-errors checks above can fail: a page whose data is wrong reports its error."""
    broken = tmp_path / "index.html"
    text = page.read_text()
    broken.write_text(re.sub(r'(<script type="application/json" id="gradspec-data">).*?(</script>)',
                             r"\1{}\2", text, flags=re.S))
    out, console = chromium.run(broken.as_uri(), "--dump-dom")
    assert any("Uncaught TypeError" in line for line in console)
    assert re.search(r'<ul id="js-errors">\s*<li>error: Uncaught TypeError', out)


def test_screenshots_are_saved_as_artifacts(chromium: Chromium, page: Path, record: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    cell = index_of(record, "tape.unconnected_source", ODD_ADAPTER, "float32")
    for name, fragment in (("dashboard.png", ""), ("dashboard-detail.png", f"cell={cell}")):
        target = ARTIFACTS / name
        target.unlink(missing_ok=True)
        chromium.run(page.as_uri() + (f"#{fragment}" if fragment else ""), "--window-size=1400,1100",
                     f"--screenshot={target}")
        data = target.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, name


def test_eager_versus_compiled_lists_a_differing_case_with_both_outcomes(chromium: Chromium, tmp_path: Path) -> None:
    data = sample_record(["torch"])
    compiled = [{**r, "mode": "compiled", "nodeid": r["nodeid"].replace("[torch-", "[torch-compile-")}
                for r in data["results"]]
    for r in compiled:
        if r["case"] == "tape.cube_variable":
            r.update(status="FAIL", fail_kind="value_mismatch", message="<b>sign</b> flipped")
    data["results"] += compiled
    data["adapters"]["torch"]["modes"]["compiled"] = "torch.compile"
    data["adapters"]["torch"]["conformance"]["compiled"] = data["adapters"]["torch"]["conformance"]["eager"]
    path = write(tmp_path / "modes.json", data)
    assert main(["report", str(path), "--html", str(tmp_path / "site")]) == 0
    dom = chromium.dom(tmp_path / "site" / "index.html")
    section = dom.split('id="modes-section"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<tr data-case="([^"]+)" data-adapter="torch">(.*?)</tr>', section, re.S)
    assert [case for case, _ in rows] == ["tape.cube_variable"]
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", rows[0][1], re.S)
    assert cells[2:4] == ["compiled", "cpu float32, cpu float64"]
    assert "PASS (x2)" in cells[4] and "FAIL (value_mismatch): &lt;b&gt;sign&lt;/b&gt; flipped (x2)" in cells[5]


def test_each_score_row_names_its_execution_mode(chromium: Chromium, page: Path) -> None:
    """Scores are per adapter and mode: two rows of one adapter must say which mode each is."""
    scores = re.search(r'<table id="scores">(.*?)</table>', chromium.dom(page), re.S).group(1)
    assert "<th>Mode</th>" in scores
    assert set(re.findall(r'<td class="mode"[^>]*>([^<]*)</td>', scores)) >= {"eager"}

"""The dashboard's release view and score history in headless Chromium, opened from disk
(the browser fixtures and rules of test_dashboard_browser.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradspec.cli import main
from gradspec.merge import merge
from report_fixtures import MARK, plain, write
from test_dashboard_browser import ARTIFACTS, Chromium, browser, chromium  # noqa: F401  (fixtures)
from test_releases import nightly, torch_at


@pytest.fixture(scope="module")
def release_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torch at three releases: the cube case broke in 2.13.0, the unconnected choice changed in
    2.13.0 and contradicts its declared range at 2.12.0; a case id holds markup."""
    folder = tmp_path_factory.mktemp("releases")
    old = torch_at("2.12.0", unconnected="zeros")
    for r in old["results"]:
        if r["declared"]:
            r["declared"]["choice"]["versions"] = ">=2.0" + MARK
    merged = merge([("a", old), ("b", torch_at("2.13.0", cube="FAIL")), ("c", torch_at("2.14.1", cube="FAIL"))])
    path = write(folder / "merged.json", plain(merged))
    assert main(["report", str(path), "--html", str(folder / "site")]) == 0
    return folder / "site" / "index.html"


def test_release_view_has_a_column_per_release_and_the_changed_cells_first(chromium: Chromium, release_page: Path):
    dom = chromium.dom(release_page)
    assert 'data-releases-ready="true"' in dom
    section = re.search(r'<section id="releases-section">(.*?)</section>', dom, re.S)
    assert section, "the release view is hidden"
    table = re.search(r'<div class="release-table" data-adapter="torch">(.*?)</table>', section.group(1), re.S).group(1)
    assert "<th>2.12.0</th><th>2.13.0</th><th>2.14.1</th><th>Changed in</th>" in table
    rows = re.findall(r'<tr data-case="([^"]+)" class="(changed|same)">(.*?)</tr>', table, re.S)
    assert [c for _, c, _ in rows] == ["changed"] * 3 + ["same"] * 3
    changed = {(case, re.findall(r'class="changed-in">([^<]*)<', body)[0]) for case, kind, body in rows
               if kind == "changed"}
    assert changed == {("tape.cube_variable", "2.13.0"), ("tape.unconnected_source", "2.13.0")}
    stale = re.search(r'<ul id="stale-range-list">(.*?)</ul>', section.group(1), re.S).group(1)
    assert "observed 2.12.0: zeros" in stale and "&lt;script&gt;" in stale and "<script>alert" not in dom
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "dashboard-releases.png"
    chromium.run(release_page.as_uri(), "--window-size=1400,2400", f"--screenshot={target}")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_chart_is_drawn_by_the_page_with_one_point_per_record(chromium: Chromium, tmp_path: Path):
    paths = [str(write(tmp_path / f"n{d}.json", nightly(d, f))) for d, f in ((1, 2), (2, 1), (3, 0))]
    assert main(["report", *paths, "--html", str(tmp_path / "site")]) == 0
    page = tmp_path / "site" / "index.html"
    dom = chromium.dom(page)
    assert '<section id="history-section">' in dom
    chart = re.search(r'<svg [^>]*class="history-chart" data-adapter="torch">(.*?)</svg>', dom, re.S).group(1)
    assert re.search(r'<polyline [^>]*data-series="2.13.0" data-points="3"', chart)
    assert len(re.findall(r"<circle ", chart)) == 3
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', chart)]
    assert ys[0] > ys[1] > ys[2]  # the score rose: each point higher on the chart
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "dashboard-history.png"
    chromium.run(page.as_uri() + "#q=cube", "--window-size=1400,1600", f"--screenshot={target}")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

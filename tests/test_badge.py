"""Conformance badges: one SVG per adapter with its version and score, well-formed
whatever the record's strings hold."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from gradspec.badge import badges
from gradspec.cli import main
from gradspec.merge import scores
from gradspec.record_model import typed
from report_fixtures import ODD_ADAPTER, sample_record, write

SVG = "{http://www.w3.org/2000/svg}"


def texts(image: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(image).iter(f"{SVG}text")]


def test_each_adapter_gets_a_badge_with_its_version_and_score() -> None:
    record = typed(sample_record())
    images = badges(record)
    for (adapter, version, mode), s in scores(record).items():
        label, message = texts(images[f"{adapter}-{mode}.svg"] if adapter != ODD_ADAPTER else
                               next(v for k, v in images.items() if k.startswith("ext") and k.endswith("-eager.svg")))
        assert label == f"gradspec {adapter} {version}"
        pct = round(100 * s["passed"] / s["denominator"])
        assert message == f"{pct}% ({s['passed']}/{s['denominator']})"
    assert images["torch.svg"] == images["torch-eager.svg"]
    assert all("/" not in name and "<" not in name for name in images)


def test_markup_in_a_record_stays_text() -> None:
    image = next(v for k, v in badges(typed(sample_record())).items() if k.startswith("ext"))
    root = ET.fromstring(image)  # well-formed: the adapter's <script> is escaped
    assert not list(root.iter("script")) and not list(root.iter(f"{SVG}script"))
    assert texts(image)[0] == f"gradspec {ODD_ADAPTER} 1.0<script>alert(1)</script>&amp;"


def test_report_writes_badges_beside_the_dashboard_or_where_asked(tmp_path: Path) -> None:
    path = write(tmp_path / "run.json", sample_record(["torch"]))
    assert main(["report", str(path), "--badges", str(tmp_path / "b")]) == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["torch-eager.svg", "torch.svg"]
    assert main(["report", str(path), "--html", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "badges" / "torch.svg").read_text().startswith("<svg")

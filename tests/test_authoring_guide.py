"""docs/authoring.md states what the code does: its probe catalogue is the
generated one, and the names it documents exist."""
from __future__ import annotations

import re
from pathlib import Path

from gradspec import adapter, program
from gradspec.case import CAPABILITIES
from gradspec.loader import load_cases
from gradspec.probe_catalogue import catalogue, render

REPO = Path(__file__).resolve().parents[1]
GUIDE = (REPO / "docs" / "authoring.md").read_text()


def test_the_guide_holds_the_generated_probe_catalogue() -> None:
    table = GUIDE.split("<!-- probes:begin -->\n", 1)[1].split("\n<!-- probes:end -->", 1)[0]
    assert table == render(catalogue(load_cases([REPO / "cases"]))), \
        "regenerate the table: python -m gradspec list --probes"


def test_the_names_the_guide_documents_exist() -> None:
    for name in ("OpsView", "outputs", "resolve_target"):
        assert hasattr(program, name), name
    for name in ("structured", "function_of", "function_of_sources", "LazyOps", "probe_modes"):
        assert hasattr(adapter, name), name
    quoted = set(re.findall(r"`([a-z_]+)`", GUIDE))
    for capability in ("persistent_recording", "single_use_recording", "watch_control", "variables",
                       "trainable_flag", "no_gradient_ops", "output_gradients", "unconnected_zero"):
        assert capability in CAPABILITIES and capability in quoted, capability


def test_the_architecture_module_map_names_every_module() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    listed = set(re.findall(r"^\| `(gradspec/[a-z_]+\.py)` \|", text, re.M))
    assert listed == {f"gradspec/{p.name}" for p in (REPO / "gradspec").glob("*.py")}

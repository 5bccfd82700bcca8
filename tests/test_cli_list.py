"""`gradspec list`: allowed labels of implementation-defined cases, the capabilities
request types imply, and the probe catalogue generated from the cases."""
from __future__ import annotations

import json

import pytest

from gradspec.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["list", *args]) == 0
    return capsys.readouterr().out


def test_implementation_defined_cases_show_their_labels_in_text_and_json(capsys) -> None:
    text = run(capsys, "--kind", "implementation-defined")
    block = text.split("tape.unconnected_source  [implementation-defined]", 1)[1].split("\ntape.", 1)[0]
    assert "choices: choice = absent | raises | zeros" in block
    kinds = text.split("tape.source_kinds  [implementation-defined]", 1)[1].split("\ntape.", 1)[0]
    assert "choices: b = absent | raises | value" in kinds and "choices: d = absent | raises | value" in kinds
    listed = {c["id"]: c for c in json.loads(run(capsys, "--kind", "implementation-defined", "--format", "json"))}
    assert listed["tape.unconnected_source"]["slots"] == {"choice": ["absent", "raises", "zeros"]}
    assert set(listed["tape.source_kinds"]["slots"]) == {"b", "c", "d"}
    assert all(c["slots"] for c in listed.values())


def test_capabilities_implied_by_request_types_are_listed(capsys) -> None:
    listed = {c["id"]: c for c in json.loads(run(capsys, "--format", "json"))}
    jvp = listed["transforms.jvp_vector_map"]
    assert "forward_mode" not in jvp["requires"] and "forward_mode" in jvp["needs"]
    assert "higher_order" in listed["tape.nested_cube"]["needs"]
    assert listed["tape.square_variable"]["needs"] == []
    text = run(capsys, "--tag", "jvp")
    assert "needs: forward_mode" in text


def test_the_probe_catalogue_is_generated_from_the_cases(capsys) -> None:
    probes = {p["name"]: p for p in json.loads(run(capsys, "--probes", "--format", "json"))}
    assert set(probes) == {"default_dtype", "dense_layer", "integer_opt_in", "leaf_grad_after_backward",
                           "module_variables", "train_linear_l1", "variable_from_list"}
    dense = probes["dense_layer"]
    assert dense["method"] == "probe_dense_layer"
    assert list(dense["args"]) == ["units", "activation", "x", "x_dtype"]
    assert dense["args"]["x"] == ["list[10][2] of float"]
    assert "Raised(DTypeMismatch) (choice 'raises')" in dense["answers"]
    assert probes["variable_from_list"]["answers"] == ["Raised(ShapeMismatch)"]
    assert probes["module_variables"] == {"name": "module_variables", "method": "probe_module_variables",
                                          "args": {}, "answers": ["Info(4)"], "cases": ["variables.module_collects"]}
    table = run(capsys, "--probes")
    assert table.startswith("| probe method |") and "`probe_train_linear_l1(self, ctx, xs, ys, lr, steps, w0, b0)`" in table

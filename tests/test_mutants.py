"""Mutated real adapters: each wrong rule is caught where it applies, and only there."""
from __future__ import annotations

from pathlib import Path

import pytest

from gradspec import expectation_file
from gradspec.engine import run_item
from gradspec.loader import load_cases

from tests.mutant_adapters import (ConjugateForwardMode, Float32Inside, GraphOnlySignError,  # noqa: E402
                                   MeanBroadcastAdd, SignErrorSigmoid)

REPO = Path(__file__).resolve().parents[1]
CASES = {c.id: c for c in load_cases([REPO / "cases"])}


def status(adapter_cls, case_id: str, dtype: str, mode: str = "eager") -> tuple[str, str | None]:
    version = adapter_cls.distribution_version()
    entry = expectation_file.load(adapter_cls.expectations_path()).for_case(case_id, version, dtype, mode)
    result = run_item(CASES[case_id], adapter_cls(), "cpu", dtype, version, entry, mode=mode)
    return result.status, result.fail_kind


@pytest.mark.parametrize("mutant, broken, intact, dtype", [
    (SignErrorSigmoid, "ops.unary.sigmoid", "ops.unary.tanh", "float32"),
    (MeanBroadcastAdd, "ops.binary.add_row", "ops.binary.add_same", "float64"),
    (MeanBroadcastAdd, "ops.binary.add_col", "ops.binary.mul_row", "float32"),
    (ConjugateForwardMode, "transforms.jvp_complex_holomorphic", "transforms.jvp_vector_map", None),
    (Float32Inside, "ops.unary.sin", "ops.unary.sin", None),
])
def test_each_mutant_is_caught_where_its_rule_applies(mutant, broken, intact, dtype):
    broken_dtype = dtype or ("complex128" if mutant is ConjugateForwardMode else "float64")
    intact_dtype = dtype or ("float64" if mutant is ConjugateForwardMode else "float32")
    assert status(mutant, broken, broken_dtype) == ("FAIL", "value_mismatch")
    assert status(mutant, intact, intact_dtype) == ("PASS", None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_rule_wrong_only_in_compiled_mode_fails_only_in_compiled_cells(dtype):
    assert status(GraphOnlySignError, "ops.unary.sigmoid", dtype, "compiled") == ("FAIL", "value_mismatch")
    assert status(GraphOnlySignError, "ops.unary.sigmoid", dtype, "eager") == ("PASS", None)
    assert status(GraphOnlySignError, "ops.unary.tanh", dtype, "compiled") == ("PASS", None)

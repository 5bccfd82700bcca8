"""The judge against deliberately broken adapters: each must be caught."""
from __future__ import annotations

from pathlib import Path

import pytest

from gradspec import expectation_file
from gradspec.engine import run_item
from gradspec.loader import load_cases

REPO = Path(__file__).resolve().parents[1]
CASES = {c.id: c for c in load_cases([REPO / "cases"])}

from tests.broken_adapters import ReusableTapeTensorFlow, ScaledTorch, ZerosForAbsentTensorFlow  # noqa: E402


def run(adapter_cls, case_id: str, dtype: str = "float32"):
    adapter = adapter_cls()
    version = adapter_cls.distribution_version()
    entry = expectation_file.load(adapter_cls.expectations_path()).for_case(case_id, version)
    return run_item(CASES[case_id], adapter, "cpu", dtype, version, entry)


@pytest.mark.parametrize("case_id", ["tape.square_variable", "tape.persistent_reuse", "layers.naive_softmax",
                                     "pool.avg_pool1d"])
def test_gradients_scaled_by_one_percent_fail(case_id):
    result = run(ScaledTorch, case_id, "float64")
    assert (result.status, result.fail_kind) == ("FAIL", "value_mismatch"), result.message


def test_the_unbroken_torch_adapter_passes_the_same_cases():
    from adapters.torch_adapter import TorchAdapter

    for case_id in ["tape.square_variable", "tape.persistent_reuse", "layers.naive_softmax", "pool.avg_pool1d"]:
        assert run(TorchAdapter, case_id, "float64").status == "PASS"


def test_zeros_where_tensorflow_documents_none_fail_as_a_behaviour_change():
    result = run(ZerosForAbsentTensorFlow, "tape.unconnected_source")
    assert (result.status, result.fail_kind) == ("FAIL", "behaviour_changed"), result.message
    assert "declares 'absent'" in result.message and result.choices == {"choice": "zeros"}


def test_a_second_gradient_from_a_non_persistent_recording_must_raise():
    result = run(ReusableTapeTensorFlow, "tape.non_persistent_second_request")
    assert (result.status, result.fail_kind) == ("FAIL", "missing_error"), result.message

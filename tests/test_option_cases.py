"""A case about an option is UNSUPPORTED where the framework has no such option,
even when its default happens to give the answer the option asks for (JAX and
autograd give zeros for an unused argument, but cannot be asked for them)."""
from __future__ import annotations

from pathlib import Path

import pytest

from adapters.autograd_adapter import AutogradAdapter
from adapters.jax_adapter import JaxAdapter
from adapters.torch_adapter import TorchAdapter
from gradspec.engine import run_item
from gradspec.loader import load_cases

CATALOG = {c.id: c for c in load_cases([Path(__file__).resolve().parents[1] / "cases"])}


@pytest.mark.parametrize("adapter_cls", [JaxAdapter, AutogradAdapter])
@pytest.mark.parametrize("case_id", ["tape.unconnected_zero", "tape.unconnected_absent"])
def test_a_missing_option_is_unsupported_not_a_pass(adapter_cls, case_id: str) -> None:
    adapter = adapter_cls()
    result = run_item(CATALOG[case_id], adapter, "cpu", "float64", adapter.version(), None)
    assert result.status == "UNSUPPORTED", result.message
    assert not result.stale_denial  # nothing was answered, so no denial looks stale


def test_the_absent_option_gives_absent_where_it_exists() -> None:
    adapter = TorchAdapter()
    result = run_item(CATALOG["tape.unconnected_absent"], adapter, "cpu", "float64", adapter.version(), None)
    assert result.status == "PASS", result.message

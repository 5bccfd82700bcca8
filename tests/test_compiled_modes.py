"""Compiled modes at their documented limits: what a compiler cannot express is
UNSUPPORTED with its reason, never a FAIL and never answered eagerly instead."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from adapters.tensorflow_adapter import TensorFlowAdapter
from adapters.tensorflow_graph import GRAPH_GUIDE
from adapters.torch_adapter import TorchAdapter
from gradspec.case import case
from gradspec.engine import run_item
from gradspec.expect import value
from gradspec.inputs import var
from gradspec.requests import Grad


def _python_bool_of_a_tensor(ops, x):
    """bool() of a computed tensor: a Python value AutoGraph leaves as it is."""
    return x * x if bool(ops.sum(x) > 0) else -x


PYTHON_BOOL = case(id="demo.python_bool", statement="d/dx x^2 at 3 through a Python bool is 6",
                   doc="https://www.tensorflow.org/guide/function#autograph_transformations", tags=["tape"],
                   inputs={"x": var(3.0)}, body=_python_bool_of_a_tensor, requests=Grad("x"), expect=value(6.0))
SQUARE = case(id="demo.square", statement="d/dx x^2 at 3 is 6",
              doc="https://www.tensorflow.org/guide/autodiff#gradient_tapes", tags=["tape"], inputs={"x": var(3.0)},
              body=lambda ops, x: x * x, requests=Grad("x"), expect=value(6.0))


def test_a_body_autograph_cannot_convert_is_unsupported_in_compiled_tensorflow_only():
    adapter = TensorFlowAdapter()
    compiled = run_item(PYTHON_BOOL, adapter, "cpu", "float32", "2", None, mode="compiled")
    assert compiled.status == "UNSUPPORTED" and GRAPH_GUIDE in compiled.message, compiled.message
    assert run_item(PYTHON_BOOL, adapter, "cpu", "float32", "2", None, mode="eager").status == "PASS"


def test_compiled_tensorflow_counts_its_traces():
    result = run_item(SQUARE, TensorFlowAdapter(), "cpu", "float64", "2", None, mode="compiled")
    assert (result.status, result.compile_stats) == ("PASS", {"traces": 1})


def test_compiled_torch_records_what_dynamo_did():
    result = run_item(PYTHON_BOOL, TorchAdapter(), "cpu", "float32", "2", None, mode="compiled")
    stats = result.compile_stats or {}
    assert {"frames", "compiled_frames", "graphs", "graph_breaks"} <= set(stats) and stats["compiled_frames"] >= 1
    assert result.status in ("PASS", "UNSUPPORTED"), result.message  # never a FAIL: declined frames are UNSUPPORTED


def test_inductor_needs_a_cxx_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "C++ compiler" in (TorchAdapter().mode_unavailable("compiled-inductor") or "")
    assert TorchAdapter().mode_unavailable("compiled") is None


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed here")
def test_inductor_is_available_with_gxx():
    assert TorchAdapter().mode_unavailable("compiled-inductor") is None

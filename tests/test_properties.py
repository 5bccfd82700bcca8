"""Property-based tier: hypothesis draws shapes, values away from kinks and dtypes for the
smooth ops, and every installed adapter's gradient must match the float64 oracle through
the same engine path as the catalog (case -> run_item -> judge).  Deterministic
(derandomize=True); GRADSPEC_PROPERTY_EXAMPLES deepens it (default 10 examples per op).
A failure shrinks to a minimal shape and input, which hypothesis prints."""
from __future__ import annotations

import itertools
import os
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradspec.case import case
from gradspec.discovery import discover
from gradspec.engine import run_item
from gradspec.expect import oracle
from gradspec.inputs import const, var
from gradspec.requests import Grad

pytestmark = pytest.mark.properties

# Expected values are cached per (case id, dtype): every drawn example needs its own id.
_SERIAL = itertools.count()
EXAMPLES = int(os.environ.get("GRADSPEC_PROPERTY_EXAMPLES", "10"))
DOC = "https://hypothesis.readthedocs.io/en/latest/reference/api.html#hypothesis.settings.derandomize"

# op -> (domain low, high): smooth there, kinks and poles excluded
UNARY: dict[str, tuple[float, float]] = {
    "exp": (-3, 3), "expm1": (-3, 3), "log": (0.2, 5), "log1p": (-0.5, 5), "sqrt": (0.2, 5),
    "rsqrt": (0.2, 5), "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.2, 1.2), "tanh": (-3, 3),
    "sinh": (-3, 3), "cosh": (-3, 3), "arcsin": (-0.9, 0.9), "arctan": (-3, 3), "sigmoid": (-5, 5),
    "softplus": (-5, 5), "gelu": (-3, 3), "erf": (-2, 2), "reciprocal": (0.3, 4), "square": (-3, 3),
    "neg": (-3, 3),
}
BINARY: dict[str, tuple[float, float]] = {"add": (-3, 3), "sub": (-3, 3), "mul": (-3, 3), "div": (0.3, 3),
                                          "pow": (0.3, 3), "atan2": (0.3, 3)}
REDUCE = ("sum", "mean", "logsumexp", "var", "std", "norm", "prod")


def _adapters() -> list[Any]:
    """The framework adapters (the test extra installs them all; the oracle would be judged
    against itself)."""
    return [spec.cls() for spec in discover([], ["jax", "torch", "tensorflow", "autograd"])]


ADAPTERS = _adapters()
ADAPTER_IDS = [a.name for a in ADAPTERS]


def _arrays(shape: tuple[int, ...], low: float, high: float) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


# autograd returns float64 gradients for float32 sources of several ops (HIPS/autograd#671); the
# catalog reports that per case as a declared known bug (XFAIL), so here autograd is drawn in float64.
DECLARED_DTYPE_BUGS = {("autograd", "float32")}


def _check(adapter: Any, dtype: str, cid: str, body: Callable[..., Any], inputs: dict[str, Any],
           wrt: Any, n_out: int) -> None:
    assume((adapter.name, dtype) not in DECLARED_DTYPE_BUGS)
    c = case(id=f"properties.{cid}_{next(_SERIAL)}", statement="drawn by hypothesis", doc=DOC, tags=["properties"],
             inputs=inputs, body=body, requests=Grad(wrt), expect=[oracle()] * n_out if n_out > 1 else oracle(),
             dtypes=[dtype], tolerance=ORACLE_TOLERANCE)
    result = run_item(c, adapter, "cpu", dtype, adapter.version(), None)
    if result.status == "UNSUPPORTED":
        return
    assert result.status == "PASS", f"{adapter.name} {dtype} {cid}: {result.status} {result.fail_kind}: {result.message}"


# Drawn inputs reach |f| ~ 50, where the oracle's own rounding is ~1e-10 absolute; 1e-8 still
# catches a float64 item computed in float32 (~6e-8 relative).
ORACLE_TOLERANCE = {"float64": (1e-8, 1e-8)}
SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
DTYPES = st.sampled_from(["float32", "float64"])


@pytest.mark.parametrize("adapter", ADAPTERS, ids=ADAPTER_IDS)
@pytest.mark.parametrize("op", sorted(UNARY))
@SETTINGS
@given(data=st.data(), dtype=DTYPES, shape=SHAPES)
def test_unary_matches_oracle(adapter: Any, op: str, data: Any, dtype: str, shape: tuple[int, ...]) -> None:
    low, high = UNARY[op]
    x = data.draw(_arrays(shape, low, high), label="x")
    w = data.draw(_arrays(shape, -2, 2), label="weights")
    _check(adapter, dtype, f"unary_{op}", lambda ops, x, w: ops.sum(getattr(ops, op)(x) * w),
           {"x": var(x), "w": const(w)}, "x", 1)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=ADAPTER_IDS)
@pytest.mark.parametrize("op", sorted(BINARY))
@SETTINGS
@given(data=st.data(), dtype=DTYPES, shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
def test_binary_broadcast_matches_oracle(adapter: Any, op: str, data: Any, dtype: str, shapes: Any) -> None:
    low, high = BINARY[op]
    a = data.draw(_arrays(shapes.input_shapes[0], low, high), label="a")
    b = data.draw(_arrays(shapes.input_shapes[1], low, high), label="b")
    w = data.draw(_arrays(shapes.result_shape, -2, 2), label="weights")
    _check(adapter, dtype, f"binary_{op}", lambda ops, a, b, w: ops.sum(getattr(ops, op)(a, b) * w),
           {"a": var(a), "b": var(b), "w": const(w)}, ("a", "b"), 2)


@pytest.mark.parametrize("adapter", ADAPTERS, ids=ADAPTER_IDS)
@pytest.mark.parametrize("op", REDUCE)
@SETTINGS
@given(data=st.data(), dtype=DTYPES, shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4))
def test_reduction_matches_oracle(adapter: Any, op: str, data: Any, dtype: str, shape: tuple[int, ...]) -> None:
    axis = data.draw(st.sampled_from([None, 0, len(shape) - 1]), label="axis")
    # var/std/norm/prod are smooth away from constant rows and zeros: draw from a positive, spread range
    x = data.draw(_arrays(shape, 0.3, 2.5), label="x")
    if op in ("var", "std"):
        x = x + np.arange(x.size).reshape(shape) * 0.37  # no constant slice, so std is differentiable
    out_shape = np.sum(x, axis=axis).shape
    w = data.draw(_arrays(out_shape, -2, 2), label="weights") if out_shape else np.array(1.0)
    _check(adapter, dtype, f"reduce_{op}", lambda ops, x, w: ops.sum(getattr(ops, op)(x, axis=axis) * w),
           {"x": var(x), "w": const(w)}, "x", 1)

"""A complete minimal adapter: the template of docs/authoring.md.

It validates HIPS autograd with nothing but the required core of the
contract (``asarray``, ``to_numpy``, ``grad`` and an op table).  Copy it,
replace the four marked places with your library, and run

    python -m pytest cases -n auto --gradspec-adapter docs.adapter_template:MinimalAutograd

Everything it does not declare (vjp, jvp, jacobians, recordings, probes,
float16, ...) comes back UNSUPPORTED, never as a pass.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from gradspec.adapter import FunctionalAdapter, LazyOps
from gradspec.outcomes import ErrorKind
from gradspec.program import RunContext


def build_ops() -> dict[str, Callable[..., Any]]:
    """1. The op table: gradspec's op names (gradspec/numpy_ops.py) mapped to your
    functions.  Built on first use (LazyOps) so importing the adapter does not
    import the library; a name missing here makes its cases UNSUPPORTED."""
    import autograd.numpy as anp

    return {
        "sum": lambda x, axis=None: anp.sum(x, axis=axis),
        "mean": lambda x, axis=None: anp.mean(x, axis=axis),
        "exp": anp.exp,
        "log": anp.log,
        "tanh": anp.tanh,
        "square": lambda x: x * x,
        "sqrt": anp.sqrt,
        "sigmoid": lambda x: 1.0 / (1.0 + anp.exp(-x)),
        "matmul": anp.matmul,
    }


class MinimalAutograd(FunctionalAdapter):
    # 2. Who you are: the name in node ids and reports, and how to find your version.
    name: ClassVar[str] = "minimal_autograd"
    distribution: ClassVar[str | None] = "autograd"
    module: ClassVar[str | None] = "autograd"
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = LazyOps(build_ops)
    capabilities: ClassVar[frozenset[str]] = frozenset({"unconnected_zero"})
    dtypes: ClassVar[tuple[str, ...]] = ("float64",)

    # 3. Arrays in and out.
    def asarray(self, array: np.ndarray, ctx: RunContext) -> Any:
        return np.asarray(array)

    def to_numpy(self, native: Any) -> np.ndarray:
        return np.asarray(native)

    # 4. The one transform every adapter needs: the gradient of a scalar function.
    def grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        import autograd

        return autograd.grad(f)(x)

    def classify(self, exc: BaseException) -> ErrorKind:
        """Optional: map your errors to the canonical kinds (else Unclassified)."""
        text = str(exc).lower()
        if isinstance(exc, TypeError) and "scalar-output" in text:
            return ErrorKind.NonScalarTarget
        if isinstance(exc, TypeError) and "integer" in text:
            return ErrorKind.NotDifferentiableDType
        return ErrorKind.Unclassified

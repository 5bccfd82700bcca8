"""The HIPS autograd adapter: a FunctionalAdapter on autograd's grad / make_vjp / make_jvp /
jacobian / hessian.

Autograd traces NumPy code on the CPU; it has no recording object, no
variables, no device placement, no vmap and no control-flow ops (it
differentiates Python control flow instead), so those capabilities are not
claimed.  Custom rules (primitive + defvjp) and checkpoint are reverse-mode
only.  Its forward mode (make_jvp) covers the ops that define a JVP; an op
without one (erf, astype, the linalg solvers, checkpoint) raises autograd's
NotImplementedError, classified NoGradientDefined.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from gradspec.adapter import FunctionalAdapter
from gradspec.outcomes import ErrorKind, Info, Unsupported
from gradspec.program import RunContext

from .autograd_ops import OPS


class AutogradAdapter(FunctionalAdapter):
    """Autograd's own transforms applied to the case body as a pure NumPy function."""

    name: ClassVar[str] = "autograd"
    distribution: ClassVar[str | None] = "autograd"
    module: ClassVar[str | None] = "autograd"
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = OPS
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "output_gradients", "higher_order", "jacobian", "hessian", "forward_mode",
        "complex", "float16", "custom_gradient", "checkpoint", "python_control_flow",
    })
    dtypes: ClassVar[tuple[str, ...]] = ("float16", "float32", "float64", "complex64", "complex128",
                                         "int32", "int64", "bool")

    def asarray(self, array: np.ndarray, ctx: RunContext) -> Any:
        if ctx.device != "cpu":
            raise Unsupported(f"autograd runs on NumPy arrays on the CPU, not on '{ctx.device}'")
        return np.array(array)

    def to_numpy(self, native: Any) -> np.ndarray:
        return np.asarray(native)

    def grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        import autograd

        return autograd.grad(f)(x)

    def vjp(self, f: Callable[[Any], Any], x: Any, cotangent: Any) -> Any:
        from autograd import make_vjp

        pullback, _ = make_vjp(f)(x)
        return pullback(cotangent)

    def jvp(self, f: Callable[[Any], Any], x: Any, tangent: Any) -> Any:
        from autograd import make_jvp

        return make_jvp(f)(x)(tangent)[1]

    def jacobian(self, f: Callable[[Any], Any], x: Any, mode: str) -> np.ndarray:
        """Reverse mode is autograd.jacobian; forward mode has no autograd
        builder, so it is assembled column by column from make_jvp."""
        if mode == "forward":
            return super().jacobian(f, x, mode)
        import autograd

        return self.to_numpy(autograd.jacobian(f)(x))

    def hessian(self, f: Callable[[Any], Any], x: Any) -> np.ndarray:
        import autograd

        return self.to_numpy(autograd.hessian(f)(x))

    def classify(self, exc: BaseException) -> ErrorKind:
        message = str(exc)
        if isinstance(exc, TypeError):
            if "scalar-output" in message:
                return ErrorKind.NonScalarTarget
            if "Can't differentiate w.r.t. type" in message:
                return ErrorKind.NotDifferentiableDType
        if isinstance(exc, NotImplementedError) and ("VJP of" in message or "JVP of" in message):
            return ErrorKind.NoGradientDefined
        if isinstance(exc, ValueError) and ("shape" in message or "broadcast" in message):
            return ErrorKind.ShapeMismatch
        return ErrorKind.Unclassified

    def probe_default_dtype(self, ctx: RunContext, value: Any) -> Info:
        """The dtype autograd.numpy (NumPy underneath) gives a Python list."""
        import autograd.numpy as anp

        return Info(str(anp.array(value).dtype))

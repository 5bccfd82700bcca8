"""The JAX adapter: a FunctionalAdapter on jax.grad / vjp / jvp / jacrev / jacfwd / hessian / vmap.

JAX has no recording and no variables: every input is an argument of a pure
function, so tape-only capabilities (recording, variables, watching,
persistence) are not claimed.

JAX is imported lazily.  On first use the adapter sets ``jax_enable_x64`` to
True: without it JAX silently truncates float64 inputs to float32, so float64
items would not be float64.  The flag is global for the process (JAX documents
it as a program-wide setting); float32 items stay float32 because the inputs
carry their dtype.  It also makes JAX's default dtypes 64-bit, which the
default-dtype probe reports (see jax_adapter.expect.toml).
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from gradspec.adapter import FunctionalAdapter
from gradspec.outcomes import ErrorKind, Info
from gradspec.program import RunContext

from .jax_ops import OPS

_TYPE_MISMATCH = re.compile(r"got (\w+)\[([^\]]*)\], but expected (\w+)\[([^\]]*)\]")


@functools.cache
def _jax() -> Any:
    """The jax module, with 64-bit types enabled (once, before any array exists)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


class JaxAdapter(FunctionalAdapter):
    """JAX's own function transforms applied to the case body as a pure function."""

    name: ClassVar[str] = "jax"
    distribution: ClassVar[str | None] = "jax"
    module: ClassVar[str | None] = "jax"
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = OPS
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "output_gradients", "unconnected_zero", "higher_order", "jacobian", "hessian", "forward_mode",
        "vmap", "complex", "float16", "bfloat16", "custom_gradient", "checkpoint", "control_flow_ops",
    })
    dtypes: ClassVar[tuple[str, ...]] = ("float16", "bfloat16", "float32", "float64", "complex64",
                                         "complex128", "int32", "int64", "bool")

    def devices(self) -> list[str]:
        jax = _jax()
        try:
            jax.devices("gpu")
        except RuntimeError:  # no GPU backend in this jaxlib or on this machine
            return ["cpu"]
        return ["cpu", "gpu"]

    def asarray(self, array: np.ndarray, ctx: RunContext) -> Any:
        jax = _jax()
        return jax.device_put(np.asarray(array), jax.devices(ctx.device)[0])

    def to_numpy(self, native: Any) -> np.ndarray:
        return np.asarray(native)

    def grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        return _jax().grad(f)(x)

    def vjp(self, f: Callable[[Any], Any], x: Any, cotangent: Any) -> Any:
        _, pullback = _jax().vjp(f, x)
        return pullback(cotangent)[0]

    def jvp(self, f: Callable[[Any], Any], x: Any, tangent: Any) -> Any:
        return _jax().jvp(f, (x,), (tangent,))[1]

    def jacobian(self, f: Callable[[Any], Any], x: Any, mode: str) -> np.ndarray:
        jax = _jax()
        transform = jax.jacfwd if mode == "forward" else jax.jacrev
        return self.to_numpy(transform(f)(x))

    def hessian(self, f: Callable[[Any], Any], x: Any) -> np.ndarray:
        return self.to_numpy(_jax().hessian(f)(x))

    def vmap_grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        jax = _jax()
        return jax.vmap(jax.grad(f))(x)

    def classify(self, exc: BaseException) -> ErrorKind:
        message = str(exc)
        if isinstance(exc, TypeError):
            if "scalar-output" in message:
                return ErrorKind.NonScalarTarget
            if "requires real- or complex-valued inputs" in message or "requires real-valued outputs" in message:
                return ErrorKind.NotDifferentiableDType
            if "dtypes must be equal" in message:  # jvp: tangent dtype differs from the primal's
                return ErrorKind.DTypeMismatch
        mismatch = _TYPE_MISMATCH.search(message)  # vjp pullback: "got float64[2], but expected float32[2]"
        if mismatch:
            got_dtype, got_shape, want_dtype, want_shape = mismatch.groups()
            return ErrorKind.DTypeMismatch if got_shape == want_shape and got_dtype != want_dtype \
                else ErrorKind.ShapeMismatch
        if isinstance(exc, (TypeError, ValueError)) and "shape" in message.lower():
            return ErrorKind.ShapeMismatch
        return ErrorKind.Unclassified

    def probe_default_dtype(self, ctx: RunContext, value: Any) -> Info:
        """The dtype jax.numpy gives a Python list, under the adapter's x64 setting."""
        return Info(str(_jax().numpy.asarray(value).dtype))

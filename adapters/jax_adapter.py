"""The JAX adapter: a FunctionalAdapter on jax.grad / vjp / jvp / jacrev / jacfwd / hessian / vmap.

JAX has no recording and no variables: every input is an argument of a pure
function, so tape-only capabilities (recording, variables, watching,
persistence) are not claimed.

Two execution modes:

- ``compiled`` (the default): each request's whole differentiated function
  runs under ``jax.jit``, one XLA computation per request, as JAX users
  write production code (https://docs.jax.dev/en/latest/jit-compilation.html#jit-compiling-a-function).
  Python control flow that depends on a traced value cannot be traced
  (https://docs.jax.dev/en/latest/control-flow.html#python-control-flow-jit):
  such cases are UNSUPPORTED in this mode, never run eagerly instead.  The
  number of XLA compilations of each item is recorded.
- ``eager``: op-by-op dispatch, each primitive compiled on first use at each
  new shape and dtype (https://docs.jax.dev/en/latest/jit-compilation.html#jit-compiling-a-function
  describes that model).  On two cores that costs about 0.4 s an item, five
  times the compiled mode, so it is opt-in: ``--gradspec-modes eager,compiled``.

64-bit types: out of the box ``jax_enable_x64`` is off and JAX truncates
64-bit inputs to 32 bits (https://docs.jax.dev/en/latest/default_dtypes.html#default-dtypes-and-the-x64-flag).
An item whose dtype is 64-bit runs inside ``jax.enable_x64(True)`` so that a
float64 item is float64; every other item, the default-dtype probes among
them, runs with the flag as users get it.  Each result records the flag it
ran under (``settings``).  JAX is imported lazily.
"""
from __future__ import annotations

import functools
import re
import threading
from contextlib import contextmanager
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np

from gradspec.adapter import FunctionalAdapter, probe_modes
from gradspec.outcomes import Answer, ErrorKind, Info, Raised, Unsupported
from gradspec.program import Program, RunContext

from .jax_ops import OPS

_TYPE_MISMATCH = re.compile(r"got (\w+)\[([^\]]*)\], but expected (\w+)\[([^\]]*)\]")


X64_DTYPES = frozenset({"float64", "complex128", "int64"})
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
CONTROL_FLOW_JIT = "https://docs.jax.dev/en/latest/control-flow.html#python-control-flow-jit"


class _CompileCounter:
    """Counts XLA backend compilations through jax.monitoring (one listener per process)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == COMPILE_EVENT:
            with self._lock:
                self.count += 1


@functools.cache
def _jax() -> Any:
    """The jax module, imported on first use, with a compilation counter attached."""
    import jax

    jax.monitoring.register_event_duration_secs_listener(_COMPILES)
    return jax


_COMPILES = _CompileCounter()


class JaxAdapter(FunctionalAdapter):
    """JAX's own function transforms applied to the case body as a pure function."""

    name: ClassVar[str] = "jax"
    distribution: ClassVar[str | None] = "jax"
    module: ClassVar[str | None] = "jax"
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = OPS
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "output_gradients", "higher_order", "jacobian", "hessian", "forward_mode",
        "vmap", "complex", "float16", "bfloat16", "custom_gradient", "checkpoint", "control_flow_ops",
        "python_control_flow",
    })
    modes: ClassVar[Mapping[str, str]] = {
        "compiled": "jax.jit of each whole differentiated function (one XLA computation per request)",
        "eager": "op-by-op dispatch: each primitive compiled on first use at each shape and dtype",
    }
    default_modes: ClassVar[tuple[str, ...]] = ("compiled",)
    mode_limits: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "compiled": {"python_control_flow": f"jax.jit cannot branch in Python on a traced value ({CONTROL_FLOW_JIT})"},
    }
    dtypes: ClassVar[tuple[str, ...]] = ("float16", "bfloat16", "float32", "float64", "complex64",
                                         "complex128", "int32", "int64", "bool")

    def devices(self) -> list[str]:
        jax = _jax()
        try:
            jax.devices("gpu")
        except RuntimeError:  # no GPU backend in this jaxlib or on this machine
            return ["cpu"]
        return ["cpu", "gpu"]

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        return {"jax_enable_x64": ctx.dtype in X64_DTYPES}

    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        with _jax().enable_x64(ctx.dtype in X64_DTYPES), self._counting(ctx):
            return super().execute(program, ctx)

    def raised(self, exc: BaseException) -> Raised:
        """Python control flow on a traced value is what jax.jit documents it cannot
        trace: the item is UNSUPPORTED in compiled mode, never a framework failure."""
        if self._ctx.mode == "compiled" and isinstance(exc, _jax().errors.ConcretizationTypeError):
            raise Unsupported(f"the body branches in Python on a traced value, which jax.jit cannot trace "
                              f"({CONTROL_FLOW_JIT}): {type(exc).__name__}") from exc
        return super().raised(exc)

    @contextmanager
    def _counting(self, ctx: RunContext) -> Iterator[None]:
        """Record the XLA compilations a compiled item caused."""
        before = _COMPILES.count
        try:
            yield
        finally:
            if ctx.mode == "compiled":
                ctx.stats["compilations"] = _COMPILES.count - before

    def _staged(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The function as this item's mode runs it: jitted whole in compiled mode."""
        return _jax().jit(fn) if self._ctx.mode == "compiled" else fn

    def output_dtype(self, f: Callable[[Any], Any], x: Any) -> Any:
        return _jax().eval_shape(f, x).dtype

    def asarray(self, array: np.ndarray, ctx: RunContext) -> Any:
        jax = _jax()
        return jax.device_put(np.asarray(array), jax.devices(ctx.device)[0])

    def to_numpy(self, native: Any) -> np.ndarray:
        return np.asarray(native)

    def grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        return self._staged(_jax().grad(f))(x)

    def grad_many(self, f: Callable[..., Any], xs: tuple[Any, ...]) -> list[Any]:
        return list(self._staged(_jax().grad(f, argnums=tuple(range(len(xs)))))(*xs))

    def vjp(self, f: Callable[[Any], Any], x: Any, cotangent: Any) -> Any:
        jax = _jax()
        return self._staged(lambda x, c: jax.vjp(f, x)[1](c)[0])(x, cotangent)

    def jvp(self, f: Callable[[Any], Any], x: Any, tangent: Any) -> Any:
        jax = _jax()
        return self._staged(lambda x, t: jax.jvp(f, (x,), (t,))[1])(x, tangent)

    def jacobian(self, f: Callable[[Any], Any], x: Any, mode: str) -> np.ndarray:
        jax = _jax()
        transform = jax.jacfwd if mode == "forward" else jax.jacrev
        return self.to_numpy(self._staged(transform(f))(x))

    def hessian(self, f: Callable[[Any], Any], x: Any) -> np.ndarray:
        return self.to_numpy(self._staged(_jax().hessian(f))(x))

    def vmap_grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        jax = _jax()
        return self._staged(jax.vmap(jax.grad(f)))(x)

    def classify(self, exc: BaseException) -> ErrorKind:
        message = str(exc)
        if isinstance(exc, ValueError) and message.startswith("Reverse-mode differentiation does not work"):
            return ErrorKind.NoGradientDefined  # lax.while_loop: reverse mode is not defined
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

    @probe_modes("eager", "compiled")
    def probe_integer_opt_in(self, ctx: RunContext, x: float, n: int) -> Answer:
        """jax.grad(allow_int=True) of x * n with respect to a float x and an int32 n:
        the float gradient, and the dtype of the integer input's gradient."""
        jax = _jax()
        xs, ns = jax.numpy.asarray(x, dtype=ctx.dtype), jax.numpy.asarray(n, dtype="int32")
        grad = jax.grad(lambda a, b: a * b, argnums=(0, 1), allow_int=True)
        gx, gn = (jax.jit(grad) if ctx.mode == "compiled" else grad)(xs, ns)
        float0 = gn.dtype == jax.dtypes.float0  # a structured NumPy dtype whose str() is not its name
        return {"x": self.outcome(gx), "n_dtype": Info("float0" if float0 else str(gn.dtype))}

    @probe_modes("eager", "compiled")
    def probe_default_dtype(self, ctx: RunContext, value: Any) -> Info:
        """The dtype jax.numpy gives a Python list, with the x64 flag as the item runs
        (off, as installed, for a 32-bit item); in compiled mode, inside a jitted function."""
        jnp = _jax().numpy
        if ctx.mode == "compiled":
            return Info(str(_jax().jit(lambda: jnp.asarray(value))().dtype))
        return Info(str(jnp.asarray(value).dtype))

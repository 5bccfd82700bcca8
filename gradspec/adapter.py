"""The adapter contract: the public API for validating an autodiff implementation.

An adapter is the only code that imports its framework, lazily.  The smallest
useful core is ``FunctionalAdapter`` with ``asarray``, ``to_numpy``, ``grad``
and an op mapping; everything beyond (vjp, jvp, jacobians, recordings, probes)
is optional and gated by declared capabilities.  Tape frameworks subclass
``Adapter`` and implement ``execute`` directly on their tape.

API_VERSION is bumped whenever this contract changes incompatibly.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np

from .case import RECORDING_CAPABILITIES
from .outcomes import Absent, Answer, ErrorKind, Outcome, Raised, Sparse, Unsupported, Value
from .program import OpsView, Program, RunContext, outputs, resolve_target
from .requests import (BatchedGrad, Derivatives, Grad, Hessian, Hvp, Jacobian, Jvp, Probe, Request,
                       Vjp, WatchedVariables)

API_VERSION = 1


class Adapter(ABC):
    """One implementation under test.

    Class attributes to declare:
      name          short id used in node ids and reports ("torch")
      distribution  the installed distribution whose version is reported
      module        the import name whose absence makes every item SKIP
      capabilities  what the adapter supports beyond the core (gradspec.case.CAPABILITIES)
      dtypes        the dtypes it runs
    """

    api_version: ClassVar[int] = API_VERSION
    name: ClassVar[str]
    distribution: ClassVar[str | None] = None
    module: ClassVar[str | None] = None
    capabilities: ClassVar[frozenset[str]] = frozenset()
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")
    reference: ClassVar[bool] = False  # True only for the oracle: its oracle-derived cells are REFERENCE
    # Capabilities that do not exist in this adapter's model; cases needing one
    # are UNSUPPORTED without being tried for a stale denial.
    not_applicable: ClassVar[frozenset[str]] = frozenset()

    # -- environment -------------------------------------------------------
    @classmethod
    def unavailable(cls) -> str | None:
        """Why this adapter cannot run here (framework not installed), or None."""
        if cls.module and importlib.util.find_spec(cls.module) is None:
            return f"{cls.module} is not installed"
        return None

    @classmethod
    def distribution_version(cls) -> str:
        """The installed distribution's version, read without importing the framework."""
        if not cls.distribution:
            return "unknown"
        try:
            return importlib.metadata.version(cls.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def version(self) -> str:
        """The version reported for results; override when there is no distribution."""
        return self.distribution_version()

    def devices(self) -> list[str]:
        """Devices this adapter can run on here; "cpu" first."""
        return ["cpu"]

    @classmethod
    def expectations_path(cls) -> Path:
        """The expectation file beside the adapter's module: ``<module>.expect.toml``."""
        return Path(inspect.getfile(cls)).with_suffix(".expect.toml")

    # -- execution ---------------------------------------------------------
    @abstractmethod
    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        """Run the program and answer each request in order.  A request that
        raises answers ``Raised``; raise ``Unsupported`` for a capability or op
        the adapter lacks."""

    def classify(self, exc: BaseException) -> ErrorKind:
        """Map a native exception to the canonical taxonomy."""
        return ErrorKind.Unclassified

    def raised(self, exc: BaseException) -> Raised:
        return Raised(self.classify(exc), type(exc).__module__ + "." + type(exc).__qualname__,
                      str(exc).strip()[:2000])

    def probe(self, request: Probe, ctx: RunContext) -> Answer:
        """Answer an API probe through ``probe_<name>``; missing ones are UNSUPPORTED."""
        method = getattr(self, f"probe_{request.name}", None)
        if method is None:
            raise Unsupported(f"probe '{request.name}' is not implemented by adapter '{self.name}'")
        try:
            return method(ctx, **request.args)
        except Unsupported:
            raise
        except Exception as exc:  # the framework's own error is the observed outcome
            return self.raised(exc)


class FunctionalAdapter(Adapter):
    """Base for function-transform frameworks (JAX, autograd, the oracle).

    Required: ``ops``, ``asarray``, ``to_numpy``, ``grad``.  Optional, each
    behind a capability: ``vjp`` (output_gradients, jacobian), ``jvp``
    (forward_mode), ``vmap_grad`` (vmap).  Recording semantics (watching,
    persistence) do not exist here: every input is an argument.
    """

    ops: ClassVar[Mapping[str, Callable[..., Any]]] = {}
    not_applicable: ClassVar[frozenset[str]] = RECORDING_CAPABILITIES

    @abstractmethod
    def asarray(self, array: np.ndarray, ctx: RunContext) -> Any:
        """NumPy -> native array on ctx.device."""

    @abstractmethod
    def to_numpy(self, native: Any) -> np.ndarray:
        """Native array -> NumPy, dtype kept."""

    @abstractmethod
    def grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        """Gradient of the scalar function f at x (the framework's own grad)."""

    def vjp(self, f: Callable[[Any], Any], x: Any, cotangent: Any) -> Any:
        raise Unsupported(f"adapter '{self.name}' has no vjp")

    def jvp(self, f: Callable[[Any], Any], x: Any, tangent: Any) -> Any:
        raise Unsupported(f"adapter '{self.name}' has no forward mode")

    def vmap_grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        raise Unsupported(f"adapter '{self.name}' has no vmap")

    def sum(self, x: Any) -> Any:
        return self.ops["sum"](x)

    def jacobian(self, f: Callable[[Any], Any], x: Any, mode: str) -> np.ndarray:
        """Row by row with vjp (reverse) or column by column with jvp (forward)."""
        y = self.to_numpy(f(x))
        xs = self.to_numpy(x)
        if mode == "forward":
            cols = [self.to_numpy(self.jvp(f, x, self._basis(xs, i))) for i in range(xs.size)]
            return np.stack(cols, axis=-1).reshape(y.shape + xs.shape) if cols else np.zeros(y.shape + xs.shape)
        rows = [self.to_numpy(self.vjp(f, x, self._basis(y, i))) for i in range(y.size)]
        return np.stack(rows).reshape(y.shape + xs.shape) if rows else np.zeros(y.shape + xs.shape)

    def hessian(self, f: Callable[[Any], Any], x: Any) -> np.ndarray:
        return self.jacobian(lambda v: self.grad(f, v), x, "reverse")

    def _basis(self, like: np.ndarray, i: int) -> Any:
        e = np.zeros(like.size, dtype=like.dtype)
        e[i] = 1
        return self.asarray(e.reshape(like.shape), self._ctx)

    # -- the generic executor ------------------------------------------------
    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        self._ctx = ctx
        natives = {n: self.asarray(a, ctx) for n, a in program.arrays.items()}
        for n, inp in program.inputs.items():
            if inp.prelude is not None:
                natives[n] = inp.prelude(OpsView(self.name, self.ops), natives[n])
        view = OpsView(self.name, self.ops)
        named = outputs(program.body(view, **natives), view.marks) if program.body else {}
        answers: list[Answer] = []
        for request in program.requests:
            try:
                answers.append(self._answer(program, request, natives, named, ctx))
            except Unsupported:
                raise
            except Exception as exc:
                answers.append(self.raised(exc))
        return answers

    def _answer(self, program: Program, r: Request, natives: Mapping[str, Any],
                named: Mapping[str, Any], ctx: RunContext) -> Answer:
        if isinstance(r, Probe):
            return self.probe(r, ctx)
        if isinstance(r, WatchedVariables):
            raise Unsupported(f"adapter '{self.name}' has no recording to list watched variables")
        if isinstance(r, Grad):
            def one(source: str) -> Answer:
                f, x = function_of(program, self.name, self.ops, natives, source, r.target)
                if r.output_grad is not None:
                    return self.outcome(self.vjp(f, x, self.asarray(np.asarray(r.output_grad, dtype=self.to_numpy(f(x)).dtype), ctx)))
                return self.outcome(self.grad(f, x))
            return _structured(r.wrt, one)
        f, x = function_of(program, self.name, self.ops, natives, r.wrt, r.target)
        if isinstance(r, Derivatives):
            results, g = [], f
            for k in range(r.order):
                g = self._derivative(g, of_sum=k > 0)
                results.append(self.outcome(g(x)))
            return results
        if isinstance(r, Jacobian):
            return Value(self.jacobian(f, x, r.mode))
        if isinstance(r, Hessian):
            return Value(self.hessian(f, x))
        if isinstance(r, Jvp):
            return self.outcome(self.jvp(f, x, self._cast_like(r.tangent, x)))
        if isinstance(r, Vjp):
            return self.outcome(self.vjp(f, x, self._cast_like(r.cotangent, f(x))))
        if isinstance(r, Hvp):
            return self.outcome(self.jvp(lambda v: self.grad(f, v), x, self._cast_like(r.tangent, x)))
        if isinstance(r, BatchedGrad):
            return self.outcome(self.vmap_grad(f, x))
        raise Unsupported(f"request {type(r).__name__} is not supported by adapter '{self.name}'")

    def _derivative(self, g: Callable[[Any], Any], of_sum: bool) -> Callable[[Any], Any]:
        """The next order: the gradient of g, or of sum(g) once g is itself a gradient."""
        if of_sum:
            return lambda v: self.grad(lambda u: self.sum(g(u)), v)
        return lambda v: self.grad(g, v)

    def _cast_like(self, value: Any, like: Any) -> Any:
        return self.asarray(np.asarray(value, dtype=self.to_numpy(like).dtype), self._ctx)

    def outcome(self, native: Any) -> Outcome:
        """Native gradient -> typed outcome.  Override for sparse or symbolic zeros."""
        if native is None:
            return Absent()
        return Value(self.to_numpy(native))


class LazyOps(Mapping[str, Callable[..., Any]]):
    """A read-only op table built by ``build`` the first time it is read, so
    that importing an adapter module does not import its framework."""

    def __init__(self, build: Callable[[], dict[str, Callable[..., Any]]]) -> None:
        self._build = build
        self._ops: dict[str, Callable[..., Any]] | None = None

    def _get(self) -> dict[str, Callable[..., Any]]:
        if self._ops is None:
            self._ops = self._build()
        return self._ops

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return self._get()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def function_of(program: Program, adapter_name: str, ops: Mapping[str, Callable[..., Any]],
                natives: Mapping[str, Any], source: str, target: str) -> tuple[Callable[[Any], Any], Any]:
    """The target as a pure function of one source (an input or a marked
    intermediate), with the point to evaluate it at.  Functional transforms
    (grad, jvp, vmap) are applied to this function."""
    is_input = source in natives

    def f(v: Any) -> Any:
        view = OpsView(adapter_name, ops, overrides={} if is_input else {source: v})
        args = dict(natives)
        if is_input:
            args[source] = v
        return resolve_target(outputs(program.body(view, **args), view.marks), target, program.case_id)

    if is_input:
        return f, natives[source]
    view = OpsView(adapter_name, ops)
    named = outputs(program.body(view, **natives), view.marks)
    return f, resolve_target(named, source, program.case_id)


def _structured(wrt: Any, one: Callable[[str], Answer]) -> Answer:
    """Answer per source, mirroring the request's structure (name, list, dict)."""
    if isinstance(wrt, str):
        return one(wrt)
    if isinstance(wrt, Mapping):
        return {k: one(v) for k, v in wrt.items()}
    return [one(s) for s in wrt]


def structured(wrt: Any, one: Callable[[str], Answer]) -> Answer:
    """Public helper for tape adapters: build an answer in the request's shape."""
    return _structured(wrt, one)


__all__ = ["API_VERSION", "Adapter", "FunctionalAdapter", "LazyOps", "Sparse", "function_of", "structured"]

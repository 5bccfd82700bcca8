"""The adapter contract: the public API for validating an autodiff implementation.

An adapter is the only code that imports its framework, lazily.  The smallest
useful core is ``FunctionalAdapter`` with ``asarray``, ``to_numpy``, ``grad``
and an op mapping; everything beyond (vjp, jvp, jacobians, recordings, probes)
is optional and gated by declared capabilities.  Tape frameworks subclass
``Adapter`` and implement ``execute`` directly on their tape.

An adapter runs in one or more execution modes (``gradspec.modes``): eager
by default; a compiled mode runs the differentiated computation through the
framework's compiler and reads ``ctx.mode``.

API_VERSION is bumped whenever this contract changes.  Version 2 added the
modes; a version-1 adapter still loads and runs eagerly.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import traceback
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np

from .case import RECORDING_CAPABILITIES
from .outcomes import Absent, Answer, ErrorKind, Outcome, Raised, Sparse, Unsupported, Value
from .modes import EAGER
from .program import OpsView, Program, RunContext, outputs, resolve_target
from .requests import (BatchedGrad, Derivatives, Grad, Hessian, Hvp, Jacobian, Jvp, Probe, Request,
                       Vjp, WatchedVariables, source_names)

API_VERSION = 2
SUPPORTED_API_VERSIONS = (1, 2)
TRACEBACK_CHARS = 4000  # the end of a framework's traceback kept with a Raised outcome


class Adapter(ABC):
    """One implementation under test.

    Class attributes to declare:
      name          short id used in node ids and reports ("torch")
      distribution  the installed distribution whose version is reported
      module        the import name whose absence makes every item SKIP
      capabilities  what the adapter supports beyond the core (gradspec.case.CAPABILITIES)
      dtypes        the dtypes it runs
      modes         execution mode -> what it runs (gradspec.modes); ``eager`` unless declared
      default_modes the modes a run without --gradspec-modes uses
      mode_limits   mode -> {capability: why that mode lacks it, with a documentation link}
      environment   the environment variables it reads (named in reproduction commands)
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
    modes: ClassVar[Mapping[str, str]] = {EAGER: "each operation runs as it is called"}
    default_modes: ClassVar[tuple[str, ...]] = (EAGER,)
    mode_limits: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    # Environment variables the adapter reads: a reproduction command carries their values.
    environment: ClassVar[tuple[str, ...]] = ()

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

    def mode_unavailable(self, mode: str) -> str | None:
        """Why ``mode`` cannot run on this machine (a compiler toolchain is missing), or None."""
        return None

    @classmethod
    def capabilities_in(cls, mode: str) -> frozenset[str]:
        """The declared capabilities less those the mode documents it lacks."""
        return cls.capabilities - frozenset(cls.mode_limits.get(mode, {}))

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        """Framework settings this item runs under that change what users see
        (a global flag the adapter sets); recorded with the result."""
        return {}

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
        """The outcome of a request that raised: canonical kind, native type and message,
        and the end of the traceback (where in the framework it raised)."""
        trace = "".join(traceback.format_exception(exc))
        return Raised(self.classify(exc), type(exc).__module__ + "." + type(exc).__qualname__,
                      str(exc).strip()[:2000], trace[-TRACEBACK_CHARS:])

    def probe(self, request: Probe, ctx: RunContext) -> Answer:
        """Answer an API probe through ``probe_<name>``; missing ones are UNSUPPORTED."""
        method = getattr(self, f"probe_{request.name}", None)
        if method is None:
            raise Unsupported(f"probe '{request.name}' is not implemented by adapter '{self.name}'")
        if ctx.mode not in getattr(method, "modes", (EAGER,)):
            raise Unsupported(f"probe '{request.name}' of adapter '{self.name}' has no {ctx.mode} form "
                              f"(it runs in {list(getattr(method, 'modes', (EAGER,)))})")
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

    def grad_many(self, f: Callable[..., Any], xs: tuple[Any, ...]) -> list[Any]:
        """Gradients of the scalar f(*xs) with respect to each argument.  One ``grad``
        per argument by default; a framework whose users ask for all at once
        (``jax.grad(f, argnums=...)``) overrides it."""
        def partial(i: int) -> Callable[[Any], Any]:
            return lambda v: f(*xs[:i], v, *xs[i + 1:])
        return [self.grad(partial(i), x) for i, x in enumerate(xs)]

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
        answers: list[Answer] = []
        for request in program.requests:  # each transform evaluates the body itself
            try:
                answers.append(self._answer(program, request, natives, ctx))
            except Unsupported:
                raise
            except Exception as exc:
                answers.append(self.raised(exc))
        return answers

    def _answer(self, program: Program, r: Request, natives: Mapping[str, Any], ctx: RunContext) -> Answer:
        if isinstance(r, Probe):
            return self.probe(r, ctx)
        if isinstance(r, WatchedVariables):
            raise Unsupported(f"adapter '{self.name}' has no recording to list watched variables")
        if isinstance(r, Grad):
            if r.unconnected != "default" and f"unconnected_{r.unconnected}" not in self.capabilities:
                # a function transform's unconnected sources are what its grad gives; it has no option to ask
                raise Unsupported(f"adapter '{self.name}' has no option that asks for {r.unconnected} "
                                  f"for unconnected sources")
            names = source_names(r.wrt)
            if r.output_grad is None and len(names) > 1 and len(set(names)) == len(names):
                f, xs = function_of_sources(program, self.name, self.ops, natives, tuple(names), r.target)
                grads = iter(self.grad_many(f, xs))
                return _structured(r.wrt, lambda _: self.outcome(next(grads)))

            def one(source: str) -> Answer:
                f, x = function_of(program, self.name, self.ops, natives, source, r.target)
                if r.output_grad is not None:
                    seed = np.asarray(r.output_grad, dtype=self.output_dtype(f, x))
                    return self.outcome(self.vjp(f, x, self.asarray(seed, ctx)))
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
            cotangent = np.asarray(r.cotangent, dtype=self.output_dtype(f, x))
            return self.outcome(self.vjp(f, x, self.asarray(cotangent, ctx)))
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

    def output_dtype(self, f: Callable[[Any], Any], x: Any) -> Any:
        """The dtype of f(x), for seeds and cotangents.  Evaluates f by default; a
        tracing framework asks its shape inference instead of running f."""
        return self.to_numpy(f(x)).dtype

    def outcome(self, native: Any) -> Outcome:
        """Native gradient -> typed outcome.  Override for sparse or symbolic zeros."""
        if native is None:
            return Absent()
        return Value(self.to_numpy(native))


def probe_modes(*modes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a ``probe_<name>`` method as answering in these modes (eager only
    unless marked); it reads ``ctx.mode`` to run each mode's form."""
    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        method.modes = modes  # type: ignore[attr-defined]
        return method
    return mark


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
    f, (x,) = function_of_sources(program, adapter_name, ops, natives, (source,), target)
    return f, x


def function_of_sources(program: Program, adapter_name: str, ops: Mapping[str, Callable[..., Any]],
                        natives: Mapping[str, Any], sources: tuple[str, ...],
                        target: str) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The target as a pure function of several distinct sources, f(*values), with
    the point: what ``jax.grad(f, argnums=(0, 1))`` differentiates in one pass."""
    inputs = [s for s in sources if s in natives]
    marked = [s for s in sources if s not in natives]

    def f(*values: Any) -> Any:
        given = dict(zip(sources, values))
        view = OpsView(adapter_name, ops, overrides={s: given[s] for s in marked})
        args = dict(natives)
        args.update({s: given[s] for s in inputs})
        return resolve_target(outputs(program.body(view, **args), view.marks), target, program.case_id)

    if not marked:
        return f, tuple(natives[s] for s in sources)
    view = OpsView(adapter_name, ops)
    named = outputs(program.body(view, **natives), view.marks)
    return f, tuple(natives[s] if s in natives else resolve_target(named, s, program.case_id) for s in sources)


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


__all__ = ["API_VERSION", "SUPPORTED_API_VERSIONS", "Adapter", "FunctionalAdapter", "LazyOps", "Sparse",
           "function_of", "function_of_sources", "probe_modes", "structured"]

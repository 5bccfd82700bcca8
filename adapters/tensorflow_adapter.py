"""TensorFlow adapter: gradspec programs on tf.GradientTape, eagerly or in one graph.

One tape records the body; plain ``Grad`` requests are answered on it, so a
non-persistent tape refuses the second one exactly as TensorFlow does.
Requests that need their own recording (higher order, Jacobians, forward
mode, vmap) re-run the body under fresh tapes or forward accumulators.

Two execution modes:

- ``eager`` (the default): every operation runs as it is called.
- ``compiled``: the recording and every gradient request of the item are
  traced into one ``tf.function`` and run as one graph
  (https://www.tensorflow.org/guide/function#autograph_transformations).  The
  case body is converted by AutoGraph, as ``tf.function`` converts the
  functions it calls, so a Python ``if`` on a tensor becomes ``tf.cond``
  (https://www.tensorflow.org/api_docs/python/tf/cond).  Where AutoGraph cannot
  express the body (a tensor used as a Python bool it could not convert) the
  item is UNSUPPORTED, never run eagerly instead.  The variables are created
  outside the function and reach it through its closure, which the API
  documents (https://www.tensorflow.org/api_docs/python/tf/function).
  Probes are eager-only unless marked (the default dtype is also asked inside
  the graph).  The number of traces of each item is recorded.

TensorFlow is imported lazily, inside methods only.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np

from gradspec.adapter import Adapter, function_of, probe_modes
from gradspec.modes import COMPILED, EAGER
from gradspec.outcomes import Absent, Answer, ErrorKind, Info, Outcome, Raised, Sparse, Unsupported, Value
from gradspec.program import OpsView, Program, RunContext, outputs, resolve_target
from gradspec.requests import (BatchedGrad, Derivatives, Grad, Hessian, Hvp, Jacobian, Jvp, Probe, Request,
                               Vjp, WatchedVariables)

from .tensorflow_graph import GRAPH_GUIDE, Pending, Staged, holds_pending, resolve

_DEVICES = {"cpu": "/CPU:0", "gpu": "/GPU:0"}
_TAPE_EXHAUSTED = "non-persistent GradientTape can only be used to compute one set"
_NO_GRADIENT = ("No gradient defined for operation", "gradient registry has no entry for")
_SHAPE_WORDS = ("shape", "Incompatible shapes", "dimension", "rank")
_DTYPE_WORDS = ("dtype", "expected to be a", "type float", "type double", "type half")


def _distribution() -> str:
    """The installed TensorFlow distribution (read from metadata, nothing imported)."""
    for dist in ("tensorflow-cpu", "tensorflow"):
        try:
            importlib.metadata.version(dist)
            return dist
        except importlib.metadata.PackageNotFoundError:
            continue
    return "tensorflow"


def _tf() -> Any:
    """Import TensorFlow quietly, on first use only."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


@dataclass(frozen=True)
class _Recording:
    """The natives of one program execution: the body's arguments, the
    variables behind them, and the names the tapes must watch explicitly."""

    natives: dict[str, Any]
    variables: dict[str, Any]
    watched: list[str]


class TensorFlowAdapter(Adapter):
    """TensorFlow 2: tf.Variable, tf.GradientTape, ForwardAccumulator, eagerly or inside tf.function."""

    name: ClassVar[str] = "tensorflow"
    distribution: ClassVar[str | None] = _distribution()
    module: ClassVar[str | None] = "tensorflow"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "recording", "single_use_recording", "persistent_recording", "watch_control", "watched_variables",
        "variables", "trainable_flag", "output_gradients", "unconnected_zero", "unconnected_absent", "higher_order", "jacobian",
        "hessian", "forward_mode", "vmap", "sparse_gradients", "complex", "float16", "bfloat16", "layers",
        "no_gradient_ops", "custom_gradient", "checkpoint", "control_flow_ops", "training", "python_control_flow",
    })
    dtypes: ClassVar[tuple[str, ...]] = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
                                         "int32", "int64", "bool")
    modes: ClassVar[Mapping[str, str]] = {
        EAGER: "each operation runs as it is called",
        COMPILED: "the recording and all requests of an item traced into one tf.function (AutoGraph on the body)",
    }
    default_modes: ClassVar[tuple[str, ...]] = (EAGER, COMPILED)

    def __init__(self) -> None:
        self._ops: dict[str, Callable[..., Any]] | None = None
        self._staged: Staged | None = None  # set while a compiled item traces

    # -- environment -------------------------------------------------------
    def devices(self) -> list[str]:
        return ["cpu"] + (["gpu"] if _tf().config.list_physical_devices("GPU") else [])

    @property
    def ops(self) -> Mapping[str, Callable[..., Any]]:
        """The op vocabulary, built on first use (it imports TensorFlow)."""
        if self._ops is None:
            from adapters.tensorflow_ops import build_ops

            self._ops = build_ops()
        return self._ops

    # -- execution ---------------------------------------------------------
    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        tf = _tf()
        with tf.device(_DEVICES[ctx.device]):
            rec = self._inputs(tf, program)
            if ctx.mode == COMPILED:
                return self._in_graph(tf, program, rec, ctx)
            return self._answers(tf, program, rec, ctx)

    def _answers(self, tf: Any, program: Program, rec: _Recording, ctx: RunContext) -> list[Answer]:
        """Record the body on the main tape and answer each request."""
        tape = named = None
        if program.body is not None:
            with self._recording(tf, program, rec) as tape:
                named = self._evaluate(program, rec.natives)
        answers: list[Answer] = []
        for request in program.requests:
            try:
                answers.append(self._answer(tf, program, rec, tape, named, request, ctx))
            except Unsupported:
                raise
            except Exception as exc:  # the framework's own error is the observed outcome
                answers.append(self.raised(exc))
        return answers

    def _in_graph(self, tf: Any, program: Program, rec: _Recording, ctx: RunContext) -> list[Answer]:
        """Trace the whole item into one tf.function, run it once, and put the
        computed values into the answers.  Errors raised while tracing are the
        requests' outcomes, as in eager mode; an error while the graph runs is
        the outcome of every answer that waited for it."""
        if program.body is not None:
            program = dataclasses.replace(program, body=tf.autograph.to_graph(program.body))
        staged, answers = Staged(), []

        def trace() -> list[Any]:  # tf.function may trace more than once (it does when variables are created)
            staged.tensors.clear()
            answers.clear()
            self._staged = staged
            try:
                answers.extend(self._answers(tf, program, rec, ctx))
            finally:
                self._staged = None
            return staged.tensors

        graph = tf.function(trace, autograph=False)  # AutoGraph converts the body above, not this harness
        try:
            values = graph()
        except Unsupported:
            raise
        except Exception as exc:
            if answers:  # the graph was built: it failed as it ran
                failure = self.raised(exc)
                return [failure if holds_pending(a) else a for a in answers]
            raise self._unsupported_in_graph(exc) or exc
        finally:
            ctx.stats["traces"] = graph.experimental_get_tracing_count()
        return [resolve(a, lambda p: self._eager_outcome(values[p.index])) for a in answers]

    @staticmethod
    def _unsupported_in_graph(exc: BaseException) -> Unsupported | None:
        """A tensor used as a Python bool that AutoGraph could not convert is what
        the tf.function guide documents a graph cannot express."""
        tf = _tf()
        if isinstance(exc, tf.errors.OperatorNotAllowedInGraphError):
            return Unsupported(f"the body uses a tensor as a Python value, which AutoGraph could not convert "
                               f"into graph control flow ({GRAPH_GUIDE}): {str(exc).splitlines()[0][:200]}")
        return None

    def raised(self, exc: BaseException) -> Raised:
        """While a graph traces, control flow it cannot express is UNSUPPORTED."""
        unsupported = self._unsupported_in_graph(exc) if self._staged is not None else None
        if unsupported is not None:
            raise unsupported from exc
        return super().raised(exc)

    def _inputs(self, tf: Any, program: Program) -> _Recording:
        """Natives by role; 'outside' preludes run here, before any tape opens."""
        natives: dict[str, Any] = {}
        variables: dict[str, Any] = {}
        watched: list[str] = []
        for name, inp in program.inputs.items():
            arr = program.arrays[name]
            if inp.role in ("variable", "frozen", "outside"):
                variables[name] = tf.Variable(arr, trainable=inp.role != "frozen", name=name)
                natives[name] = variables[name]
                if inp.role == "outside" and inp.prelude is not None:
                    natives[name] = inp.prelude(OpsView(self.name, self.ops), variables[name])
            else:
                natives[name] = tf.constant(arr)
                if inp.role == "watched":
                    watched.append(name)
        return _Recording(natives, variables, watched)

    @contextmanager
    def _recording(self, tf: Any, program: Program, rec: _Recording,
                   persistent: bool | None = None) -> Iterator[Any]:
        """An open tape with the program's settings that watches the 'watched' inputs."""
        with tf.GradientTape(persistent=program.persistent if persistent is None else persistent,
                             watch_accessed_variables=program.watch_accessed) as tape:
            for name in rec.watched:
                tape.watch(rec.natives[name])
            yield tape

    def _evaluate(self, program: Program, natives: Mapping[str, Any]) -> dict[str, Any]:
        view = OpsView(self.name, self.ops)
        return outputs(program.body(view, **natives), view.marks)  # type: ignore[misc]

    @staticmethod
    def _source(rec: _Recording, named: Mapping[str, Any], name: str, case_id: str) -> Any:
        return rec.natives[name] if name in rec.natives else resolve_target(named, name, case_id)

    def _answer(self, tf: Any, program: Program, rec: _Recording, tape: Any, named: Any,
                r: Request, ctx: RunContext) -> Answer:
        if isinstance(r, Probe):
            return self.probe(r, ctx)
        if isinstance(r, Grad):
            return self._grad(tf, program, rec, tape, named, r)
        if isinstance(r, WatchedVariables):
            seen = {v.ref() for v in tape.watched_variables()}
            return Info(sorted(n for n, v in rec.variables.items() if v.ref() in seen))
        if isinstance(r, Derivatives):
            return self._derivatives(tf, program, rec, r)
        if isinstance(r, Jacobian):
            if r.mode == "forward":
                return self._forward_jacobian(tf, program, rec, r)
            return self._on_fresh_tape(tf, program, rec, r.wrt, r.target,
                                       lambda t, y, x: t.jacobian(y, x))
        if isinstance(r, Hessian):
            return self._hessian(tf, program, rec, r)
        if isinstance(r, Vjp):
            return self._on_fresh_tape(tf, program, rec, r.wrt, r.target,
                                       lambda t, y, x: t.gradient(y, x, output_gradients=_like(tf, r.cotangent, y)))
        if isinstance(r, Jvp):
            f, x = function_of(program, self.name, self.ops, rec.natives, r.wrt, r.target)
            with tf.autodiff.ForwardAccumulator(x, _like(tf, r.tangent, x)) as acc:
                y = f(x)
            return self.outcome(acc.jvp(y))
        if isinstance(r, Hvp):
            return self._hvp(tf, program, rec, r)
        if isinstance(r, BatchedGrad):
            return self._batched_grad(tf, program, rec, r)
        raise Unsupported(f"request {type(r).__name__} is not supported by adapter '{self.name}'")

    def _grad(self, tf: Any, program: Program, rec: _Recording, tape: Any, named: Any, r: Grad) -> Answer:
        """tape.gradient on the main tape, with the sources in TF's own structure."""
        def src(name: str) -> Any:
            return self._source(rec, named, name, program.case_id)

        sources: Any
        if isinstance(r.wrt, str):
            sources = src(r.wrt)
        elif isinstance(r.wrt, Mapping):
            sources = {k: src(v) for k, v in r.wrt.items()}
        else:
            sources = [src(s) for s in r.wrt]
        target = resolve_target(named, r.target, program.case_id)
        seed = None if r.output_grad is None else _like(tf, r.output_grad, target)
        unconnected = tf.UnconnectedGradients.ZERO if r.unconnected == "zero" else tf.UnconnectedGradients.NONE
        grads = tape.gradient(target, sources, output_gradients=seed, unconnected_gradients=unconnected)
        if isinstance(r.wrt, str):
            return self.outcome(grads)
        if isinstance(r.wrt, Mapping):
            return {k: self.outcome(grads[k]) for k in r.wrt}
        return [self.outcome(g) for g in grads]

    def _on_fresh_tape(self, tf: Any, program: Program, rec: _Recording, wrt: str, target: str,
                       use: Callable[[Any, Any, Any], Any]) -> Outcome:
        """Re-run the body under a new single-use tape and ask it one thing."""
        with self._recording(tf, program, rec, persistent=False) as tape:
            named = self._evaluate(program, rec.natives)
        y = resolve_target(named, target, program.case_id)
        return self.outcome(use(tape, y, self._source(rec, named, wrt, program.case_id)))

    def _derivatives(self, tf: Any, program: Program, rec: _Recording, r: Derivatives) -> list[Outcome]:
        """``order`` nested tapes opened before the body runs; order k is the
        gradient of the sum of order k-1.  Once an order is None (nothing left
        connected to the source) there is nothing to differentiate: the higher
        orders are absent too."""
        def level(k: int) -> tuple[dict[str, Any], list[Any]]:
            if k == 0:
                return self._evaluate(program, rec.natives), []
            with self._recording(tf, program, rec, persistent=False) as tape:
                named, grads = level(k - 1)
                if k > 1 and grads[-1] is None:
                    return named, grads + [None]
                of = resolve_target(named, r.target, program.case_id) if k == 1 else tf.reduce_sum(grads[-1])
            return named, grads + [tape.gradient(of, self._source(rec, named, r.wrt, program.case_id))]

        return [self.outcome(g) for g in level(r.order)[1]]

    def _forward_jacobian(self, tf: Any, program: Program, rec: _Recording, r: Jacobian) -> Outcome:
        """Column by column with tf.autodiff.ForwardAccumulator."""
        f, x = function_of(program, self.name, self.ops, rec.natives, r.wrt, r.target)
        shape = tuple(x.shape)
        size = int(np.prod(shape, dtype=np.int64))
        cols, y = [], None
        for i in range(size):
            basis = np.zeros(size, dtype=x.dtype.as_numpy_dtype)
            basis[i] = 1
            with tf.autodiff.ForwardAccumulator(x, tf.constant(basis.reshape(shape))) as acc:
                y = f(x)
            col = acc.jvp(y)
            if col is None:
                return Absent()
            cols.append(col)
        if y is None:
            y = f(x)
        out_shape = tuple(y.shape) + shape
        if not cols:
            return Value(np.zeros(out_shape, dtype=y.dtype.as_numpy_dtype))
        return self.outcome(tf.reshape(tf.stack(cols, axis=-1), out_shape))

    def _hessian(self, tf: Any, program: Program, rec: _Recording, r: Hessian) -> Outcome:
        """Nested tapes: the outer tape's jacobian of the inner tape's gradient."""
        with self._recording(tf, program, rec, persistent=False) as outer:
            with self._recording(tf, program, rec, persistent=False) as inner:
                named = self._evaluate(program, rec.natives)
            x = self._source(rec, named, r.wrt, program.case_id)
            g = inner.gradient(resolve_target(named, r.target, program.case_id), x)
        if g is None:
            return Absent()
        return self.outcome(outer.jacobian(g, x))

    def _hvp(self, tf: Any, program: Program, rec: _Recording, r: Hvp) -> Outcome:
        """Forward-over-reverse: a ForwardAccumulator around a tape."""
        f, x = function_of(program, self.name, self.ops, rec.natives, r.wrt, r.target)
        with tf.autodiff.ForwardAccumulator(x, _like(tf, r.tangent, x)) as acc:
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                y = f(x)
            g = tape.gradient(y, x)
        if g is None:
            return Absent()
        return self.outcome(acc.jvp(g))

    def _batched_grad(self, tf: Any, program: Program, rec: _Recording, r: BatchedGrad) -> Outcome:
        """tf.vectorized_map of a per-example tape gradient over axis 0."""
        f, x = function_of(program, self.name, self.ops, rec.natives, r.wrt, r.target)

        def per_example(xi: Any) -> Any:
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(xi)
                y = f(xi)
            return tape.gradient(y, xi)

        return self.outcome(tf.vectorized_map(per_example, tf.convert_to_tensor(x)))

    # -- outcomes and errors ------------------------------------------------
    def outcome(self, native: Any) -> Outcome | Pending:
        """None -> Absent, IndexedSlices -> Sparse (kept sparse), else a Value;
        while a graph traces, a placeholder for the value it will compute."""
        if native is None:
            return Absent()
        if self._staged is not None:
            return self._staged.hold(native)
        return self._eager_outcome(native)

    def _eager_outcome(self, native: Any) -> Outcome:
        tf = _tf()
        if isinstance(native, tf.IndexedSlices):
            shape = native.dense_shape
            if shape is None:
                raise ValueError("IndexedSlices without a dense_shape")
            return Sparse(native.indices.numpy(), native.values.numpy(), tuple(int(d) for d in shape.numpy()))
        return Value(np.asarray(native.numpy()))

    def classify(self, exc: BaseException) -> ErrorKind:
        message = str(exc)
        if isinstance(exc, RuntimeError) and _TAPE_EXHAUSTED in message:
            return ErrorKind.TapeExhausted
        if isinstance(exc, LookupError) and any(m in message for m in _NO_GRADIENT):
            return ErrorKind.NoGradientDefined
        tf = _tf()
        if isinstance(exc, (tf.errors.InvalidArgumentError, ValueError, TypeError)):
            if any(w in message for w in _DTYPE_WORDS):
                return ErrorKind.DTypeMismatch
            if any(w in message for w in _SHAPE_WORDS):
                return ErrorKind.ShapeMismatch
        return ErrorKind.Unclassified

    # -- probes -------------------------------------------------------------
    def probe_dense_layer(self, ctx: RunContext, units: int, activation: str, x: Any,
                          x_dtype: str) -> Answer:
        """A Keras Dense layer in the item dtype on inputs of ``x_dtype``: its
        own initial weights (seeded from ctx.seed, so runs repeat) and their
        gradients of mean(layer(x)**2)."""
        tf = _tf()
        import keras

        keras.utils.set_random_seed(ctx.seed)
        with tf.device(_DEVICES[ctx.device]):
            layer = keras.layers.Dense(units, activation=activation, dtype=ctx.dtype)
            inputs = tf.constant(np.asarray(x, dtype=_np_dtype(tf, x_dtype)))
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(layer(inputs)))
            grad_kernel, grad_bias = tape.gradient(loss, [layer.kernel, layer.bias])
            return {"kernel": self.outcome(tf.convert_to_tensor(layer.kernel)),
                    "bias": self.outcome(tf.convert_to_tensor(layer.bias)),
                    "grad_kernel": self.outcome(grad_kernel), "grad_bias": self.outcome(grad_bias)}

    def probe_variable_from_list(self, ctx: RunContext, values: Any, shape: Any) -> Answer:
        """tf.Variable(values, shape=shape): TF checks the explicit shape."""
        variable = _tf().Variable(values, shape=shape)
        return Value(variable.numpy())

    @probe_modes(EAGER, COMPILED)
    def probe_default_dtype(self, ctx: RunContext, value: Any) -> Answer:
        """The dtype tf.constant gives Python values; in compiled mode, inside the item's tf.function."""
        return Info(_tf().constant(value).dtype.name)

    def probe_module_variables(self, ctx: RunContext) -> Answer:
        """tf.Module collects variables from attributes, lists included."""
        tf = _tf()
        module = tf.Module()
        module.weight = tf.Variable(1.0)
        module.extra = [tf.Variable(float(i)) for i in range(3)]
        return Info(len(module.variables))

    def probe_train_linear_l1(self, ctx: RunContext, xs: Any, ys: Any, lr: float, steps: int,
                              w0: float, b0: float) -> Answer:
        """Plain gradient descent on sum(|w*x + b - y|) with a tape and assign_sub."""
        tf = _tf()
        dtype = _np_dtype(tf, ctx.dtype)
        with tf.device(_DEVICES[ctx.device]):
            x, y = tf.constant(np.asarray(xs, dtype=dtype)), tf.constant(np.asarray(ys, dtype=dtype))
            w, b = tf.Variable(np.asarray(w0, dtype=dtype)), tf.Variable(np.asarray(b0, dtype=dtype))
            rate = tf.constant(np.asarray(lr, dtype=dtype))
            for _ in range(steps):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_sum(tf.abs(w * x + b - y))
                grad_w, grad_b = tape.gradient(loss, [w, b])
                w.assign_sub(rate * grad_w)
                b.assign_sub(rate * grad_b)
            return self.outcome(tf.stack([w, b]))


def _np_dtype(tf: Any, name: str) -> Any:
    return tf.dtypes.as_dtype(name).as_numpy_dtype


def _like(tf: Any, value: Any, like: Any) -> Any:
    """A seed/tangent/cotangent as a tensor with the dtype of ``like``."""
    return tf.constant(np.asarray(value, dtype=like.dtype.as_numpy_dtype))

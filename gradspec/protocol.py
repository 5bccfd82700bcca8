"""gradspec's JSON-lines protocol, the door for implementations in any language.

docs/protocol.md is the specification; this module is its Python reference:
message framing, array and outcome encoding, and the tracer that turns a case
body into the language-neutral expression graph a server evaluates.  A case
body is Python; a foreign server cannot run it, so the adapter runs it once on
symbolic ``Node`` values and ships the recorded computation instead.
"""
from __future__ import annotations

import functools
import inspect
import json
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from . import numpy_ops
from .outcomes import Absent, ArrayCodec, ErrorKind, Outcome, Raised, Unsupported, Value, scalar_to_json, scalar_from_json
from .program import OpsView, outputs

PROTOCOL_VERSION = 1

# The gradspec request kinds a server may answer ("requests" in its start reply).
REQUEST_KINDS = ("value", "grad", "vjp", "jvp", "hvp", "jacobian", "hessian", "derivatives")


class ProtocolError(RuntimeError):
    """A message that breaks the protocol (not JSON, not an object, wrong id)."""


# -- framing -------------------------------------------------------------------

def dumps(message: Mapping[str, Any]) -> str:
    """One message as one line.  NaN and inf never appear as bare JSON tokens:
    arrays carry them as strings, so any strict JSON parser can read a line."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def loads(line: str | bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a JSON line: {line[:200]!r}") from exc
    if not isinstance(message, dict):
        raise ProtocolError(f"a message must be a JSON object, got {line[:200]!r}")
    return message


def encode_array(array: Any) -> dict[str, Any]:
    """ArrayCodec's format: dtype, shape, flat C-order data; a float32 value is
    written as the decimal of its exact float64 widening, so it parses back to
    the same bits."""
    return ArrayCodec.encode(np.asarray(array))


def decode_array(obj: Mapping[str, Any]) -> np.ndarray:
    if not isinstance(obj, Mapping) or not {"dtype", "shape", "data"} <= set(obj):
        raise ProtocolError(f"an array needs dtype, shape and data, got {str(obj)[:200]}")
    return ArrayCodec.decode(dict(obj))


# -- outcomes ------------------------------------------------------------------

def encode_outcome(outcome: Outcome) -> dict[str, Any]:
    """Wire form of one outcome: {"value": array}, {"absent": true} or {"raised": ...}."""
    if isinstance(outcome, Value):
        return {"value": encode_array(outcome.array)}
    if isinstance(outcome, Absent):
        return {"absent": True}
    if isinstance(outcome, Raised):
        return {"raised": {"kind": outcome.kind.value, "type": outcome.native_type, "message": outcome.message}}
    raise TypeError(f"outcome {outcome!r} has no wire form")


def decode_outcome(obj: Any) -> Outcome:
    if not isinstance(obj, Mapping):
        raise ProtocolError(f"an outcome must be an object, got {str(obj)[:200]}")
    if "value" in obj:
        return Value(decode_array(obj["value"]))
    if obj.get("absent") is True:
        return Absent()
    if "raised" in obj:
        return decode_raised(obj["raised"])
    raise ProtocolError(f"unknown outcome {str(obj)[:200]}")


def decode_raised(obj: Mapping[str, Any]) -> Raised:
    """A kind the taxonomy does not know is kept as Unclassified, never dropped."""
    try:
        kind = ErrorKind(obj.get("kind"))
    except ValueError:
        kind = ErrorKind.Unclassified
    return Raised(kind, str(obj.get("type", "")), str(obj.get("message", "")))


# -- the op set ----------------------------------------------------------------

# Parameters of the vocabulary functions that take arrays; every other
# parameter is a constant attribute (axis, shape, window, dtype, ...).
TENSOR_PARAMS = frozenset({"x", "y", "z", "a", "b", "w", "t", "v", "cond", "pred", "params", "indices", "ids",
                           "table", "updates", "logits", "labels", "gamma", "beta", "xs", "operands"})
# Array parameters that take a list of arrays.
LIST_PARAMS = frozenset({"xs", "operands"})

# Python operators on traced values, with their NumPy meaning.
OPERATORS: dict[str, Callable[..., Any]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "pow": np.power,
    "matmul": np.matmul, "neg": np.negative,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "ne": np.not_equal,
}


@functools.cache
def _python_signature(op: str) -> inspect.Signature:
    """inspect.signature of a vocabulary op, read once (it costs ~70 us a call)."""
    return inspect.signature(VOCABULARY[op])


def signature(op: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(array parameters in order, attributes with their defaults) of an op."""
    if op == "getitem":
        return ("x",), {"index": None}
    if op in OPERATORS:
        return (("x",) if op == "neg" else ("a", "b")), {}
    params = _python_signature(op).parameters.values()
    tensors = tuple(p.name for p in params if p.name in TENSOR_PARAMS)
    attrs = {p.name: p.default for p in params if p.name not in TENSOR_PARAMS}
    return tensors, attrs


# Vocabulary ops a fixed expression graph cannot carry: they take Python
# functions (cond, fori_loop, checkpoint), return several arrays (split) or
# mutate an array in place (add_inplace).  A body using one is UNSUPPORTED.
UNTRACEABLE = frozenset({"cond", "fori_loop", "while_loop", "checkpoint", "split", "add_inplace"})


def no_gradient_op(x: Any) -> Any:
    """Identity forward; the server maps it to an op registered without a
    derivative rule, so differentiating through it must raise NoGradientDefined
    (capability no_gradient_ops)."""
    return np.array(x, copy=True)


VOCABULARY = {**{name: fn for name, fn in numpy_ops.VOCABULARY.items() if name not in UNTRACEABLE},
              "no_gradient_op": no_gradient_op}
OPS: tuple[str, ...] = tuple(sorted({*VOCABULARY, *OPERATORS, "getitem"}))


def encode_index(key: Any) -> list[Any]:
    """A constant NumPy basic index as JSON: ints, {"slice": [start, stop,
    step]}, {"newaxis": true}, {"ellipsis": true}."""
    items = []
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, (bool, np.bool_)) or isinstance(k, Node):
            raise Unsupported("indexing with a traced or boolean value is not expressible in the protocol graph")
        if isinstance(k, (int, np.integer)):
            items.append(int(k))
        elif isinstance(k, slice):
            parts = [k.start, k.stop, k.step]
            if any(p is not None and not isinstance(p, (int, np.integer)) for p in parts):
                raise Unsupported(f"slice {k!r} is not a constant integer slice")
            items.append({"slice": [None if p is None else int(p) for p in parts]})
        elif k is None:
            items.append({"newaxis": True})
        elif k is Ellipsis:
            items.append({"ellipsis": True})
        else:
            raise Unsupported(f"index {k!r}: only ints, slices, None and ... are expressible in the protocol graph")
    return items


def decode_index(items: list[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for k in items:
        if isinstance(k, int):
            out.append(k)
        elif isinstance(k, Mapping) and "slice" in k:
            out.append(slice(*k["slice"]))
        elif isinstance(k, Mapping) and k.get("newaxis"):
            out.append(None)
        elif isinstance(k, Mapping) and k.get("ellipsis"):
            out.append(Ellipsis)
        else:
            raise ProtocolError(f"bad index item {k!r}")
    return tuple(out)


def decode_scalar(v: Any) -> Any:
    """A weak scalar constant: a JSON number or bool, or "nan"/"inf"/"-inf"/"-0.0"."""
    return scalar_from_json(v)


# -- tracing -------------------------------------------------------------------

def _traced_control_flow(*_: Any) -> Any:
    raise Unsupported("the case body reads a traced value in data-dependent Python control flow "
                      "(if/while/bool/float on a tensor); the protocol ships a fixed expression graph")


class Node:
    """A symbolic value recorded by a ``Tracer``.  It also carries the concrete
    NumPy value of the reference vocabulary, so shape and dtype are known while
    tracing, but that value is never sent and never judged."""

    __array_ufunc__ = None  # NumPy defers to our reflected operators
    __bool__ = __float__ = __int__ = __index__ = __complex__ = _traced_control_flow
    __hash__ = object.__hash__

    def __init__(self, tracer: "Tracer", ident: str, value: np.ndarray) -> None:
        self.tracer, self.id, self.value = tracer, ident, value

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.value))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> str:
        return np.asarray(self.value).dtype.name

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d value")
        return self.shape[0]

    def __iter__(self) -> Iterator["Node"]:
        return (self[i] for i in range(len(self)))

    def __array__(self, *_: Any, **__: Any) -> Any:
        _traced_control_flow()

    def __getitem__(self, key: Any) -> "Node":
        return self.tracer.apply("getitem", [self], {"index": encode_index(key)}, key=key)

    def __neg__(self) -> "Node":
        return self.tracer.apply("neg", [self], {})

    def __abs__(self) -> "Node":
        return self.tracer.apply("abs", [self], {})

    def __repr__(self) -> str:
        return f"Node({self.id}, dtype={self.dtype}, shape={self.shape})"


def _binary(op: str, reflected: bool = False) -> Callable[[Node, Any], Node]:
    def method(self: Node, other: Any) -> Node:
        args = [other, self] if reflected else [self, other]
        return self.tracer.apply(op, args, {})
    return method


for _op, _name in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "truediv"), ("pow", "pow"),
                   ("matmul", "matmul")):
    setattr(Node, f"__{_name}__", _binary(_op))
    setattr(Node, f"__r{_name}__", _binary(_op, reflected=True))
for _op in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(Node, f"__{_op}__", _binary(_op))


class Tracer:
    """Records one computation as a protocol graph: declared inputs, then nodes
    in evaluation order, each naming its op, argument references and constants."""

    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] = []
        self.nodes: list[dict[str, Any]] = []

    def input(self, name: str, array: np.ndarray, role: str = "variable") -> Node:
        arr = np.asarray(array)
        self.inputs.append({"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape), "role": role})
        return Node(self, name, arr)

    def apply(self, op: str, tensors: list[Any], attrs: dict[str, Any], key: Any = None,
              raw: dict[str, Any] | None = None) -> Node:
        """Record ``op``; ``attrs`` is the JSON form, ``raw`` the Python values
        the reference function is called with (a tuple axis stays a tuple)."""
        names = signature(op)[0]
        args = [self._arg(op, t, name in LIST_PARAMS) for t, name in zip(tensors, names)]
        with np.errstate(all="ignore"):
            value = self._reference(op, [self._concrete(t) for t in tensors], attrs if raw is None else raw, key)
        ident = f"%{len(self.nodes)}"
        arr = np.asarray(value)
        self.nodes.append({"id": ident, "op": op, "args": args, "attrs": attrs,
                           "dtype": arr.dtype.name, "shape": list(arr.shape)})
        return Node(self, ident, arr)

    def ops(self) -> dict[str, Callable[..., Any]]:
        """The vocabulary as a mapping for ``OpsView``: each op records a node."""
        return {name: self._recorder(name) for name in VOCABULARY}

    def graph(self, named: Mapping[str, Any]) -> dict[str, Any]:
        outs = {}
        for name, value in named.items():
            if not isinstance(value, Node) or value.tracer is not self:
                raise Unsupported(f"output '{name}' is not computed from the case inputs")
            outs[name] = value.id
        return {"inputs": self.inputs, "nodes": self.nodes, "outputs": outs}

    def used_ops(self) -> set[str]:
        return {n["op"] for n in self.nodes}

    def _recorder(self, name: str) -> Callable[..., Any]:
        tensors, _ = signature(name)

        def record(*args: Any, **kwargs: Any) -> Node:
            bound = _python_signature(name).bind(*args, **kwargs)
            bound.apply_defaults()
            raw = {k: v for k, v in bound.arguments.items() if k not in tensors}
            attrs = {k: _attr(name, k, v) for k, v in raw.items()}
            return self.apply(name, [bound.arguments[t] for t in tensors], attrs, raw=raw)
        return record

    def _arg(self, op: str, value: Any, listed: bool = False) -> dict[str, Any]:
        if isinstance(value, Node):
            if value.tracer is not self:
                raise Unsupported(f"op '{op}' mixes values from two traces")
            return {"ref": value.id}
        if isinstance(value, (list, tuple)) and any(isinstance(v, Node) for v in value):
            if not listed:
                raise Unsupported(f"op '{op}' got a list of traced values where it takes one array")
            return {"list": [self._arg(op, v) for v in value]}
        if isinstance(value, (bool, int, float)):
            return {"scalar": scalar_to_json(value)}
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            raise Unsupported(f"op '{op}' got a constant of dtype {arr.dtype} the protocol cannot carry")
        return {"const": encode_array(arr)}

    def _concrete(self, value: Any) -> Any:
        if isinstance(value, Node):
            return value.value
        if isinstance(value, (list, tuple)) and any(isinstance(v, Node) for v in value):
            return [self._concrete(v) for v in value]
        return value

    @staticmethod
    def _reference(op: str, args: list[Any], attrs: dict[str, Any], key: Any) -> Any:
        if op == "getitem":
            return np.asarray(args[0])[key]
        if op in OPERATORS:
            return OPERATORS[op](*args)
        fn = VOCABULARY[op]
        values = {**dict(zip(signature(op)[0], args)), **attrs}
        positional: list[Any] = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                positional.extend(values[p.name])
            else:
                positional.append(values[p.name])
        return fn(*positional)


def _attr(op: str, name: str, value: Any) -> Any:
    """An attribute as JSON: None, bool, int, float, str, or lists of these."""
    if isinstance(value, Node):
        raise Unsupported(f"attribute '{name}' of op '{op}' must be a constant, got a traced value")
    if isinstance(value, (tuple, list)):
        return [_attr(op, name, v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise Unsupported(f"attribute '{name}' of op '{op}' has no JSON form: {value!r}")


def trace(body: Callable[..., Any], arrays: Mapping[str, np.ndarray], roles: Mapping[str, str],
          ) -> tuple[Tracer, dict[str, Any]]:
    """Run ``body(ops, **inputs)`` once on symbolic inputs; returns the tracer
    and the graph with every output and marked intermediate named."""
    tracer = Tracer()
    nodes = {name: tracer.input(name, arr, roles.get(name, "variable")) for name, arr in arrays.items()}
    view = OpsView("jsonl", tracer.ops())
    named = outputs(body(view, **nodes), view.marks)
    return tracer, tracer.graph(named)


__all__ = [
    "OPERATORS", "OPS", "PROTOCOL_VERSION", "REQUEST_KINDS", "UNTRACEABLE", "VOCABULARY", "Node", "ProtocolError",
    "Tracer",
    "decode_array", "decode_index", "decode_outcome", "decode_raised", "decode_scalar", "dumps",
    "encode_array", "encode_index", "encode_outcome", "loads", "signature", "trace",
]

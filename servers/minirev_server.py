#!/usr/bin/env python3
"""minirev: a tiny reverse-mode autodiff engine behind gradspec's JSON-lines protocol.

It is the reference server of docs/protocol.md, written the way an external
engine would be: its own ``Tensor`` with parents and a vector-Jacobian closure
per op, a topological sort, gradient accumulation, float16, float32 and
float64 over NumPy arrays.  Every closure is written with minirev's own ops, so a gradient
is itself recorded and can be differentiated again: higher orders, Hessians,
and Jacobian-vector products by the double-vjp trick
(jvp(t) = d/du <vjp(u), t>, linear in u) come from one reverse mode.

Documented choices (docs/protocol.md, "minirev conventions"): a source the
target has no path to answers absent in grad, vjp and derivatives (zeros when
the request asks for them) and zeros in jvp, hvp, jacobian and hessian;
sign and stop_gradient have derivative 0 (a path, so zeros, not absent); ties
in maximum, minimum, max, min and max_pool1d split the gradient evenly;
relu'(0) = 0; abs'(0) = 0; integer sources raise NotDifferentiableDType; a
non-scalar target without a cotangent raises NonScalarTarget; a gradient
takes the dtype of its source; differentiating through no_gradient_op (an op
registered without a vjp) raises NoGradientDefined.

Run: ``python servers/minirev_server.py`` (reads requests on stdin, answers on stdout).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TextIO

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradspec.protocol import (PROTOCOL_VERSION, REQUEST_KINDS, ProtocolError, decode_array,  # noqa: E402
                               decode_index, decode_scalar, dumps, encode_array, loads)

NAME, VERSION = "minirev", "0.1"
WEAK = (bool, int, float)  # Python scalars: weakly typed constants


# -- errors, mapped to gradspec's canonical kinds --------------------------------

class NonScalarTargetError(ValueError):
    """grad of a non-scalar target without a cotangent."""


class NotDifferentiableError(TypeError):
    """Only floating-point sources have gradients."""


class NoGradientError(LookupError):
    """An op registered without a vector-Jacobian product was differentiated."""


class ShapeMismatchError(ValueError):
    """A cotangent or tangent does not have the shape it pairs with."""


KINDS: dict[type, str] = {
    NonScalarTargetError: "NonScalarTarget", NotDifferentiableError: "NotDifferentiableDType",
    NoGradientError: "NoGradientDefined", ShapeMismatchError: "ShapeMismatch",
}


class Unsupported(Exception):
    """An op or request minirev does not implement (answered as an error, code "unsupported")."""


# -- the engine ----------------------------------------------------------------------

class Tensor:
    """A value and how it was made: parents plus ``vjp``, which maps this
    tensor's cotangent to one cotangent per parent (None: no gradient)."""

    __slots__ = ("data", "parents", "vjp", "requires_grad", "op")

    def __init__(self, data: Any, parents: tuple["Tensor", ...] = (),
                 vjp: Callable[["Tensor"], Sequence["Tensor | None"]] | None = None,
                 requires_grad: bool = False, op: str = "leaf") -> None:
        # A Python scalar stays a Python scalar: NumPy treats it as weakly typed,
        # so 2.0 * float32 stays float32.
        self.data = data if type(data) in WEAK else np.asarray(data)
        self.parents, self.vjp, self.requires_grad, self.op = parents, vjp, requires_grad, op

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.data))

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.data).dtype


def leaf(array: Any) -> Tensor:
    """A source to differentiate with respect to."""
    arr = np.array(array)
    if arr.dtype.kind != "f":
        raise NotDifferentiableError(f"cannot differentiate with respect to a {arr.dtype} source; "
                                     "only floating-point sources have gradients")
    return Tensor(arr, requires_grad=True)


def lift(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def record(op: str, data: Any, parents: Sequence[Tensor],
           vjp: Callable[[Tensor], Sequence[Tensor | None]]) -> Tensor:
    """A new tensor; it keeps its parents only when one of them needs a gradient."""
    if any(p.requires_grad for p in parents):
        return Tensor(data, tuple(parents), vjp, True, op)
    if parents and all(type(p.data) in WEAK for p in parents):
        data = np.asarray(data).item()  # arithmetic on weak scalars stays weak
    return Tensor(data, op=op)


def grad(target: Tensor, sources: Sequence[Tensor], cotangent: Tensor) -> list[Tensor | None]:
    """Reverse sweep from ``target`` seeded with ``cotangent``; None for a source
    the target does not depend on.  The sweep uses recorded ops, so its result
    is differentiable again."""
    adjoint: dict[int, Tensor] = {id(target): cotangent}
    for node in reversed(_topological(target)):
        g = adjoint.get(id(node))
        if g is None or node.vjp is None:
            continue
        for parent, pg in zip(node.parents, node.vjp(g)):
            if pg is None or not parent.requires_grad:
                continue
            if pg.dtype != parent.dtype:
                pg = cast(pg, parent.dtype.name)
            prev = adjoint.get(id(parent))
            adjoint[id(parent)] = pg if prev is None else add(prev, pg)
    return [adjoint.get(id(s)) for s in sources]


def _topological(root: Tensor) -> list[Tensor]:
    """Nodes that need a gradient, every parent before its children (iterative DFS)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node.parents if p.requires_grad and id(p) not in seen)
    return order


# -- ops: forward in NumPy, vjp in minirev ops ----------------------------------------

def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Undo broadcasting: sum x down to ``shape``."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = len(x.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return record("sum_to", np.sum(x.data, axis=axes).reshape(shape), (x,), lambda g: (broadcast_to(g, x.shape),))


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return record("broadcast_to", np.broadcast_to(x.data, tuple(shape)).copy(), (x,),
                  lambda g: (sum_to(g, x.shape),))


def add(a: Any, b: Any) -> Tensor:
    a, b = lift(a), lift(b)
    return record("add", np.add(a.data, b.data), (a, b), lambda g: (sum_to(g, a.shape), sum_to(g, b.shape)))


def sub(a: Any, b: Any) -> Tensor:
    a, b = lift(a), lift(b)
    return record("sub", np.subtract(a.data, b.data), (a, b),
                  lambda g: (sum_to(g, a.shape), sum_to(neg(g), b.shape)))


def mul(a: Any, b: Any) -> Tensor:
    a, b = lift(a), lift(b)
    return record("mul", np.multiply(a.data, b.data), (a, b),
                  lambda g: (sum_to(mul(g, b), a.shape), sum_to(mul(g, a), b.shape)))


def div(a: Any, b: Any) -> Tensor:
    a, b = lift(a), lift(b)
    return record("div", np.true_divide(a.data, b.data), (a, b),
                  lambda g: (sum_to(div(g, b), a.shape), sum_to(neg(div(mul(g, a), mul(b, b))), b.shape)))


def neg(x: Any) -> Tensor:
    x = lift(x)
    return record("neg", np.negative(x.data), (x,), lambda g: (neg(g),))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001 - the protocol's op name
    a, b = lift(a), lift(b)

    def vjp(g: Tensor) -> tuple[Tensor | None, Tensor | None]:
        ga = sum_to(mul(g, mul(b, pow(a, sub(b, 1)))), a.shape)
        gb = sum_to(mul(g, mul(out, log(a))), b.shape) if b.requires_grad else None
        return ga, gb
    out = record("pow", np.power(a.data, b.data), (a, b), vjp)
    return out


def swapaxes(x: Tensor) -> Tensor:
    return record("swapaxes", np.swapaxes(x.data, -1, -2), (x,), lambda g: (swapaxes(g),))


def matmul(a: Any, b: Any) -> Tensor:
    """NumPy matmul; vectors are promoted to matrices for the vjp, then restored."""
    a, b = lift(a), lift(b)

    def vjp(g: Tensor) -> tuple[Tensor, Tensor]:
        a2 = a if len(a.shape) > 1 else reshape(a, (1, -1))
        b2 = b if len(b.shape) > 1 else reshape(b, (-1, 1))
        g2 = reshape(g, np.matmul(a2.data, b2.data).shape)
        ga = reshape(sum_to(matmul(g2, swapaxes(b2)), a2.shape), a.shape)
        gb = reshape(sum_to(matmul(swapaxes(a2), g2), b2.shape), b.shape)
        return ga, gb
    return record("matmul", np.matmul(a.data, b.data), (a, b), vjp)


def dot(a: Any, b: Any) -> Tensor:
    return sum(mul(a, b))


def _unary(name: str, forward: Callable[[Any], Any], derivative: Callable[[Tensor, Tensor], Tensor]
           ) -> Callable[[Any], Tensor]:
    """An elementwise op whose vjp is g * derivative(x, out)."""
    def op(x: Any) -> Tensor:
        x = lift(x)
        out = record(name, forward(x.data), (x,), lambda g: (mul(g, derivative(x, out)),))
        return out
    op.__name__ = name
    return op


def _mask(condition: np.ndarray, like: Tensor) -> Tensor:
    return Tensor(np.asarray(condition).astype(like.dtype))


def _sigmoid(v: Any) -> Any:
    return np.exp(-np.logaddexp(0, -v))


exp = _unary("exp", np.exp, lambda x, out: out)
log = _unary("log", np.log, lambda x, out: div(1, x))
sigmoid = _unary("sigmoid", _sigmoid, lambda x, out: mul(out, sub(1, out)))
log_sigmoid = _unary("log_sigmoid", lambda v: -np.logaddexp(0, -v), lambda x, out: sigmoid(neg(x)))
tanh = _unary("tanh", np.tanh, lambda x, out: sub(1, mul(out, out)))
relu = _unary("relu", lambda v: np.maximum(v, 0), lambda x, out: _mask(x.data > 0, x))
sqrt = _unary("sqrt", np.sqrt, lambda x, out: div(0.5, out))
abs = _unary("abs", np.abs, lambda x, out: _mask(np.sign(x.data), x))  # noqa: A001


sin = _unary("sin", np.sin, lambda x, out: cos(x))
cos = _unary("cos", np.cos, lambda x, out: neg(sin(x)))
tan = _unary("tan", np.tan, lambda x, out: add(1, mul(out, out)))
sinh = _unary("sinh", np.sinh, lambda x, out: cosh(x))
cosh = _unary("cosh", np.cosh, lambda x, out: sinh(x))
arcsin = _unary("arcsin", np.arcsin, lambda x, out: pow(sub(1, mul(x, x)), -0.5))
arctan = _unary("arctan", np.arctan, lambda x, out: div(1, add(1, mul(x, x))))
expm1 = _unary("expm1", np.expm1, lambda x, out: add(out, 1))
log1p = _unary("log1p", np.log1p, lambda x, out: div(1, add(x, 1)))
softplus = _unary("softplus", lambda v: np.logaddexp(0, v), lambda x, out: sigmoid(x))
sign = _unary("sign", np.sign, lambda x, out: _mask(np.zeros(x.shape), x))


def _erf(v: Any) -> Any:
    arr = np.asarray(v)
    return np.vectorize(math.erf, otypes=[np.float64])(arr).astype(arr.dtype)


erf = _unary("erf", _erf, lambda x, out: mul(exp(neg(mul(x, x))), 2 / math.sqrt(math.pi)))


def gelu(x: Any) -> Tensor:
    """The exact GELU, 0.5 x (1 + erf(x / sqrt 2))."""
    return mul(mul(x, 0.5), add(erf(mul(x, 1 / math.sqrt(2))), 1))


def atan2(y: Any, x: Any) -> Tensor:
    y, x = lift(y), lift(x)

    def vjp(g: Tensor) -> tuple[Tensor, Tensor]:
        r2 = add(mul(x, x), mul(y, y))
        return sum_to(div(mul(g, x), r2), y.shape), sum_to(neg(div(mul(g, y), r2)), x.shape)
    return record("atan2", np.arctan2(y.data, x.data), (y, x), vjp)


def no_gradient_op(x: Any) -> Tensor:
    """Identity forward, registered without a vjp: differentiating through it raises."""
    def vjp(g: Tensor) -> tuple[Tensor]:
        raise NoGradientError("minirev op 'no_gradient_op' has no registered gradient")
    x = lift(x)
    return record("no_gradient_op", np.array(x.data), (x,), vjp)


def square(x: Any) -> Tensor:
    return mul(x, x)


def reciprocal(x: Any) -> Tensor:
    return div(1, x)


def rsqrt(x: Any) -> Tensor:
    return pow(x, -0.5)
stop_gradient = _unary("stop_gradient", np.array, lambda x, out: _mask(np.zeros(x.shape), x))


def _keepdims_shape(x: Tensor, axis: Any) -> tuple[int, ...]:
    return np.sum(np.zeros(x.shape, dtype=np.int8), axis=_axis(axis), keepdims=True).shape


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = lift(x)
    kept = _keepdims_shape(x, axis)
    return record("sum", np.sum(x.data, axis=_axis(axis), keepdims=keepdims), (x,),
                  lambda g: (broadcast_to(reshape(g, kept), x.shape),))


def mean(x: Any, axis: Any = None) -> Tensor:
    x = lift(x)
    total = sum(x, axis)
    return div(total, int(np.prod(x.shape)) // int(np.prod(total.shape)))


def max(x: Any, axis: Any = None) -> Tensor:  # noqa: A001
    """Ties share the gradient evenly."""
    x = lift(x)
    kept = _keepdims_shape(x, axis)
    top = np.max(x.data, axis=_axis(axis), keepdims=True)
    hits = (x.data == top).astype(x.dtype)
    share = Tensor(hits / np.sum(hits, axis=_axis(axis), keepdims=True))
    return record("max", np.max(x.data, axis=_axis(axis)), (x,),
                  lambda g: (mul(broadcast_to(reshape(g, kept), x.shape), share),))


def permute(x: Tensor, perm: Sequence[int]) -> Tensor:
    inverse = tuple(np.argsort(perm))
    return record("permute", np.transpose(x.data, perm), (x,), lambda g: (permute(g, inverse),))


def prod(x: Any, axis: Any = None) -> Tensor:
    """A chain of multiplications over the reduced elements, so a zero factor
    gets the product of the others as its gradient (no division by x)."""
    x = lift(x)
    nd = len(x.shape)
    axes = tuple(range(nd)) if axis is None else tuple(a % nd for a in np.atleast_1d(axis))
    kept = [a for a in range(nd) if a not in axes]
    rows = reshape(permute(x, kept + list(axes)), [x.shape[a] for a in kept] + [-1])
    out: Tensor = Tensor(np.ones(rows.shape[:-1], dtype=x.dtype))
    for i in range(rows.shape[-1]):
        out = mul(out, getitem(rows, (Ellipsis, i)))
    return out


def min(x: Any, axis: Any = None) -> Tensor:  # noqa: A001
    return neg(max(neg(x), axis))


def logsumexp(x: Any, axis: Any = None) -> Tensor:
    x = lift(x)
    top = np.max(x.data, axis=_axis(axis), keepdims=True)
    return add(log(sum(exp(sub(x, Tensor(top))), axis)), Tensor(np.reshape(top, np.max(x.data, _axis(axis)).shape)))


def var(x: Any, axis: Any = None) -> Tensor:
    """Population variance."""
    x = lift(x)
    centred = sub(x, reshape(mean(x, axis), _keepdims_shape(x, axis)))
    return mean(mul(centred, centred), axis)


def std(x: Any, axis: Any = None) -> Tensor:
    return sqrt(var(x, axis))


def norm(x: Any, axis: Any = None) -> Tensor:
    return sqrt(sum(mul(x, x), axis))


def trace(x: Any) -> Tensor:
    x = lift(x)
    return sum(mul(x, Tensor(np.eye(*x.shape, dtype=x.dtype))))


def _select(name: str, wins: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Tensor]:
    """maximum / minimum: the winner takes the gradient, ties split it evenly."""
    def op(a: Any, b: Any) -> Tensor:
        a, b = lift(a), lift(b)
        data = np.maximum(a.data, b.data) if name == "maximum" else np.minimum(a.data, b.data)
        weight = wins(a.data, b.data).astype(data.dtype) + 0.5 * np.equal(a.data, b.data).astype(data.dtype)
        wa, wb = Tensor(weight), Tensor(1 - weight)
        return record(name, data, (a, b), lambda g: (sum_to(mul(g, wa), a.shape), sum_to(mul(g, wb), b.shape)))
    return op


maximum = _select("maximum", np.greater)
minimum = _select("minimum", np.less)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    cond, a, b = lift(cond), lift(a), lift(b)
    return record("where", np.where(cond.data, a.data, b.data), (cond, a, b),
                  lambda g: (None, sum_to(where(cond, g, 0), a.shape), sum_to(where(cond, 0, g), b.shape)))


def softmax(x: Any, axis: int = -1) -> Tensor:
    x = lift(x)
    e = np.exp(x.data - np.max(x.data, axis=axis, keepdims=True))
    out = record("softmax", e / np.sum(e, axis=axis, keepdims=True), (x,),
                 lambda g: (mul(out, sub(g, sum(mul(g, out), axis, keepdims=True))),))
    return out


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    x = lift(x)
    shifted = x.data - np.max(x.data, axis=axis, keepdims=True)
    data = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    out = record("log_softmax", data, (x,), lambda g: (sub(g, mul(exp(out), sum(g, axis, keepdims=True))),))
    return out


def gather(params: Any, indices: Any) -> Tensor:
    params, indices = lift(params), lift(indices)
    idx = np.asarray(indices.data).astype(np.int64)
    return record("gather", np.take(params.data, idx, axis=0), (params, indices),
                  lambda g: (gather_transpose(g, idx, params.shape), None))


def gather_transpose(g: Tensor, idx: np.ndarray, shape: tuple[int, ...]) -> Tensor:
    """The vjp of gather: rows added back; repeated indices accumulate."""
    data = np.zeros(shape, dtype=g.dtype)
    np.add.at(data, idx, g.data)
    return record("gather_transpose", data, (g,), lambda h: (gather(h, Tensor(idx)),))


def scatter_add(x: Any, indices: Any, updates: Any) -> Tensor:
    x, indices, updates = lift(x), lift(indices), lift(updates)
    idx = np.asarray(indices.data).astype(np.int64)
    data = np.array(x.data, dtype=np.result_type(x.data, updates.data))
    np.add.at(data, idx, updates.data)
    return record("scatter_add", data, (x, indices, updates), lambda g: (g, None, gather(g, Tensor(idx))))


def pad(x: Any, widths: Any) -> Tensor:
    x = lift(x)
    pairs = [tuple(w) for w in widths]
    window = tuple(slice(before, before + n) for (before, _), n in zip(pairs, x.shape))
    return record("pad", np.pad(x.data, pairs, mode="constant"), (x,), lambda g: (getitem(g, window),))


def reshape(x: Any, shape: Any) -> Tensor:
    x = lift(x)
    return record("reshape", np.reshape(x.data, tuple(shape)), (x,), lambda g: (reshape(g, x.shape),))


def transpose(x: Any) -> Tensor:
    x = lift(x)
    return record("transpose", np.transpose(x.data), (x,), lambda g: (transpose(g),))


def getitem(x: Any, index: tuple[Any, ...]) -> Tensor:
    x = lift(x)
    return record("getitem", np.asarray(x.data)[index], (x,), lambda g: (index_put(g, index, x.shape),))


def index_put(g: Tensor, index: tuple[Any, ...], shape: tuple[int, ...]) -> Tensor:
    """The vjp of indexing: g placed into zeros (the indices used never repeat)."""
    data = np.zeros(shape, dtype=g.dtype)
    data[index] = g.data
    return record("index_put", data, (g,), lambda h: (getitem(h, index),))


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    xs = [lift(x) for x in xs]
    data = np.stack([x.data for x in xs], axis=axis)
    ax = axis % data.ndim
    return record("stack", data, xs,
                  lambda g: tuple(getitem(g, (slice(None),) * ax + (i,)) for i in range(len(xs))))


def concat(xs: Sequence[Any], axis: int = 0) -> Tensor:
    xs = [lift(x) for x in xs]
    data = np.concatenate([x.data for x in xs], axis=axis)
    ax = axis % data.ndim
    bounds = np.cumsum([0] + [x.shape[ax] for x in xs])
    return record("concat", data, xs, lambda g: tuple(
        getitem(g, (slice(None),) * ax + (slice(int(lo), int(hi)),)) for lo, hi in zip(bounds[:-1], bounds[1:])))


def inv(x: Any) -> Tensor:
    x = lift(x)
    out = record("inv", np.linalg.inv(x.data), (x,),
                 lambda g: (neg(matmul(swapaxes(out), matmul(g, swapaxes(out)))),))
    return out


def solve(a: Any, b: Any) -> Tensor:
    a, b = lift(a), lift(b)

    def vjp(g: Tensor) -> tuple[Tensor, Tensor]:
        gb = solve(swapaxes(a), g)
        return neg(matmul(gb, swapaxes(out))), gb
    out = record("solve", np.linalg.solve(a.data, b.data), (a, b), vjp)
    return out


def _per_matrix(g: Tensor) -> Tensor:
    """A cotangent of one value per matrix, broadcast over the matrix axes."""
    return reshape(g, g.shape + (1, 1))


def det(x: Any) -> Tensor:
    x = lift(x)
    out = record("det", np.linalg.det(x.data), (x,),
                 lambda g: (mul(_per_matrix(mul(g, out)), swapaxes(inv(x))),))
    return out


def slogdet(x: Any) -> Tensor:
    x = lift(x)
    return record("slogdet", np.linalg.slogdet(x.data)[1], (x,), lambda g: (mul(_per_matrix(g), swapaxes(inv(x))),))


def cholesky(x: Any) -> Tensor:
    """Reads the lower triangle; the vjp is symmetrised (cases feed symmetric input)."""
    x = lift(x)
    n = x.shape[-1]
    phi = Tensor((np.tril(np.ones((n, n))) - 0.5 * np.eye(n)).astype(x.dtype))

    def vjp(g: Tensor) -> tuple[Tensor]:
        p = mul(matmul(swapaxes(out), g), phi)                      # Phi(L^T G)
        s = swapaxes(solve(swapaxes(out), swapaxes(solve(swapaxes(out), p))))  # L^-T Phi L^-1
        return (mul(add(s, swapaxes(s)), 0.5),)
    out = record("cholesky", np.linalg.cholesky(x.data), (x,), vjp)
    return out


def einsum(operands: Sequence[Any], subscripts: str) -> Tensor:
    """Explicit-form einsum ('ij,jk->ik'); each operand's vjp is another einsum."""
    xs = [lift(x) for x in operands]
    inputs, output = subscripts.replace(" ", "").split("->")
    subs = inputs.split(",")
    return record("einsum", np.einsum(subscripts, *[x.data for x in xs]), xs,
                  lambda g: tuple(_einsum_vjp(g, output, subs, xs, k) for k in range(len(xs))))


def _einsum_vjp(g: Tensor, output: str, subs: list[str], xs: list[Tensor], k: int) -> Tensor:
    """Contract g with the other operands onto operand k's distinct letters (a
    letter summed inside operand k alone is broadcast with ones), then place
    the result on the diagonal a repeated letter ('ii') describes."""
    own = subs[k]
    letters = "".join(dict.fromkeys(own))
    sizes = dict(zip(own, xs[k].shape))
    terms = [(output, g)] + [(s, x) for j, (s, x) in enumerate(zip(subs, xs)) if j != k]
    present = set("".join(s for s, _ in terms))
    terms += [(c, Tensor(np.ones(sizes[c], dtype=g.dtype))) for c in letters if c not in present]
    grad = einsum([t for _, t in terms], ",".join(s for s, _ in terms) + "->" + letters)
    if letters == own:
        return grad
    grid = np.meshgrid(*[np.arange(sizes[c]) for c in letters], indexing="ij")
    return index_put(grad, tuple(grid[letters.index(c)] for c in own), xs[k].shape)


def embedding(table: Any, ids: Any) -> Tensor:
    return gather(table, ids)


def cross_entropy(logits: Any, labels: Any) -> Tensor:
    logits = lift(logits)
    onehot = np.eye(logits.shape[-1], dtype=logits.dtype)[np.asarray(lift(labels).data).astype(np.int64)]
    return neg(mean(sum(mul(log_softmax(logits, -1), Tensor(onehot)), -1)))


def layer_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> Tensor:
    x = lift(x)
    kept = _keepdims_shape(x, -1)
    centred = sub(x, reshape(mean(x, -1), kept))
    scale = rsqrt(add(reshape(mean(mul(centred, centred), -1), kept), eps))
    return add(mul(mul(centred, scale), gamma), beta)


def cast(x: Any, dtype: str) -> Tensor:
    x = lift(x)
    data = np.asarray(x.data).astype(dtype)
    if data.dtype.kind != "f":
        return Tensor(data)
    return record("cast", data, (x,), lambda g: (cast(g, x.dtype.name),))


def _pool(reduce: Callable[[Tensor, int], Tensor]) -> Callable[[Any, int, int], Tensor]:
    def pool(x: Any, window: int, stride: int) -> Tensor:
        x = lift(x)
        starts = range(0, x.shape[1] - window + 1, stride)
        return stack([reduce(getitem(x, (slice(None), slice(s, s + window))), 1) for s in starts], axis=1)
    return pool


max_pool1d = _pool(lambda w, axis: max(w, axis))
avg_pool1d = _pool(lambda w, axis: mean(w, axis))


def _taps(length: int, kernel: int, stride: int, dilation: int) -> list[slice]:
    """Per kernel tap k, the input positions i*stride + k*dilation of a valid window."""
    out = (length - dilation * (kernel - 1) - 1) // stride + 1
    return [slice(k * dilation, k * dilation + stride * (out - 1) + 1, stride) for k in range(kernel)]


def conv1d(x: Any, w: Any, stride: int = 1, padding: int = 0, dilation: int = 1) -> Tensor:
    """Channels-last cross-correlation as a sum over kernel taps of einsums."""
    x, w = lift(x), lift(w)
    xp = pad(x, [[0, 0], [padding, padding], [0, 0]])
    taps = _taps(xp.shape[1], w.shape[0], stride, dilation)
    terms = [einsum([getitem(xp, (slice(None), s)), getitem(w, (k,))], "nlc,co->nlo") for k, s in enumerate(taps)]
    return _total(terms)


def conv2d(x: Any, w: Any, stride: int = 1, padding: int = 0, dilation: int = 1) -> Tensor:
    x, w = lift(x), lift(w)
    xp = pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    rows = _taps(xp.shape[1], w.shape[0], stride, dilation)
    cols = _taps(xp.shape[2], w.shape[1], stride, dilation)
    return _total([einsum([getitem(xp, (slice(None), r, c)), getitem(w, (i, j))], "nhwc,co->nhwo")
                   for i, r in enumerate(rows) for j, c in enumerate(cols)])


def _total(terms: Sequence[Tensor]) -> Tensor:
    total = terms[0]
    for t in terms[1:]:
        total = add(total, t)
    return total


def _pool2d(reduce: Callable[[Tensor, int], Tensor]) -> Callable[[Any, int, int], Tensor]:
    def pool(x: Any, window: int, stride: int) -> Tensor:
        x = lift(x)
        rows, cols = _taps(x.shape[1], window, stride, 1), _taps(x.shape[2], window, stride, 1)
        return reduce(stack([getitem(x, (slice(None), r, c)) for r in rows for c in cols]), 0)
    return pool


max_pool2d = _pool2d(lambda w, axis: max(w, axis))
avg_pool2d = _pool2d(lambda w, axis: mean(w, axis))


def tile(x: Any, reps: Sequence[int]) -> Tensor:
    """The vjp sums the copies: view the cotangent as (rep, size) pairs per axis."""
    x = lift(x)
    pairs = [n for r, size in zip(reps, x.shape) for n in (r, size)]
    return record("tile", np.tile(x.data, tuple(reps)), (x,),
                  lambda g: (sum(reshape(g, pairs), tuple(range(0, len(pairs), 2))),))


def take_along_axis(x: Any, indices: Any, axis: int) -> Tensor:
    x, indices = lift(x), lift(indices)
    idx = np.asarray(indices.data).astype(np.int64)
    return record("take_along_axis", np.take_along_axis(x.data, idx, axis=axis), (x, indices),
                  lambda g: (take_along_transpose(g, idx, axis, x.shape), None))


def take_along_transpose(g: Tensor, idx: np.ndarray, axis: int, shape: tuple[int, ...]) -> Tensor:
    """The vjp of take_along_axis: repeated picks accumulate."""
    grid = list(np.meshgrid(*[np.arange(n) for n in idx.shape], indexing="ij"))
    grid[axis % idx.ndim] = idx
    data = np.zeros(shape, dtype=g.dtype)
    np.add.at(data, tuple(grid), g.data)
    return record("take_along_transpose", data, (g,), lambda h: (take_along_axis(h, Tensor(idx), axis),))


def _compare(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Tensor]:
    return lambda a, b: Tensor(fn(lift(a).data, lift(b).data))


OPS: dict[str, Callable[..., Tensor]] = {
    "add": add, "sub": sub, "mul": mul, "div": div, "neg": neg, "pow": pow, "matmul": matmul, "dot": dot,
    "lt": _compare(np.less), "le": _compare(np.less_equal), "gt": _compare(np.greater),
    "ge": _compare(np.greater_equal), "eq": _compare(np.equal), "ne": _compare(np.not_equal),
    "exp": exp, "log": log, "sigmoid": sigmoid, "log_sigmoid": log_sigmoid, "tanh": tanh, "relu": relu,
    "square": square, "sqrt": sqrt, "abs": abs, "sum": sum, "mean": mean, "max": max,
    "maximum": maximum, "minimum": minimum, "where": where, "softmax": softmax, "log_softmax": log_softmax,
    "gather": gather, "reshape": reshape, "transpose": transpose, "getitem": getitem, "stack": stack,
    "concat": concat, "cast": cast, "max_pool1d": max_pool1d, "avg_pool1d": avg_pool1d,
    "sin": sin, "cos": cos, "tan": tan, "sinh": sinh, "cosh": cosh, "arcsin": arcsin, "arctan": arctan,
    "expm1": expm1, "log1p": log1p, "softplus": softplus, "sign": sign, "reciprocal": reciprocal,
    "rsqrt": rsqrt, "stop_gradient": stop_gradient, "min": min, "logsumexp": logsumexp, "var": var,
    "std": std, "norm": norm, "trace": trace, "broadcast_to": broadcast_to, "scatter_add": scatter_add,
    "pad": pad, "embedding": embedding, "cross_entropy": cross_entropy, "layer_norm": layer_norm,
    "erf": erf, "gelu": gelu, "prod": prod, "inv": inv, "solve": solve, "det": det, "slogdet": slogdet,
    "cholesky": cholesky, "einsum": einsum, "conv1d": conv1d, "conv2d": conv2d, "max_pool2d": max_pool2d,
    "avg_pool2d": avg_pool2d, "tile": tile, "take_along_axis": take_along_axis, "atan2": atan2,
    "no_gradient_op": no_gradient_op,
}


# -- graphs ---------------------------------------------------------------------------

class Graph:
    """A defined protocol graph, evaluated with some values replaced by leaves."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.inputs = [i["name"] for i in spec["inputs"]]
        self.nodes = list(spec["nodes"])
        self.outputs = dict(spec["outputs"])
        missing = sorted({n["op"] for n in self.nodes} - set(OPS))
        if missing:
            raise Unsupported(f"minirev does not implement op(s) {missing}")

    def key(self, name: str) -> str:
        """The input name or node id a source/target name refers to."""
        if name in self.outputs:
            return self.outputs[name]
        if name in self.inputs:
            return name
        raise LookupError(f"'{name}' is neither an output, a marked intermediate nor an input "
                          f"(have {sorted(self.outputs) + self.inputs})")

    def run(self, arrays: Mapping[str, np.ndarray], leaves: Mapping[str, Tensor]) -> dict[str, Tensor]:
        env = {name: leaves.get(name) or Tensor(arrays[name]) for name in self.inputs}
        for node in self.nodes:
            if node["id"] in leaves:
                env[node["id"]] = leaves[node["id"]]
                continue
            args = [self._arg(a, env) for a in node["args"]]
            attrs = dict(node.get("attrs", {}))
            if node["op"] == "getitem":
                attrs["index"] = decode_index(attrs["index"])
            env[node["id"]] = OPS[node["op"]](*args, **attrs)
        return env

    def _arg(self, arg: Mapping[str, Any], env: Mapping[str, Tensor]) -> Any:
        if "ref" in arg:
            return env[arg["ref"]]
        if "scalar" in arg:
            return Tensor(decode_scalar(arg["scalar"]))
        if "const" in arg:
            return Tensor(decode_array(arg["const"]))
        if "list" in arg:
            return [self._arg(a, env) for a in arg["list"]]
        raise ProtocolError(f"bad argument {arg!r}")


# -- requests ---------------------------------------------------------------------------

class Evaluation:
    """One evaluate message: a graph, its input arrays, and the request."""

    FIELDS = {"value": (), "grad": ("sources",), "vjp": ("sources", "cotangent"), "jvp": ("source", "tangent"),
              "hvp": ("source", "tangent"), "jacobian": ("source",), "hessian": ("source",),
              "derivatives": ("source", "order")}

    def __init__(self, graph: Graph, arrays: Mapping[str, np.ndarray], request: Mapping[str, Any]) -> None:
        kind = request.get("kind")
        if kind not in self.FIELDS:
            raise Unsupported(f"minirev does not answer '{kind}' requests")
        missing = [f for f in self.FIELDS[kind] if f not in request]
        if missing:
            raise ProtocolError(f"a '{kind}' request needs field(s) {missing}")
        self.graph, self.arrays, self.request = graph, arrays, request
        self.target = request.get("target", "y")

    def answer(self) -> list[Any]:
        return getattr(self, f"_{self.request['kind']}")()

    def function_of(self, source: str) -> tuple[Tensor, Tensor]:
        """(leaf, target): the target recomputed with ``source`` as a fresh leaf,
        so a marked intermediate is differentiated as a substituted value."""
        key = self.graph.key(source)
        base = self.arrays[key] if key in self.arrays else self.graph.run(self.arrays, {})[key].data
        x = leaf(base)
        return x, self.graph.run(self.arrays, {key: x})[self.graph.key(self.target)]

    def _value(self) -> list[Any]:
        return [np.asarray(self.graph.run(self.arrays, {})[self.graph.key(self.target)].data)]

    def _grad(self) -> list[Any]:
        return [self._reverse(s, None) for s in self.request["sources"]]

    def _vjp(self) -> list[Any]:
        cotangent = decode_array(self.request["cotangent"])
        return [self._reverse(s, cotangent) for s in self.request["sources"]]

    def _reverse(self, source: str, cotangent: np.ndarray | None) -> Any:
        x, y = self.function_of(source)
        g = grad(y, [x], self._seed(y, cotangent))[0]
        if g is None:
            return np.zeros_like(x.data) if self.request.get("unconnected") == "zero" else None
        return np.asarray(g.data)

    def _derivatives(self) -> list[Any]:
        x, y = self.function_of(self.request["source"])
        results: list[Any] = []
        f: Tensor | None = y
        for k in range(int(self.request["order"])):
            g = grad(f, [x], self._seed(f, None))[0] if f is not None else None
            results.append(None if g is None else np.asarray(g.data))
            f = sum(g) if g is not None else None
        return results

    def _jvp(self) -> list[Any]:
        x, y = self.function_of(self.request["source"])
        return [self._forward(x, y, self._tangent(x))]

    def _hvp(self) -> list[Any]:
        x, y = self.function_of(self.request["source"])
        g = grad(y, [x], self._seed(y, None))[0]
        return [np.zeros_like(x.data) if g is None else self._back(g, x, self._tangent(x))]

    def _jacobian(self) -> list[Any]:
        x, y = self.function_of(self.request["source"])
        if self.request.get("mode") == "forward":
            cols = [self._forward(x, y, _basis(x.data, i)) for i in range(x.data.size)]
            jac = np.stack(cols, axis=-1) if cols else np.zeros(y.shape + (0,), y.dtype)
        else:
            rows = [self._back(y, x, _basis(np.asarray(y.data), i)) for i in range(np.size(y.data))]
            jac = np.stack(rows) if rows else np.zeros((0,) + x.shape, x.dtype)
        return [jac.reshape(y.shape + x.shape)]

    def _hessian(self) -> list[Any]:
        x, y = self.function_of(self.request["source"])
        g = grad(y, [x], self._seed(y, None))[0]
        if g is None:
            return [np.zeros(x.shape + x.shape, x.dtype)]
        rows = [self._back(g, x, _basis(x.data, i)) for i in range(x.data.size)]
        return [np.stack(rows).reshape(x.shape + x.shape)]

    def _back(self, y: Tensor, x: Tensor, cotangent: np.ndarray) -> np.ndarray:
        g = grad(y, [x], Tensor(cotangent))[0]
        return np.zeros_like(x.data) if g is None else np.asarray(g.data)

    def _forward(self, x: Tensor, y: Tensor, tangent: np.ndarray) -> np.ndarray:
        """J t by transposing the vjp: g(u) = J^T u is linear in u, and J t is its vjp with t."""
        u = Tensor(np.zeros(y.shape, dtype=y.dtype), requires_grad=True)
        g = grad(y, [x], u)[0]
        out = grad(g, [u], Tensor(tangent.astype(x.dtype)))[0] if g is not None else None
        return np.zeros(y.shape, y.dtype) if out is None else np.asarray(out.data)

    def _tangent(self, x: Tensor) -> np.ndarray:
        tangent = decode_array(self.request["tangent"])
        if tangent.shape != x.shape:
            raise ShapeMismatchError(f"tangent shape {tangent.shape} does not match source shape {x.shape}")
        return tangent.astype(x.dtype)

    @staticmethod
    def _seed(y: Tensor, cotangent: np.ndarray | None) -> Tensor:
        if cotangent is None:
            if y.shape != ():
                raise NonScalarTargetError(f"the target has shape {y.shape}; a gradient needs a scalar "
                                           "target or a cotangent (vjp)")
            return Tensor(np.ones((), dtype=y.dtype))
        if cotangent.shape != y.shape:
            raise ShapeMismatchError(f"cotangent shape {cotangent.shape} does not match target shape {y.shape}")
        return Tensor(cotangent.astype(y.dtype))


def _basis(like: np.ndarray, i: int) -> np.ndarray:
    e = np.zeros(np.size(like), dtype=np.asarray(like).dtype)
    e[i] = 1
    return e.reshape(np.shape(like))


def _outcome(result: Any) -> dict[str, Any]:
    return {"absent": True} if result is None else {"value": encode_array(result)}


def _raised(exc: BaseException) -> dict[str, Any]:
    kind = next((k for cls, k in KINDS.items() if isinstance(exc, cls)), None)
    if kind is None and isinstance(exc, ValueError) and ("shape" in str(exc) or "broadcast" in str(exc)):
        kind = "ShapeMismatch"
    module = NAME if type(exc).__module__ in ("__main__", __name__) else type(exc).__module__
    return {"kind": kind or "Unclassified", "type": f"{module}.{type(exc).__qualname__}", "message": str(exc)}


# -- the server -----------------------------------------------------------------------

class Server:
    """Answers one message at a time; holds the defined graphs."""

    def __init__(self) -> None:
        self.graphs: dict[str, Graph] = {}

    def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = {"id": message.get("id")}
        try:
            reply.update(self._dispatch(message))
        except Unsupported as exc:
            reply["error"] = {"code": "unsupported", "message": str(exc)}
        except (ProtocolError, KeyError, TypeError, ValueError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            reply["error"] = {"code": "bad_request", "message": f"{type(exc).__name__}: {detail}"}
        return reply

    def _dispatch(self, message: Mapping[str, Any]) -> dict[str, Any]:
        kind = message.get("type")
        if kind == "start":
            if message.get("protocol") != PROTOCOL_VERSION:
                raise Unsupported(f"minirev speaks protocol {PROTOCOL_VERSION}, not {message.get('protocol')}")
            return {"protocol": PROTOCOL_VERSION, "name": NAME, "version": VERSION,
                    "capabilities": ["output_gradients", "unconnected_zero", "higher_order", "jacobian",
                                     "hessian", "forward_mode", "no_gradient_ops", "float16"],
                    "requests": list(REQUEST_KINDS),
                    "dtypes": ["float16", "float32", "float64", "int32", "int64"], "ops": sorted(OPS)}
        if kind == "define":
            self.graphs[message["graph"]] = Graph(message)
            return {}
        if kind == "evaluate":
            graph = self.graphs.get(message["graph"])
            if graph is None:
                raise ProtocolError(f"graph {message['graph']!r} is not defined")
            arrays = {k: decode_array(v) for k, v in message["inputs"].items()}
            missing = sorted(set(graph.inputs) - set(arrays))
            if missing:
                raise ProtocolError(f"evaluate lacks input(s) {missing}")
            evaluation = Evaluation(graph, arrays, message["request"])
            try:
                with np.errstate(all="ignore"):
                    results = evaluation.answer()
            except Exception as exc:  # the engine's own error is the request's outcome
                return {"raised": _raised(exc)}
            return {"outcomes": [_outcome(r) for r in results]}
        raise ProtocolError(f"unknown message type {kind!r}")


def serve(stdin: TextIO, stdout: TextIO) -> None:
    """One request line in, one reply line out, until end of input."""
    server = Server()
    for line in stdin:
        if not line.strip():
            continue
        try:
            message = loads(line)
        except ProtocolError as exc:
            reply: dict[str, Any] = {"id": None, "error": {"code": "bad_request", "message": str(exc)}}
        else:
            reply = server.handle(message)
        stdout.write(dumps(reply) + "\n")
        stdout.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)

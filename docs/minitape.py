"""minitape: a deliberately small tape-based reverse-mode engine on NumPy.

It stands in for "your library" in ``docs/tape_adapter_template.py``: a
recording framework with its own notions, which are not gradspec's.

- A ``Tensor(value, requires_grad=True)`` is recorded: every operation on it
  appends a node with the vector-Jacobian products of its inputs.  There are
  no variable objects, no trainable flag and no switch for automatic watching.
- ``grad(target, sources, seed=None)`` walks the recording back from the
  target and then frees it: a second ``grad`` through the same nodes raises.
  There is no persistent mode.
- A source the target does not depend on gets ``None``; a non-scalar target
  needs a ``seed``; only floating-point tensors can require grad.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__version__ = "0.1"

Vjp = Callable[[np.ndarray], np.ndarray]


class Tensor:
    """A value and, when it requires grad, how it was computed."""

    __array_priority__ = 1000  # NumPy defers `ndarray * Tensor` to Tensor.__rmul__

    def __init__(self, value: Any, requires_grad: bool = False,
                 parents: Sequence[tuple["Tensor", Vjp]] = ()) -> None:
        self.value = np.asarray(value)
        if requires_grad and self.value.dtype.kind not in "fc":
            raise TypeError(f"minitape: only floating-point tensors can require grad, not {self.value.dtype}")
        self.parents = tuple(parents)
        self.requires_grad = requires_grad or bool(self.parents)
        self.freed = False

    shape = property(lambda self: self.value.shape)
    dtype = property(lambda self: self.value.dtype)

    def __repr__(self) -> str:
        return f"Tensor({self.value!r}, requires_grad={self.requires_grad})"

    def __add__(self, other: Any) -> "Tensor":
        return _binary(self, other, np.add, lambda g, a, b: g, lambda g, a, b: g)

    def __sub__(self, other: Any) -> "Tensor":
        return _binary(self, other, np.subtract, lambda g, a, b: g, lambda g, a, b: -g)

    def __mul__(self, other: Any) -> "Tensor":
        return _binary(self, other, np.multiply, lambda g, a, b: g * b, lambda g, a, b: g * a)

    def __truediv__(self, other: Any) -> "Tensor":
        return _binary(self, other, np.divide, lambda g, a, b: g / b, lambda g, a, b: -g * a / (b * b))

    def __pow__(self, other: Any) -> "Tensor":
        return _binary(self, other, np.power, lambda g, a, b: g * b * a ** (b - 1),
                       lambda g, a, b: g * np.log(a) * a ** b)

    def __radd__(self, other: Any) -> "Tensor":
        return _lift(other, self) + self

    def __rsub__(self, other: Any) -> "Tensor":
        return _lift(other, self) - self

    def __rmul__(self, other: Any) -> "Tensor":
        return _lift(other, self) * self

    def __rtruediv__(self, other: Any) -> "Tensor":
        return _lift(other, self) / self

    def __rpow__(self, other: Any) -> "Tensor":
        return _lift(other, self) ** self

    def __neg__(self) -> "Tensor":
        return _unary(self, np.negative(self.value), lambda g: -g)

    def __getitem__(self, index: Any) -> "Tensor":
        def vjp(g: np.ndarray) -> np.ndarray:
            out = np.zeros_like(self.value)
            np.add.at(out, index, g)
            return out
        return _unary(self, self.value[index], vjp)


def _lift(value: Any, like: Tensor) -> Tensor:
    """A Python or NumPy constant as a tensor of ``like``'s dtype (Python scalars are weak)."""
    arr = np.asarray(value)
    return Tensor(arr.astype(like.dtype) if arr.ndim == 0 and isinstance(value, (int, float)) else arr)


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient back to the operand's shape."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _unary(x: Tensor, value: Any, vjp: Vjp) -> Tensor:
    return Tensor(value, parents=[(x, vjp)] if x.requires_grad else [])


def _binary(a: Tensor, other: Any, f: Callable[..., Any], da: Callable[..., Any], db: Callable[..., Any]) -> Tensor:
    b = other if isinstance(other, Tensor) else _lift(other, a)
    av, bv = a.value, b.value
    parents = [(t, (lambda d, t=t: lambda g: _unbroadcast(d(g, av, bv), t.shape))(d))
               for t, d in ((a, da), (b, db)) if t.requires_grad]
    return Tensor(f(av, bv), parents=parents)


def exp(x: Tensor) -> Tensor:
    y = np.exp(x.value)
    return _unary(x, y, lambda g: g * y)


def log(x: Tensor) -> Tensor:
    return _unary(x, np.log(x.value), lambda g: g / x.value)


def tanh(x: Tensor) -> Tensor:
    y = np.tanh(x.value)
    return _unary(x, y, lambda g: g * (1 - y * y))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), evaluated without overflow on either side."""
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x.value))
    y = np.where(x.value >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
    return _unary(x, y, lambda g: g * y * (1 - y))


def sqrt(x: Tensor) -> Tensor:
    y = np.sqrt(x.value)
    return _unary(x, y, lambda g: g / (2 * y))


def sum(x: Tensor, axis: Any = None) -> Tensor:  # noqa: A001 - NumPy's name
    def vjp(g: np.ndarray) -> np.ndarray:
        return np.broadcast_to(g if axis is None else np.expand_dims(g, axis), x.shape).copy()
    return _unary(x, np.sum(x.value, axis=axis), vjp)


def mean(x: Tensor, axis: Any = None) -> Tensor:
    count = x.value.size // max(np.size(np.sum(x.value, axis=axis)), 1)
    return sum(x, axis) / count


def grad(target: Tensor, sources: Sequence[Tensor], seed: Any = None) -> list[np.ndarray | None]:
    """d target / d source for each source (None where it does not depend on it),
    then free the recording behind ``target``."""
    if target.freed:
        raise RuntimeError("minitape: this recording was freed by an earlier grad()")
    if seed is None:
        if target.value.size != 1:
            raise ValueError(f"minitape: grad of a non-scalar target (shape {target.shape}) needs a seed")
        seed = np.ones_like(target.value)
    order = _topological(target)
    grads: dict[int, np.ndarray] = {id(target): np.asarray(seed, dtype=target.dtype)}
    for node in reversed(order):
        g = grads.get(id(node))
        for parent, vjp in node.parents if g is not None else ():
            contribution = vjp(g).astype(parent.dtype, copy=False)
            grads[id(parent)] = grads[id(parent)] + contribution if id(parent) in grads else contribution
    for node in order:  # a single-use recording: the graph goes, leaves stay usable
        if node.parents:
            node.parents, node.freed = (), True
    return [grads.get(id(s)) for s in sources]


def _topological(target: Tensor) -> list[Tensor]:
    """Nodes reachable from ``target``, each after its parents (iterative: deep loops recurse)."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(target, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p, _ in node.parents if id(p) not in seen)
    return order

"""The float64 finite-difference oracle.

Derivatives by five-point central differences (error O(h^4)); where the
stencils at h and h/2 differ by more than rounding explains, they are combined
by Richardson extrapolation, (16 D(h/2) - D(h)) / 15, which cancels the h^4
term (error O(h^6)); nested (higher-order) differences keep the plain stencil.  The step is chosen per element from its
scale: h = eps**(1/5) * max(|x|, 1/64) (the floor keeps the step finite at
x = 0 while staying small next to features of small inputs, like log near
0.1).  A step set by |x| is coarse where the function varies on a much smaller
scale than x itself (an offset input: std of [17.0, 17.37, 17.74]); there the
plain stencil errs by ~1e-8, the extrapolated one by ~1e-11.  Used only at
smooth points: kinks, ties and singular points are implementation-defined cases
with explicit outcomes.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from . import numpy_ops
from .adapter import FunctionalAdapter
from .outcomes import ErrorKind, Unsupported
from .program import RunContext

STEP_SCALE = np.finfo(np.float64).eps ** 0.2
STEP_FLOOR = 1.0 / 64


def step(scale: float) -> float:
    """The finite-difference step for an input of magnitude ``scale``."""
    return STEP_SCALE * max(abs(scale), STEP_FLOOR)


_STENCIL = ((-2.0, 1.0), (-1.0, -8.0), (1.0, 8.0), (2.0, -1.0))  # (offset, weight) / 12h


_NESTING = {"open": 0, "taken": 0}  # derivatives being taken now, and taken so far, in this process
EPS = np.finfo(np.float64).eps


def _extrapolated(g: Callable[[float], np.ndarray], h: float) -> np.ndarray:
    """d/ds g(s) at 0.  The five-point stencil at h and at h/2; where the two differ by
    more than rounding can explain (the function varies on a smaller scale than the
    step), the Richardson extrapolation (16 D(h/2) - D(h)) / 15, else D(h), which
    carries half the rounding noise.  Inside a higher order (a difference of
    differences) the plain stencil at h is kept at every level, since a second
    evaluation would only add noise for the outer level to amplify; nested orders are
    judged with the tolerance floors of gradspec.tolerance."""
    def stencil(k: float) -> tuple[np.ndarray, np.ndarray]:
        values = [(w, np.asarray(g(o * k), dtype=np.float64)) for o, w in _STENCIL]
        size = np.max([np.abs(v) for _, v in values], axis=0)
        return sum(w * v for w, v in values) / (12.0 * k), size

    inside_another = _NESTING["open"] > 0
    _NESTING["open"] += 1
    _NESTING["taken"] += 1
    taken = _NESTING["taken"]
    try:
        coarse, size = stencil(h)
        if inside_another or _NESTING["taken"] != taken:  # part of a higher order
            return coarse
        fine, _ = stencil(h / 2)
        rounding = 64 * EPS * np.maximum(size, np.finfo(np.float64).tiny) / h  # |weights| 18/12 * 2/h, with room
        return np.where(np.abs(fine - coarse) > rounding, (16.0 * fine - coarse) / 15.0, coarse)
    finally:
        _NESTING["open"] -= 1


class NonScalarTargetError(ValueError):
    """The oracle's grad, like a functional framework's, needs a scalar target."""


class NotDifferentiableError(TypeError):
    """Finite differences need a floating-point source."""


def directional(f: Callable[[np.ndarray], Any], x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d/ds f(x + s t) at s = 0, by the five-point stencil."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    norm = float(np.max(np.abs(t))) if t.size else 0.0
    if norm == 0.0:
        return np.zeros_like(np.asarray(f(x), dtype=np.float64))
    h = step(float(np.max(np.abs(x))) if x.size else 1.0) / norm
    return _extrapolated(lambda s: f(x + s * t), h)


def jacobian(f: Callable[[np.ndarray], Any], x: np.ndarray) -> np.ndarray:
    """Full Jacobian, shape f(x).shape + x.shape, one column per element of x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(f(x), dtype=np.float64)
    cols = []
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = 1.0
        direction = e.reshape(x.shape)
        cols.append(_extrapolated(lambda s: f(x + s * direction), step(float(x.reshape(-1)[i]))))
    if not cols:
        return np.zeros(y.shape + x.shape)
    return np.stack(cols, axis=-1).reshape(y.shape + x.shape)


class FiniteDifferenceOracle(FunctionalAdapter):
    """NumPy float64 forward evaluation with finite-difference derivatives.

    Every dtype runs in float64 on the item's (rounded) inputs; answers are
    cast back to the item's dtype so the dtype contract reads the same as for
    a framework.  ``exact=True`` keeps float64 answers (for expected values).
    """

    name: ClassVar[str] = "numpy"
    distribution: ClassVar[str | None] = "numpy"
    module: ClassVar[str | None] = "numpy"
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = numpy_ops.VOCABULARY
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "output_gradients", "unconnected_zero", "higher_order", "jacobian", "hessian", "forward_mode",
        "control_flow_ops", "checkpoint", "python_control_flow",
    })
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact

    def asarray(self, array: np.ndarray, ctx: RunContext) -> Any:
        arr = np.asarray(array)
        return arr.astype(np.float64) if arr.dtype.kind == "f" or arr.dtype.name == "bfloat16" else arr

    def to_numpy(self, native: Any) -> np.ndarray:
        arr = np.asarray(native)
        if self.exact or arr.dtype.kind != "f":
            return arr
        return arr.astype(self._ctx.dtype)

    def _check_source(self, x: Any) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype.kind not in "f":
            raise NotDifferentiableError(f"cannot differentiate with respect to a {arr.dtype} source")
        return arr

    def grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        x = self._check_source(x)
        if np.ndim(f(x)) != 0:
            raise NonScalarTargetError("the target is not a scalar; give an output gradient")
        return jacobian(f, x)

    def vjp(self, f: Callable[[Any], Any], x: Any, cotangent: Any) -> Any:
        x = self._check_source(x)
        c = np.asarray(cotangent, dtype=np.float64)
        return np.tensordot(c, jacobian(f, x), axes=c.ndim)

    def jvp(self, f: Callable[[Any], Any], x: Any, tangent: Any) -> Any:
        return directional(f, self._check_source(x), tangent)

    def jacobian(self, f: Callable[[Any], Any], x: Any, mode: str) -> np.ndarray:
        return self.to_numpy(jacobian(f, self._check_source(x)))

    def hessian(self, f: Callable[[Any], Any], x: Any) -> np.ndarray:
        x = self._check_source(x)
        return self.to_numpy(jacobian(lambda v: jacobian(f, v), x))

    def sum(self, x: Any) -> Any:
        return np.sum(x)

    def classify(self, exc: BaseException) -> ErrorKind:
        if isinstance(exc, NonScalarTargetError):
            return ErrorKind.NonScalarTarget
        if isinstance(exc, NotDifferentiableError):
            return ErrorKind.NotDifferentiableDType
        if isinstance(exc, ValueError) and "shape" in str(exc):
            return ErrorKind.ShapeMismatch
        return ErrorKind.Unclassified

    def vmap_grad(self, f: Callable[[Any], Any], x: Any) -> Any:
        raise Unsupported("the oracle does not batch")

"""The neutral op vocabulary, defined by its float64 NumPy reference.

Each function's docstring is the op's specification; every adapter maps the
same names onto its framework.  Layouts follow the channels-last convention:
1-D pooling takes (batch, length, channels).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special


def sum(x: Any, axis: Any = None) -> Any:  # noqa: A001 - the vocabulary name
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    return np.sum(x, axis=axis)


def mean(x: Any, axis: Any = None) -> Any:
    """Arithmetic mean over ``axis``."""
    return np.mean(x, axis=axis)


def matmul(a: Any, b: Any) -> Any:
    """Matrix product with NumPy broadcasting of batch dimensions."""
    return np.matmul(a, b)


def dot(a: Any, b: Any) -> Any:
    """Inner product of two vectors."""
    return np.sum(a * b)


def exp(x: Any) -> Any:
    """e**x elementwise."""
    return np.exp(x)


def log(x: Any) -> Any:
    """Natural logarithm elementwise."""
    return np.log(x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)) elementwise."""
    return special.expit(x)


def log_sigmoid(x: Any) -> Any:
    """log(sigmoid(x)) elementwise, computed stably."""
    return -np.logaddexp(0.0, -x)


def relu(x: Any) -> Any:
    """max(x, 0) elementwise."""
    return np.maximum(x, 0)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent elementwise."""
    return np.tanh(x)


def square(x: Any) -> Any:
    """x*x elementwise."""
    return x * x


def sqrt(x: Any) -> Any:
    """Square root elementwise."""
    return np.sqrt(x)


def abs(x: Any) -> Any:  # noqa: A001
    """Absolute value elementwise."""
    return np.abs(x)


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along ``axis``."""
    return special.softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """log(softmax(x)) along ``axis``."""
    return special.log_softmax(x, axis=axis)


def gather(params: Any, indices: Any) -> Any:
    """Rows of ``params`` (axis 0) at integer ``indices``; repeats allowed."""
    return np.take(params, np.asarray(indices), axis=0)


def reshape(x: Any, shape: Any) -> Any:
    """The same elements in a new shape (C order)."""
    return np.reshape(x, shape)


def transpose(x: Any) -> Any:
    """Reverse the axes."""
    return np.transpose(x)


def stack(xs: Any, axis: int = 0) -> Any:
    """Join equal-shaped arrays along a new axis."""
    return np.stack(xs, axis=axis)


def concat(xs: Any, axis: int = 0) -> Any:
    """Join arrays along an existing axis."""
    return np.concatenate(xs, axis=axis)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` else ``b``, elementwise."""
    return np.where(cond, a, b)


def maximum(a: Any, b: Any) -> Any:
    """Elementwise maximum with broadcasting."""
    return np.maximum(a, b)


def minimum(a: Any, b: Any) -> Any:
    """Elementwise minimum with broadcasting."""
    return np.minimum(a, b)


def max(x: Any, axis: Any = None) -> Any:  # noqa: A001
    """Maximum over ``axis``."""
    return np.max(x, axis=axis)


def _windows(x: Any, window: int, stride: int) -> Any:
    batch, length, channels = np.shape(x)
    starts = range(0, length - window + 1, stride)
    return [x[:, s:s + window, :] for s in starts]


def max_pool1d(x: Any, window: int, stride: int) -> Any:
    """Max over windows of ``window`` time steps moving by ``stride``, valid
    padding, input (batch, length, channels)."""
    return np.stack([np.max(w, axis=1) for w in _windows(x, window, stride)], axis=1)


def avg_pool1d(x: Any, window: int, stride: int) -> Any:
    """Mean over windows, like max_pool1d."""
    return np.stack([np.mean(w, axis=1) for w in _windows(x, window, stride)], axis=1)


def cast(x: Any, dtype: str) -> Any:
    """Convert to ``dtype`` (a gradspec dtype name)."""
    return np.asarray(x).astype(dtype)


VOCABULARY: dict[str, Any] = {
    name: fn for name, fn in dict(globals()).items()
    if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", None) == __name__
}

"""The neutral op vocabulary, defined by its float64 NumPy reference.

Each function's docstring is the op's specification; every adapter maps the
same names onto its framework.  Layouts follow the channels-last convention:
1-D pooling takes (batch, length, channels).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .outcomes import Unsupported


@functools.cache
def _special() -> Any:
    """scipy.special, imported on first use: it costs 0.3 s, and collecting the
    suite (which loads this module through the oracle adapter) needs none of it."""
    from scipy import special

    return special


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
    return _special().expit(x)


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
    return _special().softmax(x, axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """log(softmax(x)) along ``axis``."""
    return _special().log_softmax(x, axis=axis)


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


def max_with_index(x: Any, axis: int) -> Any:
    """The values of a maximum along one axis taken through an API that also
    returns the argmax (``torch.max(x, dim)``); ``max`` is the plain reduction."""
    return np.max(x, axis=axis)


def min_with_index(x: Any, axis: int) -> Any:
    """The values of a minimum along one axis that also returns the argmin (``torch.min(x, dim)``)."""
    return np.min(x, axis=axis)


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



# -- elementwise unary (issue 3) -------------------------------------------------
def neg(x: Any) -> Any:
    """-x elementwise."""
    return np.negative(x)


def expm1(x: Any) -> Any:
    """exp(x) - 1 elementwise, accurate near 0."""
    return np.expm1(x)


def log1p(x: Any) -> Any:
    """log(1 + x) elementwise, accurate near 0."""
    return np.log1p(x)


def rsqrt(x: Any) -> Any:
    """1 / sqrt(x) elementwise."""
    return 1.0 / np.sqrt(x)


def sin(x: Any) -> Any:
    """Sine elementwise (radians)."""
    return np.sin(x)


def cos(x: Any) -> Any:
    """Cosine elementwise (radians)."""
    return np.cos(x)


def tan(x: Any) -> Any:
    """Tangent elementwise (radians)."""
    return np.tan(x)


def sinh(x: Any) -> Any:
    """Hyperbolic sine elementwise."""
    return np.sinh(x)


def cosh(x: Any) -> Any:
    """Hyperbolic cosine elementwise."""
    return np.cosh(x)


def arcsin(x: Any) -> Any:
    """Inverse sine elementwise, on (-1, 1)."""
    return np.arcsin(x)


def arctan(x: Any) -> Any:
    """Inverse tangent elementwise."""
    return np.arctan(x)


def softplus(x: Any) -> Any:
    """log(1 + exp(x)) elementwise, computed stably (finite for large x)."""
    return np.logaddexp(0.0, x)


def gelu(x: Any) -> Any:
    """The exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))), not the tanh approximation."""
    return 0.5 * x * (1.0 + _special().erf(x / np.sqrt(2.0)))


def erf(x: Any) -> Any:
    """The error function elementwise."""
    return _special().erf(x)


def reciprocal(x: Any) -> Any:
    """1 / x elementwise."""
    return 1.0 / x


def sign(x: Any) -> Any:
    """-1, 0 or 1 by the sign of x; its derivative is 0 wherever x != 0."""
    return np.sign(x)


def real(z: Any) -> Any:
    """The real part of a complex array."""
    return np.real(z)


def imag(z: Any) -> Any:
    """The imaginary part of a complex array."""
    return np.imag(z)


def conj(z: Any) -> Any:
    """The complex conjugate elementwise."""
    return np.conj(z)


# -- elementwise binary with NumPy broadcasting -----------------------------------
def add(a: Any, b: Any) -> Any:
    """a + b with broadcasting."""
    return np.add(a, b)


def sub(a: Any, b: Any) -> Any:
    """a - b with broadcasting."""
    return np.subtract(a, b)


def mul(a: Any, b: Any) -> Any:
    """a * b with broadcasting."""
    return np.multiply(a, b)


def div(a: Any, b: Any) -> Any:
    """a / b (true division) with broadcasting."""
    return np.divide(a, b)


def pow(a: Any, b: Any) -> Any:  # noqa: A001
    """a ** b with broadcasting (real result for a > 0)."""
    return np.power(a, b)


def atan2(y: Any, x: Any) -> Any:
    """The angle of the point (x, y): arctan(y / x) in the right quadrant, with broadcasting."""
    return np.arctan2(y, x)


# -- reductions: axis is an int, a tuple of ints, or None for all ----------------
def prod(x: Any, axis: Any = None) -> Any:
    """Product over ``axis``."""
    return np.prod(x, axis=axis)


def min(x: Any, axis: Any = None) -> Any:  # noqa: A001
    """Minimum over ``axis``."""
    return np.min(x, axis=axis)


def logsumexp(x: Any, axis: Any = None) -> Any:
    """log(sum(exp(x))) over ``axis``, computed stably."""
    return _special().logsumexp(x, axis=axis)


def var(x: Any, axis: Any = None) -> Any:
    """Population variance (divisor n, no Bessel correction) over ``axis``."""
    return np.var(x, axis=axis)


def std(x: Any, axis: Any = None) -> Any:
    """Population standard deviation (divisor n) over ``axis``."""
    return np.std(x, axis=axis)


def norm(x: Any, axis: Any = None) -> Any:
    """Euclidean norm sqrt(sum(x**2)) over ``axis`` (an int, a pair of axes, or None for all)."""
    return np.sqrt(np.sum(x * x, axis=axis))


# -- linear algebra ---------------------------------------------------------------
def einsum(subscripts: str, *operands: Any) -> Any:
    """Einstein summation as numpy.einsum, in explicit form ('ij,jk->ik')."""
    return np.einsum(subscripts, *operands)


def solve(a: Any, b: Any) -> Any:
    """x with a @ x = b, for a square non-singular ``a`` and a matrix ``b``."""
    return np.linalg.solve(a, b)


def inv(x: Any) -> Any:
    """The inverse of a square non-singular matrix (batched over leading axes)."""
    return np.linalg.inv(x)


def det(x: Any) -> Any:
    """The determinant of a square matrix (batched over leading axes)."""
    return np.linalg.det(x)


def slogdet(x: Any) -> Any:
    """log|det(x)| of a square non-singular matrix (the sign part has no derivative)."""
    return np.linalg.slogdet(x)[1]


def cholesky(x: Any) -> Any:
    """The lower-triangular L with L @ L.T = x, for a symmetric positive-definite x.
    Frameworks read different triangles of x, so cases feed it an exactly symmetric matrix."""
    return np.linalg.cholesky(x)


def trace(x: Any) -> Any:
    """The sum of the main diagonal of a 2-D matrix."""
    return np.trace(x)


# -- shape and indexing -----------------------------------------------------------
def split(x: Any, sections: int, axis: int = 0) -> Any:
    """``sections`` equal parts along ``axis``, as a list."""
    return np.split(x, sections, axis=axis)


def take_along_axis(x: Any, indices: Any, axis: int) -> Any:
    """Elements of x picked by integer ``indices`` of the same rank along ``axis``."""
    return np.take_along_axis(x, np.asarray(indices), axis=axis)


def scatter_add(x: Any, indices: Any, updates: Any) -> Any:
    """x with updates[i] added to row indices[i] (axis 0); repeated indices accumulate."""
    out = np.array(x, copy=True)
    np.add.at(out, np.asarray(indices), updates)
    return out


def pad(x: Any, widths: Any) -> Any:
    """Zero padding: ``widths`` is one (before, after) pair per axis."""
    return np.pad(x, [tuple(w) for w in widths], mode="constant")


def tile(x: Any, reps: Any) -> Any:
    """x repeated ``reps`` times along each axis (len(reps) == x.ndim)."""
    return np.tile(x, reps)


def broadcast_to(x: Any, shape: Any) -> Any:
    """x broadcast to ``shape`` by NumPy's rules (the gradient sums over broadcast axes)."""
    return np.broadcast_to(x, tuple(shape))


# -- neural-network ops (channels last) -------------------------------------------
def cross_entropy(logits: Any, labels: Any) -> Any:
    """Mean over the batch of -log softmax(logits)[i, labels[i]]; logits (batch, classes),
    integer labels (batch,)."""
    logp = _special().log_softmax(logits, axis=-1)
    labels = np.asarray(labels)
    return -np.mean(logp[np.arange(labels.shape[0]), labels])


def layer_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> Any:
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis (population variance)."""
    mu = np.mean(x, axis=-1, keepdims=True)
    v = np.var(x, axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(v + eps) * gamma + beta


def _taps(length: int, kernel: int, stride: int, dilation: int) -> tuple[int, list[slice]]:
    """Output length and, per kernel tap k, the input positions i*stride + k*dilation."""
    out = (length - dilation * (kernel - 1) - 1) // stride + 1
    return out, [slice(k * dilation, k * dilation + stride * (out - 1) + 1, stride) for k in range(kernel)]


def conv1d(x: Any, w: Any, stride: int = 1, padding: int = 0, dilation: int = 1) -> Any:
    """Cross-correlation: x (batch, length, in), w (kernel, in, out), ``padding`` zeros at both
    ends; out[n, i, o] = sum_{k,c} xpad[n, i*stride + k*dilation, c] w[k, c, o]."""
    xp = np.pad(x, ((0, 0), (padding, padding), (0, 0)))
    _, taps = _taps(xp.shape[1], w.shape[0], stride, dilation)
    return np.sum([np.einsum("nlc,co->nlo", xp[:, s, :], w[k]) for k, s in enumerate(taps)], axis=0)


def conv2d(x: Any, w: Any, stride: int = 1, padding: int = 0, dilation: int = 1) -> Any:
    """2-D cross-correlation: x (batch, height, width, in), w (kh, kw, in, out), with the same
    stride, zero padding and dilation on both spatial axes."""
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    _, rows = _taps(xp.shape[1], w.shape[0], stride, dilation)
    _, cols = _taps(xp.shape[2], w.shape[1], stride, dilation)
    return np.sum([np.einsum("nhwc,co->nhwo", xp[:, r, c, :], w[i, j])
                   for i, r in enumerate(rows) for j, c in enumerate(cols)], axis=0)


def _pool2d(x: Any, window: int, stride: int) -> Any:
    """(window*window, batch, out_h, out_w, channels): the valid windows' taps."""
    _, rows = _taps(np.shape(x)[1], window, stride, 1)
    _, cols = _taps(np.shape(x)[2], window, stride, 1)
    return np.stack([x[:, r, c, :] for r in rows for c in cols])


def max_pool2d(x: Any, window: int, stride: int) -> Any:
    """Max over window x window patches moving by ``stride``, valid padding, input
    (batch, height, width, channels)."""
    return np.max(_pool2d(x, window, stride), axis=0)


def avg_pool2d(x: Any, window: int, stride: int) -> Any:
    """Mean over patches, like max_pool2d."""
    return np.mean(_pool2d(x, window, stride), axis=0)


def embedding(table: Any, ids: Any) -> Any:
    """Rows of ``table`` (vocabulary, features) at integer ``ids`` of any shape."""
    return np.take(table, np.asarray(ids), axis=0)


def embedding_sparse(table: Any, ids: Any) -> Any:
    """Rows of ``table`` at ``ids``, through the framework's opt-in for a sparse gradient
    of the table (``torch.nn.functional.embedding(..., sparse=True)``); same values as
    ``embedding``."""
    return np.take(table, np.asarray(ids), axis=0)


# -- control flow and custom rules ------------------------------------------------
def cond(pred: Any, true_fn: Any, false_fn: Any, x: Any) -> Any:
    """The framework's conditional: true_fn(x) if pred else false_fn(x); only the taken
    branch is differentiated."""
    return true_fn(x) if bool(pred) else false_fn(x)


def fori_loop(n: int, fn: Any, x: Any) -> Any:
    """The framework's loop (while/scan): fn applied ``n`` times to x."""
    for _ in range(n):
        x = fn(x)
    return x


def while_loop(cond_fn: Any, fn: Any, x: Any) -> Any:
    """The framework's while loop: fn applied to x while cond_fn(x) holds, so the trip
    count depends on the value (lax.while_loop, tf.while_loop)."""
    while bool(cond_fn(x)):
        x = fn(x)
    return x


def stop_gradient(x: Any) -> Any:
    """Identity forward; its derivative is zero (gradients do not flow through it).
    Finite differences cannot stop a gradient, so the reference refuses (UNSUPPORTED)."""
    raise Unsupported("finite differences see through stop_gradient; the oracle cannot express it")


def clipped_square(x: Any) -> Any:
    """x**2 whose gradient is replaced by a custom rule: clip(2x, -1, 1) times the
    incoming gradient.  The forward value is plain NumPy; the rule needs custom_gradient."""
    return x * x


def checkpoint(fn: Any, x: Any) -> Any:
    """fn(x) whose intermediates are recomputed in the backward pass (rematerialisation);
    values and gradients are those of fn(x)."""
    return fn(x)


def add_inplace(t: Any, v: Any) -> Any:
    """t += v in place, returning t (only frameworks with in-place ops map it)."""
    np.add(t, v, out=t)
    return t


VOCABULARY: dict[str, Any] = {
    name: fn for name, fn in dict(globals()).items()
    if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", None) == __name__
}

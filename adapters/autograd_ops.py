"""The neutral op vocabulary (gradspec.numpy_ops) on HIPS autograd's autograd.numpy / autograd.scipy.

Autograd has no neural-network namespace, so sigmoid, softmax and the pools
are written with autograd.numpy primitives the way autograd's own tutorial and
examples write them; their gradients (and tie rules) are then autograd's.
There is no ``relu``: a case about a framework's own relu is UNSUPPORTED here,
and ``maximum(x, 0)`` is a case of its own.  Nothing here imports autograd at module import: ``OPS`` builds
the mapping on first use.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradspec.adapter import LazyOps
from gradspec.outcomes import Unsupported

Op = Callable[..., Any]


def build_ops() -> dict[str, Op]:
    """Every vocabulary name mapped onto autograd-differentiable code."""
    import autograd.numpy as anp
    from autograd import checkpoint
    from autograd.extend import defvjp, primitive
    from autograd.scipy.special import erf, logsumexp
    from autograd.tracer import getval

    def windows(x: Any, window: int, stride: int) -> Any:
        """(batch, windows, window, channels): the pooling windows stacked on a new axis."""
        starts = range(0, anp.shape(x)[1] - window + 1, stride)
        return anp.stack([x[:, s:s + window, :] for s in starts], axis=1)

    def max_pool1d(x: Any, window: int, stride: int) -> Any:
        # np.max's gradient in autograd splits evenly among tied maxima
        return anp.max(windows(x, window, stride), axis=2)

    def avg_pool1d(x: Any, window: int, stride: int) -> Any:
        return anp.mean(windows(x, window, stride), axis=2)

    def unsupported(op: str, why: str) -> Op:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise Unsupported(f"autograd has no {op}: {why}")
        return refuse

    def taps(length: int, kernel: int, stride: int, dilation: int) -> list[slice]:
        out = (length - dilation * (kernel - 1) - 1) // stride + 1
        return [slice(k * dilation, k * dilation + stride * (out - 1) + 1, stride) for k in range(kernel)]

    def conv1d(x: Any, w: Any, stride: int = 1, padding: int = 0, dilation: int = 1) -> Any:
        """No conv op for this layout: strided slices and anp.einsum, one kernel tap at a time."""
        xp = anp.pad(x, ((0, 0), (padding, padding), (0, 0)), mode="constant")
        return sum(anp.einsum("nlc,co->nlo", xp[:, s, :], w[k])
                   for k, s in enumerate(taps(anp.shape(xp)[1], anp.shape(w)[0], stride, dilation)))

    def conv2d(x: Any, w: Any, stride: int = 1, padding: int = 0, dilation: int = 1) -> Any:
        xp = anp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode="constant")
        rows = taps(anp.shape(xp)[1], anp.shape(w)[0], stride, dilation)
        cols = taps(anp.shape(xp)[2], anp.shape(w)[1], stride, dilation)
        return sum(anp.einsum("nhwc,co->nhwo", xp[:, r, c, :], w[i, j])
                   for i, r in enumerate(rows) for j, c in enumerate(cols))

    def patches(x: Any, window: int, stride: int) -> Any:
        rows = taps(anp.shape(x)[1], window, stride, 1)
        cols = taps(anp.shape(x)[2], window, stride, 1)
        return anp.stack([x[:, r, c, :] for r in rows for c in cols])

    def cross_entropy(logits: Any, labels: Any) -> Any:
        logp = logits - logsumexp(logits, axis=-1, keepdims=True)
        labels = np.asarray(labels)
        return -anp.mean(logp[np.arange(labels.shape[0]), labels])

    def layer_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> Any:
        mu = anp.mean(x, axis=-1, keepdims=True)
        v = anp.var(x, axis=-1, keepdims=True)
        return (x - mu) / anp.sqrt(v + eps) * gamma + beta

    def take_along_axis(x: Any, indices: Any, axis: int) -> Any:
        """NumPy's own definition, fancy indexing: autograd has no take_along_axis primitive,
        but indexing is one (its VJP scatter-adds repeated picks)."""
        indices = np.asarray(indices)
        index = list(np.ix_(*[np.arange(n) for n in anp.shape(x)]))
        index[axis] = indices
        return x[tuple(index)]

    @primitive
    def clipped_square(x: Any) -> Any:
        return x * x

    defvjp(clipped_square, lambda ans, x: lambda g: anp.clip(2 * x, -1, 1) * g)

    ops: dict[str, Op] = {
        "sum": lambda x, axis=None: anp.sum(x, axis=axis),
        "mean": lambda x, axis=None: anp.mean(x, axis=axis),
        "matmul": anp.matmul,
        "dot": lambda a, b: anp.sum(a * b),
        "exp": anp.exp,
        "log": anp.log,
        # the tutorial's logistic function; unlike autograd.scipy.special.expit it has a JVP
        "sigmoid": lambda x: 0.5 * (anp.tanh(x / 2.0) + 1.0),
        "log_sigmoid": lambda x: -anp.logaddexp(0.0, -x),
        "tanh": anp.tanh,
        "square": anp.square,
        "sqrt": anp.sqrt,
        "abs": anp.abs,
        "softmax": lambda x, axis=-1: anp.exp(x - logsumexp(x, axis=axis, keepdims=True)),
        "log_softmax": lambda x, axis=-1: x - logsumexp(x, axis=axis, keepdims=True),
        # indexing, not anp.take: autograd defines no gradient for take
        "gather": lambda params, indices: params[np.asarray(indices)],
        "reshape": anp.reshape,
        "transpose": anp.transpose,
        "stack": lambda xs, axis=0: anp.stack(xs, axis=axis),
        "concat": lambda xs, axis=0: anp.concatenate(xs, axis=axis),
        "where": anp.where,
        "maximum": anp.maximum,
        "minimum": anp.minimum,
        "max": lambda x, axis=None: anp.max(x, axis=axis),
        "max_pool1d": max_pool1d,
        "avg_pool1d": avg_pool1d,
        "cast": lambda x, dtype: x.astype(dtype),
        "neg": anp.negative,
        "expm1": anp.expm1,
        "log1p": anp.log1p,
        "rsqrt": lambda x: 1.0 / anp.sqrt(x),
        "sin": anp.sin,
        "cos": anp.cos,
        "tan": anp.tan,
        "sinh": anp.sinh,
        "cosh": anp.cosh,
        "arcsin": anp.arcsin,
        "arctan": anp.arctan,
        "softplus": lambda x: anp.logaddexp(0.0, x),
        "gelu": lambda x: 0.5 * x * (1.0 + erf(x / 1.4142135623730951)),  # a Python float keeps float32 float32
        "erf": erf,
        "reciprocal": anp.reciprocal,
        "sign": anp.sign,
        "real": anp.real,
        "imag": anp.imag,
        "conj": anp.conj,
        "add": anp.add,
        "sub": anp.subtract,
        "mul": anp.multiply,
        "div": anp.divide,
        "pow": anp.power,
        "atan2": anp.arctan2,
        "prod": lambda x, axis=None: anp.prod(x, axis=axis),
        "min": lambda x, axis=None: anp.min(x, axis=axis),
        "logsumexp": lambda x, axis=None: logsumexp(x, axis=axis),
        "var": lambda x, axis=None: anp.var(x, axis=axis),
        "std": lambda x, axis=None: anp.std(x, axis=axis),
        "norm": lambda x, axis=None: anp.linalg.norm(x, axis=axis),
        "einsum": anp.einsum,
        "solve": anp.linalg.solve,
        "inv": anp.linalg.inv,
        "det": anp.linalg.det,
        "slogdet": lambda x: anp.linalg.slogdet(x)[1],
        "cholesky": anp.linalg.cholesky,
        "trace": anp.trace,
        "split": lambda x, sections, axis=0: anp.split(x, sections, axis=axis),
        "take_along_axis": take_along_axis,
        "scatter_add": unsupported("scatter_add", "NumPy's add.at has no autograd VJP"),
        "pad": lambda x, widths: anp.pad(x, [tuple(w) for w in widths], mode="constant"),
        "tile": anp.tile,
        "broadcast_to": lambda x, shape: anp.broadcast_to(x, tuple(shape)),
        "cross_entropy": cross_entropy,
        "layer_norm": layer_norm,
        "conv1d": conv1d,
        "conv2d": conv2d,
        "max_pool2d": lambda x, window, stride: anp.max(patches(x, window, stride), axis=0),
        "avg_pool2d": lambda x, window, stride: anp.mean(patches(x, window, stride), axis=0),
        "embedding": lambda table, ids: table[np.asarray(ids)],
        "cond": unsupported("cond", "it differentiates Python control flow, not a conditional op"),
        "fori_loop": unsupported("fori_loop", "it differentiates Python loops, not a loop op"),
        "while_loop": unsupported("while_loop", "it differentiates Python loops, not a loop op"),
        "stop_gradient": getval,
        "clipped_square": clipped_square,
        "checkpoint": lambda fn, x: checkpoint(fn)(x),
        "add_inplace": unsupported("add_inplace", "autograd does not support in-place array assignment"),
    }
    return ops


OPS = LazyOps(build_ops)  # a vocabulary name missing here is UNSUPPORTED, never an error

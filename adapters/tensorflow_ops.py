"""The neutral op vocabulary (gradspec/numpy_ops.py) mapped onto TensorFlow.

TensorFlow is imported inside ``build_ops`` so that importing this module
stays framework-free.  The mapping is a flat dict, one op a line, so that new
vocabulary entries are one-line additions.  Each entry is the op a TensorFlow
user would call; glue only converts arguments TensorFlow takes in another form.
"""
from __future__ import annotations

from typing import Any, Callable


def build_ops() -> dict[str, Callable[..., Any]]:
    """Every vocabulary name -> its TensorFlow op (``add_inplace`` excepted, see below)."""
    import tensorflow as tf

    @tf.custom_gradient
    def clipped_square(x: Any) -> Any:
        """x**2 with the custom rule clip(2x, -1, 1) * upstream, through tf.custom_gradient."""
        def rule(upstream: Any) -> Any:
            return upstream * tf.clip_by_value(2 * x, -1, 1)
        return x * x, rule

    def layer_norm(x: Any, gamma: Any, beta: Any, eps: float = 1e-5) -> Any:
        """TF's own normalisation: moments over the last axis, then batch_normalization."""
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return tf.nn.batch_normalization(x, mean, variance, beta, gamma, eps)

    def padded(x: Any, padding: int, spatial: int) -> Any:
        """Zero padding on the spatial axes of a channels-last input."""
        return tf.pad(x, [[0, 0]] + [[padding, padding]] * spatial + [[0, 0]])

    return {
        "sum": lambda x, axis=None: tf.reduce_sum(x, axis=axis),
        "mean": lambda x, axis=None: tf.reduce_mean(x, axis=axis),
        "prod": lambda x, axis=None: tf.reduce_prod(x, axis=axis),
        "max": lambda x, axis=None: tf.reduce_max(x, axis=axis),
        "min": lambda x, axis=None: tf.reduce_min(x, axis=axis),
        "logsumexp": lambda x, axis=None: tf.reduce_logsumexp(x, axis=axis),
        "var": lambda x, axis=None: tf.math.reduce_variance(x, axis=axis),
        "std": lambda x, axis=None: tf.math.reduce_std(x, axis=axis),
        "norm": lambda x, axis=None: tf.norm(x, ord="euclidean", axis=tuple(axis) if isinstance(axis, list) else axis),
        "matmul": lambda a, b: tf.linalg.matmul(a, b),
        "dot": lambda a, b: tf.tensordot(a, b, axes=1),
        "einsum": lambda subscripts, *operands: tf.einsum(subscripts, *operands),
        "solve": lambda a, b: tf.linalg.solve(a, b),
        "inv": tf.linalg.inv,
        "det": tf.linalg.det,
        "slogdet": lambda x: tf.linalg.slogdet(x)[1],
        "cholesky": tf.linalg.cholesky,
        "trace": tf.linalg.trace,
        "exp": tf.math.exp,
        "expm1": tf.math.expm1,
        "log": tf.math.log,
        "log1p": tf.math.log1p,
        "sqrt": tf.math.sqrt,
        "rsqrt": tf.math.rsqrt,
        "square": tf.math.square,
        "abs": tf.math.abs,
        "neg": tf.math.negative,
        "reciprocal": tf.math.reciprocal,
        "sign": tf.math.sign,
        "sin": tf.math.sin,
        "cos": tf.math.cos,
        "tan": tf.math.tan,
        "sinh": tf.math.sinh,
        "cosh": tf.math.cosh,
        "tanh": tf.math.tanh,
        "arcsin": tf.math.asin,
        "arctan": tf.math.atan,
        "erf": tf.math.erf,
        "sigmoid": tf.math.sigmoid,
        "log_sigmoid": tf.math.log_sigmoid,
        "softplus": tf.math.softplus,
        "relu": tf.nn.relu,
        "gelu": lambda x: tf.nn.gelu(x, approximate=False),
        "real": tf.math.real,
        "imag": tf.math.imag,
        "conj": tf.math.conj,
        "add": lambda a, b: tf.math.add(a, b),
        "sub": lambda a, b: tf.math.subtract(a, b),
        "mul": lambda a, b: tf.math.multiply(a, b),
        "div": lambda a, b: tf.math.divide(a, b),
        "pow": lambda a, b: tf.math.pow(a, b),
        "atan2": lambda y, x: tf.math.atan2(y, x),
        "maximum": lambda a, b: tf.math.maximum(a, b),
        "minimum": lambda a, b: tf.math.minimum(a, b),
        "where": lambda cond, a, b: tf.where(cond, a, b),
        "softmax": lambda x, axis=-1: tf.nn.softmax(x, axis=axis),
        "log_softmax": lambda x, axis=-1: tf.nn.log_softmax(x, axis=axis),
        "cross_entropy": lambda logits, labels: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)),
        "layer_norm": layer_norm,
        "gather": lambda params, indices: tf.gather(params, indices, axis=0),
        "embedding": lambda table, ids: tf.nn.embedding_lookup(table, ids),
        "take_along_axis": lambda x, indices, axis: tf.experimental.numpy.take_along_axis(x, indices, axis=axis),
        "scatter_add": lambda x, indices, updates: tf.tensor_scatter_nd_add(x, tf.expand_dims(tf.convert_to_tensor(indices), -1), updates),
        "reshape": lambda x, shape: tf.reshape(x, shape),
        "transpose": lambda x: tf.transpose(x),
        "stack": lambda xs, axis=0: tf.stack(list(xs), axis=axis),
        "concat": lambda xs, axis=0: tf.concat(list(xs), axis=axis),
        "split": lambda x, sections, axis=0: tf.split(x, sections, axis=axis),
        "pad": lambda x, widths: tf.pad(x, widths),
        "tile": lambda x, reps: tf.tile(x, reps),
        "broadcast_to": lambda x, shape: tf.broadcast_to(x, shape),
        "cast": lambda x, dtype: tf.cast(x, dtype),
        # tf.nn.convolution, not tf.nn.conv1d/conv2d: the CPU Conv2D kernels reject dilation > 1,
        # tf.nn.convolution implements it (TF refuses stride > 1 together with dilation > 1).
        "conv1d": lambda x, w, stride=1, padding=0, dilation=1: tf.nn.convolution(padded(x, padding, 1), w, strides=stride, padding="VALID", dilations=dilation),
        "conv2d": lambda x, w, stride=1, padding=0, dilation=1: tf.nn.convolution(padded(x, padding, 2), w, strides=stride, padding="VALID", dilations=dilation),
        "max_pool1d": lambda x, window, stride: tf.nn.max_pool1d(x, ksize=window, strides=stride, padding="VALID", data_format="NWC"),
        "avg_pool1d": lambda x, window, stride: tf.nn.avg_pool1d(x, ksize=window, strides=stride, padding="VALID", data_format="NWC"),
        "max_pool2d": lambda x, window, stride: tf.nn.max_pool2d(x, ksize=window, strides=stride, padding="VALID", data_format="NHWC"),
        "avg_pool2d": lambda x, window, stride: tf.nn.avg_pool2d(x, ksize=window, strides=stride, padding="VALID", data_format="NHWC"),
        # tf.cond refuses a Python bool predicate, so a constant predicate becomes a tensor.
        "cond": lambda pred, true_fn, false_fn, x: tf.cond(tf.convert_to_tensor(pred), lambda: true_fn(x), lambda: false_fn(x)),
        # inside a tf.function: a graph-mode while loop, whose gradient is the loop's own
        "while_loop": lambda cond_fn, fn, x: tf.function(
            lambda v: tf.while_loop(cond_fn, lambda u: (fn(u),), (v,))[0])(x),
        "fori_loop": lambda n, fn, x: tf.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, fn(v)), (tf.constant(0), x))[1],
        "stop_gradient": tf.stop_gradient,
        "clipped_square": clipped_square,
        "checkpoint": lambda fn, x: tf.recompute_grad(fn)(x),
        # add_inplace is left out: TensorFlow tensors are immutable (only tf.Variable.assign_add
        # updates state, and that is not an in-place tensor op), so cases using it are UNSUPPORTED.
        # DeepCopy has neither a gradient function nor a tf.no_gradient entry in TensorFlow's
        # gradient registry, so the tape's lookup raises LookupError (the autodiff guide's
        # "No gradient registered" case).  Ops registered with tf.no_gradient give None instead.
        "no_gradient_op": lambda x: tf.raw_ops.DeepCopy(x=x),
    }

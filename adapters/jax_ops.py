"""The neutral op vocabulary (gradspec.numpy_ops) on jax.numpy, jax.nn and jax.lax.

Nothing here imports JAX at module import: ``OPS`` builds the mapping on first
use, so listing or importing adapters never pays for (or requires) JAX.
"""
from __future__ import annotations

from typing import Any, Callable

from gradspec.adapter import LazyOps
from gradspec.outcomes import Unsupported

Op = Callable[..., Any]


def build_ops() -> dict[str, Op]:
    """Every vocabulary name mapped to JAX's own op, so that gradients follow
    JAX's own rules (e.g. reduce_window's tie rule for max pooling)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    # Pooling as Flax writes it (flax.linen.max_pool / avg_pool): lax.reduce_window with a
    # Python scalar init, which JAX recognises as the monoid's identity and differentiates.
    # An init made with jnp.asarray is a traced value under jax.jit, and reduce_window then
    # has no reverse-mode rule ("Linearization failed"), which no Flax user meets.
    def reduce_windows(x: Any, size: int, stride: int, init: float, op: Op) -> Any:
        return lax.reduce_window(x, init, op, (1, size, 1), (1, stride, 1), "VALID")

    def max_pool1d(x: Any, window: int, stride: int) -> Any:
        return reduce_windows(x, window, stride, -jnp.inf, lax.max)

    def avg_pool1d(x: Any, window: int, stride: int) -> Any:
        return reduce_windows(x, window, stride, 0, lax.add) / window

    def conv(x: Any, w: Any, stride: int, padding: int, dilation: int, spec: tuple[str, str, str]) -> Any:
        """lax.conv_general_dilated in the vocabulary's channels-last layout."""
        nd = x.ndim - 2
        return lax.conv_general_dilated(x, w, (stride,) * nd, [(padding, padding)] * nd,
                                        rhs_dilation=(dilation,) * nd, dimension_numbers=spec)

    def pool2d(x: Any, size: int, stride: int, init: float, op: Op) -> Any:
        return lax.reduce_window(x, init, op, (1, size, size, 1), (1, stride, stride, 1), "VALID")

    def cross_entropy(logits: Any, labels: Any) -> Any:
        """JAX has no cross-entropy op; jax.nn.log_softmax picked at the labels, as JAX users write it."""
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, jnp.asarray(labels)[:, None], axis=-1))

    @jax.custom_vjp
    def clipped_square(x: Any) -> Any:
        return x * x

    clipped_square.defvjp(lambda x: (x * x, x), lambda x, g: (jnp.clip(2 * x, -1, 1) * g,))

    def no_inplace(t: Any, v: Any) -> Any:
        raise Unsupported("JAX arrays are immutable: there is no in-place update")

    ops: dict[str, Op] = {
        "sum": lambda x, axis=None: jnp.sum(x, axis=axis),
        "mean": lambda x, axis=None: jnp.mean(x, axis=axis),
        "matmul": jnp.matmul,
        "dot": lambda a, b: jnp.sum(a * b),
        "exp": jnp.exp,
        "log": jnp.log,
        "sigmoid": jax.nn.sigmoid,
        "log_sigmoid": jax.nn.log_sigmoid,
        "relu": jax.nn.relu,
        "tanh": jnp.tanh,
        "square": jnp.square,
        "sqrt": jnp.sqrt,
        "abs": jnp.abs,
        "softmax": lambda x, axis=-1: jax.nn.softmax(x, axis=axis),
        "log_softmax": lambda x, axis=-1: jax.nn.log_softmax(x, axis=axis),
        "gather": lambda params, indices: jnp.take(params, jnp.asarray(indices), axis=0),
        "reshape": jnp.reshape,
        "transpose": jnp.transpose,
        "stack": lambda xs, axis=0: jnp.stack(xs, axis=axis),
        "concat": lambda xs, axis=0: jnp.concatenate(xs, axis=axis),
        "where": jnp.where,
        "maximum": jnp.maximum,
        "minimum": jnp.minimum,
        "max": lambda x, axis=None: jnp.max(x, axis=axis),
        "max_pool1d": max_pool1d,
        "avg_pool1d": avg_pool1d,
        "cast": lambda x, dtype: jnp.asarray(x).astype(dtype),
        "neg": jnp.negative,
        "expm1": jnp.expm1,
        "log1p": jnp.log1p,
        "rsqrt": lax.rsqrt,
        "sin": jnp.sin,
        "cos": jnp.cos,
        "tan": jnp.tan,
        "sinh": jnp.sinh,
        "cosh": jnp.cosh,
        "arcsin": jnp.arcsin,
        "arctan": jnp.arctan,
        "softplus": jax.nn.softplus,
        "gelu": lambda x: jax.nn.gelu(x, approximate=False),
        "erf": jax.scipy.special.erf,
        "reciprocal": jnp.reciprocal,
        "sign": jnp.sign,
        "real": jnp.real,
        "imag": jnp.imag,
        "conj": jnp.conj,
        "add": jnp.add,
        "sub": jnp.subtract,
        "mul": jnp.multiply,
        "div": jnp.divide,
        "pow": jnp.power,
        "atan2": jnp.arctan2,
        "prod": lambda x, axis=None: jnp.prod(x, axis=axis),
        "min": lambda x, axis=None: jnp.min(x, axis=axis),
        "logsumexp": lambda x, axis=None: jax.nn.logsumexp(x, axis=axis),
        "var": lambda x, axis=None: jnp.var(x, axis=axis),
        "std": lambda x, axis=None: jnp.std(x, axis=axis),
        "norm": lambda x, axis=None: jnp.linalg.norm(x, axis=axis),
        "einsum": jnp.einsum,
        "solve": jnp.linalg.solve,
        "inv": jnp.linalg.inv,
        "det": jnp.linalg.det,
        "slogdet": lambda x: jnp.linalg.slogdet(x)[1],
        "cholesky": jnp.linalg.cholesky,
        "trace": jnp.trace,
        "split": lambda x, sections, axis=0: jnp.split(x, sections, axis=axis),
        "take_along_axis": lambda x, indices, axis: jnp.take_along_axis(x, jnp.asarray(indices), axis=axis),
        "scatter_add": lambda x, indices, updates: x.at[jnp.asarray(indices)].add(updates),
        "pad": lambda x, widths: jnp.pad(x, [tuple(w) for w in widths]),
        "tile": jnp.tile,
        "broadcast_to": lambda x, shape: jnp.broadcast_to(x, tuple(shape)),
        "cross_entropy": cross_entropy,
        "layer_norm": lambda x, gamma, beta, eps=1e-5: jax.nn.standardize(x, axis=-1, epsilon=eps) * gamma + beta,
        "conv1d": lambda x, w, stride=1, padding=0, dilation=1:
            conv(x, w, stride, padding, dilation, ("NWC", "WIO", "NWC")),
        "conv2d": lambda x, w, stride=1, padding=0, dilation=1:
            conv(x, w, stride, padding, dilation, ("NHWC", "HWIO", "NHWC")),
        "max_pool2d": lambda x, window, stride: pool2d(x, window, stride, -jnp.inf, lax.max),
        "avg_pool2d": lambda x, window, stride: pool2d(x, window, stride, 0, lax.add) / (window * window),
        "embedding": lambda table, ids: jnp.take(table, jnp.asarray(ids), axis=0),
        "cond": lambda pred, true_fn, false_fn, x: lax.cond(pred, true_fn, false_fn, x),
        "fori_loop": lambda n, fn, x: lax.fori_loop(0, n, lambda i, v: fn(v), x),
        "while_loop": lambda cond_fn, fn, x: lax.while_loop(cond_fn, fn, x),
        "stop_gradient": lax.stop_gradient,
        "clipped_square": clipped_square,
        "checkpoint": lambda fn, x: jax.checkpoint(fn)(x),
        "add_inplace": no_inplace,
    }
    return ops


OPS = LazyOps(build_ops)  # a vocabulary name missing here is UNSUPPORTED, never an error

"""Neural-network ops in the channels-last layout: softmax, log_softmax, cross entropy,
layer norm, conv1d/conv2d (stride, padding, dilation), 1-D and 2-D max/avg pooling
without ties, and embedding lookup.  Checked against the float64 oracle or analytic
NumPy at smooth points."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import analytic, oracle
from gradspec.inputs import const, var
from gradspec.requests import Grad

TORCH_NN = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{0}.html#torch.nn.functional.{0}"
TF_NN = "https://www.tensorflow.org/api_docs/python/tf/nn/{0}#args"

RNG = np.random.default_rng(7)
LOGITS = np.array([[1.2, -0.3, 0.8, 2.1], [-1.0, 0.4, 0.9, -0.2], [0.3, 1.7, -0.6, 0.05]])


def _c(shape, lo=-1.3, hi=2.1):
    return const(np.linspace(lo, hi, int(np.prod(shape))).reshape(shape))


def _distinct(shape, seed):
    """Values with no ties anywhere (a random permutation of a grid), so max pooling is smooth."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) / n * 4.0 - 2.0).reshape(shape)


# The oracle differentiates a sum of a few hundred products: its rounding error is ~1e-10
# absolute, above the float64 default atol; 1e-8 still catches a float32 computation (~1e-7).
ORACLE_SUM_TOLERANCE = {"float64": (1e-8, 1e-9)}

X1 = RNG.normal(size=(2, 9, 3))           # (batch, length, channels)
W1 = RNG.normal(size=(3, 3, 4)) * 0.5     # (kernel, in, out)
X2 = RNG.normal(size=(2, 7, 6, 2))        # (batch, height, width, channels)
W2 = RNG.normal(size=(3, 2, 2, 3)) * 0.5  # (kh, kw, in, out)


def _conv1d(label: str, stride: int, padding: int, dilation: int):
    out = (9 + 2 * padding - dilation * 2 - 1) // stride + 1

    def body(ops, x, w, c):
        return ops.sum(ops.conv1d(x, w, stride=stride, padding=padding, dilation=dilation) * c)

    return case(
        id=f"ops.nn.conv1d_{label}",
        statement=f"conv1d with stride {stride}, padding {padding}, dilation {dilation}: the input and kernel "
                  f"gradients match the oracle",
        doc=[TORCH_NN.format("conv1d"), TF_NN.format("conv1d")],
        tags=["ops", "nn", "conv"],
        inputs={"x": var(X1), "w": var(W1), "c": _c((2, out, 4))},
        body=body, requests=Grad(("x", "w")), expect=[oracle(), oracle()],
        tolerance=ORACLE_SUM_TOLERANCE,
    )


def _conv2d(label: str, stride: int, padding: int, dilation: int):
    oh = (7 + 2 * padding - dilation * 2 - 1) // stride + 1
    ow = (6 + 2 * padding - dilation * 1 - 1) // stride + 1

    def body(ops, x, w, c):
        return ops.sum(ops.conv2d(x, w, stride=stride, padding=padding, dilation=dilation) * c)

    return case(
        id=f"ops.nn.conv2d_{label}",
        statement=f"conv2d with stride {stride}, padding {padding}, dilation {dilation}: the input and kernel "
                  f"gradients match the oracle",
        doc=[TORCH_NN.format("conv2d"), TF_NN.format("conv2d")],
        tags=["ops", "nn", "conv"],
        inputs={"x": var(X2), "w": var(W2), "c": _c((2, oh, ow, 3))},
        body=body, requests=Grad(("x", "w")), expect=[oracle(), oracle()],
        tolerance=ORACLE_SUM_TOLERANCE,
    )


CONV = [f(*args) for f in (_conv1d, _conv2d)
        for args in (("plain", 1, 0, 1), ("stride2", 2, 0, 1), ("padding1", 1, 1, 1), ("dilation2", 1, 0, 2),
                     ("stride2_padding1", 2, 1, 1))]


def _pool(op: str, dims: int, window: int, stride: int, url: str):
    shape = (2, 8, 3) if dims == 1 else (1, 6, 6, 2)
    out = [(n - window) // stride + 1 for n in shape[1:-1]]

    def body(ops, x, c):
        return ops.sum(getattr(ops, op)(x, window, stride) * c)

    return case(
        id=f"ops.nn.{op}_w{window}_s{stride}",
        statement=f"{op} window {window} stride {stride}, valid padding, no ties: the gradient routes each "
                  f"window's weight to its maximum (or spreads it evenly for the average)",
        doc=url, tags=["ops", "nn", "pooling"],
        inputs={"x": var(_distinct(shape, window * 10 + stride)), "c": _c((shape[0], *out, shape[-1]))},
        body=body, requests=Grad("x"), expect=oracle(),
    )


POOLS = [
    _pool("max_pool1d", 1, 2, 2, TF_NN.format("max_pool1d")),
    _pool("max_pool1d", 1, 3, 1, TF_NN.format("max_pool1d")),
    _pool("avg_pool1d", 1, 3, 2, TF_NN.format("avg_pool1d")),
    _pool("max_pool2d", 2, 2, 2, TF_NN.format("max_pool2d")),
    _pool("max_pool2d", 2, 3, 1, TF_NN.format("max_pool2d")),
    _pool("avg_pool2d", 2, 2, 2, TF_NN.format("avg_pool2d")),
    _pool("avg_pool2d", 2, 3, 1, TF_NN.format("avg_pool2d")),
]


def _softmax_jvp(x, c):
    s = np.exp(x - x.max(axis=-1, keepdims=True))
    s /= s.sum(axis=-1, keepdims=True)
    return s * (c - np.sum(c * s, axis=-1, keepdims=True))


def _log_softmax_vjp(x, c):
    s = np.exp(x - x.max(axis=-1, keepdims=True))
    s /= s.sum(axis=-1, keepdims=True)
    return c - s * np.sum(c, axis=-1, keepdims=True)


def _ce_grad(logits, labels=None):
    s = np.exp(logits - logits.max(axis=-1, keepdims=True))
    s /= s.sum(axis=-1, keepdims=True)
    onehot = np.eye(logits.shape[1])[[3, 1, 2]]
    return (s - onehot) / logits.shape[0]


CASES = CONV + POOLS + [
    case(
        id="ops.nn.softmax",
        statement="d/dx sum(c * softmax(x)) = s * (c - <c, s>) row by row",
        doc=TORCH_NN.format("softmax"), tags=["ops", "nn", "softmax"],
        inputs={"x": var(LOGITS), "c": _c((3, 4))},
        body=lambda ops, x, c: ops.sum(ops.softmax(x, axis=-1) * c),
        requests=Grad("x"), expect=analytic(_softmax_jvp),
    ),
    case(
        id="ops.nn.softmax_axis0",
        statement="softmax over axis 0 normalises columns; its gradient matches the oracle",
        doc=TORCH_NN.format("softmax"), tags=["ops", "nn", "softmax"],
        inputs={"x": var(LOGITS), "c": _c((3, 4))},
        body=lambda ops, x, c: ops.sum(ops.softmax(x, axis=0) * c),
        requests=Grad("x"), expect=oracle(),
    ),
    case(
        id="ops.nn.log_softmax",
        statement="d/dx sum(c * log_softmax(x)) = c - softmax(x) * sum(c) row by row",
        doc=TORCH_NN.format("log_softmax"), tags=["ops", "nn", "softmax"],
        inputs={"x": var(LOGITS), "c": _c((3, 4))},
        body=lambda ops, x, c: ops.sum(ops.log_softmax(x, axis=-1) * c),
        requests=Grad("x"), expect=analytic(_log_softmax_vjp),
    ),
    case(
        id="ops.nn.cross_entropy",
        statement="the gradient of mean cross entropy from logits is (softmax(logits) - onehot(labels)) / batch",
        doc=[TORCH_NN.format("cross_entropy"),
             "https://www.tensorflow.org/api_docs/python/tf/nn/sparse_softmax_cross_entropy_with_logits#args"],
        tags=["ops", "nn", "loss"],
        inputs={"logits": var(LOGITS), "labels": const(np.array([3, 1, 2]), dtype="int64")},
        body=lambda ops, logits, labels: ops.cross_entropy(logits, labels),
        requests=Grad("logits"), expect=analytic(_ce_grad),
    ),
    case(
        id="ops.nn.layer_norm",
        statement="layer norm over the last axis: gradients with respect to x, gamma and beta match the oracle",
        doc=TORCH_NN.format("layer_norm"), tags=["ops", "nn", "normalization"],
        inputs={"x": var(LOGITS * 1.5), "gamma": var(np.array([1.1, 0.7, -0.4, 1.9])),
                "beta": var(np.array([0.1, -0.2, 0.3, 0.0])), "c": _c((3, 4))},
        body=lambda ops, x, gamma, beta, c: ops.sum(ops.layer_norm(x, gamma, beta, 1e-5) * c),
        requests=Grad(("x", "gamma", "beta")), expect=[oracle(), oracle(), oracle()],
    ),
    case(
        id="ops.nn.embedding_lookup",
        statement="embedding lookup of ids [[1, 4], [1, 0]]: row 1 gathers two weights, unused rows get zero "
                  "(a sparse answer densifies to the same)",
        doc=[TORCH_NN.format("embedding"), "https://www.tensorflow.org/api_docs/python/tf/nn/embedding_lookup#args"],
        tags=["ops", "nn", "embedding"],
        inputs={"table": var(RNG.normal(size=(5, 3))), "c": _c((2, 2, 3))},
        body=lambda ops, table, c: ops.sum(ops.embedding(table, np.array([[1, 4], [1, 0]])) * c),
        requests=Grad("table"),
        expect=analytic(lambda table, c: np.stack([c[1, 1], c[0, 0] + c[1, 0], 0 * c[0, 0], 0 * c[0, 0], c[0, 1]])),
    ),
]

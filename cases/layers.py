"""Layers and losses: a dense product, a framework's own dense layer, and the
word2vec losses whose gradients have closed forms.

Expected values are analytic float64 NumPy; for the framework's own layer,
whose weights are random, they are computed in NumPy from the weights the
layer reports.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from gradspec.case import Doc, case
from gradspec.expect import analytic, derived, one_of, raises, value
from gradspec.inputs import const, var
from gradspec.requests import Grad, Probe


def expit(x: Any) -> Any:
    """The logistic sigmoid 1 / (1 + e^-x), in float64 NumPy."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def softmax(x: Any) -> Any:
    """exp(x - max x) / sum exp(x - max x), in float64 NumPy."""
    z = np.exp(np.asarray(x, dtype=np.float64) - np.max(x))
    return z / np.sum(z)


# -- a dense product ---------------------------------------------------------

dense_matmul = case(
    id="layers.dense_matmul",
    statement="y = x@w with an all-ones output gradient: dy/dw = [[3],[3]] and dy/dx = [[2,3],[2,3]]",
    doc=[Doc("https://www.tensorflow.org/guide/autodiff#gradients_of_non-scalar_targets",
             quote="Similarly, if the target(s) are not scalar the gradient of the sum is calculated:"),
         Doc("https://pytorch.org/docs/stable/generated/torch.autograd.grad.html#torch.autograd.grad",
             quote="grad_outputs (sequence of Tensor) – The “vector” in the vector-Jacobian product.")],
    tags=["layers", "matmul", "output_gradient"],
    inputs={"x": var([[1.0, 1.0], [2.0, 2.0]]), "w": var([[2.0], [3.0]])},
    body=lambda ops, x, w: ops.matmul(x, w),
    requests=[Grad("w", output_grad=np.ones((2, 1))), Grad("x", output_grad=np.ones((2, 1)))],
    expect=(value([[3.0], [3.0]]), value([[2.0, 3.0], [2.0, 3.0]])),
    requires=["output_gradients"],
    persistent=True,
)

# -- the framework's own dense layer -----------------------------------------

UNITS = 32
DENSE_X = np.linspace([1.0, 5.0], [10.0, -4.0], 10)  # 10x2, exactly representable in float16


def dense_gradients(observed: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Gradients of mean(relu(x@kernel + bias)^2) in float64 NumPy at the
    layer's own kernel (in, out) and bias.  A parameter reported with the
    wrong shape is expected at the right shape instead, so the judge reports
    the shape."""
    kernel, bias = np.asarray(observed["kernel"]), np.asarray(observed["bias"])
    want = {"kernel": (DENSE_X.shape[1], UNITS), "bias": (UNITS,)}
    wrong = {k: np.zeros(s) for k, s in want.items() if np.shape(observed[k]) != s}
    if wrong:
        return wrong
    z = DENSE_X @ kernel + bias
    y = np.maximum(z, 0.0)
    dz = 2.0 * y / y.size * (z > 0)
    return {"grad_kernel": DENSE_X.T @ dz, "grad_bias": dz.sum(axis=0)}


DENSE_DOCS = [
    Doc("https://www.tensorflow.org/guide/autodiff#gradients_with_respect_to_a_model",
        quote="Since all subclasses of tf.Module aggregate their variables in the Module.trainable_variables "
              "property, you can calculate these gradients in a few lines of code:"),
    Doc("https://keras.io/api/layers/core_layers/dense/#dense-class",
        quote="Dense implements the operation: output = activation(dot(input, kernel) + bias)"),
    Doc("https://pytorch.org/docs/stable/generated/torch.nn.Linear.html#torch.nn.Linear",
        quote="Applies an affine linear transformation to the incoming data: y = xA^T + b."),
]


def _dense_probe(x_dtype: str) -> Probe:
    return Probe("dense_layer", {"units": UNITS, "activation": "relu", "x": DENSE_X.tolist(), "x_dtype": x_dtype})


framework_dense = case(
    id="layers.framework_dense",
    statement="A framework's own 32-unit ReLU dense layer returns kernel and bias gradients of mean(y^2) that "
              "match NumPy at its own initial weights",
    doc=DENSE_DOCS,
    tags=["layers", "framework_layer"],
    requests=_dense_probe("float32"),
    expect=derived(dense_gradients),
    requires=["layers"],
    dtypes=["float32"],
    kind="api",
)

framework_dense_float16 = case(
    id="layers.framework_dense_float16",
    statement="A float32 dense layer given a float16 input either casts the input or raises a dtype mismatch",
    doc=[Doc("https://www.tensorflow.org/guide/mixed_precision#building_the_model",
             quote="The first layer of the model will cast the inputs to float16, as each layer casts "
                   "floating-point inputs to its compute dtype."),
         Doc("https://pytorch.org/docs/stable/amp.html#torch.autocast",
             quote="After returning to an autocast-disabled region, using them with floating-point Tensors of "
                   "different dtypes may cause type mismatch errors.")],
    tags=["layers", "framework_layer", "dtype"],
    requests=_dense_probe("float16"),
    expect=one_of(casts=derived(dense_gradients), raises=raises("DTypeMismatch")),
    requires=["layers"],
    dtypes=["float32"],
)

# -- word2vec ------------------------------------------------------------------

EMBEDDINGS = (np.arange(25.0).reshape(5, 5) - 12.0) / 20.0
TARGET = [0.3, -0.2, 0.5, 0.1, -0.4]
BOW_ROWS = [1, 3]


def _bow_body(ops: Any, W: Any, t: Any) -> Any:
    """Rows 1 and 3 averaged into bow; loss = -log(sigmoid(bow . t))."""
    bow = ops.mean(ops.gather(W, BOW_ROWS), axis=0)
    return -ops.log(ops.sigmoid(ops.dot(bow, t)))


def _bow_grad(W: Any, t: Any) -> Any:
    """Zero except rows 1 and 3, each -(1 - sigmoid(score)) * t / 2."""
    score = np.dot(W[BOW_ROWS].mean(axis=0), t)
    g = np.zeros_like(W)
    for r in BOW_ROWS:
        g[r] += -(1.0 - expit(score)) * t / len(BOW_ROWS)
    return g


word2vec_bow = case(
    id="layers.word2vec_bow",
    statement="Bag-of-words word2vec: dL/dW is zero except the gathered rows, sparse or dense",
    doc=[Doc("https://arxiv.org/pdf/1301.3781#page=4",
             quote="The first proposed architecture is similar to the feedforward NNLM, where the non-linear "
                   "hidden layer is removed and the projection layer is shared for all words (not just the "
                   "projection matrix); thus, all words get projected into the same position (their vectors are "
                   "averaged)."),
         Doc("https://www.tensorflow.org/api_docs/python/tf/IndexedSlices#attributes",
             quote="The IndexedSlices class is used principally in the definition of gradients for operations "
                   "that have sparse gradients (e.g. tf.gather)."),
         Doc("https://pytorch.org/docs/stable/generated/torch.nn.Embedding.html#torch.nn.Embedding",
             quote="sparse (bool, optional) – If True, gradient w.r.t. weight matrix will be a sparse tensor.")],
    tags=["layers", "word2vec", "sparse"],
    inputs={"W": var(EMBEDDINGS), "t": const(TARGET)},
    body=_bow_body,
    requests=Grad("W"),
    expect=one_of(slot="form", sparse=analytic(_bow_grad, form="sparse"), dense=analytic(_bow_grad, form="dense")),
)

def _bow_sparse_body(ops: Any, W: Any, t: Any) -> Any:
    """_bow_body through the opt-in sparse embedding lookup."""
    bow = ops.mean(ops.embedding_sparse(W, BOW_ROWS), axis=0)
    return -ops.log(ops.sigmoid(ops.dot(bow, t)))


embedding_sparse_opt_in = case(
    id="layers.embedding_sparse_opt_in",
    statement="Asking for a sparse gradient of an embedding lookup (torch embedding sparse=True): dL/dW comes back "
              "sparse, its rows those of the bag-of-words gradient",
    doc=Doc("https://docs.pytorch.org/docs/stable/generated/torch.nn.Embedding.html#torch.nn.Embedding",
            quote="sparse (bool, optional) – If True, gradient w.r.t. weight matrix will be a sparse tensor."),
    tags=["layers", "embedding", "sparse"],
    inputs=word2vec_bow.inputs,
    body=_bow_sparse_body,
    requests=Grad("W"),
    expect=analytic(_bow_grad, form="sparse"),
    requires=["sparse_gradients"],
    kind="api",
)

OUTSIDE_WORD = 1
SOFTMAX_U = [[0.2, -0.5, 0.1, 0.7, -0.3],
             [0.4, 0.3, -0.6, 0.2, 0.5],
             [-0.1, 0.8, 0.3, -0.4, 0.2],
             [0.6, -0.2, 0.5, 0.1, -0.7]]
SOFTMAX_V = [0.3, -0.4, 0.8, 0.5, -0.2]


def _naive_softmax_body(ops: Any, U: Any, v: Any) -> Any:
    """J = -log softmax(U v)[o], the scores as row-wise dot products."""
    return -ops.log_softmax(ops.sum(U * v, axis=1))[OUTSIDE_WORD]


def _naive_softmax_dv(U: Any, v: Any) -> Any:
    """dJ/dv = -(U[o] - sum_w p_w U[w])."""
    p = softmax(U @ v)
    return -(U[OUTSIDE_WORD] - p @ U)


def _naive_softmax_dU(U: Any, v: Any) -> Any:
    """dJ/dU = (p - e_o) v^T."""
    p = softmax(U @ v)
    p[OUTSIDE_WORD] -= 1.0
    return np.outer(p, v)


naive_softmax = case(
    id="layers.naive_softmax",
    statement="Naive softmax loss J = -log softmax(U v)[o]: dJ/dv = -(U[o] - sum_w p_w U[w]), "
              "dJ/dU = (p - e_o) v^T",
    doc=Doc("https://en.wikipedia.org/wiki/Softmax_function#Definition"),
    tags=["layers", "word2vec", "loss"],
    inputs={"U": var(SOFTMAX_U), "v": var(SOFTMAX_V)},
    body=_naive_softmax_body,
    requests=Grad(("v", "U")),
    expect=[analytic(_naive_softmax_dv), analytic(_naive_softmax_dU)],
)

NEGATIVES = [0, 0, 3, 2, 5]
SAMPLING_U = [[0.1, -0.3, 0.5], [0.4, 0.2, -0.1], [-0.6, 0.3, 0.2], [0.2, 0.7, -0.4],
              [0.5, -0.5, 0.3], [-0.2, -0.1, 0.6], [0.3, 0.4, 0.1]]
SAMPLING_V = [0.6, -0.3, 0.4]


def _negative_sampling_body(ops: Any, U: Any, v: Any) -> Any:
    """J = -log sigmoid(u_o . v) - sum_k log sigmoid(-u_k . v)."""
    u_o = ops.gather(U, [OUTSIDE_WORD])
    negative = ops.gather(U, NEGATIVES)
    return -ops.sum(ops.log_sigmoid(ops.sum(u_o * v, axis=1))) - ops.sum(
        ops.log_sigmoid(-ops.sum(negative * v, axis=1)))


def _negative_sampling_dv(U: Any, v: Any) -> Any:
    """dJ/dv = (sigmoid(s_o) - 1) u_o + sum_k sigmoid(s_k) u_k."""
    g = (expit(U[OUTSIDE_WORD] @ v) - 1.0) * U[OUTSIDE_WORD]
    for k in NEGATIVES:
        g = g + expit(U[k] @ v) * U[k]
    return g


def _negative_sampling_dU(U: Any, v: Any) -> Any:
    """Row o gets (sigmoid(s_o) - 1) v; each negative k adds sigmoid(s_k) v,
    once per occurrence (index 0 twice)."""
    g = np.zeros_like(U)
    g[OUTSIDE_WORD] += (expit(U[OUTSIDE_WORD] @ v) - 1.0) * v
    for k in NEGATIVES:
        g[k] += expit(U[k] @ v) * v
    return g


negative_sampling = case(
    id="layers.negative_sampling",
    statement="Negative-sampling loss: dJ/dv analytic, and dJ/dU counts the repeated negative index twice",
    doc=[Doc("https://arxiv.org/pdf/1310.4546#page=3"),
         Doc("https://en.wikipedia.org/wiki/Logistic_function#Derivative")],
    tags=["layers", "word2vec", "loss", "repeated_index"],
    inputs={"U": var(SAMPLING_U), "v": var(SAMPLING_V)},
    body=_negative_sampling_body,
    requests=Grad(("v", "U")),
    expect=[analytic(_negative_sampling_dv), analytic(_negative_sampling_dU)],
)

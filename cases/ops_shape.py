"""Shape and indexing ops: each moves elements around, so its gradient moves the
weights back (summing where an element is used twice, zero where it is dropped).
Expected values are analytic float64 NumPy or the oracle."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import analytic, oracle
from gradspec.inputs import const, var
from gradspec.requests import Grad

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
INDEXING = "https://numpy.org/doc/stable/user/basics.indexing.html#slicing-and-striding"

X = np.arange(1.0, 25.0).reshape(4, 6) / 7.0


def _c(shape):
    return const(np.linspace(-1.3, 2.1, int(np.prod(shape))).reshape(shape))


def _scatter_expected(x, u):
    return np.ones_like(x), np.ones_like(u)


CASES = [
    case(
        id="ops.shape.reshape",
        statement="the gradient through reshape is the weights reshaped back",
        doc=NP.format("reshape"), tags=["ops", "shape", "reshape"],
        inputs={"x": var(X), "c": _c((3, 8))},
        body=lambda ops, x, c: ops.sum(ops.reshape(x, (3, 8)) * c),
        requests=Grad("x"), expect=analytic(lambda x, c: c.reshape(4, 6)),
    ),
    case(
        id="ops.shape.concat",
        statement="concat along axis 1 hands each operand its own slice of the weights",
        doc=NP.format("concatenate"), tags=["ops", "shape", "concat"],
        inputs={"a": var(X[:, :2]), "b": var(X[:, 2:]), "c": _c((4, 6))},
        body=lambda ops, a, b, c: ops.sum(ops.concat([a, b], axis=1) * c),
        requests=Grad(("a", "b")),
        expect=[analytic(lambda a, b, c: c[:, :2]), analytic(lambda a, b, c: c[:, 2:])],
    ),
    case(
        id="ops.shape.stack",
        statement="stack along a new axis 1 hands each operand its slice of the weights",
        doc=NP.format("stack"), tags=["ops", "shape", "stack"],
        inputs={"a": var(X[0]), "b": var(X[1]), "c": _c((6, 2))},
        body=lambda ops, a, b, c: ops.sum(ops.stack([a, b], axis=1) * c),
        requests=Grad(("a", "b")),
        expect=[analytic(lambda a, b, c: c[:, 0]), analytic(lambda a, b, c: c[:, 1])],
    ),
    case(
        id="ops.shape.split",
        statement="split into three parts along axis 1, two of them used: the unused part gets zero gradient",
        doc=NP.format("split"), tags=["ops", "shape", "split"],
        inputs={"x": var(X), "c": _c((4, 2))},
        body=lambda ops, x, c: ops.sum(ops.split(x, 3, axis=1)[0] * c) + ops.sum(ops.exp(ops.split(x, 3, axis=1)[2])),
        requests=Grad("x"), expect=oracle(),
    ),
    case(
        id="ops.shape.strided_slice",
        statement="x[1:, ::2] (a strided slice) scatters the weights back to every other column, zero elsewhere",
        doc=INDEXING, tags=["ops", "shape", "slicing"],
        inputs={"x": var(X), "c": _c((3, 3))},
        body=lambda ops, x, c: ops.sum(x[1:, ::2] * c),
        requests=Grad("x"),
        expect=analytic(lambda x, c: np.pad(np.stack([c[:, 0], 0 * c[:, 0], c[:, 1], 0 * c[:, 0], c[:, 2],
                                                       0 * c[:, 0]], axis=1), ((1, 0), (0, 0)))),
    ),
    case(
        id="ops.shape.slice_step3",
        statement="x[::3] with a step of 3 on a vector, squared: gradient 2 x at the kept positions",
        doc=INDEXING, tags=["ops", "shape", "slicing"],
        inputs={"x": var(X.reshape(-1)[:10])},
        body=lambda ops, x: ops.sum(x[::3] * x[::3]),
        requests=Grad("x"),
        expect=analytic(lambda x: np.where(np.arange(10) % 3 == 0, 2 * x, 0.0)),
    ),
    case(
        id="ops.shape.gather_repeats",
        statement="gather of rows [2, 0, 2]: row 2 is used twice, so its gradient is the sum of both weights",
        doc=NP.format("take"), tags=["ops", "indexing", "gather"],
        inputs={"x": var(X), "c": _c((3, 6))},
        body=lambda ops, x, c: ops.sum(ops.gather(x, [2, 0, 2]) * c),
        requests=Grad("x"),
        expect=analytic(lambda x, c: np.stack([c[1], 0 * c[0], c[0] + c[2], 0 * c[0]])),
    ),
    case(
        id="ops.shape.scatter_add",
        statement="scatter_add(x, [1, 3, 1], u): x's gradient is the weights, u's gradient is the weight rows "
                  "it was added to",
        doc=NP.format("ufunc.at"), tags=["ops", "indexing", "scatter"],
        inputs={"x": var(X), "u": var(X[:3] * 0.5), "c": _c((4, 6))},
        body=lambda ops, x, u, c: ops.sum(ops.scatter_add(x, [1, 3, 1], u) * c),
        requests=Grad(("x", "u")),
        expect=[analytic(lambda x, u, c: c), analytic(lambda x, u, c: c[[1, 3, 1]])],
    ),
    case(
        id="ops.shape.take_along_axis",
        statement="take_along_axis picks per-row columns; repeated picks accumulate",
        doc=NP.format("take_along_axis"), tags=["ops", "indexing", "take_along_axis"],
        inputs={"x": var(X), "c": _c((4, 2))},
        body=lambda ops, x, c: ops.sum(ops.take_along_axis(x, np.array([[0, 5], [2, 2], [4, 1], [3, 0]]), 1) * c),
        requests=Grad("x"), expect=oracle(),
    ),
    case(
        id="ops.shape.pad",
        statement="zero padding: the gradient is the weights with the padded border cut off",
        doc=NP.format("pad"), tags=["ops", "shape", "pad"],
        inputs={"x": var(X), "c": _c((7, 8))},
        body=lambda ops, x, c: ops.sum(ops.pad(x, [(1, 2), (0, 2)]) * c),
        requests=Grad("x"), expect=analytic(lambda x, c: c[1:5, 0:6]),
    ),
    case(
        id="ops.shape.tile",
        statement="tile (2, 3) repeats each element six times: its gradient sums the six weights",
        doc=NP.format("tile"), tags=["ops", "shape", "tile"],
        inputs={"x": var(X[:2, :2]), "c": _c((4, 6))},
        body=lambda ops, x, c: ops.sum(ops.tile(x, (2, 3)) * c),
        requests=Grad("x"),
        expect=analytic(lambda x, c: c.reshape(2, 2, 3, 2).sum(axis=(0, 2))),
    ),
    case(
        id="ops.shape.broadcast_to_same_rank",
        statement="broadcast_to from (4, 1) to (4, 6) sums the gradient over the broadcast axis",
        doc=NP.format("broadcast_to"), tags=["ops", "shape", "broadcasting"],
        inputs={"x": var(X[:, :1]), "c": _c((4, 6))},
        body=lambda ops, x, c: ops.sum(ops.broadcast_to(x, (4, 6)) * c),
        requests=Grad("x"), expect=analytic(lambda x, c: c.sum(axis=1, keepdims=True)),
    ),
    case(
        id="ops.shape.broadcast_to_new_axes",
        statement="broadcast_to from (6,) to (2, 4, 6) adds leading axes and sums the gradient over them",
        doc=NP.format("broadcast_to"), tags=["ops", "shape", "broadcasting"],
        inputs={"x": var(X[0]), "c": _c((2, 4, 6))},
        body=lambda ops, x, c: ops.sum(ops.broadcast_to(x, (2, 4, 6)) * c),
        requests=Grad("x"), expect=analytic(lambda x, c: c.sum(axis=(0, 1))),
    ),
]

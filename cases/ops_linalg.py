"""Linear algebra: matmul (batched, broadcast), einsum, transpose, solve, inv, det,
slogdet, cholesky and trace, each differentiated at a well-conditioned point and checked
against the float64 oracle."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import analytic, oracle
from gradspec.inputs import const, var
from gradspec.requests import Grad

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
LA = "https://numpy.org/doc/stable/reference/generated/numpy.linalg.{0}.html#numpy.linalg.{0}"

RNG = np.random.default_rng(20240603)
M = np.array([[2.5, 0.4, -0.7], [0.3, 1.8, 0.5], [-0.6, 0.2, 3.1]])      # well conditioned, det > 0
M_NEG = np.array([[0.5, 2.2, -0.4], [1.9, 0.3, 0.8], [-0.2, 1.1, -1.7]])  # det < 0
B = np.array([[1.0, -0.5], [0.25, 2.0], [-1.5, 0.75]])
W3 = np.linspace(-1.0, 1.5, 9).reshape(3, 3)


def _c(shape):
    return const(np.linspace(-1.2, 1.7, int(np.prod(shape))).reshape(shape))


CASES = [
    case(
        id="ops.linalg.matmul_2d",
        statement="d/da, d/db of sum(c * (a @ b)) for (3, 4) @ (4, 2) match the oracle",
        doc=NP.format("matmul"), tags=["ops", "linalg", "matmul"],
        inputs={"a": var(RNG.normal(size=(3, 4))), "b": var(RNG.normal(size=(4, 2))), "c": _c((3, 2))},
        body=lambda ops, a, b, c: ops.sum(ops.matmul(a, b) * c),
        requests=Grad(("a", "b")), expect=[oracle(), oracle()],
    ),
    case(
        id="ops.linalg.matmul_batched",
        statement="batched matmul (2, 3, 4) @ (2, 4, 2) differentiates per batch",
        doc=NP.format("matmul"), tags=["ops", "linalg", "matmul", "batched"],
        inputs={"a": var(RNG.normal(size=(2, 3, 4))), "b": var(RNG.normal(size=(2, 4, 2))), "c": _c((2, 3, 2))},
        body=lambda ops, a, b, c: ops.sum(ops.matmul(a, b) * c),
        requests=Grad(("a", "b")), expect=[oracle(), oracle()],
    ),
    case(
        id="ops.linalg.matmul_broadcast",
        statement="matmul (2, 1, 3, 4) @ (3, 4, 2) broadcasts the batch axes; each gradient is summed back "
                  "over the axes its operand was broadcast along",
        doc=NP.format("matmul"), tags=["ops", "linalg", "matmul", "batched", "broadcasting"],
        inputs={"a": var(RNG.normal(size=(2, 1, 3, 4))), "b": var(RNG.normal(size=(3, 4, 2))),
                "c": _c((2, 3, 3, 2))},
        body=lambda ops, a, b, c: ops.sum(ops.matmul(a, b) * c),
        requests=Grad(("a", "b")), expect=[oracle(), oracle()],
    ),
    case(
        id="ops.linalg.einsum_contract",
        statement="einsum('bij,bjk->bik') differentiates like batched matmul",
        doc=NP.format("einsum"), tags=["ops", "linalg", "einsum"],
        inputs={"a": var(RNG.normal(size=(2, 3, 4))), "b": var(RNG.normal(size=(2, 4, 2))), "c": _c((2, 3, 2))},
        body=lambda ops, a, b, c: ops.sum(ops.einsum("bij,bjk->bik", a, b) * c),
        requests=Grad(("a", "b")), expect=[oracle(), oracle()],
    ),
    case(
        id="ops.linalg.einsum_outer",
        statement="einsum('i,j->ij') (outer product) sends each weight to both factors",
        doc=NP.format("einsum"), tags=["ops", "linalg", "einsum"],
        inputs={"u": var(np.array([0.3, -1.2, 0.8])), "v": var(np.array([1.1, 0.4])), "c": _c((3, 2))},
        body=lambda ops, u, v, c: ops.sum(ops.einsum("i,j->ij", u, v) * c),
        requests=Grad(("u", "v")),
        expect=[analytic(lambda u, v, c: c @ v), analytic(lambda u, v, c: c.T @ u)],
    ),
    case(
        id="ops.linalg.einsum_diagonal",
        statement="einsum('ii->i') takes the diagonal: its gradient puts the weights on the diagonal",
        doc=NP.format("einsum"), tags=["ops", "linalg", "einsum"],
        inputs={"m": var(M), "w": const(np.array([0.3, -1.2, 0.8]))},
        body=lambda ops, m, w: ops.sum(ops.einsum("ii->i", m) * w),
        requests=Grad("m"), expect=analytic(lambda m, w: np.diag(w)),
    ),
    case(
        id="ops.linalg.transpose",
        statement="the gradient through transpose is the weights transposed back",
        doc=NP.format("transpose"), tags=["ops", "linalg", "transpose"],
        inputs={"x": var(RNG.normal(size=(2, 3, 4))), "c": _c((4, 3, 2))},
        body=lambda ops, x, c: ops.sum(ops.transpose(x) * c),
        requests=Grad("x"), expect=analytic(lambda x, c: np.transpose(c)),
    ),
    case(
        id="ops.linalg.solve",
        statement="d/da and d/db of sum(c * solve(a, b)) match the oracle",
        doc=LA.format("solve"), tags=["ops", "linalg", "solve"],
        inputs={"a": var(M), "b": var(B), "c": _c((3, 2))},
        body=lambda ops, a, b, c: ops.sum(ops.solve(a, b) * c),
        requests=Grad(("a", "b")), expect=[oracle(), oracle()],
    ),
    case(
        id="ops.linalg.inv",
        statement="d/dx sum(c * inv(x)) = -inv(x).T @ c @ inv(x).T",
        doc=LA.format("inv"), tags=["ops", "linalg", "inv"],
        inputs={"x": var(M), "c": const(W3)},
        body=lambda ops, x, c: ops.sum(ops.inv(x) * c),
        requests=Grad("x"),
        expect=analytic(lambda x, c: -np.linalg.inv(x).T @ c @ np.linalg.inv(x).T),
    ),
    case(
        id="ops.linalg.inv_batched",
        statement="inv of a (2, 3, 3) batch differentiates per matrix",
        doc=LA.format("inv"), tags=["ops", "linalg", "inv", "batched"],
        inputs={"x": var(np.stack([M, M_NEG])), "c": _c((2, 3, 3))},
        body=lambda ops, x, c: ops.sum(ops.inv(x) * c),
        requests=Grad("x"), expect=oracle(),
    ),
    case(
        id="ops.linalg.det",
        statement="d det(x)/dx = det(x) inv(x).T (Jacobi's formula), with a negative determinant too",
        doc=LA.format("det"), tags=["ops", "linalg", "det"],
        inputs={"x": var(np.stack([M, M_NEG])), "c": const(np.array([0.7, -1.3]))},
        body=lambda ops, x, c: ops.sum(ops.det(x) * c),
        requests=Grad("x"),
        expect=analytic(lambda x, c: np.stack([w * np.linalg.det(m) * np.linalg.inv(m).T for m, w in zip(x, c)])),
    ),
    case(
        id="ops.linalg.slogdet",
        statement="d log|det(x)|/dx = inv(x).T, for a matrix with a negative determinant",
        doc=LA.format("slogdet"), tags=["ops", "linalg", "slogdet"],
        inputs={"x": var(M_NEG)},
        body=lambda ops, x: ops.slogdet(x),
        requests=Grad("x"), expect=analytic(lambda x: np.linalg.inv(x).T),
    ),
    case(
        id="ops.linalg.cholesky",
        statement="the gradient of sum(c * cholesky(a @ a.T + 3 I)) with respect to a matches the oracle "
                  "(the input is exactly symmetric, so no triangle convention matters)",
        doc=LA.format("cholesky"), tags=["ops", "linalg", "cholesky"],
        inputs={"a": var(RNG.normal(size=(3, 3))), "eye": const(3.0 * np.eye(3)), "c": const(W3)},
        body=lambda ops, a, eye, c: ops.sum(ops.cholesky(ops.matmul(a, ops.transpose(a)) + eye) * c),
        requests=Grad("a"), expect=oracle(),
    ),
    case(
        id="ops.linalg.trace",
        statement="d trace(x)/dx is the identity; through x @ x it is 2 x.T",
        doc=NP.format("trace"), tags=["ops", "linalg", "trace"],
        inputs={"x": var(M)},
        body=lambda ops, x: ops.trace(x) + ops.trace(ops.matmul(x, x)),
        requests=Grad("x"), expect=analytic(lambda x: np.eye(3) + 2 * x.T),
    ),
]

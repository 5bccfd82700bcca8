"""Dtypes: smooth gradients in float16 and bfloat16 (against analytic float64 NumPy on the
rounded inputs, within the dtype's tolerance), and complex gradients of holomorphic
building blocks inside a real loss.  The gradient keeps the dtype of its source."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import analytic, one_of
from gradspec.inputs import const, var
from gradspec.requests import Grad

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
X = np.array([0.5, -1.25, 2.0, 0.75])

LOW = (
    ("exp", lambda ops, x: ops.sum(ops.exp(x)), lambda x: np.exp(x), NP.format("exp")),
    ("tanh", lambda ops, x: ops.sum(ops.tanh(x)), lambda x: 1 - np.tanh(x) ** 2, NP.format("tanh")),
    ("square", lambda ops, x: ops.sum(x * x), lambda x: 2 * x, NP.format("square")),
    ("sin", lambda ops, x: ops.sum(ops.sin(x)), lambda x: np.cos(x), NP.format("sin")),
    ("sigmoid", lambda ops, x: ops.sum(ops.sigmoid(x)),
     lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2,
     "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.expit.html#scipy.special.expit"),
    ("mean_square", lambda ops, x: ops.mean(x * x), lambda x: 2 * x / x.size, NP.format("mean")),
)

CASES = [
    case(
        id=f"dtypes.{dt}_{name}",
        statement=f"the gradient of {name} in {dt} matches float64 NumPy on the rounded inputs within {dt} "
                  f"tolerance and stays {dt}",
        doc=url, tags=["dtypes", dt], requires=[dt], dtypes=[dt],
        inputs={"x": var(X)}, body=body, requests=Grad("x"), expect=analytic(grad),
    )
    for dt in ("float16", "bfloat16") for name, body, grad, url in LOW
]

A16 = np.array([[0.5, -1.25, 2.0], [0.75, 1.5, -0.25]])
B16 = np.array([[1.0, -0.5], [0.25, 2.0], [-1.5, 0.75]])
C16 = np.array([[1.0, 0.5], [-0.75, 2.0]])

MATMUL16 = [
    case(
        id="dtypes.float16_matmul",
        statement="the gradients of sum(c * (a @ b)) for float16 (2, 3) @ (3, 2) are c @ b.T and a.T @ c within "
                  "float16 tolerance, and stay float16",
        doc=NP.format("matmul"), tags=["dtypes", "float16", "matmul"], requires=["float16"], dtypes=["float16"],
        inputs={"a": var(A16), "b": var(B16), "c": const(C16)},
        body=lambda ops, a, b, c: ops.sum(ops.matmul(a, b) * c),
        requests=Grad(("a", "b")),
        expect=[analytic(lambda a, b, c: c @ b.T), analytic(lambda a, b, c: a.T @ c)],
    ),
    case(
        id="dtypes.float16_matmul_accumulation",
        statement="d/da sum(a @ b) for float16 a (1, 1) and b (1, 3000) of ones is b @ ones.T = 3000 in float16: "
                  "the backward matrix product sums 3000 ones, where a running float16 total stops at 2048 "
                  "(2049 is not a float16); it accumulates wider (float32) or in a tree",
        doc=NP.format("matmul"), tags=["dtypes", "float16", "matmul"], requires=["float16"], dtypes=["float16"],
        inputs={"a": var(np.ones((1, 1))), "b": const(np.ones((1, 3000)))},
        body=lambda ops, a, b: ops.sum(ops.matmul(a, b)),
        requests=Grad("a"),
        expect=analytic(lambda a, b: np.sum(b, axis=1, keepdims=True)),
    ),
]

COMPLEX_DOCS = ["https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd-doc",
                "https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html#complex-numbers-and-differentiation"]


def _both(fn):
    """For a real loss L, the two conventions: dL/dx + i dL/dy and its conjugate."""
    return one_of(dx_plus_i_dy=analytic(fn), dx_minus_i_dy=analytic(lambda z: np.conj(fn(z))))


Z = np.array([0.5 + 0.25j, -1.0 + 0.75j, 0.3 - 0.6j])

# loss L(z) = sum |g(z)|^2 with g holomorphic: dL/dx + i dL/dy = 2 g(z) conj(g'(z))
COMPLEX = [
    case(
        id=f"dtypes.complex_{name}",
        statement=f"d/dz sum |{name}(z)|^2 is 2 {name}(z) conj({name}'(z)) (or its conjugate), in "
                  f"complex64 and complex128",
        doc=COMPLEX_DOCS, tags=["dtypes", "complex"], requires=["complex"],
        dtypes=["complex64", "complex128"],
        inputs={"z": var(Z)},
        body=(lambda op: lambda ops, z: ops.sum(ops.real(op(ops, z) * ops.conj(op(ops, z)))))(g),
        requests=Grad("z"),
        expect=_both((lambda f, df: lambda z: 2 * f(z) * np.conj(df(z)))(f, df)),
    )
    for name, g, f, df in (
        ("cube", lambda ops, z: z * z * z, lambda z: z ** 3, lambda z: 3 * z ** 2),
        ("square", lambda ops, z: z * z, lambda z: z * z, lambda z: 2 * z),
        ("sin", lambda ops, z: ops.sin(z), np.sin, np.cos),
        ("tanh", lambda ops, z: ops.tanh(z), np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    )
]

"""Reductions over one axis, several axes and all axes: the gradient of sum(c * r(x))
(or r(x) when it is a scalar) at smooth points (distinct values, no zeros except where
stated), against the float64 oracle."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import analytic, oracle
from gradspec.inputs import const, var
from gradspec.requests import Grad

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
SCIPY_LSE = "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.logsumexp.html#scipy.special.logsumexp"
NORM = "https://numpy.org/doc/stable/reference/generated/numpy.linalg.norm.html#numpy.linalg.norm"

X = np.array([[[0.9, -1.3, 0.4, 1.7], [2.2, 0.35, -0.6, 1.1], [-0.8, 1.45, 0.15, -2.1]],
              [[1.25, 0.55, -1.05, 0.7], [-0.3, 1.9, 0.85, -1.6], [0.45, -0.95, 2.4, 0.05]]])  # (2, 3, 4), distinct
POSITIVE = np.abs(X) + 0.5

REDUCTIONS = (
    ("sum", X, NP.format("sum")),
    ("mean", X, NP.format("mean")),
    ("prod", X * 0.8, NP.format("prod")),
    ("max", X, NP.format("max")),
    ("min", X, NP.format("min")),
    ("logsumexp", X, SCIPY_LSE),
    ("var", X, NP.format("var")),
    ("std", X, NP.format("std")),
    ("norm", X, NORM),
)
AXES = (("axis1", 1), ("axes02", (0, 2)), ("all", None), ("last", -1))


def _weights(x: np.ndarray, axis) -> np.ndarray:
    shape = np.sum(x, axis=axis).shape
    return np.linspace(-1.5, 2.0, int(np.prod(shape))).reshape(shape) if shape else np.array(1.0)


def _reduce(name: str, x: np.ndarray, url: str, label: str, axis):
    if name == "norm" and isinstance(axis, tuple):
        return None  # norms over a pair of axes are matrix norms in some frameworks; covered by axis=None

    def body(ops, x, c):
        return ops.sum(getattr(ops, name)(x, axis=axis) * c)

    return case(
        id=f"ops.reduce.{name}_{label}",
        statement=f"d/dx sum(c * {name}(x, axis={axis})) of a (2, 3, 4) array with distinct entries matches "
                  f"the oracle",
        doc=url,
        tags=["ops", "reduction", name],
        inputs={"x": var(x), "c": const(_weights(x, axis))},
        body=body,
        requests=Grad("x"),
        expect=oracle(),
    )


CASES = [c for c in (_reduce(n, x, u, lbl, a) for n, x, u in REDUCTIONS for lbl, a in AXES) if c is not None]


def _prod_zero_grad(x):
    """d/dx_i prod(x) = product of the other entries, exact even where one entry is zero."""
    flat = x.reshape(-1)
    return np.array([np.prod(np.delete(flat, i)) for i in range(flat.size)]).reshape(x.shape)


PROD_ONE_ZERO = case(
    id="ops.reduce.prod_one_zero",
    statement="the gradient of prod(x) with exactly one zero entry is the product of the others at the zero "
              "and 0 elsewhere (no 0/0)",
    doc=NP.format("prod"),
    tags=["ops", "reduction", "prod", "zero"],
    inputs={"x": var(np.array([1.5, -2.0, 0.0, 0.5, 3.0]))},
    body=lambda ops, x: ops.prod(x),
    requests=Grad("x"),
    expect=analytic(_prod_zero_grad),
)

PROD_ONE_ZERO_AXIS = case(
    id="ops.reduce.prod_one_zero_axis",
    statement="prod over an axis with one zero in one row: that row's gradient is the product of the others, "
              "other rows are the usual prod / x",
    doc=NP.format("prod"),
    tags=["ops", "reduction", "prod", "zero"],
    inputs={"x": var(np.array([[1.5, 0.0, -2.0], [0.5, 3.0, 1.25]])), "c": const(np.array([0.7, -1.1]))},
    body=lambda ops, x, c: ops.sum(ops.prod(x, axis=1) * c),
    requests=Grad("x"),
    expect=analytic(lambda x, c: np.stack([_prod_zero_grad(row) * w for row, w in zip(x, c)])),
)

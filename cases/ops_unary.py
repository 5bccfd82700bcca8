"""Elementwise unary ops: the gradient of sum(c * op(x)) at smooth points, against the
float64 finite-difference oracle.  One case per op; the weights c make a permuted or
mis-scaled gradient visible."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import oracle
from gradspec.inputs import const, var
from gradspec.requests import Grad

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
TORCH_NN = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{0}.html#torch.nn.functional.{0}"
SCIPY = "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.{0}.html#scipy.special.{0}"

WEIGHTS = np.array([[1.0, -2.0, 0.5], [3.0, -0.25, 1.5]])
MIXED = np.array([[-1.3, -0.4, 0.3], [0.7, 1.1, 2.2]])        # both signs, away from 0
POSITIVE = np.array([[0.3, 0.8, 1.4], [2.1, 3.7, 5.2]])        # log, sqrt, rsqrt, reciprocal
UNIT = np.array([[-0.8, -0.45, -0.1], [0.15, 0.5, 0.75]])      # arcsin on (-1, 1)
ANGLE = np.array([[-1.2, -0.6, -0.2], [0.25, 0.7, 1.1]])       # tan away from pi/2

# op name, input, documentation
UNARY = (
    ("neg", MIXED, NP.format("negative")),
    ("abs", MIXED, NP.format("absolute")),
    ("exp", MIXED, NP.format("exp")),
    ("expm1", MIXED, NP.format("expm1")),
    ("log", POSITIVE, NP.format("log")),
    ("log1p", POSITIVE - 0.2, NP.format("log1p")),
    ("sqrt", POSITIVE, NP.format("sqrt")),
    ("rsqrt", POSITIVE, "https://www.tensorflow.org/api_docs/python/tf/math/rsqrt#args"),
    ("square", MIXED, NP.format("square")),
    ("sin", MIXED, NP.format("sin")),
    ("cos", MIXED, NP.format("cos")),
    ("tan", ANGLE, NP.format("tan")),
    ("tanh", MIXED, NP.format("tanh")),
    ("sinh", MIXED, NP.format("sinh")),
    ("cosh", MIXED, NP.format("cosh")),
    ("arcsin", UNIT, NP.format("arcsin")),
    ("arctan", MIXED, NP.format("arctan")),
    ("sigmoid", MIXED, SCIPY.format("expit")),
    ("log_sigmoid", MIXED, SCIPY.format("log_expit")),
    ("softplus", MIXED, TORCH_NN.format("softplus")),
    ("relu", MIXED, TORCH_NN.format("relu")),
    ("gelu", MIXED, TORCH_NN.format("gelu")),
    ("erf", MIXED, SCIPY.format("erf")),
    ("reciprocal", POSITIVE, NP.format("reciprocal")),
    ("sign", MIXED, NP.format("sign")),
)


def _unary(name: str, x: np.ndarray, url: str):
    def body(ops, x, c):
        return ops.sum(getattr(ops, name)(x) * c)

    return case(
        id=f"ops.unary.{name}",
        statement=f"d/dx sum(c * {name}(x)) at smooth points equals the float64 finite-difference derivative",
        doc=url,
        tags=["ops", "unary", name],
        inputs={"x": var(x), "c": const(WEIGHTS)},
        body=body,
        requests=Grad("x"),
        expect=oracle(),
    )


CASES = [_unary(*row) for row in UNARY]


def _second(name: str, x: np.ndarray, url: str):
    """Second derivative through the op's own gradient rule (its gradient is differentiable too)."""
    from gradspec.requests import Derivatives

    def body(ops, x, c):
        return ops.sum(getattr(ops, name)(x) * c)

    return case(
        id=f"ops.unary.{name}_second_order",
        statement=f"the gradient of sum(c * {name}(x)) is itself differentiable: order 2 matches the oracle",
        doc=url,
        tags=["ops", "unary", "higher_order", name],
        inputs={"x": var(x), "c": const(WEIGHTS)},
        body=body,
        requests=Derivatives("x", 2),
        expect=[oracle(), oracle()],
    )


SECOND = [_second(*row) for row in UNARY
          if row[0] in ("exp", "log", "sqrt", "tanh", "sin", "sigmoid", "softplus", "gelu", "erf", "arctan")]

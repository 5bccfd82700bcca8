"""Elementwise binary ops with NumPy broadcasting: the gradient with respect to both
arguments must sum over the broadcast axes.  Checked against the float64 oracle at
smooth points (no ties, positive bases for pow)."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import oracle
from gradspec.inputs import const, var
from gradspec.requests import Grad

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
BROADCAST = "https://numpy.org/doc/stable/user/basics.broadcasting.html#general-broadcasting-rules"

WEIGHTS = np.array([[1.0, -2.0, 0.5], [3.0, -0.25, 1.5]])
A = np.array([[0.4, 1.7, 2.3], [1.1, 0.6, 3.1]])
B_ROW = np.array([1.3, 0.9, 2.6])            # shape (3,): broadcast along axis 0
B_COL = np.array([[0.75], [1.9]])            # shape (2, 1): broadcast along axis 1
B_FULL = np.array([[1.2, 0.5, 2.9], [0.3, 1.4, 2.0]])

# op name, numpy reference name
BINARY = (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("div", "divide"), ("pow", "power"),
          ("maximum", "maximum"), ("minimum", "minimum"), ("atan2", "arctan2"))
SHAPES = (("same", B_FULL), ("row", B_ROW), ("col", B_COL))


def _binary(name: str, np_name: str, shape: str, b: np.ndarray):
    def body(ops, a, b, c):
        return ops.sum(getattr(ops, name)(a, b) * c)

    return case(
        id=f"ops.binary.{name}_{shape}",
        statement=f"d/da and d/db of sum(c * {name}(a, b)) with b of shape {b.shape} match the oracle, "
                  f"b's gradient summed over its broadcast axes",
        doc=[NP.format(np_name), BROADCAST],
        tags=["ops", "binary", "broadcasting", name],
        inputs={"a": var(A), "b": var(b), "c": const(WEIGHTS)},
        body=body,
        requests=Grad(("a", "b")),
        expect=[oracle(), oracle()],
    )


CASES = [_binary(n, npn, s, b) for n, npn in BINARY for s, b in SHAPES]

OPERATORS = {
    "operator_add": lambda a, b: a + b,
    "operator_sub": lambda a, b: a - b,
    "operator_mul": lambda a, b: a * b,
    "operator_truediv": lambda a, b: a / b,
    "operator_pow": lambda a, b: a ** b,
}


def _operator(name: str, fn):
    def body(ops, a, b, c):
        return ops.sum(fn(a, b) * c)

    return case(
        id=f"ops.binary.{name}",
        statement=f"the Python operator form ({name.split('_')[1]}) broadcasts a (2, 3) with b (3,) and "
                  f"differentiates like the named op",
        doc="https://docs.python.org/3/reference/datamodel.html#emulating-numeric-types",
        tags=["ops", "binary", "operators", "broadcasting"],
        inputs={"a": var(A), "b": var(B_ROW), "c": const(WEIGHTS)},
        body=body,
        requests=Grad(("a", "b")),
        expect=[oracle(), oracle()],
    )


OPERATOR_CASES = [_operator(n, f) for n, f in OPERATORS.items()]


def _where_body(ops, a, b, c, mask):
    return ops.sum(ops.where(mask, a * a, ops.exp(b)) * c)


WHERE = case(
    id="ops.binary.where_broadcast",
    statement="where(mask, a**2, exp(b)) sends each element's gradient to the selected branch only, "
              "b (3,) broadcast against the (2, 3) mask",
    doc=NP.format("where"),
    tags=["ops", "binary", "where", "broadcasting"],
    inputs={"a": var(A), "b": var(B_ROW), "c": const(WEIGHTS),
            "mask": const(np.array([[True, False, True], [False, False, True]]), dtype="bool")},
    body=_where_body,
    requests=Grad(("a", "b")),
    expect=[oracle(), oracle()],
)


def _scalar_body(ops, a, s, c):
    return ops.sum(ops.mul(a, s) * c + s * s)


SCALAR = case(
    id="ops.binary.scalar_operand",
    statement="a 0-d operand broadcast against a (2, 3) array gets the sum of its elementwise gradients",
    doc=BROADCAST,
    tags=["ops", "binary", "broadcasting"],
    inputs={"a": var(A), "s": var(np.array(1.7)), "c": const(WEIGHTS)},
    body=_scalar_body,
    requests=Grad(("a", "s")),
    expect=[oracle(), oracle()],
)

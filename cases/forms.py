"""One derivative rule, every form users reach it by.

A framework's rule for multiply, add or square is reached through an operator
(``x * w``) or a function (``mul(x, w)``); its value may be used once or
several times (the gradients of each use accumulate); it is asked for by one
reverse-mode request for all sources, by a vector-Jacobian product with a
cotangent (the functional API), by forward mode, or differentiated twice.  A
bug that lives in one of these paths is invisible to a case that always takes
another, so each rule below is reached by each form, on every adapter that
offers it.  Expected values: the float64 finite-difference oracle, or for
complex inputs the analytic conventions of cases/dtypes.py.

The forms, by area (the other case files hold the plain form of each):

- arithmetic (mul, add with broadcasting, sub, div, matmul, square, neg,
  pow): operator and function (``x * w`` / ``mul``, ``x @ w`` / ``matmul``,
  ``x ** 2`` / ``x * x`` / ``square`` / ``pow``, ``-x`` / ``neg``), each by
  one request for all sources, VJP, JVP and second order, with its value
  reused, and on complex inputs for square and neg;
- every elementwise op and reduction of the vocabulary: VJP with a
  cotangent, forward mode (JVP), its value used twice, per-example gradients
  under vmap (ops_unary.py and ops_reduce.py take the single gradient
  request, ops_unary.py the second order); the holomorphic ones on complex
  inputs.

Methods (``x.sum()``) are not a form here: the op vocabulary is
framework-neutral and TensorFlow tensors have no such methods.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradspec import numpy_ops
from gradspec.case import Doc, case
from gradspec.expect import analytic, one_of, oracle
from gradspec.inputs import const, var
from gradspec.requests import BatchedGrad, Derivatives, Grad, Jvp, Vjp

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
JAX_AD = "https://docs.jax.dev/en/latest/automatic-differentiation.html#{0}"
HISTORY = Doc("https://pytorch.org/docs/stable/notes/autograd.html#how-autograd-encodes-history")
COMPLEX_DOCS = ["https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd-doc",
                "https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html#complex-numbers-and-differentiation"]

X = np.array([[0.7, -1.1, 0.4], [1.9, -0.3, 0.8]])
W = np.array([[1.3, 0.6, -0.9], [0.5, 1.7, -1.2]])
W_ROW = np.array([0.9, -1.4, 0.35])                     # broadcast along the rows of X
W_MAT = np.array([[0.4, -0.2], [1.1, 0.3], [-0.6, 0.9]])  # X @ W_MAT
C = np.array([[1.0, -2.0, 0.5], [3.0, -0.25, 1.5]])
POSITIVE = np.abs(X) + 0.5                              # pow and div stay smooth
Z = np.array([0.5 + 0.25j, -1.0 + 0.75j, 0.3 - 0.6j])

Body = Callable[..., Any]

# rule -> (numpy doc name, w input, {form: op(ops, x, w)}); every form of a rule computes the same function
BINARY: dict[str, tuple[str, np.ndarray, dict[str, Body]]] = {
    "mul": ("multiply", W, {"operator": lambda ops, x, w: x * w, "function": lambda ops, x, w: ops.mul(x, w)}),
    "add_row": ("add", W_ROW, {"operator": lambda ops, x, w: x + w,
                               "function": lambda ops, x, w: ops.add(x, w)}),
    "sub": ("subtract", W, {"operator": lambda ops, x, w: x - w, "function": lambda ops, x, w: ops.sub(x, w)}),
    "div": ("divide", W, {"operator": lambda ops, x, w: x / w, "function": lambda ops, x, w: ops.div(x, w)}),
    "matmul": ("matmul", W_MAT, {"operator": lambda ops, x, w: x @ w,
                                 "function": lambda ops, x, w: ops.matmul(x, w)}),
}
UNARY: dict[str, tuple[str, np.ndarray, dict[str, Body]]] = {
    "square": ("square", X, {"times_itself": lambda ops, x: x * x, "power_operator": lambda ops, x: x ** 2,
                             "function": lambda ops, x: ops.square(x), "pow_function": lambda ops, x: ops.pow(x, 2.0)}),
    "neg": ("negative", X, {"operator": lambda ops, x: -x, "function": lambda ops, x: ops.neg(x)}),
    "pow": ("power", POSITIVE, {"operator": lambda ops, x: x ** 1.5, "function": lambda ops, x: ops.pow(x, 1.5)}),
}

# request form -> (what is asked, extra tags, where the form is documented)
REQUESTS = {
    "grad": ("one reverse-mode request for every source", [],
             Doc(JAX_AD.format("taking-gradients-with-jax-grad"))),
    "vjp": ("a vector-Jacobian product with a cotangent (the functional API)", ["vjp"],
            Doc(JAX_AD.format("vector-jacobian-products-vjps-aka-reverse-mode-jacobians"))),
    "jvp": ("forward mode along a tangent", ["jvp", "forward_mode"],
            Doc(JAX_AD.format("jacobian-vector-products-jvps-aka-forward-mode-autodiff"))),
    "second_order": ("differentiated twice (the rule's gradient is itself differentiable)", ["higher_order"],
                     Doc("https://www.tensorflow.org/guide/advanced_autodiff#higher-order_gradients")),
}


def _case(rule: str, form: str, request: str, np_name: str, inputs: dict[str, Any], op: Body) -> Any:
    """The rule in one written form, asked for by one request form: vjp and jvp
    see op itself (a non-scalar target), grad sum(c * op), second_order sum(c * op^2)."""
    names = [n for n in inputs if n != "c"]
    what, tags, form_doc = REQUESTS[request]
    x = np.asarray(inputs[names[0]].value)
    out_shape = np.shape(op(_NumpyShape(), *(np.asarray(inputs[n].value) for n in names)))
    if request in ("vjp", "jvp"):
        used = {n: inputs[n] for n in names}
        body: Body = lambda ops, **kw: op(ops, *(kw[n] for n in names))  # noqa: E731
        req: Any = Vjp(names[0], cotangent=np.linspace(-1.0, 1.5, int(np.prod(out_shape))).reshape(out_shape)) \
            if request == "vjp" else Jvp(names[0], tangent=np.linspace(0.5, -1.25, x.size).reshape(x.shape))
    elif request == "grad":
        used = inputs
        body = lambda ops, **kw: ops.sum(op(ops, *(kw[n] for n in names)) * kw["c"])  # noqa: E731
        req = Grad(tuple(names) if len(names) > 1 else names[0])
    else:  # squared, so that a rule linear in x still has a second derivative (and x stays connected)
        used = inputs
        body = lambda ops, **kw: ops.sum(_squared(op(ops, *(kw[n] for n in names))) * kw["c"])  # noqa: E731
        req = Derivatives(names[0], 2)
    return case(
        id=f"forms.{rule}_{form}_{request}",
        statement=f"{rule} written as {form.replace('_', ' ')}, {what}, matches the float64 oracle",
        doc=[Doc(NP.format(np_name)), form_doc],
        tags=["forms", rule, form, *tags],
        requires=["output_gradients"] if request == "vjp" else [],
        inputs=used,
        body=body,
        requests=req,
        expect=[oracle(), oracle()] if request == "second_order" else oracle(),
    )


def _squared(s: Any) -> Any:
    return s * s


class _NumpyShape:
    """Just enough of an op table to find a form's output shape at import."""

    def __getattr__(self, name: str) -> Any:
        return {"mul": np.multiply, "add": np.add, "sub": np.subtract, "div": np.divide, "matmul": np.matmul,
                "square": np.square, "neg": np.negative, "pow": np.power}[name]


def _reused(rule: str, form: str, np_name: str, inputs: dict[str, Any], op: Body) -> Any:
    """The op's value used three times: the gradients of the uses accumulate."""
    names = [n for n in inputs if n != "c"]

    def body(ops: Any, **kw: Any) -> Any:
        s = op(ops, *(kw[n] for n in names))
        return ops.sum(s * s) + ops.sum(ops.sin(s))

    return case(
        id=f"forms.{rule}_{form}_reused",
        statement=f"{rule} written as {form.replace('_', ' ')}, its value used three times "
                  f"(the gradients of the uses add up), matches the float64 oracle",
        doc=[Doc(NP.format(np_name)), HISTORY],
        tags=["forms", rule, form, "reused"],
        inputs={n: inputs[n] for n in names},
        body=body,
        requests=Grad(tuple(names) if len(names) > 1 else names[0]),
        expect=oracle(),
    )


def _both(fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    """For a real loss L, the two conventions: dL/dx + i dL/dy and its conjugate."""
    return one_of(dx_plus_i_dy=analytic(fn), dx_minus_i_dy=analytic(lambda z: np.conj(fn(z))))


def _complex(rule: str, form: str, np_name: str, op: Body, f: Callable[..., Any], df: Callable[..., Any]) -> Any:
    """d/dz sum |op(z)|^2 = 2 op(z) conj(op'(z)) (or its conjugate)."""
    return case(
        id=f"forms.{rule}_{form}_complex",
        statement=f"{rule} written as {form.replace('_', ' ')} on complex z: d/dz sum |{rule}(z)|^2 is "
                  f"2 {rule}(z) conj({rule}'(z)) or its conjugate",
        doc=[Doc(NP.format(np_name)), *(Doc(u) for u in COMPLEX_DOCS)],
        tags=["forms", rule, form, "complex"], requires=["complex"], dtypes=["complex64", "complex128"],
        inputs={"z": var(Z)},
        body=lambda ops, z: ops.sum(ops.real(op(ops, z) * ops.conj(op(ops, z)))),
        requests=Grad("z"),
        expect=_both(lambda z: 2 * f(z) * np.conj(df(z))),
    )


CASES = []
for rule, (np_name, w, forms) in BINARY.items():
    x = POSITIVE if rule == "div" else X
    inputs = {"x": var(x), "w": var(w), "c": const(C if rule != "matmul" else C[:, :2])}
    for form, op in forms.items():
        CASES += [_case(rule, form, request, np_name, inputs, op) for request in REQUESTS]
        CASES.append(_reused(rule, form, np_name, inputs, op))
for rule, (np_name, x, forms) in UNARY.items():
    inputs = {"x": var(x), "c": const(C)}
    for form, op in forms.items():
        CASES += [_case(rule, form, request, np_name, inputs, op) for request in REQUESTS]
        CASES.append(_reused(rule, form, np_name, inputs, op))
for form, op in UNARY["square"][2].items():
    CASES.append(_complex("square", form, "square", op, lambda z: z * z, lambda z: 2 * z))
for form, op in UNARY["neg"][2].items():
    CASES.append(_complex("neg", form, "negative", op, lambda z: -z, lambda z: -np.ones_like(z)))


# -- every unary op and reduction through the request forms ops_unary/ops_reduce do not take ----------
MIXED = np.array([[-1.3, -0.4, 0.3], [0.7, 1.1, 2.2]])
POS = np.array([[0.3, 0.8, 1.4], [2.1, 3.7, 5.2]])
UNIT = np.array([[-0.8, -0.45, -0.1], [0.15, 0.5, 0.75]])
ANGLE = np.array([[-1.2, -0.6, -0.2], [0.25, 0.7, 1.1]])
ELEMENTWISE = {"neg": MIXED, "abs": MIXED, "exp": MIXED, "expm1": MIXED, "log": POS, "log1p": POS - 0.2,
               "sqrt": POS, "rsqrt": POS, "square": MIXED, "sin": MIXED, "cos": MIXED, "tan": ANGLE,
               "tanh": MIXED, "sinh": MIXED, "cosh": MIXED, "arcsin": UNIT, "arctan": MIXED, "sigmoid": MIXED,
               "log_sigmoid": MIXED, "softplus": MIXED, "relu": MIXED, "gelu": MIXED, "erf": MIXED,
               "reciprocal": POS}  # sign has no rule to reach: its derivative is zero wherever it exists
REDUCTIONS = {"sum": MIXED, "mean": MIXED, "max": MIXED, "min": MIXED, "prod": POS, "var": MIXED, "std": MIXED,
              "norm": MIXED, "logsumexp": MIXED}
_PHI = lambda x: np.exp(-x * x / 2) / np.sqrt(2 * np.pi)  # noqa: E731 - the standard normal density
_SIG = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
# d/dx of each elementwise op, by hand (the batched form's expected value is 2 f(x) f'(x))
DERIVATIVE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "neg": lambda x: -np.ones_like(x), "abs": np.sign, "exp": np.exp, "expm1": np.exp, "log": lambda x: 1 / x,
    "log1p": lambda x: 1 / (1 + x), "sqrt": lambda x: 0.5 / np.sqrt(x), "rsqrt": lambda x: -0.5 * x ** -1.5,
    "square": lambda x: 2 * x, "sin": np.cos, "cos": lambda x: -np.sin(x), "tan": lambda x: 1 / np.cos(x) ** 2,
    "tanh": lambda x: 1 - np.tanh(x) ** 2, "sinh": np.cosh, "cosh": np.sinh,
    "arcsin": lambda x: 1 / np.sqrt(1 - x * x), "arctan": lambda x: 1 / (1 + x * x),
    "sigmoid": lambda x: _SIG(x) * (1 - _SIG(x)), "log_sigmoid": lambda x: _SIG(-x), "softplus": _SIG,
    "relu": lambda x: (x > 0).astype(float), "gelu": lambda x: 0.5 * (1 + _erf(x / np.sqrt(2))) + x * _PHI(x),
    "erf": lambda x: 2 / np.sqrt(np.pi) * np.exp(-x * x), "reciprocal": lambda x: -1 / (x * x),
}


def _onehot(idx: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.eye(x.shape[-1])[idx]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# d/dx of each reduction over the last axis (rows without ties), by hand
REDUCTION_DERIVATIVE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sum": np.ones_like, "mean": lambda x: np.ones_like(x) / x.shape[-1],
    "max": lambda x: _onehot(x.argmax(-1), x), "min": lambda x: _onehot(x.argmin(-1), x),
    "prod": lambda x: x.prod(-1, keepdims=True) / x,
    "var": lambda x: 2 * (x - x.mean(-1, keepdims=True)) / x.shape[-1],
    "std": lambda x: (x - x.mean(-1, keepdims=True)) / (x.shape[-1] * x.std(-1, keepdims=True)),
    "norm": lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True), "logsumexp": _softmax,
}


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x)


OP_DOC = Doc("https://numpy.org/doc/stable/reference/routines.math.html#mathematical-functions")
VMAP_DOC = Doc("https://docs.jax.dev/en/latest/_autosummary/jax.vmap.html#jax.vmap")


def _op_form(name: str, x: np.ndarray, request: str, reduction: bool) -> Any:
    """ops.<name> reached by vjp, jvp, vmap (per-row gradients) or with its value reused."""
    def apply(ops: Any, x: Any) -> Any:
        return getattr(ops, name)(x, axis=-1) if reduction else getattr(ops, name)(x)

    out_shape = (x.shape[0],) if reduction else x.shape
    if request == "vjp":
        body: Body = apply
        req: Any = Vjp("x", cotangent=np.linspace(-1.0, 1.5, int(np.prod(out_shape))).reshape(out_shape))
        what, doc, tags = "its vector-Jacobian product with a cotangent", REQUESTS["vjp"][2], ["vjp"]
    elif request == "jvp":
        body, req = apply, Jvp("x", tangent=np.linspace(0.5, -1.25, x.size).reshape(x.shape))
        what, doc, tags = "its forward-mode JVP", REQUESTS["jvp"][2], ["jvp", "forward_mode"]
    elif request == "batched":  # the oracle does not batch: 2 f(x) f'(x), from the vocabulary's f
        f, df = getattr(numpy_ops, name), (REDUCTION_DERIVATIVE if reduction else DERIVATIVE)[name]
        if reduction:
            f = (lambda r: lambda x: r(x, axis=-1)[..., None])(f)
        body, req = (lambda ops, x: ops.sum(apply(ops, x) * apply(ops, x))), BatchedGrad("x")
        what, doc, tags = "per-row gradients of sum(op(x)^2) under vmap", VMAP_DOC, ["vmap"]
        expect: Any = analytic(lambda x: 2 * f(x) * df(x))
    else:
        def body(ops: Any, x: Any) -> Any:
            s = apply(ops, x)
            return ops.sum(s * s) + ops.sum(s * 0.5)
        req, what, doc, tags = Grad("x"), "its value used twice (the gradients add up)", HISTORY, ["reused"]
    return case(
        id=f"forms.op_{name}_{request}",
        statement=f"{name}{' over the last axis' if reduction else ''}: {what} matches the float64 oracle",
        doc=[OP_DOC, doc], tags=["forms", name, *tags],
        requires=["output_gradients"] if request == "vjp" else [],
        inputs={"x": var(x)}, body=body, requests=req, expect=expect if request == "batched" else oracle(),
    )


for _name, _x in ELEMENTWISE.items():
    CASES += [_op_form(_name, _x, r, False) for r in ("vjp", "jvp", "batched", "reused")]
for _name, _x in REDUCTIONS.items():
    CASES += [_op_form(_name, _x, r, True) for r in ("vjp", "jvp", "batched", "reused")]

# holomorphic ops on complex inputs, as function calls (cases/dtypes.py has z*z, z**3, sin and tanh)
HOLOMORPHIC: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "exp": (np.exp, np.exp), "expm1": (np.expm1, np.exp), "log": (np.log, lambda z: 1 / z),
    "sqrt": (np.sqrt, lambda z: 0.5 / np.sqrt(z)), "sin": (np.sin, np.cos), "cos": (np.cos, lambda z: -np.sin(z)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2), "sinh": (np.sinh, np.cosh), "cosh": (np.cosh, np.sinh),
    "reciprocal": (lambda z: 1 / z, lambda z: -1 / (z * z)),
}
for _name, (_f, _df) in HOLOMORPHIC.items():
    CASES.append(_complex(f"op_{_name}", "function", _name, (lambda n: lambda ops, z: getattr(ops, n)(z))(_name),
                          _f, _df))

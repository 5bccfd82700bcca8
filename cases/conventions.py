"""Implementation-defined conventions: kinks, ties, singular points and complex gradients.
Each case lists the legitimate outcomes with one_of(); each adapter's expectation file
records the outcome its framework documents.  Also the required finite answers at large
inputs and the empty-sum gradient."""
from __future__ import annotations

import numpy as np

from gradspec.case import Doc, case
from gradspec.expect import analytic, one_of, value
from gradspec.inputs import const, var
from gradspec.requests import Grad

NP = "https://numpy.org/doc/stable/reference/generated/numpy.{0}.html#numpy.{0}"
SUBGRADIENT = "https://docs.jax.dev/en/latest/faq.html#gradients-contain-nan-where-using-where"
TORCH_AD = "https://pytorch.org/docs/stable/notes/autograd.html#gradients-for-non-differentiable-functions"
INF, NAN = float("inf"), float("nan")


def _kink(cid: str, statement: str, doc, fn, x, **options):
    return case(id=f"conventions.{cid}", statement=statement, doc=doc, tags=["conventions", "kink"],
                inputs={"x": var(np.array(x))}, body=fn, requests=Grad("x"), expect=one_of(**options))


KINKS = [
    _kink("abs_at_zero", "d/dx |x| at 0 is a subgradient in [-1, 1]: 0 (sign(0)) or 1",
          [NP.format("absolute"), TORCH_AD], lambda ops, x: ops.abs(x), 0.0,
          zero=value(0.0), one=value(1.0)),
    _kink("relu_at_zero", "the framework's own relu (torch.relu, tf.nn.relu, jax.nn.relu): relu'(0) is 0, 1/2 "
          "or 1; maximum(x, 0) is the case maximum_zero_at_zero", [TORCH_AD], lambda ops, x: ops.relu(x), 0.0,
          zero=value(0.0), half=value(0.5), one=value(1.0)),
    _kink("maximum_zero_at_zero", "d/dx maximum(x, x * 0) at x = 0, a tie with a tensor zero "
          "computed from x: 0, 1/2 (the tie split) or 1", [NP.format("maximum"), TORCH_AD],
          lambda ops, x: ops.maximum(x, x * 0.0), 0.0, zero=value(0.0), half=value(0.5), one=value(1.0)),
    _kink("sqrt_at_zero", "sqrt'(0) = 1 / (2 sqrt(0)) is +inf (or NaN)", NP.format("sqrt"),
          lambda ops, x: ops.sqrt(x), 0.0, inf=value(INF), nan=value(NAN)),
    _kink("pow_half_at_zero", "d/dx x**0.5 at 0 is +inf, NaN or 0", NP.format("power"),
          lambda ops, x: ops.pow(x, x * 0.0 + 0.5), 0.0, inf=value(INF), nan=value(NAN), zero=value(0.0)),
    _kink("log_at_zero", "log'(0) = 1/0 is +inf (or NaN)", NP.format("log"),
          lambda ops, x: ops.log(x), 0.0, inf=value(INF), nan=value(NAN)),
    _kink("xlogx_at_zero", "d/dx x log x at 0: log(0) + x/x is NaN by the chain rule, or -inf",
          NP.format("log"), lambda ops, x: x * ops.log(x), 0.0, nan=value(NAN), neg_inf=value(-INF)),
    _kink("norm_at_zero_vector", "the gradient of the Euclidean norm at the zero vector is NaN or the zero "
          "subgradient", "https://numpy.org/doc/stable/reference/generated/numpy.linalg.norm.html#numpy.linalg.norm",
          lambda ops, x: ops.norm(x), [0.0, 0.0, 0.0], nan=value([NAN] * 3), zero=value([0.0] * 3)),
    _kink("where_nan_trap", "where(x > 0, sqrt(x), 0) at 0: nan is sqrt's infinite derivative times the zero "
          "cotangent where routes to the untaken branch; zero means sqrt's own gradient gives 0 for a zero cotangent "
          "(a property of sqrt's gradient, not of where: compare where_nan_trap_log and _reciprocal)", SUBGRADIENT,
          lambda ops, x: ops.where(x > 0.0, ops.sqrt(x), x * 0.0), 0.0, nan=value(NAN), zero=value(0.0)),
    _kink("where_nan_trap_log", "where(x > 0, log(x), 0) at 0: nan is log's infinite derivative times the zero "
          "cotangent of the untaken branch; zero would mean where masked it (or log's gradient zeroes it)",
          SUBGRADIENT, lambda ops, x: ops.where(x > 0.0, ops.log(x), x * 0.0), 0.0, nan=value(NAN), zero=value(0.0)),
    _kink("where_nan_trap_reciprocal", "where(x > 0, 1 / x, 0) at 0: nan is the division's infinite derivative "
          "times the zero cotangent of the untaken branch; zero would mean where masked it (or the division's "
          "gradient zeroes it)", SUBGRADIENT, lambda ops, x: ops.where(x > 0.0, 1.0 / x, x * 0.0), 0.0,
          nan=value(NAN), zero=value(0.0)),
    _kink("pow_zero_exponent_at_zero", "d/dx pow(x, 0) at 0: 0 * x**-1 is NaN by the formula, 0 if the "
          "framework special-cases the zero exponent", NP.format("power"),
          lambda ops, x: ops.pow(x, x * 0.0), 0.0, zero=value(0.0), nan=value(NAN)),
]


def _tie2(cid: str, op: str, statement: str):
    return case(
        id=f"conventions.{cid}", statement=statement, doc=[NP.format(op), TORCH_AD],
        tags=["conventions", "tie"],
        inputs={"a": var(np.array(1.5)), "b": var(np.array(1.5))},
        body=lambda ops, a, b: getattr(ops, op)(a, b), requests=Grad(("a", "b")),
        expect=one_of(split=[value(0.5), value(0.5)], first=[value(1.0), value(0.0)],
                      second=[value(0.0), value(1.0)], both=[value(1.0), value(1.0)]),
    )


def _tie_reduce(cid: str, op: str, x, axis, split, first, every):
    return case(
        id=f"conventions.{cid}",
        statement=f"{op} over axis={axis} with tied extremes, the plain reduction (torch.amax/amin, "
                  f"tf.reduce_{op}, jnp.{op}): the gradient splits evenly, goes to the first index, or to every "
                  f"tied element",
        doc=[NP.format(op), "https://pytorch.org/docs/stable/generated/torch.amax.html#torch.amax"],
        tags=["conventions", "tie", "reduction"],
        inputs={"x": var(np.array(x))}, body=lambda ops, x: ops.sum(getattr(ops, op)(x, axis=axis)),
        requests=Grad("x"),
        expect=one_of(split=value(split), first=value(first), every=value(every)),
    )


def _tie_with_index(cid: str, op: str, x, split, first, every):
    return case(
        id=f"conventions.{cid}",
        statement=f"{op}(x, axis=1), the maximum or minimum that also returns indices (torch.max(x, dim)), with "
                  f"tied extremes: the gradient goes to the first index, splits evenly, or goes to every tied element",
        doc=[Doc("https://docs.pytorch.org/docs/stable/generated/torch.max.html#torch.max",
                 quote="If reduce over one specified axis, only propagate to the indexed element.")],
        tags=["conventions", "tie", "reduction"],
        inputs={"x": var(np.array(x))}, body=lambda ops, x: ops.sum(getattr(ops, op)(x, axis=1)),
        requests=Grad("x"),
        expect=one_of(split=value(split), first=value(first), every=value(every)),
    )


TIES = [
    _tie2("maximum_tie", "maximum", "maximum(a, b) at a = b: split 1/2 each, all to one side, or 1 to both"),
    _tie2("minimum_tie", "minimum", "minimum(a, b) at a = b: split 1/2 each, all to one side, or 1 to both"),
    _tie_reduce("max_reduce_tie_all", "max", [1.0, 3.0, 3.0, 2.0], None,
                [0, 0.5, 0.5, 0], [0, 1.0, 0, 0], [0, 1.0, 1.0, 0]),
    _tie_reduce("min_reduce_tie_all", "min", [2.0, -1.0, 0.5, -1.0], None,
                [0, 0.5, 0, 0.5], [0, 1.0, 0, 0], [0, 1.0, 0, 1.0]),
    _tie_reduce("max_reduce_tie_axis", "max", [[2.0, 2.0, 1.0], [0.5, 4.0, 4.0]], 1,
                [[0.5, 0.5, 0], [0, 0.5, 0.5]], [[1.0, 0, 0], [0, 1.0, 0]], [[1.0, 1.0, 0], [0, 1.0, 1.0]]),
    _tie_reduce("min_reduce_tie_axis", "min", [[2.0, 2.0, 3.0], [-1.0, 4.0, -1.0]], 1,
                [[0.5, 0.5, 0], [0.5, 0, 0.5]], [[1.0, 0, 0], [1.0, 0, 0]], [[1.0, 1.0, 0], [1.0, 0, 1.0]]),
    _tie_with_index("max_with_index_tie_axis", "max_with_index", [[2.0, 2.0, 1.0], [0.5, 4.0, 4.0]],
                    [[0.5, 0.5, 0], [0, 0.5, 0.5]], [[1.0, 0, 0], [0, 1.0, 0]], [[1.0, 1.0, 0], [0, 1.0, 1.0]]),
    _tie_with_index("min_with_index_tie_axis", "min_with_index", [[2.0, 2.0, 3.0], [-1.0, 4.0, -1.0]],
                    [[0.5, 0.5, 0], [0.5, 0, 0.5]], [[1.0, 0, 0], [1.0, 0, 0]], [[1.0, 1.0, 0], [1.0, 0, 1.0]]),
    case(
        id="conventions.max_pool2d_tie",
        statement="a 2x2 max-pool window whose four entries are equal: the gradient goes to the first, is "
                  "split evenly, or goes to every tied entry",
        doc=["https://www.tensorflow.org/api_docs/python/tf/nn/max_pool2d#args",
             "https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html#torch.nn.MaxPool2d"],
        tags=["conventions", "tie", "pooling"],
        inputs={"x": var(np.full((1, 2, 2, 1), 0.75))},
        body=lambda ops, x: ops.sum(ops.max_pool2d(x, 2, 2)),
        requests=Grad("x"),
        expect=one_of(first=value(np.array([1.0, 0, 0, 0]).reshape(1, 2, 2, 1)),
                      split=value(np.full((1, 2, 2, 1), 0.25)),
                      every=value(np.ones((1, 2, 2, 1)))),
    ),
]

REQUIRED = [
    case(
        id="conventions.empty_sum",
        statement="the gradient of a sum over an empty tensor is an empty gradient of the same shape",
        doc=NP.format("sum"), tags=["conventions", "empty"],
        inputs={"x": var(np.zeros((0,)))}, body=lambda ops, x: ops.sum(x),
        requests=Grad("x"), expect=value(np.zeros((0,))),
    ),
    case(
        id="conventions.softplus_large_inputs",
        statement="softplus'(x) = sigmoid(x) stays finite at x = +-100 (1 and ~0), computed stably",
        doc="https://pytorch.org/docs/stable/generated/torch.nn.functional.softplus.html#torch.nn.functional.softplus",
        tags=["conventions", "stability"],
        inputs={"x": var(np.array([100.0, -100.0, 30.0]))}, body=lambda ops, x: ops.sum(ops.softplus(x)),
        requests=Grad("x"), expect=analytic(lambda x: 1.0 / (1.0 + np.exp(-x))),
    ),
    case(
        id="conventions.sigmoid_large_inputs",
        statement="sigmoid'(x) = s (1 - s) stays finite (about 0) at x = +-100",
        doc="https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.expit.html#scipy.special.expit",
        tags=["conventions", "stability"],
        inputs={"x": var(np.array([100.0, -100.0, 30.0]))}, body=lambda ops, x: ops.sum(ops.sigmoid(x)),
        requests=Grad("x"), expect=analytic(lambda x: np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))) ** 2),
    ),
    case(
        id="conventions.naive_softplus_overflow_float32",
        statement="naive log(1 + exp(x)) at 100 in float32: exp overflows, so the gradient is inf/inf = NaN "
                  "(recorded as data) unless the framework rewrites the expression",
        doc="https://numpy.org/doc/stable/reference/generated/numpy.logaddexp.html#numpy.logaddexp",
        tags=["conventions", "stability", "overflow"], dtypes=["float32"],
        inputs={"x": var(np.array(100.0))}, body=lambda ops, x: ops.log(ops.exp(x) + 1.0),
        requests=Grad("x"), expect=one_of(nan=value(NAN), one=value(1.0)),
    ),
]

COMPLEX_DOCS = ["https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd-doc",
                "https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html#complex-numbers-and-differentiation",
                "https://www.tensorflow.org/api_docs/python/tf/GradientTape#gradient"]

COMPLEX = [
    case(
        id="conventions.complex_abs_squared",
        statement="the gradient of |z|^2 at 1+2j is 2+4j (df/dx + i df/dy) or its conjugate 2-4j",
        doc=COMPLEX_DOCS, tags=["conventions", "complex"], requires=["complex"],
        dtypes=["complex64", "complex128"],
        inputs={"z": var(np.array(1 + 2j))}, body=lambda ops, z: ops.real(z * ops.conj(z)),
        requests=Grad("z"),
        expect=one_of(dx_plus_i_dy=value(2 + 4j), dx_minus_i_dy=value(2 - 4j)),
    ),
    case(
        id="conventions.complex_real_of_square",
        statement="the gradient of Re(z^2) (non-holomorphic as a real function) at 1+2j is 2 conj(z) = 2-4j or "
                  "its conjugate 2+4j",
        doc=COMPLEX_DOCS, tags=["conventions", "complex"], requires=["complex"],
        dtypes=["complex64", "complex128"],
        inputs={"z": var(np.array(1 + 2j))}, body=lambda ops, z: ops.real(z * z),
        requests=Grad("z"),
        expect=one_of(dx_plus_i_dy=value(2 - 4j), dx_minus_i_dy=value(2 + 4j)),
    ),
    case(
        id="conventions.complex_vector_abs_squared",
        statement="the gradient of sum |z_k|^2 * w_k keeps the convention elementwise: 2 w z or 2 w conj(z)",
        doc=COMPLEX_DOCS, tags=["conventions", "complex"], requires=["complex"],
        dtypes=["complex64", "complex128"],
        inputs={"z": var(np.array([1 + 2j, -0.5 + 0.25j, 3 - 1j])), "w": const(np.array([1.0, 2.0, -0.5]))},
        body=lambda ops, z, w: ops.sum(ops.real(z * ops.conj(z)) * ops.real(w)),
        requests=Grad("z"),
        expect=one_of(dx_plus_i_dy=analytic(lambda z, w: 2 * np.real(w) * z),
                      dx_minus_i_dy=analytic(lambda z, w: 2 * np.real(w) * np.conj(z))),
    ),
]

"""The finite-difference oracle against derivatives known in closed form."""
from __future__ import annotations

import numpy as np
import pytest

from gradspec.inputs import var
from gradspec.oracle import FiniteDifferenceOracle, directional, jacobian
from gradspec.outcomes import ErrorKind, Raised, Value
from gradspec.program import Program, RunContext
from gradspec.requests import Derivatives, Grad, Hessian, Jvp, Vjp

KNOWN = [
    (np.sin, np.cos, [0.3, -1.1, 2.5]),
    (np.exp, np.exp, [-2.0, 0.0, 1.5]),
    (np.log, lambda x: 1.0 / x, [0.1, 1.0, 30.0]),
    (np.tanh, lambda x: 1.0 - np.tanh(x) ** 2, [-3.0, 0.2, 1.0]),
    (lambda x: x ** 3, lambda x: 3 * x ** 2, [-1e3, 0.5, 7.0]),
    (np.arctan, lambda x: 1.0 / (1.0 + x ** 2), [-4.0, 0.0, 0.7]),
]


@pytest.mark.parametrize("f, df, points", KNOWN)
def test_first_derivative_matches_closed_form(f, df, points):
    x = np.array(points)
    got = np.diag(jacobian(f, x))
    np.testing.assert_allclose(got, df(x), rtol=1e-10, atol=1e-12)


def test_jacobian_of_a_matrix_map_has_output_then_input_shape():
    a = np.arange(6.0).reshape(2, 3)
    x = np.array([0.5, -1.0, 2.0])
    j = jacobian(lambda v: a @ v, x)
    assert j.shape == (2, 3)
    np.testing.assert_allclose(j, a, rtol=1e-12, atol=1e-12)


def test_directional_derivative_is_the_jacobian_applied_to_the_tangent():
    f = lambda v: np.array([v[0] * v[1], np.sin(v[2])])  # noqa: E731
    x, t = np.array([1.5, -2.0, 0.4]), np.array([0.3, 1.0, -2.0])
    np.testing.assert_allclose(directional(f, x, t), jacobian(f, x) @ t, rtol=1e-10)


def test_float32_rounding_is_far_above_the_oracle_error():
    """The float64 tolerance (1e-9) must separate the oracle from float32 work."""
    x = np.array([0.1, 1.3, 2.7])
    exact = np.cos(x)
    oracle_err = np.max(np.abs(np.diag(jacobian(np.sin, x)) - exact) / np.abs(exact))
    float32_err = np.max(np.abs(np.cos(x.astype(np.float32)).astype(np.float64) - exact) / np.abs(exact))
    assert oracle_err < 1e-11 < 1e-9 < float32_err


def _program(body, requests, **inputs):
    arrays = {k: np.asarray(v.value, dtype=np.float64) for k, v in inputs.items()}
    return Program("oracle.test", body, inputs, arrays, tuple(requests), True, True)


def test_oracle_adapter_answers_each_request_kind():
    program = _program(lambda ops, x: ops.sum(x ** 3),
                       [Grad("x"), Derivatives("x", 3), Hessian("x"), Jvp("x", [1.0, 0.0]), Vjp("x", 2.0)],
                       x=var([1.0, 2.0]))
    grad, derivs, hess, jvp, vjp = FiniteDifferenceOracle(exact=True).execute(program, RunContext("float64"))
    np.testing.assert_allclose(grad.array, [3.0, 12.0], rtol=1e-10)
    np.testing.assert_allclose([d.array for d in derivs], [[3.0, 12.0], [6.0, 12.0], [6.0, 6.0]], rtol=1e-4)
    np.testing.assert_allclose(hess.array, np.diag([6.0, 12.0]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(jvp.array, 3.0, rtol=1e-10)
    np.testing.assert_allclose(vjp.array, [6.0, 24.0], rtol=1e-10)


def test_oracle_refuses_non_scalar_targets_and_integer_sources():
    program = _program(lambda ops, x: x * x, [Grad("x")], x=var([1.0, 2.0]))
    (answer,) = FiniteDifferenceOracle().execute(program, RunContext("float64"))
    assert isinstance(answer, Raised) and answer.kind is ErrorKind.NonScalarTarget
    ints = Program("oracle.int", lambda ops, n: ops.sum(n * n), {"n": var(3, "int32")},
                   {"n": np.asarray(3, dtype=np.int32)}, (Grad("n"),), True, True)
    (answer,) = FiniteDifferenceOracle().execute(ints, RunContext("int32"))
    assert isinstance(answer, Raised) and answer.kind is ErrorKind.NotDifferentiableDType


def test_unconnected_sources_get_exact_zeros():
    program = _program(lambda ops, x, z: ops.sum(x * x), [Grad("z")], x=var([1.0]), z=var([2.0]))
    (answer,) = FiniteDifferenceOracle(exact=True).execute(program, RunContext("float64"))
    assert isinstance(answer, Value) and not np.any(answer.array)


def test_offset_inputs_whose_function_varies_on_a_small_scale_are_accurate():
    """The step follows |x|; std of [17, 17.37, 17.74] varies on the scale of 0.37. The plain
    five-point stencil errs by ~2e-8 there; the extrapolated one must stay within 1e-10."""
    x = np.array([17.0, 17.37, 17.74])
    exact = (x - x.mean()) / (x.size * np.std(x))
    assert np.max(np.abs(jacobian(np.std, x) - exact)) < 1e-10
    assert abs(directional(np.std, x, np.array([1.0, 0.0, -1.0])) - (exact[0] - exact[2])) < 1e-10

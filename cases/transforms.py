"""Transforms beyond the first-order gradient: VJP (with the dot-product test), JVP
against the directional derivative, full Jacobians in both modes, Hessians, third-order
derivatives, forward-over-reverse Hessian-vector products and batched gradients."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import analytic, dot_product, oracle
from gradspec.inputs import const, var
from gradspec.requests import BatchedGrad, Derivatives, Hessian, Hvp, Jacobian, Jvp, Vjp

JAX_AD = "https://docs.jax.dev/en/latest/automatic-differentiation.html#{0}"
TORCH_FUNC = "https://pytorch.org/docs/stable/generated/torch.func.{0}.html#torch.func.{0}"

X = np.array([0.7, -1.1, 0.4, 1.9])
T = np.array([0.3, -0.8, 1.2, 0.5])
M = np.array([[0.9, -0.4, 0.3], [0.2, 1.3, -0.7]])
_A = np.array([[1.0, 2.0, -0.5], [0.0, -1.5, 0.75], [0.3, 0.2, 2.5]])
_B = np.array([[0.4, -0.2], [1.1, 0.3], [-0.6, 0.9]])


def _vec(ops, x):
    """A smooth R^4 -> R^3 map mixing the coordinates."""
    return ops.stack([ops.sin(x[0]) * x[1], ops.exp(x[2] * 0.5) + x[3] * x[0], ops.tanh(x[1] + x[3])])


def _scalar(ops, x):
    return ops.sum(ops.exp(x * 0.3) * ops.sin(x)) + ops.sum(x * x * x) * 0.1


FUNCS = {"vector_map": _vec, "softmax": lambda ops, x: ops.softmax(x, axis=-1)}

CASES = []
for name, fn in FUNCS.items():
    CASES += [
        case(
            id=f"transforms.vjp_{name}",
            statement=f"the VJP of {name} with a given cotangent matches the oracle's c^T J",
            doc=JAX_AD.format("vector-jacobian-products-vjps-aka-reverse-mode-jacobians"),
            tags=["transforms", "vjp"], requires=["output_gradients"],
            inputs={"x": var(X)}, body=fn,
            requests=Vjp("x", cotangent=[1.5, -0.5, 2.0] if name == "vector_map" else [1.5, -0.5, 2.0, 0.25]),
            expect=oracle(),
        ),
        case(
            id=f"transforms.vjp_dot_product_{name}",
            statement=f"reverse mode passes the dot-product test for {name}: <J t, c> = <t, J^T c>",
            doc=JAX_AD.format("vector-jacobian-products-vjps-aka-reverse-mode-jacobians"),
            tags=["transforms", "vjp", "dot_product_test"], requires=["output_gradients"],
            inputs={"x": var(X)}, body=fn,
            requests=Vjp("x", cotangent=[0.4, 1.1, -0.9] if name == "vector_map" else [0.4, 1.1, -0.9, 0.6]),
            expect=dot_product(T),
        ),
        case(
            id=f"transforms.jvp_{name}",
            statement=f"forward mode: the JVP of {name} along t equals the directional derivative",
            doc=JAX_AD.format("jacobian-vector-products-jvps-aka-forward-mode-autodiff"),
            tags=["transforms", "jvp", "forward_mode"],
            inputs={"x": var(X)}, body=fn, requests=Jvp("x", tangent=T), expect=oracle(),
        ),
        case(
            id=f"transforms.jacobian_reverse_{name}",
            statement=f"the full Jacobian of {name} by reverse mode matches the oracle",
            doc=TORCH_FUNC.format("jacrev"), tags=["transforms", "jacobian"],
            inputs={"x": var(X)}, body=fn, requests=Jacobian("x", mode="reverse"), expect=oracle(),
        ),
        case(
            id=f"transforms.jacobian_forward_{name}",
            statement=f"the full Jacobian of {name} by forward mode matches the oracle",
            doc=TORCH_FUNC.format("jacfwd"), tags=["transforms", "jacobian", "forward_mode"],
            inputs={"x": var(X)}, body=fn, requests=Jacobian("x", mode="forward"), expect=oracle(),
        ),
    ]

CASES += [
    case(
        id="transforms.jacobian_matrix_input",
        statement="the Jacobian of a (2, 3) -> (2, 3) map has shape (2, 3, 2, 3) and matches the oracle",
        doc=TORCH_FUNC.format("jacrev"), tags=["transforms", "jacobian"],
        inputs={"m": var(M)}, body=lambda ops, m: ops.tanh(m) * ops.sum(m * m),
        requests=Jacobian("m"), expect=oracle(),
    ),
    case(
        id="transforms.hessian_scalar",
        statement="the Hessian of a smooth scalar function matches the oracle",
        doc=TORCH_FUNC.format("hessian"), tags=["transforms", "hessian"],
        inputs={"x": var(X)}, body=_scalar, requests=Hessian("x"), expect=oracle(),
    ),
    case(
        id="transforms.hessian_quadratic",
        statement="the Hessian of x^T A x is A + A^T exactly",
        doc=TORCH_FUNC.format("hessian"), tags=["transforms", "hessian"],
        inputs={"x": var(X[:3]), "a": const(_A)},
        body=lambda ops, x, a: ops.sum(x * ops.einsum("ij,j->i", a, x)),
        requests=Hessian("x"), expect=analytic(lambda x, a: a + a.T),
    ),
    case(
        id="transforms.third_order_polynomial",
        statement="derivatives of sum(x^4) of orders 1, 2, 3 (each the gradient of the sum of the last) are "
                  "4x^3, 12x^2, 24x",
        doc=JAX_AD.format("higher-order-derivatives"), tags=["transforms", "higher_order"],
        inputs={"x": var(X)}, body=lambda ops, x: ops.sum(x * x * x * x),
        requests=Derivatives("x", 3),
        expect=[analytic(lambda x: 4 * x ** 3), analytic(lambda x: 12 * x ** 2), analytic(lambda x: 24 * x)],
    ),
    case(
        id="transforms.third_order_transcendental",
        statement="third-order derivatives of sum(sin(x) * exp(x)) match 2 e^x (cos x - sin x) and the lower orders",
        doc=JAX_AD.format("higher-order-derivatives"), tags=["transforms", "higher_order"],
        inputs={"x": var(X)}, body=lambda ops, x: ops.sum(ops.sin(x) * ops.exp(x)),
        requests=Derivatives("x", 3),
        expect=[analytic(lambda x: np.exp(x) * (np.sin(x) + np.cos(x))),
                analytic(lambda x: 2 * np.exp(x) * np.cos(x)),
                analytic(lambda x: 2 * np.exp(x) * (np.cos(x) - np.sin(x)))],
    ),
    case(
        id="transforms.hvp_forward_over_reverse",
        statement="forward-over-reverse Hessian-vector product equals H t from the oracle",
        doc=JAX_AD.format("hessian-vector-products-with-grad-of-grad"), tags=["transforms", "hvp", "forward_mode"],
        inputs={"x": var(X)}, body=_scalar, requests=Hvp("x", tangent=T), expect=oracle(),
    ),
    case(
        id="transforms.hvp_quadratic",
        statement="the Hessian-vector product of x^T A x is (A + A^T) t exactly",
        doc=JAX_AD.format("hessian-vector-products-with-grad-of-grad"), tags=["transforms", "hvp", "forward_mode"],
        inputs={"x": var(X[:3]), "a": const(_A)},
        body=lambda ops, x, a: ops.sum(x * ops.einsum("ij,j->i", a, x)),
        requests=Hvp("x", tangent=T[:3]), expect=analytic(lambda x, a: (a + a.T) @ T[:3]),
    ),
    case(
        id="transforms.batched_grad",
        statement="per-example gradients (vmap of grad over axis 0) of sum(sin(x_i) * x_i) are sin + x cos, "
                  "row by row",
        doc="https://docs.jax.dev/en/latest/_autosummary/jax.vmap.html#jax.vmap",
        tags=["transforms", "vmap"],
        inputs={"x": var(np.stack([X, X[::-1] * 0.5, X * -0.3]))},
        body=lambda ops, x: ops.sum(ops.sin(x) * x),
        requests=BatchedGrad("x"), expect=analytic(lambda x: np.sin(x) + x * np.cos(x)),
    ),
    case(
        id="transforms.batched_grad_matmul",
        statement="per-example gradients through a matrix-vector product are rows of W^T applied per example",
        doc="https://docs.jax.dev/en/latest/_autosummary/jax.vmap.html#jax.vmap",
        tags=["transforms", "vmap"],
        inputs={"x": var(np.stack([X[:3], X[1:], X[:3] * 2.0])), "b": const(_B)},
        body=lambda ops, x, b: ops.sum(ops.tanh(ops.matmul(ops.reshape(x, (-1, 3)), b))),
        requests=BatchedGrad("x"),
        expect=analytic(lambda x, b: (1 - np.tanh(x @ b) ** 2) @ b.T),
    ),
    case(
        id="transforms.jvp_complex_holomorphic",
        statement="forward mode on a holomorphic map needs no convention: the JVP of z^2 at 1+2j along 1 is 2+4j, "
                  "never its conjugate",
        doc=["https://docs.jax.dev/en/latest/notebooks/autodiff_cookbook.html#complex-numbers-and-differentiation",
             "https://pytorch.org/docs/stable/notes/autograd.html#complex-autograd-doc"],
        tags=["transforms", "jvp", "forward_mode", "complex"], requires=["complex"],
        dtypes=["complex64", "complex128"],
        inputs={"z": var(np.array([1 + 2j, -0.5 + 0.25j]))},
        body=lambda ops, z: z * z,
        requests=Jvp("z", tangent=np.array([1.0 + 0j, 0.5 - 1j])),
        expect=analytic(lambda z: 2 * z * np.array([1.0 + 0j, 0.5 - 1j])),
    ),
]

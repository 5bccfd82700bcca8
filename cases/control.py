"""Control flow and custom rules: the framework's conditional and loop ops, stop_gradient,
a custom gradient, and checkpointing.  Each needs the capability that names it; an
adapter without it reports UNSUPPORTED."""
from __future__ import annotations

import numpy as np

from gradspec.case import case
from gradspec.expect import analytic, one_of, oracle, raises, value
from gradspec.inputs import const, var
from gradspec.requests import Grad

X = np.array([0.5, -1.2, 2.0])

def _inplace_view(ops, x):
    y = x * 3.0
    ops.add_inplace(y[0:2], 1.0)
    return ops.sum(y * y)


def _inplace_unsaved(ops, x):
    t = x * 2.0
    y = t + 1.0
    ops.add_inplace(t, 5.0)
    return ops.sum(y)


CASES = [
    case(
        id="control.cond_true_branch",
        statement="cond(True, sin, exp): only the taken branch is differentiated (cos x)",
        doc=["https://www.tensorflow.org/api_docs/python/tf/cond#args",
             "https://docs.jax.dev/en/latest/_autosummary/jax.lax.cond.html#jax.lax.cond"],
        tags=["control_flow", "cond"], requires=["control_flow_ops"],
        inputs={"x": var(X)},
        body=lambda ops, x: ops.sum(ops.cond(True, lambda v: ops.sin(v), lambda v: ops.exp(v), x)),
        requests=Grad("x"), expect=analytic(lambda x: np.cos(x)),
    ),
    case(
        id="control.cond_false_branch",
        statement="cond(False, sin, exp): the gradient is that of the false branch (exp x)",
        doc=["https://www.tensorflow.org/api_docs/python/tf/cond#args",
             "https://docs.jax.dev/en/latest/_autosummary/jax.lax.cond.html#jax.lax.cond"],
        tags=["control_flow", "cond"], requires=["control_flow_ops"],
        inputs={"x": var(X)},
        body=lambda ops, x: ops.sum(ops.cond(False, lambda v: ops.sin(v), lambda v: ops.exp(v), x)),
        requests=Grad("x"), expect=analytic(lambda x: np.exp(x)),
    ),
    case(
        id="control.loop_repeated_map",
        statement="a framework loop applying v -> sin(v) * 1.5 four times differentiates by the chain rule",
        doc=["https://www.tensorflow.org/api_docs/python/tf/while_loop#args",
             "https://docs.jax.dev/en/latest/_autosummary/jax.lax.fori_loop.html#jax.lax.fori_loop"],
        tags=["control_flow", "loop"], requires=["control_flow_ops"],
        inputs={"x": var(X)},
        body=lambda ops, x: ops.sum(ops.fori_loop(4, lambda v: ops.sin(v) * 1.5, x)),
        requests=Grad("x"), expect=oracle(),
    ),
    case(
        id="control.python_loop",
        statement="a Python loop over the recorded ops (v -> v * tanh(v), three times) is differentiated",
        doc="https://docs.jax.dev/en/latest/control-flow.html#python-control-flow-autodiff",
        tags=["control_flow", "loop"],
        inputs={"x": var(X)},
        body=lambda ops, x: ops.sum(_three(ops, x)),
        requests=Grad("x"), expect=oracle(),
    ),
    case(
        id="control.stop_gradient",
        statement="y = x * stop_gradient(x) + stop_gradient(x**2): the gradient is x (only the first factor)",
        doc=["https://www.tensorflow.org/api_docs/python/tf/stop_gradient#args",
             "https://docs.jax.dev/en/latest/_autosummary/jax.lax.stop_gradient.html#jax.lax.stop_gradient"],
        tags=["control_flow", "stop_gradient"],
        inputs={"x": var(X)},
        body=lambda ops, x: ops.sum(x * ops.stop_gradient(x) + ops.stop_gradient(x * x)),
        requests=Grad("x"), expect=analytic(lambda x: x),
    ),
    case(
        id="control.custom_gradient_clip",
        statement="a custom gradient clipping d(x^2)/dx to [-1, 1]: at x = 3 the gradient is 1, at x = 0.25 it "
                  "is 0.5",
        doc=["https://www.tensorflow.org/api_docs/python/tf/custom_gradient#args",
             "https://docs.jax.dev/en/latest/_autosummary/jax.custom_vjp.html#jax.custom_vjp",
             "https://pytorch.org/docs/stable/autograd.html#function"],
        tags=["custom_gradient"], requires=["custom_gradient"],
        inputs={"x": var(np.array([3.0, 0.25, -2.0]))},
        body=lambda ops, x: ops.sum(ops.clipped_square(x)),
        requests=Grad("x"), expect=value([1.0, 0.5, -1.0]),
    ),
    case(
        id="control.checkpoint",
        statement="a checkpointed (rematerialised) block gives the same gradient as the plain block",
        doc=["https://pytorch.org/docs/stable/checkpoint.html#torch.utils.checkpoint.checkpoint",
             "https://docs.jax.dev/en/latest/_autosummary/jax.checkpoint.html#jax.checkpoint",
             "https://www.tensorflow.org/api_docs/python/tf/recompute_grad#args"],
        tags=["checkpoint"], requires=["checkpoint"],
        inputs={"x": var(X), "c": const(np.array([0.3, -1.0, 0.7]))},
        body=lambda ops, x, c: ops.sum(ops.checkpoint(lambda v: ops.tanh(ops.exp(v) * v), x) * c),
        requests=Grad("x"), expect=oracle(),
    ),
    case(
        id="control.while_loop_value_dependent",
        statement="a framework while loop doubling v while v < 10, from x = 1.5 (three trips, y = 8x): reverse mode "
                  "gives 8, or the framework refuses reverse mode through a loop of value-dependent trip count",
        doc=["https://docs.jax.dev/en/latest/_autosummary/jax.lax.while_loop.html#jax.lax.while_loop",
             "https://www.tensorflow.org/api_docs/python/tf/while_loop#args"],
        tags=["control_flow", "loop"], requires=["control_flow_ops"],
        inputs={"x": var(1.5)},
        body=lambda ops, x: ops.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, x),
        requests=Grad("x"), expect=one_of(value=value(8.0), raises=raises("NoGradientDefined")),
    ),
    case(
        id="control.inplace_leaf",
        statement="adding 1 in place to a leaf that requires gradients, then summing: the framework refuses the "
                  "in-place update (InPlaceModified), or tracks it and gives 1 for every element",
        doc="https://docs.pytorch.org/docs/stable/notes/autograd.html#in-place-operations-with-autograd",
        tags=["inplace"], requires=["inplace"],
        inputs={"x": var(X)},
        body=lambda ops, x: ops.sum(ops.add_inplace(x, 1.0)),
        requests=Grad("x"), expect=one_of(raises=raises("InPlaceModified"), value=value(np.ones(3))),
    ),
    case(
        id="control.inplace_view",
        statement="y = 3x, then 1 added in place to the view y[0:2], loss sum(y * y): the gradient is 6 (3x + d) "
                  "with d = (1, 1, 0), the in-place update seen through the view, or the framework refuses it",
        doc="https://docs.pytorch.org/docs/stable/notes/autograd.html#in-place-operations-with-autograd",
        tags=["inplace"], requires=["inplace"],
        inputs={"x": var(X)},
        body=_inplace_view,
        requests=Grad("x"),
        expect=one_of(value=analytic(lambda x: 6.0 * (3.0 * x + np.array([1.0, 1.0, 0.0]))),
                      raises=raises("InPlaceModified")),
    ),
    case(
        id="control.inplace_unsaved",
        statement="t = 2x and y = t + 1 (addition saves nothing for its gradient), then t changed in place, loss "
                  "sum(y): the gradient is 2 for every element (nothing the backward pass needs was changed), or "
                  "the framework refuses any in-place change of a recorded value",
        doc="https://docs.pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks",
        tags=["inplace"], requires=["inplace"],
        inputs={"x": var(X)},
        body=_inplace_unsaved,
        requests=Grad("x"),
        expect=one_of(value=value(np.full(3, 2.0)), raises=raises("InPlaceModified")),
    ),
    case(
        id="control.inplace_modified",
        statement="modifying in place the output of exp, which exp's backward needs: the gradient request "
                  "raises InPlaceModified, or an engine that tracks in-place updates gives exp(x)",
        doc="https://docs.pytorch.org/docs/stable/notes/autograd.html#in-place-correctness-checks",
        tags=["inplace"], requires=["inplace"],
        inputs={"x": var(X)},
        body=lambda ops, x: ops.sum(ops.add_inplace(ops.exp(x), 1.0)),
        requests=Grad("x"), expect=one_of(raises=raises("InPlaceModified"), value=analytic(lambda x: np.exp(x))),
    ),
]


def _three(ops, x):
    for _ in range(3):
        x = x * ops.tanh(x)
    return x

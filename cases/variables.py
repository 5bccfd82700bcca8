"""Variables and training: constructing variables, default dtypes, modules
that collect their variables, a plain gradient-descent loop, and the dtype of
a float16 gradient.  Most are API probes answered by each adapter's
probe_<name> method.
"""
from __future__ import annotations

import numpy as np

from gradspec.case import Doc, case
from gradspec.expect import analytic, info, one_of, raises, value
from gradspec.inputs import var
from gradspec.requests import Grad, Probe

TF_VARIABLE_GUIDE = Doc("https://www.tensorflow.org/guide/variable#create_a_variable",
                        quote="To create a variable, provide an initial value. The tf.Variable will have the "
                              "same dtype as the initialization value.")
DEFAULT_DTYPE_DOCS = [
    TF_VARIABLE_GUIDE,
    Doc("https://www.tensorflow.org/guide/tensor#basics",
        quote="This will be an int32 tensor by default; see \"dtypes\" below."),
    Doc("https://pytorch.org/docs/stable/generated/torch.set_default_dtype.html#torch.set_default_dtype",
        quote="When PyTorch is initialized its default floating point dtype is torch.float32, and the intent of "
              "set_default_dtype(torch.float64) is to facilitate NumPy-like type inference."),
    Doc("https://docs.jax.dev/en/latest/notebooks/Common_Gotchas_in_JAX.html#double-64bit-precision",
        quote="At the moment, JAX by default enforces single-precision numbers to mitigate the Numpy API's "
              "tendency to aggressively promote operands to double."),
]

shape_mismatch = case(
    id="variables.shape_mismatch",
    statement="Creating a variable from a 4-element list with an explicit 2x2 shape raises ShapeMismatch",
    doc=Doc("https://www.tensorflow.org/api_docs/python/tf/Variable#args",
            quote="shape: (optional) The shape of this variable. If None, the shape of initial_value will be "
                  "used."),
    tags=["variables", "shape"],
    requests=Probe("variable_from_list", {"values": [1, 2, 3, 4], "shape": [2, 2]}),
    expect=raises("ShapeMismatch"),
    requires=["variables"],
    dtypes=["float32"],
    kind="api",
)

default_int_dtype = case(
    id="variables.default_int_dtype",
    statement="The default dtype of a tensor made from a Python int list is int32 or int64",
    doc=DEFAULT_DTYPE_DOCS,
    tags=["variables", "dtype"],
    requests=Probe("default_dtype", {"value": [1, 2]}),
    expect=one_of(int32=info("int32"), int64=info("int64")),
    dtypes=["float32"],
)

default_float_dtype = case(
    id="variables.default_float_dtype",
    statement="The default dtype of a tensor made from a Python float list is float32 or float64",
    doc=DEFAULT_DTYPE_DOCS,
    tags=["variables", "dtype"],
    requests=Probe("default_dtype", {"value": [1.0, 2.0]}),
    expect=one_of(float32=info("float32"), float64=info("float64")),
    dtypes=["float32"],
)

module_collects = case(
    id="variables.module_collects",
    statement="A layer or module with one variable attribute and a list of three variables exposes all four",
    doc=[Doc("https://www.tensorflow.org/guide/intro_to_modules#defining_models_and_layers_in_tensorflow",
             quote="By subclassing tf.Module, any tf.Variable or tf.Module instances assigned to this object's "
                   "properties are automatically collected."),
         Doc("https://pytorch.org/docs/stable/generated/torch.nn.ParameterList.html#torch.nn.ParameterList",
             quote="ParameterList can be used like a regular Python list, but Tensors that are Parameter are "
                   "properly registered, and will be visible by all Module methods.")],
    tags=["variables", "modules"],
    requests=Probe("module_variables", {}),
    expect=info(4),
    requires=["layers"],
    dtypes=["float32"],
    kind="api",
)

# Gradient descent on y = 2x - 1, loss sum_i |w*x_i + b - y_i| (the gradient of
# the non-scalar |y_pred - y|, i.e. of its sum), from w = b = 0.5.
XS = [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]
YS = [2.0 * x - 1.0 for x in XS]
RATE, STEPS, W0, B0 = 0.001, 1000, 0.5, 0.5


def l1_descent(xs: list[float] = XS, ys: list[float] = YS, lr: float = RATE, steps: int = STEPS,
               w0: float = W0, b0: float = B0) -> np.ndarray:
    """The same loop in float64 NumPy with the analytic subgradient of
    sum |w*x + b - y|: d/dw = sum sign(r)*x, d/db = sum sign(r)."""
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    w, b = float(w0), float(b0)
    for _ in range(steps):
        s = np.sign(w * x + b - y)
        w, b = w - lr * float(np.sum(s * x)), b - lr * float(np.sum(s))
    return np.array([w, b])


gradient_descent = case(
    id="variables.gradient_descent",
    statement="1000 plain gradient-descent steps (lr 0.001) on sum |w*x + b - y| for y = 2x - 1 end within 0.01 "
              "of float64 NumPy (2.004, -0.996)",
    doc=[Doc("https://www.tensorflow.org/guide/basic_training_loops#define_a_training_loop",
             quote="The training loop consists of repeatedly doing three tasks in order:"),
         Doc("https://en.wikipedia.org/wiki/Subderivative#Example")],
    tags=["variables", "training"],
    requests=Probe("train_linear_l1", {"xs": XS, "ys": YS, "lr": RATE, "steps": STEPS, "w0": W0, "b0": B0}),
    expect=analytic(l1_descent),
    requires=["training"],
    tolerance={"float32": (0.0, 0.01), "float64": (0.0, 0.01)},
    kind="api",
)

float16_gradient = case(
    id="variables.float16_gradient",
    statement="A float16 computation returns float16 gradients: d/dx sum(x^2) at [1, 2, 3] is [2, 4, 6] in float16",
    doc=[Doc("https://pytorch.org/docs/stable/autograd.html#module-torch.autograd",
             quote="As of now, we only support autograd for floating point Tensor types ( half, float, double and "
                   "bfloat16) and complex Tensor types (cfloat, cdouble)."),
         Doc("https://docs.jax.dev/en/latest/_autosummary/jax.grad.html#jax.grad",
             quote="If argnums is an integer then the gradient has the same shape and type as the positional "
                   "argument indicated by that integer.")],
    tags=["variables", "dtype", "float16"],
    inputs={"x": var([1.0, 2.0, 3.0])},
    body=lambda ops, x: ops.sum(x * x),
    requests=Grad("x"),
    expect=value([2.0, 4.0, 6.0]),
    requires=["float16"],
    dtypes=["float16"],
    kind="api",
)

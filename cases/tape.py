"""Watching and tapes: what a recording differentiates, how often it can be
asked, and what it answers for sources it never saw.

TensorFlow records only what a GradientTape watches; PyTorch records every
operation on a tensor that requires grad; JAX and autograd record nothing and
differentiate functions.  Where those models give different legitimate
answers the case lists them with one_of(); everything else is mathematics.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradspec.case import Doc, case
from gradspec.expect import absent, analytic, info, one_of, raises, value, zeros
from gradspec.inputs import const, frozen, outside, var, watched
from gradspec.requests import Derivatives, Grad, Jacobian, Probe, WatchedVariables

TF_GUIDE = "https://www.tensorflow.org/guide/autodiff"
TF_TAPE = "https://www.tensorflow.org/api_docs/python/tf/GradientTape"
TORCH_NOTES = "https://pytorch.org/docs/stable/notes/autograd.html"
TORCH_GRAD = "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html#torch.autograd.grad"
JAX_GRAD = "https://docs.jax.dev/en/latest/_autosummary/jax.grad.html#jax.grad"
# the passages shared by the cases about the unconnected-source options and about integer sources
UNCONNECTED_OPTION_DOCS = [
    Doc(f"{TF_GUIDE}#zeros_instead_of_none",
        quote="You can decide what to return when you have unconnected gradients using the "
              "unconnected_gradients argument:"),
    Doc(TORCH_GRAD, quote="materialize_grads (bool, optional) – If True, set the gradient for unused inputs "
                          "to zero instead of None."),
]
INTEGER_DOCS = [
    Doc(f"{TF_GUIDE}#3_took_gradients_through_an_integer_or_string",
        quote="Integers and strings are not differentiable. If a calculation path uses these data types "
              "there will be no gradient."),
    Doc("https://pytorch.org/docs/stable/autograd.html#module-torch.autograd",
        quote="As of now, we only support autograd for floating point Tensor types ( half, float, double and "
              "bfloat16) and complex Tensor types (cfloat, cdouble)."),
]

GRADIENT_TAPES = Doc(
    f"{TF_GUIDE}#gradient_tapes",
    quote="TensorFlow provides the tf.GradientTape API for automatic differentiation; that is, computing the "
          "gradient of a computation with respect to some inputs, usually tf.Variables.")
WATCHES = f"{TF_GUIDE}#controlling_what_the_tape_watches"
TORCH_RECORDS_ALL = Doc(
    f"{TORCH_NOTES}#how-autograd-encodes-the-history",
    quote="Conceptually, autograd records a graph recording all of the operations that created the data as you "
          "execute operations, giving you a directed acyclic graph whose leaves are the input tensors and roots "
          "are the output tensors.")
TORCH_ALLOW_UNUSED = Doc(
    TORCH_GRAD,
    quote="allow_unused (Optional[bool], optional) – If False, specifying inputs that were not used when "
          "computing outputs (and therefore their grad is always zero) is an error.")

# Sources passed in a structure: a fixed 3x3 matrix, the identity, one row w.
V1 = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 0.5]]
W_ROW = [[1.0, 2.0, 3.0]]


def _structure_body(ops: Any, v1: Any, v2: Any, w: Any) -> Any:
    """y = v1*w + v2 (w broadcast over rows), loss = mean(y^2)."""
    y = v1 * w + v2
    return {"y": y, "loss": ops.mean(y * y)}


def _dloss_dv1(v1: Any, v2: Any, w: Any) -> Any:
    """dL/dv1 = 2*y*w/9 for L = mean over the 9 elements of y^2."""
    return 2.0 * (v1 * w + v2) * w / 9.0


def _dloss_dv2(v1: Any, v2: Any, w: Any) -> Any:
    """dL/dv2 = 2*y/9."""
    return 2.0 * (v1 * w + v2) / 9.0


STRUCTURE_INPUTS = {"v1": var(V1), "v2": var(np.eye(3)), "w": const(W_ROW)}
STRUCTURE_DOCS = [
    Doc(f"{TF_GUIDE}#gradient_tapes",
        quote="The tape is flexible about how sources are passed and will accept any nested combination of lists "
              "or dictionaries and return the gradient structured the same way (see tf.nest)."),
    Doc("https://docs.jax.dev/en/latest/automatic-differentiation.html"
        "#differentiating-with-respect-to-nested-lists-tuples-and-dicts",
        quote="differentiating with respect to standard Python containers just works, so use tuples, lists, and "
              "dicts (and arbitrary nesting) however you like."),
]


square_variable = case(
    id="tape.square_variable",
    statement="d/dx x^2 at x = 3 (a trainable variable) is 6",
    doc=[GRADIENT_TAPES, Doc(JAX_GRAD, quote="Creates a function that evaluates the gradient of fun.")],
    tags=["tape", "first_order"],
    inputs={"x": var(3.0)},
    body=lambda ops, x: x ** 2,
    requests=Grad("x"),
    expect=value(6.0),
)

cube_variable = case(
    id="tape.cube_variable",
    statement="d/dw w^3 at w = 5 (a trainable variable) is 75",
    doc=[GRADIENT_TAPES, Doc(JAX_GRAD, quote="Creates a function that evaluates the gradient of fun.")],
    tags=["tape", "first_order"],
    inputs={"w": var(5.0)},
    body=lambda ops, w: w ** 3,
    requests=Grad("w"),
    expect=value(75.0),
)

watched_constant = case(
    id="tape.watched_constant",
    statement="A constant watched explicitly is differentiable: y = x*x at x = 3 gives 6",
    doc=[Doc(WATCHES, quote="To record gradients with respect to a tf.Tensor, you need to call "
                            "GradientTape.watch(x):"),
         Doc(f"{TF_TAPE}#watch", quote="Ensures that tensor is being traced by this tape.")],
    tags=["tape", "watching"],
    inputs={"x": watched(3.0)},
    body=lambda ops, x: x * x,
    requests=Grad("x"),
    expect=value(6.0),
    requires=["recording"],
    kind="api",
)

sources_list = case(
    id="tape.sources_list",
    statement="Sources passed as a list come back as a list in the same order: [dL/dv1, dL/dv2]",
    doc=STRUCTURE_DOCS,
    tags=["tape", "structure"],
    inputs=STRUCTURE_INPUTS,
    body=_structure_body,
    requests=Grad(("v1", "v2"), target="loss"),
    expect=[analytic(_dloss_dv1), analytic(_dloss_dv2)],
)

sources_dict = case(
    id="tape.sources_dict",
    statement="Sources passed as a dict come back as a dict with the same keys in the same order",
    doc=STRUCTURE_DOCS + [Doc(TORCH_GRAD, quote="When a dict is provided (e.g. dict(model.named_parameters())), "
                                                "the result is returned as a dict with matching keys.")],
    tags=["tape", "structure"],
    inputs=STRUCTURE_INPUTS,
    body=_structure_body,
    requests=Grad({"scale": "v1", "shift": "v2"}, target="loss"),
    expect={"scale": analytic(_dloss_dv1), "shift": analytic(_dloss_dv2)},
)


def _source_kinds_body(ops: Any, a: Any, b: Any, c: Any, d: Any, g: Any) -> Any:
    """y = a^2 + b^2 + c^2 + d + e, with e = g + 3 derived inside the recording."""
    e = ops.mark("e", g + 3.0)
    return a * a + b * b + c * c + d + e


source_kinds = case(
    id="tape.source_kinds",
    statement="A trainable variable gets its gradient; a frozen variable, an unwatched constant and a value "
              "computed before recording are implementation-defined; a value derived inside is an intermediate",
    doc=[Doc(WATCHES, quote="For example, the following fails to calculate a gradient because the tf.Tensor is "
                            "not \"watched\" by default, and the tf.Variable is not trainable:"),
         TORCH_RECORDS_ALL,
         Doc(f"{TORCH_NOTES}#setting-requires-grad",
             quote="During the forward pass, an operation is only recorded in the backward graph if at least one "
                   "of its input tensors require grad."),
         TORCH_ALLOW_UNUSED],
    tags=["tape", "watching", "variables", "unconnected"],
    inputs={"a": var(3.0), "b": frozen(5.0), "c": const(5.0),
            "d": outside(10.0, lambda ops, v: v + 3.0), "g": var(10.0)},
    body=_source_kinds_body,
    requests=[Grad("a"), Grad("b"), Grad("c"), Grad("d"), Grad("e")],
    expect=(value(6.0),
            one_of(slot="b", absent=absent(), raises=raises("UnconnectedSource"), value=value(10.0)),
            one_of(slot="c", absent=absent(), raises=raises("UnconnectedSource"), value=value(10.0)),
            one_of(slot="d", absent=absent(), raises=raises("UnconnectedSource"), value=value(1.0)),
            value(1.0)),
    requires=["recording", "variables", "trainable_flag"],
    persistent=True,
)

watched_variables = case(
    id="tape.watched_variables",
    statement="The recording lists the variables it watched: only the trainable ones that were read",
    doc=[Doc(WATCHES, quote="You can list the variables being watched by the tape using the "
                            "GradientTape.watched_variables method:"),
         Doc(f"{TF_TAPE}#watched_variables", quote="Returns variables watched by this tape in order of "
                                                   "construction.")],
    tags=["tape", "watching", "variables"],
    inputs={"a": var(1.0), "b": var(2.0), "unread": var(3.0), "f": frozen(4.0), "c": const(5.0)},
    body=lambda ops, a, b, unread, f, c: a * b + f * c,
    requests=WatchedVariables(),
    expect=info(["a", "b"]),
    requires=["watched_variables", "variables", "trainable_flag"],
    kind="api",
)

watch_accessed_off = case(
    id="tape.watch_accessed_off",
    statement="With automatic watching off only the explicitly watched source gets a gradient: v2 -> 43.4, "
              "v1 -> Absent",
    doc=Doc(WATCHES, quote="Conversely, to disable the default behavior of watching all tf.Variables, set "
                           "watch_accessed_variables=False when creating the gradient tape."),
    tags=["tape", "watching"],
    inputs={"v1": var(31.4), "v2": watched(21.7)},
    body=lambda ops, v1, v2: v1 * v1 + v2 * v2,
    requests=Grad(("v1", "v2")),
    expect=[absent(), value(43.4)],
    requires=["watch_control"],
    watch_accessed=False,
    kind="api",
)


def _intermediate_body(ops: Any, x: Any) -> Any:
    y = ops.mark("y", x * x)
    return {"z": y * x}


intermediate_source = case(
    id="tape.intermediate_source",
    statement="Gradient with respect to an intermediate: y = x^2, z = y*x at x = 3 gives dz/dy = x = 3",
    doc=Doc(f"{TF_GUIDE}#intermediate_results",
            quote="You can also request gradients of the output with respect to intermediate values computed "
                  "inside the tf.GradientTape context."),
    tags=["tape", "intermediate"],
    inputs={"x": var(3.0)},
    body=_intermediate_body,
    requests=Grad("y", target="z"),
    expect=value(3.0),
)

non_persistent_second_request = case(
    id="tape.non_persistent_second_request",
    statement="A non-persistent recording answers one gradient request; the second raises TapeExhausted",
    doc=[Doc(f"{TF_TAPE}#gradient", quote="Note: Unless you set persistent=True a GradientTape can only be used "
                                          "to compute one set of gradients (or jacobians)."),
         Doc(TORCH_GRAD, quote="retain_graph (bool, optional) – If False, the graph used to compute the grad will "
                               "be freed.")],
    tags=["tape", "persistence"],
    inputs={"x": var(3.0)},
    body=lambda ops, x: x * x,
    requests=[Grad("x"), Grad("x")],
    expect=(value(6.0), raises("TapeExhausted")),
    requires=["single_use_recording"],
    kind="api",
)


def _persistent_body(ops: Any, x: Any) -> Any:
    y = ops.mark("y", x * x)
    return {"y": y, "z": y * y}


persistent_reuse = case(
    id="tape.persistent_reuse",
    statement="A persistent recording answers several requests: y = x*x, z = y*y at 3 gives dz/dx = 108, "
              "dy/dx = 6",
    doc=Doc(f"{TF_GUIDE}#intermediate_results",
            quote="To compute multiple gradients over the same computation, create a gradient tape with "
                  "persistent=True."),
    tags=["tape", "persistence"],
    inputs={"x": var(3.0)},
    body=_persistent_body,
    requests=[Grad("x", target="z"), Grad("x", target="y")],
    expect=(value(108.0), value(6.0)),
    requires=["persistent_recording"],
    persistent=True,
    kind="api",
)

HIGHER_ORDER = [
    Doc("https://www.tensorflow.org/guide/advanced_autodiff#higher-order_gradients",
        quote="As a result, the exact same API works for higher-order gradients as well."),
    Doc(TORCH_GRAD, quote="create_graph (bool, optional) – If True, graph of the derivative will be constructed, "
                          "allowing to compute higher order derivative products."),
]

nested_cube = case(
    id="tape.nested_cube",
    statement="Higher order by nesting: x^3 at 3 gives 27, then 18",
    doc=HIGHER_ORDER,
    tags=["tape", "higher_order"],
    inputs={"x": var(3.0)},
    body=lambda ops, x: x * x * x,
    requests=Derivatives("x", 2),
    expect=[value(27.0), value(18.0)],
    requires=["higher_order"],
)

nested_square = case(
    id="tape.nested_square",
    statement="Higher order by nesting: x^2 at 5 gives 10, then 2",
    doc=HIGHER_ORDER,
    tags=["tape", "higher_order"],
    inputs={"x": var(5.0)},
    body=lambda ops, x: x * x,
    requests=Derivatives("x", 2),
    expect=[value(10.0), value(2.0)],
    requires=["higher_order"],
)


def _unconnected_body(ops: Any, x: Any, u: Any) -> Any:
    """The target reads u only; x is a source it never touches."""
    return u * u


unconnected_source = case(
    id="tape.unconnected_source",
    statement="The gradient with respect to a source the target does not depend on is Absent, raises, or "
              "is zero",
    doc=[Doc(f"{TF_GUIDE}#cases_where_gradient_returns_none",
             quote="When a target is not connected to a source, gradient will return None."),
         TORCH_ALLOW_UNUSED,
         Doc(JAX_GRAD, quote="If argnums is an integer then the gradient has the same shape and type as the "
                             "positional argument indicated by that integer.")],
    tags=["tape", "unconnected"],
    inputs={"x": var(2.0), "u": var(3.0)},
    body=_unconnected_body,
    requests=Grad("x"),
    expect=one_of(absent=absent(), raises=raises("UnconnectedSource"), zeros=zeros()),
)

unconnected_zero = case(
    id="tape.unconnected_zero",
    statement="Asking for zeros for unconnected sources gives Zeros",
    doc=UNCONNECTED_OPTION_DOCS,
    tags=["tape", "unconnected"],
    inputs={"x": var(2.0), "u": var(3.0)},
    body=_unconnected_body,
    requests=Grad("x", unconnected="zero"),
    expect=zeros(),
    requires=["unconnected_zero"],
    kind="api",
)

integer_source = case(
    id="tape.integer_source",
    statement="Differentiating with respect to an int32 source made the way the framework makes a variable "
              "(tf.Variable, a tensor requiring grad, a function argument) gives Absent or raises "
              "NotDifferentiableDType",
    doc=[*INTEGER_DOCS,
         Doc(JAX_GRAD, quote="Argument arrays in the positions specified by argnums must be of inexact (i.e., "
                             "floating-point or complex) type.")],
    tags=["tape", "dtype"],
    inputs={"x": var(3, dtype="int32")},
    body=lambda ops, x: x * x,
    requests=Grad("x"),
    expect=one_of(absent=absent(), raises=raises("NotDifferentiableDType")),
    dtypes=["int32"],
)

unused_leaf_grad = case(
    id="tape.unused_leaf_grad",
    statement="After one backward pass of y = x * x at x = 2, the accumulated gradient (.grad) of x is 4 and that "
              "of a leaf u that requires gradients but y does not use is Absent (None) or Zeros",
    doc=Doc("https://docs.pytorch.org/docs/stable/generated/torch.Tensor.grad.html#torch.Tensor.grad",
            quote="This attribute is None by default and becomes a Tensor the first time a call to backward() "
                  "computes gradients for self."),
    tags=["tape", "unconnected"],
    requests=Probe("leaf_grad_after_backward", {"x": 2.0, "u": 3.0}),
    expect=one_of(absent={"x": value(4.0), "u": absent()}, zeros={"x": value(4.0), "u": zeros()}),
    dtypes=["float32", "float64"],
)

unconnected_absent = case(
    id="tape.unconnected_absent",
    statement="Asking for None for unconnected sources (torch.autograd.grad allow_unused=True, "
              "unconnected_gradients=NONE) gives Absent instead of an error or zeros",
    doc=UNCONNECTED_OPTION_DOCS,
    tags=["tape", "unconnected"],
    inputs={"x": var(2.0), "u": var(3.0)},
    body=_unconnected_body,
    requests=Grad("x", unconnected="absent"),
    expect=absent(),
    requires=["unconnected_absent"],
    kind="api",
)

integer_watched_source = case(
    id="tape.integer_watched_source",
    statement="Differentiating with respect to an int32 tensor watched explicitly (tape.watch, requires_grad_) "
              "gives Absent or raises NotDifferentiableDType",
    doc=INTEGER_DOCS,
    tags=["tape", "dtype", "watching"],
    inputs={"x": watched(3, dtype="int32")},
    body=lambda ops, x: x * x,
    requests=Grad("x"),
    expect=one_of(absent=absent(), raises=raises("NotDifferentiableDType")),
    requires=["recording"],
    dtypes=["int32"],
)

integer_opt_in = case(
    id="tape.integer_opt_in",
    statement="Through the framework's opt-in for integer inputs (jax.grad allow_int=True), d(x * n) at x = 2.0, "
              "n = 3 gives 3 for the float x and a float0 (no tangent) gradient for the int32 n",
    doc=Doc(JAX_GRAD, quote="Whether to allow differentiating with respect to integer valued inputs. The gradient "
                            "of an integer input will have a trivial vector-space dtype (float0)."),
    tags=["tape", "dtype"],
    requests=Probe("integer_opt_in", {"x": 2.0, "n": 3}),
    expect={"x": value(3.0), "n_dtype": info("float0")},
    dtypes=["float32"],
    kind="api",
)

non_scalar_target = case(
    id="tape.non_scalar_target",
    statement="A non-scalar target without an output gradient gives the gradient of its sum or raises "
              "NonScalarTarget",
    doc=[Doc(f"{TF_GUIDE}#gradients_of_non-scalar_targets",
             quote="Similarly, if the target(s) are not scalar the gradient of the sum is calculated:"),
         Doc("https://pytorch.org/docs/stable/generated/torch.Tensor.backward.html#torch.Tensor.backward",
             quote="If the tensor is non-scalar (i.e. its data has more than one element) and requires gradient, "
                   "the function additionally requires specifying a gradient."),
         Doc(JAX_GRAD, quote="It should return a scalar (which includes arrays with shape () but not arrays with "
                             "shape (1,) etc.)")],
    tags=["tape", "non_scalar"],
    inputs={"x": var([1.0, 2.0, 3.0])},
    body=lambda ops, x: x * x,
    requests=Grad("x"),
    expect=one_of(sum=value([2.0, 4.0, 6.0]), raises=raises("NonScalarTarget")),
)

jacobian_square = case(
    id="tape.jacobian_square",
    statement="The Jacobian of y = x^2 at [1, 2, 3] is diag(2, 4, 6)",
    doc=[Doc("https://www.tensorflow.org/guide/advanced_autodiff#jacobians",
             quote="The tf.GradientTape.jacobian method allows you to efficiently calculate a Jacobian matrix."),
         Doc("https://docs.jax.dev/en/latest/_autosummary/jax.jacrev.html#jax.jacrev",
             quote="Jacobian of fun evaluated row-by-row using reverse-mode AD.")],
    tags=["tape", "jacobian"],
    inputs={"x": var([1.0, 2.0, 3.0])},
    body=lambda ops, x: x * x,
    requests=Jacobian("x"),
    expect=value(np.diag([2.0, 4.0, 6.0])),
    requires=["jacobian"],
)

CONTROL_FLOW = [
    Doc(f"{TF_GUIDE}#control_flow",
        quote="Because a gradient tape records operations as they are executed, Python control flow is naturally "
              "handled (for example, if and while statements)."),
    Doc(f"{TORCH_NOTES}#how-autograd-encodes-the-history",
        quote="You don't have to encode all possible paths before you launch the training - what you run is what "
              "you differentiate."),
    Doc("https://docs.jax.dev/en/latest/control-flow.html#python-control-flow-autodiff",
        quote="If you just want to apply grad to your python functions, without jit, you can use regular Python "
              "control-flow constructs with no problems, as if you were using Autograd (or Pytorch or TF Eager)."),
]


def _branch_body(ops: Any, x: Any) -> Any:
    """|x| by a Python if: only the branch taken is recorded."""
    if x > 0:
        return x
    return -x


def _loop_body(ops: Any, x: Any) -> Any:
    """x^4 by three multiplications in a Python loop."""
    y = x
    for _ in range(3):
        y = y * x
    return y


control_flow_branch = case(
    id="tape.control_flow_branch",
    statement="Only the branch taken contributes: y = x if x > 0 else -x at x = -2 gives -1",
    doc=CONTROL_FLOW,
    tags=["tape", "control_flow"],
    inputs={"x": var(-2.0)},
    body=_branch_body,
    requests=Grad("x"),
    expect=value(-1.0),
    requires=["python_control_flow"],
)

python_loop_power = case(
    id="tape.python_loop_power",
    statement="A Python loop computing x^4 by repeated multiplication differentiates to 4x^3 = 32 at x = 2",
    doc=CONTROL_FLOW,
    tags=["tape", "control_flow"],
    inputs={"x": var(2.0)},
    body=_loop_body,
    requests=Grad("x"),
    expect=value(32.0),
)

no_gradient_op = case(
    id="tape.no_gradient_op",
    statement="Differentiating through an op that has no registered gradient raises NoGradientDefined",
    doc=Doc(f"{TF_GUIDE}#no_gradient_registered",
            quote="If you attempt to take a gradient through a float op that has no gradient registered the tape "
                  "will throw an error instead of silently returning None."),
    tags=["tape", "no_gradient"],
    inputs={"x": var([1.5, 2.0, 3.0])},
    body=lambda ops, x: ops.sum(ops.no_gradient_op(x)),
    requests=Grad("x"),
    expect=raises("NoGradientDefined"),
    requires=["no_gradient_ops"],
    kind="api",
)

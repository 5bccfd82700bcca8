"""Mutations inside TensorFlow: an op's registered gradient function replaced
in TensorFlow's own gradient registry (what ``tf.RegisterGradient`` fills and
the eager tape looks up), or a public entry point (``GradientTape.gradient``,
``ForwardAccumulator.jvp``, ``tf.vectorized_map``) wrapped.  Each function
applies one mutation to the running process."""
from __future__ import annotations

from typing import Any, Callable


def _regrad(op_type: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """The gradient of op_type := make(its registered gradient)."""
    from tensorflow.python.framework import ops

    entry = ops._gradient_registry._registry[op_type]
    entry["type"] = make(entry["type"])


def sin_gradient_sign() -> None:
    """Sin's gradient is -cos."""
    _regrad("Sin", lambda original: lambda op, grad: [-g for g in _listed(original(op, grad))])


def _listed(grads: Any) -> list[Any]:
    return list(grads) if isinstance(grads, (list, tuple)) else [grads]


def tanh_gradient_float64() -> None:
    """Tanh's gradient comes back as float64 whatever the input dtype."""
    import tensorflow as tf

    _regrad("Tanh", lambda original: lambda op, grad: [
        tf.cast(g, tf.float64) if g.dtype in (tf.float16, tf.bfloat16, tf.float32) else g
        for g in _listed(original(op, grad))])


def add_gradient_unreduced() -> None:
    """AddV2's gradient does not sum back over broadcast axes: each operand gets the output's shape."""
    _regrad("AddV2", lambda original: lambda op, grad: [grad, grad])


def gather_gradient_dense() -> None:
    """GatherV2's and ResourceGather's gradients are dense tensors instead of IndexedSlices."""
    import tensorflow as tf

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        return lambda op, grad: [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                                 for g in _listed(original(op, grad))]

    _regrad("GatherV2", make)
    _regrad("ResourceGather", make)


def gather_gradient_rows_reversed() -> None:
    """GatherV2's and ResourceGather's IndexedSlices gradients carry their rows in reverse order."""
    import tensorflow as tf

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        return lambda op, grad: [tf.IndexedSlices(g.values, tf.reverse(g.indices, [0]), g.dense_shape)
                                 if isinstance(g, tf.IndexedSlices) else g for g in _listed(original(op, grad))]

    _regrad("GatherV2", make)
    _regrad("ResourceGather", make)


def tanh_second_derivative_zero() -> None:
    """TanhGrad's gradient (the second derivative of tanh) is zero."""
    import tensorflow as tf

    _regrad("TanhGrad", lambda original: lambda op, grad: [tf.zeros_like(g) if g is not None else None
                                                           for g in _listed(original(op, grad))])


def square_gradient_unconjugated() -> None:
    """Square's gradient is 2z where TensorFlow's convention takes conj(2z) (real inputs unchanged)."""
    _regrad("Square", lambda original: lambda op, grad: grad * 2.0 * op.inputs[0])


def forward_accumulator_negated() -> None:
    """ForwardAccumulator.jvp answers the negated tangent."""
    import tensorflow as tf

    cls = tf.autodiff.ForwardAccumulator
    original = cls.jvp

    def jvp(self: Any, primals: Any, *args: Any, **kwargs: Any) -> Any:
        return tf.nest.map_structure(lambda t: None if t is None else -t, original(self, primals, *args, **kwargs))

    cls.jvp = jvp


def tape_never_released() -> None:
    """A non-persistent GradientTape keeps its recording after gradient() (no error on a second call)."""
    import tensorflow as tf

    cls = tf.GradientTape
    original = cls.gradient

    def gradient(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._persistent = True
        return original(self, *args, **kwargs)

    cls.gradient = gradient


def vectorized_map_reversed() -> None:
    """tf.vectorized_map answers the batch in reverse order."""
    import tensorflow as tf

    original = tf.vectorized_map

    def vectorized_map(fn: Any, elems: Any, *args: Any, **kwargs: Any) -> Any:
        return tf.nest.map_structure(lambda t: tf.reverse(t, [0]), original(fn, elems, *args, **kwargs))

    tf.vectorized_map = vectorized_map


def no_gradient_type_error() -> None:
    """Asking for a gradient through an op without one raises TypeError where TensorFlow answers None."""
    from tensorflow.python.framework import ops

    def refuse(op: Any, *grads: Any) -> Any:
        raise TypeError(f"gradient of {op.type} refused")

    ops._gradient_registry._registry["DeepCopy"] = {"type": refuse, "location": None}

"""Real adapters with one wrong gradient rule each (mutants): the suite must
catch every one on the cases the rule touches and only there."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from adapters.jax_adapter import JaxAdapter
from adapters.jax_ops import build_ops
from adapters.tensorflow_adapter import TensorFlowAdapter
from gradspec.adapter import LazyOps
from gradspec.program import RunContext


class _JaxMutant(JaxAdapter):
    @classmethod
    def expectations_path(cls) -> Path:
        return JaxAdapter.expectations_path()


def _sigmoid_with_flipped_gradient() -> dict[str, Callable[..., Any]]:
    import jax

    ops = build_ops()

    @jax.custom_jvp
    def sigmoid(x: Any) -> Any:
        return jax.nn.sigmoid(x)

    @sigmoid.defjvp
    def _(primals: Any, tangents: Any) -> Any:
        (x,), (t,) = primals, tangents
        s = jax.nn.sigmoid(x)
        return s, -s * (1 - s) * t  # the sign error

    return {**ops, "sigmoid": sigmoid}


class SignErrorSigmoid(_JaxMutant):
    name: ClassVar[str] = "mutant_sign"
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = LazyOps(_sigmoid_with_flipped_gradient)


def _add_with_mean_over_broadcast_axes() -> dict[str, Callable[..., Any]]:
    import jax
    import jax.numpy as jnp

    ops = build_ops()

    def reduce_like(g: Any, shape: tuple[int, ...]) -> Any:
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
        return jnp.mean(g, axis=axes).reshape(shape) if axes else g  # mean where the rule says sum

    @jax.custom_vjp
    def add(a: Any, b: Any) -> Any:
        return a + b

    def fwd(a: Any, b: Any) -> Any:
        return a + b, (jnp.shape(a), jnp.shape(b))

    def bwd(shapes: Any, g: Any) -> Any:
        return reduce_like(g, shapes[0]), reduce_like(g, shapes[1])

    add.defvjp(fwd, bwd)
    return {**ops, "add": add}


class MeanBroadcastAdd(_JaxMutant):
    name: ClassVar[str] = "mutant_broadcast"
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = LazyOps(_add_with_mean_over_broadcast_axes)


class ConjugateForwardMode(_JaxMutant):
    """Forward mode that answers the conjugate tangent."""

    name: ClassVar[str] = "mutant_conjugate_jvp"

    def jvp(self, f: Callable[[Any], Any], x: Any, tangent: Any) -> Any:
        import jax.numpy as jnp

        return jnp.conj(super().jvp(f, x, tangent))


class Float32Inside(_JaxMutant):
    """Computes every float64 item in float32 and reports it as float64."""

    name: ClassVar[str] = "mutant_float32_inside"

    def asarray(self, array: np.ndarray, ctx: RunContext) -> Any:
        arr = np.asarray(array)
        return super().asarray(arr.astype(np.float32) if arr.dtype == np.float64 else arr, ctx)

    def to_numpy(self, native: Any) -> np.ndarray:
        arr = super().to_numpy(native)
        return arr.astype(np.float64) if self._ctx.dtype == "float64" and arr.dtype == np.float32 else arr


def _sigmoid_flipped_inside_graphs() -> dict[str, Callable[..., Any]]:
    import tensorflow as tf

    from adapters.tensorflow_ops import build_ops as build_tf_ops

    @tf.custom_gradient
    def sigmoid(x: Any) -> Any:
        s = tf.math.sigmoid(x)

        def grad(upstream: Any) -> Any:
            rule = upstream * s * (1 - s)
            return -rule if tf.inside_function() else rule  # the sign error, only where a graph is traced

        return s, grad

    return {**build_tf_ops(), "sigmoid": sigmoid}


class GraphOnlySignError(TensorFlowAdapter):
    """TensorFlow whose sigmoid gradient has the wrong sign inside tf.function
    only: a compiler bug that eager mode cannot see."""

    name: ClassVar[str] = "mutant_graph_sign"

    @property
    def ops(self) -> Mapping[str, Callable[..., Any]]:
        if self._ops is None:
            self._ops = _sigmoid_flipped_inside_graphs()
        return self._ops

    @classmethod
    def expectations_path(cls) -> Path:
        return TensorFlowAdapter.expectations_path()

"""Mutations inside JAX: a primitive's JVP, transpose or batching rule
replaced in JAX's own registries, or a public transform wrapped.  Each
function applies one mutation to the running process."""
from __future__ import annotations

from typing import Any, Callable


def _jvp_rule(prim: Any, rule: Callable[..., Any], with_output: bool = False) -> None:
    """Replace prim's JVP rule; its direct linearization rule (which reverse mode
    prefers when present) goes too, so every derivative goes through the new rule."""
    from jax._src.interpreters import ad

    (ad.defjvp2 if with_output else ad.defjvp)(prim, rule)
    ad.primitive_linearizations.pop(prim, None)


def sin_jvp_sign() -> None:
    """sin's JVP rule with the sign of cos flipped."""
    from jax import lax

    _jvp_rule(lax.sin_p, lambda g, x, **params: -g * lax.cos(x))


def tanh_jvp_constant_slope() -> None:
    """tanh's JVP uses a stop_gradient'ed output: first derivatives stay right,
    every higher derivative loses tanh's own curvature."""
    from jax import lax

    _jvp_rule(lax.tanh_p, lambda g, ans, x, **params: g * (1 - lax.stop_gradient(ans) ** 2), with_output=True)


def sin_jvp_conjugated_for_complex() -> None:
    """sin's JVP multiplies by conj(cos z) for complex z (real inputs unchanged)."""
    import jax.numpy as jnp
    from jax import lax

    _jvp_rule(lax.sin_p, lambda g, x, **params: g * (lax.conj(lax.cos(x)) if jnp.iscomplexobj(x) else lax.cos(x)))


def exp_jvp_float32() -> None:
    """exp's JVP computes its tangent in float32 whatever the input dtype."""
    import jax.numpy as jnp
    from jax import lax

    def rule(g: Any, ans: Any, x: Any, **params: Any) -> Any:
        if ans.dtype == jnp.float64:
            return lax.convert_element_type(lax.convert_element_type(g, jnp.float32) * lax.convert_element_type(
                ans, jnp.float32), jnp.float64)
        return g * ans

    _jvp_rule(lax.exp_p, rule, with_output=True)


def mul_batching_reversed() -> None:
    """mul's batching rule answers the batch in reverse order (vmap only)."""
    from jax import lax
    from jax._src.interpreters import batching

    original = batching.fancy_primitive_batchers[lax.mul_p]

    def batcher(axis_data: Any, vals: Any, dims: Any, **params: Any) -> Any:
        out, dim = original(axis_data, vals, dims, **params)
        return (lax.rev(out, (dim,)) if dim is not None and out.shape[dim] > 1 else out), dim

    batching.fancy_primitive_batchers[lax.mul_p] = batcher


def broadcast_transpose_mean() -> None:
    """broadcast_in_dim's transpose averages over the broadcast axes where the rule sums."""
    import math

    from jax import lax
    from jax._src.interpreters import ad

    original = ad.primitive_transposes[lax.broadcast_in_dim_p]

    def transpose(ct: Any, operand: Any, *dyn: Any, shape: Any, broadcast_dimensions: Any, **params: Any) -> Any:
        cts = original(ct, operand, *dyn, shape=shape, broadcast_dimensions=broadcast_dimensions, **params)
        op_shape = operand.aval.shape if hasattr(operand, "aval") else operand.shape
        factor = math.prod(shape) // max(1, math.prod(op_shape))
        if factor <= 1 or type(cts[0]).__name__ == "Zero":
            return cts
        return [cts[0] / factor, *cts[1:]]

    ad.primitive_transposes[lax.broadcast_in_dim_p] = transpose


def grad_sums_non_scalar() -> None:
    """jax.grad accepts a non-scalar output and differentiates its sum (no error)."""
    import jax
    import jax.numpy as jnp

    original = jax.grad

    def grad(fun: Any, *args: Any, **kwargs: Any) -> Any:
        return original(lambda *a, **k: jnp.sum(fun(*a, **k)), *args, **kwargs)

    jax.grad = grad


def integer_input_value_error() -> None:
    """jax.grad's integer-input check raises ValueError instead of its TypeError."""
    from jax._src import api

    def check(holomorphic: bool, allow_int: bool, x: Any) -> None:
        import numpy as np

        dtype = getattr(x, "dtype", np.asarray(x).dtype)
        if not allow_int and np.issubdtype(dtype, np.integer):
            raise ValueError("grad input is integer")

    api._check_input_dtype_grad = check


def jvp_negated() -> None:
    """jax.jvp answers the negated tangent."""
    import jax

    original = jax.jvp

    def jvp(fun: Any, primals: Any, tangents: Any, *args: Any, **kwargs: Any) -> Any:
        out, tangent_out = original(fun, primals, tangents, *args, **kwargs)
        return out, jax.tree_util.tree_map(lambda t: -t, tangent_out)

    jax.jvp = jvp


def cotangent_accumulation_drops() -> None:
    """Adding two tangents or cotangents keeps the first: a value used several times
    gets the gradient of one use only."""
    from jax._src.interpreters import ad

    def add_tangents(x: Any, y: Any) -> Any:
        return y if type(x) is ad.Zero else x

    ad.add_tangents = add_tangents

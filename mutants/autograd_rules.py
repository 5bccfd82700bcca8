"""Mutations inside HIPS autograd: a primitive's VJP or JVP redefined with
autograd's own ``defvjp``/``defjvp`` (which replace the rules registered by
autograd.numpy), or a public entry point wrapped.  Each function applies one
mutation to the running process."""
from __future__ import annotations

from typing import Any


def sin_vjp_sign() -> None:
    """sin's VJP is -cos."""
    import autograd.numpy as anp
    from autograd.extend import defvjp

    defvjp(anp.sin, lambda ans, x: lambda g: -g * anp.cos(x))


def sin_vjp_conjugated() -> None:
    """sin's VJP multiplies by conj(cos z) (real inputs unchanged; complex ones flip convention)."""
    import autograd.numpy as anp
    from autograd.extend import defvjp

    defvjp(anp.sin, lambda ans, x: lambda g: g * anp.conj(anp.cos(x)))


def tanh_vjp_float64() -> None:
    """tanh's VJP answers float64 whatever the input dtype."""
    import autograd.numpy as anp
    from autograd.extend import defvjp

    defvjp(anp.tanh, lambda ans, x: lambda g: anp.asarray(g / anp.cosh(x) ** 2).astype(anp.float64))


def add_vjp_unbroadcast_missing() -> None:
    """add's VJP does not sum back over broadcast axes: each operand gets the output's shape."""
    import autograd.numpy as anp
    from autograd.extend import defvjp

    defvjp(anp.add, lambda ans, x, y: lambda g: g, lambda ans, x, y: lambda g: g)


def tanh_vjp_constant_slope() -> None:
    """tanh's VJP computes its slope from the unboxed input: first derivatives right,
    second derivatives lose tanh's curvature."""
    import autograd.numpy as anp
    import numpy as onp
    from autograd.extend import defvjp
    from autograd.tracer import getval

    defvjp(anp.tanh, lambda ans, x: lambda g: g / onp.cosh(getval(x)) ** 2)


def exp_jvp_negated() -> None:
    """exp's JVP (forward mode) is negated; its VJP is unchanged."""
    import autograd.numpy as anp
    from autograd.extend import defjvp

    defjvp(anp.exp, lambda g, ans, x: -ans * g)


def grad_sums_non_scalar() -> None:
    """autograd.grad differentiates the sum of a non-scalar output instead of refusing it."""
    import autograd
    import autograd.numpy as anp

    original = autograd.grad

    def grad(fun: Any, argnum: int = 0) -> Any:
        return original(lambda *a, **k: anp.sum(fun(*a, **k)), argnum)

    autograd.grad = grad


def integer_source_value_error() -> None:
    """Boxing an integer input raises ValueError instead of autograd's TypeError."""
    import autograd.tracer as tracer

    original = tracer.new_box

    def new_box(value: Any, trace: Any, node: Any) -> Any:
        try:
            return original(value, trace, node)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    tracer.new_box = new_box


def outgrad_accumulation_drops() -> None:
    """The backward pass keeps the first gradient reaching a node: a value used several
    times gets the gradient of one use only."""
    import autograd.core as core

    original = core.add_outgrads

    def add_outgrads(prev_g_flagged: Any, g: Any) -> Any:
        return prev_g_flagged if prev_g_flagged else original(prev_g_flagged, g)

    core.add_outgrads = add_outgrads

"""Mutations inside PyTorch: a public function (``torch.sin``, ``torch.amax``,
...) replaced by a ``torch.autograd.Function`` with the same forward and a
broken derivative, or a public autograd entry point (``torch.autograd.grad``,
``torch.func.jvp``, ``torch.func.vmap``) wrapped.  Each function applies one
mutation to the running process."""
from __future__ import annotations

from typing import Any, Callable


def _replace(name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """torch.<name> := make(original torch.<name>)."""
    import torch

    setattr(torch, name, make(getattr(torch, name)))


def _elementwise_backward(name: str, backward: Callable[[Any, Any], Any]) -> None:
    """torch.<name> := the same forward with ``backward(x, g)`` as its derivative."""
    import torch

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        class Mutated(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x)
                return original(x)

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                (x,) = ctx.saved_tensors
                return backward(x, g)

        return Mutated.apply

    _replace(name, make)


def sin_backward_sign() -> None:
    """torch.sin's backward is -cos."""
    import torch

    _elementwise_backward("sin", lambda x, g: -g * torch.cos(x).conj())


def sin_backward_unconjugated() -> None:
    """torch.sin's backward multiplies by cos z where PyTorch's convention takes conj(cos z)."""
    import torch

    _elementwise_backward("sin", lambda x, g: g * torch.cos(x))


def exp_backward_detached() -> None:
    """torch.exp's backward uses its output detached: first derivatives right,
    second derivatives lose exp's own term."""
    import torch

    def make(exp: Callable[..., Any]) -> Callable[..., Any]:
        class Exp(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                y = exp(x)
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                (y,) = ctx.saved_tensors
                return g * y.detach().conj()

        return Exp.apply

    _replace("exp", make)


def amax_first_index() -> None:
    """torch.amax sends the whole gradient to the first maximum instead of sharing it among ties."""
    import torch

    def make(amax: Callable[..., Any]) -> Callable[..., Any]:
        class Amax(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any, dim: Any = ()) -> Any:
                ctx.save_for_backward(x)
                ctx.dim = dim
                return amax(x, dim) if dim != () else amax(x)

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                (x,) = ctx.saved_tensors
                dims = tuple(range(x.ndim)) if ctx.dim in ((), None) else \
                    ((ctx.dim,) if isinstance(ctx.dim, int) else tuple(ctx.dim))
                dims = tuple(d % x.ndim for d in dims)
                keep = [d for d in range(x.ndim) if d not in dims]
                moved = x.permute(*keep, *dims).reshape(*[x.shape[d] for d in keep], -1)
                first = torch.nn.functional.one_hot(moved.argmax(-1), moved.shape[-1]).to(x.dtype)
                mask = first.reshape(*[x.shape[d] for d in keep], *[x.shape[d] for d in dims])
                mask = mask.permute(*torch.argsort(torch.tensor([*keep, *dims])).tolist())
                for d in sorted(dims):
                    g = g.unsqueeze(d)
                return g * mask, None

        return lambda x, dim=(): Amax.apply(x, dim)

    _replace("amax", make)


def matmul_backward_untransposed() -> None:
    """torch.matmul's backward forgets to transpose the other operand."""
    import torch

    def make(matmul: Callable[..., Any]) -> Callable[..., Any]:
        class Matmul(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, a: Any, b: Any) -> Any:
                ctx.save_for_backward(a, b)
                return matmul(a, b)

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                a, b = ctx.saved_tensors
                return matmul(g, b), matmul(a, g)

        return Matmul.apply

    _replace("matmul", make)


def tanh_forward_mode_negated() -> None:
    """torch.tanh with a correct backward and a negated forward-mode (jvp) rule."""
    import torch

    def make(tanh: Callable[..., Any]) -> Callable[..., Any]:
        class Tanh(torch.autograd.Function):
            generate_vmap_rule = True

            @staticmethod
            def forward(x: Any) -> Any:
                return tanh(x)

            @staticmethod
            def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
                ctx.save_for_backward(output)
                ctx.save_for_forward(output)
                ctx.y = output

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                (y,) = ctx.saved_tensors
                return g * (1 - y * y).conj()

            @staticmethod
            def jvp(ctx: Any, t: Any) -> Any:
                return -t * (1 - ctx.y * ctx.y)

        return Tanh.apply

    _replace("tanh", make)


def grad_always_retains() -> None:
    """torch.autograd.grad keeps the graph whatever retain_graph says (no error on a second use)."""
    import torch

    original = torch.autograd.grad

    def grad(*args: Any, **kwargs: Any) -> Any:
        kwargs["retain_graph"] = True
        return original(*args, **kwargs)

    torch.autograd.grad = grad


def non_scalar_value_error() -> None:
    """torch.autograd.grad of a non-scalar output without grad_outputs raises ValueError,
    not PyTorch's RuntimeError."""
    import torch

    original = torch.autograd.grad

    def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, **kwargs: Any) -> Any:
        outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        if grad_outputs is None and any(o.numel() != 1 for o in outs):
            raise ValueError("outputs must be scalars")
        return original(outputs, inputs, grad_outputs, **kwargs)

    torch.autograd.grad = grad


def vmap_reversed() -> None:
    """torch.func.vmap answers the batch in reverse order."""
    import torch
    import torch.func

    original = torch.func.vmap

    def vmap(func: Any, *args: Any, **kwargs: Any) -> Any:
        mapped = original(func, *args, **kwargs)
        return lambda *a, **k: torch.flip(mapped(*a, **k), (0,))

    torch.func.vmap = vmap


def _mul_with_wrong_rhs_gradient(original: Callable[..., Any]) -> Callable[..., Any]:
    """a * b whose backward gives b the gradient g * b (instead of g * a) when both need gradients."""
    import torch

    class Mul(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, a: Any, b: Any) -> Any:
            ctx.save_for_backward(a, b)
            return original(a, b)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            a, b = ctx.saved_tensors
            return g * b.conj(), g * b.conj()

    def mul(a: Any, b: Any, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and all(isinstance(t, torch.Tensor) and t.requires_grad for t in (a, b)) \
                and a is not b:
            return Mul.apply(a, b)
        return original(a, b, *args, **kwargs)

    return mul


def mul_operator_wrong_rhs() -> None:
    """The * operator (Tensor.__mul__) gives its right operand the wrong gradient; torch.mul is intact."""
    import torch

    torch.Tensor.__mul__ = _mul_with_wrong_rhs_gradient(torch.Tensor.__mul__)


def mul_function_wrong_rhs() -> None:
    """torch.mul gives its second operand the wrong gradient; the * operator is intact."""
    _replace("mul", _mul_with_wrong_rhs_gradient)

"""The neutral op vocabulary (gradspec/numpy_ops.py) mapped onto PyTorch.

Each entry is the PyTorch op a PyTorch user would write for that name, so
that a case observes PyTorch's own gradient rules (ties, kinks, dense or
sparse rows).  Layout conversions keep the vocabulary's channels-last
convention.  torch is imported inside ``build_ops`` only.
"""
from __future__ import annotations

from typing import Any, Callable

from gradspec.outcomes import Unsupported


def build_ops() -> dict[str, Callable[..., Any]]:
    """Name -> PyTorch callable, one entry a line, for every vocabulary name."""
    import torch
    import torch.nn.functional as F

    def tensors(a: Any, b: Any) -> tuple[Any, Any]:
        """A Python or NumPy operand as a tensor beside the other one (torch's
        ``maximum``/``minimum`` take tensors only)."""
        if not isinstance(a, torch.Tensor):
            a = torch.as_tensor(a, dtype=b.dtype, device=b.device)
        if not isinstance(b, torch.Tensor):
            b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
        return a, b

    def reduce(op: Callable[..., Any]) -> Callable[..., Any]:
        """A reduction taking ``axis=None`` for "all axes", as NumPy does."""
        return lambda x, axis=None: op(x) if axis is None else op(x, dim=axis)

    def rows(params: Any, indices: Any) -> Any:
        """Rows of params at indices with F.embedding (dense gradient by
        default, as its ``sparse=False`` documents), for any rank of params."""
        idx = torch.as_tensor(indices, device=params.device)
        flat = F.embedding(idx, params.reshape(params.shape[0], -1))
        return flat.reshape(tuple(idx.shape) + tuple(params.shape[1:]))

    def channels_last(pool: Callable[..., Any]) -> Callable[..., Any]:
        """(batch, length, channels) <-> torch's (N, C, L)."""
        return lambda x, window, stride: pool(x.transpose(1, 2), window, stride).transpose(1, 2)

    def select(cond: Any, a: Any, b: Any) -> Any:
        ref = a if isinstance(a, torch.Tensor) else b
        return torch.where(torch.as_tensor(cond, device=ref.device), a, b)

    def over(op: Callable[..., Any]) -> Callable[..., Any]:
        """A one-dim reduction (torch.prod) over a tuple of axes, one axis at a time."""
        def run(x: Any, axis: Any = None) -> Any:
            if axis is None:
                return op(x)
            for a in sorted((axis,) if isinstance(axis, int) else axis, key=lambda a: a % x.ndim, reverse=True):
                x = op(x, dim=a)
            return x
        return run

    def nlc(conv: Callable[..., Any], perm_x: tuple[int, ...], perm_w: tuple[int, ...],
            back: tuple[int, ...]) -> Callable[..., Any]:
        """A channels-first torch conv on the vocabulary's channels-last tensors and kernels."""
        return lambda x, w, stride=1, padding=0, dilation=1: conv(
            x.permute(perm_x), w.permute(perm_w), stride=stride, padding=padding, dilation=dilation).permute(back)

    def nhwc(pool: Callable[..., Any]) -> Callable[..., Any]:
        return lambda x, window, stride: pool(x.permute(0, 3, 1, 2), window, stride).permute(0, 2, 3, 1)

    class ClippedSquare(torch.autograd.Function):
        """x**2 with the custom backward clip(2x, -1, 1) * g."""

        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return torch.clamp(2 * x, -1, 1) * g

    def no_op(name: str, why: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise Unsupported(f"torch has no public differentiable {name}: {why}")
        return refuse

    return {
        "sum": reduce(torch.sum),
        "mean": reduce(torch.mean),
        "matmul": torch.matmul,
        "dot": torch.dot,
        "exp": torch.exp,
        "log": torch.log,
        "sigmoid": torch.sigmoid,
        "log_sigmoid": F.logsigmoid,
        "relu": torch.relu,
        "tanh": torch.tanh,
        "square": torch.square,
        "sqrt": torch.sqrt,
        "abs": torch.abs,
        "softmax": lambda x, axis=-1: torch.softmax(x, dim=axis),
        "log_softmax": lambda x, axis=-1: torch.log_softmax(x, dim=axis),
        "gather": rows,
        "reshape": lambda x, shape: torch.reshape(x, tuple(shape)),
        "transpose": lambda x: torch.permute(x, tuple(range(x.ndim))[::-1]),
        "stack": lambda xs, axis=0: torch.stack(list(xs), dim=axis),
        "concat": lambda xs, axis=0: torch.cat(list(xs), dim=axis),
        "where": select,
        "maximum": lambda a, b: torch.maximum(*tensors(a, b)),
        "minimum": lambda a, b: torch.minimum(*tensors(a, b)),
        "max_with_index": lambda x, axis: torch.max(x, dim=axis).values,
        "min_with_index": lambda x, axis: torch.min(x, dim=axis).values,
        "max": reduce(torch.amax),  # torch.amax: the NumPy-style reduction (ties share the gradient)
        "max_pool1d": channels_last(F.max_pool1d),
        "avg_pool1d": channels_last(F.avg_pool1d),
        "cast": lambda x, dtype: x.to(getattr(torch, dtype)),
        "neg": torch.neg,
        "expm1": torch.expm1,
        "log1p": torch.log1p,
        "rsqrt": torch.rsqrt,
        "sin": torch.sin,
        "cos": torch.cos,
        "tan": torch.tan,
        "sinh": torch.sinh,
        "cosh": torch.cosh,
        "arcsin": torch.asin,
        "arctan": torch.atan,
        "softplus": F.softplus,
        "gelu": F.gelu,
        "erf": torch.erf,
        "reciprocal": torch.reciprocal,
        "sign": torch.sign,
        "real": torch.real,
        "imag": torch.imag,
        "conj": torch.conj,
        "add": torch.add,
        "sub": torch.sub,
        "mul": torch.mul,
        "div": torch.div,
        "pow": torch.pow,
        "atan2": torch.atan2,
        "prod": over(torch.prod),
        "min": reduce(torch.amin),
        "logsumexp": lambda x, axis=None: torch.logsumexp(x, dim=tuple(range(x.ndim)) if axis is None else axis),
        "var": lambda x, axis=None: torch.var(x, dim=axis, correction=0),
        "std": lambda x, axis=None: torch.std(x, dim=axis, correction=0),
        "norm": lambda x, axis=None: torch.linalg.vector_norm(x, ord=2, dim=axis),
        "einsum": torch.einsum,
        "solve": torch.linalg.solve,
        "inv": torch.linalg.inv,
        "det": torch.linalg.det,
        "slogdet": lambda x: torch.linalg.slogdet(x)[1],
        "cholesky": torch.linalg.cholesky,
        "trace": torch.trace,
        "split": lambda x, sections, axis=0: list(torch.tensor_split(x, sections, dim=axis)),
        "take_along_axis": lambda x, indices, axis: torch.take_along_dim(x, torch.as_tensor(indices, device=x.device), dim=axis),
        "scatter_add": lambda x, indices, updates: torch.index_add(x, 0, torch.as_tensor(indices, device=x.device), updates),
        "pad": lambda x, widths: F.pad(x, tuple(v for w in reversed(list(widths)) for v in w)),
        "tile": lambda x, reps: torch.tile(x, tuple(reps)),
        "broadcast_to": lambda x, shape: torch.broadcast_to(x, tuple(shape)),
        "cross_entropy": lambda logits, labels: F.cross_entropy(logits, torch.as_tensor(labels, device=logits.device)),
        "layer_norm": lambda x, gamma, beta, eps=1e-5: F.layer_norm(x, tuple(x.shape[-1:]), gamma, beta, eps),
        "conv1d": nlc(F.conv1d, (0, 2, 1), (2, 1, 0), (0, 2, 1)),
        "conv2d": nlc(F.conv2d, (0, 3, 1, 2), (3, 2, 0, 1), (0, 2, 3, 1)),
        "max_pool2d": nhwc(F.max_pool2d),
        "avg_pool2d": nhwc(F.avg_pool2d),
        "embedding": lambda table, ids: F.embedding(torch.as_tensor(ids, device=table.device), table),
        "embedding_sparse": lambda table, ids: F.embedding(torch.as_tensor(ids, device=table.device), table,
                                                           sparse=True),
        "cond": lambda pred, true_fn, false_fn, x: torch.cond(torch.as_tensor(pred), true_fn, false_fn, (x,)),
        "fori_loop": no_op("loop", "torch's while_loop is a private prototype without autograd"),
        "while_loop": no_op("while_loop", "torch's while_loop is a private prototype without autograd"),
        "stop_gradient": lambda x: x.detach(),
        "clipped_square": ClippedSquare.apply,
        "checkpoint": lambda fn, x: torch.utils.checkpoint.checkpoint(fn, x, use_reentrant=False),
        "add_inplace": lambda t, v: t.add_(v),
        # Riemann zeta: torch registers no derivative with respect to its first argument.
        "no_gradient_op": lambda x: torch.special.zeta(x, torch.ones_like(x)),
    }

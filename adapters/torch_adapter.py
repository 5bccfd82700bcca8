"""The PyTorch adapter: gradspec programs on torch.autograd.

PyTorch records every operation on a tensor that requires grad, so one
program execution is one autograd graph: roles become ``requires_grad``
flags, gradient requests are ``torch.autograd.grad`` calls on that graph
(``retain_graph`` says whether it survives a request), and the functional
requests (jacobians, jvp, vjp, hvp, vmap) use ``torch.func`` on the target as
a pure function of its source.

Execution modes (https://docs.pytorch.org/docs/stable/generated/torch.compile.html):

- ``eager`` (the default): every operation runs as it is called.
- ``compiled``: ``torch.compile(backend="aot_eager")``.  The body is compiled
  and AOTAutograd traces its joint forward/backward graph, so the gradient
  requests run the compiled backward
  (https://docs.pytorch.org/docs/stable/torch.compiler_backward.html); each
  ``torch.func`` request compiles the whole transform.  No kernels are
  generated.  About 0.3 s to 1.5 s of compilation an item on two cores, so it
  is opt-in: ``--gradspec-modes eager,compiled`` (``tox -e torchcompiled``, and every ``torch-<release>`` environment).
- ``compiled-inductor``: the same with the Inductor backend, which generates
  C++ kernels on CPU and needs a C++ compiler (``g++``); without one its
  items SKIP.  Opt-in.

A compiled item starts from ``torch._dynamo.reset()``, so its counts are its
own: the frames Dynamo saw and compiled, the graphs, the graph breaks.  A
frame Dynamo declines (an unimplemented construct) runs eagerly; gradspec does
not judge that as a compiled answer: the item is UNSUPPORTED with Dynamo's
reason.  A compiler error that reaches the caller is the observed outcome.
Hitting the recompile limit raises instead of falling back
(``torch._dynamo.config.fail_on_recompile_limit_hit``).  A second derivative
through a compiled backward raises, as AOTAutograd documents
(https://github.com/pytorch/pytorch/issues/91469): UNSUPPORTED.

torch is imported lazily, inside methods.
"""
from __future__ import annotations

import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np

from gradspec.adapter import Adapter, function_of, structured
from gradspec.case import DTYPES
from gradspec.modes import COMPILED, EAGER
from gradspec.outcomes import Absent, Answer, ErrorKind, Info, Outcome, Raised, Sparse, Unsupported, Value
from gradspec.program import OpsView, Program, RunContext, outputs, resolve_target
from gradspec.requests import (BatchedGrad, Derivatives, Grad, Hessian, Hvp, Jacobian, Jvp, Probe, Request,
                               Vjp, WatchedVariables, source_names)

# Native messages -> canonical kinds, checked in order (the first match wins).
_KINDS: tuple[tuple[ErrorKind, re.Pattern[str]], ...] = tuple((k, re.compile(p, re.IGNORECASE)) for k, p in (
    (ErrorKind.TapeExhausted, r"backward through the graph a second time|after they have already been freed"),
    (ErrorKind.InPlaceModified, r"modified by an inplace operation|leaf Variable that requires grad is being used "
                                r"in an in-place operation"),
    (ErrorKind.NonScalarTarget, r"implicitly created only for scalar outputs|to return a scalar tensor"),
    (ErrorKind.NotDifferentiableDType, r"dtype can require gradients|floating point dtype can require"),
    (ErrorKind.UnconnectedSource, r"not have been used in the graph|does not require grad"),
    (ErrorKind.NoGradientDefined, r"derivative for .* is not implemented|forward AD with .* does not support"),
    (ErrorKind.DTypeMismatch, r"same dtype|scalar type|result type .* can't be cast"),
    (ErrorKind.ShapeMismatch, r"shape|size of tensor|must match the size|cannot be multiplied|for input of size"),
))
BACKENDS = {COMPILED: "aot_eager", f"{COMPILED}-inductor": "inductor"}
DOUBLE_BACKWARD = "does not currently support double backward"
DOUBLE_BACKWARD_ISSUE = "https://github.com/pytorch/pytorch/issues/91469"
SIBLING_OUTPUTS = "https://github.com/pytorch/pytorch/pull/186339"
CXX_COMPILERS = ("g++", "c++", "clang++")


@dataclass
class _Recording:
    """One execution's autograd graph: the input tensors, every named value,
    and the inputs torch refused to make require grad (with torch's error)."""

    natives: dict[str, Any]
    named: dict[str, Any] = field(default_factory=dict)
    refused: dict[str, BaseException] = field(default_factory=dict)
    failure: BaseException | None = None  # the forward pass raised


class TorchAdapter(Adapter):
    """PyTorch eager autograd (torch.autograd, torch.func)."""

    name: ClassVar[str] = "torch"
    distribution: ClassVar[str | None] = "torch"
    module: ClassVar[str | None] = "torch"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "recording", "single_use_recording", "persistent_recording", "variables", "trainable_flag",
        "output_gradients", "unconnected_zero", "unconnected_absent", "higher_order", "jacobian", "hessian", "forward_mode",
        "vmap", "sparse_gradients", "complex", "float16", "bfloat16", "layers", "no_gradient_ops", "inplace", "checkpoint",
        "control_flow_ops",
        "custom_gradient", "training", "python_control_flow",
    })
    dtypes: ClassVar[tuple[str, ...]] = DTYPES
    modes: ClassVar[Mapping[str, str]] = {
        EAGER: "each operation runs as it is called",
        COMPILED: "torch.compile(backend='aot_eager'): the body's AOTAutograd joint graph; torch.func requests "
                  "compiled whole",
        f"{COMPILED}-inductor": "torch.compile(backend='inductor'): as compiled, with generated C++ kernels",
    }
    default_modes: ClassVar[tuple[str, ...]] = (EAGER,)

    def __init__(self) -> None:
        self._ops: Mapping[str, Callable[..., Any]] | None = None
        self._backend: str | None = None  # the torch.compile backend of the item running, if compiled

    def mode_unavailable(self, mode: str) -> str | None:
        """Inductor generates C++ on CPU: without a compiler its items SKIP."""
        if mode == f"{COMPILED}-inductor" and not any(shutil.which(c) for c in CXX_COMPILERS):
            return (f"torch.compile's Inductor backend needs a C++ compiler on CPU and none of {list(CXX_COMPILERS)} "
                    f"is on PATH (install g++: apt-get install g++)")
        return None

    @property
    def ops(self) -> Mapping[str, Callable[..., Any]]:
        if self._ops is None:
            from .torch_ops import build_ops

            self._ops = build_ops()
        return self._ops

    def devices(self) -> list[str]:
        import torch

        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    # -- tensors -------------------------------------------------------------
    def tensor(self, array: Any, device: str) -> Any:
        """NumPy -> torch, dtype kept (bfloat16 goes through float32, exactly)."""
        import torch

        arr = np.asarray(array)
        if arr.dtype.name == "bfloat16":
            return torch.tensor(arr.astype(np.float32), device=device).to(torch.bfloat16)
        return torch.tensor(arr, device=device)

    def to_numpy(self, native: Any) -> np.ndarray:
        import torch

        t = native.detach().cpu()
        if t.dtype == torch.bfloat16:
            import ml_dtypes

            return t.float().numpy().astype(ml_dtypes.bfloat16)
        return t.resolve_conj().resolve_neg().numpy()

    def outcome(self, native: Any) -> Outcome:
        """None -> Absent, a sparse COO gradient of rows -> Sparse (kept sparse), else a Value."""
        if native is not None and native.is_sparse and native.sparse_dim() == 1:
            rows = native.coalesce()
            return Sparse(self.to_numpy(rows.indices()[0]), self.to_numpy(rows.values()), tuple(rows.shape))
        return Absent() if native is None else Value(self.to_numpy(native))

    def _like(self, value: Any, ref: Any) -> Any:
        """A tangent, cotangent or output gradient in ``ref``'s dtype and device."""
        return self.tensor(np.asarray(value), "cpu").to(dtype=ref.dtype, device=ref.device)

    # -- execution -----------------------------------------------------------
    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        import torch

        if not program.watch_accessed:
            raise Unsupported("torch records every tensor that requires grad; automatic watching "
                              "cannot be switched off")
        with torch.enable_grad(), self._compiling(ctx):
            rec = self._record(program, ctx)
            answers: list[Answer] = []
            for request in program.requests:
                try:
                    answers.append(self._answer(program, rec, request, ctx))
                except Unsupported:
                    raise
                except Exception as exc:  # torch's own error is the observed outcome
                    answers.append(self.raised(exc))
        return answers

    @contextmanager
    def _compiling(self, ctx: RunContext) -> Iterator[None]:
        """In a compiled mode: start from empty Dynamo caches, fail rather than fall
        back at the recompile limit, and record what Dynamo did for this item.  A
        frame Dynamo could not compile ran eagerly: that is not a compiled answer."""
        if ctx.mode == EAGER:
            yield
            return
        import torch._dynamo
        from torch._dynamo.utils import counters

        torch._dynamo.reset()
        counters.clear()
        torch._dynamo.config.fail_on_recompile_limit_hit = True
        self._backend = BACKENDS[ctx.mode]
        try:
            yield
        finally:
            self._backend = None
            frames = counters["frames"]
            ctx.stats.update(frames=frames["total"], compiled_frames=frames["ok"],
                             graphs=counters["stats"]["unique_graphs"],
                             graph_breaks=sum(counters["graph_break"].values()))
        if frames["total"] > frames["ok"] and counters["unimplemented"]:  # not an error that reached the caller
            why = "; ".join(k.splitlines()[0] for k in counters["unimplemented"])
            raise Unsupported(f"torch.compile could not compile {frames['total'] - frames['ok']} of "
                              f"{frames['total']} frames and ran them eagerly, which is not a compiled answer: "
                              f"{why[:300]}")

    def _compiled(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` as this item's mode runs it: through torch.compile in a compiled mode."""
        import torch

        return fn if self._backend is None else torch.compile(fn, backend=self._backend)

    def raised(self, exc: BaseException) -> Raised:
        """A second derivative through a compiled backward is what AOTAutograd
        refuses: UNSUPPORTED in a compiled mode, never a framework failure."""
        if self._backend is not None and DOUBLE_BACKWARD in str(exc):
            raise Unsupported(f"torch.compile's AOTAutograd backward cannot be differentiated again "
                              f"({DOUBLE_BACKWARD_ISSUE}): {str(exc)[:200]}") from exc
        return super().raised(exc)

    def _record(self, program: Program, ctx: RunContext) -> _Recording:
        """Build the inputs by role and run the body once, recording it."""
        view = OpsView(self.name, self.ops)
        rec = _Recording({})
        for name, inp in program.inputs.items():
            t = self.tensor(program.arrays[name], ctx.device)
            if inp.role in ("variable", "watched", "outside"):
                try:
                    t.requires_grad_()  # a leaf that requires grad: torch's trainable tensor
                except RuntimeError as exc:  # torch refuses integer tensors
                    rec.refused[name] = exc
            if inp.prelude is not None:  # computed from the base variable, recorded like the rest
                t = inp.prelude(view, t)
            rec.natives[name] = t
        if program.body is not None and any(not isinstance(r, Probe) for r in program.requests):
            try:
                rec.named = outputs(self._compiled(program.body)(view, **rec.natives), view.marks)
            except Unsupported:
                raise
            except Exception as exc:
                rec.failure = exc
        return rec

    def _source(self, program: Program, rec: _Recording, name: str) -> Any:
        if name in rec.refused:
            raise rec.refused[name]
        if name in rec.natives:
            return rec.natives[name]
        return resolve_target(rec.named, name, program.case_id)

    def _answer(self, program: Program, rec: _Recording, r: Request, ctx: RunContext) -> Answer:
        import torch

        if isinstance(r, Probe):
            return self.probe(r, ctx)
        if isinstance(r, WatchedVariables):
            raise Unsupported("torch has no recording object that lists the tensors it watched")
        if rec.failure is not None:
            raise rec.failure
        if isinstance(r, Grad):
            return self._grad(program, rec, r)
        if isinstance(r, Derivatives):
            x = self._source(program, rec, r.wrt)
            out = resolve_target(rec.named, r.target, program.case_id)
            results = []
            for k in range(r.order):  # order k: the gradient of the sum of order k-1
                (out,) = torch.autograd.grad(out if k == 0 else out.sum(), x, create_graph=True)
                results.append(self.outcome(out))
            return results
        f, x = function_of(program, self.name, self.ops, rec.natives, r.wrt, r.target)
        if self._backend is not None:
            x = x.detach()  # the transform differentiates; the compiled region needs no outer graph
        seed = self._seed(x, r)
        return self.outcome(self._compiled(self._transform(f, r))(x, seed))

    def _seed(self, x: Any, r: Request) -> Any:
        """The tangent or cotangent of ``r`` as a tensor, made before any compiled region
        (the pullback casts a cotangent to the output's dtype, as ``_like`` does)."""
        if isinstance(r, (Jvp, Hvp)):
            return self._like(r.tangent, x)
        if isinstance(r, Vjp):
            return self.tensor(np.asarray(r.cotangent), "cpu").to(device=x.device)
        return None

    def _transform(self, f: Callable[[Any], Any], r: Request) -> Callable[[Any, Any], Any]:
        """The torch.func transform answering ``r``, a function of the source's value and the seed."""
        import torch

        tf = torch.func
        if isinstance(r, Jacobian):
            jac = (tf.jacfwd if r.mode == "forward" else tf.jacrev)(f)
            return lambda x, _: jac(x)
        if isinstance(r, Hessian):
            hess = tf.hessian(f)
            return lambda x, _: hess(x)
        if isinstance(r, Jvp):
            return lambda x, t: tf.jvp(f, (x,), (t,))[1]
        if isinstance(r, Vjp):
            def pulled(x: Any, c: Any) -> Any:
                y, pullback = tf.vjp(f, x)
                return pullback(c.to(dtype=y.dtype))[0]
            return pulled
        if isinstance(r, Hvp):  # forward over reverse
            return lambda x, t: tf.jvp(tf.grad(f), (x,), (t,))[1]
        if isinstance(r, BatchedGrad):
            batched = tf.vmap(tf.grad(f))
            return lambda x, _: batched(x)
        raise Unsupported(f"request {type(r).__name__} is not supported by adapter '{self.name}'")

    def _grad(self, program: Program, rec: _Recording, r: Grad) -> Answer:
        """One torch.autograd.grad call for all sources of the request; a
        non-persistent recording frees the graph afterwards."""
        import torch

        target = resolve_target(rec.named, r.target, program.case_id)
        outputs_as_sources = [n for n in source_names(r.wrt) if n not in rec.natives]
        if self._backend is not None and outputs_as_sources:
            raise Unsupported(f"sources {outputs_as_sources} are intermediates the compiled body returns: "
                              f"AOTAutograd returns every output of a compiled region from one autograd node, "
                              f"so no output is differentiable with respect to another ({SIBLING_OUTPUTS})")
        sources = [self._source(program, rec, n) for n in source_names(r.wrt)]
        seed = None if r.output_grad is None else self._like(r.output_grad, target)
        zero = r.unconnected == "zero"
        grads = iter(torch.autograd.grad(target, sources, grad_outputs=seed, retain_graph=program.persistent,
                                         allow_unused=zero or r.unconnected == "absent", materialize_grads=zero))
        return structured(r.wrt, lambda _: self.outcome(next(grads)))

    def classify(self, exc: BaseException) -> ErrorKind:
        message = str(exc)
        for kind, pattern in _KINDS:
            if pattern.search(message):
                return kind
        return ErrorKind.Unclassified

    # -- probes ----------------------------------------------------------------
    def probe_dense_layer(self, ctx: RunContext, units: int, activation: str | None, x: Any,
                          x_dtype: str = "float32") -> Answer:
        """torch.nn.Linear with its own initialisation (seeded, on CPU, then
        moved), in torch's default dtype; loss mean(y**2).  The kernel is
        reported as weight.T, the (in, out) layout."""
        import torch

        acts: dict[str | None, Callable[[Any], Any]] = {"relu": torch.relu, "linear": lambda v: v, None: lambda v: v}
        if activation not in acts:
            raise Unsupported(f"activation {activation!r} is not mapped by adapter '{self.name}'")
        xs = self.tensor(np.asarray(x), ctx.device).to(getattr(torch, x_dtype))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.seed)
            layer = torch.nn.Linear(xs.shape[-1], units)
        layer = layer.to(ctx.device)
        y = acts[activation](layer(xs))  # a float16 input with a float32 layer: torch raises
        gw, gb = torch.autograd.grad(torch.mean(y * y), (layer.weight, layer.bias))
        return {"kernel": self.outcome(layer.weight.T), "bias": self.outcome(layer.bias),
                "grad_kernel": self.outcome(gw.T), "grad_bias": self.outcome(gb)}

    def probe_leaf_grad_after_backward(self, ctx: RunContext, x: float, u: float) -> Answer:
        """Two leaves requiring grad, a target x * x that does not use u, one
        backward(): what x.grad and u.grad hold afterwards."""
        import torch

        dtype = getattr(torch, ctx.dtype)
        xs, us = (torch.tensor(v, dtype=dtype, device=ctx.device, requires_grad=True) for v in (x, u))
        (xs * xs).backward()
        return {"x": self.outcome(xs.grad), "u": self.outcome(us.grad)}

    def probe_variable_from_list(self, ctx: RunContext, values: Any, shape: Any) -> Answer:
        """torch.tensor takes no shape, and reshape would change the value rather
        than declare one.  A torch variable of declared shape is a Parameter
        allocated with that shape and initialised in place from the values:
        Tensor.copy_ requires the values to broadcast to the declared shape."""
        import torch

        dtype = getattr(torch, ctx.dtype) if ctx.dtype.startswith(("float", "bfloat", "complex")) else None
        p = torch.nn.Parameter(torch.empty(tuple(shape), dtype=dtype, device=ctx.device))
        with torch.no_grad():
            p.copy_(torch.tensor(values, device=ctx.device))
        return self.outcome(p)

    def probe_default_dtype(self, ctx: RunContext, value: Any) -> Answer:
        """The dtype torch.tensor infers for Python values."""
        import torch

        return Info(str(torch.tensor(value).dtype).removeprefix("torch."))

    def probe_module_variables(self, ctx: RunContext) -> Answer:
        """A Module with one Parameter attribute and a ParameterList of three."""
        import torch

        class _Module(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))
                self.ws = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(1)) for _ in range(3)])

        return Info(len(list(_Module().parameters())))

    def probe_train_linear_l1(self, ctx: RunContext, xs: Any, ys: Any, lr: float, steps: int,
                              w0: float, b0: float) -> Answer:
        """Plain gradient descent (torch.optim.SGD without momentum) on
        sum(|w*x + b - y|) (the gradient of the non-scalar |y_pred - y|), in the item dtype."""
        import torch

        dtype, dev = getattr(torch, ctx.dtype), ctx.device
        x = self.tensor(np.asarray(xs), dev).to(dtype)
        y = self.tensor(np.asarray(ys), dev).to(dtype)
        w = torch.tensor(w0, dtype=dtype, device=dev, requires_grad=True)
        b = torch.tensor(b0, dtype=dtype, device=dev, requires_grad=True)
        opt = torch.optim.SGD([w, b], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            torch.sum(torch.abs(w * x + b - y)).backward()
            opt.step()
        return Value(np.stack([self.to_numpy(w), self.to_numpy(b)]))

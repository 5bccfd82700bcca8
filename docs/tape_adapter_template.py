"""A complete tape adapter: the second template of docs/authoring.md.

It validates ``docs/minitape.py``, a small recording engine, through the
``Adapter`` base: the adapter builds the inputs by role, runs the case body
once under the engine's recording, and answers the requests in order on
that one recording.  Copy it, replace minitape with your library, and run

    python -m pytest cases -n auto --gradspec-adapter docs.tape_adapter_template:MinitapeAdapter

minitape lacks several of gradspec's notions (variables, a trainable flag,
automatic watching, persistent recordings); the adapter says so instead of
imitating them, and those cases come back UNSUPPORTED, never as a pass.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from gradspec.adapter import Adapter, LazyOps, structured
from gradspec.outcomes import Absent, Answer, ErrorKind, Outcome, Unsupported, Value
from gradspec.program import OpsView, Program, RunContext, outputs, resolve_target
from gradspec.requests import Grad, Probe, Request, WatchedVariables, source_names


def build_ops() -> dict[str, Callable[..., Any]]:
    """1. The op table (gradspec/numpy_ops.py names -> your functions), built on first use."""
    from docs import minitape as mt

    return {"sum": mt.sum, "mean": mt.mean, "exp": mt.exp, "log": mt.log, "tanh": mt.tanh, "sqrt": mt.sqrt,
            "square": lambda x: x * x, "sigmoid": mt.sigmoid}


class MinitapeAdapter(Adapter):
    # 2. Who you are.  minitape is not an installed distribution, so version() is overridden.
    name: ClassVar[str] = "minitape"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        "recording",              # requires_grad decides what is recorded
        "single_use_recording",   # grad() frees the recording: a second request raises
        "output_gradients",       # grad(..., seed=) seeds a non-scalar target
    })  # no unconnected_zero / unconnected_absent: minitape has no option for unconnected sources
    # 3. Notions minitape does not have at all: their cases are UNSUPPORTED without being tried.
    not_applicable: ClassVar[frozenset[str]] = frozenset({
        "variables", "trainable_flag", "watch_control", "watched_variables"})
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float64")
    ops: ClassVar[Mapping[str, Callable[..., Any]]] = LazyOps(build_ops)

    def version(self) -> str:
        from docs import minitape

        return minitape.__version__

    # 4. Run the program on one recording and answer its requests in order.
    def execute(self, program: Program, ctx: RunContext) -> list[Answer]:
        if program.persistent:  # asked for a recording that answers several requests: minitape has none
            raise Unsupported("minitape frees its recording at each grad(); it has no persistent recording")
        if not program.watch_accessed:
            raise Unsupported("minitape has no automatic watching to switch off")
        named, failure = self.record(program)
        answers: list[Answer] = []
        for request in program.requests:
            try:
                if failure is not None and not isinstance(request, Probe):
                    raise failure  # the forward pass raised: that is every gradient request's outcome
                answers.append(self.answer(program, named, request, ctx))
            except Unsupported:
                raise
            except Exception as exc:  # the library's own error is the observed outcome
                answers.append(self.raised(exc))
        return answers

    def record(self, program: Program) -> tuple[dict[str, Any], BaseException | None]:
        """Inputs by role, then the body once: every named value (inputs, marks, outputs)."""
        from docs import minitape as mt

        view = OpsView(self.name, self.ops)
        named: dict[str, Any] = {}
        try:
            for name, inp in program.inputs.items():
                # variable, watched and outside inputs are recorded; constant and frozen ones are not
                tensor = mt.Tensor(program.arrays[name], requires_grad=inp.role in ("variable", "watched", "outside"))
                named[name] = inp.prelude(view, tensor) if inp.prelude is not None else tensor
            if program.body is not None and any(not isinstance(r, Probe) for r in program.requests):
                named.update(outputs(program.body(view, **named), view.marks))
        except Unsupported:
            raise
        except Exception as exc:
            return named, exc
        return named, None

    def answer(self, program: Program, named: Mapping[str, Any], r: Request, ctx: RunContext) -> Answer:
        from docs import minitape as mt

        if isinstance(r, Probe):
            return self.probe(r, ctx)
        if isinstance(r, WatchedVariables):
            raise Unsupported("minitape keeps no list of what it recorded")
        if not isinstance(r, Grad):
            raise Unsupported(f"minitape has no {type(r).__name__} (it has reverse-mode gradients only)")
        if r.unconnected != "default":  # never imitate an option the library lacks: that would be a PASS it has not earned
            raise Unsupported(f"minitape has no option that asks for {r.unconnected} for unconnected sources")
        target = resolve_target(named, r.target, program.case_id)
        names = source_names(r.wrt)
        seed = None if r.output_grad is None else np.asarray(r.output_grad, dtype=target.dtype)
        # one grad() call for all the request's sources: on a single-use recording that is one request
        grads = mt.grad(target, [resolve_target(named, n, program.case_id) for n in names], seed)
        by_name = dict(zip(names, grads))
        return structured(r.wrt, lambda n: self.outcome(by_name[n]))

    def outcome(self, native: np.ndarray | None) -> Outcome:
        return Absent() if native is None else Value(np.asarray(native))

    def classify(self, exc: BaseException) -> ErrorKind:
        """minitape's errors in gradspec's taxonomy."""
        text = str(exc)
        if isinstance(exc, RuntimeError) and "freed" in text:
            return ErrorKind.TapeExhausted
        if isinstance(exc, ValueError) and "non-scalar" in text:
            return ErrorKind.NonScalarTarget
        if isinstance(exc, TypeError) and "floating-point" in text:
            return ErrorKind.NotDifferentiableDType
        return ErrorKind.Unclassified

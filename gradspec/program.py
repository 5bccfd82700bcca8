"""A case made concrete for one item: inputs as NumPy arrays in the item's
dtype, ready for an adapter to turn into its own tensors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .inputs import Input
from .outcomes import Unsupported
from .requests import Request


@dataclass(frozen=True)
class RunContext:
    """Where and how an item runs.  ``stats`` is where a compiled mode counts
    what its compiler did for this item (compilations, graph breaks); the
    record keeps it."""

    dtype: str
    device: str = "cpu"
    seed: int = 0
    mode: str = "eager"
    stats: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Program:
    """What an adapter executes: ``body(ops, **inputs)`` returns a tensor
    (named ``y``) or a dict of named tensors; ``ops.mark(name, t)`` names an
    intermediate so that requests can target it."""

    case_id: str
    body: Callable[..., Any] | None
    inputs: Mapping[str, Input]
    arrays: Mapping[str, np.ndarray]
    requests: tuple[Request, ...]
    persistent: bool
    watch_accessed: bool

    @classmethod
    def for_case(cls, case: Any, dtype: str) -> "Program":
        arrays = {name: inp.array(dtype) for name, inp in case.inputs.items()}
        return cls(case.id, case.body, case.inputs, arrays, case.requests, case.persistent,
                   case.watch_accessed)


class OpsView:
    """The neutral op namespace a case body sees.  A name the adapter does not
    provide raises Unsupported naming the op, so the case is UNSUPPORTED."""

    def __init__(self, adapter_name: str, ops: Mapping[str, Callable[..., Any]],
                 overrides: Mapping[str, Any] | None = None) -> None:
        self._adapter_name = adapter_name
        self._ops = ops
        self._overrides = dict(overrides or {})
        self.marks: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._ops[name]
        except KeyError:
            raise Unsupported(f"op '{name}' is not provided by adapter '{self._adapter_name}'") from None

    def mark(self, name: str, tensor: Any) -> Any:
        """Name an intermediate.  Functional adapters substitute it when they
        differentiate with respect to it."""
        tensor = self._overrides.get(name, tensor)
        self.marks[name] = tensor
        return tensor


def outputs(result: Any, marks: Mapping[str, Any]) -> dict[str, Any]:
    """All named values of one evaluation: marked intermediates and outputs."""
    named = dict(marks)
    if isinstance(result, Mapping):
        named.update(result)
    else:
        named["y"] = result
    return named


def resolve_target(named: Mapping[str, Any], target: str, case_id: str) -> Any:
    try:
        return named[target]
    except KeyError:
        raise LookupError(f"case '{case_id}': target '{target}' is neither an output nor a marked "
                          f"intermediate (have {sorted(named)})") from None

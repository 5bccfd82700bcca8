"""What a case asks of a recorded computation.  Requests run in order on one
recording, so a second request on a non-persistent recording is meaningful."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Union

Sources = Union[str, tuple[str, ...], Mapping[str, str]]


@dataclass(frozen=True)
class Grad:
    """Gradient of ``target`` with respect to ``wrt``: one name, a tuple (answered
    as a list in the same order) or a mapping key->name (answered as a dict).
    ``output_grad`` seeds a non-scalar target; ``unconnected="zero"`` asks for
    zeros and ``unconnected="absent"`` for None instead of the framework's default
    for unconnected sources."""

    wrt: Sources
    target: str = "y"
    output_grad: Any = None
    unconnected: Literal["default", "zero", "absent"] = "default"


@dataclass(frozen=True)
class Derivatives:
    """Derivatives of order 1..``order`` by nesting: order k is the gradient of
    the sum of order k-1.  Answered as a list of ``order`` outcomes."""

    wrt: str
    order: int
    target: str = "y"


@dataclass(frozen=True)
class Jacobian:
    """Full Jacobian, shape ``target.shape + wrt.shape``."""

    wrt: str
    target: str = "y"
    mode: Literal["reverse", "forward"] = "reverse"


@dataclass(frozen=True)
class Hessian:
    """Hessian of a scalar target, shape ``wrt.shape + wrt.shape``."""

    wrt: str
    target: str = "y"


@dataclass(frozen=True)
class Jvp:
    """Forward mode: the Jacobian applied to ``tangent``."""

    wrt: str
    tangent: Any
    target: str = "y"


@dataclass(frozen=True)
class Vjp:
    """Reverse mode: ``cotangent`` applied to the Jacobian."""

    wrt: str
    cotangent: Any
    target: str = "y"


@dataclass(frozen=True)
class Hvp:
    """Hessian-vector product by forward-over-reverse."""

    wrt: str
    tangent: Any
    target: str = "y"


@dataclass(frozen=True)
class BatchedGrad:
    """Per-example gradients: the body is mapped over axis 0 of ``wrt`` (vmap)."""

    wrt: str
    target: str = "y"


@dataclass(frozen=True)
class WatchedVariables:
    """The names of the inputs the recording watched, in any order."""


@dataclass(frozen=True)
class Probe:
    """An API behaviour outside the recording model (variable construction,
    default dtypes, a framework's own layer, a training loop).  The adapter
    answers through its ``probe_<name>`` method; a missing one is UNSUPPORTED."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


Request = Union[Grad, Derivatives, Jacobian, Hessian, Jvp, Vjp, Hvp, BatchedGrad, WatchedVariables, Probe]
REQUEST_TYPES = (Grad, Derivatives, Jacobian, Hessian, Jvp, Vjp, Hvp, BatchedGrad, WatchedVariables, Probe)

# The capability each request needs beyond the core (plain gradients).
REQUEST_CAPABILITY: dict[type, str] = {
    Derivatives: "higher_order",
    Jacobian: "jacobian",
    Hessian: "hessian",
    Jvp: "forward_mode",
    Hvp: "forward_mode",
    BatchedGrad: "vmap",
    WatchedVariables: "watched_variables",
}


def source_names(wrt: Sources) -> list[str]:
    """The input or intermediate names a request differentiates with respect to."""
    if isinstance(wrt, str):
        return [wrt]
    if isinstance(wrt, Mapping):
        return list(wrt.values())
    return list(wrt)

"""The TensorFlow adapter's compiled mode: one ``tf.function`` per item.

The adapter's own answering code runs once, as the trace of a ``tf.function``:
tapes, gradients, Jacobians and forward accumulators are all recorded into one
graph, and the graph is then executed once.  While tracing, every native result
is symbolic, so ``Staged.hold`` stands a numbered placeholder in the answer for
it and collects the tensor as a graph output; after execution ``resolve`` puts
each computed value in its place.  Nothing runs eagerly in its stead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from gradspec.outcomes import Answer, Outcome

GRAPH_GUIDE = "https://www.tensorflow.org/guide/function#autograph_transformations"


@dataclass(frozen=True)
class Pending:
    """The place in an answer of the graph output with this index."""

    index: int


@dataclass
class Staged:
    """The graph outputs collected while one item's tf.function traces."""

    tensors: list[Any] = field(default_factory=list)

    def hold(self, native: Any) -> Pending:
        self.tensors.append(native)
        return Pending(len(self.tensors) - 1)


def resolve(answer: Any, value: Callable[[Pending], Outcome]) -> Answer:
    """The answer with each placeholder replaced by ``value(placeholder)``."""
    if isinstance(answer, Pending):
        return value(answer)
    if isinstance(answer, list):
        return [resolve(a, value) for a in answer]
    if isinstance(answer, dict):
        return {k: resolve(a, value) for k, a in answer.items()}
    return answer


def holds_pending(answer: Any) -> bool:
    """Whether any part of the answer waits for the graph's execution."""
    if isinstance(answer, Pending):
        return True
    if isinstance(answer, list):
        return any(holds_pending(a) for a in answer)
    if isinstance(answer, dict):
        return any(holds_pending(a) for a in answer.values())
    return False

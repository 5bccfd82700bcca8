"""Deliberately broken versions of real adapters.  The suite must report each
as FAIL on the cases it breaks (tests/test_broken_adapters.py).  They keep the
real adapter's expectation file: a broken adapter still claims its
framework's documented behaviour."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.tensorflow_adapter import TensorFlowAdapter
from adapters.torch_adapter import TorchAdapter
from gradspec.outcomes import Absent, Answer, ErrorKind, Raised, Value, Zeros


def _map(answer: Answer, leaf: Any) -> Answer:
    if isinstance(answer, list):
        return [_map(a, leaf) for a in answer]
    if isinstance(answer, dict):
        return {k: _map(a, leaf) for k, a in answer.items()}
    return leaf(answer)


class ScaledTorch(TorchAdapter):
    """Every gradient value multiplied by 1.01."""

    name: ClassVar[str] = "scaled_torch"

    @classmethod
    def expectations_path(cls) -> Path:
        return TorchAdapter.expectations_path()

    def execute(self, program: Any, ctx: Any) -> list[Answer]:
        def scale(o: Answer) -> Answer:
            return Value(o.array * np.asarray(1.01, dtype=o.array.dtype)) if isinstance(o, Value) else o
        return [_map(a, scale) for a in super().execute(program, ctx)]


class ZerosForAbsentTensorFlow(TensorFlowAdapter):
    """Answers Zeros where TensorFlow documents None."""

    name: ClassVar[str] = "zeros_tensorflow"

    @classmethod
    def expectations_path(cls) -> Path:
        return TensorFlowAdapter.expectations_path()

    def execute(self, program: Any, ctx: Any) -> list[Answer]:
        return [_map(a, lambda o: Zeros() if isinstance(o, Absent) else o) for a in super().execute(program, ctx)]


class ReusableTapeTensorFlow(TensorFlowAdapter):
    """Never refuses a second gradient: the tape is always persistent."""

    name: ClassVar[str] = "reusable_tensorflow"

    @classmethod
    def expectations_path(cls) -> Path:
        return TensorFlowAdapter.expectations_path()

    def execute(self, program: Any, ctx: Any) -> list[Answer]:
        answers = super().execute(program, ctx)
        if any(isinstance(a, Raised) and a.kind is ErrorKind.TapeExhausted for a in answers):
            from dataclasses import replace

            answers = super().execute(replace(program, persistent=True), ctx)
        return answers

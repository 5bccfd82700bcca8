"""Typed outcomes of a gradient request and the canonical error taxonomy.

An outcome is what a framework *did*: a value, nothing (``None``), zeros, a
sparse gradient, or an error.  They are kept apart, never normalised into one
another, because the differences between frameworks live exactly there.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Union

import numpy as np


class ErrorKind(str, enum.Enum):
    """Canonical error kinds every adapter maps its native exceptions to."""

    TapeExhausted = "TapeExhausted"
    NonScalarTarget = "NonScalarTarget"
    NotDifferentiableDType = "NotDifferentiableDType"
    UnconnectedSource = "UnconnectedSource"
    NoGradientDefined = "NoGradientDefined"
    InPlaceModified = "InPlaceModified"
    ShapeMismatch = "ShapeMismatch"
    DTypeMismatch = "DTypeMismatch"
    Unclassified = "Unclassified"


@dataclass(frozen=True)
class Value:
    """A dense array result; dtype and shape are part of the outcome."""

    array: np.ndarray

    @property
    def label(self) -> str:
        return "Value"


@dataclass(frozen=True)
class Absent:
    """The framework answered ``None`` (e.g. TensorFlow for an unwatched source)."""

    label: str = "Absent"


@dataclass(frozen=True)
class Zeros:
    """A zero gradient.  Frameworks materialise it densely; a ``Value`` that is
    exactly zero everywhere is accepted where ``Zeros`` is expected."""

    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    label: str = "Zeros"


@dataclass(frozen=True)
class Sparse:
    """A gradient kept as rows of a larger tensor (TensorFlow's IndexedSlices)."""

    indices: np.ndarray
    values: np.ndarray
    dense_shape: tuple[int, ...]
    label: str = "Sparse"

    def densify(self) -> np.ndarray:
        """Scatter-add the rows; repeated indices accumulate, as they must."""
        dense = np.zeros(self.dense_shape, dtype=self.values.dtype)
        np.add.at(dense, np.asarray(self.indices, dtype=np.int64), self.values)
        return dense


@dataclass(frozen=True)
class Raised:
    """The request raised.  ``kind`` is canonical; the native type and message
    are kept for the report."""

    kind: ErrorKind
    native_type: str = ""
    message: str = ""
    traceback: str = ""  # where the framework raised, bounded in size (gradspec.adapter.Adapter.raised)
    label: str = "Raised"


@dataclass(frozen=True)
class Info:
    """A non-array fact answered by an API probe: a dtype name, a count, a list
    of variable names."""

    value: Any
    label: str = "Info"


Outcome = Union[Value, Absent, Zeros, Sparse, Raised, Info]
# A request answers one outcome, or a list/dict of them mirroring its sources.
Answer = Union[Outcome, list, dict]


class Unsupported(Exception):
    """Raised by an adapter (or the ops view) for a capability or op it lacks."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ArrayCodec:
    """JSON encoding of arrays that keeps dtype, shape, NaN, inf and -0.0."""

    @staticmethod
    def encode(array: np.ndarray) -> dict[str, Any]:
        arr = np.asarray(array)
        if arr.dtype.kind == "c":
            data: list[Any] = [[scalar_to_json(z.real), scalar_to_json(z.imag)] for z in arr.reshape(-1)]
        elif arr.dtype.kind in "fiub":
            data = [scalar_to_json(v) for v in arr.reshape(-1).tolist()]
        else:
            data = [str(v) for v in arr.reshape(-1).tolist()]
        return {"dtype": _dtype_name(arr.dtype), "shape": list(arr.shape), "data": data}

    @staticmethod
    def decode(obj: dict[str, Any]) -> np.ndarray:
        dtype = _np_dtype(obj["dtype"])
        shape = tuple(obj["shape"])
        flat = obj["data"]
        if np.dtype(dtype).kind == "c":
            values = [complex(scalar_from_json(re), scalar_from_json(im)) for re, im in flat]
        else:
            values = [scalar_from_json(v) if isinstance(v, str) else v for v in flat]
        return np.array(values, dtype=dtype).reshape(shape)


_SPECIAL = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "-0.0": -0.0}


def scalar_to_json(v: Any) -> Any:
    """A JSON scalar for one number: NaN, infinities and -0.0 become strings."""
    if isinstance(v, bool) or isinstance(v, int):
        return v
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if v == 0.0 and np.signbit(v):
        return "-0.0"
    return v


def scalar_from_json(v: Any) -> Any:
    """The inverse of scalar_to_json."""
    return _SPECIAL[v] if isinstance(v, str) else v


def _dtype_name(dtype: np.dtype) -> str:
    return "bfloat16" if dtype.name == "bfloat16" else np.dtype(dtype).name


def _np_dtype(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes  # shipped with jax and tensorflow; only needed for bfloat16

        return ml_dtypes.bfloat16
    return np.dtype(name)


def encode_outcome(answer: Answer) -> Any:
    """JSON form of an outcome (or a list/dict of them) for the run record."""
    if isinstance(answer, list):
        return {"outcome": "List", "items": [encode_outcome(a) for a in answer]}
    if isinstance(answer, dict):
        return {"outcome": "Dict", "items": {k: encode_outcome(v) for k, v in answer.items()}}
    if isinstance(answer, Value):
        return {"outcome": "Value", "array": ArrayCodec.encode(answer.array)}
    if isinstance(answer, Zeros):
        return {"outcome": "Zeros", "shape": list(answer.shape) if answer.shape is not None else None,
                "dtype": answer.dtype}
    if isinstance(answer, Sparse):
        return {"outcome": "Sparse", "indices": ArrayCodec.encode(answer.indices),
                "values": ArrayCodec.encode(answer.values), "dense_shape": list(answer.dense_shape)}
    if isinstance(answer, Raised):
        encoded = {"outcome": "Raised", "kind": answer.kind.value, "native_type": answer.native_type,
                   "message": answer.message}
        return encoded | ({"traceback": answer.traceback} if answer.traceback else {})
    if isinstance(answer, Info):
        return {"outcome": "Info", "value": answer.value}
    if isinstance(answer, Absent):
        return {"outcome": "Absent"}
    raise TypeError(f"not an outcome: {answer!r}")


def describe(answer: Answer) -> str:
    """One short human line for an outcome, used in failure messages and reports."""
    if isinstance(answer, list):
        return "[" + ", ".join(describe(a) for a in answer) + "]"
    if isinstance(answer, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in answer.items()) + "}"
    if isinstance(answer, Value):
        arr = answer.array
        body = np.array2string(np.asarray(arr), precision=6, threshold=12, separator=", ")
        return f"Value({body}, dtype={_dtype_name(arr.dtype)}, shape={tuple(arr.shape)})"
    if isinstance(answer, Sparse):
        return f"Sparse(indices={answer.indices.tolist()}, dense_shape={answer.dense_shape})"
    if isinstance(answer, Raised):
        return f"Raised({answer.kind.value}: {answer.native_type})"
    if isinstance(answer, Info):
        return f"Info({answer.value!r})"
    if isinstance(answer, Zeros):
        return "Zeros"
    return "Absent"


__all__ = [
    "Absent", "Answer", "ArrayCodec", "ErrorKind", "Info", "Outcome", "Raised", "Sparse",
    "Unsupported", "Value", "Zeros", "describe", "encode_outcome", "scalar_from_json", "scalar_to_json",
]

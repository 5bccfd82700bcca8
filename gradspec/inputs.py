"""How a case's inputs enter a computation: as a trainable variable, a frozen
variable, a constant (watched or not), or a value computed before recording."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

import numpy as np

Role = Literal["variable", "frozen", "constant", "watched", "outside"]
ROLES: tuple[str, ...] = ("variable", "frozen", "constant", "watched", "outside")


@dataclass(frozen=True)
class Input:
    """One named input.  ``dtype=None`` means "the dtype of the test item" for
    floating values; an explicit dtype (``"int32"``) is kept as given."""

    value: Any
    role: Role = "variable"
    dtype: str | None = None
    prelude: Callable[..., Any] | None = None  # role "outside": prelude(ops, base) before recording

    def array(self, item_dtype: str) -> np.ndarray:
        """The input as a NumPy array in the dtype this item runs at."""
        arr = np.asarray(self.value)
        if self.dtype is not None:
            return arr.astype(_np(self.dtype))
        if arr.dtype.kind in "fc" or (arr.dtype.kind in "iu" and _is_float(item_dtype)):
            return arr.astype(_np(item_dtype))
        return arr

    def numpy_dtype(self, item_dtype: str) -> str:
        return self.dtype or item_dtype


def _is_float(name: str) -> bool:
    return name.startswith(("float", "bfloat", "complex"))


def _np(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


def var(value: Any, dtype: str | None = None) -> Input:
    """A trainable variable (tf.Variable, a torch leaf with requires_grad, a JAX argument)."""
    return Input(value, "variable", dtype)


def frozen(value: Any, dtype: str | None = None) -> Input:
    """A variable marked non-trainable."""
    return Input(value, "frozen", dtype)


def const(value: Any, dtype: str | None = None) -> Input:
    """A constant that nothing watches."""
    return Input(value, "constant", dtype)


def watched(value: Any, dtype: str | None = None) -> Input:
    """A constant watched explicitly (tape.watch, requires_grad_)."""
    return Input(value, "watched", dtype)


def outside(base: Any, prelude: Callable[..., Any], dtype: str | None = None) -> Input:
    """``prelude(ops, Variable(base))`` computed before the recording starts."""
    return Input(base, "outside", dtype, prelude)

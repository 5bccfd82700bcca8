"""Execution modes: how an adapter runs its framework for one item.

``eager`` runs each operation as it is called.  ``compiled`` runs the whole
differentiated computation through the framework's compiler (``jax.jit``,
``tf.function``, ``torch.compile``); a variant names its backend after a dash
(``compiled-inductor``).  A mode is part of an item's identity, beside the
device and the dtype: the same case may answer differently in each, and a
compiler is an implementation under test in its own right.
"""
from __future__ import annotations

import re

EAGER = "eager"
COMPILED = "compiled"
MODE_PATTERN = re.compile(r"eager|compiled(-[a-z0-9_]+)?")


def is_mode(name: str) -> bool:
    return isinstance(name, str) and bool(MODE_PATTERN.fullmatch(name))


def token(mode: str) -> str:
    """The mode's part of a node id: none for eager (today's ids stay), ``compile``
    for compiled, the backend for a variant (``compiled-inductor`` -> ``inductor``)."""
    if mode == EAGER:
        return ""
    if mode == COMPILED:
        return "compile"
    return mode.removeprefix(COMPILED + "-")


def item_params(adapter: str, mode: str, device: str, dtype: str) -> str:
    """The bracketed part of a node id: ``torch-cpu-float32``, ``torch-compile-cpu-float32``."""
    return "-".join(p for p in (adapter, token(mode), device, dtype) if p)


def parse_item_params(params: str) -> tuple[str, str, str, str]:
    """Inverse of item_params: (adapter, mode, device, dtype)."""
    parts = params.split("-")
    if len(parts) == 3:
        return parts[0], EAGER, parts[1], parts[2]
    if len(parts) != 4:
        raise ValueError(f"not an item id: {params!r}")
    adapter, tok, device, dtype = parts
    mode = COMPILED if tok == "compile" else f"{COMPILED}-{tok}"
    return adapter, mode, device, dtype

"""Finds adapters: the built-ins in adapters/, installed packages through the
``gradspec.adapters`` entry-point group, and explicit ``module:Class`` specs
(``--gradspec-adapter`` or the GRADSPEC_ADAPTER environment variable,
comma-separated).  Importing an adapter module must not import its framework."""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
from dataclasses import dataclass

from .adapter import API_VERSION, SUPPORTED_API_VERSIONS, Adapter
from .modes import EAGER, is_mode

BUILTINS: dict[str, str] = {
    "numpy": "adapters.numpy_oracle:NumpyOracleAdapter",
    "tensorflow": "adapters.tensorflow_adapter:TensorFlowAdapter",
    "torch": "adapters.torch_adapter:TorchAdapter",
    "jax": "adapters.jax_adapter:JaxAdapter",
    "autograd": "adapters.autograd_adapter:AutogradAdapter",
    "jsonl": "adapters.jsonl_adapter:JsonlAdapter",
}
ENTRY_POINT_GROUP = "gradspec.adapters"
ENV_VAR = "GRADSPEC_ADAPTER"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")  # matched whole


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter to run, or the reason it could not be loaded."""

    name: str
    target: str
    origin: str                      # builtin | entry-point | explicit
    cls: type[Adapter] | None = None
    error: str | None = None


def load_spec(target: str, origin: str, fallback_name: str | None = None) -> AdapterSpec:
    """Import ``module:Class``; failures become an AdapterSpec carrying the error."""
    name = fallback_name or target.partition(":")[0].rsplit(".", 1)[-1].lower()
    try:
        module_name, _, class_name = target.partition(":")
        if not class_name:
            raise ValueError("expected 'module:Class'")
        cls = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise TypeError(f"{class_name} is not a gradspec.adapter.Adapter subclass")
        if getattr(cls, "api_version", None) not in SUPPORTED_API_VERSIONS:
            raise TypeError(f"{class_name} targets adapter API {cls.api_version}, this gradspec runs "
                            f"{list(SUPPORTED_API_VERSIONS)} (current {API_VERSION})")
        if not NAME_PATTERN.fullmatch(getattr(cls, "name", "") or ""):
            raise TypeError(f"{class_name}.name must match {NAME_PATTERN.pattern}")
        _check_modes(cls)
    except Exception as exc:
        return AdapterSpec(_safe(name), target, origin, None, f"adapter '{target}' failed to load: "
                                                              f"{type(exc).__name__}: {exc}")
    return AdapterSpec(cls.name, target, origin, cls)


def _check_modes(cls: type[Adapter]) -> None:
    """Modes are item identity: a bad name or a default the adapter lacks is a load error."""
    if cls.api_version < 2 and (set(cls.modes) != {EAGER} or tuple(cls.default_modes) != (EAGER,)):
        raise TypeError(f"{cls.__name__} declares modes but targets adapter API {cls.api_version}; modes need API 2")
    bad = [m for m in cls.modes if not is_mode(m)]
    if bad:
        raise TypeError(f"{cls.__name__}.modes: {bad} are not mode names (eager, compiled, compiled-<backend>)")
    if not cls.default_modes or set(cls.default_modes) - set(cls.modes):
        raise TypeError(f"{cls.__name__}.default_modes {list(cls.default_modes)} must be a non-empty subset of "
                        f"its modes {list(cls.modes)}")
    unknown = set(cls.mode_limits) - set(cls.modes)
    if unknown:
        raise TypeError(f"{cls.__name__}.mode_limits names modes it does not have: {sorted(unknown)}")


def _safe(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_]", "_", name.lower()).strip("_") or "adapter"
    return cleaned if cleaned[0].isalpha() else "a_" + cleaned


def discover(explicit: list[str], selected: list[str] | None) -> list[AdapterSpec]:
    """Every adapter of this run, in a stable order: built-ins, entry points, explicit."""
    specs = [load_spec(t, "builtin", n) for n, t in BUILTINS.items()]
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        specs.append(load_spec(ep.value, "entry-point", ep.name))
    env = [s for s in os.environ.get(ENV_VAR, "").split(",") if s.strip()]
    for target in dict.fromkeys(t.strip() for t in [*explicit, *env]):  # a flag repeating the variable is one adapter
        specs.append(load_spec(target, "explicit"))
    unique: dict[str, AdapterSpec] = {}
    for s in specs:
        first = unique.setdefault(s.name, s)
        if first is not s:  # never silently run another adapter than the one asked for
            raise LookupError(f"two adapters are named '{s.name}': {first.origin} {first.target} and "
                              f"{s.origin} {s.target}; give the {s.origin} one another name")
    if selected:
        unknown = [n for n in selected if n not in unique]
        if unknown:
            raise LookupError(f"--gradspec-adapters names unknown adapters {unknown}; known: {sorted(unique)}")
        return [unique[n] for n in selected]
    return list(unique.values())

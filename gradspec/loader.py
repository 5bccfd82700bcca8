"""Loads case modules from cases/.  Case files import gradspec only, so
loading them is cheap and needs no framework."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Iterable

from .case import Case, CaseError


def load_case_file(path: Path) -> list[Case]:
    """Every Case defined at module level (directly or in a list/tuple), in source order."""
    path = Path(path).resolve()
    module_name = "gradspec_cases." + "_".join(path.with_suffix("").parts[-2:])
    if module_name in sys.modules and getattr(sys.modules[module_name], "__file__", None) == str(path):
        module = sys.modules[module_name]
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise CaseError(str(path), "-", "(file)", "cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except CaseError:
            raise
        except Exception as exc:
            raise CaseError(str(path), "-", "(module)",
                            f"importing the case file failed: {type(exc).__name__}: {exc}") from exc
        sys.modules[module_name] = module
    found: list[Case] = []
    for value in vars(module).values():
        items = value if isinstance(value, (list, tuple)) else [value]
        found.extend(v for v in items if isinstance(v, Case) and v not in found)
    found.sort(key=lambda c: c.line)
    names: dict[str, str] = {}
    for c in found:
        if c.name in names:
            raise CaseError(str(path), c.id, "id", f"its last segment '{c.name}' is also the last segment of "
                                                   f"'{names[c.name]}' in the same file; item names must be unique")
        names[c.name] = c.id
    return found


def case_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*.py") if not f.name.startswith("_")))
        elif p.suffix == ".py":
            out.append(p)
    return out


def load_cases(paths: Iterable[Path]) -> list[Case]:
    """All cases under the given files or directories; ids must be unique."""
    seen: dict[str, Case] = {}
    for f in case_files(paths):
        for c in load_case_file(f):
            if c.id in seen:
                raise CaseError(c.file, c.id, "id", f"duplicate id, also defined in {seen[c.id].file}:{seen[c.id].line}")
            seen[c.id] = c
    return list(seen.values())

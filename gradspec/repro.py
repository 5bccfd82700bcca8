"""The one-line reproduction command of an item, safe to paste into a shell.

It carries what an item needs to be collected again: an out-of-tree adapter's
``--gradspec-adapter`` target and the ``PYTHONPATH`` that imports it, the
environment variables the adapter declares it reads, the item's device and
mode; and ``--gradspec-no-report``, so that pasting it does not overwrite the
checkout's reports/.  Every part that comes from input is shlex-quoted: a
device name or an adapter target is text from the command line.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import Mapping

from .discovery import AdapterSpec

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def import_root(target: str) -> str | None:
    """The directory from which ``module:Class`` is imported, or None where it is unknown."""
    module_name = target.partition(":")[0]
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    root = Path(file).resolve().parent
    levels = module_name.count(".") + (Path(file).name == "__init__.py")
    for _ in range(levels):
        root = root.parent
    return str(root)


def command(nodeid: str, spec: AdapterSpec, device: str, mode: str,
            environ: Mapping[str, str] | None = None) -> str:
    """``[VAR=value ...] python -m pytest NODEID -n 0 ...``, every part quoted."""
    environ = os.environ if environ is None else environ
    env: list[tuple[str, str]] = []
    args = ["python", "-m", "pytest", nodeid, "-n", "0", "--gradspec-adapters", spec.name,
            "--gradspec-devices", device, "--gradspec-modes", mode, "--gradspec-no-report"]
    if spec.origin == "explicit":
        args[4:4] = ["--gradspec-adapter", spec.target]
        root = import_root(spec.target)
        paths = [p for p in [root, *environ.get("PYTHONPATH", "").split(os.pathsep)] if p]
        if paths:
            env.append(("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths))))
    for name in getattr(spec.cls, "environment", ()):
        if ENV_NAME.fullmatch(name) and name in environ:
            env.append((name, environ[name]))
    return " ".join([f"{k}={shlex.quote(v)}" for k, v in env] + [shlex.quote(a) for a in args])

"""The engine's third-party imports are dependencies of the package: a release environment
that installs one framework alone (tox -e torch-2.14) has everything the engine needs."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution name, where they differ
DISTRIBUTION = {"yaml": "pyyaml"}


def engine_imports() -> set[str]:
    """Top-level module names every gradspec/*.py imports, lazily or not (relative imports excluded)."""
    names = set()
    for path in (ROOT / "gradspec").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"gradspec", "__future__"}


def test_every_third_party_import_of_the_engine_is_a_declared_dependency():
    declared = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("-", "_")
                for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    imported = {DISTRIBUTION.get(n, n).lower().replace("-", "_") for n in engine_imports()}
    assert imported and imported - declared == set()

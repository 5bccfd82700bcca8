"""The shipped expectation-file schema is the one the loader's types generate,
and every expectation file in the repository satisfies it."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from gradspec.expectation_file import SCHEMA_PATH, json_schema

REPO = Path(__file__).resolve().parents[1]
FILES = sorted([*REPO.glob("adapters/*.expect.toml"), *REPO.glob("docs/*.expect.toml")])


def test_the_shipped_schema_is_regenerated() -> None:
    assert json.loads(SCHEMA_PATH.read_text()) == json_schema(), \
        "regenerate it: python -m gradspec schema --expectations -o gradspec/expectation-file.schema.json"
    Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_expectation_file_satisfies_the_schema(path: Path) -> None:
    errors = list(Draft202012Validator(json_schema()).iter_errors(tomllib.loads(path.read_text())))
    assert not errors, [e.message for e in errors]


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    validator = Draft202012Validator(json_schema())
    for bad in ({"tape.x": {"choice": "zeros", "basis": "guessed"}},
                {"tape.x": {"dtypes": ["float8"], "tolerance": {"float32": [1e-4, 1e-6]}}},
                {"tape.x": {"known_bug": {"link": "https://x.example/1"}}},
                {"tape.x": {"choise": "zeros"}}):
        assert list(validator.iter_errors(bad)), bad

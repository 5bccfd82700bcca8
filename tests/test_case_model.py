"""A malformed case fails at load with one message naming file, id and field."""
from __future__ import annotations

from pathlib import Path

import pytest

from gradspec.case import CaseError, case
from gradspec.expect import absent, one_of, value
from gradspec.expectation_file import ExpectationFileError, load
from gradspec.inputs import var
from gradspec.loader import load_cases
from gradspec.requests import Grad

GOOD = dict(id="tape.square", statement="d/dx x^2 at 3 is 6", doc="https://example.org/guide#grad",
            tags=["tape"], inputs={"x": var(3.0)}, body=lambda ops, x: x * x, requests=Grad("x"),
            expect=value(6.0))


def test_a_good_case_loads_with_its_derived_kind():
    c = case(**GOOD)
    assert c.kind.value == "required" and c.name == "square" and c.area == "tape"
    assert c.file.endswith("test_case_model.py") and c.line > 0


@pytest.mark.parametrize("field, bad, words", [
    ("id", "Tape Square", "dotted lower-case"),
    ("statement", "two\nlines", "one non-empty line"),
    ("doc", "https://example.org/guide", "#fragment"),
    ("tags", [], "non-empty"),
    ("requires", ["telepathy"], "unknown capabilities"),
    ("dtypes", ["float8"], "subset"),
    ("expect", (value(1.0), value(2.0)), "2 expectations for 1 requests"),
    ("kind", "implementation-defined", "one_of"),
])
def test_each_bad_field_is_named(field, bad, words):
    with pytest.raises(CaseError) as err:
        case(**{**GOOD, field: bad})
    text = str(err.value)
    shown_id = bad if field == "id" else "tape.square"
    assert "test_case_model.py" in text and f"'{shown_id}'" in text and f"field '{field}'" in text
    assert words in text


def test_slots_must_be_distinct():
    with pytest.raises(CaseError, match="distinct"):
        case(**{**GOOD, "requests": (Grad("x"), Grad("x")),
                "expect": (one_of(a=absent(), b=value(6.0)), one_of(a=absent(), b=value(6.0)))})


def test_duplicate_ids_across_files_name_both(tmp_path: Path):
    src = ("from gradspec.case import case\nfrom gradspec.expect import value\nfrom gradspec.inputs import var\n"
           "from gradspec.requests import Grad\n"
           "c = case(id='tape.same', statement='s', doc='https://e.org/a#b', tags=['t'], inputs={'x': var(1.0)},"
           " body=lambda ops, x: x, requests=Grad('x'), expect=value(1.0))\n")
    (tmp_path / "a.py").write_text(src)
    (tmp_path / "b.py").write_text(src)
    with pytest.raises(CaseError) as err:
        load_cases([tmp_path])
    assert "duplicate id" in str(err.value) and "a.py" in str(err.value) and "b.py" in str(err.value)


def test_a_case_file_that_fails_to_import_is_named(tmp_path: Path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(CaseError, match=r"broken.py.*RuntimeError: boom"):
        load_cases([tmp_path])


def test_expectation_files_are_validated(tmp_path: Path):
    path = tmp_path / "x.expect.toml"
    path.write_text('["tape.unconnected"]\nchoice = "absent"\ndoc = "https://e.org/no-anchor"\n')
    with pytest.raises(ExpectationFileError, match=r"case 'tape.unconnected': field 'doc'"):
        load(path)
    path.write_text('["tape.unconnected"]\nchoice = "absent"\ndoc = "https://e.org/a#b"\nversions = "=>2"\n')
    with pytest.raises(ExpectationFileError, match="field 'versions'"):
        load(path)


def test_expectation_entries_follow_version_ranges(tmp_path: Path):
    path = tmp_path / "x.expect.toml"
    path.write_text('[["tape.u"]]\nchoice = "absent"\ndoc = "https://e.org/a#b"\nversions = "<2"\n'
                    '[["tape.u"]]\nchoice = "zeros"\ndoc = "https://e.org/a#c"\nversions = ">=2"\n'
                    '["tape.gone"]\nnote = "no such case"\n')
    data = load(path)
    assert data.for_case("tape.u", "1.9").choice_for("choice") == "absent"
    assert data.for_case("tape.u", "2.13.0").choice_for("choice") == "zeros"
    assert data.unknown_ids({"tape.u"}) == ["tape.gone"]


def test_expectation_entries_can_be_scoped_to_dtypes(tmp_path: Path):
    path = tmp_path / "x.expect.toml"
    path.write_text('[["ops.mean"]]\ndtypes = ["float32"]\nknown_bug = "https://e.org/issues/1"\n'
                    '[["ops.mean"]]\nchoice = "x"\ndoc = "https://e.org/a#b"\n')
    data = load(path)
    assert data.for_case("ops.mean", "1.0", "float32").known_bug
    assert data.for_case("ops.mean", "1.0", "float64").choice_for("choice") == "x"
    path.write_text('["ops.mean"]\ndtypes = ["float8"]\n')
    with pytest.raises(ExpectationFileError, match="field 'dtypes'"):
        load(path)

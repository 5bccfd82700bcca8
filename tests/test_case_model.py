"""A malformed case fails at load with one message naming file, id and field."""
from __future__ import annotations

import re

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
    ("dtypes", ["float8"], "drawn from"),
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


DOC = 'basis = "documented"\ndoc = "https://e.org/a#b"\nquote = "It answers None."\n'


@pytest.mark.parametrize("entry, field", [
    ('choice = "absent"\nbasis = "documented"\ndoc = "https://e.org/no-anchor"\nquote = "q"\n', "doc"),
    ('choice = "absent"\nbasis = "documented"\ndoc = "https://e.org/a#b"\n', "quote"),
    ('choice = "absent"\n', "basis"),
    ('choice = "absent"\nbasis = "guessed"\n', "basis"),
    ('choice = "absent"\nbasis = "observed"\ndoc = "https://e.org/a#b"\n', "doc"),
    ('choice = "absent"\nbasis = "source"\ndoc = "https://github.com/o/r/blob/main/f.py#L3"\n', "doc"),
    ('choice = "absent"\nbasis = "source"\ndoc = "https://github.com/o/r/blob/v1.0/f.py"\n', "doc"),
    ('choice = "absent"\n' + DOC + 'versions = "=>2"\n', "versions"),
    ('choice = "absent"\n' + DOC + 'tags = ["x"]\n', "tags"),
    ('dtypes = ["float8"]\nknown_bug = { link = "https://e.org/1", fail_kind = "wrong_dtype" }\n', "dtypes"),
    ('known_bug = "https://e.org/issues/1"\n', "known_bug"),
    ('known_bug = { link = "https://e.org/1" }\n', "known_bug"),
    ('known_bug = { link = "https://e.org/1", fail_kind = "broken" }\n', "known_bug"),
    ('known_bug = { link = "https://e.org/1", fail_kind = "wrong_dtype", message = "(" }\n', "known_bug"),
    ('note = "nothing declared"\n', "(entry)"),
])
def test_expectation_files_are_validated_naming_file_case_and_field(tmp_path: Path, entry: str, field: str):
    path = tmp_path / "x.expect.toml"
    path.write_text('["tape.unconnected"]\n' + entry)
    with pytest.raises(ExpectationFileError, match=rf"x\.expect\.toml: case 'tape.unconnected': field '{re.escape(field)}'"):
        load(path)


def test_each_basis_carries_what_it_rests_on(tmp_path: Path):
    path = tmp_path / "x.expect.toml"
    path.write_text('["a.doc"]\nchoice = "x"\n' + DOC
                    + '["a.src"]\nchoice = "x"\nbasis = "source"\n'
                      'doc = "https://github.com/o/r/blob/v2.1.0/src/f.py#L10-L12"\n'
                    + '["a.obs"]\nchoice = "x"\nbasis = "observed"\nnote = "seen on 1.0"\n')
    data = load(path)
    assert data.bases() == {"documented": 1, "source": 1, "observed": 1}


def test_expectation_entries_follow_version_ranges(tmp_path: Path):
    path = tmp_path / "x.expect.toml"
    path.write_text('[["tape.u"]]\nchoice = "absent"\n' + DOC + 'versions = "<2"\n'
                    '[["tape.u"]]\nchoice = "zeros"\nbasis = "observed"\nversions = ">=2"\n'
                    '["tape.gone"]\nchoice = "x"\nbasis = "observed"\n')
    data = load(path)
    assert data.for_case("tape.u", "1.9").choice_for("choice") == "absent"
    assert data.for_case("tape.u", "2.13.0").choice_for("choice") == "zeros"
    assert data.unknown_ids({"tape.u"}) == ["tape.gone"]


def test_entries_are_scoped_to_dtypes_and_modes_and_combine(tmp_path: Path):
    path = tmp_path / "x.expect.toml"
    path.write_text('[["ops.mean"]]\ndtypes = ["float32"]\n'
                    'known_bug = { link = "https://e.org/issues/1", fail_kind = "wrong_dtype" }\n'
                    '[["ops.mean"]]\nmodes = ["compiled"]\nchoice = "y"\nbasis = "observed"\n'
                    '[["ops.mean"]]\nchoice = "x"\n' + DOC)
    data = load(path)
    f32 = data.for_case("ops.mean", "1.0", "float32")
    assert [b.link for b in f32.known_bugs] == ["https://e.org/issues/1"] and f32.choice_for("choice") == "x"
    assert data.for_case("ops.mean", "1.0", "float64").known_bugs == ()
    assert data.for_case("ops.mean", "1.0", "float64", "compiled").choice_for("choice") == "y"

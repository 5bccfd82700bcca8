"""An adapter's expectation file, ``<module>.expect.toml`` beside the adapter:
its declared choice for implementation-defined cases, its known bugs and its
tolerance overrides, keyed by case id and scoped to framework versions,
dtypes and execution modes.

Every declared choice says what it rests on (``basis``):

- ``documented``: the documentation states it.  ``doc`` is the page with the
  #anchor of the passage and ``quote`` the sentence that says it.
- ``source``: the implementation decides it.  ``doc`` links the implementing
  line at a release tag (``.../blob/v2.13.0/...#L120``).
- ``observed``: neither is known; the run saw it.  No ``doc`` link is given,
  since a link would claim what nobody read there.

A known bug says what it is: its link, the fail kind the judge reports, and
optionally a regular expression the failure message matches.  A cell that
fails otherwise is FAIL, and one that no longer fails is XPASS.

The file's format is ``ExpectationEntry`` below; ``gradspec schema
--expectations`` prints it as a JSON Schema, shipped as
``gradspec/expectation-file.schema.json`` for editors and tools outside.  A malformed file is refused at
load with a message naming the file, the case and the field.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import msgspec
from msgspec import Meta, Struct
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .case import DOC_URL, Tolerance
from .modes import EAGER
from .record_model import Basis, FailKind, Mode

DType = Literal["float16", "bfloat16", "float32", "float64", "complex64", "complex128", "int32", "int64", "bool"]

SCHEMA_PATH = Path(__file__).with_name("expectation-file.schema.json")
SOURCE_LINK = re.compile(r"https://[^\s#]+/(blob|tree)/(?!(main|master|HEAD|trunk)/)[^\s/#]+/[^\s#]+#L\d+(-L\d+)?")


class ExpectationFileError(ValueError):
    """Malformed expectation data: names the file, the case id and the field."""


class KnownBug(Struct, forbid_unknown_fields=True):
    """A listed bug: failures of this kind (and message) are XFAIL, others FAIL."""

    link: Annotated[str, Meta(pattern=r"^(https?://\S+|unreported)$(?![\s\S])",
                              description="The upstream issue or pull request; 'unreported' where none exists")]
    fail_kind: Annotated[FailKind, Meta(description="The fail kind the judge reports for it")]
    message: Annotated[str, Meta(description="A regular expression searched in the failure message")] = ""


class ExpectationEntry(Struct, forbid_unknown_fields=True):
    """One entry of an expectation file (a table, or several under ``[[case.id]]``)."""

    choice: Annotated[Optional[str], Meta(description="The label of the one_of() option, for every slot")] = None
    choices: Annotated[dict[str, str], Meta(description="slot = label, for cases with several slots")] = {}
    basis: Optional[Basis] = None
    doc: Annotated[str, Meta(description="documented: page#anchor; source: the line at a release tag")] = ""
    quote: Annotated[str, Meta(description="documented: the sentence that states the choice")] = ""
    versions: Annotated[str, Meta(description="A version specifier such as '>=2.0,<3'; empty: all")] = ""
    dtypes: Annotated[list[DType], Meta(description="The item dtypes the entry covers; empty: all")] = []
    modes: Annotated[list[Mode], Meta(description="The execution modes the entry covers; empty: all")] = []
    note: str = ""
    known_bug: Optional[KnownBug] = None
    tolerance: Annotated[dict[DType, tuple[float, float]], Meta(description="dtype = [rtol, atol]")] = {}


ExpectationFileModel = dict[str, Union[ExpectationEntry, list[ExpectationEntry]]]


@dataclass(frozen=True)
class Entry:
    case_id: str
    choices: dict[str, str]          # slot -> label; "*" applies to every slot
    basis: str | None = None
    doc: str = ""
    quote: str = ""
    versions: str = ""
    note: str = ""
    known_bug: KnownBug | None = None
    tolerance: dict[str, Tolerance] = field(default_factory=dict)
    dtypes: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()

    def applies(self, version: str, dtype: str | None, mode: str) -> bool:
        return _in_range(version, self.versions) and (not self.dtypes or dtype in self.dtypes) \
            and (not self.modes or mode in self.modes)


@dataclass(frozen=True)
class Declaration:
    """What an adapter's file says about one item: the choice declared (with its
    basis), every known bug that applies, and the tolerance override."""

    case_id: str
    choice_entry: Entry | None = None
    known_bugs: tuple[KnownBug, ...] = ()
    tolerance: dict[str, Tolerance] = field(default_factory=dict)

    def choice_for(self, slot: str) -> str | None:
        if self.choice_entry is None:
            return None
        choices = self.choice_entry.choices
        return choices.get(slot, choices.get("*"))

    @property
    def doc(self) -> str:
        return self.choice_entry.doc if self.choice_entry else ""

    def known_bug_for(self, fail_kind: str | None, message: str) -> KnownBug | None:
        """The listed bug this failure is, if any."""
        return next((b for b in self.known_bugs if b.fail_kind == fail_kind
                     and (not b.message or re.search(b.message, message))), None)


def _in_range(version: str, versions: str) -> bool:
    if not versions:
        return True
    try:
        return Version(version) in SpecifierSet(versions, prereleases=True)
    except InvalidVersion:
        return False


@dataclass
class ExpectationFile:
    path: Path | None
    entries: dict[str, list[Entry]] = field(default_factory=dict)

    def for_case(self, case_id: str, version: str, dtype: str | None = None,
                 mode: str = EAGER) -> Declaration | None:
        """Everything that applies to one item: the first entry declaring a choice,
        the known bugs of every entry, the first tolerance override."""
        applicable = [e for e in self.entries.get(case_id, []) if e.applies(version, dtype, mode)]
        if not applicable:
            return None
        return Declaration(case_id,
                           next((e for e in applicable if e.choices), None),
                           tuple(e.known_bug for e in applicable if e.known_bug is not None),
                           next((e.tolerance for e in applicable if e.tolerance), {}))

    def unknown_ids(self, known: set[str]) -> list[str]:
        return sorted(set(self.entries) - known)

    def bases(self) -> dict[str, int]:
        """How many declared choices rest on each basis."""
        counts = {"documented": 0, "source": 0, "observed": 0}
        for entries in self.entries.values():
            for e in entries:
                if e.choices and e.basis:
                    counts[e.basis] += 1
        return counts


def load(path: Path) -> ExpectationFile:
    """Read an expectation file; a missing file means no declared expectations."""
    if not path.exists():
        return ExpectationFile(None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ExpectationFileError(f"{path}: not valid TOML: {exc}") from None
    out = ExpectationFile(path)
    for case_id, raw in data.items():
        tables = raw if isinstance(raw, list) else [raw]
        out.entries[case_id] = [_entry(path, case_id, t, i if isinstance(raw, list) else None)
                                for i, t in enumerate(tables)]
    return out


def _entry(path: Path, case_id: str, table: Any, index: int | None) -> Entry:
    where = f"case '{case_id}'" + (f" (entry {index + 1})" if index is not None else "")

    def fail(field_name: str, message: str) -> ExpectationFileError:
        return ExpectationFileError(f"{path}: {where}: field '{field_name}': {message}")

    try:
        e = msgspec.convert(table, ExpectationEntry, strict=True)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).rpartition(" - at ")
        unknown = re.search(r"unknown field `([^`]+)`", str(exc))
        field_name = unknown.group(1) if unknown else \
            at.strip("`").removeprefix("$").lstrip(".").split("[", 1)[0].split(".", 1)[0] if message else ""
        raise fail(field_name or "(entry)", message or str(exc)) from None
    choices = dict(e.choices)
    if e.choice is not None:
        choices["*"] = e.choice
    if choices:
        _check_basis(e, fail)
    elif e.basis or e.quote:
        raise fail("basis", "only a declared choice has a basis")
    if e.known_bug is not None:
        try:
            re.compile(e.known_bug.message)
        except re.error as exc:
            raise fail("known_bug", f"message {e.known_bug.message!r} is not a regular expression: {exc}") from None
    if not choices and e.known_bug is None and not e.tolerance:
        raise fail("(entry)", "declares nothing: give a choice, a known_bug or a tolerance")
    try:
        SpecifierSet(e.versions)
    except InvalidSpecifier:
        raise fail("versions", f"{e.versions!r} is not a version specifier such as '>=2.0,<3'") from None
    tolerance = {dt: Tolerance(*pair) for dt, pair in e.tolerance.items()}
    return Entry(case_id, choices, e.basis, e.doc, e.quote, e.versions, e.note, e.known_bug, tolerance,
                 tuple(e.dtypes), tuple(e.modes))


def _check_basis(e: ExpectationEntry, fail: Any) -> None:
    """What each basis must and must not carry."""
    if e.basis is None:
        raise fail("basis", "a declared choice says what it rests on: documented, source or observed")
    if e.basis == "documented":
        if not DOC_URL.fullmatch(e.doc):
            raise fail("doc", "a documented choice links the passage: a URL with a #anchor")
        if not e.quote.strip():
            raise fail("quote", "a documented choice quotes the sentence that states it")
    elif e.basis == "source":
        if not SOURCE_LINK.fullmatch(e.doc):
            raise fail("doc", "a source choice links the implementing line at a release tag "
                              "(https://github.com/org/repo/blob/<tag>/path#L123)")
        if e.quote:
            raise fail("quote", "only a documented choice quotes documentation")
    else:
        if e.doc or e.quote:
            raise fail("doc" if e.doc else "quote", "an observed choice rests on the run alone: no documentation "
                                                    "link or quote beside it (say what was looked at in 'note')")


def json_schema() -> dict[str, Any]:
    """The expectation file's format as a JSON Schema (2020-12), of the TOML read as JSON."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "gradspec expectation file (<adapter module>.expect.toml)",
            "description": "Keyed by case id; each value one entry or a list of entries. "
                           "gradspec/expectation_file.py states the rules types cannot (basis).",
            **msgspec.json.schema(ExpectationFileModel)}

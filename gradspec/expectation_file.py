"""An adapter's expectation file: the documented choice of each implementation-
defined case, known bugs and tolerance overrides, keyed by case id and
restricted to a framework version range.  Lives beside the adapter as
``<module>.expect.toml``."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .case import DTYPES, Tolerance
from .modes import EAGER, is_mode


class ExpectationFileError(ValueError):
    """Malformed expectation data: names the file, the case id and the field."""


@dataclass(frozen=True)
class Entry:
    case_id: str
    choices: dict[str, str]          # slot -> label; "*" applies to every slot
    doc: str = ""
    versions: str = ""
    note: str = ""
    known_bug: str = ""
    tolerance: dict[str, Tolerance] = field(default_factory=dict)
    dtypes: tuple[str, ...] = ()     # the item dtypes this entry covers; empty: all
    modes: tuple[str, ...] = ()      # the execution modes this entry covers; empty: all

    def choice_for(self, slot: str) -> str | None:
        return self.choices.get(slot, self.choices.get("*"))

    def applies_to(self, version: str) -> bool:
        if not self.versions:
            return True
        try:
            return Version(version) in SpecifierSet(self.versions, prereleases=True)
        except InvalidVersion:
            return False


@dataclass
class ExpectationFile:
    path: Path | None
    entries: dict[str, list[Entry]] = field(default_factory=dict)

    def for_case(self, case_id: str, version: str, dtype: str | None = None, mode: str = EAGER) -> Entry | None:
        """The first entry for this case whose version range holds ``version``
        and whose dtypes and modes (where it names any) hold ``dtype`` and ``mode``."""
        return next((e for e in self.entries.get(case_id, [])
                     if e.applies_to(version) and (not e.dtypes or dtype in e.dtypes)
                     and (not e.modes or mode in e.modes)), None)

    def unknown_ids(self, known: set[str]) -> list[str]:
        return sorted(set(self.entries) - known)


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
        out.entries[case_id] = [_entry(path, case_id, t) for t in tables]
    return out


_FIELDS = {"choice", "choices", "doc", "versions", "note", "known_bug", "tolerance", "dtypes", "modes"}


def _entry(path: Path, case_id: str, table: Any) -> Entry:
    def fail(field_name: str, message: str) -> ExpectationFileError:
        return ExpectationFileError(f"{path}: case '{case_id}': field '{field_name}': {message}")

    if not isinstance(table, dict):
        raise fail("(entry)", "must be a table")
    extra = set(table) - _FIELDS
    if extra:
        raise fail(sorted(extra)[0], f"unknown field; allowed: {sorted(_FIELDS)}")
    choices: dict[str, str] = {}
    if "choice" in table:
        if not isinstance(table["choice"], str):
            raise fail("choice", "must be a string label")
        choices["*"] = table["choice"]
    if "choices" in table:
        if not isinstance(table["choices"], dict) or not all(isinstance(v, str) for v in table["choices"].values()):
            raise fail("choices", "must be a table slot = label")
        choices.update(table["choices"])
    doc = table.get("doc", "")
    if choices and "#" not in doc:
        raise fail("doc", "a declared choice must cite its documentation with a URL carrying a #anchor")
    versions = table.get("versions", "")
    try:
        SpecifierSet(versions)
    except InvalidSpecifier:
        raise fail("versions", f"{versions!r} is not a version specifier such as '>=2.0,<3'") from None
    tol = {}
    for dt, pair in (table.get("tolerance") or {}).items():
        if dt not in DTYPES or not isinstance(pair, list) or len(pair) != 2:
            raise fail("tolerance", "entries must be dtype = [rtol, atol]")
        tol[dt] = Tolerance(float(pair[0]), float(pair[1]))
    dtypes = table.get("dtypes", [])
    if not isinstance(dtypes, list) or set(dtypes) - set(DTYPES):
        raise fail("dtypes", f"must be a list drawn from {list(DTYPES)}")
    modes = table.get("modes", [])
    if not isinstance(modes, list) or not all(isinstance(m, str) and is_mode(m) for m in modes):
        raise fail("modes", "must be a list of mode names (eager, compiled, compiled-<backend>)")
    return Entry(case_id, choices, doc, versions, table.get("note", ""), table.get("known_bug", ""), tol,
                 tuple(dtypes), tuple(modes))

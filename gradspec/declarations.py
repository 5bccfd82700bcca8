"""The choices every discoverable adapter's expectation file declares, for
``gradspec list``: a reader sees, beside each implementation-defined case, what
each framework is declared to do and what that declaration rests on, without
running anything (adapter modules import no framework)."""
from __future__ import annotations

from typing import Any, Iterable

from . import expectation_file
from .discovery import discover
from .expectation_file import Entry, ExpectationFile

BASES = ("documented", "source", "observed")


def expectation_files() -> dict[str, ExpectationFile]:
    """Adapter name -> its expectation file (adapters that fail to load have none)."""
    return {s.name: expectation_file.load(s.cls.expectations_path()) for s in discover([], None) if s.cls is not None}


def declared(files: dict[str, ExpectationFile], case_id: str) -> list[tuple[str, Entry]]:
    """Every entry declaring a choice for the case, per adapter, in file order."""
    return [(name, e) for name, f in files.items() for e in f.entries.get(case_id, []) if e.choices]


def as_json(name: str, e: Entry) -> dict[str, Any]:
    return {"adapter": name, "choices": e.choices, "basis": e.basis, "doc": e.doc, "quote": e.quote,
            "versions": e.versions, "dtypes": list(e.dtypes), "modes": list(e.modes)}


def as_text(name: str, e: Entry) -> str:
    """One line; a link only for a documented (with its quote) or source basis."""
    choice = ", ".join(f"{slot}={label}" if slot != "*" else label for slot, label in e.choices.items())
    scope = " ".join(x for x in (e.versions, ",".join(e.dtypes), ",".join(e.modes)) if x)
    where = {"documented": f": {e.doc} \u201c{e.quote}\u201d", "source": f": {e.doc}"}.get(e.basis or "", "")
    return f"declared: {name} {choice}" + (f" [{scope}]" if scope else "") + f" ({e.basis}{where})"


def counts(files: dict[str, ExpectationFile], case_ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """Adapter -> basis -> how many declared choices of these cases rest on it."""
    ids = set(case_ids)
    out = {name: dict.fromkeys(BASES, 0) for name in files}
    for name, f in files.items():
        for cid, entries in f.entries.items():
            for e in entries:
                if cid in ids and e.choices and e.basis:
                    out[name][e.basis] += 1
    return {name: c for name, c in out.items() if any(c.values())}

"""The probe catalogue, generated from the cases: each probe an adapter may
implement (``probe_<name>``), the arguments the cases pass it and the answers
they accept.  It is derived, never written by hand, so it cannot drift from
the cases (``gradspec list --probes``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from .case import Case
from .expect import (AbsentIs, AnalyticIs, DerivedIs, DotProductIs, Expectation, InfoIs, OneOf, OracleIs, RaisesIs,
                     ValueIs, ZerosIs)
from .requests import Probe


@dataclass
class ProbeEntry:
    """One probe name across every case that asks for it."""

    name: str
    args: dict[str, list[str]] = field(default_factory=dict)   # argument -> the kinds of value passed
    answers: list[str] = field(default_factory=list)            # accepted answer shapes
    cases: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "method": f"probe_{self.name}", "args": self.args, "answers": self.answers,
                "cases": self.cases}


def describe_value(v: Any) -> str:
    """A short type-and-shape description of an argument value: ``list[2][2] of float``."""
    if isinstance(v, bool) or v is None:
        return repr(v) if v is None else "bool"
    if isinstance(v, (int, float)):
        return type(v).__name__
    if isinstance(v, str):
        return f"str ({v!r})"
    if isinstance(v, (list, tuple)):
        dims, inner = [], v
        while isinstance(inner, (list, tuple)):
            dims.append(len(inner))
            inner = inner[0] if inner else None
        return "list" + "".join(f"[{d}]" for d in dims) + f" of {describe_value(inner) if inner is not None else 'any'}"
    if isinstance(v, dict):
        return "dict"
    return type(v).__name__


def describe_answer(e: Expectation) -> list[str]:
    """The outcome shapes an expectation accepts (a one_of() accepts each option's)."""
    if isinstance(e, OneOf):
        return [f"{shape} (choice '{label}')" for label, opt in e.options.items() for shape in describe_answer(opt)]
    if isinstance(e, (ValueIs, AnalyticIs, OracleIs, DotProductIs)):
        return ["Value (an array in the item dtype)"]
    if isinstance(e, InfoIs):
        shown = repr(e.value)
        return [f"Info({shown if len(shown) <= 40 else describe_value(e.value)})"]
    if isinstance(e, RaisesIs):
        return [f"Raised({e.kind.value})"]
    if isinstance(e, AbsentIs):
        return ["Absent"]
    if isinstance(e, ZerosIs):
        return ["Zeros"]
    if isinstance(e, DerivedIs):
        doc = " ".join((e.fn.__doc__ or "").split()).split(". ")[0]
        return [f"dict of Value: the framework's own arrays and their gradients ({doc})"]
    if isinstance(e, dict):
        return ["dict {" + ", ".join(f"{k}: {' | '.join(describe_answer(v))}" for k, v in e.items()) + "}"]
    if isinstance(e, list):
        return ["list [" + ", ".join(" | ".join(describe_answer(v)) for v in e) + "]"]
    return [type(e).__name__]


def catalogue(cases: Iterable[Case]) -> list[ProbeEntry]:
    """Every probe the cases use, by name, with arguments and answers merged."""
    entries: dict[str, ProbeEntry] = {}
    for c in sorted(cases, key=lambda c: c.id):
        for request, expectation in zip(c.requests, c.expect):
            if not isinstance(request, Probe):
                continue
            entry = entries.setdefault(request.name, ProbeEntry(request.name))
            for arg, v in request.args.items():
                kinds = entry.args.setdefault(arg, [])
                if describe_value(v) not in kinds:
                    kinds.append(describe_value(v))
            entry.answers += [a for a in describe_answer(expectation) if a not in entry.answers]
            if c.id not in entry.cases:
                entry.cases.append(c.id)
    return sorted(entries.values(), key=lambda e: e.name)


def render(entries: list[ProbeEntry]) -> str:
    """The catalogue as Markdown: the form it takes in docs/authoring.md."""
    lines = ["| probe method | arguments | answers | cases |", "|---|---|---|---|"]
    for e in entries:
        args = "<br>".join(f"`{a}`: {' or '.join(k)}" for a, k in e.args.items()) or "none"
        lines.append(f"| `probe_{e.name}(self, ctx{''.join(', ' + a for a in e.args)})` | {args} | "
                     f"{'<br>'.join(e.answers)} | {', '.join(f'`{c}`' for c in e.cases)} |")
    return "\n".join(lines)

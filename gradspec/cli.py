"""The ``gradspec`` command: report, merge, diff, validate run records; list cases; check an adapter;
run the mutant catalogue.

Exit status: 0 success, 1 ``diff`` found something worse, ``check`` a problem, or
``mutate`` a surviving mutant or an unclean unmutated baseline, 2 bad input (an
unreadable or invalid record, a merge conflict, a bad argument).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from . import declarations, history, html, markdown, releases
from . import diff as diff_mod
from .case import CaseError
from .merge import MergeError, merge, write_record
from .record import write_atomic
from .record_model import RunRecord
from .schema import RecordError, read_record

EXIT_OK, EXIT_WORSE, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input that is not a record problem (a missing cases folder, an unwritable path)."""


def _load_with_history(paths: Sequence[str]) -> tuple[RunRecord, list[dict[str, Any]]]:
    """The record to report (the newest record of each series, merged) and the score
    history of every series of two records or more (gradspec.history)."""
    current, repeated = history.split([(p, read_record(p)) for p in paths])
    record = current[0][1] if len(current) == 1 else merge(current)
    return record, history.points(repeated) if repeated else []


def _write_text(path: str, text: str) -> None:
    """Every output is written atomically: a killed command leaves the old file whole."""
    try:
        write_atomic(Path(path), text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc}") from None


def cmd_report(args: argparse.Namespace) -> int:
    record, trend = _load_with_history(args.records)
    if args.html:
        page = html.render(record, trend)
        try:
            index = html.save(page, args.html)
        except OSError as exc:
            raise UsageError(f"cannot write the dashboard to {args.html}: {exc}") from None
        print(f"dashboard: {index}", file=sys.stderr)
    badge_dir = args.badges or (str(Path(args.html) / "badges") if args.html else None)
    if badge_dir:
        from . import badge

        try:
            written = badge.save(record, badge_dir)
        except OSError as exc:
            raise UsageError(f"cannot write the badges to {badge_dir}: {exc}") from None
        print(f"badges: {len(written)} in {badge_dir}", file=sys.stderr)
    parts = [markdown.render(record), releases.markdown(record.results, record.stale_ranges),
             history.markdown(trend) if trend else ""]
    text = "\n".join(p for p in parts if p)
    if args.markdown:
        _write_text(args.markdown, text)
        print(f"markdown: {args.markdown}", file=sys.stderr)
    if not args.html and not args.markdown and not args.badges:
        print(text)
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    record = merge([(p, read_record(p)) for p in args.records])
    try:
        write_record(record, Path(args.output))
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc}") from None
    missing = record.summary.counts.get("MISSING", 0)
    print(f"merged {len(args.records)} records, {len(record.results)} results"
          + (f", {missing} MISSING" if missing else "") + f" -> {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    d = diff_mod.diff(read_record(args.base), read_record(args.head), args.base, args.head)
    text = diff_mod.render(d, args.max_chars or None, args.full_report or "")
    if args.markdown:
        _write_text(args.markdown, text)
    if args.full_markdown:
        _write_text(args.full_markdown, diff_mod.render(d, None))
    print(text)
    return EXIT_WORSE if d.worse else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    for p in args.records:
        record = read_record(p)
        print(f"{p}: valid ({len(record.results)} results)")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    """Print (or write) the run record's JSON Schema (or the expectation file's), generated
    from the types that read them."""
    if args.expectations:
        from .expectation_file import json_schema
    else:
        from .record_model import json_schema

    text = json.dumps(json_schema(), indent=1) + "\n"
    if args.output:
        _write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _default_cases_dir() -> Path:
    here = Path("cases")
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "cases"


def _relative(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def _list_probes(chosen: list, fmt: str) -> int:
    from .probe_catalogue import catalogue, render

    entries = catalogue(chosen)
    print(json.dumps([e.to_json() for e in entries], indent=1) if fmt == "json" else render(entries))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from .engine import needed_capabilities
    from .loader import load_cases  # the loader imports case files; only this command needs it

    paths = [Path(p) for p in args.paths] or [_default_cases_dir()]
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or folder of cases")
    try:
        found = load_cases(paths)
    except CaseError as exc:
        raise UsageError(str(exc)) from None
    chosen = [c for c in found if (not args.tag or set(args.tag) <= set(c.tags))
              and (not args.kind or c.kind.value == args.kind)]
    chosen.sort(key=lambda c: c.id)
    if args.probes:
        return _list_probes(chosen, args.format)
    try:
        files = declarations.expectation_files()
    except (LookupError, ValueError) as exc:  # two adapters of one name, a malformed expectation file
        raise UsageError(str(exc)) from None
    if args.format == "json":
        print(json.dumps([{"id": c.id, "statement": c.statement, "kind": c.kind.value, "tags": list(c.tags),
                           "requires": sorted(c.requires), "needs": sorted(needed_capabilities(c)),
                           "slots": {s.slot: list(s.options) for s in c.impl_slots}, "dtypes": list(c.dtypes),
                           "docs": [{"url": d.url, "quote": d.quote} for d in c.docs],
                           "declared": [declarations.as_json(n, e) for n, e in declarations.declared(files, c.id)],
                           "file": _relative(c.file), "line": c.line} for c in chosen], indent=1))
        return EXIT_OK
    for c in chosen:
        print(f"{c.id}  [{c.kind.value}]  tags: {', '.join(c.tags)}")
        print(f"    {c.statement}")
        needs = sorted(needed_capabilities(c))
        if needs:  # declared, and implied by the request types (Jvp -> forward_mode, ...)
            print(f"    needs: {', '.join(needs)}")
        for s in c.impl_slots:
            print(f"    choices: {s.slot} = {' | '.join(s.options)}")
        for d in c.docs:
            print(f"    doc: {d.url}")
        for name, e in declarations.declared(files, c.id):
            print(f"    {declarations.as_text(name, e)}")
        print(f"    source: {_relative(c.file)}:{c.line}")
    bases = declarations.counts(files, (c.id for c in chosen))
    if bases:
        print("declared choices by basis:")
        for name, n in bases.items():
            print(f"    {name}: " + ", ".join(f"{b} {k}" for b, k in n.items()))
    print(f"{len(chosen)} of {len(found)} cases", file=sys.stderr)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Check an adapter before its first full run; exit 1 on a problem."""
    from .check import check
    from .loader import load_cases

    paths = [Path(p) for p in args.cases] or [_default_cases_dir()]
    try:
        cases = load_cases(paths)
    except CaseError as exc:
        raise UsageError(str(exc)) from None
    report = check(args.target, cases, args.smoke)
    print(json.dumps(report.to_json(), indent=1) if args.format == "json" else report.render())
    return EXIT_WORSE if report.problems else EXIT_OK


def cmd_mutate(args: argparse.Namespace) -> int:
    """Each mutant's selection under the mutant, after the unmutated baseline:
    exit 0 when every mutant is killed and the baseline is clean."""
    from . import mutation

    cases = Path(args.cases).resolve()
    if not cases.is_dir():
        raise UsageError(f"{args.cases}: no such folder of cases")
    if str(cases.parent) not in sys.path:  # the default catalogue (mutants/) sits beside cases/
        sys.path.insert(0, str(cases.parent))
    split = lambda text: [t.strip() for t in (text or "").split(",") if t.strip()]  # noqa: E731
    try:
        chosen = mutation.select_mutants(mutation.load_catalogue(args.catalogue), split(args.adapters),
                                         split(args.mutants))
    except (mutation.MutationError, ImportError, AttributeError) as exc:
        raise UsageError(str(exc)) from None
    if args.list:
        for m in chosen:
            print(f"{m.name:<34} {m.adapter:<10} {m.breaks:<13} {m.rule}  [-k {m.select!r}]")
        return EXIT_OK
    if not chosen:
        raise UsageError("no mutant matches --adapters/--mutants")
    progress = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    report = mutation.run(chosen, cases, jobs=args.jobs, xdist=args.xdist, progress=progress)
    print(mutation.render(report))
    return EXIT_OK if report.ok else EXIT_WORSE


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradspec", description="Reports on gradspec run records, and the case list.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("report", help="Markdown and/or HTML dashboard from one or more records (merged first)")
    r.add_argument("records", nargs="+", metavar="RECORD")
    r.add_argument("--html", metavar="DIR", help="write the static dashboard into DIR (DIR/index.html)")
    r.add_argument("--markdown", metavar="FILE", help="write the Markdown summary to FILE")
    r.add_argument("--badges", metavar="DIR", help="write an SVG conformance badge per adapter into DIR "
                                                   "(default with --html: DIR/badges)")
    r.set_defaults(func=cmd_report)

    m = sub.add_parser("merge", help="merge records from several CI jobs into one")
    m.add_argument("records", nargs="+", metavar="RECORD")
    m.add_argument("-o", "--output", required=True, metavar="OUT")
    m.set_defaults(func=cmd_merge)

    d = sub.add_parser("diff", help="what changed from BASE to HEAD; exit 1 when anything got worse")
    d.add_argument("base", metavar="BASE")
    d.add_argument("head", metavar="HEAD")
    d.add_argument("--markdown", metavar="FILE", help="also write the pull-request comment to FILE")
    d.add_argument("--max-chars", type=int, default=diff_mod.MAX_COMMENT, metavar="N",
                   help="the comment's length limit (default %(default)s, within GitHub's 65,536; 0: none)")
    d.add_argument("--full-report", metavar="LINK", default="",
                   help="where the whole diff is (an artifact URL), named when rows are left out")
    d.add_argument("--full-markdown", metavar="FILE", help="write the whole diff, unabridged, to FILE")
    d.set_defaults(func=cmd_diff)

    v = sub.add_parser("validate", help="check records against the run-record JSON Schema")
    v.add_argument("records", nargs="+", metavar="RECORD")
    v.set_defaults(func=cmd_validate)

    sc = sub.add_parser("schema", help="the run record's JSON Schema (2020-12), generated from the record model")
    sc.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of standard output")
    sc.add_argument("--expectations", action="store_true",
                    help="the expectation file's format (<adapter>.expect.toml read as JSON) instead")
    sc.set_defaults(func=cmd_schema)

    ls = sub.add_parser("list", help="the cases, with their statements, sources, capabilities and allowed labels")
    ls.add_argument("paths", nargs="*", metavar="PATH", help="case files or folders (default: ./cases)")
    ls.add_argument("--tag", action="append", help="only cases with this tag (repeat: all of them)")
    ls.add_argument("--kind", choices=["required", "implementation-defined", "api"])
    ls.add_argument("--format", choices=["text", "json"], default="text")
    ls.add_argument("--probes", action="store_true",
                    help="the probe catalogue instead: names, arguments and accepted answers (Markdown or JSON)")
    ls.set_defaults(func=cmd_list)

    ck = sub.add_parser("check", help="check an adapter (MODULE:CLASS) in seconds: declarations, op table, "
                                      "expectation file, smoke cases, and what a full run would do")
    ck.add_argument("target", metavar="MODULE:CLASS")
    ck.add_argument("--cases", action="append", default=[], metavar="PATH", help="case files or folders (default: ./cases)")
    ck.add_argument("--smoke", type=int, default=5, metavar="N", help="smoke cases to run (default %(default)s)")
    ck.add_argument("--format", choices=["text", "json"], default="text")
    ck.set_defaults(func=cmd_check)

    mu = sub.add_parser("mutate", help="run the suite under each mutant (one rule broken inside a framework): "
                                       "kill rate, survivors, time; exit 1 on a survivor or an unclean baseline")
    mu.add_argument("--adapters", metavar="A,B", help="only the mutants of these adapters")
    mu.add_argument("--mutants", metavar="M,N", help="only these mutants (by name)")
    mu.add_argument("-n", "--jobs", type=int, default=2, metavar="N", help="pytest runs at a time (default 2)")
    mu.add_argument("--xdist", type=int, default=0, metavar="N", help="pytest -n inside each run (default 0)")
    mu.add_argument("--cases", default="cases", metavar="DIR", help="the cases folder (default ./cases)")
    mu.add_argument("--catalogue", metavar="MODULE:ATTR", help="the mutant list (default mutants:CATALOGUE)")
    mu.add_argument("--list", action="store_true", help="list the chosen mutants and run nothing")
    mu.add_argument("-v", "--verbose", action="store_true", help="a line per finished run on standard error")
    mu.set_defaults(func=cmd_mutate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # A command holds records of up to millions of objects and makes no reference
    # cycles worth collecting: the cyclic collector would only walk them again and again.
    gc.disable()
    try:
        return args.func(args)
    except (RecordError, MergeError, UsageError) as exc:
        print(f"gradspec {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `gradspec list | head`: the reader left, which is not an error
        sys.stderr.close()
        return EXIT_OK


def run() -> NoReturn:
    """The console script: ``main``, then leave without freeing the records one by one.
    A command's records hold millions of objects whose deallocation would take seconds;
    the operating system takes the whole process back at once.  Output is flushed first,
    and every file was written atomically (fsync, rename) before ``main`` returned."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()

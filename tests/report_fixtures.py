"""Small hand-written run records for the report, merge, diff and dashboard tests.

Every kind of string field carries markup (MARK) somewhere, so the tests can
prove that the Markdown and HTML outputs render it as text.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec

MARK = "<script>alert(1)</script>&amp;"
ODD_CASE = "tape.odd" + MARK            # a case id that is itself markup
ODD_ADAPTER = "ext" + MARK               # an adapter whose every string field is markup
ODD_VERSION = "1.0" + MARK
ODD_DEVICE = "cpu<b>&amp;</b>"


def m(text: str) -> str:
    return f"{text} {MARK}"


def value(data: list[float], dtype: str) -> dict[str, Any]:
    return {"outcome": "Value", "array": {"dtype": dtype, "shape": [len(data)], "data": data}}


def expect_value(data: list[Any], dtype: str, source: str = "analytic") -> dict[str, Any]:
    return {"expect": "Value", "array": {"dtype": dtype, "shape": [len(data)], "data": data}, "source": source,
            "form": "any"}


def raised(kind: str) -> dict[str, Any]:
    return {"outcome": "Raised", "kind": kind, "native_type": m("builtins.RuntimeError"), "message": m("boom"),
            "traceback": m('Traceback (most recent call last):\n  File "mylib/grad.py", line 42, in grad')}


CASES: dict[str, dict[str, Any]] = {
    "tape.cube_variable": {
        "statement": m("d/dx x^3 at x=3 is 27 | pipes `ticks`"), "kind": "required", "area": "tape",
        "tags": ["first_order", "basics"], "requires": [],
        "docs": [{"url": "https://www.tensorflow.org/guide/autodiff#gradient_tapes", "quote": m("a quote")}],
        "file": m("cases/tape.py"), "line": 10, "slots": {},
    },
    "tape.unconnected_source": {
        "statement": m("The gradient for a source the target does not depend on"),
        "kind": "implementation-defined", "area": "tape", "tags": ["unconnected", "t<i>ag</i>&amp;"],
        "requires": [],
        "docs": [{"url": "javascript:alert(1)#x", "quote": ""},
                 {"url": "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html#torch.autograd.grad",
                  "quote": ""}],
        "file": "cases/tape.py", "line": 40,
        "slots": {"choice": ["absent", "raises", "zeros", m("odd")]},
    },
    "tape.non_persistent_second_request": {
        "statement": m("A non-persistent recording answers one request"), "kind": "api", "area": "tape",
        "tags": ["recording"], "requires": ["single_use_recording"], "docs": [], "file": "cases/tape.py",
        "line": 70, "slots": {},
    },
    "pool.avg_pool1d": {
        "statement": "The gradient of an average pool spreads evenly", "kind": "required", "area": "pool",
        "tags": ["pooling"], "requires": [], "docs": [], "file": "cases/pool.py", "line": 5, "slots": {},
    },
    ODD_CASE: {
        "statement": m("odd"), "kind": "required", "area": "tape", "tags": ["basics"], "requires": [],
        "docs": [], "file": "cases/tape.py", "line": 99, "slots": {},
    },
}

# (adapter, version, device, framework) of the sample run.
ADAPTERS = [("torch", "2.13.0", "cpu", "torch"), ("tensorflow", "2.21.0", "cpu", "tensorflow"),
            (ODD_ADAPTER, ODD_VERSION, ODD_DEVICE, m("ext"))]
UNCONNECTED = {"torch": "raises", "tensorflow": "absent", ODD_ADAPTER: "zeros"}

# Status of every cell of the sample run: case -> adapter -> (float32 status, float64 status).
STATUS = {
    "tape.cube_variable": {"torch": ("PASS", "PASS"), "tensorflow": ("PASS", "FAIL"), ODD_ADAPTER: ("ERROR", "CRASH")},
    "tape.unconnected_source": {"torch": ("PASS", "PASS"), "tensorflow": ("PASS", "PASS"),
                                ODD_ADAPTER: ("FAIL", "XFAIL")},
    "tape.non_persistent_second_request": {"torch": ("PASS", "PASS"), "tensorflow": ("PASS", "PASS"),
                                           ODD_ADAPTER: ("UNSUPPORTED", "UNSUPPORTED")},
    "pool.avg_pool1d": {"torch": ("PASS", "TIMEOUT"), "tensorflow": ("SKIP", "SKIP"),
                        ODD_ADAPTER: ("REFERENCE", "REFERENCE")},
    ODD_CASE: {"torch": ("PASS", "PASS"), "tensorflow": ("PASS", "PASS"), ODD_ADAPTER: ("PASS", "PASS")},
}
DTYPES = ("float32", "float64")


def result(case: str, adapter: str, version: str, device: str, dtype: str, status: str,
           choice: str | None = None) -> dict[str, Any]:
    """One result in the record format, with plausible fields for its status."""
    name = case.rsplit(".", 1)[-1]
    nodeid = f"cases/{case.split('.')[0]}.py::{name}[{adapter}-{device}-{dtype}]"
    r: dict[str, Any] = {
        "nodeid": nodeid, "case": case, "adapter": adapter, "framework_version": version, "mode": "eager",
        "device": device,
        "dtype": dtype, "status": status, "fail_kind": None, "message": m(f"{status} because"),
        "choices": {}, "declared": {},
        "expected": [expect_value([27.0], dtype)], "observed": [value([27.0], dtype)],
        "error": None, "max_abs_err": 0.0, "max_rel_err": 0.0, "tolerance": {"rtol": 1e-5, "atol": 1e-6},
        "duration_s": 0.01, "worker": m("gw0"),
        "repro": f"python -m pytest '{nodeid}' {MARK}",
    }
    if status == "FAIL":
        r.update(fail_kind="value_mismatch", observed=[value([26.5, "nan"], dtype)], max_abs_err=0.5,
                 max_rel_err="nan")
    elif status in ("ERROR", "CRASH"):
        r.update(observed=None, max_abs_err=None, max_rel_err=None,
                 error={"type": m("RuntimeError"), "message": m("adapter broke"), "traceback": m("Traceback ...")})
    elif status in ("UNSUPPORTED", "SKIP", "TIMEOUT"):
        r.update(observed=None, max_abs_err=None, max_rel_err=None)
    if choice is not None:
        options = {"absent": {"expect": "Absent"}, "raises": {"expect": "Raised", "kind": "UnconnectedSource"},
                   "zeros": {"expect": "Zeros"}}
        r["expected"] = [{"expect": "OneOf", "slot": "choice", "options": options}]
        r["observed"] = [{"absent": {"outcome": "Absent"}, "raises": raised("UnconnectedSource"),
                          "zeros": {"outcome": "Zeros", "shape": [1], "dtype": dtype}}[choice]]
        r["choices"] = {"choice": choice}
        if adapter == "tensorflow":  # an observed choice carries no link
            declared = {"basis": "observed", "doc": ""}
        else:
            doc = "https://example.org/doc#x" if adapter == "torch" else m("https://example.org/doc#x")
            declared = {"basis": "documented", "doc": doc, "quote": m("It raises.")}
        r["declared"] = {"choice": {"choice": choice, "versions": m(">=1"), **declared}}
        r["max_abs_err"] = r["max_rel_err"] = None
        r["tolerance"] = None
    return r


def adapter_entry(framework: str, version: str, devices: list[str]) -> dict[str, Any]:
    return {"framework": framework, "version": version, "modes": {"eager": "as called"}, "devices": devices,
            "capabilities": ["recording"], "dtypes": list(DTYPES), "available": True, "reason": None,
            "conformance": {}, "bases": {"documented": 2, "source": 1, "observed": 3}}


def record(results: list[dict[str, Any]], adapters: dict[str, dict[str, Any]], cases: dict[str, Any] | None = None,
           commit: str = "0123abc") -> dict[str, Any]:
    """A complete record around some results; summary and conformance are computed here, by hand-simple rules,
    so the tests can compare them with the report's own arithmetic."""
    cases = copy.deepcopy(CASES if cases is None else cases)
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    for name, info in adapters.items():
        mine = [r for r in results if r["adapter"] == name and cases[r["case"]]["kind"] == "required"
                and r["status"] != "REFERENCE"]
        info["conformance"] = {"eager": {"passed": sum(r["status"] == "PASS" for r in mine),
                                         "denominator": len(mine)}}
    return {
        "schema_version": 2, "kind": "gradspec-run",
        "suite": {"version": "0.2.0", "commit": commit, "dirty": False},
        "created": "2026-11-21T23:59:00+00:00",
        "host": {"hostname": m("host"), "platform": m("Linux"), "machine": "x86_64", "python": "3.11.7"},
        "options": {"adapters": sorted(adapters), "modes": None, "devices": ["cpu"], "dtypes": None, "workers": 2},
        "adapters": adapters, "cases": cases, "results": results,
        "warnings": [m("expectation entry matches no case")], "complete": True, "interrupted": None,
        "summary": {"counts": counts, "executed": sum(v for k, v in counts.items()
                                                      if k not in ("SKIP", "UNSUPPORTED", "MISSING")),
                    "total": len(results)},
    }


def sample_record(only: list[str] | None = None, commit: str = "0123abc") -> dict[str, Any]:
    """The sample run: 5 cases x 3 adapters x 2 dtypes = 30 cells; ``only`` keeps some adapters (a CI job)."""
    results, adapters = [], {}
    for adapter, version, device, framework in ADAPTERS:
        if only is not None and adapter not in only:
            continue
        adapters[adapter] = adapter_entry(framework, version, [device])
        adapters[adapter].update({"origin": "builtin", "target": f"adapters.{framework}_adapter:Adapter"}
                                 if adapter != ODD_ADAPTER else {"origin": "explicit", "target": m("mypkg.ext:Ext")})
        for case, per_adapter in STATUS.items():
            for dtype, status in zip(DTYPES, per_adapter[adapter]):
                choice = UNCONNECTED[adapter] if case == "tape.unconnected_source" else None
                results.append(result(case, adapter, version, device, dtype, status, choice))
    return record(results, adapters, commit=commit)


def plain(record: Any) -> dict[str, Any]:
    """A typed record (what merge returns) as plain dicts and lists."""
    return msgspec.to_builtins(record)


def write(path: Path, rec: dict[str, Any]) -> Path:
    """Write like the run does: strict JSON is not required (NaN tokens allowed), as json.dump writes."""
    path.write_text(json.dumps(rec, indent=1), encoding="utf-8")
    return path

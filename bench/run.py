"""gradspec's benchmark: every speed and memory figure the project states, measured
side by side in one run on this machine.

    python bench/run.py            # about ten minutes on two cores
    python bench/run.py --quick    # skips the -n 0 run of the whole catalog
    python bench/run.py --mutation # adds the mutant catalogue's run (several minutes more)

It prints, as Markdown tables (bench/README.md keeps the figures of record):

- the README's main command (``pytest cases``) at ``-n 2`` and ``-n 0``, wall time and ratio;
- per adapter and mode: ms per item and its ratio to the median adapter; harness overhead
  per item (an item through gradspec minus the framework's own time for the same gradient);
  the expected values' (oracle's) share of item time;
- ``pytest cases --collect-only -q``: wall time, and which frameworks it imported (none);
- peak resident memory of each worker;
- ``gradspec validate / diff / merge / report`` on a generated record of 100,000 results:
  wall time and peak memory of each command;
- with ``--mutation``: ``gradspec mutate`` over the whole mutant catalogue, wall time, kill
  rate and the mean seconds per mutant.

Figures are ratios and times measured in this one process tree; nothing here is a test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("torch", "tensorflow", "jax", "autograd")


def timed_child(cmd: list[str], cwd: Path = ROOT) -> tuple[float, float, int, str]:
    """Run ``cmd`` in a fresh helper process that reports the command's own peak RSS."""
    helper = ("import json, resource, subprocess, sys, time\n"
              "t = time.perf_counter()\n"
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
              "wall = time.perf_counter() - t\n"
              "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
              "print(json.dumps({'wall': wall, 'rss': rss, 'rc': p.returncode, "
              "'out': (p.stdout + p.stderr)[-3000:]}))\n")
    proc = subprocess.run([sys.executable, "-c", helper, *cmd], cwd=cwd, capture_output=True, text=True)
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return data["wall"], data["rss"], data["rc"], data["out"]


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- the main command ---------------------------------------------------------------------------

def main_command(workers: int, out: Path, extra: list[str]) -> tuple[float, dict[str, Any]]:
    cmd = [sys.executable, "-m", "pytest", "cases", "-n", str(workers), "-q", "-p", "no:cacheprovider",
           "--gradspec-report-dir", str(out), *extra]
    wall, _, rc, tail = timed_child(cmd)
    record_path = out / "latest.json"
    if not record_path.exists():
        sys.exit(f"the main command wrote no record (exit {rc}):\n{tail}")
    return wall, json.loads(record_path.read_text())


def per_adapter(record: dict[str, Any]) -> list[list[Any]]:
    """ms per item (expected values excluded) per adapter and mode, against the median adapter."""
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in record["results"]:
        times[(r["adapter"], r["mode"])].append(r["duration_s"] - r.get("oracle_s", 0.0))
    per_adapter_ms = {key: 1000 * sum(v) / len(v) for key, v in times.items()}
    median = statistics.median(per_adapter_ms.values())
    return [[a, m, len(times[(a, m)]), f"{ms:.1f}", f"{ms / median:.2f}"]
            for (a, m), ms in sorted(per_adapter_ms.items(), key=lambda kv: -kv[1])] + \
        [["(median)", "", "", f"{median:.1f}", "1.00"]]


def oracle_share(record: dict[str, Any]) -> tuple[float, float]:
    total = sum(r["duration_s"] for r in record["results"])
    oracle = sum(r.get("oracle_s", 0.0) for r in record["results"])
    return oracle, oracle / total if total else 0.0


# -- harness overhead ---------------------------------------------------------------------------

def overhead(repeats: int) -> list[list[Any]]:
    """An item through gradspec (run_item: program, ops view, answers, judge) against the
    framework's own gradient of the same function called directly, both warm, per adapter."""
    sys.path.insert(0, str(ROOT))
    from gradspec.discovery import discover
    from gradspec.engine import run_item
    from gradspec.loader import load_cases

    cases = {c.id: c for c in load_cases([ROOT / "cases" / "tape.py"])}
    case = cases["tape.square_variable"]  # y = x**2 at x = 3.0, one scalar source
    rows = []
    for spec in discover([], None):
        direct = DIRECT.get(spec.name)
        if spec.cls is None or spec.cls.unavailable() or direct is None:
            continue
        adapter = spec.cls()
        for mode in spec.cls.default_modes:
            item = lambda: run_item(case, adapter, "cpu", "float32", "bench", None, None, mode)  # noqa: E731
            own = direct(mode)
            item(), own()  # warm: imports, kernels, caches
            t_item = best_of(item, repeats)
            t_own = best_of(own, repeats)
            rows.append([spec.name, mode, f"{1000 * t_item:.2f}", f"{1000 * t_own:.2f}",
                         f"{1000 * (t_item - t_own):.2f}"])
    return rows


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _direct_torch(mode: str) -> Callable[[], Any]:
    import torch

    def own() -> Any:
        x = torch.tensor(3.0, requires_grad=True)
        return torch.autograd.grad(x ** 2, x)[0].numpy()
    return own


def _direct_tensorflow(mode: str) -> Callable[[], Any]:
    import tensorflow as tf

    def own() -> Any:
        x = tf.Variable(3.0)
        with tf.GradientTape() as tape:
            y = x ** 2
        return tape.gradient(y, x).numpy()
    return own


def _direct_jax(mode: str) -> Callable[[], Any]:
    import jax

    def own() -> Any:  # a new function each call, as each item is: compiled mode compiles it again
        grad = jax.grad(lambda x: x ** 2)
        return (jax.jit(grad) if mode == "compiled" else grad)(jax.numpy.float32(3.0)).block_until_ready()
    return own


def _direct_autograd(mode: str) -> Callable[[], Any]:
    import autograd

    return lambda: autograd.grad(lambda x: x ** 2)(3.0)


def _direct_numpy(mode: str) -> Callable[[], Any]:
    import numpy as np

    from gradspec.oracle import jacobian

    return lambda: jacobian(lambda x: x ** 2, np.float64(3.0))


DIRECT: dict[str, Callable[[str], Callable[[], Any]]] = {
    "torch": _direct_torch, "tensorflow": _direct_tensorflow, "jax": _direct_jax, "autograd": _direct_autograd,
    "numpy": _direct_numpy,
}


# -- collection -----------------------------------------------------------------------------------

def collection() -> tuple[float, list[str]]:
    probe = ("import sys, pytest\n"
             "pytest.main(['cases', '--collect-only', '-q', '-p', 'no:cacheprovider'])\n"
             f"print('IMPORTED', [m for m in {FRAMEWORKS!r} if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True).stdout
    imported = json.loads(out.rsplit("IMPORTED", 1)[1].strip().replace("'", '"'))
    walls = [timed_child([sys.executable, "-m", "pytest", "cases", "--collect-only", "-q", "-p",
                          "no:cacheprovider"])[0] for _ in range(3)]
    return min(walls), imported


# -- dashboard scale -----------------------------------------------------------------------------

def big_records(record: dict[str, Any], size: int, folder: Path) -> tuple[Path, Path, Path]:
    """A record of ``size`` results made of copies of a real run's results under new case
    ids, a second one with every seventh PASS turned FAIL, and a third that is a copy."""
    results, cases, copy = [], {}, 0
    while len(results) < size:
        for cid, case in record["cases"].items():
            cases[f"{cid}_{copy}"] = case
        for r in record["results"]:
            results.append({**r, "case": f"{r['case']}_{copy}", "nodeid": r["nodeid"].replace("[", f"_{copy}[", 1)})
        copy += 1
    del results[size:]
    base = {**record, "cases": cases, "results": results}
    head = {**base, "results": [({**r, "status": "FAIL", "fail_kind": "value_mismatch"}
                                 if i % 7 == 0 and r["status"] == "PASS" else r) for i, r in enumerate(results)]}
    paths = folder / "base.json", folder / "head.json", folder / "copy.json"
    for path, rec in zip(paths, (base, head, base)):
        path.write_text(json.dumps(rec, separators=(",", ":")))
    return paths


def commands(paths: tuple[Path, Path, Path], folder: Path) -> list[list[Any]]:
    base, head, copy = map(str, paths)
    gradspec = [sys.executable, "-m", "gradspec"]
    rows = []
    for name, args in (("validate", ["validate", base]),
                       ("diff", ["diff", base, head, "--markdown", str(folder / "comment.md")]),
                       ("merge", ["merge", base, copy, "-o", str(folder / "merged.json")]),
                       ("report", ["report", base, "--html", str(folder / "site"), "--markdown",
                                   str(folder / "summary.md")])):
        wall, rss, rc, tail = timed_child([*gradspec, *args])
        if rc not in (0, 1):
            sys.exit(f"gradspec {name} failed ({rc}):\n{tail}")
        rows.append([name, f"{wall:.2f}", f"{rss:.0f}"])
    return rows


# -- the mutation run --------------------------------------------------------------------------------

def mutation_run() -> list[list[Any]]:
    """``gradspec mutate`` over the whole catalogue (2 runs at a time), as a user runs it."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gradspec", "mutate", "-n", "2"], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = proc.stdout.splitlines()
    rate = next((ln.split(": ", 1)[1].split(" in ")[0] for ln in lines if ln.startswith("kill rate:")),
                f"no kill rate (exit {proc.returncode})")
    mutants = sum(ln.startswith(("killed", "SURVIVED")) for ln in lines)
    return [[f"{wall:.1f}", mutants, rate, f"{wall / max(1, mutants):.1f}"]]


# -- putting it together -----------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the -n 0 run of the whole catalog")
    parser.add_argument("--records", type=int, default=100_000, help="results in the generated record")
    parser.add_argument("--repeats", type=int, default=30, help="repeats for the overhead figures (best of)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--mutation", action="store_true",
                        help="also time `gradspec mutate` over the whole mutant catalogue (several minutes)")
    args = parser.parse_args()
    figures: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
                               "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory(prefix="gradspec-bench-") as tmp:
        tmpdir = Path(tmp)
        print(f"# gradspec benchmark, {figures['date']}, {figures['cpus']} CPUs, Python {figures['python']}\n")

        wall2, record = main_command(2, tmpdir / "n2", [])
        figures["main_n2_s"] = wall2
        rows = [["-n 2", f"{wall2:.1f}", len(record["results"])]]
        if not args.quick:
            wall0, _ = main_command(0, tmpdir / "n0", [])
            figures["main_n0_s"] = wall0
            rows.append(["-n 0", f"{wall0:.1f}", len(record["results"])])
            rows.append(["-n 0 / -n 2", f"{wall0 / wall2:.2f}", ""])
        print("## The main command: `pytest cases`\n")
        print(table(["run", "wall s", "items"], rows), "\n")

        print("## Per adapter (the -n 2 run)\n")
        adapter_rows = per_adapter(record)
        figures["per_adapter"] = adapter_rows
        print(table(["adapter", "mode", "items", "ms per item", "ratio to median"], adapter_rows), "\n")
        oracle_s, share = oracle_share(record)
        figures["oracle_share"] = share
        print(f"Expected values (the float64 oracle and analytic formulas): {oracle_s:.1f} s in all, "
              f"{100 * share:.1f}% of item time; computed once per case and dtype in each worker.\n")
        rss = record.get("resources", {}).get("peak_rss_mib", {})
        figures["peak_rss_mib"] = rss
        print(table(["worker", "peak RSS MiB"], [[w, f"{m:.0f}"] for w, m in sorted(rss.items())]), "\n")

        print("## Harness overhead per item (tape.square_variable, float32, warm, best of "
              f"{args.repeats})\n")
        overhead_rows = overhead(args.repeats)
        figures["overhead"] = overhead_rows
        print(table(["adapter", "mode", "item ms", "framework alone ms", "overhead ms"], overhead_rows), "\n")

        collect_s, imported = collection()
        figures["collect_s"], figures["collect_imported"] = collect_s, imported
        print("## Collection: `pytest cases --collect-only -q`\n")
        print(f"{collect_s:.2f} s (best of 3); frameworks imported: {imported or 'none'}\n")

        print(f"## Reports at dashboard scale: a generated record of {args.records:,} results\n")
        paths = big_records(record, args.records, tmpdir)
        size = paths[0].stat().st_size / 2 ** 20
        command_rows = commands(paths, tmpdir)
        figures["record_mib"], figures["commands"] = size, command_rows
        print(f"The record is {size:.0f} MiB.\n")
        print(table(["command", "wall s", "peak RSS MiB"], command_rows), "\n")
    if args.mutation:
        mutation_rows = mutation_run()
        figures["mutation"] = mutation_rows
        print("## The mutation run: `gradspec mutate -n 2`, the whole catalogue\n")
        print(table(["wall s", "mutants", "killed", "s per mutant"], mutation_rows), "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

"""The reproduction command: everything an out-of-tree adapter needs, every part quoted,
and no report written into the checkout when it is pasted."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from gradspec import repro
from gradspec.discovery import AdapterSpec, discover, load_spec

REPO = Path(__file__).resolve().parents[1]
HOSTILE_NODE = "cases/tape.py::square[it's-$(touch PWNED)-`id`-\"x\"]"
HOSTILE_DEVICE = "gpu$(touch PWNED);'\""


def shell_words(cmd: str, cwd: Path) -> list[str]:
    """What a POSIX shell makes of the command: the variables its prefix sets, then its words."""
    echo = "sh -c 'printenv PYTHONPATH GRADSPEC_JSONL_COMMAND; printf \"%s\\n\" \"$@\"' sh"
    out = subprocess.run(["sh", "-c", cmd.replace("python -m pytest", echo, 1)], cwd=cwd, capture_output=True,
                         text=True, env={"PATH": os.environ["PATH"]})
    return out.stdout.splitlines()


def test_a_hostile_node_id_device_and_environment_value_are_quoted(tmp_path: Path) -> None:
    spec = load_spec("docs.tape_adapter_template:MinitapeAdapter", "explicit")
    jsonl = load_spec("adapters.jsonl_adapter:JsonlAdapter", "builtin", "jsonl")
    cmd = repro.command(HOSTILE_NODE, spec, HOSTILE_DEVICE, "eager", environ={"PYTHONPATH": "/x'$(id)"})
    words = shlex.split(cmd)
    assert words[0] == "PYTHONPATH=" + os.pathsep.join([str(REPO), "/x'$(id)"])
    assert words[1:] == ["python", "-m", "pytest", HOSTILE_NODE, "--gradspec-adapter",
                         "docs.tape_adapter_template:MinitapeAdapter", "-n", "0", "--gradspec-adapters", "minitape",
                         "--gradspec-devices", HOSTILE_DEVICE, "--gradspec-modes", "eager", "--gradspec-no-report"]
    assert shell_words(cmd, tmp_path) == [words[0].partition("=")[2], *words[4:]]
    cmd = repro.command(HOSTILE_NODE, jsonl, "cpu", "eager", environ={"GRADSPEC_JSONL_COMMAND": "srv --x '$(id)'"})
    assert shlex.split(cmd)[0] == "GRADSPEC_JSONL_COMMAND=srv --x '$(id)'"
    assert shell_words(cmd, tmp_path)[0] == "srv --x '$(id)'"
    assert not (tmp_path / "PWNED").exists()


def test_a_builtin_adapter_needs_no_target_and_an_undeclared_variable_is_not_carried() -> None:
    torch = AdapterSpec("torch", "adapters.torch_adapter:TorchAdapter", "builtin")
    cmd = repro.command("cases/tape.py::x[torch-cpu-float32]", torch, "cpu", "eager", environ={"SECRET": "s"})
    assert cmd == ("python -m pytest 'cases/tape.py::x[torch-cpu-float32]' -n 0 --gradspec-adapters torch "
                   "--gradspec-devices cpu --gradspec-modes eager --gradspec-no-report")


def test_the_flag_and_the_variable_naming_one_adapter_load_it_once(monkeypatch) -> None:
    target = "docs.tape_adapter_template:MinitapeAdapter"
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.setenv("GRADSPEC_ADAPTER", target)
    assert [s.name for s in discover([target], ["minitape"])] == ["minitape"]


def test_the_recorded_command_reruns_the_cell_without_writing_a_report(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "cases/tape.py", "-k", "square_variable", "-q", "-n", "0",
         "-p", "no:cacheprovider", "--gradspec-adapter", "docs.tape_adapter_template:MinitapeAdapter",
         "--gradspec-adapters", "minitape", "--gradspec-report-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**env, "PYTHONPATH": str(REPO)})
    cell = next(r for r in json.loads((tmp_path / "latest.json").read_text())["results"]
                if r["dtype"] == "float64")
    assert run.returncode == 0 and cell["status"] == "PASS", run.stdout[-2000:]
    again = subprocess.run(["sh", "-c", cell["repro"].replace("python ", f"{shlex.quote(sys.executable)} ", 1)],
                           cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert again.returncode == 0 and "1 passed" in again.stdout, again.stdout[-2000:] + again.stderr[-2000:]
    assert "gradspec report:" not in again.stdout + again.stderr  # the line each written report file gets

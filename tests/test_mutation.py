"""The mutation tool: a rule broken inside a real framework, in every pytest
process, is caught by the cases that reach it; the unmutated selection is clean."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradspec import mutation
from gradspec.cli import main

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "cases"
FRAMEWORKS = {"torch", "tensorflow", "jax", "autograd"}


@pytest.fixture(scope="module")
def catalogue() -> dict[str, mutation.Mutant]:
    return mutation.load_catalogue()


def test_the_catalogue_spans_every_framework_and_kind_of_wrongness(catalogue):
    assert len(catalogue) >= 30
    assert {m.adapter for m in catalogue.values()} == FRAMEWORKS
    assert set(mutation.BREAKS) - {"convention"} <= {m.breaks for m in catalogue.values()}
    for framework in FRAMEWORKS:
        assert sum(m.adapter == framework for m in catalogue.values()) >= 6, framework


def test_fast_mutants_are_killed_and_their_baseline_is_clean(catalogue):
    chosen = [catalogue["autograd_sin_sign"], catalogue["autograd_add_unbroadcast"]]
    report = mutation.run(chosen, CASES, jobs=2)
    assert report.baseline_clean, mutation.render(report)
    assert report.killed == ["autograd_sin_sign", "autograd_add_unbroadcast"], mutation.render(report)
    assert any("wrong_shape" in f for f in report.results["autograd_add_unbroadcast"].failing)
    assert "kill rate: 2/2 (100%)" in mutation.render(report)


def test_a_mutant_is_live_in_xdist_workers(catalogue):
    outcome = mutation.run_selection("autograd", "tanh_second_order", "autograd_tanh_higher_order", CASES, xdist=2)
    assert outcome.killed and all("value_mismatch" in f for f in outcome.failing), outcome
    assert outcome.counts["FAIL"] == 2


def test_a_mutant_its_selection_does_not_reach_survives(catalogue):
    """autograd's sin broken, but only a case without sin run: the report names it a survivor."""
    mutant = catalogue["autograd_sin_sign"]
    outcome = mutation.run_selection("autograd", "cube_variable", mutant.name, CASES)
    assert outcome.counts["PASS"] >= 1 and not outcome.killed
    report = mutation.Report(results={mutant.name: outcome}, mutants={mutant.name: mutant})
    assert report.survivors == [mutant.name] and not report.ok
    assert "survivors (each is a missing case): autograd_sin_sign" in mutation.render(report)


def test_an_unknown_mutant_is_a_usage_error():
    env = {**os.environ, mutation.ENV: "no_such_mutant"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "cases", "-q", "-p", "no:cacheprovider",
                           "--gradspec-no-report", "--collect-only"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 4 and "no_such_mutant" in proc.stderr, proc.stderr[-2000:]


def test_the_command_refuses_unknown_names(capsys):
    assert main(["mutate", "--mutants", "nope"]) == 2
    assert "no such mutants: nope" in capsys.readouterr().err


@pytest.mark.mutation_catalogue
def test_every_mutant_of_the_catalogue_is_killed(catalogue):
    """The whole catalogue, on every run of the tests (about two minutes on two cores)."""
    report = mutation.run(list(catalogue.values()), CASES, jobs=2)
    assert report.ok, mutation.render(report)

"""Self-test of the case catalog (cases/*.py), framework-free and fast.

Every case loads and validates; ids are unique; every documentation link is
a real documentation page with a #fragment; the implementation-defined slots
and labels are the ones adapters' expectation files refer to; and every
documented or analytic expected value agrees with the float64
finite-difference oracle, so a typo in a literal or a formula fails here
before it fails on any framework.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from gradspec.case import Case, Kind, Tolerance
from gradspec.expect import AnalyticIs, DerivedIs, OneOf
from gradspec.expected_values import Resolved, resolve
from gradspec.judge import Judge, Mismatch
from gradspec.loader import case_files, load_cases
from gradspec.oracle import FiniteDifferenceOracle, jacobian
from gradspec.outcomes import Answer, describe
from gradspec.program import Program, RunContext
from gradspec.requests import BatchedGrad, Probe, WatchedVariables
from gradspec.tolerance import with_order_floor

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
CATALOG: list[Case] = load_cases([CASES_DIR])
BY_ID = {c.id: c for c in CATALOG}

# The ids the issue-2 catalog must define, per file (the adapters' expectation
# files are keyed by them).
ISSUE_2_IDS = {
    "tape.py": [
        "tape.square_variable", "tape.cube_variable", "tape.watched_constant", "tape.sources_list",
        "tape.sources_dict", "tape.source_kinds", "tape.watched_variables", "tape.watch_accessed_off",
        "tape.intermediate_source", "tape.non_persistent_second_request", "tape.persistent_reuse",
        "tape.nested_cube", "tape.nested_square", "tape.unconnected_source", "tape.unconnected_zero",
        "tape.integer_source", "tape.non_scalar_target", "tape.jacobian_square", "tape.control_flow_branch",
        "tape.python_loop_power", "tape.no_gradient_op",
    ],
    "layers.py": [
        "layers.dense_matmul", "layers.framework_dense", "layers.framework_dense_float16", "layers.word2vec_bow",
        "layers.naive_softmax", "layers.negative_sampling",
    ],
    "pool.py": ["pool.max_pool1d_untied", "pool.max_pool1d_ties", "pool.avg_pool1d"],
    "variables.py": [
        "variables.shape_mismatch", "variables.default_int_dtype", "variables.default_float_dtype",
        "variables.module_collects", "variables.gradient_descent", "variables.float16_gradient",
    ],
}

# Slot -> labels of every implementation-defined issue-2 case, as the
# expectation files spell them.
ISSUE_2_SLOTS = {
    "tape.source_kinds": {"b": {"absent", "raises", "value"}, "c": {"absent", "raises", "value"},
                          "d": {"absent", "raises", "value"}},
    "tape.unconnected_source": {"choice": {"absent", "raises", "zeros"}},
    "tape.integer_source": {"choice": {"absent", "raises"}},
    "tape.non_scalar_target": {"choice": {"sum", "raises"}},
    "layers.framework_dense_float16": {"choice": {"casts", "raises"}},
    "layers.word2vec_bow": {"form": {"sparse", "dense"}},
    "pool.max_pool1d_ties": {"choice": {"first", "split"}},
    "variables.default_int_dtype": {"choice": {"int32", "int64"}},
    "variables.default_float_dtype": {"choice": {"float32", "float64"}},
}

DOC_HOSTS = ("www.tensorflow.org", "pytorch.org", "docs.pytorch.org", "docs.jax.dev", "keras.io", "numpy.org", "docs.scipy.org",
             "docs.python.org", "data-apis.org", "github.com", "en.wikipedia.org", "arxiv.org")

# The oracle is accurate to ~1e-11 relative at first order; nested orders get
# the engine's own floor.
AGREEMENT = Tolerance(rtol=1e-7, atol=1e-9)


def test_the_catalog_has_cases_in_every_file():
    files = case_files([CASES_DIR])
    assert files, "no case files under cases/"
    per_file = Counter(Path(c.file).name for c in CATALOG)
    assert [f.name for f in files if per_file[f.name] == 0] == []


@pytest.mark.parametrize("filename", sorted(ISSUE_2_IDS))
def test_issue_2_ids_are_defined_in_their_file(filename):
    defined = {c.id for c in CATALOG if Path(c.file).name == filename}
    assert sorted(set(ISSUE_2_IDS[filename]) - defined) == []


def test_ids_and_item_names_are_unique():
    ids = Counter(c.id for c in CATALOG)
    assert [i for i, n in ids.items() if n > 1] == []
    names = Counter((c.file, c.name) for c in CATALOG)
    assert [k for k, n in names.items() if n > 1] == []


@pytest.mark.parametrize("c", CATALOG, ids=lambda c: c.id)
def test_docs_are_documentation_pages_with_a_fragment(c):
    for doc in c.docs:
        url = urlsplit(doc.url)
        assert url.scheme == "https" and url.fragment, doc.url
        assert url.hostname in DOC_HOSTS, f"{doc.url}: not a documentation host {DOC_HOSTS}"
        assert doc.quote == doc.quote.strip() and "\n" not in doc.quote, f"{doc.url}: quote must be one line"


@pytest.mark.parametrize("case_id", sorted(ISSUE_2_SLOTS))
def test_implementation_defined_slots_use_the_expectation_file_labels(case_id):
    c = BY_ID[case_id]
    assert c.kind is Kind.IMPLEMENTATION_DEFINED
    assert {s.slot: set(s.options) for s in c.impl_slots} == ISSUE_2_SLOTS[case_id]


def test_cases_with_requirements_or_probes_are_not_plain_mathematics():
    """A case gated by a capability other than a request's own, or answered by
    a probe, states API behaviour or a convention, never REQUIRED maths."""
    maths_capabilities = {"higher_order", "jacobian", "hessian", "forward_mode", "vmap", "output_gradients",
                          "control_flow_ops", "python_control_flow", "checkpoint", "custom_gradient", "complex", "float16",
                          "bfloat16"}
    wrong = [c.id for c in CATALOG if c.kind is Kind.REQUIRED
             and ((set(c.requires) - maths_capabilities) or any(isinstance(r, Probe) for r in c.requests))]
    assert wrong == []


# -- expected values against the float64 oracle --------------------------------

def _states_values(expected: Any) -> bool:
    """Whether an expectation holds a documented or analytic value or a choice."""
    if isinstance(expected, Resolved):
        return expected.source != "oracle"
    if isinstance(expected, OneOf):
        return True
    if isinstance(expected, list):
        return any(_states_values(e) for e in expected)
    if isinstance(expected, dict):
        return any(_states_values(e) for e in expected.values())
    return False


def _pairs(expected: Any, answer: Answer) -> list[tuple[Any, Answer]]:
    """(expectation, oracle answer) pairs worth comparing: documented and
    analytic values, and implementation-defined choices (the oracle's own
    outcome must be one of them).  API outcomes (Absent, Raised, Info) are
    properties of recordings the oracle does not have."""
    if isinstance(expected, Resolved):
        # values only: a required sparse form is an API property finite differences do not have
        return [] if expected.source == "oracle" else [(dataclasses.replace(expected, dtype=None, form="any"),
                                                        answer)]
    if isinstance(expected, OneOf):
        return [(expected, answer)]
    if isinstance(expected, list) and isinstance(answer, list) and len(answer) == len(expected):
        return [p for e, a in zip(expected, answer) for p in _pairs(e, a)]
    if isinstance(expected, dict) and isinstance(answer, dict) and list(answer) == list(expected):
        return [p for k in expected for p in _pairs(expected[k], answer[k])]
    if isinstance(expected, (list, dict)) and _states_values(expected):
        return [(expected, answer)]  # a structure the oracle did not reproduce: let the judge say so
    return []


def _order(expected: Any) -> int:
    if isinstance(expected, Resolved):
        return expected.order
    if isinstance(expected, OneOf):
        return max((_order(e) for e in expected.options.values()), default=1)
    return 1


# Tags of cases whose gradient is a rule other than the derivative (finite
# differences see straight through stop_gradient or a custom rule).
NOT_THE_DERIVATIVE = {"stop_gradient", "custom_gradient"}


def _checkable(c: Case) -> bool:
    """A case whose body the oracle can run and that states at least one value
    or choice for it."""
    if c.body is None or any(isinstance(r, (Probe, WatchedVariables, BatchedGrad)) for r in c.requests):
        return False
    if NOT_THE_DERIVATIVE & set(c.tags) or c.area == "conventions":
        return False  # conventions sit at kinks, ties and singular points: no finite difference there
    if all(d.startswith("complex") for d in c.dtypes):
        return False  # the oracle differentiates real functions only; complex values are analytic
    return any(_states_values(e) for e in resolve(c, "float64"))


CHECKABLE = [c for c in CATALOG if _checkable(c)]


def test_the_oracle_check_covers_the_catalog():
    """Every case with a gradient value or choice is checked below."""
    assert {c.id for c in CHECKABLE} >= {
        "tape.square_variable", "tape.sources_list", "tape.source_kinds", "tape.nested_cube",
        "tape.non_scalar_target", "layers.word2vec_bow", "layers.negative_sampling", "pool.max_pool1d_ties",
        "variables.float16_gradient"}


@pytest.mark.parametrize("c", CHECKABLE, ids=lambda c: c.id)
def test_expected_values_agree_with_the_float64_oracle(c):
    program = Program.for_case(c, "float64")
    answers = FiniteDifferenceOracle(exact=True).execute(program, RunContext("float64"))
    problems = []
    for index, (expected, answer) in enumerate(zip(resolve(c, "float64"), answers)):
        for want, got in _pairs(expected, answer):
            judge = Judge("float64", with_order_floor(AGREEMENT, _order(want)))
            try:
                judge.match(want, got, f"request {index}")
            except Mismatch as m:
                problems.append(f"{m.kind}: {m.message} (oracle: {describe(got)})")
    assert problems == []


# -- helpers that compute expected values -----------------------------------------

def test_the_descent_reference_ends_where_the_issue_says():
    """The float64 loop with the analytic subgradient ends at (2.004, -0.996)."""
    (e,) = BY_ID["variables.gradient_descent"].expect
    assert isinstance(e, AnalyticIs)
    np.testing.assert_allclose(e.fn(), [2.004, -0.996], rtol=0, atol=1e-9)


def test_the_dense_layer_reference_matches_finite_differences():
    """The NumPy gradients used for a framework's own layer are those of
    mean(relu(x@kernel + bias)^2), checked by finite differences at random
    weights (seeded) that keep every pre-activation away from the kink."""
    (e,) = BY_ID["layers.framework_dense"].expect
    assert isinstance(e, DerivedIs)
    rng = np.random.default_rng(5)
    kernel, bias = rng.uniform(-0.4, 0.4, (2, 32)), rng.uniform(-0.4, 0.4, 32)
    x = np.linspace([1.0, 5.0], [10.0, -4.0], 10)
    assert np.min(np.abs(x @ kernel + bias)) > 0.02  # finite-difference steps stay on one side of 0

    def loss(k: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(np.maximum(x @ k + b, 0.0) ** 2))

    got = e.fn({"kernel": kernel, "bias": bias})
    np.testing.assert_allclose(got["grad_kernel"], jacobian(lambda k: loss(k, bias), kernel), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got["grad_bias"], jacobian(lambda b: loss(kernel, b), bias), rtol=1e-8, atol=1e-10)


def test_the_dense_layer_reference_reports_a_kernel_in_the_wrong_layout():
    """A kernel reported as (out, in) is expected back at (in, out), so the
    judge answers wrong_shape instead of the reference crashing."""
    (e,) = BY_ID["layers.framework_dense"].expect
    got = e.fn({"kernel": np.zeros((32, 2)), "bias": np.zeros(32)})
    assert {k: v.shape for k, v in got.items()} == {"kernel": (2, 32)}


# -- each idiom and each option its own case ----------------------------------------

SPLIT_IDIOMS = {
    # the two integer-source idioms the TensorFlow guide names, asked separately
    "tape.integer_source": "int32", "tape.integer_watched_source": "int32",
    # where's NaN trap through more than one inner function
    "conventions.where_nan_trap": "sqrt", "conventions.where_nan_trap_log": "log",
    "conventions.where_nan_trap_reciprocal": "1 / x",
    # max along an axis through both idioms PyTorch offers
    "conventions.max_reduce_tie_axis": "torch.amax", "conventions.max_with_index_tie_axis": "torch.max(x, dim)",
    # the framework's own relu beside maximum(x, x * 0)
    "conventions.relu_at_zero": "own relu", "conventions.maximum_zero_at_zero": "maximum(x, x * 0)",
}


@pytest.mark.parametrize("case_id", sorted(SPLIT_IDIOMS))
def test_each_idiom_is_its_own_case_and_its_statement_names_what_it_calls(case_id):
    case = next((c for c in CATALOG if c.id == case_id), None)
    assert case is not None, f"{case_id} is not in the catalog"
    assert SPLIT_IDIOMS[case_id] in case.statement, case.statement


def test_a_case_about_an_option_requires_the_option():
    by_id = {c.id: c for c in CATALOG}
    assert "unconnected_zero" in by_id["tape.unconnected_zero"].requires
    assert "unconnected_absent" in by_id["tape.unconnected_absent"].requires


def test_an_engine_that_tracks_in_place_updates_is_legitimate():
    case = next(c for c in CATALOG if c.id == "control.inplace_modified")
    assert case.kind is Kind.IMPLEMENTATION_DEFINED

"""The judge keeps outcomes apart and reports the first mismatch with its kind."""
from __future__ import annotations

import numpy as np
import pytest

from gradspec.case import Tolerance
from gradspec.expect import AbsentIs, OneOf, RaisesIs, ZerosIs
from gradspec.expected_values import DotProduct, Resolved
from gradspec.expectation_file import Declaration, Entry
from gradspec.judge import Judge
from gradspec.outcomes import Absent, ErrorKind, Raised, Sparse, Value, Zeros

F32 = Tolerance(2e-5, 1e-6)


def judge(expected, observed, dtype="float32", declared=None, tol=F32):
    return Judge(dtype, tol).verdict([expected], [observed], declared)


def val(*xs, dtype="float32"):
    return Value(np.asarray(xs, dtype=dtype))


def test_value_within_tolerance_passes_and_records_errors():
    v = judge(Resolved(np.array([6.0]), "doc"), val(6.00001))
    assert v.ok and v.max_abs_err == pytest.approx(1e-5, rel=1e-2)


def test_value_scaled_by_one_percent_fails():
    v = judge(Resolved(np.array([6.0, 2.0]), "doc"), val(6.06, 2.02))
    assert not v.ok and v.fail_kind == "value_mismatch" and "max rel error 0.01" in v.message


def test_absent_is_not_zeros_and_zeros_is_not_absent():
    assert judge(AbsentIs(), Zeros()).fail_kind == "wrong_outcome"
    assert judge(ZerosIs(), Absent()).fail_kind == "wrong_outcome"
    assert judge(ZerosIs(), val(0.0, 0.0)).ok
    assert judge(ZerosIs(), val(0.0, 1e-30)).fail_kind == "wrong_outcome"


def test_errors_are_told_apart():
    assert judge(RaisesIs(ErrorKind.TapeExhausted), val(1.0)).fail_kind == "missing_error"
    wrong = judge(RaisesIs(ErrorKind.TapeExhausted), Raised(ErrorKind.UnconnectedSource, "RuntimeError", "x"))
    assert wrong.fail_kind == "wrong_error"
    assert judge(RaisesIs(ErrorKind.TapeExhausted), Raised(ErrorKind.TapeExhausted)).ok


def test_dtype_and_shape_are_part_of_the_outcome():
    assert judge(Resolved(np.array([1.0]), "doc"), val(1.0, dtype="float64")).fail_kind == "wrong_dtype"
    assert judge(Resolved(np.array([[1.0]]), "doc"), val(1.0)).fail_kind == "wrong_shape"


def test_structure_must_mirror_the_sources():
    exp = {"a": Resolved(np.array(1.0), "doc"), "b": Resolved(np.array(2.0), "doc")}
    obs_swapped = {"b": Value(np.float32(2.0)[()]), "a": Value(np.float32(1.0)[()])}
    assert judge(exp, {k: Value(np.asarray(v, dtype="float32")) for k, v in (("a", 1.0), ("b", 2.0))}).ok
    obs = {k: Value(np.asarray(v.array)) for k, v in obs_swapped.items()}
    assert judge(exp, obs).fail_kind == "wrong_structure"
    assert judge([Resolved(np.array(1.0), "doc")], Value(np.float32(1.0))).fail_kind == "wrong_structure"


def test_nan_and_inf_are_data():
    assert judge(Resolved(np.array([np.nan, np.inf]), "doc"), val(np.nan, np.inf)).ok
    assert judge(Resolved(np.array([np.nan, 1.0]), "doc"), val(1.0, 1.0)).fail_kind == "value_mismatch"
    assert judge(Resolved(np.array([np.inf]), "doc"), val(-np.inf)).fail_kind == "value_mismatch"


def test_sparse_is_densified_only_for_comparison_and_form_is_checked():
    sparse = Sparse(np.array([1, 1]), np.ones((2, 2), dtype="float32"), (3, 2))
    want = Resolved(np.array([[0, 0], [2, 2], [0, 0]], dtype=float), "analytic")
    assert judge(want, sparse).ok
    dense_only = Resolved(want.array, "analytic", form="dense")
    assert judge(dense_only, sparse).fail_kind == "wrong_outcome"


def test_one_of_records_the_choice_and_a_declared_change_fails():
    allowed = OneOf({"absent": AbsentIs(), "zeros": ZerosIs()}, "choice")
    v = judge(allowed, Absent())
    assert v.ok and v.choices == {"choice": "absent"}
    documented = Declaration("tape.u", Entry("tape.u", {"*": "absent"}, "documented", "https://e.org/a#b", "q"))
    changed = judge(allowed, val(0.0), declared=documented)
    assert changed.fail_kind == "behaviour_changed" and "declares 'absent' (documented)" in changed.message
    outside = judge(allowed, Raised(ErrorKind.UnconnectedSource))
    assert outside.fail_kind == "wrong_outcome" and "none of the allowed" in outside.message


def test_float64_tolerance_catches_float32_rounding():
    x = np.array([0.1, 1.3, 2.7])
    exact = Resolved(np.cos(x), "analytic")
    rounded = Value(np.cos(x.astype(np.float32)).astype(np.float64))
    assert judge(exact, Value(np.cos(x)), dtype="float64", tol=Tolerance(1e-9, 1e-10)).ok
    assert judge(exact, rounded, dtype="float64", tol=Tolerance(1e-9, 1e-10)).fail_kind == "value_mismatch"


def test_dot_product_test():
    tangent = np.array([1.0, 2.0])
    assert judge(DotProduct(5.0, tangent), val(1.0, 2.0)).ok
    assert judge(DotProduct(5.0, tangent), val(2.0, 1.0)).fail_kind == "value_mismatch"


def test_when_two_options_match_the_documented_one_names_the_choice():
    same = OneOf({"plus": Resolved(np.array(2.0), "analytic"), "minus": Resolved(np.array(2.0), "analytic")},
                 "convention")
    assert judge(same, Value(np.float32(2.0)[()] * np.ones((), "float32"))).choices == {"convention": "plus"}
    documented = Declaration("c.x", Entry("c.x", {"*": "minus"}, "observed"))
    v = judge(same, Value(np.ones((), "float32") * 2), declared=documented)
    assert v.ok and v.choices == {"convention": "minus"}

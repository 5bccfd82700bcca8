"""The mutant catalogue: one rule broken inside one real framework each.

``gradspec.mutation`` runs them (``python -m gradspec mutate``).  This module
imports no framework: each ``patch`` names a function in this package that
imports its framework when the mutant is applied.  ``select`` is the pytest
``-k`` expression of the cases that can reach the rule.
"""
from __future__ import annotations

from gradspec.mutation import Mutant

J, T, F, A = "mutants.jax_rules", "mutants.torch_rules", "mutants.tensorflow_rules", "mutants.autograd_rules"

CATALOGUE: tuple[Mutant, ...] = (
    # -- JAX: primitive rules in jax._src.interpreters.{ad,batching}, public transforms ------------
    Mutant("jax_sin_jvp_sign", "jax", "value", "lax.sin_p JVP: -cos", "sin", f"{J}:sin_jvp_sign"),
    Mutant("jax_tanh_higher_order", "jax", "higher_order", "lax.tanh_p JVP with a constant slope",
           "tanh", f"{J}:tanh_jvp_constant_slope"),
    Mutant("jax_sin_complex_conj", "jax", "complex", "lax.sin_p JVP: conj(cos z) for complex z",
           "complex or holomorphic", f"{J}:sin_jvp_conjugated_for_complex"),
    Mutant("jax_exp_float32", "jax", "dtype", "lax.exp_p JVP computed in float32", "exp and float64",
           f"{J}:exp_jvp_float32"),
    Mutant("jax_mul_vmap_reversed", "jax", "vmap", "lax.mul_p batching rule reverses the batch",
           "batched", f"{J}:mul_batching_reversed"),
    Mutant("jax_broadcast_transpose_mean", "jax", "value", "lax.broadcast_in_dim_p transpose: mean, not sum",
           "row or col or broadcast", f"{J}:broadcast_transpose_mean"),
    Mutant("jax_grad_non_scalar", "jax", "missing_error", "jax.grad of a non-scalar output sums it",
           "non_scalar", f"{J}:grad_sums_non_scalar"),
    Mutant("jax_integer_input_error", "jax", "error_kind", "jax.grad's integer-input check raises ValueError",
           "integer_source", f"{J}:integer_input_value_error"),
    Mutant("jax_jvp_negated", "jax", "forward_mode", "jax.jvp negates the output tangent", "jvp or hvp",
           f"{J}:jvp_negated"),
)

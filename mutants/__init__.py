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
    # -- PyTorch: public functions replaced by autograd.Functions with a broken derivative --------
    Mutant("torch_sin_sign", "torch", "value", "torch.sin backward: -cos", "sin", f"{T}:sin_backward_sign"),
    Mutant("torch_sin_complex_unconjugated", "torch", "complex", "torch.sin backward: cos z, not conj(cos z)",
           "complex", f"{T}:sin_backward_unconjugated"),
    Mutant("torch_exp_higher_order", "torch", "higher_order", "torch.exp backward with a detached output",
           "exp", f"{T}:exp_backward_detached"),
    Mutant("torch_amax_first_index", "torch", "convention", "torch.amax: the whole gradient to the first tie",
           "max", f"{T}:amax_first_index"),
    Mutant("torch_matmul_untransposed", "torch", "value", "torch.matmul backward: g @ b instead of g @ b.T",
           "matmul or dense", f"{T}:matmul_backward_untransposed"),
    Mutant("torch_tanh_jvp_negated", "torch", "forward_mode", "torch.tanh forward-mode rule negated",
           "tanh or jvp or forward", f"{T}:tanh_forward_mode_negated"),
    Mutant("torch_grad_retains", "torch", "missing_error", "torch.autograd.grad always retains the graph",
           "persist", f"{T}:grad_always_retains"),
    Mutant("torch_non_scalar_value_error", "torch", "error_kind",
           "torch.autograd.grad of a non-scalar output raises ValueError", "non_scalar",
           f"{T}:non_scalar_value_error"),
    Mutant("torch_vmap_reversed", "torch", "vmap", "torch.func.vmap reverses the batch", "batched",
           f"{T}:vmap_reversed"),
    # -- TensorFlow: registered gradient functions, tape and accumulator entry points ------------
    Mutant("tf_sin_sign", "tensorflow", "value", "Sin gradient: -cos", "sin", f"{F}:sin_gradient_sign"),
    Mutant("tf_tanh_float64", "tensorflow", "dtype", "Tanh gradient returned as float64", "tanh",
           f"{F}:tanh_gradient_float64"),
    Mutant("tf_add_unreduced", "tensorflow", "shape", "AddV2 gradient not summed over broadcast axes",
           "row or col or broadcast or add", f"{F}:add_gradient_unreduced"),
    Mutant("tf_gather_dense", "tensorflow", "sparse", "GatherV2/ResourceGather gradients dense, not IndexedSlices",
           "gather or embedding or word2vec", f"{F}:gather_gradient_dense"),
    Mutant("tf_gather_rows_reversed", "tensorflow", "sparse", "GatherV2/ResourceGather IndexedSlices rows reversed",
           "gather or embedding or word2vec", f"{F}:gather_gradient_rows_reversed"),
    Mutant("tf_tanh_second_order_zero", "tensorflow", "higher_order", "TanhGrad gradient is zero",
           "tanh or hessian or hvp", f"{F}:tanh_second_derivative_zero"),
    Mutant("tf_square_unconjugated", "tensorflow", "complex", "Square gradient: 2z, not conj(2z)",
           "square or complex", f"{F}:square_gradient_unconjugated"),
    Mutant("tf_forward_accumulator_negated", "tensorflow", "forward_mode", "ForwardAccumulator.jvp negated",
           "jvp or hvp or forward", f"{F}:forward_accumulator_negated"),
    Mutant("tf_tape_never_released", "tensorflow", "missing_error", "a non-persistent tape is never released",
           "persist", f"{F}:tape_never_released"),
    Mutant("tf_vectorized_map_reversed", "tensorflow", "vmap", "tf.vectorized_map reverses the batch",
           "batched", f"{F}:vectorized_map_reversed"),
    Mutant("tf_no_gradient_type_error", "tensorflow", "error_kind",
           "DeepCopy (no gradient) raises TypeError instead of answering None", "no_gradient",
           f"{F}:no_gradient_type_error"),
    # -- HIPS autograd: primitive VJPs/JVPs redefined with autograd.extend, entry points -----------
    Mutant("autograd_sin_sign", "autograd", "value", "anp.sin VJP: -cos", "sin", f"{A}:sin_vjp_sign"),
    Mutant("autograd_sin_conjugated", "autograd", "complex", "anp.sin VJP: conj(cos z)", "complex",
           f"{A}:sin_vjp_conjugated"),
    Mutant("autograd_tanh_float64", "autograd", "dtype", "anp.tanh VJP answers float64", "tanh",
           f"{A}:tanh_vjp_float64"),
    Mutant("autograd_add_unbroadcast", "autograd", "shape", "anp.add VJP not summed over broadcast axes",
           "row or col or broadcast or add", f"{A}:add_vjp_unbroadcast_missing"),
    Mutant("autograd_tanh_higher_order", "autograd", "higher_order", "anp.tanh VJP from the unboxed input",
           "tanh or hessian", f"{A}:tanh_vjp_constant_slope"),
    Mutant("autograd_exp_jvp_negated", "autograd", "forward_mode", "anp.exp JVP negated",
           "jvp or hvp or forward", f"{A}:exp_jvp_negated"),
    Mutant("autograd_grad_non_scalar", "autograd", "missing_error", "autograd.grad sums a non-scalar output",
           "non_scalar", f"{A}:grad_sums_non_scalar"),
    Mutant("autograd_integer_value_error", "autograd", "error_kind",
           "an integer source raises ValueError, not TypeError", "integer_source",
           f"{A}:integer_source_value_error"),
)

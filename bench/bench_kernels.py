"""Kernel benches: matrix products and (hook) fastbp's own kernels.

* ``test_matmul[case-shape-kernel]`` -- ``np.matmul(a, b, out=c)`` vs a Numba
  ``np.dot(a, b, out)`` on every GEMM shape of a case (forward, weight and
  input gradients, with backprop's transposed operands);
* ``test_gemm_peak[case]`` -- the case's GEMM peak and GEMM-only epoch floor
  (``bench.gemm_peak``), recorded in ``extra_info``;
* ``test_fastbp_kernel[case-name]`` -- the HOOK below for ``fastbp.kernels``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from bench import gemm_peak, threads
from bench.matmul import KERNELS
from bench.threads import limit_threads


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_matmul(benchmark, gemm_case, kernel, skip_if):
    case, shape = gemm_case  # every (grid case, GEMM shape) pair, from conftest
    skip_if(threads.unavailable_reason(case.threads))
    a, b, c = gemm_peak.operands(shape, case.dtype, np.random.RandomState(0))
    fn = KERNELS[kernel]
    benchmark.group = f"matmul {case.id} {shape.label}"
    benchmark.extra_info.update(shape=shape.label, flops=shape.flops, kernel=kernel)
    with limit_threads(case.threads):
        fn(a, b, c)  # compile (numba) outside the timing
        benchmark(fn, a, b, c)


def test_gemm_peak(benchmark, epoch_case, skip_if):
    case = epoch_case
    skip_if(threads.unavailable_reason(case.threads))
    n = case.workload.n_train or 10000
    benchmark.group = "gemm peak"
    result = benchmark.pedantic(gemm_peak.measure,
                                args=(n, case.batch_size, case.workload.sizes, case.dtype,
                                      case.threads),
                                rounds=1, iterations=1)
    benchmark.extra_info.update(case=case.id, peak_gflops=result["peak_gflops"],
                                peak_shape=result["peak_shape"], floor_s=result["floor_s"])


# ===========================================================================
# HOOK: fastbp kernels.
#
# Add an entry per kernel of ``fastbp.kernels`` worth tracking:
#     name -> (submodule of fastbp.kernels, function name, args builder)
# where ``args builder(batch, sizes, dtype, rng)`` returns the call's
# arguments (scalars in the array dtype: fastbp compiles one specialisation
# per dtype). A missing module or function skips the bench; so does a first
# call that fails (e.g. a changed signature) -- update the builder then.
# ===========================================================================


def _relu_code():
    from fastbp.kernels import codes

    return codes.RELU


def _bias_activation_args(batch, sizes, dt, rng):
    fo = sizes[1]
    return rng.standard_normal((batch, fo)).astype(dt), rng.standard_normal(fo).astype(dt), _relu_code()


def _activation_backward_args(batch, sizes, dt, rng):
    fo = sizes[1]
    a = np.maximum(rng.standard_normal((batch, fo)), 0).astype(dt)
    return rng.standard_normal((batch, fo)).astype(dt), a, _relu_code()


def _adam_step_args(batch, sizes, dt, rng):
    n_weights = sum(fi * fo for fi, fo in zip(sizes[:-1], sizes[1:]))
    n_params = n_weights + sum(sizes[1:])
    params = (0.05 * rng.standard_normal(n_params)).astype(dt)
    grads = (0.01 * rng.standard_normal(n_params)).astype(dt)
    m, v = np.zeros(n_params, dt), np.zeros(n_params, dt)
    s = np.dtype(dt).type
    return (params, grads, m, v, n_weights, s(1e-4), s(1.0 / batch), s(1e-3), s(0.9), s(0.999), s(1e-8))


FASTBP_KERNELS = {
    "bias_activation_relu": ("activations", "bias_activation", _bias_activation_args),
    "activation_backward_relu": ("activations", "activation_backward", _activation_backward_args),
    "adam_step": ("optimizers", "adam_step", _adam_step_args),
}


@pytest.mark.parametrize("kernel_name", list(FASTBP_KERNELS))
def test_fastbp_kernel(benchmark, epoch_case, kernel_name, skip_if):
    case = epoch_case
    skip_if(threads.unavailable_reason(case.threads))
    module, attr, build = FASTBP_KERNELS[kernel_name]
    try:
        import fastbp.kernels  # noqa: F401

        fn = getattr(importlib.import_module(f"fastbp.kernels.{module}"), attr)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"fastbp.kernels.{module}.{attr} not available: {exc}")
    args = build(case.batch_size, case.workload.sizes, np.dtype(case.dtype), np.random.RandomState(0))
    benchmark.group = f"fastbp kernel {kernel_name}"
    benchmark.extra_info.update(case=case.id, kernel=f"fastbp.kernels.{module}.{attr}")
    with limit_threads(case.threads):
        try:
            fn(*args)  # compile outside the timing; also checks the signature
        except Exception as exc:  # noqa: BLE001 - the hook must not break the suite
            pytest.skip(f"fastbp.kernels.{module}.{attr}{tuple(type(a).__name__ for a in args)} "
                        f"failed ({type(exc).__name__}: {str(exc)[:200]}); update FASTBP_KERNELS")
        benchmark(fn, *args)

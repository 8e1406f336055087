"""Kernel benches: matrix products and (hook) fastbp's own kernels.

* ``test_matmul[case-shape-kernel]`` -- ``np.matmul(a, b, out=c)`` vs a Numba
  ``np.dot(a, b, out)`` on every GEMM shape of a case (forward, weight and
  input gradients, with backprop's transposed operands);
* ``test_gemm_peak[case]`` -- the case's GEMM peak and GEMM-only epoch floor
  (``bench.gemm_peak``), measured in a worker process of its own started at
  the case's thread count (``bench.worker``), recorded in ``extra_info``;
* ``test_fastbp_kernel[case-name]`` -- the HOOK below for ``fastbp.kernels``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from bench import gemm_peak, threads, workloads
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


def test_gemm_peak(benchmark, epoch_case, skip_if, epoch_workers):
    case = epoch_case
    skip_if(threads.unavailable_reason(case.threads), workloads.unavailable_reason(case.workload))
    # The rows the epoch benches train on: n_train None means the whole
    # training set (60,000 MNIST rows, 10,000 tabular ones), not a constant.
    n = workloads.load(case.workload, case.dtype).X_train.shape[0]
    benchmark.group = "gemm peak"
    # In the session's GEMM-peak worker for this thread count (bench.worker).
    result = benchmark.pedantic(epoch_workers.gemm_peak,
                                args=(case.threads, n, case.batch_size, case.workload.sizes,
                                      case.dtype),
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


def _codes():
    from fastbp.kernels import codes

    return codes


def _bias_activation_args(batch, sizes, dt, rng):
    # bias_activation(h, bias, code, z, a): in place (z and a alias h), as in training.
    h = rng.standard_normal((batch, sizes[1])).astype(dt)
    return h, rng.standard_normal(sizes[1]).astype(dt), _codes().RELU, h, h


def _activation_backward_args(batch, sizes, dt, rng):
    # activation_backward(delta, mask, has_mask, z, a, code, out), no dropout.
    fo = sizes[1]
    a = np.maximum(rng.standard_normal((batch, fo)), 0).astype(dt)
    delta = rng.standard_normal((batch, fo)).astype(dt)
    return delta, np.ones((1, 1), dt), False, a, a, _codes().RELU, delta


def _optimizer_step_args(batch, sizes, dt, rng):
    # optimizer_step(params, grads, state_1, state_2, units, w_off, n_weights, code,
    #                alpha, l1, scale, clip_coef, lr, lr_t, momentum, nesterov,
    #                beta_1, beta_2, beta_1c, beta_2c, epsilon, layer_sq), Adam.
    fans = list(zip(sizes[:-1], sizes[1:]))
    n_weights = sum(fi * fo for fi, fo in fans)
    n_params = n_weights + sum(sizes[1:])
    w_off = np.cumsum([0] + [fi * fo for fi, fo in fans[:-1]]).astype(np.int64)
    s = np.dtype(dt).type
    return ((0.05 * rng.standard_normal(n_params)).astype(dt),
            (0.01 * rng.standard_normal(n_params)).astype(dt),
            np.zeros(n_params, dt), np.zeros(n_params, dt),
            np.asarray(sizes, np.int64), w_off, n_weights, _codes().ADAM,
            s(1e-4), s(0.0), s(1.0 / batch), s(1.0), s(1e-3), s(1e-3), s(0.9), False,
            s(0.9), s(0.999), s(1 - 0.9), s(1 - 0.999), s(1e-8), np.zeros(len(fans), dt))


FASTBP_KERNELS = {
    "bias_activation_relu": ("activations", "bias_activation", _bias_activation_args),
    "activation_backward_relu": ("activations", "activation_backward", _activation_backward_args),
    "optimizer_step_adam": ("optimizers", "optimizer_step", _optimizer_step_args),
}


@pytest.mark.parametrize("kernel_name", list(FASTBP_KERNELS))
def test_fastbp_kernel(benchmark, epoch_case, kernel_name, skip_if):
    case = epoch_case
    skip_if(threads.unavailable_reason(case.threads))
    module, attr, build = FASTBP_KERNELS[kernel_name]
    try:
        import fastbp.kernels  # noqa: F401
        from fastbp._config import python_twin

        # Inner kernels have no CPython wrapper; their twin does.
        fn = python_twin(getattr(importlib.import_module(f"fastbp.kernels.{module}"), attr))
    except (ImportError, AttributeError) as exc:
        skip_if(f"fastbp.kernels.{module}.{attr} not available: {exc}")
    args = build(case.batch_size, case.workload.sizes, np.dtype(case.dtype), np.random.RandomState(0))
    benchmark.group = f"fastbp kernel {kernel_name}"
    benchmark.extra_info.update(case=case.id, kernel=f"fastbp.kernels.{module}.{attr}")
    with limit_threads(case.threads):
        try:
            fn(*args)  # compile outside the timing; also checks the signature
        except Exception as exc:  # noqa: BLE001 - the hook must not break the suite
            skip_if(f"fastbp.kernels.{module}.{attr}{tuple(type(a).__name__ for a in args)} "
                    f"failed ({type(exc).__name__}: {str(exc)[:200]}); update FASTBP_KERNELS")
        benchmark(fn, *args)

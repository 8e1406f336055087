"""The GPU's gradient-clipping coefficient against its CPU twin (rev-213):
one scalar function, ``scalar.clip_coefficient``, compiled for both, with
PyTorch's ``min(1, clip / (norm + 1e-6))`` applied to every step.
"""

import warnings

import numpy as np
import pytest
from numba import cuda

from fastbp import MLPRegressor
from fastbp._config import cuda_kernel, python_twin
from fastbp.kernels.activations import cpu_scalar
from fastbp.kernels.cuda import optimizers as gpu_optimizers


def _coefficient_kernel():
    clip_coefficient = gpu_optimizers.clip_coefficient

    @cuda_kernel
    def coefficients(norms, clips, out):
        i = cuda.grid(1)
        if i < out.shape[0]:
            out[i] = clip_coefficient(norms[i], clips[i])

    return coefficients


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gpu_coefficient_is_the_cpus(dtype):
    # The review's cases (a clip 5e-7 above the norm; a clip of 1e-7),
    # plain clipping, no clipping, and random pairs around 1e-6.
    rs = np.random.RandomState(0)
    norms = np.concatenate([[0.5200871, 7.773e-9, 2.0, 0.3], 10 ** rs.uniform(-9, 2, 60)])
    clips = np.concatenate([[0.5200876, 1e-7, 1.0, 1.0], 10 ** rs.uniform(-9, 2, 60)])
    norms, clips = norms.astype(dtype), clips.astype(dtype)
    out = np.zeros_like(norms)
    _coefficient_kernel()[2, 32](norms, clips, out)
    cpu = python_twin(cpu_scalar.clip_coefficient)
    expected = np.array([cpu(g, c) for g, c in zip(norms, clips)], dtype)
    np.testing.assert_array_equal(out, expected)
    # PyTorch scales the first two, which the old rule (norm > clip) did not.
    assert out[0] < 1 and out[1] < 0.1


def _step(device, y_scale, lr, clip):
    rs = np.random.RandomState(0)
    X = rs.randn(16, 5)
    coefs = [rs.randn(5, 3) * 0.5, rs.randn(3, 1) * 0.5]
    intercepts = [rs.randn(3) * 0.1, rs.randn(1) * 0.1]
    y = ((X @ coefs[0] + intercepts[0]) @ coefs[1] + intercepts[1]).ravel()
    y = y + y_scale * rs.randn(16)
    m = MLPRegressor(hidden_layer_sizes=(3,), activation="identity", solver="sgd",
                     momentum=0.0, alpha=0.0, learning_rate_init=lr, batch_size=16,
                     shuffle=False, random_state=0, clip_grad_norm=clip, device=device)
    m.coefs_, m.intercepts_ = coefs, [b.copy() for b in intercepts]
    before = np.concatenate([a.ravel() for a in coefs + intercepts])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.partial_fit(X, y)
    return np.concatenate([a.ravel() for a in m.coefs_ + m.intercepts_]) - before


# (targets' distance from the predictions, learning rate, clip given the
# norm, tolerance between the devices): residuals of 1e-8 on predictions of
# about 1 keep 8 digits, each device's own; the old rule's step there was
# 10 times PyTorch's.
@pytest.mark.parametrize("y_scale, lr, clip_of, tol",
                         [(1.0, 0.1, lambda norm: norm + 5e-7, 1e-10),
                          (1e-8, 1e4, lambda norm: 1e-7, 1e-6)],
                         ids=["clip-5e-7-above-the-norm", "clip-1e-7"])
def test_a_clipped_gpu_step_is_the_cpus_and_torchs(y_scale, lr, clip_of, tol):
    free = _step("cpu", y_scale, lr, None)
    norm = np.linalg.norm(free) / lr
    clip = clip_of(norm)
    coef = min(1.0, clip / (norm + 1e-6))  # torch.nn.utils.clip_grad_norm_'s
    assert coef < 1 - 1e-7
    cpu = _step("cpu", y_scale, lr, clip)
    gpu = _step("cuda", y_scale, lr, clip)
    np.testing.assert_allclose(cpu, coef * free, rtol=1e-9, atol=1e-9 * np.abs(free).max())
    np.testing.assert_allclose(gpu, cpu, rtol=tol, atol=tol * np.abs(free).max())

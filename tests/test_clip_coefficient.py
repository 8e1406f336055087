"""Gradient clipping's coefficient is PyTorch's ``clip_grad_norm_`` one,
``min(1, clip / (norm + 1e-6))`` applied to every step (rev-213).

fastbp clipped only where ``norm > clip``: a norm within 1e-6 below the
clip, and any norm under a clip below 1e-6, went unscaled where PyTorch
scales it. The reference here is PyTorch's formula written in NumPy (the
test extra installs no PyTorch); the test marked ``torch`` checks one step
against ``torch.nn.utils.clip_grad_norm_`` itself.
"""

import warnings

import numpy as np
import pytest

from fastbp import MLPRegressor
from fastbp._config import python_twin
from fastbp.kernels.activations import cpu_scalar


def torch_coefficient(norm, clip):
    """``torch.nn.utils.clip_grad_norm_``'s ``clamp(clip / (norm + 1e-6),
    max=1)``, in float64."""
    return min(1.0, clip / (norm + 1e-6))


#: The review's two cases (norm, clip): a clip 5e-7 above the norm, which
#: PyTorch scales by 0.999999039, and a clip of 1e-7 over a norm of 7.8e-9,
#: which it scales by 0.0992; then a plain clip and a norm well below it.
CASES = [(0.5200871, 0.5200871 + 5e-7), (7.773e-9, 1e-7), (2.0, 1.0), (0.3, 1.0)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm, clip", CASES)
def test_the_compiled_coefficient_is_torchs(norm, clip, dtype):
    coef = python_twin(cpu_scalar.clip_coefficient)(dtype(norm), dtype(clip))
    expected = torch_coefficient(float(dtype(norm)), float(dtype(clip)))
    # Computed in the norm's type: within its rounding of the exact value.
    np.testing.assert_allclose(coef, expected, rtol=2 * np.finfo(dtype).eps)
    assert coef <= 1


def test_a_nan_norm_leaves_the_step_to_the_divergence_check_and_inf_stops_it():
    coef = python_twin(cpu_scalar.clip_coefficient)
    assert coef(np.float64(np.nan), np.float64(1.0)) == 1.0
    assert coef(np.float64(np.inf), np.float64(1.0)) == 0.0


def _model(y_scale):
    """A hand-set 5-3-1 identity regressor and data whose targets lie
    ``y_scale`` (times standard normal noise) from its predictions: the
    gradient's norm is about ``y_scale``."""
    rs = np.random.RandomState(0)
    X = rs.randn(16, 5)
    coefs = [rs.randn(5, 3) * 0.5, rs.randn(3, 1) * 0.5]
    intercepts = [rs.randn(3) * 0.1, rs.randn(1) * 0.1]
    pred = (X @ coefs[0] + intercepts[0]) @ coefs[1] + intercepts[1]
    y = pred.ravel() + y_scale * rs.randn(16)
    return X, y, coefs, intercepts


def _step(X, y, coefs, intercepts, lr, clip):
    """One full-batch SGD step (no momentum, no penalty) from the hand-set
    weights: the flat change of the parameters."""
    m = MLPRegressor(hidden_layer_sizes=(3,), activation="identity", solver="sgd", momentum=0.0, alpha=0.0,
                     learning_rate_init=lr, batch_size=len(X), shuffle=False,
                     random_state=0, clip_grad_norm=clip)
    m.coefs_ = [c.copy() for c in coefs]
    m.intercepts_ = [b.copy() for b in intercepts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.partial_fit(X, y)
    before = np.concatenate([a.ravel() for a in coefs + intercepts])
    return np.concatenate([a.ravel() for a in m.coefs_ + m.intercepts_]) - before


# (targets' distance from the predictions, learning rate, clip given the
# norm): the learning rate keeps each step far above the weights' rounding.
TRAINING_CASES = {
    "clip-5e-7-above-the-norm": (1.0, 0.1, lambda norm: norm + 5e-7),
    "clip-1e-7": (1e-8, 1e4, lambda norm: 1e-7),
}


@pytest.mark.parametrize("case", sorted(TRAINING_CASES))
def test_a_clipped_step_is_torchs(case):
    y_scale, lr, clip_of = TRAINING_CASES[case]
    X, y, coefs, intercepts = _model(y_scale)
    free = _step(X, y, coefs, intercepts, lr, None)
    norm = np.linalg.norm(free) / lr
    clip = clip_of(norm)
    coef = torch_coefficient(norm, clip)
    # The cases lie where the rules differ: PyTorch scales, and the old
    # rule (only where norm > clip) did not.
    assert norm <= clip and coef < 1 - 1e-7
    clipped = _step(X, y, coefs, intercepts, lr, clip)
    # Small components are as exact as the weights they move.
    np.testing.assert_allclose(clipped, coef * free, rtol=1e-9,
                               atol=1e-9 * np.abs(free).max())


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(TRAINING_CASES))
def test_a_clipped_step_is_torch_clip_grad_norms(case):
    import torch

    y_scale, lr, clip_of = TRAINING_CASES[case]
    X, y, coefs, intercepts = _model(y_scale)
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True)
              for a in coefs + intercepts]
    W1, W2, b1, b2 = params
    Xt, yt = torch.tensor(X), torch.tensor(y)
    pred = ((Xt @ W1 + b1) @ W2 + b2).ravel()
    # scikit-learn's squared loss, half the mean.
    (0.5 * torch.mean((pred - yt) ** 2)).backward()
    norm = float(torch.linalg.vector_norm(torch.cat([p.grad.ravel() for p in params])))
    clip = clip_of(norm)
    torch.nn.utils.clip_grad_norm_(params, clip)
    torch_step = np.concatenate([(-lr * p.grad).numpy().ravel() for p in (W1, W2, b1, b2)])
    ours = _step(X, y, coefs, intercepts, lr, clip)
    # Residuals of 1e-8 on predictions of about 1 keep 8 digits, each
    # library's own; the old rule's step there was 10 times PyTorch's.
    tol = 1e-5 if case == "clip-1e-7" else 1e-9
    np.testing.assert_allclose(ours, torch_step, rtol=tol, atol=tol * np.abs(torch_step).max())

"""One-epoch runners for every compared system.

Systems (keys used throughout the suite and in the JSON):

``fastbp``       fastbp.MLPClassifier.partial_fit (or the stand-in, see subject)
``sklearn``      sklearn.neural_network.MLPClassifier.partial_fit
``torch``        PyTorch CPU, plain mini-batch loop, torch.optim.Adam
``torch_fused``  the same with ``Adam(fused=True)``
``cuda``         fastbp.MLPClassifier(device="cuda").partial_fit, on the GPU
                 (only where one is usable; each epoch copies the data to
                 the GPU and the model back, as ``partial_fit`` does)

Every system trains the same network the same way: layer widths
``[n_features, *hidden, n_out]``, ReLU hidden units, softmax output with
cross-entropy (logistic/binary cross-entropy for 2 classes, like
scikit-learn), Glorot-uniform initialisation drawn exactly as scikit-learn
draws it (``U(-b, b)``, ``b = sqrt(6 / (fan_in + fan_out))``, weights then
bias per layer from ``RandomState(random_state)``), Adam with lr 1e-3 and
betas (0.9, 0.999), eps 1e-8, shuffled mini-batches of ``batch_size``, and
L2 ``alpha`` on the weights only, scaled like scikit-learn: the gradient gets
``alpha * W / n_batch`` (in PyTorch: Adam's ``weight_decay = alpha / n_batch``
on the weight parameter group, adjusted for a short last batch), and Adam's
epsilon placed as scikit-learn places it (``eps / sqrt(1 - beta2^t)`` handed
to PyTorch each step). ``bench/test_peers.py`` checks that the PyTorch
replica lands on scikit-learn's weights.

A runner is used as ``r.prepare(X, y, classes)`` then ``r.epoch()`` repeatedly
(the first call of an estimator also initialises it and, for fastbp,
compiles: time it as warm-up). ``r.fit(epochs)`` trains from scratch with
``fit`` and ``r.predict(X)`` predicts labels (accuracy rows).
``r.samples_trained()`` counts the rows the epochs since ``prepare`` trained
on, as the library itself counted them, so that the harness can refuse a
runner whose "epoch" trained nothing (rev-256) instead of timing it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import subject
from .threads import torch_available

SYSTEMS = ("fastbp", "sklearn", "torch", "torch_fused", "cuda")
PEERS = ("sklearn", "torch", "torch_fused", "cuda")
TORCH_SYSTEMS = ("torch", "torch_fused")
#: Systems that need a GPU: in the defaults only where one is usable.
GPU_SYSTEMS = ("cuda",)


def default_systems(standin: bool | None = None) -> list[str]:
    """Every CPU system, and the GPU systems where a GPU is usable."""
    return [s for s in SYSTEMS if s not in GPU_SYSTEMS or not unavailable_reason(s, standin)]


@dataclass(frozen=True)
class TrainSpec:
    hidden: tuple[int, ...]
    batch_size: int
    learning_rate_init: float = 1e-3
    alpha: float = 1e-4
    random_state: int = 0
    shuffle: bool = True


def estimator_params(spec: TrainSpec) -> dict:
    """Constructor arguments shared by fastbp and scikit-learn (same API)."""
    return dict(
        hidden_layer_sizes=tuple(spec.hidden), activation="relu", solver="adam",
        alpha=spec.alpha, batch_size=spec.batch_size, learning_rate_init=spec.learning_rate_init,
        random_state=spec.random_state, shuffle=spec.shuffle,
    )


def glorot_uniform(sizes: list[int], seed: int, dtype) -> list[tuple[np.ndarray, np.ndarray]]:
    """scikit-learn's initial (coef, intercept) per layer, same draws, same order."""
    rng = np.random.RandomState(seed)
    params = []
    for fi, fo in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (fi + fo))
        coef = rng.uniform(-bound, bound, (fi, fo)).astype(dtype)
        intercept = rng.uniform(-bound, bound, fo).astype(dtype)
        params.append((coef, intercept))
    return params


class EstimatorRunner:
    """fastbp or scikit-learn: one epoch = one ``partial_fit`` call."""

    def __init__(self, cls: type, spec: TrainSpec, label: str, **extra):
        self.cls, self.spec, self.label, self.extra = cls, spec, label, extra

    def prepare(self, X, y, classes):
        self.X, self.y, self.classes = X, y, np.asarray(classes)
        self.est = self.cls(**estimator_params(self.spec), **self.extra)
        return self

    def epoch(self):
        self.est.partial_fit(self.X, self.y, classes=self.classes)

    def samples_trained(self) -> int:
        # The estimator's own count (both libraries keep ``t_`` across
        # partial_fit calls), not one kept beside the call it should check.
        return int(getattr(self.est, "t_", 0))

    def fit(self, epochs: int):
        from sklearn.exceptions import ConvergenceWarning

        self.est = self.cls(**estimator_params(self.spec), **self.extra, max_iter=epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.est.fit(self.X, self.y)
        return self

    def predict(self, X):
        return self.est.predict(X)

    def final_loss(self):
        curve = getattr(self.est, "loss_curve_", None)
        return float(curve[-1]) if curve else None


class TorchRunner:
    """PyTorch CPU replica of scikit-learn's MLP training loop."""

    def __init__(self, spec: TrainSpec, fused: bool, label: str):
        self.spec, self.fused, self.label = spec, fused, label

    def import_libraries(self):
        """Load what the first :meth:`prepare` would load: PyTorch's first
        ``torch.optim.Adam`` imports ``torch._dynamo`` (about 2 s), which a
        timer around ``prepare`` would charge to PyTorch alone (fastbp's and
        scikit-learn's imports come before it)."""
        import torch

        torch.optim.Adam([torch.zeros(1, requires_grad=True)], fused=self.fused or None)

    def prepare(self, X, y, classes):
        import torch
        from torch import nn

        from .flops import layer_sizes

        self.torch = torch
        self.classes = np.asarray(classes)
        tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[X.dtype]
        sizes = layer_sizes(X.shape[1], self.spec.hidden, len(self.classes))
        self.binary = sizes[-1] == 1
        layers = []
        for i, (coef, intercept) in enumerate(glorot_uniform(sizes, self.spec.random_state, X.dtype)):
            lin = nn.Linear(coef.shape[0], coef.shape[1], dtype=tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(coef.T)))
                lin.bias.copy_(torch.from_numpy(intercept))
            layers.append(lin)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.X = torch.from_numpy(np.ascontiguousarray(X))
        y_idx = np.searchsorted(self.classes, y)
        self.y = torch.from_numpy(y_idx.astype(np.float64 if self.binary else np.int64))
        if self.binary:
            self.y = self.y.to(tdtype)
        weights = [m.weight for m in layers if isinstance(m, nn.Linear)]
        biases = [m.bias for m in layers if isinstance(m, nn.Linear)]
        self.batch = min(self.spec.batch_size, X.shape[0])
        self.opt = torch.optim.Adam(
            [{"params": weights, "weight_decay": self.spec.alpha / self.batch},
             {"params": biases, "weight_decay": 0.0}],
            lr=self.spec.learning_rate_init, betas=(0.9, 0.999), eps=1e-8,
            fused=self.fused or None,
        )
        self.wgroup = self.opt.param_groups[0]
        self.t = 0  # Adam step count, for scikit-learn's epsilon placement
        self.samples = 0  # rows of the optimiser steps taken, see samples_trained
        self.gen = torch.Generator().manual_seed(self.spec.random_state)
        self.last_loss = None
        return self

    def _loss(self, out, yb):
        F = self.torch.nn.functional
        if self.binary:
            return F.binary_cross_entropy_with_logits(out[:, 0], yb)
        return F.cross_entropy(out, yb)

    def epoch(self):
        torch, X, Y, b, alpha = self.torch, self.X, self.y, self.batch, self.spec.alpha
        n = X.shape[0]
        perm = torch.randperm(n, generator=self.gen) if self.spec.shuffle else torch.arange(n)
        total = 0.0
        for start in range(0, n, b):
            idx = perm[start:start + b]
            nb = idx.shape[0]
            # scikit-learn adds alpha * W / n_batch to the weight gradient.
            self.wgroup["weight_decay"] = alpha / nb
            # scikit-learn's Adam: p -= lr_t m / (sqrt(v) + eps) with
            # lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); torch's puts eps after
            # the sqrt(1 - b2^t) correction, so pass eps / sqrt(1 - b2^t).
            self.t += 1
            eps_t = 1e-8 / math.sqrt(1.0 - 0.999 ** self.t)
            for group in self.opt.param_groups:
                group["eps"] = eps_t
            xb = X.index_select(0, idx)
            yb = Y.index_select(0, idx)
            self.opt.zero_grad(set_to_none=True)
            loss = self._loss(self.model(xb), yb)
            loss.backward()
            self.opt.step()
            # Counted beside the step, so a loop that steps nothing counts nothing.
            self.samples += nb
            total += loss.detach() * nb
        self.last_loss = total

    def samples_trained(self) -> int:
        return self.samples

    def fit(self, epochs: int):
        # Call right after prepare() (which initialises from the seed) to
        # train from scratch, like an estimator's fit.
        for _ in range(epochs):
            self.epoch()
        return self

    def predict(self, X):
        torch = self.torch
        with torch.no_grad():
            out = self.model(torch.from_numpy(np.ascontiguousarray(X)))
        if self.binary:
            idx = (out[:, 0] > 0).long().numpy()
        else:
            idx = out.argmax(dim=1).numpy()
        return self.classes[idx]

    def final_loss(self):
        # Mean cross-entropy of the last epoch, without the L2 term.
        return None if self.last_loss is None else float(self.last_loss) / self.X.shape[0]


def unavailable_reason(system: str, standin: bool | None = None) -> str | None:
    if system == "fastbp":
        return subject.unavailable_reason(standin)
    if system in ("torch", "torch_fused"):
        if not torch_available():
            return "torch not installed (optional: pip install torch==2.13.0)"
        return None
    if system == "sklearn":
        return None
    if system == "cuda":
        return cuda_unavailable_reason(standin)
    return f"unknown system {system!r}"


def cuda_unavailable_reason(standin: bool | None = None) -> str | None:
    """Why the ``cuda`` system cannot run here (no GPU, no numba-cuda), or None."""
    reason = subject.unavailable_reason(standin)
    if reason:
        return reason
    if subject.standin_requested() if standin is None else standin:
        return "the stand-in (scikit-learn) has no GPU path"
    from fastbp.kernels.cuda import device_status

    return device_status()


def make_runner(system: str, spec: TrainSpec, standin: bool | None = None):
    """A fresh runner for ``system`` (check :func:`unavailable_reason` first)."""
    if system == "fastbp":
        subj = subject.load_subject(standin)
        if subj is None:
            raise RuntimeError(subject.unavailable_reason(standin))
        return EstimatorRunner(subj.cls, spec, subj.label)
    if system == "sklearn":
        from sklearn.neural_network import MLPClassifier

        return EstimatorRunner(MLPClassifier, spec, "sklearn")
    if system == "torch":
        return TorchRunner(spec, fused=False, label="torch")
    if system == "torch_fused":
        return TorchRunner(spec, fused=True, label="torch(fused Adam)")
    if system == "cuda":
        subj = subject.load_subject(False)
        return EstimatorRunner(subj.cls, spec, f"{subj.label} (cuda)", device="cuda")
    raise ValueError(f"unknown system {system!r}")

"""Analytical gradients against central finite differences, in float64.

Two levels: each activation's derivative kernel against differences of the
activation kernel, and the whole backward pass (``loss_and_gradient``, the
function L-BFGS minimises) against differences of the loss it returns.

Tolerance. With step ``h`` the central difference of a loss ``L`` carries a
rounding error of about ``eps * |L| / h`` (~2e-10 for ``h = 1e-6``,
``|L| ~ 1``) and a truncation error ``h**2 |L'''| / 6`` (~1e-13). A
coordinate passes when ``|g - fd| <= 1e-6 * max(|g|, |fd|) + atol`` with
``atol = 20 * eps * max(1, |L|) / h``, i.e. relative error below 1e-6 except
where the component is so small that only the difference's own rounding
noise is left. Any real error in a backward pass (a missing factor, a wrong
sign, a wrong derivative) is many orders of magnitude larger.

Note on squared error: scikit-learn's ``squared_loss`` averages over the
outputs, ``0.5 * mean_j (y - p)**2``, but its output delta is ``p - y``, not
``(p - y) / n_outputs``. fastbp reproduces both, so the loss/gradient pair is
only consistent for a single output: the finite-difference checks use one
output for squared error, and ``test_squared_error_multioutput_gradient_*``
pins the scikit-learn convention for several.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from fastbp.kernels import activations, codes
from fastbp.training.backend import get_backend
from fastbp.training.data import KernelInput
from fastbp.training.layout import NetworkLayout
from fastbp.training.lbfgs import loss_and_gradient_function
from fastbp.training.spec import NetworkSpec

try:  # tests/ may or may not become a package
    from . import naive
    from .support import python_kernels
except ImportError:
    import naive
    from support import python_kernels

kact = python_kernels(activations)  # inner kernels, called from Python

H = 1e-6
RTOL = 1e-6
EPS64 = np.finfo(np.float64).eps

HIDDEN = list(naive.HIDDEN)
KINKED = {"relu", "leaky_relu", "selu"}  # derivative jumps at 0 (elu's does not)


def rng_for(*key):
    return np.random.default_rng([ord(c) for c in "|".join(map(str, key))])


def check_close(g, fd, loss_scale, what):
    atol = 20 * EPS64 * max(1.0, abs(loss_scale)) / H
    err = np.abs(g - fd)
    bound = RTOL * np.maximum(np.abs(g), np.abs(fd)) + atol
    bad = np.flatnonzero(err > bound)
    assert bad.size == 0, (
        f"{what}: {bad.size} of {g.size} coordinates off, e.g. index {bad[:5]}: "
        f"analytic {g[bad[:5]]}, finite differences {fd[bad[:5]]}")


# ---------------------------------------------------------------------------
# Activation derivatives
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", HIDDEN)
def test_activation_derivative_finite_differences(name):
    code = codes.HIDDEN_ACTIVATIONS[name]
    rng = rng_for("act", name)
    z = np.concatenate([rng.uniform(-4, 4, 200), [-12.0, -7.5, 7.5, 12.0, 0.5, -0.5]])
    if name in KINKED:
        z = z[np.abs(z) > 1e-3]
    fd = np.array([(kact.activate(zi + H, code) - kact.activate(zi - H, code)) / (2 * H)
                   for zi in z])
    a = np.array([kact.activate(zi, code) for zi in z])
    g = np.array([kact.derivative(zi, ai, code) for zi, ai in zip(z, a)])
    scale = max(1.0, float(np.abs(a).max()))
    check_close(g, fd, scale, name)
    # And the exact formulas of the reference (catches an FD-consistent but
    # mis-scaled activation pair, e.g. both f and f' off by a factor).
    np.testing.assert_allclose(a, naive.activate(z, name), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", HIDDEN)
def test_activation_backward_finite_differences(name):
    """The array kernel: ``delta * f'(z)`` is the gradient of ``sum(delta * f(z))``."""
    code = codes.HIDDEN_ACTIVATIONS[name]
    rng = rng_for("actb", name)
    z = rng.uniform(-3, 3, (4, 6))
    if name in KINKED:
        z[np.abs(z) < 1e-3] = 0.5
    delta = rng.standard_normal(z.shape)
    a = naive.activate(z, name)
    out = np.empty_like(z)
    kact.activation_backward(delta, delta, False, z.copy(), a, code, out)

    def f(zz):
        h = np.zeros_like(zz)
        y = np.empty_like(zz)
        kact.bias_activation(zz, np.zeros(zz.shape[1]), code, h, y)
        return float(np.sum(delta * y))

    fd = np.empty(z.size)
    for i in range(z.size):
        zp = z.copy()
        zp.flat[i] += H
        zm = z.copy()
        zm.flat[i] -= H
        fd[i] = (f(zp) - f(zm)) / (2 * H)
    check_close(out.ravel(), fd, f(z), name)


# ---------------------------------------------------------------------------
# Whole backward pass
# ---------------------------------------------------------------------------

OUT_CASES = [
    ("identity", 1),  # squared error: one output (see module docstring)
    ("softmax", 3),   # multiclass log-loss
    ("logistic", 1),  # binary log-loss
    ("logistic", 3),  # multilabel
    ("exp", 2),       # half Poisson deviance
]
OUT_IDS = ["squared", "softmax", "binary", "multilabel", "poisson"]


def make_targets(out, n, m, rng):
    if out == "identity":
        return rng.standard_normal((n, m))
    if out == "softmax":
        return np.eye(m)[rng.integers(0, m, n)]
    if out == "logistic":
        return rng.integers(0, 2, (n, m)).astype(float)
    return rng.poisson(1.2, (n, m)).astype(float)


class Problem:
    """A small float64 network and data set, with the kernel's loss function."""

    def __init__(self, units, hidden, out, *, n=12, weighted=False, sparse=False,
                 norm=None, residual=None, alpha=0.3, l1=0.0, chunk=None, seed="p"):
        n_hidden = len(units) - 2
        self.hidden = [hidden] * n_hidden if isinstance(hidden, str) else list(hidden)
        self.units, self.out, self.norm, self.residual = tuple(units), out, norm, residual
        kinked = any(h in KINKED for h in self.hidden)
        for attempt in range(200):
            rng = rng_for(seed, units, hidden, out, n, weighted, sparse, norm, residual,
                          l1, chunk, attempt)
            P = naive.random_params(units, rng, norm=norm)
            X = rng.standard_normal((n, units[0]))
            if sparse:
                X[rng.uniform(size=X.shape) < 0.5] = 0
                X[::4] = 0  # empty rows
            # Keep every kink of the loss farther than the step from the
            # current point: relu-like pre-activations and, with l1, weights.
            margin = 1e-4
            ok = True
            if kinked:
                cache, _ = naive.forward(X, P, self.hidden, out, norm=norm,
                                         residual=residual)
                ok = all(np.abs(z).min() > margin for z in cache["z"][:-1])
            if l1:
                ok = ok and all(np.abs(W).min() > margin for W in P["coefs"])
            if ok:
                break
        else:  # pragma: no cover - the data generator is deterministic
            raise RuntimeError("no kink-free draw")
        self.X = sp.csr_matrix(X) if sparse else X
        self.Y = make_targets(out, n, units[-1], rng)
        self.sw = None
        if weighted:
            self.sw = rng.uniform(0.2, 3.0, n)
            self.sw[1::5] = 0.0
        self.layout = NetworkLayout(units, [codes.HIDDEN_ACTIVATIONS[h] for h in self.hidden],
                                    codes.NORMALIZATIONS[norm], residual)
        self.spec = NetworkSpec(self.layout, codes.OUTPUT_FUNCTIONS[out])
        self.params = naive.pack(P)
        self.P = P
        self.f = loss_and_gradient_function(
            get_backend("cpu"), self.spec, KernelInput(self.X), self.Y, self.sw, alpha=alpha, l1=l1,
            dtype=np.dtype(np.float64), chunk=chunk or n)

    def loss(self, params):
        return float(self.f(params)[0])

    def grad(self):
        loss, g = self.f(self.params.copy())
        return float(loss), g.copy()

    def finite_differences(self, coords):
        p = self.params.copy()
        fd = np.empty(len(coords))
        for k, i in enumerate(coords):
            old = p[i]
            p[i] = old + H
            lp = self.loss(p)
            p[i] = old - H
            lm = self.loss(p)
            p[i] = old
            fd[k] = (lp - lm) / (2 * H)
        return fd

    def check(self, coords=None, what=""):
        loss, g = self.grad()
        assert np.isfinite(loss) and np.all(np.isfinite(g))
        coords = np.arange(g.size) if coords is None else coords
        fd = self.finite_differences(coords)
        check_close(g[coords], fd, loss, what)
        return loss, g


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["nosw", "sw"])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("out,n_out", OUT_CASES, ids=OUT_IDS)
def test_loss_and_gradient_finite_differences(out, n_out, hidden, weighted, sparse):
    """Every coordinate of a tiny 2- or 3-hidden-layer net, alpha > 0."""
    k = HIDDEN.index(hidden) + OUT_CASES.index((out, n_out))
    units = (4, 5, 4, n_out) if k % 2 == 0 else (3, 4, 3, 3, n_out)
    prob = Problem(units, hidden, out, weighted=weighted, sparse=sparse,
                   chunk=5 if k % 3 == 0 else None)
    loss, g = prob.check(what=f"{hidden}/{out}")
    # The loss is scikit-learn's penalised loss (naive reference).
    ref, _, _ = naive.backprop(prob.X, prob.Y, prob.sw, prob.P, prob.hidden, out, 0.3)
    np.testing.assert_allclose(loss, ref, rtol=1e-12)


TOOLKIT = [
    dict(norm="batch"),
    dict(norm="layer"),
    dict(residual=[False, True, True]),
    dict(norm="batch", residual=[False, True, True]),
    dict(norm="layer", residual=[False, True, True], l1=0.05),
    dict(l1=0.05),
    dict(hidden=["gelu", "relu", "mish"]),
]
TOOLKIT_IDS = ["batchnorm", "layernorm", "residual", "batchnorm-residual",
               "layernorm-residual-l1", "l1", "mixed-activations"]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("out,n_out", [("softmax", 3), ("identity", 1)],
                         ids=["softmax", "squared"])
@pytest.mark.parametrize("case", TOOLKIT, ids=TOOLKIT_IDS)
def test_toolkit_gradient_finite_differences(case, out, n_out, sparse):
    """Normalisation (gamma, beta and through the statistics), residual
    connections and the l1 penalty; batch norm with chunks (each chunk is
    normalised with its own statistics, so the loss stays a function of the
    parameters)."""
    case = dict(case)
    hidden = case.pop("hidden", "tanh")
    l1 = case.pop("l1", 0.0)
    prob = Problem((4, 5, 5, 5, n_out), hidden, out, n=13, weighted=True, sparse=sparse,
                   l1=l1, chunk=6 if case.get("norm") == "batch" else None, seed="tk",
                   **case)
    prob.check(what=str(case))


NAIVE_DROPOUT = [dict(), dict(residual=[False, True]), dict(norm="batch"),
                 dict(norm="layer", residual=[False, True])]
NAIVE_DROPOUT_IDS = ["plain", "residual", "batchnorm", "layernorm-residual"]


@pytest.mark.parametrize("case", NAIVE_DROPOUT, ids=NAIVE_DROPOUT_IDS)
def test_naive_backprop_with_dropout_masks_finite_differences(case):
    """The reference's own masked backward pass: with the masks fixed, its
    gradient is the slope of its masked loss."""
    # helper-115: naive.backprop's mask handling was never checked by
    # finite differences, yet the kernels' dropout gradients (and the GPU's,
    # tests/cuda) are checked against it.
    units, hidden, n = (4, 5, 5, 3), ["tanh", "gelu"], 9
    norm = case.get("norm")
    rng = rng_for("naive-dropout", *NAIVE_DROPOUT_IDS[NAIVE_DROPOUT.index(case)])
    P = naive.random_params(units, rng, norm=norm)
    X = rng.standard_normal((n, units[0]))
    Y = make_targets("softmax", n, units[-1], rng)
    sw = rng.uniform(0.2, 2.0, n)
    masks, state = [], 7
    for m, rate in zip(units[1:-1], (0.4, 0.25)):
        mask, state = naive.dropout_mask((n, m), rate, state)
        masks.append(mask)
    assert all(0 < np.count_nonzero(m) < m.size for m in masks)

    def backprop(params):
        return naive.backprop(X, Y, sw, naive.unpack(params, units, norm), hidden, "softmax",
                              0.3, norm=norm, residual=case.get("residual"), masks=masks)

    p0 = naive.pack(P)
    loss, grads, _ = backprop(p0)
    g = naive.pack(grads)
    assert g.size == p0.size
    fd = np.empty(p0.size)
    for i in range(p0.size):
        p = p0.copy()
        p[i] += H
        lp = backprop(p)[0]
        p[i] -= 2 * H
        fd[i] = (lp - backprop(p)[0]) / (2 * H)
    check_close(g, fd, loss, f"naive dropout {case}")


@pytest.mark.parametrize("out,n_out", OUT_CASES, ids=OUT_IDS)
def test_larger_net_random_coordinates(out, n_out):
    """A 3-hidden-layer net of a few hundred parameters: 60 random coordinates,
    chunked full batch with sample weights."""
    prob = Problem((20, 16, 12, 8, n_out), "tanh", out, n=50, weighted=True, chunk=16,
                   alpha=1e-2, seed="big")
    rng = rng_for("coords", out)
    coords = np.sort(rng.choice(prob.params.size, 60, replace=False))
    prob.check(coords, what="big")


def test_alpha_zero_and_l2_gradient():
    """Only the weights are penalised: the alpha-difference of the gradient is
    ``alpha * W / n`` on weights and 0 on biases."""
    a = Problem((4, 5, 3, 2), "tanh", "softmax", alpha=0.0, seed="a0")
    b = Problem((4, 5, 3, 2), "tanh", "softmax", alpha=0.7, seed="a0")
    np.testing.assert_array_equal(a.params, b.params)
    a.check(what="alpha=0")
    la, ga = a.grad()
    lb, gb = b.grad()
    nw = a.layout.n_weights
    n = a.Y.shape[0]
    np.testing.assert_allclose(gb[:nw] - ga[:nw], 0.7 * a.params[:nw] / n, rtol=1e-10,
                               atol=1e-14)
    np.testing.assert_allclose(gb[nw:], ga[nw:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lb - la, 0.35 * np.sum(a.params[:nw] ** 2) / n, rtol=1e-10)


def test_squared_error_multioutput_gradient_is_sklearns():
    """Several outputs, squared error: the gradient is scikit-learn's, which is
    ``n_outputs`` times the slope of its (output-averaged) loss."""
    m = 3
    prob = Problem((4, 5, 3, m), "tanh", "identity", alpha=0.0, weighted=True, seed="sq")
    loss, g = prob.grad()
    fd = prob.finite_differences(np.arange(g.size))
    check_close(g, m * fd, m * loss, "squared multi-output")
    ref_loss, grads, _ = naive.backprop(prob.X, prob.Y, prob.sw, prob.P, prob.hidden,
                                        "identity", 0.0)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(g, naive.pack(grads), rtol=1e-10, atol=1e-13)

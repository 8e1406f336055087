"""The GPU backend against its CPU twin, under the CUDA simulator.

Every GPU kernel is exercised through the whole-network drivers (predict,
full-batch loss and gradient, one training epoch) and compared with the CPU
kernels from identical parameters, in both dtypes: 1e-5 relative in
float32, 1e-10 in float64. Shapes are tiny (batch <= 16, widths <= 12) and
the tiles 4x4 (``conftest.py``), so every product spans several blocks and
partial tiles.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from fastbp import GradientWarning, MLPClassifier, MLPRegressor
from fastbp.kernels import codes
from fastbp.training.backend import get_backend
from fastbp.training.data import KernelInput
from fastbp.training.lbfgs import loss_and_gradient_function
from fastbp.training.predict import predict_outputs
from fastbp.training.spec import build_spec

DTYPES = (np.float32, np.float64)
RTOL = {np.float32: 1e-5, np.float64: 1e-10}

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def rel_err(a, b):
    """Largest difference relative to the reference's scale."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def assert_rel(a, b, dtype, factor=1.0):
    err = rel_err(a, b)
    assert err <= RTOL[dtype] * factor, f"relative error {err:.3g}"


def network_case(units, hidden, out, dtype, n, *, norm=None, residual=None, sparse=False,
                 weighted=False, seed=0):
    rng = np.random.default_rng(seed)
    acts = [codes.HIDDEN_ACTIVATIONS[h] for h in hidden]
    spec = build_spec(units, acts, codes.NORMALIZATIONS[norm], residual, [0.0] * len(acts),
                      codes.OUTPUT_FUNCTIONS[out])
    params = (rng.standard_normal(spec.layout.n_params) * 0.5).astype(dtype)
    X = rng.standard_normal((n, units[0])).astype(dtype)
    if sparse:
        X[X < 0.3] = 0
        X = sp.csr_matrix(X)
    m = units[-1]
    if out == "softmax":
        Y = np.eye(m, dtype=dtype)[rng.integers(0, m, n)]
    elif out == "logistic":
        Y = (rng.random((n, m)) < 0.5).astype(dtype)
    elif out == "exp":
        Y = rng.poisson(1.0, (n, m)).astype(dtype)
    else:
        Y = rng.standard_normal((n, m)).astype(dtype)
    sw = rng.uniform(0.2, 2.0, n).astype(dtype) if weighted else None
    running = (np.concatenate([np.r_[rng.standard_normal(u), rng.uniform(0.5, 2, u)]
                               for u in units[1:-1]]).astype(dtype)
               if norm == "batch" else np.zeros(0, dtype))
    return spec, params, KernelInput(X), Y, sw, running


CASES = [
    dict(units=(5, 7, 3), hidden=["relu"], out="softmax"),
    dict(units=(6, 9, 5, 2), hidden=["tanh", "logistic"], out="logistic"),
    dict(units=(4, 6, 6, 2), hidden=["elu", "selu"], out="identity", residual=[False, True]),
    dict(units=(5, 8, 2), hidden=["leaky_relu"], out="exp", weighted=True),
    dict(units=(7, 5, 5, 3), hidden=["softplus", "swish"], out="softmax", sparse=True),
    dict(units=(5, 6, 6, 3), hidden=["mish", "gelu"], out="softmax", norm="batch",
         residual=[False, True]),
    dict(units=(5, 6, 4, 2), hidden=["identity", "relu"], out="identity", norm="layer",
         weighted=True),
]
CASE_IDS = ["relu-softmax", "tanh-logistic", "residual", "exp-weighted", "sparse",
            "batchnorm", "layernorm"]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_predict_matches_cpu(case, dtype):
    spec, params, inp, _, _, running = network_case(dtype=dtype, n=11, **case)
    cpu, cpu_finite = predict_outputs(get_backend("cpu"), spec, params, running, inp)
    gpu, gpu_finite = predict_outputs(get_backend("cuda"), spec, params, running, inp)
    assert cpu_finite and gpu_finite
    assert gpu.dtype == cpu.dtype
    assert_rel(gpu, cpu, dtype, factor=10)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_loss_and_gradient_match_cpu(case, dtype):
    spec, params, inp, Y, sw, _ = network_case(dtype=dtype, n=13, **case)
    results = []
    for device in ("cpu", "cuda"):
        # chunk 5: three chunks, the last one partial, accumulated on the device
        f = loss_and_gradient_function(get_backend(device), spec, inp, Y, sw, alpha=0.1,
                                       l1=0.01, dtype=np.dtype(dtype), chunk=5)
        loss, grad = f(params.copy())
        results.append((loss, grad.copy()))
    (l_cpu, g_cpu), (l_gpu, g_gpu) = results
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=10 * RTOL[dtype])
    assert_rel(g_gpu, g_cpu, dtype, factor=10)


@pytest.mark.parametrize("tiles", [(6, 4, 5, 2, 2), (4, 8, 3, 1, 4)],
                         ids=["6x4x5", "4x8x3"])
@pytest.mark.parametrize("case", [CASES[2], CASES[4]], ids=["residual", "sparse"])
def test_uneven_tiles_match_cpu(case, tiles):
    """Tiles whose threads do not divide the panels (6 threads for 30- and
    20-element panels; 8 for 12 and 24), and panels deeper or shallower than
    the layers: every partial fetch round and edge of a product."""
    from fastbp.kernels.cuda import network

    dtype = np.float64
    spec, params, inp, Y, sw, _ = network_case(dtype=dtype, n=13, **case)
    results = []
    before = network.TILES
    try:
        network.configure(tiles=tiles)
        for device in ("cpu", "cuda"):
            f = loss_and_gradient_function(get_backend(device), spec, inp, Y, sw, alpha=0.1,
                                           l1=0.01, dtype=np.dtype(dtype), chunk=5)
            loss, grad = f(params.copy())
            results.append((loss, grad.copy()))
    finally:
        network.configure(tiles=before)
    (l_cpu, g_cpu), (l_gpu, g_gpu) = results
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=10 * RTOL[dtype])
    assert_rel(g_gpu, g_cpu, dtype, factor=10)


@pytest.fixture
def split_products():
    """Split every product along its depth, as far as one panel per split
    (see ``fastbp.kernels.cuda.gemm``)."""
    from fastbp.kernels.cuda import network

    before = network.SPLIT_BLOCKS, network.SPLIT_PANELS
    network.configure(split_blocks=64, split_panels=1)
    yield
    network.configure(split_blocks=before[0], split_panels=before[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[5]],
                         ids=["residual", "sparse", "batchnorm"])
def test_split_products_match_cpu(case, dtype, split_products):
    """Split-K products (partial tiles combined by the last block of each
    tile) give the CPU's loss and gradient, and the same gradient bits every
    run."""
    spec, params, inp, Y, sw, _ = network_case(dtype=dtype, n=13, **case)
    results = []
    for device in ("cpu", "cuda", "cuda"):
        f = loss_and_gradient_function(get_backend(device), spec, inp, Y, sw, alpha=0.1,
                                       l1=0.01, dtype=np.dtype(dtype), chunk=5)
        loss, grad = f(params.copy())
        results.append((loss, grad.copy()))
    (l_cpu, g_cpu), (l_gpu, g_gpu), (l_again, g_again) = results
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=10 * RTOL[dtype])
    assert_rel(g_gpu, g_cpu, dtype, factor=10)
    # The loss is added with atomics (README), in whatever order a block's
    # threads reach them: the same to rounding, not bit for bit, which the
    # simulator showed once its threads interleaved finely (helper-146).
    # The gradient has no atomic sum: the same bits.
    np.testing.assert_allclose(l_again, l_gpu, rtol=RTOL[dtype])
    np.testing.assert_array_equal(g_again, g_gpu)


def _fit_pair(Est, X, y, *, fit_kw=None, **kw):
    kw.setdefault("random_state", 0)
    models = []
    for device in ("cpu", "cuda"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models.append(Est(device=device, **kw).fit(X, y, **(fit_kw or {})))
    return models


def _data(dtype, n=14, f=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, f)).astype(dtype)
    y = rng.integers(0, 3, n)
    return X, y


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_one_epoch_matches_cpu(solver, dtype):
    """One epoch from identical weights (same random_state: same init and
    batch order) gives the same model on both devices."""
    X, y = _data(dtype)
    cpu, gpu = _fit_pair(MLPClassifier, X, y, hidden_layer_sizes=(9, 6), solver=solver,
                         max_iter=1, batch_size=4, learning_rate_init=0.05, alpha=0.01)
    for a, b in zip(gpu.coefs_ + gpu.intercepts_, cpu.coefs_ + cpu.intercepts_):
        assert a.dtype == b.dtype == dtype
        assert_rel(a, b, dtype)
    np.testing.assert_allclose(gpu.loss_, cpu.loss_, rtol=RTOL[dtype])
    np.testing.assert_allclose(gpu.history_["grad_norm"], cpu.history_["grad_norm"],
                               rtol=10 * RTOL[dtype])
    np.testing.assert_allclose(gpu.history_["dead_fraction"],
                               cpu.history_["dead_fraction"])
    # The first step's squared gradient norm per layer: the exploding-
    # gradient warning's baseline, which its message prints (rev-271).
    first_gpu, first_cpu = gpu._progress.monitor.first_sq, cpu._progress.monitor.first_sq
    assert first_gpu.dtype == first_cpu.dtype == dtype and np.all(first_cpu > 0)
    assert_rel(first_gpu, first_cpu, dtype, factor=10)
    assert gpu.t_ == cpu.t_ and gpu.n_iter_ == cpu.n_iter_


def test_one_epoch_with_split_products_matches_cpu(split_products):
    """A training epoch (forward, weight-gradient and delta products all
    split) and prediction match the CPU."""
    dtype = np.float64
    X, y = _data(dtype, n=20)
    cpu, gpu = _fit_pair(MLPClassifier, X, y, hidden_layer_sizes=(9, 6), solver="adam",
                         max_iter=1, batch_size=16, learning_rate_init=0.05, alpha=0.01)
    for a, b in zip(gpu.coefs_ + gpu.intercepts_, cpu.coefs_ + cpu.intercepts_):
        assert_rel(a, b, dtype)
    np.testing.assert_allclose(gpu.loss_, cpu.loss_, rtol=RTOL[dtype])
    assert_rel(gpu.predict_proba(X), cpu.predict_proba(X), dtype, factor=10)


def test_launches_are_kept_between_driver_calls(monkeypatch):
    """A fit's driver calls (one per epoch here) reuse the launches the
    first one marshalled; a launch whose fixed arguments change (sgd's
    learning rate under ``invscaling``) is rebuilt, and the model still
    matches the CPU's."""
    from fastbp.kernels.cuda import network

    built = []

    class Counting(network.Launch):
        def __init__(self, dispatcher, *args, **kwargs):
            built.append(dispatcher.py_func.__name__)
            super().__init__(dispatcher, *args, **kwargs)

    monkeypatch.setattr(network, "Launch", Counting)
    X, y = _data(np.float64)
    kw = dict(hidden_layer_sizes=(5,), max_iter=3, batch_size=7, learning_rate_init=0.05,
              random_state=0, tol=0, n_iter_no_change=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(device="cuda", solver="adam", **kw).fit(X, y)
    # forward x2, loss, weight gradient x2, delta, optimizer: once each.
    assert sorted(built) == sorted(["forward", "forward", "output_loss_delta", "weight_grad",
                                    "weight_grad", "delta", "optimizer_step"])
    built.clear()
    cpu, gpu = _fit_pair(MLPClassifier, X, y, solver="sgd", learning_rate="invscaling", **kw)
    assert built.count("optimizer_step") == 3 and built.count("forward") == 2
    for a, b in zip(gpu.coefs_ + gpu.intercepts_, cpu.coefs_ + cpu.intercepts_):
        assert_rel(a, b, np.float64)


# Options whose result is deterministic: GPU and CPU models must agree.
TOOLKIT = [
    dict(solver="rmsprop", activation="gelu"),
    dict(solver="adagrad", activation=["swish", "mish"]),
    dict(solver="adamw", alpha=0.1, learning_rate="cosine"),
    dict(solver="sgd", nesterovs_momentum=False, learning_rate="step", step_size=1),
    dict(solver="sgd", learning_rate="invscaling", l1=0.01),
    dict(normalization="batch"),
    dict(normalization="layer", residual=True, hidden_layer_sizes=(6, 6)),
    dict(clip_grad_norm=0.05),
    dict(class_weight="balanced"),
    dict(early_stopping=True, validation_fraction=0.3, n_iter_no_change=1),
    dict(solver="lbfgs", l1=0.01),
]
TOOLKIT_IDS = ["rmsprop-gelu", "adagrad-mixed", "adamw-cosine", "sgd-step", "invscaling-l1",
               "batchnorm", "layernorm-residual", "clip", "class_weight", "early_stopping",
               "lbfgs"]


#: Bounds of test_toolkit_matches_cpu, in RTOL units: on the weights and on
#: the predicted probabilities. Two epochs compound rounding: in float32 the
#: unmodified kernels' largest errors (simulator, fix-282) were 2.4e-6 on
#: the weights and 1.8e-5 on the probabilities (rmsprop-gelu; every other
#: case at most 2.7e-7 and 2.1e-7), 13 and 5.5 times below these bounds.
#: The former float32 bound, 1e-3, let through mutants that float64 caught:
#: AdamW's epsilon left unscaled put the weights 1.2e-4 off (rev-271).
TOOLKIT_FACTORS = {np.float32: (3, 10), np.float64: (100, 100)}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("options", TOOLKIT, ids=TOOLKIT_IDS)
def test_toolkit_matches_cpu(options, dtype):
    X, y = _data(dtype, n=16)
    kw = dict(hidden_layer_sizes=(7, 5), max_iter=2, batch_size=6, learning_rate_init=0.02)
    kw.update(options)
    sw = np.linspace(0.5, 1.5, len(y)).astype(dtype)
    cpu, gpu = _fit_pair(MLPClassifier, X, y, fit_kw=dict(sample_weight=sw), **kw)
    errors = [rel_err(a, b) for a, b in zip(gpu.coefs_, cpu.coefs_)]
    weights, probabilities = TOOLKIT_FACTORS[dtype]
    if max(errors) > RTOL[dtype] * weights:
        # helper-146: [layernorm-residual-float32] failed once in CI (3.2e-3)
        # and never again here; refitting says which device moved.
        cpu2, gpu2 = _fit_pair(MLPClassifier, X, y, fit_kw=dict(sample_weight=sw), **kw)
        pytest.fail(f"relative errors per layer {[f'{e:.3g}' for e in errors]}; refitted, "
                    f"the CPU repeats its weights: {_same_weights(cpu, cpu2)}, the GPU: "
                    f"{_same_weights(gpu, gpu2)}; the refits differ by "
                    f"{max(rel_err(a, b) for a, b in zip(gpu2.coefs_, cpu2.coefs_)):.3g}")
    assert_rel(gpu.predict_proba(X), cpu.predict_proba(X), dtype, factor=probabilities)


def _same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_))


@pytest.mark.parametrize("normalization", ["layer", "batch"])
def test_normalised_residual_fits_repeat_bit_for_bit(normalization):
    """helper-146: ``test_toolkit_matches_cpu[layernorm-residual-float32]``
    failed once in CI, 3.2e-3 from the CPU; about 30 GPU fits of that case
    here (alone, under load, in suite order) gave the same bits. No
    atomic sum reaches these weights (no clipping, no lbfgs, and ``tol``
    cannot stop two epochs), so GPU fits must repeat bit for bit, however a
    block's threads interleave (``conftest.py`` makes them switch every
    10 us): a missing barrier in the products or a kernel that reads what
    another thread of its block writes would show here (a product without
    its second barrier failed both cases), and so did the simulator's
    unlocked shared arrays (the batch-norm case failed before
    ``conftest.py`` locked them)."""
    X, y = _data(np.float32, n=16)
    sw = np.linspace(0.5, 1.5, len(y)).astype(np.float32)
    kw = dict(hidden_layer_sizes=(6, 6), normalization=normalization, residual=True,
              max_iter=2, batch_size=6, learning_rate_init=0.02, random_state=0,
              device="cuda")
    fits = []
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(MLPClassifier(**kw).fit(X, y, sample_weight=sw))
    assert all(_same_weights(fits[0], f) for f in fits[1:])


@pytest.mark.parametrize("solver", ["rmsprop", "adam"])
def test_float32_decay_rates_round_once(solver):
    """helper-113: on the GPU too, ``1 - beta_2`` and the bias corrections
    come from the betas in double, rounded once: with beta_2 = 0.999 the
    float32 model stays within float32 rounding of the float64 one. With
    ``one - beta_2`` of the float32 beta_2, rmsprop's lay 6.2e-6 from it
    (1.1e-7 now); adam's passed before too (its scaled second moment and
    bias correction mostly cancel here) and is kept as a guard."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((24, 5))
    y = X @ rng.standard_normal(5) / 3
    kw = dict(hidden_layer_sizes=(6,), activation="tanh", solver=solver, batch_size=8,
              learning_rate_init=0.01, beta_2=0.999, max_iter=2, random_state=0,
              device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f32 = MLPRegressor(**kw).fit(X.astype(np.float32), y.astype(np.float32))
        f64 = MLPRegressor(**kw).fit(X, y)
    dist = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(f32.coefs_, f64.coefs_))
    assert dist < 6e-7, dist


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_regressor_sparse_poisson_matches_cpu(dtype):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 6)).astype(dtype)
    X[X < 0.4] = 0
    y = rng.poisson(2.0, (12, 2)).astype(dtype)
    cpu, gpu = _fit_pair(MLPRegressor, sp.csr_matrix(X), y, loss="poisson",
                         hidden_layer_sizes=(5,), max_iter=2, batch_size=5)
    assert_rel(gpu.predict(X), cpu.predict(X), dtype, factor=100)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_float32_losses_whose_sum_a_float32_cannot_hold_match_cpu(solver):
    # helper-49: the GPU added a batch's weighted row losses in a float32
    # record, the CPU in a float64: finite row losses of 5e33 times weights
    # of 6e4 overflowed on the GPU only, which raised DivergenceError.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 3)).astype(np.float32)
    y = np.full(16, 1e17, np.float32)
    sw = np.full(16, 6e4, np.float32)
    cpu, gpu = _fit_pair(MLPRegressor, X, y, fit_kw={"sample_weight": sw}, solver=solver,
                         hidden_layer_sizes=(4,), max_iter=2, batch_size=5)
    assert np.isfinite(cpu.loss_) and cpu.loss_ > 1e33
    assert_rel(gpu.loss_, cpu.loss_, np.float32, factor=10)
    if solver == "adam":
        assert_rel(np.asarray(gpu.loss_curve_), np.asarray(cpu.loss_curve_), np.float32,
                   factor=10)


def test_dropout_trains_and_is_reproducible():
    X, y = _data(np.float64, n=16)
    kw = dict(hidden_layer_sizes=(8, 6), dropout=[0.5, 0.25], max_iter=3, batch_size=8,
              random_state=0, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MLPClassifier(**kw).fit(X, y)
        b = MLPClassifier(**kw).fit(X, y)
        no_drop = MLPClassifier(**{**kw, "dropout": 0.0}).fit(X, y)
    assert np.all(np.isfinite(a.loss_curve_))
    for ca, cb, cn in zip(a.coefs_, b.coefs_, no_drop.coefs_):
        np.testing.assert_array_equal(ca, cb)
    assert not np.allclose(a.coefs_[0], no_drop.coefs_[0])


def test_partial_fit_and_warm_start_continue_like_cpu():
    X, y = _data(np.float64, n=12)
    models = {}
    for device in ("cpu", "cuda"):
        m = MLPClassifier((6,), batch_size=4, random_state=0, device=device)
        m.partial_fit(X, y, classes=[0, 1, 2])
        m.partial_fit(X, y)
        w = MLPClassifier((6,), max_iter=1, batch_size=4, random_state=0, warm_start=True,
                          device=device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w.fit(X, y)
            w.fit(X, y)
        models[device] = (m, w)
    for g, c in zip(models["cuda"], models["cpu"]):
        assert_rel(g.coefs_[0], c.coefs_[0], np.float64)
        assert_rel(g._optimizer.state_2, c._optimizer.state_2, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_models_move_between_devices(dtype):
    X, y = _data(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpu = MLPClassifier((6,), max_iter=2, batch_size=7, random_state=0,
                            device="cuda").fit(X, y)
        cpu = MLPClassifier((6,), max_iter=2, batch_size=7, random_state=0).fit(X, y)
    assert all(isinstance(c, np.ndarray) for c in gpu.coefs_)
    p_gpu = gpu.predict_proba(X)
    moved = pickle.loads(pickle.dumps(gpu)).set_params(device="cpu")
    np.testing.assert_allclose(moved.predict_proba(X), p_gpu, rtol=10 * RTOL[dtype])
    cpu.set_params(device="cuda")
    np.testing.assert_allclose(cpu.predict_proba(X), p_gpu, rtol=10 * RTOL[dtype])
    assert clone(gpu).get_params()["device"] == "cuda"


def test_gradient_warning_on_the_gpu():
    """A vanishing gradient warns on the GPU as on the CPU (the diagnostics
    are shared; the per-layer norms come from the device)."""
    X, y = _data(np.float64, n=12)
    caught = {}
    for device in ("cpu", "cuda"):
        deep = MLPClassifier((6,) * 8, activation="logistic", solver="sgd", max_iter=3,
                             batch_size=6, random_state=0, device=device)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            deep.fit(X / 100, y)
        caught[device] = [str(w.message) for w in record
                          if issubclass(w.category, GradientWarning)]
    assert caught["cuda"], "no GradientWarning on the GPU"
    assert [m.split(":")[0] for m in caught["cuda"]] == \
        [m.split(":")[0] for m in caught["cpu"]]


@pytest.mark.parametrize("n_outputs, rows", [(1, 1), (1, 2), (2, 1)])
def test_one_or_two_rows_of_a_model_with_few_outputs_predict_like_cpu(n_outputs, rows):
    # helper-64: a prediction's workspace has no deltas (offset -1), whose
    # one-element placeholder a view of rows x outputs <= 2 seemed to fit:
    # "cannot reshape array of size 0 into shape (1,1)".
    X, y = _data(np.float64, n=20)
    target = (y % 2) if n_outputs == 1 else X[:, :2]
    Est = MLPClassifier if n_outputs == 1 else MLPRegressor
    gpu, cpu = (_fit_pair(Est, X, target, hidden_layer_sizes=(3,), max_iter=2)[::-1])
    np.testing.assert_array_equal(gpu.predict(X[:rows]), cpu.predict(X[:rows]))
    if Est is MLPClassifier:
        assert_rel(gpu.predict_proba(X[:rows]), cpu.predict_proba(X[:rows]), np.float64,
                   factor=10)


def test_clipping_a_float32_gradient_whose_squared_norm_a_float32_cannot_hold():
    # helper-64: each block's sum of squares went into a float32 record,
    # where the sum of squares that each fit overflowed: the norm was inf,
    # and clipping scaled every step to 0 (the CPU sums in float64).
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((16, 20)) * 20).astype(np.float32)
    y = (rng.standard_normal(16) * 1.5e18).astype(np.float32)
    cpu, gpu = _fit_pair(MLPRegressor, X, y, hidden_layer_sizes=(40,), solver="sgd",
                         max_iter=2, batch_size=16, tol=0, n_iter_no_change=99,
                         clip_grad_norm=1.0, learning_rate_init=0.01)
    # Stuck, the GPU's weights moved by 1e-8 where the CPU's moved by 6e-3
    # (a loss of 4e35 hides steps of lr x clip).
    for g, c in zip(gpu.coefs_, cpu.coefs_):
        assert_rel(g, c, np.float32, factor=10)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_sparse_x_densifies_in_chunks_within_the_budget(monkeypatch, solver):
    # helper-64: prediction densified chunks of up to 4096 rows of a sparse
    # X (3 GiB for 200,000 features), kept for the rest of the process.
    from fastbp.kernels.cuda import network

    X, y = _data(np.float64, n=15, f=6)
    X[X < 0.3] = 0
    X = sp.csr_matrix(X)
    budget = 3 * 6 * 8  # three float64 rows
    monkeypatch.setattr(network, "SPARSE_DENSIFY_BYTES", budget)
    asked = []
    real = network._scratch

    def scratch(name, size, dtype, zeroed=False):
        if name == "xb":
            asked.append(size * np.dtype(dtype).itemsize)
        return real(name, size, dtype, zeroed)

    monkeypatch.setattr(network, "_scratch", scratch)
    cpu, gpu = _fit_pair(MLPClassifier, X, y, hidden_layer_sizes=(4,), solver=solver,
                         max_iter=2, batch_size=3)
    assert_rel(gpu.coefs_[0], cpu.coefs_[0], np.float64)
    assert_rel(gpu.predict_proba(X), cpu.predict_proba(X), np.float64, factor=10)
    assert asked and max(asked) <= budget


def test_nan_weights_or_x_under_assume_finite_are_refused_as_on_the_cpu():
    # helper-84: the GPU's predict checks neither its weights nor (where
    # assume_finite=True skipped validation) X, and relu turns NaN into 0:
    # NaN weights, or a NaN in a dense or CSR X, gave ordinary-looking
    # probabilities where the CPU raises.
    import sklearn

    X, y = _data(np.float64, n=12, f=3)
    cpu, gpu = _fit_pair(MLPClassifier, X, y, hidden_layer_sizes=(4,), batch_size=4,
                         max_iter=2)
    bad = X[:2].copy()
    bad[0, 1] = np.nan
    for model in (cpu, gpu):
        with sklearn.config_context(assume_finite=True):
            for rows in (bad, sp.csr_matrix(bad)):
                with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
                    model.predict_proba(rows)
        model.coefs_[0][:] = np.nan
        with pytest.raises(ValueError, match=r"parameters hold NaN or infinite values "
                                             r"\(in coefs_\)"):
            model.predict_proba(X[:2])


def _record_gpu_dropout_calls(monkeypatch):
    """Wrap the GPU's ``train_epoch`` to keep, per call, what a NumPy
    reference needs to redo it: the parameters before and after, the
    stream seed, the first update number, the rows and batch size, and
    each dropped layer's mask buffer as the call left it (its last batch)."""
    from fastbp.kernels.cuda import network
    from fastbp.kernels.network import M_OFF

    calls = []
    real = network.train_epoch

    def recording(inputs, targets, tables, work, solver, hyper, perm, batch_size, t, *rest):
        before = solver.params.copy_to_host()
        seed = int(work.rng.copy_to_host()[0])
        out = real(inputs, targets, tables, work, solver, hyper, perm, batch_size, t, *rest)
        host_masks = work.masks.copy_to_host()
        n = len(perm)
        last = min(batch_size, n - (n - 1) // batch_size * batch_size)
        masks = {}
        for l in range(1, len(tables.units) - 1):
            if tables.drops[l] > 0:
                at, m = int(tables.buf[M_OFF, l]), tables.units[l]
                masks[l] = host_masks[at:at + last * m].reshape(last, m)
        calls.append(dict(before=before, after=solver.params.copy_to_host(), seed=seed, t=t,
                          rows=np.array(perm), batch_size=batch_size, masks=masks,
                          t_after=out[1]))
        return out

    monkeypatch.setattr(network, "train_epoch", recording)
    return calls


def test_dropout_masks_and_sgd_steps_match_numpy(monkeypatch):
    # helper-115: the GPU's dropout was checked only against itself (two
    # runs agree, and differ from no dropout): masks without the
    # 1 / (1 - rate) rescaling, or a backward pass that ignored the mask,
    # still passed. Here each call's masks must be the hash's
    # (tests/naive.py, written from its definition), and its sgd steps those
    # of the NumPy backward pass under those masks, in float64.
    import naive

    rates = [0.5, 0.25]
    X, y = _data(np.float64, n=10, f=4)
    calls = _record_gpu_dropout_calls(monkeypatch)
    lr, alpha = 0.3, 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gpu = MLPClassifier((5, 4), activation="tanh", dropout=rates, solver="sgd",
                            momentum=0.0, learning_rate_init=lr, alpha=alpha, batch_size=4,
                            max_iter=2, shuffle=True, random_state=0,
                            device="cuda").fit(X, y)
    units = [X.shape[1], 5, 4, len(gpu.classes_)]
    Y = (y[:, None] == gpu.classes_[None, :]).astype(np.float64)
    # Three batches an epoch (4, 4, 2 rows), two epochs: six updates, in as
    # many calls as the trainer's slicing made.
    assert sum(c["t_after"] - c["t"] for c in calls) == 6
    assert calls[0]["seed"] != 0
    for c in calls:
        flat = c["before"].astype(np.float64)
        t = c["t"]
        for start in range(0, len(c["rows"]), c["batch_size"]):
            idx = c["rows"][start:start + c["batch_size"]]
            masks = [naive.counter_dropout_mask(c["seed"], t, k + 1, (len(idx), units[k + 1]),
                                                rates[k]) for k in range(2)]
            P = naive.unpack(flat, units)
            _, grads, _ = naive.backprop(X[idx], Y[idx], None, P, "tanh", "softmax", alpha,
                                         masks=masks)
            flat = flat - lr * naive.pack(grads)
            t += 1
        assert t == c["t_after"]
        # The mask buffers hold the call's last batch: exactly the hash's.
        for k in range(2):
            np.testing.assert_array_equal(c["masks"][k + 1], masks[k])
        assert_rel(c["after"] - c["before"], flat - c["before"], np.float64)
    # Masks drop some units and keep others, in both layers (else the test
    # would not tell a mask from its absence).
    every = [naive.counter_dropout_mask(calls[0]["seed"], t, k + 1, (4, units[k + 1]),
                                        rates[k]) for t in range(6) for k in range(2)]
    assert all(0 < np.count_nonzero(m) < m.size for m in every)

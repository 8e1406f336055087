"""Conversion to and from scikit-learn's own MLP estimators.

:func:`to_sklearn` turns a fitted fastbp model into a fitted
``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` with the same
weights, for every model that scikit-learn's MLP can represent, so that
every tool that knows scikit-learn's MLP (skl2onnx, skops, inspection)
works on it. :func:`from_sklearn` goes the other way, optimizer state
included, so that training continues in fastbp exactly as it would have in
scikit-learn.
"""

import copy

import numpy as np

from ..training.layout import NetworkLayout
from ..training.optimizers import StochasticOptimizer
from ..training.progress import Progress
from .architecture import hidden_activations

SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
SKLEARN_SOLVERS = ("lbfgs", "sgd", "adam")
SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")

# Fitted attributes that mean the same in both libraries.
_SHARED_FITTED = ("n_features_in_", "feature_names_in_", "n_outputs_", "n_layers_",
                  "out_activation_", "n_iter_", "t_", "loss_", "loss_curve_", "best_loss_",
                  "validation_scores_", "best_validation_score_", "classes_",
                  "_label_binarizer", "_no_improvement_count")


def _sklearn_class(est):
    from sklearn import neural_network

    from .classifier import MLPClassifier

    return (neural_network.MLPClassifier if isinstance(est, MLPClassifier)
            else neural_network.MLPRegressor)


def _hidden_activations(est):
    """The activation name of each hidden layer of the fitted ``est``."""
    activations = getattr(est, "_activations", None)
    if activations is None:  # weights set by hand
        activations = hidden_activations(est.activation, len(est.coefs_) - 1)
    return list(activations)


def why_not_sklearn(est):
    """Why scikit-learn's MLP cannot represent ``est``, or None if it can."""
    activations = _hidden_activations(est)
    if len(set(activations)) > 1:
        return (f"its hidden layers use different activations {list(activations)}; "
                "scikit-learn's MLP has one activation for all hidden layers")
    if activations and activations[0] not in SKLEARN_ACTIVATIONS:
        return (f"activation={activations[0]!r} is not one of scikit-learn's "
                f"{SKLEARN_ACTIVATIONS}")
    if getattr(est, "_normalization", None) is not None:
        return (f"normalization={est._normalization!r}: scikit-learn's MLP has no "
                "normalisation layers")
    if any(getattr(est, "_residual", None) or []):
        return "residual connections: scikit-learn's MLP has none"
    return None


def to_sklearn(est):
    """A fitted scikit-learn MLP with ``est``'s weights and predictions.

    Dropout, L1, clipping and the other training-only options do not change
    a trained network's predictions and are dropped; a solver or schedule
    that scikit-learn lacks is replaced by its default ('adam', 'constant'),
    which matters only if the copy is trained further.

    The optimizer state of an 'sgd' or 'adam' model with one of
    scikit-learn's schedules (velocities and learning rate; moments and
    step count) goes with it, so that the copy's ``partial_fit`` continues
    as the model's would, and :func:`from_sklearn` of the copy gets it back.

    Raises
    ------
    ValueError
        For a model scikit-learn cannot represent (other activations, mixed
        activations, normalisation, residual connections), saying which.
    """
    reason = why_not_sklearn(est)
    if reason is not None:
        raise ValueError(f"This {type(est).__name__} cannot become a scikit-learn MLP: "
                         f"{reason}.")
    cls = _sklearn_class(est)
    params = {k: v for k, v in est.get_params().items() if k in cls().get_params()}
    if params.get("solver") not in SKLEARN_SOLVERS:
        params["solver"] = "adam"
    if params.get("learning_rate") not in SKLEARN_SCHEDULES:
        params["learning_rate"] = "constant"
    if not np.isfinite(params.get("n_iter_no_change", 10)):
        params["n_iter_no_change"] = 10
    # One name for every hidden layer, which scikit-learn can hash and
    # knows: a per-layer list ["tanh", "tanh"] becomes "tanh", and a
    # network without hidden layers, whose activation is never applied,
    # takes scikit-learn's default.
    activations = _hidden_activations(est)
    params["activation"] = activations[0] if activations else "relu"
    out = cls(**params)
    out.coefs_ = [np.array(c, copy=True) for c in est.coefs_]
    out.intercepts_ = [np.array(b, copy=True) for b in est.intercepts_]
    for name in _SHARED_FITTED:
        if hasattr(est, name):
            setattr(out, name, copy.deepcopy(getattr(est, name)))
    if getattr(est, "validation_scores_", None) is not None:
        # An early-stopping fit ends on its best epoch's weights, which
        # scikit-learn keeps apart: a warm fit that never beats that score
        # puts them back, and fails without them.
        out._best_coefs = [np.array(c, copy=True) for c in est.coefs_]
        out._best_intercepts = [np.array(b, copy=True) for b in est.intercepts_]
    optimizer = _sklearn_optimizer(est, out)
    if optimizer is not None:
        out._optimizer = optimizer
    return out


def _sklearn_optimizer(est, out):
    """scikit-learn's ``_optimizer`` for ``out`` (the copy of ``est``), holding
    ``est``'s optimizer state; None where the solver or schedule has no
    scikit-learn equivalent, or ``est`` has no state (L-BFGS, weights set by
    hand)."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

    state = est.__dict__.get("_optimizer")
    if (state is None or est.solver != out.solver or est.solver not in ("sgd", "adam")
            or est.learning_rate != out.learning_rate):
        return None
    # scikit-learn updates coefs_ + intercepts_ in place through these.
    params = out.coefs_ + out.intercepts_
    layout = NetworkLayout([est.coefs_[0].shape[0]] + [c.shape[1] for c in est.coefs_])

    def per_layer(flat):
        coefs, intercepts, _, _ = layout.unpack(flat)
        return [np.array(a, copy=True) for a in coefs + intercepts]

    if est.solver == "sgd":
        optimizer = SGDOptimizer(params, out.learning_rate_init, out.learning_rate,
                                 out.momentum, out.nesterovs_momentum, out.power_t)
        optimizer.velocities = per_layer(state.state_1)
        optimizer.learning_rate = state.learning_rate
    else:
        optimizer = AdamOptimizer(params, out.learning_rate_init, out.beta_1, out.beta_2,
                                  out.epsilon)
        optimizer.ms = per_layer(state.state_1)
        optimizer.vs = per_layer(state.state_2)
        optimizer.t = state.t
    return optimizer


def from_sklearn(cls, model):
    """A fastbp model with a fitted scikit-learn MLP's weights and state.

    The optimizer state (SGD velocities, Adam moments and step count) and
    the stopping state are converted too, so that ``partial_fit`` or a warm
    ``fit`` continue as scikit-learn would.

    Parameters
    ----------
    cls : type
        :class:`~fastbp.MLPClassifier` or :class:`~fastbp.MLPRegressor`.
    model : sklearn.neural_network.MLPClassifier or MLPRegressor
        Fitted.
    """
    from sklearn.utils.validation import check_is_fitted

    expected = _sklearn_class(cls.__new__(cls))
    if not isinstance(model, expected):
        raise TypeError(f"{cls.__name__}.from_sklearn takes a fitted "
                        f"sklearn.neural_network.{expected.__name__}, got "
                        f"{type(model).__name__}.")
    check_is_fitted(model)
    params = {k: v for k, v in model.get_params().items() if k in cls().get_params()}
    est = cls(**params)
    dtype = model.coefs_[0].dtype
    est.coefs_ = [np.array(c, copy=True) for c in model.coefs_]
    est.intercepts_ = [np.array(b, copy=True) for b in model.intercepts_]
    for name in _SHARED_FITTED:
        if hasattr(model, name):
            setattr(est, name, copy.deepcopy(getattr(model, name)))
    n_hidden = len(est.coefs_) - 1
    est.normalization_scales_, est.normalization_shifts_ = [], []
    est.running_mean_, est.running_var_ = [], []
    est._activations = [model.activation] * n_hidden
    est._residual = [False] * n_hidden
    est._normalization = None
    est._optimizer = _convert_optimizer(model, est, dtype)
    if model.solver in ("sgd", "adam"):
        progress = Progress(model.early_stopping)
        progress.loss_curve = list(getattr(model, "loss_curve_", []))
        progress.loss = getattr(model, "loss_", None)
        progress.t = getattr(model, "t_", 0)
        progress.n_iter = getattr(model, "n_iter_", 0)
        progress.no_improvement_count = getattr(model, "_no_improvement_count", 0)
        # A model trained by lbfgs and then set to a stochastic solver, or
        # one whose weights were set by hand, has none of these: it goes on
        # from a fresh stopping state.
        if model.early_stopping:
            progress.validation_scores = list(getattr(model, "validation_scores_", None) or [])
            progress.best_validation_score = getattr(model, "best_validation_score_",
                                                     progress.best_validation_score)
        else:
            progress.best_loss = getattr(model, "best_loss_", progress.best_loss)
        est._progress = progress
    else:
        est._progress = None
    return est


def _convert_optimizer(model, est, dtype):
    """fastbp's optimizer holding the state of scikit-learn's ``_optimizer``."""
    sk = getattr(model, "_optimizer", None)
    if model.solver not in ("sgd", "adam") or sk is None:
        return None
    units = [est.coefs_[0].shape[0]] + [c.shape[1] for c in est.coefs_]
    layout = NetworkLayout(units)
    optimizer = StochasticOptimizer(
        model.solver, layout.n_params, dtype, model.learning_rate_init, model.learning_rate,
        model.momentum, model.nesterovs_momentum, model.power_t, model.beta_1, model.beta_2,
        model.epsilon, t_max=model.max_iter)
    n = len(est.coefs_)
    if model.solver == "sgd":
        optimizer.state_1[:] = layout.pack(sk.velocities[:n], sk.velocities[n:], dtype)
        optimizer.learning_rate = float(sk.learning_rate)
    else:
        optimizer.state_1[:] = layout.pack(sk.ms[:n], sk.ms[n:], dtype)
        optimizer.state_2[:] = layout.pack(sk.vs[:n], sk.vs[n:], dtype)
        optimizer.t = int(sk.t)
    optimizer.epoch = int(getattr(model, "n_iter_", 0))
    return optimizer

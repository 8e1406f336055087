"""Conversion to and from scikit-learn's own MLP estimators.

:func:`to_sklearn` turns a fitted fastbp model into a fitted
``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` with the same
weights, for every model that scikit-learn's MLP can represent, so that
the tools that know scikit-learn's MLP (skl2onnx, skops, inspection) work
on it (skl2onnx has no converter for a Poisson regressor's exp output, for
scikit-learn's own neither). :func:`from_sklearn` goes the other way,
optimizer state included, so that training continues in fastbp as it would
have in scikit-learn with the parameters the model was trained with.
"""

import copy
import math

import numpy as np

from ..exceptions import warn_at_caller
from ..training.layout import NetworkLayout, chain_problem
from ..training.optimizers import StochasticOptimizer, same_schedule
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
    Where ``early_stopping`` was switched since the fit, the copy's stopping
    record is the one fastbp's next call would start afresh (a warm fit
    with early stopping then draws scikit-learn's validation split, not
    fastbp's).

    Raises
    ------
    ValueError
        For a model scikit-learn cannot represent (other activations, mixed
        activations, normalisation, residual connections), saying which,
        whose ``coefs_`` and ``intercepts_`` do not chain, or whose
        parameters hold NaN or infinite values (which ``predict`` refuses),
        naming the attributes that hold them, or whose parameters were set
        to values its class refuses (``set_params(solver="bogus")`` after
        fitting), naming them, before anything is built.
    """
    try:
        # Parameters set since the fit (set_params(activation="nope")) are
        # checked by no fit: the copy took scikit-learn's defaults in their
        # place (relu, adam) and was returned as this model. save refuses
        # the same model, as fit would.
        est._validate_params()
    except ValueError as exc:
        raise ValueError(f"This {type(est).__name__} cannot become a scikit-learn MLP: "
                         f"a parameter holds a value that fit and fastbp.save refuse "
                         f"(set since it was fitted?): {str(exc).rstrip('.')}.") from exc
    # Checked for every model (helper-154): weights replaced by hand in a
    # fitted model are not checked on the way here, and the copy failed
    # at its first predict with a bare matmul error.
    problem = chain_problem(est.coefs_, est.intercepts_)
    if problem is not None:
        raise ValueError(f"This {type(est).__name__} cannot become a scikit-learn MLP: its "
                         f"weights do not fit together: {problem}.")
    reason = why_not_sklearn(est)
    if reason is not None:
        raise ValueError(f"This {type(est).__name__} cannot become a scikit-learn MLP: "
                         f"{reason}.")
    # (rev-259) predict refuses such a model, but scikit-learn's MLP does
    # not check its weights: the copy predicted NaN without a word.
    bad = est._non_finite_parameters()
    if bad:
        raise ValueError(f"This {type(est).__name__} cannot become a scikit-learn MLP: "
                         f"its parameters hold NaN or infinite values (in "
                         f"{', '.join(bad)}), and it cannot predict. Fit it again, or set "
                         "finite weights.")
    cls = _sklearn_class(est)
    params = _copied_params(est, cls)
    lost = _training_settings_lost(est)
    if lost:
        warn_at_caller(
            f"to_sklearn: the copy predicts as this {type(est).__name__} does, but "
            "scikit-learn's MLP lacks some of its training settings, so the copy (and "
            "from_sklearn of it) would train on otherwise: " + "; ".join(lost) + ".",
            UserWarning)
    if params.get("solver") not in SKLEARN_SOLVERS:
        params["solver"] = "adam"
    if params.get("learning_rate") not in SKLEARN_SCHEDULES:
        params["learning_rate"] = "constant"
    patience_dropped = False
    if not np.isfinite(params.get("n_iter_no_change", 10)) and not _accepts(
            cls, "n_iter_no_change", params["n_iter_no_change"]):
        params["n_iter_no_change"], patience_dropped = 10, True
    # One name for every hidden layer, which scikit-learn can hash and
    # knows: a per-layer list ["tanh", "tanh"] becomes "tanh", and a
    # network without hidden layers, whose activation is never applied,
    # takes scikit-learn's default.
    activations = _hidden_activations(est)
    params["activation"] = activations[0] if activations else "relu"
    out = cls(**params)
    _copy_metadata_requests(est, out)
    out.coefs_ = [np.array(c, copy=True) for c in est.coefs_]
    out.intercepts_ = [np.array(b, copy=True) for b in est.intercepts_]
    for name in _SHARED_FITTED:
        if hasattr(est, name):
            setattr(out, name, copy.deepcopy(getattr(est, name)))
    if patience_dropped:
        # Counted against an endless patience; against 10, a warm fit of
        # the copy would stop at once.
        out._no_improvement_count = 0
    progress = est.__dict__.get("_progress")
    recorded = getattr(progress, "scoring", getattr(est, "scoring", None))
    trained_es = getattr(est, "validation_scores_", None) is not None
    if recorded is not None and trained_es:
        # Scores of another scorer (a loss, an F1) than scikit-learn's
        # accuracy or R² (the scoring they were measured with, which
        # set_params may have changed since), which a warm fit of the copy
        # would compare with its own: its early stopping starts afresh, as
        # fastbp's does when scoring changes.
        out.validation_scores_ = []
        out.best_validation_score_ = -np.inf
        out._no_improvement_count = 0
    if progress is not None and trained_es != bool(out.early_stopping):
        # early_stopping switched since the fit: scikit-learn reads the
        # record of the mode it trains in (None for the other, which its
        # partial_fit or warm fit failed on), so the copy gets the record
        # fastbp's next call converts to (Progress.for_mode): the loss
        # curve goes on, the stopping state starts afresh.
        out._no_improvement_count = 0
        if out.early_stopping:
            out.validation_scores_, out.best_validation_score_ = [], -np.inf
            out.best_loss_ = None
        else:
            out.validation_scores_ = out.best_validation_score_ = None
            out.best_loss_ = np.inf
    if getattr(out, "validation_scores_", None) is not None:
        # An early-stopping fit ends on its best epoch's weights, which
        # scikit-learn keeps apart: a warm fit that never beats that score
        # puts them back, and fails without them.
        out._best_coefs = [np.array(c, copy=True) for c in est.coefs_]
        out._best_intercepts = [np.array(b, copy=True) for b in est.intercepts_]
    optimizer = _sklearn_optimizer(est, out)
    if optimizer is not None:
        out._optimizer = optimizer
    return out


def _training_settings_lost(est):
    """What of ``est``'s training settings a scikit-learn copy drops or
    changes, each as ``"name=value (what the copy does)"``."""
    lost = []
    solver = est.solver
    if solver == "adamw":
        lost.append("solver='adamw' (the copy has 'adam', without this model's optimizer "
                    "state, and alpha, a decoupled weight decay here, becomes an L2 penalty)")
    elif solver not in SKLEARN_SOLVERS:
        lost.append(f"solver={solver!r} (the copy has 'adam', without this model's "
                    "optimizer state)")
    if solver != "lbfgs" and est.learning_rate not in SKLEARN_SCHEDULES:
        lost.append(f"learning_rate={est.learning_rate!r} (the copy has 'constant', without "
                    "this model's optimizer state)")
    for name, default in (("dropout", 0.0), ("l1", 0.0), ("clip_grad_norm", None),
                          ("class_weight", None), ("scoring", None)):
        value = getattr(est, name, default)
        if not _is_default(value, default):
            lost.append(f"{name}={value!r} (dropped)")
    if est.init != "glorot_uniform":
        lost.append(f"init={est.init!r} (dropped: a fresh fit of the copy draws "
                    "scikit-learn's glorot_uniform weights)")
    return lost


def _is_default(value, default):
    if value is None or default is None:
        return value is default
    # A number, or one per hidden layer (dropout).
    return bool(np.all(np.asarray(value, dtype=float) == default))


def _sklearn_optimizer(est, out):
    """scikit-learn's ``_optimizer`` for ``out`` (the copy of ``est``), holding
    ``est``'s optimizer state; None where the solver or schedule has no
    scikit-learn equivalent, or ``est`` has no state (L-BFGS, weights set by
    hand)."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

    state = est.__dict__.get("_optimizer")
    # The state's own solver and schedule, which set_params since the fit
    # may no longer name: Adam's moments are no SGD velocities. A schedule
    # that partial_fit takes as no change keeps the state here too, so that
    # the copy's partial_fit goes on as the model's.
    if (state is None or state.solver != out.solver or state.solver not in ("sgd", "adam")
            or not same_schedule(state.solver, state.lr_schedule, out.learning_rate)):
        return None
    # Hyper-parameters set since the last partial_fit, which fastbp's next
    # call would take (StochasticOptimizer.retune): the copy goes on with
    # them too.
    state = state.copy()
    est._retune(state, getattr(est.__dict__.get("_progress"), "t", 0))
    # scikit-learn updates coefs_ + intercepts_ in place through these.
    params = out.coefs_ + out.intercepts_
    layout = NetworkLayout([est.coefs_[0].shape[0]] + [c.shape[1] for c in est.coefs_])

    def per_layer(flat):
        coefs, intercepts, _, _ = layout.unpack(flat)
        return [np.array(a, copy=True) for a in coefs + intercepts]

    if state.solver == "sgd":
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
    ``fit`` continue as scikit-learn would with the parameters the model
    was trained with. Hyper-parameters set on it since (``momentum``,
    ``learning_rate_init``, ``beta_1``, ...), which scikit-learn's kept
    optimizer ignores, take effect at the next call, as in a fastbp stream.

    Parameters
    ----------
    cls : type
        :class:`~fastbp.MLPClassifier` or :class:`~fastbp.MLPRegressor`.
    model : sklearn.neural_network.MLPClassifier or MLPRegressor
        Fitted.

    Raises
    ------
    TypeError
        If ``model`` is not a scikit-learn MLP of ``cls``'s kind.
    ValueError
        If one of ``model``'s parameters holds a value that scikit-learn
        takes and fastbp refuses (a bool where a number belongs, such as
        ``max_iter=True``), naming it, or if its fitted state is one
        :func:`fastbp.save` and :func:`fastbp.load` refuse (attributes set
        by hand that do not fit together, such as ``classes_`` that are not
        the labels its weights decode, or a wrong ``n_layers_``): the
        message starts "from_sklearn:" and names the inconsistency.
    """
    from sklearn.utils.validation import check_is_fitted

    expected = _sklearn_class(cls.__new__(cls))
    if not isinstance(model, expected):
        got = f"{type(model).__module__}.{type(model).__qualname__}"
        if isinstance(model, cls):
            got += " (a fastbp model already: use it as it is, or clone it)"
        raise TypeError(f"{cls.__name__}.from_sklearn takes a fitted "
                        f"sklearn.neural_network.{expected.__name__}, got {got}.")
    check_is_fitted(model)
    params = _copied_params(model, cls)
    _check_converted_params(cls, params)
    est = cls(**params)
    _copy_metadata_requests(model, est)
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
        # The mode the record was made in, not the one set since: the next
        # call converts the record (Progress.for_mode) where they differ,
        # which it cannot see from a record made for the new mode.
        trained_es = getattr(model, "validation_scores_", None) is not None
        progress = Progress(trained_es)
        # scikit-learn's validation scores are its estimator's score: a warm
        # fit with another scoring starts the best score afresh.
        progress.scoring = None
        progress.loss_curve = list(getattr(model, "loss_curve_", []))
        progress.loss = getattr(model, "loss_", None)
        progress.t = getattr(model, "t_", 0)
        progress.n_iter = getattr(model, "n_iter_", 0)
        progress.no_improvement_count = getattr(model, "_no_improvement_count", 0)
        # A model trained by lbfgs and then set to a stochastic solver, or
        # one whose weights were set by hand, has none of these: it goes on
        # from a fresh stopping state.
        # (scikit-learn keeps None for the mode it did not train in, which
        # a comparison with the next epoch's loss or score cannot take.)
        if trained_es:
            progress.validation_scores = list(model.validation_scores_)
            best = getattr(model, "best_validation_score_", None)
            if best is not None:
                progress.best_validation_score = best
            _seed_validation_history(progress, len(est.coefs_))
        else:
            best = getattr(model, "best_loss_", None)
            if best is not None:
                progress.best_loss = best
        est._progress = progress
    else:
        est._progress = None
    try:
        # What save and load check of a fastbp model, checked of the copy
        # (the user's model is only read): a state set by hand on the
        # scikit-learn model (classes_ cut short, a wrong n_layers_) would
        # otherwise convert, predict inconsistently, and be refused at save.
        # On a probe completed as predict completes it: weights set by hand
        # on the scikit-learn model (no n_features_in_ or n_iter_) predict
        # in both libraries, and convert.
        probe = object.__new__(cls)
        probe.__dict__.update(est.__dict__)
        probe._complete_fitted_state()
        probe._check_loaded_state()
    except (ValueError, AttributeError, TypeError) as exc:
        # AttributeError, TypeError: state of the wrong kinds, met by a
        # check before one named it.
        raise ValueError(
            f"from_sklearn: the fitted state of this scikit-learn {expected.__name__} is "
            f"inconsistent, and fastbp's {cls.__name__} would not predict, save or load "
            f"it: {str(exc).rstrip('.')}. Were its attributes set by hand after it was "
            "fitted?") from exc
    return est


def _seed_validation_history(progress, n_layers):
    """Record scikit-learn's early-stopping epochs in ``progress.history``,
    as a native fit's: their loss and validation score, NaN for what
    scikit-learn does not record (validation loss, learning rate, timing,
    gradient norms per layer, dead units).

    Otherwise the scores lived only in ``validation_scores_``, which a
    call with early stopping turned off sets to None (as scikit-learn
    does): a native fit's stay in ``history_``, the converted model's were
    lost. Only where the scores cover every epoch of the loss curve: a
    shorter list (early stopping switched between scikit-learn fits) does
    not say which epochs it scored.
    """
    curve, scores = progress.loss_curve, progress.validation_scores
    if not curve or len(scores) != len(curve):
        return
    history = progress.history
    nan_rows = {"grad_norm": [math.nan] * n_layers}
    for loss, score in zip(curve, scores):
        for key, values in history.items():
            values.append({"loss": loss, "val_score": score}.get(
                key, nan_rows.get(key, math.nan)))


def _copied_params(est, cls):
    """``est``'s parameters that ``cls`` has, copied as ``sklearn.base.clone``
    copies them: a ``RandomState`` shared by the two models would tie the
    one's training to the other's."""
    from sklearn.base import clone

    names = cls().get_params()
    return {k: clone(v, safe=False) for k, v in est.get_params(deep=False).items()
            if k in names}


def _check_converted_params(cls, params):
    """Refuse the scikit-learn parameters ``params`` that ``cls``'s
    constraints do not take, the checks its ``fit`` runs.

    scikit-learn takes a bool where an int or a float belongs
    (``max_iter=True``); fastbp refuses it as the mistake it usually is.
    Converted as they are, such a model raised at its first ``partial_fit``
    and could not be saved, so it is refused here, naming the parameter,
    before anything is returned. It is not converted to the number
    (``True`` to 1) silently: the model's parameters would then differ from
    the ones it was trained with, and a typo would go unnoticed.
    """
    from sklearn.utils._param_validation import (InvalidParameterError,
                                                 validate_parameter_constraints)

    def refused(name, value):
        try:
            validate_parameter_constraints(cls._parameter_constraints, {name: value},
                                           caller_name=cls.__name__)
        except InvalidParameterError as exc:
            return exc
        return None

    for name, value in params.items():
        exc = refused(name, value)
        if exc is None:
            continue
        if isinstance(value, (bool, np.bool_)) and refused(name, int(value)) is None:
            why = (f"a bool where fastbp takes a number, which fastbp refuses: if "
                   f"{int(value)} is what was meant, set_params({name}={int(value)}) on "
                   "the scikit-learn model and convert it again")
        else:
            why = f"which fastbp refuses ({exc})"
        raise ValueError(f"{cls.__name__}.from_sklearn: the scikit-learn model's parameter "
                         f"{name} holds {value!r}, {why}.") from exc


def _copy_metadata_requests(src, dst):
    """Give ``dst`` the metadata-routing requests set on ``src``
    (``set_fit_request`` and the like), as ``sklearn.base.clone`` keeps
    them: without them, a pipeline that routes ``sample_weight`` to the
    model refuses the converted copy.

    Only the requests of parameters that ``dst``'s method takes too: routed
    to a method without it, the metadata would fail the call.
    """
    if "_metadata_request" not in vars(src):
        return
    from sklearn.utils._metadata_requests import SIMPLE_METHODS

    mine = src._get_metadata_request()
    # dst's own defaults, owned by dst (a copy of src's would name src in
    # routing errors).
    theirs = dst._get_metadata_request()
    for method in SIMPLE_METHODS:
        source, target = getattr(mine, method, None), getattr(theirs, method, None)
        if source is None or target is None:
            continue
        for param, alias in source.requests.items():
            if param in target.requests:
                target.add_request(param=param, alias=copy.deepcopy(alias))
    dst._metadata_request = theirs


def _accepts(cls, name, value):
    """Whether ``cls``'s parameter constraints take ``value`` for ``name``."""
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

    try:
        validate_parameter_constraints({name: cls._parameter_constraints[name]},
                                       {name: value}, caller_name=cls.__name__)
    except (InvalidParameterError, KeyError):
        return False
    return True


def _convert_optimizer(model, est, dtype):
    """fastbp's optimizer holding the state of scikit-learn's ``_optimizer``.

    The state's own optimizer decides, not ``model.solver``, which
    ``set_params`` may have changed since the fit: scikit-learn's
    ``partial_fit`` goes on with that optimizer, and fastbp's then refuses
    the changed solver, as it does for its own streams.
    """
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

    sk = getattr(model, "_optimizer", None)
    if model.solver not in ("sgd", "adam") or not isinstance(sk, (SGDOptimizer,
                                                                  AdamOptimizer)):
        return None
    solver = "sgd" if isinstance(sk, SGDOptimizer) else "adam"
    units = [est.coefs_[0].shape[0]] + [c.shape[1] for c in est.coefs_]
    layout = NetworkLayout(units)
    optimizer = StochasticOptimizer(
        solver, layout.n_params, dtype, sk.learning_rate_init,
        sk.lr_schedule if solver == "sgd" else model.learning_rate,
        getattr(sk, "momentum", model.momentum), getattr(sk, "nesterov",
                                                         model.nesterovs_momentum),
        getattr(sk, "power_t", model.power_t), getattr(sk, "beta_1", model.beta_1),
        getattr(sk, "beta_2", model.beta_2), getattr(sk, "epsilon", model.epsilon),
        t_max=model.max_iter)
    n = len(est.coefs_)
    if solver == "sgd":
        optimizer.state_1[:] = layout.pack(sk.velocities[:n], sk.velocities[n:], dtype)
        optimizer.learning_rate = float(sk.learning_rate)
    else:
        optimizer.state_1[:] = layout.pack(sk.ms[:n], sk.ms[n:], dtype)
        optimizer.state_2[:] = layout.pack(sk.vs[:n], sk.vs[n:], dtype)
        optimizer.t = int(sk.t)
    optimizer.epoch = int(getattr(model, "n_iter_", 0))
    return optimizer

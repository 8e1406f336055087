"""Declarative parameter constraints, in scikit-learn's ``_parameter_constraints``
style: each parameter maps to the values it accepts, and a violation raises
``InvalidParameterError`` naming the parameter and the allowed values."""

from numbers import Integral, Real

import numpy as np
from sklearn.metrics import get_scorer_names
from sklearn.utils._param_validation import Interval, Options, StrOptions

MLP_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
}

REGRESSOR_CONSTRAINTS = {
    **MLP_CONSTRAINTS,
    "loss": [StrOptions({"squared_error", "poisson"})],
}

# The training toolkit: parameters beyond scikit-learn's MLP. Elements of
# list-valued parameters are checked in ``architecture.py``.
TOOLKIT_CONSTRAINTS = {
    "activation": [
        StrOptions({"identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "selu",
                    "softplus", "swish", "mish", "gelu"}),
        "array-like",
    ],
    "solver": [StrOptions({"lbfgs", "sgd", "adam", "rmsprop", "adagrad", "adamw"})],
    "learning_rate": [
        StrOptions({"constant", "invscaling", "adaptive", "step", "exponential", "cosine"}),
        callable,
    ],
    "init": [StrOptions({"glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                         "lecun_normal"})],
    "step_size": [Interval(Integral, 1, None, closed="left")],
    "gamma": [Interval(Real, 0, None, closed="neither"), None],
    "l1": [Interval(Real, 0, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
    "normalization": [None, StrOptions({"batch", "layer"})],
    "residual": ["boolean"],
    "clip_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
    # Scorer names, as scikit-learn's own estimators declare them: any str
    # let a typo through every fit without early stopping, the one place it
    # is read (helper-124). "loss" is fastbp's own.
    "scoring": [None, StrOptions(set(get_scorer_names()) | {"loss"}), callable],
    "device": [StrOptions({"cpu", "cuda"})],
}

MLP_CONSTRAINTS.update(TOOLKIT_CONSTRAINTS)
REGRESSOR_CONSTRAINTS.update(TOOLKIT_CONSTRAINTS)
CLASSIFIER_CONSTRAINTS = {
    **MLP_CONSTRAINTS,
    "class_weight": [None, dict, list, StrOptions({"balanced"})],
}

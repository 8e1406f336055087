"""Declarative parameter constraints, in scikit-learn's ``_parameter_constraints``
style: each parameter maps to the values it accepts, and a violation raises
``InvalidParameterError`` naming the parameter and the allowed values."""

from numbers import Integral, Real

import numpy as np
from sklearn.metrics import get_scorer_names
from sklearn.utils._param_validation import Interval, Options, StrOptions


class NumberInterval(Interval):
    """scikit-learn's ``Interval`` that refuses ``bool`` and ``np.bool_``.

    ``bool`` is an ``Integral`` and a ``Real``, so a plain ``Interval``
    let ``max_iter=True`` train one epoch and leave a model that
    ``fastbp.save`` then refused (its optimizer state held ``True`` where
    an int belongs), and ``tol=True`` or ``batch_size=True`` pass as 1.
    A bool where a number is meant is a user error; numpy's integer and
    float scalars are still numbers. The error keeps scikit-learn's
    ``InvalidParameterError`` wording ("must be an int in the range
    [1, inf). Got True instead.").
    """

    def is_satisfied_by(self, val):
        if isinstance(val, (bool, np.bool_)):
            return False
        return super().is_satisfied_by(val)


MLP_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", NumberInterval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [NumberInterval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), NumberInterval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [NumberInterval(Real, 0, None, closed="neither")],
    "power_t": [NumberInterval(Real, 0, None, closed="left")],
    "max_iter": [NumberInterval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [NumberInterval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [NumberInterval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [NumberInterval(Real, 0, 1, closed="left")],
    "beta_1": [NumberInterval(Real, 0, 1, closed="left")],
    "beta_2": [NumberInterval(Real, 0, 1, closed="left")],
    "epsilon": [NumberInterval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [NumberInterval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [NumberInterval(Integral, 1, None, closed="left")],
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
    "step_size": [NumberInterval(Integral, 1, None, closed="left")],
    "gamma": [NumberInterval(Real, 0, None, closed="neither"), None],
    "l1": [NumberInterval(Real, 0, None, closed="left")],
    "dropout": [NumberInterval(Real, 0, 1, closed="left"), "array-like"],
    "normalization": [None, StrOptions({"batch", "layer"})],
    "residual": ["boolean"],
    "clip_grad_norm": [None, NumberInterval(Real, 0, None, closed="neither")],
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

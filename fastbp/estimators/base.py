"""Shared estimator logic: the scikit-learn API around the trainer.

No compiled code lives here: this module validates input, keeps scikit-learn's
fitted attributes and random-number order, and hands arrays to
:mod:`fastbp.training`.
"""

import copy
import warnings
from abc import ABC, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..kernels.codes import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS
from ..training.backend import network_kernels
from ..training.data import KernelInput
from ..training.layout import NetworkLayout
from ..training.lbfgs import fit_lbfgs
from ..training.optimizers import StochasticOptimizer
from ..training.predict import predict_outputs
from ..training.progress import Progress
from ..training.stochastic import fit_stochastic
from .constraints import MLP_CONSTRAINTS

_STOCHASTIC_SOLVERS = ("sgd", "adam")


class BaseMLP(BaseEstimator, ABC):
    """Base class of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _parameter_constraints: dict = dict(MLP_CONSTRAINTS)

    @abstractmethod
    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size,
                 learning_rate, learning_rate_init, power_t, max_iter, loss, shuffle,
                 random_state, tol, verbose, warm_start, momentum, nesterovs_momentum,
                 early_stopping, validation_fraction, beta_1, beta_2, epsilon,
                 n_iter_no_change, max_fun):
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix ``X`` and targets ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 input trains a float32 model.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classification) or real targets (regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._transactional_fit(X, y, sample_weight, incremental=False)

    def _transactional_fit(self, X, y, sample_weight, incremental, prepare=None):
        # A failed fit must leave a fitted model exactly as it was: training
        # works on copies, and every attribute set before the failure is
        # rolled back here.
        saved = dict(self.__dict__)
        try:
            if prepare is not None:
                prepare()
            return self._fit(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _fit(self, X, y, sample_weight, incremental):
        hidden_sizes = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")

        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        Y = self._targets_as_matrix(y, X.dtype)
        n_samples, n_features = X.shape
        units = [n_features, *hidden_sizes, Y.shape[1]]

        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, units, X.dtype)
        elif [c.shape for c in self.coefs_] != list(zip(units[:-1], units[1:])):
            raise ValueError(
                "The network's shape changed since the last fit: layers "
                f"{[c.shape for c in self.coefs_]} cannot be trained with layer "
                f"sizes {units}. Set warm_start=False to start a new model.")
        dtype = self.coefs_[0].dtype
        if X.dtype != dtype:
            raise ValueError(
                f"X has dtype {X.dtype} but the model was fitted with {dtype}; "
                "pass data of the same dtype, or set warm_start=False.")

        layout = NetworkLayout(units)
        params = layout.pack(self.coefs_, self.intercepts_, dtype)
        inp = KernelInput(X)
        kernels = network_kernels("cpu")
        hidden = HIDDEN_ACTIVATIONS[self.activation]
        out_code = OUTPUT_FUNCTIONS[self.out_activation_]

        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(kernels, layout, params, inp, X, y, Y, sample_weight,
                                 hidden, out_code, incremental)
        else:
            result = fit_lbfgs(
                kernels, layout, params, inp, Y, sample_weight, hidden=hidden,
                out_code=out_code, alpha=self.alpha, max_iter=self.max_iter,
                max_fun=self.max_fun, tol=self.tol, verbose=self.verbose)
            self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
            self.loss_ = float(result.fun)

        if not np.isfinite(params).all():
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed.")
        self.coefs_, self.intercepts_ = layout.unpack(params)
        return self

    def _fit_stochastic(self, kernels, layout, params, inp, X, y, Y, sample_weight,
                        hidden, out_code, incremental):
        if not incremental or getattr(self, "_optimizer", None) is None:
            optimizer = StochasticOptimizer(
                self.solver, layout.n_params, params.dtype, self.learning_rate_init,
                self.learning_rate, self.momentum, self.nesterovs_momentum,
                self.power_t, self.beta_1, self.beta_2, self.epsilon)
        else:
            optimizer = copy.deepcopy(self._optimizer)
        progress = copy.deepcopy(getattr(self, "_progress", None))
        if progress is None:
            progress = Progress(self.early_stopping)

        train_rows, validation_score = None, None
        n_train = inp.n_samples
        if self.early_stopping:
            train_rows, validation_score = self._validation_split(
                layout, inp, y, sample_weight, hidden, out_code)
            n_train = len(train_rows)

        if self.batch_size == "auto":
            batch_size = min(200, n_train)
        else:
            if self.batch_size > n_train:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_train))

        fit_stochastic(
            kernels, layout, params, inp, Y, sample_weight, optimizer, progress,
            hidden=hidden, out_code=out_code, alpha=self.alpha, batch_size=batch_size,
            shuffle=self.shuffle, max_iter=self.max_iter, tol=self.tol,
            n_iter_no_change=self.n_iter_no_change, random_state=self._random_state,
            incremental=incremental, train_rows=train_rows,
            validation_score=validation_score, verbose=self.verbose)

        self._optimizer = optimizer
        self._progress = progress
        self.n_iter_ = progress.n_iter
        self.t_ = progress.t
        self.loss_ = progress.loss
        self.loss_curve_ = list(progress.loss_curve)
        self.best_loss_ = progress.best_loss
        self.validation_scores_ = (None if progress.validation_scores is None
                                   else list(progress.validation_scores))
        self.best_validation_score_ = progress.best_validation_score
        self._no_improvement_count = progress.no_improvement_count

    def _validation_split(self, layout, inp, y, sample_weight, hidden, out_code):
        """Split off the validation rows; return them and a scoring function."""
        stratify = self._stratify_labels(y)
        rows = np.arange(inp.n_samples, dtype=np.int64)
        # Splitting row numbers draws exactly what splitting X would, and
        # leaves X uncopied: the kernels read training rows through ``perm``.
        train_rows, val_rows = train_test_split(
            rows, random_state=self._random_state,
            test_size=self.validation_fraction, stratify=stratify)
        if len(val_rows) < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        inp_val = inp.take(val_rows)
        y_val = self._validation_targets(y[val_rows])
        sw_val = None if sample_weight is None else sample_weight[val_rows]
        kernels = network_kernels("cpu")

        def validation_score(params):
            out = predict_outputs(kernels, layout, params, inp_val,
                                  hidden=hidden, out_code=out_code)
            if not np.isfinite(out).all():
                return np.nan
            return self._score_outputs(out, y_val, sw_val)

        return np.ascontiguousarray(train_rows), validation_score

    def _initialize(self, Y, units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(units)
        self.out_activation_ = self._output_activation()
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            coef, intercept = self._init_coef(fan_in, fan_out, dtype)
            self.coefs_.append(coef)
            self.intercepts_.append(intercept)
        self._optimizer = None
        if self.solver in _STOCHASTIC_SOLVERS:
            self._progress = Progress(self.early_stopping)
        else:
            self._progress = None

    def _init_coef(self, fan_in, fan_out, dtype):
        # Glorot uniform with scikit-learn's draws, in its order.
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    # -------------------------------------------------------------- predict

    def _forward(self, X):
        """Validated ``X`` through the network: output-layer values."""
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        dtype = self.coefs_[0].dtype
        if X.dtype != dtype:
            X = X.astype(dtype)
        units = [X.shape[1], *[c.shape[1] for c in self.coefs_]]
        layout = NetworkLayout(units)
        params = layout.pack(self.coefs_, self.intercepts_, dtype)
        return predict_outputs(
            network_kernels("cpu"), layout, params, KernelInput(X),
            hidden=HIDDEN_ACTIVATIONS[self.activation],
            out_code=OUTPUT_FUNCTIONS[self.out_activation_])

    # ---------------------------------------------------------- subclasses

    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validated ``X`` and targets (binarised labels for classifiers)."""

    @abstractmethod
    def _output_activation(self):
        """Name of the output function for the current targets."""

    @abstractmethod
    def _score_outputs(self, out, y, sample_weight):
        """Score of raw network outputs against original targets."""

    def _stratify_labels(self, y):
        return None

    def _validation_targets(self, y):
        return y

    @staticmethod
    def _targets_as_matrix(y, dtype):
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        return np.ascontiguousarray(y, dtype=dtype)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic.")
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

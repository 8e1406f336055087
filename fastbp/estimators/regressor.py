"""fastbp.MLPRegressor."""

import math

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _num_samples,
    validate_data,
)

from ..training.data import FIT_DTYPES, fit_layout
from ._docs import COMMON_ATTRIBUTES, COMMON_PARAMETERS
from .base import BaseMLP
from .checks import (check_complex, check_finite_targets, check_fits_dtype,
                     check_sparse_structure, check_squared_error_range, column_vector_as_1d,
                     dtypes_of, float_sparse, naming, not_numbers)
from .constraints import REGRESSOR_CONSTRAINTS
from .fit_calls import from_model_before, one_call_at_a_time
from .solvers import planned_batches


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor, trained by compiled backpropagation.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`:
    the same parameters, defaults, fitted attributes and, for the same
    ``random_state``, the same model; each training epoch runs as one
    Numba-compiled call. Supports multi-output targets.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson'}}, default='squared_error'
        'squared_error' minimises half the squared error (identity output);
        'poisson' minimises half the Poisson deviance with an exp output
        (targets must be non-negative).

    {params}

    Attributes
    ----------
    {attrs}

    out_activation_ : str
        Output function: 'identity' or 'exp'.

    See Also
    --------
    MLPClassifier : The classification counterpart.
    sklearn.neural_network.MLPRegressor : The reference implementation.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fastbp import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01,
    ...                    max_iter=200, random_state=0).fit(X, y / 100)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y / 100) > 0.9)
    True
    """

    _parameter_constraints: dict = dict(REGRESSOR_CONSTRAINTS)

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu",
                 *, solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 init="glorot_uniform", step_size=10, gamma=None, l1=0.0, dropout=0.0,
                 normalization=None, residual=False, clip_grad_norm=None, scoring=None,
                 device="cpu"):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, loss=loss, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            init=init, step_size=step_size, gamma=gamma, l1=l1, dropout=dropout,
            normalization=normalization, residual=residual, clip_grad_norm=clip_grad_norm,
            scoring=scoring, device=device)

    def _validate_input(self, X, y, incremental, reset):
        # helper-104: validation converts a sparse y to CSR, and toarray
        # densifies it, trusting its indices (an index outside it wrote
        # outside the array).
        check_sparse_structure(y, "y")
        # Dates and numbers written as text validation would pass or parse:
        # a regressor's targets are numbers.
        y_dtypes = dtypes_of(y)
        what = not_numbers(y_dtypes)
        if what is not None:
            raise ValueError(
                f"{type(self).__name__} needs numeric targets y; y holds {what}. Convert y "
                "to numbers first (for example y.astype(float) for numbers written as "
                "text); for class labels, use MLPClassifier.")
        check_complex(y_dtypes, "y")
        # One copy of X on its way to the kernels' C order (fix-231); the
        # model's dtype where a later call converts X to it (_fit).
        X, order = fit_layout(X, self._weights_dtype() if (
            not reset and "coefs_" in self.__dict__) else None)
        try:
            with naming(("X", X), ("y", y)):
                X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                                     multi_output=True, y_numeric=True,
                                     dtype=FIT_DTYPES, order=order, reset=reset)
        except ValueError as exc:
            # helper-151: NumPy's message for ragged rows names neither
            # input; it is put on y where y alone is ragged.
            message = str(exc)
            if not message.startswith("setting an array element with a sequence") or (
                    _converts_to_floats(y)):
                raise
            raise ValueError(f"y: {message.splitlines()[0]}") from exc
        X = float_sparse(X)
        if sp.issparse(y):
            # scikit-learn's validation lets a sparse multi-output y through
            # (its MLP then fails in a solver); the kernels take targets dense.
            y = y.toarray()
        if not get_config()["assume_finite"]:
            # scikit-learn checks an object y (None, np.inf, Decimal) for NaN
            # only, before it becomes floats: None turns into NaN after it.
            check_finite_targets(y)
        # partial_fit goes on in the model's dtype (BaseMLP._fit casts X to
        # it next): y must fit that dtype, not the incoming X's.
        target_dtype = X.dtype
        if incremental and not reset and "coefs_" in self.__dict__:
            target_dtype = self._weights_dtype()
        check_fits_dtype(y, target_dtype, "y")
        if self.loss == "squared_error":
            # The mini-batches and epoch that BaseMLP._fit will form (the
            # validation rows, ceil(fraction * n), train none); L-BFGS sums
            # its loss over every row, as an epoch of one-row batches would.
            n_rows = _num_samples(y)
            if self.solver == "lbfgs":
                batch_size = 1
            else:
                n_rows, batch_size = planned_batches(self, n_rows)
            check_squared_error_range(y, target_dtype, batch_size, n_rows)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_vector_as_1d(y)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' requires non-negative targets y; "
                             f"got a minimum of {np.min(y)}.")
        return X, y

    def _check_loaded_outputs(self, out):
        # Either output: the model predicts with the one it was trained with
        # until its next fit, whatever set_params(loss=...) said since.
        if out not in ("identity", "exp"):
            raise ValueError(f"out_activation_ {out!r} is not a regressor's output function "
                             "('identity' for loss='squared_error', 'exp' for 'poisson')")

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _score_outputs(self, out, y, sample_weight):
        pred = out.ravel() if out.shape[1] == 1 else out
        return _r2_in_float64(y, pred, sample_weight)

    @from_model_before
    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of the predictions, as
        scikit-learn's ``RegressorMixin.score``.

        Raises a ``ValueError`` where R^2 would come out NaN from valid
        input (``y`` so large that its squared deviations overflow); with a
        single sample it is NaN with scikit-learn's warning.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in R^2 (``r2_score``'s); None weighs them
            alike.

        Returns
        -------
        score : float
        """
        if sp.issparse(y):
            check_sparse_structure(y, "y")
            y = y.toarray()  # as fit takes it (r2_score refuses a sparse y)
        if sample_weight is not None:
            # (rev-259) Named, as fit names it: an int beyond float64's
            # range raised a bare OverflowError here.
            with naming("sample_weight"):
                weights = np.asarray(sample_weight, dtype=np.float64)
            with np.errstate(over="ignore"):
                overflows = (np.isfinite(weights).all()
                             and not np.isfinite(np.sum(weights)))
            if overflows:
                # (helper-58) Refused as before, though R^2 of weights scaled
                # alike (as _r2_in_float64 scales them) would be defined.
                # Only finite weights (helper-169): scikit-learn's check names
                # a NaN or infinite one.
                raise ValueError(
                    "R^2 is undefined for these weights: the sum of sample_weight overflows "
                    f"float64 (largest weight magnitude {float(np.max(np.abs(weights))):.3g})."
                    " Rescale sample_weight (divide it by its mean, say).")
        predicted = self.predict(X)
        # (rev-259) r2_score's conversion of y names no input (an int beyond
        # float64's range raised a bare OverflowError).
        with naming("y"):
            result = _r2_in_float64(y, predicted, sample_weight)
        if np.isnan(result) and _num_samples(X) >= 2:
            values = np.asarray(y, dtype=np.float64)
            if not np.isfinite(values).all():
                # helper-151: under assume_finite=True a NaN in y got the
                # overflow message ("largest magnitude nan").
                what = "NaN" if np.isnan(values).any() else "infinity"
                raise ValueError(f"R^2 is undefined for these targets: y contains {what}. "
                                 "Drop or fill those rows.")
            raise ValueError(
                "R^2 is undefined for these targets: the squared deviations of y overflow "
                f"float64 (largest magnitude {float(np.max(np.abs(values))):.3g})."
                " Rescale y.")
        return result

    @from_model_before
    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        self._check_fitted()
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    @available_if(lambda est: est._check_solver())
    @one_call_at_a_time
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 input trains a float32 model.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Real targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; None weighs the samples alike.

        Returns
        -------
        self : object
        """
        return self._transactional_fit(X, y, sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # As scikit-learn's PoissonRegressor: tools that read the tags
        # (its estimator checks among them) give this loss valid targets.
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags


def _converts_to_floats(y):
    """Whether ``y`` converts to a float array (False for ragged rows)."""
    if sp.issparse(y):
        return True
    try:
        np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _r2_in_float64(y, pred, sample_weight):
    """scikit-learn's ``r2_score``, in float64 where ``pred`` is float32: it
    works in the floating dtype of its inputs (float32 for integer, boolean
    or list targets too), and squared deviations of targets a float32 model
    fits overflow float32 (R^2 came out NaN)."""
    if pred.dtype == np.float32:
        try:
            values = np.asarray(y)
        except (TypeError, ValueError):  # ragged: r2_score's message says so
            values = None
        if values is not None and values.dtype.kind in "biuf":
            y, pred = np.asarray(values, dtype=np.float64), pred.astype(np.float64)
    if sample_weight is not None:
        sample_weight = _unit_scale(sample_weight)
    return r2_score(y, pred, sample_weight=sample_weight)


def _unit_scale(sample_weight):
    """``sample_weight`` times the power of two that brings its largest
    magnitude into [0.5, 1): R^2 is the same for weights scaled alike, and
    weights near 1e300 times squared deviations overflowed float64
    (helper-151: a NaN validation score kept the untrained model). A power
    of two scales exactly, so R^2 stays bitwise scikit-learn's for weights
    whose products do not overflow."""
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        return sample_weight  # r2_score's validation names the problem
    if weights.ndim != 1 or weights.size == 0:
        return sample_weight
    largest = float(np.max(np.abs(weights)))
    if not (math.isfinite(largest) and largest > 0):
        return sample_weight
    return np.ldexp(weights, -math.frexp(largest)[1])


if MLPRegressor.__doc__:  # None under python -OO, which strips docstrings
    MLPRegressor.__doc__ = MLPRegressor.__doc__.format(
        params=COMMON_PARAMETERS, attrs=COMMON_ATTRIBUTES)

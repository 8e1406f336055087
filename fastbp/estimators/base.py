"""Shared estimator logic: the scikit-learn API around the trainer.

No compiled code lives here: this module validates input, keeps scikit-learn's
fitted attributes and random-number order, and hands arrays to
:mod:`fastbp.training`.
"""

import copy
import functools
import inspect
import math
import numbers
import operator
import threading
import time
import weakref
import warnings
from abc import ABC, abstractmethod

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..exceptions import DivergenceError, held_until_committed, issue_held, warn_at_caller
from ..training.ahead import compile_ahead
from ..training.backend import BACKEND_CLASSES, get_backend
from ..training.compile import announce_compilation, spend_compile_waits, training_kernel
from ..training.data import KernelInput, writable_alias
from ..training.layout import chain_problem
from ..training.lbfgs import fit_lbfgs
from ..training.optimizers import StochasticOptimizer, is_count, is_real, same_schedule
from ..training.predict import Validator, chunk_rows, inference_plan, predict_rows
from ..training.progress import HISTORY_KEYS, INTERRUPTED, Progress, Series
from ..training.spec import (
    HIDDEN_ACTIVATIONS,
    INPUT_NOT_FINITE,
    NORM_NONE,
    NORMALIZATIONS,
    OUTPUT_FUNCTIONS,
    OUTPUT_NOT_FINITE,
    PARAMS_NOT_FINITE,
    SGD,
    SOLVERS,
    build_spec,
)
from ..training.split import split_parts
from ..training.stochastic import POISSON_SCALING_ADVICE, all_finite, fit_stochastic
from ..training.threads import fit_slot
from . import architecture as arch
from . import callbacks
from .checks import (
    check_fits_dtype,
    check_hidden_layer_sizes,
    check_raw_input,
    check_real,
    check_weights_survive_dtype,
    naming,
    native_byte_order,
    refuse_non_finite,
    sample_weight_exponent,
)
from .constraints import MLP_CONSTRAINTS

_STOCHASTIC_SOLVERS = ("sgd", "adam", "rmsprop", "adagrad", "adamw")
# The dtypes the kernels take as they are (native float32 and float64).
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# BaseMLP._flat_parameters: the caller did not look up the packed buffers.
_UNKNOWN = object()

# The estimators a fit or partial_fit call is training, until the call has
# set the model: fastbp.save refuses them (an epoch hook that saved the
# estimator itself wrote its initial weights as a fitted model). Kept out
# of the estimators: nothing in their __dict__ changes (pickles, clones, a
# hook's fitted_estimator, scikit-learn's estimator checks). Keyed by id,
# each entry the _Call that set the mark: only that call clears it (a
# hook's nested fit of the same estimator, which finds it set, leaves the
# outer call marked).
_TRAINING = {}


class _Call:
    """One fit or partial_fit call: the estimator it trains (a weak
    reference: an id names another object once its estimator is gone) and
    whether it still trains it.

    ``active`` is what :func:`is_being_fitted` reads, and a call ends it
    with one attribute store, the first thing its ``finally`` does: Ctrl-C
    lands between bytecodes that call or jump, and an entry left in
    ``_TRAINING`` by an interrupt elsewhere in the bookkeeping is inactive
    (helper-195: one left active refused every later save of the estimator,
    and of a new one given its id).
    """

    __slots__ = ("estimator", "active")

    def __init__(self, estimator):
        self.estimator = weakref.ref(estimator)
        self.active = True

    def trains(self, estimator):
        return self.active and self.estimator() is estimator


class _Calls(threading.local):
    """Per thread, the fit and partial_fit calls under way, innermost
    last: ``_fit`` learns from it which call it runs for."""

    def __init__(self):
        self.stack = []


_CALLS = _Calls()

# Per estimator, a token replaced when a call starts (before the call
# changes anything, and before it marks the estimator) and when it ends
# (after its last change, before its mark goes): fastbp.save reads it and
# the mark before and after copying a model, and copies anew where either
# changed. The mark alone misses a whole call that started and ended
# during the copy (rev-203: files held a fit's initial weights, or
# a loss curve longer than the call their weights came from). A new
# object each time: one that a reader still holds is never reused. Kept
# out of the estimators, as _TRAINING is, with weak keys, so that an
# entry goes with its estimator; one token for all the estimators that
# cannot be weak keys (a subclass that defines __eq__ without __hash__),
# which a call on any of them replaces.
_GENERATIONS = weakref.WeakKeyDictionary()
_UNHASHABLE = [None]


def _new_generation(estimator):
    try:
        _GENERATIONS[estimator] = object()
    except TypeError:
        _UNHASHABLE[0] = object()


def training_state(estimator):
    """``(mark, generation)`` of ``estimator``: the call marking it as being
    fitted (None if none) and its generation token (see
    :data:`_GENERATIONS`), compared by identity.

    The mark is read first: read before and after copying the model, equal
    tokens and marks say that no call changed it meanwhile, whenever the
    calls started or ended.
    """
    mark = _TRAINING.get(id(estimator))
    try:
        generation = _GENERATIONS.get(estimator)
    except TypeError:
        generation = _UNHASHABLE[0]
    return mark, generation


def is_being_fitted(estimator):
    """Whether a fit or partial_fit call on ``estimator`` (in any thread)
    is training it and has not yet set the model it trains."""
    call = _TRAINING.get(id(estimator))
    return call is not None and call.trains(estimator)


# scikit-learn's words for it.
_NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may "
                       "contain large values and need to be preprocessed.")


# Per estimator: [seed, two generators] for int seeds; see _fresh_random_state.
_seeded_generators = weakref.WeakKeyDictionary()


class _RecentSpares(weakref.WeakKeyDictionary):
    """A :class:`weakref.WeakKeyDictionary` that keeps the values of only the
    ``most`` estimators stored last: a store of spare work buffers.

    Spares are only worth keeping for the estimators a stream is training
    now; kept for every model that ever had a ``partial_fit`` call, they
    held megabytes per model, out of sight of pickle and ``sys.getsizeof``,
    for as long as the model lived (helper-133).

    Parameters
    ----------
    most : int
        How many estimators' values are kept at most.
    """

    def __init__(self, most):
        super().__init__()
        self.most = most

    def __setitem__(self, key, value):
        # Stored anew at the end, so that the oldest value is evicted first.
        self.pop(key, None)
        super().__setitem__(key, value)
        # Found in a copy (a single dict operation, which the GIL keeps
        # whole): a concurrent call's pop, or a weak reference's callback,
        # cannot then change the dict while it is read. Two concurrent
        # calls may evict one value too many: a spare less, never a spare
        # shared.
        while len(self.data) > self.most:
            oldest = next(iter(self.data.copy()), None)
            if oldest is None:
                break
            self.data.pop(oldest, None)


# Per estimator: the work buffers its last partial_fit call used, for the
# few estimators trained last (each call of a stream keeps its spare anew,
# as the most recent).
_spare_workspaces = _RecentSpares(4)


def _take(store, estimator):
    """What the weak per-estimator ``store`` keeps for ``estimator``, taken
    out of it (None if nothing, or if ``estimator`` cannot be a weak key:
    a subclass that defines __eq__ without __hash__)."""
    try:
        return store.pop(estimator, None)
    except TypeError:
        return None


def _keep(store, estimator, value):
    """Keep ``value`` for ``estimator`` in the weak ``store`` (not kept where
    ``estimator`` cannot be a weak key)."""
    try:
        store[estimator] = value
    except TypeError:
        pass


def _progress_attributes(optimizer, progress):
    """The fitted attributes that describe a stochastic fit's training so far
    (its ``optimizer`` state, None to start the next call's afresh)."""
    return {
        "_optimizer": optimizer, "_progress": progress, "n_iter_": progress.n_iter,
        "t_": progress.t, "loss_": progress.loss,
        # The progress's own lists, appended in place by later calls (as
        # scikit-learn's are); a failed call truncates them back.
        "loss_curve_": progress.loss_curve, "best_loss_": progress.best_loss,
        "validation_scores_": progress.validation_scores,
        "best_validation_score_": progress.best_validation_score,
        "_no_improvement_count": progress.no_improvement_count,
        "history_": progress.history_arrays()}


def _ldexp_or_inf(value, exp):
    """``value * 2**exp``, or inf where that overflows float64 (where
    ``math.ldexp`` raises a bare OverflowError)."""
    try:
        return math.ldexp(value, exp)
    except OverflowError:
        return math.inf


def _fresh_random_state(estimator):
    """``check_random_state(estimator.random_state)``: for an int seed, a
    generator that starts from the seed.

    Every call of ``fit`` and ``partial_fit`` starts from the seed, as in
    scikit-learn. Seeding a new generator costs 60-80 us of each small
    ``partial_fit``; reseeding one kept for the estimator in place
    (``RandomState.seed``, the same legacy seeding as the constructor's, which
    also clears the cached Gaussian) costs about 1 us. It keeps up to two
    (the second made on the second call) and takes the one that
    ``estimator._random_state`` does not hold, so that a failed call, whose
    rollback puts the previous ``_random_state`` back, leaves that
    generator as it was. (Kept outside the estimator: nothing to save, copy
    or compare.)
    """
    seed = estimator.random_state
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        return check_random_state(seed)
    seed = int(seed)
    try:
        kept = _seeded_generators.get(estimator)
    except TypeError:  # a subclass that defines __eq__ without __hash__
        return check_random_state(seed)
    if kept is None or kept[0] != seed:
        # The second generator waits for a second call: a clone fitted
        # once (every fit of a search) needs one.
        kept = [seed, check_random_state(seed), None]
        _seeded_generators[estimator] = kept
        return kept[1]
    if estimator.__dict__.get("_random_state") is not kept[1]:
        rng = kept[1]
    elif kept[2] is None:
        kept[2] = check_random_state(seed)
        return kept[2]
    else:
        rng = kept[2]
    rng.seed(seed)
    return rng


def _in_dtype(X, dtype):
    """``X`` (validated; dense or sparse) cast to the model's ``dtype``,
    refused where its values overflow it."""
    check_fits_dtype(X, dtype, "X")
    if sp.issparse(X):
        return X.astype(dtype)
    # C order in the one conversion: astype kept a DataFrame's F order, and
    # KernelInput copied all of X a second time to read it (helper-162).
    return np.asarray(X, dtype=dtype, order="C")


def plain_matrix(X):
    """Whether ``X`` is a non-empty 2-D NumPy array that scikit-learn's
    validation would pass on as is, layout-wise: C-contiguous, writable,
    aligned (dtype, width and finiteness are the caller's to check)."""
    return (type(X) is np.ndarray and X.ndim == 2 and X.shape[0] > 0
            and X.flags.c_contiguous and X.flags.writeable and X.flags.aligned)


def batch_rows(batch_size, n_train):
    """The rows of each mini-batch that a stochastic fit with the parameter
    ``batch_size`` forms of ``n_train`` training rows: ``min(200, n_train)``
    for "auto", as scikit-learn's, else ``batch_size`` clipped to
    ``[1, n_train]``."""
    if batch_size == "auto":
        return min(200, n_train)
    return min(max(int(batch_size), 1), n_train)  # np.clip: 12 us


def planned_batches(estimator, n_samples):
    """``(n_train, batch_size)`` of a stochastic fit of ``estimator`` on
    ``n_samples`` rows, known before the fit draws its validation rows:
    those are the ``validation_fraction`` that early stopping holds out
    (rounded up, as scikit-learn's split does)."""
    n_train = n_samples
    if estimator.early_stopping:
        n_train = max(n_samples - math.ceil(estimator.validation_fraction * n_samples), 1)
    return n_train, batch_rows(estimator.batch_size, n_train)


def fit_split_parts(estimator, backend, toolkit, sparse, n_samples, n_weights):
    """The threads each step of a stochastic fit of ``estimator`` on
    ``n_samples`` rows will be split between (:func:`split_parts`)."""
    n_train, batch_size = planned_batches(estimator, n_samples)
    return split_parts(backend, toolkit, sparse, batch_size, n_train, n_weights)


def _parameter_attributes(layout, params, running):
    """The fitted attributes of ``params`` and ``running`` (flat buffers, not
    copied): per-layer views of them, and ``_packed``, which lets
    prediction find the buffers again."""
    coefs, intercepts, scales, shifts = layout.unpack(params)
    running_mean, running_var = layout.unpack_running(running)
    if layout.norm != NORM_NONE:
        # helper-141 (found by helper-132): the kernels ignore a normalised
        # hidden layer's bias, which a fit keeps at zero. Read-only: an edit
        # in place would reach these buffers and change nothing, silently,
        # and noticing one at predict would cost every prediction a pass
        # over the biases. A replaced array is refused where it is packed
        # (BaseMLP._refuse_normalized_intercepts).
        for b in intercepts[:-1]:
            b.flags.writeable = False
    owners = params.base is None and running.base is None
    return {"coefs_": coefs, "intercepts_": intercepts,
            "normalization_scales_": scales, "normalization_shifts_": shifts,
            "running_mean_": running_mean, "running_var_": running_var,
            "_packed": ((params, running, (*coefs, *intercepts, *scales, *shifts,
                                           *running_mean, *running_var))
                        if owners else None)}


#: ``BaseMLP._get_param_names`` of each class (weakly: a class defined in a
#: loop may go).
_PARAM_NAMES = weakref.WeakKeyDictionary()
#: Per estimator: the parameter values a ``partial_fit`` call last checked;
#: per class, what reads them.
_CHECKED_PARAMS = weakref.WeakKeyDictionary()
_PARAM_READERS = weakref.WeakKeyDictionary()


def _per_hidden_layer(est, make, present):
    """``make(width)`` for each hidden layer of the weights set by hand on
    ``est``, in their dtype, where ``present``; else an empty list."""
    if not present:
        return []
    dtype = est._weights_dtype()
    return [make(np.shape(W)[1], dtype=dtype) for W in est.coefs_[:-1]]


class BaseMLP(callbacks.CallbackSupportMixin, BaseEstimator, ABC):
    """Base class of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _parameter_constraints: dict = dict(MLP_CONSTRAINTS)

    @classmethod
    def _get_param_names(cls):
        """scikit-learn's parameter names, worked out once per class.

        scikit-learn reads ``__init__``'s signature on every ``get_params``:
        every clone, ``set_params`` and fit's parameter validation, several
        times per task of a search, with the GIL held. With 34 parameters
        that is about 50 us a call; the names depend on the class alone.
        """
        names = _PARAM_NAMES.get(cls)
        if names is None:
            names = _PARAM_NAMES[cls] = tuple(super()._get_param_names())
        return list(names)

    @abstractmethod
    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size,
                 learning_rate, learning_rate_init, power_t, max_iter, loss, shuffle,
                 random_state, tol, verbose, warm_start, momentum, nesterovs_momentum,
                 early_stopping, validation_fraction, beta_1, beta_2, epsilon,
                 n_iter_no_change, max_fun, init, step_size, gamma, l1, dropout,
                 normalization, residual, clip_grad_norm, scoring, device):
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
        self.init = init
        self.step_size = step_size
        self.gamma = gamma
        self.l1 = l1
        self.dropout = dropout
        self.normalization = normalization
        self.residual = residual
        self.clip_grad_norm = clip_grad_norm
        self.scoring = scoring
        self.device = device

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
        # A RandomState passed as ``random_state`` is drawn from in place
        # (initialisation, split, shuffles): rewind it too, so that a failed
        # call does not shift what the next call draws.
        rng = self.random_state if isinstance(self.random_state,
                                              np.random.RandomState) else None
        rng_state = rng.get_state() if rng is not None else None
        # The loss curve and validation scores are appended in place (see
        # Progress.copy): a failed call cuts them back to these lengths.
        progress = self.__dict__.get("_progress")
        lengths = progress.lengths() if progress is not None else None
        # Training's warnings (ConvergenceWarning, Ctrl-C's, GradientWarning)
        # are given once the call has kept its model: one that an error
        # filter raised mid-fit would roll a whole trained fit back (and
        # Ctrl-C's would say the model keeps what it then does not).
        # (A hook that fits this estimator again, inside this call, leaves
        # the mark to this call.)
        call = _Call(self)
        depth = len(_CALLS.stack)
        try:
            _new_generation(self)
            outer = _TRAINING.get(id(self))
            if outer is None or not outer.trains(self):
                _TRAINING[id(self)] = call
            _CALLS.stack.append(call)
            with held_until_committed() as held:
                try:
                    if prepare is not None:
                        prepare()
                    fitted = self._fit(X, y, sample_weight, incremental)
                except BaseException as exc:
                    # A divergence fails the call as a whole too: its last
                    # finite epoch is often far off (weights near overflow),
                    # and a model kept there predicted -inf R^2 and saved
                    # silently (rev-202). That state goes with the error.
                    if isinstance(exc, DivergenceError):
                        self._hand_over_last_finite(exc)
                    self._roll_back(saved, rng, rng_state, progress, lengths)
                    # (Those of an undone call as the exception's notes: the
                    # model they speak of is gone.)
                    issue_held(held, failure=exc)
                    raise
        finally:
            # Whatever raised, and wherever: no estimator is left marked.
            # First, and one store (see _Call); then the entries, which a
            # second Ctrl-C may leave behind, inactive.
            call.active = False
            _new_generation(self)  # (before the mark goes: see _GENERATIONS)
            if _TRAINING.get(id(self)) is call:
                del _TRAINING[id(self)]
            # With any entry an interrupted inner call left above it.
            del _CALLS.stack[depth:]
        issue_held(held)
        return fitted

    def _roll_back(self, saved, rng, rng_state, progress=None, lengths=None):
        # scikit-learn tears the callbacks of this fit down after it ends,
        # failed or not: their context survives the rollback.
        running = {k: self.__dict__[k] for k in ("_callback_fit_ctx",
                                                 "_skl_callbacks_to_teardown")
                   if k in self.__dict__}
        # One store: a second Ctrl-C between a clear() and its update()
        # left an estimator with no attributes at all (helper-195).
        restored = dict(saved)
        restored.update(running)
        self.__dict__ = restored
        if rng is not None:
            rng.set_state(rng_state)
        if progress is not None:
            progress.truncate(lengths)

    def _hand_over_last_finite(self, exc):
        """Before the rollback: give ``exc``, a DivergenceError of this call,
        the model of the call's last finite epoch as ``last_finite_model``
        (None where its first epoch diverged), as its message says."""
        # A nested fit's divergence, going on through this call, names the
        # model of that fit, not this one's.
        if exc._handed_over:
            return
        exc._handed_over = True
        if exc.epoch > 1:  # the trainer left this estimator at that epoch
            # Deep: the rollback truncates the loss curve and validation
            # scores in place and rewinds a RandomState random_state, and
            # the user may train the copy on. The callbacks are settings,
            # shared as clone shares them; __getstate__ drops the context
            # of the running fit.
            callbacks = self.__dict__.get("_skl_callbacks")
            memo = {} if callbacks is None else {id(callbacks): callbacks}
            try:
                exc.last_finite_model = copy.deepcopy(self, memo)
            except Exception as failed:  # the divergence is what the call raises
                if hasattr(exc, "add_note"):  # Python >= 3.11
                    exc.add_note(f"fastbp could not copy the model of the last finite "
                                 f"epoch: {type(failed).__name__}: {failed}")

    # ---------------------------------------------------------- interop

    def to_sklearn(self):
        """This model as a fitted scikit-learn ``MLPClassifier``/``MLPRegressor``.

        Possible for every model scikit-learn's MLP can represent: one of its
        four activations for all hidden layers, no normalisation, no
        residual connections (dropout and the other training options do not
        change predictions). The copy predicts what this model predicts, so
        tools that know scikit-learn's MLP (skl2onnx, skops, inspection)
        work on it.

        Returns
        -------
        sklearn.neural_network.MLPClassifier or MLPRegressor

        Raises
        ------
        ValueError
            If scikit-learn's MLP cannot represent this model; the message
            says why.
        sklearn.exceptions.NotFittedError
            If the model is not fitted, or is a classifier with weights set
            by hand but no classes.
        """
        from .interop import to_sklearn

        check_is_fitted(self)
        # Weights set by hand: what a fit would have set with them (the
        # layers' activations, residual connections and normalisation, the
        # output function), as predict completes it, so that the copy has
        # them and what scikit-learn cannot represent is refused. A
        # classifier without classes raises NotFittedError here.
        self._complete_fitted_state()
        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, model):
        """A fastbp model from a fitted scikit-learn MLP, ready to train on.

        Weights, fitted attributes, the optimizer state (SGD velocities,
        Adam moments and step) and the stopping state are carried over, so
        ``partial_fit`` and a warm ``fit`` continue where scikit-learn
        stopped.

        Parameters
        ----------
        model : sklearn.neural_network.MLPClassifier or MLPRegressor
            Fitted, of the matching kind.

        Returns
        -------
        estimator : MLPClassifier or MLPRegressor
        """
        from .interop import from_sklearn

        return from_sklearn(cls, model)

    # What _complete_fitted_state fills in where it is missing (beyond
    # ``_progress``): each attribute's default, from the model and its
    # number of hidden layers.
    # ``normalization``'s layers start as _initialize starts them (scale 1,
    # shift 0; running mean 0 and variance 1), unless set by hand too.
    _FILLED_IN = {
        "normalization_scales_": lambda est, n_hidden: _per_hidden_layer(
            est, np.ones, est.normalization is not None),
        "normalization_shifts_": lambda est, n_hidden: _per_hidden_layer(
            est, np.zeros, est.normalization is not None),
        "running_mean_": lambda est, n_hidden: _per_hidden_layer(
            est, np.zeros, est.normalization == "batch"),
        "running_var_": lambda est, n_hidden: _per_hidden_layer(
            est, np.ones, est.normalization == "batch"),
        # What a fit of ``residual`` on these widths would connect.
        "_residual": lambda est, n_hidden: arch.residual_flags(
            est.residual, [np.shape(W)[1] for W in est.coefs_[:-1]], warn=False),
        "_normalization": lambda est, n_hidden: est.normalization,
        "_optimizer": lambda est, n_hidden: None,
        "n_features_in_": lambda est, n_hidden: np.shape(est.coefs_[0])[0],
        "n_outputs_": lambda est, n_hidden: np.shape(est.coefs_[-1])[1],
        "n_layers_": lambda est, n_hidden: n_hidden + 2,
        "_activations": lambda est, n_hidden: arch.hidden_activations(est.activation, n_hidden),
        "out_activation_": lambda est, n_hidden: est._output_activation(),
    }

    # The parameters each attribute of ``_FILLED_IN`` (and ``_progress``)
    # is derived from, besides the shapes of ``coefs_``: a change of one of
    # them (by ``set_params`` or by assignment, as scikit-learn's MLP reads
    # its parameters at every predict) fills the attribute in again; a
    # change of any other keeps it, with whatever was edited in it in place.
    _FILLED_FROM = {
        "normalization_scales_": ("normalization",),
        "normalization_shifts_": ("normalization",),
        "running_mean_": ("normalization",),
        "running_var_": ("normalization",),
        "_residual": ("residual",),
        "_normalization": ("normalization",),
        "_activations": ("activation",),
        "out_activation_": ("loss",),
        "_progress": ("early_stopping",),
    }

    def _complete_fitted_state(self):
        """Fill in what fastbp keeps beyond scikit-learn's fitted attributes
        for a model whose ``coefs_`` and ``intercepts_`` were set by hand (as
        scikit-learn's own tests do), so that training continues from them.

        What is filled in is recorded (``_filled_state``, with the shapes of
        ``coefs_`` and the parameters it came from) until a fit trains the
        model: no fit chose it, so, as scikit-learn's MLP reads its
        parameters and weights at every predict, an attribute is filled in
        again where ``coefs_`` no longer have the shapes it was filled in
        for, or where a parameter it derives from (``_FILLED_FROM``) has
        changed since; the parameters are then checked again. What was
        assigned by hand since is kept, and so is what was edited in place
        (a ``running_mean_`` that a bias was folded into). A model a fit
        trained predicts with what it was trained with until its next fit.
        """
        state = self.__dict__.get("_filled_state")
        checked = False
        if state is not None:
            if "n_iter_" in self.__dict__:
                # A fit trained the model since: what it holds is the fit's.
                del self.__dict__["_filled_state"]
                state = None
            else:
                state, checked = self._drop_stale_filled_state(state)
                self._filled_state = state
        present = self.__dict__.keys()
        if present >= self._FILLED_IN.keys() and ("_progress" in present
                                                  or self.solver not in _STOCHASTIC_SOLVERS):
            return  # a model fastbp fitted (or filled in): every partial_fit call asks
        self._check_weights_alone_suffice()
        # Weights set by hand that do not chain, named before anything is
        # filled in from their widths (helper-134's review): predict,
        # partial_fit, a warm fit and to_sklearn all come here first.
        intercepts = self.__dict__.get("intercepts_")
        problem = None if intercepts is None else chain_problem(self.coefs_, intercepts)
        if problem is not None:
            raise ValueError(f"The weights set by hand do not fit together: {problem}.")
        # What is filled in comes from the parameters, which no fit checked
        # (normalization="Batch" failed deep in predict, after being kept as
        # the model's own): checked here, once, as fit checks them.
        if not checked:
            self._validate_params()
        n_hidden = len(self.coefs_) - 1
        # Every value first, then all at once: one that fails leaves no
        # half-filled state for the next call to trip over differently.
        filled = {name: default(self, n_hidden) for name, default in self._FILLED_IN.items()
                  if not hasattr(self, name)}
        if not hasattr(self, "_progress") and self.solver in _STOCHASTIC_SOLVERS:
            filled["_progress"] = Progress(self.early_stopping)
        self.__dict__.update(filled)
        if "n_iter_" not in self.__dict__:
            # (With what was filled in before for these weights and is
            # still there.)
            self._filled_state = ([np.shape(W) for W in self.coefs_],
                                  {**(state[1] if state is not None else {}), **filled},
                                  self._filled_from_params())

    def _drop_stale_filled_state(self, state):
        """Drop from the model what ``state`` (its ``_filled_state``) says
        was filled in for ``coefs_`` of other shapes or from parameters
        changed since (``_FILLED_FROM``), where it is still what was filled
        in, not what was assigned by hand since.

        Returns
        -------
        state : tuple
            ``state`` without what was dropped, for the parameters and
            shapes now.
        checked : bool
            Whether the parameters changed, and were checked again.
        """
        shapes, filled, before = state
        params = self._filled_from_params()
        changed = {name for name, value in params.items()
                   if name not in before or not self._same_param(value, before[name])}
        if changed:
            # Checked before anything is dropped: a bad value leaves the
            # model as it was, for a good one to find.
            self._validate_params()
        now = [np.shape(W) for W in self.coefs_]
        stale = set(filled) if shapes != now else {
            name for name in filled if changed.intersection(self._FILLED_FROM.get(name, ()))}
        for name in stale:
            if self.__dict__.get(name) is filled[name]:
                del self.__dict__[name]
        kept = {name: value for name, value in filled.items() if name not in stale}
        return (now, kept, params), bool(changed)

    def _filled_from_params(self):
        # Lists copied: one changed in place (activation per layer) then
        # compares as changed.
        return {name: list(value) if isinstance(value, list) else value
                for name, value in self.get_params(deep=False).items()}

    @staticmethod
    def _same_param(a, b):
        # Types compared too, as _check_changed_params does: 200.0 == 200,
        # yet only one of them passes the checks.
        if a is b:
            return True
        try:
            return type(a) is type(b) and bool(a == b)
        except Exception:  # an array's ambiguous comparison: taken as changed
            return False

    def _weights_dtype(self):
        """The dtype this model predicts and trains in.

        A model a fit trained keeps the fit's dtype, that of ``coefs_[0]``
        (float32 or float64): an array edited since (a float64 output layer
        put in for transfer learning) is packed in it, as the optimizer
        state that goes on with it is. Weights set by hand on a model no
        fit trained may be big-endian, integer, float16 or of mixed dtypes,
        which the kernels do not take: they compute in float32 where every
        array of ``coefs_`` and ``intercepts_`` is float32, else in float64
        (as scikit-learn's MLP predicts for a float64 ``X``), packed in it
        (big-endian values unchanged).
        """
        first = getattr(self.coefs_[0], "dtype", None)
        if first in _NATIVE_FLOATS and "n_iter_" in self.__dict__:
            return first  # (every partial_fit call asks: a fit's own dtype, at once)
        first = np.asarray(self.coefs_[0]).dtype
        if "n_iter_" in self.__dict__ and first.kind == "f" and first.itemsize in (4, 8):
            return np.dtype(np.float32 if first.itemsize == 4 else np.float64)
        if all(np.asarray(a).dtype.kind == "f" and np.asarray(a).dtype.itemsize == 4
               for a in (*self.coefs_, *self.intercepts_)):
            return np.dtype(np.float32)
        return np.dtype(np.float64)

    def _check_weights_alone_suffice(self):
        """Raise ``NotFittedError`` where weights set by hand are not enough
        to predict with (a classifier needs its classes)."""

    def _check_loaded_state(self):
        """Raise ``ValueError`` when a loaded model's state is inconsistent.

        A file whose checksum matches may still hold state edited by hand,
        which ``predict`` would trip over deep inside (a ``KeyError`` for an
        unknown activation, a shape error in a product); :func:`fastbp.load`
        calls this on every fastbp model it loads.
        """
        present = self.__dict__
        if "coefs_" not in present:
            # An unfitted template (a search's estimator, whose grid may
            # replace a placeholder parameter) is checked when it is fitted.
            # One that holds what a fit sets is a fitted model whose weights
            # were taken out: it loaded, and predict called it unfitted,
            # though fastbp.save writes trained models only.
            held = [name for name in _FIT_SETS if name in present]
            if held:
                shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
                raise ValueError(f"it is an unfitted or incomplete model: it has {shown} "
                                 "but no coefs_")
            return
        missing = self._missing_fitted_attributes()
        if missing:
            raise ValueError(f"it is missing the fitted attribute(s) {', '.join(missing)}, "
                             "which a model trained in its configuration holds (predict "
                             "or partial_fit would fail on them)")
        self._validate_params()
        coefs, intercepts = self.coefs_, getattr(self, "intercepts_", None)
        if not (isinstance(coefs, list) and isinstance(intercepts, list)
                and len(coefs) == len(intercepts) >= 1
                and all(isinstance(a, np.ndarray) for a in coefs + intercepts)):
            raise ValueError("coefs_ and intercepts_ must be lists of arrays of one length")
        dtypes = sorted({a.dtype.name for a in coefs + intercepts})
        if dtypes not in (["float32"], ["float64"]):
            raise ValueError(f"coefs_ and intercepts_ must be all float32 or all float64, "
                             f"not {dtypes}")
        for i, (W, b) in enumerate(zip(coefs, intercepts)):
            if W.ndim != 2 or b.shape != (W.shape[1],) or (
                    i and W.shape[0] != coefs[i - 1].shape[1]):
                raise ValueError(
                    f"layer {i + 1}'s coefs_ {W.shape} and intercepts_ {b.shape} do not fit "
                    f"the layers around them ({[c.shape for c in coefs]})")
        expected = {"n_layers_": len(coefs) + 1, "n_outputs_": coefs[-1].shape[1],
                    "n_features_in_": coefs[0].shape[0]}
        for name, value in expected.items():
            if name in self.__dict__ and self.__dict__[name] != value:
                raise ValueError(f"{name} is {self.__dict__[name]!r}, and the weights give "
                                 f"{value}")
        out = self.__dict__.get("out_activation_", "identity")
        if out not in OUTPUT_FUNCTIONS:
            raise ValueError(f"out_activation_ {out!r} is not one of "
                             f"{sorted(OUTPUT_FUNCTIONS)}")
        hidden = self.__dict__.get("_activations", ["relu"] * (len(coefs) - 1))
        if (not isinstance(hidden, list) or len(hidden) != len(coefs) - 1
                or any(a not in HIDDEN_ACTIVATIONS for a in hidden)):
            raise ValueError(f"the hidden layers' activations {hidden!r} are not one known "
                             f"activation per hidden layer")
        widths = [W.shape[1] for W in coefs[:-1]]
        # A skip connection between layers of unequal widths would make the
        # kernels read one layer's activations as another's (no bounds check).
        allowed = arch.equal_widths(widths)
        residual = self.__dict__.get("_residual", [False] * len(widths))
        if (not isinstance(residual, list) or len(residual) != len(widths)
                or any(bool(r) and not ok for r, ok in zip(residual, allowed))):
            raise ValueError(f"the skip connections {residual!r} do not fit the hidden "
                             f"layers' widths {widths} (one flag per layer, True only "
                             "where a layer is as wide as the one before it)")
        normalization = self.__dict__.get("_normalization", None)
        expected_stats = {
            "normalization_scales_": normalization is not None,
            "normalization_shifts_": normalization is not None,
            "running_mean_": normalization == "batch",
            "running_var_": normalization == "batch"}
        for name, used in expected_stats.items():
            stats = self.__dict__.get(name, [])
            shapes = [np.shape(a) for a in stats] if isinstance(stats, list) else None
            if shapes != ([(w,) for w in widths] if used else []) or any(
                    not isinstance(a, np.ndarray) or a.dtype != coefs[0].dtype for a in stats):
                raise ValueError(f"{name} holds {shapes}, where the model's normalization "
                                 f"{normalization!r} and hidden widths {widths} need "
                                 f"{[(w,) for w in widths] if used else []} in "
                                 f"{coefs[0].dtype.name}")
        arrays = [*coefs, *intercepts, *(a for name in expected_stats
                                        for a in self.__dict__.get(name, []))]
        if not all(a.dtype.isnative for a in arrays):
            raise ValueError("the weights must be in this machine's byte order")
        self._refuse_negative_variances()
        self._refuse_normalized_intercepts(normalization)
        self._check_loaded_outputs(out)
        self._check_loaded_training_state(
            sum(a.size for a in (*coefs, *intercepts,
                                 *self.__dict__.get("normalization_scales_", []),
                                 *self.__dict__.get("normalization_shifts_", []))),
            len(coefs), coefs[0].dtype)

    def _missing_fitted_attributes(self):
        """The attributes, in :data:`_FIT_SETS`' order, that this model
        holding ``coefs_`` lacks and that nothing fills in before they are
        read (:meth:`_check_loaded_state`).

        For weights set by hand, predict fills in what a fit would also have
        set (:meth:`_complete_fitted_state`), where ``_activations`` or
        ``n_features_in_`` is missing or it filled some in before
        (``_filled_state``): only ``intercepts_`` is needed there. A model a
        fit trained (``n_iter_``; or a training record not filled in) reads
        them all, and its counts and, with a stochastic solver, its training
        record (which ``partial_fit`` goes on from).
        """
        present = self.__dict__
        trained = "n_iter_" in present or ("_progress" in present
                                           and "_filled_state" not in present)
        if not trained and ("_filled_state" in present or "_activations" not in present
                            or "n_features_in_" not in present):
            needed = ("intercepts_",)
        else:
            needed = ("intercepts_", *self._FILLED_IN)
            if trained:
                needed += ("n_iter_", "t_")
                if self.solver in _STOCHASTIC_SOLVERS:
                    needed += ("_progress",)
        return [name for name in needed if name not in present]

    def _check_loaded_training_state(self, n_params, n_layers, dtype):
        """Raise ``ValueError`` where the state that ``partial_fit`` and a
        warm start go on from (optimizer, stopping rule, history) does not
        fit the weights: the kernels read the optimizer's arrays unchecked.
        Its counts and best loss, and the public copies of them (``t_``,
        ``n_iter_``, ``best_loss_``), must be what a fit sets: shown as the
        model's until its next fit, they are what ``partial_fit`` goes on
        from (the training record's)."""
        optimizer = self.__dict__.get("_optimizer")
        if optimizer is not None:
            if not isinstance(optimizer, StochasticOptimizer):
                raise ValueError(f"_optimizer is a {type(optimizer).__name__}, not fastbp's "
                                 "optimizer state")
            optimizer.check(n_params, dtype)
        progress = self.__dict__.get("_progress")
        if progress is not None:
            scores = getattr(progress, "validation_scores", None)
            history = getattr(progress, "history", None)
            if not (isinstance(progress, Progress)
                    and isinstance(getattr(progress, "loss_curve", None), list)
                    and (scores is None or isinstance(scores, list))
                    and isinstance(history, dict) and set(history) == set(HISTORY_KEYS)
                    and all(isinstance(v, Series) for v in history.values())):
                raise ValueError("the training record (_progress) is not the loss curve, "
                                 "validation scores and history fastbp keeps")
            record = vars(progress)
            for name in ("t", "n_iter", "no_improvement_count"):
                _check_loaded_count(f"the training record's {name}", record.get(name, None))
            # Early stopping keeps no best training loss (scikit-learn's None).
            early = scores is not None
            _check_loaded_best_loss("the training record's best_loss",
                                    record.get("best_loss", None), early)
            if progress.monitor is not None:
                progress.monitor.check_fits(n_layers, dtype)
        else:
            early = bool(getattr(self, "early_stopping", False))
        for name in ("t_", "n_iter_"):
            if name in self.__dict__:
                _check_loaded_count(name, self.__dict__[name])
        if "best_loss_" in self.__dict__:
            _check_loaded_best_loss("best_loss_", self.__dict__["best_loss_"], early)

    def _check_loaded_outputs(self, out):
        """Raise ``ValueError`` where the output function ``out`` and the
        fitted labels do not fit this kind of model (:meth:`_check_loaded_state`)."""

    def _hidden_sizes(self):
        return check_hidden_layer_sizes(self.hidden_layer_sizes)

    def _architecture(self, hidden_sizes):
        """Per-hidden-layer activations, dropout rates and residual flags."""
        n_hidden = len(hidden_sizes)
        activations = arch.hidden_activations(self.activation, n_hidden)
        dropout = arch.dropout_rates(self.dropout, n_hidden)
        if self.solver == "lbfgs":
            if any(dropout):
                raise ValueError("dropout needs a stochastic solver; solver='lbfgs' "
                                 "minimises a deterministic full-batch loss.")
            if self.normalization == "batch":
                raise ValueError("normalization='batch' needs a stochastic solver; with "
                                 "solver='lbfgs' use normalization='layer' or None.")
        if self.normalization == "layer" and 1 in hidden_sizes:
            raise ValueError(
                "normalization='layer' normalises each sample over a layer's units, and "
                f"hidden layer {hidden_sizes.index(1) + 1} of {hidden_sizes} has a single "
                "unit: its output would be the same for every input. Give every hidden "
                "layer at least 2 units, or use normalization='batch' or None.")
        residual = arch.residual_flags(self.residual, hidden_sizes)
        return activations, dropout, residual

    def _check_changed_params(self):
        """Check the parameters where they changed since the last
        ``partial_fit`` call checked them.

        scikit-learn checks them in ``fit`` and in a first ``partial_fit``
        call only, so that a parameter changed with ``set_params`` in a
        stream (``alpha=-50``) went on unchecked: it trained, or failed with
        a message that did not name it. Comparing the values costs a few
        microseconds; checking them all, 75 us of a small call. Their types
        are compared too: ``200.0 == 200``, yet fit refuses
        ``max_iter=200.0`` (which failed deep inside training unchecked).
        (A list changed in place compares equal: the per-layer parameters
        are checked at every call anyway, as they are turned into layers.)
        """
        read = _PARAM_READERS.get(type(self))
        if read is None:
            read = _PARAM_READERS[type(self)] = operator.itemgetter(*self._get_param_names())
        checked = _take(_CHECKED_PARAMS, self)
        try:
            values = read(self.__dict__)
        except KeyError:  # a parameter deleted
            values = None
        try:
            unchanged = (values is not None and checked == values
                         and all(map(operator.is_, map(type, checked), map(type, values))))
        except Exception:  # an array's ambiguous comparison, an __eq__ that raises:
            unchanged = False  # check them all
        if not unchanged:
            self._validate_params()
        if values is not None:
            _keep(_CHECKED_PARAMS, self, values)

    def _fit(self, X, y, sample_weight, incremental):
        if incremental and "coefs_" in self.__dict__:
            # (A first call's are checked by scikit-learn's _fit_context.)
            self._check_changed_params()
        hidden_sizes = self._hidden_sizes()
        activations, dropout, residual = self._architecture(hidden_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")

        # Callback hooks get X as the caller passed it: a DataFrame keeps
        # the column names that fitted_estimator was fitted with.
        hooks_X = X
        X = check_raw_input(native_byte_order(X))
        if not first_pass and "_filled_state" in self.__dict__:
            # Weights set by hand and replaced since: X is checked against
            # the input width of the weights there are now.
            self._complete_fitted_state()
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        model_dtype = None if first_pass else self._weights_dtype()
        if incremental and not first_pass and X.dtype != model_dtype:
            # partial_fit goes on in the model's dtype, as its predictions
            # do (a warm fit refuses instead: it could start afresh).
            X = _in_dtype(X, model_dtype)
        if sample_weight is not None:
            sample_weight = native_byte_order(np.asarray(sample_weight)
                                              if isinstance(sample_weight, list)
                                              else sample_weight)
            check_real(sample_weight, "sample_weight")
            # A Series, a scalar or an object array is checked as the floats
            # it stands for (scikit-learn's conversion would call weights
            # below float32's range all zero, and those above it infinite);
            # one that does not convert is named by scikit-learn's validation.
            weights = sample_weight
            if not isinstance(weights, np.ndarray) or weights.dtype == object:
                try:
                    weights = np.asarray(weights, dtype=np.float64)
                except (TypeError, ValueError, OverflowError):
                    weights = None
            if weights is not None:
                check_fits_dtype(weights, X.dtype, "sample_weight")
                check_weights_survive_dtype(weights, X.dtype)
            # In float64 where class weights multiply them: the product is
            # cast once (_combine_class_weight).
            sw_dtype = X.dtype if getattr(self, "class_weight", None) is None else np.float64
            with naming("sample_weight"):
                sample_weight = _check_sample_weight(
                    sample_weight, X, dtype=sw_dtype, ensure_non_negative=True)
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight sums to zero: at least one sample must "
                                 "have a positive weight.")
        # The weights as the caller gave them (validated), for the callback
        # hooks, as scikit-learn's estimators pass them (not times
        # class_weight: a ScoringMonitor's accuracy would be class-weighted).
        hooks_sw = sample_weight
        sample_weight = self._combine_class_weight(y, sample_weight, X.dtype, incremental)
        # The kernels get them times class_weight, scaled by 2**weight_exp,
        # with alpha and l1 (see sample_weight_exponent).
        weight_exp = 0
        if sample_weight is not None:
            weight_exp = sample_weight_exponent(sample_weight, X.dtype)
            if weight_exp:
                self._check_scaled_penalties(weight_exp, X.dtype, sample_weight)
                sample_weight = np.ldexp(sample_weight, weight_exp)
        # Read-only targets or weights (joblib's memmaps) share the normal
        # kernel specialisation, as X does.
        Y = writable_alias(self._targets_as_matrix(y, X.dtype))
        if sample_weight is not None:
            sample_weight = writable_alias(np.ascontiguousarray(sample_weight))
        n_features = X.shape[1]
        units = [n_features, *hidden_sizes, Y.shape[1]]

        self._random_state = _fresh_random_state(self)
        if not first_pass:
            self._complete_fitted_state()
        # This fit commits to these weights: what was filled in for them is
        # its own from here (helper-154: a hook's set_params mid-fit dropped
        # it, and n_features_in_ with it); a rollback restores the record.
        self.__dict__.pop("_filled_state", None)
        if first_pass:
            self._initialize(Y, units, X.dtype, activations)
        else:
            self._check_warm_start(units, X.dtype, activations, residual, incremental)
            # Training normalises by batch statistics, but early stopping's
            # validation and the statistics the fit keeps read these
            # (batch norm's only: no pass over the others' empty arrays).
            if self._normalization == "batch":
                self._refuse_negative_variances()
        # (A first fit's weights are X's dtype; a later one's model dtype X
        # was checked or cast to above.)
        dtype = X.dtype

        spec, params, running = self._network(units, activations, self.normalization,
                                              residual, dropout, dtype)
        inp = KernelInput(X)
        backend = get_backend(self.device)
        stochastic = self.solver in _STOCHASTIC_SOLVERS
        toolkit = spec.uses_toolkit(inp.is_sparse, self.clip_grad_norm if stochastic else None,
                                    SOLVERS[self.solver] if stochastic else SGD)
        # Decided once, here (helper-169: fit_stochastic decided it again,
        # a second split_parts per partial_fit call): the kernel compiled
        # ahead is the one the fit runs.
        parts = (fit_split_parts(self, backend, toolkit, inp.is_sparse, inp.n_samples,
                                 spec.layout.n_weights) if stochastic else 1)
        if self.verbose or getattr(self, "_announce_compile", False):
            announce_compilation(backend, dtype, self.solver, spec.out_code, toolkit,
                                 parts=parts)
        if backend.name == "cpu":
            compile_ahead(backend, spec, dtype,
                          training_kernel(backend, self.solver, spec.out_code, toolkit, parts),
                          inp.is_sparse)

        diverged = tasks = None
        with fit_slot():
            try:
                if stochastic:
                    tasks = self._fit_stochastic(backend, spec, params, running, inp, X, y,
                                                 Y, sample_weight, incremental, hooks_X,
                                                 hooks_sw, weight_exp, parts)
                else:
                    tasks = self._fit_lbfgs(backend, spec, params, inp, X, y, Y,
                                            sample_weight, fresh=first_pass, hooks_X=hooks_X,
                                            hooks_sw=hooks_sw, weight_exp=weight_exp)
            except DivergenceError as exc:
                # Not a divergence where the data held NaN or infinity
                # (assume_finite=True skipped validation's check).
                _refuse_non_finite_input(X, Y, sample_weight)
                # Nor where a warm or incremental fit started from weights
                # set by hand that hold NaN or infinity: the advice to lower
                # the learning rate would not help.
                bad = [] if first_pass else self._non_finite_parameters()
                if bad:
                    # partial_fit ignores warm_start: its way to a new model is fit.
                    restart = ("call fit to start a new model" if incremental
                               else "fit from scratch (warm_start=False)")
                    raise ValueError(
                        f"The model's parameters hold NaN or infinite values (in "
                        f"{', '.join(bad)}): training cannot start from them. Set finite "
                        f"weights, or {restart}.") from exc
                if not stochastic:  # L-BFGS keeps the model from before
                    raise
                diverged = self._with_penalty_advice(exc, weight_exp)

        # The epoch loop has checked the stochastic solvers' every epoch.
        if not (stochastic or all_finite(params, running)):
            raise ValueError(_NON_FINITE_WEIGHTS)
        self._set_parameters(spec.layout, params, running)
        self._activations = activations
        self._residual = residual
        self._normalization = self.normalization
        # As trained: set_params since does not change the curve's meaning
        # (TrainingHistoryDisplay labels it).
        self._penalised_loss = self._loss_holds_penalty()
        if diverged is not None:
            raise diverged
        # The root hook gets the model fit returns, without what the fit
        # kept of its inputs for itself.
        self._drop_fit_inputs()
        # The model is set: the root hook may save it. (Only where this call
        # marked it: a fit nested in a hook leaves the outer call training.)
        # (This call's is the innermost active one for this estimator: an
        # entry an interrupted nested call left above it is inactive.)
        for call in reversed(_CALLS.stack):
            if call.trains(self):
                call.active = False
                break
        if tasks is not None:
            # Last, with every fitted attribute set, and still inside the
            # call's transaction: a hook that raises here rolls the call back.
            try:
                tasks.end_root(params, running)
            except KeyboardInterrupt:
                # Ctrl-C in an end hook after training ended, as in an
                # epoch's: fit keeps the training, with the same warning;
                # partial_fit's interrupt goes on and the call is rolled
                # back, so that Ctrl-C stops a loop of partial_fit calls.
                if incremental:
                    raise
                warn_at_caller(
                    f"{INTERRUPTED} in the fit's end hooks, after training had ended; "
                    f"the model keeps the whole fit (n_iter_={self.n_iter_}).", UserWarning)
        return self

    def _drop_fit_inputs(self):
        """Forget what ``_fit`` kept of its inputs for its own use (a
        classifier's training labels), before its root hook sees the model."""

    def _network(self, units, activations, normalization, residual, dropout, dtype):
        """This model's network: its spec, and its parameters and batch-norm
        statistics in new flat buffers of ``dtype``, for a fit to train."""
        spec = build_spec(units, [HIDDEN_ACTIVATIONS[a] for a in activations],
                          arch.normalization_code(normalization), residual, dropout,
                          OUTPUT_FUNCTIONS[self.out_activation_])
        return (spec, *self._flat_parameters(spec.layout, dtype, copy=True))

    def _pack(self, layout, dtype):
        """New flat buffers of ``dtype`` holding the fitted attributes:
        ``(params, running)``."""
        params = layout.pack(self.coefs_, self.intercepts_, dtype, self.normalization_scales_,
                             self.normalization_shifts_)
        # The hidden layers' biases lie together, before the output layer's:
        # one look at them, as a loaded model packs at every prediction.
        if layout.norm != NORM_NONE and params[layout.n_weights:layout.b_off[-1]].any():
            self._refuse_normalized_intercepts(
                next(name for name, code in NORMALIZATIONS.items() if code == layout.norm))
        return params, layout.pack_running(self.running_mean_, self.running_var_, dtype)

    def _set_parameters(self, layout, params, running):
        self.__dict__.update(_parameter_attributes(layout, params, running))

    def _flat_parameters(self, layout, dtype, copy=False, buffers=_UNKNOWN):
        """The parameters and running statistics as the kernels take them:
        flat buffers of ``dtype``.

        While the fitted attributes are the very views of the buffers that
        the fit left (``_packed``), those buffers, which every in-place
        change of the attributes reaches (with ``copy``, copies of them:
        one copy each, where packing concatenates every layer's arrays);
        else (attributes replaced, loaded, or of another dtype) packed
        again, which costs a prediction of a few rows a fifth of its time.
        ``buffers``: what :meth:`_packed_buffers` returned, where the caller
        asked already.
        """
        packed = self._packed_buffers() if buffers is _UNKNOWN else buffers
        if packed is not None and packed[0].dtype == dtype:
            params, running = packed
            return (params.copy(), running.copy()) if copy else (params, running)
        return self._pack(layout, dtype)

    def _packed_buffers(self):
        """``(params, running)``, the flat buffers of the last fit, while
        the fitted attributes are still their very views; else None
        (attributes replaced by hand, or loaded)."""
        packed = self.__dict__.get("_packed")
        if packed is None:
            return None
        params, running, views = packed
        current = (*self.coefs_, *self.intercepts_, *self.normalization_scales_,
                   *self.normalization_shifts_, *self.running_mean_, *self.running_var_)
        if len(current) == len(views) and all(a is v and (a.base is params or a.base is running)
                                              for a, v in zip(current, views)):
            return params, running
        return None

    def _layers_for_weights(self):
        """The hidden layers' activations and skip connections to predict
        with: the fit's, where they still fit the weights in ``coefs_``;
        else derived from the parameters for those weights' widths, as for
        weights set on an unfitted model (``_FILLED_IN``).

        Weights replaced by hand with other widths (as scikit-learn's MLP
        allows) would otherwise keep the fit's skip connections, and the
        kernels would add one layer's activations into a layer of another
        width (no bounds check): garbage. Nothing is stored: putting the
        fit's own arrays back predicts with the fit's state again.

        Returns
        -------
        activations : list of str, one per hidden layer
        residual : list of bool, one per hidden layer
        """
        widths = [W.shape[1] for W in self.coefs_[:-1]]
        residual, activations = self._residual, self._activations
        if (isinstance(residual, list) and len(residual) == len(widths)
                and isinstance(activations, list) and len(activations) == len(widths)
                and all(ok or not r for r, ok in zip(residual, arch.equal_widths(widths)))):
            return activations, residual
        return (arch.hidden_activations(self.activation, len(widths)),
                arch.residual_flags(self.residual, widths, warn=False))

    def __getstate__(self):
        # ``_packed`` holds the parameters a second time: not worth saving
        # (pickle, skops, deepcopy), and the copies' attributes are no
        # longer its views.
        state = dict(super().__getstate__())
        state.pop("_packed", None)
        # The context of a running fit (scikit-learn's): a copy is no part
        # of that fit. A hook's fitted_estimator (copy.copy) that kept it
        # would, when trained later, end tasks that are not its own
        # (KeyError over its real error). Its callbacks (_skl_callbacks)
        # stay: they are its settings.
        for key in ("_callback_fit_ctx", "_skl_callbacks_to_teardown",
                    "_parent_callback_ctx"):
            state.pop(key, None)
        return state

    def _check_warm_start(self, units, dtype, activations, residual, incremental):
        # partial_fit ignores warm_start: its way to a new model is fit.
        restart = ("call fit to start a new model" if incremental
                   else "set warm_start=False to start a new model")
        shapes = [c.shape for c in self.coefs_]
        expected = list(zip(units[:-1], units[1:]))
        if shapes != expected:
            # Layers that do not chain first (helper-134's review): the
            # widths below, read from the columns alone, blamed
            # hidden_layer_sizes, then the data, for a mismatch between
            # two of the weights.
            problem = chain_problem(self.coefs_, self.intercepts_)
            if problem is not None:
                raise ValueError(
                    f"The weights in coefs_ and intercepts_ do not fit together: {problem}.")
            if "n_iter_" not in self.__dict__:
                # Weights set by hand, never fitted: "changed since the last
                # fit" would send to fit, which throws them away.
                widths = [shape[1] for shape in shapes[:-1]]
                if widths != units[1:-1]:
                    raise ValueError(
                        f"The weights set by hand have hidden layers of {widths} units, and "
                        f"hidden_layer_sizes is {self.hidden_layer_sizes!r}: set "
                        f"hidden_layer_sizes={tuple(widths)!r} to train from them.")
                raise ValueError(
                    f"The weights set by hand take {shapes[0][0]} features to "
                    f"{shapes[-1][1]} outputs, and this data has {units[0]} features and "
                    f"{units[-1]} outputs.")
            n_outputs = getattr(self, "n_outputs_", shapes[-1][1])
            if units[-1] != n_outputs:
                # helper-151: the layer sizes alone never said that y changed.
                raise ValueError(
                    f"y has {units[-1]} output(s), and the model was fitted with "
                    f"n_outputs_={n_outputs}. Pass y with {n_outputs} output(s), or "
                    f"{restart}.")
            raise ValueError(
                f"The network's shape changed since the last fit: layers {shapes} cannot "
                f"be trained with layer sizes {units}. To fix it, {restart}.")
        previous = getattr(self, "_activations", None)
        if previous is not None and list(previous) != list(activations):
            raise ValueError(
                f"activation changed since the last fit ({previous} -> {activations}); "
                f"{restart}.")
        if getattr(self, "_residual", None) is not None and list(self._residual) != list(residual):
            raise ValueError(f"residual changed since the last fit; {restart}.")
        if getattr(self, "_normalization", None) != self.normalization:
            raise ValueError(f"normalization changed since the last fit; {restart}.")
        output = self._output_activation()
        if output != self.out_activation_:
            # A regressor's loss decides its output function: continuing
            # would train the old loss under the new name.
            changed = (f"loss changed since the last fit (its output function would be "
                       f"{output!r}, and the model has {self.out_activation_!r})"
                       if getattr(self, "loss", None) in ("squared_error", "poisson") else
                       f"the output function changed since the last fit "
                       f"({self.out_activation_!r} -> {output!r})")
            raise ValueError(f"{changed}; {restart}.")
        model_dtype = self._weights_dtype()
        if dtype != model_dtype:
            raise ValueError(
                f"X has dtype {dtype} but the model was fitted with {model_dtype}; "
                "pass data of the same dtype, or set warm_start=False.")

    def _penalties(self, weight_exp):
        """``alpha`` and ``l1`` as the kernels take them with weights scaled by
        ``2**weight_exp``: scaled alike, but adamw's decoupled decay, which
        no weight sum divides. inf where the scaled value overflows float64
        (:meth:`_check_scaled_penalties` refuses it before any fit)."""
        alpha = self.alpha if self.solver == "adamw" else _ldexp_or_inf(self.alpha, weight_exp)
        return alpha, _ldexp_or_inf(self.l1, weight_exp)

    def _fit_lbfgs(self, backend, spec, params, inp, X, y, Y, sample_weight, fresh, hooks_X,
                   hooks_sw, weight_exp):
        start = time.perf_counter()
        iterations = {"loss": [], "epoch_time": []}
        # One task per iteration, begun at its first evaluation (fit_lbfgs):
        # at most max_iter, the count a progress bar shows.
        tasks = self._fit_tasks(spec.layout, hooks_X, y, hooks_sw, self.max_iter,
                                "lbfgs-iter", iterations=iterations)
        alpha, l1 = self._penalties(weight_exp)
        # The root task is ended by _fit, once the fit has succeeded and set
        # the model: a DivergenceError or non-finite weights roll the call
        # back, and its fitted_estimator would be a model that never was.
        # (A ConvergenceWarning is held until the call has kept the model.)
        try:
            result = fit_lbfgs(backend, spec, params, inp, Y, sample_weight, alpha=alpha,
                               l1=l1, max_iter=self.max_iter, max_fun=self.max_fun,
                               tol=self.tol, tasks=tasks,
                               on_iteration_end=getattr(self, "_on_epoch_end", None),
                               history=iterations)
            self._check_lbfgs_result(result, fresh, params, weight_exp)
        finally:
            if tasks is not None:
                tasks.close_subtask()
        self.loss_ = float(result.fun)
        # One entry per L-BFGS iteration (its loss and seconds); a fit that
        # stopped before its first iteration has its final loss alone.
        if result.loss_curve:
            self.history_ = {"loss": np.array(result.loss_curve),
                             "epoch_time": np.array(result.iteration_times)}
        else:
            self.history_ = {"loss": np.array([self.loss_]),
                             "epoch_time": np.array([time.perf_counter() - start])}
        # L-BFGS moved the weights from where an earlier stochastic fit's
        # moments, velocities and schedule were measured: a partial_fit
        # after it starts its optimizer afresh, as after a cold L-BFGS fit
        # (it resumed Adam's, or refused another solver as a change within
        # its stream). The stochastic record (_progress) goes on, as
        # history_ and loss_curve_ are documented to. A failed call gets
        # the old optimizer back from _transactional_fit's rollback.
        self._optimizer = None
        if self.verbose:
            print(f"L-BFGS: {self.n_iter_} iterations, {result.nfev} loss evaluations, "
                  f"loss = {self.loss_:.8f}")
        return tasks

    def _check_lbfgs_result(self, result, fresh, params, weight_exp):
        """Refuse an L-BFGS fit that diverged, warn about one that stopped
        untrained, and set ``n_iter_``."""
        start_loss = result.get("start_loss", result.fun)
        if not math.isfinite(result.fun):
            # L-BFGS cannot step from a non-finite loss: scipy stops at once
            # ("ABNORMAL"), and the model would keep a NaN loss_ silently.
            # result.fun is the returned weights' loss, the last finite
            # iterate's where any (fit_lbfgs): non-finite, the start's was.
            # (scipy's own fun, a failed trial step's, blamed a finite
            # start; helper-150.)
            raise DivergenceError(
                f"Training diverged: with solver='lbfgs' the loss is {float(start_loss)} at "
                "the starting weights, so L-BFGS cannot take a step. The model keeps its "
                "state from before this call. To fix it, " + self._scaling_advice() + "."
                + self._penalty_advice(weight_exp), epoch=1)
        asked = result.get("interrupted", False) or result.get("stopped_by_callback", False)
        if result.get("stalled_by_overflow", False) and not asked:
            if not result.progressed:
                # scipy took the line search's retreat to the starting
                # weights for convergence (status 0): the model would keep
                # them, untrained, silently on a warm start.
                raise DivergenceError(
                    f"Training diverged: with solver='lbfgs' the loss overflowed to inf or "
                    f"NaN at {result.non_finite_evaluations} trial step(s) from the starting "
                    f"weights (loss {start_loss:.6g}), and L-BFGS stopped there "
                    "without making progress. The model keeps its state from before this "
                    "call. To fix it, " + self._scaling_advice() + "."
                    + self._penalty_advice(weight_exp), epoch=1)
            # In place of scikit-learn's check, which would call it
            # converged (status 0) or blame the line search alone.
            warn_at_caller(
                f"L-BFGS stopped after {result.nit} iteration(s) because the loss overflowed "
                f"to inf or NaN at a trial step, not because it converged (scipy: "
                f"{result.message}): the model is only partly trained (loss "
                f"{float(result.fun):.6g}, from {start_loss:.6g} at the start). "
                + self._scaling_advice(capital=True) + ".", ConvergenceWarning)
            self.n_iter_ = min(int(result.nit), self.max_iter)
        elif asked:
            # fit_lbfgs has warned of an interrupt; a callback's stop is
            # asked for, as a stochastic solver's stop is: no warning.
            self.n_iter_ = int(result.nit)
        else:
            if result.nit == 0 and result.status != 0 and fresh:
                # scipy's line search found no step from the starting
                # weights (X around 1e6 does it): scikit-learn warns and
                # keeps them, untrained, under a reason scipy can leave
                # empty ("ABNORMAL: "). As where an overflow stalled it
                # (above), nothing trained is worth keeping: refused.
                raise DivergenceError(
                    f"Training made no progress: with solver='lbfgs' L-BFGS stopped before "
                    f"completing its first iteration (scipy: {_lbfgs_stop_reason(result)}), "
                    f"so the model would be untrained, at its starting weights (loss "
                    f"{float(start_loss):.6g}). The model keeps its state from before this "
                    "call. To fix it, " + self._scaling_advice() + "."
                    + self._penalty_advice(weight_exp), epoch=1)
            self.n_iter_ = min(int(result.nit), self.max_iter)
            if result.status != 0:
                _warn_lbfgs_not_converged(result, self.n_iter_, self.max_iter)
            if fresh:
                _warn_if_loss_unresolved(result, self.tol, params.dtype)
        if not all_finite(params):
            raise ValueError(_NON_FINITE_WEIGHTS)

    def _check_scaled_penalties(self, weight_exp, dtype, sample_weight):
        """Refuse weights so small that ``alpha`` or ``l1`` over their scale
        (``2**weight_exp``, see :meth:`_penalties`) exceeds ``dtype``: the
        penalty would be inf, and the loss NaN."""
        limit = float(np.finfo(dtype).max)
        for (name, value), scaled in zip((("alpha", self.alpha), ("l1", self.l1)),
                                         self._penalties(weight_exp)):
            if scaled > limit:
                raise ValueError(
                    f"sample_weight is too small for {name}={value:g}: as in scikit-learn, "
                    "the penalty is divided by the sum of the weights, and with weights "
                    f"this small (largest {float(np.max(sample_weight)):.3g}) it outweighs "
                    f"the data by more than {np.dtype(dtype).name} holds. Rescale "
                    f"sample_weight (for example to a mean of 1), or lower {name}.")

    def _scaling_advice(self, capital=False):
        """The advice to rescale the data in a divergence message: for the
        Poisson loss's exp output, y divided by a positive constant, as
        standardised targets (negative) are refused (helper-151)."""
        advice = (POISSON_SCALING_ADVICE if self._output_activation() == "exp" else
                  "standardise X (and y for a regressor), for example with "
                  "sklearn.preprocessing.StandardScaler")
        return advice[0].upper() + advice[1:] if capital else advice

    def _penalty_advice(self, weight_exp=0):
        """A sentence for a divergence message where ``alpha`` or ``l1`` is
        large enough to be the cause (the trainer's advice names the
        learning rate, clipping and scaling only); else "".

        With weights scaled by ``2**weight_exp`` (weights far from 1), what
        counts is the penalty over their scale, as the kernels take it.
        """
        scaled = self._penalties(weight_exp)
        large = [f"{name}={value:g}" + ("" if weight_exp == 0 or s == value else
                                         f" ({s:.3g} relative to sample_weight's scale)")
                 for (name, value), s in zip((("alpha", self.alpha), ("l1", self.l1)), scaled)
                 if s > 1]
        if not large:
            return ""
        return (f" The penalty may be the cause: {' and '.join(large)}. Values above 1 "
                "weigh the penalty over the data, and can overflow the loss or make each "
                "step overshoot; try values between 1e-5 and 1e-1"
                + (", or sample weights nearer 1." if weight_exp > 0 else "."))

    def _with_penalty_advice(self, exc, weight_exp=0):
        advice = self._penalty_advice(weight_exp)
        return DivergenceError(str(exc) + advice, epoch=exc.epoch) if advice else exc

    def _check_stream_optimizer(self, optimizer):
        """Refuse a ``solver`` or ``learning_rate`` schedule changed within a
        ``partial_fit`` stream: the stream goes on with its optimizer's state
        and schedule, and would ignore the new setting without a word (as
        scikit-learn's does).

        Solvers other than 'sgd' take every step at ``learning_rate_init``
        under 'constant', 'invscaling' and 'adaptive' alike (scikit-learn's
        schedules act on SGD alone): a change among those three changes
        nothing, and is taken (a grid search over ``learning_rate`` with an
        Adam model fitted by ``partial_fit`` was refused). ``optimizer`` is
        this call's copy, given the new name, so that a later refusal names
        the schedule the estimator had.
        """
        for name, was in (("solver", optimizer.solver), ("learning_rate", optimizer.lr_schedule)):
            now = getattr(self, name)
            if now is was or now == was:
                continue
            # (to_sklearn keeps the state by the same rule.)
            if name == "learning_rate" and same_schedule(optimizer.solver, was, now):
                optimizer.lr_schedule = now
                continue
            raise ValueError(
                f"{name} changed from {was!r} to {now!r} within a partial_fit stream, "
                f"which goes on with the optimizer state and schedule of {was!r}. Set "
                f"{name} back, or call fit to start afresh with {now!r}.")

    def _retune(self, optimizer, samples_seen):
        """Give a stream's ``optimizer`` this estimator's hyper-parameters,
        as they may have been set since its last call (see
        :meth:`StochasticOptimizer.retune`); ``samples_seen``: the stream's
        ``t_``."""
        optimizer.retune(self.learning_rate_init, self.momentum, self.nesterovs_momentum,
                         self.power_t, self.beta_1, self.beta_2, self.epsilon,
                         self.step_size, self.gamma, self.max_iter, samples_seen)

    def _fit_stochastic(self, backend, spec, params, running, inp, X, y, Y, sample_weight,
                        incremental, hooks_X, hooks_sw, weight_exp, parts=None):
        layout = spec.layout
        resumed = incremental and getattr(self, "_optimizer", None) is not None
        if not resumed:
            optimizer = StochasticOptimizer(
                self.solver, layout.n_params, params.dtype, self.learning_rate_init,
                self.learning_rate, self.momentum, self.nesterovs_momentum,
                self.power_t, self.beta_1, self.beta_2, self.epsilon,
                step_size=self.step_size, gamma=self.gamma, t_max=self.max_iter)
        else:
            # What a previous call left (or a hand, or an edited file) is
            # read by the kernels unchecked: checked here, where it comes
            # back in, before the copy.
            self._optimizer.check(layout.n_params, params.dtype)
            # (Checked on the copy, which takes an equivalent schedule's
            # name: the kept optimizer changes only with a call that
            # succeeds.)
            optimizer = self._optimizer.copy()
            self._check_stream_optimizer(optimizer)
        progress = getattr(self, "_progress", None)
        if progress is None:
            progress = Progress(self.early_stopping)
            progress.scoring = _scoring_name(self.scoring)
        else:
            progress = progress.copy().for_mode(self.early_stopping,
                                                _scoring_name(self.scoring))
        if resumed:
            self._retune(optimizer, progress.t)
        if not incremental:
            progress.monitor = None  # GradientWarning: once per fit
        elif progress.monitor is not None:
            progress.monitor.check_fits(layout.n_layers - 1, params.dtype)

        train_rows, validator = None, None
        n_train = inp.n_samples
        if self.early_stopping:
            # The validation score weighs its rows as the training loss does
            # (times class_weight), unscaled: exactly, by a power of two.
            scorer_sw = None if sample_weight is None else np.ldexp(sample_weight, -weight_exp)
            train_rows, validator = self._validation_split(backend, spec, inp, X, y, Y,
                                                           sample_weight, scorer_sw, progress)
            n_train = len(train_rows)
        # A stream's dropout generator is seeded once: at its first call with
        # dropout on (0 is the state of one never seeded; a seeded splitmix64
        # state, advanced by a fixed odd step, is 0 once in 2**64 draws).
        if spec.has_dropout and (not incremental or self._optimizer is None
                                 or optimizer.rng_state == 0):
            # Drawn only when dropout is on, and after the validation split,
            # so that scikit-learn's random sequence is untouched otherwise.
            optimizer.rng_state = np.uint64(self._random_state.randint(2**31 - 1))

        if self.batch_size != "auto" and self.batch_size > n_train:
            # scikit-learn's message, word for word.
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped")
        batch_size = batch_rows(self.batch_size, n_train)
        if self.normalization == "batch" and batch_size == 1:
            raise ValueError(
                "normalization='batch' normalises each unit over a mini-batch, and this "
                f"fit's mini-batches hold 1 sample each (batch_size={self.batch_size!r}, "
                f"{n_train} training sample(s)): every output would be the same. Use "
                "batch_size >= 2 (and pass at least 2 samples to partial_fit), or "
                "normalization='layer' or None.")

        tasks = self._fit_tasks(layout, hooks_X, y, hooks_sw,
                                1 if incremental else self.max_iter, "epoch", progress)
        waiting = spend_compile_waits(self, backend, spec, inp.is_sparse, params, running,
                                      batch_size, n_train)
        # Taken out for this call (a concurrent call of the same model finds
        # none); a fit keeps none: megabytes at MNIST's shapes.
        alpha, l1 = self._penalties(weight_exp)
        spare = _take(_spare_workspaces, self)
        if not incremental:
            spare = None
        try:
            with waiting:
                workspace = fit_stochastic(
                    backend, spec, params, running, inp, Y, sample_weight, optimizer, progress,
                    alpha=alpha, l1=l1, clip=self.clip_grad_norm,
                    batch_size=batch_size, shuffle=self.shuffle, max_iter=self.max_iter,
                    tol=self.tol, n_iter_no_change=self.n_iter_no_change,
                    random_state=self._random_state, incremental=incremental,
                    train_rows=train_rows, validator=validator, verbose=self.verbose,
                    rewind_random_state=isinstance(self.random_state, np.random.RandomState),
                    # Set by the command line for its progress lines; not a parameter.
                    on_epoch_end=getattr(self, "_on_epoch_end", None), tasks=tasks,
                    spare=spare, parts=parts)
            if incremental:
                _keep(_spare_workspaces, self, workspace)
        finally:
            # (The root task is ended by _fit, once the call has succeeded
            # and set the model.)
            if tasks is not None:
                tasks.close_subtask()
            # Also after a DivergenceError: the trainer has returned every
            # piece of state to the last finite epoch.
            self._keep_progress(optimizer, progress)
        return tasks

    def _keep_progress(self, optimizer, progress):
        """Set the fitted attributes that describe the training so far."""
        self.__dict__.update(_progress_attributes(optimizer, progress))

    def _validation_split(self, backend, spec, inp, X, y, Y, sample_weight, scorer_sw,
                          progress):
        """Split off the validation rows; return them and a :class:`Validator`
        (whose kernels take ``sample_weight``, scaled as the training's; the
        scorer gets ``scorer_sw``, the same weights unscaled, and an
        estimator carrying ``progress``, the training so far)."""
        stratify = self._stratify_labels(y)
        rows = np.arange(inp.n_samples, dtype=np.int64)
        # Splitting row numbers draws exactly what splitting X would, and
        # leaves X uncopied: the kernels read training rows through ``perm``.
        try:
            train_rows, val_rows = train_test_split(
                rows, random_state=self._random_state,
                test_size=self.validation_fraction, stratify=stratify)
        except ValueError as exc:
            # The side that came out too small says which way to move
            # validation_fraction (train_test_split takes ceil(fraction * n)
            # validation rows; a stratified split needs a row per class on
            # each side).
            n_val = math.ceil(self.validation_fraction * inp.n_samples)
            need = 1 if stratify is None else len(np.unique(stratify))
            if inp.n_samples - n_val < need:
                advice = "Lower validation_fraction, pass more samples"
            elif n_val < need:
                advice = "Raise validation_fraction" + (
                    ", pass more samples" if self.validation_fraction else "")
            else:
                advice = "Pass more samples"
            raise ValueError(
                f"early_stopping=True could not split a validation set "
                f"(validation_fraction={self.validation_fraction}) from {inp.n_samples} "
                f"sample(s): {str(exc).rstrip('.')}. {advice}, or set "
                "early_stopping=False.") from exc
        if len(val_rows) < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        sw_val = None if sample_weight is None else sample_weight[val_rows]
        if sw_val is not None and not (sw_val > 0).any():
            # Every score and loss of the split would be 0 / 0.
            raise ValueError(
                f"early_stopping=True split off {len(val_rows)} validation sample(s) whose "
                "sample weights (times class_weight) are all 0: they cannot score the "
                "model. Give some of them weight, or change random_state or "
                "validation_fraction for another split.")
        inp_val = inp.take(val_rows)
        y_val = self._validation_targets(y[val_rows])
        # Only a scorer of scikit-learn's kind predicts from X's rows; the
        # others score the validator's outputs.
        scores_X = not (self.scoring is None or self.scoring == "loss")
        X_val = None
        if scores_X and type(X) is np.ndarray and not inp_val.is_sparse:
            # The rows just taken, not a second copy of them (helper-162):
            # the same values and dtype. Writable, as a copy was: a
            # read-only view missed predict's fast path, and each epoch's
            # scoring took 17 % longer (helper-173); a scorer that wrote into
            # its X would change the validation rows (none of scikit-learn's
            # does).
            X_val = inp_val.dense
        elif scores_X:
            X_val = X[val_rows]
        score = self._validation_scorer(spec, X_val, y_val,
                                        None if scorer_sw is None else scorer_sw[val_rows],
                                        progress)
        validator = Validator(backend, spec, inp_val, np.ascontiguousarray(Y[val_rows]),
                              sw_val, score, user_scorer=callable(self.scoring))
        return np.ascontiguousarray(train_rows), validator

    def _validation_scorer(self, spec, X_val, y_val, sw_val, progress):
        """``score(outputs, params, running, loss)`` per the ``scoring`` parameter
        (``X_val`` is None where ``scoring`` is None or "loss": unread)."""
        scoring = self.scoring
        if scoring is None:
            score_outputs = self._outputs_scorer(y_val, sw_val)

            def default_score(out, params, running, loss):
                value = float(score_outputs(out))
                if not math.isfinite(value):
                    # helper-151: a NaN is never an improvement, and the fit
                    # kept its untrained starting weights without a word.
                    raise ValueError(
                        f"The default validation score of {type(self).__name__} "
                        f"(scoring=None) gave {value} at epoch {progress.n_iter}: early "
                        "stopping cannot compare it. Rescale y (for example with "
                        "sklearn.compose.TransformedTargetRegressor and a StandardScaler), "
                        "or set scoring='loss' or early_stopping=False.")
                return value

            return default_score
        if scoring == "loss":
            return lambda out, params, running, loss: -float(loss)
        scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
        # A plain scorer(estimator, X, y), as the docstring gives it (and as
        # scikit-learn's searches call one), gets no weights it cannot take.
        kwargs = ({} if sw_val is None or not _takes_sample_weight(scorer)
                  else {"sample_weight": sw_val})
        subject = f"scoring={scoring!r}"
        place = f"the validation set of {type(self).__name__} (early_stopping=True)"

        def score(out, params, running, loss):
            model = self._snapshot(spec.layout, params, running, progress)
            try:
                value = scorer(model, X_val, y_val, **kwargs)
            except (ValueError, TypeError) as exc:
                # The metric's own message names neither the parameter nor
                # the validation set (e.g. "continuous is not supported").
                kind = TypeError if isinstance(exc, TypeError) else ValueError
                raise kind(f"{subject} raised while scoring {place}: {exc}") from exc
            except Exception as exc:
                if hasattr(exc, "add_note"):  # Python 3.11 on
                    exc.add_note(f"(raised by {subject} while scoring {place})")
                raise
            returned = f"{subject} returned {value!r} for {place}, not a number."
            if isinstance(value, (str, bytes)) or np.ndim(value) != 0:
                raise TypeError(returned)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise TypeError(returned) from None
            if not math.isfinite(value):
                # A NaN is never an improvement, and the fit would end on its
                # first weights, untrained, without a word.
                raise ValueError(
                    f"{subject} gave {value} on {place} at epoch {progress.n_iter}: early "
                    "stopping compares the scores of its epochs and cannot compare that. "
                    "Use a scoring defined on every validation split (roc_auc is not where "
                    "a class is missing from it), a larger validation_fraction, or "
                    "early_stopping=False.")
            return value

        return score

    def _fitted_attributes(self, layout, params, running):
        """The fitted attributes that make a copy of this estimator predict
        with ``params`` and ``running`` (not copied)."""
        return {**_parameter_attributes(layout, params, running),
                "_activations": arch.hidden_activations(self.activation, layout.n_hidden),
                "_residual": arch.residual_flags(self.residual, list(layout.units[1:-1])),
                "_normalization": self.normalization}

    def _snapshot(self, layout, params, running, progress=None):
        """A shallow copy of this estimator holding ``params`` (for scorers),
        and the training so far from ``progress``, detached."""
        model = copy.copy(self)
        model.__dict__ = dict(self.__dict__)
        model.__dict__.update(self._fitted_attributes(layout, params.copy(), running.copy()))
        if progress is not None:
            model.__dict__.update(_progress_attributes(None, progress.detached()))
        # Validation rows are passed as arrays: do not check column names.
        model.__dict__.pop("feature_names_in_", None)
        return model

    def _fit_tasks(self, layout, X, y, sample_weight, max_subtasks, task_name,
                   progress=None, iterations=None):
        """scikit-learn callback tasks for this fit, or None without callbacks.

        A ``fitted_estimator`` passed to a hook predicts with the weights of
        that point, and carries the loss and history so far, detached from
        the live model's: training it (``partial_fit``) changes neither (a
        ``RandomState`` passed as ``random_state`` is copied), and starts its
        optimizer afresh. ``progress`` is a stochastic fit's
        record; ``iterations`` an L-BFGS fit's lists of the iterations'
        ``loss`` and ``epoch_time``, which ``fit_lbfgs`` appends to.
        """
        if not callbacks.active(self):
            return None

        def snapshot(params, running, n_ended, final):
            attributes = self._fitted_attributes(layout, params, running)
            # Its settings, not the search's callbacks for this fit, which
            # scikit-learn takes back from the live model only.
            attributes["_skl_callbacks"] = callbacks.own_callbacks(self)
            if isinstance(self.random_state, np.random.RandomState):
                # The caller's generator, which the live fit draws from in
                # place: a copy's fit would shift the live fit's draws.
                attributes["random_state"] = copy.deepcopy(self.random_state)
            # scikit-learn copies the live estimator and sets these on the
            # copy: what is not set here is shared with the live model.
            record = progress if progress is not None else self.__dict__.get("_progress")
            if record is not None:
                attributes.update(_progress_attributes(None, record.detached()))
            else:  # an L-BFGS fit's: an earlier stochastic fit's lists, copied
                attributes["_optimizer"] = None
                attributes.update({name: list(self.__dict__[name])
                                   for name in ("loss_curve_", "validation_scores_")
                                   if isinstance(self.__dict__.get(name), list)})
            if progress is None and final:  # the fit's, as _fit_lbfgs set them
                attributes.update(n_iter_=self.n_iter_, loss_=self.loss_,
                                  history_={key: values.copy()
                                            for key, values in self.history_.items()})
            elif progress is None:  # L-BFGS: one subtask per iteration
                history = {key: np.array(values[:n_ended])
                           for key, values in iterations.items()}
                attributes.update(n_iter_=n_ended, history_=history,
                                  loss_=float(history["loss"][-1]) if n_ended else None)
            return attributes

        # Hooks see the targets as given (a classifier's y is binarised here).
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        return callbacks.FitTasks(self, X, self._validation_targets(y), metadata, max_subtasks,
                                  snapshot, task_name)

    def _initialize(self, Y, units, dtype, activations):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(units)
        self.out_activation_ = self._output_activation()
        # Lists built whole, then set: a thread that predicts with this model
        # meanwhile (unsupported, but possible) never meets a part of the
        # network whose last layer is a hidden one.
        coefs, intercepts = [], []
        for i, (fan_in, fan_out) in enumerate(zip(units[:-1], units[1:])):
            # scikit-learn's Glorot factor follows the hidden activation (the
            # output layer's that of the last hidden layer; without hidden
            # layers, the ``activation`` parameter, as scikit-learn does).
            if activations:
                act = activations[min(i, len(activations) - 1)]
            else:
                act = self.activation if isinstance(self.activation, str) else "relu"
            coef, intercept = arch.init_layer(self._random_state, self.init, fan_in,
                                              fan_out, act, dtype)
            coefs.append(coef)
            intercepts.append(intercept)
        hidden = units[1:-1]
        if self.normalization is not None:
            # A normalised layer has no bias: beta shifts it.
            for i in range(len(hidden)):
                intercepts[i] = np.zeros_like(intercepts[i])
        self.coefs_, self.intercepts_ = coefs, intercepts
        if self.normalization is not None:
            self.normalization_scales_ = [np.ones(m, dtype=dtype) for m in hidden]
            self.normalization_shifts_ = [np.zeros(m, dtype=dtype) for m in hidden]
        else:
            self.normalization_scales_, self.normalization_shifts_ = [], []
        if self.normalization == "batch":
            self.running_mean_ = [np.zeros(m, dtype=dtype) for m in hidden]
            self.running_var_ = [np.ones(m, dtype=dtype) for m in hidden]
        else:
            self.running_mean_, self.running_var_ = [], []
        self._optimizer = None
        self._progress = (Progress(self.early_stopping)
                          if self.solver in _STOCHASTIC_SOLVERS else None)

    def _combine_class_weight(self, y, sample_weight, dtype, incremental):
        return sample_weight

    # -------------------------------------------------------------- predict

    def __sklearn_is_fitted__(self):
        """Fitted once a fit has set the weights. (Without this, scikit-learn
        scans every attribute's name for a trailing underscore, and its
        ``_fit_context`` asks on every ``partial_fit`` call: 12 us.)"""
        return "coefs_" in self.__dict__

    def _check_fitted(self):
        """scikit-learn's ``check_is_fitted``, after a shortcut for the usual
        case: it scans every attribute, which costs more than predicting a
        few rows."""
        if "coefs_" not in self.__dict__:
            check_is_fitted(self)

    def _plain_input(self, X, dtype, check_finite=True):
        """Whether ``X`` needs none of scikit-learn's validation: a
        C-contiguous, writable, aligned, native NumPy array of the model's dtype and
        width, from a model fitted without feature names, and finite
        (``check_finite``; else the caller's kernel checks that).

        Anything else takes :func:`~sklearn.utils.validation.validate_data`,
        which gives the same result and every error message; this check
        costs a microsecond where that one costs tens, which matters when
        predicting a few rows at a time.
        """
        # (n_features_in_ is missing on weights set by hand before a fit.)
        return (plain_matrix(X) and X.dtype == dtype
                and X.shape[1] == self.__dict__.get("n_features_in_")
                and "feature_names_in_" not in self.__dict__
                and (not check_finite or all_finite(X.reshape(-1))))

    def _validated_input(self, X, dtype, kernel_checks_dense=True):
        """``X`` through scikit-learn's validation, checked to fit ``dtype``
        but not converted (float32 or float64, any layout, dense, CSR or
        CSC; a NumPy array of integers, bools or float16, or a sparse
        matrix of integers or bools, as it is):
        :func:`~fastbp.training.predict.predict_rows` converts it a block of
        rows at a time. ``kernel_checks_dense``: whether the
        backend's kernel reports a dense ``X`` that is not finite (the
        CPU's)."""
        X = check_raw_input(native_byte_order(X))
        # An integer, bool or float16 array stays as it is, as does a sparse
        # matrix of integers or bools (validation makes it CSR or CSC, of
        # the same dtype): predict_rows converts its blocks (helper-162:
        # validation converted all of it to float64, eight times a uint8 X,
        # for a float32 model too; fix-183: a sparse one's indices too).
        # Their values fit float32 and float64, and float16's non-finite
        # ones are refused by validation as before.
        keep = ((type(X) is np.ndarray
                 and (X.dtype.kind in "biu" or X.dtype == np.float16))
                or (sp.issparse(X) and X.dtype.kind in "biu"))
        with naming("X"):
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=None if keep else (np.float64, np.float32))
        if not keep and X.dtype != dtype:
            check_fits_dtype(X, dtype, "X")
        if (sp.issparse(X) or not kernel_checks_dense) and get_config()["assume_finite"]:
            # The CPU kernels check a dense X's chunks, not a sparse X's
            # values, and the GPU's neither (validation does, unless
            # assume_finite=True skipped it): relu turned a NaN into 0, tanh
            # saturated on inf, and the outputs came out finite and wrong.
            _refuse_non_finite_input(X)
        return X

    def _loss_holds_penalty(self):
        """Whether a fit with the parameters as set minimises a training
        loss (``loss_curve_``, ``history_['loss']``) that holds a penalty:
        ``alpha``'s L2 (not adamw's, a decay of the weights outside the
        loss) or ``l1``; the validation loss is the data loss alone."""
        return bool((self.alpha > 0 and self.solver != "adamw") or self.l1 > 0)

    def _non_finite_parameters(self):
        """The fitted attributes that hold NaN or infinity (weights set by
        hand or loaded: a fit never keeps them)."""
        return [name for name in ("coefs_", "intercepts_", "normalization_scales_",
                                  "normalization_shifts_", "running_mean_", "running_var_")
                if not all(np.isfinite(a).all() for a in getattr(self, name, ()))]

    def _refuse_negative_variances(self):
        """Raise ``ValueError`` where ``running_var_`` holds a negative
        value: batch normalisation divides by its square root, NaN, which
        the outputs would otherwise show as an overflow blamed on X (or relu
        would hide as 0). A fit never keeps one: set by hand or loaded."""
        layers = [i for i, var in enumerate(self.__dict__.get("running_var_", ()), start=1)
                  if var.size and np.any(np.less(var, 0))]
        if layers:
            raise ValueError(
                f"running_var_ holds negative variances (in hidden layer(s) "
                f"{', '.join(map(str, layers))}): batch normalization takes their square "
                "root. Set running variances >= 0, or fit the model again.")

    def _refuse_normalized_intercepts(self, normalization):
        """Raise ``ValueError`` where a hidden layer that ``normalization``
        normalises has a non-zero ``intercepts_`` array.

        The kernels add no bias before a normalisation (its shift plays that
        part), so such values would be ignored without a word: weights
        ported from a network with a bias before its normalisation (PyTorch's
        ``Linear`` before ``BatchNorm1d`` or ``LayerNorm``), or a file edited,
        would predict wrongly. A fit keeps these arrays zero.
        """
        if normalization is None:
            return
        for i, b in enumerate(self.intercepts_[:-1]):
            if not np.any(b):  # (NaN counts as non-zero)
                continue
            ignored = (f"intercepts_[{i}] holds non-zero values, but hidden layer {i + 1} "
                       f"is normalised (normalization={normalization!r}), and fastbp adds "
                       "no bias before a normalisation: its shift, "
                       f"normalization_shifts_[{i}], plays that part, and intercepts_[{i}] "
                       "would be ignored.")
            if normalization == "batch":
                raise ValueError(
                    f"{ignored} Batch normalization removes a constant added to each unit, "
                    "in training and at prediction alike, so fold the bias into the "
                    f"running mean: subtract intercepts_[{i}] from running_mean_[{i}], then "
                    f"set intercepts_[{i}] to zeros.")
            raise ValueError(
                f"{ignored} Layer normalization takes its mean and variance across the "
                "layer's units, so a bias that differs between units cannot be folded "
                "into its other parameters: a network with such a bias before a layer "
                "normalization (PyTorch's Linear(bias=True) before LayerNorm) cannot be "
                "represented in fastbp. (A bias equal for every unit is removed by the "
                f"normalization: set intercepts_[{i}] to zeros.)")

    def _refuse_non_finite_parameters(self):
        """Raise ``ValueError`` naming the fitted attributes that hold NaN or
        infinity: weights set by hand or loaded, not X (a fit never keeps
        them)."""
        bad = self._non_finite_parameters()
        raise ValueError(f"The model's parameters hold NaN or infinite values (in "
                         f"{', '.join(bad)}): it cannot predict. Fit it again, or set "
                         "finite weights.")

    def _forward(self, X, validate=False):
        """Validated ``X`` through the network: output-layer values."""
        if ("_activations" not in self.__dict__ or "n_features_in_" not in self.__dict__
                or "_filled_state" in self.__dict__):
            # Weights set by hand, as scikit-learn's MLP allows before
            # predict: what a fit would also have set, from them (again
            # where they were replaced by others since).
            self._complete_fitted_state()
        buffers = self._packed_buffers()
        activations, residual = (self._activations, self._residual) if buffers is not None \
            else self._layers_for_weights()
        dtype = buffers[0].dtype if buffers is not None else self._weights_dtype()
        # On the CPU the kernel reports a non-finite X, sparing small
        # predictions a NumPy pass; such an X is then validated below.
        # (The class only: a bad X is named before a missing GPU.)
        checks_input = getattr(BACKEND_CLASSES.get(self.device), "checks_input", False)
        plain = not validate and self._plain_input(X, dtype, check_finite=not checks_input)
        if not plain:
            X = self._validated_input(X, dtype, kernel_checks_dense=checks_input)
        n_samples = X.shape[0]
        units = (self.n_features_in_, *[c.shape[1] for c in self.coefs_])
        plan = inference_plan(units, tuple(HIDDEN_ACTIVATIONS[a] for a in activations),
                              arch.normalization_code(self._normalization),
                              tuple(bool(r) for r in residual),
                              OUTPUT_FUNCTIONS[self.out_activation_], dtype,
                              chunk_rows(n_samples))
        params, running = self._flat_parameters(plan.spec.layout, dtype, buffers=buffers)
        layout = plan.spec.layout
        if params.size != layout.n_params or running.size != layout.n_running:
            # The kernel indexes both by the layout, unchecked: a fit of
            # another network in another thread replaced the attributes
            # between the reads above.
            raise RuntimeError(
                f"This {type(self).__name__} changed while it predicted (a fit, "
                "partial_fit or set of its attributes in another thread): each thread "
                "must use its own estimator.")
        backend = get_backend(self.device)
        if not checks_input and not all_finite(params, running):
            # The CPU kernel checks the parameters; the GPU's does not, and
            # relu turns a NaN weight's products into 0: outputs that look
            # like probabilities.
            self._refuse_non_finite_parameters()
        if running.size:
            # Nor the square root of a negative variance (a domain error
            # under the CUDA simulator), on either device: on the CPU, relu
            # turned its NaN into 0 and predicted finite, wrong outputs from
            # a running_var_ edited in place (helper-145). Batch-norm models
            # only, a pass over their hidden units' variances.
            self._refuse_negative_variances()
        if plain:
            out, status = plan.run(backend, params, running,
                                   backend.put(plan.dense_inputs(X)), n_samples, plain=True)
        else:
            out, status = predict_rows(plan, backend, params, running, X)
        if status & INPUT_NOT_FINITE and plain:
            # Validation names the problem.
            return self._forward(X, validate=True)
        if status & (INPUT_NOT_FINITE | OUTPUT_NOT_FINITE):
            # A validated X that is not finite: scikit-learn's
            # assume_finite=True skipped the check.
            _refuse_non_finite_input(X)
        if status & OUTPUT_NOT_FINITE:
            # (The CPU kernel checks the parameters; the GPU's were checked
            # before its launch.)
            if status & PARAMS_NOT_FINITE:
                self._refuse_non_finite_parameters()
            rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
            # Either side can be at fault: X out of the training data's
            # scale, or weights from a fit that diverged (a DivergenceError's
            # last_finite_model, whose weights may be huge).
            largest = float(np.max(np.abs(params))) if params.size else 0.0
            raise ValueError(
                f"The network's outputs overflowed {dtype.name} for {rows.size} row(s) of X "
                f"(first: row {rows[0]}): X holds values too large for this model, or the "
                f"model's weights are too large (largest magnitude {largest:.3g}; a "
                "DivergenceError's last_finite_model holds the last finite epoch of a fit "
                "that diverged). Rescale X as the training data was scaled, or fit the "
                "model again.")
        return out

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

    def _outputs_scorer(self, y, sample_weight):
        """``score(out)``: :meth:`_score_outputs` against fixed targets,
        called after every epoch by early stopping."""
        return lambda out: self._score_outputs(out, y, sample_weight)

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


# Attributes a fit sets besides ``coefs_``: a model holding one of them is
# no unfitted template (:meth:`BaseMLP._check_loaded_state`).
_FIT_SETS = ("intercepts_", *BaseMLP._FILLED_IN, "n_iter_", "t_", "loss_", "classes_",
             "_label_binarizer", "_progress")


def _check_loaded_count(name, value):
    """Refuse a loaded count ``name`` (samples seen, epochs) that is not an
    integer from 0 within int64, as fits and ``partial_fit`` keep them."""
    if not is_count(value):
        raise ValueError(f"{name} is {value!r}, where a fit keeps a count from 0 (an "
                         "integer within int64)")


def _check_loaded_best_loss(name, value, early):
    """Refuse a loaded best training loss ``name`` that is not a real number
    (never NaN: no loss compares below one), or None where early stopping
    (``early``) keeps none."""
    if value is None and early:
        return
    # Infinite before the first epoch's loss.
    if not is_real(value, infinite=True):
        kept = "a real number, or None with early stopping" if early else \
            "a real number (None only with early stopping, which this model's record is not)"
        raise ValueError(f"{name} is {value!r}, where a fit keeps {kept}")


def _refuse_non_finite_input(X, Y=None, sample_weight=None):
    """Raise scikit-learn's ``ValueError`` for an ``X`` (targets ``Y``,
    ``sample_weight``) holding NaN or infinity, which validation lets
    through under ``sklearn.set_config(assume_finite=True)``: called where
    the kernels' results point at the data, before blaming the model."""
    for name, value in (("X", X), ("y", Y), ("sample_weight", sample_weight)):
        if value is None:
            continue
        data = value.data if hasattr(value, "tocsr") else np.asarray(value)
        # all_finite: a sum, where X is finite, not a boolean array of X's size.
        if data.dtype.kind in "fc" and not all_finite(data.ravel()):
            refuse_non_finite(name)


def _scoring_name(scoring):
    """What the validation scores of ``scoring`` are measured by, comparable
    across fits and a save and load: the name, a scorer object's repr
    (``make_scorer(balanced_accuracy_score, ...)``), or a function's module
    and qualified name (its repr holds its address, which a load changes)."""
    if scoring is None or isinstance(scoring, str):
        return scoring
    if isinstance(scoring, functools.partial):
        return (f"partial({_scoring_name(scoring.func)}, {scoring.args!r}, "
                f"{scoring.keywords!r})")
    name = getattr(scoring, "__qualname__", None)
    owner = getattr(scoring, "__self__", None)
    if (isinstance(name, str) and "<" not in name
            and (owner is None or " at 0x" not in repr(owner))):
        # A module's function (or a method of an object with a repr of its
        # own): the same after a load. Lambdas and closures (<lambda>,
        # <locals>) share their qualified names, and pickle cannot save them.
        return (f"{getattr(scoring, '__module__', None)}.{name}"
                + ("" if owner is None else f" of {owner!r}"))
    # Anything else by its repr: an object's default one holds its address,
    # which tells two scorers apart at the cost of a load telling them apart.
    return repr(scoring)


def _takes_sample_weight(scorer):
    """Whether ``scorer`` takes a ``sample_weight`` keyword: scikit-learn's
    scorer objects, and callables that name it or take ``**kwargs``."""
    from sklearn.metrics._scorer import _BaseScorer

    if isinstance(scorer, _BaseScorer):
        # A scorer object passes the weights on to its metric, which may
        # not take them (make_scorer of a metric of y_true and y_pred).
        scorer = getattr(scorer, "_score_func", None)
        if scorer is None:
            return True
    try:
        parameters = inspect.signature(scorer).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters)


def _lbfgs_stop_reason(result):
    """scipy's message for an L-BFGS stop, with the meaning it leaves out:
    scipy 1.15+ reports a failed line search as "ABNORMAL: ", no reason
    given."""
    message = str(result.message).strip()
    if message.endswith(":") or not message:
        message = (message + " " if message else "") + (
            "the line search found no step along the search direction that lowered "
            "the loss enough; scipy gives no further reason")
    return message


def _warn_lbfgs_not_converged(result, n_iter, max_iter):
    """scikit-learn's ``ConvergenceWarning`` for an L-BFGS fit that stopped
    unconverged, in its words (``sklearn.utils.optimize._check_optimize_result``).

    scikit-learn's check warns through ``warnings.warn`` from inside fastbp:
    the warning named a line of this module rather than the caller's (so
    filters by module missed it), and a warm-up's fit could not keep it
    quiet for its thread alone.
    """
    message = (f"lbfgs failed to converge after {n_iter} iteration(s) "
               f"(status={result.status}):\n{_lbfgs_stop_reason(result)}\n")
    if n_iter == 0:
        # Only a warm start gets here (_check_lbfgs_result refuses a fresh
        # fit's): its weights are the last fit's, not untrained ones.
        message += "No iteration was completed: the model keeps the weights it started with.\n"
    if n_iter == max_iter:
        message += ("\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={max_iter}).")
    message += ("\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html")
    warn_at_caller(message, ConvergenceWarning)


def _warn_if_loss_unresolved(result, tol, dtype):
    """Warn when L-BFGS "converged" from fresh weights within a few
    iterations, its loss no lower than at the start.

    scipy stops when the loss's relative change falls below about 2e-9.
    With targets around 1e9, a float32 loss of 1e18 rounds
    away the changes of L-BFGS's line search, and it stops after one or two
    iterations, untrained, with status 0 (scikit-learn's MLP is silent
    there). Trained from random weights, a real fit does not flatten within
    ten iterations, while its gradient is above ``tol``, unless it reached
    the optimum: then its loss fell, if by a little where the data's noise
    dominates it (0.4% for an optimum of R² 0.004). A gradient above
    ``tol`` alone is no sign of an unresolved loss: it scales with the
    loss, and a loss of 4e7 at its optimum can have one of 1e-3.
    """
    if result.nit >= 10 or result.status != 0:
        return
    grad = np.abs(np.asarray(result.jac))
    largest = float(grad.max()) if grad.size else 0.0
    if largest <= tol:
        return
    start = result.get("start_loss")
    if start is not None and (start - result.fun
                              > np.sqrt(np.finfo(dtype).eps) * max(abs(start), 1.0)):
        return  # it trained (the loss fell by more than rounding could hide)
    float32 = np.dtype(dtype) == np.float32
    warn_at_caller(
        f"L-BFGS stopped after {result.nit} iteration(s), with the loss's gradient still "
        f"{largest:.3g}: at a loss of {float(result.fun):.6g}, {np.dtype(dtype).name} "
        "cannot resolve the changes that L-BFGS measures its progress by, so the model "
        "is barely trained. Standardise the targets (for example with "
        "sklearn.compose.TransformedTargetRegressor and a StandardScaler) and X"
        + (", or train in float64." if float32 else "."), ConvergenceWarning)

"""Shared estimator logic: the scikit-learn API around the trainer.

No compiled code lives here: this module validates input, keeps scikit-learn's
fitted attributes and random-number order, and hands arrays to
:mod:`fastbp.training`. :class:`BaseMLP` keeps the parameters, ``fit`` and its
transaction (a failed call rolls back) and what every fit prepares; it is
composed, as scikit-learn's estimators are, of mixins from modules of their
own: :mod:`.fitted_state` (weights set by hand, loaded models),
:mod:`.solvers` (each solver's run, early stopping, callbacks) and
:mod:`.network` (flat parameters, input validation, the forward pass).
:mod:`.fit_calls` keeps the fit calls under way, outside the estimators.
"""

import copy
import operator
import sys
import weakref
from abc import ABC, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ..exceptions import DivergenceError, held_until_committed, issue_held, warn_at_caller
from ..training.ahead import compile_ahead
from ..training.backend import get_backend
from ..training.compile import announce_compilation, training_kernel
from ..training.data import KernelInput, all_finite, writable_alias
from ..training.layout import chain_problem
from ..training.progress import INTERRUPTED, Progress
from ..training.spec import (FLOAT64_MODEL, SGD, SOLVERS, dtype_bound_parameters,
                             refuse_beyond_dtype, refuse_subnormal)
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
    sample_weight_exponent,
)
from .constraints import MLP_CONSTRAINTS
from .fit_calls import (
    _CALLS,
    _fresh_random_state,
    _keep,
    _new_generation,
    _take,
    claim,
    claimed_call,
    copied_call,
    end,
    from_model_before,
    live_copies,
    one_call_at_a_time,
    state_before,
    trained_in_this_thread,
)
from .fitted_state import FittedStateMixin
from .network import NetworkMixin, _in_dtype, _refuse_non_finite_input
from .saved_records import with_rebuilt, without_rebuilt
from .solvers import _NON_FINITE_WEIGHTS, _STOCHASTIC_SOLVERS, SolverFitMixin, fit_split_parts

#: ``BaseMLP._get_param_names`` of each class (weakly: a class defined in a
#: loop may go).
_PARAM_NAMES = weakref.WeakKeyDictionary()


#: Per estimator: the parameter values a ``partial_fit`` call last checked;
#: per class, what reads them.
_CHECKED_PARAMS = weakref.WeakKeyDictionary()
_PARAM_READERS = weakref.WeakKeyDictionary()


def _float_mismatch(X, model_dtype):
    """The float dtypes of ``X`` as the caller gave it (an array's, a sparse
    matrix's, a DataFrame's columns') that a warm fit of a ``model_dtype``
    model refuses: float32 for a float64 model, float64 for a float32 one,
    and any that does not convert to it exactly. Empty for X with no float
    dtype of its own (integers, bools, objects, a list), which is converted
    to the model's dtype, as ``partial_fit`` converts it."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or hasattr(X, "dtype"):
        dtypes = [getattr(X, "dtype", None)]
    found = set()
    for dtype in dtypes:
        # (pandas' nullable Float32 and Float64 hold NumPy's.)
        dtype = getattr(dtype, "numpy_dtype", dtype)
        if dtype is not None and not isinstance(dtype, np.dtype):
            # Another library's dtype (torch.float64): judged by its name,
            # as NumPy's conversion of the container keeps it (rev-252: a
            # float64 tensor went into a float32 model that refuses a
            # float64 array).
            try:
                dtype = np.dtype(str(dtype).rsplit(".", 1)[-1])
            except TypeError:
                continue
        if not isinstance(dtype, np.dtype) or dtype.kind != "f":
            continue
        dtype = dtype.newbyteorder("=")
        if (dtype.itemsize in (4, 8) and dtype != model_dtype) or not np.can_cast(
                dtype, model_dtype, "safe"):
            found.add(dtype)
    return sorted(found, key=lambda dtype: dtype.itemsize)


class BaseMLP(FittedStateMixin, SolverFitMixin, NetworkMixin, callbacks.CallbackSupportMixin,
              BaseEstimator, ABC):
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

    @one_call_at_a_time
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

        Raises
        ------
        ValueError
            For data the model cannot train on (non-finite values, a sample
            weight that leaves no row to train, labels or shapes that do not
            match); with ``warm_start=True``, for data or parameters the
            fitted model cannot go on from (``X`` of the other float dtype,
            another number of features or outputs, a changed
            ``activation``, ``residual``, ``normalization`` or loss).
            ``sklearn.utils._param_validation.InvalidParameterError`` (a
            ``ValueError`` and a ``TypeError``) names a parameter outside its
            allowed values.
        fastbp.DivergenceError
            When an epoch's loss or parameters become NaN or infinite. The
            estimator is left as it was before the call; the error's
            ``last_finite_model`` is a fitted copy at the call's last finite
            epoch (``None`` if its first epoch diverged).
        RuntimeError
            With ``device="cuda"`` where no usable GPU, driver or numba-cuda
            package is found (the message says which).

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            When ``max_iter`` epochs end before the stopping rule is met.
        UserWarning
            On Ctrl-C (``KeyboardInterrupt``) during training: the fit undoes
            the unfinished epoch and returns with the model of the last
            complete one (with ``early_stopping=True``, the best validation
            score's weights; with ``solver="lbfgs"``, the best iterate). A
            fit interrupted before its first epoch ended is undone as a
            whole, and the ``KeyboardInterrupt`` goes on.
        """
        return self._transactional_fit(X, y, sample_weight, incremental=False)

    def _transactional_fit(self, X, y, sample_weight, incremental, prepare=None):
        # One call at a time fits an estimator: fit and partial_fit claim
        # it before anything changes, and refuse a call that overlaps
        # another thread's or is nested in one (its hook fits the estimator
        # it trains): see fit_calls.one_call_at_a_time. This is that call.
        call = claimed_call(self)
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
        call.before = (saved, rng_state, lengths)
        depth = len(_CALLS.stack)
        try:
            _new_generation(self)
            # (Held already, where fit_calls.one_call_at_a_time claimed it.)
            claim(call)
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
            # Whatever raised, and wherever: the estimator is no longer
            # being trained (save and predict read it as it now is). First,
            # and one store (see _Call). The call stays under way, refusing
            # another, until the decorator above ends it, once scikit-learn
            # has torn its callbacks down (fit_calls.one_call_at_a_time).
            call.committed = True
            call.before = call.model_before = None  # (the old model: not kept past the call)
            _new_generation(self)  # (before the mark goes: see _GENERATIONS)
            if call.ends_in_fit:
                end(call)
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
                # This epoch's model, not the one before the call (which a
                # deepcopy of an estimator being fitted holds).
                with live_copies():
                    exc.last_finite_model = copy.deepcopy(self, memo)
            except Exception as failed:  # the divergence is what the call raises
                if hasattr(exc, "add_note"):  # Python >= 3.11
                    exc.add_note(f"fastbp could not copy the model of the last finite "
                                 f"epoch: {type(failed).__name__}: {failed}")

    # ---------------------------------------------------------- interop

    # (rev-284: mid-fit, it converted a refit's untrained initial weights.)
    @from_model_before
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
            If scikit-learn's MLP cannot represent this model, or its
            parameters hold NaN or infinite values (which ``predict``
            refuses), or a parameter was set since the fit to a value its
            class refuses (``set_params(solver="bogus")``); the message says
            why.
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

        Raises
        ------
        TypeError
            If ``model`` is not a scikit-learn MLP of the matching kind.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If one of its parameters holds a value that fastbp refuses, or
            its fitted state is one :func:`fastbp.save` and
            :func:`fastbp.load` refuse (attributes set by hand that do not
            fit together, such as ``classes_`` that are not the labels its
            weights decode): the message names it.
        """
        from .interop import from_sklearn

        return from_sklearn(cls, model)

    # ------------------------------------------------------ fit, continued

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
        X, y, refused = self._fit_input(X, y, incremental, first_pass)
        sample_weight = self._checked_sample_weight(sample_weight, X)
        # The weights as the caller gave them (validated), for the callback
        # hooks, as scikit-learn's estimators pass them (not times
        # class_weight: a ScoringMonitor's accuracy would be class-weighted).
        hooks_sw = sample_weight
        sample_weight = self._combine_class_weight(y, sample_weight, X.dtype, incremental)
        self._refuse_parameters_out_of_dtype(X.dtype, first_pass)
        sample_weight, weight_exp = self._scaled_sample_weight(sample_weight, X.dtype)
        # Read-only targets or weights (joblib's memmaps) share the normal
        # kernel specialisation, as X does.
        Y = writable_alias(self._targets_as_matrix(y, X.dtype))
        if sample_weight is not None:
            sample_weight = writable_alias(np.ascontiguousarray(sample_weight))
        n_features = X.shape[1]
        units = [n_features, *hidden_sizes, Y.shape[1]]
        self._start_model(Y, units, X.dtype, first_pass, refused, activations, residual,
                          incremental)
        # (A first fit's weights are X's dtype; a later one's model dtype X
        # was checked or cast to above.)
        dtype = X.dtype

        spec, params, running = self._network(units, activations, self.normalization,
                                              residual, dropout, dtype)
        inp = KernelInput(X)
        backend = get_backend(self.device)
        stochastic = self.solver in _STOCHASTIC_SOLVERS
        parts = self._prepare_kernels(backend, spec, inp, dtype, stochastic)

        diverged = tasks = None
        with fit_slot():
            try:
                if stochastic:
                    tasks = self._fit_stochastic(backend, spec, params, running, inp, X, y,
                                                 Y, sample_weight, incremental, hooks_X,
                                                 hooks_sw, weight_exp, parts)
                else:
                    tasks = self._fit_lbfgs(backend, spec, params, inp, y, Y,
                                            sample_weight, fresh=first_pass, hooks_X=hooks_X,
                                            hooks_sw=hooks_sw, weight_exp=weight_exp)
            except DivergenceError as exc:
                self._refuse_non_finite_start(exc, X, Y, sample_weight, first_pass,
                                              incremental)
                if not stochastic:  # L-BFGS keeps the model from before
                    raise
                diverged = self._with_penalty_advice(exc, weight_exp)

        self._keep_trained_model(spec.layout, params, running, activations, residual,
                                 stochastic)
        if diverged is not None:
            raise diverged
        self._commit_fit(tasks, params, running, incremental)
        return self

    def _fit_input(self, X, y, incremental, first_pass):
        """``X`` and ``y`` validated, ``X`` in the dtype the call trains in.

        Returns
        -------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        refused : tuple
            What a warm fit refuses of ``X``'s float dtype
            (``_check_warm_start``); empty where nothing is.
        """
        raw_X = X
        X = check_raw_input(native_byte_order(X))
        if not first_pass and "_filled_state" in self.__dict__:
            # Weights set by hand and replaced since: X is checked against
            # the input width of the weights there are now.
            self._complete_fitted_state()
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        model_dtype = None if first_pass else self._weights_dtype()
        refused = ()
        if not first_pass and X.dtype != model_dtype:
            # partial_fit goes on in the model's dtype, as its predictions
            # do; so does a warm fit on X with no float dtype of its own
            # (integers, a list), which validation made float64 (rev-237:
            # refused as "float64", which the caller never passed). A warm
            # fit refuses float data of the other dtype (_check_warm_start,
            # naming the caller's dtype): it could start afresh.
            refused = () if incremental else _float_mismatch(raw_X, model_dtype)
            if not refused:
                X = _in_dtype(X, model_dtype)
        return X, y, refused

    def _checked_sample_weight(self, sample_weight, X):
        """``sample_weight`` validated for ``X``: an ndarray of shape
        (n_samples,), or None."""
        if sample_weight is None:
            return None
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
        return sample_weight

    def _refuse_parameters_out_of_dtype(self, dtype, first_pass):
        """Refuse hyper-parameters that ``dtype``, the model's, cannot hold."""
        # Hyper-parameters beyond the model's dtype, named as set: before
        # the penalties are scaled by the weights (whose check would blame
        # the weights) and before a compile is announced (rev-270); a warm
        # fit is not told to fit float64 X, since it keeps its dtype.
        refuse_beyond_dtype(dtype, dtype_bound_parameters(
            self.solver, self.alpha, self.l1, self.clip_grad_norm, self.epsilon),
            wider=FLOAT64_MODEL if first_pass else None)
        # And below its smallest normal value, which the kernels flush to 0;
        # checked here, not in the trainer, so that a refusal comes before a
        # compile is announced or started too (rev-308).
        if self.solver in _STOCHASTIC_SOLVERS:
            if self.solver != "sgd":
                # An epsilon of 0: a weight whose gradient is 0 (an always-zero
                # feature) steps by 0/0, a NaN blamed on the learning rate
                # (helper-143).
                refuse_subnormal("epsilon", self.epsilon, dtype,
                                 f", which {self.solver}'s division by sqrt(v) + epsilon "
                                 "needs to keep off 0/0", " (scikit-learn's default is 1e-8)")
            if self.clip_grad_norm is not None:
                # A clip of 0 is read as no clipping: turned off silently.
                refuse_subnormal("clip_grad_norm", self.clip_grad_norm, dtype,
                                 " and would turn clipping off", ", or None for no clipping")

    def _scaled_sample_weight(self, sample_weight, dtype):
        """The weights the kernels get, and the power of 2 that scales them.

        Returns
        -------
        sample_weight : ndarray of shape (n_samples,) or None
        weight_exp : int
        """
        # The kernels get them times class_weight, scaled by 2**weight_exp,
        # with alpha and l1 (see sample_weight_exponent).
        weight_exp = 0
        if sample_weight is not None:
            weight_exp = sample_weight_exponent(sample_weight, dtype)
            if weight_exp:
                self._check_scaled_penalties(weight_exp, dtype, sample_weight)
                sample_weight = np.ldexp(sample_weight, weight_exp)
        return sample_weight, weight_exp

    def _start_model(self, Y, units, dtype, first_pass, refused, activations, residual,
                     incremental):
        """Draw the initial weights of a first fit, or check that a later
        one can go on from the model's."""
        self._random_state = _fresh_random_state(self)
        if not first_pass:
            self._complete_fitted_state()
        # This fit commits to these weights: what was filled in for them is
        # its own from here (helper-154: a hook's set_params mid-fit dropped
        # it, and n_features_in_ with it); a rollback restores the record.
        self.__dict__.pop("_filled_state", None)
        if first_pass:
            self._initialize(Y, units, dtype, activations)
        else:
            self._check_warm_start(units, refused, activations, residual, incremental)
            # Training normalises by batch statistics, but early stopping's
            # validation and the statistics the fit keeps read these
            # (batch norm's only: no pass over the others' empty arrays).
            if self._normalization == "batch":
                self._refuse_negative_variances()

    def _prepare_kernels(self, backend, spec, inp, dtype, stochastic):
        """Decide the step's split, announce the compile where asked, and
        compile the fit's kernels ahead on the CPU.

        Returns
        -------
        parts : int
            The threads each step is split between (1 for L-BFGS).
        """
        toolkit = spec.uses_toolkit(inp.is_sparse, self.clip_grad_norm if stochastic else None,
                                    SOLVERS[self.solver] if stochastic else SGD)
        # Decided once, here (helper-169: fit_stochastic decided it again,
        # a second split_parts per partial_fit call): the kernel compiled
        # ahead is the one the fit runs.
        parts = (fit_split_parts(self, backend, toolkit, inp.is_sparse, inp.n_samples,
                                 spec.layout.n_weights) if stochastic else 1)
        # The command line asks for it on standard error, with its other
        # notes (rev-291); verbose prints to standard output, as
        # scikit-learn's verbose does. (A name, not the stream: a copy of
        # the estimator, such as a DivergenceError's last_finite_model,
        # cannot copy a stream.)
        announce_to = getattr(self, "_announce_compile", None)
        if self.verbose or announce_to is not None:
            announce_compilation(backend, dtype, self.solver, spec.out_code, toolkit,
                                 stream=sys.stderr if announce_to == "stderr" else None,
                                 parts=parts, sparse=inp.is_sparse,
                                 early_stopping=stochastic and bool(self.early_stopping))
        if backend.name == "cpu":
            compile_ahead(backend, spec, dtype,
                          training_kernel(backend, self.solver, spec.out_code, toolkit, parts),
                          inp.is_sparse)
        return parts

    def _refuse_non_finite_start(self, exc, X, Y, sample_weight, first_pass, incremental):
        """Raise a ValueError, from the divergence ``exc``, where the call
        started from NaN or infinity: in its data or in its weights."""
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

    def _keep_trained_model(self, layout, params, running, activations, residual, stochastic):
        """Set the fitted attributes from the trained ``params`` and
        ``running`` (shapes (n_params,) and (n_running,))."""
        # The epoch loop has checked the stochastic solvers' every epoch.
        if not (stochastic or all_finite(params, running)):
            raise ValueError(_NON_FINITE_WEIGHTS)
        self._set_parameters(layout, params, running)
        self._activations = activations
        self._residual = residual
        self._normalization = self.normalization
        # As trained: set_params since does not change the curve's meaning
        # (TrainingHistoryDisplay labels it).
        self._penalised_loss = self._loss_holds_penalty()

    def _commit_fit(self, tasks, params, running, incremental):
        """Mark the call's model as kept, and run the root task's end hooks
        of ``tasks`` (None without callbacks)."""
        # The root hook gets the model fit returns, without what the fit
        # kept of its inputs for itself.
        self._drop_fit_inputs()
        # The model is set: the root hook may save it. (This call's is the
        # one active entry for this estimator, see fit_calls.claim: one an
        # interrupted call left on the stack is inactive.)
        # Committed, not ended: the call goes on refusing another until it
        # returns (rev-284: a root hook's fit of the estimator passed).
        for call in reversed(_CALLS.stack):
            if call.trains(self):
                call.committed = True
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

    def _drop_fit_inputs(self):
        """Forget what ``_fit`` kept of its inputs for its own use (a
        classifier's training labels), before its root hook sees the model."""

    def __getstate__(self):
        state = dict(super().__getstate__())
        copied = copied_call(self)
        if copied is not None:
            # rev-236: mid-fit, the estimator holds the model from before
            # the call (a first fit's initial weights) with a loss curve that
            # already has this call's epochs; fastbp.save refuses it, and a
            # pickle or deepcopy (a hook's joblib.dump) saved that mix as a
            # fitted model. It gets the model as before the call instead.
            state = state_before(*copied)
        else:
            # The per-epoch records once: history_ and loss_curve_ are
            # views and lists of _progress's, which pickle and skops wrote
            # apart (rev-320: each of a 10,000-call stream's epochs twice).
            # __setstate__ rebuilds them.
            state = without_rebuilt(state)
        # ``_packed`` holds the parameters a second time: not worth saving
        # (pickle, skops, deepcopy), and the copies' attributes are no
        # longer its views.
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

    def __setstate__(self, state):
        # scikit-learn's too: its version check, for a module of its own.
        super().__setstate__(with_rebuilt(state))

    def __copy__(self):
        # In the thread of the call training it, copy.copy copies the live
        # model: scikit-learn makes a hook's fitted_estimator of one, as
        # fastbp does a scorer's snapshot, and sets this epoch's fitted
        # attributes on it (which a copy of the model before the call would
        # lack: no classes_ on a first fit). Another thread's copy is no
        # part of that fit and nothing completes it: as a pickle, it holds
        # the model as before the call (rev-287: it held a refit's untrained
        # weights with the old fit's loss curve, and fastbp.save wrote it).
        # Otherwise as copy.copy's own reduce protocol.
        if trained_in_this_thread(self):
            with live_copies():
                state = self.__getstate__()
        else:
            state = self.__getstate__()
        new = type(self).__new__(type(self))
        new.__setstate__(state)
        return new

    def _check_warm_start(self, units, refused, activations, residual, incremental):
        """Refuse a warm or incremental fit that cannot go on from the
        model as it is; ``refused``: the float dtypes of the caller's X that
        the model's dtype cannot take (see :func:`_float_mismatch`)."""
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
        if refused:
            raise ValueError(
                f"X has dtype {' and '.join(map(str, refused))} but the model was fitted "
                f"with {self._weights_dtype()}; pass data of the same dtype, or set "
                "warm_start=False.")

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

    def _loss_holds_penalty(self):
        """Whether a fit with the parameters as set minimises a training
        loss (``loss_curve_``, ``history_['loss']``) that holds a penalty:
        ``alpha``'s L2 (not adamw's, a decay of the weights outside the
        loss) or ``l1``; the validation loss is the data loss alone."""
        return bool((self.alpha > 0 and self.solver != "adamw") or self.l1 > 0)

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

"""Fitted state that no fit in this process set: weights set by hand, and
models loaded from a file.

:class:`FittedStateMixin` completes the state fastbp keeps beyond
scikit-learn's fitted attributes for weights set by hand (and fills it in
again where the weights or the parameters it came from change), and checks
a loaded model's state (weights, layers, optimizer and training record)
before anything reads it unchecked. Separate from
:mod:`~fastbp.estimators.base` because none of it runs in a fit of a model
that fastbp trained: it guards the ways in that bypass a fit.
"""

import numpy as np

from ..training.layout import chain_problem
from ..training.optimizers import StochasticOptimizer, is_count, is_real
from ..training.progress import HISTORY_KEYS, Progress, Series
from ..training.spec import HIDDEN_ACTIVATIONS
from . import architecture as arch
from .network import output_function
from .solvers import _STOCHASTIC_SOLVERS


def _per_hidden_layer(est, make, present):
    """``make(width)`` for each hidden layer of the weights set by hand on
    ``est``, in their dtype, where ``present``; else an empty list."""
    if not present:
        return []
    dtype = est._weights_dtype()
    return [make(np.shape(W)[1], dtype=dtype) for W in est.coefs_[:-1]]


class FittedStateMixin:
    """Mixin of :class:`~fastbp.estimators.base.BaseMLP`: completing the
    state of weights set by hand, and checking a loaded model's state."""

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
        missing = self._missing_parameters()
        if missing:
            # Before anything reads the parameters: get_params (which
            # scikit-learn's validation calls) would raise a bare
            # AttributeError from inside scikit-learn.
            raise ValueError(f"it lacks the parameter(s) {', '.join(missing)}, which this "
                             f"fastbp's {type(self).__name__} has")
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
        output_function(out)
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
        if self._non_finite_parameters():
            # Such a model cannot predict: predict refuses it, so a file of
            # it would load only to be refused there.
            self._refuse_non_finite_parameters()
        self._refuse_negative_variances()
        self._refuse_normalized_intercepts(normalization)
        self._check_loaded_outputs(out)
        self._check_loaded_training_state(
            sum(a.size for a in (*coefs, *intercepts,
                                 *self.__dict__.get("normalization_scales_", []),
                                 *self.__dict__.get("normalization_shifts_", []))),
            len(coefs), coefs[0].dtype)

    def _missing_parameters(self):
        """The constructor parameters, in alphabetical order, that this
        model does not hold: a model saved by a fastbp whose class had no such
        parameter yet, or whose state was edited."""
        return [name for name in self._get_param_names() if name not in self.__dict__]

    def _unknown_parameters(self):
        """The public names this model holds that are neither parameters,
        nor set by its constructor, nor fitted attributes (no leading or
        trailing underscore): a newer fastbp's parameters, which this one
        ignores."""
        known = set(self._get_param_names())
        try:
            # What the constructor sets besides its parameters (the
            # classifier's loss) is this class's own too.
            known.update(vars(type(self)()))
        except Exception:  # a subclass whose constructor requires arguments
            pass
        return sorted(name for name in self.__dict__
                      if not name.startswith("_") and not name.endswith("_")
                      and name not in known)

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


# Attributes a fit sets besides ``coefs_``: a model holding one of them is
# no unfitted template (:meth:`BaseMLP._check_loaded_state`).
_FIT_SETS = ("intercepts_", *FittedStateMixin._FILLED_IN, "n_iter_", "t_", "loss_", "classes_",
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

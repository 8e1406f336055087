"""Solver-specific fitting: L-BFGS's and the stochastic solvers' runs of the
trainer, and what each needs around it.

:class:`SolverFitMixin` runs :func:`~fastbp.training.lbfgs.fit_lbfgs` and
:func:`~fastbp.training.stochastic.fit_stochastic` for a fit that
:meth:`~fastbp.estimators.base.BaseMLP._fit` has prepared: penalties and
their advice in divergence messages, L-BFGS's result checks and warnings,
a ``partial_fit`` stream's optimizer, early stopping's validation split and
scorer, and the callback tasks and snapshots of the fit. Separate from
:mod:`~fastbp.estimators.base` because each solver's run is its own, while
base keeps what every fit shares (its transaction and preparation).
"""

import copy
import functools
import inspect
import math
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from ..exceptions import DivergenceError, warn_at_caller
from ..training.compile import spend_compile_waits
from ..training.data import all_finite
from ..training.lbfgs import fit_lbfgs
from ..training.optimizers import StochasticOptimizer, same_schedule
from ..training.predict import Validator
from ..training.progress import Progress
from ..training.split import split_parts
from ..training.stochastic import POISSON_SCALING_ADVICE, fit_stochastic
from . import architecture as arch
from . import callbacks, tiny_fits
from .fit_calls import _keep, _spare_workspaces, _take
from .network import _parameter_attributes

_STOCHASTIC_SOLVERS = ("sgd", "adam", "rmsprop", "adagrad", "adamw")

# scikit-learn's words for it.
_NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may "
                       "contain large values and need to be preprocessed.")


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


class SolverFitMixin:
    """Mixin of :class:`~fastbp.estimators.base.BaseMLP`: running each
    solver's fit, with early stopping's validation and the fit's callbacks."""

    def _penalties(self, weight_exp):
        """``alpha`` and ``l1`` as the kernels take them with weights scaled by
        ``2**weight_exp``: scaled alike, but adamw's decoupled decay, which
        no weight sum divides. inf where the scaled value overflows float64
        (:meth:`_check_scaled_penalties` refuses it before any fit)."""
        alpha = self.alpha if self.solver == "adamw" else _ldexp_or_inf(self.alpha, weight_exp)
        return alpha, _ldexp_or_inf(self.l1, weight_exp)

    def _fit_lbfgs(self, backend, spec, params, inp, y, Y, sample_weight, fresh, hooks_X,
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
        # (A value beyond the dtype unscaled was refused before, naming
        # the value: BaseMLP._fit.)
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
                        incremental, hooks_X, hooks_sw, weight_exp, parts):
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
        waiting = spend_compile_waits(backend, spec, inp.is_sparse, params, running,
                                      batch_size, n_train, clip=self.clip_grad_norm,
                                      solver=self.solver,
                                      warm_split=functools.partial(tiny_fits.warm_twins, self))
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

"""The epoch loop of the stochastic solvers.

Python draws each epoch's sample order, calls one compiled function for the
whole epoch, then applies the stopping rules and records diagnostics.
Nothing here runs per mini-batch.

Two things can end an epoch early, and both leave every piece of state at
the end of the last complete epoch (see :class:`Checkpoint`):

- **Ctrl-C.** Python sees a ``KeyboardInterrupt`` only between compiled
  calls, so an epoch longer than :data:`SLICE_SECONDS` runs as several
  calls over consecutive slices of its sample order (the results do not
  depend on the slicing). The interrupted epoch is undone, the fit ends
  with a warning, and the model is usable; where no epoch of the call
  completed, the interrupt goes on and the caller undoes the whole call.
- **Divergence.** The first epoch whose loss or parameters are not finite
  is undone, and :class:`~fastbp.exceptions.DivergenceError` is raised.
"""

import math
import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..exceptions import DivergenceError, training_begins, warn_at_caller
from ..kernels.codes import NORM_BATCH, OUT_EXP
from ..kernels.records import Solver, Targets
from .data import _sums_finite
from .diagnostics import GradientMonitor
from .predict import fits_rows
from .progress import INTERRUPTED, ProgressMark
from .split import SplitEpoch, WholeEpoch
from .workspace import Workspace

# The longest a compiled call runs before Python can react to Ctrl-C.
SLICE_SECONDS = 0.1
# Assumed speed (multiply-adds per second) before a fit has measured one:
# low, so that a first slice cannot run long.
_ASSUMED_MACS_PER_SECOND = 2e8


class Checkpoint:
    """Training state at the start of an epoch, to return to.

    Holds host copies of the parameters, optimizer state, batch-norm
    statistics and dropout generator, and the Python-side counters
    (optimizer step and learning rate, the shuffling generator).
    """

    def __init__(self, backend, arrays, optimizer, random_state):
        self.backend = backend
        self.arrays = arrays
        self.copies = [np.empty(a.shape, dtype=a.dtype) for a in arrays]
        self.optimizer = optimizer
        # None: a generator private to this call, which needs no rewinding
        # (get_state costs 30 us per epoch).
        self.random_state = random_state

    def take(self):
        fetch = self.backend.fetch
        for src, copy in zip(self.arrays, self.copies):
            if copy.size:  # no batch-norm statistics: nothing to keep
                fetch(src, copy)
        self.t = self.optimizer.t
        self.learning_rate = self.optimizer.learning_rate
        self.rng_state = self.optimizer.rng_state
        if self.random_state is not None:
            self.shuffle_state = self.random_state.get_state()

    def restore(self):
        for dst, copy in zip(self.arrays, self.copies):
            self.backend.load(dst, copy)
        self.optimizer.t = self.t
        self.optimizer.learning_rate = self.learning_rate
        self.optimizer.rng_state = self.rng_state
        if self.random_state is not None:
            self.random_state.set_state(self.shuffle_state)


def rows_that_train(sw, rows, batch_size):
    """How many of ``rows`` lie in mini-batches of ``batch_size`` whose
    weights ``sw`` are not all 0.

    The kernels skip a batch whose weights sum to 0 (it has no gradient):
    its rows take no part in the epoch's loss either.
    """
    starts = np.arange(0, rows.shape[0], batch_size)
    trains = np.logical_or.reduceat(sw[rows] > 0, starts)
    sizes = np.diff(np.append(starts, rows.shape[0]))
    return int(sizes[trains].sum())


#: The advice to rescale the data where the output is exp (loss='poisson'):
#: standardised targets would be negative, which that loss refuses
#: (helper-151).
POISSON_SCALING_ADVICE = (
    "standardise X (for example with sklearn.preprocessing.StandardScaler) and divide y "
    "by a positive constant, not standardise it, as loss='poisson' needs y >= 0 (for "
    "example with sklearn.compose.TransformedTargetRegressor and a "
    "sklearn.preprocessing.MaxAbsScaler)")


def _divergence_message(epoch, what, previous, learning_rate, optimizer, clip,
                        early_stopping, trained_before=0, exp_output=False,
                        state_overflow=False):
    """The message of a :class:`DivergenceError` at ``epoch`` of the call,
    whose learning rate was ``learning_rate``: ``optimizer``'s, restored to
    the last finite epoch, is that epoch's. ``exp_output``: the model's
    output is exp (loss='poisson'). ``state_overflow``: the cause is the
    optimizer state's overflow, with finite loss and weights."""
    # Epochs are counted within the call; in a partial_fit stream or a warm
    # fit, where loss_curve_, history_ and the schedules count on from the
    # epochs ``trained_before``, that count is given too (helper-132: the
    # epoch named was another epoch of history_, at another rate).
    of_call, where = "", f"epoch {epoch}"
    if trained_before:
        of_call = " of this call"
        where = (f"epoch {epoch} of this call (epoch {trained_before + epoch} of the "
                 "model's training, as loss_curve_ counts them)")
    # The estimator's call rolls the model back and hands the last finite
    # epoch over with the error (BaseMLP._hand_over_last_finite).
    if epoch > 1:
        best = (" (with early_stopping=True, the weights of the best validation score)"
                if early_stopping else "")
        undone = (f"the model is as it was before this call; the state of epoch "
                  f"{epoch - 1}{of_call}, the last finite one{best}, is in this "
                  "exception's last_finite_model")
    else:
        undone = "the model is as it was before this call (no epoch of it was finite)"
    before = ("" if previous is None
              else f" (the loss was {previous:.6g} after the epoch before)")
    lr0, schedule = optimizer.learning_rate_init, optimizer.lr_schedule
    rate = f"The learning rate of that epoch was {learning_rate:g}"
    advice = []
    # A schedule that raised the rate (a gamma above 1, a callable) is the
    # likelier cause than learning_rate_init, which it multiplies.
    if learning_rate > lr0 and callable(schedule):
        rate += (f", which the learning_rate callable raised above learning_rate_init "
                 f"({lr0:g})")
        advice.append("have the learning_rate callable return lower rates")
    elif learning_rate > lr0 and schedule in ("step", "exponential"):
        rate += (f", which learning_rate={schedule!r} with "
                 f"gamma={float(optimizer.gamma):g} raised above learning_rate_init ({lr0:g})")
        advice.append("lower gamma (below 1 to decay the rate)")
    scaling = (POISSON_SCALING_ADVICE if exp_output else
               "standardise X, and y for a regressor (for example with "
               "sklearn.preprocessing.StandardScaler)")
    if state_overflow:
        # Adam's second moment averages g^2, whatever the rate: with
        # learning_rate_init=1e-10 it overflowed alike (rev-259), so the
        # rate's advice (the schedule's too) would send the user in circles.
        clipping = (f"lower clip_grad_norm (now {float(clip):g})" if clip
                    else "set clip_grad_norm (for example 1.0)")
        return (f"Training diverged at {where}: {what}{before}. "
                f"{rate}. Training stopped there, and {undone}. "
                f"To fix it, {scaling}, or {clipping}: the optimizer state holds "
                "squared gradients, which the learning rate does not scale, so a lower "
                "learning_rate_init would overflow it alike.")
    advice.append(f"lower learning_rate_init (now {lr0:g})")
    if not clip:
        advice.append("set clip_grad_norm (for example 1.0)")
    advice.append(scaling)
    return (f"Training diverged at {where}: {what}{before}. "
            f"{rate}. Training stopped there, and {undone}. "
            f"To fix it, {', '.join(advice[:-1])} or {advice[-1]}.")


def fit_stochastic(backend, spec, params, running, inp, Y, sw, optimizer, progress, *,
                   alpha, l1, clip, batch_size, shuffle, max_iter, tol, n_iter_no_change,
                   random_state, incremental, parts, train_rows=None, validator=None,
                   verbose=False, rewind_random_state=True, on_epoch_end=None,
                   tasks=None, spare=None):
    """Train ``params`` (and ``running``) in place with a stochastic solver.

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
        Where the kernels run (``training.backend.get_backend``). On the
        GPU, the data, parameters, optimizer state and work buffers are
        copied to the device once per call, and back at the end.
    spec : NetworkSpec
    params : ndarray of shape (n_params,)
        Flat parameters, updated in place.
    running : ndarray of shape (n_running,)
        Batch-norm running statistics, updated in place.
    inp : KernelInput
        The whole input ``X``, shape (n_samples, n_features).
    Y : ndarray of shape (n_samples, n_outputs)
        Targets in ``params.dtype``.
    sw : ndarray of shape (n_samples,) or None
    optimizer : StochasticOptimizer
    progress : Progress
        Updated in place.
    alpha, l1 : float
        Penalties (``alpha`` is the decoupled decay for adamw).
    clip : float or None
        Maximum global gradient norm per step.
    batch_size, max_iter : int
    tol : float
    n_iter_no_change : int or float
    shuffle : bool
    random_state : numpy.random.RandomState
        Draws the epoch orders, as scikit-learn's ``shuffle`` does.
    incremental : bool
        Run a single epoch (``partial_fit``).
    parts : int
        The threads each step is split between, as the caller decided it
        once for the compile ahead and the fit
        (``fastbp.estimators.solvers.fit_split_parts``, from
        :func:`fastbp.training.split.split_parts`).
    train_rows : ndarray of int64, optional
        The rows of ``X`` to train on (the rest is the validation set).
    validator : object, optional
        ``validator.evaluate(params, running, section) -> (score, loss)``,
        whose compiled calls run in ``section()`` (the epoch's); enables
        early stopping.
    verbose : bool
    rewind_random_state : bool
        Whether an undone epoch also rewinds ``random_state`` (needed when
        the caller owns it; a generator private to the call needs not).
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, max_iter, history)`` after each complete
        epoch (the command line's progress lines).
    tasks : FitTasks, optional
        scikit-learn callback tasks (``estimators.callbacks``): one subtask
        per epoch; training stops after an epoch whose ``end`` returns True.
        The caller closes them.
    spare : Workspace, optional
        The workspace this function returned to an earlier call of the same
        model, to reuse where it fits (``Workspace.reuse``).

    Returns
    -------
    workspace : Workspace
        The work buffers this call used, for the next call's ``spare``.
    """
    call = _TrainingCall(backend, spec, params, running, inp, Y, sw, optimizer, progress,
                         alpha=alpha, l1=l1, clip=clip, batch_size=batch_size,
                         shuffle=shuffle, max_iter=max_iter, tol=tol,
                         n_iter_no_change=n_iter_no_change, random_state=random_state,
                         incremental=incremental, parts=parts, train_rows=train_rows,
                         validator=validator, verbose=verbose,
                         rewind_random_state=rewind_random_state,
                         on_epoch_end=on_epoch_end, tasks=tasks, spare=spare)
    return call.run()


def _rows_used(spec, n_train, batch_size):
    """How many of the ``n_train`` training rows an epoch trains on."""
    # Batch norm cannot train on a one-row batch (every unit would be
    # normalised to its shift, and the running variance would shrink): where
    # the epoch's last batch would hold one row, that row sits the epoch
    # out, as PyTorch's drop_last does (a different row each shuffled epoch).
    if spec.norm == NORM_BATCH and n_train > batch_size and n_train % batch_size == 1:
        return n_train - 1
    return n_train


def _has_zero_weight_rows(sw, train_rows, n_train, n_used, batch_size, shuffle):
    """Whether some training rows weigh 0 (then each epoch counts the rows
    that train); refuses weights that leave an epoch nothing to train on.

    Parameters
    ----------
    sw : ndarray of shape (n_samples,) or None
    train_rows : ndarray of int64, optional
    n_train, n_used, batch_size : int
    shuffle : bool

    Returns
    -------
    bool
    """
    # Rows whose weight is 0 can fill a whole mini-batch, which trains
    # nothing: the epoch's loss is the mean over the rows of the batches that
    # trained (scikit-learn divides by zero there). Counted per epoch only
    # where such rows exist.
    has_sw = sw is not None
    train_sw = (sw if train_rows is None else sw[train_rows]) if has_sw else None
    zero_rows = has_sw and not bool(np.all(train_sw))
    if zero_rows and not np.any(train_sw):
        raise ValueError(
            "Every training sample has sample_weight 0 (the samples that weigh are all in "
            "the validation set early stopping split off): nothing to train on. Give "
            "training samples positive weights, or change validation_fraction.")
    if zero_rows and n_used < n_train and np.count_nonzero(train_sw) == 1:
        # Batch norm leaves out the last row (unshuffled) or any row
        # (shuffled): where that can be the only row that weighs, an epoch
        # trains no batch, and would record a loss of 0.0 over 0 rows.
        if not shuffle and train_sw[-1]:
            raise ValueError(
                "Every training sample has sample_weight 0 but the last, which "
                "normalization='batch' leaves out of every epoch (the number of training "
                f"samples, {n_train}, % batch_size={batch_size} is 1, and batch norm cannot "
                "train on a one-row batch): nothing to train on. Choose a batch_size that "
                "leaves no single row over, or give other training samples positive weights.")
        if shuffle:
            raise ValueError(
                "Every training sample has sample_weight 0 but one, and "
                "normalization='batch' leaves a random row out of each shuffled epoch (the "
                f"number of training samples, {n_train}, % batch_size={batch_size} is 1, and "
                "batch norm cannot train on a one-row batch): an epoch that leaves that one "
                "out would have nothing to train on. Choose a batch_size that leaves no "
                "single row over, or give more training samples positive weights.")
    return zero_rows


class _TrainingCall:
    """The state of one :func:`fit_stochastic` call, whose parameters it
    takes: the device records, the epoch loop's counters, and how the
    training ended (a divergence).

    The setup (in ``__init__``) refuses what cannot train before any
    warning is held; :meth:`run` trains and returns the workspace.
    """

    def __init__(self, backend, spec, params, running, inp, Y, sw, optimizer, progress, *,
                 alpha, l1, clip, batch_size, shuffle, max_iter, tol, n_iter_no_change,
                 random_state, incremental, parts, train_rows, validator, verbose,
                 rewind_random_state, on_epoch_end, tasks, spare):
        self.backend, self.spec, self.params, self.running = backend, spec, params, running
        self.inp, self.Y, self.sw = inp, Y, sw
        self.optimizer, self.progress = optimizer, progress
        self.alpha, self.l1, self.clip = alpha, l1, clip
        self.batch_size, self.shuffle, self.max_iter = batch_size, shuffle, max_iter
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.random_state, self.incremental = random_state, incremental
        self.train_rows, self.validator, self.verbose = train_rows, validator, verbose
        self.on_epoch_end, self.tasks = on_epoch_end, tasks
        layout = spec.layout
        self.dtype = dtype = params.dtype
        self.early_stopping = validator is not None
        self.n_train = n_train = inp.n_samples if train_rows is None else len(train_rows)
        self.n_used = n_used = _rows_used(spec, n_train, batch_size)
        self._put_records(parts, spare)
        self.sample_idx = np.arange(n_train, dtype=np.int64)
        self.zero_rows = _has_zero_weight_rows(sw, train_rows, n_train, n_used, batch_size,
                                               shuffle)
        if progress.monitor is None:
            progress.monitor = GradientMonitor(layout.n_layers - 1, dtype)
        self.monitor = progress.monitor
        self.layer_sq = np.zeros(layout.n_layers - 1, dtype=dtype)
        self.hist = progress.history
        if self.early_stopping and progress.best_params is None:
            # scikit-learn restores the initial weights if no epoch improves.
            progress.best_params = params.copy()
            progress.best_running = running.copy()

        solver, work = self.solver, self.work
        self.checkpoint = Checkpoint(backend, [solver.params, solver.state_1, solver.state_2,
                                               work.running, work.rng], optimizer,
                                     random_state if rewind_random_state else None)
        self.n_batches = -(-n_used // batch_size)
        # Each layer's weights in ``params``, for the monitor's weight norms.
        self.weights = layout.weight_slices()
        # Multiply-adds of one mini-batch's forward and backward passes.
        batch_macs = 3 * batch_size * spec.layout.n_params
        self.seconds_per_batch = batch_macs / _ASSUMED_MACS_PER_SECOND
        # (epoch, what, previous loss, learning rate) of a divergence.
        self.diverged = None
        # Whether the divergence is a squared-gradient state's overflow alone.
        self.state_overflow = False
        # Whether an epoch of this call has had a finite validation score: until
        # one has, a validation set it cannot score is refused (see
        # Validator.refuse). A warm start's earlier best score does not count:
        # it was measured on the validation rows of an earlier call, and a call
        # whose own rows are never scored would end on those weights, its
        # training discarded without a word.
        self.scored = False
        # Whether the last complete epoch's stopping-rule step is still to run:
        # it runs after the epoch's end hooks, and a Ctrl-C landing in them
        # keeps that epoch, so its step is taken on the way out.
        self.rule_pending = False

    def _put_records(self, parts, spare):
        """Build the work buffers and put the kernels' records where they
        run, with the runner of an epoch's compiled calls."""
        backend, spec, inp, sw, optimizer = (self.backend, self.spec, self.inp, self.sw,
                                             self.optimizer)
        dtype = self.dtype
        self.ws = ws = Workspace.reuse(spare, spec, self.batch_size, dtype, not inp.is_sparse)
        ws.rng[0] = optimizer.rng_state
        has_sw = sw is not None
        sw_arg = sw if has_sw else np.empty(0, dtype=dtype)
        put = backend.put
        toolkit = spec.uses_toolkit(inp.is_sparse, self.clip, optimizer.code)
        kernels = backend.network(toolkit, spec.out_code)
        inputs = put(inp.inputs())
        targets = put(Targets(self.Y, sw_arg, has_sw))
        tables = put(ws.tables(spec.layout.norm))
        self.work = work = put(ws.work(self.running))
        self.solver = solver = put(Solver(self.params, optimizer.state_1, optimizer.state_2))
        records = (inputs, targets, tables, work, solver)
        if parts > 1:
            self.epoch = SplitEpoch(kernels, records, parts)
        else:
            self.epoch = WholeEpoch(kernels, records, backend)

    def stopping_rule(self):
        """The no-improvement rule's step at an epoch's end: whether it
        stops the training (else, past ``n_iter_no_change``, adaptive SGD's
        learning rate is divided and the count starts again)."""
        progress, n_iter_no_change, tol = self.progress, self.n_iter_no_change, self.tol
        if progress.no_improvement_count <= n_iter_no_change:
            return False
        if self.early_stopping:
            msg = ("Validation score did not improve more than "
                   "tol=%f for %d consecutive epochs." % (tol, n_iter_no_change))
        else:
            msg = ("Training loss did not improve more than tol=%f"
                   " for %d consecutive epochs." % (tol, n_iter_no_change))
        if self.optimizer.trigger_stopping(msg, self.verbose):
            return True
        progress.no_improvement_count = 0
        return False

    def run(self):
        """Train, leave the host arrays as the training ended, and raise
        :class:`~fastbp.exceptions.DivergenceError` where it diverged.

        Returns
        -------
        workspace : Workspace
        """
        progress = self.progress
        # From here the warnings describe the training (see held_until_committed).
        training_begins()
        try:
            self._epochs()
        except KeyboardInterrupt:
            if progress.n_iter == 0 or self.incremental:
                # No epoch of this call completed, so it has nothing to keep: the
                # caller rolls the call back and the interrupt goes on, as
                # L-BFGS's before its first loss evaluation. Ctrl-C then stops a
                # loop of partial_fit calls (an epoch each: also where it lands
                # in the epoch's end hooks, after the epoch completed), and an
                # interrupted first call leaves no initialised, untrained model
                # whose next call would skip the initial draws (and train
                # another model).
                raise
            self._keep_interrupted()
        finally:
            self._fetch_back()

        if self.early_stopping and progress.best_params is not None:
            self.params[:] = progress.best_params
            self.running[:] = progress.best_running
        if self.diverged is not None:
            self._raise_divergence()
        return self.ws

    def _epochs(self):
        """The epoch loop: up to ``max_iter`` epochs, one for ``incremental``."""
        progress, optimizer, checkpoint = self.progress, self.optimizer, self.checkpoint
        max_iter = self.max_iter
        progress.n_iter = 0
        for _ in range(max_iter):
            start_time = time.perf_counter()
            checkpoint.take()
            mark = ProgressMark(progress, optimizer)
            try:
                self._train_epoch(mark, start_time)
            except KeyboardInterrupt:
                # Undo the unfinished epoch: weights, optimizer, counters and
                # history all describe the end of the last complete one.
                checkpoint.restore()
                mark.restore()
                raise
            if self.diverged is not None:
                break
            if self._end_epoch():
                break

            if self.incremental:
                break
            if progress.n_iter == max_iter:
                warn_at_caller(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % max_iter, ConvergenceWarning)

    def _epoch_rows(self):
        """The rows of ``X`` the epoch trains on, in its order."""
        if self.shuffle:
            # In place: the same order as scikit-learn's
            # ``sample_idx[shuffled arange]`` (the same swaps), without
            # the arange and the gather.
            self.random_state.shuffle(self.sample_idx)
        sample_idx, train_rows = self.sample_idx, self.train_rows
        rows = sample_idx if train_rows is None else train_rows[sample_idx]
        if self.n_used < self.n_train:
            rows = rows[:self.n_used]
        return rows

    def _train_epoch(self, mark, start_time):
        """Train one epoch and record it; where its loss, its parameters or
        its validation are not finite, undo it and set ``diverged``."""
        backend, optimizer, progress, ws = self.backend, self.optimizer, self.progress, self.ws
        work = self.work
        if self.tasks is not None:
            self.tasks.begin(self.params, self.running)
        optimizer.epoch_starts()
        rows = self._epoch_rows()
        self.layer_sq[:] = 0
        ws.alive[:] = 0
        backend.load(work.alive, ws.alive)
        t_before = optimizer.t
        loss_sum = self._run_slices(rows)
        n_loss = (rows_that_train(self.sw, rows, self.batch_size) if self.zero_rows
                  else self.n_used)
        self._fetch_epoch()
        finite, weight_norms = self._finite_and_weight_norms(loss_sum)
        if not finite:
            self._diverged_in_training(loss_sum / max(n_loss, 1))
            return
        optimizer.rng_state = ws.rng[0]
        progress.n_iter += 1
        progress.loss = loss_sum / max(n_loss, 1)
        progress.t += self.n_used
        progress.loss_curve.append(progress.loss)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (progress.n_iter, progress.loss))
        self._record_diagnostics(t_before, weight_norms)
        val_score = self._validate(mark)
        if self.diverged is not None:
            return
        progress.update_no_improvement(self.early_stopping, self.tol, val_score, self.params,
                                       self.running, self.verbose)
        optimizer.iteration_ends(progress.t)
        self.hist["epoch_time"].append(time.perf_counter() - start_time)

    def _run_slices(self, rows):
        """Run the epoch's compiled calls over ``rows``; returns its loss sum."""
        optimizer, epoch, batch_size = self.optimizer, self.epoch, self.batch_size
        n_batches = self.n_batches
        hyper = self.spec.hyper(self.dtype, optimizer, alpha=self.alpha, l1=self.l1,
                                clip=self.clip)
        epoch.begin()
        done = 0
        while done < n_batches:
            # Slices of whole mini-batches, each at most SLICE_SECONDS
            # long by the speed measured so far.
            take = min(n_batches - done,
                       max(1, int(SLICE_SECONDS / max(self.seconds_per_batch, 1e-9))))
            tic = time.perf_counter()
            optimizer.t = epoch.run(
                hyper, rows[done * batch_size:(done + take) * batch_size],
                batch_size, optimizer.t, self.layer_sq, self.progress.monitor.first_sq)
            self.seconds_per_batch = (time.perf_counter() - tic) / take
            done += take
        return epoch.loss_sum

    def _fetch_epoch(self):
        """Copy to the host what the rest of the epoch reads."""
        backend, work, solver, ws, optimizer = (self.backend, self.work, self.solver,
                                                self.ws, self.optimizer)
        # What the rest of the epoch reads on the host (on the CPU these
        # are the kernels' own arrays, and nothing is copied).
        backend.fetch(solver.params, self.params)
        backend.fetch(work.alive, ws.alive)
        self.epoch.end(self.layer_sq, ws.alive)
        backend.fetch(work.rng, ws.rng)
        backend.fetch(work.running, self.running)
        backend.fetch(solver.state_1, optimizer.state_1)
        backend.fetch(solver.state_2, optimizer.state_2)

    def _finite_and_weight_norms(self, loss_sum):
        """Whether the epoch's loss sum and state are finite, and (where
        they are) each layer's weight norm."""
        params, optimizer = self.params, self.optimizer
        # An optimizer state that overflows (Adam's second moment)
        # freezes its weights silently: divergence too.
        # One errstate for the epoch's checks and weight norms (see
        # data.all_finite); a norm is inf where its square overflows the
        # dtype (above 1.8e19 in float32), as np.linalg.norm gives,
        # without NumPy's overflow warning (an error under -W error).
        # The Frobenius norms without np.linalg.norm's views.
        with np.errstate(over="ignore", invalid="ignore"):
            finite = math.isfinite(loss_sum) and _sums_finite(
                (params, self.running, optimizer.state_1, optimizer.state_2))
            weight_norms = [math.sqrt(np.dot(params[w], params[w]))
                            for w in self.weights] if finite else None
        return finite, weight_norms

    def _diverged_in_training(self, loss):
        """Undo the epoch whose training ``loss`` or state is not finite,
        and say what diverged."""
        optimizer = self.optimizer
        if not math.isfinite(loss):
            what = f"the training loss became {loss}"
        elif not np.isfinite(self.params).all():
            what = f"the weights became non-finite (training loss {loss:.6g})"
        elif not np.isfinite(self.running).all():
            # The batch statistics are summed in float64; storing a
            # variance of X's squared scale can overflow float32.
            what = (f"the batch-norm running statistics overflowed {self.dtype} "
                    f"(training loss {loss:.6g})")
        else:
            what = (f"the optimizer state overflowed (training loss {loss:.6g}), "
                    "which would freeze the weights")
            # (sgd's velocity scales with the rate, and overflows
            # the weights with it: the rate's advice stands there.)
            self.state_overflow = optimizer.solver != "sgd"
        self.diverged = (self.progress.n_iter + 1, what, self.progress.loss,
                         optimizer.learning_rate)
        self.checkpoint.restore()

    def _record_diagnostics(self, t_before, weight_norms):
        """The epoch's history entries and the monitor's checks."""
        optimizer, progress, hist = self.optimizer, self.progress, self.hist
        # In Python floats: the float64 values NumPy's astype, divide
        # and sqrt give, without three arrays for a few layers.
        steps = max(optimizer.t - t_before, 1)
        grad_norms = [math.sqrt(v / steps) for v in self.layer_sq.tolist()]
        dead_fraction = self.ws.dead_fraction()
        hist["loss"].append(progress.loss)
        hist["learning_rate"].append(optimizer.learning_rate)
        hist["grad_norm"].append(grad_norms)
        hist["dead_fraction"].append(dead_fraction)
        self.monitor.check(grad_norms, weight_norms, len(progress.loss_curve),
                           dead_fraction=dead_fraction, clip=self.clip)

    def _validate(self, mark):
        """Score the epoch on the validation set (with early stopping) and
        record the score; returns it (None without early stopping). Where
        the weights give non-finite outputs, undoes the epoch and sets
        ``diverged``."""
        progress, hist, validator = self.progress, self.hist, self.validator
        params, running = self.params, self.running
        val_score = None
        if self.early_stopping:
            val_score, val_loss = validator.evaluate(params, running, self.epoch.section)
            if not math.isfinite(val_loss):
                # helper-155: a NaN or -inf score is never an
                # improvement, and the fit ended on its starting
                # weights without a word. Rows of the validation set
                # out of range (the training rows' loss is finite)
                # fail the call (a ValueError: rolled back) while no
                # epoch of it has had a finite score; after one has,
                # the epoch is a non-improvement (a NaN score) and
                # the best finite epoch is kept (helper-169). Weights
                # that diverged fail as a training loss that does.
                if not fits_rows(self.backend, self.spec, params, running, self.inp, self.Y,
                                 self.sw, self.train_rows):
                    what = ("the weights it ended on give non-finite outputs or "
                            "loss on the training rows as on the validation set "
                            f"(training loss {progress.loss:.6g} during the epoch)")
                    self.checkpoint.restore()
                    # (The call fails: a GradientWarning of this
                    # epoch may explain why, as the error's note.)
                    mark.restore(drop_warnings=False)
                    self.diverged = (progress.n_iter + 1, what, progress.loss,
                                     self.optimizer.learning_rate)
                    return None
                if not self.scored:
                    validator.refuse(val_loss, progress.n_iter)
                val_score = math.nan
            elif math.isfinite(val_score):
                self.scored = True
            hist["val_score"].append(val_score)
            hist["val_loss"].append(val_loss)
        elif len(hist["val_score"]):
            # A warm start that turned early stopping off: the
            # validation entries go on, NaN, one per epoch.
            hist["val_score"].append(math.nan)
            hist["val_loss"].append(math.nan)
        return val_score

    def _end_epoch(self):
        """The complete epoch's end hooks and stopping-rule step; returns
        whether training stops there."""
        # The epoch is complete: what the hooks report is never undone.
        self.rule_pending = True
        if self.on_epoch_end is not None:
            self.on_epoch_end(self.progress.n_iter, self.max_iter, self.hist)
        stop_requested = self.tasks is not None and self.tasks.end(self.params, self.running)
        self.rule_pending = False
        # The rule's step is part of the epoch's end whether training
        # then runs on, is interrupted (above) or stops at a callback's
        # request: skipped there, adaptive SGD's rate never decayed in
        # partial_fit calls whose callback asks to stop.
        return self.stopping_rule() or stop_requested

    def _keep_interrupted(self):
        """End a fit interrupted after complete epochs, which it keeps,
        with a warning."""
        if self.rule_pending:
            # The interrupt landed in the end hooks of an epoch that is
            # kept: its stopping-rule step (adaptive SGD's learning
            # rate, the no-improvement count) is part of that epoch's end,
            # so that a following partial_fit goes on as uninterrupted
            # training would.
            self.stopping_rule()
        kept = "the model keeps the state at the end of the last one"
        if self.early_stopping and self.progress.best_params is not None:
            kept += (", except its weights and batch-norm statistics: with "
                     "early_stopping=True, those of the best validation score")
        warn_at_caller(f"{INTERRUPTED} after {self.progress.n_iter} complete epoch(s); {kept}.",
                       UserWarning)

    def _fetch_back(self):
        """Close the epoch runner and copy the training state to the host."""
        backend, work, solver, optimizer = self.backend, self.work, self.solver, self.optimizer
        self.epoch.close()
        # The optimizer state and running statistics continue in the next
        # partial_fit or warm start.
        backend.fetch(solver.params, self.params)
        backend.fetch(solver.state_1, optimizer.state_1)
        backend.fetch(solver.state_2, optimizer.state_2)
        backend.fetch(work.running, self.running)
        backend.fetch(work.rng, self.ws.rng)
        optimizer.rng_state = self.ws.rng[0]

    def _raise_divergence(self):
        """Raise the :class:`~fastbp.exceptions.DivergenceError` of ``diverged``."""
        epoch, what, previous, learning_rate = self.diverged
        progress = self.progress
        trained_before = len(progress.loss_curve) - progress.n_iter
        raise DivergenceError(_divergence_message(epoch, what, previous, learning_rate,
                                                  self.optimizer, self.clip,
                                                  self.early_stopping, trained_before,
                                                  self.spec.out_code == OUT_EXP,
                                                  self.state_overflow),
                              epoch=epoch)

"""What the epoch loop records: losses, scores, diagnostics, best parameters."""


import math

import numpy as np

from ..exceptions import held_warnings

#: How the warning of a fit stopped by Ctrl-C begins, whichever solver ran
#: (the fit keeps its model; the CLI and :func:`fastbp.warmup` read it).
INTERRUPTED = "Training interrupted by user"

HISTORY_KEYS = ("loss", "val_loss", "val_score", "learning_rate", "epoch_time",
                "grad_norm", "dead_fraction")


class Series:
    """An append-only record of per-epoch values, as a growing array.

    ``history_`` hands out views of it and a copy shares its storage, so
    that neither costs more with every epoch recorded (rebuilding every
    array at each call made a long run of ``partial_fit`` calls quadratic:
    0.5 ms a call after 2,000 calls). Storage is shared until two owners
    diverge: whoever appends where the storage already holds another
    owner's value first takes a storage of its own.
    """

    __slots__ = ("_store", "_n")

    def __init__(self):
        # [buffer (capacity, *row_shape) float64 or None, rows written to it]
        self._store = [None, 0]
        self._n = 0

    def __len__(self):
        return self._n

    def __eq__(self, other):
        if not isinstance(other, Series):
            return NotImplemented
        a, b = self.view(), other.view()
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))

    __hash__ = None

    def __getitem__(self, index):
        return self.view()[index]

    def append(self, value):
        n = self._n
        buf, used = self._store
        if buf is None or used != n or n == buf.shape[0]:
            value = np.asarray(value, dtype=float)
            new = np.empty((max(16, 2 * n), *value.shape))
            if n:
                new[:n] = buf[:n]
            self._store = [new, n]
            buf = new
        # The assignment converts to float64 (None to NaN), as np.asarray
        # would, without building an array for every scalar.
        buf[n] = value
        self._n = n + 1
        self._store[1] = n + 1

    def truncate(self, n):
        """Forget the values after the first ``n``."""
        self._n = min(self._n, n)

    def copy(self):
        """A record that grows apart from this one (the storage is shared
        until then)."""
        new = Series()
        new._store, new._n = self._store, self._n
        return new

    @classmethod
    def of(cls, values):
        """A record holding ``values`` (a sequence of numbers or rows)."""
        series = cls()
        for value in values:
            series.append(value)
        return series

    # Saved (pickle, skops) as its values alone, never the shared storage.
    def __getstate__(self):
        return {"values": self.view().copy()}

    def __setstate__(self, state):
        # A state from a file (skops) may have been edited: refused here
        # with what is wrong, rather than a KeyError or a TypeError.
        values = state.get("values") if isinstance(state, dict) else None
        if isinstance(values, (list, tuple)):
            try:
                values = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                values = None
        if not (isinstance(values, np.ndarray) and values.dtype.kind in "biuf"
                and values.ndim in (1, 2)):
            held = (f"values {type(values).__name__}" if isinstance(state, dict)
                    and "values" in state else f"a {type(state).__name__} without values")
            if isinstance(values, np.ndarray):
                held = f"values of dtype {values.dtype} and shape {values.shape}"
            raise ValueError(f"a training record (Series) holds {held}, where it needs a "
                             "1- or 2-dimensional array of numbers")
        self._store = [None, 0]
        self._n = 0
        for value in values:
            self.append(value)

    def view(self):
        """The values as a read-only array: (n,) or (n, row size)."""
        buf = self._store[0]
        out = np.empty(0) if buf is None else buf[:self._n]
        out.flags.writeable = False
        return out


class Progress:
    """Training history and stopping-rule state, kept across ``partial_fit``.

    Attributes mirror scikit-learn's fitted attributes: ``loss_curve``,
    ``loss``, ``best_loss``, ``validation_scores``, ``best_validation_score``,
    ``no_improvement_count``, ``t`` (samples seen) and ``n_iter``;
    ``best_params``/``best_running`` hold copies of the flat parameters and
    batch-norm statistics with the best validation score (early stopping);
    ``history`` holds per-epoch records (see ``HISTORY_KEYS``).
    """

    def __init__(self, early_stopping):
        self.loss_curve = []
        self.loss = None
        self.no_improvement_count = 0
        self.t = 0
        self.n_iter = 0
        self.best_params = None
        self.best_running = None
        self.history = {key: Series() for key in HISTORY_KEYS}
        # Gradient monitor, kept across partial_fit calls (set by the loop).
        self.monitor = None
        if early_stopping:
            self.validation_scores = []
            self.best_validation_score = -np.inf
            self.best_loss = None
        else:
            self.validation_scores = None
            self.best_validation_score = None
            self.best_loss = np.inf

    def __setstate__(self, state):
        # A state from a file (skops) may have been edited: refused here
        # with what is wrong, rather than an AttributeError or a TypeError.
        if not isinstance(state, dict):
            raise ValueError(f"the training record (Progress) holds a "
                             f"{type(state).__name__}, not its attributes")
        # (A copy of ``state``: copy.copy passes the original's own dict.)
        state = dict(state)
        # Models saved before the history became Series hold lists.
        history = state.get("history", {})
        if not isinstance(history, dict):
            raise ValueError(f"the training record's history is a {type(history).__name__}, "
                             "not a dict of records")
        converted = {}
        for key, values in history.items():
            if isinstance(values, Series):
                converted[key] = values
                continue
            try:
                converted[key] = Series.of(values)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"the training record's history {key!r} is not a sequence "
                                 f"of numbers ({exc})") from exc
        state["history"] = converted
        self.__dict__.update(state)

    def update_no_improvement(self, early_stopping, tol, val_score, params, running,
                              verbose):
        """scikit-learn's ``_update_no_improvement_count``."""
        if early_stopping:
            self.validation_scores.append(val_score)
            if verbose:
                print("Validation score: %f" % val_score)
            # A NaN score (diverged outputs) is no improvement.
            if not val_score >= self.best_validation_score + tol:
                self.no_improvement_count += 1
            else:
                self.no_improvement_count = 0
            if val_score > self.best_validation_score:
                self.best_validation_score = val_score
                self.best_params = params.copy()
                self.best_running = running.copy()
        else:
            if self.loss_curve[-1] > self.best_loss - tol:
                self.no_improvement_count += 1
            else:
                self.no_improvement_count = 0
            if self.loss_curve[-1] < self.best_loss:
                self.best_loss = self.loss_curve[-1]

    def for_mode(self, early_stopping, scoring=None):
        """This record, converted if ``early_stopping`` changed since it was
        made (a warm start with the other mode): the loss curve, history and
        sample count carry over; the stopping state starts afresh.

        ``scoring`` names the validation score (``None``, a scorer's name,
        a function's qualified name or a repr: see
        ``fastbp.estimators.solvers._scoring_name``). Where it differs from the one this record's best score was
        measured with, the best score, its weights and the no-improvement
        count start afresh too (updated in place): an accuracy is no bar for
        a loss. A record saved before it kept the name is taken as measured
        with ``scoring``.
        """
        if (self.validation_scores is not None) == bool(early_stopping):
            if early_stopping and self.__dict__.get("scoring", scoring) != scoring:
                self.best_validation_score = -np.inf
                self.best_params = self.best_running = None
                self.no_improvement_count = 0
            self.scoring = scoring
            return self
        new = Progress(early_stopping)
        new.scoring = scoring
        new.loss_curve, new.history, new.t = self.loss_curve, self.history, self.t
        new.monitor = self.monitor
        if early_stopping:
            # The epochs trained without validation have none: NaN, so that
            # every history_ entry keeps one value per epoch.
            for key in ("val_loss", "val_score"):
                for _ in range(len(self.history["loss"]) - len(self.history[key])):
                    self.history[key].append(math.nan)
        return new

    def copy(self):
        """A copy for the next call to train, at a cost that does not grow
        with the epochs recorded.

        Its history records grow apart from this one's (see :class:`Series`).
        The loss curve and validation scores stay the same lists, appended
        in place as scikit-learn's ``loss_curve_`` is: a call that fails
        puts them back with :meth:`truncate` (copying them made every
        ``partial_fit`` call cost more than the one before).
        """
        # A shallow copy without copy.copy's reduce protocol, which would
        # also run __setstate__'s conversion of old pickles.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.history = {key: values.copy() for key, values in self.history.items()}
        new.monitor = None if self.monitor is None else self.monitor.copy()
        return new

    def detached(self):
        """A copy that shares nothing this record goes on to change: what a
        callback's ``fitted_estimator`` keeps while training goes on."""
        new = self.copy()
        new.loss_curve = list(self.loss_curve)
        if self.validation_scores is not None:
            new.validation_scores = list(self.validation_scores)
        return new

    def lengths(self):
        """How long the loss curve and validation scores are, for
        :meth:`truncate`."""
        return (len(self.loss_curve),
                None if self.validation_scores is None else len(self.validation_scores))

    def truncate(self, lengths):
        """Drop what was appended to the loss curve and validation scores
        since :meth:`lengths` returned ``lengths``."""
        n_curve, n_scores = lengths
        del self.loss_curve[n_curve:]
        if n_scores is not None and self.validation_scores is not None:
            del self.validation_scores[n_scores:]

    def history_arrays(self):
        """``history_`` as a dict of read-only arrays (``grad_norm``:
        (n_epochs, n_layers)), views of the records."""
        return {key: values.view() for key, values in self.history.items()
                if values or key not in ("val_loss", "val_score")}


class ProgressMark:
    """Where a :class:`Progress` and its optimizer stood at an epoch's
    start, so that an interrupted epoch can be undone in full.

    Recorded values are only ever appended, so list lengths suffice.
    """

    _SCALARS = ("loss", "no_improvement_count", "t", "n_iter", "best_params",
                "best_running", "best_validation_score", "best_loss")

    def __init__(self, progress, optimizer):
        self.progress = progress
        # The whole (shallow) attribute dict: one copy, cheaper than picking
        # the scalars out one by one, after every epoch.
        self.scalars = progress.__dict__.copy()
        self.lengths = [(values, values._n) for values in progress.history.values()]
        self.n_curve = len(progress.loss_curve)
        self.n_scores = (None if progress.validation_scores is None
                         else len(progress.validation_scores))
        self.monitor = None if progress.monitor is None else progress.monitor.state()
        self.optimizer = optimizer
        self.epoch = optimizer.epoch
        self.held = held_warnings()
        self.n_held = 0 if self.held is None else len(self.held)

    def restore(self, drop_warnings=True):
        """Put the record, the gradient monitor and the optimizer's epoch
        back as they stood at the epoch's start.

        Parameters
        ----------
        drop_warnings : bool, default=True
            Forget the warnings the epoch gave that the fit call holds (a
            GradientWarning): they describe an epoch the model does not
            have, and the monitor, put back, gives them again where the
            condition holds in an epoch that is kept. False where the call
            fails anyway, whose error the warnings may explain (see
            :func:`fastbp.exceptions.issue_held`).
        """
        p = self.progress
        for name in self._SCALARS:
            setattr(p, name, self.scalars[name])
        for values, n in self.lengths:
            values.truncate(n)
        del p.loss_curve[self.n_curve:]
        if self.n_scores is not None:
            del p.validation_scores[self.n_scores:]
        if self.monitor is not None:
            p.monitor.restore(self.monitor)
        self.optimizer.epoch = self.epoch
        if drop_warnings and self.held is not None:
            del self.held[self.n_held:]

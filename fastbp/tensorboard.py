"""A scikit-learn callback that writes training curves for TensorBoard.

``MLPClassifier().set_callbacks(TensorBoardCallback("runs/digits"))`` writes,
per epoch, the training loss, the validation loss and score when early
stopping records them, the learning rate and each layer's gradient norm as
TensorBoard scalars, as Keras's and skorch's TensorBoard callbacks do. It
needs tensorboardX (numpy, packaging and protobuf; no TensorFlow or
PyTorch): ``pip install "fastbp[tensorboard]"``, imported when a fit starts.
Requires scikit-learn 1.9's callback API.
"""

import errno
import itertools
import os
import struct
import tempfile
import threading
import time
import weakref

from .estimators import callbacks as _callbacks
from .exceptions import warn_at_caller
from .files import file_in_the_way, path_argument
from .history import epochs_before
from .warmup import _check_flag

# The callback alone: the event-file writer and the modules above are how
# it works, not what a star import should bring in.
__all__ = ["TensorBoardCallback"]

#: Numbers the event files this process opens: two files opened within
#: the same second would otherwise share a name (TensorBoard's names hold
#: the second and the host), and the second would truncate the first.
_file_numbers = itertools.count(1)

#: What each loss tag holds, said once per run (TensorBoard shows it under
#: the chart's information icon): the two losses differ by the penalties.
_DESCRIPTIONS = {
    "epoch/loss": ("Training loss of each epoch, with the penalties (alpha's L2 and l1, "
                   "though not adamw's decoupled weight decay), as scikit-learn's "
                   "loss_curve_: history_['loss']."),
    "epoch/val_loss": ("Validation loss of each epoch (early_stopping=True), of the data "
                       "alone: without the penalties that epoch/loss includes. "
                       "history_['val_loss']."),
}


class _EventFile:
    """A TensorBoard event file written synchronously: each scalar is in
    the file's buffer when ``add_scalar`` returns, and on disk after
    ``flush`` (tensorboardX's ``SummaryWriter`` queues events to a thread
    of its own, and its ``flush`` does not wait for the queue)."""

    def __init__(self, run_dir):
        import socket

        from tensorboardX.proto import event_pb2

        self._event_pb2 = event_pb2
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}"
                f".{os.getpid()}.{next(_file_numbers):08d}")
        self.path = os.path.join(run_dir, name)
        self._described = set()
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed at each call's end
        stat = os.fstat(self._file.fileno())
        # Which file the run wrote: one put at its path since (the
        # directory deleted and made again) is not this run's.
        self._identity = (stat.st_dev, stat.st_ino)
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event):
        from tensorboardX.record_writer import masked_crc32c

        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        self._file.write(header + struct.pack("<I", masked_crc32c(header)) + data
                         + struct.pack("<I", masked_crc32c(data)))

    def add_scalar(self, tag, value, step):
        from tensorboardX.summary import scalar

        description = ""
        if tag in _DESCRIPTIONS and tag not in self._described:
            # TensorBoard reads a tag's description from its first event.
            self._described.add(tag)
            description = _DESCRIPTIONS[tag]
        self._write(self._event_pb2.Event(wall_time=time.time(), step=step,
                                          summary=scalar(tag, value,
                                                         summary_description=description)))

    def unlinked(self):
        """Whether the file is gone from its run directory (deleted, or
        moved away with it): what is written to it then is lost."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return True
        return (stat.st_dev, stat.st_ino) != self._identity

    def reopen(self):
        """Open the file again, closed since the call that wrote it ended,
        to append the epochs of a call that goes on with its run: its
        records are self-framed, so the run stays one file.

        Raises
        ------
        FileNotFoundError
            The file is gone: it is not made again, without its header.
        """
        if not self._file.closed:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
        self._file = os.fdopen(fd, "ab")

    def flush(self):
        self._file.flush()

    def close(self):
        self._file.close()


def _close_quietly(writer):
    # Run at garbage collection or at exit, where an error (a full disk)
    # has no caller to go to: Python would print its traceback over a
    # program that had handled everything it was given.
    try:
        writer.close()
    except OSError:
        pass


def _reraised(exc, message):
    """``exc`` (an OSError) again, its message starting with ``message``:
    of its own type, with its errno and file name, so that ``except
    PermissionError`` still catches it."""
    if exc.errno is None:
        return type(exc)(f"{message}: {exc}")
    return type(exc)(exc.errno, f"{message}: {exc.strerror}", exc.filename)


def _explained(exc, message, log_dir):
    """``exc``, an OSError from making or writing in ``log_dir``, again
    with ``message`` first: a file in the way is named as one (makedirs
    says "File exists" when it is ``log_dir`` itself, and "Not a directory"
    when it is a parent)."""
    blocking = file_in_the_way(log_dir)
    if blocking is None:
        return _reraised(exc, message)
    what = "log_dir" if blocking == (log_dir.rstrip(os.sep) or log_dir) else "log_dir's parent"
    return NotADirectoryError(errno.ENOTDIR, f"{message}: {what} is a file, not a directory",
                              blocking)


class _Run:
    """One estimator's run: its event file (open during a call), and the
    last epoch written to it (its step and training loss), which the run's
    next epoch must follow."""

    __slots__ = ("writer", "closer", "fresh", "last_step", "last_loss")

    def __init__(self):
        self.writer = self.closer = None
        self.fresh = True  # no epoch of the current call written yet
        self.last_step = self.last_loss = None

    def continued_by(self, loss, step):
        """Whether an epoch at ``step``, whose history's training losses
        are ``loss``, follows the last one written: the epoch before it is
        the one this run ends with (not another fit's, unseen, nor one of a
        call rolled back after it was written) and the file is still there."""
        return (self.writer is not None and self.last_step is not None and len(loss) >= 2
                and step == self.last_step + 1 and float(loss[-2]) == self.last_loss
                and not self.writer.unlinked())

    def close(self):
        if self.closer is not None:
            self.closer()  # detaches the finalizer too
        self.writer = self.closer = None


class TensorBoardCallback:
    """Write per-epoch training scalars to a TensorBoard log directory.

    Parameters
    ----------
    log_dir : str or path-like
        Directory of the runs: with ``per_fit_subdir``, one subdirectory per
        run, named after the estimator and the first free number
        (``MLPClassifier-1``, ``MLPClassifier-2``, ...; claimed atomically,
        so that the fits of a search's worker processes, or of a script run
        again, never share one).
    per_fit_subdir : bool, default=True
        Give every run its own directory, as TensorBoard expects when
        comparing runs. Without it every run writes to ``log_dir`` itself,
        and the curves of separate fits overlay each other's steps.

    Raises
    ------
    ImportError
        If scikit-learn is older than 1.9, which has no callback API.
    TypeError
        If ``log_dir`` is not a str, bytes or path-like (None among them),
        or ``per_fit_subdir`` is not True or False.
    ValueError
        If ``log_dir`` is empty.

    Notes
    -----
    A run is one fit: ``fit`` starts one, and a ``partial_fit`` call or a
    ``warm_start`` fit goes on with the run of the same estimator's
    previous call (its steps number the epochs as ``loss_curve_`` does, a
    model converted from scikit-learn's first), so that a stream of calls
    draws one curve. It goes on only where the call's first epoch follows
    the last one the run holds (the step after it, from the epoch the run
    ended with); otherwise (a fit the callback did not see came between, a
    call was rolled back after its epochs were written, the run's file was
    deleted) a new run starts. The run's event file is open only while a
    call runs: it closes when the call ends, failed or not, and a call that
    goes on with the run appends to it, so fitted estimators kept in memory
    hold no open file. Each epoch's scalars are flushed at its end; a
    failure to write them (a full disk) fails the call, which then leaves
    the model as it was.

    ``epoch/loss`` is the training loss with the penalties (``alpha``,
    ``l1``), as ``loss_curve_``; ``epoch/val_loss`` the validation loss of
    the data alone. Each tag's description in TensorBoard says so.

    Set it on the fastbp estimator itself: it is not propagated from a
    Pipeline or a search to the estimators inside them (it warns and writes
    nothing there). Fits in threads may share it. In a search with
    ``n_jobs``, each worker process writes the runs of its fits itself;
    ``run_dirs_`` lists only this process's. ``solver='lbfgs'`` has no
    epochs, and writes no run (the callback says so once).

    Attributes
    ----------
    run_dirs_ : list of str
        The run directories this process has written to so far.
    """

    def __init__(self, log_dir, *, per_fit_subdir=True):
        if not _callbacks.HAVE_CALLBACKS:
            # Said here: without it the callback was made, and set_callbacks
            # failed as a missing attribute of the estimator.
            import sklearn

            raise ImportError(
                "TensorBoardCallback needs scikit-learn >= 1.9 (its callback API, "
                f"sklearn.callback); scikit-learn {sklearn.__version__} is installed: "
                'pip install "scikit-learn>=1.9"')
        # fix-324: os.fspath's own message ("expected str, bytes or
        # os.PathLike object, not NoneType") named no argument.
        log_dir = path_argument("TensorBoardCallback(log_dir)", log_dir,
                                "the path of a log directory")
        # fix-309: "false" is truthy, and made a directory per fit.
        per_fit_subdir = _check_flag(per_fit_subdir, "per_fit_subdir", "TensorBoardCallback: ")
        self.log_dir = log_dir
        self.per_fit_subdir = per_fit_subdir
        self.run_dirs_ = []
        self._said_lbfgs = False
        self._lock = threading.Lock()
        self._runs = weakref.WeakKeyDictionary()  # estimator -> _Run

    def __getstate__(self):
        # Copied into a search's worker processes: writers, weak references
        # and locks belong to this process's fits.
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_runs")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._runs = weakref.WeakKeyDictionary()

    def setup(self, estimator, context):
        """scikit-learn's callback hook at the start of a fit: opens the
        fit's run (its event file) under ``log_dir``.

        Parameters
        ----------
        estimator : MLPClassifier or MLPRegressor
            The estimator being fitted; any other estimator gets a warning
            and nothing is written.
        context : sklearn.callback context
            The fit's task context (unused here).
        """
        from .estimators.base import BaseMLP

        if not isinstance(estimator, BaseMLP):
            # Not auto-propagated: a Pipeline's or a search's own fit has
            # no epochs, and its inner estimators never call this callback.
            warn_at_caller(
                f"TensorBoardCallback records the epochs of fastbp's estimators, and "
                f"{type(estimator).__name__} fits none itself: nothing is written. Set it "
                "on the MLPClassifier or MLPRegressor inside, for example "
                "pipeline[-1].set_callbacks(...) or search.estimator[-1].set_callbacks(...).",
                UserWarning, estimator)
            return
        if estimator.solver == "lbfgs":
            # No epochs: nothing to write, so neither tensorboardX nor the
            # directory is needed.
            if not getattr(self, "_said_lbfgs", False):  # (pickled before it)
                self._said_lbfgs = True
                warn_at_caller(
                    "TensorBoardCallback writes per-epoch scalars, and solver='lbfgs' has no "
                    f"epochs: nothing is written for this fit of {type(estimator).__name__} "
                    "(said once per callback).", UserWarning, estimator)
            return
        try:
            import tensorboardX  # noqa: F401 - its absence is said before training
        except ImportError as exc:
            raise ImportError('TensorBoardCallback needs tensorboardX: pip install '
                              '"fastbp[tensorboard]"') from exc
        # A log directory that cannot be written fails here, before the
        # first epoch trains, rather than when that epoch's scalars are written.
        try:
            os.makedirs(self.log_dir, exist_ok=True)
            os.rmdir(tempfile.mkdtemp(prefix=".fastbp-probe-", dir=self.log_dir))
        except OSError as exc:
            raise _explained(exc, f"TensorBoardCallback cannot write its runs in "
                                  f"{self.log_dir!r}", self.log_dir) from exc
        with self._lock:
            run = self._runs.get(estimator)
            if run is None:
                run = self._runs[estimator] = _Run()
            run.fresh = True

    def _claim(self, estimator):
        """A run directory of its own for a new run of ``estimator``."""
        os.makedirs(self.log_dir, exist_ok=True)
        if not self.per_fit_subdir:
            return self.log_dir
        for number in itertools.count(len(self.run_dirs_) + 1):
            path = os.path.join(self.log_dir, f"{type(estimator).__name__}-{number}")
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            return path

    def _run(self, estimator, loss, step):
        """``estimator``'s run, for the epoch at ``step`` whose history's
        training losses are ``loss``. At a call's first epoch the run goes
        on if this epoch follows the last one it wrote, else a new run
        starts."""
        with self._lock:
            run = self._runs.get(estimator)
            if run is None:
                return None
            if run.fresh:
                run.fresh = False
                if run.continued_by(loss, step):
                    try:
                        run.writer.reopen()
                    except FileNotFoundError:
                        run.close()  # deleted since it was checked: a new run
                    except OSError as exc:
                        raise _reraised(exc, f"TensorBoardCallback could not reopen its event "
                                             f"file {run.writer.path!r}") from exc
                else:
                    run.close()
                if run.writer is None:
                    self._start(run, estimator)
            return run

    def _start(self, run, estimator):
        """Open the event file of a new run of ``estimator`` in ``run``."""
        try:
            path = self._claim(estimator)
            try:
                writer = _EventFile(path)
            except BaseException:
                if path != self.log_dir:
                    # The run directory was made for this file alone: an
                    # empty one would show in TensorBoard as a run with no data.
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
                raise
        except OSError as exc:
            raise _explained(exc, f"TensorBoardCallback cannot start a run in "
                                  f"{self.log_dir!r}", self.log_dir) from exc
        run.writer = writer
        if path not in self.run_dirs_:
            self.run_dirs_.append(path)
        # Should teardown never run (the process ends within a fit).
        run.closer = weakref.finalize(estimator, _close_quietly, writer)

    def on_fit_task_begin(self, estimator, context):
        """scikit-learn's hook at a task's start: nothing to record until
        the epoch has ended.

        Parameters
        ----------
        estimator : MLPClassifier or MLPRegressor
            The estimator being fitted (unused here).
        context : sklearn.callback context
            The task starting: the fit's root task or one epoch (unused
            here).
        """

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        """scikit-learn's hook at a task's end: writes and flushes an epoch's
        scalars (``epoch/loss``, ``epoch/val_loss``, ``epoch/val_score``,
        ``epoch/learning_rate`` and ``grad_norm/layer_<k>``).

        Parameters
        ----------
        estimator : MLPClassifier or MLPRegressor
            The estimator being fitted, whose run the scalars go to.
        context : sklearn.callback context
            Only ``"epoch"`` tasks are recorded.
        fitted_estimator : MLPClassifier or MLPRegressor, optional
            The model at the end of the epoch, whose ``history_`` is read.

        Returns
        -------
        bool
            False: this callback never stops the fit.
        """
        if context.task_name != "epoch" or fitted_estimator is None:
            return False
        history = getattr(fitted_estimator, "history_", None)
        if not history or not len(history.get("loss", ())):
            return False
        loss = history["loss"]
        n = len(loss)
        # Steps number the epochs as loss_curve_ does: a model converted
        # from scikit-learn has its epochs there, not in history_.
        step = n + epochs_before(fitted_estimator)
        run = self._run(estimator, loss, step)
        if run is None:
            return False
        writer = run.writer
        try:
            for key in ("loss", "val_loss", "val_score", "learning_rate"):
                values = history.get(key, ())
                if len(values) == n and values[-1] == values[-1]:  # not NaN
                    writer.add_scalar(f"epoch/{key}", float(values[-1]), step)
            grad = history.get("grad_norm")
            if grad is not None and len(grad) == n:
                for layer, value in enumerate(grad[-1]):
                    writer.add_scalar(f"grad_norm/layer_{layer + 1}", float(value), step)
            # On disk at every epoch's end: TensorBoard shows a slow fit as
            # it trains, and a killed process leaves whole records. And a
            # failure (a full disk) fails the call here, which then leaves
            # the model as it was, not in teardown, after the fit committed.
            writer.flush()
        except OSError as exc:
            with self._lock:
                run.close()  # what it holds is lost: the next call starts a run
            raise _reraised(exc, f"TensorBoardCallback could not write its event file "
                                 f"{writer.path!r}") from exc
        run.last_step, run.last_loss = step, float(loss[-1])
        return False

    def teardown(self, estimator, context):
        """scikit-learn's hook at the end of a fit, failed or not: closes the
        fit's event file.

        Parameters
        ----------
        estimator : MLPClassifier or MLPRegressor
            The estimator whose fit ended; its run stays open for a later
            ``partial_fit`` or ``warm_start`` call to go on with, its file
            closed until then.
        context : sklearn.callback context
            The fit's root task context (unused here).
        """
        # The call's end, failed or not: its file closes, or every fitted
        # estimator kept (an ensemble, a list of results) would hold a file
        # descriptor until the process ran out of them. Quietly: every
        # epoch was flushed at its end, so nothing is left to lose, and
        # teardown runs after the fit has committed.
        with self._lock:
            run = self._runs.get(estimator)
            if run is not None and run.writer is not None:
                _close_quietly(run.writer)

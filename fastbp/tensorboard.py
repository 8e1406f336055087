"""A scikit-learn callback that writes training curves for TensorBoard.

``MLPClassifier().set_callbacks(TensorBoardCallback("runs/digits"))`` writes,
per epoch, the training loss, the validation loss and score when early
stopping records them, the learning rate and each layer's gradient norm as
TensorBoard scalars, as Keras's and skorch's TensorBoard callbacks do. It
needs tensorboardX (numpy, packaging and protobuf; no TensorFlow or
PyTorch): ``pip install "fastbp[tensorboard]"``, imported when a fit starts.
Requires scikit-learn 1.9's callback API.
"""

import os
import warnings
import weakref


class TensorBoardCallback:
    """Write per-epoch training scalars to a TensorBoard log directory.

    Parameters
    ----------
    log_dir : str or path-like
        Directory of the event files (one per fit, in a subdirectory named
        after the estimator and a counter when ``per_fit_subdir``).
    per_fit_subdir : bool, default=True
        Give every fit its own run directory, as TensorBoard expects when
        comparing runs. A ``partial_fit`` call, or a ``warm_start`` fit,
        continues the run of the same estimator's previous call, so that a
        stream of calls draws one curve.

    Notes
    -----
    Set it on the fastbp estimator itself: it is not propagated from a
    Pipeline or a search to the estimators inside them (it warns and writes
    nothing there). In a search with ``n_jobs``, each worker process writes
    its fits' runs itself; ``run_dirs_`` lists only this process's.
    ``solver='lbfgs'`` has no epochs, and writes no run.

    Attributes
    ----------
    run_dirs_ : list of str
        The run directories written so far.
    """

    def __init__(self, log_dir, *, per_fit_subdir=True):
        self.log_dir = os.fspath(log_dir)
        self.per_fit_subdir = per_fit_subdir
        self.run_dirs_ = []
        self._writer = None
        self._estimator = None  # the fit in progress (weakly)
        self._opened = 0  # writers opened so far
        # The last run's estimator (weakly) and directory: a partial_fit
        # or warm_start fit of that estimator continues its run.
        self._last = None

    def __getstate__(self):
        # Copied into a search's worker processes: a writer and a weak
        # reference do not pickle, and belong to this process's fits.
        return {**self.__dict__, "_writer": None, "_estimator": None, "_last": None}

    def setup(self, estimator, context):
        from .estimators.base import BaseMLP

        if not isinstance(estimator, BaseMLP):
            # Not auto-propagated: a Pipeline's or a search's own fit has
            # no epochs, and its inner estimators never call this callback.
            warnings.warn(
                f"TensorBoardCallback records the epochs of fastbp's estimators, and "
                f"{type(estimator).__name__} fits none itself: nothing is written. Set it "
                "on the MLPClassifier or MLPRegressor inside, for example "
                "pipeline[-1].set_callbacks(...) or search.estimator[-1].set_callbacks(...).",
                UserWarning, stacklevel=2)
            return
        try:
            import tensorboardX  # noqa: F401 - its absence is said before training
        except ImportError as exc:
            raise ImportError('TensorBoardCallback needs tensorboardX: pip install '
                              '"fastbp[tensorboard]"') from exc
        self._estimator = weakref.ref(estimator)

    def _open(self, estimator, step):
        """The writer of this fit's run, opened at its first epoch: the run
        of the estimator's previous call if this one goes on with its
        history (``partial_fit``, ``warm_start``), else a new one."""
        from tensorboardX import SummaryWriter

        last = self._last
        if step > 1 and last is not None and last[0]() is estimator:
            run = last[1]
        else:
            run = self.log_dir
            if self.per_fit_subdir:
                run = os.path.join(self.log_dir,
                                   f"{type(estimator).__name__}-{len(self.run_dirs_) + 1}")
            self.run_dirs_.append(run)
        self._last = (weakref.ref(estimator), run)
        # Event files are named by the second and the host: a run opened
        # again within the same second (partial_fit calls) would truncate
        # its previous file without a suffix of its own.
        self._opened += 1
        self._writer = SummaryWriter(logdir=run,
                                     filename_suffix=f".{os.getpid()}.{self._opened}")

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if (context.task_name != "epoch" or fitted_estimator is None
                or self._estimator is None or self._estimator() is not estimator):
            return False
        history = getattr(fitted_estimator, "history_", None)
        if not history or not len(history.get("loss", ())):
            return False
        step = len(history["loss"])
        if self._writer is None:
            self._open(estimator, step)
        for key in ("loss", "val_loss", "val_score", "learning_rate"):
            values = history.get(key, ())
            if len(values) == step:
                self._writer.add_scalar(f"epoch/{key}", float(values[-1]), step)
        grad = history.get("grad_norm")
        if grad is not None and len(grad) == step:
            for layer, value in enumerate(grad[-1]):
                self._writer.add_scalar(f"grad_norm/layer_{layer + 1}", float(value), step)
        return False

    def teardown(self, estimator, context):
        self._estimator = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

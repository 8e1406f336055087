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


class TensorBoardCallback:
    """Write per-epoch training scalars to a TensorBoard log directory.

    Parameters
    ----------
    log_dir : str or path-like
        Directory of the event files (one per fit, in a subdirectory named
        after the estimator and a counter when ``per_fit_subdir``).
    per_fit_subdir : bool, default=True
        Give every fit its own run directory, as TensorBoard expects when
        comparing runs.

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

    def setup(self, estimator, context):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:
            raise ImportError('TensorBoardCallback needs tensorboardX: pip install '
                              '"fastbp[tensorboard]"') from exc
        run = self.log_dir
        if self.per_fit_subdir:
            run = os.path.join(self.log_dir,
                               f"{type(estimator).__name__}-{len(self.run_dirs_) + 1}")
        self.run_dirs_.append(run)
        self._writer = SummaryWriter(logdir=run)

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name != "epoch" or fitted_estimator is None or self._writer is None:
            return False
        history = getattr(fitted_estimator, "history_", None)
        if not history or not len(history.get("loss", ())):
            return False
        step = len(history["loss"])
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
        if self._writer is not None:
            self._writer.close()
            self._writer = None

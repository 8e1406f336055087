"""scikit-learn's callback API (sklearn.callback, 1.9) on fastbp's estimators."""


import errno
import warnings

import numpy as np
import pytest
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators import callbacks

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


class StopAfter:
    """Asks to stop at the end of subtask ``n`` (0-based) of ``task``."""

    def __init__(self, n, task):
        self.n, self.task, self.ends = n, task, []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        self.ends.append((context.task_name, context.task_id))
        return context.task_name == self.task and context.task_id >= self.n


def _same_weights(a, b):
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_progress_bar_alone_does_not_change_the_model(digits, solver, capsys):
    X, y = digits
    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=4, random_state=0)
    plain = quiet(MLPClassifier(**kw).fit, X, y)
    with_bar = quiet(MLPClassifier(**kw).set_callbacks(ProgressBar()).fit, X, y)
    _same_weights(plain, with_bar)
    assert not hasattr(with_bar, "_callback_fit_ctx")   # torn down


def test_progress_bar_in_pipeline_and_parallel_search(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=3, random_state=0))
    quiet(pipe.set_callbacks(ProgressBar()).fit, X, y)
    search = GridSearchCV(make_pipeline(StandardScaler(),
                                        MLPClassifier((8,), max_iter=3, random_state=0)),
                          {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2)
    quiet(search.set_callbacks(ProgressBar()).fit, X, y)
    plain = quiet(GridSearchCV(make_pipeline(StandardScaler(),
                                             MLPClassifier((8,), max_iter=3, random_state=0)),
                               {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit, X, y)
    assert search.best_params_ == plain.best_params_
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  plain.cv_results_["mean_test_score"])


def test_scoring_monitor_logs_every_epoch(digits):
    X, y = digits
    monitor = ScoringMonitor(scoring="accuracy")
    est = quiet(MLPClassifier((8,), max_iter=5, random_state=0).set_callbacks(monitor).fit,
                X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert [r["task_id"] for r in epochs] == list(range(5))
    # The last epoch's model is the fitted one.
    assert epochs[-1]["accuracy"] == est.score(X, y)
    # Each epoch's score is that of the model after that many epochs.
    three = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    assert epochs[2]["accuracy"] == three.score(X, y)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_scoring_monitor_gets_the_callers_weights_not_times_class_weight(digits, solver):
    # helper-66: the hooks got sample_weight times class_weight, so a
    # ScoringMonitor's "accuracy" was class-weighted (0.29 for a model of
    # accuracy 0.81, with no weights passed).
    X, y = digits
    weights = {c: 10.0 ** (c % 3) for c in np.unique(y)}
    sw = np.random.RandomState(0).uniform(0.5, 2, len(y))
    for given in (None, sw):
        monitor = ScoringMonitor(scoring="accuracy")
        est = quiet(MLPClassifier((8,), max_iter=3, solver=solver, random_state=0,
                                  class_weight=weights).set_callbacks(monitor).fit,
                    X, y, sample_weight=given)
        last = [r for r in monitor.get_logs().data if r["task_name"] != "fit"][-1]
        assert last["accuracy"] == est.score(X, y, sample_weight=given)


def test_scoring_monitor_on_a_regressor(digits):
    X, y = digits
    monitor = ScoringMonitor(scoring="r2")
    est = quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
                .set_callbacks(monitor).fit, X, y.astype(float))
    epochs = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert len(epochs) == 3 and epochs[-1]["r2"] == pytest.approx(est.score(X, y), 1e-12)


def test_a_callback_stops_stochastic_training(digits):
    X, y = digits
    stop = StopAfter(2, "epoch")
    est = quiet(MLPClassifier((8,), max_iter=50, random_state=0).set_callbacks(stop).fit, X, y)
    assert est.n_iter_ == 3
    _same_weights(est, quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y))
    assert stop.ends[-1] == ("fit", 0) and stop.ends.count(("fit", 0)) == 1


def test_an_interrupt_with_early_stopping_keeps_and_names_the_best_weights(digits):
    # Ctrl-C (here raised by a callback at the end of epoch 5): counters and
    # optimizer state are epoch 5's; with early stopping the weights are,
    # as at the end of any such fit, the best validation score's (epoch 1's,
    # since every later epoch scores worse), and the warning says so.
    X, y = digits

    class Interrupt(StopAfter):
        def on_fit_task_end(self, estimator, context):
            if context.task_name == "epoch" and context.task_id == 4:
                raise KeyboardInterrupt

    def worsening():
        calls = iter(range(0, -1000, -1))
        return lambda est, X, y: next(calls)

    kw = dict(hidden_layer_sizes=(8,), random_state=0, early_stopping=True,
              n_iter_no_change=100)
    with pytest.warns(UserWarning, match="interrupted by user after 5 complete epoch.*"
                                         "weights and batch-norm statistics: with "
                                         "early_stopping=True, those of the best"):
        est = MLPClassifier(max_iter=50, scoring=worsening(), **kw).set_callbacks(
            Interrupt(0, "")).fit(X, y)
    assert est.n_iter_ == 5
    _same_weights(est, quiet(MLPClassifier(max_iter=1, scoring=worsening(), **kw).fit, X, y))
    # Without early stopping: the last epoch's weights, and the plain message.
    with pytest.warns(UserWarning, match="at the end of the last one[.]$"):
        est = MLPClassifier((8,), max_iter=50, random_state=0).set_callbacks(
            Interrupt(0, "")).fit(X, y)
    _same_weights(est, quiet(MLPClassifier((8,), max_iter=5, random_state=0).fit, X, y))


def test_a_callback_stops_lbfgs(digits):
    X, y = digits
    stop = StopAfter(4, "lbfgs-iter")
    with warnings.catch_warnings():
        # helper-52: a stop asked for warned "lbfgs failed to converge ...
        # `callback` raised `StopIteration`"; a stochastic solver's is silent.
        warnings.simplefilter("error")
        est = MLPClassifier((8,), solver="lbfgs", max_iter=200, random_state=0) \
            .set_callbacks(stop).fit(X, y)
    assert est.n_iter_ == 5
    # history_ has each iteration's loss and time, the last the fitted loss.
    assert est.history_["loss"].shape == est.history_["epoch_time"].shape == (5,)
    assert est.history_["loss"][-1] == est.loss_ and np.all(est.history_["epoch_time"] > 0)
    # Every begun task ended: 5 run iterations (none left over: fix-185), the root.
    assert stop.ends.count(("fit", 0)) == 1
    assert len([e for e in stop.ends if e[0] == "lbfgs-iter"]) == 5


class BuggyHook(StopAfter):
    """A hook with a bug: ``next`` on an exhausted iterator at its third
    subtask's end."""

    def on_fit_task_end(self, estimator, context):
        super().on_fit_task_end(estimator, context)
        if len(self.ends) == 3:
            next(iter(()))


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_a_hook_raising_stop_iteration_fails_the_fit(digits, solver):
    # scipy reads StopIteration from its callback as a request to stop:
    # before, an lbfgs fit ended quietly after 3 iterations, as if converged.
    X, y = digits
    est = MLPClassifier((8,), solver=solver, max_iter=20, random_state=0)
    with pytest.raises((RuntimeError, StopIteration)) as info:
        quiet(est.set_callbacks(BuggyHook(0, "")).fit, X, y)
    if solver == "lbfgs":
        assert info.type is RuntimeError and "raised StopIteration" in str(info.value)
    assert not hasattr(est, "coefs_")  # the failed fit left nothing behind


class IterationsSeen:
    """Records ``fitted_estimator.n_iter_`` at the end of each subtask."""

    def setup(self, estimator, context):
        self.seen = []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name != "fit" and fitted_estimator is not None:
            self.seen.append(fitted_estimator.n_iter_)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_fitted_estimator_counts_the_iterations_so_far(digits, solver):
    # With lbfgs it kept the n_iter_ of before the fit (0 on a first fit).
    X, y = digits
    seen = IterationsSeen()
    est = quiet(MLPClassifier((8,), solver=solver, max_iter=4, random_state=0)
                .set_callbacks(seen).fit, X, y)
    assert seen.seen[:est.n_iter_] == list(range(1, est.n_iter_ + 1)), seen.seen


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_hooks_get_the_dataframe_the_fit_got(digits, solver):
    # Before, hooks got the validated array, and fitted_estimator (fitted
    # with the column names) warned "X does not have valid feature names"
    # at every epoch.
    import pandas as pd
    X, y = digits
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(X.shape[1])])
    monitor = ScoringMonitor(scoring="accuracy")
    est = MLPClassifier((8,), solver=solver, max_iter=3, random_state=0).set_callbacks(monitor)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(frame, y)
    assert list(est.feature_names_in_) == list(frame.columns)


def test_partial_fit_is_one_epoch_task(digits):
    X, y = digits
    stop = StopAfter(99, "epoch")
    est = MLPClassifier((8,), random_state=0).set_callbacks(stop)
    quiet(est.partial_fit, X, y, classes=np.unique(y))
    assert stop.ends == [("epoch", 0), ("fit", 0)]


def test_without_the_callback_module_everything_works(digits, monkeypatch):
    """scikit-learn 1.7/1.8 have no sklearn.callback: no tasks are built."""
    X, y = digits
    monkeypatch.setattr(callbacks, "HAVE_CALLBACKS", False)
    est = MLPClassifier((8,), max_iter=2, random_state=0).set_callbacks(ProgressBar())
    assert not callbacks.active(est)
    quiet(est.fit, X, y)
    assert est.n_iter_ == 2


def _read_scalars(run_dir):
    """{tag: [(step, value)]} from the TFRecord event files of ``run_dir``."""
    import glob
    import os
    import struct

    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in glob.glob(os.path.join(run_dir, "events.out.tfevents.*")):
        with open(path, "rb") as fh:
            data = fh.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


class KeepSnapshots(IterationsSeen):
    """Keeps every subtask's ``fitted_estimator``."""

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name != "fit" and fitted_estimator is not None:
            self.seen.append(fitted_estimator)


def test_fitted_estimator_is_detached_from_the_live_model(digits):
    # helper-52: the snapshot shared the live model's loss curve and an
    # optimizer state of the call before: a partial_fit of it appended to
    # the live model's loss_curve_. Its validation_scores_, best scores and
    # t_ were the previous fit's, or missing on a first fit.
    X, y = digits
    keep = KeepSnapshots()
    model = MLPClassifier((16,), max_iter=4, early_stopping=True, n_iter_no_change=50,
                          random_state=0).set_callbacks(keep)
    quiet(model.fit, X, y)
    keep.seen.clear()
    quiet(model.fit, X, y)  # a refit: the snapshots are of this fit
    assert len(keep.seen) == 4
    n_train = len(X) - round(len(X) * model.validation_fraction)
    for k, snap in enumerate(keep.seen, start=1):
        assert snap.n_iter_ == k and snap.loss_curve_ == model.loss_curve_[:k]
        assert snap.validation_scores_ == model.validation_scores_[:k]
        assert snap.best_validation_score_ == max(model.validation_scores_[:k])
        assert snap.t_ == k * n_train and snap._optimizer is None
        np.testing.assert_array_equal(snap.history_["loss"], model.history_["loss"][:k])
    live = (list(model.loss_curve_), list(model.validation_scores_),
            model.history_["loss"].copy(), model.t_)
    snap = keep.seen[1].set_params(early_stopping=False)
    snap.set_callbacks()
    quiet(snap.partial_fit, X, y)
    assert len(snap.loss_curve_) == len(snap.history_["loss"]) == 3
    assert (model.loss_curve_, model.validation_scores_, model.t_) == (*live[:2], live[3])
    np.testing.assert_array_equal(model.history_["loss"], live[2])


@pytest.mark.parametrize("warm_start", [False, True])
def test_lbfgs_fitted_estimator_has_the_loss_and_history_so_far(digits, warm_start):
    # helper-52: an L-BFGS snapshot set n_iter_ alone: its loss_ and
    # history_ were the adam fit's before it (or missing on a first fit).
    # helper-59: and it shared the adam fit's optimizer and loss curve with
    # the live model, which a partial_fit of the snapshot then appended to.
    X, y = digits
    keep = KeepSnapshots()
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    quiet(model.set_params(solver="lbfgs", max_iter=4, warm_start=warm_start)
          .set_callbacks(keep).fit, X, y)
    ran = [snap for snap in keep.seen if snap.n_iter_ > 0]
    assert [snap.n_iter_ for snap in ran[:4]] == [1, 2, 3, 4]
    for snap in ran[:4]:
        k = snap.n_iter_
        np.testing.assert_array_equal(snap.history_["loss"], model.history_["loss"][:k])
        assert snap.history_["epoch_time"].shape == (k,)
        assert snap.loss_ == model.history_["loss"][k - 1]
        assert snap._optimizer is None and snap.loss_curve_ == model.loss_curve_
        assert snap.loss_curve_ is not model.loss_curve_
    curve = list(model.loss_curve_)
    snap = ran[1].set_params(solver="adam")
    snap.set_callbacks()
    quiet(snap.partial_fit, X, y)
    assert model.loss_curve_ == curve and snap.loss_curve_ != curve


def test_diagnostic_warnings_count_the_epochs_of_a_partial_fit_stream(digits):
    # helper-52: the epoch named was the call's (always 1 in partial_fit):
    # "... for 3 epochs up to epoch 1" after 4 epochs.
    X, y = digits
    model = MLPClassifier((16,), random_state=0)
    quiet(model.partial_fit, X, y, classes=np.unique(y))
    model.intercepts_[0][:] = -1e3  # every relu unit dead
    with pytest.warns(UserWarning, match="for 3 epochs up to epoch 4,"):
        for _ in range(3):
            model.partial_fit(X, y)


def test_tensorboard_callback_writes_the_history(digits, tmp_path):
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    est = quiet(MLPClassifier((8, 6), max_iter=4, early_stopping=True, n_iter_no_change=50,
                              random_state=0).set_callbacks(board).fit, X, y)
    (run,) = board.run_dirs_
    scalars = _read_scalars(run)
    h = est.history_
    for key in ("loss", "val_loss", "val_score", "learning_rate"):
        steps, values = zip(*scalars[f"epoch/{key}"])
        assert list(steps) == [1, 2, 3, 4]
        np.testing.assert_allclose(values, h[key], rtol=1e-6)
    for layer in range(3):
        _, values = zip(*scalars[f"grad_norm/layer_{layer + 1}"])
        np.testing.assert_allclose(values, h["grad_norm"][:, layer], rtol=1e-6)


def test_a_log_directory_that_cannot_be_written_fails_before_training(digits, tmp_path):
    # helper-38: it failed after the first epoch, with an OSError that did
    # not name TensorBoard.
    from fastbp import TensorBoardCallback

    X, y = digits
    (tmp_path / "afile").write_text("")
    est = MLPClassifier((8,), max_iter=3, random_state=0)
    est.set_callbacks(TensorBoardCallback(tmp_path / "afile" / "runs"))
    epochs = []
    est._on_epoch_end = lambda epoch, max_iter, history: epochs.append(epoch)
    with pytest.raises(OSError, match="TensorBoardCallback cannot write its runs in .*afile"):
        est.fit(X, y)
    assert epochs == [] and not hasattr(est, "coefs_")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("log_dir, what", [("afile", "log_dir"),
                                           ("afile/runs", "log_dir's parent")])
def test_a_log_directory_that_is_a_file_is_said_to_be_one(digits, tmp_path, log_dir, what):
    # helper-134: a bare OSError (errno None) said "[Errno 17] File exists"
    # for log_dir itself, and "Not a directory" for a file above it.
    from fastbp import TensorBoardCallback

    X, y = digits
    (tmp_path / "afile").write_text("")
    est = MLPClassifier((8,), max_iter=3, random_state=0)
    est.set_callbacks(TensorBoardCallback(tmp_path / log_dir))
    with pytest.raises(NotADirectoryError, match=f"TensorBoardCallback cannot write its runs "
                                                 f"in .*: {what} is a file, not a directory"
                       ) as info:
        est.fit(X, y)
    assert info.value.errno == errno.ENOTDIR
    assert info.value.filename == str(tmp_path / "afile")


def test_a_log_directory_error_keeps_its_type_and_errno(digits, tmp_path, monkeypatch):
    # helper-134: every OSError became a bare OSError with errno None, which
    # "except PermissionError" no longer caught.
    import fastbp.tensorboard
    from fastbp import TensorBoardCallback

    def refused(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", dir)

    X, y = digits
    monkeypatch.setattr(fastbp.tensorboard.tempfile, "mkdtemp", refused)
    est = MLPClassifier((8,), max_iter=3, random_state=0)
    est.set_callbacks(TensorBoardCallback(tmp_path))
    with pytest.raises(PermissionError, match="TensorBoardCallback cannot write its runs in "
                                              ".*: Permission denied") as info:
        est.fit(X, y)
    assert info.value.errno == errno.EACCES and info.value.filename == str(tmp_path)
    monkeypatch.undo()

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(fastbp.tensorboard, "_EventFile", full)
    with pytest.raises(OSError, match="TensorBoardCallback cannot start a run in .*: No space "
                                      "left on device") as info:
        est.fit(X, y)
    assert info.value.errno == errno.ENOSPC


def test_tensorboard_runs_follow_partial_fit_streams_and_warm_starts(digits, tmp_path):
    # A stream of partial_fit calls draws one curve in one run; a fresh fit
    # starts another; a warm start goes on with the run it continues.
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    est = MLPClassifier((8,), max_iter=3, random_state=0).set_callbacks(board)
    for _ in range(4):
        quiet(est.partial_fit, X, y, classes=np.unique(y))
    (stream,) = board.run_dirs_
    steps, values = zip(*_read_scalars(stream)["epoch/loss"])
    assert sorted(steps) == [1, 2, 3, 4]
    quiet(est.fit, X, y)
    quiet(est.set_params(warm_start=True).fit, X, y)
    assert len(board.run_dirs_) == 2
    steps, values = zip(*_read_scalars(board.run_dirs_[1])["epoch/loss"])
    assert sorted(steps) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(sorted(values, key=lambda v: -v)[:1], [max(est.history_["loss"])],
                               rtol=1e-6)
    # lbfgs has no epochs: no run (and no empty directory).
    quiet(MLPClassifier((8,), solver="lbfgs", max_iter=3).set_callbacks(board).fit, X, y)
    assert len(board.run_dirs_) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MLPClassifier-1", "MLPClassifier-2"]


def test_tensorboard_streams_of_two_estimators_interleaved(digits, tmp_path):
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    a = MLPClassifier((8,), random_state=0).set_callbacks(board)
    b = MLPClassifier((6,), random_state=1).set_callbacks(board)
    for _ in range(3):
        for est in (a, b):
            quiet(est.partial_fit, X, y, classes=np.unique(y))
    assert len(board.run_dirs_) == 2
    for run, est in zip(board.run_dirs_, (a, b)):
        steps, values = zip(*sorted(_read_scalars(run)["epoch/loss"]))
        assert steps == (1, 2, 3)
        np.testing.assert_allclose(values, est.history_["loss"], rtol=1e-6)


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_tensorboard_in_a_parallel_search_gives_each_fit_its_run(digits, tmp_path, backend):
    # Every fit of the search, in threads or in worker processes that each
    # hold a copy of the callback, gets a run directory of its own.
    from joblib import parallel_backend

    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    search = GridSearchCV(MLPClassifier((8,), max_iter=3, random_state=0).set_callbacks(board),
                          {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2)
    with parallel_backend(backend):
        quiet(search.fit, X, y)
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 2 * 2 + 1  # the candidates' folds, and the refit
    for run in runs:
        steps, _ = zip(*sorted(_read_scalars(run)["epoch/loss"]))
        assert steps == (1, 2, 3), run


def test_tensorboard_on_a_pipeline_warns_and_writes_nothing(digits, tmp_path):
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=2, random_state=0))
    with pytest.warns(UserWarning, match="Pipeline fits none itself: nothing is written"):
        pipe.set_callbacks(board).fit(X, y)
    assert board.run_dirs_ == [] and not any(tmp_path.iterdir())


def test_scoring_monitor_inside_a_search(digits):
    X, y = digits
    monitor = ScoringMonitor(scoring="accuracy")
    inner = MLPClassifier((8,), max_iter=3, random_state=0).set_callbacks(monitor)
    search = GridSearchCV(inner, {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2)
    quiet(search.fit, X, y)
    logs = monitor.get_logs(select="all")
    assert logs, "no scores were logged"
    # Every fit of the search, and the refit, logged its epochs.
    epochs = [r for log in logs for r in log.data if r["task_name"] == "epoch"]
    assert len(epochs) >= 3 * 5
    assert all(0 <= r["accuracy"] <= 1 for r in epochs)


def test_callbacks_are_torn_down_after_a_failed_fit(digits):
    X, y = digits

    class Recorder(StopAfter):
        def __init__(self):
            super().__init__(10**6, "epoch")
            self.calls = []

        def setup(self, estimator, context):
            self.calls.append("setup")

        def teardown(self, estimator, context):
            self.calls.append("teardown")

        def on_fit_task_end(self, estimator, context):
            raise RuntimeError("callback failed")

    recorder = Recorder()
    est = MLPClassifier((4,), max_iter=3).set_callbacks(recorder)
    with pytest.raises(RuntimeError, match="callback failed"):
        quiet(est.fit, X, y)
    assert recorder.calls == ["setup", "teardown"]
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_warmup_runs_no_callback_of_the_estimator(solver):
    # fastbp.warmup fits tiny copies of the estimators it is given; the
    # callbacks set on them belong to the user's fits, not to those.
    import fastbp

    stop = StopAfter(100, "epoch")
    model = MLPClassifier(solver=solver).set_callbacks(stop)
    fastbp.warmup(model, dtypes="float64")
    assert stop.ends == []
    assert model._skl_callbacks == [stop]  # still the user's
    quiet(model.set_params(max_iter=2).fit, np.random.RandomState(0).rand(30, 3),
          np.arange(30) % 3)
    assert stop.ends, "the callback is not called at all: this test could not fail"



def test_tensorboard_steps_follow_the_epochs_of_a_model_from_scikit_learn(digits, tmp_path):
    # helper-52: the steps restarted at 1, where loss_curve_ and the
    # training-history plot number these epochs 5 and 6.
    from sklearn.neural_network import MLPClassifier as SkMLP

    from fastbp import TensorBoardCallback

    X, y = digits
    sk = quiet(SkMLP((8,), max_iter=4, random_state=0).fit, X, y)
    board = TensorBoardCallback(tmp_path)
    model = MLPClassifier.from_sklearn(sk).set_callbacks(board)
    for _ in range(2):
        quiet(model.partial_fit, X, y)
    (run,) = board.run_dirs_
    steps, values = zip(*_read_scalars(run)["epoch/loss"])
    assert sorted(steps) == [5, 6] and len(model.loss_curve_) == 6
    np.testing.assert_allclose(values, model.loss_curve_[4:], rtol=1e-6)


def _event_tags(run_dir):
    """[(tag, step, summary_description)] of ``run_dir``'s events, in order."""
    import glob
    import os
    import struct

    from tensorboardX.proto import event_pb2

    events = []
    for path in sorted(glob.glob(os.path.join(run_dir, "events.out.tfevents.*"))):
        with open(path, "rb") as fh:
            data = fh.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            events += [(v.tag, event.step, v.metadata.summary_description)
                       for v in event.summary.value]
    return events


def _fitted_state(model):
    return ([a.copy() for a in model.coefs_ + model.intercepts_], list(model.loss_curve_),
            model.n_iter_, model.t_, len(model.history_["loss"]))


def _assert_same_state(before, model):
    after = _fitted_state(model)
    for u, v in zip(before[0], after[0]):
        np.testing.assert_array_equal(u, v)
    assert before[1:] == after[1:]


def test_a_tensorboard_write_that_fails_fails_the_call_before_it_commits(digits, tmp_path):
    # helper-72: the event file was flushed in teardown only, which
    # scikit-learn runs after the fit: a full disk raised OSError over a
    # model already trained (and changed), and the finalizer printed
    # another traceback at exit.
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    model = MLPClassifier((8,), random_state=0).set_callbacks(board)
    quiet(model.partial_fit, X, y, classes=np.unique(y))
    before = _fitted_state(model)
    run = board._runs[model]
    run.writer._file = open("/dev/full", "wb")  # noqa: SIM115 - the run closes it
    with pytest.raises(OSError, match="TensorBoardCallback could not write its event "
                                      "file .*MLPClassifier-1.*: No space left") as info:
        quiet(model.partial_fit, X, y)
    # helper-134: its errno was lost (a bare OSError, errno None).
    assert info.value.errno == errno.ENOSPC
    _assert_same_state(before, model)
    # The next call starts a run of its own, and writes it.
    quiet(model.partial_fit, X, y)
    assert len(board.run_dirs_) == 2
    assert [s for t, s, _ in _event_tags(board.run_dirs_[1]) if t == "epoch/loss"] == [2]


def test_the_tensorboard_finalizer_prints_no_traceback(digits, tmp_path, monkeypatch):
    # helper-72: a run's event file closed at garbage collection (or exit)
    # on a full disk printed an OSError traceback no one could handle.
    import gc

    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    model = MLPClassifier((8,), random_state=0).set_callbacks(board)
    quiet(model.partial_fit, X, y, classes=np.unique(y))
    writer = board._runs[model].writer
    writer._file = open("/dev/full", "wb")  # noqa: SIM115 - the finalizer closes it
    writer.add_scalar("epoch/loss", 1.0, 2)  # buffered, unwritable
    unraisable = []
    monkeypatch.setattr("sys.unraisablehook", unraisable.append)
    del model
    gc.collect()
    assert writer._file.closed
    assert unraisable == []


def test_tensorboard_scalars_are_on_disk_at_each_epoch_end(digits, tmp_path):
    # helper-72: they stayed in Python's buffer until teardown: TensorBoard
    # saw nothing of a slow fit, and a killed process left a cut record.
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)

    class ReadTheLog(StopAfter):
        def __init__(self):
            super().__init__(10**6, "epoch")
            self.seen = []

        def on_fit_task_end(self, estimator, context):
            if context.task_name == "epoch":
                (run,) = board.run_dirs_
                self.seen.append([s for t, s, _ in _event_tags(run) if t == "epoch/loss"])

    reader = ReadTheLog()
    quiet(MLPClassifier((8,), max_iter=3, random_state=0).set_callbacks(board, reader).fit, X, y)
    assert reader.seen == [[1], [1, 2], [1, 2, 3]]


def test_tensorboard_does_not_continue_a_run_with_another_models_epochs(digits, tmp_path):
    # helper-72: a partial_fit after a fit the callback did not see went on
    # with the old run, at the next step number, with another model's loss.
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    model = MLPClassifier((8,), max_iter=5, random_state=0).set_callbacks(board)
    quiet(model.fit, X, y)
    for max_iter in (3, 5):  # the next step 4 (or 6, with another loss)
        model.set_callbacks()
        quiet(model.set_params(random_state=1, max_iter=max_iter).fit, X, y)
        model.set_callbacks(board)
        quiet(model.partial_fit, X, y)
        assert [s for t, s, _ in _event_tags(board.run_dirs_[0])
                if t == "epoch/loss"] == [1, 2, 3, 4, 5]
        loss = [(s, v) for t, s, v in _event_tags(board.run_dirs_[-1]) if t == "epoch/loss"]
        assert [s for s, _ in loss] == [max_iter + 1]
    assert len(board.run_dirs_) == 3
    # A stream the callback saw whole goes on with its run.
    quiet(model.partial_fit, X, y)
    assert len(board.run_dirs_) == 3
    steps, values = zip(*sorted(_read_scalars(board.run_dirs_[-1])["epoch/loss"]))
    assert steps == (6, 7)
    np.testing.assert_allclose(values, model.history_["loss"][-2:], rtol=1e-6)


def test_tensorboard_writes_no_step_twice_in_a_run_after_a_rolled_back_call(digits, tmp_path):
    # helper-72: the epoch of a call rolled back after the callback logged
    # it stayed in the run, and the next call wrote the same step again.
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)

    class FailOnce(StopAfter):
        def __init__(self):
            super().__init__(10**6, "epoch")
            self.armed = False

        def on_fit_task_end(self, estimator, context):
            if self.armed and context.task_name == "epoch":
                self.armed = False
                raise RuntimeError("callback failed")

    fail = FailOnce()
    model = MLPClassifier((8,), random_state=0).set_callbacks(board, fail)
    quiet(model.partial_fit, X, y, classes=np.unique(y))
    fail.armed = True
    with pytest.raises(RuntimeError, match="callback failed"):
        quiet(model.partial_fit, X, y)
    for _ in range(2):
        quiet(model.partial_fit, X, y)
    for run in board.run_dirs_:
        steps = [s for t, s, _ in _event_tags(run) if t == "epoch/loss"]
        assert len(steps) == len(set(steps)), (run, steps)
    steps, values = zip(*sorted(_read_scalars(board.run_dirs_[-1])["epoch/loss"]))
    assert steps == (2, 3)
    np.testing.assert_allclose(values, model.history_["loss"][1:], rtol=1e-6)


def test_tensorboard_starts_a_new_run_where_its_file_was_deleted(digits, tmp_path):
    # helper-72: a stream's event file stays open between calls; after the
    # log directory was deleted, later epochs went to an unlinked file.
    import os
    import shutil

    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path / "runs")
    model = MLPClassifier((8,), random_state=0).set_callbacks(board)
    quiet(model.partial_fit, X, y, classes=np.unique(y))
    shutil.rmtree(tmp_path / "runs")
    quiet(model.partial_fit, X, y)
    (run,) = [path for path in board.run_dirs_ if os.path.isdir(path)]
    assert [s for t, s, _ in _event_tags(run) if t == "epoch/loss"] == [2]


def _files_open_under(path):
    """The files under ``path`` this process holds open (Linux's /proc)."""
    import os

    opened = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since it was listed (listdir's own)
            continue
        if target.startswith(str(path) + os.sep):
            opened.append(target)
    return opened


def test_fitted_estimators_kept_hold_no_tensorboard_file_open(digits, tmp_path):
    # helper-133 (fixed by helper-147): every fitted estimator kept its
    # event file open until it was garbage collected; an ensemble or a list
    # of results took a file descriptor each, until fits (and every other
    # open() of the process) failed with "Too many open files".
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    models = [quiet(MLPClassifier((4,), max_iter=2, random_state=seed).set_callbacks(board).fit,
                    X[:100], y[:100]) for seed in range(12)]
    assert len(board.run_dirs_) == len(models)
    assert _files_open_under(tmp_path) == []
    # A call that fails closes its file too.
    model = models[0].set_params(warm_start=True)

    class FailAtSecondEpoch(StopAfter):
        def __init__(self):
            super().__init__(10**6, "epoch")
            self.epochs = 0

        def on_fit_task_end(self, estimator, context):
            if context.task_name == "epoch":
                self.epochs += 1
                if self.epochs == 2:
                    assert _files_open_under(tmp_path) != []  # written during the call
                    raise RuntimeError("callback failed")

    model.set_callbacks(board, FailAtSecondEpoch())
    with pytest.raises(RuntimeError, match="callback failed"):
        quiet(model.fit, X[:100], y[:100])
    assert _files_open_under(tmp_path) == []


def test_a_tensorboard_stream_appends_its_epochs_to_one_file(digits, tmp_path):
    # helper-133 (fixed by helper-147): the file now closes at each call's
    # end; the calls that go on with the run reopen it to append, so a
    # stream is still one file, whose records all read back in order.
    import glob
    import os

    from tensorboardX.proto import event_pb2

    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    model = MLPClassifier((8,), random_state=0).set_callbacks(board)
    for _ in range(4):
        quiet(model.partial_fit, X, y, classes=np.unique(y))
        assert _files_open_under(tmp_path) == []
    quiet(model.set_params(warm_start=True, max_iter=2).fit, X, y)
    (run,) = board.run_dirs_
    (path,) = glob.glob(os.path.join(run, "events.out.tfevents.*"))
    with open(path, "rb") as fh:
        first = fh.read(12 + 64)
    (length,) = np.frombuffer(first[:8], "<u8")
    assert event_pb2.Event.FromString(first[12:12 + int(length)]).file_version == "brain.Event:2"
    loss = [(s, d) for t, s, d in _event_tags(run) if t == "epoch/loss"]
    assert [s for s, _ in loss] == [1, 2, 3, 4, 5, 6]
    assert [bool(d) for _, d in loss] == [True] + [False] * 5  # described once
    _, values = zip(*_read_scalars(run)["epoch/loss"])
    np.testing.assert_allclose(values, model.history_["loss"], rtol=1e-6)


def test_a_tensorboard_run_that_cannot_open_its_file_leaves_no_directory(
        digits, tmp_path, monkeypatch):
    # helper-133 (fixed by helper-147): the run directory was made before
    # its file was opened, and stayed behind, empty, when that failed.
    import os

    import fastbp.tensorboard
    from fastbp import TensorBoardCallback

    def too_many(path, mode):
        raise OSError(errno.EMFILE, "Too many open files", path)

    X, y = digits
    monkeypatch.setattr(fastbp.tensorboard, "open", too_many, raising=False)
    board = TensorBoardCallback(tmp_path)
    model = MLPClassifier((8,), max_iter=2, random_state=0).set_callbacks(board)
    with pytest.raises(OSError, match="TensorBoardCallback cannot start a run in .*: Too many "
                                      "open files") as info:
        quiet(model.fit, X, y)
    assert info.value.errno == errno.EMFILE
    assert list(tmp_path.iterdir()) == [] and board.run_dirs_ == []
    monkeypatch.undo()
    quiet(model.fit, X, y)
    assert [os.path.basename(p) for p in board.run_dirs_] == ["MLPClassifier-1"]


def test_tensorboard_says_which_loss_has_the_penalty(digits, tmp_path):
    # helper-72: epoch/loss includes the alpha penalty (loss_curve_) and
    # epoch/val_loss does not; the tags gave no hint.
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path)
    quiet(MLPClassifier((8,), max_iter=3, early_stopping=True, alpha=1.0, random_state=0)
          .set_callbacks(board).fit, X, y)
    events = _event_tags(board.run_dirs_[0])
    described = {t: d for t, s, d in events if d}
    assert "with the penalties" in described["epoch/loss"]
    assert "without the penalties" in described["epoch/val_loss"]
    # Once per tag and run: TensorBoard reads it from the first event.
    assert [t for t, s, d in events if d].count("epoch/loss") == 1


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_failed_fit_ends_no_root_task_with_a_fitted_estimator(digits, solver):
    # helper-72: the root "fit" task's on_fit_task_end got a snapshot of a
    # model the failed call then rolled back; scikit-learn's estimators end
    # the root task on success only.
    X, y = digits
    roots = []

    class Fail(StopAfter):
        def __init__(self):
            super().__init__(10**6, "epoch")
            self.armed = True

        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "fit":
                roots.append(fitted_estimator)
            elif self.armed and context.task_id == 1:
                raise RuntimeError("callback failed")

    fail = Fail()
    model = MLPClassifier((8,), solver=solver, max_iter=5, random_state=0).set_callbacks(fail)
    with pytest.raises(RuntimeError, match="callback failed"):
        quiet(model.fit, X, y)
    assert roots == [] and not hasattr(model, "coefs_")
    fail.armed = False
    quiet(model.fit, X, y)
    assert len(roots) == 1 and roots[0] is not None


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_convergence_warning_made_an_error_ends_the_root_task_with_the_fit(digits, solver):
    # helper-92: L-BFGS ended the root "fit" task before scikit-learn's
    # convergence check, which a ConvergenceWarning filter made an error
    # that rolled the call back: the callback saw a fit succeed that never
    # was. helper-123: the warning is now given once the call has kept its
    # model, as scikit-learn's MLP keeps it: the fit the root task ended
    # with is the one the model has.
    X, y = digits
    roots = []

    class Roots(StopAfter):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "fit":
                roots.append(fitted_estimator)

    model = MLPClassifier((6,), solver=solver, max_iter=5, random_state=0).set_callbacks(
        Roots(10**6, "epoch"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="(?i)converge"):
            model.fit(X, y)
    assert len(roots) == 1 and roots[0].n_iter_ == model.n_iter_ == 5
    np.testing.assert_array_equal(roots[0].coefs_[0], model.coefs_[0])


def test_a_warning_given_in_a_hook_stays_where_it_is(digits):
    # helper-123: training's own warnings are held until the fit has kept
    # its model; a fit run by a hook is the hook's: its warning is given
    # there, at the hook's line, before the outer fit's own.
    X, y = digits

    class FitsAnother(StopAfter):
        def on_fit_task_end(self, estimator, context, **kwargs):
            if context.task_name == "epoch" and context.task_id == 0:
                MLPClassifier((4,), max_iter=1, random_state=0).fit(X, y)  # warns here

    model = MLPClassifier((6,), max_iter=3, random_state=0).set_callbacks(
        FitsAnother(10**6, "epoch"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    converge = [w for w in caught if w.category is ConvergenceWarning]
    assert ["(1)" in str(w.message) for w in converge] == [True, False]
    assert [w.filename for w in converge] == [__file__, __file__]
    assert converge[0].lineno != converge[1].lineno  # the hook's line, then the fit's
    # Made an error, the hook's warning fails the outer fit there, as any
    # error of a hook does, and the call is undone.
    model = MLPClassifier((6,), max_iter=3, random_state=0).set_callbacks(
        FitsAnother(10**6, "epoch"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="Maximum iterations [(]1[)]"):
            model.fit(X, y)
    assert not hasattr(model, "coefs_")


def test_tensorboard_warns_that_lbfgs_writes_nothing(digits, tmp_path):
    # helper-72: with solver='lbfgs' the callback needed tensorboardX and a
    # writable directory, created it, and wrote nothing, silently.
    from fastbp import TensorBoardCallback

    X, y = digits
    board = TensorBoardCallback(tmp_path / "runs")
    model = MLPClassifier((8,), solver="lbfgs", max_iter=3).set_callbacks(board)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="TensorBoardCallback writes per-epoch scalars, "
                                             "and solver='lbfgs'"):
            model.fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    assert not [w for w in caught if "TensorBoardCallback" in str(w.message)]  # once
    assert board.run_dirs_ == [] and not (tmp_path / "runs").exists()


def test_exploding_gradients_are_detected_after_from_sklearn(digits):
    # helper-72: the monitor took its baseline at optimizer step 1, which a
    # stream converted from scikit-learn (or a warm fit) never takes: its
    # baseline stayed 0, and an exploding gradient never warned.
    from sklearn.neural_network import MLPClassifier as SkMLP

    from fastbp import GradientWarning

    X, y = digits
    sk = quiet(SkMLP((8,), max_iter=2, random_state=0).fit, X, y)
    model = MLPClassifier.from_sklearn(sk)
    quiet(model.partial_fit, X, y)
    assert (model._progress.monitor.first_sq > 0).all()
    with pytest.warns(GradientWarning, match="it is exploding"):
        for _ in range(3):
            model.partial_fit(X * 1e5, y)
    # A warm fit's monitor starts with the fit, and its optimizer goes on.
    warm = quiet(MLPClassifier((8,), max_iter=2, random_state=0).fit, X, y)
    quiet(warm.set_params(warm_start=True).fit, X, y)
    assert (warm._progress.monitor.first_sq > 0).all()


class RootEnd(StopAfter):
    """At the root task's end: what the live estimator and the
    ``fitted_estimator`` hold, and a checkpoint saved with ``fastbp.save``;
    raises ``error`` there if set."""

    def __init__(self, path, error=None):
        super().__init__(10**6, "epoch")
        self.path, self.error, self.seen = path, error, None

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, X=None, y=None):
        if context.parent is not None:
            return False
        import fastbp

        if self.error is not None:
            raise self.error
        fastbp.save(estimator, self.path)
        self.seen = {name: (getattr(estimator, "n_iter_", None), getattr(estimator, "loss_", None),
                            [c.copy() for c in model.coefs_], model.score(X, y))
                     for name, model in (("live", estimator), ("snapshot", fitted_estimator))}
        self.seen["curve"] = list(getattr(estimator, "loss_curve_", []))
        self.seen["history"] = estimator.history_["loss"].copy()
        return False


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_the_root_task_ends_with_the_fitted_model(digits, solver, tmp_path):
    # helper-102: the root "fit" task ended before the fit set its weights,
    # n_iter_ and loss_ (adam: and after it had appended to loss_curve_): a
    # checkpoint saved there was the untrained (or previous) model. As in
    # scikit-learn, the root hook gets the model fit returns.
    import fastbp

    X, y = digits
    model = quiet(MLPClassifier((8,), solver=solver, max_iter=3, random_state=0).fit,
                  X[:100], y[:100])
    root = RootEnd(tmp_path / "ckpt.fastbp")
    model.set_params(warm_start=True, max_iter=6).set_callbacks(root)
    quiet(model.fit, X, y)
    final = (model.n_iter_, model.loss_, model.coefs_, model.score(X, y))
    for name in ("live", "snapshot"):
        n_iter, loss, coefs, score = root.seen[name]
        assert (n_iter, loss, score) == (final[0], final[1], final[3]), name
        for a, b in zip(coefs, final[2]):
            np.testing.assert_array_equal(a, b)
    assert root.seen["curve"] == list(getattr(model, "loss_curve_", []))
    np.testing.assert_array_equal(root.seen["history"], model.history_["loss"])
    saved = fastbp.load(tmp_path / "ckpt.fastbp")
    assert (saved.n_iter_, saved.loss_) == final[:2]
    np.testing.assert_array_equal(saved.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_root_hook_that_raises_rolls_the_call_back(digits, solver, tmp_path):
    # helper-102: the root task now ends once the fit has set the model,
    # still within the call: a hook that raises there fails the call, which
    # leaves the model as it was.
    X, y = digits
    model = quiet(MLPClassifier((8,), solver=solver, max_iter=3, random_state=0).fit,
                  X[:100], y[:100])
    before = ([a.copy() for a in model.coefs_ + model.intercepts_], model.n_iter_,
              model.loss_, list(getattr(model, "loss_curve_", [])))
    model.set_params(warm_start=True).set_callbacks(
        RootEnd(tmp_path / "ckpt.fastbp", RuntimeError("root hook failed")))
    with pytest.raises(RuntimeError, match="root hook failed"):
        quiet(model.fit, X, y)
    for a, b in zip(before[0], model.coefs_ + model.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert (model.n_iter_, model.loss_, list(getattr(model, "loss_curve_", []))) == before[1:]
    assert not hasattr(model, "_callback_fit_ctx")  # torn down


class KeepBest(StopAfter):
    """Keeps the ``fitted_estimator`` of the epoch of lowest loss."""

    def __init__(self):
        super().__init__(10**6, "epoch")
        self.best, self.best_loss = None, np.inf

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch" and fitted_estimator.loss_ < self.best_loss:
            self.best, self.best_loss = fitted_estimator, fitted_estimator.loss_
        return False


def test_a_kept_fitted_estimator_holds_no_context_of_the_fit(digits):
    # helper-102: the snapshot (copy.copy, through __getstate__) kept the
    # live fit's callback context: trained later, with a ProgressBar it
    # raised KeyError(UUID) over bad input's ValueError, and inside a
    # search that propagated its ProgressBar it failed on valid data.
    import copy
    import pickle

    X, y = digits
    keep = KeepBest()
    quiet(MLPClassifier((8,), max_iter=3, random_state=0)
          .set_callbacks(keep, ProgressBar()).fit, X, y)
    best = keep.best
    assert not {"_callback_fit_ctx", "_skl_callbacks_to_teardown",
                "_parent_callback_ctx"} & set(best.__dict__)
    assert len(best._skl_callbacks) == 2  # its settings stay
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        quiet(best.partial_fit, X_nan, y)
    keep = KeepBest()
    search = GridSearchCV(MLPClassifier((8,), max_iter=3, random_state=0).set_callbacks(keep),
                          {"alpha": [1e-4]}, cv=2)
    quiet(search.set_callbacks(ProgressBar(max_propagation_depth=None)).fit, X, y)
    best = keep.best
    epochs = len(best.loss_curve_)
    quiet(best.set_params(warm_start=True).fit, X, y)
    assert best.n_iter_ == 3 and len(best.loss_curve_) == epochs + 3
    # Pickling and copying still carry the model and its callbacks.
    for twin in (pickle.loads(pickle.dumps(best)), copy.deepcopy(best)):
        np.testing.assert_array_equal(twin.predict(X), best.predict(X))
        assert len(twin._skl_callbacks) == len(best._skl_callbacks)


class CtrlCInHook(StopAfter):
    """Ctrl-C landing in the end hook of epoch ``n`` (0-based)."""

    def on_fit_task_end(self, estimator, context):
        if context.task_name == "epoch" and context.task_id == self.n:
            raise KeyboardInterrupt
        return False


def test_ctrl_c_in_an_epoch_end_hook_takes_that_epochs_stopping_rule_step(digits):
    # helper-102: the stopping rule's step (adaptive SGD divides its
    # learning rate, the no-improvement count starts again) ran after the
    # end hooks; an interrupt there kept the epoch without it, and a
    # following partial_fit went on unlike uninterrupted training.
    X, y = digits
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate="adaptive", tol=10.0,
              n_iter_no_change=1, random_state=0)
    plain = quiet(MLPClassifier(max_iter=3, **kw).fit, X, y)
    cut = MLPClassifier(max_iter=10, **kw).set_callbacks(CtrlCInHook(2, "epoch"))
    with pytest.warns(UserWarning, match="interrupted by user after 3 complete epoch"):
        cut.fit(X, y)
    assert cut._optimizer.learning_rate == plain._optimizer.learning_rate < 1e-3
    assert cut._no_improvement_count == plain._no_improvement_count
    cut.set_callbacks()
    for model in (plain, cut):
        quiet(model.partial_fit, X, y)
    _same_weights(plain, cut)
    np.testing.assert_array_equal(plain.history_["learning_rate"], cut.history_["learning_rate"])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_training_a_fitted_estimator_leaves_the_callers_random_state(digits, solver):
    # helper-102: the snapshot shared a RandomState passed as random_state
    # with the live fit, which draws its shuffles from it: a hook training
    # each epoch's fitted_estimator changed the live model.
    X, y = digits

    class TrainSnapshots(StopAfter):
        def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
            if context.task_name == "epoch":
                fitted_estimator.set_callbacks()
                fitted_estimator.partial_fit(X, y)
            return False

    kw = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=4, batch_size=32)
    plain = quiet(MLPClassifier(random_state=np.random.RandomState(0), **kw).fit, X, y)
    model = MLPClassifier(random_state=np.random.RandomState(0), **kw).set_callbacks(
        TrainSnapshots(10**6, "epoch"))
    quiet(model.fit, X, y)
    _same_weights(plain, model)
    assert model.loss_ == plain.loss_


@pytest.mark.parametrize("make", ["lbfgs", "pipeline"])
def test_tensorboard_warnings_point_at_the_fit_call(digits, tmp_path, make):
    # helper-102: the warnings named fastbp's callbacks.py (lbfgs) or
    # scikit-learn's pipeline.py (a Pipeline), where a filter by module or
    # a -W option could not reach them.
    from fastbp import TensorBoardCallback

    X, y = digits
    model = (MLPClassifier((8,), solver="lbfgs", max_iter=2) if make == "lbfgs" else
             make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=2)))
    model.set_callbacks(TensorBoardCallback(tmp_path / "runs"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    said = [w for w in caught if "TensorBoardCallback" in str(w.message)]
    assert len(said) == 1 and said[0].filename == __file__, [(w.filename, w.lineno)
                                                             for w in said]


class CtrlCInRootHook(StopAfter):
    """Ctrl-C landing in the root task's end hook."""

    def __init__(self):
        super().__init__(10**6, "epoch")

    def on_fit_task_end(self, estimator, context):
        if context.parent is None:
            raise KeyboardInterrupt
        return False


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_ctrl_c_in_the_root_end_hook_keeps_the_fit(digits, solver):
    # helper-119: the root hook runs inside the call's transaction, and
    # Ctrl-C there (a progress bar's last render, a checkpoint's save)
    # rolled every epoch back; in an epoch's end hook it keeps them. Fit
    # keeps the whole fit, with the interrupt's warning; partial_fit's
    # interrupt goes on and rolls its call back, as in its epoch's hook.
    X, y = digits
    plain = quiet(MLPClassifier((8,), solver=solver, max_iter=4, random_state=0).fit, X, y)
    model = MLPClassifier((8,), solver=solver, max_iter=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="interrupted by user in the fit's end hooks.*"
                                             r"keeps the whole fit \(n_iter_=4\)"):
            try:
                model.set_callbacks(CtrlCInRootHook()).fit(X, y)
            except KeyboardInterrupt:  # (would end the test session)
                pytest.fail("Ctrl-C in the root end hook threw the fit away")
    assert model.n_iter_ == plain.n_iter_ == 4 and model.loss_ == plain.loss_
    _same_weights(model, plain)
    assert not hasattr(model, "_callback_fit_ctx")  # torn down
    if solver == "lbfgs":
        return
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y)
    assert model.n_iter_ == 4 and model.loss_ == plain.loss_
    _same_weights(model, plain)


class KeepLast(StopAfter):
    """Keeps the last epoch's ``fitted_estimator``."""

    def __init__(self):
        super().__init__(10**6, "epoch")
        self.last = None

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.last = fitted_estimator
        return False


def test_a_kept_fitted_estimator_holds_none_of_a_searchs_callbacks(digits):
    # helper-119: a snapshot taken in a search kept the ProgressBar the
    # search propagated (scikit-learn takes it back from the live model
    # only): given to a search with a ProgressBar, it raised TypeError
    # ("can't have auto-propagated callbacks").
    X, y = digits
    keep = KeepLast()
    search = GridSearchCV(MLPClassifier((8,), max_iter=2, random_state=0).set_callbacks(keep),
                          {"alpha": [1e-4]}, cv=2)
    quiet(search.set_callbacks(ProgressBar(max_propagation_depth=None)).fit, X, y)
    assert keep.last._skl_callbacks == [keep]
    again = GridSearchCV(keep.last, {"alpha": [1e-3]}, cv=2, error_score="raise")
    quiet(again.set_callbacks(ProgressBar()).fit, X, y)
    assert again.best_estimator_.n_iter_ == 2
    # A snapshot of a search's fit without callbacks of its own holds none.

    class Propagated(KeepLast):
        max_propagation_depth = None  # auto-propagated (scikit-learn's protocol)

    propagated = Propagated()
    quiet(GridSearchCV(MLPClassifier((8,), max_iter=2, random_state=0), {"alpha": [1e-4]},
                       cv=2).set_callbacks(propagated).fit, X, y)
    assert propagated.last._skl_callbacks == []
    assert not callbacks.active(propagated.last)
    quiet(GridSearchCV(propagated.last, {"alpha": [1e-3]}, cv=2, error_score="raise")
          .set_callbacks(ProgressBar()).fit, X, y)


class SaveAtRoot(StopAfter):
    """Saves the model with ``fastbp.save`` at the root task's end, and
    keeps what the live estimator and its ``fitted_estimator`` hold."""

    def __init__(self, path):
        super().__init__(10**6, "epoch")
        self.path, self.seen = path, None

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.parent is None:
            import fastbp

            fastbp.save(estimator, self.path)
            self.seen = (set(estimator.__dict__), set(fitted_estimator.__dict__))
        return False


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_the_root_hook_sees_no_training_labels(digits, solver, tmp_path):
    # helper-119: the classifier dropped its copy of the training y
    # (_y_labels) after the root hook had run: the hook, its
    # fitted_estimator and a checkpoint saved there held n_samples labels
    # that the model fit returns does not.
    import fastbp

    X, y = digits
    root = SaveAtRoot(tmp_path / "root.fastbp")
    model = quiet(MLPClassifier((8,), solver=solver, max_iter=3, random_state=0,
                                class_weight="balanced").set_callbacks(root).fit, X, y)
    live, snapshot = root.seen
    assert "_y_labels" not in live | snapshot
    assert live == set(model.__dict__) | {"_callback_fit_ctx", "_skl_callbacks_to_teardown"}
    assert "_y_labels" not in fastbp.load(tmp_path / "root.fastbp").__dict__

"""fix-208: fastbp.save from another thread while a call trains the model.

save checked the "being fitted" mark once, then read and serialised the
live estimator, which a fit or partial_fit call starting meanwhile was
changing: files held a model mid-initialisation (initial weights with
n_iter_=0, or layers and classes of two fits) or a loss curve longer than
the call whose weights they held. save now serialises a snapshot taken
between two reads of the estimator's training generation, and refuses the
model as being fitted where a call overlapped it.
"""

import sys
import threading
import time

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier
from fastbp.persistence import snapshot
from fastbp.estimators import base, solvers

try:
    from .support import quiet
except ImportError:  # run as a plain module
    from support import quiet

pytest.importorskip("skops")


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16.0, y[:200]


def _model(**params):
    settings = dict(hidden_layer_sizes=(8,), solver="adam", max_iter=2, random_state=0)
    settings.update(params)
    return MLPClassifier(**settings)


def _pause_after(monkeypatch, owner, name, thread_of):
    """Make ``owner.name`` pause, in the thread ``thread_of()`` only and once,
    after it returns: ``reached`` is set there, and it waits for
    ``release``."""
    reached, release = threading.Event(), threading.Event()
    real = getattr(owner, name)

    def paused(*args, **kwargs):
        out = real(*args, **kwargs)
        if threading.current_thread() is thread_of() and not reached.is_set():
            reached.set()
            release.wait(30)
        return out

    monkeypatch.setattr(owner, name, paused)
    return reached, release


def _save_as_call_starts(monkeypatch, obj, path, call, pause_owner, pause_name):
    """``fastbp.save(obj, path)``, with ``call()`` started in another thread
    just after save has found the model not being fitted, and held inside
    the call (after ``pause_owner.pause_name`` returns) while save goes on.
    Returns the exception save raised, or None."""
    thread = threading.Thread(target=quiet, args=(call,))
    reached, release = _pause_after(monkeypatch, pause_owner, pause_name, lambda: thread)
    real_refuse = snapshot._refuse_being_fitted

    def refuse(*args, **kwargs):
        real_refuse(*args, **kwargs)
        if not thread.is_alive() and not reached.is_set():
            thread.start()
            assert reached.wait(30), "the call never reached its pause"

    monkeypatch.setattr(snapshot, "_refuse_being_fitted", refuse)
    try:
        fastbp.save(obj, path)
    except ValueError as exc:
        return exc
    finally:
        release.set()
        thread.join(30)
    return None


def _assert_refused_or_same(error, path, expected):
    """save refused the model as being fitted, or wrote ``expected``
    whole: weights, step count and history of one call."""
    if error is not None:
        assert "is being fitted" in str(error), error
        return
    loaded = fastbp.load(path)
    if hasattr(loaded, "steps"):
        loaded, expected = loaded.steps[-1][1], expected.steps[-1][1]
    assert loaded.n_iter_ == expected.n_iter_
    assert loaded.t_ == expected.t_
    assert loaded.loss_curve_ == expected.loss_curve_
    assert list(loaded.classes_) == list(expected.classes_)
    for a, b in zip(loaded.coefs_, expected.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_as_a_fit_initialises_refuses_or_saves_the_model_before(
        monkeypatch, tmp_path, data):
    # Repro A, deterministic: the other thread's fit of another shape and
    # classes has set its initial weights (n_iter_=0) when save reads.
    X, y = data
    model = quiet(_model().fit, X, y)
    before = fastbp.load(_saved(model, tmp_path / "before.fastbp"))
    refit = lambda: model.set_params(hidden_layer_sizes=(6, 5)).fit(X, y % 3)  # noqa: E731
    error = _save_as_call_starts(monkeypatch, model, tmp_path / "m.fastbp", refit,
                                 base.BaseMLP, "_initialize")
    _assert_refused_or_same(error, tmp_path / "m.fastbp", before)


def test_save_as_a_partial_fit_records_its_epoch_refuses_or_saves_the_call_before(
        monkeypatch, tmp_path, data):
    # Repro B, deterministic: the call has appended its loss to the shared
    # loss curve, and not yet set its weights, t_ and optimizer.
    X, y = data
    model = _model()
    for _ in range(3):
        quiet(model.partial_fit, X, y, classes=np.arange(10))
    before = fastbp.load(_saved(model, tmp_path / "before.fastbp"))
    error = _save_as_call_starts(monkeypatch, model, tmp_path / "m.fastbp",
                                 lambda: model.partial_fit(X, y), solvers, "fit_stochastic")
    _assert_refused_or_same(error, tmp_path / "m.fastbp", before)


def test_pipeline_saved_as_its_model_trains_is_refused_or_whole(monkeypatch, tmp_path, data):
    # A Pipeline's model, through save's walk of the objects it holds.
    X, y = data
    pipe = quiet(make_pipeline(StandardScaler(), _model()).fit, X, y)
    before = fastbp.load(_saved(pipe, tmp_path / "before.fastbp"))
    mlp = pipe.steps[-1][1]
    error = _save_as_call_starts(monkeypatch, pipe, tmp_path / "m.fastbp",
                                 lambda: mlp.partial_fit(X, y), solvers, "fit_stochastic")
    _assert_refused_or_same(error, tmp_path / "m.fastbp", before)


def _saved(obj, path):
    fastbp.save(obj, path)
    return path


def test_a_call_that_starts_and_ends_during_the_snapshot_is_not_missed(
        monkeypatch, tmp_path, data):
    # The whole call runs between save's check and its snapshot: the
    # estimator's mark is clear again by then, and only its training
    # generation says that the model changed. save takes the snapshot
    # anew and writes the model the call set.
    X, y = data
    model = _model()
    for _ in range(2):
        quiet(model.partial_fit, X, y, classes=np.arange(10))
    real_refuse = snapshot._refuse_being_fitted
    calls = []

    def refuse(*args, **kwargs):
        real_refuse(*args, **kwargs)
        if not calls:
            calls.append(1)
            thread = threading.Thread(target=quiet, args=(model.partial_fit, X, y))
            thread.start()
            thread.join(30)

    monkeypatch.setattr(snapshot, "_refuse_being_fitted", refuse)
    fastbp.save(model, tmp_path / "m.fastbp")
    assert calls
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert len(loaded.loss_curve_) == 3
    assert loaded.loss_curve_ == model.loss_curve_
    assert loaded.t_ == model.t_ == 3 * len(X)
    for a, b in zip(loaded.coefs_, model.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_call_run_whole_while_save_copies_the_model_is_not_missed(
        monkeypatch, tmp_path, data):
    # The call starts and ends while save copies the model, after the
    # copy has read some attributes and before it reads the others: the
    # mark is clear at both ends, and only the estimator's training
    # generation tells save to copy again.
    from fastbp.training.progress import Series

    X, y = data
    model = _model()
    for _ in range(2):
        quiet(model.partial_fit, X, y, classes=np.arange(10))
    saver = threading.current_thread()
    real = Series.copy
    fired = []

    def copy(self):
        if threading.current_thread() is saver and not fired:
            fired.append(1)
            thread = threading.Thread(target=quiet, args=(model.partial_fit, X, y))
            thread.start()
            thread.join(30)
        return real(self)

    monkeypatch.setattr(Series, "copy", copy)
    fastbp.save(model, tmp_path / "m.fastbp")
    assert fired, "save copied no training record"
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert len(loaded.loss_curve_) == 3
    assert loaded.loss_curve_ == model.loss_curve_
    assert loaded.t_ == model.t_ == 3 * len(X)
    for a, b in zip(loaded.coefs_, model.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_leaves_the_model_it_saves_untouched(monkeypatch, tmp_path, data):
    # The snapshot, not the user's estimator, is what save edits for
    # writing (routing requests and callbacks taken out, weights repacked):
    # a fit in another thread never meets the estimator without them, nor
    # has its new attributes overwritten by save putting the old ones back.
    import skops.io

    X, y = data
    model = quiet(_model().fit, X, y)
    with sklearn.config_context(enable_metadata_routing=True):
        model.set_fit_request(sample_weight=True)
    state = dict(model.__dict__)
    real = skops.io.dumps
    during = []

    def dumps(obj, *args, **kwargs):
        during.append(dict(model.__dict__))
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(skops.io, "dumps", dumps)
    fastbp.save(model, tmp_path / "m.fastbp")
    assert during
    for seen in during + [model.__dict__]:
        assert seen.keys() == state.keys()
        assert all(seen[k] is v for k, v in state.items())
    loaded = fastbp.load(tmp_path / "m.fastbp")
    assert loaded.get_metadata_routing().fit.requests["sample_weight"] is True


def _stress(run_training, model, tmp_path, seconds):
    """Save ``model`` to new files in a loop while ``run_training()`` trains
    it in this thread; returns the files written."""
    stop = threading.Event()
    written, errors = [], []

    def writer():
        i = 0
        while not stop.is_set():
            path = tmp_path / f"m{i}.fastbp"
            i += 1
            try:
                fastbp.save(model, path)
            except ValueError as exc:
                if "is being fitted" not in str(exc):
                    errors.append(exc)
                continue
            written.append(path)

    thread = threading.Thread(target=writer)
    # Threads switched every few microseconds rather than every 5 ms: the
    # interleavings that once wrote broken files come up within seconds.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        thread.start()
        run_training(time.monotonic() + seconds)
    finally:
        stop.set()
        thread.join(60)
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
    return written


def test_checkpoints_written_while_partial_fit_streams_are_whole(tmp_path, data):
    # Repro B as the README's checkpoint pattern: each file holds the model
    # at one call boundary (one loss per call, t_ of as many calls).
    X, y = data
    model = _model()
    quiet(model.partial_fit, X, y, classes=np.arange(10))

    def train(until):
        while time.monotonic() < until:
            quiet(model.partial_fit, X, y)
            time.sleep(0.001)

    written = _stress(train, model, tmp_path, 3.0)
    assert written
    for path in written:
        loaded = fastbp.load(path)
        assert loaded.t_ == len(loaded.loss_curve_) * len(X), path
        assert len(loaded.history_["loss"]) == len(loaded.loss_curve_), path


def test_files_written_while_fits_of_two_shapes_alternate_are_whole(tmp_path, data):
    # Repro A: every file loads, as a model trained by one whole fit.
    X, y = data
    model = quiet(_model().fit, X, y)
    shapes = [dict(hidden_layer_sizes=(8,)), dict(hidden_layer_sizes=(6, 5))]

    def train(until):
        i = 0
        while time.monotonic() < until:
            target = y if i % 2 == 0 else y % 3
            quiet(model.set_params(**shapes[i % 2]).fit, X, target)
            i += 1
            time.sleep(0.001)

    written = _stress(train, model, tmp_path, 3.0)
    assert written
    for path in written:
        loaded = fastbp.load(path)
        assert loaded.n_iter_ == 2 and len(loaded.loss_curve_) == 2, path
        assert loaded.coefs_[-1].shape[1] == len(loaded.classes_), path
        assert len(loaded.coefs_) == loaded.n_layers_ - 1, path

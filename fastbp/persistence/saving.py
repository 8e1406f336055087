"""fastbp.save: a fitted model, or an object holding one, to a file."""

import warnings

from .checks import (_check_saveable, _refuse_inconsistent_states, _refuse_unfitted,
                     _weights_as_predicted)
from .container import _describe, _write
from .dependency import _skops_io
from .encoding import _dropped_callbacks, _serialised
from .objects import _fastbp_models, _objects
from .paths import _save_destination, _save_path_argument
from .snapshot import _snapshot
from .trust import _refuse_unloadable_types


def save(obj, path):
    """Save a fitted estimator (or a Pipeline or search holding one), without pickle.

    Parameters
    ----------
    obj : estimator, or list, tuple or dict of estimators
        A fastbp estimator, or a scikit-learn object that holds one, or a
        plain list, tuple or dict of them, every fastbp model in it fitted
        (and every Pipeline or search in it that holds one).
    path : str or path-like
        The file to write (by convention ``*.fastbp``); written atomically.

    Raises
    ------
    TypeError
        If ``path`` is no str, bytes or path-like (``None``, a model: the
        message names ``path``), before anything is serialised; or if the
        object holds something that cannot be saved without pickle
        (a ``learning_rate`` or ``scoring`` callable), or holds no fastbp
        model, or only an unfitted one while itself fitted (a search that
        chose another estimator).
    ValueError
        If a fastbp model it holds is being fitted (saved from a callback
        hook: save the hook's ``fitted_estimator``; from another thread,
        also one that calls kept changing while save copied it), or if a fastbp
        model's state is one :func:`load` would refuse
        (parameters or attributes set by hand that do not fit together, a
        parameter deleted, weights that hold NaN or infinity), or
        if a dict nested in an attribute (a search's ``best_params_``,
        ``param_grid`` or ``cv_results_`` with a ``class_weight`` of
        ``{False: ..., True: ...}``) has keys skops would rebuild as other
        keys: the message names the dict's path; or if ``path`` is empty,
        before anything is serialised.
    sklearn.exceptions.NotFittedError
        If no fastbp model it holds is fitted, or one is a classifier with
        weights set by hand but no classes, or if it is a list, tuple or
        dict that holds an unfitted fastbp model (or an unfitted Pipeline
        or search holding one): the message says where.
    IsADirectoryError, FileNotFoundError, NotADirectoryError
        If ``path`` is a directory, or its directory does not exist, or is
        a file.
    OSError
        If ``path`` exists and is not a regular file (``/dev/null``, a
        named pipe), which saving would replace with one. A symbolic link
        is followed: its target is what is checked and written.

    Warns
    -----
    UserWarning
        If the object holds callbacks (``set_callbacks``): they belong to a
        run and are not saved; call ``set_callbacks`` again after
        :func:`load`. Not when called from a hook of the fit those callbacks
        drive (a checkpoint saved by one of them, ``setup`` and
        ``teardown`` included), where they are left out silently.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> import fastbp
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = fastbp.MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "iris.fastbp")
    ...     fastbp.save(clf, path)
    ...     same = fastbp.load(path)
    >>> bool(np.array_equal(same.predict(X), clf.predict(X)))
    True
    """
    _save_path_argument(obj, path)
    sio = _skops_io()
    obj, objects, estimators = _models_to_save(obj)
    _refuse_unfitted(obj, estimators)
    _check_saveable(estimators)
    # The weights as predict packs them: what the file holds.
    weights = {id(est): _weights_as_predicted(est) for est in estimators}
    _refuse_inconsistent_states(estimators, weights)
    path, shown = _save_destination(path)
    dropped = _dropped_callbacks(objects)
    payload = _serialised(sio, obj, objects, weights)
    _refuse_unloadable_types(sio, obj, payload)
    _write(path, shown, _describe(obj, estimators, payload), payload)
    if dropped:
        warnings.warn(
            f"fastbp.save does not save callbacks ({'; '.join(dropped)}): they belong to a "
            "run, not to the model. Call set_callbacks(...) again after fastbp.load to "
            "train the loaded model with them.", UserWarning, stacklevel=2)


def _models_to_save(obj):
    """``(snapshot, objects, estimators)``: a snapshot of ``obj``
    (:func:`~fastbp.persistence.snapshot._snapshot`), the scikit-learn and
    fastbp objects in it and the fastbp models among them.

    From here on, what is checked and written is the snapshot: a fit in
    another thread may change the user's model meanwhile, and save edits
    what it writes.

    Raises
    ------
    TypeError
        If ``obj`` holds no fastbp model.
    ValueError
        If a fastbp model in it is being fitted.
    """
    estimators = _fastbp_models(_objects(obj))
    if not estimators:
        raise TypeError(f"fastbp.save saves fastbp models; {type(obj).__name__} holds none. "
                        "Use skops.io.dump for other scikit-learn objects.")
    obj = _snapshot(obj, estimators)
    objects = _objects(obj)
    return obj, objects, _fastbp_models(objects)

"""fastbp.save: a fitted model, or an object holding one, to a file."""

import hashlib
import json
import os
import warnings
import zipfile

import numpy as np

from ..files import destination_problem, replace_atomically
from .checks import (_check_saveable, _unfitted_in_containers, _weights_as_predicted)
from .container import _META, _MODEL, FORMAT, FORMAT_VERSION
from .dependency import _skops_io
from .encoding import _RUN_ONLY, _plain_arrays
from .keyed_dicts import _KEYED, _keyed_dicts, _refuse_nested_keyed_dicts
from .objects import _fastbp_models, _held_within, _objects
from .paths import _path_argument
from .routing import _REQUESTS, _plain_requests
from .snapshot import _snapshot
from .trust import _refused_types


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
    try:
        _path_argument("fastbp.save(obj, path)", path,
                       "the name of the file to write as path, for example model.fastbp")
    except TypeError as exc:
        if isinstance(obj, (str, bytes, os.PathLike)):
            raise TypeError(f"{exc} Are the arguments swapped? The model comes first: "
                            "fastbp.save(model, path).") from None
        raise
    sio = _skops_io()
    objects = _objects(obj)
    estimators = _fastbp_models(objects)
    if not estimators:
        raise TypeError(f"fastbp.save saves fastbp models; {type(obj).__name__} holds none. "
                        "Use skops.io.dump for other scikit-learn objects.")
    # From here on, what is checked and written is a snapshot: a fit in
    # another thread may change the user's model meanwhile, and save
    # edits what it writes.
    obj = _snapshot(obj, estimators)
    objects = _objects(obj)
    estimators = _fastbp_models(objects)
    if not any(hasattr(est, "coefs_") for est in estimators):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        if obj is not estimators[0]:
            try:
                check_is_fitted(obj)
            except (NotFittedError, TypeError):
                pass
            else:
                # A search that chose another estimator: fitted, but what
                # it holds of fastbp is its untrained template.
                raise TypeError(
                    f"fastbp.save saves fastbp models; this fitted {type(obj).__name__} "
                    "holds no trained one (only an unfitted template, such as a search's "
                    "candidate it did not choose). Use skops.io.dump for other "
                    "scikit-learn objects.")
        raise NotFittedError(f"This {type(obj).__name__} is not fitted yet: fastbp.save "
                             "saves a trained model. Call fit first.")
    unfitted = _unfitted_in_containers(obj)
    if unfitted is not None:
        # A list of models saved one of them untrained, as a fitted one to
        # whoever loads it, where save refuses that model alone.
        from sklearn.exceptions import NotFittedError

        where, item = unfitted
        raise NotFittedError(f"{where} is an unfitted {type(item).__name__}: fastbp.save "
                             "saves trained models only. Fit it first, or leave it out.")
    _check_saveable(estimators)
    # The weights as predict packs them: what the file holds.
    weights = {id(est): _weights_as_predicted(est) for est in estimators}
    for est in estimators:
        if "coefs_" in est.__dict__:
            # Weights set by hand without what predicting needs (a
            # classifier's classes): not fitted, as predict says, with its
            # remedy, rather than an "inconsistent state" below. An unfitted
            # template (a search's) is not checked.
            est._check_weights_alone_suffice()
        # What load would refuse, refused here, when the model is still at
        # hand, rather than in production when the file is read: checked
        # on a copy holding the weights as they will be written.
        probe = object.__new__(type(est))
        probe.__dict__.update(est.__dict__)
        probe.__dict__.update(weights[id(est)])
        try:
            probe._check_loaded_state()
        except (ValueError, AttributeError, TypeError) as exc:
            # AttributeError, TypeError: state of the wrong kinds (an
            # attribute deleted, a list where an array belongs) that a check
            # read before one named it.
            raise ValueError(
                f"cannot save this {type(est).__name__}: its state is inconsistent, and "
                f"fastbp.load would refuse the file: {str(exc).rstrip('.')}.") from exc
    # The destination's problems, named after it rather than after the
    # temporary file written beside it. Bytes as str, as load reads them:
    # the temporary file's str prefix does not mix with a bytes directory.
    path = os.fsdecode(os.fspath(path))
    shown = path
    if os.path.islink(path):
        # Through the link, as open(path, "wb") would write: replacing the
        # link itself would leave its target as it was.
        path = os.path.realpath(path)
    # Special files refused: the atomic replace below would swap the
    # device or pipe for a regular file (as root, /dev/null itself).
    problem = destination_problem(path)
    if problem is not None:
        cls, message = problem
        linked = "" if shown == path else f" (a link to {path})"
        raise cls(f"cannot save to {shown}{linked}: {message}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # The atomic replace below would go through where open() would not.
        raise PermissionError(f"cannot save to {shown}: the file exists and is read-only")
    import sklearn
    import skops

    from .. import __version__

    # Callbacks and their contexts belong to a running fit, not to the model
    # (a Pipeline's or a search's too: set_callbacks(ProgressBar()) on it).
    # Said rather than done silently: pickle and clone keep them, and the
    # loaded model would train without its monitor, early stop or
    # TensorBoard writer.
    # Not from a hook of the fit they drive (a checkpoint callback saving
    # its fitted_estimator, which holds them too): said at every epoch, the
    # warning would only be noise to the callback that saves.
    from ..estimators.callbacks import saved_from_own_hook

    dropped = []
    for est in objects:
        callbacks = est.__dict__.get("_skl_callbacks") or []
        if callbacks and not saved_from_own_hook(est):
            names = ", ".join(type(c).__name__ for c in callbacks)
            dropped.append(f"{type(est).__name__}'s {names}")
    held = [(est, {k: est.__dict__.pop(k) for k in _RUN_ONLY + ("_metadata_request",)
                   if k in est.__dict__})
            for est in objects]
    memo = {}
    nested = []
    try:
        # Written as plain arrays, the weights as predict packs them; the
        # originals are put back below, so that the model in memory is as
        # it was.
        for est, attributes in held:
            replaced = {**_plain_arrays(est), **weights.get(id(est), {})}
            attributes.update({name: est.__dict__[name] for name in replaced})
            est.__dict__.update(replaced)
        # And in what a fastbp model holds (its optimizer, training record
        # and label binarizer), which _objects does not list.
        for sub in _held_within(objects):
            replaced = _plain_arrays(sub)
            if replaced:
                nested.append((sub, {name: sub.__dict__[name] for name in replaced}))
                sub.__dict__.update(replaced)
        for est, attributes in held:
            keyed = _keyed_dicts(sio, est, memo)
            # Before the attributes are moved: the paths named are the user's.
            _refuse_nested_keyed_dicts(sio, est, keyed, memo)
            for name in keyed:
                value = est.__dict__.pop(name)
                attributes.setdefault(name, value)
            if keyed:
                est.__dict__[_KEYED] = keyed
        # skops recurses without end on scikit-learn's MetadataRequest (a
        # RecursionError): the routing requests (set_fit_request, ...) are
        # saved as plain dicts, and load sets them again.
        for est, attributes in held:
            if "_metadata_request" in attributes:
                est.__dict__[_REQUESTS] = _plain_requests(attributes["_metadata_request"])
        payload = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
    finally:
        for sub, attributes in nested:
            sub.__dict__.update(attributes)
        for est, attributes in held:
            est.__dict__.pop(_REQUESTS, None)
            est.__dict__.pop(_KEYED, None)
            est.__dict__.update(attributes)
    refused = _refused_types(sio, payload)
    if refused:
        raise TypeError(
            f"{type(obj).__name__} holds objects that fastbp.load would refuse to rebuild "
            f"({refused}): save it with skops.io.dump, and load it with skops.io.load "
            "naming the types you trust.")
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "type": type(obj).__name__,
        "fastbp": __version__, "scikit-learn": sklearn.__version__,
        "skops": skops.__version__, "numpy": np.__version__,
        "dtypes": sorted({str(e._weights_dtype()) for e in estimators
                          if hasattr(e, "coefs_")}),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    def write(tmp):
        with open(tmp, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr(_META, json.dumps(meta, indent=1))
                zf.writestr(_MODEL, payload)
            fh.flush()
            os.fsync(fh.fileno())

    replace_atomically(path, write, failure=f"cannot save to {shown}")
    if dropped:
        warnings.warn(
            f"fastbp.save does not save callbacks ({'; '.join(dropped)}): they belong to a "
            "run, not to the model. Call set_callbacks(...) again after fastbp.load to "
            "train the loaded model with them.", UserWarning, stacklevel=2)

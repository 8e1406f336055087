"""fastbp.load: a model from a file, rebuilding only what it trusts."""

import os
import warnings

from .container import _check_description, _read, _warn_other_versions
from .dependency import _skops_io
from .encoding import _restore_encoded
from .objects import _fastbp_models, _objects
from ..files import path_argument
from .trust import _check_array_members, _types_to_trust


def load(path):
    """Load a model saved by :func:`save`, without unpickling anything.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator
        The saved object, fitted as it was.

    Raises
    ------
    TypeError
        If ``path`` is no str, bytes or path-like (``None``, a model).
    ValueError
        If ``path`` is empty; if the file is not a fastbp model file, is
        truncated, damaged or modified, was written by a newer format, has
        a ``fastbp.json`` whose ``type`` or ``dtypes`` (which the checksum
        does not cover) are not its model's, holds types outside
        scikit-learn's, NumPy's and fastbp's own, or holds a fastbp model
        whose state is inconsistent (edited by hand, weights that hold NaN
        or infinity) or that lacks a parameter of this fastbp's class
        (saved by an older fastbp, or edited: the message names the
        parameters and the fastbp version that saved it), or if ``path`` is
        a device, a named pipe or a socket (its content is not a model
        file).
    IsADirectoryError, FileNotFoundError, NotADirectoryError
        If ``path`` is a directory, or does not exist, or a file stands
        where one of its directories should be.
    MemoryError
        If this process cannot allocate the model an intact file holds
        (the message names the file, and does not call it damaged).

    Warns
    -----
    UserWarning
        If the file was saved with another fastbp or scikit-learn version,
        or a fastbp model in it holds public names that are no parameters
        of this fastbp's class (a newer fastbp's), which are ignored and
        dropped from the loaded model (a save of it does not write them).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> import fastbp
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = fastbp.MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "iris.fastbp")
    ...     fastbp.save(clf, path)
    ...     loaded = fastbp.load(path)
    >>> type(loaded).__name__, loaded.n_iter_ == clf.n_iter_
    ('MLPClassifier', True)
    """
    path = path_argument("fastbp.load(path)", path, "a path to a saved model")
    sio = _skops_io()
    meta, payload = _read(path)
    trusted = _types_to_trust(sio, path, payload)
    _warn_other_versions(path, meta)
    model = _rebuild(sio, path, payload, trusted)
    objects = _objects(model)
    _restore_encoded(path, objects)
    estimators = _fastbp_models(objects)
    if not estimators:
        # save never writes one: a file built by other means.
        raise ValueError(f"{os.fspath(path)} holds a {type(model).__name__}, not a fastbp "
                         "model or an object holding one")
    for est in estimators:
        _check_loaded_model(path, meta, est)
    _check_description(path, meta, model, estimators)
    return model


def _rebuild(sio, path, payload, trusted):
    """The object skops rebuilds from the model data ``payload`` of the file
    ``path``, trusting ``trusted`` beyond its own allow-list.

    Raises
    ------
    ValueError
        If the file is damaged: an array member declares more data than it
        holds, or the model cannot be rebuilt.
    MemoryError
        If this process cannot allocate the model an intact file holds.
    """
    try:
        # Before numpy allocates what a header declares: a 77 kB file may
        # declare terabytes.
        _check_array_members(payload)
        return sio.loads(payload, trusted=list(trusted))
    except MemoryError as exc:
        # Not damage: an intact model larger than what this process can
        # allocate now (a declared size the file does not hold was refused
        # above, as damage). Told as such, so that the file is not thrown away.
        raise MemoryError(f"not enough memory to load {os.fspath(path)}: rebuilding its "
                          f"model failed ({exc}); the file itself was read intact") from exc
    except RecursionError:
        # Nor is Python's recursion limit, reached by a deeply nested object.
        raise
    except Exception as exc:
        # What a file whose checksum was recomputed can make rebuilding
        # raise (a missing key, an array member cut short, a JSON value that
        # does not parse, a state a type's __setstate__ refuses): a damaged
        # file, as the docstring says, not a traceback from deep inside
        # skops. (Ctrl-C, a BaseException, goes on as it is.)
        raise ValueError(f"{os.fspath(path)} is damaged: its model cannot be rebuilt "
                         f"({type(exc).__name__}: {exc})") from exc


def _check_loaded_model(path, meta, est):
    """Refuse the fastbp model ``est`` rebuilt from the file ``path`` (whose
    ``fastbp.json`` is ``meta``) where it lacks a parameter of this
    fastbp's class or its fitted state is inconsistent; drop, with a
    warning that names :func:`load`'s caller, the attributes that are no
    parameters of this fastbp's class (a newer fastbp's).

    Raises
    ------
    ValueError
        Naming the parameters missing and the fastbp version that saved
        the file, or what is inconsistent.
    """
    from .. import __version__

    saved = meta.get("fastbp")
    name = type(est).__name__
    missing = est._missing_parameters()
    if missing:
        # Before the state check, which would name no version: a file
        # written by a fastbp whose class had fewer parameters.
        why = (f"it was saved by this fastbp ({saved}), whose {name} has them, so it "
               "was edited after it was saved" if saved == __version__ else
               f"it was saved by fastbp {saved} (this is fastbp {__version__}), whose "
               f"{name} may not have had them, or it was edited after it was saved")
        raise ValueError(f"{os.fspath(path)} holds an {name} without the parameter(s) "
                         f"{', '.join(missing)}: {why}.")
    try:
        est._check_loaded_state()
    except (ValueError, AttributeError, TypeError) as exc:
        # AttributeError, TypeError: edited state of the wrong kinds,
        # met by a check before one named it; the file is what is wrong.
        raise ValueError(
            f"{os.fspath(path)} holds an {name} whose fitted state is "
            f"inconsistent: {str(exc).rstrip('.')}. Was the file edited after it was "
            "saved, or saved from a model whose attributes were set by hand?") from exc
    unknown = est._unknown_parameters()
    if unknown:
        # A newer fastbp's parameters: this one neither checks nor uses
        # them, so the model may not train or predict as it did there.
        warnings.warn(
            f"{os.fspath(path)} holds an {name} with the attribute(s) "
            f"{', '.join(unknown)}, which are no parameters of this fastbp's {name} "
            f"(it was saved by fastbp {saved}; this is fastbp {__version__}): they are "
            "ignored, and dropped from the loaded model. Check its predictions before "
            "relying on it.",
            UserWarning, stacklevel=3)
        # Dropped, not kept: kept, a save of the loaded model wrote them
        # again, and every later load repeated this warning about names
        # this fastbp never used.
        for attr in unknown:
            del est.__dict__[attr]

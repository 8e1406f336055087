"""fastbp.load: a model from a file, rebuilding only what it trusts."""

import os
import warnings

from .container import _META, _read
from .dependency import _skops_io
from .keyed_dicts import _KEYED, _set_keyed_dicts
from .objects import _fastbp_models, _objects
from .paths import _path_argument
from .routing import _REQUESTS, _set_requests
from .trust import _allowed, _check_array_members


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
    path = _path_argument("fastbp.load(path)", path, "a path to a saved model")
    sio = _skops_io()
    meta, payload = _read(path)
    try:
        untrusted = sio.get_untrusted_types(data=payload)
    except Exception as exc:  # skops' own container is damaged
        raise ValueError(f"{os.fspath(path)} is damaged: {type(exc).__name__}: {exc}") from exc
    unexpected = sorted(t for t in set(untrusted) if not _allowed(t))
    if unexpected:
        raise ValueError(
            f"{os.fspath(path)} holds types that fastbp does not load: {unexpected}. If you "
            "trust the file, inspect it with skops.io.get_untrusted_types and load its "
            "model.skops member with skops.io.load(..., trusted=[...]).")
    import sklearn

    from .. import __version__

    for key, current in (("fastbp", __version__), ("scikit-learn", sklearn.__version__)):
        if meta.get(key) != current:
            warnings.warn(f"{os.fspath(path)} was saved with {key} {meta.get(key)}; this is "
                          f"{key} {current}. Check its predictions before relying on it.",
                          UserWarning, stacklevel=2)
    try:
        # Before numpy allocates what a header declares: a 77 kB file may
        # declare terabytes.
        _check_array_members(payload)
        model = sio.loads(payload, trusted=list(untrusted))
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
    objects = _objects(model)
    for item in objects:
        plain = getattr(item, "__dict__", {}).pop(_REQUESTS, None)
        keyed = getattr(item, "__dict__", {}).pop(_KEYED, None)
        try:
            if keyed is not None:
                _set_keyed_dicts(item, keyed)
            if plain is not None:
                _set_requests(item, plain)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)} is damaged or was edited: {exc}") from exc
    estimators = _fastbp_models(objects)
    if not estimators:
        # save never writes one: a file built by other means.
        raise ValueError(f"{os.fspath(path)} holds a {type(model).__name__}, not a fastbp "
                         "model or an object holding one")
    saved = meta.get("fastbp")
    for est in estimators:
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
                UserWarning, stacklevel=2)
            # Dropped, not kept: kept, a save of the loaded model wrote them
            # again, and every later load repeated this warning about names
            # this fastbp never used.
            for attr in unknown:
                del est.__dict__[attr]
    # The checksum covers the model data only (model.skops), not
    # fastbp.json, whose type and dtypes read_metadata reports without
    # loading: compared here with what was rebuilt, so that an edited
    # fastbp.json is not taken as a description of the model it holds.
    described = {"type": type(model).__name__,
                 "dtypes": sorted({str(est._weights_dtype()) for est in estimators
                                   if hasattr(est, "coefs_")})}
    for field, actual in described.items():
        if meta.get(field) != actual:
            raise ValueError(
                f"{os.fspath(path)} is damaged or was edited: the {field} its {_META} "
                f"records, {meta.get(field)!r}, is not its model's, {actual!r}.")
    return model

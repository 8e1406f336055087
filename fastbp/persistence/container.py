"""The model file: a zip archive of ``fastbp.json`` (the format, the
versions that wrote it, the model's dtypes and a checksum) and
``model.skops`` (the object graph), read back and checked before
anything in it is rebuilt."""

import hashlib
import json
import os
import warnings
import zipfile
import zlib

from ..files import path_argument, replace_atomically, source_problem


FORMAT = "fastbp-model"
#: 2: a model's per-epoch records (``history_``, ``loss_curve_``,
#: ``validation_scores_``) are saved once, in its training record, and
#: rebuilt from it on loading (``estimators/saved_records.py``); a fastbp
#: that reads only version 1 would load such a model without them, so it
#: is told to upgrade instead. Version 1 files load as they did.
FORMAT_VERSION = 2
_MODEL = "model.skops"
_META = "fastbp.json"


def read_metadata(path):
    """The metadata of a saved model (versions, dtypes, checksum), without
    loading it.

    Parameters
    ----------
    path : str or path-like
        The file :func:`save` wrote.

    Returns
    -------
    dict
        What :func:`save` recorded: ``"format"`` (``"fastbp-model"``),
        ``"format_version"`` (int), ``"type"`` (the class name of the object
        saved: ``"MLPClassifier"``, ``"Pipeline"``, ...), ``"fastbp"``,
        ``"scikit-learn"``, ``"skops"`` and ``"numpy"`` (the versions that
        saved it), ``"dtypes"`` (sorted list of the weights' dtypes of the
        fitted fastbp models in it, such as ``["float32"]``) and
        ``"sha256"`` (the checksum of the model data, checked here).

    Raises
    ------
    TypeError
        If ``path`` is no str, bytes or path-like (``None``, a model).
    ValueError
        If the file is not a fastbp model file, is truncated, damaged or
        modified (its checksum does not match), was written in a newer
        format, or if ``path`` is empty, a device, a named pipe or a socket.
    IsADirectoryError, FileNotFoundError, NotADirectoryError
        If ``path`` is a directory, or does not exist, or a file stands
        where one of its directories should be.
    """
    path = path_argument("fastbp.read_metadata(path)", path, "a path to a saved model")
    meta, _ = _read(path)
    return meta


def _read(path):
    """``(meta, payload)``: the ``fastbp.json`` (a dict) and the
    ``model.skops`` (bytes) of the file ``path``, its format, version and
    checksum checked.

    Raises
    ------
    ValueError
        If the file is not a fastbp model file, is damaged or modified, or
        was written in a newer format.
    OSError
        What :func:`~fastbp.files.source_problem` finds of ``path``.
    """
    # Bytes as save takes them (zipfile would take bytes for a file object).
    path = os.fsdecode(os.fspath(path))
    problem = source_problem(path, wanted="a model file")
    if problem is not None:
        cls, message = problem
        raise cls(f"cannot load {path}: {message}")
    meta, payload = _members(path)
    _check_header(path, meta, payload)
    return meta, payload


def _members(path):
    """``(meta, payload)`` as the zip file ``path`` holds them, or a
    ``ValueError`` that says the file is no model file or is damaged."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {_META, _MODEL} <= names:
                # A damaged central directory can hide the members too, and a
                # file cut short ends in the directory of the skops archive
                # stored inside it (helper-43): what was read is shown.
                shown = ", ".join(sorted(names)[:4]) + (", ..." if len(names) > 4 else "")
                raise ValueError(
                    f"{path} is not a fastbp model file, or it is truncated or damaged: the "
                    f"zip archive read from it has no {_META} and {_MODEL} (it lists "
                    f"{shown or 'nothing'}).")
            meta = json.loads(zf.read(_META))
            payload = zf.read(_MODEL)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a fastbp model file, or it is truncated or "
                         f"damaged ({exc}).") from exc
    except (EOFError, zlib.error, json.JSONDecodeError, UnicodeDecodeError,
            NotImplementedError, KeyError) as exc:
        raise ValueError(f"{path} is damaged: {type(exc).__name__}: {exc}") from exc
    except RuntimeError as exc:
        # A flipped flag bit makes zipfile ask for a password ("is
        # encrypted", a RuntimeError, which fastbp never writes), and a
        # fastbp.json nested without end exhausts json's recursion (a
        # RecursionError, one too).
        raise ValueError(f"{path} is damaged: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError)):
            raise
        # A damaged central directory sends zipfile seeking before the
        # file's start ("[Errno 22] Invalid argument").
        raise ValueError(f"{path} is not a fastbp model file, or it is truncated or "
                         f"damaged ({exc}).") from exc
    return meta, payload


def _check_header(path, meta, payload):
    """Refuse the file ``path`` unless its ``fastbp.json`` (``meta``)
    declares this format, in a version this fastbp reads, and the checksum
    of ``payload``."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastbp model file (its {_META} does not "
                         f"declare format {FORMAT!r}).")
    version = meta.get("format_version")
    # Every file fastbp writes has a version from 1 up (bool is an int too).
    if type(version) is not int or version < 1:
        raise ValueError(f"{path} is damaged: its format_version is {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by fastbp {meta.get('fastbp')} in format version "
            f"{meta.get('format_version')}; this fastbp reads up to version {FORMAT_VERSION}. "
            "Upgrade fastbp to load it.")
    if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
        raise ValueError(f"{path} is damaged or was modified: the checksum of {_MODEL} "
                         "does not match the one recorded when it was saved.")


def _dtypes(estimators):
    """The sorted dtypes (names) of the weights of the fitted models among
    ``estimators``, as ``fastbp.json`` records them."""
    return sorted({str(est._weights_dtype()) for est in estimators if hasattr(est, "coefs_")})


def _describe(obj, estimators, payload):
    """The ``fastbp.json`` of a file holding ``obj`` (its fastbp models
    ``estimators``) as ``payload``: the format, the versions writing it,
    the dtypes and the checksum."""
    import numpy as np
    import sklearn
    import skops

    from .. import __version__

    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "type": type(obj).__name__,
        "fastbp": __version__, "scikit-learn": sklearn.__version__,
        "skops": skops.__version__, "numpy": np.__version__,
        "dtypes": _dtypes(estimators),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def _write(path, shown, meta, payload):
    """Write the model file ``path`` (``shown`` in messages) holding
    ``meta`` and ``payload``, atomically: a failure leaves what was there."""
    def write(tmp):
        with open(tmp, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr(_META, json.dumps(meta, indent=1))
                zf.writestr(_MODEL, payload)
            fh.flush()
            os.fsync(fh.fileno())

    replace_atomically(path, write, failure=f"cannot save to {shown}")


def _warn_other_versions(path, meta):
    """Warn, as :func:`~fastbp.persistence.load` (whose caller the warning
    names), where the file ``path`` was saved with another fastbp or
    scikit-learn version than this."""
    import sklearn

    from .. import __version__

    for key, current in (("fastbp", __version__), ("scikit-learn", sklearn.__version__)):
        if meta.get(key) != current:
            warnings.warn(f"{os.fspath(path)} was saved with {key} {meta.get(key)}; this is "
                          f"{key} {current}. Check its predictions before relying on it.",
                          UserWarning, stacklevel=3)


def _check_description(path, meta, model, estimators):
    """Refuse a ``fastbp.json`` (``meta``) whose type or dtypes are not those
    of the ``model`` rebuilt from ``path`` (its fastbp models
    ``estimators``).

    The checksum covers the model data only (model.skops), not
    fastbp.json, whose type and dtypes read_metadata reports without
    loading: compared here with what was rebuilt, so that an edited
    fastbp.json is not taken as a description of the model it holds.
    """
    described = {"type": type(model).__name__, "dtypes": _dtypes(estimators)}
    for field, actual in described.items():
        if meta.get(field) != actual:
            raise ValueError(
                f"{os.fspath(path)} is damaged or was edited: the {field} its {_META} "
                f"records, {meta.get(field)!r}, is not its model's, {actual!r}.")

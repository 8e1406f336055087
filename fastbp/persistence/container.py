"""The model file: a zip archive of ``fastbp.json`` (the format, the
versions that wrote it, the model's dtypes and a checksum) and
``model.skops`` (the object graph), read back and checked before
anything in it is rebuilt."""

import hashlib
import json
import os
import zlib
import zipfile

from ..files import source_problem
from .paths import _path_argument


FORMAT = "fastbp-model"
FORMAT_VERSION = 1
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
    path = _path_argument("fastbp.read_metadata(path)", path, "a path to a saved model")
    meta, _ = _read(path)
    return meta


def _read(path):
    # Bytes as save takes them (zipfile would take bytes for a file object).
    path = os.fsdecode(os.fspath(path))
    problem = source_problem(path, wanted="a model file")
    if problem is not None:
        cls, message = problem
        raise cls(f"cannot load {path}: {message}")
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
    return meta, payload

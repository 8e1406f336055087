"""What :func:`~fastbp.persistence.load` lets skops rebuild of a file
(:func:`_allowed`), beyond skops' own allow-list, and the checks of a
file's arrays before NumPy allocates them."""

import os
import zipfile

import numpy as np


#: fastbp's own types that a saved model may contain.
TRUSTED = (
    "fastbp.estimators.classifier.MLPClassifier",
    "fastbp.estimators.regressor.MLPRegressor",
    "fastbp.training.diagnostics.GradientMonitor",
    "fastbp.training.optimizers.StochasticOptimizer",
    "fastbp.training.progress.Progress",
    "fastbp.training.progress.Series",
    # The regression target's scaler of a model fastbp train --data saves.
    "fastbp.cli_data.target.TargetScaler",
    # A dtype (SimpleImputer's _fit_dtype): built from a type code, it can
    # name no function to call.
    "numpy.dtype",
    # Containers of fitted ensembles (VotingClassifier's and
    # StackingClassifier's named_estimators_, CalibratedClassifierCV's
    # calibrated_classifiers_): built from their stored attributes, they
    # call nothing.
    "sklearn.utils._bunch.Bunch",
    "sklearn.calibration._CalibratedClassifier",
)

#: The spellings of NumPy's ``positive`` ufunc, the cast of the scaler a
#: model ``fastbp train --data`` saves. skops names a ufunc where it finds
#: it, and NumPy moved it: 1.x writes ``numpy.core._multiarray_umath``, 2.x
#: ``numpy`` (2.0 ``numpy._core._multiarray_umath``); skops trusts only the
#: running NumPy's spelling, so without these a model saved under one NumPy
#: would not load under the other (pyproject allows both). Each of them
#: imports, without a warning, as ``numpy.positive`` under 1.26 and 2.x
#: alike: NumPy keeps ``numpy.core`` and ``numpy._core`` shims for its
#: ufuncs for pickles' sake.
POSITIVE_UFUNC = (
    "numpy.positive",
    "numpy.core._multiarray_umath.positive",
    "numpy._core._multiarray_umath.positive",
)


# Parts of scikit-learn that deciding about a file never imports: importing
# sklearn.experimental.enable_* changes scikit-learn (it adds the
# experimental estimators to their public modules), and tests and conftest
# modules are no library (they may import pytest and set global state).
_NOT_IMPORTED = ("experimental", "tests", "test", "conftest", "externals")


def _sklearn_attribute(module, attr):
    """``attr`` of the scikit-learn module ``module``, or None.

    A name in a file is untrusted: deciding about it must not import what
    a user would not. A module already imported is looked in as it is;
    otherwise only its public package is imported, as ``import
    sklearn.linear_model`` would (which imports the private modules that
    define its classes), and then a module of public packages with at
    most a private last part (``sklearn.model_selection._search_successive_halving``).
    Nothing in ``sklearn.experimental``, tests, or a private package is
    imported for a file.
    """
    import importlib
    import sys

    parts = module.split(".")
    if parts[0] != "sklearn" or len(parts) < 2 or any(
            part in _NOT_IMPORTED or part.startswith(("test", "__")) for part in parts[1:]):
        return None
    try:
        found = sys.modules.get(module)
        if found is None and not parts[1].startswith("_"):
            importlib.import_module(".".join(parts[:2]))
            found = sys.modules.get(module)
            if found is None and not any(part.startswith("_") for part in parts[1:-1]):
                found = importlib.import_module(module)
        return None if found is None else getattr(found, attr, None)
    except Exception:  # not importable, or a module __getattr__ that raises: not allowed
        return None


def _allowed(name):
    """Whether ``load`` may rebuild the type or function ``name`` (beyond
    skops' own allow-list).

    fastbp's own types; scikit-learn *classes* that are estimators, CV
    splitters or scorers (a search result holds its splitter and scorer);
    and scikit-learn's public metric functions (a scorer's score
    function); and the spellings NumPy 1.x and 2.x give ``numpy.positive``
    (:data:`POSITIVE_UFUNC`). Nothing else: skops may call a type while loading
    (``ConstructorFromReduceNode``), so a prefix rule such as "anything in
    sklearn" would let a file call any function scikit-learn defines.
    """
    if name in TRUSTED or name in POSITIVE_UFUNC:
        return True
    module, _, attr = name.rpartition(".")
    obj = _sklearn_attribute(module, attr)
    if obj is None:
        return False
    if isinstance(obj, type):
        if (module in ("sklearn.metrics._scorer", "sklearn.model_selection._split")
                and obj.__module__ == module):
            # Scorers (some, like _PassthroughScorer, not _BaseScorer) and
            # splitters defined there; not what those modules import
            # (functools.partial, abc.ABCMeta, itertools.chain).
            return True
        from sklearn.base import BaseEstimator
        from sklearn.metrics._scorer import _BaseScorer
        from sklearn.model_selection._split import BaseCrossValidator, BaseShuffleSplit

        return issubclass(obj, (BaseEstimator, BaseCrossValidator, BaseShuffleSplit,
                                _BaseScorer))
    import sklearn.metrics

    return attr in sklearn.metrics.__all__ and getattr(sklearn.metrics, attr) is obj


def _check_array_members(payload):
    """Raise ``ValueError`` where an array member (``.npy``) of the skops
    archive ``payload`` declares more data than it holds.

    ``np.load`` allocates what the header declares before reading: a header
    edited to shape ``(10**12,)`` would ask for terabytes (a MemoryError),
    or for gigabytes it then fails to fill. Only the headers are read.
    """
    import io
    import math

    fmt = np.lib.format
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as fh:
                try:
                    version = fmt.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = fmt.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, _, dtype = fmt.read_array_header_2_0(fh)
                    else:  # np.save writes 1.0 (2.0 for huge headers) without pickle
                        raise ValueError(f".npy format version {version}, which skops "
                                         "does not write")
                except ValueError as exc:  # cut short, or not a header numpy reads
                    raise ValueError(f"its array {info.filename} has no valid .npy "
                                     f"header ({exc})") from exc
                held = info.file_size - fh.tell()
            if dtype.hasobject:  # np.load refuses it without pickle, allocating nothing
                continue
            declared = math.prod(shape) * dtype.itemsize
            if declared > held:
                raise ValueError(f"its array {info.filename} declares shape {shape} of "
                                 f"{dtype} ({declared} bytes) and holds {held} bytes")


def _refused_types(sio, payload):
    """The types of ``payload`` that :func:`load` would refuse."""
    return sorted(t for t in set(sio.get_untrusted_types(data=payload)) if not _allowed(t))


def _refuse_unloadable_types(sio, obj, payload):
    """Refuse, with a ``TypeError``, to write ``obj`` (serialised as
    ``payload``) where it holds types that :func:`~fastbp.persistence.load`
    would refuse: save does not write what load would not read."""
    refused = _refused_types(sio, payload)
    if refused:
        raise TypeError(
            f"{type(obj).__name__} holds objects that fastbp.load would refuse to rebuild "
            f"({refused}): save it with skops.io.dump, and load it with skops.io.load "
            "naming the types you trust.")


def _types_to_trust(sio, path, payload):
    """The types beyond skops' own allow-list that the model data
    ``payload`` of the file ``path`` holds, every one of them
    :func:`_allowed`.

    Raises
    ------
    ValueError
        If skops' container is damaged, or the file holds a type that is
        not allowed (the message lists them).
    """
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
    return untrusted

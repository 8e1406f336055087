"""The path arguments of save, load and read_metadata, checked before any
work."""

import os


def _path_argument(call, path, wanted):
    """``path`` as a str, or a ``TypeError`` or ``ValueError`` that names
    ``call`` (``"fastbp.load(path)"``) and what it takes (``wanted``), for
    a path that is no str, bytes or path-like, or is empty.

    Checked before any work: ``os.fspath`` deep inside said only "expected
    str, bytes or os.PathLike object, not NoneType", naming no argument,
    and an empty path failed only after save had serialised the whole
    model (at the rename of its temporary file onto '').
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        from sklearn.base import BaseEstimator

        if path is None:
            got = "None"
        elif isinstance(path, BaseEstimator):
            from sklearn.utils.validation import check_is_fitted

            try:
                check_is_fitted(path)
                got = f"a fitted {type(path).__name__}"
            except Exception:  # NotFittedError, or a TypeError of an odd estimator
                got = f"an unfitted {type(path).__name__}"
        else:
            got = f"an object of type {type(path).__name__}"
        raise TypeError(f"{call} takes {wanted}; got {got}.")
    path = os.fsdecode(os.fspath(path))
    if not path:
        raise ValueError(f"{call} takes {wanted}; got an empty path.")
    return path

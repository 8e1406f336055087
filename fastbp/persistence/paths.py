"""The path arguments of save, load and read_metadata, checked before any
work, and the file save writes to."""

import os

from ..files import destination_problem, path_argument


def _save_path_argument(obj, path):
    """:func:`fastbp.files.path_argument` for :func:`~fastbp.persistence.save`,
    whose ``TypeError`` asks whether the arguments are swapped where ``obj``
    is a path."""
    try:
        path_argument("fastbp.save(obj, path)", path,
                       "the name of the file to write as path, for example model.fastbp")
    except TypeError as exc:
        if isinstance(obj, (str, bytes, os.PathLike)):
            raise TypeError(f"{exc} Are the arguments swapped? The model comes first: "
                            "fastbp.save(model, path).") from None
        raise


def _save_destination(path):
    """``(path, shown)``: the file save writes (through a symbolic link, its
    target) and ``path`` as given, for messages.

    The destination's problems are named after it rather than after the
    temporary file written beside it. Bytes as str, as load reads them:
    the temporary file's str prefix does not mix with a bytes directory.

    Raises
    ------
    IsADirectoryError, FileNotFoundError, NotADirectoryError, OSError
        What :func:`~fastbp.files.destination_problem` finds.
    PermissionError
        If the file exists and is read-only.
    """
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
        # The atomic replace would go through where open() would not.
        raise PermissionError(f"cannot save to {shown}: the file exists and is read-only")
    return path, shown

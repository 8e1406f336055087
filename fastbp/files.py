"""The checks and writing of the files fastbp reads and writes: saved
models (:mod:`fastbp.persistence`), the command line's tables and plots
(:mod:`fastbp.cli_data`) and TensorBoard's logs (:mod:`fastbp.tensorboard`).

Why a path cannot be written or read is worded here, once
(:func:`destination_problem`, :func:`source_problem`): each caller puts its
own words in front (``cannot save to m.fastbp: ...``, ``--model-out
m.fastbp: ...``), and a file standing where a directory should be is named
as such everywhere, not as a file or directory that "does not exist".

The standard library only: the command line imports this before any work,
and the layers below the estimators may use it.
"""

import os
import stat
import tempfile

# For fastbp's own modules: the package does not re-export them.
__all__ = ["destination_problem", "file_in_the_way", "path_argument", "replace_atomically",
           "source_problem", "special_file"]


def _proc_umask():
    """The umask from /proc, or None where there is none (macOS)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return None


def _set_umask_read():
    # os.umask can only be read by setting it, which changes it for every
    # thread for a moment: done once, at import, where /proc cannot say.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_IMPORT_UMASK = _proc_umask()
if _IMPORT_UMASK is None:
    _IMPORT_UMASK = _set_umask_read()


def _read_umask():
    """The umask now where /proc says it (a process may tighten it after
    importing fastbp), else the one read at import."""
    mask = _proc_umask()
    return _IMPORT_UMASK if mask is None else mask


def path_argument(call, path, wanted, empty_ok=False):
    """``path`` as a str, or an error that names ``call`` and says what it
    takes, for a path that is no str, bytes or path-like, or is empty.

    Checked before any work: ``os.fspath`` (or ``open``) deep inside said
    only "expected str, bytes or os.PathLike object, not NoneType", naming
    no argument.

    Parameters
    ----------
    call : str
        The call and its argument, as the message names them
        (``"read_idx(path)"``).
    path : object
        What the caller was given as the path.
    wanted : str
        What ``call`` takes there (``"the path of an IDX file"``).
    empty_ok : bool, default=False
        Return an empty path, which the caller explains itself, rather
        than refuse it.

    Returns
    -------
    str
        ``path``, decoded as the file system encodes names.

    Raises
    ------
    TypeError
        If ``path`` is not a str, bytes or path-like (None, an estimator:
        "``call`` takes ``wanted``; got None.").
    ValueError
        If ``path`` is empty, unless ``empty_ok``.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{call} takes {wanted}; got {_described(path)}.")
    path = os.fsdecode(os.fspath(path))
    if not path and not empty_ok:
        raise ValueError(f"{call} takes {wanted}; got an empty path.")
    return path


def _described(obj):
    """``obj`` in a few words: None, a fitted or unfitted estimator (a path
    and a model passed in each other's place), or its type."""
    if obj is None:
        return "None"
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    if hasattr(obj, "fit") and hasattr(obj, "get_params"):
        # scikit-learn's check_is_fitted, without importing it: an
        # estimator's own test, else attributes set by fitting (``coef_``).
        is_fitted = getattr(obj, "__sklearn_is_fitted__", None)
        try:
            fitted = (bool(is_fitted()) if is_fitted is not None
                      else any(v.endswith("_") and not v.startswith("__") for v in vars(obj)))
        except Exception:  # noqa: BLE001 - an odd estimator: not described as fitted
            fitted = False
        return f"{'a fitted' if fitted else 'an unfitted'} {type(obj).__name__}"
    return f"an object of type {type(obj).__name__}"


def file_in_the_way(path):
    """The nearest of ``path`` and its parents that exists, when it is not
    a directory: a file where a directory is needed (the system says "Not
    a directory", or "File exists" to ``os.makedirs``); ``None`` otherwise.

    Parameters
    ----------
    path : str
        A directory's path; not normalised, so ``a/..`` still needs ``a``.

    Returns
    -------
    str or None
    """
    path = path.rstrip(os.sep) or path  # "f/" is f, not a child of it
    while path:
        if os.path.exists(path):
            return None if os.path.isdir(path) else path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return None


def special_file(path):
    """What ``path`` is, in words, when it exists and is neither a regular
    file nor a directory (a device, a FIFO, a socket), following symbolic
    links; ``None`` otherwise.

    Saving replaces the file at ``path`` with a new one: over ``/dev/null``
    or a named pipe that would put a regular file in its place.

    Parameters
    ----------
    path : str

    Returns
    -------
    str or None
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:  # absent, or a dangling link: written as a new file
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    for test, kind in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


def _file_in_the_way(blocking):
    # helper-134: "the directory a/b does not exist" or "no such file" of a
    # path under the file a, which the user then looked for in vain.
    return f"{blocking} is a file, not a directory"


def destination_problem(path, special_ok=False):
    """Why a file cannot be written at ``path``, or ``None``.

    A symbolic link is judged by what it points to, as ``open(path, "w")``
    would write through it. Whether the file or its directory may be
    written (permissions) is not checked here.

    Parameters
    ----------
    path : str, bytes or path-like
        The file to write; not normalised, so ``missing/../m`` needs
        ``missing`` to exist, as the system does.
    special_ok : bool, default=False
        Whether an existing device, named pipe or socket is a destination
        (written through, as ``/dev/stdout``), rather than a problem: the
        file is otherwise replaced by a new one (:func:`replace_atomically`),
        which would put a regular file in the place of ``/dev/null``.

    Returns
    -------
    tuple of (type, str) or None
        The exception class that describes the problem and the
        explanation, to follow the caller's own words ("cannot save to
        m.fastbp: ..."): ``IsADirectoryError`` for a directory,
        ``NotADirectoryError`` for a file where a directory should be,
        ``FileNotFoundError`` for a directory that does not exist and
        ``OSError`` for a special file.
    """
    path = os.fsdecode(os.fspath(path))
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.isdir(path):
        return IsADirectoryError, "it is a directory; give a file name"
    directory = os.path.dirname(path) or os.curdir
    if not os.path.isdir(directory):
        blocking = file_in_the_way(directory)
        if blocking is not None:
            return NotADirectoryError, _file_in_the_way(blocking)
        return FileNotFoundError, f"the directory {directory} does not exist"
    kind = None if special_ok else special_file(path)
    if kind is not None:
        return OSError, (f"it is {kind}, not a regular file; give the name of a file to "
                         "write")
    return None


def source_problem(path, wanted="a regular file"):
    """Why a file cannot be read from ``path``, or ``None``.

    Parameters
    ----------
    path : str, bytes or path-like
        The file to read.
    wanted : str, default="a regular file"
        What the file should be, for the explanation ("it is a directory,
        not a model file").

    Returns
    -------
    tuple of (type, str) or None
        The exception class that describes the problem and the
        explanation, to follow the caller's own words ("cannot load
        m.fastbp: ..."): ``IsADirectoryError`` for a directory,
        ``ValueError`` for a special file (a named pipe would block the
        reader, and ``/dev/zero`` never ends), ``NotADirectoryError`` for a
        file where one of its directories should be and
        ``FileNotFoundError`` for a file that does not exist.
    """
    path = os.fsdecode(os.fspath(path))
    if os.path.isdir(path):
        return IsADirectoryError, f"it is a directory, not {wanted}"
    kind = special_file(path)
    if kind is not None:
        return ValueError, f"it is {kind}, not {wanted}"
    if not os.path.exists(path):
        blocking = file_in_the_way(os.path.dirname(path))
        if blocking is not None:
            return NotADirectoryError, _file_in_the_way(blocking)
        return FileNotFoundError, "no such file"
    return None


def replace_atomically(path, write, failure=None):
    """Write the file ``path`` through ``write(tmp)`` into a new file beside
    it, then rename that onto ``path``: a Ctrl-C or an error midway leaves
    ``path`` as it was, not a truncated file that reads as a complete one.

    Parameters
    ----------
    path : str
        The file to write; its directory must exist.
    write : callable
        ``write(tmp)`` writes the whole content to the path ``tmp``.
    failure : str, optional
        Where the temporary file cannot be made (a directory this user
        cannot write), the error's message starts with it ("cannot save to
        m.fastbp") rather than naming the temporary file.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=".fastbp-", suffix=".tmp",
                                   dir=os.path.dirname(path) or os.curdir)
    except OSError as exc:
        if failure is None:
            raise
        raise type(exc)(exc.errno, f"{failure}: {exc.strerror}") from exc
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file private (0600); give it the mode of the
        # file it replaces, or the usual one.
        os.chmod(tmp, (os.stat(path).st_mode & 0o7777) if os.path.exists(path)
                 else 0o666 & ~_read_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise

"""What the command line says when something goes wrong: the
:class:`CLIError` it reports as ``fastbp: error: ...``, the other failures
it reports so (:data:`REPORTED_ERRORS`) and their one-line text, its
warnings, the exit status of an interrupted command, and pandas, an
optional dependency, fetched with the extra that installs it named.
"""

import sys

_CLI_EXTRA = 'pip install "fastbp[cli]"'


class CLIError(Exception):
    """A user-facing error: printed as ``fastbp: error: ...``, exit 2."""


def print_note(text):
    """Print ``text`` as the command line's notes are printed: a line
    ``note: ...`` on stderr. The default ``note`` of the checks that take
    one; :func:`fastbp.read_data` passes its own, which warns instead."""
    print(f"note: {text}", file=sys.stderr)


def _pandas(purpose="reading data files"):
    """The pandas module, or a :class:`CLIError` naming the extra that
    installs it (``purpose``: what needs it, for the message).

    Every command that reads or writes a data file gets pandas here: an
    unguarded import ahead of :func:`read_table` would end ``train`` and
    ``predict`` with ImportError's own words ("No module named 'pandas'")
    instead of what to install.
    """
    try:
        import pandas
    except ImportError as exc:
        raise CLIError(f"{purpose} needs pandas: {_CLI_EXTRA}") from exc
    return pandas


#: The exit status of a command stopped by Ctrl-C, as the shell gives one
#: that SIGINT killed (128 + 2).
EXIT_INTERRUPTED = 130


def show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` of the command line: one line ``warning:
    Category: message`` on stderr, as the notes and errors are. Python's
    own format adds the source file and line, which mean nothing to a
    command-line user."""
    print(f"warning: {category.__name__}: {' '.join(str(message).split())}",
          file=sys.stderr, flush=True)


def one_line(text):
    """``text``'s lines joined by spaces, blank ones dropped (the spaces
    within a line, a column name's among them, kept as they are)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def error_message(exc):
    """``exc`` as the one line after ``fastbp: error:`` ("[Errno 21] Is a
    directory: 'out'" as "out: Is a directory")."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, MemoryError):
        # NumPy's says what it could not allocate; Python's own says nothing.
        return f"out of memory{': ' + str(exc) if str(exc) else ''}"
    return str(exc)


#: The failures the command line reports in one line ``fastbp: error: ...``
#: (any other exception is fastbp's bug, and shows its traceback).
REPORTED_ERRORS = (CLIError, OSError, ValueError, TypeError, ImportError, RuntimeError,
                   MemoryError)

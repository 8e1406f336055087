"""The files the command line writes: their paths checked before any
work (``--model-out``, ``--history-out``, ``--plot``, ``predict --out``;
none may overwrite an input), and the model, history and plot written
after training.
"""

import os
import sys

from ..files import destination_problem, replace_atomically, special_file
from .messages import _CLI_EXTRA, REPORTED_ERRORS, CLIError, _pandas, error_message
from .tables import TABLE_SUFFIXES, write_table


def check_output_path(path, option, special_ok=False):
    """Refuse an output path that cannot be written, before any training.

    Parameters
    ----------
    path : str or None
        The path given; ``None`` when the option was not.
    option : str
        The option's name, for the message.
    special_ok : bool, default=False
        Whether an existing device or named pipe may be written through
        (``predict --out /dev/stdout``). The model is saved by replacing
        the file at its path, which would put a regular file in the place
        of ``/dev/null`` or a pipe; the history and plot are refused alike,
        as files. A symbolic link is judged by what it points to.
    """
    if path is None:
        return
    if not path:
        raise CLIError(f"{option}: an empty path")
    problem = destination_problem(path, special_ok=special_ok)
    if problem is not None:
        raise CLIError(f"{option} {path}: {problem[1]}")
    directory = os.path.dirname(path) or os.curdir
    if not os.access(directory, os.W_OK):
        raise CLIError(f"{option} {path}: the directory {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # Checked now, as fastbp.save would after training: the model and
        # every output after it would be lost.
        raise CLIError(f"{option} {path}: the file exists and is read-only; make it "
                       "writable or give another path")


def check_table_name(path, option):
    """Refuse a name for a table (:func:`write_table`) that fastbp would not
    read back (:data:`TABLE_SUFFIXES`): it would be written as CSV whatever
    the name says (``p.parquet``, ``p.csv.zip``). A device or named pipe
    (``/dev/stdout``) has any name."""
    if path and not path.lower().endswith(TABLE_SUFFIXES) and special_file(path) is None:
        raise CLIError(f"{option} {path}: the file name must end in .csv, .txt or .csv.gz "
                       "(comma-separated), or .tsv or .tsv.gz (tab-separated): fastbp "
                       "writes no other format")


def _model_name(path):
    """``path`` with its table suffix (:data:`TABLE_SUFFIXES`) made .fastbp,
    and that suffix as written."""
    n = max(len(s) for s in TABLE_SUFFIXES if path.lower().endswith(s))
    return path[:-n] + ".fastbp", path[-n:]


def _same_file(a, b):
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, and case-insensitive file systems
    except OSError:
        return False


def refuse_overwriting(outputs, inputs):
    """Refuse, before any work, an output path that names an input file or
    another output: writing it would destroy the data or the model.

    Parameters
    ----------
    outputs, inputs : list of (str, str or None)
        ``(option, path)`` pairs; a ``None`` path is not given.
    """
    outputs = [(o, p) for o, p in outputs if p]
    inputs = [(o, p) for o, p in inputs if p]
    for i, (option, path) in enumerate(outputs):
        for other, other_path in inputs + outputs[:i]:
            if _same_file(path, other_path):
                raise CLIError(f"{option} {path} is the same file as {other} {other_path}; "
                               f"writing it would overwrite {other_path}. Give another path")


def check_outputs(args):
    """``--model-out``, ``--history-out`` and ``--plot`` checked before training."""
    outputs = [("--model-out", args.model_out), ("--history-out", args.history_out),
               ("--plot", args.plot)]
    for option, path in outputs:
        check_output_path(path, option)
    refuse_overwriting(outputs, [("--data", args.data), ("--valid", args.valid)])
    check_table_name(args.history_out, "--history-out")
    if args.model_out and args.model_out.lower().endswith(TABLE_SUFFIXES):
        # rev-288: "--model-out nc_copy.csv" replaced a data file that was
        # no input of this run with the model's archive, as --history-out
        # is refused a model's name.
        name, suffix = _model_name(args.model_out)
        raise CLIError(f"--model-out {args.model_out}: a name ending in {suffix} is a data "
                       "table's, and the model is saved as an archive that would replace "
                       f"any file there; give a name ending in .fastbp (say {name})")
    if args.history_out:
        # Written after training, as the model is (rev-233).
        _pandas("writing --history-out")
    if args.model_out:
        # Saving is the last step: without skops a whole training run would
        # be lost to a package that is missing from the start.
        from ..persistence.dependency import _skops_io

        try:
            _skops_io()
        except ImportError as exc:
            if exc.name != "skops":  # installed, but one of its imports failed
                raise CLIError(f"--model-out cannot save the model: {exc}") from exc
            raise CLIError(f"--model-out needs skops to save the model: {_CLI_EXTRA}") from exc
    if args.plot:
        try:
            from matplotlib.backend_bases import FigureCanvasBase
        except ImportError as exc:
            raise CLIError('--plot needs matplotlib: pip install "fastbp[plot]"') from exc
        kinds = dict(FigureCanvasBase.get_supported_filetypes())  # the class's own dict
        # PGF is LaTeX source that matplotlib compiles with a TeX installation
        # to measure text: without one it would fail after the training.
        kinds.pop("pgf", None)
        suffix = os.path.splitext(args.plot)[1].lstrip(".").lower()
        if suffix not in kinds:
            raise CLIError(f"--plot {args.plot}: the file name must end in one of "
                           f"{', '.join('.' + k for k in sorted(kinds))} (the image format)")


def write_outputs(args, model, estimator):
    """``--model-out`` (``model``, saved without pickle), ``--history-out``
    and ``--plot`` (``estimator``'s history).

    Each is written even where one before it failed (the trained model is
    not lost to a plot that cannot be written), and each failure is printed
    as ``fastbp: error: ...``.

    Returns
    -------
    bool
        Whether every output given was written.
    """
    import fastbp

    outputs = [("--model-out", args.model_out, lambda path: fastbp.save(model, path),
                "model saved to"),
               ("--history-out", args.history_out,
                lambda path: write_history(estimator, path), "history written to"),
               ("--plot", args.plot, lambda path: write_plot(estimator, path),
                "plot written to")]
    written = True
    for option, path, write, done in outputs:
        if not path:
            continue
        try:
            write(path)
        except REPORTED_ERRORS as exc:
            # The path once: "could not write --plot p.png: Permission denied".
            own = isinstance(exc, OSError) and exc.filename == path and exc.strerror
            print(f"fastbp: error: could not write {option} {path}: "
                  f"{exc.strerror if own else error_message(exc)}", file=sys.stderr, flush=True)
            written = False
        else:
            print(f"{done} {path}", flush=True)
    return written


def write_history(estimator, path):
    # CLIError naming the extra, before history_frame's ImportError would.
    _pandas()
    from ..history import history_frame

    # The public frame itself, so that the CSV and history_frame cannot drift.
    write_table(history_frame(estimator), path)


def write_plot(estimator, path):
    # A Figure of its own, not pyplot's: no backend to switch (the caller's,
    # a notebook's, stays as it was) and no figure left open in pyplot.
    from matplotlib.figure import Figure

    from ..display import FIGURE_KW, TrainingHistoryDisplay

    figure = Figure(**FIGURE_KW)
    disp = TrainingHistoryDisplay.from_estimator(estimator, ax=figure.subplots(1, 3))
    # The display titles only figures of its own: Axes given are the caller's.
    figure.suptitle(disp.estimator_name)
    # The format from the name given (check_outputs checked it), not from
    # the temporary file's.
    image_format = os.path.splitext(path)[1][1:].lower()
    replace_atomically(path, lambda tmp: disp.figure_.savefig(tmp, dpi=110,
                                                              format=image_format))

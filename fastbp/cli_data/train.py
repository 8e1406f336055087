"""``fastbp train --data FILE``: the preprocessing Pipeline
(standardised numeric columns, one-hot encoded text), the fit with one
line per epoch, and the run from reading the file to writing the outputs.
"""

import argparse
import functools
import sys
import time

import numpy as np

from ..history import step_name
from .columns import (_bool_columns, _check_scaled_range, _checked_features, _labels_like_classes,
                      _plain, _scaler_statistics, _spaced, _text_columns, check_features,
                      infer_task, note_missing_marks_kept, note_row_numbers, note_target_scale,
                      note_text_in_numbers, note_unseen_categories, numeric_columns,
                      regression_target)
from .memory import SPARSE_THRESHOLD, check_one_hot_size
from .messages import EXIT_INTERRUPTED, CLIError, _pandas, show_warning
from .options import (TARGET_RANGE_ERRORS, command_line_advice, epochs_option,
                      make_estimator)
from .outputs import check_outputs, write_outputs
from .predict import report
from .tables import keep_written_codes, read_table, split_target


def build_pipeline(X, estimator, dtype=np.float64):
    """Standardise numeric columns, one-hot encode the others, then
    ``estimator``, which gets ``dtype``: a CSR matrix where the encoding is
    mostly zeros (:data:`SPARSE_THRESHOLD`; text columns of many values), a
    dense array otherwise (:func:`encoded_size` tells which, beforehand).

    The numeric columns are standardised as read (float64) and only then
    cast to ``dtype``: cast first, float32 would round Unix timestamps
    (1.7e9) to steps of 128 seconds, in training only, since files read
    later reach the scaler as read. The cast is NumPy's ``positive`` ufunc
    with ``dtype`` and ``order="C"``, which ``fastbp.load`` rebuilds (no
    function of fastbp's own): one copy, in the C order the model trains
    from. (``numpy.float32`` kept the scaler's F order, that of a
    DataFrame's values, and the model copied it all again.)"""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = numeric_columns(X)
    other = [c for c in X.columns if c not in numeric]
    steps = []
    if numeric:
        cast = FunctionTransformer(np.positive, kw_args={"dtype": np.dtype(dtype).type,
                                                         "order": "C"},
                                   feature_names_out="one-to-one")
        steps.append(("numeric", Pipeline([("scale", StandardScaler()), ("cast", cast)]),
                      numeric))
    if other:
        # CSR, so that an ID-like column of thousands of values costs memory
        # by its nonzeros (one a row), not rows x values (fix-184): the
        # estimators train on CSR without densifying it.
        steps.append(("categorical", OneHotEncoder(handle_unknown="ignore",
                                                   sparse_output=True,
                                                   dtype=np.dtype(dtype).type), other))
    # scikit-learn's rule: dense where more than SPARSE_THRESHOLD of the
    # result is nonzero (few categories), for the dense kernels are faster.
    preprocess = ColumnTransformer(steps, sparse_threshold=SPARSE_THRESHOLD)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def fit_target_scaler(y, target):
    """The :class:`~fastbp.cli_data.target.TargetScaler` of the regression
    target ``y`` (fitted in float64), for training on the standardised
    target: a target in its own units (house prices of 6.5e5) trained far
    too slowly to be of use, and scikit-learn's MLPRegressor, fitting it as
    read too, gets an R2 below 0 (rev-288).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The target column's values.
    target : str
        Its name, for the error.

    Returns
    -------
    TargetScaler
        Fitted on ``y``.

    Raises
    ------
    CLIError
        Where the target's statistics overflow float64 (values near
        1.7e308), naming the column: NumPy's warning and NaN statistics
        would otherwise train a model that predicts NaN.
    """
    import warnings

    from .target import TargetScaler

    values = np.asarray(y, dtype=np.float64).reshape(-1, 1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        scaler = TargetScaler().fit(values)
    if not (np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all()):
        biggest = float(np.max(np.abs(values)))
        raise CLIError(f"the target column {target!r} is too large to standardise (largest "
                       f"magnitude {biggest:.3g}: its variance overflows float64); rescale "
                       "the column in the file (divide it by a power of ten)")
    return scaler


def with_target_scaler(estimator, scaler):
    """``estimator``, fitted on the target that the fitted ``scaler``
    standardised, as the fitted ``TransformedTargetRegressor`` that
    ``TransformedTargetRegressor(estimator, transformer=TargetScaler())``
    would be after its fit: its predictions are in the target's units, in
    float64 (:class:`~fastbp.cli_data.target.TargetScaler`).

    Assembled rather than fitted, for its fit would train a clone of
    ``estimator``, without the per-epoch lines and compile notice set on
    ``estimator`` itself (:func:`fit_with_progress`). The attributes are
    those of ``TransformedTargetRegressor.fit`` (a test compares them).
    """
    from sklearn.base import clone
    from sklearn.compose import TransformedTargetRegressor
    from .target import TargetScaler

    model = TransformedTargetRegressor(regressor=clone(estimator), transformer=TargetScaler())
    model._training_dim = 1
    model.transformer_ = scaler
    model.regressor_ = estimator
    if hasattr(estimator, "feature_names_in_"):
        model.feature_names_in_ = estimator.feature_names_in_
    return model


def readable(value, decimals):
    """``value`` with ``decimals`` decimals, or, where its integer part
    alone would run to more than 8 digits, with 6 significant digits: the
    loss of an unscaled target of 1e40 printed 80 digits (rev-259)."""
    value = float(value)
    return f"{value:.{decimals}f}" if abs(value) < 1e8 else f"{value:.6g}"


def epoch_printer(stream=None, unit="epoch"):
    """One line per epoch (or L-BFGS ``unit="iteration"``), as Keras's
    ``verbose=2``."""
    def on_epoch_end(epoch, max_iter, history):
        parts = [f"{unit} {epoch}/{max_iter}", f"{history['epoch_time'][-1]:.2f}s",
                 f"loss {readable(history['loss'][-1], 4)}"]
        if history.get("val_loss"):
            parts.append(f"val_loss {readable(history['val_loss'][-1], 4)}")
        if history.get("val_score"):
            parts.append(f"val_score {readable(history['val_score'][-1], 4)}")
        print(" - ".join(parts), file=stream or sys.stdout, flush=True)
    return on_epoch_end


#: How the errors of a validation set that early stopping could not split
#: off start (fastbp.estimators.solvers), rewritten in the options' terms.
_SPLIT_ERRORS = ("early_stopping=True could not split", "The validation set is too small")


def fit_with_progress(model, estimator, X, y, quiet, limit_option="--epochs", advise=None):
    """Fit ``model`` (``estimator`` or a Pipeline holding it), announcing a
    cold compile and printing one line per epoch unless ``quiet``; a note
    on a fit that reaches ``max_iter`` names ``limit_option``, the option
    that set it (:func:`epochs_option`). ``advise``, given, rewrites the
    advice of a ``GradientWarning`` and of a ``DivergenceError`` for the
    command line (:func:`command_line_advice`).

    Returns
    -------
    bool
        Whether Ctrl-C ended the fit early: the estimator then keeps the
        state of its last complete epoch (or best L-BFGS iterate), a partly
        trained model that :func:`say_interrupted` names as such. Ctrl-C
        before the first epoch (or L-BFGS iteration) ended leaves nothing
        trained: the ``KeyboardInterrupt`` goes on (:func:`fastbp.cli.run`).
    """
    # The fit announces a cold compile itself, once it knows which kernels
    # it runs (training.compile.announce_compilation).
    import re
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from ..exceptions import UNDONE_TRAINING_NOTE, DivergenceError, GradientWarning
    from ..training.progress import INTERRUPTED

    # On standard error, with the notes: standard output holds the results,
    # which `> log` keeps (rev-291: the notice went there).
    estimator._announce_compile = "stderr"
    if not quiet:
        estimator._on_epoch_end = epoch_printer(unit=step_name(estimator))
    notes, interrupted = [], []

    def show(message, category, filename, lineno, file=None, line=None):
        # A ConvergenceWarning becomes one line after the fit, which a
        # command-line user can act on, rather than its source location;
        # every other warning shows at once, as it is.
        if str(message).startswith(INTERRUPTED):
            # Said once the outputs are written, with what they hold.
            interrupted.append(str(message))
        elif issubclass(category, ConvergenceWarning):
            notes.append(str(message))
        elif advise is not None and issubclass(category, GradientWarning):
            show_warning(advise(str(message)), category, filename, lineno, file, line)
        else:
            show_warning(message, category, filename, lineno, file, line)

    try:
        with warnings.catch_warnings():  # puts showwarning back
            warnings.showwarning = show
            # The limit reached is the CLI's own note, whatever the filters:
            # PYTHONWARNINGS=error raised it out of the fit, before show()
            # saw it, and no model was saved (helper-123).
            warnings.simplefilter("always", ConvergenceWarning)
            # Whatever the filters (-W ignore, a second fit in one process),
            # an interrupted fit must be seen: it decides the exit status.
            warnings.filterwarnings("always", message=INTERRUPTED)
            model.fit(X, y)
    except DivergenceError as exc:
        if advise is None:
            raise
        # The fit was undone, so the warnings of its training came as the
        # error's notes, which the error raised here drops: an exploding
        # gradient explains the divergence, and shows as it would have.
        for note in getattr(exc, "__notes__", ()):
            if note.startswith(UNDONE_TRAINING_NOTE):
                name, _, said = note[len(UNDONE_TRAINING_NOTE):].partition(": ")
                if name == GradientWarning.__name__:
                    show(said, GradientWarning, "", 0)
                elif name != ConvergenceWarning.__name__:  # said after a success only
                    print(f"warning: {name}: {' '.join(said.split())}", file=sys.stderr,
                          flush=True)
        # helper-142: its advice named Python parameters, and standardising X.
        # helper-163: the command line saves no model after a divergence, so
        # what the estimator keeps is not what the user gets.
        message = re.sub(r"Training stopped there, and the model is as it was before this "
                         r"call.*?\. (?=To fix it)",
                         "Training stopped there, and no model was saved. ", advise(str(exc)))
        message = message.replace("The model keeps its state from before this call. ",
                                  "No model was saved. ")
        # With the last finite epoch, whose history --history-out writes.
        raise DivergenceError(message, epoch=exc.epoch,
                              last_finite_model=exc.last_finite_model) from None
    except ValueError as exc:  # after DivergenceError, a ValueError too
        # The early-stopping split's error names Python parameters
        # (validation_fraction, early_stopping=False): the options here.
        text = str(exc)
        if advise is None or not text.startswith(_SPLIT_ERRORS + TARGET_RANGE_ERRORS):
            raise
        raise ValueError(advise(text)) from None
    finally:
        estimator.__dict__.pop("_on_epoch_end", None)
        estimator.__dict__.pop("_announce_compile", None)
    if interrupted:
        return True
    if notes:
        if estimator.n_iter_ >= estimator.max_iter:
            # scikit-learn's message names max_iter; on the command line it is --epochs.
            larger = ("a larger --epochs" if limit_option == "--epochs"
                      else limit_option.replace("...", "N") + " with a larger N")
            limit = (f"--epochs {estimator.max_iter}" if limit_option == "--epochs"
                     else limit_option.replace("...", str(estimator.max_iter)))
            note = (f"training stopped at the epoch limit ({estimator.max_iter}) before the "
                    f"loss stopped improving; pass {larger} to train longer"
                    if estimator.solver != "lbfgs" else
                    f"L-BFGS stopped at its iteration limit ({limit}) "
                    f"before converging; pass {larger} to train longer")
        elif estimator.solver == "lbfgs" and "EVALUATIONS EXCEEDS LIMIT" in notes[0]:
            # scipy's reason for a max_fun stop, and scikit-learn's advice
            # to scale data that the command line standardised already
            # (helper-150): max_fun is set by --set alone.
            note = (f"L-BFGS stopped at its limit of loss evaluations (--set "
                    f"max_fun={estimator.max_fun}) before converging; pass --set max_fun=N "
                    f"with a larger N to train longer")
        else:
            note = " ".join(notes[0].split())  # scipy's reason, on one line
        print(f"note: {note}", file=sys.stderr)
    return False


def check_target_range(y, dtype, estimator, advise):
    """Refuse, before the fit, a finite regression target ``y`` that the
    estimator would refuse for its magnitude in ``dtype``, with its error
    as ``advise`` rewrites it for the command line.

    The estimator's own checks, run here first: in the fit, scikit-learn's
    finiteness check sums y, and for values near float64's largest the sum
    of both signs is NaN, which printed "RuntimeWarning: invalid value
    encountered in reduce" before the error (rev-259).
    """
    from ..estimators.checks import check_fits_dtype, check_squared_error_range

    if not np.isfinite(y).all():
        return  # the estimator's error about them is the one to see
    squared = estimator.loss == "squared_error"
    try:
        if squared:
            # First the bound that no --dtype lifts, so that the advice to
            # pass --dtype float64 comes only where it would help.
            check_squared_error_range(y, np.float64)
        check_fits_dtype(y, dtype, "y")
        if squared:
            check_squared_error_range(y, dtype)
    except ValueError as exc:
        raise ValueError(advise(str(exc))) from None


def check_hyper_range(estimator, dtype, advise):
    """Refuse, before the fit, hyper-parameters beyond ``dtype`` (the
    estimator's own check, :func:`fastbp.training.spec.refuse_beyond_dtype`),
    with the command line's remedy, ``--dtype float64``, and its options
    for the parameters (``advise``), where the estimator's message offers
    the Python one, fitting float64 X (rev-270)."""
    from ..training.spec import dtype_bound_parameters, refuse_beyond_dtype

    p = estimator.get_params()
    try:
        refuse_beyond_dtype(dtype, dtype_bound_parameters(
            p["solver"], p["alpha"], p["l1"], p["clip_grad_norm"], p["epsilon"]),
            wider="pass --dtype float64")
    except ValueError as exc:
        raise ValueError(advise(str(exc))) from None


def final_loss(estimator):
    """The training loss of the last complete epoch, for a status line."""
    return readable(estimator.loss_, 6)


def say_interrupted(estimator, saved):
    """Print, last, that Ctrl-C ended the fit of ``estimator`` early, and
    return the exit status of an interrupted command: a model saved
    (``saved``) or scored after an interrupted fit is partly trained, and
    ``fastbp train && deploy`` must not take it for a finished one."""
    unit = step_name(estimator)
    what = "the model saved is" if saved else "the model (not saved) is"
    print(f"fastbp: training interrupted after {estimator.n_iter_} of {estimator.max_iter} "
          f"{unit}s: {what} partly trained", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def fit_or_write_history(model, estimator, X, y, args, advise):
    """:func:`fit_with_progress` of ``train``; after a divergence, the
    ``--history-out`` of the epochs before it (what diagnosing it needs),
    written before the error goes on, and no other output (helper-163)."""
    from ..exceptions import DivergenceError

    try:
        return fit_with_progress(model, estimator, X, y, args.quiet, epochs_option(args),
                                 advise)
    except DivergenceError as exc:
        # The fit is undone: the epochs before the divergence are the
        # exception's (the estimator of a first fit has no history_).
        diverged = exc.last_finite_model
        if args.history_out and diverged is not None:
            write_outputs(argparse.Namespace(model_out=None, history_out=args.history_out,
                                             plot=None), None, diverged)
        raise


def train_on_file(args, estimator_params):
    """``fastbp train --data FILE --target COLUMN``."""
    import fastbp

    pd = _pandas()
    check_outputs(args)
    frame, codes = keep_written_codes(read_table(args.data), args.data)
    X, y = split_target(frame, args.target, args.data)
    if not X.shape[1]:
        raise CLIError(f"{args.data} has no feature columns besides the target "
                       f"{args.target!r}: add the columns to predict it from")
    check_features(X, args.data)
    note_missing_marks_kept(frame)
    note_row_numbers(X)
    note_text_in_numbers(X)
    task = infer_task(y, args.task, args.target)
    classes = pd.unique(y) if task == "classification" else None
    if classes is not None and len(classes) < 2:
        # Most likely the wrong column, or filtered data; a one-class
        # model would predict that class whatever it reads.
        raise CLIError(f"{args.data}: the target column {args.target!r} holds a single "
                       f"class ({_plain(classes[0])!r}); a classifier needs at least two")
    if args.no_scale_target and task != "regression":
        raise CLIError(f"--no-scale-target applies to a regression target; {args.target!r} "
                       f"is a {task} target (pass --task regression to fit its numbers)")
    if task == "regression":
        y = regression_target(y, args.target, args.data, "--task regression")
    # The validation file, read before training: a problem with it must not
    # cost the trained model.
    valid = None
    if args.valid:
        # Read as read_for_model reads a file for the model trained here.
        text = _text_columns(X)
        stripped = [c for c in text if not _spaced(X[c].unique())]
        if np.asarray(y).dtype.kind == "O":
            text.append(args.target)
            if not _spaced(classes):
                stripped.append(args.target)
        valid_frame = read_table(args.valid, text, stripped, _bool_columns(X), codes)
        valid_X, valid_y = split_target(valid_frame, args.target, args.valid)
        valid_X = _checked_features(valid_X, list(X.columns), numeric_columns(X), args.valid)
        if task == "regression":
            valid_y = regression_target(valid_y, args.target, args.valid)
        else:
            # As evaluate checks its labels: text among the classes 0 and 1
            # must be refused now, not after the training.
            valid_y = _labels_like_classes(valid_y, classes, args.target, args.valid)
        valid = (valid_X, valid_y)
    dtype = np.dtype(args.dtype)
    cls = fastbp.MLPClassifier if task == "classification" else fastbp.MLPRegressor
    estimator = make_estimator(cls, args, estimator_params)
    # Poisson's targets must stay non-negative counts; its log link takes
    # their scale in the output bias.
    scaler = None
    if task == "regression" and not args.no_scale_target and estimator.loss == "squared_error":
        # (Standardised, the target fits any --dtype; the model's
        # predictions come back in float64.)
        scaler = fit_target_scaler(y, args.target)
    elif task == "regression" and estimator.loss == "squared_error":
        # --no-scale-target: fitted as read. (Not under poisson, whose
        # log link takes the counts' scale in its output bias: rev-300.)
        note_target_scale(y, args.target)
    # The first layer has one input per encoded column: with an ID column
    # its weights, not the sparse encoding, take the memory.
    n_outputs = 1 if classes is None or len(classes) == 2 else len(classes)
    check_one_hot_size(X, dtype, args.data, estimator, n_outputs)
    if valid is not None:
        # Before training, as the README promises of --valid (helper-173:
        # checked after it, the refusal came with the model already saved
        # and exit status 2): the pipeline's scaler will hold exactly these
        # statistics of the training file.
        _check_scaled_range(valid[0], numeric_columns(X), *_scaler_statistics(X), dtype,
                            args.valid)
    pipe = build_pipeline(X, estimator, dtype)
    pipe.fastbp_target_ = args.target
    pipe.fastbp_task_ = task
    # The text columns whose "NA" is a missing value (read_for_model).
    pipe.fastbp_marks_missing_ = codes
    print(f"data {args.data}: {len(X)} rows, {X.shape[1]} feature columns, target "
          f"{args.target!r} ({task}), {dtype}", flush=True)
    if scaler is not None:
        print(f"target {args.target!r} standardised for training (mean "
              f"{scaler.mean_[0]:.6g}, standard deviation {np.sqrt(scaler.var_[0]):.6g}): the "
              "losses printed are of the standardised target, the model's predictions "
              "in its units", flush=True)
    start = time.perf_counter()
    # A standardised target needs no advice to standardise it, nor to
    # rescale it in the file.
    advise = functools.partial(command_line_advice, estimator=estimator, args=args,
                               target=args.target if task == "regression" and scaler is None
                               else None)
    check_hyper_range(estimator, dtype, advise)
    fit_y = y
    if scaler is not None:
        fit_y = scaler.transform(np.asarray(y, dtype=np.float64).reshape(-1, 1))[:, 0]
    if task == "regression":
        check_target_range(fit_y, dtype, estimator, advise)
    interrupted = fit_or_write_history(pipe, estimator, X, fit_y, args, advise)
    print(f"trained {estimator.n_iter_} {step_name(estimator)}s in {time.perf_counter() - start:.2f} s, "
          f"final loss {final_loss(estimator)}{'' if scaler is None else ' (standardised target)'}")
    if scaler is not None:
        # Saved, scored and predicting in the target's units.
        pipe.steps[-1] = ("model", with_target_scaler(estimator, scaler))
    written = write_outputs(args, pipe, estimator)
    if valid is not None:
        print(f"validation file {args.valid}:")
        note_unseen_categories(pipe, valid[0], args.valid)
        report(pipe, *valid, brief=True)
    if interrupted:
        return say_interrupted(estimator, saved=written and bool(args.model_out))
    return 0 if written else 2

"""The ``fastbp`` command line.

``fastbp train`` trains on a built-in dataset or on your CSV file and can
save the model (no pickle), its history and a plot; ``fastbp predict`` and
``fastbp evaluate`` use a saved model on new files; ``fastbp info`` reports
versions and the compile cache; ``fastbp compile`` fills the cache ahead of
the first fit (a container image build, a CI job, a cluster).

Example
-------
    fastbp train --data train.csv --target label --model-out model.fastbp
    fastbp predict --model model.fastbp --data new.csv --out predictions.csv
    fastbp evaluate --model model.fastbp --data test.csv
"""

import argparse
import functools
import os
import sys
import time

import numpy as np

from .cli_data.messages import EXIT_INTERRUPTED

SOLVERS = ("adam", "sgd", "lbfgs", "rmsprop", "adagrad", "adamw")
ACTIVATIONS = ("relu", "tanh", "logistic", "identity", "leaky_relu", "elu", "selu",
               "softplus", "swish", "mish", "gelu")
INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal")
SCHEDULES = ("constant", "invscaling", "adaptive", "step", "exponential", "cosine")
DATASETS = ("digits", "tabular", "mnist")
DEFAULT_DATASET = "digits"
DEFAULT_TEST_SIZE = 0.25


def _parsed(text, convert, ok, wanted):
    """``convert(text)`` where ``ok`` of it, else the ``ArgumentTypeError``
    that says what was ``wanted`` (argparse prints it with the option)."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
    return value


def _positive_int(text):
    return _parsed(text, int, lambda v: v >= 1, "a positive integer")


def _jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a process count like 2, or -1, got {text!r}")
    if value == 0:
        raise argparse.ArgumentTypeError("expected a process count like 2, or -1 for one per "
                                         "core, got 0")
    return value


def _items(text, wanted):
    """The comma-separated items of ``text``, spaces removed; an empty one
    is refused: "10,,5" (a width left out) trained (10, 5) and "10," (10,),
    without a word."""
    parts = text.replace(" ", "").split(",")
    if not any(parts):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}, which has an "
                                         "empty item")
    return parts


def _layer_sizes(text):
    return tuple(_positive_int(p)
                 for p in _items(text, "comma-separated layer sizes like 128,64"))


def _batch_size(text):
    return "auto" if text == "auto" else _positive_int(text)


def _non_negative(text):
    # A penalty (--alpha, --l1): float() reads "inf", which the estimator
    # refuses only after the data is read, naming its Python parameter.
    return _parsed(text, float, lambda v: v >= 0 and np.isfinite(v), "a finite number >= 0")


def _dropout(text):
    parts = _items(text, "rates in [0, 1) like 0.2 or 0.2,0.1")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected rates in [0, 1) like 0.2 or 0.2,0.1; "
                                         f"got {text!r}")
    if not values or not all(0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"dropout rates must be in [0, 1); got {text!r}")
    return values[0] if len(values) == 1 else values


def _fraction(text):
    return _parsed(text, float, lambda v: 0 < v < 1, "a number in (0, 1)")


def _positive_finite(text):
    # A learning rate or clipping norm: float() reads "nan" and "inf",
    # which the estimator refuses only after the data is read, naming its
    # Python parameter.
    return _parsed(text, float, lambda v: v > 0 and np.isfinite(v), "a finite number > 0")


def _non_negative_int(text):
    # A random seed: NumPy refuses a negative one only once the fit starts.
    return _parsed(text, int, lambda v: v >= 0, "a whole number >= 0")


class _Given(argparse.Action):
    """Mixed into ``train``'s actions: each option given on the command
    line is named in ``args.given``, whatever its value (``--epochs 30``
    gives the default, and still clashes with ``--set max_iter=2``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        given = getattr(namespace, "given", None) or set()
        namespace.given = given | {self.dest}


class _GivenStore(_Given, argparse._StoreAction):
    pass


class _GivenStoreTrue(_Given, argparse._StoreTrueAction):
    pass


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in its help, but for options without one
    (``None``) and switches (``False``): "(default: None)" says nothing."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="fastbp", description="Fast multilayer perceptrons trained by backpropagation.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = _DefaultsHelp
    predict = sub.add_parser(
        "predict", formatter_class=fmt, help="predict with a saved model on a CSV file",
        description="Apply a model saved by 'fastbp train --data ... --model-out' to a CSV "
                    "file whose columns match the training file's (by name).")
    predict.add_argument("--model", required=True, help="the saved model (.fastbp)")
    predict.add_argument("--data", required=True, help="CSV file to predict")
    predict.add_argument("--out", required=True,
                         help="CSV file to write; - for standard output")
    predict.add_argument("--proba", action="store_true",
                         help="class probabilities instead of labels (classifiers)")
    predict.add_argument("--keep", action="append", metavar="COLUMN",
                         help="copy this column of --data (an ID to join on) into --out, in "
                              "front of the predictions; it may be a column the model does "
                              "not read. Repeatable, one column each: --keep id --keep region")
    evaluate = sub.add_parser(
        "evaluate", formatter_class=fmt, help="score a saved model on a labelled CSV file",
        description="Accuracy, classification report and confusion matrix (classifiers), or "
                    "R2, MAE and RMSE (regressors), on a CSV file holding the target column.")
    evaluate.add_argument("--model", required=True, help="the saved model (.fastbp)")
    evaluate.add_argument("--data", required=True, help="labelled CSV file")
    info_parser = sub.add_parser(
        "info", help="versions, and where compiled kernels are cached",
        description="Print the versions fastbp runs with and the location and size of its "
                    "compile cache; --clear-cache deletes the cached kernels, --prune-cache "
                    "those that older versions of fastbp left (one or the other: a clear "
                    "leaves nothing to prune).")
    # Exclusive: given both, info used to clear and skip the prune without a
    # word; a clear deletes all that a prune would, so both is a mistake.
    cache_action = info_parser.add_mutually_exclusive_group()
    cache_action.add_argument("--clear-cache", action="store_true",
                              help="delete fastbp's cached kernels (the next fit compiles)")
    cache_action.add_argument("--prune-cache", action="store_true",
                              help="delete only the cached kernels that this fastbp can no "
                                   "longer load (left by edits or upgrades of fastbp: "
                                   "older sources, kernels moved, renamed or removed)")
    compile_parser = sub.add_parser(
        "compile", formatter_class=fmt, help="compile the kernels ahead of the first fit",
        description="Compile, or load from the on-disk cache, the kernels that fits of the "
                    "given configuration need, and report the seconds spent and where the "
                    "kernels are cached. Processes of one machine that run it at once "
                    "compile once: the others wait, then load. Exits with status 2 where "
                    "the kernels could not be saved, or NUMBA_CACHE_DIR is set and Numba "
                    "cannot use it.")
    compile_parser.add_argument("--dtype", action="append", choices=("float32", "float64"),
                                help="dtype of X to warm (repeatable; none given: both)")
    compile_parser.add_argument("--solver", action="append", choices=SOLVERS,
                                help="solver to warm (repeatable; none given: adam)")
    compile_parser.add_argument("--estimator", action="append",
                                choices=("classifier", "regressor"),
                                help="estimator to warm: MLPClassifier or MLPRegressor "
                                     "(repeatable; none given: classifier)")
    compile_parser.add_argument("--early-stopping", action="store_true",
                                help="warm the early-stopping path too")
    compile_parser.add_argument("--sparse", action="store_true",
                                help="warm the kernels for sparse X too: 'train --data' "
                                     "trains on sparse X where a CSV file has text columns "
                                     "of many values (an ID, a city)")
    compile_parser.add_argument("--all", action="store_true",
                                help="every solver and every toolkit path, for both "
                                     "estimators (the regressor's squared error and "
                                     "poisson losses)")
    compile_parser.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                                help="processes that compile different kernels at once "
                                     "(-1: one per core; at most one per core)")
    train = sub.add_parser(
        "train", formatter_class=fmt,
        help="train on a built-in dataset or your CSV file",
        description="Train a fastbp model on a built-in dataset (MLPClassifier, with test "
                    "accuracy) or on your CSV file (--data, --target: the task is inferred, "
                    "numeric columns are standardised and the others one-hot encoded), "
                    "printing one line per epoch (per iteration for --solver lbfgs).")
    # args.given: the options given (see _options_given).
    train.register("action", None, _GivenStore)
    train.register("action", "store", _GivenStore)
    train.register("action", "store_true", _GivenStoreTrue)
    train.set_defaults(given=None)
    train.add_argument("--data", default=None,
                       help="your CSV file, or .tsv file (tab-separated) (instead of --dataset)")
    train.add_argument("--target", default=None, help="the target column of --data")
    train.add_argument("--task", choices=("auto", "classification", "regression"),
                       default="auto", help="auto infers it from the target")
    train.add_argument("--no-scale-target", action="store_true",
                       help="fit a regression target as read, e.g. when it is already "
                            "standardised (by default it is standardised for training, "
                            "and predictions come back in its own units)")
    train.add_argument("--valid", default=None,
                       help="a labelled CSV file to score the trained model on")
    train.add_argument("--validation-fraction", type=_fraction, default=None,
                       help="hold out this share for early stopping (which it turns "
                            "on: training may end early, with the best epoch's weights), "
                            "with per-epoch validation scores")
    train.add_argument("--model-out", default=None, help="save the model here (no pickle)")
    train.add_argument("--history-out", default=None, help="write history_ as CSV here")
    train.add_argument("--plot", default=None,
                       help="write the training curves here (PNG, PDF, SVG...: by suffix)")
    train.add_argument("--set", action="append", metavar="PARAM=VALUE",
                       help="any other estimator parameter, e.g. --set momentum=0.95 "
                            "or --set shuffle=false (repeatable; Python literals, "
                            "true/false for booleans)")
    # The built-in datasets' options default to None, so that train can
    # tell them apart from a value given with --data, which ignores them.
    train.add_argument("--dataset", choices=DATASETS, default=None,
                       help="digits (scikit-learn), tabular (synthetic 10000x20, 4 classes) "
                            "or mnist (needs --data-dir or FASTBP_DATA_DIR) "
                            f"(default: {DEFAULT_DATASET})")
    train.add_argument("--data-dir", default=None,
                       help="directory holding the MNIST IDX files (none given: $FASTBP_DATA_DIR)")
    train.add_argument("--hidden-layer-sizes", type=_layer_sizes, default=(100,),
                       metavar="N[,N...]", help="hidden layer widths")
    train.add_argument("--solver", choices=SOLVERS, default="adam")
    train.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    train.add_argument("--init", choices=INITS, default="glorot_uniform")
    train.add_argument("--learning-rate", choices=SCHEDULES, default="constant",
                       help="learning-rate schedule")
    train.add_argument("--alpha", type=_non_negative, default=0.0001, help="L2 penalty")
    train.add_argument("--l1", type=_non_negative, default=0.0, help="L1 penalty")
    train.add_argument("--dropout", type=_dropout, default=0.0, metavar="P[,P...]",
                       help="dropout rate, one value or one per hidden layer")
    train.add_argument("--normalization", choices=("none", "batch", "layer"), default="none")
    train.add_argument("--residual", action="store_true",
                       help="skip connections between equal-width hidden layers")
    train.add_argument("--clip-grad-norm", type=_positive_finite, default=None, metavar="NORM",
                       help="clip the global gradient norm of each step (> 0)")
    train.add_argument("--early-stopping", action="store_true")
    train.add_argument("--epochs", type=_positive_int, default=30,
                       help="max_iter: epochs (or L-BFGS iterations)")
    train.add_argument("--batch-size", type=_batch_size, default="auto",
                       help="mini-batch size or 'auto' (min(200, n))")
    train.add_argument("--learning-rate-init", type=_positive_finite, default=0.001)
    train.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                       help="dtype of X, and so of the model (--data too)")
    train.add_argument("--random-state", type=_non_negative_int, default=0)
    train.add_argument("--test-size", type=_fraction, default=None,
                       help="held-out share for digits/tabular (MNIST uses its test set) "
                            f"(default: {DEFAULT_TEST_SIZE})")
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    for action in train._actions:
        if action.help is None:
            # Every option shows its default in --help.
            action.help = f"the estimator's {action.dest}"
    # For main: an unknown option is reported with its subcommand's usage.
    parser.commands = sub.choices
    return parser


def _load(args):
    from . import datasets

    dtype = np.dtype(args.dtype)
    if args.dataset == "mnist":
        # The errors say how to pass the directory here: with --data-dir.
        return datasets.load_mnist(args.data_dir, dtype=dtype, cli_option="--data-dir")
    if args.dataset == "digits":
        X, y = datasets.load_digits(dtype=dtype, scale=True)
    else:
        X, y = datasets.make_tabular(random_state=args.random_state, dtype=dtype)
    from sklearn.model_selection import train_test_split

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.random_state, stratify=y)
    return (np.ascontiguousarray(X_train), y_train, np.ascontiguousarray(X_test), y_test)


# The estimator parameter that each option of ``train`` sets.
_OPTION_PARAMS = {
    "hidden_layer_sizes": "hidden_layer_sizes", "activation": "activation",
    "solver": "solver", "batch_size": "batch_size", "epochs": "max_iter",
    "learning_rate_init": "learning_rate_init", "random_state": "random_state",
    "init": "init", "learning_rate": "learning_rate", "alpha": "alpha", "l1": "l1",
    "dropout": "dropout", "normalization": "normalization", "residual": "residual",
    "clip_grad_norm": "clip_grad_norm", "early_stopping": "early_stopping",
    "validation_fraction": "validation_fraction"}


def _options_given(args):
    """``{parameter: option}`` for the options of ``train`` given on the
    command line, whatever their value (``--epochs 30``, the default): a
    ``--set`` of the same parameter would override one of them silently
    (cli_data.options.settings refuses it). ``--validation-fraction`` sets
    ``early_stopping`` too."""
    given = getattr(args, "given", None) or set()
    options = {param: "--" + attr.replace("_", "-") for attr, param in _OPTION_PARAMS.items()
               if attr in given}
    if "validation_fraction" in given:
        options.setdefault("early_stopping", "--validation-fraction")
    return options


def _estimator_params(args):
    # --validation-fraction also turns early stopping on:
    # cli_data.options.settings applies it.
    params = {param: getattr(args, attr) for attr, param in _OPTION_PARAMS.items()
              if attr != "validation_fraction"}
    if args.normalization == "none":
        params["normalization"] = None
    return params


def train(args):
    from . import MLPClassifier
    from .cli_data.messages import CLIError
    from .cli_data.options import command_line_advice, make_estimator
    from .cli_data.outputs import check_outputs, write_outputs
    from .cli_data.train import (final_loss, fit_or_write_history, say_interrupted,
                                 train_on_file)
    from .history import step_name

    args.options_given = _options_given(args)
    if args.data is not None:
        if args.target is None:
            raise CLIError("--data needs --target, the name of the column to predict")
        for option in ("dataset", "test_size", "data_dir"):
            if getattr(args, option) is not None:
                raise CLIError(f"--{option.replace('_', '-')} applies to the built-in "
                               "datasets; --data trains on your file (hold data out "
                               "with --valid or --validation-fraction)")
        return train_on_file(args, _estimator_params(args))
    # --data's options, which a built-in dataset would ignore.
    if args.target is not None:
        raise CLIError("--target applies to --data; the built-in datasets have their own")
    if args.valid is not None:
        raise CLIError("--valid applies to --data; the built-in datasets are scored on "
                       "their own test set (--test-size)")
    if args.task != "auto":
        raise CLIError("--task applies to --data; the built-in datasets are "
                       "classification tasks")
    if args.no_scale_target:
        raise CLIError("--no-scale-target applies to a regression target of --data; the "
                       "built-in datasets are classification tasks")
    if args.dataset is None:
        args.dataset = DEFAULT_DATASET
    if args.dataset == "mnist" and args.test_size is not None:
        raise CLIError("--test-size applies to digits and tabular; MNIST has its own "
                       "test set")
    if args.dataset != "mnist" and args.data_dir is not None:
        raise CLIError("--data-dir applies to --dataset mnist")
    if args.test_size is None:
        args.test_size = DEFAULT_TEST_SIZE
    check_outputs(args)
    X_train, y_train, X_test, y_test = _load(args)
    print(f"dataset {args.dataset}: {X_train.shape[0]} train / {X_test.shape[0]} test "
          f"samples, {X_train.shape[1]} features, {args.dtype}")
    clf = make_estimator(MLPClassifier, args, _estimator_params(args))
    start = time.perf_counter()
    interrupted = fit_or_write_history(
        clf, clf, X_train, y_train, args,
        functools.partial(command_line_advice, estimator=clf, args=args))
    fit_time = time.perf_counter() - start
    accuracy = clf.score(X_test, y_test)
    total = time.perf_counter() - start
    print(f"{step_name(clf)}s run: {clf.n_iter_}, final training loss: {final_loss(clf)}")
    print(f"test accuracy: {accuracy:.4f}")
    dead = clf.history_.get("dead_fraction") if hasattr(clf, "history_") else None
    if dead is not None and len(dead) and np.isfinite(dead[-1]):
        print(f"dead relu units in the last epoch: {dead[-1]:.1%}")
    print(f"wall time: {total:.2f} s (fit {fit_time:.2f} s, including compilation "
          "or cache loading on a first run)")
    written = write_outputs(args, clf, clf)
    if interrupted:
        return say_interrupted(clf, saved=written and bool(args.model_out))
    return 0 if written else 2


def info(args):
    import numba
    import numpy
    import sklearn
    from threadpoolctl import threadpool_info

    from . import __version__
    from ._cache.maintenance import cache_info, clear_cache, prune_cache
    from .kernels import blas
    from .machine import cpu_model

    print(f"fastbp {__version__}, numba {numba.__version__}, numpy {numpy.__version__}, "
          f"scikit-learn {sklearn.__version__}, Python {sys.version.split()[0]}")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores")
    for lib in threadpool_info():
        print(f"{lib['user_api']}: {lib['internal_api']} {lib.get('version') or ''} "
              f"({lib['num_threads']} threads) {os.path.basename(lib['filepath'])}")
    print("kernels' matrix products: " + (f"NumPy's BLAS ({blas.BACKEND[len('numpy:'):]})"
                                          if blas.NUMPY_BLAS else "SciPy's BLAS (Numba's np.dot)"))
    if args.clear_cache:
        # First: what follows describes the cache it leaves.
        print(f"removed {clear_cache()} cached files")
    elif args.prune_cache:
        print(f"removed {prune_cache()} stale cached files")
    cache = cache_info()
    if not cache["writable"]:
        print("compile cache: none writable; kernels compile in memory in every process "
              "(set NUMBA_CACHE_DIR to a writable directory)")
    for directory in cache["directories"]:
        print(f"compile cache: {directory}")
    print(f"cached files: {cache['n_files']} ({cache['n_bytes'] / 2**20:.1f} MiB)")
    if cache.get("unused"):
        # A cache built into the installed package that Numba passes over
        # (fix-312): the one place a user looks for why first fits compile.
        print(f"compile cache not used: {cache['unused']}")
    if not cache["writable"]:
        print("warm for: nothing (no cache is kept: every process compiles its kernels)")
    else:
        from .training.compile import warm_roles

        # Which kernel serves which fit is the trainer's decision
        # (warm_roles): fits and predictions are told apart (helper-152), a
        # network with dropout alone trains with the toolkit's kernels and
        # predicts with the default path's, and was reported cold once warmed.
        warm = [f"{d} {path} ({name}) for {', '.join(done)}"
                for d in ("float32", "float64") for path, name, done in warm_roles(d) if done]
        print(f"warm for: {'; '.join(warm) if warm else 'nothing yet (the first fit compiles)'} "
              "(fastbp compile fills it)")
    from .kernels.cuda import device_status

    problem = device_status()
    print("CUDA: available (device='cuda')" if problem is None else f"CUDA: {problem}")
    return 0


def compile_kernels(args):
    from . import MLPClassifier, MLPRegressor, warmup
    from ._cache.directory import misplaced_cache
    from ._cache.dispatchers import saves_to_disk
    from ._cache.maintenance import cache_info

    if args.all and (args.solver or args.early_stopping or args.estimator):
        # --all warms every solver with and without early stopping, for
        # both estimators, already.
        given = ("--solver" if args.solver else "--estimator" if args.estimator
                 else "--early-stopping")
        print(f"fastbp: error: {given} narrows what is warmed, and --all warms "
              "everything; give one or the other", file=sys.stderr)
        return 2
    if args.all:
        # The regressor's poisson loss trains an output function (exp) with
        # kernels of its own.
        estimators = [cls(solver=solver, early_stopping=solver != "lbfgs", **params)
                      for cls, params in ((MLPClassifier, {}), (MLPRegressor, {}),
                                          (MLPRegressor, {"loss": "poisson"}))
                      for solver in SOLVERS]
        estimators += [MLPClassifier(normalization=norm, dropout=0.1)
                       for norm in ("batch", "layer")]
    else:
        classes = {"classifier": MLPClassifier, "regressor": MLPRegressor}
        estimators = [classes[name](solver=solver, early_stopping=args.early_stopping
                                    and solver != "lbfgs")
                      for name in dict.fromkeys(args.estimator or ["classifier"])
                      for solver in args.solver or ["adam"]]
    if not saves_to_disk():
        # Compiling would take its seconds and keep nothing for later processes.
        print("fastbp: error: no directory for the compile cache is writable, so kernels "
              "compile in memory only and nothing compiled here would be saved; set "
              "NUMBA_CACHE_DIR to a writable directory and run fastbp compile again",
              file=sys.stderr)
        return 2  # as every other error of the command line
    misplaced = misplaced_cache()
    if misplaced is not None:
        # An image build (ENV NUMBA_CACHE_DIR=/opt/cache; RUN fastbp compile)
        # would otherwise pass with the cache somewhere no run will look.
        wanted, actual, why = misplaced
        print(f"fastbp: error: NUMBA_CACHE_DIR={wanted} cannot be used ({why}), so Numba "
              f"would cache the kernels in {actual} instead; make {wanted} a writable "
              "directory, or point NUMBA_CACHE_DIR at one, and run fastbp compile again",
              file=sys.stderr)
        return 2
    from joblib import cpu_count

    # More processes than cores only share the cores, each with a copy of
    # fastbp's memory.
    jobs = min(args.jobs, cpu_count()) if args.jobs > 0 else args.jobs
    # Known since the kernels were made (at import); said first, so that
    # the report's total stays its last line.
    print(f"kernels cached in: {', '.join(cache_info()['directories'])}")
    report = warmup(*estimators, dtypes=args.dtype or ("float32", "float64"),
                    sparse=bool(args.sparse or args.all), n_jobs=jobs)
    print(report)
    if report.unsaved:
        # helper-103: a full disk saved 4 of 42 kernels, and this exited 0.
        print(f"fastbp: error: {report.unsaved} of the {report.compiled} kernels compiled "
              "could not be saved to the compile cache (see the warning above), so other "
              "processes will compile them again; free space on its disk or set "
              "NUMBA_CACHE_DIR to a writable directory, and run fastbp compile again",
              file=sys.stderr)
        return 2
    return 0


def main(argv=None):
    """Entry point of the ``fastbp`` console script."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse's own report names the top-level usage, not the
        # subcommand's whose options the user was writing.
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    import warnings

    from .cli_data.messages import show_warning

    with warnings.catch_warnings():  # puts showwarning back (main called from Python)
        # Every command's warnings (scikit-learn's in evaluate, pandas'),
        # not only the fit's (fit_with_progress), as one line.
        warnings.showwarning = show_warning
        return _command(args)


def _command(args):
    """Run the command of the parsed ``args``; its exit status."""
    from .cli_data.messages import REPORTED_ERRORS, error_message, one_line
    from .cli_data.predict import evaluate_file, predict_file

    # info and compile too: their output to a full disk (> /dev/full) is
    # an OSError to report in one line, not a traceback (helper-163).
    command = {"train": train, "predict": predict_file, "evaluate": evaluate_file,
               "info": info, "compile": compile_kernels}
    try:
        return command[args.command](args)
    except (BrokenPipeError, NotImplementedError, RecursionError):
        raise  # the first handled in run(); the others are fastbp's bugs: a traceback
    except REPORTED_ERRORS as exc:
        # One line, whatever the message holds (scikit-learn's add advice on
        # a line of their own; pandas' end in a newline) (helper-163).
        print(f"fastbp: error: {one_line(error_message(exc))}", file=sys.stderr)
        return 2


def run(argv=None):
    """:func:`main`, quiet when its reader goes away (``fastbp info | head``)
    and one line, exit status 130, on Ctrl-C."""
    for stream in (sys.stdout, sys.stderr):
        # A column name that the terminal's encoding lacks ("größe" under
        # PYTHONIOENCODING=ascii) is escaped rather than a traceback.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return main(argv)
    except KeyboardInterrupt:
        # Ctrl-C outside a fit (which ends early and keeps its model: see
        # cli_data.train.say_interrupted), or before its first epoch ended (with
        # nothing trained to keep): while importing, reading or saving. A
        # save in progress leaves no file behind (fastbp.save renames a
        # complete one into place).
        print("fastbp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Python's advice: point stdout at devnull, so that flushing it at
        # exit does not raise again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # a stdout without a file descriptor
            pass
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())

"""``train``'s options as estimator parameters: ``--set key=value``
pairs parsed, the estimator built from them, and the library's advice
(``DivergenceError``, ``GradientWarning``) rewritten to name the option
that sets each parameter it names.
"""

from .messages import CLIError


def parse_settings(pairs):
    """``--set key=value`` pairs as estimator parameters (Python literals
    where they parse, strings otherwise)."""
    import ast

    params = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise CLIError(f"--set expects key=value, got {pair!r}")
        key, text = pair.split("=", 1)
        if key.strip() in params:
            # The later one would win without a word.
            raise CLIError(f"--set {key.strip()}=... is given more than once: give it once")
        if text.strip().lower() in ("true", "false"):
            # Booleans as a shell user writes them, not only Python's True.
            value = text.strip().lower() == "true"
        else:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
        params[key.strip()] = value
    return params


def make_estimator(cls, args, params):
    """``cls(**settings(args, params))``, where a ``--set`` name that
    ``cls`` has no parameter of is named with its closest parameters
    (Python's "__init__() got an unexpected keyword argument" named neither
    the option nor what was meant)."""
    import difflib

    params = settings(args, params)
    known = cls().get_params(deep=False)
    for name in params:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = (f"; did you mean {' or '.join(close)}?" if close
                    else f"; its parameters: {', '.join(sorted(known))}")
            raise CLIError(f"--set {name}=...: {cls.__name__} has no parameter "
                           f"{name!r}{hint}")
    return cls(**params)


def settings(args, params):
    """``params`` with ``--validation-fraction`` and ``--set`` applied."""
    params = dict(params)
    if args.validation_fraction is not None:
        params.update(early_stopping=True, validation_fraction=args.validation_fraction)
    settings_given = parse_settings(args.set)
    for name, option in getattr(args, "options_given", {}).items():
        if name in settings_given:
            # The later one would win without a word (--epochs 3 --set max_iter=5).
            raise CLIError(f"{option} and --set {name}=... both set {name}: give it once")
    params.update(settings_given)
    if params.get("solver") == "lbfgs" and params.get("early_stopping"):
        # scikit-learn's MLP ignores early_stopping with lbfgs, silently.
        given = ("--validation-fraction" if args.validation_fraction is not None
                 else "--early-stopping" if getattr(args, "early_stopping", False)
                 else "--set early_stopping=True")
        held_out = ", or score a held-out file with --valid" if args.data else ""
        raise CLIError(f"{given} (early stopping) needs a stochastic solver: lbfgs "
                       "minimises the full-batch loss and has no epochs to stop early; use "
                       f"--solver adam{held_out}")
    return params


def epochs_option(args):
    """How the command line set ``max_iter``, for a note on the limit:
    ``--epochs``, or ``--set max_iter=...``."""
    return "--set max_iter=..." if "max_iter" in parse_settings(args.set) else "--epochs"


# The options of train that take no value: the parameter's True is the
# option alone (--residual), and its False has only --set.
_SWITCHES = ("residual", "early_stopping")
# Parameters that the library's advice names bare ("alpha > 0", "lower
# gamma") although they are no identifiers with an underscore: English
# words such as "loss" or "solver" stay words.
_BARE_PARAMS = ("alpha", "gamma", "l1")
# A parameter's value in the advice, and the alternatives after it:
# activation='relu' (or 'leaky_relu', 'elu'), init='he_uniform'/'he_normal'.
_VALUE = r"'[^']*'|[\w.+-]+"
_ALTERNATIVES = r"(?:\s*(?:/|,|\(or|or)\s*'[^']*')*"
# A bound after a bare parameter ("alpha > 0"): pasted into a shell,
# "--alpha > 0" would redirect the output to a file named 0.
_BOUND = r" > (?P<bound>\d+(?:\.\d+)?)"
# The library's advice to standardise X (and y): the command line feeds
# the network standardised features already (build_pipeline; the built-in
# datasets come scaled), and fits a regression target as read.
_SCALER = r" \(for example with sklearn\.preprocessing\.StandardScaler\)"
_STANDARDISE_ITEM = (r"standardise (?:X, and y for a regressor|X|the input)"
                     rf"(?:{_SCALER})?")
_STANDARDISE_SENTENCE = (r"To fix it, standardise X \(and y for a regressor\), "
                         r"for example with sklearn\.preprocessing\.StandardScaler\.")
_STANDARDISE_ASIDE = r" \(standardise X, for example with sklearn\.preprocessing\.StandardScaler\)"
# Where the early-stopping split's advice to turn it off goes, while the
# parameters are translated: no text of a message.
_TURN_OFF = "\0"
# Where a list of remedies starts, for the " or " before its last one.
_LIST_STARTS = ("To fix it, ", "Remedies: ")


#: How the estimator's errors about a regression target's magnitude start
#: (fastbp.estimators.checks): their remedies are the Python API's.
TARGET_RANGE_ERRORS = ("y holds values beyond ", "y holds values too large for ",
                       "y's largest magnitude ")
_AS_READ = "in the file (fastbp train fits the target as read, unscaled)"


def target_range_advice(message, target):
    """The estimator's error about a regression target too large for the
    model (:data:`TARGET_RANGE_ERRORS`) as a command-line user acts on it:
    about the column ``target``, with the remedies of the command line,
    ``--dtype float64`` and rescaling the column in the file, not those
    of Python (``TransformedTargetRegressor``, "fit on float64 data"),
    which such a user cannot take (rev-259). Any other message is
    returned as it is.

    Parameters
    ----------
    message : str
    target : str
        The regression target column.

    Returns
    -------
    str
    """
    import re

    import numpy as np

    column = f"the target column {target!r}"
    match = re.fullmatch(r"y holds values beyond (?P<dtype>\w+)'s range \((?P<detail>[^)]*)\), "
                         r"and this model computes in \w+\. Rescale y \([^)]*\), or fit on "
                         r"float64 data for a float64 model\.", message)
    if match:
        dtype = match.group("dtype")
        return (f"{column} holds values beyond {dtype}'s range ({match.group('detail')}), "
                f"the dtype the model computes in (--dtype {dtype}). Pass --dtype float64, "
                f"or rescale the column {_AS_READ}.")
    match = re.fullmatch(r"y holds values too large for a squared-error loss in (?P<dtype>\w+) "
                         r"\((?P<detail>largest magnitude (?P<biggest>[^;]+);.*?)\)\. Rescale y, "
                         r"for example with sklearn\.compose\.TransformedTargetRegressor and a "
                         r"StandardScaler\.", message)
    if match:
        dtype = match.group("dtype")
        # The estimator's bound in float64 (checks.check_squared_error_range,
        # one output): a float32 model's target may fit a float64 one.
        wider = float(np.sqrt(np.finfo(np.float64).max)) / 4
        also = (", or pass --dtype float64, where the bound is about "
                f"{wider:.3g}" if dtype != "float64" and float(match.group("biggest")) <= wider
                else "")
        return (f"{column} holds values too large for a squared-error loss in {dtype} "
                f"({match.group('detail')}). Rescale the column {_AS_READ}{also}.")
    if message.startswith("y's largest magnitude "):
        # The loss sums overflow float64 whatever --dtype: rescaling, or a
        # smaller mini-batch (its option, translated with the others).
        message = re.sub(r"^y's largest magnitude (\S+) is",
                         lambda m: f"the largest magnitude of {column}, {m.group(1)}, is", message)
        return message.replace("Rescale y, for example with sklearn.compose."
                               "TransformedTargetRegressor and a StandardScaler",
                               f"Rescale the column {_AS_READ}")
    return message


def command_line_advice(message, estimator, args, target=None):
    """The advice of a :class:`~fastbp.exceptions.DivergenceError` or a
    :class:`~fastbp.exceptions.GradientWarning` as a command-line user
    acts on it: each parameter it names as the option that sets it
    (``learning_rate_init`` as ``--learning-rate-init``, ``gamma=2`` as
    ``--set gamma=2``, or as ``--set`` where ``args`` set it so), and no
    advice to standardise X, which ``fastbp train`` did.

    Parameters
    ----------
    message : str
    estimator : MLPClassifier or MLPRegressor
        The fitted estimator, whose parameter names are translated.
    args : argparse.Namespace
        ``train``'s arguments.
    target : str or None
        The regression target column, fitted unscaled: the advice to
        standardise y names it. None for a classifier.
    """
    import re

    from ..cli import _OPTION_PARAMS

    options = {param: "--" + attr.replace("_", "-") for attr, param in _OPTION_PARAMS.items()}
    given = parse_settings(args.set)
    if target is not None:
        message = target_range_advice(message, target)
    # The early-stopping split's advice (estimators/solvers.py): on the
    # command line an option turned early stopping on, and dropping it is
    # how to turn it off ("--set early_stopping=False" beside
    # --validation-fraction would be refused as setting it twice).
    message = message.replace("'validation_fraction'", "validation_fraction")
    turned_on = [option for option, on in (
        ("--validation-fraction", getattr(args, "validation_fraction", None) is not None),
        ("--early-stopping", getattr(args, "early_stopping", False)),
        ("--set early_stopping=True", given.get("early_stopping") is True)) if on]
    turn_off = None
    if turned_on and "set early_stopping=False" in message:
        message = message.replace("early_stopping=True could not split",
                                  "early stopping could not split")
        # Put in after the parameters are translated, which would take its
        # "--set early_stopping=True" for a parameter to translate.
        turn_off = f"drop {' and '.join(turned_on)} to train without early stopping"
        message = message.replace("set early_stopping=False", _TURN_OFF)
    names = sorted(estimator.get_params(deep=False), key=len, reverse=True)

    def option(match):
        name, value, alternatives, bound = match.group("name", "value", "alternatives",
                                                       "bound")
        if value is None and "_" not in name and name not in _BARE_PARAMS:
            return match.group(0)  # a word of the text ("loss"), not the parameter
        # The command line's choices are written unquoted (--normalization batch).
        value = value.strip("'") if value is not None else "..."
        alternatives = (alternatives or "").replace("'", "")
        bound = f" with a value above {bound}" if bound is not None else ""
        if name in given or name not in options:
            # Set by --set already: its option too would be refused (settings).
            return f"--set {name}={value}" + alternatives + bound
        if value == "...":
            return options[name] + bound
        if name in _SWITCHES:
            return options[name] if value == "True" else f"--set {name}={value}"
        return f"{options[name]} {value}" + alternatives

    message = re.sub(rf"(?<![\w.'-])(?P<name>{'|'.join(map(re.escape, names))})"
                     rf"(?:=(?P<value>{_VALUE})(?P<alternatives>{_ALTERNATIVES})|{_BOUND})?"
                     r"(?![\w=])",
                     option, message)
    if turn_off is not None:
        message = message.replace(_TURN_OFF, turn_off)
    scale_target = (f"standardise the target column {target!r} (fastbp train "
                    "standardises the numeric feature columns, not the target)")
    message = re.sub(_STANDARDISE_ASIDE, "", message)
    if target is not None:
        # Functions, not replacement strings: a column name may hold backslashes.
        message = re.sub(_STANDARDISE_SENTENCE, lambda m: f"To fix it, {scale_target}.",
                         message)
        return re.sub(_STANDARDISE_ITEM, lambda m: scale_target, message)
    message = re.sub(r" ?" + _STANDARDISE_SENTENCE, "", message)
    match = re.search(rf"(?P<before>,? or |, )?{_STANDARDISE_ITEM}(?P<after>, )?", message)
    if match is None:
        return message
    if match.group("after") or not match.group("before") or "or" not in match.group("before"):
        # The first (or a middle) remedy: its comma goes with it.
        return (message[:match.start()] + (match.group("before") or "")
                + message[match.end():])
    # The last remedy: the one before it takes its " or ".
    head = message[:match.start()]
    start = max((head.rfind(lead) + len(lead) for lead in _LIST_STARTS if lead in head),
                default=len(head))
    depth, cut = 0, -1
    for i in range(start, len(head)):
        depth += {"(": 1, ")": -1}.get(head[i], 0)
        if depth == 0 and head.startswith(", ", i):
            cut = i
    if cut >= 0:
        head = head[:cut] + match.group("before") + head[cut + 2:]
    return head + message[match.end():]

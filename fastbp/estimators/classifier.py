"""fastbp.MLPClassifier."""

import contextlib
import math
import sys

import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import validate_data

from ..training.data import FIT_DTYPES, all_finite, fit_layout
from ._docs import COMMON_ATTRIBUTES, COMMON_PARAMETERS
from .base import BaseMLP
from .checks import (check_classes, check_fits_dtype, check_sparse_structure,
                     column_vector_as_1d, float_sparse, naming)
from .constraints import CLASSIFIER_CONSTRAINTS
from .fit_calls import from_model_before, one_call_at_a_time
from .network import plain_matrix


def _plain_fit_input(X, y):
    """Whether a first fit's ``X`` and ``y`` need none of scikit-learn's
    validation: ``X`` a finite, non-empty, C-contiguous, aligned, writable
    float32 or float64 NumPy array (what ``validate_data`` returns as is),
    ``y`` a 1-D NumPy array of native-order integer labels, one per row."""
    return (plain_matrix(X) and X.dtype.kind == "f" and X.dtype.itemsize in (4, 8)
            and X.shape[1] > 0 and type(y) is np.ndarray and y.ndim == 1
            and y.dtype.kind in "iu" and y.dtype.isnative and y.shape[0] == X.shape[0]
            and all_finite(X.reshape(-1)))


# The most classes whose identity matrix a model keeps for binarising
# labels (64 KiB).
_KEPT_IDENTITY = 256


def _label_offsets(labels, lowest):
    """``labels - lowest`` as int64, for integer labels at or above
    ``lowest`` and at most a lookup table's span above it: computed in
    int64 (wrapping), since the labels' own dtype may not hold the
    difference (int8 labels -100 and 100; uint64 labels above 2**63)."""
    return np.subtract(labels, lowest, dtype=np.int64, casting="unsafe")


def _check_class_weight_values(class_weight):
    """Refuse a ``class_weight`` dict (or list of dicts) with a weight that is
    not a finite, non-negative number, as ``sample_weight``'s are refused:
    a negative weight turns the loss upside down, and NaN poisons it."""
    dicts = class_weight if isinstance(class_weight, list) else [class_weight]
    for weights in dicts:
        if not isinstance(weights, dict):
            continue  # the caller's own check names a malformed list
        for label, weight in weights.items():
            try:
                value = float(weight)
            except (TypeError, ValueError):
                raise ValueError(f"class_weight[{label!r}] is {weight!r}, not a number.") from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"class_weight[{label!r}] is {value}: class weights must be finite and "
                    "non-negative (0 leaves a class out of the loss).")


def _check_class_weight_keys(weights, classes, name, of):
    """Refuse a ``class_weight`` dict ``weights`` by scikit-learn's rule
    (``compute_class_weight``): it may name labels that are not
    ``classes`` only if it names every class. A dict made for all the
    data set's classes then fits a subset of them (a cross-validation fold
    without a rare class); one naming some of ``classes`` and nothing else
    leaves the others at weight 1. ``of`` names ``classes`` in the message.
    """
    missing = [c for c in classes if c not in weights]
    if not missing or len(classes) - len(missing) == len(weights):
        return
    known = set(classes)
    unknown = sorted((label for label in weights if label not in known), key=str)
    raise ValueError(
        f"{name} leaves out the classes {missing}, so it may name only classes (as "
        "scikit-learn's compute_class_weight requires; a dict naming every class may "
        f"name other labels too): give {missing} a weight, or drop the labels that are "
        f"no class. {name} has labels {unknown} that are not in {of} {classes}.")


def _fitted_binarizer(classes):
    """``LabelBinarizer().fit(y)`` for 1-D integer ``y`` whose sorted unique
    labels are ``classes``: its three fitted attributes, set directly."""
    binarizer = LabelBinarizer()
    binarizer.y_type_ = "binary" if len(classes) <= 2 else "multiclass"
    binarizer.sparse_input_ = False
    binarizer.classes_ = classes
    return binarizer


@contextlib.contextmanager
def _one_type_of_labels(y, name="y"):
    """Name a ``y`` (or ``classes``, ``name``) whose labels mix types
    (numbers and strings) where sorting them into classes fails: NumPy's
    ``TypeError`` ("'<' not supported between instances of 'str' and
    'int'") names neither the argument nor the remedy."""
    try:
        yield
    except TypeError as exc:
        if getattr(y, "dtype", None) != object:
            raise
        by_type = {}
        for value in np.ravel(y):
            by_type.setdefault(type(value).__name__, value)
        if len(by_type) < 2:
            raise
        examples = ", ".join(f"{v!r} ({t})" for t, v in sorted(by_type.items()))
        raise ValueError(
            f"{name} mixes labels of different types ({examples}), which cannot be sorted "
            f"into classes: give labels of one type, for example {name}.astype(str).") from exc


def _is_missing(value):
    """Whether one label is None or a value not equal to itself (NaN)."""
    if value is None:
        return True
    try:
        unequal = value != value
        return isinstance(unequal, (bool, np.bool_)) and bool(unequal)
    except Exception:  # a value that does not compare is no missing value
        return False


def _check_no_missing_labels(y):
    """Raise a ``ValueError`` naming ``y`` if it holds missing values (NaN,
    None, ``pd.NA``): scikit-learn's label checks failed on ``pd.NA`` with
    "boolean value of NA is ambiguous", or tried to sort NaN or None among
    strings (a type mix, whose remedy made None a class), or read a list's
    NaN among strings as the label 'nan'. Only pandas inputs, object arrays
    and other sequences are looked at: a numeric or string array has no
    None, and scikit-learn's checks name a float NaN."""
    isna = getattr(y, "isna", None)
    if isna is not None:
        missing = np.asarray(isna())
    elif (y is None or (isinstance(y, np.ndarray) and y.dtype != object)
          or sp.issparse(y) or np.isscalar(y)):
        # (y=None, or a scalar, is not labels with a missing one: scikit-learn's
        # validation names it, "requires y to be passed" for None.)
        return
    else:
        # helper-161: a list's or object array's None and NaN (NaN as
        # "not equal to itself", as pandas finds it).
        try:
            if np.asarray(y).dtype.kind in "biuf":
                return  # numbers: scikit-learn's checks name a NaN
            values = np.asarray(y, dtype=object)
        except (TypeError, ValueError):
            return  # ragged: scikit-learn's checks name it
        # helper-169: np.equal and np.not_equal gave object arrays where y
        # held pd.NA (which compares as NA), and the check gave up. pandas
        # names its NA, NaT, None and NaN; without pandas imported no pd.NA
        # exists, and each value is looked at alone.
        pandas = sys.modules.get("pandas")
        if pandas is not None:
            missing = np.asarray(pandas.isna(values), dtype=bool)
        else:
            missing = np.frompyfunc(_is_missing, 1, 1)(values).astype(bool)
    rows = missing.any(axis=tuple(range(1, missing.ndim))) if missing.ndim > 1 else missing
    if not rows.any():
        return
    value = np.asarray(y, dtype=object)[missing][0]
    what = "NaN" if isinstance(value, (float, np.floating)) else repr(value)
    raise ValueError(
        f"Input y contains {what} (a missing value) in {np.count_nonzero(rows)} row(s), the "
        f"first at position {int(np.flatnonzero(rows)[0])}: every sample needs a class "
        "label. Drop those rows or fill them with a label.")


def _check_multilabel_classes(classes, y):
    """Raise a ``ValueError`` unless partial_fit's ``classes`` are the
    column indices of the multilabel indicator ``y``, its labels: the model
    predicts one output per column, and ``classes_`` names them."""
    columns = unique_labels(y)
    if not (len(classes) == len(columns) and np.array_equal(classes, columns)):
        raise ValueError(
            f"y is a multilabel indicator of {len(columns)} outputs, whose labels are its "
            f"column indices {columns.tolist()}; classes must be those, since the model "
            f"predicts one output per column. Got classes={np.asarray(classes).tolist()}.")


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier, trained by compiled backpropagation.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    the same parameters, defaults, fitted attributes and, for the same
    ``random_state``, the same model; each training epoch runs as one
    Numba-compiled call. Minimises the cross-entropy (softmax output for
    multiclass, logistic outputs for binary and multilabel targets).

    Parameters
    ----------
    {params}

    class_weight : dict, list of dict, 'balanced' or None, default=None
        Weights of the classes, multiplied into ``sample_weight`` as in
        scikit-learn's linear models: a dict ``{{label: weight}}`` (classes
        it leaves out weigh 1; it may name labels that are no class only if
        it names every class, as scikit-learn's ``compute_class_weight``
        requires, so a dict for all the data suits a fold without a rare
        class), or 'balanced' for ``n_samples / (n_classes * bincount(y))``,
        the counts weighted by ``sample_weight`` when it is given (as in
        scikit-learn's LogisticRegression: weighting a row by 2 is repeating
        it). For multilabel targets, a list of one dict per output keyed by
        0 and 1, other keys as above (a row's weight is the product over its
        outputs, as ``sklearn.utils.class_weight.compute_sample_weight``
        computes it), or 'balanced'. Not 'balanced' in ``partial_fit`` (pass dicts
        computed over all data). As with ``sample_weight`` (scikit-learn's
        MLP formula), each mini-batch's loss is its rows' weighted mean:
        weights change the model through their ratios within a batch, so
        with ``batch_size=1`` they cancel, save in the penalty's share.

    {device}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted; for a multilabel target, the indicator's
        column indices ``0, ..., n_outputs - 1``.

    {attrs}

    out_activation_ : str
        Output function: 'softmax' or 'logistic'.

    See Also
    --------
    MLPRegressor : The regression counterpart.
    sklearn.neural_network.MLPClassifier : The reference implementation.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastbp import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=30,
    ...                     random_state=0).fit(X / 16, y)
    >>> clf.predict_proba(X[:2] / 16).shape
    (2, 10)
    >>> bool(clf.score(X / 16, y) > 0.9)
    True
    """

    _parameter_constraints: dict = dict(CLASSIFIER_CONSTRAINTS)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, init="glorot_uniform", step_size=10,
                 gamma=None, l1=0.0, dropout=0.0, normalization=None, residual=False,
                 clip_grad_norm=None, scoring=None, class_weight=None, device="cpu"):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation,
            solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, loss="log_loss", shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            init=init, step_size=step_size, gamma=gamma, l1=l1, dropout=dropout,
            normalization=normalization, residual=residual, clip_grad_norm=clip_grad_norm,
            scoring=scoring, device=device)
        self.class_weight = class_weight

    def _validate_input(self, X, y, incremental, reset):
        # helper-104: validation and the label binarizer convert a sparse
        # indicator y, trusting its indices (an index outside it wrote
        # outside the array).
        check_sparse_structure(y, "y")
        if incremental and not reset and not self.warm_start and self._plain_labels(X, y):
            Y = self._binarize(y, known_only=True)
            if Y is not None:
                self._y_labels = y
                return X, Y
        refit_labels = (not hasattr(self, "classes_")) or (not self.warm_start and not incremental)
        if reset and refit_labels and _plain_fit_input(X, y):
            # What validate_data and LabelBinarizer.fit conclude for this
            # input, without their 0.9 ms (each search fit pays it, holding
            # the GIL): X passes as is; integer labels are "binary" or
            # "multiclass" by their count.
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
            self._label_binarizer = _fitted_binarizer(np.unique(y))
            self.classes_ = self._label_binarizer.classes_
            self._y_labels = y
            return X, self._binarize(y)
        _check_no_missing_labels(y)
        # One copy of X on its way to the kernels' C order (fix-231); the
        # model's dtype where a later call converts X to it (_fit).
        X, order = fit_layout(X, self._weights_dtype() if (
            not reset and "coefs_" in self.__dict__) else None)
        with naming(("X", X), ("y", y)):
            X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                                 dtype=FIT_DTYPES, order=order, reset=reset)
        X = float_sparse(X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_vector_as_1d(y)
        if refit_labels:
            self._label_binarizer = LabelBinarizer()
            with _one_type_of_labels(y):
                self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            # helper-161: the label sets alone match where a multilabel
            # model's column indices are the 1-D labels (trained as one-hot
            # rows, no error), and the binarizer's message for the reverse
            # named neither y nor the remedy.
            if "_label_binarizer" not in self.__dict__:
                # classes_ set by hand with the weights, no binarizer
                # (helper-169: an AttributeError in a warm-start fit, as
                # partial_fit's was): built from them.
                self._label_binarizer = self._binarizer_from_classes(y)
            multilabel = self._label_binarizer.y_type_ == "multilabel-indicator"
            if multilabel != (y.ndim == 2):
                fitted = (f"a multilabel indicator of {len(self.classes_)} outputs"
                          if multilabel else
                          f"single class labels ({self._label_binarizer.y_type_})")
                given = ("1-D (single class labels)" if y.ndim == 1 else
                         f"2-D with {y.shape[1]} columns (multilabel indicator rows)")
                raise ValueError(
                    f"y is {given}, and this model was fitted on {fitted}: the target "
                    "type cannot change between partial_fit or warm-start fits. Pass y "
                    "of the type it was fitted on, or train anew on this y (fit with "
                    "warm_start=False).")
            with _one_type_of_labels(y):
                classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as "
                        f"in the previous call to fit. Previously got {self.classes_}, "
                        f"`y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}.")
        self._y_labels = y
        return X, self._binarize(y)

    def _plain_labels(self, X, y):
        """Whether a later ``partial_fit`` call may skip scikit-learn's
        validation: ``X`` a plain array (``_plain_input``) and ``y`` a 1-D
        integer array of single labels, from a model fitted on integer
        single labels. Its labels are then checked by ``_binarize``; any
        other input takes the full validation and its error messages. On a
        small network, that validation cost as much as the epoch."""
        return (self._integer_labels(X, y)
                and self._plain_input(X, self.coefs_[0].dtype))

    def _integer_labels(self, X, y):
        """Whether ``y`` is a 1-D NumPy array of integer labels, one per row
        of ``X``, for a model fitted on integer labels."""
        return ("classes_" in self.__dict__ and type(y) is np.ndarray and y.ndim == 1
                and y.dtype.kind in "iu" and self.classes_.dtype.kind in "iu"
                and getattr(X, "shape", ())[:1] == y.shape)

    def _binarize(self, y, known_only=False):
        """``LabelBinarizer.transform(y).astype(bool)``, computed directly for
        single-label targets: the binarizer re-derives the target type on
        every call, which costs more than a small compiled epoch.

        With ``known_only``, None unless every label is in ``classes_`` and
        the direct computation applies (the caller then validates fully).
        """
        classes = self.classes_
        if (self._label_binarizer.y_type_ in ("binary", "multiclass") and y.ndim == 1
                and len(classes) >= 2):
            idx = self._class_indices(y)
            if idx is not None:
                if len(classes) == 2:
                    return (idx == 1).reshape(-1, 1)
                # Rows of the identity, gathered with take (fancy indexing
                # took 14x longer).
                identity = self._class_lookup()[2]
                if identity is None:
                    identity = np.eye(len(classes), dtype=bool)
                return identity.take(idx, axis=0)
        if known_only:
            return None
        return self._label_binarizer.transform(y).astype(bool)

    def _class_indices(self, y):
        """Position of each label of ``y`` in ``classes_``, or None if a label
        is not there."""
        classes = self.classes_
        table = self._class_lookup()[1] if y.dtype.kind in "iu" and y.size else None
        if table is not None:
            # Small integer labels: a lookup table, a few times faster than
            # a binary search. (Bounds as Python ints: int64 labels against
            # uint64 classes would compare as floats.)
            # (ufunc reductions: ndarray.min's wrapper costs a microsecond more.)
            if (int(np.minimum.reduce(y)) < int(classes[0])
                    or int(np.maximum.reduce(y)) > int(classes[-1])):
                return None
            idx = table[_label_offsets(y, classes[0])]
            return None if np.minimum.reduce(idx) < 0 else idx
        idx = np.searchsorted(classes, y)
        np.clip(idx, 0, len(classes) - 1, out=idx)
        return idx if np.array_equal(classes[idx], y) else None

    def _class_lookup(self):
        """``(classes, table, identity)`` for ``_class_indices`` and
        ``_binarize``, built once per set of classes, not once per
        ``partial_fit`` call.

        ``classes`` is a private copy of ``classes_`` (the lookup is rebuilt
        when ``classes_`` no longer equals it, even changed in place);
        ``table[label - classes_[0]]`` is a label's position in ``classes_``
        (-1 for none; None unless the classes are integers less than about
        ``4 * n_classes`` apart); ``identity`` the boolean identity matrix
        (None for 2 classes, which need none, and for more than
        ``_KEPT_IDENTITY``, not worth keeping).
        """
        cached = self.__dict__.get("_class_lookup_cache")
        classes = self.classes_
        if (cached is not None and cached[0].dtype == classes.dtype
                and np.array_equal(cached[0], classes)):
            return cached
        k = len(classes)
        table = None
        if classes.dtype.kind in "iu" and k:
            # In Python ints: the span of int8 labels -100 and 100 overflows int8.
            span = int(classes[-1]) - int(classes[0])
            if span < 4 * k + 1024:
                table = np.full(span + 1, -1, dtype=np.intp)
                table[_label_offsets(classes, classes[0])] = np.arange(k)
        identity = np.eye(k, dtype=bool) if 2 < k <= _KEPT_IDENTITY else None
        cached = (classes.copy(), table, identity)
        self._class_lookup_cache = cached
        return cached

    def __getstate__(self):
        # The label lookup is rebuilt on first use.
        state = super().__getstate__()
        state.pop("_class_lookup_cache", None)
        return state

    def _fit(self, X, y, sample_weight, incremental):
        try:
            return super()._fit(X, y, sample_weight, incremental)
        finally:  # a failed fit never reaches _drop_fit_inputs
            self._drop_fit_inputs()

    def _drop_fit_inputs(self):
        # The whole training y: no part of the model (a checkpoint saved by
        # the root hook would hold it).
        self.__dict__.pop("_y_labels", None)

    def _combine_class_weight(self, y, sample_weight, dtype, incremental):
        # As scikit-learn's linear models: sample_weight * class_weight[y].
        if self.class_weight is None:
            return sample_weight
        multilabel = self._label_binarizer.y_type_ == "multilabel-indicator"
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: the class "
                "frequencies of one call are not those of the data set. Compute them "
                "with sklearn.utils.class_weight.compute_class_weight over all the data "
                "and pass class_weight as "
                + ("a list of one dict {0: weight, 1: weight} per output."
                   if multilabel else "a dict."))
        labels = self._y_labels
        if multilabel and isinstance(self.class_weight, dict):
            raise ValueError(
                "For multilabel targets, class_weight is 'balanced' or a list of one dict "
                f"per output ({len(self.classes_)} here), each keyed by 0 and 1, as "
                "sklearn.utils.class_weight.compute_sample_weight takes it; got a dict.")
        if isinstance(self.class_weight, list):
            if not multilabel:
                raise ValueError(
                    "class_weight as a list of dicts (one per output) is for multilabel "
                    f"targets; for these {self._label_binarizer.y_type_} targets pass one "
                    "dict {label: weight}, or 'balanced'.")
            if (len(self.class_weight) != len(self.classes_)
                    or not all(isinstance(w, dict) for w in self.class_weight)):
                raise ValueError(
                    f"class_weight for these multilabel targets is a list of "
                    f"{len(self.classes_)} dicts (one per output), each keyed by 0 and/or "
                    f"1; got {self.class_weight!r}.")
            for k, weights in enumerate(self.class_weight):
                _check_class_weight_keys(
                    weights, [0, 1], f"class_weight[{k}] (output {k}'s dict, in a list of "
                    f"{len(self.classes_)} dicts, one per output)", "its classes")
        if isinstance(self.class_weight, dict):
            _check_class_weight_keys(self.class_weight, np.asarray(self.classes_).tolist(),
                                     "class_weight", "classes_")
        # Every class of the model in the dicts, weight 1 where not named,
        # labels that are no class left out (a class absent from one call,
        # or an output that is all 0, is then not an error:
        # compute_sample_weight refuses a dict that names some classes of y
        # but not all of them, and labels that y lacks).
        class_weight = self.class_weight
        if isinstance(class_weight, (dict, list)):
            _check_class_weight_values(class_weight)
        if isinstance(class_weight, list):
            class_weight = [{0: w.get(0, 1.0), 1: w.get(1, 1.0)} for w in class_weight]
        elif isinstance(class_weight, dict):
            class_weight = {c: class_weight.get(c, 1.0)
                            for c in np.asarray(self.classes_).tolist()}
        if class_weight == "balanced" and sample_weight is not None:
            weights = _balanced_sample_weight(labels, sample_weight)
        elif isinstance(class_weight, dict):
            # By position in classes_: compute_sample_weight looks each class
            # up as int(class) where it can, and a label "1" is no key 1.
            per_class = np.array(list(class_weight.values()), dtype=np.float64)
            weights = per_class[self._class_indices(np.asarray(labels))]
        else:
            weights = compute_sample_weight(class_weight, labels)
        # In float64 (sample_weight too, validated so), checked, then cast
        # once: weights beyond the model's range would be inf and train NaN
        # (a DivergenceError blaming the learning rate), and the product
        # rounds once, as the same weights given as sample_weight do.
        weights = np.asarray(weights, dtype=np.float64)
        combined = weights if sample_weight is None else sample_weight * weights
        name = "class_weight" if sample_weight is None else "class_weight times sample_weight"
        limit = float(np.finfo(dtype).max)
        if multilabel and combined.size and not float(np.max(combined)) <= limit:
            # helper-155: a row's weight is the product of its outputs'
            # class weights, which can leave the range where no weight does
            # (the message blamed the weights, and dividing them by their
            # mean would not do).
            biggest = float(np.max(combined))
            reach = ("overflows float64" if not math.isfinite(biggest)
                     else f"reaches {biggest:.3g}, beyond {np.dtype(dtype).name}'s range "
                          f"({limit:.3g}), in which this model computes")
            also = "" if sample_weight is None else " (times its sample_weight)"
            raise ValueError(
                f"The weight of a row under class_weight{also}, the product of its "
                f"weights over the {len(self.classes_)} outputs, {reach}; no single "
                "class_weight value need be out of range for that. Lower the per-output "
                "weights, so that their product over the outputs stays in range"
                + ("" if np.dtype(dtype) == np.float64
                   else ", or fit on float64 data for a float64 model") + ".")
        if not np.all(np.isfinite(combined)):
            raise ValueError(f"{name} overflows float64; rescale the weights (divide them by "
                             "their mean, say).")
        check_fits_dtype(combined, dtype, name)
        combined = combined.astype(dtype)
        if not np.any(combined > 0):
            raise ValueError(
                "class_weight (times sample_weight, if given) gives every sample of this "
                "call a weight of zero: nothing to train on. Give at least one class "
                "present in y a positive weight.")
        return combined

    def _check_loaded_outputs(self, out):
        binarizer, classes = self.__dict__.get("_label_binarizer"), self.__dict__.get("classes_")
        if binarizer is None or classes is None:
            raise ValueError("a fitted classifier needs classes_ and its label binarizer")
        if not np.array_equal(np.asarray(binarizer.classes_), np.asarray(classes)):
            raise ValueError(f"classes_ {np.asarray(classes).tolist()} differ from the labels "
                             f"the model decodes, {np.asarray(binarizer.classes_).tolist()}")
        y_type = getattr(binarizer, "y_type_", None)
        n_out = self.coefs_[-1].shape[1]
        wanted = 1 if y_type == "binary" else len(classes)
        if y_type not in ("binary", "multiclass", "multilabel-indicator") or n_out != wanted:
            raise ValueError(f"{n_out} output unit(s) do not fit {len(classes)} class(es) of "
                             f"{y_type!r} targets")
        if out != self._output_activation():
            raise ValueError(f"out_activation_ {out!r} does not fit {y_type!r} targets, "
                             f"which need {self._output_activation()!r}")

    def _check_weights_alone_suffice(self):
        # Without its labels (or out_activation_ set by hand too) the
        # output function is unknown.
        if "_label_binarizer" in self.__dict__:
            return
        if "classes_" in self.__dict__:
            # classes_ set by hand with the weights (helper-154: refused as
            # "no classes"): they decode the outputs, as partial_fit's
            # classes would.
            self._label_binarizer = self._binarizer_from_classes()
        elif "out_activation_" not in self.__dict__:
            raise self._without_classes()

    def _binarizer_from_classes(self, y=None):
        """The label binarizer for ``classes_`` set by hand (no fit or
        ``partial_fit`` built one), checked against the output layer; for
        multilabel ``y`` (a ``partial_fit``'s), that of its columns.

        Raises
        ------
        ValueError
            Where ``classes_`` are not a 1-D array of sorted unique labels,
            or name more or fewer classes than ``coefs_[-1]`` gives outputs.
        """
        classes = self.classes_
        try:
            ok = (isinstance(classes, np.ndarray) and classes.ndim == 1 and classes.size
                  and np.array_equal(np.unique(classes), classes))
        except TypeError:  # labels of mixed types do not sort
            ok = False
        if not ok:
            raise ValueError(f"classes_ set by hand must be a non-empty 1-D array of sorted, "
                             f"unique labels (as np.unique gives); got {classes!r}.")
        binarizer = LabelBinarizer()
        if y is not None and type_of_target(y).startswith("multilabel"):
            _check_multilabel_classes(classes, y)
            return binarizer.fit(y)
        binarizer.fit(classes)
        n_out = np.shape(self.coefs_[-1])[-1] if "coefs_" in self.__dict__ else None
        wanted = 1 if binarizer.y_type_ == "binary" else len(classes)
        if n_out is not None and n_out != wanted:
            raise ValueError(f"classes_ set by hand name {len(classes)} class(es), which need "
                             f"{wanted} output unit(s), but coefs_[-1] gives {n_out}.")
        return binarizer

    def _without_classes(self):
        return NotFittedError(
            f"This {type(self).__name__} has weights set by hand (coefs_, intercepts_) but "
            "no classes, so its outputs cannot be decoded into labels. Call "
            "partial_fit(X, y, classes=...) to train on from these weights, or fit.")

    def _output_activation(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _stratify_labels(self, y):
        # Stratify single-label targets (binary and multiclass) by class.
        y_type = self._label_binarizer.y_type_
        if y_type == "binary":
            return self._y_labels
        if y_type == "multiclass" and self._can_stratify(self._y_labels):
            return self._y_labels
        # scikit-learn does not stratify multiclass targets at all: where a
        # stratified split is impossible (a class with a single member, or
        # fewer validation or training rows than classes) fall back to its
        # plain random split rather than fail where it succeeds.
        return None

    def _can_stratify(self, labels):
        _, counts = np.unique(labels, return_counts=True)
        n_samples, n_classes = len(labels), len(counts)
        n_val = int(np.ceil(self.validation_fraction * n_samples))
        return (counts.min() >= 2 and n_val >= n_classes
                and n_samples - n_val >= n_classes)

    def _decode(self, out):
        """Labels from network outputs ``out`` of shape (n_samples, n_outputs_).

        The same decisions and dtypes as ``LabelBinarizer.inverse_transform``
        (the first argmax, or a threshold halfway between its labels), taken
        directly: its array-API dispatch cost 90 us of a 100 us ``predict``
        of one row.
        """
        binarizer = self.__dict__.get("_label_binarizer")
        if binarizer is None:
            raise self._without_classes()
        if self.n_outputs_ == 1:
            out = out.ravel()
        y_type, classes = binarizer.y_type_, binarizer.classes_
        if y_type == "multiclass" and out.ndim == 2:
            return classes[out.argmax(axis=1)]
        threshold = (binarizer.pos_label + binarizer.neg_label) / 2.0
        if y_type == "binary" and out.ndim == 1:
            if len(classes) == 1:
                return np.repeat(classes[0], len(out))
            return classes[(out > threshold).view(np.uint8)]
        if y_type == "multilabel-indicator" and out.ndim == 2:
            labels = (out > threshold).astype(np.int64)
            if not binarizer.sparse_input_:
                return labels
            # Fitted on a sparse y, the binarizer gives CSR, as scikit-learn's
            # MLP: a csr_array where its sparse_interface setting says
            # "sparray" (helper-154: always a csr_matrix here).
            try:
                from sklearn.utils import _align_api_if_sparse
            except ImportError:  # scikit-learn < 1.9: always a csr_matrix
                return sp.csr_matrix(labels)
            return _align_api_if_sparse(sp.csr_matrix(labels))
        return binarizer.inverse_transform(out)

    def _validation_targets(self, y):
        return self._label_binarizer.inverse_transform(y)

    def _score_outputs(self, out, y, sample_weight):
        return accuracy_score(y, self._decode(out), sample_weight=sample_weight)

    def _outputs_scorer(self, y, sample_weight):
        """``score(out)``: the accuracy of outputs ``out`` on labels ``y``,
        for early stopping, after every epoch.

        Unweighted binary and multiclass labels are compared as class
        indices found once: the same decisions as ``_decode`` (argmax, or
        the binarizer's threshold of 0.5) and the same ``count / n``
        accuracy_score returns, without its validation of ``y`` on every
        call (400 us an epoch).
        """
        binarizer = self._label_binarizer
        fallback = lambda out: self._score_outputs(out, y, sample_weight)  # noqa: E731
        # One class (y_type_ "binary" too) decodes every output to it.
        if (sample_weight is not None or len(self.classes_) < 2
                or binarizer.y_type_ not in ("binary", "multiclass")):
            return fallback
        codes = np.searchsorted(self.classes_, y)
        if not np.array_equal(self.classes_[np.minimum(codes, len(self.classes_) - 1)], y):
            return fallback  # a label outside classes_: accuracy_score counts it wrong
        n = len(y)
        if binarizer.y_type_ == "binary":
            threshold = (binarizer.pos_label + binarizer.neg_label) / 2.0
            return lambda out: np.count_nonzero((out[:, 0] > threshold) == codes) / n
        return lambda out: np.count_nonzero(out.argmax(axis=1) == codes) / n

    @from_model_before
    def predict(self, X):
        """Predict classes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Predicted labels (indicator matrix for multilabel targets).
        """
        self._check_fitted()
        return self._decode(self._forward(X))

    @from_model_before
    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``self.predict(X)`` against ``y``, as
        ``ClassifierMixin.score`` (``accuracy_score``) computes it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the mean (``accuracy_score``'s); None
            weighs them alike.

        Returns
        -------
        score : float
        """
        # (accuracy_score's sparse arithmetic trusts a sparse y's indices.)
        check_sparse_structure(y, "y")
        # 1-D integer labels and no weights: the count itself, without
        # accuracy_score's target-type checks (0.46 ms of each search
        # fold's score, holding the GIL); the same float, computed exactly.
        if sample_weight is None and self._integer_labels(X, y) and y.shape[0] > 0:
            predicted = self.predict(X)
            if predicted.shape == y.shape:
                return int(np.count_nonzero(predicted == y)) / y.shape[0]
            return accuracy_score(y, predicted)  # its message, without a second predict
        return super().score(X, y, sample_weight=sample_weight)

    @available_if(lambda est: est._check_solver())
    @one_call_at_a_time
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 input trains a float32 model.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, among ``classes`` (a label indicator matrix for
            multilabel classification).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; None weighs the samples alike.
        classes : array of shape (n_classes,), default=None
            All classes across calls; required on the first call.

        Returns
        -------
        self : object
        """
        def first_call():
            if (classes is not None and "classes_" in self.__dict__
                    and type(classes) is np.ndarray and classes.dtype == self.classes_.dtype
                    and np.array_equal(classes, self.classes_)):
                # The classes of the first call again: nothing to check.
                return
            if classes is not None:
                check_classes(classes)
            # (Sorting them there, it has sorted them for the binarizer.)
            with _one_type_of_labels(np.asarray(classes, dtype=object), "classes"):
                first = _check_partial_fit_first_call(self, classes)
            if not first and "_label_binarizer" not in self.__dict__:
                # classes_ set by hand with the weights, no binarizer
                # (helper-154: an AttributeError): built from them.
                check_sparse_structure(y, "y")
                self._label_binarizer = self._binarizer_from_classes(y)
            if first:
                # (type_of_target converts a LIL y to CSR.)
                check_sparse_structure(y, "y")
                _check_no_missing_labels(y)
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    # (scikit-learn takes any superset of them: its classes_
                    # then name outputs the model does not have.)
                    _check_multilabel_classes(self.classes_, y)
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)

        return self._transactional_fit(X, y, sample_weight, incremental=True,
                                       prepare=first_call)

    @from_model_before
    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            In the order of ``classes_``.
        """
        self._check_fitted()
        out = self._forward(X)
        if self.n_outputs_ == 1:
            out = out.ravel()
        if out.ndim == 1:
            return np.vstack([1 - out, out]).T
        return out

    @from_model_before
    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _balanced_sample_weight(labels, sample_weight):
    """Each row's 'balanced' class weight, from class counts weighted by
    ``sample_weight``, the product over the outputs of multilabel targets.

    ``compute_class_weight("balanced", ..., sample_weight=...)``'s formula,
    ``sum(counts) / (n_classes * counts)``, per output, as scikit-learn's
    LogisticRegression and forests weigh it. A class whose rows all weigh 0
    gets 0 (not the formula's infinity, whose product with those zeros
    would be NaN).

    Parameters
    ----------
    labels : ndarray of shape (n_samples,) or (n_samples, n_outputs), or sparse matrix
        A sparse matrix is a multilabel indicator.
    sample_weight : ndarray of shape (n_samples,)

    Returns
    -------
    weights : ndarray of float64, shape (n_samples,)
    """
    sparse = sp.issparse(labels)
    columns = labels.tocsc() if sparse else labels.reshape(labels.shape[0], -1)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    weights = np.ones(columns.shape[0])
    for k in range(columns.shape[1]):
        # A sparse indicator's column, dense (one at a time): its implicit
        # zeros are rows of class 0 too.
        column = columns[:, [k]].toarray().ravel() if sparse else columns[:, k]
        _, index = np.unique(column, return_inverse=True)
        counts = np.bincount(index.ravel(), weights=sample_weight)
        per_class = np.zeros_like(counts)
        np.divide(counts.sum(), counts.shape[0] * counts, out=per_class, where=counts > 0)
        weights *= per_class[index.ravel()]
    return weights


if MLPClassifier.__doc__:  # None under python -OO, which strips docstrings
    # device comes last, after class_weight, as in the signature.
    _before, _device = COMMON_PARAMETERS.split("\n\n    device :")
    MLPClassifier.__doc__ = MLPClassifier.__doc__.format(
        params=_before, device="device :" + _device, attrs=COMMON_ATTRIBUTES)

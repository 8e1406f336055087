"""The fitted network of an estimator: its parameters as the kernels take
them, and the forward pass through them.

:class:`NetworkMixin` packs the fitted attributes into flat buffers (or
finds the buffers a fit left), validates the input that is predicted on
(with a fast path for plain arrays), refuses parameters the kernels cannot
run (non-finite values, negative running variances, biases before a
normalisation) and runs :func:`~fastbp.training.predict.predict_rows`.
Separate from :mod:`~fastbp.estimators.base` because prediction reads
these alone: it needs none of the fit's transaction or solvers.
"""

import sys

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils.validation import check_is_fitted, validate_data

from ..training.backend import BACKEND_CLASSES, get_backend
from ..training.data import all_finite
from ..training.predict import chunk_rows, inference_plan, predict_rows
from ..training.spec import (
    HIDDEN_ACTIVATIONS,
    INPUT_NOT_FINITE,
    NORM_NONE,
    NORMALIZATIONS,
    OUTPUT_FUNCTIONS,
    OUTPUT_NOT_FINITE,
    PARAMS_NOT_FINITE,
    build_spec,
)
from . import architecture as arch
from .checks import (
    check_fits_dtype,
    check_raw_input,
    naming,
    native_byte_order,
    refuse_non_finite,
)

# The dtypes the kernels take as they are (native float32 and float64).
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# BaseMLP._flat_parameters: the caller did not look up the packed buffers.
_UNKNOWN = object()


def _in_dtype(X, dtype):
    """``X`` (validated; dense or sparse) cast to the model's ``dtype``,
    refused where its values overflow it."""
    check_fits_dtype(X, dtype, "X")
    if sp.issparse(X):
        return X.astype(dtype)
    # C order in the one conversion: astype kept a DataFrame's F order, and
    # KernelInput copied all of X a second time to read it (helper-162).
    return np.asarray(X, dtype=dtype, order="C")


def _one_numpy_dtype(X):
    """The NumPy dtype of ``X`` where it is a NumPy array (a subclass such
    as ``np.memmap`` too, but not ``np.matrix``, which validation makes an
    array) or a pandas DataFrame whose columns all have that one NumPy
    dtype; else None."""
    if isinstance(X, np.ndarray):
        return None if isinstance(X, np.matrix) else X.dtype
    pd = sys.modules.get("pandas")  # (not imported here: no DataFrame without it)
    if pd is not None and isinstance(X, pd.DataFrame) and X.shape[1]:
        dtypes = set(X.dtypes)
        if len(dtypes) == 1:
            (dtype,) = dtypes
            return dtype if isinstance(dtype, np.dtype) else None
    return None


def plain_matrix(X):
    """Whether ``X`` is a non-empty 2-D NumPy array that scikit-learn's
    validation would pass on as is, layout-wise: C-contiguous, writable,
    aligned (dtype, width and finiteness are the caller's to check)."""
    return (type(X) is np.ndarray and X.ndim == 2 and X.shape[0] > 0
            and X.flags.c_contiguous and X.flags.writeable and X.flags.aligned)


def _parameter_attributes(layout, params, running):
    """The fitted attributes of ``params`` and ``running`` (flat buffers, not
    copied): per-layer views of them, and ``_packed``, which lets
    prediction find the buffers again."""
    coefs, intercepts, scales, shifts = layout.unpack(params)
    running_mean, running_var = layout.unpack_running(running)
    if layout.norm != NORM_NONE:
        # helper-141 (found by helper-132): the kernels ignore a normalised
        # hidden layer's bias, which a fit keeps at zero. Read-only: an edit
        # in place would reach these buffers and change nothing, silently,
        # and noticing one at predict would cost every prediction a pass
        # over the biases. A replaced array is refused where it is packed
        # (BaseMLP._refuse_normalized_intercepts).
        for b in intercepts[:-1]:
            b.flags.writeable = False
    owners = params.base is None and running.base is None
    return {"coefs_": coefs, "intercepts_": intercepts,
            "normalization_scales_": scales, "normalization_shifts_": shifts,
            "running_mean_": running_mean, "running_var_": running_var,
            "_packed": ((params, running, (*coefs, *intercepts, *scales, *shifts,
                                           *running_mean, *running_var))
                        if owners else None)}


def output_function(name):
    """The kernels' code of the output function ``name`` (a model's
    ``out_activation_``).

    Raises
    ------
    ValueError
        If ``name`` is no output function: an ``out_activation_`` set by
        hand, unpickled or loaded, which the kernels' table would otherwise
        refuse with a bare ``KeyError``.
    """
    try:
        return OUTPUT_FUNCTIONS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable value
        raise ValueError(f"out_activation_ {name!r} is not one of "
                         f"{sorted(OUTPUT_FUNCTIONS)}") from None


def _refuse_non_finite_input(X, Y=None, sample_weight=None):
    """Raise scikit-learn's ``ValueError`` for an ``X`` (targets ``Y``,
    ``sample_weight``) holding NaN or infinity, which validation lets
    through under ``sklearn.set_config(assume_finite=True)``: called where
    the kernels' results point at the data, before blaming the model."""
    for name, value in (("X", X), ("y", Y), ("sample_weight", sample_weight)):
        if value is None:
            continue
        data = value.data if hasattr(value, "tocsr") else np.asarray(value)
        # all_finite: a sum, where X is finite, not a boolean array of X's size.
        if data.dtype.kind in "fc" and not all_finite(data.ravel()):
            refuse_non_finite(name)


class NetworkMixin:
    """Mixin of :class:`~fastbp.estimators.base.BaseMLP`: the network's
    parameters as flat buffers, input validation and the forward pass."""

    def _weights_dtype(self):
        """The dtype this model predicts and trains in.

        A model a fit trained keeps the fit's dtype, that of ``coefs_[0]``
        (float32 or float64): an array edited since (a float64 output layer
        put in for transfer learning) is packed in it, as the optimizer
        state that goes on with it is. Weights set by hand on a model no
        fit trained may be big-endian, integer, float16 or of mixed dtypes,
        which the kernels do not take: they compute in float32 where every
        array of ``coefs_`` and ``intercepts_`` is float32, else in float64
        (as scikit-learn's MLP predicts for a float64 ``X``), packed in it
        (big-endian values unchanged).
        """
        first = getattr(self.coefs_[0], "dtype", None)
        if first in _NATIVE_FLOATS and "n_iter_" in self.__dict__:
            return first  # (every partial_fit call asks: a fit's own dtype, at once)
        first = np.asarray(self.coefs_[0]).dtype
        if "n_iter_" in self.__dict__ and first.kind == "f" and first.itemsize in (4, 8):
            return np.dtype(np.float32 if first.itemsize == 4 else np.float64)
        if all(np.asarray(a).dtype.kind == "f" and np.asarray(a).dtype.itemsize == 4
               for a in (*self.coefs_, *self.intercepts_)):
            return np.dtype(np.float32)
        return np.dtype(np.float64)

    def __sklearn_is_fitted__(self):
        """Fitted once a fit has set the weights. (Without this, scikit-learn
        scans every attribute's name for a trailing underscore, and its
        ``_fit_context`` asks on every ``partial_fit`` call: 12 us.)"""
        return "coefs_" in self.__dict__

    def _check_fitted(self):
        """scikit-learn's ``check_is_fitted``, after a shortcut for the usual
        case: it scans every attribute, which costs more than predicting a
        few rows."""
        if "coefs_" not in self.__dict__:
            check_is_fitted(self)

    def _network(self, units, activations, normalization, residual, dropout, dtype):
        """This model's network: its spec, and its parameters and batch-norm
        statistics in new flat buffers of ``dtype``, for a fit to train."""
        spec = build_spec(units, [HIDDEN_ACTIVATIONS[a] for a in activations],
                          arch.normalization_code(normalization), residual, dropout,
                          output_function(self.out_activation_))
        return (spec, *self._flat_parameters(spec.layout, dtype, copy=True))

    def _pack(self, layout, dtype):
        """New flat buffers of ``dtype`` holding the fitted attributes:
        ``(params, running)``."""
        params = layout.pack(self.coefs_, self.intercepts_, dtype, self.normalization_scales_,
                             self.normalization_shifts_)
        # The hidden layers' biases lie together, before the output layer's:
        # one look at them, as a loaded model packs at every prediction.
        if layout.norm != NORM_NONE and params[layout.n_weights:layout.b_off[-1]].any():
            self._refuse_normalized_intercepts(
                next(name for name, code in NORMALIZATIONS.items() if code == layout.norm))
        return params, layout.pack_running(self.running_mean_, self.running_var_, dtype)

    def _set_parameters(self, layout, params, running):
        self.__dict__.update(_parameter_attributes(layout, params, running))

    def _flat_parameters(self, layout, dtype, copy=False, buffers=_UNKNOWN):
        """The parameters and running statistics as the kernels take them:
        flat buffers of ``dtype``.

        While the fitted attributes are the very views of the buffers that
        the fit left (``_packed``), those buffers, which every in-place
        change of the attributes reaches (with ``copy``, copies of them:
        one copy each, where packing concatenates every layer's arrays);
        else (attributes replaced, loaded, or of another dtype) packed
        again, which costs a prediction of a few rows a fifth of its time.
        ``buffers``: what :meth:`_packed_buffers` returned, where the caller
        asked already.
        """
        packed = self._packed_buffers() if buffers is _UNKNOWN else buffers
        if packed is not None and packed[0].dtype == dtype:
            params, running = packed
            return (params.copy(), running.copy()) if copy else (params, running)
        return self._pack(layout, dtype)

    def _packed_buffers(self):
        """``(params, running)``, the flat buffers of the last fit, while
        the fitted attributes are still their very views; else None
        (attributes replaced by hand, or loaded)."""
        packed = self.__dict__.get("_packed")
        if packed is None:
            return None
        params, running, views = packed
        current = (*self.coefs_, *self.intercepts_, *self.normalization_scales_,
                   *self.normalization_shifts_, *self.running_mean_, *self.running_var_)
        if len(current) == len(views) and all(a is v and (a.base is params or a.base is running)
                                              for a, v in zip(current, views)):
            return params, running
        return None

    def _layers_for_weights(self):
        """The hidden layers' activations and skip connections to predict
        with: the fit's, where they still fit the weights in ``coefs_``;
        else derived from the parameters for those weights' widths, as for
        weights set on an unfitted model (``_FILLED_IN``).

        Weights replaced by hand with other widths (as scikit-learn's MLP
        allows) would otherwise keep the fit's skip connections, and the
        kernels would add one layer's activations into a layer of another
        width (no bounds check): garbage. Nothing is stored: putting the
        fit's own arrays back predicts with the fit's state again.

        Returns
        -------
        activations : list of str, one per hidden layer
        residual : list of bool, one per hidden layer
        """
        widths = [W.shape[1] for W in self.coefs_[:-1]]
        residual, activations = self._residual, self._activations
        if (isinstance(residual, list) and len(residual) == len(widths)
                and isinstance(activations, list) and len(activations) == len(widths)
                and all(ok or not r for r, ok in zip(residual, arch.equal_widths(widths)))):
            return activations, residual
        return (arch.hidden_activations(self.activation, len(widths)),
                arch.residual_flags(self.residual, widths, warn=False))

    def _plain_input(self, X, dtype, check_finite=True):
        """Whether ``X`` needs none of scikit-learn's validation: a
        C-contiguous, writable, aligned, native NumPy array of the model's dtype and
        width, from a model fitted without feature names, and finite
        (``check_finite``; else the caller's kernel checks that).

        Anything else takes :func:`~sklearn.utils.validation.validate_data`,
        which gives the same result and every error message; this check
        costs a microsecond where that one costs tens, which matters when
        predicting a few rows at a time.
        """
        # (n_features_in_ is missing on weights set by hand before a fit.)
        return (plain_matrix(X) and X.dtype == dtype
                and X.shape[1] == self.__dict__.get("n_features_in_")
                and "feature_names_in_" not in self.__dict__
                and (not check_finite or all_finite(X.reshape(-1))))

    def _validated_input(self, X, dtype, kernel_checks_dense=True):
        """``X`` through scikit-learn's validation, checked to fit ``dtype``
        but not converted (float32 or float64, any layout, dense, CSR or
        CSC; a NumPy array of integers, bools or float16, or a sparse
        matrix of integers or bools, as it is):
        :func:`~fastbp.training.predict.predict_rows` converts it a block of
        rows at a time. ``kernel_checks_dense``: whether the
        backend's kernel reports a dense ``X`` that is not finite (the
        CPU's)."""
        X = check_raw_input(native_byte_order(X))
        # An integer, bool or float16 array stays as it is, as does a sparse
        # matrix of integers or bools (validation makes it CSR or CSC, of
        # the same dtype): predict_rows converts its blocks (helper-162:
        # validation converted all of it to float64, eight times a uint8 X,
        # for a float32 model too; fix-183: a sparse one's indices too).
        # Their values fit float32 and float64, and float16's non-finite
        # ones are refused by validation as before.
        # (rev-237) So does a subclass, np.memmap above all (joblib hands a
        # search's workers large arrays as read-only memmaps), and a
        # DataFrame of one such dtype, which validation checks the column
        # names of, as before, and then takes as its block's values.
        own = _one_numpy_dtype(X)
        keep = ((own is not None and (own.kind in "biu" or own == np.float16))
                or (sp.issparse(X) and X.dtype.kind in "biu"))
        with naming("X"):
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=None if keep else (np.float64, np.float32))
        if not keep and X.dtype != dtype:
            check_fits_dtype(X, dtype, "X")
        if (sp.issparse(X) or not kernel_checks_dense) and get_config()["assume_finite"]:
            # The CPU kernels check a dense X's chunks, not a sparse X's
            # values, and the GPU's neither (validation does, unless
            # assume_finite=True skipped it): relu turned a NaN into 0, tanh
            # saturated on inf, and the outputs came out finite and wrong.
            _refuse_non_finite_input(X)
        return X

    def _non_finite_parameters(self):
        """The fitted attributes that hold NaN or infinity (weights set by
        hand or loaded: a fit never keeps them)."""
        return [name for name in ("coefs_", "intercepts_", "normalization_scales_",
                                  "normalization_shifts_", "running_mean_", "running_var_")
                if not all(np.isfinite(a).all() for a in getattr(self, name, ()))]

    def _refuse_negative_variances(self):
        """Raise ``ValueError`` where ``running_var_`` holds a negative
        value: batch normalisation divides by its square root, NaN, which
        the outputs would otherwise show as an overflow blamed on X (or relu
        would hide as 0). A fit never keeps one: set by hand or loaded."""
        layers = [i for i, var in enumerate(self.__dict__.get("running_var_", ()), start=1)
                  if var.size and np.any(np.less(var, 0))]
        if layers:
            raise ValueError(
                f"running_var_ holds negative variances (in hidden layer(s) "
                f"{', '.join(map(str, layers))}): batch normalization takes their square "
                "root. Set running variances >= 0, or fit the model again.")

    def _refuse_normalized_intercepts(self, normalization):
        """Raise ``ValueError`` where a hidden layer that ``normalization``
        normalises has a non-zero ``intercepts_`` array.

        The kernels add no bias before a normalisation (its shift plays that
        part), so such values would be ignored without a word: weights
        ported from a network with a bias before its normalisation (PyTorch's
        ``Linear`` before ``BatchNorm1d`` or ``LayerNorm``), or a file edited,
        would predict wrongly. A fit keeps these arrays zero.
        """
        if normalization is None:
            return
        for i, b in enumerate(self.intercepts_[:-1]):
            if not np.any(b):  # (NaN counts as non-zero)
                continue
            ignored = (f"intercepts_[{i}] holds non-zero values, but hidden layer {i + 1} "
                       f"is normalised (normalization={normalization!r}), and fastbp adds "
                       "no bias before a normalisation: its shift, "
                       f"normalization_shifts_[{i}], plays that part, and intercepts_[{i}] "
                       "would be ignored.")
            if normalization == "batch":
                raise ValueError(
                    f"{ignored} Batch normalization removes a constant added to each unit, "
                    "in training and at prediction alike, so fold the bias into the "
                    f"running mean: subtract intercepts_[{i}] from running_mean_[{i}], then "
                    f"set intercepts_[{i}] to zeros.")
            raise ValueError(
                f"{ignored} Layer normalization takes its mean and variance across the "
                "layer's units, so a bias that differs between units cannot be folded "
                "into its other parameters: a network with such a bias before a layer "
                "normalization (PyTorch's Linear(bias=True) before LayerNorm) cannot be "
                "represented in fastbp. (A bias equal for every unit is removed by the "
                f"normalization: set intercepts_[{i}] to zeros.)")

    def _refuse_non_finite_parameters(self):
        """Raise ``ValueError`` naming the fitted attributes that hold NaN or
        infinity: weights set by hand or loaded, not X (a fit never keeps
        them)."""
        bad = self._non_finite_parameters()
        raise ValueError(f"The model's parameters hold NaN or infinite values (in "
                         f"{', '.join(bad)}): it cannot predict. Fit it again, or set "
                         "finite weights.")

    def _forward(self, X, validate=False):
        """Validated ``X`` through the network: output-layer values."""
        if ("_activations" not in self.__dict__ or "n_features_in_" not in self.__dict__
                or "_filled_state" in self.__dict__):
            # Weights set by hand, as scikit-learn's MLP allows before
            # predict: what a fit would also have set, from them (again
            # where they were replaced by others since).
            self._complete_fitted_state()
        buffers = self._packed_buffers()
        activations, residual = (self._activations, self._residual) if buffers is not None \
            else self._layers_for_weights()
        dtype = buffers[0].dtype if buffers is not None else self._weights_dtype()
        # On the CPU the kernel reports a non-finite X, sparing small
        # predictions a NumPy pass; such an X is then validated below.
        # (The class only: a bad X is named before a missing GPU.)
        checks_input = getattr(BACKEND_CLASSES.get(self.device), "checks_input", False)
        plain = not validate and self._plain_input(X, dtype, check_finite=not checks_input)
        if not plain:
            X = self._validated_input(X, dtype, kernel_checks_dense=checks_input)
        n_samples = X.shape[0]
        units = (self.n_features_in_, *[c.shape[1] for c in self.coefs_])
        plan = inference_plan(units, tuple(HIDDEN_ACTIVATIONS[a] for a in activations),
                              arch.normalization_code(self._normalization),
                              tuple(bool(r) for r in residual),
                              output_function(self.out_activation_), dtype,
                              chunk_rows(n_samples))
        params, running = self._flat_parameters(plan.spec.layout, dtype, buffers=buffers)
        layout = plan.spec.layout
        if params.size != layout.n_params or running.size != layout.n_running:
            # The kernel indexes both by the layout, unchecked: a fit of
            # another network in another thread replaced the attributes
            # between the reads above.
            raise RuntimeError(
                f"This {type(self).__name__} changed while it predicted (a fit, "
                "partial_fit or set of its attributes in another thread): each thread "
                "must use its own estimator.")
        backend = get_backend(self.device)
        if not checks_input and not all_finite(params, running):
            # The CPU kernel checks the parameters; the GPU's does not, and
            # relu turns a NaN weight's products into 0: outputs that look
            # like probabilities.
            self._refuse_non_finite_parameters()
        if running.size:
            # Nor the square root of a negative variance (a domain error
            # under the CUDA simulator), on either device: on the CPU, relu
            # turned its NaN into 0 and predicted finite, wrong outputs from
            # a running_var_ edited in place (helper-145). Batch-norm models
            # only, a pass over their hidden units' variances.
            self._refuse_negative_variances()
        if plain:
            out, status = plan.run(backend, params, running,
                                   backend.put(plan.dense_inputs(X)), n_samples, plain=True)
        else:
            out, status = predict_rows(plan, backend, params, running, X)
        if status & INPUT_NOT_FINITE and plain:
            # Validation names the problem.
            return self._forward(X, validate=True)
        if status & (INPUT_NOT_FINITE | OUTPUT_NOT_FINITE):
            # A validated X that is not finite: scikit-learn's
            # assume_finite=True skipped the check.
            _refuse_non_finite_input(X)
        if status & OUTPUT_NOT_FINITE:
            # (The CPU kernel checks the parameters; the GPU's were checked
            # before its launch.)
            if status & PARAMS_NOT_FINITE:
                self._refuse_non_finite_parameters()
            rows = np.flatnonzero(~np.isfinite(out).all(axis=1))
            # Either side can be at fault: X out of the training data's
            # scale, or weights from a fit that diverged (a DivergenceError's
            # last_finite_model, whose weights may be huge).
            largest = float(np.max(np.abs(params))) if params.size else 0.0
            raise ValueError(
                f"The network's outputs overflowed {dtype.name} for {rows.size} row(s) of X "
                f"(first: row {rows[0]}): X holds values too large for this model, or the "
                f"model's weights are too large (largest magnitude {largest:.3g}; a "
                "DivergenceError's last_finite_model holds the last finite epoch of a fit "
                "that diverged). Rescale X as the training data was scaled, or fit the "
                "model again.")
        return out

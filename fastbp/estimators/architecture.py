"""Resolving the toolkit's per-layer parameters into per-layer lists, with
errors that name the parameter."""

from numbers import Real

import numpy as np

from ..exceptions import warn_at_caller
from ..training.spec import HIDDEN_ACTIVATIONS, NORMALIZATIONS


def per_layer(name, value, n_hidden):
    """``value`` as a list with one entry per hidden layer."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()  # np.array(0.2), np.array("tanh"): one value
    if isinstance(value, (str, Real)) and not isinstance(value, bool):
        return [value] * n_hidden
    if isinstance(value, (set, frozenset, dict)):
        # Their order is not the layers' (a set of strings is iterated in
        # an order that changes with PYTHONHASHSEED).
        raise ValueError(f"{name} must be one value or a sequence with one per hidden layer "
                         f"(a list or tuple); got a {type(value).__name__}, whose order is "
                         "not the layers'.")
    try:
        values = list(value)
    except TypeError:
        raise ValueError(f"{name} must be one value or a sequence with one per hidden "
                         f"layer; got {value!r}.") from None
    if len(values) != n_hidden:
        raise ValueError(
            f"{name} has {len(values)} entries but the network has {n_hidden} hidden "
            f"layers (hidden_layer_sizes); give one value, or one per hidden layer.")
    return values


def hidden_activations(activation, n_hidden):
    """Activation names per hidden layer."""
    names = per_layer("activation", activation, n_hidden)
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"activation entries must be among {sorted(HIDDEN_ACTIVATIONS)}; "
                f"got {name!r}.")
    return names


def dropout_rates(dropout, n_hidden):
    """Dropout rate per hidden layer, each in [0, 1)."""
    rates = per_layer("dropout", dropout, n_hidden)
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, Real) or not 0 <= rate < 1:
            raise ValueError(f"dropout rates must be floats in [0, 1); got {rate!r}.")
    return [float(r) for r in rates]


def equal_widths(hidden_sizes):
    """Per hidden layer, whether it is as wide as the one before it: where
    a skip connection can join them (never the first)."""
    return [i > 0 and hidden_sizes[i] == hidden_sizes[i - 1]
            for i in range(len(hidden_sizes))]


def residual_flags(residual, hidden_sizes, warn=True):
    """Which hidden layers get a skip connection from the previous one (one
    flag per hidden layer; ``warn``: say so where ``residual`` connects
    none)."""
    flags = equal_widths(hidden_sizes)
    if not residual:
        return [False] * len(hidden_sizes)
    if warn and not any(flags):
        warn_at_caller(
            f"residual=True but no two consecutive hidden layers have the same width "
            f"(hidden_layer_sizes={tuple(hidden_sizes)}), so no skip connection was "
            "added. Use equal widths, e.g. (64, 64, 64), to get residual connections.",
            UserWarning)
    return flags


def normalization_code(normalization):
    """The kernels' code for ``normalization``, or a ``ValueError`` naming it."""
    try:
        return NORMALIZATIONS[normalization]
    except (KeyError, TypeError):  # TypeError: an unhashable value
        raise ValueError(f"normalization must be 'batch', 'layer' or None; got "
                         f"{normalization!r}.") from None


def glorot_factor(activation_name):
    """scikit-learn's Glorot factor: 2 for logistic, 6 otherwise."""
    return 2.0 if activation_name == "logistic" else 6.0


def init_layer(random_state, init, fan_in, fan_out, activation_name, dtype):
    """Initial ``(coef, intercept)`` of one layer.

    "glorot_uniform" draws exactly what scikit-learn draws (weights then
    biases, uniform in ``+-sqrt(factor / (fan_in + fan_out))``); the other
    schemes draw the weights only and start the biases at 0, as PyTorch's
    ``nn.init`` users do.
    """
    if init == "glorot_uniform":
        bound = np.sqrt(glorot_factor(activation_name) / (fan_in + fan_out))
        coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = random_state.uniform(-bound, bound, fan_out)
    else:
        if init == "glorot_normal":
            coef = random_state.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))
        elif init == "he_uniform":
            bound = np.sqrt(6.0 / fan_in)
            coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
        elif init == "he_normal":
            coef = random_state.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
        else:  # lecun_normal
            coef = random_state.normal(0.0, np.sqrt(1.0 / fan_in), (fan_in, fan_out))
        intercept = np.zeros(fan_out)
    return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

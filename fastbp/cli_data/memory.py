"""Memory estimates behind ``fastbp train``'s refusal of a fit that
would not fit: the memory this process may use (the machine's, its
cgroup limit, ``MemAvailable``), the size of the encoded features, and
the network's peak while it fits.
"""

import os

import numpy as np

from .columns import numeric_columns
from .messages import CLIError


def _physical_memory():
    """This machine's memory in bytes, or ``None`` where it is not known."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


#: The files that hold this process's cgroup memory limit: cgroup v2's,
#: then v1's ("max", or a huge number, where there is none).
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _available_memory():
    """The memory this process may use, in bytes: the machine's, or its
    container's (cgroup) limit where lower; ``None`` where neither is
    known. A container sees the host's memory in sysconf, and is killed
    at its own limit (helper-163)."""
    limits = [_physical_memory()]
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    limits = [m for m in limits if m]
    return min(limits) if limits else None


#: The density (share of nonzero entries) below which the encoded features
#: reach the model as a CSR matrix rather than a dense array: scikit-learn's
#: ``ColumnTransformer`` default. One-hot encoded columns of many values
#: (an ID) are nearly all zeros.
SPARSE_THRESHOLD = 0.3


def encoded_size(X, dtype):
    """What :func:`build_pipeline` will encode ``X`` into, estimated before
    the encoding.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns of the training file.
    dtype : numpy.dtype
        The model's dtype.

    Returns
    -------
    sparse : bool
        Whether the encoding is a CSR matrix (its density below
        :data:`SPARSE_THRESHOLD`, as ``ColumnTransformer`` decides).
    nnz : int
        The entries it stores: every numeric value, and one a row for each
        one-hot encoded column.
    n_columns : int
        Its columns: one a numeric column, one a distinct value of each
        one-hot encoded column.
    size : int
        Its size in bytes: the values and their column indices, and the row
        pointers, where sparse; rows x columns where dense.
    widths : dict
        The distinct values of each one-hot encoded column.
    """
    numeric = set(numeric_columns(X))
    widths = {c: X[c].nunique(dropna=False) for c in X.columns if c not in numeric}
    n_rows = len(X)
    n_columns = len(numeric) + sum(widths.values())
    nnz = n_rows * (len(numeric) + len(widths))
    itemsize = np.dtype(dtype).itemsize
    dense = n_rows * n_columns
    # ColumnTransformer counts a dense block as all nonzero, as here, and
    # builds a dense result where no block is sparse (no text column).
    sparse = bool(widths) and dense > 0 and nnz / dense < SPARSE_THRESHOLD
    if not sparse:
        return False, nnz, n_columns, dense * itemsize, widths
    # scipy's index dtype: int32 while the indices and nnz fit in it.
    index = 4 if max(nnz, n_columns) <= np.iinfo(np.int32).max else 8
    return True, nnz, n_columns, nnz * (itemsize + index) + (n_rows + 1) * index, widths


#: The peak memory of a stochastic solver's training, in arrays of the
#: model's dtype of ``n_params`` values each. fix-229 measured it with
#: tracemalloc (which sees NumPy's allocations; the peak RSS agreed within
#: 2%) over a 2-epoch fit of a (2000, 2000) network on 30 inputs, 4,066,001
#: parameters, in float32 and float64: 8.1 arrays for Adam and AdamW (the
#: weights, their flat copy, the gradient, the two moments, the epoch's
#: rollback snapshot and the update's temporaries), 6.1 for SGD, RMSprop and
#: Adagrad (one state array). Rounded up here.
_SOLVER_PEAK = {"adam": 8.5, "adamw": 8.5, "sgd": 6.5, "rmsprop": 6.5, "adagrad": 6.5}

#: The further arrays early stopping keeps (the best weights and the
#: validation pass's): measured as above, 10.1 arrays for Adam, 8.1 for SGD.
_EARLY_STOPPING_PEAK = 2

#: L-BFGS's peak in bytes a parameter: float64 vectors for scipy's L-BFGS-B
#: (its correction pairs, workspace and the float64 copy of the iterate and
#: gradient), beside arrays of the model's dtype. Measured as above, over 30
#: iterations of a (500, 500) network (scipy's history full): 347 bytes a
#: parameter in float32 and 373 in float64, 321 + 6.5 x the item size;
#: rounded up here.
_LBFGS_FLOAT64_VECTORS = 41
_LBFGS_MODEL_ARRAYS = 7

#: The encoding's peak while ``ColumnTransformer`` builds a CSR matrix, in
#: copies of the result: the numeric block, cast and converted to CSR, and
#: the stacked result. Measured (tracemalloc, float32): 2.9 times the CSR
#: for 400,000 rows of 30 numeric columns and a text column of 20,000
#: values, 2.6 for one numeric column.
_SPARSE_BUILD_COPIES = 3

#: The arrays of a batch's rows x the units of every layer the training
#: keeps (activations and deltas): measured as above with one hidden layer
#: of 50,000 units and batches of 200 rows, 2 arrays of 38.1 MiB beside
#: the parameters' peak (125.4 MiB with Adam, 113.2 with SGD); with
#: early stopping the validation rows' pass too.
_ACTIVATION_ARRAYS = 2


def network_size(estimator, n_columns, n_outputs, dtype, n_rows=0):
    """The memory the network takes, at its peak, while ``estimator`` fits
    on ``n_columns`` encoded columns.

    Parameters
    ----------
    estimator : fastbp.MLPClassifier or fastbp.MLPRegressor
        The estimator to fit; its ``hidden_layer_sizes``, ``solver`` and
        ``early_stopping`` are read.
    n_columns : int
        The encoded columns, the first layer's inputs.
    n_outputs : int
        The output units: the classes (one for two), or 1 for a target.
    dtype : numpy.dtype
        The model's dtype.
    n_rows : int, default=0
        The training rows: a batch of them (``batch_size``, at most
        ``n_rows``) and early stopping's validation rows pass through the
        network; 0 counts no activations.

    Returns
    -------
    first_layer : tuple of int or None
        The first layer's weights, ``(n_columns, units)``.
    size : int
        Bytes, estimated from measured peaks (:data:`_SOLVER_PEAK`,
        :data:`_LBFGS_FLOAT64_VECTORS`): the weights, their gradient, the
        solver's state, the copies the training keeps, and the
        activations (:data:`_ACTIVATION_ARRAYS`). 0 (and
        ``first_layer`` ``None``) where ``hidden_layer_sizes`` or ``solver``
        is not valid: the fit names that.
    """
    from ..estimators.checks import check_hidden_layer_sizes

    params = estimator.get_params(deep=False)
    solver = params.get("solver")
    try:
        hidden = check_hidden_layer_sizes(params.get("hidden_layer_sizes"))
    except (ValueError, TypeError):
        return None, 0
    if solver != "lbfgs" and solver not in _SOLVER_PEAK:
        return None, 0
    units = [n_columns, *hidden, n_outputs]
    n_params = sum(a * b + b for a, b in zip(units[:-1], units[1:]))
    itemsize = np.dtype(dtype).itemsize
    if solver == "lbfgs":
        size = n_params * (_LBFGS_FLOAT64_VECTORS * 8 + _LBFGS_MODEL_ARRAYS * itemsize)
    else:
        arrays = _SOLVER_PEAK[solver] + (_EARLY_STOPPING_PEAK if params.get("early_stopping")
                                         else 0)
        size = int(n_params * itemsize * arrays)
    batch = params.get("batch_size")
    if solver == "lbfgs":
        # Its full-batch pass runs in chunks of rows.
        from ..training.lbfgs import CHUNK
        batch = CHUNK
    # "auto" is scikit-learn's min(200, rows); a bad value is the fit's to name.
    rows = min(int(batch) if isinstance(batch, (int, np.integer)) and batch > 0 else 200,
               n_rows)
    if params.get("early_stopping"):
        fraction = params.get("validation_fraction")
        rows += int(np.ceil(n_rows * (fraction if isinstance(fraction, float) else 0.1)))
    size += rows * sum(units[1:]) * itemsize * _ACTIVATION_ARRAYS
    return (n_columns, units[1]), size


#: Linux's memory statistics, whose ``MemAvailable`` :func:`_free_memory`
#: reads.
_MEMINFO = "/proc/meminfo"


def _free_memory():
    """The memory the kernel says can be allocated without swapping
    (``MemAvailable`` in :data:`_MEMINFO`), in bytes; ``None`` where it is
    not known (not Linux, or a kernel before 3.14)."""
    try:
        with open(_MEMINFO) as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name == "MemAvailable":
                    kib = value.split()[0]
                    return int(kib) * 1024 if kib.isdigit() else None
    except OSError:
        pass
    return None


def fit_size(X, dtype, estimator=None, n_outputs=1, encoded=None):
    """An estimate of the memory ``fastbp train`` takes to fit on ``X``.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns of the training file, as read.
    dtype : numpy.dtype
        The model's dtype.
    estimator : fastbp.MLPClassifier or fastbp.MLPRegressor, optional
        The estimator to fit; without it the network is not counted.
    n_outputs : int, default=1
        The network's output units (see :func:`network_size`).
    encoded : tuple, optional
        :func:`encoded_size` of ``X`` where the caller has it already (it
        counts every text column's distinct values: a pass over the file).

    Returns
    -------
    held : int
        Bytes ``X`` takes already (``memory_usage(deep=True)``: text
        values are Python strings).
    needed : int
        Bytes the fit will allocate at its peak, beside ``held``: the
        larger of the encoding while it is built (the numeric columns
        standardised in float64 beside their cast, the stacked blocks and
        their result, or :data:`_SPARSE_BUILD_COPIES` copies of a CSR
        result) and the
        training (the encoding, a CSR matrix's int64 index copy, a copy of
        it for early stopping's split, and :func:`network_size`).
    first_layer : tuple of int or None
        As :func:`network_size` returns it.
    network : int
        :func:`network_size`'s bytes.
    """
    sparse, nnz, n_columns, size, _ = encoded if encoded is not None else encoded_size(X, dtype)
    held = int(X.memory_usage(index=True, deep=True).sum())
    first_layer, network = ((None, 0) if estimator is None
                            else network_size(estimator, n_columns, n_outputs, dtype,
                                              len(X)))
    # StandardScaler's output: float64, whatever the model's dtype.
    scaled = len(X) * len(numeric_columns(X)) * 8
    # Measured (tracemalloc, 400,000 rows of 30 numeric columns, float32):
    # the dense encoding peaked at the scaled copy and the cast, 137.4 MiB.
    # With a text column ColumnTransformer stacks the blocks into a new
    # array: the blocks and the result, twice the encoding (100,000 rows of
    # 20 numeric columns and 8 categories in float64: 44.3 MiB measured,
    # 42.8 so counted). The fit reads a dense encoding of its dtype as it is.
    if sparse:
        build = scaled + _SPARSE_BUILD_COPIES * size
    else:
        build = max(scaled + size, 2 * size if len(numeric_columns(X)) < X.shape[1] else 0)
    # And, a row, three float64 or int64 values: the target, its copy and
    # the shuffled order (measured: 100,000 rows of 2 numeric columns and 3
    # categories peaked 1.6 MiB above the encoding and the parameters).
    train = size + network + len(X) * 3 * 8
    if sparse:
        # The kernels take int64 indices (training/data.py): a copy of an
        # int32 CSR's, and, for safety, of its values (measured: the fit
        # held 1.06 to 1.75 times the CSR beyond it and the parameters).
        train += nnz * (np.dtype(dtype).itemsize + 8) + (len(X) + 1) * 8
    if estimator is not None and estimator.get_params(deep=False).get("early_stopping"):
        # The split's rows, taken as copies (measured: 12 MiB more for a
        # dense 46 MiB encoding; counted as a whole copy).
        train += size
    return held, max(build, train), first_layer, network


def check_one_hot_size(X, dtype, path, estimator=None, n_outputs=1):
    """Refuse, before the encoding, a fit that would not fit in memory:
    by name the one-hot encoded columns (with the first layer they widen,
    however small their encoding), the network's first layer, or the
    rows, whichever takes it.

    The encoding is estimated as :func:`build_pipeline` builds it
    (:func:`encoded_size`): a CSR matrix, by its nonzeros, where the one-hot
    columns make it mostly zeros (an ID of 200,000 values in 200,000 rows:
    2.4 MB in float32, where a dense array took 149 GiB), a dense array
    otherwise; and, given ``estimator``, the network the encoding feeds
    (:func:`network_size`): one input per encoded column, so the same ID
    makes a first layer of 200,001 x 100 weights, 76 MiB in float32 and
    about 650 MiB at Adam's peak, far more than its CSR. The whole fit,
    with the file as read and its float64 standardised copy, is estimated
    by :func:`fit_size`. Too big, the fit fails with a MemoryError, or
    takes the machine's memory, only after minutes.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns of the training file.
    dtype : numpy.dtype
        The model's dtype.
    path : str
        The training file, for the message.
    estimator : fastbp.MLPClassifier or fastbp.MLPRegressor, optional
        The estimator to fit; without it only the data is counted.
    n_outputs : int, default=1
        The network's output units (see :func:`network_size`).

    Raises
    ------
    CLIError
        If the encoding alone would take more than a quarter of the
        memory this process may use, or the fit's estimate more than the
        memory free (``MemAvailable``) or than the memory this process may
        use.
    """
    memory = _available_memory()
    free = _free_memory()
    if memory is None and free is None:
        return
    encoded = encoded_size(X, dtype)
    sparse, nnz, n_columns, size, widths = encoded
    widest = sorted(widths, key=widths.get, reverse=True)[:3]
    shown = ", ".join(f"{c!r} ({widths[c]} distinct values)" for c in widest)
    what = (f"a sparse matrix of {nnz} stored values of {np.dtype(dtype)} ({len(X)} rows x "
            f"{n_columns} columns)" if sparse
            else f"{len(X)} rows x {n_columns} columns of {np.dtype(dtype)}")
    if widths and memory is not None and 2 * size > memory / 2:
        # The encoding alone is the problem, whatever the network: name the
        # columns that make it.
        raise CLIError(f"{path}: one-hot encoding the text column(s) {shown} would take "
                       f"{what}, {_in_units(size)} (the fit needs twice that), more than a "
                       f"quarter of the memory available ({_in_units(memory)}); drop such a "
                       "column if it is an ID or free text, or group its values into fewer "
                       "categories")
    held, needed, first_layer, network = fit_size(X, dtype, estimator, n_outputs, encoded)
    # MemAvailable leaves out what this process holds already (the frame,
    # the interpreter), so the fit's new allocations are compared with it;
    # the cgroup limit or the machine's total bounds everything.
    if free is not None and needed > free:
        head = (f"the fit would need about {_in_units(needed)} more memory at its peak (an "
                f"estimate), more than the memory free ({_in_units(free)})")
    elif memory is not None and held + needed > memory:
        head = (f"the fit would take about {_in_units(held + needed)} of memory at its peak "
                f"(an estimate), more than the memory available ({_in_units(memory)})")
    else:
        return
    n_numeric = len(numeric_columns(X))
    parts = [(held, f"the file's {len(X)} rows as read take {_in_units(held)}"),
             (len(X) * n_numeric * 8, f"its {n_numeric} numeric column(s) standardised in "
                                      f"float64 take {_in_units(len(X) * n_numeric * 8)}")]
    # Where text columns make half the first layer's inputs or more, they
    # are why it is wide: a narrower first layer is not the only remedy.
    widening = bool(widths) and sum(widths.values()) >= n_columns / 2
    if widths:
        encoding = (f"one-hot encoding the text column(s) {shown} makes {what}, "
                    f"{_in_units(size)}")
    else:
        encoding = f"the encoded features are {what}, {_in_units(size)}"
    advice = []
    if first_layer is None:
        parts.append((size, encoding))
    else:
        solver = estimator.get_params(deep=False)["solver"]
        if widening:
            # However small their encoding (helper-193: a CSR of 0.3 MiB fed
            # a first layer of 20,000 x 100 weights), the text columns are
            # why the network takes what it does: named with it, the user
            # knows which column to drop.
            parts.append((size + network,
                          f"{encoding}, and a first layer of {first_layer[0]} x "
                          f"{first_layer[1]} weights: the network's parameters take "
                          f"{_in_units(network)} with the {solver} solver's state and the "
                          "activations (an estimate)"))
        else:
            parts.append((size, encoding))
            parts.append((network, f"the network's parameters (first layer {first_layer[0]} x "
                                   f"{first_layer[1]} weights) take {_in_units(network)} with "
                                   f"the {solver} solver's state and the activations"))
        if network >= needed / 4:
            advice.append("give the first hidden layer fewer units (--hidden-layer-sizes)")
            if solver == "lbfgs":
                advice.append("use a stochastic solver (--solver adam: L-BFGS keeps about "
                              "40 float64 values a parameter)")
    if widths and (size >= (held + needed) / 10 or widening):
        advice.insert(0, "drop a text column if it is an ID or free text, or group its "
                         "values into fewer categories")
    if not advice or network < needed / 2:
        advice.append("train on fewer rows")
    # Only what takes a share of the memory: a part of 0.0 MiB beside
    # 100 GiB of weights explains nothing.
    shown_parts = ([text for part, text in parts if part >= (held + needed) / 10]
                   or [max(parts)[1]])
    raise CLIError(f"{path}: {head}: {'; '.join(shown_parts)}; {'; or '.join(advice)}")


def _in_units(size):
    """``size`` bytes in GiB, or in MiB below one (a sparse encoding's size
    read "0.0 GiB", a first layer's 130 MiB "0.1 GiB")."""
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"

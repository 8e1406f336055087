"""The network's architecture and where each parameter lives in the flat
parameter buffer."""

import numpy as np

from ..kernels import codes
from ..kernels.network import ACT, B_OFF, BE_OFF, G_OFF, N_NET_ROWS, RES, UNITS, W_OFF


def chain_problem(coefs, intercepts):
    """What keeps ``coefs`` and ``intercepts`` (``coefs_`` and
    ``intercepts_``) from being one network's layers, naming the array;
    None where they chain.

    Each ``coefs[i]`` must be 2-d, take as many rows as ``coefs[i - 1]``
    gives units (columns), and ``intercepts[i]`` hold one value per unit
    of ``coefs[i]``. Widths read from the columns alone would blame the
    input, the output or ``hidden_layer_sizes`` for a mismatch between two
    hidden layers (helper-134's review).

    Returns
    -------
    problem : str or None
    """
    if len(coefs) != len(intercepts):
        return (f"coefs_ holds {len(coefs)} arrays and intercepts_ {len(intercepts)}: "
                "they need one of each per layer")
    previous = None
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        shape = np.shape(W)
        if len(shape) != 2:
            return f"coefs_[{i}] has shape {shape}: it needs two dimensions (inputs, units)"
        if previous is not None and shape[0] != previous:
            return (f"coefs_[{i}] has shape {shape}, but coefs_[{i - 1}] gives {previous} "
                    f"units: coefs_[{i}] needs {previous} rows")
        if np.size(b) != shape[1]:
            return (f"intercepts_[{i}] has shape {np.shape(b)}, but coefs_[{i}] gives "
                    f"{shape[1]} units: intercepts_[{i}] needs shape ({shape[1]},)")
        previous = shape[1]
    return None


class NetworkLayout:
    """Architecture plus offsets of every parameter in one flat buffer.

    Order: all weights, layer by layer, each ``(fan_in, fan_out)`` in C order;
    then all biases (together, scikit-learn's ``_pack`` order, so L-BFGS sees
    scikit-learn's vector); then the normalisation scales and shifts of the
    hidden layers. Penalties apply to the first ``n_weights`` entries.

    Parameters
    ----------
    units : sequence of int
        Layer widths, input first, output last.
    activations : sequence of int, optional
        Activation code of each hidden layer (default identity).
    norm : int
        Normalisation code (``codes.NORM_*``) of the hidden layers.
    residual : sequence of bool, optional
        Per hidden layer: add a skip connection from the previous hidden
        layer (widths must match).
    """

    def __init__(self, units, activations=None, norm=codes.NORM_NONE, residual=None):
        self.units = np.asarray(units, dtype=np.int64)
        nl = len(self.units) - 1
        self.n_hidden = nl - 1
        fan_in, fan_out = self.units[:-1], self.units[1:]
        w_sizes = fan_in * fan_out
        self.w_off = np.concatenate(([0], np.cumsum(w_sizes)[:-1])).astype(np.int64)
        self.n_weights = int(w_sizes.sum())
        self.b_off = (self.n_weights
                      + np.concatenate(([0], np.cumsum(fan_out)[:-1]))).astype(np.int64)
        end = self.n_weights + int(fan_out.sum())
        self.norm = int(norm)
        hidden = [int(u) for u in self.units[1:-1]]
        self.g_off = np.full(nl + 1, -1, dtype=np.int64)
        self.be_off = np.full(nl + 1, -1, dtype=np.int64)
        if self.norm != codes.NORM_NONE:
            for l, m in enumerate(hidden, start=1):
                self.g_off[l] = end
                end += m
            for l, m in enumerate(hidden, start=1):
                self.be_off[l] = end
                end += m
        self.n_params = end
        # Sizes of the per-layer arrays in buffer order, to check them cheaply.
        norm_sizes = hidden * 2 if self.norm != codes.NORM_NONE else []
        self._part_sizes = [int(s) for s in (*w_sizes, *fan_out, *norm_sizes)]
        acts = list(activations) if activations is not None else [codes.IDENTITY] * self.n_hidden
        self.activations = np.zeros(nl + 1, dtype=np.int64)
        self.activations[1:nl] = acts
        self.residual = np.zeros(nl + 1, dtype=np.int64)
        if residual is not None:
            self.residual[1:nl] = np.asarray(residual, dtype=np.int64)
        # Batch-norm running statistics: mean then variance per hidden layer.
        self.r_off = np.full(nl + 1, -1, dtype=np.int64)
        self.n_running = 0
        if self.norm == codes.NORM_BATCH:
            for l, m in enumerate(hidden, start=1):
                self.r_off[l] = self.n_running
                self.n_running += 2 * m
        # Where each per-layer array lies, as Python slices: worked out once,
        # since every partial_fit call unpacks its new buffers (and a layout
        # is shared by every fit of its structure, see ``build_spec``).
        self._weights = tuple(
            slice(int(self.w_off[l]), int(self.w_off[l]) + int(fan_in[l] * fan_out[l]))
            for l in range(nl))
        self._coef_shapes = tuple((int(fan_in[l]), int(fan_out[l])) for l in range(nl))
        self._biases = tuple(slice(int(self.b_off[l]), int(self.b_off[l] + fan_out[l]))
                             for l in range(nl))
        self._norm_parts = (() if self.norm == codes.NORM_NONE else tuple(
            (slice(int(self.g_off[l]), int(self.g_off[l]) + m),
             slice(int(self.be_off[l]), int(self.be_off[l]) + m))
            for l, m in enumerate(hidden, start=1)))
        self._running_parts = tuple(
            (slice(int(self.r_off[l]), int(self.r_off[l]) + m),
             slice(int(self.r_off[l]) + m, int(self.r_off[l]) + 2 * m))
            for l, m in enumerate(hidden, start=1) if self.r_off[l] >= 0)

    @property
    def n_layers(self):
        return len(self.units)

    def net_table(self):
        """The ``net`` table of :mod:`fastbp.kernels.network`."""
        n = self.n_layers
        net = np.full((N_NET_ROWS, n), -1, dtype=np.int64)
        net[UNITS] = self.units
        net[W_OFF, :n - 1] = self.w_off
        net[B_OFF, :n - 1] = self.b_off
        net[G_OFF] = self.g_off
        net[BE_OFF] = self.be_off
        net[ACT] = self.activations
        net[RES] = self.residual
        return net

    def pack(self, coefs, intercepts, dtype, scales=(), shifts=()):
        """Copy per-layer arrays into a new flat buffer of ``dtype``.

        Returns
        -------
        params : ndarray of shape (n_params,)

        Raises
        ------
        ValueError
            If an array's size does not match the layout; the message names
            the first array that does not fit, by its shape.
        """
        parts = [np.asarray(p) for p in (*coefs, *intercepts, *scales, *shifts)]
        sizes = [p.size for p in parts]
        if sizes != self._part_sizes:
            raise ValueError("The model's parameter arrays do not match its architecture: "
                             f"{self._misfit(coefs, intercepts, scales, shifts)}.")
        # One concatenate in the layout's order (weights, biases, scales,
        # shifts): predicting a few rows packs on every call.
        return np.concatenate([p.ravel() for p in parts], dtype=dtype, casting="unsafe")

    def _misfit(self, coefs, intercepts, scales, shifts):
        """The first of the arrays :meth:`pack` refused, named, with the
        shape it has and the shape the layout needs (flat sizes name no
        array: helper-134's review)."""
        problem = chain_problem(coefs, intercepts)
        if problem is not None:
            return problem
        hidden = [(int(m),) for m in self.units[1:-1]]
        groups = [("coefs_", coefs, list(self._coef_shapes)),
                  ("intercepts_", intercepts, [(int(m),) for m in self.units[1:]])]
        if self.norm != codes.NORM_NONE or len(scales) or len(shifts):
            groups += [("normalization_scales_", scales,
                        hidden if self.norm != codes.NORM_NONE else []),
                       ("normalization_shifts_", shifts,
                        hidden if self.norm != codes.NORM_NONE else [])]
        for name, arrays, shapes in groups:
            if len(arrays) != len(shapes):
                return (f"{name} holds {len(arrays)} arrays, where this network of layer "
                        f"widths {self.units.tolist()} needs {len(shapes)}")
            for i, (a, shape) in enumerate(zip(arrays, shapes)):
                if np.size(a) != int(np.prod(shape)):
                    return (f"{name}[{i}] has shape {np.shape(a)}, where this network of "
                            f"layer widths {self.units.tolist()} needs {shape}")
        return "their sizes do not fit its layer widths " + str(self.units.tolist())

    def weight_slices(self):
        """Where each layer's weights ``(units[l], units[l + 1])`` lie in
        ``params``, flattened: a tuple of slices."""
        return self._weights

    def unpack(self, params):
        """Per-layer views into ``params``.

        Returns
        -------
        coefs : list of ndarray of shape (fan_in, fan_out)
        intercepts : list of ndarray of shape (fan_out,)
        scales, shifts : list of ndarray of shape (n_units,)
            Normalisation parameters of each hidden layer (empty lists
            without normalisation).
        """
        coefs = [params[w].reshape(shape) for w, shape in zip(self._weights, self._coef_shapes)]
        intercepts = [params[b] for b in self._biases]
        scales = [params[g] for g, _ in self._norm_parts]
        shifts = [params[be] for _, be in self._norm_parts]
        return coefs, intercepts, scales, shifts

    def pack_running(self, means, variances, dtype):
        """Flat batch-norm running statistics from per-layer arrays."""
        running = np.empty(self.n_running, dtype=dtype)
        for l, (mu, var) in enumerate(zip(means, variances), start=1):
            m = int(self.units[l])
            running[self.r_off[l]:self.r_off[l] + m] = mu
            running[self.r_off[l] + m:self.r_off[l] + 2 * m] = var
        return running

    def unpack_running(self, running):
        """Per-layer ``(means, variances)`` views of the running statistics."""
        return ([running[mean] for mean, _ in self._running_parts],
                [running[var] for _, var in self._running_parts])

"""Work buffers, allocated once per fit (or per prediction call)."""

from functools import lru_cache

import numpy as np

from ..kernels import codes
from ..kernels.records import Tables, Work
from ..kernels.network import (
    A_OFF, AL_OFF, D_OFF, H_OFF, M_OFF, N_BUF_ROWS, O_OFF, R_OFF, S_OFF, Z_OFF,
)

# The most bytes the row buffers of a chunked pass (prediction, validation,
# L-BFGS) may take. Its chunks are 4,096 rows for narrow layers, but a
# chunk's buffers grow with the layers' widths: 4,096 rows of a 65,536-unit
# layer took 1 GiB in float32 to predict 10,000 rows (rev-224), of a
# 300,000-unit one 4.6 GiB. Wide layers get fewer rows instead; 64 MiB
# still holds 4,096 rows of layers of 4,096 float32 units in all (2,048
# float64), so networks narrower than that keep their chunks, and their
# results. (L-BFGS counts the rows of X it copies too: from about 2,000
# float64 input columns its chunks shrink, and its sums round differently.)
CHUNK_BYTES = 64 << 20


class Workspace:
    """Buffers for batches of up to ``batch_size`` rows, and the ``buf`` table.

    Arrays that the backward pass does not need separately share memory
    (their offsets coincide): without normalisation, dropout or residual
    connections, and with an activation differentiated from its output, a
    hidden layer's linear output, pre-activation, activation and output are
    one array, computed in place.

    Parameters
    ----------
    layout : NetworkLayout
    batch_size : int
        Most rows one kernel call processes at once.
    dtype : numpy dtype
    dense_input : bool
        Whether layer 0 needs a gather buffer (a sparse X is read in place).
    training : bool
        Allocate the backward-pass buffers too (not needed to predict).
    drops : ndarray of shape (n_layers,), optional
        Dropout rate of each layer's output.
    track_dead : bool
        Track relu units that stay at zero (``alive`` buffer).
    lower : str, optional
        What the user can lower to fit the buffers in memory, named by the
        ``MemoryError`` raised where they do not fit ("batch_size" for a
        stochastic fit's); None where ``batch_size`` is already as small as
        the caller makes it (a chunk of :func:`chunk_rows_within`).

    Raises
    ------
    MemoryError
        Where the buffers cannot be allocated: naming the rows, the layer
        widths and the bytes asked for (numpy's names only an array shape).
    """

    def __init__(self, layout, batch_size, dtype, dense_input=True, training=True,
                 drops=None, track_dead=False, lower="batch_size"):
        try:
            self._allocate(layout, batch_size, dtype, dense_input, training, drops,
                           track_dead)
        except MemoryError as exc:
            dropped = None if drops is None else tuple((np.asarray(drops) > 0).tolist())
            raise MemoryError(memory_message(layout, batch_size, dtype, dense_input,
                                              training, lower, dropped)) from exc

    def _allocate(self, layout, batch_size, dtype, dense_input, training, drops,
                  track_dead):
        n = layout.n_layers
        self.drops = (np.zeros(n, dtype=dtype) if drops is None
                      else np.array(drops, dtype=dtype))  # a copy: specs are read-only
        # The offsets depend on the structure alone: worked out once, since
        # every partial_fit call builds a workspace (40 us of them).
        self.buf, self.net, sizes = _offsets(
            layout, int(batch_size), bool(dense_input), bool(training),
            tuple((self.drops > 0).tolist()), bool(track_dead))
        n_acts, n_mask, n_delta, n_stats, n_alive = sizes
        self.acts = np.empty(n_acts, dtype=dtype)
        self.masks = np.empty(n_mask, dtype=dtype)
        self.deltas = np.empty(n_delta, dtype=dtype)
        self.stats = np.empty(n_stats, dtype=dtype)
        self.alive = np.zeros(n_alive, dtype=dtype)
        units = layout.units
        self.grads = np.empty(layout.n_params if training else 0, dtype=dtype)
        self.y_buf = np.empty(batch_size * int(units[-1]) if training else 0, dtype=dtype)
        self.sw_buf = np.empty(batch_size if training else 0, dtype=dtype)
        self.rng = np.zeros(1, dtype=np.uint64)
        self.batch_size = batch_size
        # See reuse(): what the buffers were made for.
        self._made_for = self._spec = None

    @classmethod
    def reuse(cls, spare, spec, batch_size, dtype, dense_input):
        """A training workspace for ``spec``: ``spare`` (one an earlier call
        of the same model used) where it was made for the same structure,
        else a new one.

        Every buffer is scratch or reloaded before the kernels read it, so
        a stream of ``partial_fit`` calls need not allocate its buffers
        again at each call. (The caller takes the spare out of where it
        keeps it, so that a concurrent call of the same model cannot get
        it too.)
        """
        # The spec by identity (specs are built once per structure, and
        # comparing them would compare arrays).
        made_for = (id(spec), int(batch_size), np.dtype(dtype), bool(dense_input))
        if spare is not None and spare._made_for == made_for and spare._spec is spec:
            return spare
        ws = cls(spec.layout, batch_size, dtype, dense_input=dense_input, drops=spec.drops,
                 track_dead=spec.tracks_dead_units, lower="batch_size")
        ws._made_for, ws._spec = made_for, spec
        return ws

    def tables(self, norm):
        """The :class:`~fastbp.kernels.records.Tables` record."""
        return Tables(self.net, self.buf, self.drops, norm)

    def work(self, running):
        """The :class:`~fastbp.kernels.records.Work` record, with the
        batch-norm running statistics ``running``."""
        return Work(self.acts, self.masks, self.deltas, self.stats, running, self.alive,
                    self.rng, self.grads, self.y_buf, self.sw_buf)

    def dead_fraction(self):
        """Share of the tracked (relu) units that stayed at zero; NaN if none
        are tracked. ``alive`` holds exactly the tracked units."""
        size = self.alive.size
        # The share np.mean(alive == 0) gives, without its temporary.
        return (size - np.count_nonzero(self.alive)) / size if size else np.nan


def _row_elements(layout, dense_input, training, dropped=None):
    """Elements that each row of a chunk adds to a workspace of ``layout``
    (``dropped``: whether each layer has dropout; none where None, as in
    prediction, validation and L-BFGS)."""
    if dropped is None:
        dropped = (False,) * layout.n_layers
    acts, masks, deltas, _, _ = _offsets(layout, 1, bool(dense_input), bool(training),
                                         tuple(dropped), False)[2]
    per_row = acts + masks + deltas
    if layout.norm != codes.NORM_NONE:
        # Each normalised layer's statistics hold max(units, rows) values.
        per_row += layout.n_hidden
    if training:
        per_row += int(layout.units[-1]) + 1  # the targets and weights
    return per_row


def chunk_rows_within(layout, dtype, most, dense_input=False, training=False):
    """Rows per chunk of a chunked pass over a network of ``layout``: at
    most ``most``, and fewer where that many rows' buffers would take more
    than :data:`CHUNK_BYTES` (wide layers), but at least one.

    Parameters
    ----------
    layout : NetworkLayout
    dtype : numpy dtype
    most : int
        The rows the caller would take otherwise.
    dense_input : bool
        Whether the workspace gathers layer 0 (see :class:`Workspace`).
    training : bool
        Whether it holds the backward pass's buffers too.

    Returns
    -------
    rows : int
    """
    per_row = _row_elements(layout, dense_input, training) * np.dtype(dtype).itemsize
    return int(max(1, min(int(most), CHUNK_BYTES // max(per_row, 1))))


def memory_message(layout, batch_size, dtype, dense_input, training, lower,
                    dropped=None):
    """The message of a workspace's ``MemoryError`` (arguments as
    :class:`Workspace` and :func:`_row_elements` take them)."""
    itemsize = np.dtype(dtype).itemsize
    per_row = _row_elements(layout, dense_input, training, dropped) * itemsize
    widths = ", ".join(str(int(u)) for u in layout.units)
    grads = (f", plus {layout.n_params * itemsize / 2 ** 20:.1f} MiB of gradients"
             if training else "")
    what = (f"Lower {lower}, or use narrower layers." if lower else
            "Those rows are already as few as these widths allow (nothing to lower "
            "for this call): narrower layers, or more free memory, would fit.")
    return (f"Cannot allocate the work buffers for {int(batch_size)} row(s) of a network "
            f"of layer widths ({widths}) in {np.dtype(dtype).name}: about "
            f"{int(batch_size) * per_row / 2 ** 20:.1f} MiB ({per_row} bytes a row, "
            f"{'training' if training else 'inference'}){grads}. {what}")


@lru_cache(maxsize=256)
def _offsets(layout, batch_size, dense_input, training, dropped, track_dead):
    """The ``buf`` and ``net`` tables of a workspace, and its buffer sizes
    ``(acts, masks, deltas, stats, alive)``.

    Shared by every workspace of the same structure: the kernels only read
    the tables.
    """
    n = layout.n_layers
    nl = n - 1
    units = [int(u) for u in layout.units]
    buf = np.full((N_BUF_ROWS, n), -1, dtype=np.int64)
    size = 0

    def take(count):
        nonlocal size
        start = size
        size += count
        return start

    buf[O_OFF, 0] = take(batch_size * units[0] if dense_input else 0)
    for l in range(1, n):
        span = batch_size * units[l]
        hidden = l < nl
        buf[O_OFF, l] = take(span)
        separate_a = hidden and ((training and dropped[l]) or layout.residual[l] == 1)
        buf[A_OFF, l] = take(span) if separate_a else buf[O_OFF, l]
        separate_z = hidden and training and (
            layout.activations[l] in codes.NEEDS_PREACTIVATION)
        buf[Z_OFF, l] = take(span) if separate_z else buf[A_OFF, l]
        separate_h = hidden and layout.norm != codes.NORM_NONE
        buf[H_OFF, l] = take(span) if separate_h else buf[Z_OFF, l]

    n_mask = 0
    n_delta = 0
    n_stats = 0
    n_alive = 0
    for l in range(1, n):
        span = batch_size * units[l]
        if training and l < nl and dropped[l]:
            buf[M_OFF, l] = n_mask
            n_mask += span
        if training:
            buf[D_OFF, l] = n_delta
            n_delta += span
        if layout.norm != codes.NORM_NONE and l < nl:
            buf[S_OFF, l] = n_stats
            n_stats += max(units[l], batch_size)
        if track_dead and l < nl and layout.activations[l] == codes.RELU:
            buf[AL_OFF, l] = n_alive
            n_alive += units[l]
    buf[R_OFF] = layout.r_off
    return buf, layout.net_table(), (size, n_mask, n_delta, n_stats, n_alive)

"""The compiled function behind a dispatcher call, for calls that repeat.

Calling a Numba dispatcher types every argument before it finds the
compiled version to run: for a whole-network kernel, whose records hold
some twenty arrays and sixteen scalars, that costs about 4 µs a call,
more than predicting one row. A caller that calls again with arguments of
exactly the same types can keep the compiled function and call it
directly, which only unboxes the arguments.
"""


def compiled_entry(dispatcher, args):
    """The compiled function that ``dispatcher(*args)`` runs.

    Call it only with arguments of exactly the types of ``args`` (the same
    dtypes, dimensions, memory layouts and read-only flags, and the same
    record types): it does not check them, and other types would be read
    as if they were these.

    Parameters
    ----------
    dispatcher : numba dispatcher
        Already called with ``args``, so that it holds a compiled version.
    args : tuple
        The arguments of that call.

    Returns
    -------
    callable or None
        None when ``dispatcher`` is not a Numba CPU dispatcher (the CUDA
        backend's host drivers) or holds no version for these types.
    """
    try:
        signature = tuple(dispatcher.typeof_pyval(arg) for arg in args)
        return dispatcher.overloads[signature].entry_point
    except (AttributeError, KeyError):
        return None

"""The warning that fastbp's compile cache gives, and where it points."""

from ..exceptions import warn_at_caller


class CacheWarning(UserWarning):
    """fastbp's compile cache could not be used as is (damaged or not
    writable); fastbp compiled in memory or rebuilt the entry."""


def warn_outside_fastbp(message, category):
    """``warnings.warn``, attributed to the first frame outside fastbp and
    Python's import machinery (:func:`~fastbp.exceptions.warn_at_caller`):
    for a warning said while fastbp is imported (the kernels are made
    then), the line that imported it, where a fixed ``stacklevel`` named a
    line of fastbp's own (``_config.py``) and depended on which module was
    imported first (helper-123).

    Given at once, also within a fit or a warm-up that keeps its fits'
    warnings quiet: the cache's state is the caller's to know.

    Parameters
    ----------
    message : str
    category : type of Warning
    """
    warn_at_caller(message, category, at_once=True)

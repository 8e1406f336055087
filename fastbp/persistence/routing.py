"""Metadata routing requests (``set_fit_request``, ...), which skops
cannot write (it recurses without end on scikit-learn's
MetadataRequest): saved as plain dicts and set again when loading."""


# Where a saved object keeps its metadata routing requests, as plain dicts.
_REQUESTS = "_fastbp_metadata_requests"


def _plain_requests(request):
    """``{method: {parameter: request}}`` of a scikit-learn MetadataRequest,
    for the methods whose requests were set (plain values: True, False,
    None, an alias string)."""
    plain = {}
    for method, requests in vars(request).items():
        values = getattr(requests, "requests", None)
        if isinstance(values, dict) and values:
            plain[method] = dict(values)
    return plain


def _set_requests(obj, plain):
    """Set the routing requests :func:`_plain_requests` recorded on ``obj``
    again, through its own ``set_<method>_request`` methods; anything but
    what save writes is an error (the file is not trusted)."""
    import sklearn
    from sklearn.utils._metadata_requests import SIMPLE_METHODS

    if not (isinstance(plain, dict) and all(
            method in SIMPLE_METHODS and isinstance(values, dict)
            and all(isinstance(k, str) and (v is None or isinstance(v, (bool, str)))
                    for k, v in values.items())
            for method, values in plain.items())):
        raise ValueError(f"the metadata routing requests of its {type(obj).__name__} are "
                         "not what fastbp.save writes")
    with sklearn.config_context(enable_metadata_routing=True):
        for method, values in plain.items():
            setter = getattr(obj, f"set_{method}_request", None)
            if setter is None:
                raise ValueError(f"its {type(obj).__name__} has no {method} requests to set")
            setter(**values)

"""skops, the optional dependency that saving and loading need."""


def _skops_io():
    """``skops.io``, or an ``ImportError`` that says what to install: its
    ``name`` is ``"skops"`` where skops is missing, and the module that
    failed where skops is there but one of its own imports failed (a
    broken install), which installing skops again would not mend."""
    try:
        import skops.io
    except ImportError as exc:
        if exc.name is not None and exc.name.partition(".")[0] != "skops":
            raise ImportError(
                f"fastbp.save and fastbp.load need skops, which is installed but failed to "
                f"import: {exc}. Install or repair the package it names.",
                name=exc.name) from exc
        raise ImportError(
            "fastbp.save and fastbp.load need the skops package (secure, pickle-free "
            'persistence): pip install "fastbp[io]"', name="skops") from exc
    return skops.io

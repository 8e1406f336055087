"""The cache key of fastbp's kernels beyond Numba's own: the parts that
compiled code depends on and Numba does not see (:func:`add_cache_key`),
the digest of the kernels' sources among them, and which entries of an
index are current (:func:`_current_entries`)."""

import glob
import hashlib
import os

# fastbp/, the directory above this package: the sources digested.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


#: What compiled code depends on besides its source and the CPU, by name:
#: part of every cache key (see :func:`add_cache_key`).
_key_extras = {}


def add_cache_key(name, value):
    """Make ``value`` part of the cache key of every fastbp kernel.

    For what compiled code depends on that Numba's own key (source, closure,
    signature, CPU) does not see: which BLAS library the products call, for
    one. Call it at import, before any kernel compiles or loads.
    """
    _key_extras[name] = value


def sources_digest(package_dir=_PACKAGE_DIR):
    """SHA-256 of the sources that compiled kernels are built from.

    Numba keys a cached kernel by its own function's bytecode and stamps
    the index with its own file, so editing only a callee's module (the
    products in ``blas.py``, a loss in ``losses.py``) would leave the
    callers' cached code, with the old callee inlined, loading as if
    current. Hashing every kernel module and the compile flags closes that
    for development installs; an installed release hashes the same on every
    machine, so a cache built for an image still serves.

    Parameters
    ----------
    package_dir : str
        The ``fastbp`` package directory.

    Returns
    -------
    str
        Hex digest over ``kernels/**/*.py``, ``_config.py`` and
        ``_link_only.py`` (how inner kernels are built and cached), by
        relative path, so that a renamed or added module counts too.
    """
    digest = hashlib.sha256()
    paths = sorted(glob.glob(os.path.join(package_dir, "kernels", "**", "*.py"),
                             recursive=True))
    for path in [*paths, *(os.path.join(package_dir, name)
                           for name in ("_config.py", "_link_only.py"))]:
        digest.update(os.path.relpath(path, package_dir).replace(os.sep, "/").encode())
        digest.update(b"\0")
        with open(path, "rb") as f:
            digest.update(f.read())
        digest.update(b"\0")
    return digest.hexdigest()


try:
    add_cache_key("sources", sources_digest())
except OSError:  # sources not readable as files (a zip or frozen install): the version
    from importlib.metadata import PackageNotFoundError, version

    try:
        add_cache_key("sources", "fastbp " + version("fastbp"))
    except PackageNotFoundError:
        add_cache_key("sources", "fastbp unknown")


def _current_entries(overloads):
    """The entries of a kernel's index that this fastbp can load: those
    whose ``sources`` key part (:func:`sources_digest`) is the current one.

    An entry of other sources (a callee's module edited, or another release
    installed in place, where the kernel's own file kept its stamp) is
    never looked up again. Entries of other CPUs or BLAS libraries stay: a
    cache may serve several machines or environments.
    """
    sources = _key_extras.get("sources")
    kept = {}
    for key, name in overloads.items():
        try:
            current = dict(key[-1]).get("sources") == sources
        except (TypeError, ValueError):  # a key without fastbp's parts
            current = False
        if current:
            kept[key] = name
    return kept

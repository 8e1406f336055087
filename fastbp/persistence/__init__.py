"""Saving and loading models without pickle.

:func:`save` writes a fitted fastbp estimator, or any scikit-learn object
that holds one (a Pipeline, a fitted ``GridSearchCV``), to a zip file with
two members:

- ``model.skops``: the object graph in skops' secure format
  (https://skops.readthedocs.io), which stores arrays and plain values and
  rebuilds objects from an allow-list of types: loading never unpickles and
  never runs code from the file;
- ``fastbp.json``: the format version, the versions of fastbp,
  scikit-learn, skops and NumPy that wrote it, the model dtype(s) and a
  SHA-256 of ``model.skops``.

:func:`load` checks the container, the checksum and the format version,
then lets skops rebuild only skops' own allow-list (builtins, NumPy, most of
scikit-learn), scikit-learn's estimator, CV-splitter and scorer classes and
public metric functions (a search result's splitter and scorer), and
fastbp's own types (:data:`.trust.TRUSTED`): see :func:`.trust._allowed`.
Anything else in the file, a function from ``os`` in a
``FunctionTransformer`` or any other scikit-learn function for instance,
is an error that lists the unexpected types. :func:`save` refuses to write what :func:`load` would
refuse. Everything a fitted estimator
holds, optimizer state and training history included, is saved, so a loaded
model predicts bit for bit as before and continues training (``partial_fit``,
``warm_start``) exactly as if it had never been saved. Callbacks
(``set_callbacks``) belong to a run, not to the model: :func:`save` warns
that it leaves them out.

skops is an optional dependency: ``pip install "fastbp[io]"``.

The package's modules: :mod:`.saving` and :mod:`.loading` (save, load),
:mod:`.container` (the file, its ``fastbp.json``, read_metadata),
:mod:`.trust` (what load rebuilds), :mod:`.checks` (what save refuses),
:mod:`.snapshot` (the copy save writes), :mod:`.encoding`,
:mod:`.keyed_dicts` and :mod:`.routing` (what is written otherwise than
held), :mod:`.objects`, :mod:`.paths` and :mod:`.dependency`.
"""

from . import container, trust
from .container import read_metadata
from .loading import load
from .saving import save

# The format's and the trust list's public names, where the single module
# this package was split from had them.
FORMAT, FORMAT_VERSION = container.FORMAT, container.FORMAT_VERSION
TRUSTED, POSITIVE_UFUNC = trust.TRUSTED, trust.POSITIVE_UFUNC

# What the README documents.
__all__ = ["load", "read_metadata", "save"]

"""The command line on your own data: ``fastbp train --data``, ``predict``
and ``evaluate``.

A CSV file is read with pandas; numeric columns are standardised and the
others one-hot encoded by a scikit-learn ``ColumnTransformer``, and that
preprocessing is saved with the model (``fastbp.save``, no pickle) in one
Pipeline, so ``predict`` and ``evaluate`` apply exactly what training saw.
The name of the target column is saved with it.

The modules, each importing only those above it:

- :mod:`.messages`: :class:`~.messages.CLIError`, the one-line error text,
  warnings and exit statuses.
- :mod:`.tables`: reading and writing CSV files, missing-value marks,
  codes kept as written, the target column split off.
- :mod:`.columns`: checks and notes on the columns read, the task a
  target implies, the features a model expects.
- :mod:`.memory`: memory estimates, and the refusal of a fit too large.
- :mod:`.outputs`: the output paths checked, and the model, history and
  plot written.
- :mod:`.options`: ``--set`` and the other options as estimator
  parameters, and the library's advice in their terms.
- :mod:`.predict`: ``predict`` and ``evaluate``.
- :mod:`.train`: ``train --data``.

Nothing is re-exported here: import a name from the module that holds it,
and patch it there (a test's ``monkeypatch.setattr`` reaches only the
module whose functions look the name up).
"""

"""fastbp: multilayer perceptrons trained by backpropagation, fast.

``fastbp.MLPClassifier`` and ``fastbp.MLPRegressor`` are drop-in replacements
for scikit-learn's MLP estimators whose training epochs run as single
Numba-compiled calls.
"""

from .estimators import MLPClassifier, MLPRegressor
from .exceptions import GradientWarning

__version__ = "0.1.0"

__all__ = ["GradientWarning", "MLPClassifier", "MLPRegressor", "__version__"]

"""fastbp: multilayer perceptrons trained by backpropagation, fast.

``fastbp.MLPClassifier`` and ``fastbp.MLPRegressor`` are drop-in replacements
for scikit-learn's MLP estimators whose training epochs run as single
Numba-compiled calls.
"""

from . import datasets
from ._cache import CacheWarning
from ._cache import cache_info as compile_cache_info
from ._cache import clear_cache as clear_compile_cache
from .display import TrainingHistoryDisplay
from .estimators import MLPClassifier, MLPRegressor
from .exceptions import DivergenceError, GradientWarning, OversubscriptionWarning
from .persistence import load, save
from .tensorboard import TensorBoardCallback
from .warmup import WarmupReport, warmup

__version__ = "0.1.0"

__all__ = ["CacheWarning", "DivergenceError", "GradientWarning", "MLPClassifier",
           "MLPRegressor", "OversubscriptionWarning", "TensorBoardCallback", "TrainingHistoryDisplay", "WarmupReport",
           "__version__", "clear_compile_cache", "compile_cache_info", "datasets", "load",
           "save", "warmup"]

"""fastbp: multilayer perceptrons trained by backpropagation, fast.

``fastbp.MLPClassifier`` and ``fastbp.MLPRegressor`` are drop-in replacements
for scikit-learn's MLP estimators whose training epochs run as single
Numba-compiled calls.

``fastbp.warmup`` is the function :func:`fastbp.warmup.warmup`, not its
module (so is ``import fastbp.warmup as w``); the module's public names,
``WarmupReport`` and ``WarmupEntry``, are exported here beside it.
"""

from . import datasets
from ._cache.maintenance import cache_info as compile_cache_info
from ._cache.maintenance import clear_cache as clear_compile_cache
from ._cache.maintenance import prune_cache as prune_compile_cache
from ._cache.warning import CacheWarning
from .cli_data.predict import read_data
from .display import TrainingHistoryDisplay
from .estimators import MLPClassifier, MLPRegressor
from .exceptions import DivergenceError, GradientWarning, OversubscriptionWarning
from .history import history_frame
from .persistence import load, read_metadata, save
from .tensorboard import TensorBoardCallback
# Binds fastbp.warmup to the function, over the submodule (which stays in
# sys.modules): hence WarmupEntry here, which was reachable only as
# "from fastbp.warmup import WarmupEntry" (helper-124).
from .warmup import WarmupEntry, WarmupReport, warmup

__version__ = "0.1.0"

__all__ = ["CacheWarning", "DivergenceError", "GradientWarning", "MLPClassifier",
           "MLPRegressor", "OversubscriptionWarning", "TensorBoardCallback", "TrainingHistoryDisplay",
           "WarmupEntry", "WarmupReport", "__version__", "clear_compile_cache",
           "compile_cache_info", "datasets", "history_frame", "load", "prune_compile_cache",
           "read_data", "read_metadata", "save", "warmup"]

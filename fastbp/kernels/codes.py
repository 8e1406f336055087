"""Integer codes shared by the kernels and the trainer.

Kernels receive codes rather than strings so that one compiled function
serves every activation, normalisation and solver; a branch on a
loop-invariant code is hoisted out of inner loops by LLVM.
"""

IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4
ELU = 5
SELU = 6
SOFTPLUS = 7
SWISH = 8
MISH = 9
GELU = 10

HIDDEN_ACTIVATIONS = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "selu": SELU,
    "softplus": SOFTPLUS,
    "swish": SWISH,
    "mish": MISH,
    "gelu": GELU,
}

# Activations whose derivative needs the pre-activation z; the others are
# differentiated from their output alone, so z need not be kept.
NEEDS_PREACTIVATION = frozenset({SWISH, MISH, GELU})

# Output functions, each paired with its canonical loss so that the output
# delta is always ``prediction - target``.
OUT_IDENTITY = 0  # squared error
OUT_SOFTMAX = 1  # categorical cross-entropy
OUT_LOGISTIC = 2  # binary cross-entropy per output
OUT_EXP = 3  # half Poisson deviance

OUTPUT_FUNCTIONS = {
    "identity": OUT_IDENTITY,
    "softmax": OUT_SOFTMAX,
    "logistic": OUT_LOGISTIC,
    "exp": OUT_EXP,
}
#: Output-function names by code (the suffixes of the per-output kernels).
OUTPUT_NAMES = {code: name for name, code in OUTPUT_FUNCTIONS.items()}

NORM_NONE = 0
NORM_BATCH = 1
NORM_LAYER = 2

NORMALIZATIONS = {None: NORM_NONE, "batch": NORM_BATCH, "layer": NORM_LAYER}

SGD = 0
ADAM = 1
RMSPROP = 2
ADAGRAD = 3
ADAMW = 4

SOLVERS = {"sgd": SGD, "adam": ADAM, "rmsprop": RMSPROP, "adagrad": ADAGRAD, "adamw": ADAMW}

# Bits of what ``predict`` returns: which of its values it found not finite.
# Checking in the kernel, on chunks already in cache, spares a prediction of
# a few rows two NumPy passes (``isfinite(X)``, ``isfinite(out)``).
INPUT_NOT_FINITE = 1  # a dense X (a CSR X is checked when validated)
OUTPUT_NOT_FINITE = 2
PARAMS_NOT_FINITE = 4  # the model's own parameters or running statistics

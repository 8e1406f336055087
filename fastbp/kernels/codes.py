"""Integer codes shared by the kernels and the trainer.

Kernels receive codes rather than strings so that one compiled function
serves every activation and solver; the branch on a loop-invariant code is
hoisted out of inner loops by LLVM.
"""

IDENTITY = 0
LOGISTIC = 1
TANH = 2
RELU = 3

HIDDEN_ACTIVATIONS = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
}

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

SGD = 0
ADAM = 1

SOLVERS = {"sgd": SGD, "adam": ADAM}

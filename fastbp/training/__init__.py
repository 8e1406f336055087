"""The trainer: buffers, the epoch loop, stopping rules, L-BFGS, prediction.

This layer turns validated arrays into kernel calls. It knows nothing of
scikit-learn's estimator API (labels, parameter validation, fitted
attributes) and holds no compiled code of its own.
"""

"""What the epoch loop records: losses, scores and the best parameters."""

import numpy as np


class Progress:
    """Training history and stopping-rule state, kept across ``partial_fit``.

    Attributes mirror scikit-learn's fitted attributes: ``loss_curve``,
    ``loss``, ``best_loss``, ``validation_scores``, ``best_validation_score``,
    ``no_improvement_count``, ``t`` (samples seen) and ``n_iter``;
    ``best_params`` holds a copy of the flat parameters with the best
    validation score (early stopping only).
    """

    def __init__(self, early_stopping):
        self.loss_curve = []
        self.loss = None
        self.no_improvement_count = 0
        self.t = 0
        self.n_iter = 0
        self.best_params = None
        if early_stopping:
            self.validation_scores = []
            self.best_validation_score = -np.inf
            self.best_loss = None
        else:
            self.validation_scores = None
            self.best_validation_score = None
            self.best_loss = np.inf

    def update_no_improvement(self, early_stopping, tol, val_score, params, verbose):
        """scikit-learn's ``_update_no_improvement_count``."""
        if early_stopping:
            self.validation_scores.append(val_score)
            if verbose:
                print("Validation score: %f" % val_score)
            if val_score < self.best_validation_score + tol:
                self.no_improvement_count += 1
            else:
                self.no_improvement_count = 0
            if val_score > self.best_validation_score:
                self.best_validation_score = val_score
                self.best_params = params.copy()
        else:
            if self.loss_curve[-1] > self.best_loss - tol:
                self.no_improvement_count += 1
            else:
                self.no_improvement_count = 0
            if self.loss_curve[-1] < self.best_loss:
                self.best_loss = self.loss_curve[-1]

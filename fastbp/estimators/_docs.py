"""Parameter documentation shared by the two estimators' docstrings."""

COMMON_PARAMETERS = """\
hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.

    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Activation of the hidden layers: 'identity' f(x) = x, 'logistic'
        f(x) = 1 / (1 + exp(-x)), 'tanh' f(x) = tanh(x), 'relu'
        f(x) = max(0, x).

    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'lbfgs' runs scipy's L-BFGS-B over the flat parameter vector with a
        compiled full-batch loss and gradient (float32 models stay float32);
        'sgd' is stochastic gradient descent with momentum; 'adam' is Kingma
        and Ba's Adam. Each epoch of 'sgd'/'adam' is one compiled call.

    alpha : float, default=0.0001
        Strength of the L2 penalty, ``alpha / 2 * ||W||^2`` divided by the
        sum of sample weights (biases are not penalised).

    batch_size : int or 'auto', default='auto'
        Mini-batch size of the stochastic solvers; 'auto' is
        ``min(200, n_samples)``. Unused by 'lbfgs'.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule of the 'sgd' step size: 'constant' keeps
        ``learning_rate_init``; 'invscaling' uses
        ``learning_rate_init / pow(t, power_t)`` with ``t`` the samples seen;
        'adaptive' divides it by 5 whenever ``n_iter_no_change`` epochs fail
        to improve by ``tol``.

    learning_rate_init : float, default=0.001
        Initial step size ('sgd' and 'adam').

    power_t : float, default=0.5
        Exponent of 'invscaling'.

    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations
        ('lbfgs').

    shuffle : bool, default=True
        Whether to reshuffle the samples every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the early-stopping split and shuffling,
        drawing exactly what scikit-learn draws, in the same order.

    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.

    verbose : bool, default=False
        Print progress in scikit-learn's format.

    warm_start : bool, default=False
        Start ``fit`` from the previous solution.

    momentum : float, default=0.9
        Momentum of 'sgd', in [0, 1].

    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum ('sgd' with momentum > 0).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified by
        class for single-label classification), stop when its score stops
        improving and restore the best weights.

    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.

    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.

    epsilon : float, default=1e-8
        Adam's numerical-stability constant.

    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping.

    max_fun : int, default=15000
        Maximum number of loss evaluations of 'lbfgs'."""

COMMON_ATTRIBUTES = """\
loss_ : float
        The current loss.

    best_loss_ : float or None
        The minimum training loss reached (None with early stopping).

    loss_curve_ : list of float
        Training loss after each epoch (stochastic solvers).

    validation_scores_ : list of float or None
        Validation score after each epoch (early stopping only).

    best_validation_score_ : float or None
        Best validation score (early stopping only).

    t_ : int
        Number of training samples seen by the solver.

    coefs_ : list of ndarray of shape (fan_in, fan_out)
        Weight matrix of each layer.

    intercepts_ : list of ndarray of shape (fan_out,)
        Bias vector of each layer.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit (string column names only).

    n_iter_ : int
        Number of epochs (or L-BFGS iterations) run.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs."""

"""Parameter documentation shared by the two estimators' docstrings."""

COMMON_PARAMETERS = """\
hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.

    activation : str or list of str, default='relu'
        Activation of the hidden layers: one name for all, or one per hidden
        layer. 'identity' x; 'logistic' 1 / (1 + exp(-x)); 'tanh';
        'relu' max(0, x); 'leaky_relu' x or 0.01 x; 'elu' x or exp(x) - 1;
        'selu' 1.0507 (x or 1.67326 (exp(x) - 1)); 'softplus'
        log(1 + exp(x)); 'swish' x sigmoid(x); 'mish' x tanh(softplus(x));
        'gelu' x Phi(x) (exact erf form). Each has its exact derivative,
        computed from the activation's output where the formula allows it
        (as scikit-learn does for 'tanh' and 'logistic'): in saturated
        units ('tanh', 'logistic', 'elu', 'selu' below x = -10 in float32)
        that derivative, under 1e-4, keeps its absolute accuracy (1e-7 in
        float32) rather than its relative one.

    solver : {'lbfgs', 'sgd', 'adam', 'rmsprop', 'adagrad', 'adamw'}, default='adam'
        'lbfgs' runs scipy's L-BFGS-B over the flat parameter vector with a
        compiled full-batch loss and gradient (float32 models stay float32;
        no dropout or batch norm). 'sgd': SGD with (Nesterov) momentum, in
        scikit-learn's velocity form ``v = momentum v - lr g`` (a changed
        learning rate scales new gradients only; PyTorch's SGD rescales the
        whole momentum at once). 'adam': Kingma and Ba's Adam, in
        scikit-learn's form (epsilon added to sqrt(v) before the bias
        correction, which PyTorch's Adam adds after). 'rmsprop': v = beta_2 v + (1 - beta_2)
        g^2, step lr g / (sqrt(v) + epsilon) (PyTorch's form, epsilon outside
        the root; ``beta_2`` is the decay rate, no momentum). 'adagrad':
        s += g^2, step lr g / (sqrt(s) + epsilon) (epsilon outside the root).
        'adamw': Adam with decoupled weight decay: ``alpha`` is no longer an
        L2 penalty but the decay ``W -= lr * alpha * W`` of each step, then
        ``W -= lr m_hat / (sqrt(v_hat) + epsilon)`` with bias-corrected
        moments (PyTorch's AdamW, except that biases and normalisation
        parameters are not decayed, as they are not penalised by the other
        solvers; PyTorch decays them by default: to match, put them in a
        parameter group with ``weight_decay=0``). Each epoch of a stochastic
        solver is one compiled call.

    alpha : float, default=0.0001
        Strength of the L2 penalty, ``alpha / 2 * ||W||^2`` divided by the
        sum of the sample weights of each mini-batch (of all samples for
        'lbfgs'), as scikit-learn's MLP divides it by the batch's size
        (biases and normalisation parameters are not penalised). With
        solver='adamw', the decoupled weight decay.

    batch_size : int or 'auto', default='auto'
        Mini-batch size of the stochastic solvers; 'auto' is
        ``min(200, n_samples)``. Unused by 'lbfgs'.

    learning_rate : str or callable, default='constant'
        Step-size schedule. scikit-learn's, for 'sgd' only: 'constant' keeps
        ``learning_rate_init``; 'invscaling' uses
        ``learning_rate_init / pow(t, power_t)`` with ``t`` the samples seen;
        'adaptive' divides it by 5 whenever more than ``n_iter_no_change``
        consecutive epochs (``n_iter_no_change + 1``) fail to improve by
        ``tol``, as scikit-learn's does. Per-epoch, for every stochastic solver:
        'step' multiplies it by ``gamma`` every ``step_size`` epochs
        (PyTorch's StepLR); 'exponential' by ``gamma`` every epoch
        (ExponentialLR); 'cosine' anneals it from ``learning_rate_init`` to 0
        over ``max_iter`` epochs (CosineAnnealingLR, eta_min=0; a
        ``partial_fit`` stream past ``max_iter`` epochs follows the cosine
        back up, as PyTorch's closed form does); a callable
        ``f(epoch, learning_rate_init) -> lr`` (epoch counted from 0) sets it
        directly: a finite ``lr >= 0`` (an epoch at 0 takes no step).

    learning_rate_init : float, default=0.001
        Initial step size of every stochastic solver.

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
        Start ``fit`` from the previous solution: its weights, with the
        optimizer's state and the learning-rate schedule started afresh
        (``partial_fit`` goes on with both, and takes the optimizer's
        hyper-parameters set since its last call, ``learning_rate_init``
        included, as a PyTorch param group takes a new ``lr``; a ``solver``
        or ``learning_rate`` changed within a ``partial_fit`` stream is
        refused).

    momentum : float, default=0.9
        Momentum of 'sgd', in [0, 1].

    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum ('sgd' with momentum > 0).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified by
        class for single-label classification), stop when its score stops
        improving and restore the best weights. scikit-learn stratifies
        binary targets only, so on multiclass data the split, and hence the
        model, differs from scikit-learn's for the same ``random_state``.

    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.

    beta_1 : float, default=0.9
        Decay rate of the first moment estimate of 'adam' and 'adamw', in
        [0, 1).

    beta_2 : float, default=0.999
        Decay rate of the second moment estimate of 'adam' and 'adamw', in
        [0, 1); also 'rmsprop''s decay rate.

    epsilon : float, default=1e-8
        Numerical-stability constant of 'adam', 'adamw', 'rmsprop' and
        'adagrad' (added to the root of the second moment).

    n_iter_no_change : int or np.inf, default=10
        Training stops (or 'adaptive' divides the learning rate) once more
        than ``n_iter_no_change`` consecutive epochs have failed to improve
        by ``tol``, i.e. after ``n_iter_no_change + 1`` of them, as
        scikit-learn's MLP counts them: with ``n_iter_no_change=1``, a fit
        in which no epoch after the first improves by ``tol`` stops after
        its third epoch. ``np.inf`` never stops early.

    max_fun : int, default=15000
        Maximum number of loss evaluations of 'lbfgs'.

    init : {'glorot_uniform', 'glorot_normal', 'he_uniform', 'he_normal', 'lecun_normal'}, default='glorot_uniform'
        Weight initialisation. 'glorot_uniform' is scikit-learn's exact draw
        (biases drawn too, factor 2 for logistic); the others draw weights
        with std sqrt(2 / (fan_in + fan_out)), bound sqrt(6 / fan_in), std
        sqrt(2 / fan_in), std sqrt(1 / fan_in) respectively, and zero biases.

    step_size : int, default=10
        Epochs between decays of learning_rate='step'; the other schedules
        ignore it (so that one grid can hold them all).

    gamma : float or None, default=None
        Decay factor of learning_rate='step' and 'exponential'. None picks
        each schedule's own default: 0.1 for 'step' (every ``step_size``
        epochs, as PyTorch's StepLR) and 0.95 for 'exponential' (every
        epoch; 0.1 would divide the rate by 10 each epoch and stop training
        within a few epochs). The other schedules ignore it.

    l1 : float, default=0.0
        Strength of an L1 penalty on the weights, ``l1 * ||W||_1`` divided by
        the sum of the sample weights of each mini-batch (scaled like
        ``alpha``).

    dropout : float or list of float, default=0.0
        Inverted-dropout rate in [0, 1) of each hidden layer's output (one
        value, or one per hidden layer). Active in training only; masks are
        drawn inside the compiled epoch from a seed taken from
        ``random_state``, so fits are reproducible.

    normalization : {None, 'batch', 'layer'}, default=None
        Normalise each hidden layer's pre-activation, with learnable scale
        and shift (``normalization_scales_``, ``normalization_shifts_``;
        such layers have no bias: their ``intercepts_`` stay zero, see
        there). 'batch' uses batch statistics in training
        and running statistics (``running_mean_``, ``running_var_``, momentum
        0.1, PyTorch's convention, eps 1e-5) at prediction; its batch
        statistics are unweighted, as PyTorch's ``BatchNorm1d``'s (which
        takes no sample weights): a row with ``sample_weight`` 0 still
        enters its batch's mean and variance, and through them the training
        of the other rows and ``running_mean_``, ``running_var_``. To leave
        a row out of them, remove it from ``X`` rather than weigh it 0.
        'layer' normalises each sample over its units.

    residual : bool, default=False
        Add identity skip connections between consecutive hidden layers of
        equal width; warns if no pair qualifies.

    clip_grad_norm : float or None, default=None
        Clip the global gradient norm of every step to this value (PyTorch's
        ``clip_grad_norm_``: the gradient is scaled by ``min(1, clip_grad_norm
        / (norm + 1e-6))``), over every parameter, normalisation's included,
        with the ``alpha`` and ``l1`` penalties in the gradient, as when
        PyTorch's loss holds them (``adamw``'s decoupled decay is no
        gradient, and stays out). Stochastic solvers only: ``solver='lbfgs'``
        ignores it, as ``adam`` ignores ``momentum`` (so that one grid can
        hold both solvers).

    scoring : None, 'loss', str or callable, default=None
        Validation score for early stopping: None uses the estimator's
        ``score`` (scikit-learn's behaviour); 'loss' uses minus the
        validation loss; otherwise a scikit-learn scorer name or a callable
        ``scorer(estimator, X, y)``. The validation rows are weighted as the
        training loss weighs them, by ``sample_weight`` times
        ``class_weight``; a callable gets them as ``sample_weight=`` where
        it takes that keyword (a scorer object does). A score that is not
        finite is an error.

    device : {'cpu', 'cuda'}, default='cpu'
        Where training and prediction run. 'cuda' runs the numba.cuda
        kernels on an NVIDIA GPU (``pip install "fastbp[cuda]"``) and raises
        a RuntimeError that says what is missing when no GPU or package is
        usable. Fitted attributes are NumPy arrays whichever device trained
        the model, so a model trained on one device predicts on the other
        once ``device`` is changed."""

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
        Bias vector of each layer. A hidden layer that ``normalization``
        normalises has none (the normalisation's shift plays its part): its
        array is zeros, read-only in a fitted model, and a non-zero one set
        by hand or loaded is refused with a ``ValueError`` (at prediction,
        training, :func:`fastbp.save` and :func:`fastbp.load`) rather than
        ignored. Porting a network with such a bias (PyTorch's
        ``Linear(bias=True)`` before ``BatchNorm1d``): subtract it from
        ``running_mean_``, as batch normalization removes it anyway; before
        ``LayerNorm`` a bias that differs between units cannot be
        represented.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit (string column names only).

    n_iter_ : int
        Number of epochs (or L-BFGS iterations) run.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs.

    history_ : dict of ndarray
        Per-epoch records: 'loss', 'learning_rate', 'epoch_time',
        'grad_norm' (n_epochs, n_layers_ - 1: RMS over the epoch's steps of each
        layer's weight-gradient norm, of the data loss alone: before
        clipping, without the penalties), 'dead_fraction'
        (share of relu units that were zero for every sample of the epoch;
        NaN without relu layers), and with early stopping 'val_loss' and
        'val_score' (NaN for the epochs of a warm start trained without it).
        'epoch_time' is each epoch's wall-clock seconds; the first epoch of
        a process's first fit of a configuration includes compiling the
        kernel or loading it from the cache (``fastbp.warmup``, or any
        earlier fit of it in the process, removes that).
        'loss' includes the penalties (``alpha``'s L2, but not adamw's
        decoupled decay, and ``l1``), as ``loss_curve_`` does; 'val_loss'
        is the validation data's loss alone, without them.
        A model from ``from_sklearn`` has no ``history_`` until its first
        fastbp ``fit`` or ``partial_fit``. A call that goes on from
        scikit-learn's training (``warm_start=True``, or ``partial_fit``)
        appends its epochs to ``loss_curve_``, which begins with
        scikit-learn's, and to ``history_``, which begins: where
        scikit-learn trained with early stopping (a validation score per
        epoch), with scikit-learn's epochs too, their 'loss' and
        'val_score' from ``loss_curve_`` and ``validation_scores_`` and
        every other entry NaN (scikit-learn records no validation loss,
        learning rate, timing, gradient norms or dead units); otherwise,
        with the first epoch fastbp trained (scikit-learn's epochs are in
        ``loss_curve_`` alone). A fit without ``warm_start`` starts
        both afresh. A vanishing or exploding gradient raises one
        :class:`fastbp.GradientWarning` per fit. The arrays are read-only
        views of the records, which later calls extend without copying (copy
        them to modify them). With solver='lbfgs', 'loss' and 'epoch_time'
        per iteration, in new arrays at every fit (after Ctrl-C, ``loss_`` is
        the best loss evaluated, which may be below the last completed
        iteration's).

    normalization_scales_, normalization_shifts_ : list of ndarray of shape (n_units,)
        Learned scale and shift of each normalised hidden layer, ``n_units``
        its width; empty lists without ``normalization``.

    running_mean_, running_var_ : list of ndarray of shape (n_units,)
        Batch-norm running statistics used at prediction, one array per
        hidden layer of ``n_units`` units; empty lists unless
        ``normalization='batch'``."""

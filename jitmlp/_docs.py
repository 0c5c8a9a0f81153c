"""The public estimators' docstrings (numpydoc), assembled from the parts the two share.

Kept apart from ``_estimators.py`` so that the fit machinery reads without 300 lines of text.
A parameter added to both estimators gets its entry in ``_SHARED_PARAMETERS`` (jitmlp's own
ones at its end, saying so); ``tests/test_docstrings.py`` checks that every parameter
of ``__init__`` is documented and runs the examples.
"""

_INTRO = """{summary}

    A drop-in for ``sklearn.neural_network.{name}``: the same parameters, defaults, fitted
    attributes and models (the same random draws; the same results to rounding), with the
    forward and backward passes of each minibatch run in Numba-compiled loops, one compiled call
    per epoch. The kernels are compiled on the first fit of a process and cached on disk
    (``python -m jitmlp.precompile`` pays for it ahead of time); the algorithm is written out
    plainly in ``tests/reference.py`` and ``docs/algorithm.md``.

    Parameters
    ----------
"""

_LOSS = """    loss : {'squared_error', 'poisson', 'huber'}, default='squared_error'
        The loss to minimize: half the squared error with the identity output, half the
        Poisson deviance with an exponential output (y must be non-negative, not all zero),
        or the Huber loss with the identity output (jitmlp's own; scikit-learn's MLP has none):
        ``0.5 * r**2`` for a residual ``|r| <= huber_delta``, ``huber_delta * (|r| - 0.5 *
        huber_delta)`` beyond, so that outliers pull on the fit with a bounded gradient.

"""

_HUBER_DELTA = """    huber_delta : float > 0, default=1.0
        jitmlp's own. Where the Huber loss (``loss='huber'``) turns from quadratic to linear,
        in the units of y; the gradient of the loss with respect to the output is the residual
        clipped to ``[-huber_delta, huber_delta]``. Not used by the other losses.

"""

_SHARED_PARAMETERS = """    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The number of units of each hidden layer, input side first.

    activation : str or tuple of str, default='relu'
        The hidden layers' activation g, one name for every hidden layer or a tuple (or list)
        of names, one per hidden layer, input side first. scikit-learn's: 'identity'
        (``g(a) = a``), 'logistic' (``1 / (1 + exp(-a))``), 'tanh', 'relu' (``max(a, 0)``);
        jitmlp's own: 'leaky_relu' (``a`` if ``a > 0`` else ``0.01 a``), 'softplus'
        (``log(1 + exp(a))``), 'elu' (``a`` if ``a > 0`` else ``exp(a) - 1``), 'silu'
        (``a / (1 + exp(-a))``) and 'gelu' in its tanh form
        (``a/2 (1 + tanh(sqrt(2/pi) (a + 0.044715 a^3)))``, not the exact erf form). Models with
        jitmlp's own activations export to ONNX and save with ``jitmlp.save`` but do not
        convert to scikit-learn (``to_sklearn`` raises ValueError).

    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        The weight optimizer: scipy's L-BFGS-B on the full batch, minibatch stochastic gradient
        descent, or Adam. For small data sets lbfgs often converges faster and better.

    alpha : float, default=0.0001
        Strength of the L2 penalty ``alpha * ||W||^2 / 2``, divided by the (weighted) number of
        samples of the minibatch.

    batch_size : int or 'auto', default='auto'
        Samples per minibatch of sgd and adam; 'auto' is ``min(200, n_samples)``. Not used by
        lbfgs.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        The step size schedule of sgd: constant ``learning_rate_init``; decreasing as
        ``learning_rate_init / t**power_t``; or divided by 5 each time ``n_iter_no_change``
        epochs in a row fail to improve by ``tol``.

    learning_rate_init : float, default=0.001
        The initial step size of sgd and adam.

    power_t : float, default=0.5
        The exponent of the 'invscaling' schedule.

    max_iter : int, default=200
        The most epochs (sgd, adam) or iterations (lbfgs) of a fit.

    shuffle : bool, default=True
        Whether sgd and adam visit the samples in a new random order each epoch (drawn as
        scikit-learn draws it, from the same ``random_state``).

    random_state : int, RandomState instance or None, default=None
        Draws the initial weights, the shuffling and the early-stopping split. An int makes
        fits repeatable.

    tol : float, default=1e-4
        The improvement of the loss (or of the validation score, with early stopping) that
        counts as progress; ``n_iter_no_change`` epochs without it end the fit.

    verbose : bool, default=False
        Print the loss after every epoch, as scikit-learn does.

    warm_start : bool, default=False
        Start ``fit`` from the weights of the previous fit instead of new random ones.

    momentum : float, default=0.9
        Momentum of sgd's updates, in [0, 1].

    nesterovs_momentum : bool, default=True
        Whether sgd uses Nesterov's momentum (with ``momentum > 0``).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and stop when its score fails to
        improve by ``tol`` for ``n_iter_no_change`` epochs; the best epoch's weights are kept.
        sgd and adam only.

    validation_fraction : float, default=0.1
        The share of the training data held out with ``early_stopping``.

    beta_1 : float, default=0.9
        Adam's decay rate of the first moment estimates, in [0, 1).

    beta_2 : float, default=0.999
        Adam's decay rate of the second moment estimates, in [0, 1).

    epsilon : float, default=1e-8
        Adam's term for numerical stability.

    n_iter_no_change : int, default=10
        How many epochs without an improvement of ``tol`` end the fit (sgd, adam).

    max_fun : int, default=15000
        The most loss function calls of an lbfgs fit.

    n_jobs : int, default=None
        jitmlp's own (not in scikit-learn). Threads for the compiled kernels during fit and
        predict. None means all of numba's threads (``NUMBA_NUM_THREADS``, the machine's cores
        by default; under ``GridSearchCV(n_jobs=k)`` joblib's workers get ``cores // k``),
        except in a task on a ``dask.distributed`` worker, where it means the task's share of
        the host's cores: ``max(1, cores // T)`` for T task threads of the Dask workers on that
        host. Negative values count back from ``NUMBA_NUM_THREADS`` (-1 = all). The previous
        thread count is restored afterwards. The model is the same bits for any thread count.

    lr_schedule : {"constant", "invscaling", "adaptive", "cosine"} or None, default=None
        jitmlp's own. Learning-rate schedule for both stochastic solvers (README, "Training
        controls"). None keeps scikit-learn's rule: ``learning_rate`` for sgd, a constant rate
        for adam. A schedule sets the rate η_e of each epoch from η_0 = ``learning_rate_init``:
        "invscaling" η_0 / (t_ + 1)^power_t after each epoch; "adaptive" η/5 where the fit
        would stop for lack of improvement (stop once η <= 1e-6); "cosine"
        η_e = η_0 (1 + cos(π min(e, max_iter) / max_iter)) / 2, e the epochs since the
        optimizer was created (each ``fit`` starts at 0, ``partial_fit`` calls continue). For
        adam η_e replaces ``learning_rate_init`` in the bias-corrected step size. Leave
        ``learning_rate="constant"`` when it is set. Only used when solver='sgd' or 'adam'.

    max_grad_norm : float > 0 or None, default=None
        jitmlp's own. Clip the gradient by its global norm: each step uses
        grad θ · min(1, max_grad_norm / ‖grad θ‖), ‖·‖ the L2 norm over all weights and biases
        of the minibatch's gradient, L2 term (α W / Σw) included. None: no clipping. Only used
        when solver='sgd' or 'adam'.

    weight_decay : float >= 0, default=0.0
        jitmlp's own. Decoupled weight decay λ (AdamW; with sgd, SGDW): before each step the
        weights (not the biases) are multiplied by 1 - η_e·λ, η_e the epoch's learning rate
        (not adam's bias-corrected step size), apart from the gradient and the optimizer's
        moments. Independent of ``alpha``, the L2 penalty inside the gradient. Only used when
        solver='sgd' or 'adam'.

    dropout : float in [0, 1) or array-like of such floats, default=0.0
        jitmlp's own. Inverted dropout of hidden units, in training only: hidden layer k with
        rate p_k passes on h_k ⊙ m_k / (1 - p_k), each unit's m_k 0 with probability p_k, to
        the layer above, and backprop follows the same mask. A number is every hidden layer's
        rate, a sequence gives one per hidden layer (0 for none). The masks are a hash of
        (a seed drawn from ``random_state``, the epoch, the sample's row, the layer, the unit),
        so the model is the same for any thread count; ``predict`` never drops. ``loss_`` and
        ``loss_curve_`` are then the losses of the thinned networks the epochs trained.
        0 (default): no dropout, the model of scikit-learn. Only with solver='sgd' or 'adam'
        (lbfgs raises a ValueError). README, "Dropout".

    Attributes
    ----------
"""

_CLASS_WEIGHT = """    class_weight : dict, list of dict, "balanced" or None, default=None
        jitmlp's own. Weights of the classes, as scikit-learn's other classifiers take them: a
        sample of class c weighs ``class_weight[c]`` (classes missing from the dict: 1);
        ``"balanced"`` gives n_samples / (n_classes * count(c)) over the fit's y. They multiply
        ``sample_weight``: the fit equals the fit with
        ``sample_weight=compute_sample_weight(class_weight, y) * sample_weight``, early
        stopping's validation score included. Multilabel y: ``"balanced"`` per label or a list
        of one dict per label keyed by the indicator value ({0: w0, 1: w1}), multiplied over the
        labels. ``partial_fit`` takes a dict or list and refuses ``"balanced"``, as
        ``SGDClassifier`` does.

"""

_CLASSES = """    classes_ : ndarray of shape (n_classes,) or list of ndarray
        The class labels (multilabel: one array of 0 and 1 per label).

"""

_SHARED_ATTRIBUTES = """    loss_ : float
        The loss after the last epoch, L2 penalty included.

    best_loss_ : float or None
        The lowest ``loss_`` of the fit; None with ``early_stopping`` (see
        ``best_validation_score_``).

    loss_curve_ : list of float
        ``loss_`` after each epoch (sgd, adam) or iteration (lbfgs).

    validation_scores_ : list of float or None
        The score on the validation split after each epoch ({score}), with
        ``early_stopping``; None otherwise.

    validation_loss_curve_ : list of float or None
        jitmlp's own: the loss on the validation split after each epoch, in the units of
        ``loss_curve_`` but without the L2 penalty, with ``early_stopping``; None otherwise.
        ``jitmlp.LossCurveDisplay`` draws it beside ``loss_curve_``.

    best_validation_score_ : float or None
        The best of ``validation_scores_``; None without ``early_stopping``.

    t_ : int
        The number of training samples seen by the solver (sgd, adam).

    coefs_ : list of ndarray of shape (n_units_k, n_units_k+1)
        The weight matrix of each layer, input side first, in X's float dtype.

    intercepts_ : list of ndarray of shape (n_units_k+1,)
        The bias vector of each layer.

    n_features_in_ : int
        The number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        The names of the features seen during fit, when X has string column names.

    n_iter_ : int
        The number of epochs (iterations for lbfgs) run.

    n_layers_ : int
        The number of layers, input and output included.

    n_outputs_ : int
        The number of outputs.

    out_activation_ : str
        The output function O: {outputs}.

    See Also
    --------
    {other} : {other_summary}
    sklearn.neural_network.{name} : scikit-learn's own; ``to_sklearn`` and ``from_sklearn``
        convert a model (weights, optimizer state and history) either way.
    jitmlp.save, jitmlp.load : model files that load without pickle.

    Notes
    -----
    Differences from scikit-learn are listed in the README ("What differs from scikit-learn"):
    float32 input trains in float32 end to end (lbfgs too), continuing a fit on data of another
    float dtype raises a ValueError, and multiclass early-stopping splits are stratified.

    Examples
    --------
"""

_CLASSIFIER_EXAMPLES = """    >>> from sklearn.datasets import load_iris
    >>> from jitmlp import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=500,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    >>> clf.score(X, y) > 0.9
    True
    >>> [W.shape for W in clf.coefs_]
    [(4, 16), (16, 3)]
"""

_REGRESSOR_EXAMPLES = """    >>> from sklearn.datasets import make_regression
    >>> from jitmlp import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=1000,
    ...                    random_state=0).fit(X, y / y.std())
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> reg.score(X, y / y.std()) > 0.9
    True
    >>> reg.out_activation_
    'identity'
"""

CLASSIFIER_DOC = (
    _INTRO.format(summary="Multi-layer perceptron classifier, trained by compiled loops.",
                  name="MLPClassifier")
    + _SHARED_PARAMETERS.replace("    Attributes\n", _CLASS_WEIGHT + "    Attributes\n", 1)
    + _CLASSES
    + _SHARED_ATTRIBUTES.format(
        score="accuracy", outputs="'softmax' (multiclass) or 'logistic' (binary, multilabel)",
        other="MLPRegressor", other_summary="the regressor.", name="MLPClassifier")
    + _CLASSIFIER_EXAMPLES
)

REGRESSOR_DOC = (
    _INTRO.format(summary="Multi-layer perceptron regressor, trained by compiled loops.",
                  name="MLPRegressor")
    + _LOSS
    + _SHARED_PARAMETERS.replace("    Attributes\n", _HUBER_DELTA + "    Attributes\n", 1)
    + _SHARED_ATTRIBUTES.format(
        score="R²", outputs="'identity' (squared error, Huber) or 'exp' (Poisson)",
        other="MLPClassifier", other_summary="the classifier.", name="MLPRegressor")
    + _REGRESSOR_EXAMPLES
)

"""The thin scikit-learn estimators: validate and convert once, hand arrays to compiled code.

Everything scikit-learn's ``MLPClassifier``/``MLPRegressor`` (1.9) does in Python per *epoch* is
done here the same way and in the same order (random draws for the initial weights, the per-epoch
shuffle, the validation split, the stopping rules, warnings and messages), so that the same
hyper-parameters and ``random_state`` give the same model. Everything done per *minibatch* runs
in one compiled call per epoch (``_epoch.run_epoch``).
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
from sklearn.callback import CallbackSupportMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._activations import ACTIVATIONS, activation_codes, g_kernels, keeps_g_prime
from ._callbacks import FitTasks, StopFit
from ._class_weight import PARTIAL_FIT_BALANCED, class_weighted
from ._config import PREDICT_BLOCK, SLICE_FLOPS
from ._docs import CLASSIFIER_DOC, REGRESSOR_DOC
from ._dropout import EPOCH, SEED, SEED_BOUND, training_record
from ._epoch import batch_loss_and_grad, chunk_kernels_of, epoch_kernels_of, run_epoch
from ._loss_curve import validation_loss
from ._network import Layout
from ._optimizers import SCHEDULES, OptimizerState, check_schedule, step_record
from ._outputs import output_code
from ._predict import predict_forward, predict_kernel_of
from ._records import Data
from ._shuffle import shuffle_samples
from ._threads import numba_threads

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_INDEX = np.int64  # index dtype of the CSR arrays handed to compiled code


_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
# The optimizer state's name before it moved to _optimizers: pickles and skops files of earlier
# versions name it, and load through this alias (tests/test_io.py).
_OptimizerState = OptimizerState
_PREDICT_KERNELS = {}  # (dtype, dense input, output code) -> _predict.predict_kernel_of's table


@functools.lru_cache(maxsize=64)
def _layout_of(units: tuple) -> Layout:
    """The Layout of these layer widths, made once (its arrays are only read)."""
    return Layout.from_units(units)


def _frozen(a, dtype=None):
    """``a`` as a read-only, C-contiguous plain ndarray (a view where ``a`` already is one).

    Everything compiled code only reads goes through here, so that every such argument has one
    numba type: writable or read-only (joblib's memmaps), C- or Fortran-ordered, strided or
    memory-mapped input all reach the kernels alike and compile them once.
    """
    view = np.ascontiguousarray(a, dtype=dtype).view(np.ndarray)
    view.flags.writeable = False
    return view


def _kernel_input(X, dtype):
    """(X_dense, X_csr) for compiled code.

    Dense input becomes C-contiguous in ``dtype``, with X_csr None; sparse input becomes
    canonical CSR (data, indices, indptr) without ever being densified, with an empty X_dense.
    All read-only (``_frozen``). Dense and sparse input compile kernels of their own.
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=dtype, copy=False)
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
        csr = (_frozen(X.data), _frozen(X.indices, _INDEX), _frozen(X.indptr, _INDEX))
        return _frozen(np.empty((0, 0), dtype=dtype)), csr
    return _frozen(X, dtype), None


def _binarized(label_binarizer, y):
    """``label_binarizer.transform(y).astype(bool)`` for labels that are known to be classes.

    Called on the y the binarizer was just fitted on, or whose classes were just checked
    against ``classes_``; for 1-D binary and multiclass y the indicator is built directly, without
    ``transform``'s second validation of y (a large share of a small fit's fixed cost). Any other y
    (multilabel, a single class, a label that is not a class) goes through ``transform``.
    """
    classes = label_binarizer.classes_
    if (label_binarizer.y_type_ in ("binary", "multiclass") and not label_binarizer.sparse_output
            and np.ndim(y) == 1 and len(classes) >= 2):
        y = np.asarray(y)
        position = np.searchsorted(classes, y)
        if position.size and position.max() < len(classes) and np.array_equal(classes[position], y):
            if len(classes) == 2:  # one column: the positive (second) class
                return (position == 1).reshape(-1, 1)
            indicator = np.zeros((y.shape[0], len(classes)), dtype=bool)
            indicator[np.arange(y.shape[0]), position] = True
            return indicator
    return label_binarizer.transform(y).astype(bool)


@contextlib.contextmanager
def _sigint_deferred():
    """Within the block, Ctrl-C (SIGINT) sets a flag instead of raising KeyboardInterrupt.

    Yields a list that is non-empty once SIGINT arrived. The training loop looks at it between
    its compiled calls, at points where the model is consistent, and stops there. Only in the
    main thread (the only one Python delivers signals to) and only where Python's default
    handler is installed: a handler of the caller's own is left alone (then KeyboardInterrupt,
    if raised, is handled as scikit-learn handles it).
    """
    hit = []
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield hit
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: hit.append(signum))
    try:
        yield hit
    finally:
        signal.signal(signal.SIGINT, previous)


def _slice_length(flops_per_row, unit):
    """Rows per compiled call: about SLICE_FLOPS of work, a multiple of ``unit`` (>= unit)."""
    units_per_slice = int(SLICE_FLOPS // max(1.0, flops_per_row * unit))
    return max(1, units_per_slice) * unit


def _epoch_start(theta, opt, first, fresh):
    """Where an epoch of several compiled calls goes back to if it is stopped inside: θ and
    the optimizer's state (with ``_roll_back``). The first epoch of a fit (``first``) starts
    from coefs_ and intercepts_ (θ is packed from them), with an optimizer the fit created
    (``fresh``) from zero moments: none of them is copied then (three arrays of θ's size, 70
    MB for two 2048-wide layers in float32)."""
    arrays = None if first and fresh else (opt.state_1.copy(), opt.state_2.copy())
    return None if first else theta.copy(), arrays, opt.t


def _roll_back(estimator, layout, theta, opt, start):
    """θ and the optimizer's state back to ``start`` (``_epoch_start``)."""
    saved_theta, saved_state, opt.t = start
    if saved_theta is None:
        saved_theta = layout.pack(estimator.coefs_, estimator.intercepts_, theta.dtype)
    theta[:] = saved_theta
    if saved_state is None:
        opt.state_1[:], opt.state_2[:] = 0, 0
    else:
        opt.state_1[:], opt.state_2[:] = saved_state


class BaseMultilayerPerceptron(CallbackSupportMixin, BaseEstimator):
    """Fit machinery shared by MLPClassifier and MLPRegressor (not for direct use).

    scikit-learn's callbacks (``set_callbacks``, ``sklearn.callback``) see a fit as a task with
    one sub-task per epoch (lbfgs: per iteration); see ``_callbacks.FitTasks``.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS)), tuple, list],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "lr_schedule": [StrOptions(set(SCHEDULES)), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
    }

    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                 learning_rate_init, power_t, max_iter, loss, shuffle, random_state, tol, verbose,
                 warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction,
                 beta_1, beta_2, epsilon, n_iter_no_change, max_fun, n_jobs, lr_schedule=None,
                 max_grad_norm=None, weight_decay=0.0, dropout=0.0):
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_jobs = n_jobs
        self.lr_schedule = lr_schedule
        self.max_grad_norm = max_grad_norm
        self.weight_decay = weight_decay
        self.dropout = dropout

    # ------------------------------------------------------------------ set-up
    def _initialize(self, y, layer_units, dtype):
        """Fitted attributes of a first fit; weights drawn exactly as scikit-learn draws them."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self.coefs_, self.intercepts_ = [], []
        codes = activation_codes(self.activation, len(layer_units) - 2)
        factor = 2.0 if set(codes) == {ACTIVATIONS["logistic"]} else 6.0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            # Glorot et al.'s bound; coefs then intercepts per layer, as scikit-learn draws them
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._random_state.uniform(-bound, bound, fan_out)
            self.coefs_.append(coef.astype(dtype, copy=False))
            self.intercepts_.append(intercept.astype(dtype, copy=False))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.validation_loss_curve_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.validation_loss_curve_ = None
                self.best_validation_score_ = None

    def _network(self, layout, dtype):
        """The ``Network`` record of compiled code: the layout, the g_kernels of the hidden
        layers, the output code and the loss's parameter."""
        return layout.network(
            g_kernels(activation_codes(self.activation, layout.n_layers - 1), dtype),
            output_code(self.out_activation_, self.loss), self._loss_parameter(dtype))

    def _loss_parameter(self, dtype) -> float:
        """The loss kernel's parameter: δ of the Huber loss, else the eps that clips
        probabilities in the log losses (float64 even for float32 fits, as in scikit-learn)."""
        if self.loss == "huber":
            return float(self.huber_delta)
        return float(np.finfo(dtype).eps)

    def _keeps_g_prime(self, layout):
        """Whether a hidden layer's activation keeps g'(a) (the workspace's d buffers)."""
        return keeps_g_prime(activation_codes(self.activation, layout.n_layers - 1))

    # --------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes)
        activation_codes(self.activation, len(hidden_layer_sizes))  # ValueError if invalid
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        tasks = FitTasks(self, X, y, sample_weight, incremental)
        if getattr(self, "class_weight", None) is not None:  # MLPClassifier's: sample weights
            sample_weight = class_weighted(self, y, sample_weight, X.dtype)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [n_features] + hidden_layer_sizes + [self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        elif self.coefs_[0].dtype != X.dtype:
            raise ValueError(
                f"This model was fitted on {self.coefs_[0].dtype} data and cannot continue "
                f"training on {X.dtype} data; convert X to {self.coefs_[0].dtype}."
            )
        # compiled code wants C-contiguous arrays of one dtype: convert once, here. Targets in
        # X's dtype, class indicators too (0 and 1), so that a classifier and a regressor of one
        # dtype run the same compiled epoch
        with np.errstate(over="ignore"):
            y = _frozen(y, X.dtype)
        if X.dtype == np.float32 and not np.isfinite(y).all():  # finite in float64, checked
            raise ValueError(
                "Input y contains values too large for float32: float32 X trains in float32, "
                "with y converted to it. Scale y, or pass X as float64."
            )
        with numba_threads(self.n_jobs):
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, y, sample_weight, layer_units, incremental, tasks)
            else:
                self._fit_lbfgs(X, y, sample_weight, layer_units, tasks)
        if not all(np.isfinite(w).all() for w in (*self.coefs_, *self.intercepts_)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        tasks.end_fit()
        return self

    def _fit_lbfgs(self, X, y, sample_weight, layer_units, tasks):
        layout = Layout.from_units(layer_units)
        theta0 = layout.pack(self.coefs_, self.intercepts_, np.float64)
        n = X.shape[0]
        sw = _frozen(np.ones(n, dtype=X.dtype) if sample_weight is None else sample_weight)
        idx = _frozen(np.arange(n, dtype=np.int64))
        X_dense, X_csr = _kernel_input(X, X.dtype)
        work = layout.workspace(n, X.dtype, keep_g_prime=self._keeps_g_prime(layout))
        theta = np.empty(layout.size, dtype=X.dtype)
        net = self._network(layout, X.dtype)
        data = Data(X_dense, y, sw)
        _, dropout = training_record(self, layout.n_layers - 1, stochastic=False)
        kernel = chunk_kernels_of(data, X_csr, idx, theta, net, work, [n])

        iterations = tasks.lbfgs_iterations(layout, X.dtype)

        def loss_grad(packed):
            theta[:] = packed
            loss = batch_loss_and_grad(kernel, data, X_csr, idx, theta, net, work,
                                       float(self.alpha), dropout)
            iterations.evaluated(loss)
            return loss, work.grad.astype(np.float64)

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        from scipy.optimize import minimize  # only here: lbfgs fits (tests/test_import_graph.py)

        try:
            opt_res = minimize(
                loss_grad, theta0, method="L-BFGS-B", jac=True, callback=iterations.callback,
                options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                         **_get_additional_lbfgs_options_dict("iprint", iprint)},
            )
        except StopFit:  # a callback asked to stop: the model after the last iteration it saw
            self.n_iter_, self.loss_, x = iterations.n_iter, iterations.loss, iterations.x
        else:
            self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
            self.loss_, x = opt_res.fun, opt_res.x
        iterations.close()
        self.coefs_, self.intercepts_ = layout.unpack(x.astype(X.dtype))

    def _validation_split(self, X, y, sample_weight):
        """scikit-learn's split, but stratified for every single-output classification target."""
        from sklearn.model_selection import train_test_split  # only here (test_import_graph.py)

        stratify = None
        if is_classifier(self) and self._label_binarizer.y_type_ in ("binary", "multiclass"):
            stratify = self._label_binarizer.inverse_transform(y)
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, y_train, y_val = parts[:4]
        sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        Y_val = y_val  # as the loss reads it (class indicators for a classifier)
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        return X_train, y_train, sw_train, X_val, y_val, Y_val, sw_val

    def _fit_stochastic(self, X, y, sample_weight, layer_units, incremental, tasks):
        check_schedule(self)
        layout = Layout.from_units(layer_units)
        rates, dropout = training_record(self, layout.n_layers - 1, stochastic=True)
        theta = layout.pack(self.coefs_, self.intercepts_, X.dtype)
        fresh = not incremental or not hasattr(self, "_optimizer")  # zero moments, t = 0
        if fresh:
            self._optimizer = OptimizerState.create(self.solver, self.learning_rate_init, theta)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            X_train, y_train, sw_train, X_val, y_val, Y_val, sw_val = self._validation_split(
                X, y, sample_weight)
            y_train = _frozen(y_train)
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = Y_val = sw_val = None
        n_samples = X_train.shape[0]
        sw_train = _frozen(np.ones(n_samples, dtype=X.dtype) if sw_train is None else sw_train)
        if any(rates):  # the masks' seed: drawn only with dropout, so other fits draw as before
            dropout[SEED] = self._random_state.randint(SEED_BOUND)
        sample_idx = np.arange(n_samples, dtype=np.int64)
        order = _frozen(sample_idx)  # what the epoch reads: the shuffle's order, in place
        X_dense, X_csr = _kernel_input(X_train, X.dtype)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped",
                    stacklevel=3,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        work = layout.workspace(
            batch_size, X.dtype, batch_sizes=[batch_size, n_samples % batch_size],
            keep_g_prime=self._keeps_g_prime(layout), dropout=any(rates))
        net = self._network(layout, X.dtype)
        data = Data(X_dense, y_train, sw_train)
        opt = self._optimizer
        kernel = chunk_kernels_of(data, X_csr, order, theta, net, work,
                                  [batch_size, n_samples % batch_size],
                                  # only with dropout: without, its default is the same zeros
                                  # (and jitmlp.precompile's stand-in takes no keywords)
                                  **({"dropout": dropout} if any(rates) else {}))
        kernel = epoch_kernels_of(kernel, data, X_csr, order, theta, net, work,
                                  step_record(self, opt, batch_size), dropout)
        # long epochs run as several calls over consecutive slices of whole minibatches
        flops_per_row = 2.0 * (3 * layout.n_weights - layout.units[0] * layout.units[1])
        slice_length = _slice_length(flops_per_row, batch_size)
        n_calls = -(-n_samples // slice_length)  # compiled calls per epoch
        interrupted = False
        try:
            with _sigint_deferred() as sigint:
                self.n_iter_ = 0
                for _ in range(self.max_iter):
                    if self.shuffle:
                        shuffle_samples(sample_idx, self._random_state)
                    # where an epoch of several calls goes back to if it is interrupted
                    start = None
                    if slice_length < n_samples:
                        start = _epoch_start(theta, opt, self.n_iter_ == 0, fresh)
                    epoch = tasks.epoch(n_calls, flops_per_row * n_samples)
                    dropout[EPOCH] = opt.epoch  # the masks' epoch: partial_fit calls go on
                    accumulated_loss = 0.0
                    step = step_record(self, opt, batch_size)  # this epoch's η
                    for call, first in enumerate(range(0, n_samples, slice_length)):
                        accumulated_loss, opt.t = run_epoch(
                            kernel, data, X_csr, order[first:first + slice_length], theta, net,
                            work, step, opt.t, accumulated_loss, dropout)
                        stop = epoch.call_ended(call)  # a callback asks to stop
                        stopped_inside = (bool(sigint) or stop) and first + slice_length < n_samples
                        if stopped_inside:
                            break
                    if stopped_inside:  # only possible where the epoch took several calls
                        # stopped inside the epoch: back to where it began, so that weights,
                        # optimizer state, n_iter_, t_ and loss_curve_ describe one point
                        _roll_back(self, layout, theta, opt, start)
                        epoch.end()
                        interrupted = bool(sigint)
                        break
                    if early_stopping:  # the validation score needs this epoch's weights
                        self.coefs_, self.intercepts_ = layout.unpack(theta)
                    self.n_iter_ += 1
                    self.loss_ = accumulated_loss / n_samples
                    self.t_ += n_samples
                    self.loss_curve_.append(self.loss_)
                    if self.verbose:
                        print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                    self._update_no_improvement_count(early_stopping, X_val, y_val, Y_val, sw_val)
                    opt.iteration_ends(self)  # the schedule's η for the next epoch
                    if epoch.end(layout, theta) or stop:  # a callback asks to stop
                        break
                    if sigint:  # after a whole epoch: the model is consistent as it is
                        interrupted = True
                        break
                    if self._no_improvement_count > self.n_iter_no_change:
                        if early_stopping:
                            msg = ("Validation score did not improve more than tol=%f for %d "
                                   "consecutive epochs." % (self.tol, self.n_iter_no_change))
                        else:
                            msg = ("Training loss did not improve more than tol=%f for %d "
                                   "consecutive epochs." % (self.tol, self.n_iter_no_change))
                        if opt.trigger_stopping(self, msg):
                            break
                        self._no_improvement_count = 0
                    if incremental:
                        break
                    if self.n_iter_ == self.max_iter:
                        warnings.warn(
                            "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                            "optimization hasn't converged yet." % self.max_iter,
                            ConvergenceWarning,
                            stacklevel=3,
                        )
        except KeyboardInterrupt:  # a SIGINT handler of the caller's own raised it
            interrupted = True
        if interrupted:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        # views: θ is this fit's own and done with (23 MB not copied for 2048-wide layers)
        self.coefs_, self.intercepts_ = layout.unpack(theta, copy=False)
        if early_stopping:
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, Y_val, sw_val):
        """Count epochs without improvement; with early stopping, score the validation split
        (``y_val``: labels, for the score; ``Y_val``: the targets as the loss reads them)."""
        if early_stopping:
            y_hat = self._forward_pass_fast(X_val, check_input=False)  # one pass for both
            self.validation_scores_.append(
                self._score(X_val, y_val, sample_weight=sw_val, y_hat=y_hat))
            self.validation_loss_curve_.append(validation_loss(self, Y_val, y_hat, sw_val))
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last_valid_score = self.validation_scores_[-1]
            if last_valid_score < (self.best_validation_score_ + self.tol):
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last_valid_score > self.best_validation_score_:
                self.best_validation_score_ = last_valid_score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [i.copy() for i in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The input data. float32 input trains in float32, anything else in float64.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The trained model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    # ----------------------------------------------------------------- predict
    def _validate_for_predict(self, X):
        """``validate_data(self, X, reset=False, ...)`` for predict, the same checks made
        directly where X is a plain 2-D float array that passes them all (the usual case when
        serving a few rows at a time, where validate_data's general path costs more than the
        prediction); anything else goes through validate_data, with its errors and warnings."""
        if (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
                and X.shape[0] > 0 and X.shape[1] == self.n_features_in_
                and not hasattr(self, "feature_names_in_")):
            with np.errstate(over="ignore", invalid="ignore"):
                finite = np.isfinite(X.sum())
            if finite:  # (a sum that is not finite sends X to validate_data, which says why)
                return X
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                             dtype=(np.float64, np.float32))

    def _forward_pass_fast(self, X, check_input=True):
        """ŷ = O(a_L) for every row of X, computed in compiled code."""
        if check_input:
            X = self._validate_for_predict(X)
        # the product's dtype as numpy would give it: float32 only if both X and W are float32
        dtype = np.result_type(X.dtype, self.coefs_[0].dtype)
        layout = _layout_of((X.shape[1], *(c.shape[1] for c in self.coefs_)))
        theta = layout.pack(self.coefs_, self.intercepts_, dtype)
        X_dense, X_csr = _kernel_input(X, dtype)
        net = self._network(layout, dtype)
        n = X.shape[0]
        rows = _frozen(np.arange(n))
        # a large X goes in several calls, so that Ctrl-C is seen between them
        step = _slice_length(2.0 * layout.n_weights, PREDICT_BLOCK)
        y_hat = np.empty((n, layout.units[-1]), dtype=dtype)
        # the arguments' types follow from the dtype and dense or sparse input alone
        key = (dtype, X_csr is None, net.out)
        kernel = _PREDICT_KERNELS.get(key)
        if kernel is None:
            kernel = _PREDICT_KERNELS[key] = predict_kernel_of(X_dense, X_csr, rows, theta, net,
                                                               y_hat)
        # one block of rows runs on this thread: no thread count to set
        threads = numba_threads(self.n_jobs) if n > PREDICT_BLOCK else contextlib.nullcontext()
        with threads:
            for first in range(0, n, step):
                part = slice(first, first + step)
                predict_forward(kernel, X_dense if X_csr is not None else X_dense[part], X_csr,
                                rows[part], theta, net, y_hat[part], PREDICT_BLOCK)
        return y_hat

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ----------------------------------------------------------------- interop
    def to_sklearn(self):
        """This model as scikit-learn's ``MLPClassifier``/``MLPRegressor``.

        The same parameters (without ``n_jobs``) and, if fitted, copies of the same weights,
        classes, training history and optimizer state: the result predicts what this model
        predicts (the same labels; probabilities and values to rounding, as the two compute the
        products in different orders), and its ``partial_fit`` and ``warm_start`` fits continue
        as this model's would.

        Returns
        -------
        estimator : sklearn.neural_network.MLPClassifier or MLPRegressor
            A new estimator, fitted if this model is.
        """
        from ._interop import to_sklearn

        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, estimator):
        """A jitmlp model from scikit-learn's ``MLPClassifier``/``MLPRegressor``.

        The reverse of :meth:`to_sklearn`: the same parameters and, if fitted, copies of the
        weights, classes, training history and optimizer state, so that ``partial_fit`` and
        ``warm_start`` fits continue from where scikit-learn's fit stopped.

        Parameters
        ----------
        estimator : sklearn.neural_network.MLPClassifier or MLPRegressor
            Of the kind matching this class, fitted or not.

        Returns
        -------
        model : MLPClassifier or MLPRegressor
            A new jitmlp model.

        Raises
        ------
        TypeError
            If ``estimator`` is not scikit-learn's estimator of this kind.
        ValueError
            If its state cannot be converted: weights that are not all float64 or all float32,
            an optimizer whose settings were changed on the estimator after it was created,
            a parameter jitmlp does not have.
        """
        from ._interop import from_sklearn

        return from_sklearn(cls, estimator)

    def _score_with_function(self, X, y, sample_weight, score_function, y_hat=None):
        y_pred = self._predict(X, check_input=False, y_hat=y_hat)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)


class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    __doc__ = CLASSIFIER_DOC  # numpydoc, in _docs.py

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, list, None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_jobs=None, class_weight=None, lr_schedule=None, max_grad_norm=None,
                 weight_decay=0.0, dropout=0.0):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            loss="log_loss", shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, n_jobs=n_jobs,
            lr_schedule=lr_schedule, max_grad_norm=max_grad_norm, weight_decay=weight_decay,
            dropout=dropout,
        )
        self.class_weight = class_weight

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.dtype == object and len({isinstance(label, str) for label in np.ravel(y)}) > 1:
            # scikit-learn fails here with a TypeError from sorting; say what is wrong instead
            raise ValueError(
                "Mix of label input types (string and number) in y: labels must be all "
                "strings or all numbers."
            )
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        y = _binarized(self._label_binarizer, y)
        return X, y

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True, y_hat=None):
        """Predictions for X; from ``y_hat``, the network's output for X, where it is given."""
        y_pred = self._forward_pass_fast(X, check_input=check_input) if y_hat is None else y_hat
        binarizer = self._label_binarizer
        if binarizer.y_type_ == "multiclass" and not binarizer.sparse_input_:
            # what inverse_transform does for these, without its checks of a fitted binarizer
            # and of the array namespace (most of a small predict's time)
            classes = binarizer.classes_
            return classes[np.clip(np.argmax(y_pred, axis=1), 0, classes.shape[0] - 1)]
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None, y_hat=None):
        from sklearn.metrics import accuracy_score  # only here (tests/test_import_graph.py)

        return self._score_with_function(X, y, sample_weight, accuracy_score, y_hat)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first call.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        if self.class_weight == "balanced":
            raise ValueError(PARTIAL_FIT_BALANCED.format(self.class_weight))
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Return the log of probability estimates, ``log(predict_proba(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            Log-probabilities, classes ordered as in ``classes_``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, classes ordered as in ``classes_``.
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMultilayerPerceptron):
    __doc__ = REGRESSOR_DOC  # numpydoc, in _docs.py

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson", "huber"})],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_jobs=None, lr_schedule=None, max_grad_norm=None, weight_decay=0.0,
                 dropout=0.0, huber_delta=1.0):
        self.huber_delta = huber_delta
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            loss=loss, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, n_jobs=n_jobs, lr_schedule=lr_schedule, max_grad_norm=max_grad_norm,
            weight_decay=weight_decay, dropout=dropout,
        )

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True, y_hat=None):
        """Predictions for X; from ``y_hat``, the network's output for X, where it is given."""
        y_pred = self._forward_pass_fast(X, check_input=check_input) if y_hat is None else y_hat
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None, y_hat=None):
        from sklearn.metrics import r2_score  # only here (tests/test_import_graph.py)

        return self._score_with_function(X, y, sample_weight, r2_score, y_hat)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.dtype.kind in "SU":  # y_numeric converts object y only: say what is wrong here
            y = y.astype(np.float64)  # ValueError: could not convert string to float: 'a'
        if self.loss == "poisson" and (np.any(y < 0) or np.all(y == 0)):
            raise ValueError(
                "Some value(s) of y are out of the valid range of the loss 'poisson'. "
                "y must be non-negative and not all zero."
            )
        return X, y

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

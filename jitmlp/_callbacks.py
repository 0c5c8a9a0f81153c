"""A fit as scikit-learn's callbacks see it (``sklearn.callback``, SLEP023): a tree of tasks.

``fit`` is a task (``"fit"``) with one sub-task per epoch (``"epoch"``), or, with
``solver="lbfgs"``, one per L-BFGS iteration (``"iteration"``); ``partial_fit`` is a task
(``"partial_fit"``) with one epoch sub-task. Every epoch and iteration ends with the model as it
is at that point (callbacks that ask for ``fitted_estimator`` get a copy that predicts with those
weights), and a callback that returns True there stops the fit after it, which then ends as an
early stop does.

An epoch of more than ``PROGRESS_EPOCH_FLOPS`` of work runs as several compiled calls
(``_estimators._slice_length``); it then has sub-tasks of its own (``"minibatches"``), groups of
consecutive calls, at most ``MAX_PROGRESS_PARTS``, so that a progress bar moves within it. They end
without a model (mid-epoch weights are no point a fit can stop at); a callback that returns True
at one of them stops the fit there, and the epoch goes back to where it began, as for Ctrl-C.

Nothing of this runs without callbacks: only the fit's own task (which scikit-learn's
meta-estimators need to link their task trees) is created.
"""

from __future__ import annotations

from sklearn.base import is_classifier

# An epoch of more work than this (about 0.5 s at 100 GFLOP/s) shows progress within itself; a
# shorter one is one step of the fit's progress bar, which is then one bar, not one per epoch.
PROGRESS_EPOCH_FLOPS = 5e10
MAX_PROGRESS_PARTS = 100  # progress steps within one epoch (1 % each)


class StopFit(Exception):
    """Raised through ``scipy.optimize.minimize`` when a callback asks an lbfgs fit to stop."""


def _fitted_state(estimator, layout, theta):
    """The attributes that make a copy of ``estimator`` the model of packed weights ``theta``.

    Lists the fit keeps growing are copied; scalars are copied with the estimator itself.
    """
    coefs, intercepts = layout.unpack(theta)
    state = {"coefs_": coefs, "intercepts_": intercepts}
    for name in ("loss_curve_", "validation_scores_", "validation_loss_curve_"):
        value = getattr(estimator, name, None)
        if value is not None:
            state[name] = list(value)
    return state


class FitTasks:
    """The task tree of one ``fit`` or ``partial_fit`` call: begun here, ended by ``end_fit``.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted (inside its ``_fit_context``, which tears the callbacks down).
    X : ndarray or sparse matrix
        The validated training data, as the hooks receive it.
    y : ndarray
        The validated targets; class indicators for a classifier, whose hooks receive the labels
        (decoded once, when a callback first asks for them).
    sample_weight : ndarray or None
        Given to the hooks as ``metadata={"sample_weight": ...}``.
    incremental : bool
        True for ``partial_fit`` (a task of one epoch).
    """

    def __init__(self, estimator, X, y, sample_weight, incremental):
        self._estimator = estimator
        max_subtasks = 1 if incremental else estimator.max_iter
        self._root = estimator._init_callback_context(
            task_name="partial_fit" if incremental else "fit", max_subtasks=max_subtasks)
        self.active = bool(getattr(estimator, "_skl_callbacks", None))
        labels = []

        def y_labels():
            if not labels:
                labels.append(estimator._label_binarizer.inverse_transform(y))
            return labels[0]

        self._hook_args = {
            "X": X,
            "y": y_labels if is_classifier(estimator) else y,
            "metadata": None if sample_weight is None else {"sample_weight": sample_weight},
        }
        self._root.call_on_fit_task_begin(estimator=estimator, **self._hook_args)

    def _begin(self, parent, task_name, max_subtasks=0):
        context = parent.subcontext(task_name=task_name, max_subtasks=max_subtasks)
        context.call_on_fit_task_begin(estimator=self._estimator, **self._hook_args)
        return context

    def _end(self, context, state=None):
        """End a task; ``state``: a function of no arguments giving the model's attributes."""
        if state is None:  # an unfinished or partial step: no model to show
            return context.call_on_fit_task_end(estimator=self._estimator)
        return context.call_on_fit_task_end(estimator=self._estimator, **self._hook_args,
                                            reconstruction_attributes=state)

    def end_fit(self):
        """End the fit's task with the fitted estimator."""
        self._root.call_on_fit_task_end(estimator=self._estimator, **self._hook_args,
                                        reconstruction_attributes={})

    def epoch(self, n_calls, flops):
        """Begin an epoch of ``n_calls`` compiled calls and ``flops`` of work."""
        if not self.active:
            return _NO_EPOCH
        long_epoch = n_calls > 1 and flops > PROGRESS_EPOCH_FLOPS
        parts = min(n_calls, MAX_PROGRESS_PARTS) if long_epoch else 0
        return _Epoch(self, n_calls, parts)

    def lbfgs_iterations(self, layout, dtype):
        """The L-BFGS iterations' tasks, driven from the loss function and scipy's callback."""
        return _LbfgsIterations(self if self.active else None, layout, dtype)


class _Epoch:
    """One epoch's task, and its progress sub-tasks if it has any."""

    def __init__(self, tasks, n_calls, parts):
        self._tasks = tasks
        self._n_calls = n_calls
        self._parts = parts
        self._context = tasks._begin(tasks._root, "epoch", parts)
        self._part = tasks._begin(self._context, "minibatches") if parts else None

    def call_ended(self, call):
        """Compiled call number ``call`` (from 0) has run; True if a callback asks to stop."""
        if self._part is None:
            return False
        part = call * self._parts // self._n_calls
        if call + 1 < self._n_calls and (call + 1) * self._parts // self._n_calls == part:
            return False  # the same part goes on
        stop = self._tasks._end(self._part)
        self._part = (self._tasks._begin(self._context, "minibatches")
                      if call + 1 < self._n_calls else None)
        return stop

    def end(self, layout=None, theta=None):
        """End the epoch: with the model of packed weights ``theta``, or without a model (an
        epoch stopped inside). Returns True if a callback asks to stop."""
        if self._part is not None:  # stopped inside a part
            self._tasks._end(self._part)
            self._part = None
        if theta is None:
            return self._tasks._end(self._context)
        estimator = self._tasks._estimator
        return self._tasks._end(self._context, lambda: _fitted_state(estimator, layout, theta))


class _NoEpoch:
    """The epoch of a fit without callbacks: nothing to tell."""

    def call_ended(self, call):
        return False

    def end(self, layout=None, theta=None):
        return False


_NO_EPOCH = _NoEpoch()


class _LbfgsIterations:
    """scipy's L-BFGS-B iterations as sub-tasks of the fit.

    An iteration's task begins at the first loss evaluation after the previous one ended (so
    an iteration scipy never starts has no task) and ends in scipy's callback, with the model
    of the new iterate; a callback asking to stop raises ``StopFit`` there, leaving that iterate
    in ``x`` (float64, as scipy's), its loss in ``loss`` and the iteration count in ``n_iter``.
    ``close`` ends an iteration begun but never finished (a failed line search, ``max_fun``).
    """

    def __init__(self, tasks, layout, dtype):
        self._tasks = tasks
        self._layout = layout
        self._dtype = dtype
        self._context = None
        self.n_iter = 0
        self.loss = None
        self.x = None
        self.callback = None if tasks is None else self._iteration_ended

    def evaluated(self, loss):
        """The loss function ran (scipy's last evaluation is at the iterate it accepts)."""
        if self._tasks is None:
            return
        self.loss = loss
        if self._context is None:
            self._context = self._tasks._begin(self._tasks._root, "iteration")

    def _iteration_ended(self, xk):
        self.n_iter += 1
        estimator, n_iter, loss = self._tasks._estimator, self.n_iter, self.loss

        def state():
            attributes = _fitted_state(estimator, self._layout, xk.astype(self._dtype))
            attributes.update(n_iter_=n_iter, loss_=loss)
            return attributes

        stop = self._tasks._end(self._context, state)
        self._context = None
        if stop:
            self.x = xk.copy()
            raise StopFit

    def close(self):
        if self._context is not None:
            self._tasks._end(self._context)
            self._context = None

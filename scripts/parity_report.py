"""Worst parity difference against scikit-learn and worst gradient-check error, measured.

Runs the configurations of tests/test_parity.py and tests/test_gradients.py and prints the worst
figures (the tests assert bounds; this prints the values, for release notes and issue reports).
"""

import sys
import warnings
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_gradients as tg  # noqa: E402
import test_parity as tp  # noqa: E402

import helpers as h  # noqa: E402


def main():
    warnings.simplefilter("ignore")
    worst, where = 0.0, None
    for task in tp.TASKS:
        for activation in ["identity", "logistic", "tanh", "relu"]:
            for solver in ["adam", "sgd"]:
                ours, theirs, _ = tp.fit_both(task, hidden_layer_sizes=(7, 5),
                                              activation=activation, solver=solver, max_iter=8,
                                              batch_size=32, random_state=3,
                                              learning_rate_init=0.01)
                d = max(h.rel_diff(a, b) for a, b in zip(ours.coefs_ + ours.intercepts_,
                                                          theirs.coefs_ + theirs.intercepts_))
                c = float(np.max(np.abs(np.array(ours.loss_curve_) - theirs.loss_curve_)
                                 / np.abs(theirs.loss_curve_)))
                if max(d, c) > worst:
                    worst, where = max(d, c), (task, activation, solver)
    print(f"parity: worst relative difference of coefs_/intercepts_/loss_curve_ over 40 fits "
          f"(8 epochs): {worst:.2e} at {where}")

    worst_g, where_g = 0.0, None
    for hidden in [(4,), (6, 3), (5, 4, 3)]:
        for act in tg.SKLEARN_ACTIVATIONS:
            for out, n_outputs in tg.CASES:
                seed = zlib.crc32(repr((hidden, act, out, n_outputs)).encode())
                rng = np.random.default_rng(seed)
                X, Y = tg.make_problem(out, n_outputs, rng)
                layout = tg.Layout.from_units([X.shape[1], *hidden, n_outputs])
                theta = rng.uniform(-0.7, 0.7, layout.size)
                _, grad = h.compiled_loss_and_grad(theta, layout, X, Y, act, out, 0.3)
                fd = np.empty(layout.size)
                for p in range(layout.size):
                    up, down = theta.astype(tg.LD), theta.astype(tg.LD)
                    up[p] += tg.LD(1e-6)
                    down[p] -= tg.LD(1e-6)
                    fd[p] = (tg.objective(up, layout, X, Y, act, out, 0.3)
                             - tg.objective(down, layout, X, Y, act, out, 0.3)) / (2 * tg.LD(1e-6))
                denom = np.maximum(np.abs(fd), 1e-6 * np.abs(fd).max())
                err = float((np.abs(grad - fd) / denom).max())
                if err > worst_g:
                    worst_g, where_g = err, (hidden, act, out, n_outputs)
    print(f"gradient check: worst relative error over 72 cases: {worst_g:.2e} at {where_g}")


def surface():
    """Worst relative weight difference to scikit-learn for the rest of the surface (issue 3)."""
    import scipy.sparse as sparse
    import sklearn.neural_network as sk
    from sklearn.datasets import make_classification, make_regression

    import jitmlp

    warnings.simplefilter("ignore")
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    Xb, yb = make_classification(200, 6, n_informative=4, n_classes=2, random_state=0)
    Xr, yr = make_regression(200, 6, noise=0.5, random_state=0)
    yr = yr / yr.std()
    sw = np.random.default_rng(0).random(200)
    y_counts = np.random.default_rng(0).poisson(np.exp(Xr[:, 0] / 3))
    Xs = np.where(np.abs(X) < 1.0, 0.0, X)

    def partial(m, X, y):
        for _ in range(5):
            m.partial_fit(X, y, classes=np.unique(y))
        return m

    small = dict(hidden_layer_sizes=(8,), random_state=0)
    cases = [
        ("lbfgs", "MLPClassifier", X, y, None, dict(solver="lbfgs", max_iter=50)),
        ("lbfgs + sample_weight", "MLPClassifier", X, y, "sw", dict(solver="lbfgs", max_iter=50)),
        ("early stopping, binary", "MLPClassifier", Xb, yb, None,
         dict(early_stopping=True, max_iter=30, learning_rate_init=0.01)),
        ("early stopping, regression", "MLPRegressor", Xr, yr, None,
         dict(early_stopping=True, max_iter=30, learning_rate_init=0.01)),
        ("sample_weight, adam", "MLPClassifier", X, y, "sw", dict(max_iter=10)),
        ("warm_start (fit twice)", "MLPClassifier", X, y, "twice",
         dict(warm_start=True, max_iter=10)),
        ("partial_fit x5", "MLPClassifier", X, y, "partial", {}),
        ("poisson", "MLPRegressor", Xr, y_counts, None, dict(loss="poisson", max_iter=10)),
        ("sparse CSR, adam", "MLPClassifier", sparse.csr_matrix(Xs), y, None,
         dict(max_iter=10, hidden_layer_sizes=(100,))),
        ("sparse CSC, lbfgs", "MLPClassifier", sparse.csc_matrix(Xs), y, None,
         dict(solver="lbfgs", max_iter=10, hidden_layer_sizes=(100,))),
        ("float32", "MLPClassifier", X.astype(np.float32), y, None, dict(max_iter=10)),
    ]
    for name, cls, Xc, yc, how, params in cases:
        models = []
        for mod in (jitmlp, sk):
            m = getattr(mod, cls)(**{**small, **params})
            if how == "sw":
                m.fit(Xc, yc, sample_weight=sw)
            elif how == "twice":
                m.fit(Xc, yc).fit(Xc, yc)
            elif how == "partial":
                partial(m, Xc, yc)
            else:
                m.fit(Xc, yc)
            models.append(m)
        ours, theirs = models
        d = max(h.rel_diff(a, b) for a, b in zip(ours.coefs_ + ours.intercepts_,
                                                  theirs.coefs_ + theirs.intercepts_))
        print(f"  {name:28s} relative difference to scikit-learn {d:.2e}")


if __name__ == "__main__":
    main()
    print("issue-3 surface:")
    surface()

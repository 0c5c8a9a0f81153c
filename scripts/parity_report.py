"""Worst parity difference against scikit-learn and worst gradient-check error, measured.

Runs the configurations of tests/test_parity.py and tests/test_gradients.py and prints the worst
figures (the tests assert bounds; this prints the values, for release notes and issue reports).
"""

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import test_gradients as tg  # noqa: E402
import test_parity as tp  # noqa: E402


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
                d = max(tp.rel_diff(a, b) for a, b in zip(ours.coefs_ + ours.intercepts_,
                                                          theirs.coefs_ + theirs.intercepts_))
                c = float(np.max(np.abs(np.array(ours.loss_curve_) - theirs.loss_curve_)
                                 / np.abs(theirs.loss_curve_)))
                if max(d, c) > worst:
                    worst, where = max(d, c), (task, activation, solver)
    print(f"parity: worst relative difference of coefs_/intercepts_/loss_curve_ over 40 fits "
          f"(8 epochs): {worst:.2e} at {where}")

    worst_g, where_g = 0.0, None
    for hidden in [(4,), (6, 3), (5, 4, 3)]:
        for act in tg.ACTIVATIONS:
            for out, n_outputs in tg.CASES:
                rng = np.random.default_rng(hash((hidden, act, out, n_outputs)) % 2**32)
                X, Y = tg.make_problem(out, n_outputs, rng)
                layout = tg.Layout.from_units([X.shape[1], *hidden, n_outputs])
                theta = rng.uniform(-0.7, 0.7, layout.size)
                _, grad = tg.kernel_loss_grad(theta, layout, X, Y, act, out, 0.3)
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


if __name__ == "__main__":
    main()

"""Draw docs/loss_curve.png: training and validation loss per epoch of an MLP on digits.

An early-stopping fit records, per epoch, the loss on its validation split
(``validation_loss_curve_``) beside the training loss and the validation accuracy; this script
draws them with ``jitmlp.LossCurveDisplay``. Needs matplotlib (``pip install "jitmlp[plot]"``).

    python scripts/plot_loss_curve.py                 # writes docs/loss_curve.png
    python scripts/plot_loss_curve.py --out my.png
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from jitmlp import LossCurveDisplay, MLPClassifier  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "loss_curve.png"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="PNG file to write (%(default)s)")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    # run every epoch (n_iter_no_change as large as max_iter) to show what comes after the best
    clf = MLPClassifier(hidden_layer_sizes=(64,), early_stopping=True, validation_fraction=0.2,
                        max_iter=120, n_iter_no_change=120, learning_rate_init=3e-3,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X / 16, y)

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    display = LossCurveDisplay.from_estimator(clf, ax=ax, name="digits")
    ax.set_yscale("log")
    accuracy = ax.twinx()
    accuracy.plot(range(1, clf.n_iter_ + 1), clf.validation_scores_, color="0.5",
                  linestyle=":", label="validation accuracy")
    accuracy.set_ylabel("validation accuracy")
    best = clf.validation_scores_.index(clf.best_validation_score_) + 1  # the weights kept
    ax.axvline(best, color="0.7", linewidth=0.8, label=f"weights kept (epoch {best})")
    lines = [display.line_, display.validation_line_, *accuracy.get_lines(), ax.get_lines()[-1]]
    ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize=9)
    ax.set_title("MLPClassifier(hidden_layer_sizes=(64,), early_stopping=True)", fontsize=10)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    lowest = int(np.argmin(clf.validation_loss_curve_)) + 1
    print(f"{args.out}: {clf.n_iter_} epochs; validation accuracy best at epoch {best} "
          f"({clf.best_validation_score_:.4f}), validation loss lowest at epoch {lowest} "
          f"({min(clf.validation_loss_curve_):.4f})")


if __name__ == "__main__":
    main()

"""The command line, python -m jitmlp: train on a data file, predict into a CSV, or the demo.

``main(argv)`` parses the options and runs a command. Option values are checked by argparse
against the estimators' own ``_parameter_constraints`` (a bad value is a usage error naming the
option, exit code 2); a problem in a data or model file is one line ``error: ...`` on standard
error, exit code 2, no traceback. Progress, summaries and the demo go to standard output;
warnings, errors and the note that kernels are being compiled to standard error.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions, make_constraint
from sklearn.utils.multiclass import type_of_target

from ._datafiles import (
    FORMATS,
    DataError,
    as_matrix,
    check_columns,
    fit_features,
    labels,
    numbers,
    pandas,
    read,
)
from ._estimators import MLPClassifier, MLPRegressor

DESCRIPTION = """\
Train scikit-learn's MLPClassifier and MLPRegressor, compiled by jitmlp, on a data file
(CSV, TSV, Parquet or svmlight/libsvm), and predict with the saved model.
With no command: train on scikit-learn's digits beside scikit-learn (a demo).
"""

EXAMPLES = """\
examples:
  python -m jitmlp                                 the digits demo
  python -m jitmlp train iris.csv --target species --out iris.jitmlp
  python -m jitmlp predict iris.jitmlp new.csv --out predictions.csv
  python -m jitmlp predict iris.jitmlp new.csv --proba --out probabilities.csv

'python -m jitmlp train --help' and 'python -m jitmlp predict --help' tell more.
"""

TRAIN_DESCRIPTION = """\
Train a model on a data file and save it (jitmlp.save: a numpy archive with JSON, no pickle).

The features are every column but the target(s), the weight column and the dropped ones; they
must hold numbers (booleans count as 0 and 1), with no empty cells. An svmlight/libsvm file's
labels are its target: leave out --target, --weight-col and --drop.

The task: --task classify or regress, or by default inferred from the target as
scikit-learn's type_of_target sees it: text, booleans and whole numbers are classes
(several target columns: 0/1 labels, multilabel); any number with a fraction, or several
numeric target columns that are not all 0/1, is regression. The task and the classes found
are printed before training; give --task to overrule. Whole-number labels of an svmlight file
are kept as integers.

Estimator parameters are scikit-learn's (MLPClassifier and MLPRegressor), spelled with
dashes; those left out keep the estimator's defaults.
"""

TRAIN_EXAMPLES = """\
examples:
  python -m jitmlp train iris.csv --target species --out iris.jitmlp
  python -m jitmlp train houses.parquet --target price --drop id --weight-col w \\
      --hidden-layer-sizes 64,32 --early-stopping --random-state 0 --plot loss.png \\
      --out houses.jitmlp
  python -m jitmlp train a9a.libsvm --solver sgd --max-iter 20 --out a9a.jitmlp
"""

PREDICT_DESCRIPTION = """\
Predict with a model saved by 'train' (or jitmlp.save) and write a CSV: one column of
predicted labels or values per output (headed prediction, or prediction_0, prediction_1, ...
for several outputs), one row per row of DATA, in its order; --proba writes the class
probabilities instead, one column per class, headed by the class names.

A model trained on named columns takes them from DATA by name (other columns are ignored,
the target's too); one trained on an svmlight file takes DATA's columns in order (less
--drop), as many as it has features.
"""

# The estimator parameters offered as options (verbose and warm_start are not: the progress bar
# replaces one, each command trains from scratch): help text; the type and valid range come
# from the estimators' _parameter_constraints, the default from their signatures.
PARAMETERS = {
    "hidden_layer_sizes": "units of each hidden layer, comma separated (100,50: two layers)",
    "activation": "activation of the hidden units",
    "solver": "optimizer",
    "alpha": "strength of the L2 penalty",
    "batch_size": "rows per minibatch, or auto: min(200, rows)",
    "learning_rate": "step size schedule (sgd)",
    "learning_rate_init": "initial step size (sgd, adam)",
    "power_t": "exponent of the invscaling schedule (sgd)",
    "max_iter": "epochs at most (lbfgs: iterations)",
    "shuffle": "shuffle the rows every epoch (sgd, adam)",
    "random_state": "seed of the initial weights, the shuffles and the validation split",
    "tol": "least improvement of the loss (or validation score) that counts",
    "momentum": "momentum (sgd)",
    "nesterovs_momentum": "Nesterov's momentum (sgd)",
    "early_stopping": "hold out --validation-fraction of the rows; stop when their score stalls",
    "validation_fraction": "share of the rows held out by --early-stopping",
    "beta_1": "decay of adam's first moment",
    "beta_2": "decay of adam's second moment",
    "epsilon": "adam's numerical stability term",
    "n_iter_no_change": "epochs of less than --tol improvement before stopping",
    "max_fun": "loss evaluations at most (lbfgs)",
    "n_jobs": "threads for the compiled kernels; none: all of numba's threads",
    "lr_schedule": "step size schedule for sgd and adam, instead of --learning-rate",
    "max_grad_norm": "clip each step's gradient to this global L2 norm (sgd, adam)",
    "weight_decay": "decoupled weight decay: W *= 1 - rate * this before each step (sgd, adam)",
    "dropout": "share of hidden units dropped in training, in every hidden layer (sgd, adam)",
    "loss": "regression loss (regression only)",
    "huber_delta": "where the huber loss turns from quadratic to linear (regression only)",
}
_REGRESSION_ONLY = {"loss", "huber_delta"}


# --------------------------------------------------------------------------- option types
def _expressible(constraints):
    """Those of ``constraints`` an option can take: ranges and sets of values."""
    return [c for c in map(make_constraint, constraints) if isinstance(c, (Interval, Options))]


def _cast(constraint):
    if isinstance(constraint, StrOptions):
        return str
    if isinstance(constraint, Interval) and constraint.type is not Integral:
        return float
    if isinstance(constraint, Options):
        return float
    return int  # Integral ranges, and random_state, n_jobs (ints or None)


def _checked(constraints, text):
    """``text`` as the first value that satisfies one of ``constraints``, or None."""
    for constraint in map(make_constraint, constraints):
        try:
            value = _cast(constraint)(text)
        except ValueError:
            continue
        if constraint.is_satisfied_by(value):
            return value
    return None


def _described(constraints):
    return " or ".join(str(c) for c in _expressible(constraints)) or "an int"


def parameter_type(name, estimator=MLPRegressor):
    """An argparse ``type`` for estimator parameter ``name``, checked by its constraints.

    A value outside them raises ``argparse.ArgumentTypeError``, which argparse reports as
    ``argument --name: expected ..., got ...`` with the usage, exit code 2.
    """
    constraints = estimator._parameter_constraints[name]
    if name == "random_state":  # None and RandomState instances are no option values
        constraints = [Interval(Integral, 0, 2**32 - 1, closed="both")]
    if name == "hidden_layer_sizes":
        sizes = [c for c in constraints if isinstance(c, Interval)]

        def parse(text):
            values = [_checked(sizes, part.strip()) for part in text.split(",")]
            if None in values:
                raise argparse.ArgumentTypeError(
                    f"expected values separated by commas, each {_described(sizes)}, "
                    f"got {text!r}")
            return tuple(values)
    else:
        def parse(text):
            value = _checked(constraints, text)
            if value is None:
                raise argparse.ArgumentTypeError(f"expected {_described(constraints)}, "
                                                 f"got {text!r}")
            return value
    parse.__name__ = name
    return parse


def _shown(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)


def _add_parameters(group):
    defaults = {**MLPClassifier().get_params(), **MLPRegressor().get_params()}
    for name, text in PARAMETERS.items():
        constraints = MLPRegressor._parameter_constraints[name]
        option = "--" + name.replace("_", "-")
        help_text = f"{text} (default: {_shown(defaults[name])})"
        if constraints == ["boolean"]:
            group.add_argument(option, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        elif all(isinstance(c, StrOptions) or c is None for c in constraints):  # None: default
            choices = sorted(set().union(*(c.options for c in constraints if c is not None)))
            group.add_argument(option, choices=choices, default=argparse.SUPPRESS,
                               help=help_text)
        else:
            shown = _expressible(constraints)
            floats = shown and all(_cast(c) is float for c in shown)
            metavar = "N,N,..." if name == "hidden_layer_sizes" else "X" if floats else "N"
            group.add_argument(option, type=parameter_type(name), default=argparse.SUPPRESS,
                               metavar=metavar, help=help_text)


# --------------------------------------------------------------------------- parsers
def build_parser():
    """The argument parser of ``python -m jitmlp``: the demo's options and two commands."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="python -m jitmlp", description=DESCRIPTION,
                                     epilog=EXAMPLES, formatter_class=formatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"jitmlp {__version__}")
    demo = parser.add_argument_group("the demo (no command)")
    demo.add_argument("--epochs", type=parameter_type("max_iter"), default=50, metavar="N",
                      help="training epochs (default 50)")
    demo.add_argument("--hidden", type=parameter_type("max_iter"), nargs="+", default=[100],
                      metavar="N", help="hidden layer sizes (default 100)")
    demo.add_argument("--activation", default="relu",
                      choices=["identity", "logistic", "tanh", "relu"],
                      help="hidden activation (default relu)")
    demo.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a model on a data file and save it", description=TRAIN_DESCRIPTION,
        usage="%(prog)s DATA [--target COL] --out MODEL [options]",
        epilog=TRAIN_EXAMPLES, formatter_class=formatter)
    train.set_defaults(run=run_train, parser=train)
    train.add_argument("data", metavar="DATA", help="the training data file")
    train.add_argument("--target", action="append", metavar="COL", default=[],
                       help="the column to predict (CSV, TSV, Parquet); repeat it for several "
                            "outputs: --target y1 --target y2")
    train.add_argument("--out", required=True, metavar="MODEL", help="the model file to write")
    train.add_argument("--task", choices=["auto", "classify", "regress"], default="auto",
                       help="classification or regression (default auto: from the target, "
                            "see above)")
    train.add_argument("--weight-col", metavar="COL", help="a column of sample weights")
    _add_input_options(train)
    train.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                       help="float type the model computes and stores its weights in "
                            "(default float64)")
    train.add_argument("--plot", metavar="IMAGE",
                       help="draw the loss per epoch into this image file (png, svg, pdf, ...; "
                            "needs matplotlib; not with --solver lbfgs)")
    train.add_argument("--quiet", action="store_true",
                       help="no progress bar, no summary (warnings and errors still show)")
    _add_parameters(train.add_argument_group("estimator parameters"))

    predict = commands.add_parser(
        "predict", help="predict with a saved model, into a CSV file",
        description=PREDICT_DESCRIPTION, formatter_class=formatter,
        epilog="example:\n  python -m jitmlp predict iris.jitmlp new.csv --out predictions.csv\n")
    predict.set_defaults(run=run_predict, parser=predict)
    predict.add_argument("model", metavar="MODEL", help="the model file")
    predict.add_argument("data", metavar="DATA", help="the data file to predict")
    predict.add_argument("--out", default="-", metavar="PREDICTIONS",
                         help="the CSV file to write (default -: standard output)")
    predict.add_argument("--proba", action="store_true",
                         help="class probabilities instead of labels (classifiers)")
    _add_input_options(predict)
    predict.add_argument("--quiet", action="store_true", help="no summary")
    return parser


def _add_input_options(parser):
    parser.add_argument("--drop", action="extend", nargs="+", metavar="COL", default=[],
                        help="columns that are not features (ids, ...)")
    parser.add_argument("--format", choices=FORMATS,
                        help="the data file's format (default: from its extension: .csv, .tsv, "
                             ".parquet or .pq, .svm, .svmlight or .libsvm; also compressed, "
                             "as .csv.gz)")
    parser.add_argument("--zero-based", choices=["auto", "yes", "no"], default="auto",
                        help="svmlight files: whether feature indices start at 0 (default auto: "
                             "yes if any index is 0); give it when predicting on a file of a "
                             "zero-based model that has no index 0")


def main(argv=None) -> int:
    """Run ``python -m jitmlp`` with the arguments ``argv`` (default: the process's).

    Returns the exit code: 0, or 2 for a problem in a data or model file (after printing
    ``error: ...``). Usage errors exit through argparse (``SystemExit(2)``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from ._demo import run

        return run(args)
    try:
        return args.run(args, args.parser)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a fit (a fit stops and its model is saved)
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # predictions piped into a reader that stopped (| head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's recipe
        return 1


# --------------------------------------------------------------------------- train
def _say(args, *text, file=None):
    if not args.quiet:
        print(*text, file=file or sys.stdout, flush=True)


def _check_writable(path, what, *inputs):
    """Refuse, before any work, an output path in no folder or naming one of the ``inputs``."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f"{path}: no folder {folder!r} to write the {what} into")
    for given in inputs:
        if os.path.exists(path) and os.path.exists(given) and os.path.samefile(path, given):
            raise DataError(f"{path}: is an input of this command, not overwritten with the "
                            f"{what}")


def _zero_based(args):
    return {"auto": "auto", "yes": True, "no": False}[args.zero_based]


def _check_plot(parser, args):
    if args.plot is None:
        return
    if getattr(args, "solver", "adam") == "lbfgs":
        parser.error("argument --plot: the lbfgs solver records no loss per epoch "
                     "(use --solver adam or sgd)")
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        parser.error("argument --plot: needs matplotlib: pip install \"jitmlp[cli]\"")
    kinds = FigureCanvasBase.get_supported_filetypes()
    kind = os.path.splitext(args.plot)[1].lower().lstrip(".")
    if kind not in kinds:
        parser.error(f"argument --plot: cannot write {kind or 'an image without extension'!r}; "
                     f"name a file ending in one of: {', '.join(sorted(kinds))}")
    _check_writable(args.plot, "plot", args.data)


def _targets(args, table, task):
    """(y, task, what) of a CSV, TSV or Parquet table: y 1-D for one target column."""
    targets = args.target
    if task == "auto":
        columns = [labels(table, t) for t in targets]
        task = "classify"
        if any(type_of_target(c) == "continuous" for c in columns):
            task = "regress"
        elif (len(columns) > 1 and all(c.dtype.kind in "biuf" for c in columns)
              and type_of_target(np.column_stack(columns)) != "multilabel-indicator"):
            task = "regress"  # several numeric outputs that are not all 0/1 labels
    if task == "regress":
        columns = [numbers(table, t, "a number (a regression target)") for t in targets]
        return (columns[0] if len(columns) == 1 else np.column_stack(columns)), task
    columns = [labels(table, t) for t in targets]
    if len(columns) == 1:
        return columns[0], task
    y = np.column_stack(columns)
    if type_of_target(y) != "multilabel-indicator":
        raise DataError(f"{table.path}: several target columns ({', '.join(targets)}) are "
                        f"classified only when they all hold 0/1 labels (multilabel); train one "
                        f"model per column, or give --task regress for numbers")
    return y.astype(np.int64), task


def _training_data(args, table, dtype):
    """(X, y, sample_weight, task) from a table, every column checked."""
    if table.format == "svmlight":
        if args.target or args.weight_col or args.drop:
            raise DataError(f"{table.path}: an svmlight file has no named columns, its labels "
                            f"are the target: leave out --target, --weight-col and --drop")
        y = table.labels
        task = args.task
        if task == "auto":
            task = "regress" if type_of_target(y) == "continuous" else "classify"
        if task == "classify" and np.array_equal(y, np.round(y)):
            y = y.astype(np.int64)  # the file's labels were whole numbers
        return as_matrix(table, dtype), y, None, task
    if not args.target:
        raise DataError(f"{table.path}: name the column to predict with --target; the file's "
                        f"columns are: {', '.join(map(str, table.columns))}")
    check_columns(table, args.target, "target")
    check_columns(table, args.drop, "such", " to --drop")
    if args.weight_col is not None:
        check_columns(table, [args.weight_col], "weight")
    taken = set(args.target) | set(args.drop) | {args.weight_col}
    features = [c for c in table.columns if c not in taken]
    if not features:
        raise DataError(f"{table.path}: no feature columns left besides the target, the "
                        f"weight column and the dropped ones")
    X = pandas(table.format).DataFrame({c: numbers(table, c, dtype=dtype) for c in features})
    weight = None
    if args.weight_col is not None:
        weight = numbers(table, args.weight_col, "a number (a sample weight)")
    y, task = _targets(args, table, args.task)
    return X, y, weight, task


def _caught(caught):
    for message in dict.fromkeys(str(w.message) for w in caught
                                 if issubclass(w.category, UserWarning)):
        print(f"warning: {message}", file=sys.stderr)


def run_train(args, parser) -> int:
    """``python -m jitmlp train``."""
    _check_plot(parser, args)
    _check_writable(args.out, "model", args.data)
    dtype = np.dtype(args.dtype)
    table = read(args.data, args.format, zero_based=_zero_based(args))
    X, y, weight, task = _training_data(args, table, dtype)
    params = {name: getattr(args, name) for name in PARAMETERS if hasattr(args, name)}
    if task == "classify" and _REGRESSION_ONLY & set(params):
        option = "--" + sorted(_REGRESSION_ONLY & set(params))[0].replace("_", "-")
        parser.error(f"argument {option}: applies to regression only, and {table.path}'s "
                     f"target is classified (give --task regress to regress)")
    model = (MLPClassifier if task == "classify" else MLPRegressor)(**params)

    what = "classification" if task == "classify" else "regression"
    if task == "classify":
        classes = np.unique(y) if y.ndim == 1 else range(y.shape[1])
        what += f", {len(classes)} {'classes' if y.ndim == 1 else 'labels'}"
        what += f" ({', '.join(map(str, classes[:10]))}{', ...' if len(classes) > 10 else ''})"
    target = "the labels" if table.format == "svmlight" else ", ".join(map(repr, args.target))
    plural = "s" if len(args.target) > 1 else ""
    _say(args, f"{table.path}: {X.shape[0]} rows, {X.shape[1]} features; target{plural} "
               f"{target}: {what}")
    if not args.quiet:
        try:
            from sklearn.callback import ProgressBar

            model.set_callbacks(ProgressBar())
        except ImportError:
            print("note: no progress bar without rich: pip install \"jitmlp[cli]\"",
                  file=sys.stderr)

    from ._demo import compile_kernels_once

    compile_kernels_once(dtype, file=sys.stderr)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X, y, sample_weight=weight)
        except ValueError as error:
            raise DataError(f"{table.path}: {error}") from None
    _caught(caught)
    seconds = time.perf_counter() - start

    if args.plot is not None:
        _plot(model, args.plot)
    from ._io import save

    save(model, args.out)
    loss = f", loss {model.loss_:.6g}" if getattr(model, "loss_", None) is not None else ""
    epochs = "iterations" if model.solver == "lbfgs" else "epochs"
    _say(args, f"trained {type(model).__name__} in {seconds:.1f} s ({model.n_iter_} {epochs}"
               f"{loss}); wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
    return 0


def _plot(model, path):
    from matplotlib.figure import Figure

    from ._loss_curve import LossCurveDisplay

    figure = Figure(figsize=(6.4, 4.0), layout="constrained")  # no pyplot: no GUI backend
    LossCurveDisplay.from_estimator(model, ax=figure.add_subplot())
    figure.savefig(path, dpi=120)


# --------------------------------------------------------------------------- predict
def _load(path):
    from ._io import load

    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        model = load(path)
    except ValueError as error:
        raise DataError(str(error)) from None
    if not hasattr(model, "coefs_"):
        raise DataError(f"{path}: the model was saved before it was fitted")
    return model


def _prediction_features(args, table, model):
    dtype = model.coefs_[0].dtype
    n_features = model.n_features_in_
    if table.format == "svmlight":
        return fit_features(table, as_matrix(table, dtype), n_features)
    check_columns(table, args.drop, "such", " to --drop")
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        check_columns(table, list(names), "feature",
                      f" (the model takes {n_features}: {', '.join(map(str, names))})")
        return pandas(table.format).DataFrame({c: numbers(table, c, dtype=dtype)
                                               for c in names})
    columns = [c for c in table.columns if c not in args.drop]
    if len(columns) != n_features:
        raise DataError(f"{table.path}: {len(columns)} columns ({', '.join(map(str, columns))})"
                        f" without --drop's, expected {n_features}: the model was trained on "
                        f"{n_features} unnamed features (svmlight), taken in order")
    return np.column_stack([numbers(table, c, dtype=dtype) for c in columns])


def run_predict(args, parser) -> int:
    """``python -m jitmlp predict``."""
    model = _load(args.model)
    if args.proba and not hasattr(model, "predict_proba"):
        parser.error(f"argument --proba: {args.model} holds a {type(model).__name__}, which "
                     f"predicts values, not class probabilities")
    if args.out != "-":
        _check_writable(args.out, "predictions", args.model, args.data)
    table = read(args.data, args.format, zero_based=_zero_based(args))
    X = _prediction_features(args, table, model)

    from ._demo import compile_kernels_once

    compile_kernels_once(model.coefs_[0].dtype, file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.proba:
            values = model.predict_proba(X)
            header = [str(c) for c in model.classes_]
        else:
            values = model.predict(X)
            header = (["prediction"] if values.ndim == 1 else
                      [f"prediction_{k}" for k in range(values.shape[1])])
    _caught(caught)
    _write_csv(args.out, header, values)
    _say(args, f"{table.path}: {len(values)} rows predicted; wrote {args.out}",
         file=sys.stderr if args.out == "-" else None)
    return 0


def _write_csv(path, header, values):
    """Write ``values`` (one row per sample) under ``header``; ``-`` is standard output."""
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, np.newaxis]
    file = sys.stdout if path == "-" else open(path, "w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([str(v) for v in row] for row in values)  # shortest exact decimals
    finally:
        if file is not sys.stdout:
            file.close()


"""The command line: python -m jitmlp train / predict on generated files, its errors and help.

Every command runs in this process through ``jitmlp._cli.main(argv)``; one end-to-end test runs
``python -m jitmlp`` in a subprocess. Tiny data and few epochs: the whole file takes seconds.
"""

from __future__ import annotations

import ast
import builtins
import csv
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import dump_svmlight_file

import jitmlp
from jitmlp import MLPClassifier, MLPRegressor
from jitmlp._cli import main

pd = pytest.importorskip("pandas")
# the tests' own short fits, beside the commands' (which print warnings themselves)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = ["--hidden-layer-sizes", "4", "--max-iter", "5", "--random-state", "0", "--quiet"]
PARAMS = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)


def run(capsys, *argv):
    """(exit code, stdout, stderr) of main(argv); argparse's exits are caught."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def classification(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.array(["cat", "dog", "emu"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    frame = pd.DataFrame(X, columns=["f0", "f1", "f2"])
    frame["animal"] = y
    return frame


def regression(n=40, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame["y1"] = X @ [1.5, -0.5] + 0.25
    frame["y2"] = X[:, 0] * X[:, 1]
    return frame


def write(frame, path):
    path = Path(path)
    if path.suffix == ".parquet":
        pytest.importorskip("pyarrow")
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


def read_predictions(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=object)


def same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_))


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".csv.gz"])
def test_train_predict_round_trip_of_a_table(tmp_path, capsys, suffix):
    frame = classification()
    data = write(frame, tmp_path / f"train{suffix}")
    model_path = tmp_path / "model.jitmlp"
    code, out, err = run(capsys, "train", data, "--target", "animal", "--out", model_path,
                         *SMALL)
    assert code == 0, err
    assert out == ""  # --quiet

    model = jitmlp.load(model_path)
    X, y = frame[["f0", "f1", "f2"]], frame["animal"].to_numpy()
    expected = MLPClassifier(**PARAMS).fit(X, y)
    assert isinstance(model, MLPClassifier) and same_weights(model, expected)
    assert list(model.feature_names_in_) == ["f0", "f1", "f2"]

    # the target column in the file to predict is ignored: features are taken by name
    code, out, err = run(capsys, "predict", model_path, data, "--out", tmp_path / "p.csv",
                         "--quiet")
    assert code == 0, err
    header, values = read_predictions(tmp_path / "p.csv")
    assert header == ["prediction"]
    assert values[:, 0].tolist() == expected.predict(X).tolist()


def test_train_predict_round_trip_of_svmlight(tmp_path, capsys):
    frame = classification()
    X = frame[["f0", "f1", "f2"]].to_numpy(copy=True)
    X[X < -1] = 0  # sparse: some entries not written
    y = frame["animal"].map({"cat": 1, "dog": 2, "emu": 3}).to_numpy()
    dump_svmlight_file(X, y, str(tmp_path / "train.svm"), zero_based=False)
    code, out, err = run(capsys, "train", tmp_path / "train.svm", "--out", tmp_path / "m",
                         *SMALL)
    assert code == 0, err
    model = jitmlp.load(tmp_path / "m")
    assert model.classes_.tolist() == [1, 2, 3]  # the file's whole-number labels, as ints
    assert same_weights(model, MLPClassifier(**PARAMS).fit(X, y))

    # predicting a file that leaves out the last feature everywhere: still 3 features
    dump_svmlight_file(X[:5, :2], y[:5], str(tmp_path / "few.svm"), zero_based=False)
    code, _, err = run(capsys, "predict", tmp_path / "m", tmp_path / "few.svm",
                       "--out", tmp_path / "p.csv")
    assert code == 0, err
    X_few = np.column_stack([X[:5, :2], np.zeros(5)])
    assert read_predictions(tmp_path / "p.csv")[1][:, 0].tolist() == \
        [str(v) for v in model.predict(X_few)]

    # a model trained on svmlight takes a CSV's columns in order, as many as it has features
    write(pd.DataFrame(X[:5], columns=["x", "y", "z"]).assign(id=range(5)), tmp_path / "p.csv")
    code, out, err = run(capsys, "predict", tmp_path / "m", tmp_path / "p.csv", "--drop", "id",
                         "--quiet")
    assert code == 0, err
    assert out.splitlines() == ["prediction", *map(str, model.predict(X[:5]))]
    code, _, err = run(capsys, "predict", tmp_path / "m", tmp_path / "p.csv")
    assert code == 2
    assert err.startswith("error: ") and "4 columns (x, y, z, id)" in err and "expected 3" in err


def test_proba_has_the_class_names_as_headers(tmp_path, capsys):
    frame = classification()
    data = write(frame, tmp_path / "train.csv")
    assert run(capsys, "train", data, "--target", "animal", "--out", tmp_path / "m",
               *SMALL)[0] == 0
    code, _, err = run(capsys, "predict", tmp_path / "m", data, "--proba",
                       "--out", tmp_path / "p.csv")
    assert code == 0, err
    header, values = read_predictions(tmp_path / "p.csv")
    assert header == ["cat", "dog", "emu"]
    model = jitmlp.load(tmp_path / "m")
    expected = model.predict_proba(frame[["f0", "f1", "f2"]])
    assert np.array_equal(values.astype(float), expected)  # shortest exact decimals

    # a regressor has no probabilities: a usage error
    regression_data = write(regression(), tmp_path / "r.csv")
    assert run(capsys, "train", regression_data, "--target", "y1", "--out", tmp_path / "r",
               *SMALL)[0] == 0
    code, _, err = run(capsys, "predict", tmp_path / "r", regression_data, "--proba")
    assert code == 2 and "argument --proba:" in err and "MLPRegressor" in err


def test_regression_with_several_targets(tmp_path, capsys):
    frame = regression()
    data = write(frame, tmp_path / "train.parquet")
    code, out, err = run(capsys, "train", data, "--target", "y1", "--target", "y2",
                         "--out", tmp_path / "m", "--hidden-layer-sizes", "3",
                         "--max-iter", "4", "--random-state", "0")
    assert code == 0, err
    assert "targets 'y1', 'y2': regression" in out
    model = jitmlp.load(tmp_path / "m")
    X = frame[["a", "b"]]
    expected = MLPRegressor(hidden_layer_sizes=(3,), max_iter=4, random_state=0).fit(
        X, frame[["y1", "y2"]].to_numpy())
    assert isinstance(model, MLPRegressor) and same_weights(model, expected)

    code, _, err = run(capsys, "predict", tmp_path / "m", data, "--out", tmp_path / "p.csv")
    assert code == 0, err
    header, values = read_predictions(tmp_path / "p.csv")
    assert header == ["prediction_0", "prediction_1"]
    assert np.array_equal(values.astype(float), expected.predict(X))


def test_weight_column_and_dropped_columns_are_not_features(tmp_path, capsys):
    frame = classification()
    frame["w"] = np.linspace(0.5, 2.0, len(frame))
    frame["id"] = np.arange(len(frame))
    frame["note"] = "text"
    data = write(frame, tmp_path / "train.csv")
    code, _, err = run(capsys, "train", data, "--target", "animal", "--weight-col", "w",
                       "--drop", "id", "note", "--out", tmp_path / "m", *SMALL)
    assert code == 0, err
    model = jitmlp.load(tmp_path / "m")
    assert list(model.feature_names_in_) == ["f0", "f1", "f2"]
    X, y = frame[["f0", "f1", "f2"]], frame["animal"]
    weighted = MLPClassifier(**PARAMS).fit(X, y, sample_weight=frame["w"].to_numpy())
    assert same_weights(model, weighted)
    assert not same_weights(model, MLPClassifier(**PARAMS).fit(X, y))

    # predicting takes the features by name; a file without one of them is refused, named
    write(frame.drop(columns=["f1", "f2"]), tmp_path / "missing.csv")
    code, _, err = run(capsys, "predict", tmp_path / "m", tmp_path / "missing.csv")
    assert code == 2
    assert err.splitlines() == [
        f"error: {tmp_path / 'missing.csv'}: no feature columns 'f1', 'f2' (the model takes 3:"
        f" f0, f1, f2); the file's columns are: f0, animal, w, id, note"]


def test_task_is_inferred_from_the_target_or_given(tmp_path, capsys):
    frame = regression()
    frame["count"] = np.arange(len(frame)) % 3  # whole numbers: classes
    data = write(frame, tmp_path / "train.csv")
    code, out, _ = run(capsys, "train", data, "--target", "count", "--drop", "y1", "y2",
                       "--out", tmp_path / "m", *SMALL[:-1])
    assert code == 0 and "target 'count': classification, 3 classes (0, 1, 2)" in out
    assert isinstance(jitmlp.load(tmp_path / "m"), MLPClassifier)
    code, out, _ = run(capsys, "train", data, "--target", "count", "--drop", "y1", "y2",
                       "--task", "regress", "--loss", "poisson", "--out", tmp_path / "m",
                       *SMALL[:-1])
    assert code == 0 and "target 'count': regression" in out
    model = jitmlp.load(tmp_path / "m")
    assert isinstance(model, MLPRegressor) and model.loss == "poisson"
    # fractions: regression; --loss for a classified target is a usage error
    code, out, _ = run(capsys, "train", data, "--target", "y1", "--out", tmp_path / "m",
                       *SMALL[:-1])
    assert code == 0 and "target 'y1': regression" in out
    code, _, err = run(capsys, "train", data, "--target", "count", "--loss", "poisson",
                       "--out", tmp_path / "m", *SMALL)
    assert code == 2 and "argument --loss: applies to regression only" in err
    code, _, err = run(capsys, "train", data, "--target", "count", "--huber-delta", "0.5",
                       "--out", tmp_path / "m", *SMALL)
    assert code == 2 and "argument --huber-delta: applies to regression only" in err
    code, out, _ = run(capsys, "train", data, "--target", "y1", "--loss", "huber",
                       "--huber-delta", "0.5", "--out", tmp_path / "m", *SMALL[:-1])
    model = jitmlp.load(tmp_path / "m")
    assert code == 0 and model.loss == "huber" and model.huber_delta == 0.5


def test_progress_bar_summary_and_warnings(tmp_path, capsys):
    pytest.importorskip("rich")
    data = write(classification(), tmp_path / "train.csv")
    code, out, err = run(capsys, "train", data, "--target", "animal", "--out", tmp_path / "m",
                         *SMALL[:-1])
    assert code == 0
    assert "MLPClassifier - fit" in out  # scikit-learn's ProgressBar
    assert out.splitlines()[-1].startswith("trained MLPClassifier in ")
    assert "warning: Stochastic Optimizer: Maximum iterations (5) reached" in err
    assert "Traceback" not in err


def test_plot_writes_the_loss_curve(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    data = write(classification(), tmp_path / "train.csv")
    code, _, err = run(capsys, "train", data, "--target", "animal", "--out", tmp_path / "m",
                       "--plot", tmp_path / "loss.png", *SMALL)
    assert code == 0, err
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # no curve to draw, or an image type matplotlib cannot write: refused before training
    for extra, message in [(["--solver", "lbfgs", "--plot", "x.png"],
                            "the lbfgs solver records no loss per epoch"),
                           (["--plot", "loss.xyz"], "cannot write 'xyz'")]:
        code, _, err = run(capsys, "train", data, "--target", "animal",
                           "--out", tmp_path / "n", *extra)
        assert code == 2 and "error: argument --plot: " in err and message in err
        assert not (tmp_path / "n").exists()


# --------------------------------------------------------------------------- file errors
CSV_ERRORS = {
    "ragged, too many fields": ("a,b,y\n1,2,x\n\n3,4,5,z\n",
                                "line 4 has 4 fields, expected 3 as in the header (line 1)"),
    "ragged, too few fields": ("a,b,y\n1,2,x\n3,4\n",
                               "line 3 has 2 fields, expected 3 as in the header (line 1)"),
    "text among numbers": ("a,b,y\n1,2,x\n\n3,abc,y\n",
                           "line 4, column 'b': 'abc' is not a number, expected a number"),
    "empty cell": ("a,b,y\n1,2,x\n3,,y\n", "line 3, column 'b': empty, expected a number"),
    "infinity": ("a,b,y\n1,inf,x\n", "line 2, column 'b': 'inf', expected a finite number"),
    "empty target": ("a,b,y\n1,2,x\n3,4,\n",
                     "line 3, column 'y': empty, expected a class label"),
    "empty file": ("", "empty file, expected a header line naming the columns, then one line "
                       "per row"),
    "header only": ("a,b,y\n", "no data rows, expected at least one"),
    "repeated column": ("a,a,y\n1,2,x\n", "line 1: column 'a' appears twice, expected "
                                           "distinct column names"),
    "missing target": ("a,b,z\n1,2,x\n",
                       "no target column 'y'; the file's columns are: a, b, z"),
}


@pytest.mark.parametrize("case", list(CSV_ERRORS))
def test_csv_errors_name_the_file_line_and_column(tmp_path, capsys, case):
    text, message = CSV_ERRORS[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, out, err = run(capsys, "train", path, "--target", "y", "--out", tmp_path / "m",
                         "--quiet")
    assert code == 2
    assert err == f"error: {path}: {message}\n" if case != "missing target" else \
        err.startswith(f"error: {path}: {message}")
    assert not (tmp_path / "m").exists()


def test_regression_target_must_be_numbers(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("a,y\n1,0.5\n2,high\n")
    code, _, err = run(capsys, "train", path, "--target", "y", "--task", "regress",
                       "--out", tmp_path / "m")
    assert code == 2
    assert err == (f"error: {path}: line 3, column 'y': 'high' is not a number, expected a "
                   f"number (a regression target)\n")


def test_parquet_errors_name_the_row_and_column(tmp_path, capsys):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["1", "2", "x"], "y": [0, 1, 0]})
    path = write(frame, tmp_path / "bad.parquet")
    code, _, err = run(capsys, "train", path, "--target", "y", "--out", tmp_path / "m")
    assert code == 2
    assert err == f"error: {path}: row 3, column 'b': 'x' is not a number, expected a number\n"
    write(frame.assign(b=[1.0, None, 2.0]), path)
    code, _, err = run(capsys, "train", path, "--target", "y", "--out", tmp_path / "m")
    assert err == f"error: {path}: row 2, column 'b': missing, expected a number\n"
    path.write_bytes(b"not parquet at all")
    code, _, err = run(capsys, "train", path, "--target", "y", "--out", tmp_path / "m")
    assert code == 2 and err.startswith(f"error: {path}: not a readable Parquet file")


SVMLIGHT_ERRORS = {
    "value": ("1 1:0.5 2:2\n# a comment\n2 1:x\n",
              "line 3: the value 'x' of '1:x' is not a number, expected a label, then "
              "index:value pairs"),
    "label": ("1 1:0.5\nabc 2:1\n", "line 2: the label 'abc' is not a number"),
    "order": ("1 3:2 1:4\n", "line 1: index 1 after 3, expected indices in increasing order"),
    "pair": ("1 3\n", "line 1: '3' is not index:value"),
    "empty": ("", "no data rows, expected at least one"),
}


@pytest.mark.parametrize("case", list(SVMLIGHT_ERRORS))
def test_svmlight_errors_name_the_line(tmp_path, capsys, case):
    text, message = SVMLIGHT_ERRORS[case]
    path = tmp_path / "bad.libsvm"
    path.write_text(text)
    code, _, err = run(capsys, "train", path, "--out", tmp_path / "m")
    assert code == 2
    assert err.startswith(f"error: {path}: {message}") and err.count("\n") == 1


def test_other_input_errors(tmp_path, capsys):
    data = write(classification(), tmp_path / "train.csv")
    cases = [
        (["train", tmp_path / "none.csv", "--target", "y"], "none.csv: no such file"),
        (["train", tmp_path / "data.txt", "--target", "y"],
         "data.txt: cannot tell the format from the extension '.txt'; give --format"),
        (["train", data], "train.csv: name the column to predict with --target; the file's "
                          "columns are: f0, f1, f2, animal"),
        (["train", data, "--target", "animal", "--drop", "zz"],
         "train.csv: no such column 'zz' to --drop"),
        (["train", data, "--target", "animal", "--out", tmp_path / "no" / "m"],
         "no folder"),
        (["predict", data, data], "not a jitmlp model file"),
        (["train", data, "--target", "animal", "--out", data],
         "train.csv: is an input of this command, not overwritten with the model"),
    ]
    for argv, message in cases:
        if argv[0] == "train" and "--out" not in argv:
            argv = [*argv, "--out", tmp_path / "m"]
        code, _, err = run(capsys, *argv)
        assert code == 2 and err.startswith("error: ") and message in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err


# --------------------------------------------------------------------------- options, help
BAD_OPTIONS = [
    (["--epochs", "0"], "argument --epochs: expected an int in the range [1, inf), got '0'"),
    (["--epochs", "-3"], "argument --epochs: expected an int in the range [1, inf), got '-3'"),
    (["--hidden", "0"], "argument --hidden: expected an int in the range [1, inf)"),
    (["train", "d.csv", "--out", "m", "--max-iter", "1.5"],
     "argument --max-iter: expected an int in the range [1, inf), got '1.5'"),
    (["train", "d.csv", "--out", "m", "--alpha", "-1"],
     "argument --alpha: expected a float in the range [0.0, inf), got '-1'"),
    (["train", "d.csv", "--out", "m", "--hidden-layer-sizes", "10,0"],
     "argument --hidden-layer-sizes: expected values separated by commas, each an int in the "
     "range [1, inf), got '10,0'"),
    (["train", "d.csv", "--out", "m", "--batch-size", "big"],
     "argument --batch-size: expected a str among {'auto'} or an int in the range [1, inf)"),
    (["train", "d.csv", "--out", "m", "--validation-fraction", "1"],
     "argument --validation-fraction: expected a float in the range [0.0, 1.0), got '1'"),
    (["train", "d.csv", "--out", "m", "--random-state", "-1"],
     "argument --random-state: expected an int in the range [0, 4294967295], got '-1'"),
    (["train", "d.csv", "--out", "m", "--solver", "newton"], "argument --solver: invalid choice"),
    (["train", "d.csv"], "the following arguments are required: --out"),
    (["predict", "m"], "the following arguments are required: DATA"),
]


@pytest.mark.parametrize("argv, message", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_values_are_usage_errors_naming_the_option(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("usage: python -m jitmlp") and f"error: {message}" in err


def test_options_accept_what_the_estimator_accepts(tmp_path, capsys):
    data = write(classification(), tmp_path / "train.csv")
    code, _, err = run(capsys, "train", data, "--target", "animal", "--out", tmp_path / "m",
                       "--hidden-layer-sizes", "3,2", "--solver", "sgd", "--batch-size", "16",
                       "--n-iter-no-change", "inf", "--no-shuffle", "--early-stopping",
                       "--dtype", "float32", "--learning-rate-init", "0.01",
                       "--lr-schedule", "cosine", "--max-grad-norm", "0.5", "--weight-decay",
                       "0.01", *SMALL[2:])
    assert code == 0, err
    model = jitmlp.load(tmp_path / "m")
    assert model.get_params() == {**MLPClassifier().get_params(), **dict(
        hidden_layer_sizes=(3, 2), solver="sgd", batch_size=16, n_iter_no_change=np.inf,
        shuffle=False, early_stopping=True, learning_rate_init=0.01, max_iter=5,
        random_state=0, lr_schedule="cosine", max_grad_norm=0.5, weight_decay=0.01)}
    assert model.coefs_[0].dtype == np.float32


def test_help_is_plain_text_with_examples(capsys):
    for argv, wanted in [([], ["examples:", "python -m jitmlp train iris.csv --target species",
                               "the demo (no command):", "--epochs N"]),
                         (["train"], ["--hidden-layer-sizes N,N,...", "type_of_target",
                                      "(default: 0.0001)", "--early-stopping, --no-early-stop"]),
                         (["predict"], ["--proba", "headed by the class names"])]:
        code, out, _ = run(capsys, *argv, "--help")
        assert code == 0
        assert "``" not in out and ":class:" not in out
        for text in wanted:
            assert text in out, (argv, text)


# --------------------------------------------------------------------------- optional pandas
def test_jitmlp_modules_import_pandas_only_inside_functions():
    # scikit-learn itself imports pandas when it is installed; jitmlp needs it only for tables
    for source in Path(jitmlp.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in tree.body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "pandas" for n in names), source.name


def test_svmlight_needs_no_pandas_and_tables_say_what_to_install(tmp_path, capsys,
                                                                 monkeypatch):
    X, y = classification()[["f0", "f1"]].to_numpy(), np.arange(60) % 2
    dump_svmlight_file(X, y, str(tmp_path / "d.svm"))
    write(classification(), tmp_path / "d.csv")
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):  # as if pandas were not installed
        if name.split(".")[0] == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    code, _, err = run(capsys, "train", tmp_path / "d.svm", "--out", tmp_path / "m", *SMALL)
    assert code == 0, err
    code, out, err = run(capsys, "predict", tmp_path / "m", tmp_path / "d.svm", "--quiet")
    assert code == 0 and out.splitlines()[0] == "prediction" and len(out.splitlines()) == 61
    code, _, err = run(capsys, "train", tmp_path / "d.csv", "--target", "animal",
                       "--out", tmp_path / "m")
    assert code == 2
    assert err == 'error: reading CSV files needs pandas: pip install "jitmlp[cli]"\n'


# --------------------------------------------------------------------------- end to end
def test_python_m_jitmlp_end_to_end(tmp_path, capsys, monkeypatch):
    data = write(classification(), tmp_path / "train.csv")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(jitmlp.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))

    def jitmlp_cli(*argv):
        return subprocess.run([sys.executable, "-m", "jitmlp", *map(str, argv)], env=env,
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)

    def jitmlp_here(*argv):
        """(exit code, stderr) of jitmlp/__main__.py run here as -m runs it (runpy)."""
        monkeypatch.setattr(sys, "argv", ["jitmlp", *map(str, argv)])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            runpy.run_module("jitmlp", run_name="__main__", alter_sys=True)
        return exit_.value.code, capsys.readouterr().err

    # the model is trained here (one fresh interpreter, the predicting one, is enough to see
    # what a fresh ``python -m jitmlp`` does), then predicted from in a fresh interpreter
    monkeypatch.chdir(tmp_path)
    code, err = jitmlp_here("train", data, "--target", "animal", "--out", "m.jitmlp", *SMALL)
    assert code == 0, err
    done = jitmlp_cli("predict", "m.jitmlp", data, "--proba")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "cat,dog,emu" and len(done.stdout.splitlines()) == 61
    # a fresh interpreter writes nothing to stderr but the command's own one line
    assert len(done.stderr.splitlines()) == 1 and "60 rows predicted" in done.stderr, done.stderr
    # a failing command's exit code
    code, err = jitmlp_here("predict", "m.jitmlp", "missing.csv")
    assert code == 2 and err == "error: missing.csv: no such file\n"

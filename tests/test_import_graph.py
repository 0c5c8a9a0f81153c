"""What a process that only fits or predicts imports: nothing the call does not need.

A warm process spends most of its time importing (scikit-learn's own base imports scipy.stats
and, where installed, pandas; numba its compiler). jitmlp adds only what a fit or a predict runs:
scikit-learn's metrics, model selection and neural_network, scipy.optimize, and jitmlp's own
files, skops, ONNX, command-line and plotting modules are imported when first used. Checked
in a fresh process, against what the modules jitmlp cannot do without (sklearn.base,
sklearn.callback, numba) import by themselves, so the check holds whatever else is installed.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import jitmlp
from jitmlp import MLPClassifier

# never imported by ``import jitmlp`` or by unpickling a model and predicting with it
NOT_IMPORTED = (
    "sklearn.metrics", "sklearn.model_selection", "sklearn.neural_network", "sklearn.datasets",
    "scipy.optimize", "pandas", "pyarrow", "matplotlib", "rich", "dask", "distributed",
    "skops", "onnx", "skl2onnx", "jitmlp._io", "jitmlp._gradcheck", "jitmlp._interop",
    "jitmlp._cli", "jitmlp._datafiles", "jitmlp._precompile", "jitmlp._demo", "jitmlp.onnx",
    "jitmlp.precompile",
)

SCRIPT = textwrap.dedent(
    """
    import json, pickle, sys

    import numba, sklearn.base, sklearn.callback  # noqa: E401  (what jitmlp cannot do without)

    floor = set(sys.modules)
    import jitmlp  # noqa: F401

    on_import = set(sys.modules) - floor
    with open(sys.argv[1], "rb") as f:
        model, X = pickle.load(f)
    proba = model.predict_proba(X)
    print(json.dumps({"import": sorted(on_import), "predict": sorted(set(sys.modules) - floor),
                      "proba": proba.tolist()}))
    """
)


def _found(modules, names=NOT_IMPORTED):
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture(scope="module")
def fresh_process(tmp_path_factory):
    """Modules a fresh process imported (beyond the floor) for ``import jitmlp``, then for
    unpickling a fitted classifier and its predict_proba; and the probabilities it got."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 3
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    expected = model.predict_proba(X)  # compiled (or loaded) here, so the child loads it cached
    path = tmp_path_factory.mktemp("import-graph") / "model.pkl"
    path.write_bytes(pickle.dumps((model, X)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(jitmlp.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    return found, expected


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_import_jitmlp_imports_only_what_fit_and_predict_need(fresh_process):
    found, _ = fresh_process
    assert "jitmlp._estimators" in found["import"]  # the check sees jitmlp's own imports
    assert _found(found["import"]) == []


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_unpickled_model_predicts_without_the_optional_modules(fresh_process):
    found, expected = fresh_process
    np.testing.assert_array_equal(np.array(found["proba"]), expected)
    assert _found(found["predict"]) == []


def test_public_names_imported_on_first_use_are_the_modules_own():
    from jitmlp import _gradcheck, _io, _loss_curve

    assert jitmlp.load is _io.load and jitmlp.save is _io.save
    assert jitmlp.skops_trusted_types is _io.skops_trusted_types
    assert jitmlp.check_gradients is _gradcheck.check_gradients
    assert jitmlp.LossCurveDisplay is _loss_curve.LossCurveDisplay
    assert set(jitmlp.__all__) <= set(dir(jitmlp))
    with pytest.raises(AttributeError, match="has no attribute 'not_a_name'"):
        jitmlp.not_a_name  # noqa: B018

"""One compile per model kind: argument flavours never compile a kernel a second time.

Read-only, Fortran-ordered, strided and memory-mapped X, integer and boolean X, sample_weight
given or not, classifier and regressor targets, early stopping, partial_fit, sparse input,
every solver and activation: all of them reach the same compiled kernels, one per float dtype
(and, for the kernels that read X, one for dense and one for sparse input).

Only a compile in the process shows what gets compiled (kernels loaded from numba's cache do not
list their callees), so this runs once in a subprocess without any cache location, which is also
the check that jitmlp works where no cache location is writable. It is the suite's one test that
compiles everything cold by design (marked ``cold_compile``; about a minute here).
"""

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import gc, json, sys, tempfile, warnings
    import numba.core.caching as caching
    caching.CacheImpl._locator_classes = []  # as if no location were writable
    warnings.simplefilter("ignore")
    import numba
    import numpy as np
    import scipy.sparse as sp
    from numba.core import types
    from sklearn.datasets import make_classification, make_regression
    import jitmlp._config as config
    from jitmlp import MLPClassifier, MLPRegressor

    X, y = make_classification(60, 5, n_informative=3, n_classes=3, random_state=0)
    Xr, yr = make_regression(60, 5, n_targets=2, random_state=0)
    small = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)

    def flavours(dtype):
        Xd = X.astype(dtype)
        read_only = Xd.copy(); read_only.flags.writeable = False
        mm = np.memmap(tempfile.mktemp(), dtype=dtype, mode="w+", shape=Xd.shape)
        mm[:] = Xd
        wide = np.repeat(Xd, 2, axis=1)
        yield "C-ordered", MLPClassifier(**small).fit(Xd, y)
        yield "read-only", MLPClassifier(**small).fit(read_only, y)
        yield "Fortran", MLPClassifier(**small).fit(np.asfortranarray(Xd), y)
        yield "strided", MLPClassifier(**small).fit(wide[:, ::2], y)
        yield "memmap", MLPClassifier(**small).fit(mm, y)
        yield "sample_weight", MLPClassifier(**small).fit(Xd, y, sample_weight=np.ones(60))
        yield "binary", MLPClassifier(**small).fit(Xd, y > 0)
        yield "multilabel", MLPClassifier(**small).fit(Xd, np.c_[y > 0, y > 1])
        yield "regressor", MLPRegressor(**small).fit(Xd, yr.astype(dtype))
        yield "poisson", MLPRegressor(loss="poisson", **small).fit(Xd, np.abs(yr[:, 0]))
        yield "huber", MLPRegressor(loss="huber", **small).fit(Xd, yr.astype(dtype))
        yield "early stopping", MLPClassifier(early_stopping=True, **small).fit(Xd, y)
        yield "partial_fit", MLPClassifier(**small).partial_fit(Xd, y, classes=[0, 1, 2])
        yield "sparse", MLPClassifier(**small).fit(sp.csr_matrix(Xd), y)
        yield "sgd tanh", MLPClassifier(solver="sgd", activation="tanh", **small).fit(Xd, y)
        yield "logistic", MLPClassifier(activation="logistic", **small).fit(Xd, y)
        yield "identity", MLPClassifier(activation="identity", **small).fit(Xd, y)
        yield "lbfgs", MLPClassifier(solver="lbfgs", **small).fit(Xd, y)
        yield "lbfgs regressor", MLPRegressor(solver="lbfgs", **small).fit(Xd, yr.astype(dtype))

    for dtype in ([np.float32] if "f32" in sys.argv else [np.float64, np.int64, bool]):
        for name, model in flavours(dtype):
            model.predict(X.astype(dtype))
            model.predict(sp.csr_matrix(X.astype(dtype)))

    def float_kinds(sig):  # the model's dtype (float32 where any float32 array is an argument),
        # and for kernels given X_csr: dense (X_csr is None) or sparse (the CSR arrays' tuple)
        text = ", ".join(str(t) for t in sig)
        words = set(text.replace("(", " ").replace(",", " ").split())
        kind = next((k for k in ("float32", "float64") if k in words), "")
        if "none" in words:
            kind += " dense"
        elif "readonly array(int64, 1d, C), readonly array(int64, 1d, C))" in text:
            kind += " sparse"
        return kind

    counts = {}
    for d in gc.get_objects():
        if isinstance(d, numba.core.registry.CPUDispatcher) and (
                d.py_func.__module__ or "").startswith("jitmlp"):
            per_kind = {}
            for sig in d.signatures:
                per_kind.setdefault(float_kinds(sig), []).append(str(sig))
            name = d.py_func.__module__ + "." + d.py_func.__qualname__
            if d.py_func.__closure__:  # one kernel per activation or output function
                name += str([cell.cell_contents for cell in d.py_func.__closure__])
            counts[name] = per_kind
    print(json.dumps({"cache": config.CACHE, "counts": counts}))
    """
)


def _compile_both_dtypes(directory, popen):
    """float64 (and int and bool X, converted to it) in one process, float32 in another, both at
    once: half the wall time where there are two cores. Their (returncode, stdout, stderr)."""
    runs = [popen([sys.executable, "-c", SCRIPT, kind], stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True) for kind in ("f64", "f32")]
    outputs = [run.communicate() for run in runs]
    return [(run.returncode, *output) for run, output in zip(runs, outputs)]


# runs beside the rest of the suite, from the end of collection on (tests/conftest.py)
@pytest.mark.cold_compile(start=_compile_both_dtypes)
def test_one_compile_per_kernel_and_dtype_without_a_cache(cold_run):
    # Each kernel's signatures are the union of the two processes' (the same signature compiled
    # in both is one).
    reports = []
    for returncode, stdout, stderr in cold_run:
        assert returncode == 0, stderr[-4000:]
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    report = {"cache": reports[0]["cache"] or reports[1]["cache"], "counts": {}}
    for one in reports:
        for name, per_kind in one["counts"].items():
            merged = report["counts"].setdefault(name, {})
            for kind, sigs in per_kind.items():
                merged[kind] = sorted(set(merged.get(kind, [])) | set(sigs))
    assert report["cache"] is False  # numba found no cache location: jitmlp runs uncached
    counts = report["counts"]
    # the entry points the estimators call were compiled, for both dtypes
    for entry in ("_epoch.run_epoch", "_epoch.batch_loss_and_grad", "_predict.predict_forward"):
        kinds = counts["jitmlp." + entry]
        assert {kind.split()[0] for kind in kinds} == {"float32", "float64"}, (entry, kinds)
        assert {kind.split()[1] for kind in kinds} <= {"dense", "sparse"}, (entry, kinds)
    # every kernel: one signature per float dtype it works in (dtype-free ones: one in all)
    repeated = {name: sigs for name, per_kind in counts.items()
                for sigs in per_kind.values() if len(sigs) > 1}
    assert not repeated, json.dumps(repeated, indent=1)


ONLY_USED = textwrap.dedent(
    """
    import json, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from jitmlp import MLPClassifier, _activations, _outputs
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 3)), np.arange(30) % 3
    MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y).predict_proba(X)
    def compiled(kernels):
        return {code: [bool(k.signatures) for k in pair] for code, pair in kernels.items()}
    print(json.dumps([compiled(_activations.KERNELS), compiled(_outputs.KERNELS)]))
    """
)


def test_only_the_functions_a_fit_uses_are_compiled_or_loaded():
    """A ReLU softmax classifier compiles (or loads from the cache) the ReLU and softmax kernels
    only: every activation and output function is a kernel of its own, called by address."""
    from jitmlp._activations import ACTIVATIONS
    from jitmlp._outputs import OUTPUTS

    run = subprocess.run([sys.executable, "-c", ONLY_USED], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-4000:]
    activations, outputs = json.loads(run.stdout.strip().splitlines()[-1])
    assert {int(c) for c, used in activations.items() if any(used)} == {ACTIVATIONS["relu"]}
    assert activations[str(ACTIVATIONS["relu"])] == [True, True]  # g and g'
    assert {int(c) for c, used in outputs.items() if any(used)} == {OUTPUTS["softmax"]}
    assert outputs[str(OUTPUTS["softmax"])] == [True, True]  # O and the loss

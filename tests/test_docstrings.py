"""The public API's docstrings: every parameter documented, every example run as a doctest."""

import doctest
import importlib
import inspect

import pytest

import jitmlp

MODULES = ["jitmlp._estimators", "jitmlp._io", "jitmlp._loss_curve"]


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_estimator_docstring_documents_every_parameter(name):
    cls = getattr(jitmlp, name)
    doc = cls.__doc__
    assert doc is not None and inspect.getdoc(cls) == inspect.cleandoc(doc)
    for section in ("Parameters", "Attributes", "See Also", "Examples"):
        assert f"\n    {section}\n    {'-' * len(section)}\n" in doc, section
    missing = [p for p in inspect.signature(cls).parameters if f"\n    {p} : " not in doc]
    assert not missing, f"{name}'s docstring does not document {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    if module == "jitmlp._loss_curve":
        pytest.importorskip("matplotlib").use("Agg")
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(mod, mod.__name__) if t.examples]
    assert tests, f"{module} has no examples"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"

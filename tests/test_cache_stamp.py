"""jitmlp drops its cached kernels when any of its sources changed, wherever numba keeps them."""

import os
import subprocess
import sys

# A fresh process that imports jitmlp's _config (the import checks the stamp), prints where the
# kernels are cached, then imports it again (importlib.reload: the module's code runs again,
# stamp check included) for each line it reads, so that the test can change the files between.
CODE = """
import importlib, sys
import jitmlp._config as c
print(c._CACHE_DIR, flush=True)
for _ in sys.stdin:
    importlib.reload(c)
    print(c._CACHE_DIR, flush=True)
"""


def test_stale_kernels_in_numba_cache_dir_are_dropped(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", CODE], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def import_again():
        proc.stdin.write("\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    try:
        cache_dir = proc.stdout.readline().strip()  # first import: writes the sources' digest
        assert cache_dir.startswith(str(tmp_path))
        stamp = os.path.join(cache_dir, "jitmlp-sources.sha256")
        kernel = os.path.join(cache_dir, "_epoch.run_epoch-1.py311.nbi")
        with open(kernel, "w") as f:
            f.write("cached")
        assert import_again() == cache_dir  # same sources: the cached kernel stays
        assert os.path.isfile(kernel)
        with open(stamp, "w") as f:
            f.write("digest of other sources")
        assert import_again() == cache_dir  # sources changed since the kernel was cached: it goes
        assert not os.path.isfile(kernel)
        with open(stamp) as f:
            assert f.read() != "digest of other sources"
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]


def _kernel_modules():
    """Modules that define compiled code (jit, jit_parallel, intrinsic, overload), and what they
    import from the package, transitively."""
    import ast
    from pathlib import Path

    import jitmlp

    package = Path(jitmlp.__file__).parent
    imports, defines = {}, set()
    for source in package.glob("*.py"):
        tree = ast.parse(source.read_text())
        imports[source.name] = {f"{node.module}.py" for node in ast.walk(tree)
                                if isinstance(node, ast.ImportFrom) and node.level == 1
                                and node.module}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    name = getattr(target, "id", getattr(target, "attr", ""))
                    if name in ("jit", "jit_parallel", "intrinsic", "overload"):
                        defines.add(source.name)
    modules, todo = set(), list(defines)
    while todo:
        name = todo.pop()
        if name not in modules:
            modules.add(name)
            todo.extend(imports.get(name, ()))
    return modules


def test_the_digest_covers_every_module_kernels_are_compiled_from():
    import jitmlp._config as config

    assert "_epoch.py" in _kernel_modules() and "_estimators.py" not in _kernel_modules()
    assert set(config.KERNEL_SOURCES) == _kernel_modules()
